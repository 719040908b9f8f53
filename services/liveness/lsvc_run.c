/* lsvc_run — runs the engine for one job on a worker thread: decodes each input with the
 * service's limits, analyses it (detection, mesh, quality, descriptor), evaluates the challenge
 * of a frame sequence, and hands the measurements to lsvc_decide. The deadline is checked
 * before every image. Decoded pixels are wiped before they are freed. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/envelope.h"
#include "liveness/liveness_action.h"
#include "liveness/liveness_challenge.h"
#include "liveness/liveness_engine.h"
#include "liveness/liveness_photinus.h"
#include "liveness/liveness_seq.h"
#include "liveness/liveness_silent.h"
#include "liveness/lsvc.h"
#include "liveness/lsvc_job.h"

static void rgb_wipe_done(struct liveness_rgb *img)
{
	if (img->px)
		memset(img->px, 0, (size_t)img->w * img->h * 3);
	liveness_rgb_done(img);
}

static struct liveness_image_limits limits_of(const struct lsvc *s)
{
	struct liveness_image_limits l = LIVENESS_IMAGE_LIMITS_DEFAULT;
	l.max_bytes = (size_t)s->cfg->max_image_bytes;
	l.max_pixels = (uint64_t)s->cfg->max_pixels;
	return l;
}

/* Fills f from an analysis. */
static void face_from(const struct liveness_analysis *a, struct lsvc_face *f)
{
	f->detections = a->nfaces;
	f->faces = a->quality.faces;
	f->has_face = a->has_face;
	f->reasons = a->quality.reasons;
	f->quality = a->quality.score;
	f->yaw = a->info.yaw;
	f->pitch = a->info.pitch;
	f->roll = a->info.roll;
	f->iod = a->quality.iod;
	f->q = a->quality;
	f->has_descriptor = a->has_descriptor;
	if (a->has_descriptor)
		memcpy(f->descriptor, a->descriptor, sizeof(f->descriptor));
}

/* Prepares f for img: the load error, if any. Returns true when img has bytes to decode. */
static bool face_start(const struct lsvc_image *img, struct lsvc_face *f)
{
	memset(f, 0, sizeof(*f));
	f->photo_id = img->photo_id;
	f->role = img->kind;
	if (img->load_err == -EFBIG) {
		f->err = -EFBIG;
		return false;
	}
	if (img->load_err || !img->bytes) {
		f->err = img->load_err ? img->load_err : -ENOENT;
		f->load_failed = true;
		return false;
	}
	return true;
}

static void silent_of(const struct liveness_rgb *rgb, const struct liveness_analysis *a,
		      struct lsvc_face *f)
{
	if (!a->has_face)
		return;
	liveness_silent_eval(rgb, a, false, NULL, &f->silent);
	f->has_silent = true;
}

/* Decodes and analyses one image (and runs the silent check when `silent`). -ENOMEM only;
 * image problems go into f->err. */
static int analyze_image(const struct lsvc *s, struct liveness_worker *w,
			 const struct lsvc_image *img, bool silent, struct liveness_analysis *a,
			 struct lsvc_face *f)
{
	struct liveness_image_limits lim = limits_of(s);
	struct liveness_rgb rgb;
	if (!face_start(img, f))
		return 0;
	int rc = liveness_image_decode(img->bytes, img->len, &lim, &rgb);
	if (rc < 0) {
		f->err = rc;
		return rc == -ENOMEM ? rc : 0;
	}
	f->w = rgb.w;
	f->h = rgb.h;
	rc = liveness_analyze(s->engine, w, &rgb, NULL, LIVENESS_WANT_DESCRIPTOR, a);
	if (rc == 0 && silent)
		silent_of(&rgb, a, f);
	rgb_wipe_done(&rgb);
	if (rc < 0) {
		f->err = rc;
		return rc == -ENOMEM ? rc : 0;
	}
	face_from(a, f);
	return 0;
}

