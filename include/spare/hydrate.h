/* Background hydration: copies every chunk that is not local into the state,
 * in parallel, yielding to demand reads, and records progress durably (the
 * state's map, flushed every second) so a restart resumes, not restarts. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct hs_spare;
struct hs_spare_helper;

/* Start threads hydrating sp; first the chunks listed in first[0..nfirst)
 * (e.g. what a boot read), then every other chunk in order. 0 or -errno.
 * Store the result in sp->hyd: status then shows its rate and
 * hs_spare_close stops it. */
int hs_hydrate_start(struct hs_spare *sp, unsigned threads, const uint64_t *first, size_t nfirst,
		     struct hs_spare_helper **out);

/* Stop and join the threads (the caller flushes the state). */
void hs_hydrate_stop(struct hs_spare_helper *h);

/* Hydration throughput over the last few seconds, in bytes per second. */
double hs_hydrate_rate(struct hs_spare_helper *h);
