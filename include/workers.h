/* Run one function on several threads that share their work through an
 * atomic counter of their own; the first failure stops the others. */
#pragma once
#include <stdatomic.h>

/* Number of online CPUs (at least 1). */
unsigned hs_ncpu(void);

/* Call fn(arg, stop) on n threads (n >= 1; the caller's thread is one of them)
 * and wait for all. fn should return early once *stop is set; it is set when
 * any call fails. Returns 0, or the first failure with its message moved to
 * the caller's thread. */
int hs_parallel(unsigned n, int (*fn)(void *arg, atomic_int *stop), void *arg);
