/* ctl_args — shirenctl's command line: which command, which options. Pure (no I/O), so the
 * whole grammar unit-tests. Values are syntax-checked only; their meaning (does the tenant
 * exist, is the product code known) is checked by the commands. */
#ifndef SHIREN_CTL_ARGS_H
#define SHIREN_CTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

enum ctl_cmd {
	CTL_CMD_NONE = 0, /* only with help: the tool's or a group's usage */
	CTL_CMD_MIGRATE,
	CTL_CMD_TENANT_CREATE,
	CTL_CMD_TENANT_LIST,
	CTL_CMD_KEY_CREATE,
	CTL_CMD_KEY_DISABLE,
	CTL_CMD_KEY_LIST,
	CTL_CMD_SCENE_CREATE,
	CTL_CMD_SCENE_LIST,
};

/* Every string is borrowed from argv (or static); NULL when not given. */
struct ctl_args {
	enum ctl_cmd cmd;
	bool help;	    /* -h/--help (or `help ...`): print `usage` on stdout, exit 0 */
	const char *topic;  /* "", "tenant", "tenant create": for the "Try --help" hint */
	const char *usage;  /* usage text of `topic`, static */
	bool json;	    /* --json */
	const char *name;   /* tenant create NAME; scene create --name */
	const char *tenant; /* --tenant NAME_OR_ID */
	const char *key_id; /* key disable ACCESS_KEY_ID */
	const char *endpoint;
	const char *product;
	const char *model;
	const char *callback_url;
	const char *oss_target;
};

/* Parse argv (argv[0] is the program). 0, or -EINVAL for a usage error with one sentence in
 * `err` (no trailing newline); `topic` and `usage` are set as far as the parse got, so the
 * caller can hint at the right --help. */
int ctl_args_parse(int argc, char *const argv[], struct ctl_args *ret, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The tool's own usage text (static). */
const char *ctl_args_usage(void);

#endif
