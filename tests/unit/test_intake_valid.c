/* Unit tests for intake_valid: the required-field and enum checks of InitFaceVerify,
 * DescribeFaceVerify, DeleteFaceVerifyResult and DescribePageFaceVerifyData (their Codes),
 * the ID card rules (GB 11643 check character, birth date, age), the JSON syntax check, and
 * the idempotency fingerprint. */
#include "intake/intake_json.h"
#include "intake/intake_valid.h"

#include "unit.h"

/* 2026-11-28T12:00:00Z */
#define NOW ((time_t)1795867200)

#define BASE                                                                                   \
	"SceneId=1000001&OuterOrderNo=e0c34a77f5ac40a5aa5e6ed20c353888&ProductCode=ID_PRO&"    \
	"CertName=%E5%BC%A0%E4%B8%89&CertNo=330103199001011230&MetaInfo=%7B%22zimVer%22%3A%22" \
	"3.0.0%22%7D"

static int parse(struct intake_params *p, const char *query, const char *body)
{
	*p = (struct intake_params){0};
	return intake_params_parse(p, query, strlen(query), body, body ? strlen(body) : 0, NULL,
				   NULL);
}

/* Runs InitFaceVerify validation on BASE + extra; returns the Code ("ok" when valid). */
static const char *init_code(const char *extra, struct intake_biz *b)
{
	static char code[8];
	char q[4096];
	struct intake_params p;
	struct intake_init_req r;
	snprintf(q, sizeof(q), "%s%s", BASE, extra);
	if (parse(&p, q, NULL) < 0)
		return "parse";
	struct intake_valid_opts o = {0};
	int rc = intake_valid_init(&p, NOW, &o, &r, b);
	snprintf(code, sizeof(code), "%s", rc == 0 ? "ok" : b->code);
	intake_params_done(&p);
	return code;
}

static void test_id_card(void)
{
	int ymd;
	const char *why;
	CHECK_INT(intake_valid_id_card("330103199001011230", NOW, &ymd, &why), 0);
	CHECK_INT(ymd, 19900101);
	CHECK_INT(intake_valid_id_card("11010519491231002X", NOW, &ymd, &why), 0);
	CHECK_INT(intake_valid_id_card("11010519491231002x", NOW, &ymd, &why), -EINVAL);
	CHECK(strstr(why, "upper-case") != NULL);
	CHECK_INT(intake_valid_id_card("330103199001011234", NOW, &ymd, &why), -EINVAL);
	CHECK(strstr(why, "check character") != NULL);
	CHECK_INT(intake_valid_id_card("33010319900101123", NOW, &ymd, &why), -EINVAL);
	CHECK_INT(intake_valid_id_card("3301031990010112300", NOW, &ymd, &why), -EINVAL);
	CHECK_INT(intake_valid_id_card("3301A3199001011230", NOW, &ymd, &why), -EINVAL);
	/* 1990-02-30 does not exist; 2030 is in the future (check characters are right) */
	CHECK_INT(intake_valid_id_card("33010319900230123X", NOW, &ymd, &why), -EINVAL);
	CHECK(strstr(why, "birth date") != NULL);
	CHECK_INT(intake_valid_id_card("33010320300101123X", NOW, &ymd, &why), -EINVAL);
	CHECK(strstr(why, "birth date") != NULL);
}

static void test_age(void)
{
	CHECK_INT(intake_valid_age(19900101, NOW), 36);
	CHECK_INT(intake_valid_age(20121128, NOW), 14); /* birthday today */
	CHECK_INT(intake_valid_age(20121129, NOW), 13);
	CHECK_INT(intake_valid_age(20000229, NOW), 26);
}

