/* Unit tests for ctl/ctl_args: every shirenctl command, missing arguments, unknown options,
 * duplicates, --opt=value, "--", and --help/-h/help at every level. */
#include "ctl/ctl_args.h"

#include <errno.h>

#include "unit.h"

#define ARGV(...) ((char *[]){"shirenctl", __VA_ARGS__, NULL})

/* Parse a NULL-terminated argv; returns the parser's result. */
static int parse(char **argv, struct ctl_args *a, char *err, size_t errlen)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	err[0] = '\0';
	return ctl_args_parse(argc, argv, a, err, errlen);
}

/* Expect a usage error whose message contains `needle`. */
static void expect_usage_error(char **argv, const char *needle, const char *topic)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(argv, &a, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, needle);
		CHECK(0);
	}
	CHECK(strchr(err, '\n') == NULL);
	CHECK_STR(a.topic, topic);
	CHECK(!a.help);
}

static void expect_help(char **argv, const char *topic, const char *usage_has)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(argv, &a, err, sizeof(err)), 0);
	CHECK(a.help);
	CHECK_STR(a.topic, topic);
	REQUIRE(a.usage != NULL);
	if (!strstr(a.usage, usage_has)) {
		fprintf(stderr, "  usage of \"%s\" lacks \"%s\"\n", topic, usage_has);
		CHECK(0);
	}
}

static void test_no_command(void)
{
	char *argv[] = {"shirenctl", NULL};
	expect_usage_error(argv, "missing command", "");
}

static void test_unknown_command(void)
{
	expect_usage_error(ARGV("frobnicate"), "unknown command 'frobnicate'", "");
	expect_usage_error(ARGV("--verbose"), "unknown option '--verbose'", "");
	expect_usage_error(ARGV("tenant", "delete", "x"), "unknown subcommand 'delete'", "tenant");
	expect_usage_error(ARGV("tenant"), "missing subcommand", "tenant");
	expect_usage_error(ARGV("key", "--json"), "missing subcommand", "key");
	expect_usage_error(ARGV("scene", "show"), "expected create or list", "scene");
}

static void test_migrate(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("migrate"), &a, err, sizeof(err)), 0);
	CHECK_INT(a.cmd, CTL_CMD_MIGRATE);
	CHECK_STR(a.topic, "migrate");
	CHECK(!a.help && !a.json);
	expect_usage_error(ARGV("migrate", "now"), "unexpected argument 'now'", "migrate");
	expect_usage_error(ARGV("migrate", "--json"), "unknown option '--json'", "migrate");
}

static void test_tenant_create(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("tenant", "create", "acme"), &a, err, sizeof(err)), 0);
	CHECK_INT(a.cmd, CTL_CMD_TENANT_CREATE);
	CHECK_STR(a.name, "acme");
	CHECK(!a.json);
	CHECK_INT(parse(ARGV("tenant", "create", "--json", "acme"), &a, err, sizeof(err)), 0);
	CHECK_STR(a.name, "acme");
	CHECK(a.json);
	/* After "--" a dash-led word is the NAME (then rejected by the name rules, not here). */
	CHECK_INT(parse(ARGV("tenant", "create", "--", "-x"), &a, err, sizeof(err)), 0);
	CHECK_STR(a.name, "-x");
	expect_usage_error(ARGV("tenant", "create"), "tenant create: missing NAME",
			   "tenant create");
	expect_usage_error(ARGV("tenant", "create", "a", "b"), "unexpected argument 'b'",
			   "tenant create");
	expect_usage_error(ARGV("tenant", "create", ""), "must not be empty", "tenant create");
	expect_usage_error(ARGV("tenant", "create", "a", "--tenant", "x"),
			   "unknown option '--tenant'", "tenant create");
}

static void test_tenant_list(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("tenant", "list"), &a, err, sizeof(err)), 0);
	CHECK_INT(a.cmd, CTL_CMD_TENANT_LIST);
	CHECK(!a.json);
	CHECK_INT(parse(ARGV("tenant", "list", "--json"), &a, err, sizeof(err)), 0);
	CHECK(a.json);
	expect_usage_error(ARGV("tenant", "list", "--json", "--json"), "--json given twice",
			   "tenant list");
	expect_usage_error(ARGV("tenant", "list", "--json=yes"), "--json takes no value",
			   "tenant list");
	expect_usage_error(ARGV("tenant", "list", "-j"), "unknown option '-j'", "tenant list");
	expect_usage_error(ARGV("tenant", "list", "all"), "unexpected argument", "tenant list");
}

