/* Unit tests for spare.h: a point presented as an image. Reads come from the
 * state, then the seeds, then the store, verified; writes and discards land
 * in the state; flushes make them durable. Linked with the fault layer of
 * fixture.h, which counts, delays and fails chunk reads and records
 * what each sync of disk.img made durable (to build crash images). */
#define UT_WRAP_IO
#include "fixture.h"
#include "jobs/capture.h"


static const char *msg(void) { return hs_err_msg() ? hs_err_msg() : ""; }

static void digest_hex_of(const unsigned char *img, uint64_t i, char hex[HS_DIGEST_HEX])
{
	struct hs_digest d;
	hs_digest_compute(img + i * CS, fx_chunk_len(i), &d);
	hs_digest_hex(&d, hex);
}

/* ---- reads ---- */

static void test_read_matches_image(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	assert_int_equal(hs_spare_size(sp), IMG_SIZE);
	const struct {
		uint64_t off;
		size_t len;
	} r[] = {
		{ 0, CS },                    /* one aligned chunk */
		{ 123, 4567 },                /* unaligned, inside a chunk */
		{ 2 * CS - 100, 200 },        /* across a chunk boundary */
		{ 5 * CS + 7, 3 * CS + 11 },  /* several chunks, unaligned both ends */
		{ 2 * CS + 1, CS * 4 },       /* through zero chunks 3 and 4 */
		{ 9 * CS + 1, 2 * CS },       /* chunk 10: half zeros */
		{ 15 * CS, 2 * CS },          /* the same content at two positions */
		{ NFULL * CS, TAIL },         /* the short last chunk */
		{ NFULL * CS + 100, TAIL - 100 },
		{ IMG_SIZE - 10, 10 },
		{ 0, IMG_SIZE },              /* everything */
	};
	for (size_t k = 0; k < sizeof r / sizeof *r; k++)
		fx_expect(sp, r[k].off, r[k].len, f->img + r[k].off);
	/* Each chunk came from the store exactly once; zero chunks never. */
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.bytes_from_store, fx_data_bytes(0, NCHUNKS));
	assert_int_equal(st.bytes_from_seed, 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(atomic_load(&fault.gets), NCHUNKS - 7);
	assert_int_equal(st.size, IMG_SIZE);
	assert_int_equal(st.chunk_size, CS);
	assert_int_equal(st.chunks_total, NCHUNKS);
	assert_int_equal(st.chunks_present, NCHUNKS);
	assert_int_equal(st.chunks_written, 0);
	assert_true(st.hydrated);

	/* Past the end: clamped, then nothing. */
	unsigned char buf[100];
	memset(buf, 0xee, sizeof buf);
	assert_int_equal(hs_spare_read(sp, buf, sizeof buf, IMG_SIZE - 5), 5);
	assert_memory_equal(buf, f->img + IMG_SIZE - 5, 5);
	assert_int_equal(buf[5], 0xee);
	assert_int_equal(hs_spare_read(sp, buf, sizeof buf, IMG_SIZE), 0);
	assert_int_equal(hs_spare_read(sp, buf, sizeof buf, IMG_SIZE + 3 * CS), 0);
	assert_int_equal(hs_spare_read(sp, buf, 0, 7), 0);
	assert_int_equal(buf[0], f->img[IMG_SIZE - 5]);
	assert_int_equal(atomic_load(&fault.gets), NCHUNKS - 7);
	assert_int_equal(hs_spare_close(sp), 0);
}

static void test_zero_chunks_read_without_fetch(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	struct hs_spare_status before = fx_status(sp);
	fx_expect(sp, 3 * CS, 2 * CS, f->img + 3 * CS);
	fx_expect(sp, 20 * CS + 17, CS - 17, f->img + 20 * CS + 17);
	fx_expect(sp, 30 * CS, 4 * CS, f->img + 30 * CS);
	for (uint64_t k = 30 * CS; k < 34 * CS; k++)
		assert_int_equal(f->img[k], 0);
	struct hs_spare_status after = fx_status(sp);
	assert_int_equal(atomic_load(&fault.gets), 0);
	assert_int_equal(after.bytes_from_store, before.bytes_from_store);
	assert_int_equal(after.bytes_from_seed, before.bytes_from_seed);
	assert_int_equal(after.bytes_from_store, 0);
	assert_int_equal(after.chunks_present, before.chunks_present);
	/* A read of one data chunk is one fetch, one more chunk present. */
	fx_expect(sp, 5 * CS, CS, f->img + 5 * CS);
	after = fx_status(sp);
	assert_int_equal(atomic_load(&fault.gets), 1);
	assert_int_equal(after.bytes_from_store, CS);
	assert_int_equal(after.chunks_present, before.chunks_present + 1);
	assert_int_equal(hs_spare_close(sp), 0);
}

static bool even(uint64_t i) { return i % 2 == 0; }

static void test_seed_before_store(void **state)
{
	struct fx *f = *state;
	/* The seed holds the even chunks (and so chunk 15, whose content is 16's). */
	fx_put_point(f->seed, f->img, IMG_SIZE, SERVER, T0, even, NULL);
	char *seeds[] = { f->seed };
	struct hs_spare *sp = fx_open(f, f->state, seeds, 1);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	uint64_t want_seed = 0, want_store = 0;
	for (uint64_t i = 0; i < NCHUNKS; i++) {
		if (fx_zero_chunk(i))
			continue;
		if (i % 2 == 0 || i == 15)
			want_seed += fx_chunk_len(i);
		else
			want_store += fx_chunk_len(i);
	}
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.bytes_from_seed, want_seed);
	assert_int_equal(st.bytes_from_store, want_store);
	assert_int_equal(st.errors, 0);
	assert_int_equal(hs_spare_close(sp), 0);
}

static void test_corrupt_seed_copy_falls_back(void **state)
{
	struct fx *f = *state;
	/* Chunk 5's name in the seed holds chunk 6's bytes; chunk 7 is good there. */
	fx_put_chunk(f->seed, f->img + 6 * CS, f->img + 5 * CS, CS);
	fx_put_chunk(f->seed, f->img + 7 * CS, f->img + 7 * CS, CS);
	char *seeds[] = { f->seed };
	struct hs_spare *sp = fx_open(f, f->state, seeds, 1);
	fx_expect(sp, 5 * CS, CS, f->img + 5 * CS);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.bytes_from_store, CS);
	assert_int_equal(st.bytes_from_seed, 0);
	fx_expect(sp, 7 * CS, CS, f->img + 7 * CS);
	st = fx_status(sp);
	assert_int_equal(st.bytes_from_seed, CS);
	assert_int_equal(st.bytes_from_store, CS);
	/* And what the state keeps is the good copy. */
	assert_int_equal(hs_spare_close(sp), 0);
	fault_reset();
	sp = fx_open(f, f->state, seeds, 1);
	fx_expect(sp, 5 * CS, 3 * CS, f->img + 5 * CS);
	/* Only chunk 6 is fetched: asked of the seed (not there), then the store. */
	assert_int_equal(atomic_load(&fault.gets), 2);
	assert_int_equal(fx_status(sp).bytes_from_store, CS);
	assert_int_equal(fx_status(sp).bytes_from_seed, 0);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* A chunk missing or corrupt everywhere: EIO, the buffer untouched, the error
 * counted and described; never zeros or wrong bytes; a later good copy works. */
