/* Unit tests for scrub.h and the spare's checks of its own state: a
 * disk.img cut short gives EIO (reads, writes, flushes) and is never
 * vouched for; after an unclean stop every chunk is checked before it is
 * read and only the damaged ones are fetched again; a scrub finds and
 * replaces damage while a writer writes, counts written chunks, and leaves
 * a chunk no source has as an I/O error, never as the damaged bytes.
 * Linked with the fault layer of fixture.h (it counts chunk fetches). */
#define UT_WRAP_IO
#include "fixture.h"
#include "spare/scrub.h"

static const char *msg(void) { return hs_err_msg() ? hs_err_msg() : ""; }

/* Overwrite len bytes of the state's disk.img at off with junk, as something
 * outside hotspare would. */
static void damage(const char *state_dir, uint64_t off, size_t len)
{
	char *p = ut_path(state_dir, "disk.img");
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	unsigned char *junk = malloc(len);
	ut_fill(junk, len, off + 7);
	assert_int_equal(pwrite(fd, junk, len, (off_t)off), (ssize_t)len);
	close(fd);
	free(junk);
	free(p);
}

static bool clean_mark(const char *state_dir)
{
	char *p = ut_path(state_dir, "clean");
	bool there = access(p, F_OK) == 0;
	free(p);
	return there;
}

/* A spare whose every chunk is local and durable, closed cleanly. */
static void hydrate_and_close(struct fx *f)
{
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	assert_true(clean_mark(f->state));
}

static void test_cut_image_is_eio(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_flush(sp), 0);
	char *p = ut_path(f->state, "disk.img");
	assert_int_equal(truncate(p, 3 * CS), 0);
	unsigned char buf[CS];
	hs_err_clear();
	assert_int_equal(hs_spare_read(sp, buf, CS, 5 * CS), -EIO);
	assert_err_mentions("was cut to");
	/* Even where the cut image still has bytes: nothing of it is trusted now. */
	assert_int_equal(hs_spare_read(sp, buf, CS, 0), -EIO);
	assert_int_equal(hs_spare_write(sp, buf, 512, 0), -EIO);
	assert_int_equal(hs_spare_flush(sp), -EIO);
	assert_true(fx_status(sp).errors >= 2);
	assert_non_null(strstr(fx_status(sp).last_error, "was cut to"));
	assert_int_equal(hs_spare_close(sp), -EIO);
	assert_false(clean_mark(f->state));
	/* Refused at the next open, until a scrub grows it back and fetches the rest. */
	struct hs_spare *o = NULL;
	hs_err_clear();
	assert_int_equal(fx_try_open(f, f->state, NULL, 0, &o), -EINVAL);
	assert_err_mentions("hotspare scrub");
	struct hs_scrub_stats st;
	if (hs_scrub_state(f->state, NULL, NULL, 0, NULL, &st) < 0)
		fail_msg("scrub: %s", msg());
	assert_int_equal(st.chunks_failed, 0);
	assert_true(st.chunks_bad > 0);
	sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	free(p);
}

/* The same cut while a fetch regrows the file: still EIO, never zeros. */
static void test_cut_then_regrown_is_eio(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, 2 * CS, f->img);
	assert_int_equal(hs_spare_flush(sp), 0);
	char *p = ut_path(f->state, "disk.img");
	assert_int_equal(truncate(p, 0), 0);
	unsigned char buf[CS];
	/* Chunk 12 is absent: its fetch must notice the cut, not grow the file back. */
	assert_int_equal(hs_spare_read(sp, buf, CS, 12 * CS), -EIO);
	assert_int_equal(hs_spare_read(sp, buf, CS, 0), -EIO);
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	sp->mark_clean = false;
	hs_spare_close(sp);
	free(p);
}

static void test_unclean_stop_checks_what_is_read(void **state)
{
	struct fx *f = *state;
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	/* A stop that is not clean: the daemon was killed after its last flush. */
	sp->mark_clean = false;
	assert_int_equal(hs_spare_close(sp), 0);
	assert_false(clean_mark(f->state));
	damage(f->state, 7 * CS + 100, 4096);   /* a present chunk */
	damage(f->state, 31 * CS + 9, 10);      /* garbage in a zero chunk's hole */
	fault_reset();
	sp = fx_open_plain(f);
	assert_true(sp->state->unclean);
	struct hs_spare_status st = fx_status(sp);
	assert_int_equal(st.chunks_unchecked, NCHUNKS);
	assert_int_equal(st.chunks_present, 0);
	assert_false(st.hydrated);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	/* Only the damaged data chunk came from the store again. */
	assert_int_equal(atomic_load(&fault.gets), 1);
	st = fx_status(sp);
	assert_int_equal(st.chunks_unchecked, 0);
	assert_int_equal(st.chunks_repaired, 2);
	assert_int_equal(st.chunks_present, NCHUNKS);
	assert_true(st.hydrated);
	assert_int_equal(hs_spare_close(sp), 0);
	assert_true(clean_mark(f->state));
	sp = fx_open_plain(f);
	assert_false(sp->state->unclean);
	assert_int_equal(fx_status(sp).chunks_unchecked, 0);
	assert_int_equal(hs_spare_close(sp), 0);
}

