/* metering_admin — the balance changes that are not usage events, applied on the consumer
 * thread's connection in their own transactions, with the same ledger, cache and alert
 * treatment as events:
 *   - commands queued by shirenctl in metering_commands (top-up, refund, settings);
 *   - the sweep: packages that expired (ledger `expire` entries, exhausted alerts) and expiry
 *     reminders that came due;
 *   - the period close: after a month's end + grace, its settlement ledger entry and bill line
 *     per tenant x product, and metering_state.closed_through. */
#ifndef SHIREN_METERING_ADMIN_H
#define SHIREN_METERING_ADMIN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/metering_txn.h"

struct mt_admin;

/* `cfg` and `ladders` are borrowed (the consumer's). NULL on allocation failure. */
struct mt_admin *mt_admin_new(const struct mt_txn_cfg *cfg, const struct mt_ladders *ladders,
			      int64_t refund_window_ms);
void mt_admin_free(struct mt_admin *a);

/* Apply up to `max` pending commands (oldest first), each in its own transaction; a command
 * the logic refuses is marked failed with the reason. *ret_n: commands handled. 0 or a
 * database error. */
int mt_admin_commands(struct mt_admin *a, PGconn *c, size_t max, size_t *ret_n, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/* Expire due packages and fire due expiry reminders for up to `max` accounts. *ret_n: accounts
 * changed. */
int mt_admin_sweep(struct mt_admin *a, PGconn *c, int64_t now_ms, size_t max, size_t *ret_n,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* Settle every month that ended before now - grace and is not settled yet. *ret_closed: the
 * closed_through afterwards. */
int mt_admin_close_periods(struct mt_admin *a, PGconn *c, int64_t now_ms, int32_t *ret_closed,
			   char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
