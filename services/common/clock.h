/* clock — monotonic milliseconds, and the sleep every background thread uses between retries:
 * in steps of at most 100 ms, so a stop request ends it promptly. */
#ifndef SHIREN_COMMON_CLOCK_H
#define SHIREN_COMMON_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ms: for durations and deadlines, never for timestamps. */
int64_t clock_mono_ms(void);

/* Sleep `ms`, returning early once *stop is true. */
void clock_nap_ms(atomic_bool *stop, long ms);

#endif
