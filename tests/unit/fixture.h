/* The unit tests' fixture (test code only): a temporary directory with the
 * paths of a store, two seeds and a state in it (created or not, as each
 * set-up says); hand-made chunks and point indexes; a generated image with
 * zero chunks and a short last chunk, written by hand into a store as chunks
 * plus a point index, and a spare opened over it. With UT_WRAP_IO defined
 * (the test is linked with -Wl,--wrap=hs_store_chunk_get,--wrap=fdatasync,
 * --wrap=fsync) a fault layer counts, delays or fails chunk reads and records
 * what each sync made durable. */
#pragma once
#include "unit.h"
#include "basics/clock.h"
#include "basics/deadline.h"
#include "store/chunk.h"
#include "spare/hydrate.h"
#include "store/index.h"
#include "store/sources.h"
#include "spare/spare.h"
#include "spare/state.h"
#include "store/store.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define CS 65536u
#define NFULL 40u                        /* full chunks */
#define TAIL 12345u                      /* bytes in the short last chunk */
#define IMG_SIZE ((uint64_t)NFULL * CS + TAIL)
#define NCHUNKS (NFULL + 1u)
#define SERVER "mail01"
#define T0 1700000000                    /* the point's time */

/* Zero chunks of the generated image; every other chunk has data. */
static inline bool fx_zero_chunk(uint64_t i)
{
	return i == 3 || i == 4 || i == 20 || (i >= 30 && i <= 33);
}

static inline uint32_t fx_chunk_len(uint64_t i)
{
	return i == NFULL ? TAIL : CS;
}

/* The image: random chunks, zero chunks where fx_zero_chunk says, chunk 10
 * half zeros, chunks 15 and 16 equal (one digest at two positions). */
static inline unsigned char *fx_make_image(uint64_t seed)
{
	unsigned char *img = calloc(1, IMG_SIZE);
	assert_non_null(img);
	for (uint64_t i = 0; i < NCHUNKS; i++) {
		if (fx_zero_chunk(i))
			continue;
		uint64_t s = i == 16 ? 15 : i;
		ut_fill(img + i * CS, fx_chunk_len(i), seed * 1000 + s + 1);
		if (i == 10)
			memset(img + i * CS, 0, CS / 2);
	}
	return img;
}

/* Put len plain bytes into the store at where under the digest of as (a
 * corrupt copy when as differs from plain). */
static inline void fx_put_chunk(const char *where, const void *plain, const void *as, size_t len)
{
	struct hs_digest d;
	hs_digest_compute(as, len, &d);
	struct hs_buf z = { 0 };
	assert_int_equal(hs_chunk_encode(NULL, NULL, plain, len, HS_ZSTD_LEVEL, &z), 0);
	struct hs_store *st;
	assert_int_equal(hs_store_open(where, &st), 0);
	assert_true(hs_store_chunk_put(st, &d, z.data, z.len) >= 0);
	assert_int_equal(hs_store_sync(st), 0);
	hs_store_close(st);
	hs_buf_free(&z);
}

/* Remove chunk i of img from the store at where (so it is missing there). */
static inline void fx_drop_chunk(const char *where, const unsigned char *img, uint64_t i)
{
	struct hs_digest d;
	hs_digest_compute(img + i * CS, fx_chunk_len(i), &d);
	char key[96];
	hs_chunk_key(&d, false, key);
	char *p = ut_path(where, key);
	assert_int_equal(unlink(p), 0);
	free(p);
}

/* A hand-made index of a snapshot of server at time t, every chunk zero. */
static inline struct hs_index *fx_index(const char *server, time_t t, uint64_t size, uint32_t cs)
{
	struct hs_index *ix;
	assert_int_equal(hs_index_new(size, cs, &ix), 0);
	snprintf(ix->server, sizeof ix->server, "%s", server);
	hs_point_id_format(t, ix->id);
	ix->kind = HS_KIND_SNAPSHOT;
	ix->time = t;
	return ix;
}

/* Write the point of img (IMG_SIZE bytes) at time t into the store at where:
 * the chunks for which want(i) is true (all when NULL), then the index. The
 * point id goes to id. */