static const struct lsvc_image *find_kind(const struct lsvc_job *j, const char *k1, const char *k2)
{
	for (size_t i = 0; i < j->nimages; i++)
		if (strcmp(j->images[i].kind, k1) == 0 ||
		    (k2 && strcmp(j->images[i].kind, k2) == 0))
			return &j->images[i];
	return NULL;
}

static bool past_deadline(const struct lsvc_job *j, struct lsvc_outcome *o)
{
	int64_t now = envelope_now_ms();
	if (j->deadline_ms > 0 && now > j->deadline_ms) {
		lsvc_outcome_timeout(o, now - j->deadline_ms);
		return true;
	}
	return false;
}

/* The second image of a two-image job, on a helper thread with the worker's second
 * workspace: a comparison's two analyses run side by side when a core is free, which halves
 * the latency of an idle service (docs/liveness.md, "The service"). */
struct helper {
	const struct lsvc *s;
	struct liveness_worker *w;
	const struct lsvc_image *img;
	bool silent;
	struct liveness_analysis *a;
	struct lsvc_face *f;
	int rc;
};

static void *helper_main(void *arg)
{
	struct helper *h = arg;
	h->rc = analyze_image(h->s, h->w, h->img, h->silent, h->a, h->f);
	return NULL;
}

static bool analyze_pair(const struct lsvc *s, struct liveness_worker *w,
			 struct liveness_worker *w2, const struct lsvc_job *j, bool silent,
			 struct liveness_analysis *a, struct lsvc_face *faces,
			 struct lsvc_outcome *o)
{
	struct liveness_analysis *a2 = malloc(sizeof(*a2));
	struct helper h = {.s = s,
			   .w = w2,
			   .img = &j->images[1],
			   .silent = silent && strcmp(j->images[1].kind, "face") == 0,
			   .a = a2,
			   .f = &faces[1]};
	pthread_t t;
	bool threaded = a2 && pthread_create(&t, NULL, helper_main, &h) == 0;
	bool sil0 = silent && strcmp(j->images[0].kind, "face") == 0;
	int rc = analyze_image(s, w, &j->images[0], sil0, a, &faces[0]);
	if (threaded)
		pthread_join(t, NULL);
	else
		h.rc = analyze_image(s, w, &j->images[1], h.silent, a, &faces[1]);
	free(a2);
	if (rc < 0 || h.rc < 0) {
		lsvc_outcome_failed(o, "out_of_memory",
				    "The images could not be analysed: out of "
				    "memory.");
		return false;
	}
	return true;
}

/* Analyses the images of a single-photo action (in job order) into faces[], with the silent
 * check on the "face" image when `silent`. Returns false when the outcome is already set
 * (deadline, out of memory). */
static bool analyze_all(const struct lsvc *s, struct liveness_worker *w, struct liveness_worker *w2,
			const struct lsvc_job *j, bool silent, struct liveness_analysis *a,
			struct lsvc_face *faces, struct lsvc_outcome *o)
{
	if (j->nimages == 2 && w2) {
		if (past_deadline(j, o))
			return false;
		return analyze_pair(s, w, w2, j, silent, a, faces, o);
	}
	for (size_t i = 0; i < j->nimages; i++) {
		bool sil = silent && strcmp(j->images[i].kind, "face") == 0;
		if (past_deadline(j, o))
			return false;
		if (analyze_image(s, w, &j->images[i], sil, a, &faces[i]) < 0) {
			lsvc_outcome_failed(o, "out_of_memory",
					    "The images could not be analysed: "
					    "out of memory.");
			return false;
		}
	}
	return true;
}

static struct lsvc_face *face_of(const struct lsvc_job *j, struct lsvc_face *faces,
				 const struct lsvc_image *img)
{
	return img ? &faces[img - j->images] : NULL;
}

/* ---- frame sequences ---- */

