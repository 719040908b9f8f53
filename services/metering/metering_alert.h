/* metering_alert — quota alert rules for one tenant x product: which alerts a balance change
 * raises, with deterministic ids, and the armed/fired state per rule.
 *
 * Every rule is a small state machine: ARMED -> (condition holds) -> FIRED: one alert ->
 * (balance rose, by a top-up, above threshold + hysteresis) -> ARMED again with generation + 1.
 * A rule that was never fired has no state row (armed, generation 0). The alert id hashes
 * (tenant, product, kind, threshold, package, generation), so re-applying the same change after
 * a crash yields the same id, and a re-armed rule yields a new one.
 *
 * Rules and conditions (remaining/total from metering_account_balance at the apply time):
 *   PERCENT p    remaining * 100 <= p * total            (at the threshold counts as crossed)
 *   CALLS n      remaining <= n
 *   EXHAUSTED    remaining == 0
 *   POSTPAID     status == POSTPAID
 *   BLOCKED      status == BLOCKED
 *   EXPIRING d   a live package with calls left expires within d days (per package)
 * The balance rules are evaluated only while the tenant holds a prepaid basis (prev or cur
 * total > 0): a tenant who never had prepaid calls gets no quota alerts; one whose last package
 * just expired still gets the exhausted edge. Pure functions, no I/O. */
#ifndef SHIREN_METERING_ALERT_H
#define SHIREN_METERING_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/metering_charge.h"

/* Values match shiren.v1.QuotaAlertKind. */
enum metering_alert_kind {
	METERING_ALERT_PERCENT = 1,
	METERING_ALERT_CALLS = 2,
	METERING_ALERT_EXPIRING = 3,
	METERING_ALERT_EXHAUSTED = 4,
	METERING_ALERT_POSTPAID = 5,
	METERING_ALERT_BLOCKED = 6,
};

#define METERING_ALERT_MAX_THRESHOLDS	      8
#define METERING_ALERT_HYSTERESIS_DEFAULT_PCT 5
#define METERING_ALERT_ID_LEN		      36 /* UUID text */

struct metering_alert_config {
	int64_t percent[METERING_ALERT_MAX_THRESHOLDS]; /* % remaining, 0..99; default 20,10,0 */
	size_t n_percent;
	int64_t calls[METERING_ALERT_MAX_THRESHOLDS]; /* calls left, >= 0; default none */
	size_t n_calls;
	int64_t expiry_days[METERING_ALERT_MAX_THRESHOLDS]; /* 1..366; default 7,3,1 */
	size_t n_expiry_days;
	bool exhausted, postpaid, blocked; /* default all on */
	/* Re-arm margin, 0..100 (default 5): PERCENT p re-arms above p + h points, CALLS n above
	 * n + ceil(n * h / 100); EXHAUSTED, POSTPAID, BLOCKED re-arm once calls remain again. */
	int64_t hysteresis_pct;
};

void metering_alert_config_default(struct metering_alert_config *c);
/* Check ranges and counts, sort each threshold list descending and drop duplicates (alerts
 * come out in that order). 0 or -EINVAL. */
int metering_alert_config_normalize(struct metering_alert_config *c)
	__attribute__((warn_unused_result));

/* One fired-or-re-armed rule. package_id is "" except for EXPIRING. */
struct metering_alert_rule_state {
	enum metering_alert_kind kind;
	int64_t threshold;
	char package_id[METERING_ID_MAX];
	bool fired;
	int64_t generation;
};

/* The rule states of one tenant x product; the array belongs to the caller, n <= cap. */
struct metering_alert_states {
	struct metering_alert_rule_state *v;
	size_t n, cap;
};

struct metering_alert_key {
	const char *tenant_id; /* tenants.id text, 1..METERING_ID_MAX-1 bytes */
	int32_t product;       /* shiren.v1.Product value */
};

struct metering_alert {
	char alert_id[METERING_ALERT_ID_LEN + 1];
	enum metering_alert_kind kind;
	int64_t threshold;		  /* percent, calls or days; 0 for the other kinds */
	int64_t remaining;		  /* balance remaining; the package's for EXPIRING */
	char package_id[METERING_ID_MAX]; /* EXPIRING only */
	int64_t generation;
	int64_t occurred_at_ms; /* cur->at_ms */
};

/* Evaluate every rule for the change prev -> cur (both from metering_account_balance; expiry
 * rules look at `pkgs` at cur->at_ms). Alerts go to `out` (capacity `cap`) and `st` is
 * updated. 0, -EINVAL, or -ENOSPC (out or st short; nothing changed). `cfg` must be
 * normalized. */
int metering_alert_evaluate(const struct metering_alert_config *cfg,
			    const struct metering_alert_key *key,
			    const struct metering_balance *prev, const struct metering_balance *cur,
			    const struct metering_package *pkgs, size_t n_pkgs,
			    struct metering_alert_states *st, struct metering_alert *out,
			    size_t cap, size_t *ret_n) __attribute__((warn_unused_result));

/* The deterministic id: SHA-256 over a length-prefixed canonical string of the six fields,
 * formatted as an RFC 9562 version-8 UUID (36 chars + NUL), so it can also serve as the
 * outbox message_id. 0 or -EINVAL. */
int metering_alert_id(const struct metering_alert_key *key, enum metering_alert_kind kind,
		      int64_t threshold, const char *package_id, int64_t generation,
		      char out[METERING_ALERT_ID_LEN + 1]) __attribute__((warn_unused_result));

/* Drop EXPIRING states whose package is gone or no longer ACTIVE. */
void metering_alert_states_prune(struct metering_alert_states *st,
				 const struct metering_package *pkgs, size_t n_pkgs);

const char *metering_alert_kind_name(enum metering_alert_kind k);

#endif