static void test_bad_chunk_everywhere_is_eio(void **state)
{
	struct fx *f = *state;
	fx_drop_chunk(f->store, f->img, 9);
	/* Chunk 11: corrupt in the store; chunk 13: corrupt in the seed, missing in the store. */
	fx_drop_chunk(f->store, f->img, 11);
	fx_put_chunk(f->store, f->img + 12 * CS, f->img + 11 * CS, CS);
	fx_drop_chunk(f->store, f->img, 13);
	fx_put_chunk(f->seed, f->img + 14 * CS, f->img + 13 * CS, CS);
	char *seeds[] = { f->seed };
	struct hs_spare *sp = fx_open(f, f->state, seeds, 1);
	unsigned char *buf = malloc(3 * CS);
	assert_non_null(buf);
	char hex[HS_DIGEST_HEX];
	const uint64_t bad[] = { 9, 11, 13 };
	for (size_t k = 0; k < 3; k++) {
		uint64_t i = bad[k];
		memset(buf, 0xa5, 3 * CS);
		hs_err_clear();
		ssize_t n = hs_spare_read(sp, buf, CS, i * CS);
		if (n != -EIO)
			fail_msg("chunk %llu: expected -EIO, got %zd", (unsigned long long)i, n);
		for (size_t b = 0; b < CS; b++)
			if (buf[b] != 0xa5)
				fail_msg("chunk %llu: a failed read changed byte %zu of the buffer",
					 (unsigned long long)i, b);
		struct hs_spare_status st = fx_status(sp);
		assert_int_equal(st.errors, k + 1);
		digest_hex_of(f->img, i, hex);
		if (!strstr(st.last_error, hex))
			fail_msg("last_error '%s' does not name chunk %s", st.last_error, hex);
		assert_int_equal(hs_state_get(sp->state, i), HS_ABSENT);
		assert_false(hs_spare_chunk_local(sp, i));
	}
	struct hs_spare_status st = fx_status(sp);
	assert_non_null(strstr(st.last_error, "corrupt"));
	assert_int_equal(st.bytes_from_store + st.bytes_from_seed, 0);
	/* A range that includes a bad chunk fails as a whole. */
	assert_int_equal(hs_spare_read(sp, buf, 3 * CS, 8 * CS), -EIO);
	/* Good neighbours read fine. */
	fx_expect(sp, 8 * CS, CS, f->img + 8 * CS);
	fx_expect(sp, 10 * CS, CS, f->img + 10 * CS);
	/* A write that needs the bad chunk's base fails too, and changes nothing. */
	assert_int_equal(hs_spare_write(sp, "x", 1, 9 * CS + 5), -EIO);
	assert_int_equal(hs_state_get(sp->state, 9), HS_ABSENT);
	/* Once a good copy exists, the same spare reads it (no failure is remembered). */
	fx_put_chunk(f->store, f->img + 9 * CS, f->img + 9 * CS, CS);
	fx_expect(sp, 9 * CS, CS, f->img + 9 * CS);
	assert_int_equal(hs_spare_close(sp), 0);
	/* Nothing about the bad chunks reached the map. */
	unsigned char *m = fx_map_file(f->state);
	assert_int_equal(m[11], HS_ABSENT);
	assert_int_equal(m[13], HS_ABSENT);
	assert_int_equal(m[9], HS_PRESENT);
	free(m);
	free(buf);
}

/* Transient source errors are retried with backoff for a demand read. */
static void test_transient_errors_retried(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	atomic_store(&fault.fail_err, EAGAIN);
	atomic_store(&fault.fail_n, 2);
	double t = hs_now_s();
	fx_expect(sp, 14 * CS, CS, f->img + 14 * CS);
	t = hs_now_s() - t;
	assert_int_equal(atomic_load(&fault.gets), 3);
	assert_true(t >= 0.1);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.bytes_from_store, CS);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* A source that keeps failing: the demand read gives up at its deadline
 * (DESIGN, promise 6: the FUSE layer turns the error into EIO), never hangs,
 * never returns bytes. */
static void test_transient_errors_until_deadline(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	sp->demand_deadline_ms = 300;
	atomic_store(&fault.fail_err, ETIMEDOUT);
	atomic_store(&fault.fail_n, -1);
	unsigned char *buf = malloc(CS);
	memset(buf, 0xa5, CS);
	double t = hs_now_s();
	ssize_t n = hs_spare_read(sp, buf, CS, 14 * CS);
	t = hs_now_s() - t;
	assert_true(t < 5);
	assert_true(atomic_load(&fault.gets) >= 2);
	for (size_t b = 0; b < CS; b++)
		assert_int_equal(buf[b], 0xa5);
	assert_int_equal(fx_status(sp).errors, 1);
	assert_int_equal(hs_state_get(sp->state, 14), HS_ABSENT);
	/* The source recovers: so does the spare. */
	atomic_store(&fault.fail_n, 0);
	fx_expect(sp, 14 * CS, CS, f->img + 14 * CS);
	assert_int_equal(hs_spare_close(sp), 0);
	free(buf);
	if (n >= 0)
		fail_msg("a demand read past its deadline returned %zd, expected an error", n);
}

/* One deadline bounds a whole read, however many chunks it spans: four
 * chunks that each take 0.4 s (a slow server that honours the deadline, as
 * the HTTP client does) do not get 1 s each. */
static void test_deadline_per_read_not_per_chunk(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	sp->demand_deadline_ms = 1000;
	atomic_store(&fault.delay_ms, 400);
	atomic_store(&fault.deadline_aware, true);
	unsigned char *buf = malloc(4 * CS);
	double t = hs_now_s();
	ssize_t n = hs_spare_read(sp, buf, 4 * CS, 16 * CS);
	t = hs_now_s() - t;
	if (n >= 0 || t > 1.5)
		fail_msg("a read of 4 slow chunks with a 1 s deadline returned %zd after %.1f s", n, t);
	assert_int_equal(hs_spare_close(sp), 0);
	free(buf);
}

struct slow_fetch {
	struct hs_spare *sp;
	uint64_t i;
	int r;
};

static void *hydrate_one(void *p)
{
	struct slow_fetch *s = p;
	s->r = hs_spare_ensure_chunk(s->sp, s->i, HS_FETCH_HYDRATE);
	return NULL;
}

/* A reader that finds its chunk being fetched by someone slower (hydration
 * stuck on a stalled server) waits only until its own deadline. */
static void test_waiting_for_another_fetch_ends_at_the_deadline(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	sp->demand_deadline_ms = 300;
	atomic_store(&fault.delay_ms, 3000);
	struct slow_fetch s = { sp, 14, 1 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, hydrate_one, &s), 0);
	while (atomic_load(&fault.inflight) == 0)
		hs_sleep_ms(5);
	atomic_store(&fault.delay_ms, 0);
	unsigned char *buf = malloc(CS);
	double t = hs_now_s();
	ssize_t n = hs_spare_read(sp, buf, CS, 14 * CS);
	t = hs_now_s() - t;
	if (n >= 0 || t > 1.5)
		fail_msg("a reader behind a 3 s fetch returned %zd after %.1f s (deadline 0.3 s)", n, t);
	assert_true(strstr(msg(), "within the deadline") != NULL);
	assert_int_equal(fx_status(sp).errors, 1);
	pthread_join(th, NULL);
	assert_int_equal(s.r, 0); /* the slow fetch itself still lands */
	fx_expect(sp, 14 * CS, CS, f->img + 14 * CS);
	assert_int_equal(hs_spare_close(sp), 0);
	free(buf);
}

