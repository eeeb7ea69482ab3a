/* Unit tests for capture.h's readers: a disk read through callbacks (what a
 * live capture reads), known zero ranges left unread, an incremental capture
 * that reads only the changed chunks and takes the rest from the point
 * before, the refusals around it, and an interrupted capture. */
#include "fixture.h"
#include "basics/interrupt.h"
#include "jobs/capture.h"
#include "store/badlist.h"
#include "store/point.h"
#include <stdatomic.h>

/* An image in memory behind the reader interface: it counts what it was
 * asked to read, reports zero_ranges as holes, and calls changed only the
 * chunks listed. */
struct mem {
	const unsigned char *img;
	uint64_t size;
	atomic_uint_fast64_t bytes_read, reads;
	const uint64_t *changed; /* chunk numbers */
	size_t nchanged;
	bool report_zero;
	atomic_bool read_unchanged; /* a chunk said unchanged was read */
};

static bool mem_is_changed(const struct mem *m, uint64_t off, uint32_t len)
{
	for (size_t i = 0; i < m->nchanged; i++) {
		uint64_t a = m->changed[i] * CS, b = a + CS;
		if (a < off + len && off < b)
			return true;
	}
	return false;
}

static int mem_read(void *ctx, void *buf, uint32_t len, uint64_t off)
{
	struct mem *m = ctx;
	if (off + len > m->size)
		return hs_err(EIO, "read past the end");
	if (m->changed && !mem_is_changed(m, off, len))
		atomic_store(&m->read_unchanged, true);
	memcpy(buf, m->img + off, len);
	atomic_fetch_add(&m->bytes_read, len);
	atomic_fetch_add(&m->reads, 1);
	return 0;
}

static int mem_zero(void *ctx, uint64_t off, uint32_t len)
{
	struct mem *m = ctx;
	uint64_t i = off / CS;
	return m->report_zero && off % CS == 0 && fx_zero_chunk(i) && len == fx_chunk_len(i);
}

static int mem_changed(void *ctx, uint64_t off, uint32_t len)
{
	return mem_is_changed(ctx, off, len);
}

static struct hs_capture_reader mem_reader(struct mem *m, bool incremental)
{
	return (struct hs_capture_reader){
		.ctx = m,
		.size = m->size,
		.read = mem_read,
		.zero = mem_zero,
		.changed = incremental ? mem_changed : NULL,
	};
}

static int capture(const char *where, const struct hs_capture_reader *rd, uint32_t kind,
		   const char *since, const char *id, struct hs_capture_stats *cs)
{
	struct hs_store *st;
	assert_int_equal(hs_store_open(where, &st), 0);
	struct hs_capture_disk disk = { .name = HS_DISK_DEFAULT, .source = "test disk", .reader = rd };
	struct hs_capture_opts o = {
		.store = st, .server = SERVER, .disks = &disk, .ndisks = 1, .kind = kind, .threads = 3,
		.consistency = HS_CRASH_CONSISTENT, .since = since, .id = id,
	};
	hs_err_clear();
	int r = hs_capture(&o, cs);
	hs_store_close(st);
	return r;
}

static struct hs_index *disk_of(const char *where, const char *id)
{
	struct hs_store *st;
	assert_int_equal(hs_store_open(where, &st), 0);
	struct hs_point *p = malloc(sizeof *p);
	assert_non_null(p);
	assert_int_equal(hs_store_point_head(st, SERVER, id, p), 0);
	struct hs_index *ix = NULL;
	assert_int_equal(hs_store_point_disk(st, p, 0, &ix), 0);
	free(p);
	hs_store_close(st);
	return ix;
}

static size_t npoints(const char *where)
{
	struct hs_store *st;
	assert_int_equal(hs_store_open(where, &st), 0);
	char **ids = NULL;
	size_t n = 0;
	assert_int_equal(hs_store_points_list(st, SERVER, &ids, &n), 0);
	hs_strv_free(ids);
	hs_store_close(st);
	return n;
}

static void assert_same_digests(const struct hs_index *a, const struct hs_index *b)
{
	assert_int_equal(a->nchunks, b->nchunks);
	for (uint64_t i = 0; i < a->nchunks; i++)
		if (memcmp(&a->digests[i], &b->digests[i], sizeof a->digests[i]))
			fail_msg("chunk %llu differs", (unsigned long long)i);
}

/* A disk read through a reader gives the point a file of the same bytes
 * gives; chunks the reader calls zero are never read. */
