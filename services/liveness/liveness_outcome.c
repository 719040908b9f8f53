/* liveness_outcome — SubCode precedence and the MaterialInfo document. */
#include "liveness/liveness_outcome.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "liveness/liveness_embed.h"

/* Sequence reasons that point at a presentation attack or tampering (SubCode 205); the rest
 * are capture problems (204). */
#define ATTACK_REASONS                                                                    \
	(LIVENESS_R_BAD_TIMESTAMPS | LIVENESS_R_TRACK_JUMP | LIVENESS_R_IDENTITY |        \
	 LIVENESS_R_ACTION_MISSING | LIVENESS_R_NO_RESPONSE | LIVENESS_R_WRONG_SEQUENCE | \
	 LIVENESS_R_LATE | LIVENESS_R_FLAT | LIVENESS_R_SILENT_RISK)

static const char *first_live_reason(unsigned r)
{
	for (int i = 0; i < LIVENESS_N_LIVE_REASONS; i++)
		if (r & (1u << i))
			return liveness_live_reason_name(1u << i);
	return "ok";
}

static const char *first_quality_reason(unsigned r)
{
	for (int i = 0; i < LIVENESS_Q_REASONS; i++)
		if (r & (1u << i))
			return liveness_quality_reason_name(1u << i);
	return "ok";
}

/* The liveness reasons and score of whatever ran. */
static int gather(const struct liveness_outcome_in *in, unsigned *reasons, float *score)
{
	const struct liveness_plan *p = in->plan;

	*reasons = 0;
	*score = 100.0f;
	if ((p->n_actions > 0 && !in->action) || (p->photinus && !in->photinus) ||
	    (p->silent && !in->silent))
		return -EINVAL;
	if (p->n_actions > 0) {
		*reasons |= in->action->reasons;
		*score = fminf(*score, in->action->score);
	}
	if (p->photinus) {
		*reasons |= in->photinus->reasons;
		*score = fminf(*score, in->photinus->score);
	}
	if (p->silent) {
		if (!in->silent->passed)
			*reasons |= LIVENESS_R_SILENT_RISK;
		*score = fminf(*score, in->silent->score);
	}
	return 0;
}

int liveness_outcome_decide(const struct liveness_outcome_in *in, struct liveness_outcome *ret)
{
	unsigned live;
	float score;

	memset(ret, 0, sizeof(*ret));
	if (!in || !in->plan || !in->quality || gather(in, &live, &score) < 0)
		return -EINVAL;
	ret->liveness_score = score;
	ret->attack_score = 1.0f - score / 100.0f;
	ret->attack = (live & ATTACK_REASONS) != 0;
	ret->code = 200;
	if (in->plan->silent && (in->quality->reasons & LIVENESS_Q_NO_FACE)) {
		ret->code = 419; /* the supplied photo shows no usable face */
		ret->reason = "no_face";
		return 0;
	}
	ret->sub_code = 200;
	ret->reason = "ok";
	if (ret->attack) {
		ret->sub_code = 205;
		ret->reason = first_live_reason(live & ATTACK_REASONS);
	} else if (live) {
		ret->sub_code = 204;
		ret->reason = first_live_reason(live);
	} else if (in->quality->reasons) {
		ret->sub_code = 204;
		ret->reason = first_quality_reason(in->quality->reasons);
	} else if (in->reference_unusable) {
		ret->sub_code = 203;
		ret->reason = "reference_unusable";
	} else if (in->compared && !liveness_embed_same(in->distance)) {
		ret->sub_code = 204;
		ret->reason = "face_mismatch";
	}
	ret->passed = ret->sub_code == 200;
	return 0;
}

/* One decimal is what the API's examples show; the JSON writer keeps it short. */
static double round1(double v)
{
	return isfinite(v) ? round(v * 10.0) / 10.0 : 0.0;
}

/* Integral values as integers (the shortest-text double writer would give "7e+01"). */
static void key_num(struct json_writer *w, const char *k, double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 1e9)
		json_key_int(w, k, (long long)v);
	else
		json_key_double(w, k, v);
}

static int material_info(const struct liveness_outcome_in *in, const struct liveness_outcome *o,
			 char *buf, size_t cap)
{
	struct json_writer w;
	const struct liveness_quality *q = in->quality;

	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	json_key_str(&w, "faceAttack", o->attack ? "T" : "F");
	json_key(&w, "facialPictureFront");
	json_obj_begin(&w);
	key_num(&w, "faceAttackScore", round(o->attack_score * 1e4) / 1e4);
	key_num(&w, "qualityScore", round1(q->score));
	json_key_str(&w, "qualityBlur", q->reasons & LIVENESS_Q_BLURRED ? "1" : "0");
	json_key_str(&w, "qualityIllu",
		     q->reasons & (LIVENESS_Q_TOO_DARK | LIVENESS_Q_OVEREXPOSED) ? "1" : "0");
	if (in->compared && !in->reference_unusable)
		key_num(&w, "verifyScore", round1(liveness_verify_score(in->distance)));
	json_obj_end(&w);
	json_obj_end(&w);
	return json_writer_truncated(&w) ? -ENOSPC : (int)json_writer_len(&w);
}

static void diagnostics(struct json_writer *w, const struct liveness_outcome_in *in,
			const struct liveness_outcome *o)
{
	json_key(w, "diagnostics");
	json_obj_begin(w);
	json_key_str(w, "reason", o->reason);
	key_num(w, "livenessScore", round1(o->liveness_score));
	json_key_int(w, "qualityReasons", in->quality->reasons);
	if (in->action) {
		json_key_int(w, "actionReasons", in->action->reasons);
		key_num(w, "actionScore", round1(in->action->score));
	}
	if (in->photinus) {
		json_key_int(w, "photinusReasons", in->photinus->reasons);
		key_num(w, "photinusScore", round1(in->photinus->score));
		json_key_int(w, "photinusLagMs", in->photinus->lag_ms);
	}
	if (in->silent)
		key_num(w, "silentScore", round1(in->silent->score));
	if (in->compared)
		key_num(w, "distance", round(in->distance * 1e4) / 1e4);
	json_obj_end(w);
}

int liveness_outcome_json(const struct liveness_outcome_in *in, char *buf, size_t cap)
{
	struct liveness_outcome o;
	struct json_writer w;
	char mi[1024], num[16];
	int rc, n;

	if ((rc = liveness_outcome_decide(in, &o)) < 0)
		return rc;
	if ((n = material_info(in, &o, mi, sizeof(mi))) < 0)
		return n;
	json_writer_init(&w, buf, cap);
	json_obj_begin(&w);
	snprintf(num, sizeof(num), "%d", o.code);
	json_key_str(&w, "code", num);
	if (o.code == 200) {
		json_key_str(&w, "passed", o.passed ? "T" : "F");
		snprintf(num, sizeof(num), "%d", o.sub_code);
		json_key_str(&w, "subCode", num);
		json_key(&w, "materialInfo");
		json_strn(&w, mi, (size_t)n);
	}
	diagnostics(&w, in, &o);
	json_obj_end(&w);
	return json_writer_truncated(&w) ? -ENOSPC : (int)json_writer_len(&w);
}