static void test_scrub_finds_and_replaces(void **state)
{
	struct fx *f = *state;
	hydrate_and_close(f);
	struct hs_spare *sp = fx_open_plain(f);
	/* The guest writes into chunk 5: it cannot be checked afterwards. */
	unsigned char *want = malloc(IMG_SIZE);
	memcpy(want, f->img, IMG_SIZE);
	memset(want + 5 * CS + 10, 0x5a, 100);
	assert_int_equal(hs_spare_write(sp, want + 5 * CS + 10, 100, 5 * CS + 10), 0);
	damage(f->state, 2 * CS, 1);
	damage(f->state, NFULL * CS + 5, 20); /* the short last chunk */
	struct hs_scrub_stats st;
	fault_reset();
	assert_int_equal(hs_scrub(sp, true, 2, NULL, NULL, &st), 0);
	assert_int_equal(st.chunks_checked, NCHUNKS - 1);
	assert_int_equal(st.chunks_bad, 2);
	assert_int_equal(st.chunks_repaired, 2);
	assert_int_equal(st.chunks_failed, 0);
	assert_int_equal(st.chunks_written, 1);
	assert_int_equal(atomic_load(&fault.gets), 2);
	fx_expect(sp, 0, IMG_SIZE, want);
	assert_int_equal(fx_status(sp).chunks_unchecked, 0);
	assert_int_equal(hs_spare_close(sp), 0);
	free(want);
}

static void test_scrub_leaves_unrepairable_as_eio(void **state)
{
	struct fx *f = *state;
	hydrate_and_close(f);
	fx_drop_chunk(f->store, f->img, 9);
	damage(f->state, 9 * CS + 1000, 8);
	struct hs_spare *sp = fx_open_plain(f);
	struct hs_scrub_stats st;
	assert_int_equal(hs_scrub(sp, true, 2, NULL, NULL, &st), 0);
	assert_int_equal(st.chunks_bad, 1);
	assert_int_equal(st.chunks_repaired, 0);
	assert_int_equal(st.chunks_failed, 1);
	unsigned char buf[CS];
	/* Never the damaged bytes: an I/O error until a source has the chunk. */
	assert_int_equal(hs_spare_read(sp, buf, CS, 9 * CS), -EIO);
	fx_expect(sp, 10 * CS, CS, f->img + 10 * CS);
	assert_int_equal(fx_status(sp).chunks_unchecked, 1);
	/* Not clean while a chunk is unchecked: the next open checks again. */
	assert_int_equal(hs_spare_close(sp), 0);
	assert_false(clean_mark(f->state));
}

struct race {
	struct hs_spare *sp;
	atomic_int stop;
	char err[256];
};

static void *scrubber(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->stop)) {
		struct hs_scrub_stats st;
		if (hs_scrub(r->sp, true, 2, NULL, NULL, &st) < 0 || st.chunks_bad || st.chunks_failed) {
			snprintf(r->err, sizeof r->err, "scrub: %s, %llu bad, %llu failed", msg(),
				 (unsigned long long)st.chunks_bad, (unsigned long long)st.chunks_failed);
			break;
		}
	}
	return NULL;
}

/* A scrub never takes a guest's write for damage: writes into present
 * chunks while scrubs run all read back, and nothing is found bad. */
static void test_scrub_beside_writer(void **state)
{
	struct fx *f = *state;
	hydrate_and_close(f);
	struct race r = { .sp = fx_open_plain(f) };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, scrubber, &r), 0);
	unsigned char *want = malloc(IMG_SIZE), buf[4096];
	memcpy(want, f->img, IMG_SIZE);
	for (uint64_t i = 0; i < NFULL; i++) {
		uint64_t off = i * CS + (i * 997) % (CS - sizeof buf);
		ut_fill(want + off, sizeof buf, i + 1000);
		assert_int_equal(hs_spare_write(r.sp, want + off, sizeof buf, off), 0);
		assert_int_equal(hs_spare_read(r.sp, buf, sizeof buf, off), (ssize_t)sizeof buf);
		assert_memory_equal(buf, want + off, sizeof buf);
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	if (r.err[0])
		fail_msg("%s", r.err);
	fx_expect(r.sp, 0, IMG_SIZE, want);
	assert_int_equal(hs_spare_close(r.sp), 0);
	free(want);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fault_setup, fault_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_cut_image_is_eio),
		T(test_cut_then_regrown_is_eio),
		T(test_unclean_stop_checks_what_is_read),
		T(test_scrub_finds_and_replaces),
		T(test_scrub_leaves_unrepairable_as_eio),
		T(test_scrub_beside_writer),
	};
	return cmocka_run_group_tests_name("scrub", tests, NULL, NULL);
}
