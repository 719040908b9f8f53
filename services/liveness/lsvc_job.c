/* lsvc_job — what a LivenessJob must look like, and its parsed form (lsvc_job.h). */
#include "liveness/lsvc_job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *action;
	enum lsvc_kind kind;
} kinds[] = {
	{"ContrastFaceVerify", LSVC_KIND_CONTRAST},
	{"LivenessFaceVerify", LSVC_KIND_LIVENESS},
	{"CompareFaceVerify", LSVC_KIND_COMPARE},
	{"FaceCapture", LSVC_KIND_CAPTURE},
};

int lsvc_kind_of(const char *action)
{
	for (size_t i = 0; action && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].action, action) == 0)
			return (int)kinds[i].kind;
	return 0;
}

static bool hex32(const char *s)
{
	if (!s || strlen(s) != LSVC_CERTIFY_ID_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool uuid_text(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-'
			 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool kind_known(const char *k)
{
	static const char *const known[] = {"face", "reference", "authority", "frame"};
	for (size_t i = 0; k && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(k, known[i]) == 0)
			return true;
	return false;
}

static size_t count_kind(const Shiren__V1__LivenessJob *j, const char *kind)
{
	size_t n = 0;
	for (size_t i = 0; i < j->n_images; i++)
		if (j->images[i]->kind && strcmp(j->images[i]->kind, kind) == 0)
			n++;
	return n;
}

int lsvc_job_check(const Shiren__V1__LivenessJob *j, const char *tenant, int64_t max_images,
		   char *err, size_t errlen)
{
	if (!hex32(j->certify_id)) {
		snprintf(err, errlen, "certify_id is not 32 lower-case hex characters");
		return -EINVAL;
	}
	int kind = lsvc_kind_of(j->action);
	if (!kind) {
		snprintf(err, errlen, "action \"%.64s\" is not one this service computes",
			 j->action ? j->action : "");
		return -EINVAL;
	}
	if (!uuid_text(tenant)) {
		snprintf(err, errlen, "the envelope's tenant_id is not a UUID");
		return -EINVAL;
	}
	if (j->n_images > (size_t)max_images) {
		snprintf(err, errlen, "%zu images, more than the %lld allowed", j->n_images,
			 (long long)max_images);
		return -EINVAL;
	}
	for (size_t i = 0; i < j->n_images; i++) {
		if (j->images[i]->photo_id <= 0 || !kind_known(j->images[i]->kind)) {
			snprintf(err, errlen, "image %zu: bad photo id or kind", i);
			return -EINVAL;
		}
	}
	size_t faces = count_kind(j, "face"), refs = count_kind(j, "reference"),
	       frames = count_kind(j, "frame");
	bool ok = true;
	switch (kind) {
	case LSVC_KIND_CONTRAST:
		ok = faces == 1 && refs + count_kind(j, "authority") <= 1 && frames == 0;
		break;
	case LSVC_KIND_LIVENESS:
		ok = faces == 1 && j->n_images == 1;
		break;
	case LSVC_KIND_COMPARE:
		ok = faces == 1 && refs == 1 && j->n_images == 2;
		break;
	case LSVC_KIND_CAPTURE:
		ok = frames >= 1 && faces == 0 && refs + count_kind(j, "authority") <= 1;
		break;
	}
	if (!ok) {
		snprintf(err, errlen, "the images do not fit %s", j->action);
		return -EINVAL;
	}
	return 0;
}

int lsvc_job_parse(struct lsvc_job *j, const uint8_t *payload, size_t len)
{
	j->msg = shiren__v1__liveness_job__unpack(NULL, len, payload);
	if (!j->msg)
		return -EBADMSG;
	j->kind = (enum lsvc_kind)lsvc_kind_of(j->msg->action);
	j->nimages = j->msg->n_images;
	j->produced_at_ms = j->msg->requested_at_ms;
	if (j->produced_at_ms <= 0 && j->msg->envelope)
		j->produced_at_ms = j->msg->envelope->produced_at_ms;
	if (j->nimages == 0)
		return 0;
	j->images = calloc(j->nimages, sizeof(*j->images));
	if (!j->images)
		return -ENOMEM;
	for (size_t i = 0; i < j->nimages; i++) {
		j->images[i].photo_id = j->msg->images[i]->photo_id;
		j->images[i].kind = j->msg->images[i]->kind;
		j->images[i].t_ms = j->msg->images[i]->t_ms;
	}
	return 0;
}

void lsvc_job_done(struct lsvc_job *j)
{
	for (size_t i = 0; j->images && i < j->nimages; i++) {
		if (j->images[i].bytes) {
			/* decrypted biometric data: do not leave it in freed memory */
			memset(j->images[i].bytes, 0, j->images[i].len);
			free(j->images[i].bytes);
		}
	}
	free(j->images);
	if (j->msg)
		shiren__v1__liveness_job__free_unpacked(j->msg, NULL);
	memset(j, 0, sizeof(*j));
}
