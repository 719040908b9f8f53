/* Unit tests for liveness_outcome: SubCode precedence (419 > 205 > 204 > 203 > 200), the
 * MaterialInfo document (a JSON string; verifyScore, quality flags, faceAttack), diagnostics,
 * missing checks and buffer limits. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "liveness/liveness_outcome.h"
#include "unit.h"

static struct liveness_plan plan;
static struct liveness_quality q;
static struct liveness_action_result act;
static struct liveness_photinus_result pho;
static struct liveness_silent_result sil;
static char buf[LIVENESS_OUTCOME_JSON_MAX];

static struct liveness_outcome_in setup(enum liveness_scene_model m)
{
	struct liveness_outcome_in in = {.plan = &plan, .quality = &q};
	liveness_plan_for(m, false, &plan);
	memset(&q, 0, sizeof(q));
	q.score = 92.04f;
	memset(&act, 0, sizeof(act));
	act.passed = true;
	act.score = 80;
	memset(&pho, 0, sizeof(pho));
	pho.passed = true;
	pho.score = 70;
	memset(&sil, 0, sizeof(sil));
	sil.passed = true;
	sil.score = 100;
	if (plan.n_actions)
		in.action = &act;
	if (plan.photinus)
		in.photinus = &pho;
	if (plan.silent)
		in.silent = &sil;
	return in;
}

static struct liveness_outcome decide(const struct liveness_outcome_in *in)
{
	struct liveness_outcome o;
	if (liveness_outcome_decide(in, &o) != 0)
		memset(&o, 0xff, sizeof(o));
	return o;
}

static void test_pass(void)
{
	struct liveness_outcome_in in = setup(LIVENESS_SCENE_PHOTINUS);
	in.compared = true;
	in.distance = 0.3;
	struct liveness_outcome o = decide(&in);
	CHECK(o.code == 200 && o.passed && o.sub_code == 200 && !o.attack);
	CHECK(o.liveness_score == 70 && o.attack_score > 0.299f && o.attack_score < 0.301f);
	int n = liveness_outcome_json(&in, buf, sizeof(buf));
	REQUIRE(n > 0 && (size_t)n == strlen(buf));
	static const char head[] = "{\"code\":\"200\",\"passed\":\"T\",\"subCode\":\"200\","
				   "\"materialInfo\":\"{\\\"faceAttack\\\":\\\"F\\\","
				   "\\\"facialPictureFront\\\":{";
	CHECK(strncmp(buf, head, sizeof(head) - 1) == 0);
	CHECK(strstr(buf, "\\\"faceAttackScore\\\":0.3,") != NULL);
	CHECK(strstr(buf, "\\\"qualityScore\\\":92,") != NULL);
	CHECK(strstr(buf, "\\\"qualityBlur\\\":\\\"0\\\",\\\"qualityIllu\\\":\\\"0\\\"") != NULL);
	CHECK(strstr(buf, "\\\"verifyScore\\\":75}}\"") != NULL);
	CHECK(strstr(buf, "\"diagnostics\":{\"reason\":\"ok\",\"livenessScore\":70,") != NULL);
	CHECK(strstr(buf, "\"distance\":0.3}}") != NULL);
}

static void test_precedence(void)
{
	struct liveness_outcome_in in = setup(LIVENESS_SCENE_MULTI_ACTION);
	struct liveness_outcome o;

	act.reasons = LIVENESS_R_FACE_LOST; /* a capture problem */
	act.passed = false;
	o = decide(&in);
	CHECK(o.sub_code == 204 && !o.passed && !o.attack && strcmp(o.reason, "face_lost") == 0);
	act.reasons |= LIVENESS_R_ACTION_MISSING; /* an attack cue wins */
	o = decide(&in);
	CHECK(o.sub_code == 205 && o.attack && strcmp(o.reason, "action_missing") == 0);
	REQUIRE(liveness_outcome_json(&in, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\\\"faceAttack\\\":\\\"T\\\"") != NULL);

	in = setup(LIVENESS_SCENE_LIVENESS);
	q.reasons = LIVENESS_Q_BLURRED | LIVENESS_Q_TOO_DARK;
	o = decide(&in);
	CHECK(o.sub_code == 204 && strcmp(o.reason, "too_dark") == 0);
	REQUIRE(liveness_outcome_json(&in, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\\\"qualityBlur\\\":\\\"1\\\",\\\"qualityIllu\\\":\\\"1\\\"") != NULL);

	in = setup(LIVENESS_SCENE_LIVENESS);
	in.compared = true;
	in.distance = 0.7;
	o = decide(&in);
	CHECK(o.sub_code == 204 && strcmp(o.reason, "face_mismatch") == 0);
	REQUIRE(liveness_outcome_json(&in, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\\\"verifyScore\\\":41.7") != NULL);
	in.reference_unusable = true;
	o = decide(&in);
	CHECK(o.sub_code == 203 && strcmp(o.reason, "reference_unusable") == 0);
	REQUIRE(liveness_outcome_json(&in, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "verifyScore") == NULL);

	in = setup(LIVENESS_SCENE_FRONT_CAMERA);
	sil.passed = false;
	sil.score = 20;
	o = decide(&in);
	CHECK(o.sub_code == 205 && strcmp(o.reason, "silent_risk") == 0 && o.attack);
	q.reasons = LIVENESS_Q_NO_FACE; /* the supplied photo is unusable: Code 419 */
	o = decide(&in);
	CHECK(o.code == 419 && o.sub_code == 0 && !o.passed);
	REQUIRE(liveness_outcome_json(&in, buf, sizeof(buf)) > 0);
	CHECK(strncmp(buf, "{\"code\":\"419\",\"diagnostics\":{\"reason\":\"no_face\"", 46) == 0);
}

static void test_errors(void)
{
	struct liveness_outcome_in in = setup(LIVENESS_SCENE_PHOTINUS);
	struct liveness_outcome o;

	in.photinus = NULL; /* the plan needs it */
	CHECK_INT(liveness_outcome_decide(&in, &o), -EINVAL);
	CHECK_INT(liveness_outcome_json(&in, buf, sizeof(buf)), -EINVAL);
	in = setup(LIVENESS_SCENE_PHOTINUS);
	in.quality = NULL;
	CHECK_INT(liveness_outcome_decide(&in, &o), -EINVAL);
	CHECK_INT(liveness_outcome_decide(NULL, &o), -EINVAL);
	in = setup(LIVENESS_SCENE_PHOTINUS);
	CHECK_INT(liveness_outcome_json(&in, buf, 50), -ENOSPC);
}

UNIT_MAIN("liveness_outcome", UNIT_CASE(test_pass), UNIT_CASE(test_precedence),
	  UNIT_CASE(test_errors))
