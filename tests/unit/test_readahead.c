/* Unit tests for readahead.h: the rest of a read spanning several missing
 * chunks is fetched beside the reader; sequential reads get a window ahead
 * that doubles; a random miss gets only the small window; failed read-ahead
 * never fails a reader and is not counted as the spare's error. Linked with the fault layer of fixture.h
 * (counted, slowed, failing chunk reads). Every wait is bounded. */
#define UT_WRAP_IO
#include "fixture.h"
#include "spare/readahead.h"

#define WAIT_S 20.0
#define MAX_CHUNKS 16u /* the largest window in these tests: the first is 1 chunk */


static struct hs_spare *open_ra(struct fx *f, unsigned threads)
{
	struct hs_spare *sp = fx_open_plain(f);
	assert_int_equal(hs_readahead_start(sp, threads, (uint64_t)MAX_CHUNKS * CS, &sp->ra), 0);
	assert_non_null(sp->ra);
	return sp;
}

static bool present(struct hs_spare *sp, uint64_t i)
{
	return hs_state_get(sp->state, i) != HS_ABSENT;
}

/* Wait until no chunk read is under way and none starts for 200 ms. */
static void settle(void)
{
	double t0 = hs_now_s(), quiet = hs_now_s();
	int gets = atomic_load(&fault.gets);
	while (hs_now_s() - quiet < 0.2) {
		if (hs_now_s() - t0 > WAIT_S)
			fail_msg("chunk reads still going after %.0f s", WAIT_S);
		usleep(10000);
		int g = atomic_load(&fault.gets);
		if (g != gets || atomic_load(&fault.inflight) > 0) {
			gets = g;
			quiet = hs_now_s();
		}
	}
}

/* The data chunks of [a, b) are all present, and those of [b, NCHUNKS) none. */
static void expect_present_below(struct hs_spare *sp, uint64_t a, uint64_t b)
{
	for (uint64_t i = 0; i < NCHUNKS; i++) {
		if (fx_zero_chunk(i))
			continue;
		bool want = i >= a && i < b;
		if (present(sp, i) != want)
			fail_msg("chunk %llu is %s, expected %s", (unsigned long long)i,
				 present(sp, i) ? "present" : "absent", want ? "present" : "absent");
	}
}

static void read_chunk(struct fx *f, struct hs_spare *sp, uint64_t i)
{
	fx_expect(sp, i * CS, 4096, f->img + i * CS);
}

static void test_spanning_read_fetches_in_parallel(void **state)
{
	struct fx *f = *state;
	atomic_store(&fault.delay_ms, 200);
	/* Chunks 5..9, all data, all missing, in one read. */
	struct hs_spare *sp = open_ra(f, 4);
	fx_expect(sp, 5 * CS, 5 * CS, f->img + 5 * CS);
	assert_true(atomic_load(&fault.max_inflight) >= 3);
	settle();
	hs_spare_close(sp);

	/* Without read-ahead the same read fetches one chunk after another. */
	fault_reset();
	atomic_store(&fault.delay_ms, 200);
	char *other = ut_path(f->dir, "state2");
	sp = fx_open(f, other, NULL, 0);
	fx_expect(sp, 5 * CS, 5 * CS, f->img + 5 * CS);
	assert_int_equal(atomic_load(&fault.max_inflight), 1);
	assert_int_equal(atomic_load(&fault.gets), 5);
	hs_spare_close(sp);
	free(other);
}

static void test_sequential_reads_double_the_window(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = open_ra(f, 4);
	/* A miss at 0 fetches the first window, chunk 1, and nothing more. */
	read_chunk(f, sp, 0);
	settle();
	expect_present_below(sp, 0, 2);
	/* Reading on enters each window: the next one, twice as large, is
	 * fetched before the reader gets there: [2,4) [4,8) [8,16) [16,32). */
	for (uint64_t i = 1; i <= 8; i++) {
		read_chunk(f, sp, i);
		settle();
	}
	expect_present_below(sp, 0, 32);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.bytes_read_ahead, fx_data_bytes(1, 32));
	/* Every read after the first found its chunk local: only chunk 0 was
	 * fetched for a reader, so chunk reads = data chunks below 32. */
	assert_int_equal(atomic_load(&fault.gets), (int)(fx_data_bytes(0, 32) / CS));
	hs_spare_close(sp);
}

