/* Unit tests for the synchronous actions' pure parts: parameter rules and Codes of
 * ContrastFaceVerify / LivenessFaceVerify / CompareFaceVerify (intake_sync_valid), their
 * fingerprint, the result NOTIFY payload, and the multipart/form-data reader of the H5 frame
 * upload (intake_sync_form). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "intake/intake_image.h"
#include "intake/intake_sync.h"
#include "intake/intake_sync_form.h"
#include "unit.h"

#define NOW  ((time_t)1780000000) /* 2026-05-28 */
#define CERT "330103199001011230"

static const char *code_of(enum intake_sync_action a, const char *query)
{
	static char code[8];
	struct intake_params p = {0};
	struct intake_sync_req r;
	struct intake_biz b;
	if (intake_params_parse(&p, query, strlen(query), NULL, 0, NULL, NULL) < 0)
		return "parse";
	int rc = intake_sync_valid(a, &p, NOW, &r, &b);
	snprintf(code, sizeof(code), "%s", rc == 0 ? "ok" : b.code);
	intake_params_done(&p);
	return code;
}

#define BASE_CMP "SceneId=1000001&OuterOrderNo=o1&ProductCode=PV_FC"
#define BASE_LIV "SceneId=1000001&OuterOrderNo=o1&ProductCode=LR_FR_MIN"
#define BASE_CON "SceneId=1000001&OuterOrderNo=o1&ProductCode=ID_MIN&CertName=A&CertNo=" CERT

static void test_valid_codes(void)
{
	CHECK_STR(code_of(INTAKE_SYNC_COMPARE,
			  BASE_CMP "&SourceFaceContrastPicture=QUJD"
				   "&TargetFaceContrastPictureUrl=https%3A%2F%2Fa%2Fb.jpg"),
		  "ok");
	CHECK_STR(code_of(INTAKE_SYNC_COMPARE, BASE_CMP "&SourceFaceContrastPicture=QUJD"), "400");
	CHECK_STR(code_of(INTAKE_SYNC_COMPARE, BASE_CMP
			  "&SourceFaceContrastPicture=QUJD&SourceCertifyId="
			  "0123456789abcdef0123456789abcdef&TargetFaceContrastPicture=QUJD"),
		  "420");
	CHECK_STR(code_of(INTAKE_SYNC_COMPARE,
			  BASE_CMP "&SourceOssBucketName=b&SourceOssObjectName=o"
				   "&TargetFaceContrastPicture=QUJD"),
		  "410");
	CHECK_STR(code_of(INTAKE_SYNC_COMPARE,
			  BASE_CMP "&SourceOssBucketName=b&TargetFaceContrastPicture=QUJD"),
		  "400");
	CHECK_STR(code_of(INTAKE_SYNC_COMPARE, "SceneId=1&OuterOrderNo=o1&ProductCode=ID_MIN&"
					       "SourceFaceContrastPicture=QUJD"
					       "&TargetFaceContrastPicture=QUJD"),
		  "401");
	CHECK_STR(code_of(INTAKE_SYNC_LIVENESS, BASE_LIV "&FaceContrastPicture=QUJD"), "ok");
	CHECK_STR(code_of(INTAKE_SYNC_LIVENESS, BASE_LIV), "400");
	CHECK_STR(code_of(INTAKE_SYNC_LIVENESS, BASE_LIV "&CertifyId=XYZ"), "401");
	CHECK_STR(code_of(INTAKE_SYNC_LIVENESS,
			  BASE_LIV "&FaceContrastPicture=QUJD&Model=NO_LIVENESS"),
		  "401");
	CHECK_STR(code_of(INTAKE_SYNC_LIVENESS, BASE_LIV "&FaceContrastPicture=QUJD&Model=BLINK"),
		  "401");
	CHECK_STR(code_of(INTAKE_SYNC_LIVENESS, "OuterOrderNo=o1&ProductCode=LR_FR_MIN"), "400");
	CHECK_STR(code_of(INTAKE_SYNC_LIVENESS, BASE_LIV "&FaceContrastPicture=QUJD&Crop=X"),
		  "401");
	CHECK_STR(code_of(INTAKE_SYNC_CONTRAST, BASE_CON "&FaceContrastPicture=QUJD"), "ok");
	CHECK_STR(code_of(INTAKE_SYNC_CONTRAST,
			  BASE_CON "&FaceContrastPicture=QUJD&Model=NO_LIVENESS&Ip=10.0.0.1"),
		  "ok");
	CHECK_STR(code_of(INTAKE_SYNC_CONTRAST, "SceneId=1&OuterOrderNo=o1&ProductCode=ID_MIN"
						"&CertName=A&FaceContrastPicture=QUJD"),
		  "400");
	CHECK_STR(code_of(INTAKE_SYNC_CONTRAST, "SceneId=1&OuterOrderNo=o1&ProductCode=ID_MIN"
						"&CertName=A&CertNo=330103199001011234"
						"&FaceContrastPicture=QUJD"),
		  "401");
	CHECK_STR(code_of(INTAKE_SYNC_CONTRAST, "SceneId=1&OuterOrderNo=o1&ProductCode=ID_MIN"
						"&CertName=A&CertNo=330103202001011235"
						"&FaceContrastPicture=QUJD"),
		  "405");
	CHECK_STR(code_of(INTAKE_SYNC_CONTRAST, BASE_CON
			  "&FaceContrastPicture=QUJD&FaceContrastFile=https%3A%2F%2Fa%2Fv"),
		  "401");
	CHECK_STR(
		code_of(INTAKE_SYNC_CONTRAST, BASE_CON "&FaceContrastPicture=QUJD&EncryptType=SM2"),
		"401");
	CHECK_STR(code_of(INTAKE_SYNC_CONTRAST, BASE_CON "&FaceContrastPicture=QUJD&Mobile=12x"),
		  "401");
}

