/* Unit tests for intake_material: the MaterialInfo document (fields, omissions, the photo) and
 * its embedding as a JSON string (what the SDK requires: a string, not an object). */
#include "intake/intake_material.h"

#include "common/json.h"
#include "unit.h"

static void test_full(void)
{
	struct intake_material m = {.sub_code = 200,
				    .verify_score = 91.25,
				    .liveness_score = 97,
				    .quality_score = 88.36,
				    .picture_b64 = "iVBORw0KGgo=",
				    .picture_b64_len = 12,
				    .picture_mime = "image/png"};
	char buf[512];
	long n = intake_material_render(&m, buf, sizeof(buf));
	REQUIRE(n > 0);
	CHECK_STR(buf, "{\"faceAttack\":\"F\",\"facialPictureFront\":{\"verifyScore\":91.25,"
		       "\"qualityScore\":88.36,\"faceAttackScore\":0.03,\"pictureBase64\":"
		       "\"iVBORw0KGgo=\",\"pictureType\":\"image/png\"}}");
	CHECK(intake_material_size(&m) >= (size_t)n + 1);
}

static void test_attack_and_missing_scores(void)
{
	struct intake_material m = {.sub_code = 205,
				    .verify_score = -1,
				    .liveness_score = 12.345678,
				    .quality_score = -1};
	char buf[256];
	REQUIRE(intake_material_render(&m, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "{\"faceAttack\":\"T\",\"facialPictureFront\":{\"faceAttackScore\":"
		       "0.87654}}");
	m.liveness_score = 150; /* out of range: clamped */
	REQUIRE(intake_material_render(&m, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"faceAttackScore\":0}") != NULL);
}

static void test_small_buffer(void)
{
	struct intake_material m = {
		.sub_code = 200, .verify_score = 1, .liveness_score = -1, .quality_score = -1};
	char buf[16];
	CHECK_INT(intake_material_render(&m, buf, sizeof(buf)), -ENOSPC);
}

static void test_as_json_string(void)
{
	struct intake_material m = {.sub_code = 200,
				    .verify_score = 90.1,
				    .liveness_score = -1,
				    .quality_score = 88.36};
	char doc[256], out[512];
	long n = intake_material_render(&m, doc, sizeof(doc));
	REQUIRE(n > 0);
	struct json_writer w;
	json_writer_init(&w, out, sizeof(out));
	json_obj_begin(&w);
	json_key(&w, "MaterialInfo");
	json_strn(&w, doc, (size_t)n);
	json_obj_end(&w);
	CHECK_STR(out, "{\"MaterialInfo\":\"{\\\"faceAttack\\\":\\\"F\\\",\\\"facialPictureFront"
		       "\\\":{\\\"verifyScore\\\":90.1,\\\"qualityScore\\\":88.36}}\"}");
}

UNIT_MAIN("intake_material", UNIT_CASE(test_full), UNIT_CASE(test_attack_and_missing_scores),
	  UNIT_CASE(test_small_buffer), UNIT_CASE(test_as_json_string))
