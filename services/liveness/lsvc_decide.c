/* lsvc_decide — measurements to API answers (lsvc_decide.h). */
#include "liveness/lsvc_decide.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "liveness/liveness_embed.h"
#include "liveness/liveness_outcome.h"
#include "liveness/liveness_quality.h"
#include "liveness/liveness_seq.h"

void lsvc_outcome_init(struct lsvc_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = LSVC_FAILED;
	o->code = "500";
	o->verify_score = -1;
	o->liveness_score = -1;
	o->quality_score = -1;
	o->distance = NAN;
	snprintf(o->message, sizeof(o->message), "The verification could not be computed.");
	snprintf(o->why, sizeof(o->why), "not_run");
}

static void decided(struct lsvc_outcome *o, int sub_code, const char *why)
{
	o->kind = LSVC_DECIDED;
	o->code = "200";
	o->sub_code = sub_code;
	o->passed = sub_code == 200;
	o->billable = sub_code >= 200 && sub_code <= 206;
	snprintf(o->message, sizeof(o->message), "success");
	snprintf(o->why, sizeof(o->why), "%s", why);
}

void lsvc_outcome_timeout(struct lsvc_outcome *o, int64_t late_ms)
{
	o->kind = LSVC_TIMEOUT;
	o->code = "500";
	o->passed = false;
	o->sub_code = 0;
	o->billable = false;
	snprintf(o->message, sizeof(o->message),
		 "The verification was not computed before its deadline (%lld ms late): the "
		 "service was overloaded; retry with a new OuterOrderNo.",
		 (long long)late_ms);
	snprintf(o->why, sizeof(o->why), "deadline");
}

void lsvc_outcome_failed(struct lsvc_outcome *o, const char *why, const char *message)
{
	o->kind = LSVC_FAILED;
	o->code = "500";
	o->passed = false;
	o->sub_code = 0;
	o->billable = false;
	snprintf(o->message, sizeof(o->message), "%s", message);
	snprintf(o->why, sizeof(o->why), "%s", why);
}

const char *lsvc_decode_problem(int err)
{
	switch (err) {
	case -ENODATA:
		return "is empty";
	case -EFBIG:
		return "is larger than the size limit";
	case -EMEDIUMTYPE:
		return "is not a JPEG or PNG image this server decodes (CMYK and 12-bit JPEGs are "
		       "not supported)";
	case -E2BIG:
		return "has more pixels than the limit";
	case -ENOMSG:
		return "is truncated (the image data ends early)";
	case -EBADMSG:
		return "is corrupt (the image data does not decode)";
	default:
		return "could not be decoded";
	}
}

static bool unusable(struct lsvc_outcome *o, const char *why, const char *msg)
{
	o->kind = LSVC_UNUSABLE;
	o->code = "419";
	o->passed = false;
	o->sub_code = 0;
	o->billable = false;
	snprintf(o->message, sizeof(o->message), "%s", msg);
	snprintf(o->why, sizeof(o->why), "%s", why);
	return true;
}

bool lsvc_decide_unusable(const struct lsvc_face *f, const char *what, struct lsvc_outcome *o)
{
	char msg[LSVC_MESSAGE_MAX];
	if (f->load_failed) {
		if (f->err == -EBADMSG) {
			lsvc_outcome_failed(
				o, "photo_unreadable",
				"A stored image could not be opened (wrong master key or "
				"damaged row).");
			return true;
		}
		snprintf(msg, sizeof(msg), "The %s %s.", what,
			 f->err == -ESTALE ? "is no longer kept (photos are purged after the "
					     "retention period or on deletion)"
					   : "is not stored for this account");
		return unusable(o, "image_unavailable", msg);
	}
	if (f->err == -ENOMEM) {
		lsvc_outcome_failed(o, "out_of_memory",
				    "The image could not be decoded: out of "
				    "memory.");
		return true;
	}
	if (f->err < 0) {
		snprintf(msg, sizeof(msg), "The %s %s.", what, lsvc_decode_problem(f->err));
		return unusable(o, "undecodable", msg);
	}
	if (!f->has_face || (f->reasons & LIVENESS_Q_NO_FACE)) {
		snprintf(msg, sizeof(msg), "No face was found in the %s.", what);
		return unusable(o, "no_face", msg);
	}
	if (f->reasons & LIVENESS_Q_SEVERAL_FACES) {
		snprintf(msg, sizeof(msg),
			 "The %s shows %d faces of similar size: send a photo of one person.", what,
			 f->faces);
		return unusable(o, "several_faces", msg);
	}
	return false;
}

