/* Live capture of a running libvirt domain: every disk at one instant, read
 * through libvirt's backup API in pull mode (an NBD export on a unix socket
 * in a private directory, read with libnbd: vm/nbd.h), the guest's
 * filesystems frozen by its agent for the instant the backup starts when
 * asked. Each capture leaves a checkpoint named after its point
 * ("hotspare-SERVER-ID"); the next backup reads only what changed since the
 * checkpoint of the store's newest point (dirty bitmaps) and takes the rest
 * from that point, or reads every disk whole, saying why, when it cannot.
 * Checkpoints no point needs are deleted. Whatever fails, no backup job,
 * checkpoint of a point not written, socket or scratch file stays behind;
 * one left by a capture that was killed is cleared by the next. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "jobs/capture.h"

struct hs_live_opts {
	const char *uri;    /* libvirt connection URI; NULL: libvirt's default */
	const char *domain; /* name or UUID */
	bool quiesce;       /* freeze the guest's filesystems through its agent */
	/* store, ship, server, kind, threads and progress as for hs_capture;
	 * the disks, consistency, id, since and lock are the live capture's. */
	struct hs_capture_opts cap;
	const char *work_dir; /* for the private directory; NULL: $HOTSPARE_WORK_DIR or /var/tmp */
	void (*warn)(const char *line); /* one-line warnings (a full read and why); NULL: none */
};

struct hs_live_stats {
	struct hs_capture_stats cap;
	uint64_t nbd_bytes;     /* read over NBD */
	uint64_t dirty_bytes;   /* what the dirty bitmaps called changed */
	unsigned frozen;        /* filesystems the agent froze */
	double freeze_seconds;  /* from the agent's freeze answer to its thaw answer */
	double begin_seconds;   /* starting the backup job */
	/* Where the time went: libvirt, the store's points and the plan up to
	 * the job; the job started and its exports opened; the capture (read,
	 * hash, compress, store, the point written); the job ended and old
	 * checkpoints deleted. */
	double setup_seconds, start_seconds, capture_seconds, finish_seconds;
	char checkpoint[96];    /* the checkpoint left for the next backup, or "" */
};

/* Capture the running domain o->domain as a new point of o->cap.server.
 * Backups read incrementally when they can; snapshots read every disk.
 * 0, or -errno with a one-line message (no such domain, not running, no
 * guest agent answering --quiesce, another backup job running, I/O, -EINTR
 * when a signal caught by basics/interrupt stopped it). */
int hs_live_capture(const struct hs_live_opts *o, struct hs_live_stats *s);
