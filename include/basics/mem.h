/* This process's memory, for the status and the benchmarks. */
#pragma once
#include <stdint.h>

/* Resident set size in bytes (VmRSS of /proc/self/status), 0 if unknown. */
uint64_t hs_self_rss(void);
