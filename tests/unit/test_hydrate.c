/* Unit tests for hydrate.h: background threads that copy every missing chunk
 * into the state, the listed ones first, yielding to demand reads, with
 * progress that survives a restart. Linked with the fault layer of
 * fixture.h (slow or failing chunk reads, sync snapshots). Every wait
 * is bounded. */
#define UT_WRAP_IO
#include "fixture.h"
#include <sched.h>

#define WAIT_S 20.0


static unsigned data_chunks(void)
{
	unsigned n = 0;
	for (uint64_t i = 0; i < NCHUNKS; i++)
		n += !fx_zero_chunk(i);
	return n;
}

static struct hs_spare_helper *start(struct hs_spare *sp, unsigned threads, const uint64_t *first, size_t n)
{
	struct hs_spare_helper *h = NULL;
	assert_int_equal(hs_hydrate_start(sp, threads, first, n, &h), 0);
	assert_non_null(h);
	return h;
}

/* Wait (at most WAIT_S) until every chunk is local. */
static void wait_hydrated(struct hs_spare *sp)
{
	double t0 = hs_now_s();
	while (!fx_status(sp).hydrated) {
		if (hs_now_s() - t0 > WAIT_S) {
			struct hs_spare_status st = fx_status(sp);
			fail_msg("not hydrated after %.0f s: %llu of %llu chunks, %llu errors (%s)", WAIT_S,
				 (unsigned long long)st.chunks_present, (unsigned long long)st.chunks_total,
				 (unsigned long long)st.errors, st.last_error);
		}
		usleep(5000);
	}
}

static unsigned count_present(struct hs_spare *sp)
{
	unsigned n = 0;
	for (uint64_t i = 0; i < NCHUNKS; i++)
		n += hs_state_get(sp->state, i) != HS_ABSENT;
	return n;
}

static void expect_file(const char *dir, const char *name, const unsigned char *want, size_t n)
{
	char *p = ut_path(dir, name);
	size_t got_n;
	unsigned char *got = ut_read_file(p, &got_n);
	assert_non_null(got);
	assert_int_equal(got_n, n);
	for (size_t k = 0; k < n; k++)
		if (got[k] != want[k])
			fail_msg("%s: byte %zu (chunk %zu) is %#x, expected %#x", p, k, k / CS, got[k], want[k]);
	free(got);
	free(p);
}

static void test_hydrate_fills_state_then_restart_fetches_nothing(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	struct hs_spare_helper *h = start(sp, 2, NULL, 0);
	wait_hydrated(sp);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.chunks_present, NCHUNKS);
	assert_int_equal(st.bytes_from_store, fx_data_bytes(0, NCHUNKS));
	assert_int_equal(st.errors, 0);
	assert_int_equal(atomic_load(&fault.gets), data_chunks()); /* each chunk fetched once */
	assert_int_equal(hs_spare_close(sp), 0);
	/* The state's image is now the complete raw image. */
	expect_file(f->state, "disk.img", f->img, IMG_SIZE);
	unsigned char *m = fx_map_file(f->state);
	for (uint64_t i = 0; i < NCHUNKS; i++)
		assert_int_equal(m[i], fx_zero_chunk(i) ? HS_ABSENT : HS_PRESENT);
	free(m);

	/* After a restart everything is still there: hydration has nothing to do. */
	fault_reset();
	sp = fx_open_plain(f);
	assert_true(fx_status(sp).hydrated);
	h = start(sp, 2, NULL, 0);
	usleep(300 * 1000);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	assert_int_equal(atomic_load(&fault.gets), 0);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(atomic_load(&fault.gets), 0);
	assert_int_equal(fx_status(sp).bytes_from_store, 0);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* With one thread the listed chunks arrive first, then the rest in order. */
