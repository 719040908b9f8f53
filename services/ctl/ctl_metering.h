/* ctl_metering — `shirenctl metering ...` and `shirenctl alerts ...` (docs/metering.md §11):
 * package top-up and refund, tenant settings and ladder versions (queued as commands that
 * shiren-metering applies), balance, usage and bill reports, reconciliation, cache rebuild, and
 * a reference consumer of the quota alert topic. */
#ifndef SHIREN_CTL_METERING_H
#define SHIREN_CTL_METERING_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl/ctl.h"

/* Entry from main() when argv[1] is "metering" or "alerts". Returns the exit code. */
int ctl_metering_main(int argc, char **argv);

/* Options of every metering subcommand (borrowed from argv; NULL when absent). */
struct ctl_mopts {
	const char *tenant, *product, *size, *unit_price, *price, *id, *purchased_at, *expires_at;
	const char *valid_days, *actor, *reason, *on_exhaust, *alert_percent, *alert_calls;
	const char *alert_expiry_days, *hysteresis, *mode, *tiers, *effective_from, *from, *to;
	const char *format, *period, *topic, *max, *idle_ms, *wait_ms;
	bool json, check, reset_alerts, no_wait, from_beginning;
};

/* ctl_metering.c: value parsers shared by the subcommands. */
/* Money in 元 with up to 5 decimals ("35", "0.035") into 1e-5 units. 0 or -EINVAL. */
int ctl_m_money(const char *s, int64_t *ret) __attribute__((warn_unused_result));
/* Unix ms, "YYYY-MM-DD" (00:00 UTC+8) or RFC 3339 ("...T..Z", "...+08:00"). 0 or -EINVAL. */
int ctl_m_time(const char *s, int64_t *ret) __attribute__((warn_unused_result));
/* A non-negative integer. 0 or -EINVAL. */
int ctl_m_count(const char *s, int64_t *ret) __attribute__((warn_unused_result));
/* "20,10,0" or "none" into PostgreSQL array text "{20,10,0}" / "{}", each in [lo, hi]. */
int ctl_m_list(const char *s, int64_t lo, int64_t hi, char *out, size_t cap)
	__attribute__((warn_unused_result));

/* ctl_metering_admin.c */
int ctl_m_topup(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_refund(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_set(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_ladder_publish(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_ladder_list(struct ctl *c, const struct ctl_mopts *o);

/* ctl_metering_report.c */
int ctl_m_balance(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_packages(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_usage(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_export(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_bills(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_reconcile(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_rebuild(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_commands(struct ctl *c, const struct ctl_mopts *o);
int ctl_m_alerts_list(struct ctl *c, const struct ctl_mopts *o);

/* ctl_metering_tail.c: needs SHIREN_KAFKA_BROKERS, no database. */
int ctl_m_alerts_tail(const struct ctl_mopts *o);

#endif
