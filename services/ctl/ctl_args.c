/* ctl_args — the shirenctl grammar as tables (commands, options, usage texts) and one parser
 * over them. Pure: no I/O, no allocation; results point into argv or static text. */
#include "ctl/ctl_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum opt_bit {
	OPT_JSON = 1u << 0,
	OPT_TENANT = 1u << 1,
	OPT_ENDPOINT = 1u << 2,
	OPT_NAME = 1u << 3,
	OPT_PRODUCT = 1u << 4,
	OPT_MODEL = 1u << 5,
	OPT_CALLBACK = 1u << 6,
	OPT_OSS = 1u << 7,
};

struct opt_spec {
	const char *flag;
	unsigned bit;
	bool has_value; /* false: a switch (only --json) */
	size_t off;	/* offset of the `const char *` field in struct ctl_args */
};

#define ARG_OFF(f) offsetof(struct ctl_args, f)

static const struct opt_spec opts[] = {
	{"--json", OPT_JSON, false, 0},
	{"--tenant", OPT_TENANT, true, ARG_OFF(tenant)},
	{"--endpoint", OPT_ENDPOINT, true, ARG_OFF(endpoint)},
	{"--name", OPT_NAME, true, ARG_OFF(name)},
	{"--product", OPT_PRODUCT, true, ARG_OFF(product)},
	{"--model", OPT_MODEL, true, ARG_OFF(model)},
	{"--callback-url", OPT_CALLBACK, true, ARG_OFF(callback_url)},
	{"--oss-target", OPT_OSS, true, ARG_OFF(oss_target)},
};

static const char USAGE_TOP[] =
	"Usage: shirenctl COMMAND [ARGS]\n"
	"\n"
	"Administers a shiren deployment: database migrations, tenants, AccessKeys, scenes.\n"
	"\n"
	"Commands:\n"
	"  migrate                          apply pending database migrations\n"
	"  tenant create NAME [--json]      create a tenant\n"
	"  tenant list [--json]             list tenants\n"
	"  key create --tenant T [--endpoint HOST:PORT] [--json]\n"
	"                                   create an AccessKey; shows its secret once\n"
	"  key disable ACCESS_KEY_ID        disable an AccessKey\n"
	"  key list [--tenant T] [--json]   list AccessKeys (never their secrets)\n"
	"  scene create --tenant T --name N --product P --model M [--callback-url URL]\n"
	"               [--oss-target NAME] [--json]\n"
	"                                   create a scene; prints its SceneId\n"
	"  scene list [--tenant T] [--json] list scenes\n"
	"  metering SUBCOMMAND ...          packages, settings, balances, reports, reconcile\n"
	"                                   ('shirenctl metering --help')\n"
	"  alerts tail|list ...             quota alerts ('shirenctl alerts --help')\n"
	"\n"
	"Run 'shirenctl COMMAND --help' for details. T is a tenant name or id.\n"
	"\n"
	"Environment:\n"
	"  SHIREN_PG_DSN           PostgreSQL connection string (required)\n"
	"  SHIREN_MASTER_KEY       32-byte master key, Base64 or 64 hex digits, or a file named\n"
	"                          by SHIREN_MASTER_KEY_FILE; needed by 'key create'\n"
	"  SHIREN_SQL_DIR          migration directory (default deploy/sql)\n"
	"  SHIREN_PUBLIC_ENDPOINT  API endpoint shown in SDK snippets (default 127.0.0.1:8900)\n"
	"\n"
	"Exit status: 0 ok, 64 usage error, 65 data error (not found, duplicate, invalid value),\n"
	"69 PostgreSQL unreachable, 70 internal error, 78 bad configuration.\n";

static const char USAGE_TENANT[] = "Usage: shirenctl tenant create NAME [--json]\n"
				   "       shirenctl tenant list [--json]\n"
				   "\n"
				   "Run 'shirenctl tenant SUBCOMMAND --help' for details.\n";

static const char USAGE_KEY[] =
	"Usage: shirenctl key create --tenant T [--endpoint HOST:PORT] [--json]\n"
	"       shirenctl key disable ACCESS_KEY_ID\n"
	"       shirenctl key list [--tenant T] [--json]\n"
	"\n"
	"Run 'shirenctl key SUBCOMMAND --help' for details.\n";