/* ---- sharing one fetch ---- */

struct reader {
	struct hs_spare *sp;
	pthread_barrier_t *bar;
	uint64_t off;
	size_t len;
	unsigned char *buf;
	ssize_t n;
};

static void *reader_main(void *p)
{
	struct reader *r = p;
	pthread_barrier_wait(r->bar);
	r->n = hs_spare_read(r->sp, r->buf, r->len, r->off);
	return NULL;
}

static void run_readers(struct hs_spare *sp, struct reader *r, unsigned n)
{
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, n);
	pthread_t th[16];
	for (unsigned k = 0; k < n; k++) {
		r[k].sp = sp;
		r[k].bar = &bar;
		r[k].buf = malloc(r[k].len);
		assert_non_null(r[k].buf);
		assert_int_equal(pthread_create(&th[k], NULL, reader_main, &r[k]), 0);
	}
	for (unsigned k = 0; k < n; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&bar);
}

static void test_concurrent_readers_share_one_fetch(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	struct hs_spare_status st0 = fx_status(sp);
	atomic_store(&fault.delay_ms, 300); /* a slow store: everyone arrives during the fetch */
	struct reader r[5] = {
		{ .off = 12 * CS, .len = CS },
		{ .off = 12 * CS, .len = CS },
		{ .off = 12 * CS, .len = CS },
		{ .off = 12 * CS + 1000, .len = 5000 },
		{ .off = 12 * CS + CS - 1, .len = 1 },
	};
	run_readers(sp, r, 5);
	for (unsigned k = 0; k < 5; k++) {
		assert_int_equal(r[k].n, (ssize_t)r[k].len);
		assert_memory_equal(r[k].buf, f->img + r[k].off, r[k].len);
		free(r[k].buf);
	}
	assert_int_equal(atomic_load(&fault.gets), 1);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.bytes_from_store, CS);
	assert_int_equal(st.chunks_present, st0.chunks_present + 1);

	/* A fetch that fails is shared too: one attempt, one error, EIO for all. */
	fx_drop_chunk(f->store, f->img, 13);
	atomic_store(&fault.gets, 0);
	struct reader b[3] = {
		{ .off = 13 * CS, .len = CS },
		{ .off = 13 * CS + 10, .len = 10 },
		{ .off = 13 * CS, .len = CS },
	};
	run_readers(sp, b, 3);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(b[k].n, -EIO);
		free(b[k].buf);
	}
	assert_int_equal(atomic_load(&fault.gets), 1);
	assert_int_equal(fx_status(sp).errors, 1);
	atomic_store(&fault.delay_ms, 0);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* ---- writes ---- */

static void test_partial_write_into_absent_chunk(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	unsigned char *model = malloc(IMG_SIZE);
	memcpy(model, f->img, IMG_SIZE);
	unsigned char w[100];
	memset(w, 'W', sizeof w);
	assert_int_equal(hs_spare_write(sp, w, sizeof w, 17 * CS + 1000), 0);
	memcpy(model + 17 * CS + 1000, w, sizeof w);
	fx_expect(sp, 17 * CS, CS, model + 17 * CS);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.bytes_from_store, CS); /* the base was fetched */
	assert_int_equal(st.chunks_written, 1);
	/* Across a boundary into another absent chunk. */
	assert_int_equal(hs_spare_write(sp, w, sizeof w, 19 * CS - 50), 0);
	memcpy(model + 19 * CS - 50, w, sizeof w);
	fx_expect(sp, 16 * CS, 4 * CS, model + 16 * CS);
	st = fx_status(sp);
	assert_int_equal(st.chunks_written, 3);
	assert_int_equal(st.bytes_from_store, 3 * CS + fx_data_bytes(16, 17));
	/* Into the short last chunk, up to the very end. */
	assert_int_equal(hs_spare_write(sp, w, 10, IMG_SIZE - 10), 0);
	memcpy(model + IMG_SIZE - 10, w, 10);
	/* Past the end: refused, nothing changes. */
	assert_int_equal(hs_spare_write(sp, w, 11, IMG_SIZE - 10), -EFBIG);
	assert_int_equal(hs_spare_write(sp, w, 1, IMG_SIZE), -EFBIG);
	assert_int_equal(hs_spare_write(sp, w, 1, IMG_SIZE + CS), -EFBIG);
	assert_int_equal(hs_spare_write(sp, w, 0, IMG_SIZE), 0);
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(fx_status(sp).chunks_written, 4);
	/* A partial write of a chunk whose base was absent is durable as "written"
	 * at once (its base was synced first). */
	unsigned char *m = fx_map_file(f->state);
	assert_int_equal(m[17], HS_WRITTEN);
	assert_int_equal(m[18], HS_WRITTEN);
	assert_int_equal(m[NFULL], HS_WRITTEN);
	free(m);
	assert_int_equal(hs_spare_close(sp), 0);
	/* Reopened: the same bytes, with no fetch for the written chunks. */
	fault_reset();
	sp = fx_open_plain(f);
	fx_expect(sp, 16 * CS, 4 * CS, model + 16 * CS);
	fx_expect(sp, NFULL * CS, TAIL, model + NFULL * CS);
	assert_int_equal(atomic_load(&fault.gets), 0);
	assert_int_equal(fx_status(sp).chunks_written, 4);
	assert_int_equal(hs_spare_close(sp), 0);
	free(model);
}

static void test_whole_chunk_writes_fetch_nothing(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	unsigned char *model = malloc(IMG_SIZE);
	memcpy(model, f->img, IMG_SIZE);
	unsigned char *w = malloc(4 * CS);
	ut_fill(w, 4 * CS, 777);
	assert_int_equal(hs_spare_write(sp, w, CS, 21 * CS), 0);
	memcpy(model + 21 * CS, w, CS);
	assert_int_equal(hs_spare_write(sp, w + CS, 3 * CS, 22 * CS), 0);
	memcpy(model + 22 * CS, w + CS, 3 * CS);
	assert_int_equal(hs_spare_write(sp, w, TAIL, NFULL * CS), 0); /* the short last chunk */
	memcpy(model + NFULL * CS, w, TAIL);
	assert_int_equal(atomic_load(&fault.gets), 0);
	fx_expect(sp, 21 * CS, 4 * CS, model + 21 * CS);
	fx_expect(sp, NFULL * CS, TAIL, model + NFULL * CS);
	assert_int_equal(atomic_load(&fault.gets), 0);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.bytes_from_store, 0);
	assert_int_equal(st.chunks_written, 5);
	assert_int_equal(hs_state_get(sp->state, 21), HS_WRITTEN);
	/* A second overwrite and a partial write of a written chunk: no new count. */
	assert_int_equal(hs_spare_write(sp, w + 2 * CS, CS, 21 * CS), 0);
	memcpy(model + 21 * CS, w + 2 * CS, CS);
	assert_int_equal(hs_spare_write(sp, w, 10, 23 * CS + 3), 0);
	memcpy(model + 23 * CS + 3, w, 10);
	assert_int_equal(fx_status(sp).chunks_written, 5);
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(hs_spare_close(sp), 0);
	fault_reset();
	sp = fx_open_plain(f);
	fx_expect(sp, 21 * CS, 4 * CS, model + 21 * CS);
	fx_expect(sp, NFULL * CS, TAIL, model + NFULL * CS);
	assert_int_equal(atomic_load(&fault.gets), 0);
	assert_int_equal(fx_status(sp).chunks_written, 5);
	assert_int_equal(hs_spare_close(sp), 0);
	free(model);
	free(w);
}

