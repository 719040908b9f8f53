/* Unit tests for the service decisions (lsvc_decide) and the job checks (lsvc_job): which
 * inputs are Code 419, the SubCodes of each action, billability, the detail document, and the
 * shapes of LivenessJob the consumer accepts. Hand-made measurements, no models. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "liveness/liveness_challenge.h"
#include "liveness/liveness_quality.h"
#include "liveness/liveness_seq.h"
#include "liveness/lsvc_decide.h"
#include "liveness/lsvc_job.h"
#include "unit.h"

static struct lsvc_face face(int64_t id, float d0)
{
	struct lsvc_face f;
	memset(&f, 0, sizeof(f));
	f.photo_id = id;
	f.role = "face";
	f.w = f.h = 512;
	f.detections = f.faces = 1;
	f.has_face = true;
	f.quality = 80;
	f.iod = 60;
	f.q.score = 80;
	f.q.faces = 1;
	f.has_descriptor = true;
	f.descriptor[0] = d0;
	f.has_silent = true;
	f.silent.passed = true;
	f.silent.score = 90;
	return f;
}

static void set_reasons(struct lsvc_face *f, unsigned bits)
{
	f->reasons = bits;
	f->q.reasons = bits;
}

static void test_unusable(void)
{
	struct lsvc_outcome o;
	struct lsvc_face f = face(1, 0);
	lsvc_outcome_init(&o);
	CHECK(!lsvc_decide_unusable(&f, "face image", &o));
	f.err = -ENOMSG;
	CHECK(lsvc_decide_unusable(&f, "face image", &o));
	CHECK_STR(o.code, "419");
	CHECK(strstr(o.message, "truncated") != NULL);
	CHECK(!o.billable && o.sub_code == 0);
	f = face(1, 0);
	f.has_face = false;
	set_reasons(&f, LIVENESS_Q_NO_FACE);
	CHECK(lsvc_decide_unusable(&f, "face image", &o));
	CHECK_STR(o.why, "no_face");
	f = face(1, 0);
	f.faces = 3;
	set_reasons(&f, LIVENESS_Q_SEVERAL_FACES | LIVENESS_Q_TOO_SMALL);
	CHECK(lsvc_decide_unusable(&f, "source image", &o));
	CHECK(strstr(o.message, "3 faces") != NULL);
	f = face(1, 0);
	f.err = -ENOMEM;
	CHECK(lsvc_decide_unusable(&f, "face image", &o));
	CHECK_STR(o.code, "500");
	f = face(1, 0);
	f.load_failed = true;
	f.err = -ESTALE;
	CHECK(lsvc_decide_unusable(&f, "face image", &o));
	CHECK_STR(o.code, "419");
	CHECK(strstr(o.message, "no longer kept") != NULL);
	f.err = -EBADMSG;
	CHECK(lsvc_decide_unusable(&f, "face image", &o));
	CHECK_STR(o.code, "500");
}

static void test_compare(void)
{
	struct lsvc_outcome o;
	struct lsvc_face a = face(1, 0), b = face(2, 0.3f), c = face(3, 0.9f);
	lsvc_outcome_init(&o);
	lsvc_decide_compare(&a, &b, &o);
	CHECK_STR(o.code, "200");
	CHECK(o.passed && o.sub_code == 200 && o.billable);
	CHECK(fabs(o.distance - 0.3) < 1e-6);
	CHECK(fabs(o.verify_score - 75.0) < 1e-3);
	lsvc_outcome_init(&o);
	lsvc_decide_compare(&a, &c, &o);
	CHECK(!o.passed && o.sub_code == 204 && o.billable);
	CHECK(o.verify_score < 50);
	/* quality gates do not matter for a plain comparison */
	set_reasons(&b, LIVENESS_Q_TOO_DARK);
	lsvc_outcome_init(&o);
	lsvc_decide_compare(&a, &b, &o);
	CHECK(o.passed);
	b.faces = 2;
	set_reasons(&b, LIVENESS_Q_SEVERAL_FACES);
	lsvc_outcome_init(&o);
	lsvc_decide_compare(&a, &b, &o);
	CHECK_STR(o.code, "419");
	CHECK(strstr(o.message, "target image") != NULL);
}