static void test_json(void)
{
	static const char *const good_obj[] = {"{}", " {\"a\":1} ", "{\"a\":[1,2.5e-3,true,null]}",
					       "{\"k\":\"\\u00e9\\n\"}", "{\"a\":{\"b\":{}}}"};
	static const char *const bad[] = {"",	    "{",	  "{\"a\"}",	 "{\"a\":1,}",
					  "{a:1}",  "{\"a\":01}", "{\"a\":1} x", "{\"a\":\"\\x\"}",
					  "[1] {}", "{\"a\":-}",  "{\"a\":1.}",	 "{\"a\":tru}"};
	for (size_t i = 0; i < sizeof(good_obj) / sizeof(good_obj[0]); i++)
		CHECK(intake_json_valid(good_obj[i], strlen(good_obj[i]), '{'));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!intake_json_valid(bad[i], strlen(bad[i]), '{'));
	CHECK(intake_json_valid("[\"a\",\"b\"]", 9, '['));
	CHECK(!intake_json_valid("{}", 2, '['));
	char deep[81] = "";
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	CHECK(!intake_json_valid(deep, strlen(deep), '[')); /* deeper than 32 */
}

static void test_small_rules(void)
{
	long d;
	CHECK(intake_valid_date("2024-02-29", &d));
	CHECK_INT(d, 19782);
	CHECK(!intake_valid_date("2023-02-29", NULL));
	CHECK(!intake_valid_date("2024-2-29", NULL));
	CHECK(!intake_valid_date("2024-13-01", NULL));
	CHECK(intake_valid_http_url("https://a.example/cb?x=1", 1024, false));
	CHECK(!intake_valid_http_url("http://a.example/cb", 1024, false));
	CHECK(intake_valid_http_url("http://a.example/cb", 1024, true));
	CHECK(!intake_valid_http_url("https:///x", 1024, true));
	CHECK(!intake_valid_http_url("https://u:p@a.example/", 1024, true));
	CHECK(!intake_valid_http_url("https://a.example/ x", 1024, true));
	CHECK(!intake_valid_http_url("ftp://a.example/", 1024, true));
	int64_t v;
	CHECK(intake_valid_pos_int("1000001", &v) && v == 1000001);
	CHECK(!intake_valid_pos_int("0", NULL) && !intake_valid_pos_int("01", NULL));
	CHECK(!intake_valid_pos_int("-1", NULL) && !intake_valid_pos_int("1e3", NULL));
	CHECK(!intake_valid_pos_int("1234567890123456789", NULL));
	CHECK(intake_valid_enum("H5", "WEB|H5") && !intake_valid_enum("h5", "WEB|H5"));
	CHECK(!intake_valid_enum("WE", "WEB|H5") && !intake_valid_enum("", "WEB|H5"));
	CHECK(intake_valid_certify_id("0123456789abcdef0123456789abcdef"));
	CHECK(!intake_valid_certify_id("0123456789ABCDEF0123456789abcdef"));
	CHECK_INT(intake_valid_product_value("ID_PRO"), 1);
	CHECK_INT(intake_valid_product_value("PV_FC"), 8);
	CHECK_INT(intake_valid_product_value("nope"), 0);
}

