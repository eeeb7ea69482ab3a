/* A spare: one point presented as a raw disk image whose blocks come from the
 * first place that has them: the state, then the seeds, then the store.
 * Every fetched chunk is checked against its digest before anyone reads it;
 * writes land in the state. This is the engine behind the FUSE file and is
 * usable (and tested) without FUSE. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "store/index.h"
#include "store/sources.h"
#include "spare/state.h"
#include "spare/table.h"

struct hs_inflight;

/* What works beside a spare's readers: hydration and read-ahead. The spare
 * engine knows them only through this interface (they call the spare; the
 * spare never names them), so the fetch side has one direction. */
struct hs_spare_helper {
	/* A reader reads chunks [first, last]; missed: first is not local and the
	 * reader is about to fetch it. NULL: not interested. */
	void (*note_read)(struct hs_spare_helper *h, uint64_t first, uint64_t last, bool missed);
	/* Bytes per second it fetched lately. NULL: none. */
	double (*rate)(struct hs_spare_helper *h);
	/* Stop its threads and free it. */
	void (*stop)(struct hs_spare_helper *h);
};

struct hs_spare {
	struct hs_index *ix;        /* the disk's fields; its digests are in table */
	struct hs_table *table;     /* the point's digests, kept in the state */
	struct hs_sources src;
	struct hs_state *state;
	/* fetch_lock protects the in-flight list; fetch_done is signalled when
	 * any fetch ends */
	pthread_mutex_t fetch_lock;
	pthread_cond_t fetch_done;
	struct hs_inflight *inflight;
	atomic_int demand_own;      /* demand reads in progress, when demand points here */
	/* Demand reads in progress (hydration yields while any runs): this
	 * spare's own counter, or one every disk of a point shares. */
	atomic_int *demand;
	bool src_borrowed;          /* src is the caller's: hs_spare_close leaves it open */
	atomic_uint_fast64_t from_seed, from_store; /* plain bytes fetched */
	atomic_uint_fast64_t hydrated;             /* plain bytes fetched by hydration */
	atomic_uint_fast64_t read_ahead;           /* plain bytes fetched by read-ahead */
	atomic_uint_fast64_t nlocal;               /* chunk positions held locally (and trusted) */
	atomic_uint_fast64_t nwritten;
	atomic_uint_fast64_t errors;
	/* Suspect chunks: held in the state by the map (present, or a zero
	 * chunk's hole) but not trusted until their bytes in disk.img are checked
	 * against the point (after an unclean stop, or asked by a scrub). One
	 * byte each; a suspect chunk is not local, so readers, writers and
	 * hydration fetch it, and the fetch checks it first and fetches it
	 * again only when it does not match. */
	uint8_t *suspect;
	atomic_uint_fast64_t nsuspect;  /* chunks still suspect */
	atomic_uint_fast64_t nbad;      /* suspect chunks found not to match the point */
	atomic_uint_fast64_t nrepaired; /* of those, replaced by a good copy */
	bool quiet;                 /* no line on stderr per chunk replaced (a command,
				     * not a daemon's log, is reporting) */
	bool mark_clean;            /* hs_spare_close may record a clean stop (not the
				     * copy a daemon's parent keeps after the fork) */
	char last_error[256];       /* guarded by fetch_lock */
	int demand_deadline_ms;     /* how long a demand read (all its chunks) may take */
	struct hs_spare_helper *hyd; /* hydration, or NULL; stopped by hs_spare_close */
	struct hs_spare_helper *ra;  /* read-ahead, or NULL; fed by readers, stopped by close */
	/* The boot trace: chunks fetched for readers, in first-fetch order
	 * (guarded by fetch_lock; recorded only once enabled). */
	bool tracing;
	uint64_t *trace;
	size_t ntrace, captrace;
	/* Chunks changed since the last checkpoint this daemon took (one byte
	 * each, set before every change, cleared by the checkpoint that reads
	 * them); valid only once a checkpoint was taken (cp_table). */
	uint8_t *touched;
	/* The last checkpoint's digests (STATE/checkpoint.digests), the base of
	 * the next one, or NULL: none yet (or it could not be kept). */
	struct hs_table *cp_table;
	atomic_int open_writers;  /* open read-write handles of the image (FUSE) */
	uint64_t data_bytes;      /* bytes of the point's non-zero chunks (st_blocks) */
};

/* Build a spare over an index with its digests, its sources and its state,
 * taking ownership of all three (also on failure). The digests move to the
 * state's table (STATE/digests, kept when it already holds them) and leave
 * memory (ix->digests is freed). 0 or -errno. */
int hs_spare_open(struct hs_index *ix, struct hs_sources *src, struct hs_state *state,
		  struct hs_spare **out);

