/* ctl_metering — the `metering` and `alerts` command groups of shirenctl: their command line,
 * value parsers, and dispatch (ctl_metering.h). */
#include "ctl/ctl_metering.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char USAGE[] =
	"Usage: shirenctl metering SUBCOMMAND [OPTIONS]\n"
	"       shirenctl alerts tail|list [OPTIONS]\n"
	"\n"
	"Prepaid packages, settings and reports of shiren-metering (docs/metering.md). T is a\n"
	"tenant name or id, P a product (ID_PRO, ID_MIN, LR_FR, PV_FV, ID_PLUS, MFVC, LR_FR_MIN,\n"
	"PV_FC or 1-8), money in yuan\n"
	"with up to 5 decimals, times as Unix ms, YYYY-MM-DD (UTC+8) or RFC 3339.\n"
	"\n"
	"Changes (queued for shiren-metering, which applies them in order; waits up to\n"
	"--wait-ms, default 10000, unless --no-wait):\n"
	"  topup --tenant T --product P --size N (--unit-price Y | --price Y) [--id ID]\n"
	"        [--purchased-at TIME] [--expires-at TIME | --valid-days D] [--actor A] [--reason "
	"R]\n"
	"  refund --tenant T --product P --id ID [--actor A] [--reason R]\n"
	"  set --tenant T --product P [--on-exhaust postpaid|block] [--alert-percent "
	"20,10,0|none]\n"
	"      [--alert-calls 1000,100|none] [--alert-expiry-days 7,3,1|none] [--hysteresis N]\n"
	"      [--reset-alerts]\n"
	"  ladder publish --product P --mode volume|graduated --tiers UPTO:PRICE,...,inf:PRICE\n"
	"                 --effective-from YYYY-MM   (a future month, UTC+8)\n"
	"Reports:\n"
	"  ladder list [--product P]            balance --tenant T [--product P]\n"
	"  packages --tenant T [--product P]    commands\n"
	"  usage [--tenant T] [--product P] [--from YYYYMMDD] [--to YYYYMMDD] [--format F]\n"
	"  export --tenant T --period YYYYMM [--format csv|json]   per-call ledger rows\n"
	"  bills [--tenant T] [--period YYYYMM]\n"
	"  reconcile        check the invariants; exit 1 on any mismatch\n"
	"  rebuild [--check]  re-derive the balance caches from the ledger (--check: only "
	"compare,\n"
	"                     exit 1 when they differ)\n"
	"Alerts:\n"
	"  alerts tail [--topic T] [--from-beginning] [--max N] [--idle-ms MS] [--tenant T]\n"
	"              print each QuotaAlert from Kafka as one JSON line\n"
	"  alerts list --tenant T               alerts metering emitted (from PostgreSQL)\n"
	"\n"
	"--json prints JSON lines; --format table|csv|json for usage and export.\n"
	"Environment: SHIREN_PG_DSN (all but alerts tail), SHIREN_KAFKA_BROKERS (alerts tail).\n"
	"Exit status: 0 ok, 1 reconcile/rebuild --check mismatch, 64 usage, 65 data error or a\n"
	"refused change, 69 unavailable (or the change was not applied in time), 70 internal,\n"
	"78 configuration.\n";

struct opt {
	const char *flag;
	size_t off;
	bool value;
};

