/* Unit tests for jobs/gc.h and the trash it keeps: what no point names is
 * deleted and nothing else; a batch waits for the writers that may have seen
 * its chunks, and a chunk a point came to name is put back; readers find
 * chunks in the trash, writers do not; a writer lock without a registration
 * holds the trash; a pruned point in use keeps its chunks; a killed run is
 * completed; a dry run changes nothing. */
#include "fixture.h"
#include "jobs/gc.h"
#include "jobs/prune.h"
#include "store/chunklist.h"
#include "store/lease.h"

#define DISTINCT 33u /* distinct non-zero chunks of a generated image */

/* Two points: the image of seed 1 at T0, of seed 2 at T0 + 1 (no chunk in common). */
static void two_points(struct fx *f, char id1[HS_POINT_ID_LEN + 1], char id2[HS_POINT_ID_LEN + 1])
{
	assert_int_equal(hs_store_init(f->store, CS), 0);
	f->img = fx_make_image(1);
	unsigned char *img2 = fx_make_image(2);
	fx_put_point(f->store, f->img, IMG_SIZE, SERVER, T0, NULL, id1);
	fx_put_point(f->store, img2, IMG_SIZE, SERVER, T0 + 1, NULL, id2);
	free(img2);
}

static struct hs_store *open_store(struct fx *f)
{
	struct hs_store *st;
	assert_int_equal(hs_store_open(f->store, &st), 0);
	return st;
}

static int gc(struct hs_store *st, bool dry, int64_t grace, struct hs_gc_stats *s)
{
	struct hs_gc_opts o = { .store = st, .dry_run = dry, .grace = grace };
	return hs_gc(&o, s);
}

/* Every chunk of point id reads back (from chunks/ or the trash) and decodes. */
static void point_reads(struct hs_store *st, const char *id)
{
	struct hs_index *ix;
	assert_int_equal(hs_store_point_get(st, SERVER, id, NULL, &ix), 0);
	struct hs_buf z = { 0 };
	unsigned char *plain = malloc(CS);
	for (uint64_t i = 0; i < ix->nchunks; i++) {
		if (hs_digest_is_zero(&ix->digests[i]))
			continue;
		assert_int_equal(hs_store_chunk_get(st, &ix->digests[i], &z), 0);
		assert_int_equal(hs_store_chunk_decode(st, z.data, z.len, &ix->digests[i], plain,
						       hs_index_chunk_len(ix, i)), 0);
	}
	free(plain);
	hs_buf_free(&z);
	hs_index_free(ix);
}

static size_t count_files(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "find '%s' -type f 2>/dev/null | wc -l", dir);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	assert_int_equal(fscanf(p, "%zu", &n), 1);
	pclose(p);
	return n;
}

static size_t chunks_under(struct fx *f, const char *sub)
{
	char *p = ut_path(f->store, sub);
	size_t n = count_files(p);
	free(p);
	return n;
}

static void test_frees_unnamed(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f);
	struct hs_gc_stats s;
	/* Everything named: nothing goes. */
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.chunks, 2 * DISTINCT);
	assert_int_equal(s.chunks_named, 2 * DISTINCT);
	assert_int_equal(s.chunks_freed, 0);
	/* The first point pruned: its chunks go (young ones only without a grace). */
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	assert_int_equal(gc(st, false, HS_GC_GRACE, &s), 0);
	assert_int_equal(s.points_deleted, 1);
	assert_int_equal(s.chunks_freed, 0);
	assert_int_equal(s.chunks_young, DISTINCT);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.chunks_freed, DISTINCT);
	assert_true(s.bytes_freed > 0);
	assert_int_equal(s.batches_emptied, 0); /* emptied at once: no writer */
	assert_int_equal(s.chunks_waiting, 0);
	assert_int_equal(chunks_under(f, "chunks"), DISTINCT);
	assert_int_equal(chunks_under(f, "trash/chunks"), 0);
	assert_int_equal(chunks_under(f, "trash/batches"), 0);
	point_reads(st, id2);
	hs_store_close(st);
}

/* A writer registered before the moves holds the batch: the chunks wait in
 * the trash, readers still find them, writers do not (they store them
 * again); a point written meanwhile naming one gets it put back. */
