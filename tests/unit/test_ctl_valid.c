/* Unit tests for ctl/ctl_valid: names, AccessKeyIds, product/model pairs, callback URLs and
 * SDK endpoints as shirenctl accepts them. */
#include "ctl/ctl_valid.h"

#include <errno.h>

#include "unit.h"

static void test_tenant_names(void)
{
	CHECK(ctl_valid_tenant_name("acme"));
	CHECK(ctl_valid_tenant_name("a"));
	CHECK(ctl_valid_tenant_name("Acme-Corp_1.prod"));
	CHECK(ctl_valid_tenant_name(
		"0123456789012345678901234567890123456789012345678901234567890123"));
	CHECK(!ctl_valid_tenant_name(
		"01234567890123456789012345678901234567890123456789012345678901234"));
	CHECK(!ctl_valid_tenant_name(""));
	CHECK(!ctl_valid_tenant_name("-acme"));
	CHECK(!ctl_valid_tenant_name(".acme"));
	CHECK(!ctl_valid_tenant_name("ac me"));
	CHECK(!ctl_valid_tenant_name("acme'; DROP TABLE tenants;--"));
	CHECK(!ctl_valid_tenant_name("\xe5\xae\x9e"));
	/* UUID-shaped names would be ambiguous with tenant ids. */
	CHECK(!ctl_valid_tenant_name("7bee63d9-5523-4094-a2ca-394c1d80ee53"));
	CHECK(ctl_looks_like_uuid("7BEE63D9-5523-4094-A2CA-394C1D80EE53"));
	CHECK(!ctl_looks_like_uuid("7bee63d9-5523-4094-a2ca-394c1d80ee5"));
	CHECK(!ctl_looks_like_uuid("7bee63d9x5523-4094-a2ca-394c1d80ee53"));
	CHECK(!ctl_looks_like_uuid("7bee63d9-5523-4094-a2ca-394c1d80ee5g"));
}

static void test_key_ids(void)
{
	CHECK(ctl_valid_key_id("LTAIabcdefghij0123456789"));
	CHECK(ctl_valid_key_id("LTAI5tABCDEFGHIJKLMNOPQR"));
	CHECK(!ctl_valid_key_id("LTAIabcdefghij012345678"));   /* 23 */
	CHECK(!ctl_valid_key_id("LTAIabcdefghij01234567890")); /* 25 */
	CHECK(!ctl_valid_key_id("LTAXabcdefghij0123456789"));
	CHECK(!ctl_valid_key_id("ltaiabcdefghij0123456789"));
	CHECK(!ctl_valid_key_id("LTAIabcdefghij012345678_"));
	CHECK(!ctl_valid_key_id(""));
}

static void test_scene_names(void)
{
	CHECK(ctl_valid_scene_name("login"));
	CHECK(ctl_valid_scene_name(
		"\xe7\x99\xbb\xe5\xbd\x95 \xe5\x9c\xba\xe6\x99\xaf")); /* 登录 场景 */
	CHECK(!ctl_valid_scene_name(""));
	CHECK(!ctl_valid_scene_name("a\tb"));
	CHECK(!ctl_valid_scene_name("a\nb"));
	CHECK(!ctl_valid_scene_name("a\x7f"));
	CHECK(!ctl_valid_scene_name("\xff"));
	CHECK(!ctl_valid_scene_name("\xc0\x80"));     /* overlong NUL */
	CHECK(!ctl_valid_scene_name("\xed\xa0\x80")); /* surrogate */
	CHECK(!ctl_valid_scene_name("\xe5\xae"));     /* truncated */
	CHECK(!ctl_valid_scene_name("\xc2\x85"));     /* C1 control NEL */
	char s64[3 * 64 + 1], s65[3 * 65 + 1];
	for (int i = 0; i < 65; i++)
		memcpy(s65 + 3 * i, "\xe5\xae\x9e", 3);
	s65[3 * 65] = '\0';
	memcpy(s64, s65, 3 * 64);
	s64[3 * 64] = '\0';
	CHECK(ctl_valid_scene_name(s64)); /* 64 characters, 192 bytes */
	CHECK(!ctl_valid_scene_name(s65));
}

static void test_oss_target(void)
{
	CHECK(ctl_valid_oss_target("archive"));
	CHECK(ctl_valid_oss_target("minio-eu.1"));
	CHECK(!ctl_valid_oss_target(""));
	CHECK(!ctl_valid_oss_target("_x"));
	CHECK(!ctl_valid_oss_target("a/b"));
}

