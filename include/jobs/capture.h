/* Taking a point: read every disk of a server in parallel (side by side, in
 * stripes), hash and compress each chunk, store the chunks the destination
 * lacks, then write the point. The point is written last, after every disk's
 * chunks are durable, so a capture that fails half-way leaves no point
 * naming a missing chunk; running it again skips the chunks that already
 * arrived. Chunks deduplicate across the disks of a server and across
 * servers (they are named by content). */
#pragma once
#include <stdint.h>
#include "store/index.h"
#include "basics/progress.h"
#include "store/point.h"
#include "store/store.h"

struct hs_capture_disk {
	const char *name;   /* disk name (HS_DISK_DEFAULT for a lone SOURCE) */
	const char *source; /* raw image or block device */
};

struct hs_capture_opts {
	struct hs_store *store; /* receives the point, and the chunks unless ship is set */
	struct hs_store *ship;  /* NULL, or the drive that receives a snapshot's chunks */
	const char *ship_at;    /* or (ship NULL) where that drive is to be made, once the
				 * server's lock is held: a refused capture makes no drive */
	const char *server;
	const struct hs_capture_disk *disks;
	unsigned ndisks;        /* 1 .. HS_DISKS_MAX */
	uint32_t kind;          /* HS_KIND_SNAPSHOT or HS_KIND_BACKUP */
	uint32_t consistency;   /* enum hs_consistency recorded in the point */
	unsigned threads;       /* 0: twice the CPUs (fsync waits overlap compression) */
	struct hs_progress *progress; /* NULL: none */
};

struct hs_capture_disk_stats {
	char name[HS_DISK_MAX + 1];
	uint64_t size, bytes_new, bytes_stored, bytes_zero, bytes_dedup;
};

struct hs_capture_stats {
	char id[HS_POINT_ID_LEN + 1];
	char base[HS_POINT_ID_LEN + 1]; /* snapshot a backup deduplicated against */
	uint64_t image_size;   /* all disks */
	uint64_t bytes_zero;   /* plain bytes in zero chunks */
	uint64_t bytes_dedup;  /* plain bytes of chunks already held */
	uint64_t bytes_new;    /* plain bytes of chunks written */
	uint64_t bytes_stored; /* compressed bytes written */
	uint64_t chunks_new;
	uint64_t chunks_repaired; /* known-bad chunks (badlist.h) stored again */
	double seconds;
	unsigned ndisks;
	struct hs_capture_disk_stats disks[HS_DISKS_MAX];
};

/* Check a capture's disks before anything is written: 1..HS_DISKS_MAX,
 * valid and distinct names, sources that open and have a size. 0, or
 * -errno with a one-line message. */
int hs_capture_check(const struct hs_capture_disk *disks, unsigned ndisks);

/* Capture opts->disks as a new point of opts->server.
 * 0, or -errno with a one-line message (unreadable source, busy server, I/O). */
int hs_capture(const struct hs_capture_opts *opts, struct hs_capture_stats *stats);