static void test_writer_holds_batch(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f), *w = open_store(f);
	struct hs_writer *reg;
	assert_int_equal(hs_writer_register(w, "backup", &reg), 0);
	/* The writer "saw" the chunks of point 1 as present just now. */
	struct hs_index *ix;
	assert_int_equal(hs_store_point_get(st, SERVER, id1, NULL, &ix), 0);
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	struct hs_gc_stats s;
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.writers_live, 1);
	assert_int_equal(s.chunks_freed, 0);
	assert_int_equal(s.chunks_waiting, DISTINCT);
	assert_int_equal(s.batches_waiting, 1);
	assert_int_equal(chunks_under(f, "trash/chunks"), DISTINCT);
	const struct hs_digest *d = &ix->digests[0];
	struct hs_buf z = { 0 };
	assert_int_equal(hs_store_chunk_get(st, d, &z), 0);          /* a reader: from the trash */
	assert_int_equal(hs_store_chunk_get_live(st, d, &z), -ENOENT); /* a writer: not there */
	assert_int_equal(hs_store_chunk_has(st, d), 0);
	hs_buf_free(&z);
	/* The writer writes a point naming them (its dedup said present). */
	snprintf(ix->id, sizeof ix->id, "%s", "20231114T230000Z");
	ix->time = T0 + 10000;
	hs_point_id_format((time_t)ix->time, ix->id);
	assert_int_equal(hs_store_point_put1(w, ix), 0);
	point_reads(st, ix->id);
	/* Still registered: the batch waits. */
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.batches_emptied, 0);
	assert_int_equal(s.chunks_waiting, DISTINCT);
	hs_writer_done(reg);
	/* Done: the batch is emptied, every chunk put back (the point names them). */
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.batches_emptied, 1);
	assert_int_equal(s.chunks_restored, DISTINCT);
	assert_int_equal(s.chunks_freed, 0);
	assert_int_equal(chunks_under(f, "chunks"), 2 * DISTINCT);
	assert_int_equal(chunks_under(f, "trash"), 0);
	assert_int_equal(hs_store_chunk_has(st, d), 1);
	point_reads(st, ix->id);
	point_reads(st, id2);
	hs_index_free(ix);
	hs_store_close(w);
	hs_store_close(st);
}

/* A chunk stored again by a writer while its copy waited in the trash, and
 * named by no point when the batch is emptied: the trash copy goes, and the
 * copy under chunks/ goes into a new batch, emptied at once; none is left. */
static void test_stored_again_while_in_trash(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f), *w = open_store(f);
	struct hs_writer *reg;
	assert_int_equal(hs_writer_register(w, "backup", &reg), 0);
	struct hs_index *ix;
	assert_int_equal(hs_store_point_get(st, SERVER, id1, NULL, &ix), 0);
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	struct hs_gc_stats s;
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.chunks_waiting, DISTINCT);
	/* The writer stores two of them again (it found them missing). */
	for (int k = 0; k < 2; k++) {
		char key[96], from[4200], to[4200];
		hs_store_chunk_key(st, &ix->digests[k], key);
		snprintf(from, sizeof from, "%s/trash/%s", f->store, key);
		snprintf(to, sizeof to, "%s/%s", f->store, key);
		assert_int_equal(link(from, to), 0);
	}
	hs_writer_done(reg);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.chunks_freed, DISTINCT + 2);
	assert_int_equal(s.chunks_waiting, 0);
	assert_int_equal(chunks_under(f, "trash"), 0);
	assert_int_equal(chunks_under(f, "chunks"), DISTINCT);
	point_reads(st, id2);
	hs_index_free(ix);
	hs_store_close(w);
	hs_store_close(st);
}

/* A writer that registered after the batch's moves (beyond the clock skew)
 * never saw its chunks present: the batch is emptied beside it. */
static void test_later_writer_does_not_hold(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f), *w = open_store(f);
	struct hs_writer *reg;
	assert_int_equal(hs_writer_register(w, "backup", &reg), 0);
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	struct hs_gc_stats s;
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.chunks_waiting, DISTINCT);
	hs_writer_done(reg);
	/* A writer (written by hand: its clock says it started long after). */
	char text[256], *p = ut_path(f->store, "writers/late-1-00000000.json");
	long long now = (long long)time(NULL);
	snprintf(text, sizeof text, "{\"format\":\"hotspare-writer\",\"host\":\"late\",\"pid\":1,\"what\":\"backup\","
				    "\"started\":%lld,\"renewed\":%lld}\n", now + 2 * HS_CLOCK_SKEW_SECONDS, now);
	assert_int_equal(ut_write_file(p, text, strlen(text)), 0);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.writers_live, 1);
	assert_int_equal(s.batches_emptied, 1);
	assert_int_equal(s.chunks_freed, DISTINCT);
	/* A dead registration (not renewed for long) goes. */
	snprintf(text, sizeof text, "{\"format\":\"hotspare-writer\",\"host\":\"late\",\"pid\":1,\"what\":\"backup\","
				    "\"started\":%lld,\"renewed\":%lld}\n", now - 7200, now - 7200);
	assert_int_equal(ut_write_file(p, text, strlen(text)), 0);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.writers_live, 0);
	assert_int_equal(s.writers_removed, 1);
	assert_false(access(p, F_OK) == 0);
	free(p);
	hs_store_close(w);
	hs_store_close(st);
}