static inline void fx_put_point(const char *where, const unsigned char *img, uint64_t size,
				const char *server, time_t t, bool (*want)(uint64_t),
				char id[HS_POINT_ID_LEN + 1])
{
	struct hs_index *ix = fx_index(server, t, size, CS);
	for (uint64_t i = 0; i < ix->nchunks; i++) {
		uint32_t len = hs_index_chunk_len(ix, i);
		if (hs_is_zero(img + i * CS, len))
			continue; /* zero digest */
		hs_digest_compute(img + i * CS, len, &ix->digests[i]);
		if (!want || want(i))
			fx_put_chunk(where, img + i * CS, img + i * CS, len);
	}
	struct hs_store *st;
	assert_int_equal(hs_store_open(where, &st), 0);
	assert_int_equal(hs_store_point_put1(st, ix), 0);
	hs_store_close(st);
	if (id)
		memcpy(id, ix->id, HS_POINT_ID_LEN + 1);
	hs_index_free(ix);
}

/* Read a point's index from the store at where. */
static inline struct hs_index *fx_get_index(const char *where, const char *server, const char *id)
{
	struct hs_store *st;
	assert_int_equal(hs_store_open(where, &st), 0);
	struct hs_index *ix = NULL;
	assert_int_equal(hs_store_point_get(st, server, id, NULL, &ix), 0);
	hs_store_close(st);
	return ix;
}

/* A temporary directory and the paths in it: dir/store, dir/seed,
 * dir/seed2, dir/state; img and id once a point is written. */
struct fx {
	char *dir, *store, *seed, *seed2, *state;
	unsigned char *img;
	char id[HS_POINT_ID_LEN + 1];
};

/* The directory and the paths only: nothing is created in it. */
static inline int fx_setup_dirs(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f || !(f->dir = ut_tmpdir()))
		return -1;
	f->store = ut_path(f->dir, "store");
	f->seed = ut_path(f->dir, "seed");
	f->seed2 = ut_path(f->dir, "seed2");
	f->state = ut_path(f->dir, "state");
	hs_err_clear();
	*state = f;
	return 0;
}

/* The paths, with empty stores at store, seed and seed2. */
static inline int fx_setup_stores(void **state)
{
	if (fx_setup_dirs(state) < 0)
		return -1;
	struct fx *f = *state;
	if (hs_store_init(f->store, CS) || hs_store_init(f->seed, CS) || hs_store_init(f->seed2, CS))
		return -1;
	hs_err_clear();
	return 0;
}

/* The usual layout: the stores, with the point of a generated image (every
 * chunk) in dir/store. */
static inline int fx_setup(void **state)
{
	if (fx_setup_stores(state) < 0)
		return -1;
	struct fx *f = *state;
	f->img = fx_make_image(1);
	fx_put_point(f->store, f->img, IMG_SIZE, SERVER, T0, NULL, f->id);
	hs_err_clear();
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	ut_rm_rf(f->dir);
	free(f->dir);
	free(f->store);
	free(f->seed);
	free(f->seed2);
	free(f->state);
	free(f->img);
	free(f);
	return 0;
}

/* Open a spare of point server@id of the store at where, over state_dir,
 * with the given seeds. The result of the first step that failed, or 0. */
static inline int fx_open_at(const char *where, const char *server, const char *id,
			     const char *state_dir, char **seeds, size_t nseeds, struct hs_spare **out)
{
	struct hs_index *ix = fx_get_index(where, server, id);
	struct hs_store *st;
	assert_int_equal(hs_store_open(where, &st), 0);
	struct hs_sources src;
	int r = hs_sources_open(st, seeds, nseeds, &src);
	if (r < 0) {
		hs_index_free(ix);
		return r;
	}
	struct hs_state *s;
	r = hs_state_open(state_dir, ix, where, &s);
	if (r < 0) {
		hs_sources_close(&src);
		hs_index_free(ix);
		return r;
	}
	return hs_spare_open(ix, &src, s, out);
}

static inline int fx_try_open(struct fx *f, const char *state_dir, char **seeds, size_t nseeds,
			      struct hs_spare **out)
{
	return fx_open_at(f->store, SERVER, f->id, state_dir, seeds, nseeds, out);
}

