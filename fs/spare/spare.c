/* The spare engine; see spare.h. */
#include "spare/spare.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/deadline.h"
#include "basics/device.h"
#include "basics/err.h"
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* One chunk being fetched (or claimed by a whole-chunk write); others wait. */
struct hs_inflight {
	uint64_t i;
	int refs;  /* the owner plus its waiters */
	bool demand; /* the owner retried transient errors until the demand deadline */
	bool done;
	int err;
	struct hs_inflight *next;
};

/* Buffers for a fetch: one chunk of plain bytes and its stored form. They
 * come from one pool for the process and go back after each fetch, so they
 * number as many as fetches ran at once lately, not as many threads as ever
 * fetched (16 read-ahead threads, FUSE's pool): a buffer idle for
 * POOL_IDLE_S seconds is freed by the next trim (a flush or a fetch's end,
 * at most once a second), which matters when fifty daemons share a host. */
struct fbuf {
	void *plain;
	size_t cap; /* bytes at plain: spares of different chunk sizes share the pool */
	struct hs_buf z;
	double idle_since;
	struct fbuf *next;
};
#define POOL_IDLE_S 2.0
/* pool_lock protects pool: the idle buffers, the most recently used first */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fbuf *pool;
static _Atomic double pool_trimmed; /* hs_now_s() of the last trim */

static void fbuf_free(struct fbuf *b)
{
	free(b->plain);
	hs_buf_free(&b->z);
	free(b);
}

static struct fbuf *fbuf_get(size_t chunk_size)
{
	struct fbuf *b;
	{
		HS_LOCK_SCOPE(&pool_lock);
		if ((b = pool))
			pool = b->next;
	}
	if (!b && !(b = calloc(1, sizeof *b)))
		return NULL;
	if (b->cap < chunk_size) {
		void *p = realloc(b->plain, chunk_size);
		if (!p) {
			fbuf_free(b);
			return NULL;
		}
		b->plain = p;
		b->cap = chunk_size;
	}
	return b;
}

/* Free the buffers idle for long enough (at most once a second). */
static void pool_trim(void)
{
	double now = hs_now_s();
	if (now - atomic_load(&pool_trimmed) < 1.0)
		return;
	atomic_store(&pool_trimmed, now);
	struct fbuf *old;
	{
		HS_LOCK_SCOPE(&pool_lock);
		struct fbuf **p = &pool;
		while (*p && now - (*p)->idle_since < POOL_IDLE_S)
			p = &(*p)->next;
		old = *p; /* the rest were used before these: idle longer */
		*p = NULL;
	}
	if (!old)
		return;
	while (old) {
		struct fbuf *next = old->next;
		fbuf_free(old);
		old = next;
	}
	/* Freed chunks sit in malloc's arenas until trimmed. */
	malloc_trim(0);
}

static void fbuf_put(struct fbuf *b)
{
	b->idle_since = hs_now_s();
	{
		HS_LOCK_SCOPE(&pool_lock);
		b->next = pool;
		pool = b;
	}
	pool_trim();
}

static bool zero_chunk(const struct hs_spare *sp, uint64_t i)
{
	return hs_table_zero(sp->table, i);
}

/* Held in the state by the map, trusted or not. */
static bool held(const struct hs_spare *sp, uint64_t i)
{
	return hs_state_get(sp->state, i) != HS_ABSENT || zero_chunk(sp, i);
}

static bool suspect(const struct hs_spare *sp, uint64_t i)
{
	return __atomic_load_n(&sp->suspect[i], __ATOMIC_ACQUIRE) != 0;
}

bool hs_spare_chunk_local(const struct hs_spare *sp, uint64_t i)
{
	return held(sp, i) && !suspect(sp, i);
}