static void test_fingerprint(void)
{
	uint8_t key[32] = {1}, a[32], b[32], c[32];
	struct intake_params p1 = {0}, p2 = {0}, p3 = {0};
	const char *q1 = BASE_LIV "&FaceContrastPicture=QUJD";
	const char *q2 = "FaceContrastPicture=QUJD&ProductCode=LR_FR_MIN&OuterOrderNo=o1&"
			 "SceneId=1000001&Unknown=1";
	const char *q3 = BASE_LIV "&FaceContrastPicture=QUJE";
	REQUIRE(intake_params_parse(&p1, q1, strlen(q1), NULL, 0, NULL, NULL) == 0);
	REQUIRE(intake_params_parse(&p2, q2, strlen(q2), NULL, 0, NULL, NULL) == 0);
	REQUIRE(intake_params_parse(&p3, q3, strlen(q3), NULL, 0, NULL, NULL) == 0);
	CHECK_INT(intake_sync_fingerprint(INTAKE_SYNC_LIVENESS, &p1, key, a), 0);
	CHECK_INT(intake_sync_fingerprint(INTAKE_SYNC_LIVENESS, &p2, key, b), 0);
	CHECK_INT(intake_sync_fingerprint(INTAKE_SYNC_LIVENESS, &p3, key, c), 0);
	CHECK(memcmp(a, b, 32) == 0);
	CHECK(memcmp(a, c, 32) != 0);
	CHECK_INT(intake_sync_fingerprint(INTAKE_SYNC_CONTRAST, &p1, key, c), 0);
	CHECK(memcmp(a, c, 32) != 0);
	intake_params_done(&p1);
	intake_params_done(&p2);
	intake_params_done(&p3);
}

static void test_payload(void)
{
	struct intake_sync_result r = {0}, back;
	char buf[512];
	snprintf(r.certify_id, sizeof(r.certify_id), "0123456789abcdef0123456789abcdef");
	snprintf(r.code, sizeof(r.code), "419");
	r.sub_code = 0;
	r.verify_score = -1;
	r.liveness_score = 12.5;
	r.quality_score = 0;
	snprintf(r.message, sizeof(r.message), "No face | here.");
	REQUIRE(intake_sync_payload_format(&r, buf, sizeof(buf)) > 0);
	REQUIRE(intake_sync_payload_parse(buf, &back) == 0);
	CHECK_STR(back.code, "419");
	CHECK(back.verify_score < 0 && back.liveness_score == 12.5 && back.quality_score == 0);
	CHECK_STR(back.message, "No face | here.");
	CHECK_INT(
		intake_sync_payload_parse("0123456789abcdef0123456789abcdef|200|2|200||||x", &back),
		-EINVAL);
	CHECK_INT(intake_sync_payload_parse("XYZ|200|1|200||||x", &back), -EINVAL);
	CHECK_INT(
		intake_sync_payload_parse("0123456789abcdef0123456789abcdef|201|1|200||||", &back),
		-EINVAL);
	CHECK_INT(intake_sync_payload_parse("0123456789abcdef0123456789abcdef|200|1|200|nan|||",
					    &back),
		  -EINVAL);
	CHECK_INT(intake_sync_payload_format(&r, buf, 10), -ENOSPC);
}

