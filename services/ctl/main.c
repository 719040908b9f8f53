/* shirenctl — the admin CLI: parse the command line, load the environment, connect to
 * PostgreSQL, run one command, exit with a sysexits code (docs/cli.md). */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ctl/ctl_args.h"
#include "ctl/ctl_metering.h"

typedef int (*ctl_cmd_fn)(struct ctl *c);

static ctl_cmd_fn command_fn(enum ctl_cmd cmd)
{
	switch (cmd) {
	case CTL_CMD_MIGRATE:
		return ctl_migrate_run;
	case CTL_CMD_TENANT_CREATE:
		return ctl_tenant_create;
	case CTL_CMD_TENANT_LIST:
		return ctl_tenant_list;
	case CTL_CMD_KEY_CREATE:
		return ctl_key_create;
	case CTL_CMD_KEY_DISABLE:
		return ctl_key_disable;
	case CTL_CMD_KEY_LIST:
		return ctl_key_list;
	case CTL_CMD_SCENE_CREATE:
		return ctl_scene_create;
	case CTL_CMD_SCENE_LIST:
		return ctl_scene_list;
	case CTL_CMD_NONE:
		break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct ctl_args args;
	char err[512];
	if (argc > 1 && (strcmp(argv[1], "metering") == 0 || strcmp(argv[1], "alerts") == 0))
		return ctl_metering_main(argc, argv);
	if (ctl_args_parse(argc, argv, &args, err, sizeof(err)) < 0) {
		fprintf(stderr, "shirenctl: %s\nTry 'shirenctl%s%s --help'.\n", err,
			*args.topic ? " " : "", args.topic);
		return CTL_EXIT_USAGE;
	}
	if (args.help) {
		fputs(args.usage, stdout);
		return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_SOFTWARE;
	}
	ctl_cmd_fn fn = command_fn(args.cmd);
	if (!fn)
		return CTL_EXIT_SOFTWARE;

	struct ctl c = {.args = &args, .out = stdout, .err = stderr};
	int code = ctl_cfg_load(&c);
	if (code == CTL_EXIT_OK)
		code = ctl_db_connect(&c);
	if (code == CTL_EXIT_OK)
		code = fn(&c);
	ctl_done(&c);
	return code;
}
