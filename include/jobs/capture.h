/* Taking a point: read every disk of a server in parallel (side by side, in
 * stripes), hash and compress each chunk, store the chunks the destination
 * lacks, then write the point. The point is written last, after every disk's
 * chunks are durable, so a capture that fails half-way leaves no point
 * naming a missing chunk; running it again skips the chunks that already
 * arrived. Chunks deduplicate across the disks of a server and across
 * servers (they are named by content). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "store/index.h"
#include "basics/progress.h"
#include "store/point.h"
#include "store/store.h"

/* A disk read through callbacks rather than opened as a file or device: a
 * running VM's disk exported by its hypervisor (vm/live.h). The callbacks
 * are called from several threads at once. */
struct hs_capture_reader {
	void *ctx;
	uint64_t size;
	/* Read exactly len bytes at off into buf. 0, or -errno with a message. */
	int (*read)(void *ctx, void *buf, uint32_t len, uint64_t off);
	/* Optional: 1 if [off, off + len) is known to read as zeros without
	 * reading it (a hole the source reports), 0 if not, -errno. */
	int (*zero)(void *ctx, uint64_t off, uint32_t len);
	/* Optional (NULL: the disk is read whole): 0 if [off, off + len) has
	 * not changed since the point opts->since, whose table then gives its
	 * chunk; 1 if it may have; -errno. */
	int (*changed)(void *ctx, uint64_t off, uint32_t len);
};

struct hs_capture_disk {
	const char *name;   /* disk name (HS_DISK_DEFAULT for a lone SOURCE) */
	const char *source; /* raw image or block device; with reader, what names it in messages */
	const struct hs_capture_reader *reader; /* NULL: source is opened and read */
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
	/* The new point's id (hs_capture_next_id), NULL: chosen under the lock. */
	const char *id;
	/* A point of the server whose disk of each name gives the chunks a
	 * reader's changed() calls unchanged (it must have that disk, of the
	 * same size); NULL: every disk is read whole. */
	const char *since;
	bool locked;            /* the caller holds the server's lock in store */
	/* Called once every chunk has been read, before the store's final
	 * sync (NULL: nothing): a live capture lets its backup job go there,
	 * beside the sync, rather than after it. */
	void (*read_all)(void *ctx);
	void *read_all_ctx;
};

struct hs_capture_disk_stats {
	char name[HS_DISK_MAX + 1];
	uint64_t size, bytes_new, bytes_stored, bytes_zero, bytes_dedup;
	uint64_t bytes_read;      /* size less bytes_unchanged: what was read or known zero */
	uint64_t bytes_unchanged; /* taken from the point since, unread */
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
	uint64_t bytes_read;      /* all disks: size less what was taken unread from since */
	char since[HS_POINT_ID_LEN + 1]; /* the point unchanged chunks came from, or "" */
	double seconds;
	unsigned ndisks;
	struct hs_capture_disk_stats disks[HS_DISKS_MAX];
};

/* Check a capture's disks before anything is written: 1..HS_DISKS_MAX,
 * valid and distinct names, sources that open and have a size. 0, or
 * -errno with a one-line message. */
int hs_capture_check(const struct hs_capture_disk *disks, unsigned ndisks);

/* How consistent a capture of disks would be: HS_CRASH_CONSISTENT when no
 * one writes them as they are read (image files, block devices neither
 * mounted read-write nor held by a VM or a stacked device), HS_TORN when one
 * is in use and allow_torn; else -EBUSY with one line naming the device, who
 * uses it and the safe ways to capture it. 0 with *out set, or -errno. */
int hs_capture_consistency(const struct hs_capture_disk *disks, unsigned ndisks, bool allow_torn, uint32_t *out);

/* The id a capture of server would take now: the current time, or one
 * second past the newest point when the clock is behind. 0 or -errno. */
int hs_capture_next_id(struct hs_store *st, const char *server, char out[HS_POINT_ID_LEN + 1]);

/* Capture opts->disks as a new point of opts->server.
 * 0, or -errno with a one-line message (unreadable source, busy server, I/O). */
int hs_capture(const struct hs_capture_opts *opts, struct hs_capture_stats *stats);