static void test_init_table(void)
{
	static const struct {
		const char *extra, *code, *mention;
	} rows[] = {
		{"", "ok", NULL},
		{"&Model=MOVE_ACTION&CertifyUrlType=WEB&CertifyUrlStyle=L&Crop=T", "ok", NULL},
		{"&Ip=114.1.2.3&Mobile=%2B8613000000000&UserId=u%201&ReturnUrl=myapp%3A%2F%2Fdone",
		 "ok", NULL},
		{"&CallbackUrl=https%3A%2F%2Fwww.example.com%2Fcb&CallbackToken=tok-123", "ok",
		 NULL},
		{"&Model=BLINK", "401", "Model"},
		{"&CertType=DRIVING", "401", "CertType"},
		{"&CertifyUrlType=APP", "401", "CertifyUrlType"},
		{"&Crop=Y", "401", "Crop"},
		{"&ProcedurePriority=URL", "401", "ProcedurePriority"},
		{"&SuitableType=3", "401", "SuitableType"},
		{"&VideoEvidence=yes", "401", "VideoEvidence"},
		{"&EncryptType=SM2", "401", "SM2"},
		{"&Ip=1.2.3.999", "401", "Ip"},
		{"&Mobile=12ab", "401", "Mobile"},
		{"&CallbackUrl=http%3A%2F%2Fwww.example.com%2Fcb", "401", "CallbackUrl"},
		{"&ReturnUrl=not%20a%20url", "401", "ReturnUrl"},
		{"&Mode=3&Birthday=1990-01-01", "400", "ValidityDate"},
		{"&Mode=3&Birthday=1990-01-01&ValidityDate=2030-01-01", "ok", NULL},
		{"&Birthday=1990-1-1", "401", "Birthday"},
		{"&VoluntaryCustomizedContent=%7B%7D", "401", "VoluntaryCustomizedContent"},
		{"&FaceContrastPictureUrl=https%3A%2F%2Fa.example%2Fp.jpg&FaceContrastPicture=AAAA",
		 "420", "one of"},
		{"&CertifyId=0123456789abcdef0123456789abcdef&FaceContrastPicture=AAAA", "420",
		 NULL},
		{"&OssBucketName=b&OssObjectName=o", "410", "OSS"},
		{"&OssBucketName=b", "400", "OssObjectName"},
		{"&CertifyId=xyz", "401", "CertifyId"},
		{"&FaceContrastPictureUrl=ftp%3A%2F%2Fa%2Fb", "401", "FaceContrastPictureUrl"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct intake_biz b = {0};
		const char *code = init_code(rows[i].extra, &b);
		if (strcmp(code, rows[i].code) != 0)
			fprintf(stderr, "  row %zu (%s): %s %s\n", i, rows[i].extra, code,
				b.message);
		CHECK_STR(code, rows[i].code);
		if (rows[i].mention)
			CHECK(strstr(b.message, rows[i].mention) != NULL);
	}
}

static void test_init_required(void)
{
	static const struct {
		const char *q, *missing;
	} rows[] = {
		{"OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D", "SceneId"},
		{"SceneId=1&ProductCode=ID_PRO&MetaInfo=%7B%7D", "OuterOrderNo"},
		{"SceneId=1&OuterOrderNo=a&MetaInfo=%7B%7D", "ProductCode"},
		{"SceneId=1&OuterOrderNo=a&ProductCode=ID_PRO", "MetaInfo"},
		{"SceneId=1&OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D&CertNo=x",
		 "CertName"},
		{"SceneId=1&OuterOrderNo=a&ProductCode=ID_PLUS&MetaInfo=%7B%7D&CertName=a",
		 "CertNo"},
		{"SceneId=1&OuterOrderNo=a&ProductCode=LR_FR&MetaInfo=%7B%7D", "UserId"},
		{"SceneId=1&OuterOrderNo=a&ProductCode=PV_FV&MetaInfo=%7B%7D&UserId=u",
		 "reference"},
		{"SceneId=&OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D", "SceneId"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct intake_params p;
		struct intake_init_req r;
		struct intake_biz b = {0};
		REQUIRE(parse(&p, rows[i].q, NULL) == 0);
		CHECK_INT(intake_valid_init(&p, NOW, NULL, &r, &b), -EINVAL);
		CHECK_STR(b.code, "400");
		CHECK(strstr(b.message, rows[i].missing) != NULL);
		intake_params_done(&p);
	}
	/* Formats of the required fields: Code 401. */
	static const char *const bad[] = {
		"SceneId=abc&OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D",
		"SceneId=1&OuterOrderNo=a%20b&ProductCode=ID_PRO&MetaInfo=%7B%7D",
		"SceneId=1&OuterOrderNo="
		"0123456789012345678901234567890123"
		"&ProductCode=ID_PRO"
		"&MetaInfo=%7B%7D",
		"SceneId=1&OuterOrderNo=a&ProductCode=ID_MIN&MetaInfo=%7B%7D",
		"SceneId=1&OuterOrderNo=a&ProductCode=LR_FR&UserId=u&MetaInfo=not-json",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct intake_params p;
		struct intake_init_req r;
		struct intake_biz b = {0};
		REQUIRE(parse(&p, bad[i], NULL) == 0);
		CHECK_INT(intake_valid_init(&p, NOW, NULL, &r, &b), -EINVAL);
		CHECK_STR(b.code, "401");
		intake_params_done(&p);
	}
}

static void test_init_cert_rules(void)
{
	struct intake_biz b;
	struct intake_params p;
	struct intake_init_req r;
	/* 13 years old tomorrow-born (2012-11-29): 405; 14 today (2012-11-28): fine. */
	REQUIRE(parse(&p,
		      "SceneId=1&OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D&CertName=a&"
		      "CertNo=330103201211291234",
		      NULL) == 0);
	CHECK_INT(intake_valid_init(&p, NOW, NULL, &r, &b), -EINVAL);
	CHECK_STR(b.code, "405");
	intake_params_done(&p);
	REQUIRE(parse(&p,
		      "SceneId=1&OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D&CertName=a&"
		      "CertNo=330103201211281239",
		      NULL) == 0);
	CHECK_INT(intake_valid_init(&p, NOW, NULL, &r, &b), 0);
	intake_params_done(&p);
	CHECK_STR(init_code("", &b), "ok");
	REQUIRE(parse(&p,
		      "SceneId=1&OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D&CertName=A1&"
		      "CertNo=330103199001011230",
		      NULL) == 0);
	CHECK_INT(intake_valid_init(&p, NOW, NULL, &r, &b), -EINVAL);
	CHECK(strstr(b.message, "CertName") != NULL);
	intake_params_done(&p);
	REQUIRE(parse(&p,
		      "SceneId=1&OuterOrderNo=a&ProductCode=ID_PRO&MetaInfo=%7B%7D&CertName=A&"
		      "CertType=PASSPORT&CertNo=E12345678",
		      NULL) == 0);
	CHECK_INT(intake_valid_init(&p, NOW, NULL, &r, &b), 0);
	CHECK(r.needs_authority);
	CHECK_STR(r.cert_type, "PASSPORT");
	intake_params_done(&p);
}

static void test_fingerprint(void)
{
	uint8_t key[32] = {1}, a[32], b[32], c[32];
	struct intake_params p;
	/* The same fields through query, body, another order, extra signature and unknown
	 * parameters: one fingerprint. */
	REQUIRE(parse(&p, BASE "&CertifyUrlType=H5", NULL) == 0);
	REQUIRE(intake_valid_init_fingerprint(&p, key, a) == 0);
	intake_params_done(&p);
	REQUIRE(parse(&p, "CertifyUrlType=H5&Signature=abc&Timestamp=2026-01-01T00:00:00Z&Foo=bar",
		      BASE) == 0);
	REQUIRE(intake_valid_init_fingerprint(&p, key, b) == 0);
	intake_params_done(&p);
	CHECK(memcmp(a, b, 32) == 0);
	/* Another name: another fingerprint; another key: another fingerprint. */
	REQUIRE(parse(&p, BASE "&CertifyUrlType=WEB", NULL) == 0);
	REQUIRE(intake_valid_init_fingerprint(&p, key, c) == 0);
	CHECK(memcmp(a, c, 32) != 0);
	key[0] = 2;
	REQUIRE(intake_valid_init_fingerprint(&p, key, b) == 0);
	CHECK(memcmp(c, b, 32) != 0);
	intake_params_done(&p);
	/* A field moved into another field's value is not the same request. */
	key[0] = 1;
	REQUIRE(parse(&p, BASE "&UserId=ab", NULL) == 0);
	REQUIRE(intake_valid_init_fingerprint(&p, key, a) == 0);
	intake_params_done(&p);
	REQUIRE(parse(&p, BASE "&UserId=a&AuthId=b", NULL) == 0);
	REQUIRE(intake_valid_init_fingerprint(&p, key, b) == 0);
	intake_params_done(&p);
	CHECK(memcmp(a, b, 32) != 0);
	/* The picture counts. */
	REQUIRE(parse(&p, BASE, "FaceContrastPicture=AAAA") == 0);
	REQUIRE(intake_valid_init_fingerprint(&p, key, a) == 0);
	intake_params_done(&p);
	REQUIRE(parse(&p, BASE, "FaceContrastPicture=AAAB") == 0);
	REQUIRE(intake_valid_init_fingerprint(&p, key, b) == 0);
	intake_params_done(&p);
	CHECK(memcmp(a, b, 32) != 0);
}

static void test_other_actions(void)
{
	struct intake_params p;
	struct intake_biz b;
	struct intake_describe_req d;
	REQUIRE(parse(&p, "SceneId=1000001&CertifyId=0123456789abcdef0123456789abcdef", NULL) == 0);
	CHECK_INT(intake_valid_describe(&p, &d, &b), 0);
	CHECK(d.want_picture);
	intake_params_done(&p);
	REQUIRE(parse(&p,
		      "SceneId=1&CertifyId=0123456789abcdef0123456789abcdef&"
		      "PictureReturnType=URL",
		      NULL) == 0);
	CHECK_INT(intake_valid_describe(&p, &d, &b), 0);
	CHECK(!d.want_picture);
	intake_params_done(&p);
	static const struct {
		const char *q, *code;
	} rows[] = {
		{"CertifyId=0123456789abcdef0123456789abcdef", "400"},
		{"SceneId=1", "400"},
		{"SceneId=x&CertifyId=0123456789abcdef0123456789abcdef", "401"},
		{"SceneId=1&CertifyId=short", "406"},
		{"SceneId=1&CertifyId=0123456789abcdef0123456789abcdef&PictureReturnType=GIF",
		 "401"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		REQUIRE(parse(&p, rows[i].q, NULL) == 0);
		CHECK_INT(intake_valid_describe(&p, &d, &b), -EINVAL);
		CHECK_STR(b.code, rows[i].code);
		intake_params_done(&p);
	}

	struct intake_delete_req del;
	REQUIRE(parse(&p, "CertifyId=0123456789abcdef0123456789abcdef&DeleteAfterQuery=Y", NULL) ==
		0);
	CHECK_INT(intake_valid_delete(&p, &del, &b), 0);
	CHECK(del.after_query);
	intake_params_done(&p);
	REQUIRE(parse(&p, "CertifyId=0123456789abcdef0123456789abcdef&DeleteAfterQuery=y", NULL) ==
		0);
	CHECK_INT(intake_valid_delete(&p, &del, &b), -EINVAL);
	CHECK_STR(b.code, "401");
	intake_params_done(&p);
	REQUIRE(parse(&p, "DeleteAfterQuery=N", NULL) == 0);
	CHECK_INT(intake_valid_delete(&p, &del, &b), -EINVAL);
	CHECK_STR(b.code, "400");
	intake_params_done(&p);

	struct intake_page_req pg;
	REQUIRE(parse(&p, "StartDate=2024-01-01&EndDate=2024-03-30", NULL) == 0);
	CHECK_INT(intake_valid_page(&p, &pg, &b), 0);
	CHECK_INT(pg.page_size, 10);
	CHECK_INT(pg.current_page, 1);
	CHECK_INT(pg.scene_id, 0);
	CHECK(pg.product_code == NULL);
	intake_params_done(&p);
	static const struct {
		const char *q, *code;
	} prow[] = {
		{"EndDate=2024-01-01", "400"},
		{"StartDate=2024-01-01", "400"},
		{"StartDate=2024-01-01&EndDate=2024-03-31", "401"}, /* 91 days */
		{"StartDate=2024-01-02&EndDate=2024-01-01", "401"},
		{"StartDate=2024/01/01&EndDate=2024-01-01", "401"},
		{"StartDate=2024-01-01&EndDate=2024-01-01&PageSize=101", "401"},
		{"StartDate=2024-01-01&EndDate=2024-01-01&CurrentPage=0", "401"},
		{"StartDate=2024-01-01&EndDate=2024-01-01&ProductCode=XX", "401"},
		{"StartDate=2024-01-01&EndDate=2024-01-01&SceneId=-3", "401"},
	};
	for (size_t i = 0; i < sizeof(prow) / sizeof(prow[0]); i++) {
		REQUIRE(parse(&p, prow[i].q, NULL) == 0);
		CHECK_INT(intake_valid_page(&p, &pg, &b), -EINVAL);
		CHECK_STR(b.code, prow[i].code);
		intake_params_done(&p);
	}
}

UNIT_MAIN("intake_valid", UNIT_CASE(test_id_card), UNIT_CASE(test_age), UNIT_CASE(test_json),
	  UNIT_CASE(test_small_rules), UNIT_CASE(test_init_table), UNIT_CASE(test_init_required),
	  UNIT_CASE(test_init_cert_rules), UNIT_CASE(test_fingerprint),
	  UNIT_CASE(test_other_actions))