static void test_reader_equals_file(void **state)
{
	struct fx *f = *state;
	struct mem m = { .img = f->img, .size = IMG_SIZE, .report_zero = true };
	struct hs_capture_reader rd = mem_reader(&m, false);
	struct hs_capture_stats cs;
	if (capture(f->store, &rd, HS_KIND_SNAPSHOT, NULL, NULL, &cs) < 0)
		fail_msg("capture: %s", hs_err_msg());
	uint64_t zero = 0;
	for (uint64_t i = 0; i < NCHUNKS; i++)
		zero += fx_zero_chunk(i) ? fx_chunk_len(i) : 0;
	assert_int_equal(m.bytes_read, IMG_SIZE - zero);
	assert_int_equal(cs.bytes_read, IMG_SIZE); /* a full capture looks at every byte */
	assert_string_equal(cs.since, "");
	struct hs_index *a = disk_of(f->store, f->id), *b = disk_of(f->store, cs.id);
	assert_same_digests(a, b);
	assert_int_equal(b->read_bytes, IMG_SIZE);
	hs_index_free(a);
	hs_index_free(b);
}

/* An incremental capture reads only the changed chunks, takes the others
 * from the point before, and gives the point a full read of the new image
 * gives; the point records what was read. */
static void test_incremental(void **state)
{
	struct fx *f = *state;
	unsigned char *img2 = malloc(IMG_SIZE);
	memcpy(img2, f->img, IMG_SIZE);
	const uint64_t changed[] = { 2, 3, 17, NFULL };
	ut_fill(img2 + 2 * CS + 100, 5000, 77);   /* part of a data chunk */
	ut_fill(img2 + 3 * CS, CS, 78);           /* a zero chunk gets data */
	memset(img2 + 17 * CS, 0, CS);            /* a data chunk becomes zeros */
	ut_fill(img2 + NFULL * CS, TAIL, 79);     /* the short last chunk */

	struct mem m = { .img = img2, .size = IMG_SIZE, .changed = changed, .nchanged = 4 };
	struct hs_capture_reader rd = mem_reader(&m, true);
	struct hs_capture_stats cs;
	if (capture(f->store, &rd, HS_KIND_BACKUP, f->id, NULL, &cs) < 0)
		fail_msg("incremental capture: %s", hs_err_msg());
	assert_false(m.read_unchanged);
	uint64_t want = 3 * CS + TAIL; /* chunks 2, 3, 17 and the tail, and nothing else */
	assert_int_equal(m.bytes_read, want);
	assert_int_equal(cs.bytes_read, want);
	assert_int_equal(cs.disks[0].bytes_unchanged, IMG_SIZE - want);
	assert_string_equal(cs.since, f->id);
	struct hs_index *inc = disk_of(f->store, cs.id);
	assert_int_equal(inc->read_bytes, want);

	/* The same image read whole: the same table. */
	struct mem full = { .img = img2, .size = IMG_SIZE };
	struct hs_capture_reader frd = mem_reader(&full, false);
	struct hs_capture_stats fs;
	if (capture(f->store, &frd, HS_KIND_BACKUP, NULL, NULL, &fs) < 0)
		fail_msg("full capture: %s", hs_err_msg());
	struct hs_index *whole = disk_of(f->store, fs.id);
	assert_same_digests(inc, whole);
	assert_int_equal(whole->read_bytes, IMG_SIZE);
	assert_true(hs_digest_is_zero(&inc->digests[17]));
	hs_index_free(inc);
	hs_index_free(whole);

	/* And a spare of the incremental point reads the new image. */
	struct hs_spare *sp = NULL;
	char *sd = ut_path(f->dir, "inc-state");
	assert_int_equal(fx_open_at(f->store, SERVER, cs.id, sd, NULL, 0, &sp), 0);
	fx_expect(sp, 0, IMG_SIZE, img2);
	free(sd);
	assert_int_equal(hs_spare_close(sp), 0);
	free(img2);
}

/* A chunk listed bad is read again even when unchanged, so the capture
 * stores a good copy over the bad one. */
static void test_incremental_reads_bad_chunk(void **state)
{
	struct fx *f = *state;
	struct hs_store *st;
	assert_int_equal(hs_store_open(f->store, &st), 0);
	struct hs_index *base = disk_of(f->store, f->id);
	assert_int_equal(hs_badlist_add(st, &base->digests[5], 1), 0);
	hs_store_close(st);
	const uint64_t changed[] = { 9 };
	struct mem m = { .img = f->img, .size = IMG_SIZE, .changed = changed, .nchanged = 1 };
	struct hs_capture_reader rd = mem_reader(&m, true);
	struct hs_capture_stats cs;
	if (capture(f->store, &rd, HS_KIND_BACKUP, f->id, NULL, &cs) < 0)
		fail_msg("capture: %s", hs_err_msg());
	assert_int_equal(m.bytes_read, 2 * CS);
	assert_int_equal(cs.chunks_repaired, 1);
	hs_index_free(base);
}

