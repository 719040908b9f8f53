/* clock — monotonic time and interruptible sleeps (clock.h). */
#include "common/clock.h"

#include <time.h>

int64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_nap_ms(atomic_bool *stop, long ms)
{
	while (ms > 0 && !atomic_load(stop)) {
		long step = ms > 100 ? 100 : ms;
		nanosleep(&(struct timespec){0, step * 1000000L}, NULL);
		ms -= step;
	}
}
