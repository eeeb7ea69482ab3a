/* The monotonic clock in seconds, for durations and rates. */
#pragma once
#include <time.h>

static inline double hs_now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