/* Refused before anything is written: a base point without the disk (or
 * of another size), a base that does not exist, an id not newer than the
 * newest point. */
static void test_incremental_refusals(void **state)
{
	struct fx *f = *state;
	const uint64_t changed[] = { 1 };
	struct mem m = { .img = f->img, .size = IMG_SIZE - CS, .changed = changed, .nchanged = 1 };
	struct hs_capture_reader rd = mem_reader(&m, true);
	struct hs_capture_stats cs;
	assert_int_equal(capture(f->store, &rd, HS_KIND_BACKUP, f->id, NULL, &cs), -ESTALE);
	assert_err_mentions("has no disk " HS_DISK_DEFAULT " of");
	m.size = IMG_SIZE;
	rd = mem_reader(&m, true);
	assert_true(capture(f->store, &rd, HS_KIND_BACKUP, "20200101T000000Z", NULL, &cs) < 0);
	assert_int_equal(capture(f->store, &rd, HS_KIND_BACKUP, f->id, f->id, &cs), -EEXIST);
	assert_err_mentions("is not newer than the newest point");
	assert_int_equal(capture(f->store, &rd, HS_KIND_BACKUP, f->id, "garbage", &cs), -EINVAL);
	assert_int_equal(m.reads, 0);
	assert_int_equal(npoints(f->store), 1);
	/* A given id newer than the newest is taken. */
	assert_int_equal(capture(f->store, &rd, HS_KIND_BACKUP, f->id, "20991231T235959Z", &cs), 0);
	assert_string_equal(cs.id, "20991231T235959Z");
}

/* The next id is now, or one second past a newest point in the future. */
static void test_next_id(void **state)
{
	struct fx *f = *state;
	struct hs_store *st;
	assert_int_equal(hs_store_open(f->store, &st), 0);
	char id[HS_POINT_ID_LEN + 1];
	assert_int_equal(hs_capture_next_id(st, SERVER, id), 0);
	assert_true(strcmp(id, f->id) > 0);
	hs_store_close(st);
	struct mem m = { .img = f->img, .size = IMG_SIZE };
	struct hs_capture_reader rd = mem_reader(&m, false);
	struct hs_capture_stats cs;
	assert_int_equal(capture(f->store, &rd, HS_KIND_BACKUP, NULL, "20991231T235959Z", &cs), 0);
	assert_int_equal(hs_store_open(f->store, &st), 0);
	assert_int_equal(hs_capture_next_id(st, SERVER, id), 0);
	assert_string_equal(id, "21000101T000000Z");
	hs_store_close(st);
}

/* Image files nobody writes are crash-consistent captures. */
static void test_consistency_of_files(void **state)
{
	struct fx *f = *state;
	char *src = ut_path(f->dir, "image");
	assert_int_equal(ut_write_file(src, f->img, CS), 0);
	struct hs_capture_disk d = { .name = "a", .source = src };
	uint32_t c = 0;
	assert_int_equal(hs_capture_consistency(&d, 1, false, &c), 0);
	assert_int_equal(c, HS_CRASH_CONSISTENT);
	/* A QEMU that has it open for writing holds a lock on byte 101. */
	int fd = open(src, O_RDWR);
	struct flock lk = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 101, .l_len = 1 };
	assert_int_equal(fcntl(fd, F_OFD_SETLK, &lk), 0);
	assert_int_equal(hs_capture_consistency(&d, 1, false, &c), -EBUSY);
	assert_err_mentions("--allow-torn");
	assert_int_equal(hs_capture_consistency(&d, 1, true, &c), 0);
	assert_int_equal(c, HS_TORN);
	close(fd);
	free(src);
}

/* A signal caught stops the capture where it is, and no point is written. */
static void test_interrupted(void **state)
{
	struct fx *f = *state;
	hs_interrupt_catch();
	raise(SIGTERM);
	assert_int_equal(hs_interrupted(), SIGTERM);
	struct mem m = { .img = f->img, .size = IMG_SIZE };
	struct hs_capture_reader rd = mem_reader(&m, false);
	struct hs_capture_stats cs;
	assert_int_equal(capture(f->store, &rd, HS_KIND_BACKUP, NULL, NULL, &cs), -EINTR);
	assert_err_mentions("interrupted");
	assert_int_equal(npoints(f->store), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reader_equals_file, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_incremental, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_incremental_reads_bad_chunk, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_incremental_refusals, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_next_id, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_consistency_of_files, fx_setup, fx_teardown),
		/* Last: the signal stays caught. */
		cmocka_unit_test_setup_teardown(test_interrupted, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
