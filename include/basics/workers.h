/* Run one function on several threads that share their work through an
 * atomic counter of their own; the first failure stops the others. */
#pragma once
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Number of online CPUs (at least 1). */
unsigned hs_ncpu(void);

/* Call fn(arg, stop) on n threads (n >= 1; the caller's thread is one of them)
 * and wait for all. fn should return early once *stop is set; it is set when
 * any call fails. Returns 0, or the first failure with its message moved to
 * the caller's thread. */
int hs_parallel(unsigned n, int (*fn)(void *arg, atomic_int *stop), void *arg);

struct hs_buf;

/* Call item(arg, k, plain, z) for every k in [0, n) on up to threads threads
 * (no more than n), each thread with its own buffer of plain_size bytes and
 * its own buffer for stored (compressed) bytes: the shape of every chunk
 * pipeline here. Failures as for hs_parallel. */
int hs_parallel_each(unsigned threads, uint64_t n, size_t plain_size,
		     int (*item)(void *arg, uint64_t k, void *plain, struct hs_buf *z), void *arg);