static void test_contrast(void)
{
	struct lsvc_outcome o;
	struct lsvc_face f = face(1, 0), r = face(2, 0.2f), far = face(3, 1.0f);
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, NULL, true, &o);
	CHECK(!o.passed && o.sub_code == 203 && o.billable);
	CHECK_STR(o.why, "no_reference");
	CHECK(o.face_photo_id == 1);
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &r, true, &o);
	CHECK(o.passed && o.sub_code == 200 && o.liveness_score == 90);
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &far, true, &o);
	CHECK(o.sub_code == 204);
	CHECK_STR(o.why, "face_mismatch");
	set_reasons(&f, LIVENESS_Q_BLURRED);
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &r, true, &o);
	CHECK(o.sub_code == 204);
	CHECK_STR(o.why, "blurred");
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &r, false, &o); /* NO_LIVENESS: quality gates still apply */
	CHECK(o.sub_code == 204 && o.liveness_score < 0);
	f = face(1, 0);
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &r, false, &o);
	CHECK(o.sub_code == 200);
	f.silent.passed = false;
	f.silent.score = 30;
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &r, true, &o);
	CHECK(o.sub_code == 205 && o.liveness_score == 30);
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &far, true, &o); /* the attack outranks the mismatch */
	CHECK(o.sub_code == 205);
	f = face(1, 0);
	r.err = -EBADMSG; /* an unusable reference is not the caller's error */
	lsvc_outcome_init(&o);
	lsvc_decide_contrast(&f, &r, true, &o);
	CHECK_STR(o.code, "200");
	CHECK(o.sub_code == 203);
}

static void test_liveness(void)
{
	struct lsvc_outcome o;
	struct lsvc_face f = face(1, 0);
	lsvc_outcome_init(&o);
	lsvc_decide_liveness(&f, &o);
	CHECK(o.passed && o.sub_code == 200 && o.liveness_score == 90 && o.quality_score == 80);
	set_reasons(&f, LIVENESS_Q_OVEREXPOSED);
	lsvc_outcome_init(&o);
	lsvc_decide_liveness(&f, &o);
	CHECK(o.sub_code == 204);
	f = face(1, 0);
	f.silent.passed = false;
	f.silent.score = 20;
	lsvc_outcome_init(&o);
	lsvc_decide_liveness(&f, &o);
	CHECK(o.sub_code == 205 && o.liveness_score == 20 && o.billable);
}

static void test_capture(void)
{
	struct lsvc_outcome o;
	struct lsvc_face best = face(7, 0), ref = face(8, 0.1f), other = face(9, 0.95f);
	struct lsvc_capture cap = {.method = "action", .frames = 20, .passed = true, .score = 80};
	liveness_plan_for(LIVENESS_SCENE_MOVE_ACTION, false, &cap.plan);
	cap.has_action = true;
	cap.action.passed = true;
	cap.action.score = 80;
	lsvc_outcome_init(&o);
	lsvc_decide_capture(&cap, &best, &ref, true, &o);
	CHECK(o.passed && o.face_photo_id == 7 && o.liveness_score == 80);
	lsvc_outcome_init(&o);
	lsvc_decide_capture(&cap, &best, &other, true, &o);
	CHECK(o.sub_code == 204);
	lsvc_outcome_init(&o);
	lsvc_decide_capture(&cap, &best, NULL, true, &o);
	CHECK(o.sub_code == 203);
	lsvc_outcome_init(&o);
	lsvc_decide_capture(&cap, &best, NULL, false, &o);
	CHECK(o.passed);
	cap.action.passed = false;
	cap.action.reasons = LIVENESS_R_ACTION_MISSING;
	lsvc_outcome_init(&o);
	lsvc_decide_capture(&cap, &best, &ref, true, &o);
	CHECK(o.sub_code == 205);
	cap.action.reasons = LIVENESS_R_TOO_FEW_FRAMES;
	lsvc_outcome_init(&o);
	lsvc_decide_capture(&cap, &best, &ref, true, &o);
	CHECK(o.sub_code == 204);
	lsvc_outcome_init(&o); /* no face in any frame */
	lsvc_decide_capture(&cap, NULL, &ref, true, &o);
	CHECK(o.sub_code == 204 && o.face_photo_id == 0);
}

