/* Per-thread deadlines; see deadline.h. */
#include "basics/deadline.h"
#include <time.h>

static _Thread_local int64_t deadline_at;

int64_t hs_mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t hs_deadline(void) { return deadline_at; }

int64_t hs_deadline_set(int64_t at_ms)
{
	int64_t old = deadline_at;
	deadline_at = at_ms;
	return old;
}

int64_t hs_deadline_left_ms(void)
{
	if (!deadline_at)
		return -1;
	int64_t left = deadline_at - hs_mono_ms();
	return left > 0 ? left : 0;
}