static void test_hydrate_first_list_first(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	const uint64_t first[] = { 38, 5, 22, 5, 999999, 3, NFULL };
	const size_t nfirst = sizeof first / sizeof *first;
	bool listed[NCHUNKS] = { 0 };
	for (size_t k = 0; k < nfirst; k++)
		if (first[k] < NCHUNKS && !fx_zero_chunk(first[k]))
			listed[first[k]] = true;
	atomic_store(&fault.delay_ms, 10);
	struct hs_spare_helper *h = start(sp, 1, first, nfirst);
	double t0 = hs_now_s();
	while (!fx_status(sp).hydrated && hs_now_s() - t0 < WAIT_S) {
		/* States only move forward: whatever is present now was fetched
		 * before what is checked after it. */
		for (uint64_t j = 0; j < NCHUNKS; j++) {
			if (listed[j] || fx_zero_chunk(j) || hs_state_get(sp->state, j) == HS_ABSENT)
				continue;
			for (uint64_t i = 0; i < NCHUNKS; i++)
				if (listed[i] && hs_state_get(sp->state, i) == HS_ABSENT)
					fail_msg("chunk %llu was hydrated before listed chunk %llu",
						 (unsigned long long)j, (unsigned long long)i);
			for (uint64_t i = 0; i < j; i++)
				if (!listed[i] && !fx_zero_chunk(i) && hs_state_get(sp->state, i) == HS_ABSENT)
					fail_msg("chunk %llu was hydrated before chunk %llu (not in order)",
						 (unsigned long long)j, (unsigned long long)i);
		}
		sched_yield();
	}
	assert_true(fx_status(sp).hydrated);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	assert_int_equal(atomic_load(&fault.gets), data_chunks());
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* Stopped half-way and restarted, hydration fetches only what it lacked. */
static void test_hydrate_resumes_after_restart(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	atomic_store(&fault.delay_ms, 20);
	struct hs_spare_helper *h = start(sp, 1, NULL, 0);
	double t0 = hs_now_s();
	while (count_present(sp) < 10 && hs_now_s() - t0 < WAIT_S)
		usleep(2000);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	unsigned had = count_present(sp);
	assert_true(had >= 10);
	assert_true(had < data_chunks());
	assert_int_equal(hs_spare_close(sp), 0);

	fault_reset();
	sp = fx_open_plain(f);
	assert_int_equal(count_present(sp), had);
	h = start(sp, 2, NULL, 0);
	wait_hydrated(sp);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	assert_int_equal(atomic_load(&fault.gets), data_chunks() - had);
	assert_int_equal(hs_spare_close(sp), 0);
	expect_file(f->state, "disk.img", f->img, IMG_SIZE);
}

/* Without a clean stop (kill -9, host crash), progress is durable within
 * about a second, and no present bit is ahead of its data. */
static void test_hydrate_progress_durable_without_close(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	char *img = ut_path(f->state, "disk.img");
	fault_track(img);
	free(img);
	atomic_store(&fault.delay_ms, 25);
	struct hs_spare_helper *h = start(sp, 1, NULL, 0);
	usleep(2500 * 1000);
	unsigned char *m = fx_map_file(f->state); /* what a crash now would leave */
	unsigned durable = 0;
	pthread_mutex_lock(&fault.lock);
	assert_true(fault.nsyncs >= 1);
	for (uint64_t i = 0; i < NCHUNKS; i++) {
		if (m[i] == HS_ABSENT)
			continue;
		durable++;
		if (memcmp(fault.durable + i * CS, f->img + i * CS, fx_chunk_len(i)))
			fail_msg("map says chunk %llu is present before its data was synced",
				 (unsigned long long)i);
	}
	pthread_mutex_unlock(&fault.lock);
	free(m);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	if (durable < 5)
		fail_msg("after 2.5 s of hydration only %u chunks are durably present", durable);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* A chunk no source has: hydration does everything else, reports the error,
 * keeps trying, and stops promptly when asked. */
static void test_hydrate_missing_chunk(void **state)
{
	struct fx *f = *state;
	fx_drop_chunk(f->store, f->img, 9);
	struct hs_spare *sp = fx_open_plain(f);
	struct hs_spare_helper *h = start(sp, 2, NULL, 0);
	double t0 = hs_now_s();
	while (count_present(sp) < data_chunks() - 1 && hs_now_s() - t0 < WAIT_S)
		usleep(5000);
	assert_int_equal(count_present(sp), data_chunks() - 1);
	usleep(100 * 1000);
	struct hs_spare_status st = fx_status(sp);
	assert_false(st.hydrated);
	assert_true(st.errors >= 1);
	struct hs_digest d;
	hs_digest_compute(f->img + 9 * CS, CS, &d);
	char hex[HS_DIGEST_HEX];
	hs_digest_hex(&d, hex);
	if (!strstr(st.last_error, hex))
		fail_msg("last_error '%s' does not name the missing chunk %s", st.last_error, hex);
	assert_int_equal(hs_state_get(sp->state, 9), HS_ABSENT);
	t0 = hs_now_s();
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	assert_true(hs_now_s() - t0 < 3.0);
	/* A demand read of it is EIO, not zeros. */
	unsigned char b[16];
	sp->demand_deadline_ms = 100;
	assert_int_equal(hs_spare_read(sp, b, sizeof b, 9 * CS), -EIO);
	assert_int_equal(hs_spare_close(sp), 0);
}

/* hs_spare_close stops a running hydration (spare.h: "Stop hydration, flush
 * the state and free everything") when the hydrator is the spare's, as the
 * mount command does it (hs_hydrate_start(..., &sp->hyd)). Run in a child: a
 * hydrator left running on a freed spare crashes. */
static int close_while_hydrating(void *arg)
{
	struct fx *f = arg;
	alarm(30);
	struct hs_spare *sp = NULL;
	if (fx_try_open(f, f->state, NULL, 0, &sp) < 0)
		return 10;
	atomic_store(&fault.delay_ms, 30);
	if (hs_hydrate_start(sp, 2, NULL, 0, &sp->hyd) < 0 || !sp->hyd)
		return 11;
	usleep(200 * 1000);
	int r = hs_spare_close(sp);
	usleep(500 * 1000); /* time for a stray hydrator to touch the freed spare */
	if (r != 0)
		return 12;
	/* What it fetched before the close is durable. */
	if (fx_try_open(f, f->state, NULL, 0, &sp) < 0)
		return 13;
	unsigned n = 0;
	for (uint64_t i = 0; i < NCHUNKS; i++)
		n += hs_state_get(sp->state, i) != HS_ABSENT;
	hs_spare_close(sp);
	return n >= 2 ? 0 : 14;
}

static void test_close_stops_hydration(void **state)
{
	int r = ut_in_child(close_while_hydrating, *state);
	if (r != 0)
		fail_msg("closing a spare while it hydrates: child ended with %d%s", r,
			 r > 128 ? " (killed by a signal)" : "");
}

/* The rate is measured, and shown in the spare's status while hydrating. */
static void test_hydrate_rate_in_status(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	atomic_store(&fault.delay_ms, 80);
	assert_int_equal(hs_hydrate_start(sp, 1, NULL, 0, &sp->hyd), 0);
	double t0 = hs_now_s(), rate = 0, shown = 0;
	while (hs_now_s() - t0 < 4.0 && (rate <= 0 || shown <= 0)) {
		rate = hs_hydrate_rate(sp->hyd);
		shown = fx_status(sp).hydrate_bytes_per_s;
		usleep(20 * 1000);
	}
	hs_hydrate_stop(sp->hyd);
	sp->hyd = NULL;
	assert_int_equal(hs_spare_close(sp), 0);
	/* 64 KiB every ~80 ms: roughly 800 KB/s; allow a wide margin. */
	if (rate <= 100e3 || rate > 5e6)
		fail_msg("hs_hydrate_rate = %.0f B/s, expected about 800 KB/s", rate);
	if (shown <= 0)
		fail_msg("status hydrate_bytes_per_s stays 0 while hydrating (hs_hydrate_rate says %.0f)", rate);
}

/* Writes and discards while hydration runs are never overwritten by it. */
static void test_writes_during_hydration(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	unsigned char *model = malloc(IMG_SIZE);
	memcpy(model, f->img, IMG_SIZE);
	unsigned char *w = malloc(CS);
	atomic_store(&fault.delay_ms, 5);
	struct hs_spare_helper *h = start(sp, 2, NULL, 0);
	uint64_t seed = 12345;
	for (int op = 0; op < 60; op++) {
		uint64_t i = ut_rand(&seed) % NCHUNKS;
		uint32_t len = fx_chunk_len(i);
		uint64_t kind = ut_rand(&seed) % 3;
		uint32_t a = (uint32_t)(ut_rand(&seed) % len), n = (uint32_t)(ut_rand(&seed) % (len - a)) + 1;
		if (kind == 0) { /* whole chunk */
			a = 0;
			n = len;
		}
		uint64_t off = i * CS + a;
		if (kind == 2) {
			assert_int_equal(hs_spare_discard(sp, off, n), 0);
			memset(model + off, 0, n);
		} else {
			ut_fill(w, n, 1000 + (uint64_t)op);
			assert_int_equal(hs_spare_write(sp, w, n, off), 0);
			memcpy(model + off, w, n);
		}
		usleep(2000);
	}
	wait_hydrated(sp);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(hs_spare_close(sp), 0);
	expect_file(f->state, "disk.img", model, IMG_SIZE);
	sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, model);
	assert_int_equal(hs_spare_close(sp), 0);
	free(model);
	free(w);
}

/* A demand read is served at once, not after the hydrator's queue. */
static void test_demand_read_during_hydration(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	atomic_store(&fault.delay_ms, 100);
	struct hs_spare_helper *h = start(sp, 1, NULL, 0);
	usleep(150 * 1000);
	double t0 = hs_now_s();
	fx_expect(sp, 39 * CS, CS, f->img + 39 * CS);
	double t = hs_now_s() - t0;
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	assert_int_equal(hs_spare_close(sp), 0);
	if (t > 1.0)
		fail_msg("a demand read took %.2f s while hydrating (one fetch is 0.1 s)", t);
}

/* A demand read that arrives while hydration is fetching the same chunk
 * shares that fetch; if the fetch fails (hydration tries once), the reader
 * must still try itself, to its own deadline, not fail on the hydrator's
 * single attempt: after a transient error, and after one that may be the
 * transfer's (a body that failed its digest is EIO). */
static void join_failed_hydration_fetch(struct fx *f, int err)
{
	struct hs_spare *sp = fx_open_plain(f);
	atomic_store(&fault.delay_ms, 200);
	atomic_store(&fault.fail_err, err);
	atomic_store(&fault.fail_n, 1); /* the hydrator's fetch of chunk 12 fails once */
	const uint64_t first[] = { 12 };
	struct hs_spare_helper *h = start(sp, 1, first, 1);
	usleep(50 * 1000); /* the hydrator is inside its fetch of chunk 12 */
	unsigned char *buf = malloc(CS);
	hs_err_clear();
	double t0 = hs_now_s();
	ssize_t n = hs_spare_read(sp, buf, CS, 12 * CS);
	double t = hs_now_s() - t0;
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	atomic_store(&fault.delay_ms, 0);
	assert_int_equal(hs_spare_close(sp), 0);
	bool same = n == CS && memcmp(buf, f->img + 12 * CS, CS) == 0;
	free(buf);
	assert_true(t < 10);
	if (n != CS)
		fail_msg("a demand read joining a hydration fetch that failed once (%s) returned %zd (%s)",
			 strerror(err), n, hs_err_msg() ? hs_err_msg() : "");
	assert_true(same);
}

static void test_demand_read_joining_failed_hydration_fetch(void **state)
{
	join_failed_hydration_fetch(*state, EAGAIN);
}

static void test_demand_read_joining_corrupt_hydration_fetch(void **state)
{
	join_failed_hydration_fetch(*state, EIO);
}

/* Readers of local data (a busy guest) must not stall hydration. */
struct busy {
	struct hs_spare *sp;
	atomic_int *stop;
	uint64_t reads;
};

static void *busy_reader(void *p)
{
	struct busy *b = p;
	unsigned char *buf = malloc(CS);
	while (!atomic_load(b->stop)) {
		/* zero chunks 30..33: local, no fetch */
		if (hs_spare_read(b->sp, buf, CS, (30 + b->reads % 4) * CS) != CS)
			break;
		b->reads++;
	}
	free(buf);
	return NULL;
}

static double hydrate_time(struct fx *f, const char *dir, unsigned readers)
{
	struct hs_spare *sp = fx_open(f, dir, NULL, 0);
	atomic_int stop = 0;
	struct busy b[4];
	pthread_t th[4];
	for (unsigned k = 0; k < readers; k++) {
		b[k] = (struct busy){ .sp = sp, .stop = &stop };
		assert_int_equal(pthread_create(&th[k], NULL, busy_reader, &b[k]), 0);
	}
	double t0 = hs_now_s();
	struct hs_spare_helper *h = start(sp, 2, NULL, 0);
	while (!fx_status(sp).hydrated && hs_now_s() - t0 < WAIT_S)
		usleep(2000);
	double t = hs_now_s() - t0;
	atomic_store(&stop, 1);
	for (unsigned k = 0; k < readers; k++)
		pthread_join(th[k], NULL);
	hs_hydrate_stop(h);
	sp->hyd = NULL;
	assert_int_equal(hs_spare_close(sp), 0);
	return t;
}

static void test_local_reads_do_not_stall_hydration(void **state)
{
	struct fx *f = *state;
	atomic_store(&fault.delay_ms, 2);
	char *a = ut_path(f->dir, "quiet"), *b = ut_path(f->dir, "busy");
	double quiet = hydrate_time(f, a, 0);
	double busy = hydrate_time(f, b, 2);
	free(a);
	free(b);
	print_message("hydration: %.2f s quiet, %.2f s with two readers of local data\n", quiet, busy);
	if (busy >= WAIT_S)
		fail_msg("hydration did not finish in %.0f s while local data was being read", WAIT_S);
	if (busy > 4 * quiet + 1.0)
		fail_msg("reads of local data slowed hydration from %.2f s to %.2f s", quiet, busy);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fault_setup, fault_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_hydrate_fills_state_then_restart_fetches_nothing),
		T(test_hydrate_first_list_first),
		T(test_hydrate_resumes_after_restart),
		T(test_hydrate_progress_durable_without_close),
		T(test_hydrate_missing_chunk),
		T(test_close_stops_hydration),
		T(test_hydrate_rate_in_status),
		T(test_writes_during_hydration),
		T(test_demand_read_during_hydration),
		T(test_demand_read_joining_failed_hydration_fetch),
		T(test_demand_read_joining_corrupt_hydration_fetch),
		T(test_local_reads_do_not_stall_hydration),
	};
	return cmocka_run_group_tests_name("hydrate", tests, NULL, NULL);
}
