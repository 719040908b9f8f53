/* intake_throttle — per-tenant token buckets for Throttling.User. Pure logic: the caller passes
 * a monotonic clock in milliseconds. The table is bounded: when it holds `max_tenants` buckets,
 * a bucket that has refilled completely (indistinguishable from a new one) is recycled; if none
 * has, the request is allowed without a bucket (fail open, counted by the caller). Loop thread
 * only: no locking. */
#ifndef SHIREN_INTAKE_THROTTLE_H
#define SHIREN_INTAKE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTAKE_THROTTLE_KEY_MAX 64

struct intake_throttle;

/* `rate` tokens per second, at most `burst` (>= 1) stored; a new tenant starts full.
 * rate <= 0 disables throttling. NULL on allocation failure. */
struct intake_throttle *intake_throttle_new(double rate, double burst, size_t max_tenants);
/* Accepts NULL. */
void intake_throttle_free(struct intake_throttle *t);

enum intake_throttle_verdict {
	INTAKE_THROTTLE_ALLOW = 0,
	INTAKE_THROTTLE_DENY,
	INTAKE_THROTTLE_ALLOW_UNTRACKED, /* table full of active tenants: allowed, not counted */
};

/* Take one token from `key`'s bucket (keys longer than INTAKE_THROTTLE_KEY_MAX-1 bytes are
 * truncated). On DENY, *ret_retry_ms (may be NULL) is the wait until a token is available. */
enum intake_throttle_verdict intake_throttle_take(struct intake_throttle *t, const char *key,
						  int64_t now_ms, int64_t *ret_retry_ms);

/* Buckets currently held. */
size_t intake_throttle_size(const struct intake_throttle *t);

#endif