static const char USAGE_SCENE[] =
	"Usage: shirenctl scene create --tenant T --name N --product P --model M\n"
	"                              [--callback-url URL] [--oss-target NAME] [--json]\n"
	"       shirenctl scene list [--tenant T] [--json]\n"
	"\n"
	"Run 'shirenctl scene SUBCOMMAND --help' for details.\n";

static const char USAGE_MIGRATE[] =
	"Usage: shirenctl migrate\n"
	"\n"
	"Applies the pending migrations of SHIREN_SQL_DIR (NNN_name.sql, in order, each once, one\n"
	"transaction per file) under an advisory lock, so concurrent runs are safe. Refuses to "
	"run\n"
	"when an applied file was changed, or the numbering has a gap or a duplicate.\n";

static const char USAGE_TENANT_CREATE[] =
	"Usage: shirenctl tenant create NAME [--json]\n"
	"\n"
	"Creates a tenant. NAME: 1-64 characters of [A-Za-z0-9._-], starting with a letter or\n"
	"digit, unique, and not shaped like a UUID. Prints the new tenant's id.\n";

static const char USAGE_TENANT_LIST[] =
	"Usage: shirenctl tenant list [--json]\n"
	"\n"
	"Lists tenants with their number of enabled AccessKeys and scenes, as a table or,\n"
	"with --json, one JSON object per line.\n";

static const char USAGE_KEY_CREATE[] =
	"Usage: shirenctl key create --tenant T [--endpoint HOST:PORT] [--json]\n"
	"\n"
	"Creates an AccessKey for tenant T (name or id). Prints the AccessKeyId and the\n"
	"AccessKeySecret ONCE, with a ready-to-paste client configuration for the Alibaba Cloud\n"
	"SDKs; only an encrypted copy of the secret is stored. Needs SHIREN_MASTER_KEY.\n"
	"\n"
	"  --endpoint HOST:PORT  endpoint for the snippet (default SHIREN_PUBLIC_ENDPOINT);\n"
	"                        http:// or https:// may prefix it\n"
	"  --json                print {access_key_id, access_key_secret, ...} instead\n";

static const char USAGE_KEY_DISABLE[] =
	"Usage: shirenctl key disable ACCESS_KEY_ID\n"
	"\n"
	"Disables an AccessKey: requests signed with it are rejected from then on. Disabling an\n"
	"already disabled key is not an error.\n";

static const char USAGE_KEY_LIST[] =
	"Usage: shirenctl key list [--tenant T] [--json]\n"
	"\n"
	"Lists AccessKeys (ids, tenant, status, times), optionally of one tenant. Secrets are\n"
	"never shown.\n";

static const char USAGE_SCENE_CREATE[] =
	"Usage: shirenctl scene create --tenant T --name N --product P --model M\n"
	"                              [--callback-url URL] [--oss-target NAME] [--json]\n"
	"\n"
	"Creates a scene and prints its SceneId (the number API calls carry).\n"
	"\n"
	"  --name N             1-64 characters, unique within the tenant\n"
	"  --product P          ID_PRO, ID_PLUS, PV_FV, LR_FR, MFVC (capture flows) or\n"
	"                       ID_MIN, LR_FR_MIN, PV_FC (server-side calls)\n"
	"  --model M            capture flows: LIVENESS, PHOTINUS_LIVENESS, MULTI_ACTION,\n"
	"                       MOVE_ACTION, MOVE_PHOTINUS, MULTI_FAPTCHA;\n"
	"                       server-side products: FRONT_CAMERA_LIVENESS\n"
	"  --callback-url URL   http(s) URL called when a verification completes\n"
	"  --oss-target NAME    name of the OSS/S3 export target for this scene's photos\n";

static const char USAGE_SCENE_LIST[] = "Usage: shirenctl scene list [--tenant T] [--json]\n"
				       "\n"
				       "Lists scenes, optionally of one tenant.\n";

struct cmd_spec {
	const char *group; /* NULL for top-level commands */
	const char *verb;
	const char *topic;
	enum ctl_cmd cmd;
	const char *arg; /* metavar of the one positional argument, or NULL */
	size_t arg_off;
	unsigned allowed, required;
	const char *usage;
};