int hs_spare_suspect(struct hs_spare *sp, uint64_t i)
{
	uint8_t st = hs_state_get(sp->state, i);
	if (st == HS_WRITTEN || (st == HS_ABSENT && !zero_chunk(sp, i)))
		return 0;
	uint8_t no = 0;
	if (!__atomic_compare_exchange_n(&sp->suspect[i], &no, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;
	atomic_fetch_sub(&sp->nlocal, 1);
	atomic_fetch_add(&sp->nsuspect, 1);
	return 1;
}

/* The chunk's bytes are trusted again (checked, fetched again or overwritten). */
static void unsuspect(struct hs_spare *sp, uint64_t i)
{
	uint8_t yes = 1;
	if (__atomic_compare_exchange_n(&sp->suspect[i], &yes, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		atomic_fetch_sub(&sp->nsuspect, 1);
		atomic_fetch_add(&sp->nlocal, 1);
	}
}

static void count_error(struct hs_spare *sp, int err);

/* Count an error in the status, with the current message. */
static void note_error(struct hs_spare *sp, int err)
{
	HS_LOCK_SCOPE(&sp->fetch_lock);
	count_error(sp, err);
}

int hs_spare_image_short(struct hs_spare *sp)
{
	int r = hs_state_check_image(sp->state);
	if (r == 0)
		r = hs_err(EIO, "%s/disk.img gave fewer bytes than a read asked for", sp->state->dir);
	note_error(sp, r);
	return r;
}

int hs_spare_image_fd(const struct hs_spare *sp) { return sp->state->image_fd; }

static int spare_open(struct hs_index *ix, struct hs_table *table, struct hs_sources *src, bool borrow,
		      struct hs_state *state, struct hs_spare **out)
{
	int r = 0;
	struct hs_spare *sp = calloc(1, sizeof *sp);
	/* A checkpoint's base is this daemon's own: one left by another is stale. */
	hs_table_forget(state->dirfd, HS_TABLE_CHECKPOINT);
	if (sp && !table)
		r = ix->digests ? hs_table_from_index(state->dirfd, state->dir, HS_TABLE_FILE, ix, true,
						      src->v[src->n - 1], &table)
				: hs_err(EINVAL, "no digests for disk %s of %s@%s", ix->disk, ix->server, ix->id);
	if (sp && r == 0) {
		sp->touched = calloc(ix->nchunks ? ix->nchunks : 1, 1);
		sp->suspect = calloc(ix->nchunks ? ix->nchunks : 1, 1);
	}
	if (!sp || r < 0 || !sp->touched || !sp->suspect) {
		if (sp) {
			free(sp->touched);
			free(sp->suspect);
			free(sp);
		}
		hs_table_close(table);
		hs_index_free(ix);
		if (!borrow)
			hs_sources_close(src);
		hs_state_close(state);
		return r < 0 ? r : -ENOMEM;
	}
	/* The table is the digests' one place now: none stay in the heap. */
	free(ix->digests);
	ix->digests = NULL;
	sp->ix = ix;
	sp->table = table;
	sp->src = *src;
	sp->src_borrowed = borrow;
	sp->state = state;
	sp->demand_deadline_ms = 120000;
	sp->demand = &sp->demand_own;
	sp->mark_clean = true;
	pthread_mutex_init(&sp->fetch_lock, NULL);
	/* Waits for another's fetch end at the waiter's deadline (monotonic). */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sp->fetch_done, &ca);
	pthread_condattr_destroy(&ca);
	uint64_t local = 0, written = 0, nsuspect = 0;
	for (uint64_t i = 0; i < ix->nchunks; i++) {
		/* After an unclean stop nothing the point vouches for is trusted
		 * unchecked: readers and hydration check each chunk first. */
		if (state->unclean && held(sp, i) && hs_state_get(state, i) != HS_WRITTEN) {
			sp->suspect[i] = 1;
			nsuspect++;
		}
		local += hs_spare_chunk_local(sp, i);
		written += hs_state_get(state, i) == HS_WRITTEN;
	}
	sp->nsuspect = nsuspect;
	sp->data_bytes = table->data_bytes;
	sp->nlocal = local;
	sp->nwritten = written;
	*out = sp;
	return 0;
}

int hs_spare_open(struct hs_index *ix, struct hs_sources *src, struct hs_state *state,
		  struct hs_spare **out)
{
	return spare_open(ix, NULL, src, false, state, out);
}

int hs_spare_open_shared(struct hs_index *ix, struct hs_table *table, const struct hs_sources *src,
			 struct hs_state *state, struct hs_spare **out)
{
	struct hs_sources copy = *src;
	return spare_open(ix, table, &copy, true, state, out);
}

int hs_spare_close(struct hs_spare *sp)
{
	if (!sp)
		return 0;
	if (sp->ra)
		sp->ra->stop(sp->ra);
	if (sp->hyd)
		sp->hyd->stop(sp->hyd);
	int r = hs_state_flush(sp->state);
	if (r == 0 && sp->mark_clean && atomic_load(&sp->nsuspect) == 0)
		hs_state_mark_clean(sp->state);
	hs_state_close(sp->state);
	if (!sp->src_borrowed)
		hs_sources_close(&sp->src);
	hs_index_free(sp->ix);
	pthread_mutex_destroy(&sp->fetch_lock);
	pthread_cond_destroy(&sp->fetch_done);
	free(sp->trace);
	free(sp->touched);
	free(sp->suspect);
	hs_table_close(sp->table);
	hs_table_close(sp->cp_table);
	free(sp);
	return r;
}

/* Count a failed fetch in status (fetch_lock held). */
static void count_error(struct hs_spare *sp, int err)
{
	sp->errors++;
	const char *m = hs_err_msg();
	snprintf(sp->last_error, sizeof sp->last_error, "%s", m ? m : strerror(-err));
}

/* Claim chunk i for fetching or overwriting. Returns 1 with *slot owned by
 * the caller; 0 if the chunk became local meanwhile; or the result of
 * another thread's claim that just ended (0 or -errno) after waiting for it,
 * until deadline_at (hs_mono_ms; 0: none) at most. */
static int claim(struct hs_spare *sp, uint64_t i, enum hs_fetch kind, int64_t deadline_at,
		 struct hs_inflight **slot)
{
	bool demand = kind == HS_FETCH_DEMAND;
	HS_LOCK_SCOPE(&sp->fetch_lock);
	for (;;) {
		if (hs_spare_chunk_local(sp, i))
			return 0;
		struct hs_inflight *f = sp->inflight;
		while (f && f->i != i)
			f = f->next;
		if (!f)
			break;
		if (kind == HS_FETCH_AHEAD)
			return 0; /* someone is on it; read-ahead moves on */
		f->refs++;
		struct timespec until = { (time_t)(deadline_at / 1000), (long)(deadline_at % 1000) * 1000000 };
		while (!f->done) {
			if (!deadline_at)
				pthread_cond_wait(&sp->fetch_done, &sp->fetch_lock);
			else if (pthread_cond_timedwait(&sp->fetch_done, &sp->fetch_lock, &until) == ETIMEDOUT)
				break;
		}
		if (!f->done) {
			/* The owner still holds its reference: f stays valid for it. */
			f->refs--;
			int r = hs_err(ETIMEDOUT, "chunk %llu: another fetch of it did not end within the deadline",
				       (unsigned long long)i);
			if (demand)
				count_error(sp, r);
			return r;
		}
		int err = f->err;
		bool retried = f->demand;
		if (--f->refs == 0)
			free(f);
		/* A failed fetch is reported to its waiters, except that a demand
		 * waiter does not give up on a fetch that tried only once
		 * (hydration, read-ahead): it claims the chunk and tries itself,
		 * to its own deadline. A claim released without making the chunk
		 * local (a write) lets them retry. */
		if (err < 0 && (retried || !demand))
			return err;
	}
	struct hs_inflight *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->i = i;
	f->refs = 1;
	f->demand = demand;
	f->next = sp->inflight;
	sp->inflight = f;
	*slot = f;
	return 1;
}

/* Claim chunk i whatever it holds (to check it, or to change what the state
 * vouches for): waits for any other claim of it to end. 0 or -ENOMEM. */
static int claim_any(struct hs_spare *sp, uint64_t i, struct hs_inflight **slot)
{
	HS_LOCK_SCOPE(&sp->fetch_lock);
	for (;;) {
		struct hs_inflight *f = sp->inflight;
		while (f && f->i != i)
			f = f->next;
		if (!f)
			break;
		f->refs++;
		while (!f->done)
			pthread_cond_wait(&sp->fetch_done, &sp->fetch_lock);
		if (--f->refs == 0)
			free(f);
	}
	struct hs_inflight *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->i = i;
	f->refs = 1;
	f->next = sp->inflight;
	sp->inflight = f;
	*slot = f;
	return 0;
}

/* End a claim with err; counted in status unless the fetch was only a
 * read-ahead (a reader that needs the chunk fetches it again itself). */
static void release(struct hs_spare *sp, struct hs_inflight *f, int err, bool counted)
{
	HS_LOCK_SCOPE(&sp->fetch_lock);
	struct hs_inflight **p = &sp->inflight;
	while (*p != f)
		p = &(*p)->next;
	*p = f->next;
	f->done = true;
	f->err = err;
	if (err < 0 && counted)
		count_error(sp, err);
	pthread_cond_broadcast(&sp->fetch_done);
	if (--f->refs == 0)
		free(f);
}

static bool transient(int err)
{
	return err == -EAGAIN || err == -ETIMEDOUT || err == -ECONNREFUSED || err == -ECONNRESET ||
	       err == -EHOSTUNREACH || err == -ENETUNREACH || err == -EINTR;
}

static void trace_add(struct hs_spare *sp, uint64_t i)
{
	HS_LOCK_SCOPE(&sp->fetch_lock);
	if (!sp->tracing)
		return;
	/* A trace is a hint: a short one only costs speed. */
	if (hs_grow(&sp->trace, &sp->captrace, sp->ntrace + 1, sizeof *sp->trace) < 0)
		return;
	sp->trace[sp->ntrace++] = i;
}

void hs_spare_trace_start(struct hs_spare *sp)
{
	HS_LOCK_SCOPE(&sp->fetch_lock);
	sp->tracing = true;
}

int hs_spare_trace_get(struct hs_spare *sp, uint64_t **out, size_t *n)
{
	HS_LOCK_SCOPE(&sp->fetch_lock);
	*out = malloc((sp->ntrace ? sp->ntrace : 1) * sizeof **out);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, sp->trace, sp->ntrace * sizeof **out);
	*n = sp->ntrace;
	return 0;
}

/* Write len bytes of chunk data into the state's image at off; the image
 * must still be whole before and after (something else may cut it). */
static int image_write(struct hs_spare *sp, const void *buf, size_t len, uint64_t off)
{
	int r = hs_state_check_image(sp->state);
	if (r < 0)
		return r;
	r = hs_pwrite_full(sp->state->image_fd, buf, len, off);
	if (r < 0)
		return hs_err(-r, "cannot write %s/disk.img: %s", sp->state->dir, strerror(-r));
	return hs_state_check_image(sp->state);
}

/* Check suspect chunk i's bytes in the state against the point (buf: room
 * for the chunk). 1 if they match, 0 if not, -errno. */
static int check_held(struct hs_spare *sp, uint64_t i, void *buf)
{
	uint32_t len = hs_index_chunk_len(sp->ix, i);
	uint64_t off = i * sp->ix->chunk_size;
	int fd = sp->state->image_fd;
	bool zero = zero_chunk(sp, i);
	if (zero && hs_range_is_hole(fd, off, len))
		return 1;
	ssize_t got = hs_pread_full(fd, buf, len, off);
	if (got < 0)
		return hs_err((int)-got, "cannot read %s/disk.img: %s", sp->state->dir, strerror((int)-got));
	if ((size_t)got != len)
		return hs_state_check_image(sp->state) < 0 ? -EIO : hs_err(EIO, "%s/disk.img is short", sp->state->dir);
	if (zero)
		return hs_is_zero(buf, len);
	struct hs_digest want, d;
	int r = hs_table_get(sp->table, i, &want);
	if (r < 0)
		return r;
	hs_store_chunk_id(sp->src.v[sp->src.n - 1], buf, len, &d);
	return hs_digest_eq(&d, &want);
}

/* Suspect chunk i (claimed by the caller): 0 once its bytes are known good
 * (checked, or a zero chunk's hole made again), 1 if they must be fetched
 * again, -errno. */
static int settle_suspect(struct hs_spare *sp, uint64_t i, void *buf)
{
	/* Made suspect just as the guest wrote it (the claim orders the two):
	 * its bytes are the guest's now, nothing to check them against. */
	if (hs_state_get(sp->state, i) == HS_WRITTEN) {
		unsuspect(sp, i);
		return 0;
	}
	int r = check_held(sp, i, buf);
	if (r < 0)
		return r;
	if (r == 1) {
		unsuspect(sp, i);
		return 0;
	}
	atomic_fetch_add(&sp->nbad, 1);
	if (!sp->quiet)
		hs_note("chunk %llu of %s/disk.img does not match point %s@%s: replacing it",
		(unsigned long long)i, sp->state->dir, sp->ix->server, sp->ix->id);
	if (!zero_chunk(sp, i))
		return 1;
	uint32_t len = hs_index_chunk_len(sp->ix, i);
	uint64_t off = i * sp->ix->chunk_size;
	if (fallocate(sp->state->image_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, len) < 0) {
		memset(buf, 0, len);
		if ((r = image_write(sp, buf, len, off)) < 0)
			return r;
	}
	atomic_fetch_add(&sp->nrepaired, 1);
	unsuspect(sp, i);
	return 0;
}

/* Fetch chunk i from the sources into the state's image, by deadline_at
 * (hs_mono_ms), which bounds every network wait on the way down. Transient
 * source errors are retried with backoff until then (demand); hydration and
 * read-ahead try once (hydration comes back to the chunk later by itself,
 * and a reader waiting for either tries again itself: see claim). */
static int fetch_into(struct hs_spare *sp, uint64_t i, enum hs_fetch kind, int64_t deadline_at, struct fbuf *t)
{
	bool demand = kind == HS_FETCH_DEMAND;
	uint32_t len = hs_index_chunk_len(sp->ix, i);
	bool was_suspect = suspect(sp, i);
	if (was_suspect) {
		int sr = settle_suspect(sp, i, t->plain);
		if (sr <= 0)
			return sr;
	}
	struct hs_digest want;
	int r = hs_table_get(sp->table, i, &want);
	if (r < 0)
		return r;
	int delay = 50;
	size_t from = 0;
	int64_t outer = hs_deadline_set(deadline_at);
	for (;;) {
		r = hs_sources_read(&sp->src, &want, t->plain, len, &t->z, &from);
		if (r == 0 || !demand || !transient(r) || hs_mono_ms() + delay > deadline_at)
			break;
		usleep((useconds_t)delay * 1000);
		delay = delay < 2000 ? delay * 2 : 2000;
	}
	hs_deadline_set(outer);
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	r = image_write(sp, t->plain, len, i * sp->ix->chunk_size);
	if (r < 0)
		return r;
	atomic_fetch_add(from + 1 == sp->src.n ? &sp->from_store : &sp->from_seed, len);
	if (kind == HS_FETCH_HYDRATE)
		atomic_fetch_add(&sp->hydrated, len);
	else
		trace_add(sp, i); /* what readers needed, or were about to */
	if (kind == HS_FETCH_AHEAD)
		atomic_fetch_add(&sp->read_ahead, len);
	if (was_suspect) {
		/* Present already in the map: only trusted again now. */
		atomic_fetch_add(&sp->nrepaired, 1);
		unsuspect(sp, i);
		return 0;
	}
	/* Present in memory now; durable in the map only after the next image sync. */
	r = hs_state_set(sp->state, i, HS_PRESENT);
	if (r == 0)
		atomic_fetch_add(&sp->nlocal, 1);
	return r;
}

static int fetch(struct hs_spare *sp, uint64_t i, enum hs_fetch kind, int64_t deadline_at)
{
	struct fbuf *b = fbuf_get(sp->ix->chunk_size);
	if (!b)
		return -ENOMEM;
	int r = fetch_into(sp, i, kind, deadline_at, b);
	fbuf_put(b);
	return r;
}

/* The deadline of work that starts now (hs_mono_ms). */
static int64_t deadline_from_now(const struct hs_spare *sp)
{
	return hs_mono_ms() + (sp->demand_deadline_ms > 0 ? sp->demand_deadline_ms : 1);
}

/* hs_spare_ensure_chunk, by deadline_at (hs_mono_ms). */
static int ensure(struct hs_spare *sp, uint64_t i, enum hs_fetch kind, int64_t deadline_at)
{
	struct hs_inflight *slot;
	for (;;) {
		int r = claim(sp, i, kind, deadline_at, &slot);
		if (r <= 0) {
			if (r == 0 && kind != HS_FETCH_AHEAD && !hs_spare_chunk_local(sp, i))
				continue; /* a released write claim: try again */
			return r;
		}
		r = fetch(sp, i, kind, deadline_at);
		release(sp, slot, r, kind != HS_FETCH_AHEAD);
		return r;
	}
}

int hs_spare_ensure_chunk(struct hs_spare *sp, uint64_t i, enum hs_fetch kind)
{
	/* Background fetches are bounded too: a stalled server must not hold a
	 * claim that readers wait on for longer than a reader would wait. */
	return ensure(sp, i, kind, deadline_from_now(sp));
}

int hs_spare_prepare_read(struct hs_spare *sp, uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	if (hs_state_damaged(sp->state)) {
		int r = hs_state_check_image(sp->state);
		note_error(sp, r);
		return r;
	}
	uint64_t cs = sp->ix->chunk_size, first = off / cs, last = (off + len - 1) / cs, i = first;
	/* The common case, every chunk local, writes no shared counter. */
	while (i <= last && hs_spare_chunk_local(sp, i))
		i++;
	if (i > last) {
		if (sp->ra && sp->ra->note_read)
			sp->ra->note_read(sp->ra, first, last, false);
		return 0;
	}
	int r = 0;
	/* One deadline for the whole read, however many chunks it spans. */
	int64_t deadline_at = deadline_from_now(sp);
	atomic_fetch_add(sp->demand, 1);
	/* Read-ahead fetches the rest of this read beside us, then the window. */
	if (sp->ra && sp->ra->note_read)
		sp->ra->note_read(sp->ra, i, last, true);
	for (; i <= last && r == 0; i++)
		if (!hs_spare_chunk_local(sp, i))
			r = ensure(sp, i, HS_FETCH_DEMAND, deadline_at);
	atomic_fetch_sub(sp->demand, 1);
	return r;
}

ssize_t hs_spare_read(struct hs_spare *sp, void *buf, size_t len, uint64_t off)
{
	uint64_t size = sp->ix->image_size;
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	int r = hs_spare_prepare_read(sp, off, len);
	if (r < 0)
		return r;
	ssize_t got = hs_pread_full(sp->state->image_fd, buf, len, off);
	if (got >= 0 && (size_t)got != len)
		return hs_spare_image_short(sp);
	return got;
}

/* Prepare chunk i for a change covering [a, b) of it (chunk-relative):
 * returns 1 if the caller holds a whole-chunk claim (no fetch was needed),
 * else 0 once the chunk is local and durably marked written. */
static int begin_change(struct hs_spare *sp, uint64_t i, uint32_t a, uint32_t b, int64_t deadline_at,
			struct hs_inflight **slot)
{
	uint32_t len = hs_index_chunk_len(sp->ix, i);
	bool zero = zero_chunk(sp, i);
	uint8_t st = hs_state_get(sp->state, i);
	if (st == HS_WRITTEN)
		return 0;
	if (st == HS_ABSENT && !zero) {
		if (a == 0 && b == len) {
			/* Overwritten whole: no need to fetch what is replaced. */
			int r = claim(sp, i, HS_FETCH_DEMAND, deadline_at, slot);
			if (r == 1)
				return 1;
			if (r < 0)
				return r;
		} else {
			/* The rest of the chunk must be the point's: fetch it first, with
			 * a reader's priority (hydration stands aside). */
			atomic_fetch_add(sp->demand, 1);
			int r = ensure(sp, i, HS_FETCH_DEMAND, deadline_at);
			atomic_fetch_sub(sp->demand, 1);
			if (r < 0)
				return r;
		}
		if (hs_state_get(sp->state, i) == HS_WRITTEN)
			return 0;
	}
	/* The chunk's base is in the state (or a hole): say "written" durably
	 * before the guest's bytes can reach the disk. Claimed, so a check of
	 * the chunk (a scrub) never overlaps the change of what it vouches for. */
	struct hs_inflight *own;
	int r = claim_any(sp, i, &own);
	if (r < 0)
		return r;
	if (suspect(sp, i)) {
		/* The base must be the point's before the guest's bytes join it. */
		struct fbuf *t = fbuf_get(sp->ix->chunk_size);
		r = !t ? -ENOMEM : settle_suspect(sp, i, t->plain);
		if (t)
			fbuf_put(t);
		if (r == 1) {
			release(sp, own, 0, false);
			atomic_fetch_add(sp->demand, 1);
			r = ensure(sp, i, HS_FETCH_DEMAND, deadline_at);
			atomic_fetch_sub(sp->demand, 1);
			if (r < 0)
				return r;
			return begin_change(sp, i, a, b, deadline_at, slot);
		}
	}
	if (r == 0 && hs_state_get(sp->state, i) != HS_WRITTEN) {
		r = hs_state_mark_written(sp->state, i, !zero);
		if (r < 0)
			hs_err(-r, "cannot update %s/map: %s", sp->state->dir, strerror(-r));
		if (r == 1)
			atomic_fetch_add(&sp->nwritten, 1);
	}
	release(sp, own, r < 0 ? r : 0, r < 0);
	return r < 0 ? r : 0;
}

/* Finish a whole-chunk change under a claim: the data is in the image;
 * "written" becomes durable at the next flush, after the data. */
static int end_claimed(struct hs_spare *sp, uint64_t i, struct hs_inflight *slot, int r)
{
	if (r == 0) {
		r = hs_state_set(sp->state, i, HS_WRITTEN);
		if (r == 0) {
			/* Overwritten whole: nothing of the old bytes is left to doubt. */
			unsuspect(sp, i);
			atomic_fetch_add(&sp->nlocal, 1);
			atomic_fetch_add(&sp->nwritten, 1);
		}
	}
	release(sp, slot, r < 0 ? r : 0, true);
	return r;
}

enum change { CHANGE_WRITE, CHANGE_DISCARD };

static int change(struct hs_spare *sp, enum change op, const char *buf, uint64_t off, uint64_t len)
{
	uint64_t size = sp->ix->image_size, cs = sp->ix->chunk_size;
	if (off > size || len > size - off)
		return -EFBIG;
	int dr = hs_state_damaged(sp->state) ? hs_state_check_image(sp->state) : 0;
	if (dr < 0)
		return dr;
	int64_t deadline_at = deadline_from_now(sp); /* for the fetches of partly changed chunks */
	while (len) {
		uint64_t i = off / cs;
		uint32_t a = (uint32_t)(off - i * cs);
		uint32_t clen = hs_index_chunk_len(sp->ix, i);
		uint32_t n = (uint32_t)(len < clen - a ? len : clen - a);
		struct hs_inflight *slot = NULL;
		/* Before the bytes change: a checkpoint reading the chunk now sees it
		 * touched again afterwards and takes it next time. */
		__atomic_store_n(&sp->touched[i], 1, __ATOMIC_RELEASE);
		int claimed = begin_change(sp, i, a, a + n, deadline_at, &slot);
		if (claimed < 0)
			return claimed;
		int r;
		if (op == CHANGE_WRITE)
			r = image_write(sp, buf, n, off);
		else if (fallocate(sp->state->image_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)off, n) == 0)
			r = 0;
		else
			r = hs_err(errno, "cannot write %s/disk.img: %s", sp->state->dir, strerror(errno));
		if (claimed)
			r = end_claimed(sp, i, slot, r);
		if (r < 0)
			return r;
		off += n;
		len -= n;
		if (buf)
			buf += n;
	}
	return 0;
}