static void test_form(void)
{
	char b[INTAKE_FORM_BOUNDARY_MAX + 1];
	CHECK_INT(intake_form_boundary("multipart/form-data; boundary=abc", b), 0);
	CHECK_STR(b, "abc");
	CHECK_INT(intake_form_boundary("Multipart/Form-Data;charset=utf-8; boundary=\"a b\"", b),
		  0);
	CHECK_STR(b, "a b");
	CHECK_INT(intake_form_boundary("multipart/form-data", b), -EINVAL);
	CHECK_INT(intake_form_boundary("multipart/form-data; boundary=", b), -EINVAL);
	CHECK_INT(intake_form_boundary("text/plain; boundary=x", b), -EINVAL);
	CHECK_INT(intake_form_boundary("multipart/form-data; boundary=a{b", b), -EINVAL);
	CHECK_INT(intake_form_boundary(NULL, b), -EINVAL);

	static const char body[] = "--XX\r\nContent-Disposition: form-data; name=\"frame\"; "
				   "filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
				   "AB\r\nC\r\n--XX\r\nContent-Disposition: form-data; "
				   "name=\"timestamps\"\r\n\r\n0,5\r\n--XX--\r\n";
	struct intake_form_part parts[4];
	const char *why;
	int n = intake_form_parse((const uint8_t *)body, sizeof(body) - 1, "XX", parts, 4, &why);
	REQUIRE(n == 2);
	CHECK_STR(parts[0].name, "frame");
	CHECK(parts[0].has_filename && parts[0].len == 5 &&
	      memcmp(parts[0].data, "AB\r\nC", 5) == 0);
	CHECK_STR(parts[1].name, "timestamps");
	CHECK(!parts[1].has_filename && parts[1].len == 3);
	CHECK_INT(intake_form_parse((const uint8_t *)body, sizeof(body) - 1, "XX", parts, 1, &why),
		  -E2BIG);
	CHECK_INT(intake_form_parse((const uint8_t *)body, sizeof(body) - 10, "XX", parts, 4, &why),
		  -EINVAL);
	static const char noname[] = "--XX\r\nContent-Disposition: form-data\r\n\r\nA\r\n--XX--";
	CHECK_INT(intake_form_parse((const uint8_t *)noname, sizeof(noname) - 1, "XX", parts, 4,
				    &why),
		  -EINVAL);
	static const char nohdr[] = "--XX\r\n\r\nA\r\n--XX--";
	CHECK_INT(
		intake_form_parse((const uint8_t *)nohdr, sizeof(nohdr) - 1, "XX", parts, 4, &why),
		-EINVAL);
	static const char empty[] = "--XX--\r\n";
	CHECK_INT(
		intake_form_parse((const uint8_t *)empty, sizeof(empty) - 1, "XX", parts, 4, &why),
		0);
	CHECK_INT(intake_form_parse((const uint8_t *)"junk", 4, "XX", parts, 4, &why), -EINVAL);
}

static void test_complete(void)
{
	static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9};
	static const uint8_t png[] = "\x89PNG\r\n\x1a\n....\0\0\0\0IEND\xae\x42\x60\x82";
	CHECK(intake_sync_image_complete(jpeg, sizeof(jpeg), INTAKE_IMAGE_JPEG));
	CHECK(!intake_sync_image_complete(jpeg, sizeof(jpeg) - 1, INTAKE_IMAGE_JPEG));
	CHECK(intake_sync_image_complete(png, sizeof(png) - 1, INTAKE_IMAGE_PNG));
	CHECK(!intake_sync_image_complete(png, sizeof(png) - 6, INTAKE_IMAGE_PNG));
	CHECK(!intake_sync_image_complete(png, 0, INTAKE_IMAGE_PNG));
}

UNIT_MAIN("intake_sync", UNIT_CASE(test_complete), UNIT_CASE(test_valid_codes),
	  UNIT_CASE(test_fingerprint), UNIT_CASE(test_payload), UNIT_CASE(test_form))