static inline struct hs_spare *fx_open(struct fx *f, const char *state_dir, char **seeds, size_t nseeds)
{
	struct hs_spare *sp = NULL;
	int r = fx_try_open(f, state_dir, seeds, nseeds, &sp);
	if (r < 0)
		fail_msg("opening the spare failed: %d (%s)", r, hs_err_msg() ? hs_err_msg() : "");
	assert_non_null(sp);
	return sp;
}

static inline struct hs_spare *fx_open_plain(struct fx *f)
{
	return fx_open(f, f->state, NULL, 0);
}

/* Read [off, off+len) through the spare and compare with want. */
static inline void fx_expect(struct hs_spare *sp, uint64_t off, size_t len, const unsigned char *want)
{
	unsigned char *got = malloc(len ? len : 1);
	assert_non_null(got);
	memset(got, 0xa5, len);
	hs_err_clear();
	ssize_t n = hs_spare_read(sp, got, len, off);
	if (n != (ssize_t)len)
		fail_msg("read of %zu bytes at %llu returned %zd (%s)", len, (unsigned long long)off, n,
			 hs_err_msg() ? hs_err_msg() : "");
	for (size_t k = 0; k < len; k++)
		if (got[k] != want[k])
			fail_msg("read at %llu: byte %llu (chunk %llu) is %#x, expected %#x",
				 (unsigned long long)off, (unsigned long long)(off + k),
				 (unsigned long long)((off + k) / CS), got[k], want[k]);
	free(got);
}

static inline struct hs_spare_status fx_status(struct hs_spare *sp)
{
	struct hs_spare_status st;
	hs_spare_status(sp, &st);
	return st;
}

/* Plain bytes of the non-zero chunks in [a, b). */
static inline uint64_t fx_data_bytes(uint64_t a, uint64_t b)
{
	uint64_t n = 0;
	for (uint64_t i = a; i < b && i < NCHUNKS; i++)
		if (!fx_zero_chunk(i))
			n += fx_chunk_len(i);
	return n;
}

/* The bytes of the state's map file (NCHUNKS of them). */
static inline unsigned char *fx_map_file(const char *state_dir)
{
	char *p = ut_path(state_dir, "map");
	size_t n;
	unsigned char *m = ut_read_file(p, &n);
	free(p);
	assert_non_null(m);
	assert_int_equal(n, NCHUNKS);
	return m;
}

static inline void fx_copy_file(const char *from_dir, const char *to_dir, const char *name)
{
	char *a = ut_path(from_dir, name), *b = ut_path(to_dir, name);
	size_t n;
	unsigned char *d = ut_read_file(a, &n);
	assert_non_null(d);
	assert_int_equal(ut_write_file(b, d, n), 0);
	free(d);
	free(a);
	free(b);
}

#ifdef UT_WRAP_IO
/* ---- fault layer: wraps hs_store_chunk_get and the syncs ---- */
int __real_hs_store_chunk_get(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out);
int __real_fdatasync(int fd);
int __real_fsync(int fd);

static struct {
	atomic_int gets;        /* calls to hs_store_chunk_get */
	atomic_int inflight;    /* calls under way */
	atomic_int max_inflight;
	atomic_int delay_ms;    /* added to every call */
	atomic_bool deadline_aware; /* the delay ends at the thread's deadline (-ETIMEDOUT), as HTTP's does */
	atomic_int fail_n;      /* fail this many more calls (-1: every call) ... */
	atomic_int fail_err;    /* ... with -fail_err */
	/* durability recorder: copies of the tracked file as of each sync */
	pthread_mutex_t lock;
	char track[4096];       /* realpath of the file to track, "" for none */
	unsigned char *durable; /* its content as of the last sync that began */
	size_t ndurable;
	int nsyncs;
	char log[64][16];       /* names of the files synced, in order */
	int nlog;
} fault = { .lock = PTHREAD_MUTEX_INITIALIZER };

static inline void fault_reset(void)
{
	atomic_store(&fault.gets, 0);
	atomic_store(&fault.inflight, 0);
	atomic_store(&fault.max_inflight, 0);
	atomic_store(&fault.delay_ms, 0);
	atomic_store(&fault.deadline_aware, false);
	atomic_store(&fault.fail_n, 0);
	atomic_store(&fault.fail_err, 0);
	pthread_mutex_lock(&fault.lock);
	fault.track[0] = 0;
	free(fault.durable);
	fault.durable = NULL;
	fault.ndurable = 0;
	fault.nsyncs = 0;
	fault.nlog = 0;
	pthread_mutex_unlock(&fault.lock);
}