/* A writer lock held by a process that registered nothing (an older
 * hotspare) is a writer that started before everything. */
static void test_unregistered_lock_holds(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f), *old = open_store(f);
	int token;
	assert_int_equal(hs_store_lock_server(old, "other", &token), 0);
	/* Taken an hour ago: not a writer about to register. */
	char *lf = ut_path(f->store, "locks/other.lock");
	struct timespec old_times[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, lf, old_times, 0), 0);
	free(lf);
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	struct hs_gc_stats s;
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.writers_unregistered, 1);
	assert_int_equal(s.chunks_freed, 0);
	assert_int_equal(s.chunks_waiting, DISTINCT);
	hs_store_unlock(old, token);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.writers_unregistered, 0);
	assert_int_equal(s.chunks_freed, DISTINCT);
	hs_store_close(old);
	hs_store_close(st);
}

/* A point pruned while in use (its lease came as prune decided) keeps its
 * chunks until the lease ends; then gc deletes it and them. */
static void test_pruned_in_use(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f);
	struct hs_lease *l;
	assert_int_equal(hs_lease_take1(st, SERVER, id1, "mount", &l), 0);
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	struct hs_gc_stats s;
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.points_in_use, 1);
	assert_int_equal(s.points_deleted, 0);
	assert_int_equal(s.chunks_freed, 0);
	point_reads(st, id1);
	hs_lease_release(l);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.points_deleted, 1);
	assert_int_equal(s.chunks_freed, DISTINCT);
	assert_int_equal(chunks_under(f, "trash"), 0);
	hs_store_close(st);
}

/* A run killed after its batch list and some moves: the next run finds the
 * batch unfinished, counts its moves done as of then, and empties it (no
 * writer), putting back what a point names. An orphan list goes. */
static void test_killed_run_completed(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f);
	struct hs_index *ix1, *ix2;
	assert_int_equal(hs_store_point_get(st, SERVER, id1, NULL, &ix1), 0);
	assert_int_equal(hs_store_point_get(st, SERVER, id2, NULL, &ix2), 0);
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	/* The batch lists chunk 0 of each point; only point 1's was moved. */
	char h1[HS_DIGEST_HEX], h2[HS_DIGEST_HEX], keys[200], k1[96], k2[96], from[4200], to[4200];
	hs_digest_hex(&ix1->digests[0], h1);
	hs_digest_hex(&ix2->digests[0], h2);
	snprintf(keys, sizeof keys, "%s\n%s\n", h1, h2);
	char *p = ut_path(f->store, "trash");
	assert_int_equal(mkdir(p, 0755) == 0 || errno == EEXIST, 1);
	free(p);
	p = ut_path(f->store, "trash/batches");
	mkdir(p, 0755);
	free(p);
	p = ut_path(f->store, "trash/batches/20231114T000000Z-00000001.keys");
	assert_int_equal(ut_write_file(p, keys, strlen(keys)), 0);
	free(p);
	p = ut_path(f->store, "trash/batches/20231114T000000Z-00000001.json");
	const char *rec = "{\"format\":\"hotspare-gc-batch\",\"created\":1700000000,\"host\":\"x\",\"pid\":1}\n";
	assert_int_equal(ut_write_file(p, rec, strlen(rec)), 0);
	free(p);
	p = ut_path(f->store, "trash/batches/20231114T000000Z-00000002.keys"); /* an orphan */
	assert_int_equal(ut_write_file(p, keys, strlen(keys)), 0);
	free(p);
	hs_store_chunk_key(st, &ix1->digests[0], k1);
	hs_store_chunk_key(st, &ix2->digests[0], k2);
	snprintf(from, sizeof from, "%s/%s", f->store, k1);
	snprintf(to, sizeof to, "%s/trash/%s", f->store, k1);
	p = ut_path(f->store, "trash/chunks");
	mkdir(p, 0755);
	free(p);
	snprintf(keys, sizeof keys, "%s/trash/chunks/%.2s", f->store, k1 + 7);
	mkdir(keys, 0755);
	assert_int_equal(rename(from, to), 0);
	point_reads(st, id2);
	struct hs_gc_stats s;
	/* A dry run first: it says so, and changes nothing. */
	assert_int_equal(gc(st, true, 0, &s), 0);
	assert_true(s.dry_run);
	assert_int_equal(s.chunks_freed, DISTINCT);
	assert_int_equal(count_files(f->store) > 0, 1);
	assert_int_equal(chunks_under(f, "trash/batches"), 3);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.batches_emptied, 1);
	assert_int_equal(s.chunks_freed, DISTINCT);
	assert_int_equal(chunks_under(f, "trash"), 0);
	assert_int_equal(chunks_under(f, "chunks"), DISTINCT);
	point_reads(st, id2);
	(void)k2;
	hs_index_free(ix1);
	hs_index_free(ix2);
	hs_store_close(st);
}

