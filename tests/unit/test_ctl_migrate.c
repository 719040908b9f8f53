/* Unit tests for common/migrate's file side (names, directory scan, numbering rules), which
 * shirenctl migrate relies on. Uses a private temporary directory; no database. */
#include "common/migrate.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

static void test_parse_name(void)
{
	int v = -1;
	CHECK_INT(migrate_parse_name("001_core.sql", &v), 0);
	CHECK_INT(v, 1);
	CHECK_INT(migrate_parse_name("042_outbox_v2.sql", &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(migrate_parse_name("1000_big.sql", &v), 0);
	CHECK_INT(v, 1000);
	CHECK_INT(migrate_parse_name("01_short.sql", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("000_zero.sql", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("001core.sql", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("001_.sql", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("001_Core.sql", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("001_co-re.sql", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("001_core.SQL", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("001_core.sql.bak", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("abc_core.sql", &v), -EINVAL);
	CHECK_INT(migrate_parse_name("1234567_core.sql", &v), -EINVAL);
}

struct tmpdir {
	char path[64];
};

static int tmp_make(struct tmpdir *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/shiren-migrate-XXXXXX");
	return mkdtemp(t->path) ? 0 : -errno;
}

static void tmp_touch(struct tmpdir *t, const char *name, const char *body)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", t->path, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(body, f);
		fclose(f);
	}
}

static void tmp_remove(struct tmpdir *t, const char *const *names, size_t n)
{
	char p[256];
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", t->path, names[i]);
		unlink(p);
	}
	rmdir(t->path);
}

static void test_scan_ok(void)
{
	struct tmpdir t;
	REQUIRE(tmp_make(&t) == 0);
	static const char *const names[] = {"002_b.sql", "001_a.sql", "003_c.sql", "README.md",
					    "001_a.sql~"};
	for (size_t i = 0; i < 5; i++)
		tmp_touch(&t, names[i], "SELECT 1;\n");
	struct migrate_file *f = NULL;
	size_t n = 0;
	char err[256] = "";
	CHECK_INT(migrate_scan(t.path, &f, &n, err, sizeof(err)), 0);
	CHECK_INT(n, 3);
	if (f && n == 3) {
		CHECK_STR(f[0].name, "001_a.sql");
		CHECK_STR(f[1].name, "002_b.sql");
		CHECK_STR(f[2].name, "003_c.sql");
		CHECK_INT(f[2].version, 3);
	}
	free(f);
	tmp_remove(&t, names, 5);
}

static void scan_expect(const char *const *names, size_t n, int want, const char *needle)
{
	struct tmpdir t;
	REQUIRE(tmp_make(&t) == 0);
	for (size_t i = 0; i < n; i++)
		tmp_touch(&t, names[i], "SELECT 1;\n");
	struct migrate_file *f = NULL;
	size_t got = 0;
	char err[256] = "";
	CHECK_INT(migrate_scan(t.path, &f, &got, err, sizeof(err)), want);
	if (!strstr(err, needle)) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, needle);
		CHECK(0);
	}
	free(f);
	tmp_remove(&t, names, n);
}

static void test_scan_refusals(void)
{
	static const char *const gap[] = {"001_a.sql", "003_c.sql"};
	scan_expect(gap, 2, -EINVAL, "gap");
	static const char *const nofirst[] = {"002_b.sql"};
	scan_expect(nofirst, 1, -EINVAL, "gap");
	static const char *const dup[] = {"001_a.sql", "002_b.sql", "002_c.sql"};
	scan_expect(dup, 3, -EINVAL, "same number 2");
	static const char *const bad[] = {"001_a.sql", "2_b.sql"};
	scan_expect(bad, 2, -EINVAL, "malformed migration file name 2_b.sql");
	static const char *const upper[] = {"001_A.sql"};
	scan_expect(upper, 1, -EINVAL, "001_A.sql");
}

static void test_scan_missing_dir(void)
{
	struct migrate_file *f = NULL;
	size_t n = 0;
	char err[256] = "";
	CHECK_INT(migrate_scan("/nonexistent/shiren/sql", &f, &n, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/shiren/sql") != NULL);
	CHECK(f == NULL);
}

static void test_scan_empty(void)
{
	struct tmpdir t;
	REQUIRE(tmp_make(&t) == 0);
	struct migrate_file *f = NULL;
	size_t n = 99;
	char err[256] = "";
	CHECK_INT(migrate_scan(t.path, &f, &n, err, sizeof(err)), 0);
	CHECK_INT(n, 0);
	CHECK(f == NULL);
	tmp_remove(&t, NULL, 0);
}

UNIT_MAIN("ctl_migrate", UNIT_CASE(test_parse_name), UNIT_CASE(test_scan_ok),
	  UNIT_CASE(test_scan_refusals), UNIT_CASE(test_scan_missing_dir),
	  UNIT_CASE(test_scan_empty))