static void test_writes_into_zero_chunks(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	unsigned char *model = malloc(IMG_SIZE);
	memcpy(model, f->img, IMG_SIZE);
	unsigned char w[CS];
	ut_fill(w, CS, 99);
	assert_int_equal(hs_spare_write(sp, w, 10, 3 * CS + 500), 0);       /* partial */
	memcpy(model + 3 * CS + 500, w, 10);
	assert_int_equal(hs_spare_write(sp, w, CS, 20 * CS), 0);            /* whole */
	memcpy(model + 20 * CS, w, CS);
	assert_int_equal(hs_spare_write(sp, w, 300, 31 * CS - 100), 0);     /* 30 into 31 */
	memcpy(model + 31 * CS - 100, w, 300);
	fx_expect(sp, 2 * CS, 4 * CS, model + 2 * CS); /* 2 and 5 are data chunks */
	fx_expect(sp, 20 * CS, CS, model + 20 * CS);
	fx_expect(sp, 29 * CS, 6 * CS, model + 29 * CS);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.chunks_written, 4);
	/* Only the data chunks read above were fetched: 2, 5, 29, 34. */
	assert_int_equal(atomic_load(&fault.gets), 4);
	unsigned char *m = fx_map_file(f->state);
	assert_int_equal(m[3], HS_WRITTEN);
	assert_int_equal(m[30], HS_WRITTEN);
	assert_int_equal(m[31], HS_WRITTEN);
	assert_int_equal(m[4], HS_ABSENT);
	free(m);
	assert_int_equal(hs_spare_close(sp), 0);
	sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(fx_status(sp).chunks_written, 4);
	assert_int_equal(hs_spare_close(sp), 0);
	free(model);
}

/* Several writers on the same chunks at once: each chunk counted once, every
 * write kept, each absent base fetched once. */
#define NW 4
static const uint64_t wchunks[] = { 0, 25, 26, 27, 28, 30, 31 };
#define NWCHUNKS (sizeof wchunks / sizeof *wchunks)

struct writer {
	struct hs_spare *sp;
	pthread_barrier_t *bar;
	unsigned t;
	int err;
	unsigned char *pattern; /* IMG_SIZE bytes */
};

static void *writer_main(void *p)
{
	struct writer *w = p;
	pthread_barrier_wait(w->bar);
	/* 4 KiB pieces: piece q of every chunk belongs to thread q % NW. */
	for (unsigned q = w->t; q < CS / 4096; q += NW)
		for (size_t c = 0; c < NWCHUNKS; c++) {
			uint64_t off = wchunks[c] * CS + q * 4096u;
			int r = hs_spare_write(w->sp, w->pattern + off, 4096, off);
			if (r < 0 && !w->err)
				w->err = r;
		}
	/* And everyone overwrites chunks 35 and 36 whole, with its own bytes. */
	for (uint64_t i = 35; i <= 36; i++) {
		int r = hs_spare_write(w->sp, w->pattern + i * CS, CS, i * CS);
		if (r < 0 && !w->err)
			w->err = r;
	}
	return NULL;
}

static void test_concurrent_writers_counted_once(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, CS, f->img); /* chunk 0 present; the others absent or zero */
	atomic_store(&fault.gets, 0);
	atomic_store(&fault.delay_ms, 50);
	unsigned char *pattern[NW];
	struct writer w[NW];
	pthread_t th[NW];
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, NW);
	for (unsigned t = 0; t < NW; t++) {
		pattern[t] = malloc(IMG_SIZE);
		ut_fill(pattern[t], IMG_SIZE, 500 + t);
		w[t] = (struct writer){ .sp = sp, .bar = &bar, .t = t, .pattern = pattern[t] };
		assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
	}
	for (unsigned t = 0; t < NW; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(w[t].err, 0);
	}
	pthread_barrier_destroy(&bar);
	atomic_store(&fault.delay_ms, 0);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.chunks_written, NWCHUNKS + 2);
	/* The four absent data chunks were each fetched once; 35 and 36 never. */
	assert_int_equal(atomic_load(&fault.gets), 4);
	unsigned char *model = malloc(IMG_SIZE);
	memcpy(model, f->img, IMG_SIZE);
	for (unsigned q = 0; q < CS / 4096; q++)
		for (size_t c = 0; c < NWCHUNKS; c++) {
			uint64_t off = wchunks[c] * CS + q * 4096u;
			memcpy(model + off, pattern[q % NW] + off, 4096);
		}
	unsigned char *got = malloc(2 * CS);
	assert_int_equal(hs_spare_read(sp, got, 2 * CS, 35 * CS), (ssize_t)(2 * CS));
	for (uint64_t i = 35; i <= 36; i++) {
		/* Chunks 35 and 36 hold one writer's bytes, whole. */
		unsigned char *g = got + (i - 35) * CS;
		int who = -1;
		for (unsigned t = 0; t < NW; t++)
			if (memcmp(g, pattern[t] + i * CS, CS) == 0)
				who = (int)t;
		assert_true(who >= 0);
		memcpy(model + i * CS, g, CS);
	}
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(hs_spare_close(sp), 0);
	sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(fx_status(sp).chunks_written, NWCHUNKS + 2);
	assert_int_equal(hs_spare_close(sp), 0);
	for (unsigned t = 0; t < NW; t++)
		free(pattern[t]);
	free(model);
	free(got);
}

/* ---- discard ---- */

static void test_discard_reads_zeros(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	unsigned char *model = malloc(IMG_SIZE);
	memcpy(model, f->img, IMG_SIZE);
	fx_expect(sp, 38 * CS, 2 * CS, f->img + 38 * CS); /* 38 and 39 present */
	atomic_store(&fault.gets, 0);
#define DISCARD(o, l)                                                    \
	do {                                                             \
		assert_int_equal(hs_spare_discard(sp, (o), (l)), 0);     \
		memset(model + (o), 0, (l));                             \
	} while (0)
	DISCARD(37 * CS, CS);                  /* whole, absent: no fetch */
	assert_int_equal(atomic_load(&fault.gets), 0);
	DISCARD(38 * CS, CS);                  /* whole, present */
	DISCARD(39 * CS + 4096, 8192);         /* partial, present */
	DISCARD(1 * CS + 100, 1000);           /* partial, absent */
	DISCARD(32 * CS + 10, 20);             /* partial, zero chunk */
	DISCARD(5 * CS + CS / 2, CS);          /* across two chunks, unaligned */
	DISCARD(NFULL * CS + 1, TAIL - 1);     /* the short last chunk, to the end */
	assert_int_equal(hs_spare_discard(sp, IMG_SIZE - 5, 6), -EFBIG);
	assert_int_equal(hs_spare_discard(sp, IMG_SIZE + CS, 1), -EFBIG);
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(hs_spare_flush(sp), 0);
	unsigned char *m = fx_map_file(f->state);
	assert_int_equal(m[37], HS_WRITTEN);
	assert_int_equal(m[38], HS_WRITTEN);
	assert_int_equal(m[5], HS_WRITTEN);
	assert_int_equal(m[6], HS_WRITTEN);
	free(m);
	assert_int_equal(hs_spare_close(sp), 0);
	fault_reset();
	sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, model);
	/* Everything was local before the restart: nothing is fetched again. */
	assert_int_equal(atomic_load(&fault.gets), 0);
	/* A write after a discard keeps the zeros around it. */
	assert_int_equal(hs_spare_write(sp, "abc", 3, 37 * CS + 9), 0);
	memcpy(model + 37 * CS + 9, "abc", 3);
	fx_expect(sp, 36 * CS, 3 * CS, model + 36 * CS);
	assert_int_equal(hs_spare_close(sp), 0);
	free(model);