unsigned lsvc_poor_reasons(unsigned reasons)
{
	return reasons & ~(unsigned)(LIVENESS_Q_NO_FACE | LIVENESS_Q_SEVERAL_FACES);
}

/* Descriptor distance and score of two faces; false when either has no descriptor. */
static bool compare(const struct lsvc_face *a, const struct lsvc_face *b, struct lsvc_outcome *o)
{
	if (!a->has_descriptor || !b->has_descriptor)
		return false;
	o->distance = liveness_embed_distance(a->descriptor, b->descriptor);
	o->verify_score = liveness_verify_score(o->distance);
	return true;
}

void lsvc_decide_compare(const struct lsvc_face *src, const struct lsvc_face *tgt,
			 struct lsvc_outcome *o)
{
	if (lsvc_decide_unusable(src, "source image", o) ||
	    lsvc_decide_unusable(tgt, "target image", o))
		return;
	if (!compare(src, tgt, o)) {
		lsvc_outcome_failed(o, "no_descriptor", "The faces could not be compared.");
		return;
	}
	o->quality_score = tgt->quality < src->quality ? tgt->quality : src->quality;
	o->face_photo_id = tgt->photo_id; /* the target is "the face" an earlier CertifyId names */
	if (liveness_embed_same(o->distance))
		decided(o, 200, "same_person");
	else
		decided(o, 204, "different_person");
}

/* The engine's SubCode precedence (liveness_outcome.h) over the checks that ran. */
static void engine_decide(const struct liveness_plan *plan, const struct liveness_quality *q,
			  const struct liveness_silent_result *silent,
			  const struct lsvc_capture *cap, bool compared, double distance,
			  bool reference_unusable, struct lsvc_outcome *o)
{
	struct liveness_outcome_in in = {.plan = plan,
					 .quality = q,
					 .silent = silent,
					 .action = cap && cap->has_action ? &cap->action : NULL,
					 .photinus =
						 cap && cap->has_photinus ? &cap->photinus : NULL,
					 .compared = compared,
					 .distance = distance,
					 .reference_unusable = reference_unusable};
	struct liveness_outcome out;
	if (liveness_outcome_decide(&in, &out) < 0) {
		lsvc_outcome_failed(o, "outcome", "The verification could not be decided.");
		return;
	}
	if (plan->silent || plan->n_actions || plan->photinus)
		o->liveness_score = out.liveness_score;
	if (out.code == 419) { /* pre-checked by lsvc_decide_unusable; kept for safety */
		unusable(o, "no_face", "No face was found in the face image.");
		return;
	}
	decided(o, out.sub_code, out.reason);
}

void lsvc_decide_contrast(const struct lsvc_face *face, const struct lsvc_face *ref, bool liveness,
			  struct lsvc_outcome *o)
{
	if (lsvc_decide_unusable(face, "face image", o))
		return;
	o->quality_score = face->quality;
	o->face_photo_id = face->photo_id;
	struct lsvc_outcome probe;
	lsvc_outcome_init(&probe);
	/* The reference is ours to find, not the caller's input: when it is missing or
	 * unusable the answer is a decision (203), not a bad request. */
	bool ref_ok = ref && !lsvc_decide_unusable(ref, "reference photo", &probe);
	if (ref_ok && !compare(face, ref, o)) {
		lsvc_outcome_failed(o, "no_descriptor", "The faces could not be compared.");
		return;
	}
	struct liveness_plan plan = {0}; /* NO_LIVENESS: the comparison and the quality gates */
	if (liveness)
		liveness_plan_for(LIVENESS_SCENE_FRONT_CAMERA, false, &plan);
	engine_decide(&plan, &face->q, face->has_silent ? &face->silent : NULL, NULL, ref_ok,
		      o->distance, !ref_ok, o);
	if (o->kind == LSVC_DECIDED && !ref && o->sub_code == 203)
		snprintf(o->why, sizeof(o->why), "no_reference");
}

void lsvc_decide_liveness(const struct lsvc_face *face, struct lsvc_outcome *o)
{
	if (lsvc_decide_unusable(face, "face image", o))
		return;
	o->quality_score = face->quality;
	o->face_photo_id = face->photo_id;
	struct liveness_plan plan;
	liveness_plan_for(LIVENESS_SCENE_FRONT_CAMERA, false, &plan);
	engine_decide(&plan, &face->q, face->has_silent ? &face->silent : NULL, NULL, false, NAN,
		      false, o);
}