int hs_spare_write(struct hs_spare *sp, const void *buf, size_t len, uint64_t off)
{
	return change(sp, CHANGE_WRITE, buf, off, len);
}

int hs_spare_discard(struct hs_spare *sp, uint64_t off, uint64_t len)
{
	return change(sp, CHANGE_DISCARD, NULL, off, len);
}

int hs_spare_flush(struct hs_spare *sp)
{
	pool_trim(); /* the flusher's tick frees what a burst of fetches left */
	int r = hs_state_flush(sp->state);
	if (r < 0)
		return hs_err(-r, "cannot flush state %s: %s", sp->state->dir, strerror(-r));
	return 0;
}

/* Is there data in chunk i at or after chunk-relative offset a? (For written
 * chunks the image file knows; discarded ranges are holes there.) */
static int64_t data_in_chunk(struct hs_spare *sp, uint64_t i, uint64_t from, int whence)
{
	uint64_t start = i * sp->ix->chunk_size, end = start + hs_index_chunk_len(sp->ix, i);
	uint8_t st = hs_state_get(sp->state, i);
	bool zero = zero_chunk(sp, i);
	if (st != HS_WRITTEN && !zero)
		return whence == SEEK_DATA ? (int64_t)from : -1; /* all data */
	if (st != HS_WRITTEN && zero && st == HS_ABSENT)
		return whence == SEEK_HOLE ? (int64_t)from : -1; /* all hole */
	off_t r = lseek(sp->state->image_fd, (off_t)from, whence);
	if (r < 0 || (uint64_t)r >= end)
		return -1;
	return r;
}