int __wrap_hs_store_chunk_get(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out);
int __wrap_hs_store_chunk_get(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out)
{
	atomic_fetch_add(&fault.gets, 1);
	int now = atomic_fetch_add(&fault.inflight, 1) + 1, max = atomic_load(&fault.max_inflight);
	while (now > max && !atomic_compare_exchange_weak(&fault.max_inflight, &max, now))
		;
	int ms = atomic_load(&fault.delay_ms);
	int64_t left = atomic_load(&fault.deadline_aware) ? hs_deadline_left_ms() : -1;
	if (ms > 0 && left >= 0 && left < ms) {
		usleep((useconds_t)left * 1000);
		atomic_fetch_sub(&fault.inflight, 1);
		return -ETIMEDOUT;
	}
	if (ms > 0)
		usleep((useconds_t)ms * 1000);
	int r, n = atomic_load(&fault.fail_n);
	for (;;) {
		if (n == 0) {
			r = __real_hs_store_chunk_get(st, d, out);
			break;
		}
		if (n < 0 || atomic_compare_exchange_weak(&fault.fail_n, &n, n - 1)) {
			r = -atomic_load(&fault.fail_err);
			break;
		}
	}
	atomic_fetch_sub(&fault.inflight, 1);
	return r;
}

/* Record a sync of fd: its base name in the log, and for the tracked file a
 * copy of its content (what a crash right after this sync would keep). */
static inline void fault_before_sync(int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return;
	path[n] = 0;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	pthread_mutex_lock(&fault.lock);
	if (fault.nlog < 64) {
		size_t bl = strlen(base) < sizeof fault.log[0] - 1 ? strlen(base) : sizeof fault.log[0] - 1;
		memcpy(fault.log[fault.nlog], base, bl);
		fault.log[fault.nlog++][bl] = 0;
	}
	if (fault.track[0] && strcmp(path, fault.track) == 0) {
		struct stat s;
		if (fstat(fd, &s) == 0) {
			unsigned char *b = malloc((size_t)s.st_size + 1);
			if (b && pread(fd, b, (size_t)s.st_size, 0) == s.st_size) {
				free(fault.durable);
				fault.durable = b;
				fault.ndurable = (size_t)s.st_size;
				fault.nsyncs++;
			} else {
				free(b);
			}
		}
	}
	pthread_mutex_unlock(&fault.lock);
}

int __wrap_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	fault_before_sync(fd);
	return __real_fdatasync(fd);
}

int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
	fault_before_sync(fd);
	return __real_fsync(fd);
}

/* Set-up and tear-down for tests linked with the fault layer. */
static inline int fault_setup(void **state)
{
	fault_reset();
	return fx_setup(state);
}

static inline int fault_teardown(void **state)
{
	fault_reset();
	return fx_teardown(state);
}

/* Track the file at path: from now on, each sync of it records its content. */
static inline void fault_track(const char *path)
{
	char real[4096];
	assert_non_null(realpath(path, real));
	pthread_mutex_lock(&fault.lock);
	snprintf(fault.track, sizeof fault.track, "%s", real);
	free(fault.durable);
	/* What is there now was made durable when the state was created. */
	size_t n;
	fault.durable = ut_read_file(path, &n);
	fault.ndurable = n;
	fault.nsyncs = 0;
	pthread_mutex_unlock(&fault.lock);
}

/* Build dst as a host crash right now could leave src: disk.img as of its
 * last sync (nothing written since reached the disk), map and state.json as
 * they are now (everything written to them did). */
static inline void fault_crash_copy(const char *src, const char *dst)
{
	assert_int_equal(mkdir(dst, 0700), 0);
	char *img = ut_path(dst, "disk.img");
	pthread_mutex_lock(&fault.lock);
	assert_non_null(fault.durable);
	assert_int_equal(ut_write_file(img, fault.durable, fault.ndurable), 0);
	pthread_mutex_unlock(&fault.lock);
	free(img);
	fx_copy_file(src, dst, "map");
	fx_copy_file(src, dst, "state.json");
}
#endif