#define O(f) offsetof(struct ctl_mopts, f)
static const struct opt opts[] = {
	{"--tenant", O(tenant), true},
	{"--product", O(product), true},
	{"--size", O(size), true},
	{"--unit-price", O(unit_price), true},
	{"--price", O(price), true},
	{"--id", O(id), true},
	{"--purchased-at", O(purchased_at), true},
	{"--expires-at", O(expires_at), true},
	{"--valid-days", O(valid_days), true},
	{"--actor", O(actor), true},
	{"--reason", O(reason), true},
	{"--on-exhaust", O(on_exhaust), true},
	{"--alert-percent", O(alert_percent), true},
	{"--alert-calls", O(alert_calls), true},
	{"--alert-expiry-days", O(alert_expiry_days), true},
	{"--hysteresis", O(hysteresis), true},
	{"--mode", O(mode), true},
	{"--tiers", O(tiers), true},
	{"--effective-from", O(effective_from), true},
	{"--from", O(from), true},
	{"--to", O(to), true},
	{"--format", O(format), true},
	{"--period", O(period), true},
	{"--topic", O(topic), true},
	{"--max", O(max), true},
	{"--idle-ms", O(idle_ms), true},
	{"--wait-ms", O(wait_ms), true},
	{"--json", O(json), false},
	{"--check", O(check), false},
	{"--reset-alerts", O(reset_alerts), false},
	{"--no-wait", O(no_wait), false},
	{"--from-beginning", O(from_beginning), false},
};

/* Options from argv[i..]. 0, or -EINVAL with the message printed. */
static int parse_opts(int argc, char **argv, int i, struct ctl_mopts *o)
{
	for (; i < argc; i++) {
		const struct opt *hit = NULL;
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !hit; k++)
			if (strcmp(argv[i], opts[k].flag) == 0)
				hit = &opts[k];
		if (!hit) {
			fprintf(stderr, "shirenctl: unknown option or argument '%s'\n", argv[i]);
			return -EINVAL;
		}
		if (!hit->value) {
			*(bool *)((char *)o + hit->off) = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "shirenctl: %s needs a value\n", hit->flag);
			return -EINVAL;
		}
		const char **slot = (const char **)((char *)o + hit->off);
		if (*slot) {
			fprintf(stderr, "shirenctl: %s given twice\n", hit->flag);
			return -EINVAL;
		}
		*slot = argv[++i];
	}
	return 0;
}

int ctl_m_money(const char *s, int64_t *ret)
{
	int64_t whole = 0, frac = 0;
	int digits = 0;
	const char *p = s;
	if (!s || !*s)
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > 90000000000LL)
			return -EINVAL;
		whole = whole * 10 + (*p - '0');
	}
	if (p == s)
		return -EINVAL;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++digits > 5)
				return -EINVAL;
			frac = frac * 10 + (*p - '0');
		}
		if (digits == 0)
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	for (; digits < 5; digits++)
		frac *= 10;
	*ret = whole * 100000 + frac;
	return 0;
}