/* A chunk named by a point but in the trash (a killed run's batch, the
 * point written beside it) goes back; young chunks and a second gc wait. */
static void test_dry_run_and_busy(void **state)
{
	struct fx *f = *state;
	char id1[HS_POINT_ID_LEN + 1], id2[HS_POINT_ID_LEN + 1];
	two_points(f, id1, id2);
	struct hs_store *st = open_store(f), *other = open_store(f);
	assert_int_equal(hs_store_point_trash(st, SERVER, id1), 0);
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "cd '%s' && find . | sort && find . -type f -exec cat {} + | sha256sum", f->store);
	char before[8192] = "", after[8192] = "";
	FILE *pp = popen(cmd, "r");
	assert_true(fread(before, 1, sizeof before - 1, pp) > 0);
	pclose(pp);
	struct hs_gc_stats s;
	assert_int_equal(gc(st, true, 0, &s), 0);
	assert_int_equal(s.chunks_freed, DISTINCT);
	assert_int_equal(s.points_deleted, 1);
	pp = popen(cmd, "r");
	assert_true(fread(after, 1, sizeof after - 1, pp) > 0);
	pclose(pp);
	assert_string_equal(before, after);
	/* One gc at a time. */
	int token;
	assert_int_equal(other->be->ops->lock(other->be, ".gc", 0, &token), 0);
	assert_int_equal(gc(st, false, 0, &s), -EBUSY);
	assert_err_mentions("another gc is running");
	other->be->ops->unlock(other->be, token);
	assert_int_equal(gc(st, false, 0, &s), 0);
	assert_int_equal(s.chunks_freed, DISTINCT);
	hs_store_close(other);
	hs_store_close(st);
}

/* The table sorts in place (a pass on the first byte, then each bucket),
 * merges copies of one chunk and finds every entry, and only those. */
static void test_chunk_table(void **state)
{
	(void)state;
	struct hs_chunk_table t = { 0 };
	size_t n = 100000;
	t.v = malloc((n + 100) * sizeof *t.v);
	t.cap = n + 100;
	uint64_t seed = 7;
	for (size_t i = 0; i < n; i++) {
		ut_fill(&t.v[i].d, HS_DIGEST_LEN, ut_rand(&seed) | 1);
		t.v[i].size = (uint32_t)i;
		t.v[i].flags = 1;
	}
	/* 100 second copies (as if in the trash too), with a flag of their own. */
	for (size_t i = 0; i < 100; i++) {
		t.v[n + i] = t.v[i * 7];
		t.v[n + i].flags = 2;
		t.v[n + i].size = 0;
	}
	t.n = n + 100;
	struct hs_digest *all = malloc(n * sizeof *all);
	for (size_t i = 0; i < n; i++)
		all[i] = t.v[i].d;
	assert_int_equal(hs_chunk_table_index(&t, 1), 0);
	assert_int_equal(t.n, n);
	for (size_t i = 1; i < t.n; i++)
		assert_true(memcmp(t.v[i - 1].d.b, t.v[i].d.b, HS_DIGEST_LEN) < 0);
	for (size_t i = 0; i < n; i++) {
		struct hs_chunk_ent *e = hs_chunk_table_find(&t, &all[i]);
		assert_non_null(e);
		assert_int_equal(e->size, i);
		assert_int_equal(e->flags, i % 7 == 0 && i / 7 < 100 ? 3 : 1);
	}
	struct hs_digest other;
	memset(&other, 0xab, sizeof other);
	assert_null(hs_chunk_table_find(&t, &other));
	hs_chunk_table_free(&t);
	free(all);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup_dirs, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_table),
		T(test_frees_unnamed),
		T(test_writer_holds_batch),
		T(test_stored_again_while_in_trash),
		T(test_later_writer_does_not_hold),
		T(test_unregistered_lock_holds),
		T(test_pruned_in_use),
		T(test_killed_run_completed),
		T(test_dry_run_and_busy),
	};
	return cmocka_run_group_tests_name("gc", tests, NULL, NULL);
}