/* The same over sources the caller keeps (several disks of a point share
 * one set of sources): they are neither closed on failure nor by
 * hs_spare_close. With table (the disk's, from hs_table_load; taken over
 * also on failure), ix needs no digests; without (NULL), as hs_spare_open. */
int hs_spare_open_shared(struct hs_index *ix, struct hs_table *table, const struct hs_sources *src,
			 struct hs_state *state, struct hs_spare **out);

/* Stop hydration, flush the state and free everything. Returns the flush's
 * result. A clean stop (the flush worked, nothing is left suspect, the state
 * is not damaged) is recorded in the state (see state.h). */
int hs_spare_close(struct hs_spare *sp);

/* Image size in bytes. */
static inline uint64_t hs_spare_size(const struct hs_spare *sp) { return sp->ix->image_size; }

/* Bytes of the point's non-zero chunks (what the image's st_blocks counts). */
static inline uint64_t hs_spare_data_bytes(const struct hs_spare *sp) { return sp->data_bytes; }

/* True if chunk i needs no fetch (held in the state, or a zero chunk). */
bool hs_spare_chunk_local(const struct hs_spare *sp, uint64_t i);

/* Make chunk i suspect if the state holds it from the point (present, or a
 * zero chunk's hole): it is checked before it is read again. Written chunks
 * (the guest's bytes: nothing to check them against) are left alone.
 * 1 if it became suspect, 0 if not. */
int hs_spare_suspect(struct hs_spare *sp, uint64_t i);

/* The state's image gave fewer bytes than a prepared read asked for: it was
 * cut. Marks the state damaged, counts an error and returns -EIO (the
 * reader gets an I/O error, never a short or zero reply). */
int hs_spare_image_short(struct hs_spare *sp);

/* Who wants a chunk fetched. */
enum hs_fetch {
	HS_FETCH_HYDRATE, /* background hydration: one try */
	HS_FETCH_AHEAD,   /* read-ahead: one try, skipped if already in flight */
	HS_FETCH_DEMAND,  /* a reader waits: retried until the demand deadline */
	HS_FETCH_SCRUB,   /* a scrub checks a suspect chunk: one try */
};

/* Make chunk i local, fetching it if needed; concurrent callers for the same
 * chunk share one fetch (except read-ahead, which does not wait for one).
 * Whatever the sources do, it returns within demand_deadline_ms (network
 * waits and waits for another's fetch included; -ETIMEDOUT past it).
 * 0, or -EIO (every copy missing or corrupt) / -errno. */
int hs_spare_ensure_chunk(struct hs_spare *sp, uint64_t i, enum hs_fetch kind);

/* Make every chunk in [off, off+len) local, so the bytes can be read from the
 * state's image file (hs_spare_image_fd), within demand_deadline_ms for the
 * whole range. 0 or -errno. */
int hs_spare_prepare_read(struct hs_spare *sp, uint64_t off, uint64_t len);

/* The state's image file, for reads of prepared ranges (zero-copy splice). */
int hs_spare_image_fd(const struct hs_spare *sp);

/* Read len bytes at off (clamped to the image). Bytes read or -errno. */
ssize_t hs_spare_read(struct hs_spare *sp, void *buf, size_t len, uint64_t off);

/* Write len bytes at off (within the image). 0 or -errno (-EFBIG past the end). */
int hs_spare_write(struct hs_spare *sp, const void *buf, size_t len, uint64_t off);

/* Make [off, off+len) read as zeros (a discard). 0 or -errno. */
int hs_spare_discard(struct hs_spare *sp, uint64_t off, uint64_t len);

/* Make every write so far durable (a guest flush). 0 or -errno. */
int hs_spare_flush(struct hs_spare *sp);

/* lseek SEEK_DATA / SEEK_HOLE on the image. Offset, or -ENXIO. */
int64_t hs_spare_seek(struct hs_spare *sp, uint64_t off, int whence);

struct hs_spare_status {
	uint64_t size, chunk_size, chunks_total, chunks_present, chunks_written;
	uint64_t bytes_from_seed, bytes_from_store, bytes_read_ahead, errors;
	uint64_t chunks_unchecked, chunks_repaired; /* suspect now; found bad and fetched again */
	double hydrate_bytes_per_s;
	bool hydrated; /* every chunk is local */
	char last_error[256];
};

/* Start recording the chunks demand reads fetch, in order (a boot trace). */
void hs_spare_trace_start(struct hs_spare *sp);

/* A copy of the trace so far (caller frees *out). 0 or -ENOMEM. */
int hs_spare_trace_get(struct hs_spare *sp, uint64_t **out, size_t *n);

/* A snapshot of the spare's counters. */
void hs_spare_status(struct hs_spare *sp, struct hs_spare_status *st);