int64_t hs_spare_seek(struct hs_spare *sp, uint64_t off, int whence)
{
	uint64_t size = sp->ix->image_size, cs = sp->ix->chunk_size;
	if (off >= size)
		return -ENXIO;
	for (uint64_t i = off / cs; i < sp->ix->nchunks; i++) {
		uint64_t from = i == off / cs ? off : i * cs;
		int64_t r = data_in_chunk(sp, i, from, whence);
		if (r >= 0)
			return r;
	}
	return whence == SEEK_HOLE ? (int64_t)size : -ENXIO;
}

void hs_spare_status(struct hs_spare *sp, struct hs_spare_status *st)
{
	memset(st, 0, sizeof *st);
	st->size = sp->ix->image_size;
	st->chunk_size = sp->ix->chunk_size;
	st->chunks_total = sp->ix->nchunks;
	st->chunks_present = atomic_load(&sp->nlocal);
	st->chunks_written = atomic_load(&sp->nwritten);
	st->bytes_from_seed = atomic_load(&sp->from_seed);
	st->bytes_from_store = atomic_load(&sp->from_store);
	st->bytes_read_ahead = atomic_load(&sp->read_ahead);
	st->errors = atomic_load(&sp->errors);
	st->chunks_unchecked = atomic_load(&sp->nsuspect);
	st->chunks_repaired = atomic_load(&sp->nrepaired);
	st->hydrated = st->chunks_present >= st->chunks_total;
	st->hydrate_bytes_per_s = sp->hyd && sp->hyd->rate ? sp->hyd->rate(sp->hyd) : 0;
	pthread_mutex_lock(&sp->fetch_lock);
	snprintf(st->last_error, sizeof st->last_error, "%s", sp->last_error);
	pthread_mutex_unlock(&sp->fetch_lock);
}