static void test_key_create(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("key", "create", "--tenant", "acme"), &a, err, sizeof(err)), 0);
	CHECK_INT(a.cmd, CTL_CMD_KEY_CREATE);
	CHECK_STR(a.tenant, "acme");
	CHECK(a.endpoint == NULL);
	CHECK_INT(parse(ARGV("key", "create", "--endpoint=api.example.com:443", "--tenant=acme",
			     "--json"),
			&a, err, sizeof(err)),
		  0);
	CHECK_STR(a.tenant, "acme");
	CHECK_STR(a.endpoint, "api.example.com:443");
	CHECK(a.json);
	expect_usage_error(ARGV("key", "create"), "key create: missing --tenant", "key create");
	expect_usage_error(ARGV("key", "create", "--tenant"), "--tenant needs a value",
			   "key create");
	expect_usage_error(ARGV("key", "create", "--tenant="), "--tenant needs a value",
			   "key create");
	/* A following option is not taken as the value. */
	expect_usage_error(ARGV("key", "create", "--tenant", "--json"), "--tenant needs a value",
			   "key create");
	expect_usage_error(ARGV("key", "create", "--tenant", "a", "--secret", "s"),
			   "unknown option '--secret'", "key create");
	expect_usage_error(ARGV("key", "create", "--tenant", "a", "--tenant", "b"),
			   "--tenant given twice", "key create");
}

static void test_key_disable(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("key", "disable", "LTAIabcdefghij0123456789"), &a, err, sizeof(err)),
		  0);
	CHECK_INT(a.cmd, CTL_CMD_KEY_DISABLE);
	CHECK_STR(a.key_id, "LTAIabcdefghij0123456789");
	expect_usage_error(ARGV("key", "disable"), "key disable: missing ACCESS_KEY_ID",
			   "key disable");
	expect_usage_error(ARGV("key", "disable", "a", "b"), "unexpected argument 'b'",
			   "key disable");
	expect_usage_error(ARGV("key", "disable", "a", "--json"), "unknown option '--json'",
			   "key disable");
}

static void test_key_list(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("key", "list"), &a, err, sizeof(err)), 0);
	CHECK_INT(a.cmd, CTL_CMD_KEY_LIST);
	CHECK(a.tenant == NULL);
	CHECK_INT(parse(ARGV("key", "list", "--json", "--tenant", "t1"), &a, err, sizeof(err)), 0);
	CHECK_STR(a.tenant, "t1");
	CHECK(a.json);
	expect_usage_error(ARGV("key", "list", "--endpoint", "x:1"), "unknown option '--endpoint'",
			   "key list");
}

static void test_scene_create(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("scene", "create", "--tenant", "acme", "--name", "login", "--product",
			     "ID_PRO", "--model", "LIVENESS"),
			&a, err, sizeof(err)),
		  0);
	CHECK_INT(a.cmd, CTL_CMD_SCENE_CREATE);
	CHECK_STR(a.tenant, "acme");
	CHECK_STR(a.name, "login");
	CHECK_STR(a.product, "ID_PRO");
	CHECK_STR(a.model, "LIVENESS");
	CHECK(a.callback_url == NULL && a.oss_target == NULL && !a.json);
	CHECK_INT(
		parse(ARGV("scene", "create", "--model=MOVE_ACTION", "--product=PV_FV", "--name=n",
			   "--tenant=t", "--callback-url", "https://cb.example.com/hook?a=b",
			   "--oss-target", "archive", "--json"),
		      &a, err, sizeof(err)),
		0);
	CHECK_STR(a.callback_url, "https://cb.example.com/hook?a=b");
	CHECK_STR(a.oss_target, "archive");
	CHECK_STR(a.model, "MOVE_ACTION");
	CHECK(a.json);
	/* Values are not judged here: an unknown product is a data error, found later. */
	CHECK_INT(parse(ARGV("scene", "create", "--tenant", "t", "--name", "n", "--product", "X",
			     "--model", "Y"),
			&a, err, sizeof(err)),
		  0);
	expect_usage_error(
		ARGV("scene", "create", "--tenant", "t", "--name", "n", "--product", "ID_PRO"),
		"scene create: missing --model", "scene create");
	expect_usage_error(ARGV("scene", "create", "--name", "n", "--product", "P", "--model", "M"),
			   "missing --tenant", "scene create");
	expect_usage_error(
		ARGV("scene", "create", "--tenant", "t", "--product", "P", "--model", "M"),
		"missing --name", "scene create");
	expect_usage_error(ARGV("scene", "create", "--tenant", "t", "--name", "n", "--model", "M"),
			   "missing --product", "scene create");
	expect_usage_error(ARGV("scene", "create", "--tenant", "t", "--name", "n", "--product", "P",
				"--model", "M", "--callback"),
			   "unknown option '--callback'", "scene create");
	expect_usage_error(ARGV("scene", "create", "--tenant", "t", "--name", "n", "--product", "P",
				"--model", "M", "extra"),
			   "unexpected argument 'extra'", "scene create");
}

