/* Progress of long work: a bar with bytes, rate and ETA redrawn on a terminal
 * (stderr), nothing when stderr is not one; plus byte formatting for summaries. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

struct hs_progress {
	const char *label;
	uint64_t total;
	atomic_uint_fast64_t done;
	struct timespec start;
	int tty;
	atomic_int stop;
	pthread_t th;
};

/* Start measuring; draws every few tenths of a second if stderr is a terminal
 * (or if force_tty is set). */
void hs_progress_start(struct hs_progress *p, const char *label, uint64_t total, int force_tty);

/* Count n more bytes done (thread-safe). */
static inline void hs_progress_add(struct hs_progress *p, uint64_t n)
{
	atomic_fetch_add_explicit(&p->done, n, memory_order_relaxed);
}

/* Stop drawing and clear the bar. Safe to call once after start. */
void hs_progress_end(struct hs_progress *p);

/* Seconds since start. */
double hs_progress_seconds(const struct hs_progress *p);

/* Human form of a byte count: "1.5 GiB". out must hold 16 bytes. */
const char *hs_fmt_bytes(uint64_t n, char out[16]);

/* Parse a size with an optional K/M/G/T suffix (binary units, "KiB" also
 * accepted). 0 or -EINVAL. */
int hs_parse_size(const char *s, uint64_t *out);