static int hexbyte(const char *p)
{
	int v = 0;
	for (int i = 0; i < 2; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			return -1;
	}
	return v;
}

/* The value of "key" in a flat JSON object: a pointer to its first character, or NULL. Only
 * for the small documents this service and intake write (no escapes in keys). */
static const char *json_value(const char *json, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = json; p && (p = strchr(p, '"')); p++) {
		if (strncmp(p + 1, key, kl) != 0 || p[1 + kl] != '"')
			continue;
		const char *v = p + 2 + kl;
		while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
			v++;
		if (*v++ != ':')
			continue;
		while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
			v++;
		return v;
	}
	return NULL;
}

/* The challenge intake recorded: {"seed":"<64 hex>","risk":true|false} (other keys ignored).
 * 0, or -EINVAL. */
static int challenge_parse(const char *json, uint8_t seed[LIVENESS_SEED_LEN], bool *ret_risk)
{
	const char *p = json ? json_value(json, "seed") : NULL;
	if (!p || *p++ != '"')
		return -EINVAL;
	for (int i = 0; i < LIVENESS_SEED_LEN; i++) {
		int b = hexbyte(p + 2 * i);
		if (b < 0)
			return -EINVAL;
		seed[i] = (uint8_t)b;
	}
	if (p[2 * LIVENESS_SEED_LEN] != '"')
		return -EINVAL;
	const char *r = json_value(json, "risk");
	*ret_risk = r && strncmp(r, "true", 4) == 0;
	return 0;
}

struct seq {
	struct liveness_rgb *rgb;
	int64_t *t;
	const struct lsvc_image **img;
	struct liveness_obs *obs;
	int n;
};

static void seq_free(struct seq *q)
{
	for (int i = 0; q->rgb && i < q->n; i++)
		rgb_wipe_done(&q->rgb[i]);
	free(q->rgb);
	free(q->t);
	free(q->img);
	free(q->obs);
}

/* Decodes the frames; an undecodable frame is left out and counted. -ENOMEM, -E2BIG (the
 * sequence needs more pixels than max_sequence_pixels). */
static int seq_decode(const struct lsvc *s, const struct lsvc_job *j, struct seq *q,
		      struct lsvc_capture *cap)
{
	struct liveness_image_limits lim = limits_of(s);
	uint64_t pixels = 0;
	q->rgb = calloc(j->nimages, sizeof(*q->rgb));
	q->t = calloc(j->nimages, sizeof(*q->t));
	q->img = calloc(j->nimages, sizeof(*q->img));
	if (!q->rgb || !q->t || !q->img)
		return -ENOMEM;
	for (size_t i = 0; i < j->nimages; i++) {
		const struct lsvc_image *img = &j->images[i];
		if (strcmp(img->kind, "frame") != 0)
			continue;
		cap->frames++;
		if (img->load_err || !img->bytes) {
			cap->undecodable++;
			continue;
		}
		int rc = liveness_image_decode(img->bytes, img->len, &lim, &q->rgb[q->n]);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			cap->undecodable++;
			continue;
		}
		pixels += (uint64_t)q->rgb[q->n].w * q->rgb[q->n].h;
		q->t[q->n] = img->t_ms;
		q->img[q->n] = img;
		q->n++;
		if (pixels > (uint64_t)s->cfg->max_sequence_pixels)
			return -E2BIG;
	}
	return 0;
}

