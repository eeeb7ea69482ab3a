/* Taking a point: read a SOURCE image in parallel, hash and compress each
 * chunk, store the chunks the destination lacks, then write the index.
 * The index is written last, after the chunks are durable, so a capture that
 * fails half-way leaves no point naming a missing chunk; running it again
 * skips the chunks that already arrived. */
#pragma once
#include <stdint.h>
#include "store/index.h"
#include "basics/progress.h"
#include "store/store.h"

struct hs_capture_opts {
	struct hs_store *store; /* receives the index, and the chunks unless ship is set */
	struct hs_store *ship;  /* NULL, or the drive that receives a snapshot's chunks */
	const char *server;
	const char *source;     /* raw image or block device */
	uint32_t kind;          /* HS_KIND_SNAPSHOT or HS_KIND_BACKUP */
	unsigned threads;       /* 0: twice the CPUs (fsync waits overlap compression) */
	struct hs_progress *progress; /* NULL: none */
};

struct hs_capture_stats {
	char id[HS_POINT_ID_LEN + 1];
	char base[HS_POINT_ID_LEN + 1]; /* snapshot a backup deduplicated against */
	uint64_t image_size;
	uint64_t bytes_zero;   /* plain bytes in zero chunks */
	uint64_t bytes_dedup;  /* plain bytes of chunks already held */
	uint64_t bytes_new;    /* plain bytes of chunks written */
	uint64_t bytes_stored; /* compressed bytes written */
	uint64_t chunks_new;
	uint64_t chunks_repaired; /* known-bad chunks (badlist.h) stored again */
	double seconds;
};

/* Capture opts->source as a new point of opts->server.
 * 0, or -errno with a one-line message (unreadable source, busy server, I/O). */
int hs_capture(const struct hs_capture_opts *opts, struct hs_capture_stats *stats);