static void test_random_misses_fetch_the_small_window(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = open_ra(f, 4);
	read_chunk(f, sp, 25);
	settle();
	read_chunk(f, sp, 12);
	settle();
	read_chunk(f, sp, 37);
	settle();
	for (uint64_t i = 0; i < NCHUNKS; i++) {
		bool want = i == 25 || i == 26 || i == 12 || i == 13 || i == 37 || i == 38;
		if (present(sp, i) != want)
			fail_msg("chunk %llu is %s", (unsigned long long)i, present(sp, i) ? "present" : "absent");
	}
	assert_int_equal(atomic_load(&fault.gets), 6);
	assert_int_equal(fx_status(sp).bytes_read_ahead, 3 * CS);
	hs_spare_close(sp);
}

static void test_two_streams_followed_at_once(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = open_ra(f, 4);
	/* Two files read in turns, at 0 and at 21: each stream keeps its window. */
	for (uint64_t k = 0; k < 4; k++) {
		read_chunk(f, sp, k);
		settle();
		read_chunk(f, sp, 21 + k);
		settle();
	}
	/* Each reached its third window: chunks up to 8 after its start. */
	for (uint64_t i = 0; i < 8; i++) {
		assert_true(present(sp, i) || fx_zero_chunk(i));
		assert_true(present(sp, 21 + i) || fx_zero_chunk(21 + i));
	}
	hs_spare_close(sp);
}

static void test_readahead_stops_at_the_end(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = open_ra(f, 4);
	for (uint64_t i = 34; i < NCHUNKS; i++) {
		read_chunk(f, sp, i);
		settle();
	}
	/* The short last chunk too; nothing fetched twice, no errors. */
	fx_expect(sp, (uint64_t)NFULL * CS, TAIL, f->img + (uint64_t)NFULL * CS);
	expect_present_below(sp, 34, NCHUNKS);
	assert_int_equal(atomic_load(&fault.gets), (int)(NCHUNKS - 34));
	assert_int_equal(fx_status(sp).errors, 0);
	hs_spare_close(sp);
}

static void test_failed_readahead_does_not_fail_the_reader(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = open_ra(f, 4);
	atomic_store(&fault.delay_ms, 100);
	atomic_store(&fault.fail_err, ECONNRESET);
	/* One of the two fetches of this read fails once (the reader's is
	 * retried; a read-ahead's is retried by the reader waiting for it). */
	atomic_store(&fault.fail_n, 1);
	fx_expect(sp, 6 * CS, 2 * CS, f->img + 6 * CS);
	/* Read-ahead whose fetches all fail: the reader's own retries succeed
	 * once the store is back; never wrong bytes. */
	settle();
	atomic_store(&fault.fail_n, 3);
	fx_expect(sp, 14 * CS, 3 * CS, f->img + 14 * CS);
	settle();
	/* Failures that no reader saw are not errors of the spare. */
	assert_int_equal(fx_status(sp).errors, 0);
	hs_spare_close(sp);
}

static void test_close_with_queued_readahead(void **state)
{
	struct fx *f = *state;
	atomic_store(&fault.delay_ms, 300);
	struct hs_spare *sp = open_ra(f, 1);
	/* A long read queues its rest and a window; close drops what is still
	 * queued and joins the threads: no chunk read starts afterwards. */
	fx_expect(sp, 0, 3 * CS, f->img);
	hs_spare_close(sp);
	int gets = atomic_load(&fault.gets);
	assert_int_equal(atomic_load(&fault.inflight), 0);
	usleep(500000);
	assert_int_equal(atomic_load(&fault.gets), gets);
}

static void test_writes_during_readahead(void **state)
{
	struct fx *f = *state;
	atomic_store(&fault.delay_ms, 50);
	struct hs_spare *sp = open_ra(f, 4);
	unsigned char *mine = malloc(CS);
	assert_non_null(mine);
	ut_fill(mine, CS, 4242);
	/* Chunk 2 is written whole while read-ahead wants it. */
	read_chunk(f, sp, 0);
	read_chunk(f, sp, 1);
	assert_int_equal(hs_spare_write(sp, mine, CS, 2 * CS), 0);
	settle();
	fx_expect(sp, 2 * CS, CS, mine);
	fx_expect(sp, 0, 2 * CS, f->img);
	fx_expect(sp, 5 * CS, 3 * CS, f->img + 5 * CS);
	hs_spare_close(sp);
	free(mine);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fault_setup, fault_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_spanning_read_fetches_in_parallel),
		T(test_sequential_reads_double_the_window),
		T(test_random_misses_fetch_the_small_window),
		T(test_two_streams_followed_at_once),
		T(test_readahead_stops_at_the_end),
		T(test_failed_readahead_does_not_fail_the_reader),
		T(test_close_with_queued_readahead),
		T(test_writes_during_readahead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
