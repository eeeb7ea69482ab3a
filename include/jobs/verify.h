/* Verifying points: every chunk a point names is present in a source and
 * decodes to content matching its digest. Each bad chunk is reported with the
 * points it breaks. */
#pragma once
#include <stdint.h>
#include "store/index.h"
#include "basics/progress.h"
#include "store/sources.h"

struct hs_verify_opts {
	const struct hs_sources *src;
	/* The points: loaded indexes, or (points NULL) names whose indexes are
	 * read from the store (the last source) one at a time, so a store of
	 * many points is verified without holding every index. */
	struct hs_index *const *points;
	const struct hs_point_ref *refs;
	size_t npoints;
	unsigned threads;             /* 0: twice the CPUs */
	struct hs_progress *progress; /* NULL: none */
	/* Record the chunks found damaged (a copy corrupt or unreadable, and no
	 * good one anywhere) in the store's list of bad chunks (badlist.h), so
	 * the next capture stores them again. Only `hotspare verify` sets it:
	 * drills (readers) never change a store. */
	bool mark;
	/* Called once per bad chunk with a one-line description (may be NULL). */
	void (*bad)(void *arg, const char *line);
	void *bad_arg;
};

struct hs_verify_stats {
	uint64_t chunks;        /* distinct chunks checked */
	uint64_t bytes;         /* their plain bytes */
	uint64_t bad;           /* missing or corrupt */
	uint64_t broken_points; /* points naming at least one chunk with no good copy */
	uint64_t unreadable_points; /* points whose index cannot be read (not verified) */
	uint64_t marked;        /* damaged chunks added to the store's list (with mark) */
	double seconds;
};

/* Check every chunk of the points. A point whose index cannot be read, a
 * chunk that is missing, corrupt or unreadable (a directory in its place) is
 * reported through bad() and the rest is still checked. 0 if all is good;
 * -EIO (with a summary message) if anything is bad; other -errno if
 * verification itself failed (no memory, the network). */
int hs_verify(const struct hs_verify_opts *opts, struct hs_verify_stats *stats);
