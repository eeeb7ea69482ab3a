/* A spare's state directory: the blocks fetched and written (a sparse file the
 * image's size: once every chunk is present it is a complete raw image), the
 * map of which chunks are present or written, and the image's owner and mode.
 *
 *   STATE/state.json   server, point, disk, sizes, owner, mode (rewritten atomically)
 *   STATE/disk.img     the image's blocks
 *   STATE/map          one byte per chunk: 0 absent, 1 present, 2 written
 *   STATE/lock         flock'ed by the daemon that uses the state
 *   STATE/clean        present only while the state is closed and was closed
 *                      cleanly (every present chunk checked or fetched by the
 *                      daemon that closed it): removed when it is opened, so
 *                      its absence at the next open tells of a crash or kill
 *
 * Durability: a map byte is made durable only after the data it vouches for
 * (fdatasync of disk.img first), except present->written, which is made
 * durable before the guest's data lands so a crash never hides a change. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "basics/gsync.h"
#include "store/index.h"

enum hs_chunk_state { HS_ABSENT = 0, HS_PRESENT = 1, HS_WRITTEN = 2 };

struct hs_dirty {
	uint64_t i;
	uint8_t v;
};

struct hs_state {
	char *dir;
	int dirfd;
	int image_fd;  /* disk.img, read-write */
	int map_fd;
	int lock_fd;
	uint64_t nchunks;
	uint8_t *map;      /* in memory: current state of each chunk (atomic bytes) */
	uint8_t *durable;  /* what the map file holds (written to it; synced for
			    * every byte a caller relies on) */
	/* map_lock protects durable[], the dirty list and writes to the map file */
	pthread_mutex_t map_lock;
	/* Syncs of disk.img and of the map, shared by concurrent callers (a
	 * guest writing into many chunks at once, a flush beside them). */
	struct hs_gsync image_sync, map_sync;
	struct hs_dirty *dirty; /* map changes not yet in the map file */
	size_t ndirty, capdirty;
	/* flush_lock serialises flushes, so a flush that returns covers every
	 * change made before it started */
	pthread_mutex_t flush_lock;
	/* attr_lock protects uid, gid, mode and state.json */
	pthread_mutex_t attr_lock;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	char server[HS_SERVER_MAX + 1];
	char point[HS_POINT_ID_LEN + 1];
	char disk[HS_DISK_MAX + 1];  /* which disk of the point */
	char *store;          /* where the point came from, for the record */
	uint64_t image_size;
	uint32_t chunk_size;
	/* Opened after an unclean stop (no STATE/clean): the bytes of present
	 * chunks in disk.img are to be checked before they are trusted. */
	bool unclean;
	/* Set (for good) once disk.img is found shorter than the image: cut by
	 * something other than hotspare. Nothing is read or vouched for then. */
	int damaged;
	char damage[320]; /* why, written before damaged is set */
};

struct hs_place;

/* Refuse a place where a spare's state (what names it: "the state", "the
 * work directory") could not safely live: at or under a FUSE mount (its own
 * or another spare's: the daemon would wait on itself), overlapping the
 * mountpoint (NULL: none) either way, or overlapping a store or seed it
 * reads. The mountpoint must not hold or lie in what it reads either.
 * Nothing is created. 0, or -EINVAL with a one-line message. */
int hs_state_check_place(const char *what, const char *dir, const char *mountpoint,
			 const struct hs_place *reads, size_t n);

/* Refuse (-EPERM, one line) the state directory dir, open as dirfd, when
 * every user may write to it, or to a directory above it that has no sticky
 * bit (by its name as given and as resolved). */
int hs_state_dir_check(int dirfd, const char *dir);

/* Open the state directory for the point ix, creating it if empty or missing.
 * Refuses (-EINVAL, one line) a state of another server or point or with
 * different sizes, and (-EBUSY) one in use by another daemon; a refused
 * state is left unchanged. where is the store's location, for the record. */
int hs_state_open(const char *dir, const struct hs_index *ix, const char *where,
		  struct hs_state **out);

/* hs_state_open, but a disk.img that something cut short is grown back to
 * the image's size and the state treated as after an unclean stop (every
 * chunk it holds checked before use); refused (-EIO) when chunks the guest
 * wrote were in the part cut off. For scrub. */
int hs_state_open_repair(const char *dir, const struct hs_index *ix, const char *where,
			 struct hs_state **out);

/* What a state is for, from its state.json (read without the lock). */
struct hs_state_desc {
	char server[HS_SERVER_MAX + 1];
	char point[HS_POINT_ID_LEN + 1];
	char disk[HS_DISK_MAX + 1]; /* "" in a state made before disks had names */
	char *store; /* where its point came from (caller frees) */
};
int hs_state_describe(const char *dir, struct hs_state_desc *d);

/* Record the calling process as the one holding the state's lock, for the
 * "in use by" message: hs_state_open records its caller; a daemon that
 * forked keeps the lock (its descriptor is inherited) and records itself.
 * 0 or -errno. */
int hs_state_own(struct hs_state *s);

/* Check that disk.img still holds the whole image (its size). 0, or -EIO
 * with a message; the state is then damaged for good (every later check and
 * flush fails the same way). */
int hs_state_check_image(struct hs_state *s);

/* True once the state is known damaged (see hs_state_check_image). */
static inline bool hs_state_damaged(const struct hs_state *s)
{
	return __atomic_load_n(&s->damaged, __ATOMIC_ACQUIRE) != 0;
}

/* Record that the state is being closed cleanly (STATE/clean): call after a
 * successful final flush, when every present chunk is checked. 0 or -errno. */
int hs_state_mark_clean(struct hs_state *s);

/* Close the state (flush first with hs_state_flush). NULL is fine. */
void hs_state_close(struct hs_state *s);

/* Current state of chunk i. */
static inline uint8_t hs_state_get(const struct hs_state *s, uint64_t i)
{
	return __atomic_load_n(&s->map[i], __ATOMIC_ACQUIRE);
}

/* Record in memory that chunk i now holds data (present or written); the map
 * file learns it at the next hs_state_flush, after the data is durable. */
int hs_state_set(struct hs_state *s, uint64_t i, uint8_t st);

/* Chunk i (present or about to be made present) is about to be changed by
 * the guest: make "written" durable first (syncing the image before, if the
 * chunk's present bit is not durable yet). 1 if this call changed the chunk
 * to written, 0 if it already was, or -errno. Calls for one chunk must not
 * overlap (the spare claims the chunk around it); calls for different
 * chunks share their syncs. */
int hs_state_mark_written(struct hs_state *s, uint64_t i, bool nonzero_base);

/* Make everything written so far durable: fdatasync the image, then write and
 * fdatasync the changed map bytes. 0 or -errno (-EIO without writing the map
 * once the image is damaged: the map must not vouch for lost data). */
int hs_state_flush(struct hs_state *s);

/* Change the image's owner or mode, kept in state.json. 0 or -errno. */
int hs_state_set_attr(struct hs_state *s, uid_t uid, gid_t gid, mode_t mode);