static const struct cmd_spec cmds[] = {
	{NULL, "migrate", "migrate", CTL_CMD_MIGRATE, NULL, 0, 0, 0, USAGE_MIGRATE},
	{"tenant", "create", "tenant create", CTL_CMD_TENANT_CREATE, "NAME", ARG_OFF(name),
	 OPT_JSON, 0, USAGE_TENANT_CREATE},
	{"tenant", "list", "tenant list", CTL_CMD_TENANT_LIST, NULL, 0, OPT_JSON, 0,
	 USAGE_TENANT_LIST},
	{"key", "create", "key create", CTL_CMD_KEY_CREATE, NULL, 0,
	 OPT_TENANT | OPT_ENDPOINT | OPT_JSON, OPT_TENANT, USAGE_KEY_CREATE},
	{"key", "disable", "key disable", CTL_CMD_KEY_DISABLE, "ACCESS_KEY_ID", ARG_OFF(key_id), 0,
	 0, USAGE_KEY_DISABLE},
	{"key", "list", "key list", CTL_CMD_KEY_LIST, NULL, 0, OPT_TENANT | OPT_JSON, 0,
	 USAGE_KEY_LIST},
	{"scene", "create", "scene create", CTL_CMD_SCENE_CREATE, NULL, 0,
	 OPT_TENANT | OPT_NAME | OPT_PRODUCT | OPT_MODEL | OPT_CALLBACK | OPT_OSS | OPT_JSON,
	 OPT_TENANT | OPT_NAME | OPT_PRODUCT | OPT_MODEL, USAGE_SCENE_CREATE},
	{"scene", "list", "scene list", CTL_CMD_SCENE_LIST, NULL, 0, OPT_TENANT | OPT_JSON, 0,
	 USAGE_SCENE_LIST},
};

struct group_spec {
	const char *name;
	const char *verbs; /* for error messages */
	const char *usage;
};