static void test_timeout_failed_detail(void)
{
	struct lsvc_outcome o;
	char buf[LSVC_DETAIL_MAX];
	lsvc_outcome_init(&o);
	lsvc_outcome_timeout(&o, 1234);
	CHECK_STR(o.code, "500");
	CHECK(!o.billable && strstr(o.message, "1234 ms") != NULL);
	struct lsvc_face a = face(1, 0), b = face(2, 0.5f);
	set_reasons(&b, LIVENESS_Q_TOO_DARK | LIVENESS_Q_BLURRED);
	lsvc_outcome_init(&o);
	lsvc_decide_compare(&a, &b, &o);
	const struct lsvc_face *list[2] = {&a, &b};
	size_t n = lsvc_detail_json(&o, list, 2, NULL, buf, sizeof(buf));
	CHECK(n == strlen(buf));
	CHECK(strstr(buf, "\"why\":\"same_person\"") != NULL);
	CHECK(strstr(buf, "\"distance\":0.5") != NULL);
	CHECK(strstr(buf, "\"quality_reasons\":[\"too_dark\",\"blurred\"]") != NULL);
	n = lsvc_detail_json(&o, list, 2, NULL, buf, 40); /* too small: the minimal document */
	CHECK(strstr(buf, "truncated") != NULL || n < 40);
}

static void test_job_check(void)
{
	Shiren__V1__LivenessJob j = SHIREN__V1__LIVENESS_JOB__INIT;
	Shiren__V1__ImageRef a = SHIREN__V1__IMAGE_REF__INIT, b = SHIREN__V1__IMAGE_REF__INIT;
	Shiren__V1__ImageRef *imgs[2] = {&a, &b};
	char err[256];
	const char *tenant = "3f1c3c55-3b6c-4a4e-9d2e-0a1b2c3d4e5f";
	j.certify_id = "0123456789abcdef0123456789abcdef";
	j.action = "CompareFaceVerify";
	j.images = imgs;
	j.n_images = 2;
	a.photo_id = 1;
	a.kind = "reference";
	b.photo_id = 2;
	b.kind = "face";
	CHECK_INT(lsvc_job_check(&j, tenant, 64, err, sizeof(err)), 0);
	CHECK_INT(lsvc_job_check(&j, "not-a-uuid", 64, err, sizeof(err)), -EINVAL);
	CHECK_INT(lsvc_job_check(&j, tenant, 1, err, sizeof(err)), -EINVAL);
	j.action = "LivenessFaceVerify"; /* one image only */
	CHECK_INT(lsvc_job_check(&j, tenant, 64, err, sizeof(err)), -EINVAL);
	j.n_images = 1;
	a.kind = "face";
	CHECK_INT(lsvc_job_check(&j, tenant, 64, err, sizeof(err)), 0);
	j.action = "DescribeFaceVerify";
	CHECK_INT(lsvc_job_check(&j, tenant, 64, err, sizeof(err)), -EINVAL);
	j.action = "FaceCapture";
	a.kind = "frame";
	CHECK_INT(lsvc_job_check(&j, tenant, 64, err, sizeof(err)), 0);
	a.photo_id = 0;
	CHECK_INT(lsvc_job_check(&j, tenant, 64, err, sizeof(err)), -EINVAL);
	a.photo_id = 1;
	j.certify_id = "0123456789ABCDEF0123456789abcdef";
	CHECK_INT(lsvc_job_check(&j, tenant, 64, err, sizeof(err)), -EINVAL);
	CHECK_INT(lsvc_kind_of("ContrastFaceVerify"), LSVC_KIND_CONTRAST);
	CHECK_INT(lsvc_kind_of(NULL), 0);
}

UNIT_MAIN("liveness_lsvc", UNIT_CASE(test_unusable), UNIT_CASE(test_compare),
	  UNIT_CASE(test_contrast), UNIT_CASE(test_liveness), UNIT_CASE(test_capture),
	  UNIT_CASE(test_timeout_failed_detail), UNIT_CASE(test_job_check))