static void test_product_model(void)
{
	char err[256];
	static const char *const capture[] = {"ID_PRO", "ID_PLUS", "PV_FV", "LR_FR", "MFVC"};
	static const char *const models[] = {"LIVENESS",    "PHOTINUS_LIVENESS", "MULTI_ACTION",
					     "MOVE_ACTION", "MOVE_PHOTINUS",	 "MULTI_FAPTCHA"};
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 6; j++)
			CHECK_INT(ctl_check_product_model(capture[i], models[j], err, sizeof(err)),
				  0);
	CHECK_INT(ctl_check_product_model("ID_MIN", "FRONT_CAMERA_LIVENESS", err, sizeof(err)), 0);
	CHECK_INT(ctl_check_product_model("LR_FR_MIN", "FRONT_CAMERA_LIVENESS", err, sizeof(err)),
		  0);
	CHECK_INT(ctl_check_product_model("PV_FC", "FRONT_CAMERA_LIVENESS", err, sizeof(err)), 0);

	CHECK_INT(ctl_check_product_model("ID_MIN", "LIVENESS", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "server-side") != NULL);
	CHECK_INT(ctl_check_product_model("ID_PRO", "FRONT_CAMERA_LIVENESS", err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(ctl_check_product_model("id_pro", "LIVENESS", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown product code 'id_pro'") != NULL);
	CHECK_INT(ctl_check_product_model("ID_PRO", "BLINK", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown model 'BLINK'") != NULL);
	CHECK(ctl_valid_product("LR_FR_MIN"));
	CHECK(!ctl_valid_product("LR_FR_AIGC"));
	CHECK(ctl_valid_model("MULTI_FAPTCHA"));
	CHECK(!ctl_valid_model(""));
}

static void test_urls(void)
{
	char err[256];
	CHECK_INT(ctl_check_url("https://cb.example.com/hook?x=1&y=2#f", err, sizeof(err)), 0);
	CHECK_INT(ctl_check_url("http://127.0.0.1:8080", err, sizeof(err)), 0);
	CHECK_INT(ctl_check_url("http://[::1]:9000/cb", err, sizeof(err)), 0);
	CHECK_INT(ctl_check_url("https://cb.example.com:443/", err, sizeof(err)), 0);
	CHECK_INT(ctl_check_url("ftp://cb.example.com/", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("cb.example.com/hook", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https://", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https:///path", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https://cb.example.com:0/", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https://cb.example.com:65536/", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https://cb.example.com:8x/", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https://user:pw@cb.example.com/", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "user info") != NULL);
	CHECK_INT(ctl_check_url("https://cb.example.com/a b", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https://cb.example.com/\xe5\xae\x9e", err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_check_url("https://cb_example.com/", err, sizeof(err)), -EINVAL);
	char longurl[1100];
	memset(longurl, 'a', sizeof(longurl) - 1);
	memcpy(longurl, "https://x.io/", 13);
	longurl[sizeof(longurl) - 1] = '\0';
	CHECK_INT(ctl_check_url(longurl, err, sizeof(err)), -EINVAL);
	longurl[1024] = '\0';
	CHECK_INT(ctl_check_url(longurl, err, sizeof(err)), 0);
}

static void test_endpoints(void)
{
	struct ctl_endpoint ep;
	CHECK_INT(ctl_parse_endpoint("127.0.0.1:8900", &ep), 0);
	CHECK_STR(ep.hostport, "127.0.0.1:8900");
	CHECK(!ep.https);
	CHECK_INT(ctl_parse_endpoint("https://api.example.com", &ep), 0);
	CHECK_STR(ep.hostport, "api.example.com");
	CHECK(ep.https);
	CHECK_INT(ctl_parse_endpoint("http://api.example.com:8080/", &ep), 0);
	CHECK_STR(ep.hostport, "api.example.com:8080");
	CHECK(!ep.https);
	CHECK_INT(ctl_parse_endpoint("[::1]:8900", &ep), 0);
	CHECK_STR(ep.hostport, "[::1]:8900");
	/* Without a scheme the port is required; nothing may follow the authority. */
	CHECK_INT(ctl_parse_endpoint("api.example.com", &ep), -EINVAL);
	CHECK_INT(ctl_parse_endpoint("api.example.com:99999", &ep), -EINVAL);
	CHECK_INT(ctl_parse_endpoint("http://api.example.com/v1", &ep), -EINVAL);
	CHECK_INT(ctl_parse_endpoint("api'.example.com:80", &ep), -EINVAL);
	CHECK_INT(ctl_parse_endpoint("", &ep), -EINVAL);
	CHECK_INT(ctl_parse_endpoint(":80", &ep), -EINVAL);
}

UNIT_MAIN("ctl_valid", UNIT_CASE(test_tenant_names), UNIT_CASE(test_key_ids),
	  UNIT_CASE(test_scene_names), UNIT_CASE(test_oss_target), UNIT_CASE(test_product_model),
	  UNIT_CASE(test_urls), UNIT_CASE(test_endpoints))