static const struct group_spec groups[] = {
	{"tenant", "create or list", USAGE_TENANT},
	{"key", "create, disable or list", USAGE_KEY},
	{"scene", "create or list", USAGE_SCENE},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *ctl_args_usage(void)
{
	return USAGE_TOP;
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* -h/--help anywhere before a "--" asks for help, whatever else is on the line. */
static bool wants_help(int argc, char *const argv[], int from)
{
	for (int i = from; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

static const struct group_spec *find_group(const char *name)
{
	for (size_t i = 0; i < N_OF(groups); i++)
		if (strcmp(groups[i].name, name) == 0)
			return &groups[i];
	return NULL;
}

static const struct cmd_spec *find_cmd(const char *group, const char *verb)
{
	for (size_t i = 0; i < N_OF(cmds); i++) {
		bool same_group = group ? cmds[i].group && strcmp(cmds[i].group, group) == 0
					: cmds[i].group == NULL;
		if (same_group && strcmp(cmds[i].verb, verb) == 0)
			return &cmds[i];
	}
	return NULL;
}

static void set_str(struct ctl_args *a, size_t off, const char *v)
{
	memcpy((char *)a + off, &v, sizeof(v));
}

static const char *get_str(const struct ctl_args *a, size_t off)
{
	const char *v;
	memcpy(&v, (const char *)a + off, sizeof(v));
	return v;
}

/* One option at argv[*i] (which starts with '-'); may consume the next word as its value. */
static int parse_opt(const struct cmd_spec *cs, int argc, char *const argv[], int *i,
		     unsigned *seen, struct ctl_args *ret, char *err, size_t errlen)
{
	const char *a = argv[*i];
	const char *eq = strchr(a, '=');
	size_t flen = eq ? (size_t)(eq - a) : strlen(a);
	const struct opt_spec *o = NULL;
	for (size_t k = 0; k < N_OF(opts); k++)
		if (strlen(opts[k].flag) == flen && strncmp(opts[k].flag, a, flen) == 0)
			o = &opts[k];
	if (!o || !(cs->allowed & o->bit)) {
		snprintf(err, errlen, "%s: unknown option '%.*s'", cs->topic, (int)flen, a);
		return -EINVAL;
	}
	if (*seen & o->bit) {
		snprintf(err, errlen, "%s: option %s given twice", cs->topic, o->flag);
		return -EINVAL;
	}
	*seen |= o->bit;
	if (!o->has_value) {
		if (eq) {
			snprintf(err, errlen, "%s: option %s takes no value", cs->topic, o->flag);
			return -EINVAL;
		}
		ret->json = true;
		return 0;
	}
	const char *v = NULL;
	if (eq)
		v = eq + 1;
	else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
		v = argv[++*i];
	if (!v || !*v) {
		snprintf(err, errlen, "%s: option %s needs a value", cs->topic, o->flag);
		return -EINVAL;
	}
	set_str(ret, o->off, v);
	return 0;
}

static int parse_cmd_args(const struct cmd_spec *cs, int argc, char *const argv[], int i,
			  struct ctl_args *ret, char *err, size_t errlen)
{
	unsigned seen = 0;
	bool dashdash = false;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (!dashdash && a[0] == '-' && a[1] != '\0') {
			int rc = parse_opt(cs, argc, argv, &i, &seen, ret, err, errlen);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!cs->arg || get_str(ret, cs->arg_off)) {
			snprintf(err, errlen, "%s: unexpected argument '%s'", cs->topic, a);
			return -EINVAL;
		}
		if (!*a) {
			snprintf(err, errlen, "%s: %s must not be empty", cs->topic, cs->arg);
			return -EINVAL;
		}
		set_str(ret, cs->arg_off, a);
	}
	if (cs->arg && !get_str(ret, cs->arg_off)) {
		snprintf(err, errlen, "%s: missing %s", cs->topic, cs->arg);
		return -EINVAL;
	}
	for (size_t k = 0; k < N_OF(opts); k++) {
		if ((cs->required & opts[k].bit) && !(seen & opts[k].bit)) {
			snprintf(err, errlen, "%s: missing %s", cs->topic, opts[k].flag);
			return -EINVAL;
		}
	}
	return 0;
}

/* Resolve "migrate" or "GROUP VERB" starting at argv[*i]; *i ends on the last word used. */
static int find_command(int argc, char *const argv[], int *i, bool help, struct ctl_args *ret,
			const struct cmd_spec **ret_cs, char *err, size_t errlen)
{
	const char *w = argv[*i];
	const struct group_spec *g = find_group(w);
	*ret_cs = NULL;
	if (!g) {
		*ret_cs = find_cmd(NULL, w);
		if (!*ret_cs) {
			snprintf(err, errlen, "unknown %s '%s'", w[0] == '-' ? "option" : "command",
				 w);
			return -EINVAL;
		}
		return 0;
	}
	ret->topic = g->name;
	ret->usage = g->usage;
	if (*i + 1 >= argc || argv[*i + 1][0] == '-') {
		snprintf(err, errlen, "%s: missing subcommand (%s)", g->name, g->verbs);
		return help ? 0 : -EINVAL;
	}
	++*i;
	*ret_cs = find_cmd(g->name, argv[*i]);
	if (!*ret_cs) {
		snprintf(err, errlen, "%s: unknown subcommand '%s' (expected %s)", g->name,
			 argv[*i], g->verbs);
		return -EINVAL;
	}
	return 0;
}

int ctl_args_parse(int argc, char *const argv[], struct ctl_args *ret, char *err, size_t errlen)
{
	memset(ret, 0, sizeof(*ret));
	ret->topic = "";
	ret->usage = USAGE_TOP;
	int i = 1;
	bool help = false;
	if (i < argc && strcmp(argv[i], "help") == 0) {
		help = true;
		i++;
	}
	help = help || wants_help(argc, argv, i);
	if (i >= argc || (help && is_help(argv[i]))) {
		if (help) {
			ret->help = true;
			return 0;
		}
		snprintf(err, errlen, "missing command");
		return -EINVAL;
	}
	const struct cmd_spec *cs;
	int rc = find_command(argc, argv, &i, help, ret, &cs, err, errlen);
	if (rc < 0)
		return rc;
	if (help) {
		/* Help for the deepest topic that was recognised. */
		if (cs) {
			ret->topic = cs->topic;
			ret->usage = cs->usage;
			ret->cmd = cs->cmd;
		}
		ret->help = true;
		return 0;
	}
	ret->topic = cs->topic;
	ret->usage = cs->usage;
	ret->cmd = cs->cmd;
	return parse_cmd_args(cs, argc, argv, i + 1, ret, err, errlen);
}
