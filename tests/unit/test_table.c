/* Unit tests for table.h: a disk's digest table kept in the state. It is
 * made once and reused; a damaged, truncated or foreign file is made again
 * from the store at open; a block damaged while the table is open is
 * rewritten from the store before its digest is used, and without a store
 * it is an I/O error, never a wrong digest; a spare whose state has no
 * table yet (made by an older hotspare) opens and reads right. */
#include "fixture.h"
#include "spare/table.h"
#include "store/point.h"
#include <sys/stat.h>

#define TN 1000u /* chunks of the table's point: 8 blocks, the last one short */

static const char *msg(void) { return hs_err_msg() ? hs_err_msg() : ""; }

/* Zero chunks of the table's point: a whole block (256..383) and a few
 * others, so the file has a hole and blocks mixing both. */
static bool tzero(uint64_t i) { return (i >= 256 && i < 384) || i % 7 == 3; }

static void tdigest(uint64_t i, struct hs_digest *d)
{
	if (tzero(i)) {
		memset(d, 0, sizeof *d);
		return;
	}
	uint64_t v = i * 7919 + 1;
	hs_digest_compute(&v, sizeof v, d);
}

struct tx {
	struct fx *f;
	struct hs_store *st;
	struct hs_point p;
	int dirfd;
	char *file; /* STATE/digests */
};

/* A point of TN chunks (digests only: the table needs no chunks) in the
 * fixture's store, and an empty state directory. */
static int tx_setup(void **state)
{
	if (fx_setup_stores(state) < 0)
		return -1;
	struct fx *f = *state;
	struct tx *t = calloc(1, sizeof *t);
	t->f = f;
	struct hs_index *ix = fx_index("tab01", T0, (uint64_t)TN * CS - 100, CS);
	for (uint64_t i = 0; i < ix->nchunks; i++)
		tdigest(i, &ix->digests[i]);
	if (hs_store_open(f->store, &t->st) || hs_store_point_put1(t->st, ix))
		return -1;
	char id[HS_POINT_ID_LEN + 1];
	memcpy(id, ix->id, sizeof id);
	hs_index_free(ix);
	if (hs_store_point_head(t->st, "tab01", id, &t->p) || mkdir(f->state, 0700) < 0)
		return -1;
	t->dirfd = open(f->state, O_RDONLY | O_DIRECTORY);
	t->file = ut_path(f->state, HS_TABLE_FILE);
	*state = t;
	return t->dirfd < 0 ? -1 : 0;
}

static int tx_teardown(void **state)
{
	struct tx *t = *state;
	close(t->dirfd);
	hs_store_close(t->st);
	free(t->file);
	*state = t->f;
	free(t);
	return fx_teardown(state);
}

static struct hs_table *tx_load(struct tx *t)
{
	struct hs_table *tab = NULL;
	hs_err_clear();
	int r = hs_table_load(t->dirfd, t->f->state, t->st, &t->p, 0, &tab);
	if (r < 0)
		fail_msg("hs_table_load: %d (%s)", r, msg());
	return tab;
}

/* Every digest and zero bit of tab is the point's. */
static void expect_table(struct hs_table *tab)
{
	assert_int_equal(tab->nchunks, TN);
	uint64_t data = 0;
	for (uint64_t i = 0; i < TN; i++) {
		struct hs_digest want, got;
		tdigest(i, &want);
		assert_int_equal(hs_table_zero(tab, i), tzero(i));
		memset(&got, 0xa5, sizeof got);
		hs_err_clear();
		int r = hs_table_get(tab, i, &got);
		if (r < 0)
			fail_msg("chunk %llu: %d (%s)", (unsigned long long)i, r, msg());
		assert_memory_equal(&got, &want, sizeof want);
		if (!tzero(i))
			data += i == TN - 1 ? CS - 100 : CS;
	}
	assert_int_equal(tab->data_bytes, data);
	struct hs_digest *all = malloc(TN * sizeof *all);
	assert_int_equal(hs_table_read_all(tab, all), 0);
	for (uint64_t i = 0; i < TN; i++) {
		struct hs_digest want;
		tdigest(i, &want);
		assert_memory_equal(&all[i], &want, sizeof want);
	}
	free(all);
}

static unsigned char *file_bytes(const char *path, size_t *n)
{
	unsigned char *b = ut_read_file(path, n);
	assert_non_null(b);
	return b;
}

static void patch(const char *path, off_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, off), (ssize_t)n);
	close(fd);
}

static void flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char c;
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static ino_t inode(const char *path)
{
	struct stat s;
	assert_int_equal(stat(path, &s), 0);
	return s.st_ino;
}