#undef DISCARD
}

/* ---- SEEK_DATA / SEEK_HOLE ---- */

static void expect_seek(struct hs_spare *sp, uint64_t off, int whence, int64_t want)
{
	int64_t got = hs_spare_seek(sp, off, whence);
	if (got != want)
		fail_msg("%s from %llu (chunk %llu + %llu): got %lld, expected %lld",
			 whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE", (unsigned long long)off,
			 (unsigned long long)(off / CS), (unsigned long long)(off % CS), (long long)got,
			 (long long)want);
}

static void test_seek_data_and_holes(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	/* Zero chunks: 3-4, 20, 30-33. */
	expect_seek(sp, 0, SEEK_DATA, 0);
	expect_seek(sp, 0, SEEK_HOLE, 3 * CS);
	expect_seek(sp, 100, SEEK_HOLE, 3 * CS);
	expect_seek(sp, 3 * CS + 5, SEEK_HOLE, 3 * CS + 5);
	expect_seek(sp, 3 * CS, SEEK_DATA, 5 * CS);
	expect_seek(sp, 4 * CS + 7, SEEK_DATA, 5 * CS);
	expect_seek(sp, 5 * CS, SEEK_HOLE, 20 * CS);
	expect_seek(sp, 20 * CS, SEEK_DATA, 21 * CS);
	expect_seek(sp, 21 * CS, SEEK_HOLE, 30 * CS);
	expect_seek(sp, 30 * CS, SEEK_DATA, 34 * CS);
	expect_seek(sp, 34 * CS, SEEK_HOLE, (int64_t)IMG_SIZE);
	expect_seek(sp, IMG_SIZE - 1, SEEK_DATA, (int64_t)IMG_SIZE - 1);
	expect_seek(sp, IMG_SIZE - 1, SEEK_HOLE, (int64_t)IMG_SIZE);
	expect_seek(sp, IMG_SIZE, SEEK_DATA, -ENXIO);
	expect_seek(sp, IMG_SIZE, SEEK_HOLE, -ENXIO);
	expect_seek(sp, IMG_SIZE + CS, SEEK_DATA, -ENXIO);
	/* Reading changes nothing. */
	fx_expect(sp, 0, 8 * CS, f->img);
	expect_seek(sp, 0, SEEK_HOLE, 3 * CS);
	expect_seek(sp, 3 * CS, SEEK_DATA, 5 * CS);

	/* A write into a zero chunk: data there, holes around it. */
	unsigned char w[4096];
	memset(w, 1, sizeof w);
	assert_int_equal(hs_spare_write(sp, w, sizeof w, 31 * CS + 8192), 0);
	expect_seek(sp, 30 * CS, SEEK_DATA, 31 * CS + 8192);
	expect_seek(sp, 31 * CS, SEEK_DATA, 31 * CS + 8192);
	expect_seek(sp, 31 * CS + 8192, SEEK_HOLE, 31 * CS + 12288);
	expect_seek(sp, 31 * CS + 12288, SEEK_DATA, 34 * CS);
	expect_seek(sp, 30 * CS, SEEK_HOLE, 30 * CS);
	/* A discarded chunk is a hole; a partly discarded one has one. */
	assert_int_equal(hs_spare_discard(sp, 7 * CS, CS), 0);
	expect_seek(sp, 5 * CS, SEEK_HOLE, 7 * CS);
	expect_seek(sp, 7 * CS, SEEK_DATA, 8 * CS);
	assert_int_equal(hs_spare_discard(sp, 12 * CS + 4096, 8192), 0);
	expect_seek(sp, 8 * CS, SEEK_HOLE, 12 * CS + 4096);
	expect_seek(sp, 12 * CS + 4096, SEEK_DATA, 12 * CS + 12288);
	expect_seek(sp, 12 * CS + 12288, SEEK_HOLE, 20 * CS);
	/* The whole last chunk discarded: a hole to the end. */
	assert_int_equal(hs_spare_discard(sp, NFULL * CS, TAIL), 0);
	expect_seek(sp, 35 * CS, SEEK_HOLE, NFULL * CS);
	expect_seek(sp, NFULL * CS, SEEK_DATA, -ENXIO);
	expect_seek(sp, NFULL * CS + 5, SEEK_HOLE, NFULL * CS + 5);
	/* A whole-chunk write over a zero chunk is data. */
	unsigned char *c = malloc(CS);
	ut_fill(c, CS, 4);
	assert_int_equal(hs_spare_write(sp, c, CS, 20 * CS), 0);
	expect_seek(sp, 12 * CS + 12288, SEEK_HOLE, 30 * CS);
	free(c);
	/* The same answers after a restart. */
	assert_int_equal(hs_spare_close(sp), 0);
	sp = fx_open_plain(f);
	expect_seek(sp, 5 * CS, SEEK_HOLE, 7 * CS);
	expect_seek(sp, 8 * CS, SEEK_HOLE, 12 * CS + 4096);
	expect_seek(sp, 30 * CS, SEEK_DATA, 31 * CS + 8192);
	expect_seek(sp, NFULL * CS, SEEK_DATA, -ENXIO);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* ---- durability ---- */

/* After a flush, the state's files as they are (copied) reopen to exactly
 * what was acknowledged, whatever was written after. */
static void test_flush_then_copy_reads_acknowledged(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	unsigned char *model = malloc(IMG_SIZE);
	memcpy(model, f->img, IMG_SIZE);
	unsigned char *w = malloc(CS);
	ut_fill(w, CS, 31337);
	fx_expect(sp, 9 * CS, CS, f->img + 9 * CS);
	assert_int_equal(hs_spare_write(sp, w, 333, 2 * CS + 77), 0); /* partial, absent */
	memcpy(model + 2 * CS + 77, w, 333);
	assert_int_equal(hs_spare_write(sp, w, CS, 6 * CS), 0);       /* whole, absent */
	memcpy(model + 6 * CS, w, CS);
	assert_int_equal(hs_spare_write(sp, w, 50, 4 * CS + 9), 0);    /* zero chunk */
	memcpy(model + 4 * CS + 9, w, 50);
	assert_int_equal(hs_spare_discard(sp, 8 * CS, CS), 0);         /* whole, absent */
	memset(model + 8 * CS, 0, CS);
	assert_int_equal(hs_spare_discard(sp, 9 * CS + 10, 5000), 0);  /* partial, present */
	memset(model + 9 * CS + 10, 0, 5000);
	assert_int_equal(hs_spare_flush(sp), 0);
	char *copy = ut_path(f->dir, "copy");
	assert_int_equal(mkdir(copy, 0700), 0);
	fx_copy_file(f->state, copy, "disk.img");
	fx_copy_file(f->state, copy, "map");
	fx_copy_file(f->state, copy, "state.json");
	/* More, never acknowledged. */
	unsigned char *v = malloc(CS);
	memset(v, 0xff, CS);
	assert_int_equal(hs_spare_write(sp, v, CS, 2 * CS), 0);
	assert_int_equal(hs_spare_write(sp, v, 10, 6 * CS), 0);
	assert_int_equal(hs_spare_write(sp, v, CS, 11 * CS), 0);
	assert_int_equal(hs_spare_discard(sp, 0, CS), 0);
	struct hs_spare *sc = fx_open(f, copy, NULL, 0);
	fx_expect(sc, 0, IMG_SIZE, model);
	assert_int_equal(fx_status(sc).chunks_written, 5);
	assert_int_equal(hs_spare_close(sc), 0);
	assert_int_equal(hs_spare_close(sp), 0);
	free(copy);
	free(model);
	free(w);
	free(v);
}

/* What the map file says before any flush: "written" for changes to a chunk
 * whose base is in the state (made durable before the data), nothing yet for
 * whole-chunk overwrites of absent chunks (their data is not durable). */
static void test_map_file_never_ahead_of_data(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	unsigned char *w = malloc(CS);
	ut_fill(w, CS, 1);
	fx_expect(sp, 1 * CS, CS, f->img + CS);                     /* 1 present */
	assert_int_equal(hs_spare_flush(sp), 0);
	fx_expect(sp, 2 * CS, CS, f->img + 2 * CS);                 /* 2 present, not flushed */
	assert_int_equal(hs_spare_write(sp, w, CS, 21 * CS), 0);    /* whole, absent */
	assert_int_equal(hs_spare_discard(sp, 24 * CS, CS), 0);     /* whole discard, absent */
	assert_int_equal(hs_spare_write(sp, w, 100, 1 * CS + 5), 0); /* partial, present */
	assert_int_equal(hs_spare_write(sp, w, 100, 2 * CS + 5), 0); /* partial, present unflushed */
	assert_int_equal(hs_spare_write(sp, w, 100, 23 * CS + 5), 0); /* partial, absent */
	assert_int_equal(hs_spare_write(sp, w, CS, 25 * CS), 0);    /* absent, then whole again */
	unsigned char *m = fx_map_file(f->state);
	assert_int_equal(m[21], HS_ABSENT);
	assert_int_equal(m[24], HS_ABSENT);
	assert_int_equal(m[25], HS_ABSENT);
	assert_int_equal(m[1], HS_WRITTEN);
	assert_int_equal(m[2], HS_WRITTEN);
	assert_int_equal(m[23], HS_WRITTEN);
	free(m);
	assert_int_equal(hs_spare_flush(sp), 0);
	m = fx_map_file(f->state);
	assert_int_equal(m[21], HS_WRITTEN);
	assert_int_equal(m[24], HS_WRITTEN);
	assert_int_equal(m[25], HS_WRITTEN);
	assert_int_equal(m[0], HS_ABSENT);
	free(m);
	assert_int_equal(hs_spare_close(sp), 0);
	free(w);
}

/* Crash images: disk.img as of its last sync, map and state.json as now (the
 * worst a host crash can leave). Bytes outside the changes made since the
 * last flush must read as acknowledged; bytes inside them either as
 * acknowledged or as written; a "present" chunk in the map must hold the
 * point's bytes in the durable image. */
struct crash {
	struct fx *f;
	unsigned char *acked, *now, *touched;
	int n;
};

static void crash_check(struct crash *c, const char *what)
{
	struct fx *f = c->f;
	char name[32];
	snprintf(name, sizeof name, "crash%d", c->n++);
	char *dir = ut_path(f->dir, name);
	fault_crash_copy(f->state, dir);
	/* Present chunks hold the point's bytes in the durable image. */
	unsigned char *m = fx_map_file(dir);
	pthread_mutex_lock(&fault.lock);
	for (uint64_t i = 0; i < NCHUNKS; i++)
		if (m[i] == HS_PRESENT && memcmp(fault.durable + i * CS, f->img + i * CS, fx_chunk_len(i)))
			fail_msg("%s: the map says chunk %llu is present but its data is not durable", what,
				 (unsigned long long)i);
	pthread_mutex_unlock(&fault.lock);
	free(m);
	int saved = atomic_load(&fault.gets);
	struct hs_spare *sp = fx_open(f, dir, NULL, 0);
	unsigned char *got = malloc(IMG_SIZE);
	assert_int_equal(hs_spare_read(sp, got, IMG_SIZE, 0), (ssize_t)IMG_SIZE);
	for (uint64_t k = 0; k < IMG_SIZE; k++) {
		if (got[k] == c->acked[k] || (c->touched[k] && got[k] == c->now[k]))
			continue;
		fail_msg("%s: after a crash byte %llu (chunk %llu + %llu) reads %#x; acknowledged %#x%s",
			 what, (unsigned long long)k, (unsigned long long)(k / CS),
			 (unsigned long long)(k % CS), got[k], c->acked[k],
			 c->touched[k] ? " (or the unacknowledged write)" : "");
	}
	assert_int_equal(hs_spare_close(sp), 0);
	atomic_store(&fault.gets, saved);
	free(got);
	free(dir);
}

static void crash_write(struct crash *c, struct hs_spare *sp, const unsigned char *p, size_t n, uint64_t off)
{
	assert_int_equal(hs_spare_write(sp, p, n, off), 0);
	memcpy(c->now + off, p, n);
	memset(c->touched + off, 1, n);
}

static void crash_discard(struct crash *c, struct hs_spare *sp, uint64_t off, size_t n)
{
	assert_int_equal(hs_spare_discard(sp, off, n), 0);
	memset(c->now + off, 0, n);
	memset(c->touched + off, 1, n);
}

static void crash_flush(struct crash *c, struct hs_spare *sp)
{
	assert_int_equal(hs_spare_flush(sp), 0);
	memcpy(c->acked, c->now, IMG_SIZE);
	memset(c->touched, 0, IMG_SIZE);
}

static void test_crash_images_read_acknowledged(void **state)
{
	struct fx *f = *state;
	struct crash c = { .f = f };
	c.acked = malloc(IMG_SIZE);
	c.now = malloc(IMG_SIZE);
	c.touched = calloc(1, IMG_SIZE);
	memcpy(c.acked, f->img, IMG_SIZE);
	memcpy(c.now, f->img, IMG_SIZE);
	unsigned char *w = malloc(2 * CS); /* writes take CS bytes from small offsets into it */
	ut_fill(w, 2 * CS, 4711);

	struct hs_spare *sp = fx_open_plain(f);
	char *img = ut_path(f->state, "disk.img");
	fault_track(img);
	free(img);
	fx_expect(sp, 1 * CS, 2 * CS, f->img + CS); /* 1, 2 present in memory */
	fx_expect(sp, 12 * CS, CS, f->img + 12 * CS);
	crash_check(&c, "after reads");
	crash_write(&c, sp, w, 100, 1 * CS + 50);   /* partial, present (unsynced) */
	crash_check(&c, "partial write into a fetched chunk");
	crash_write(&c, sp, w, CS, 5 * CS);         /* whole, absent */
	crash_write(&c, sp, w + 7, 1000, 6 * CS + 9); /* partial, absent */
	crash_write(&c, sp, w, 64, 30 * CS + 64);   /* partial, zero chunk */
	crash_discard(&c, sp, 7 * CS, CS);          /* whole, absent */
	crash_discard(&c, sp, 2 * CS + 4096, 4096); /* partial, present (unsynced) */
	crash_write(&c, sp, w + 3, CS, 12 * CS);    /* whole, present */
	crash_discard(&c, sp, 31 * CS, CS);         /* whole, zero chunk */
	crash_check(&c, "changes before the first flush");
	crash_flush(&c, sp);
	crash_check(&c, "after the first flush");
	crash_write(&c, sp, w + 11, 200, 5 * CS + 300); /* into a whole-written chunk */
	crash_write(&c, sp, w + 5, CS, 5 * CS);
	crash_write(&c, sp, w, 10, 7 * CS + 10);      /* into a discarded chunk */
	crash_discard(&c, sp, 1 * CS, 3000);
	crash_write(&c, sp, w, CS, 9 * CS);           /* whole, absent */
	fx_expect(sp, 14 * CS, CS, f->img + 14 * CS); /* a fetch, then overwritten in part */
	crash_write(&c, sp, w, 1, 14 * CS + 7);
	crash_check(&c, "changes after the first flush");
	crash_flush(&c, sp);
	crash_check(&c, "after the second flush");
	fx_expect(sp, 0, IMG_SIZE, c.now);
	assert_int_equal(hs_spare_close(sp), 0);
	crash_check(&c, "after close");
	free(w);
	free(c.acked);
	free(c.now);
	free(c.touched);
}

static void test_reopen_needs_no_fetch(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	fault_reset();
	sp = fx_open_plain(f);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.chunks_present, NCHUNKS);
	assert_true(st.hydrated);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(atomic_load(&fault.gets), 0);
	assert_int_equal(fx_status(sp).bytes_from_store, 0);
	/* The state's image is the point's image. */
	char *p = ut_path(f->state, "disk.img");
	size_t n;
	unsigned char *d = ut_read_file(p, &n);
	assert_int_equal(n, IMG_SIZE);
	assert_memory_equal(d, f->img, IMG_SIZE);
	free(d);
	free(p);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* The spare opened over a state of another point is refused (spare-level
 * view of the state test): nothing changes, the message says whose it is. */
static void test_state_of_another_point_refused(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, CS, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	unsigned char *img2 = fx_make_image(2);
	char id2[HS_POINT_ID_LEN + 1];
	fx_put_point(f->store, img2, IMG_SIZE, SERVER, T0 + 3600, NULL, id2);
	struct hs_spare *o = NULL;
	hs_err_clear();
	assert_int_equal(fx_open_at(f->store, SERVER, id2, f->state, NULL, 0, &o), -EINVAL);
	assert_null(o);
	assert_err_mentions(f->id);
	assert_err_mentions(id2);
	/* Still the first point's state. */
	sp = fx_open_plain(f);
	assert_int_equal(hs_state_get(sp->state, 0), HS_PRESENT);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	free(img2);
}

/* A point taken by hs_capture from an image file reads back through a spare. */
static void test_captured_point(void **state)
{
	struct fx *f = *state;
	char *src = ut_path(f->dir, "source.img");
	assert_int_equal(ut_write_file(src, f->img, IMG_SIZE), 0);
	struct hs_store *st;
	assert_int_equal(hs_store_open(f->store, &st), 0);
	struct hs_capture_disk disk = { .name = HS_DISK_DEFAULT, .source = src };
	struct hs_capture_opts o = {
		.store = st, .server = "cap01", .disks = &disk, .ndisks = 1, .kind = HS_KIND_SNAPSHOT, .threads = 2,
	};
	struct hs_capture_stats cs;
	int r = hs_capture(&o, &cs);
	if (r < 0)
		fail_msg("capture: %d (%s)", r, msg());
	hs_store_close(st);
	char *sd = ut_path(f->dir, "cap-state");
	struct hs_spare *sp = NULL;
	assert_int_equal(fx_open_at(f->store, "cap01", cs.id, sd, NULL, 0, &sp), 0);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	fx_expect(sp, 10 * CS + 3, CS, f->img + 10 * CS + 3);
	assert_int_equal(hs_spare_close(sp), 0);
	free(sd);
	free(src);
}

/* Two spares with different chunk sizes read from one thread (a tool that
 * opens several points): each read is right, no memory is overrun. */
static int two_chunk_sizes(void *arg)
{
	struct fx *f = arg;
	struct hs_spare *sp = NULL;
	if (fx_try_open(f, f->state, NULL, 0, &sp) < 0)
		return 10;
	unsigned char *b = malloc(CS);
	if (hs_spare_read(sp, b, CS, 0) != CS || memcmp(b, f->img, CS))
		return 11;
	hs_spare_close(sp);
	free(b);

	char *big = ut_path(f->dir, "big"), *bs = ut_path(f->dir, "big-state");
	if (hs_store_init(big, 4 * CS))
		return 12;
	uint64_t size = 16 * CS;
	unsigned char *img = malloc(size);
	ut_fill(img, size, 8);
	struct hs_index *ix;
	if (hs_index_new(size, 4 * CS, &ix))
		return 13;
	snprintf(ix->server, sizeof ix->server, "big");
	hs_point_id_format(T0, ix->id);
	ix->time = T0;
	ix->kind = HS_KIND_SNAPSHOT;
	struct hs_store *st;
	if (hs_store_open(big, &st))
		return 14;
	for (uint64_t i = 0; i < ix->nchunks; i++) {
		hs_digest_compute(img + i * 4 * CS, 4 * CS, &ix->digests[i]);
		struct hs_buf z = { 0 };
		hs_chunk_encode(NULL, NULL, img + i * 4 * CS, 4 * CS, HS_ZSTD_LEVEL, &z);
		hs_store_chunk_put(st, &ix->digests[i], z.data, z.len);
		hs_buf_free(&z);
	}
	if (hs_store_sync(st) || hs_store_point_put1(st, ix))
		return 15;
	char id[HS_POINT_ID_LEN + 1];
	memcpy(id, ix->id, sizeof id);
	hs_store_close(st);
	hs_index_free(ix);
	if (fx_open_at(big, "big", id, bs, NULL, 0, &sp) < 0)
		return 16;
	unsigned char *got = malloc(size);
	if (hs_spare_read(sp, got, size, 0) != (ssize_t)size)
		return 17;
	if (memcmp(got, img, size))
		return 18;
	hs_spare_close(sp);
	free(got);
	free(img);
	free(big);
	free(bs);
	return 0;
}

static void test_two_chunk_sizes_in_one_thread(void **state)
{
	int r = ut_in_child(two_chunk_sizes, *state);
	if (r != 0)
		fail_msg("reading spares of 64 KiB then 256 KiB chunks in one thread: child ended with %d%s", r,
			 r > 128 ? " (a signal: memory corrupted)" : "");
}

/* ---- an image above 2 TiB (sparse), 4 MiB chunks ---- */

#define BCS (4u << 20)
#define BSIZE ((3ull << 40) + 12345)                 /* 3 TiB and a short last chunk */
#define BNCHUNKS ((BSIZE + BCS - 1) / BCS)
#define BMID 600000ull                               /* a data chunk at about 2.29 TiB */

struct big {
	struct fx *f;
	char err[512];
};

#define BIG_FAIL(...)                                                       \
	do {                                                                \
		snprintf(b->err, sizeof b->err, __VA_ARGS__);               \
		goto out;                                                   \
	} while (0)

static uint32_t big_len(uint64_t i) { return i == BNCHUNKS - 1 ? (uint32_t)(BSIZE - i * BCS) : BCS; }

/* Runs in its own thread (its per-thread fetch buffers start fresh). */
static void *big_main(void *arg)
{
	struct big *b = arg;
	struct fx *f = b->f;
	char *where = ut_path(f->dir, "big"), *sd = ut_path(f->dir, "big-state");
	unsigned char *c[3] = { malloc(BCS), malloc(BCS), malloc(BCS) }, *got = malloc(BCS);
	const uint64_t pos[3] = { 0, BMID, BNCHUNKS - 1 };
	struct hs_index *ix = NULL;
	struct hs_store *st = NULL;
	struct hs_spare *sp = NULL;
	char id[HS_POINT_ID_LEN + 1];
	if (hs_store_init(where, BCS) || hs_store_open(where, &st))
		BIG_FAIL("store: %s", msg());
	if (hs_index_new(BSIZE, BCS, &ix))
		BIG_FAIL("index: %s", msg());
	snprintf(ix->server, sizeof ix->server, "huge");
	hs_point_id_format(T0, ix->id);
	ix->time = T0;
	ix->kind = HS_KIND_SNAPSHOT;
	for (int k = 0; k < 3; k++) {
		ut_fill(c[k], BCS, 90 + (uint64_t)k);
		uint32_t len = big_len(pos[k]);
		hs_digest_compute(c[k], len, &ix->digests[pos[k]]);
		struct hs_buf z = { 0 };
		if (hs_chunk_encode(NULL, NULL, c[k], len, HS_ZSTD_LEVEL, &z) ||
		    hs_store_chunk_put(st, &ix->digests[pos[k]], z.data, z.len) < 0)
			BIG_FAIL("chunk put");
		hs_buf_free(&z);
	}
	if (hs_store_sync(st) || hs_store_point_put1(st, ix))
		BIG_FAIL("point put: %s", msg());
	memcpy(id, ix->id, sizeof id);
	hs_index_free(ix);
	ix = NULL;
	hs_store_close(st);
	st = NULL;
	double t0 = hs_now_s();
	if (fx_open_at(where, "huge", id, sd, NULL, 0, &sp) < 0)
		BIG_FAIL("open: %s", msg());
	double topen = hs_now_s() - t0;
	if (hs_spare_size(sp) != BSIZE)
		BIG_FAIL("size %llu", (unsigned long long)hs_spare_size(sp));
	/* Reads far out, unaligned, and of the short last chunk. */
	uint64_t off = BMID * BCS + 4095;
	if (hs_spare_read(sp, got, 10000, off) != 10000 || memcmp(got, c[1] + 4095, 10000))
		BIG_FAIL("read at %llu: %s", (unsigned long long)off, msg());
	off = (BNCHUNKS - 1) * BCS;
	if (hs_spare_read(sp, got, BCS, off) != (ssize_t)big_len(BNCHUNKS - 1) ||
	    memcmp(got, c[2], big_len(BNCHUNKS - 1)))
		BIG_FAIL("read of the last chunk: %s", msg());
	if (hs_spare_read(sp, got, 4096, (5ull << 39) + 3) != 4096 || !hs_is_zero(got, 4096))
		BIG_FAIL("read of a zero chunk at 2.5 TiB");
	/* Writes far out: into a zero chunk and into the data at the very end. */
	const uint64_t w1 = 5ull << 39, w2 = BSIZE - 50;
	if (hs_spare_write(sp, "0123456789", 10, w1) || hs_spare_write(sp, "abcdefghij", 10, w2 - 5))
		BIG_FAIL("write: %s", msg());
	if (hs_spare_write(sp, "x", 1, BSIZE) != -EFBIG)
		BIG_FAIL("write past the end accepted");
	if (hs_spare_seek(sp, (5ull << 39) - BCS, SEEK_DATA) != (int64_t)w1)
		BIG_FAIL("SEEK_DATA before the write at 2.5 TiB: %lld",
			 (long long)hs_spare_seek(sp, (5ull << 39) - BCS, SEEK_DATA));
	if (hs_spare_seek(sp, BCS, SEEK_DATA) != (int64_t)(BMID * BCS))
		BIG_FAIL("SEEK_DATA from chunk 1: %lld", (long long)hs_spare_seek(sp, BCS, SEEK_DATA));
	if (hs_spare_seek(sp, w1 + 4096, SEEK_DATA) != (int64_t)((BNCHUNKS - 1) * BCS))
		BIG_FAIL("SEEK_DATA after the write at 2.5 TiB: %lld",
			 (long long)hs_spare_seek(sp, w1 + 4096, SEEK_DATA));
	if (hs_spare_seek(sp, BMID * BCS + 1, SEEK_HOLE) != (int64_t)((BMID + 1) * BCS))
		BIG_FAIL("SEEK_HOLE after chunk %llu", BMID);
	if (hs_spare_close(sp))
		BIG_FAIL("close");
	sp = NULL;
	if (fx_open_at(where, "huge", id, sd, NULL, 0, &sp) < 0)
		BIG_FAIL("reopen: %s", msg());
	if (hs_spare_read(sp, got, 10, w1) != 10 || memcmp(got, "0123456789", 10))
		BIG_FAIL("after reopen, the write at 2.5 TiB is lost");
	if (hs_spare_read(sp, got, 100, BSIZE - 100) != 100 || memcmp(got + 45, "abcdefghij", 10) ||
	    memcmp(got, c[2] + big_len(BNCHUNKS - 1) - 100, 45) ||
	    memcmp(got + 55, c[2] + big_len(BNCHUNKS - 1) - 45, 45))
		BIG_FAIL("after reopen, the end of the image is wrong");
	if (topen > 2.0)
		BIG_FAIL("opening a 3 TiB spare took %.2f s", topen);
out:
	hs_spare_close(sp);
	hs_store_close(st);
	hs_index_free(ix);
	for (int k = 0; k < 3; k++)
		free(c[k]);
	free(got);
	free(where);
	free(sd);
	return NULL;
}

static void test_image_above_2tib(void **state)
{
	struct big b = { .f = *state };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, big_main, &b), 0);
	pthread_join(th, NULL);
	if (b.err[0])
		fail_msg("3 TiB image: %s", b.err);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fault_setup, fault_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_matches_image),
		T(test_zero_chunks_read_without_fetch),
		T(test_seed_before_store),
		T(test_corrupt_seed_copy_falls_back),
		T(test_bad_chunk_everywhere_is_eio),
		T(test_transient_errors_retried),
		T(test_transient_errors_until_deadline),
		T(test_deadline_per_read_not_per_chunk),
		T(test_waiting_for_another_fetch_ends_at_the_deadline),
		T(test_concurrent_readers_share_one_fetch),
		T(test_partial_write_into_absent_chunk),
		T(test_whole_chunk_writes_fetch_nothing),
		T(test_writes_into_zero_chunks),
		T(test_concurrent_writers_counted_once),
		T(test_discard_reads_zeros),
		T(test_seek_data_and_holes),
		T(test_flush_then_copy_reads_acknowledged),
		T(test_map_file_never_ahead_of_data),
		T(test_crash_images_read_acknowledged),
		T(test_reopen_needs_no_fetch),
		T(test_state_of_another_point_refused),
		T(test_captured_point),
		T(test_two_chunk_sizes_in_one_thread),
		T(test_image_above_2tib),
	};
	return cmocka_run_group_tests_name("spare", tests, NULL, NULL);
}
