/* Replication: copy points from one store to another (a second site), only
 * the chunks the destination lacks. Each chunk is checked against its digest
 * before it is sent (a corrupt copy is never propagated) and sent as stored,
 * without recompressing. A point's index is written only after all its
 * chunks are durable at the destination, so an interrupted run leaves no
 * point naming a missing chunk, and running it again sends only what did not
 * arrive. Chunks a source store does not hold (a snapshot shipped on a
 * drive) come from the seeds. */
#pragma once
#include <stdint.h>
#include "store/index.h"
#include "basics/progress.h"
#include "store/sources.h"
#include "store/store.h"

struct hs_replicate_opts {
	const struct hs_sources *src; /* seeds, then the source store */
	struct hs_store *dst;         /* same chunk size as the source */
	const struct hs_point_ref *points; /* to copy, each server's oldest first; each
					    * index is read when its turn comes */
	size_t npoints;
	unsigned threads;             /* 0: four per CPU (network-bound) */
	struct hs_progress *progress; /* NULL: none; a bar per point copied */
};

struct hs_replicate_stats {
	uint64_t points;         /* copied */
	uint64_t points_present; /* already at the destination */
	uint64_t chunks_sent, bytes_sent; /* stored bytes sent */
	uint64_t chunks_present; /* needed and already at the destination */
	double seconds;
};

/* Copy the points to dst, skipping those it already has. 0, or the first
 * failure (-errno with a message naming the point and the chunk); the points
 * copied before a failure are complete at the destination. */
int hs_replicate(const struct hs_replicate_opts *o, struct hs_replicate_stats *st);