/* Evaluates the challenge over the decoded frames into cap; picks the best frame. */
static int seq_eval(const struct lsvc *s, struct liveness_worker *w, const struct lsvc_job *j,
		    struct seq *q, struct lsvc_capture *cap, struct lsvc_outcome *o)
{
	enum liveness_scene_model m;
	struct liveness_plan plan;
	struct liveness_challenge ch;
	uint8_t seed[LIVENESS_SEED_LEN];
	bool risk = false;
	const char *model =
		j->msg->scene_model && *j->msg->scene_model ? j->msg->scene_model : NULL;
	if (liveness_scene_model_parse(model, &m) < 0 ||
	    challenge_parse(j->msg->challenge_json, seed, &risk) < 0) {
		lsvc_outcome_failed(o, "bad_challenge",
				    "The job's Model or challenge record is not valid.");
		return -EINVAL;
	}
	liveness_plan_for(m, risk, &plan);
	if (plan.n_actions == 0 && !plan.photinus) {
		/* FRONT_CAMERA_LIVENESS is for one server-side photo, not for a capture. */
		lsvc_outcome_failed(o, "method_unavailable",
				    "The scene's Model is a single-photo check, not a capture "
				    "challenge.");
		return -ENOTSUP;
	}
	if (liveness_challenge_draw(&plan, seed, &ch) < 0) {
		lsvc_outcome_failed(o, "bad_challenge", "The challenge could not be drawn.");
		return -EINVAL;
	}
	cap->method = plan.n_actions && plan.photinus ? "action+photinus"
		      : plan.photinus		      ? "photinus"
						      : "action";
	q->obs = calloc((size_t)(q->n ? q->n : 1), sizeof(*q->obs));
	if (!q->obs)
		return -ENOMEM;
	int rc = q->n ? liveness_seq_observe(s->engine, w, q->rgb, q->t, q->n, q->obs) : 0;
	if (rc < 0)
		return rc;
	/* Both checks of a combined Model run over the same frames (times from the flash start);
	 * each must pass. */
	struct liveness_seq_result seq = {.id_frames = {-1, -1, -1}};
	bool passed = true;
	float score = 100.0f;
	unsigned reasons = 0;
	cap->plan = plan;
	if (plan.n_actions) {
		liveness_action_eval(&ch, q->obs, q->n, NULL, NULL, &cap->action);
		cap->has_action = true;
		if (cap->undecodable) { /* frames that did not decode: lost frames */
			cap->action.reasons |= LIVENESS_R_FACE_LOST;
			cap->action.passed = false;
		}
		passed = passed && cap->action.passed;
		reasons |= cap->action.reasons;
		score = fminf(score, cap->action.score);
		seq = cap->action.seq;
	}
	if (plan.photinus) {
		liveness_photinus_eval(&ch, q->obs, q->n, NULL, NULL, &cap->photinus);
		cap->has_photinus = true;
		if (cap->undecodable) {
			cap->photinus.reasons |= LIVENESS_R_FACE_LOST;
			cap->photinus.passed = false;
		}
		passed = passed && cap->photinus.passed;
		reasons |= cap->photinus.reasons;
		score = fminf(score, cap->photinus.score);
		if (!plan.n_actions)
			seq = cap->photinus.seq;
	}
	cap->passed = passed;
	cap->reasons = reasons;
	cap->score = score;
	/* The face kept: the frontal middle frame of the identity check, else the first. */
	cap->best = seq.id_frames[1] >= 0 ? seq.id_frames[1] : seq.id_frames[0];
	return 0;
}