static void test_scene_list(void)
{
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("scene", "list"), &a, err, sizeof(err)), 0);
	CHECK_INT(a.cmd, CTL_CMD_SCENE_LIST);
	CHECK_INT(parse(ARGV("scene", "list", "--tenant", "acme", "--json"), &a, err, sizeof(err)),
		  0);
	CHECK_STR(a.tenant, "acme");
	CHECK(a.json);
	expect_usage_error(ARGV("scene", "list", "--name", "x"), "unknown option '--name'",
			   "scene list");
}

static void test_help(void)
{
	expect_help(ARGV("--help"), "", "Usage: shirenctl COMMAND");
	expect_help(ARGV("-h"), "", "Exit status");
	expect_help(ARGV("help"), "", "Usage: shirenctl COMMAND");
	expect_help(ARGV("migrate", "--help"), "migrate", "advisory lock");
	expect_help(ARGV("tenant", "--help"), "tenant", "shirenctl tenant list");
	expect_help(ARGV("tenant", "-h"), "tenant", "shirenctl tenant create NAME");
	expect_help(ARGV("tenant", "create", "--help"), "tenant create", "Creates a tenant");
	expect_help(ARGV("tenant", "list", "-h"), "tenant list", "Lists tenants");
	expect_help(ARGV("key", "--help"), "key", "shirenctl key disable");
	expect_help(ARGV("key", "create", "--help"), "key create", "ONCE");
	expect_help(ARGV("key", "disable", "--help"), "key disable", "ACCESS_KEY_ID");
	expect_help(ARGV("key", "list", "--help"), "key list", "never shown");
	expect_help(ARGV("scene", "--help"), "scene", "shirenctl scene create");
	expect_help(ARGV("scene", "create", "--help"), "scene create", "FRONT_CAMERA_LIVENESS");
	expect_help(ARGV("scene", "list", "-h"), "scene list", "Lists scenes");
	expect_help(ARGV("help", "scene", "create"), "scene create", "--callback-url");
	expect_help(ARGV("help", "key"), "key", "shirenctl key list");
}

static void test_help_wins(void)
{
	/* --help anywhere (before "--") beats missing or unknown options. */
	expect_help(ARGV("scene", "create", "--help"), "scene create", "Usage");
	expect_help(ARGV("scene", "create", "--bogus", "--help"), "scene create", "Usage");
	expect_help(ARGV("key", "create", "--tenant", "t", "-h"), "key create", "Usage");
	/* After "--" it is an argument. */
	struct ctl_args a;
	char err[256];
	CHECK_INT(parse(ARGV("tenant", "create", "--", "--help"), &a, err, sizeof(err)), 0);
	CHECK(!a.help);
	CHECK_STR(a.name, "--help");
	/* Help for an unknown command is still an error. */
	expect_usage_error(ARGV("bogus", "--help"), "unknown command 'bogus'", "");
	expect_usage_error(ARGV("tenant", "bogus", "--help"), "unknown subcommand", "tenant");
}

static void test_usage_text(void)
{
	const char *u = ctl_args_usage();
	CHECK(strstr(u, "migrate") != NULL);
	CHECK(strstr(u, "key create") != NULL);
	CHECK(strstr(u, "SHIREN_PG_DSN") != NULL);
	CHECK(strstr(u, "64 usage error") != NULL);
}

UNIT_MAIN("ctl_args", UNIT_CASE(test_no_command), UNIT_CASE(test_unknown_command),
	  UNIT_CASE(test_migrate), UNIT_CASE(test_tenant_create), UNIT_CASE(test_tenant_list),
	  UNIT_CASE(test_key_create), UNIT_CASE(test_key_disable), UNIT_CASE(test_key_list),
	  UNIT_CASE(test_scene_create), UNIT_CASE(test_scene_list), UNIT_CASE(test_help),
	  UNIT_CASE(test_help_wins), UNIT_CASE(test_usage_text))
