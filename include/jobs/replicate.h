/* Replication: copy points from one store to another (a second site), only
 * the chunks the destination lacks. Each chunk is checked against its digest
 * before it is sent (a corrupt copy is never propagated) and sent as stored,
 * without recompressing. A point's index is written only after all its
 * chunks are durable at the destination, so an interrupted run leaves no
 * point naming a missing chunk, and running it again sends only what did not
 * arrive. Chunks a source store does not hold (a snapshot shipped on a
 * drive) come from the seeds.
 *
 * What the destination holds is taken on the word of each server's newest
 * point there (its chunks are not looked up one by one); a sample of them is
 * looked up, and a missing one makes the run check everything it would skip,
 * as verify_dest asks from the start: every such chunk is read back and
 * checked, and a missing or corrupt one is sent again (a corrupt copy is
 * replaced atomically). The destination records where it was replicated
 * from, so verify can name the repair. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
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
	/* Read back and check every chunk the run would skip because the
	 * destination has it (the points it already has included); resend the
	 * missing and corrupt ones. */
	bool verify_dest;
	/* The source's name as recorded at the destination (NULL: its location). */
	const char *source_name;
	/* Called with a one-line note (the fallback to checking); may be NULL. */
	void (*note)(void *arg, const char *line);
	void *note_arg;
};

struct hs_replicate_stats {
	uint64_t points;         /* copied */
	uint64_t points_present; /* already at the destination */
	uint64_t points_gone;    /* pruned at the source since they were listed: not copied */
	uint64_t chunks_sent, bytes_sent; /* stored bytes sent */
	uint64_t chunks_present; /* needed and already at the destination */
	uint64_t chunks_checked; /* of those, read back and found good */
	uint64_t chunks_repaired; /* named by the destination's points but missing or
				   * corrupt there: sent again (included in chunks_sent) */
	bool checked;            /* the destination was checked (verify_dest or the fallback) */
	double seconds;
};

/* Copy the points to dst, skipping those it already has. 0, or the first
 * failure (-errno with a message naming the point and the chunk); the points
 * copied before a failure are complete at the destination and listed. */
int hs_replicate(const struct hs_replicate_opts *o, struct hs_replicate_stats *st);

/* The source st was last replicated from, as hs_replicate recorded it, into
 * where (cap bytes). 0, -ENOENT (st is no replica), -errno. */
int hs_replica_source(struct hs_store *st, char *where, size_t cap);
