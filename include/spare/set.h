/* The spare of a whole point: one spare engine (spare.h) per disk of the
 * point, served together by one daemon. The disks share the point's sources
 * (one set of seeds and store handles), one demand counter (hydration of any
 * disk stands aside while a reader of any disk waits) and one state
 * directory: the disk's own state for a point of one disk (as before
 * several disks), else one subdirectory per disk, STATE/disks/<disk>/. In the
 * mount a point of one disk is SERVER.img, else each disk is SERVER-DISK.img. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "spare/spare.h"
#include "store/point.h"

struct hs_spare_set {
	char server[HS_SERVER_MAX + 1];
	char id[HS_POINT_ID_LEN + 1];
	char *state_dir;          /* as given (the caller makes it absolute where it matters) */
	struct hs_sources src;    /* seeds, then the store; shared by every disk */
	atomic_int demand;        /* demand reads in progress on any disk */
	unsigned n;
	struct hs_spare *disk[HS_DISKS_MAX];
	char image[HS_DISKS_MAX][HS_SERVER_MAX + HS_DISK_MAX + 8]; /* file names in the mount */
};

/* Where disk name of a point of ndisks disks keeps its state under state. */
void hs_spare_set_disk_dir(const char *state, unsigned ndisks, const char *name, char *out, size_t cap);

/* Open the spare of point p (its header; the point of src's store) over the
 * state directory, taking ownership of src (also on failure). where names
 * the store in the state's record. With repair, a state whose disk.img was
 * cut is grown back (see hs_state_open_repair). 0, or -errno with a message
 * (a state of another point, server or disk, one in use, ...). */
int hs_spare_set_open(struct hs_sources *src, const struct hs_point *p, const char *state_dir,
		      const char *where, bool repair, struct hs_spare_set **out);

/* Stop every helper, flush and close every disk, close the sources. The
 * first failure of a flush, or 0. NULL is fine. */
int hs_spare_set_close(struct hs_spare_set *s);

/* Make every write to any disk durable. 0 or the first -errno. */
int hs_spare_set_flush(struct hs_spare_set *s);

/* How long a demand read may take on every disk. */
void hs_spare_set_deadline(struct hs_spare_set *s, int ms);

/* Start read-ahead (largest window readahead_bytes; 0: none) and hydration
 * (threads per disk; 0: none) on every disk, hydrating first the chunks of
 * each disk's boot trace (trace: a trace file for a point of one disk, or
 * NULL for each disk's recorded one). Failing helpers are reported on stderr
 * and left out: the spare works without them. */
void hs_spare_set_start(struct hs_spare_set *s, unsigned threads, uint64_t readahead_bytes, const char *trace);

/* Stop the helpers of every disk (the state is flushed by close). */
void hs_spare_set_stop(struct hs_spare_set *s);

/* The counters of every disk added up (rates too); per disk with hs_spare_status. */
void hs_spare_set_status(struct hs_spare_set *s, struct hs_spare_status *total);

/* The disk called name, or NULL. */
struct hs_spare *hs_spare_set_find(struct hs_spare_set *s, const char *name);