static void run_capture(const struct lsvc *s, struct liveness_worker *w, const struct lsvc_job *j,
			struct liveness_analysis *a, struct lsvc_outcome *o, char *detail,
			size_t detail_cap)
{
	struct seq q = {0};
	struct lsvc_capture cap = {.method = "action", .best = -1};
	struct lsvc_face best, ref;
	const struct lsvc_image *ref_img = find_kind(j, "reference", "authority");
	int product = j->msg->product;
	bool needs_ref = product == SHIREN__V1__PRODUCT__PRODUCT_PV_FV ||
			 product == SHIREN__V1__PRODUCT__PRODUCT_ID_PRO ||
			 product == SHIREN__V1__PRODUCT__PRODUCT_ID_PLUS;
	int rc = seq_decode(s, j, &q, &cap);
	if (rc == -E2BIG) {
		lsvc_outcome_failed(o, "sequence_too_large",
				    "The frames hold more pixels than this server analyses.");
		goto out;
	}
	if (rc == 0 && !past_deadline(j, o))
		rc = seq_eval(s, w, j, &q, &cap, o);
	else if (rc == 0)
		goto out;
	if (rc == -ENOMEM)
		lsvc_outcome_failed(o, "out_of_memory",
				    "The frames could not be analysed: out "
				    "of memory.");
	if (rc < 0 || past_deadline(j, o))
		goto out;
	const struct lsvc_face *bestp = NULL, *refp = NULL;
	if (cap.best >= 0) {
		/* One more full analysis of the kept frame: quality score and descriptor. */
		memset(&best, 0, sizeof(best));
		best.photo_id = q.img[cap.best]->photo_id;
		best.role = "frame";
		best.w = q.rgb[cap.best].w;
		best.h = q.rgb[cap.best].h;
		if (liveness_analyze(s->engine, w, &q.rgb[cap.best], NULL, LIVENESS_WANT_DESCRIPTOR,
				     a) == 0) {
			face_from(a, &best);
			bestp = &best;
		}
	}
	if (needs_ref && ref_img && !past_deadline(j, o)) {
		if (analyze_image(s, w, ref_img, false, a, &ref) < 0) {
			lsvc_outcome_failed(o, "out_of_memory", "out of memory");
			goto out;
		}
		refp = &ref;
	}
	if (o->kind == LSVC_TIMEOUT)
		goto out;
	lsvc_decide_capture(&cap, bestp, refp, needs_ref, o);
	const struct lsvc_face *list[2] = {bestp, refp};
	lsvc_detail_json(o, list, 2, &cap, detail, detail_cap);
	seq_free(&q);
	return;
out:
	lsvc_detail_json(o, NULL, 0, &cap, detail, detail_cap);
	seq_free(&q);
}

void lsvc_run(const struct lsvc *s, struct liveness_worker *w, struct liveness_worker *w2,
	      const struct lsvc_job *j, struct lsvc_outcome *o, char *detail, size_t detail_cap)
{
	struct liveness_analysis *a = malloc(sizeof(*a));
	struct lsvc_face *faces = calloc(j->nimages ? j->nimages : 1, sizeof(*faces));
	const struct lsvc_face *list[4] = {0};
	lsvc_outcome_init(o);
	snprintf(detail, detail_cap, "{}");
	if (!a || !faces) {
		lsvc_outcome_failed(o, "out_of_memory", "out of memory");
		goto out;
	}
	if (past_deadline(j, o))
		goto out;
	if (j->kind == LSVC_KIND_CAPTURE) {
		run_capture(s, w, j, a, o, detail, detail_cap);
		goto out;
	}
	const char *model = j->msg->scene_model;
	bool live =
		j->kind == LSVC_KIND_LIVENESS ||
		(j->kind == LSVC_KIND_CONTRAST && (!model || strcmp(model, "NO_LIVENESS") != 0));
	if (!analyze_all(s, w, w2, j, live, a, faces, o))
		goto out;
	struct lsvc_face *face = face_of(j, faces, find_kind(j, "face", NULL));
	struct lsvc_face *ref = face_of(j, faces, find_kind(j, "reference", "authority"));
	list[0] = face;
	list[1] = ref;
	switch (j->kind) {
	case LSVC_KIND_COMPARE:
		list[0] = ref; /* source first */
		list[1] = face;
		lsvc_decide_compare(ref, face, o);
		break;
	case LSVC_KIND_CONTRAST:
		lsvc_decide_contrast(face, ref, live, o);
		break;
	case LSVC_KIND_LIVENESS:
		lsvc_decide_liveness(face, o);
		break;
	default:
		lsvc_outcome_failed(o, "bad_action", "The job's action is not computed here.");
		break;
	}
	lsvc_detail_json(o, list, 2, NULL, detail, detail_cap);
out:
	free(a);
	free(faces);
}
