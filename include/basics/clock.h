/* The monotonic clock in seconds, for durations and rates; short sleeps. */
#pragma once
#include <time.h>

static inline double hs_now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Sleep ms milliseconds (polling loops; a signal may cut it short). */
static inline void hs_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}
