/* Unit tests for common/cfg: types, bounds, defaults, required, secrets via _FILE. */
#include "common/cfg.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

struct tcfg {
	char *name;
	int64_t n;
	bool flag;
	char *addr;
	char *mode;
	char *secret;
};

static const struct cfg_item items[] = {
	{"T_NAME", CFG_STR, "dflt", 0, 0, false, false, NULL, offsetof(struct tcfg, name), "n"},
	{"T_N", CFG_INT, "5", 1, 10, false, false, NULL, offsetof(struct tcfg, n), "n"},
	{"T_FLAG", CFG_BOOL, "false", 0, 0, false, false, NULL, offsetof(struct tcfg, flag), "f"},
	{"T_ADDR", CFG_ADDR, "127.0.0.1:80", 0, 0, false, false, NULL, offsetof(struct tcfg, addr),
	 "a"},
	{"T_MODE", CFG_ENUM, "a", 0, 0, false, false, "a|bb|c", offsetof(struct tcfg, mode), "m"},
	{"T_SECRET", CFG_STR, NULL, 0, 0, true, true, NULL, offsetof(struct tcfg, secret), "s"},
};
#define N (sizeof(items) / sizeof(items[0]))

static void clear_env(void)
{
	const char *names[] = {"T_NAME", "T_N",	     "T_FLAG",	     "T_ADDR",
			       "T_MODE", "T_SECRET", "T_SECRET_FILE"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unsetenv(names[i]);
}

static int load(struct tcfg *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	int rc = cfg_load(items, N, c, err, errlen);
	return rc;
}

static void test_defaults_and_values(void)
{
	clear_env();
	setenv("T_SECRET", "s3cret", 1);
	struct tcfg c;
	char err[256];
	REQUIRE(load(&c, err, sizeof(err)) == 0);
	CHECK_STR(c.name, "dflt");
	CHECK_INT(c.n, 5);
	CHECK(!c.flag);
	CHECK_STR(c.addr, "127.0.0.1:80");
	CHECK_STR(c.mode, "a");
	CHECK_STR(c.secret, "s3cret");
	cfg_free(items, N, &c);

	setenv("T_N", "10", 1);
	setenv("T_FLAG", "yes", 1);
	setenv("T_MODE", "bb", 1);
	setenv("T_ADDR", "[::1]:9000", 1);
	REQUIRE(load(&c, err, sizeof(err)) == 0);
	CHECK_INT(c.n, 10);
	CHECK(c.flag);
	CHECK_STR(c.mode, "bb");
	cfg_free(items, N, &c);
	CHECK(c.name == NULL && c.secret == NULL);
}

static void test_bad_values(void)
{
	const struct {
		const char *k, *v, *needle;
	} bad[] = {
		{"T_N", "11", "out of range"},
		{"T_N", "0", "out of range"},
		{"T_N", "5x", "not an integer"},
		{"T_N", "99999999999999999999", "not an integer"},
		{"T_FLAG", "maybe", "not a boolean"},
		{"T_ADDR", "nohost", "not host:port"},
		{"T_ADDR", "h:0", "not host:port"},
		{"T_ADDR", "h:65536", "not host:port"},
		{"T_MODE", "b", "not one of a|bb|c"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clear_env();
		setenv("T_SECRET", "x", 1);
		setenv(bad[i].k, bad[i].v, 1);
		struct tcfg c;
		char err[256] = "";
		CHECK(load(&c, err, sizeof(err)) == -EINVAL);
		CHECK(strstr(err, bad[i].k) != NULL);
		CHECK(strstr(err, bad[i].needle) != NULL);
		cfg_free(items, N, &c);
	}
}

static void test_required_and_secret_file(void)
{
	clear_env();
	struct tcfg c;
	char err[256] = "";
	CHECK(load(&c, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "T_SECRET is required") != NULL);
	cfg_free(items, N, &c);

	char path[] = "/tmp/cfgtestXXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "from-file\n", 10) == 10);
	close(fd);
	setenv("T_SECRET_FILE", path, 1);
	REQUIRE(load(&c, err, sizeof(err)) == 0);
	CHECK_STR(c.secret, "from-file");
	cfg_free(items, N, &c);

	setenv("T_SECRET", "also", 1);
	CHECK(load(&c, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "both set") != NULL);
	cfg_free(items, N, &c);
	unsetenv("T_SECRET");
	unlink(path);
	CHECK(load(&c, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "cannot open") != NULL);
	cfg_free(items, N, &c);
}

static void test_split_addr(void)
{
	char host[16];
	int port;
	CHECK(cfg_split_addr("localhost:8080", host, sizeof(host), &port) == 0);
	CHECK_STR(host, "localhost");
	CHECK_INT(port, 8080);
	CHECK(cfg_split_addr("[::1]:1", host, sizeof(host), &port) == 0);
	CHECK_STR(host, "::1");
	CHECK(cfg_split_addr("a-very-long-host-name:1", host, sizeof(host), &port) == -EINVAL);
	CHECK(cfg_split_addr(":80", host, sizeof(host), &port) == -EINVAL);
}

UNIT_MAIN("cfg", UNIT_CASE(test_defaults_and_values), UNIT_CASE(test_bad_values),
	  UNIT_CASE(test_required_and_secret_file), UNIT_CASE(test_split_addr))