void lsvc_decide_capture(const struct lsvc_capture *cap, const struct lsvc_face *best,
			 const struct lsvc_face *ref, bool needs_ref, struct lsvc_outcome *o)
{
	static const struct liveness_quality noface = {.reasons = LIVENESS_Q_NO_FACE};
	bool face = best && best->has_face;
	if (face) {
		o->quality_score = best->quality;
		o->face_photo_id = best->photo_id;
	}
	struct lsvc_outcome probe;
	lsvc_outcome_init(&probe);
	bool ref_ok = needs_ref && ref && !lsvc_decide_unusable(ref, "reference photo", &probe);
	bool compared = ref_ok && face && best->has_descriptor && compare(best, ref, o);
	engine_decide(&cap->plan, face ? &best->q : &noface, NULL, cap, compared, o->distance,
		      needs_ref && !ref_ok, o);
}

static void reason_names(struct json_writer *w, unsigned bits, const char *(*name)(unsigned))
{
	json_arr_begin(w);
	for (unsigned b = 1; b && b <= bits; b <<= 1)
		if (bits & b)
			json_str(w, name(b));
	json_arr_end(w);
}

static void face_json(struct json_writer *w, const struct lsvc_face *f)
{
	json_obj_begin(w);
	json_key_int(w, "photo", f->photo_id);
	json_key_str(w, "role", f->role ? f->role : "");
	if (f->err) {
		json_key_str(w, "error", f->load_failed ? "load" : liveness_image_strerror(f->err));
		json_obj_end(w);
		return;
	}
	json_key_int(w, "width", f->w);
	json_key_int(w, "height", f->h);
	json_key_int(w, "detections", f->detections);
	json_key_int(w, "faces", f->faces);
	if (f->has_face) {
		json_key_double(w, "quality", round(f->quality * 100) / 100);
		json_key_double(w, "yaw", round(f->yaw * 10) / 10);
		json_key_double(w, "pitch", round(f->pitch * 10) / 10);
		json_key_double(w, "roll", round(f->roll * 10) / 10);
		json_key_double(w, "iod", round(f->iod * 10) / 10);
	}
	json_key(w, "quality_reasons");
	reason_names(w, f->reasons, liveness_quality_reason_name);
	if (f->has_silent) {
		json_key_bool(w, "silent_passed", f->silent.passed);
		json_key_double(w, "silent_score", round(f->silent.score * 100) / 100);
	}
	json_obj_end(w);
}

size_t lsvc_detail_json(const struct lsvc_outcome *o, const struct lsvc_face *const *faces,
			size_t nfaces, const struct lsvc_capture *cap, char *buf, size_t cap_len)
{
	struct json_writer w;
	json_writer_init(&w, buf, cap_len);
	json_obj_begin(&w);
	json_key_str(&w, "why", o->why);
	if (!isnan(o->distance)) {
		json_key_double(&w, "distance", round(o->distance * 10000) / 10000);
		json_key_double(&w, "threshold", LIVENESS_EMBED_THRESHOLD);
	}
	if (cap) {
		json_key(&w, "liveness");
		json_obj_begin(&w);
		json_key_str(&w, "method", cap->method);
		json_key_bool(&w, "risk", cap->plan.strict); /* the escalated challenge ran */
		json_key_int(&w, "actions", cap->plan.n_actions);
		json_key_bool(&w, "photinus", cap->plan.photinus);
		json_key_int(&w, "frames", cap->frames);
		json_key_int(&w, "undecodable", cap->undecodable);
		json_key_bool(&w, "passed", cap->passed);
		json_key_double(&w, "score", round(cap->score * 100) / 100);
		json_key(&w, "reasons");
		reason_names(&w, cap->reasons, liveness_live_reason_name);
		json_obj_end(&w);
	}
	json_key(&w, "images");
	json_arr_begin(&w);
	for (size_t i = 0; i < nfaces; i++)
		if (faces[i])
			face_json(&w, faces[i]);
	json_arr_end(&w);
	json_obj_end(&w);
	if (json_writer_truncated(&w)) {
		json_writer_init(&w, buf, cap_len);
		json_obj_begin(&w);
		json_key_str(&w, "why", o->why);
		json_key_bool(&w, "truncated", true);
		json_obj_end(&w);
	}
	return json_writer_len(&w);
}