int ctl_m_count(const char *s, int64_t *ret)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Parse "HH:MM" of a UTC offset into seconds. */
static int tz_offset(const char *p, long *ret)
{
	if (*p == 'Z' && !p[1]) {
		*ret = 0;
		return 0;
	}
	int hh, mm;
	char sign;
	if (sscanf(p, "%c%2d:%2d", &sign, &hh, &mm) != 3 || (sign != '+' && sign != '-') ||
	    strlen(p) != 6)
		return -EINVAL;
	*ret = (sign == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
	return 0;
}

int ctl_m_time(const char *s, int64_t *ret)
{
	struct tm tm;
	long off = 8 * 3600;
	int64_t ms = 0;
	if (!s || !*s)
		return -EINVAL;
	if (ctl_m_count(s, ret) == 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	const char *rest = strptime(s, "%Y-%m-%d", &tm);
	if (!rest)
		return -EINVAL;
	if (*rest == 'T') {
		rest = strptime(rest + 1, "%H:%M:%S", &tm);
		if (!rest)
			return -EINVAL;
		if (*rest == '.') {
			int k = 0;
			for (rest++; *rest >= '0' && *rest <= '9'; rest++, k++)
				if (k < 3)
					ms = ms * 10 + (*rest - '0');
			for (; k < 3; k++)
				ms *= 10;
		}
		if (tz_offset(rest, &off) < 0)
			return -EINVAL;
	} else if (*rest) {
		return -EINVAL;
	}
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret = ((int64_t)t - off) * 1000 + ms;
	return *ret >= 0 ? 0 : -EINVAL;
}

int ctl_m_list(const char *s, int64_t lo, int64_t hi, char *out, size_t cap)
{
	size_t o = 0, n = 0;
	if (!s || cap < 3)
		return -EINVAL;
	out[o++] = '{';
	if (strcmp(s, "none") != 0) {
		while (*s) {
			char *end;
			errno = 0;
			long long v = strtoll(s, &end, 10);
			if (end == s || errno || v < lo || v > hi || (*end && *end != ',') ||
			    ++n > 8)
				return -EINVAL;
			int w = snprintf(out + o, cap - o, "%s%lld", o > 1 ? "," : "", v);
			if (w < 0 || (size_t)w >= cap - o)
				return -EINVAL;
			o += (size_t)w;
			s = *end ? end + 1 : end;
		}
	}
	if (o + 2 > cap)
		return -EINVAL;
	out[o++] = '}';
	out[o] = '\0';
	return 0;
}

typedef int (*m_fn)(struct ctl *c, const struct ctl_mopts *o);

static const struct {
	const char *group, *sub, *sub2;
	m_fn fn;
} cmds[] = {
	{"metering", "topup", NULL, ctl_m_topup},
	{"metering", "refund", NULL, ctl_m_refund},
	{"metering", "set", NULL, ctl_m_set},
	{"metering", "ladder", "publish", ctl_m_ladder_publish},
	{"metering", "ladder", "list", ctl_m_ladder_list},
	{"metering", "balance", NULL, ctl_m_balance},
	{"metering", "packages", NULL, ctl_m_packages},
	{"metering", "usage", NULL, ctl_m_usage},
	{"metering", "export", NULL, ctl_m_export},
	{"metering", "bills", NULL, ctl_m_bills},
	{"metering", "reconcile", NULL, ctl_m_reconcile},
	{"metering", "rebuild", NULL, ctl_m_rebuild},
	{"metering", "commands", NULL, ctl_m_commands},
	{"alerts", "list", NULL, ctl_m_alerts_list},
};

static int run_db(m_fn fn, const struct ctl_mopts *o)
{
	struct ctl_args args = {.json = o->json};
	struct ctl c = {.args = &args, .out = stdout, .err = stderr};
	int code = ctl_cfg_load(&c);
	if (code == CTL_EXIT_OK)
		code = ctl_db_connect(&c);
	if (code == CTL_EXIT_OK)
		code = fn(&c, o);
	ctl_done(&c);
	return code;
}

int ctl_metering_main(int argc, char **argv)
{
	struct ctl_mopts o;
	memset(&o, 0, sizeof(o));
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(USAGE, stdout);
			return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_SOFTWARE;
		}
	if (argc < 3) {
		fprintf(stderr, "shirenctl: %s needs a subcommand\nTry 'shirenctl %s --help'.\n",
			argv[1], argv[1]);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "alerts") == 0 && strcmp(argv[2], "tail") == 0)
		return parse_opts(argc, argv, 3, &o) < 0 ? CTL_EXIT_USAGE : ctl_m_alerts_tail(&o);
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
		if (strcmp(argv[1], cmds[k].group) != 0 || strcmp(argv[2], cmds[k].sub) != 0)
			continue;
		int first = 3;
		if (cmds[k].sub2) {
			if (argc < 4 || strcmp(argv[3], cmds[k].sub2) != 0)
				continue;
			first = 4;
		}
		if (parse_opts(argc, argv, first, &o) < 0) {
			fprintf(stderr, "Try 'shirenctl %s --help'.\n", argv[1]);
			return CTL_EXIT_USAGE;
		}
		return run_db(cmds[k].fn, &o);
	}
	fprintf(stderr, "shirenctl: unknown command '%s %s'\nTry 'shirenctl %s --help'.\n", argv[1],
		argv[2], argv[1]);
	return CTL_EXIT_USAGE;
}