/* Where chunk i's digest lies in the file (the digests come last). */
static off_t digest_off(const char *path, uint64_t i)
{
	struct stat s;
	assert_int_equal(stat(path, &s), 0);
	return (off_t)((uint64_t)s.st_size - (TN - i) * HS_DIGEST_LEN);
}

static void test_made_once_then_reused(void **state)
{
	struct tx *t = *state;
	struct hs_table *tab = tx_load(t);
	expect_table(tab);
	hs_table_close(tab);
	ino_t ino = inode(t->file);
	/* A hole where a block holds only zero chunks. */
	struct stat s;
	assert_int_equal(stat(t->file, &s), 0);
	assert_true((uint64_t)s.st_blocks * 512 < (uint64_t)s.st_size);
	tab = tx_load(t);
	expect_table(tab);
	hs_table_close(tab);
	assert_int_equal(inode(t->file), ino); /* reused, not written again */
}

/* Each kind of damage found at open: the file is made again, whole. */
static void test_damaged_file_made_again(void **state)
{
	struct tx *t = *state;
	hs_table_close(tx_load(t));
	size_t ngood;
	unsigned char *good = file_bytes(t->file, &ngood);
	const struct {
		const char *what;
		off_t flip;     /* a byte to flip, or -1 */
		off_t cut;      /* a length to cut to, or -1 */
		size_t append;  /* bytes to add at the end */
	} cases[] = {
		{ "magic", 0, -1, 0 },
		{ "header field", 20, -1, 0 },
		{ "header checksum", 4090, -1, 0 },
		{ "zero map", 4096 + 5, -1, 0 },
		{ "block sums", 8192 + 17, -1, 0 },
		{ "cut short", -1, (off_t)ngood - 1, 0 },
		{ "cut to its header", -1, 4096, 0 },
		{ "empty", -1, 0, 0 },
		{ "grown", -1, -1, 4096 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		if (cases[k].flip >= 0)
			flip(t->file, cases[k].flip);
		if (cases[k].cut >= 0)
			assert_int_equal(truncate(t->file, cases[k].cut), 0);
		if (cases[k].append)
			assert_int_equal(truncate(t->file, (off_t)(ngood + cases[k].append)), 0);
		struct hs_table *tab = tx_load(t);
		expect_table(tab);
		hs_table_close(tab);
		size_t n;
		unsigned char *now = file_bytes(t->file, &n);
		if (n != ngood || memcmp(now, good, n) != 0)
			fail_msg("after damage to the %s the file was not made again as it was", cases[k].what);
		free(now);
	}
	free(good);
}

/* A table made for other digests of the same disk (by another copy of the
 * point, say) is not taken for this one. */
static void test_other_table_made_again(void **state)
{
	struct tx *t = *state;
	struct hs_index *ix = NULL;
	assert_int_equal(hs_store_point_disk(t->st, &t->p, 0, &ix), 0);
	hs_digest_compute("other", 5, &ix->digests[10]);
	struct hs_table *tab = NULL;
	assert_int_equal(hs_table_from_index(t->dirfd, t->f->state, HS_TABLE_FILE, ix, true, NULL, &tab), 0);
	struct hs_digest d;
	assert_int_equal(hs_table_get(tab, 10, &d), 0);
	assert_memory_equal(&d, &ix->digests[10], sizeof d);
	hs_table_close(tab);
	hs_index_free(ix);
	tab = tx_load(t);
	expect_table(tab);
	hs_table_close(tab);
}

/* Digests swapped within a block (each a real digest, in the wrong place),
 * while the table is open: the block fails its sum when read and is
 * rewritten from the store before anything is returned. */
static void test_block_damaged_while_open_rewritten(void **state)
{
	struct tx *t = *state;
	hs_table_close(tx_load(t));
	size_t ngood;
	unsigned char *good = file_bytes(t->file, &ngood);
	struct hs_table *tab = tx_load(t);
	struct hs_digest a, b;
	tdigest(600, &a);
	tdigest(601, &b);
	patch(t->file, digest_off(t->file, 600), &b, sizeof b);
	patch(t->file, digest_off(t->file, 601), &a, sizeof a);
	/* And another block cut off altogether. */
	assert_int_equal(truncate(t->file, digest_off(t->file, 900)), 0);
	struct hs_digest got;
	assert_int_equal(hs_table_get(tab, 601, &got), 0);
	assert_memory_equal(&got, &b, sizeof b);
	expect_table(tab);
	hs_table_close(tab);
	size_t n;
	unsigned char *now = file_bytes(t->file, &n);
	assert_int_equal(n, ngood);
	assert_memory_equal(now, good, n);
	free(now);
	free(good);
}

/* With no store to rebuild from, a damaged block is an I/O error: the
 * caller never gets a digest from it. */
static void test_block_damaged_without_store_is_eio(void **state)
{
	struct tx *t = *state;
	struct hs_index *ix = NULL;
	assert_int_equal(hs_store_point_disk(t->st, &t->p, 0, &ix), 0);
	struct hs_table *tab = NULL;
	assert_int_equal(hs_table_from_index(t->dirfd, t->f->state, "other.digests", ix, false, NULL, &tab), 0);
	char *path = ut_path(t->f->state, "other.digests");
	struct hs_digest a;
	tdigest(700, &a);
	patch(path, digest_off(path, 701), &a, sizeof a);
	struct hs_digest got;
	memset(&got, 0xa5, sizeof got);
	hs_err_clear();
	assert_int_equal(hs_table_get(tab, 701, &got), -EIO);
	assert_err_mentions("block 5 of its digests fails its checksum");
	for (size_t k = 0; k < sizeof got.b; k++)
		assert_int_equal(got.b[k], 0xa5);
	struct hs_digest *all = malloc(TN * sizeof *all);
	assert_int_equal(hs_table_read_all(tab, all), -EIO);
	/* Zero chunks need no read; the other blocks still read. */
	assert_int_equal(hs_table_get(tab, 3, &got), 0);
	assert_true(hs_digest_is_zero(&got));
	assert_int_equal(hs_table_get(tab, 10, &got), 0);
	assert_memory_equal(&got, &ix->digests[10], sizeof got);
	free(all);
	free(path);
	hs_table_close(tab);
	hs_index_free(ix);
}

/* A state made before tables were kept in it (no STATE/digests) opens; the
 * table is made then and the next open reuses it. */
static void test_spare_state_without_table(void **state)
{
	struct tx *t = *state;
	struct fx *f = t->f;
	f->img = fx_make_image(1);
	fx_put_point(f->store, f->img, IMG_SIZE, SERVER, T0, NULL, f->id);
	char *sd = ut_path(f->dir, "old-state"), *file = ut_path(sd, HS_TABLE_FILE);
	struct hs_spare *sp = fx_open(f, sd, NULL, 0);
	fx_expect(sp, 0, IMG_SIZE / 2, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	assert_int_equal(unlink(file), 0);
	sp = fx_open(f, sd, NULL, 0);
	assert_null(sp->ix->digests);
	assert_int_equal(hs_spare_data_bytes(sp), fx_data_bytes(0, NCHUNKS));
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	ino_t ino = inode(file);
	sp = fx_open(f, sd, NULL, 0);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	assert_int_equal(inode(file), ino);
	free(file);
	free(sd);
}

/* A damaged block under a spare: its chunk is read right (the block is
 * rewritten from the store first), never from a wrong digest. */
static void test_spare_reads_through_damaged_table(void **state)
{
	struct tx *t = *state;
	struct fx *f = t->f;
	f->img = fx_make_image(2);
	fx_put_point(f->store, f->img, IMG_SIZE, SERVER, T0, NULL, f->id);
	char *sd = ut_path(f->dir, "st2"), *file = ut_path(sd, HS_TABLE_FILE);
	hs_spare_close(fx_open(f, sd, NULL, 0));
	struct hs_spare *sp = fx_open(f, sd, NULL, 0);
	/* Chunk 15 and 16 hold the same bytes: give 17 the digest of 18, a real
	 * chunk of the store that is not chunk 17. */
	struct stat s;
	assert_int_equal(stat(file, &s), 0);
	off_t d17 = (off_t)((uint64_t)s.st_size - (NCHUNKS - 17) * HS_DIGEST_LEN);
	unsigned char d18[HS_DIGEST_LEN];
	int fd = open(file, O_RDWR);
	assert_int_equal(pread(fd, d18, sizeof d18, d17 + HS_DIGEST_LEN), (ssize_t)sizeof d18);
	assert_int_equal(pwrite(fd, d18, sizeof d18, d17), (ssize_t)sizeof d18);
	close(fd);
	fx_expect(sp, 17 * CS, CS, f->img + 17 * CS);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	assert_int_equal(hs_spare_close(sp), 0);
	free(file);
	free(sd);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, tx_setup, tx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_made_once_then_reused),
		T(test_damaged_file_made_again),
		T(test_other_table_made_again),
		T(test_block_damaged_while_open_rewritten),
		T(test_block_damaged_without_store_is_eio),
		T(test_spare_state_without_table),
		T(test_spare_reads_through_damaged_table),
	};
	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
