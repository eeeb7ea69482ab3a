/* Unit tests for store.h (directory stores) and chunk.h. Each test gets its
 * own mkdtemp directory, removed afterwards. */
#include "fixture.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include "store/badlist.h"

static struct hs_store *new_store(struct fx *c, uint32_t cs)
{
	assert_int_equal(hs_store_init(c->store, cs), 0);
	struct hs_store *st = NULL;
	assert_int_equal(hs_store_open(c->store, &st), 0);
	assert_non_null(st);
	return st;
}

static void write_desc(const char *where, const char *json)
{
	mkdir(where, 0755);
	char *p = ut_path(where, "hotspare-store.json");
	assert_int_equal(ut_write_file(p, json, strlen(json)), 0);
	free(p);
}

static int file_exists(const char *dir, const char *name)
{
	char *p = ut_path(dir, name);
	struct stat s;
	int r = stat(p, &s) == 0;
	free(p);
	return r;
}

/* ---- description ---- */

static void test_init_then_open(void **state)
{
	struct fx *c = *state;
	assert_int_equal(hs_store_init(c->store, CS * 4), 0);
	assert_true(file_exists(c->store, "hotspare-store.json"));
	struct hs_store *st = NULL;
	assert_int_equal(hs_store_open(c->store, &st), 0);
	assert_non_null(st);
	assert_non_null(st->be);
	assert_int_equal(st->chunk_size, CS * 4);
	assert_int_equal(hs_store_sync(st), 0);
	hs_store_close(st);
	hs_store_close(NULL);

	/* init into an existing empty directory works too. */
	char *w2 = ut_path(c->dir, "existing");
	assert_int_equal(mkdir(w2, 0755), 0);
	assert_int_equal(hs_store_init(w2, HS_DEFAULT_CHUNK_SIZE), 0);
	assert_int_equal(hs_store_open(w2, &st), 0);
	assert_int_equal(st->chunk_size, HS_DEFAULT_CHUNK_SIZE);
	hs_store_close(st);
	free(w2);
}

static void test_init_bad_chunk_size(void **state)
{
	struct fx *c = *state;
	const uint32_t bad[] = { 0, 4096, 65535, 65537, 3 * 65536, 8u << 20 };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		hs_err_clear();
		assert_int_equal(hs_store_init(c->store, bad[i]), -EINVAL);
		assert_err_mentions("chunk size");
		assert_false(file_exists(c->store, "hotspare-store.json"));
	}
}

static void test_init_twice(void **state)
{
	struct fx *c = *state;
	assert_int_equal(hs_store_init(c->store, CS), 0);
	size_t n1, n2;
	char *p = ut_path(c->store, "hotspare-store.json");
	unsigned char *before = ut_read_file(p, &n1);
	assert_non_null(before);
	hs_err_clear();
	assert_int_equal(hs_store_init(c->store, CS * 2), -EEXIST);
	assert_err_mentions(c->store);
	/* The description is untouched. */
	unsigned char *after = ut_read_file(p, &n2);
	assert_non_null(after);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	struct hs_store *st;
	assert_int_equal(hs_store_open(c->store, &st), 0);
	assert_int_equal(st->chunk_size, CS);
	hs_store_close(st);
	free(before);
	free(after);
	free(p);
}

static void test_open_missing_and_uninitialised(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = (struct hs_store *)0x1;
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -ENOENT);
	assert_err_mentions(c->store);
	assert_ptr_equal(st, (struct hs_store *)0x1);
	/* Opening must not create it. */
	struct stat s;
	assert_int_equal(stat(c->store, &s), -1);

	assert_int_equal(mkdir(c->store, 0755), 0);
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -ENOENT);
	assert_err_mentions(c->store);
	assert_err_mentions("not a hotspare store");

	/* A plain file where the store should be. */
	char *f = ut_path(c->dir, "file");
	assert_int_equal(ut_write_file(f, "x", 1), 0);
	hs_err_clear();
	assert_int_equal(hs_store_open(f, &st), -ENOTDIR);
	assert_err_mentions(f);
	free(f);
}

static void test_open_unknown_version(void **state)
{
	struct fx *c = *state;
	write_desc(c->store, "{\"format\":\"hotspare-store\",\"version\":99,\"chunk_size\":65536,"
			     "\"compression\":\"zstd\",\"digest\":\"sha256\"}\n");
	struct hs_store *st = NULL;
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EPROTONOSUPPORT);
	assert_err_mentions("version 99");
	assert_err_mentions(c->store);
	assert_null(st);

	write_desc(c->store, "{\"format\":\"hotspare-store\",\"version\":2,\"chunk_size\":65536,"
			     "\"compression\":\"lz4\"}\n");
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EPROTONOSUPPORT);
	assert_err_mentions("lz4");

	/* Format version 1: refused with the command that converts it. */
	write_desc(c->store, "{\"format\":\"hotspare-store\",\"version\":1,\"chunk_size\":65536,"
			     "\"compression\":\"zstd\",\"digest\":\"sha256\"}\n");
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EPROTONOSUPPORT);
	assert_err_mentions("hotspare upgrade");
	assert_int_equal(hs_store_open_flags(c->store, HS_OPEN_ANY_VERSION, &st), 0);
	assert_int_equal(st->version, 1);
	hs_store_close(st);

	/* Unknown encryption. */
	write_desc(c->store, "{\"format\":\"hotspare-store\",\"version\":2,\"chunk_size\":65536,"
			     "\"compression\":\"zstd\",\"digest\":\"sha256\",\"encryption\":\"rot13\"}\n");
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EPROTONOSUPPORT);
	assert_err_mentions("rot13");
}

static void test_open_corrupt_description(void **state)
{
	struct fx *c = *state;
	const char *bad[] = {
		"",
		"not json at all",
		"{\"format\":\"hotspare-store\",\"version\":2,",
		"[1, 2, 3]",
		"{\"format\":\"something-else\",\"version\":2,\"chunk_size\":65536,\"compression\":\"zstd\"}",
		"{\"version\":2,\"chunk_size\":65536,\"compression\":\"zstd\"}",
		"{\"format\":\"hotspare-store\",\"version\":2,\"chunk_size\":1000,\"compression\":\"zstd\"}",
		"{\"format\":\"hotspare-store\",\"version\":2,\"chunk_size\":0,\"compression\":\"zstd\"}",
		"{\"format\":\"hotspare-store\",\"version\":2,\"compression\":\"zstd\"}",
		"{\"format\":\"hotspare-store\",\"version\":2,\"chunk_size\":8388608,\"compression\":\"zstd\"}",
		"{\"format\":\"hotspare-store\",\"version\":2,\"chunk_size\":4295032832,\"compression\":\"zstd\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_desc(c->store, bad[i]);
		struct hs_store *st = NULL;
		hs_err_clear();
		int r = hs_store_open(c->store, &st);
		if (r != -EBADMSG)
			fail_msg("description '%s': expected -EBADMSG, got %d", bad[i], r);
		assert_null(st);
		assert_err_mentions(c->store);
	}
}

/* Fields with JSON null (or the wrong type) where strings are expected: a
 * corrupt description, never a crash. Run in a child so a crash is a failure. */
struct desc_case {
	const char *where;
	const char *json;
};

static int open_desc_child(void *arg)
{
	struct desc_case *d = arg;
	struct hs_store *st = NULL;
	hs_err_clear();
	int r = hs_store_open(d->where, &st);
	if (r == 0)
		return 2;
	if (r != -EBADMSG && r != -EPROTONOSUPPORT)
		return 3;
	if (!hs_err_msg())
		return 4;
	return 0;
}

static void test_open_description_null_fields(void **state)
{
	struct fx *c = *state;
	const char *bad[] = {
		"{\"format\":null,\"version\":2,\"chunk_size\":65536,\"compression\":\"zstd\"}",
		"{\"format\":\"hotspare-store\",\"version\":2,\"chunk_size\":65536,\"compression\":null}",
		"null",
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct desc_case d = { c->store, bad[i] };
		write_desc(c->store, bad[i]);
		int r = ut_in_child(open_desc_child, &d);
		if (r != 0) {
			print_error("hs_store_open of description '%s': child %s %d (expected a clean "
				    "error)\n", bad[i], r >= 128 ? "killed by signal" : "failed with",
				    r >= 128 ? r - 128 : r);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* ---- chunks ---- */

static void test_chunk_round_trip(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	const size_t lens[] = { CS, 1234, 1 };
	for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
		size_t len = lens[k];
		unsigned char *plain = malloc(len), *back = malloc(len);
		assert_non_null(plain);
		assert_non_null(back);
		ut_fill(plain, len / 2, 100 + k); /* half random, half zeros */
		memset(plain + len / 2, 0, len - len / 2);
		struct hs_digest d;
		hs_digest_compute(plain, len, &d);
		struct hs_buf z = { 0 }, got = { 0 };
		assert_int_equal(hs_chunk_encode(NULL, NULL, plain, len, HS_ZSTD_LEVEL, &z), 0);
		assert_true(z.len > 0);

		assert_int_equal(hs_store_chunk_has(st, &d), 0);
		assert_int_equal(hs_store_chunk_get(st, &d, &got), -ENOENT);
		assert_int_equal(hs_store_chunk_put(st, &d, z.data, z.len), 1);
		assert_int_equal(hs_store_chunk_has(st, &d), 1);
		assert_int_equal(hs_store_chunk_get(st, &d, &got), 0);
		assert_int_equal(got.len, z.len);
		assert_memory_equal(got.data, z.data, z.len);
		memset(back, 0xaa, len);
		assert_int_equal(hs_chunk_decode(NULL, got.data, got.len, &d, back, len), 0);
		assert_memory_equal(back, plain, len);

		/* It is where the layout says. */
		char key[96], hex[HS_DIGEST_HEX], want[96];
		hs_chunk_key(&d, false, key);
		hs_digest_hex(&d, hex);
		snprintf(want, sizeof want, "chunks/%.2s/%s.zst", hex, hex);
		assert_string_equal(key, want);
		assert_true(file_exists(c->store, key));

		hs_buf_free(&z);
		hs_buf_free(&got);
		free(plain);
		free(back);
	}
	assert_int_equal(hs_store_sync(st), 0);
	/* Visible through a fresh open. */
	hs_store_close(st);
	assert_int_equal(hs_store_open(c->store, &st), 0);
	unsigned char one[1] = { 0 };
	struct hs_digest d;
	hs_digest_compute(one, 1, &d);
	assert_int_equal(hs_store_chunk_has(st, &d), 1);
	hs_store_close(st);
}

static int count_tmp_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, ".tmp", 4) == 0)
			n++;
	closedir(d);
	return n;
}

static void test_chunk_put_existing(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	unsigned char plain[5000];
	ut_fill(plain, sizeof plain, 9);
	struct hs_digest d;
	hs_digest_compute(plain, sizeof plain, &d);
	struct hs_buf z = { 0 }, got = { 0 };
	assert_int_equal(hs_chunk_encode(NULL, NULL, plain, sizeof plain, HS_ZSTD_LEVEL, &z), 0);
	assert_int_equal(hs_store_chunk_put(st, &d, z.data, z.len), 1);

	char key[96];
	hs_chunk_key(&d, false, key);
	char *path = ut_path(c->store, key);
	struct stat s1, s2;
	assert_int_equal(stat(path, &s1), 0);
	usleep(20000); /* so a rewrite would show in the timestamps */
	assert_int_equal(hs_store_chunk_put(st, &d, z.data, z.len), 0);
	/* Even with other bytes under the same name, the first copy stays. */
	assert_int_equal(hs_store_chunk_put(st, &d, "garbage", 7), 0);
	assert_int_equal(stat(path, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	assert_int_equal(s1.st_size, s2.st_size);
	assert_int_equal(s1.st_mtim.tv_sec, s2.st_mtim.tv_sec);
	assert_int_equal(s1.st_mtim.tv_nsec, s2.st_mtim.tv_nsec);
	assert_int_equal(s1.st_ctim.tv_sec, s2.st_ctim.tv_sec);
	assert_int_equal(s1.st_ctim.tv_nsec, s2.st_ctim.tv_nsec);
	assert_int_equal(hs_store_chunk_get(st, &d, &got), 0);
	assert_int_equal(got.len, z.len);
	assert_memory_equal(got.data, z.data, z.len);
	/* No temporary files left behind. */
	char *slash = strrchr(path, '/');
	*slash = 0;
	assert_int_equal(count_tmp_files(path), 0);
	free(path);
	hs_buf_free(&z);
	hs_buf_free(&got);
	hs_store_close(st);
}

static void test_chunk_decode_tampered(void **state)
{
	(void)state;
	unsigned char plain[3000], back[3000];
	ut_fill(plain, sizeof plain, 21);
	struct hs_digest d, other;
	hs_digest_compute(plain, sizeof plain, &d);
	struct hs_buf z = { 0 };
	assert_int_equal(hs_chunk_encode(NULL, NULL, plain, sizeof plain, HS_ZSTD_LEVEL, &z), 0);
	assert_int_equal(hs_chunk_decode(NULL, z.data, z.len, &d, back, sizeof back), 0);
	assert_memory_equal(back, plain, sizeof plain);

	unsigned char *t = malloc(z.len);
	assert_non_null(t);
	for (size_t i = 0; i < z.len; i++) {
		const unsigned char masks[] = { 0x01, 0x40, 0xff };
		for (size_t m = 0; m < sizeof masks; m++) {
			memcpy(t, z.data, z.len);
			t[i] ^= masks[m];
			int r = hs_chunk_decode(NULL, t, z.len, &d, back, sizeof back);
			if (r != -EBADMSG)
				fail_msg("chunk byte %zu ^ 0x%02x: expected -EBADMSG, got %d", i, masks[m], r);
		}
	}
	/* Truncated at every length. */
	for (size_t n = 0; n < z.len; n++) {
		memcpy(t, z.data, n);
		assert_int_equal(hs_chunk_decode(NULL, t, n, &d, back, sizeof back), -EBADMSG);
	}
	free(t);
	/* Good frame, wrong expectations. */
	other = d;
	other.b[31] ^= 1;
	assert_int_equal(hs_chunk_decode(NULL, z.data, z.len, &other, back, sizeof back), -EBADMSG);
	assert_int_equal(hs_chunk_decode(NULL, z.data, z.len, &d, back, sizeof back - 1), -EBADMSG);
	/* A frame of other content under this digest. */
	plain[100] ^= 1;
	struct hs_buf z2 = { 0 };
	assert_int_equal(hs_chunk_encode(NULL, NULL, plain, sizeof plain, HS_ZSTD_LEVEL, &z2), 0);
	assert_int_equal(hs_chunk_decode(NULL, z2.data, z2.len, &d, back, sizeof back), -EBADMSG);
	hs_buf_free(&z);
	hs_buf_free(&z2);
}

/* ---- points ---- */

static struct hs_index *point(const char *server, time_t t, uint32_t kind, uint64_t size)
{
	struct hs_index *ix = NULL;
	assert_int_equal(hs_index_new(size, CS, &ix), 0);
	snprintf(ix->server, sizeof ix->server, "%s", server);
	hs_point_id_format(t, ix->id);
	ix->time = t;
	ix->kind = kind;
	ix->new_bytes = (uint64_t)t;
	for (uint64_t i = 0; i < ix->nchunks; i++) {
		uint64_t v = (uint64_t)t * 1000 + i;
		hs_digest_compute(&v, sizeof v, &ix->digests[i]);
	}
	return ix;
}

/* 2026-01-01T00:00:00Z, 2026-02-15T12:00:00Z, 2026-02-16T00:00:00Z */
static const time_t T1 = 1767225600, T2 = 1771156800, T3 = 1771200000;

static void add_points(struct hs_store *st)
{
	/* Put out of order: listing must sort. */
	const time_t ts[] = { T2, T1, T3 };
	for (size_t i = 0; i < 3; i++) {
		struct hs_index *ix = point("mail01", ts[i], i == 1 ? HS_KIND_SNAPSHOT : HS_KIND_BACKUP,
					    3 * (uint64_t)CS + 7);
		assert_int_equal(hs_store_point_put1(st, ix), 0);
		hs_index_free(ix);
	}
	struct hs_index *ix = point("db01", T1, HS_KIND_SNAPSHOT, CS);
	assert_int_equal(hs_store_point_put1(st, ix), 0);
	hs_index_free(ix);
}

static struct hs_store *store_with_points(struct fx *c)
{
	struct hs_store *st = new_store(c, CS);
	add_points(st);
	return st;
}

static void test_point_put_get_list(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = store_with_points(c);
	char **ids = NULL;
	size_t n = 99;
	assert_int_equal(hs_store_points_list(st, "mail01", &ids, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ids[0], "20260101T000000Z");
	assert_string_equal(ids[1], "20260215T120000Z");
	assert_string_equal(ids[2], "20260216T000000Z");
	assert_null(ids[3]);
	hs_strv_free(ids);

	assert_int_equal(hs_store_points_list(st, "db01", &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], "20260101T000000Z");
	hs_strv_free(ids);

	assert_int_equal(hs_store_points_list(st, "nosuch", &ids, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(ids);
	assert_null(ids[0]);
	hs_strv_free(ids);

	const time_t ts[] = { T1, T2, T3 };
	for (size_t i = 0; i < 3; i++) {
		struct hs_index *want = point("mail01", ts[i], i == 0 ? HS_KIND_SNAPSHOT : HS_KIND_BACKUP,
					      3 * (uint64_t)CS + 7);
		struct hs_index *got = NULL;
		assert_int_equal(hs_store_point_get(st, "mail01", want->id, NULL, &got), 0);
		assert_non_null(got);
		assert_string_equal(got->server, "mail01");
		assert_string_equal(got->id, want->id);
		assert_int_equal(got->kind, want->kind);
		assert_int_equal(got->time, ts[i]);
		assert_int_equal(got->image_size, want->image_size);
		assert_int_equal(got->nchunks, 4);
		assert_int_equal(got->new_bytes, want->new_bytes);
		assert_memory_equal(got->digests, want->digests, 4 * sizeof *got->digests);
		hs_index_free(got);
		hs_index_free(want);
	}

	/* Manifests for kinds that cannot list. */
	size_t mn;
	char *mp = ut_path(c->store, "points/mail01/.points");
	char *m = (char *)ut_read_file(mp, &mn);
	assert_non_null(m);
	m = realloc(m, mn + 1);
	m[mn] = 0;
	assert_non_null(strstr(m, "20260101T000000Z\n"));
	assert_non_null(strstr(m, "20260215T120000Z\n"));
	assert_non_null(strstr(m, "20260216T000000Z\n"));
	free(m);
	free(mp);
	mp = ut_path(c->store, "points/.servers");
	m = (char *)ut_read_file(mp, &mn);
	assert_non_null(m);
	assert_int_equal(mn, strlen("db01\nmail01\n"));
	assert_memory_equal(m, "db01\nmail01\n", mn);
	free(m);
	free(mp);
	hs_store_close(st);
}

/* Objects larger than they can be are refused by size, one message, before
 * they are read whole: a chunk file past zstd's bound for the chunk size,
 * an index longer than its header says, a description of megabytes. */
static void test_objects_past_their_limit(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	unsigned char plain[100] = { 1 };
	struct hs_digest d;
	hs_digest_compute(plain, sizeof plain, &d);
	char key[96];
	hs_chunk_key(&d, false, key);
	char *dir = ut_path(c->store, "chunks"), *sub, *p = ut_path(c->store, key);
	mkdir(dir, 0755);
	assert_true(asprintf(&sub, "%s/%.2s", dir, key + 7) > 0);
	mkdir(sub, 0755);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)64 << 20), 0); /* 64 MiB, sparse */
	close(fd);
	struct hs_buf got = { 0 };
	hs_err_clear();
	assert_int_equal(hs_store_chunk_get(st, &d, &got), -EFBIG);
	assert_err_mentions("more than that object can be");
	assert_true(got.cap < (1u << 20));
	hs_buf_free(&got);

	/* A point with a long tail: only its header and its table are read
	 * (ranges of the sizes the header gives), never the rest. */
	struct hs_index *ix = point("mail01", T1, HS_KIND_SNAPSHOT, CS);
	assert_int_equal(hs_store_point_put1(st, ix), 0);
	char *ip = ut_path(c->store, "points/mail01/20260101T000000Z.idx");
	fd = open(ip, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	static unsigned char tail[1 << 20];
	for (int i = 0; i < 8; i++)
		assert_int_equal(write(fd, tail, sizeof tail), (ssize_t)sizeof tail);
	close(fd);
	hs_err_clear();
	struct hs_index *back = NULL;
	assert_int_equal(hs_store_point_get(st, "mail01", "20260101T000000Z", NULL, &back), 0);
	assert_memory_equal(back->digests, ix->digests, ix->nchunks * sizeof *ix->digests);
	hs_index_free(back);
	hs_index_free(ix);
	hs_store_close(st);

	/* A description of a megabyte. */
	char *desc = ut_path(c->store, "hotspare-store.json");
	fd = open(desc, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, tail, sizeof tail), (ssize_t)sizeof tail);
	close(fd);
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EFBIG);
	assert_err_mentions("hotspare-store.json");
	free(desc);
	free(ip);
	free(p);
	free(sub);
	free(dir);
}

static void test_point_get_errors(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = store_with_points(c);
	struct hs_index *got = NULL;
	hs_err_clear();
	assert_int_equal(hs_store_point_get(st, "mail01", "20300101T000000Z", NULL, &got), -ENOENT);
	assert_err_mentions("mail01@20300101T000000Z");
	hs_err_clear();
	assert_int_equal(hs_store_point_get(st, "nosuch", "20260101T000000Z", NULL, &got), -ENOENT);
	assert_err_mentions("nosuch@20260101T000000Z");

	/* Put of an existing point. */
	struct hs_index *ix = point("mail01", T1, HS_KIND_SNAPSHOT, CS);
	hs_err_clear();
	assert_int_equal(hs_store_point_put1(st, ix), -EEXIST);
	assert_err_mentions("mail01@20260101T000000Z");
	hs_index_free(ix);

	/* A corrupted index file. */
	char *p = ut_path(c->store, "points/mail01/20260215T120000Z.idx");
	size_t n;
	unsigned char *b = ut_read_file(p, &n);
	assert_non_null(b);
	b[n / 2] ^= 0x10;
	assert_int_equal(ut_write_file(p, b, n), 0);
	hs_err_clear();
	got = NULL;
	assert_int_equal(hs_store_point_get(st, "mail01", "20260215T120000Z", NULL, &got), -EBADMSG);
	assert_null(got);
	assert_err_mentions("mail01@20260215T120000Z");
	/* Truncated. */
	b[n / 2] ^= 0x10;
	assert_int_equal(ut_write_file(p, b, n - 1), 0);
	hs_err_clear();
	assert_int_equal(hs_store_point_get(st, "mail01", "20260215T120000Z", NULL, &got), -EBADMSG);
	assert_err_mentions("mail01@20260215T120000Z");
	free(b);
	free(p);

	/* A valid index under another point's name. */
	char *src = ut_path(c->store, "points/mail01/20260101T000000Z.idx");
	char *dst = ut_path(c->store, "points/mail01/20250101T000000Z.idx");
	b = ut_read_file(src, &n);
	assert_non_null(b);
	assert_int_equal(ut_write_file(dst, b, n), 0);
	free(b);
	hs_err_clear();
	got = NULL;
	assert_int_equal(hs_store_point_get(st, "mail01", "20250101T000000Z", NULL, &got), -EBADMSG);
	assert_null(got);
	assert_err_mentions("another point");
	free(src);
	free(dst);
	hs_store_close(st);
}

static void expect_resolve(struct hs_store *st, const char *server, const char *want, const char *id)
{
	char got[HS_POINT_ID_LEN + 1] = "";
	hs_err_clear();
	int r = hs_store_point_resolve(st, server, want, got);
	if (r != 0)
		fail_msg("resolve %s@%s: %d (%s)", server, want, r, hs_err_msg() ? hs_err_msg() : "");
	assert_string_equal(got, id);
}

static void expect_resolve_fail(struct hs_store *st, const char *server, const char *want,
				const char *mention)
{
	char got[HS_POINT_ID_LEN + 1] = "";
	hs_err_clear();
	int r = hs_store_point_resolve(st, server, want, got);
	if (r != -ENOENT)
		fail_msg("resolve %s@%s: expected -ENOENT, got %d ('%s')", server, want, r, got);
	assert_err_mentions(mention);
}

static void test_point_resolve(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = store_with_points(c);
	expect_resolve(st, "mail01", "", "20260216T000000Z");
	expect_resolve(st, "mail01", "latest", "20260216T000000Z");
	expect_resolve(st, "db01", "", "20260101T000000Z");
	expect_resolve(st, "mail01", "20260101T000000Z", "20260101T000000Z");
	expect_resolve(st, "mail01", "20260215T120000Z", "20260215T120000Z");
	expect_resolve(st, "mail01", "202601", "20260101T000000Z");
	expect_resolve(st, "mail01", "20260215", "20260215T120000Z");
	expect_resolve(st, "mail01", "20260216T", "20260216T000000Z");
	expect_resolve_fail(st, "mail01", "2026021", "ambiguous");
	expect_resolve_fail(st, "mail01", "2026", "ambiguous");
	expect_resolve_fail(st, "mail01", "2027", "2027");
	expect_resolve_fail(st, "mail01", "20260101T000001Z", "20260101T000001Z");
	expect_resolve_fail(st, "nosuch", "", "nosuch");
	expect_resolve_fail(st, "nosuch", "latest", "nosuch");
	hs_store_close(st);
}

static void test_servers_list(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	char **names = NULL;
	size_t n = 99;
	assert_int_equal(hs_store_servers_list(st, &names, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(names);
	assert_null(names[0]);
	hs_strv_free(names);

	add_points(st);
	struct hs_index *ix = point("alpha", T3, HS_KIND_SNAPSHOT, CS);
	assert_int_equal(hs_store_point_put1(st, ix), 0);
	hs_index_free(ix);
	assert_int_equal(hs_store_servers_list(st, &names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "alpha");
	assert_string_equal(names[1], "db01");
	assert_string_equal(names[2], "mail01");
	assert_null(names[3]);
	hs_strv_free(names);
	hs_strv_free(NULL);
	hs_store_close(st);
}

/* ---- locks ---- */

struct lock_case {
	const char *where;
	pid_t holder;
	int expect_busy;
};

static int lock_child(void *arg)
{
	struct lock_case *lc = arg;
	struct hs_store *st = NULL;
	if (hs_store_open(lc->where, &st) < 0)
		return 10;
	int tok = -1;
	hs_err_clear();
	int r = hs_store_lock_server(st, "mail01", &tok);
	if (lc->expect_busy) {
		if (r != -EBUSY)
			return 11;
		const char *m = hs_err_msg();
		char pid[32];
		snprintf(pid, sizeof pid, "%d", (int)lc->holder);
		if (!m || !strstr(m, "mail01"))
			return 12;
		if (!strstr(m, pid))
			return 13;
	} else {
		if (r != 0)
			return 14;
		hs_store_unlock(st, tok);
	}
	/* Another server is independent. */
	tok = -1;
	if (hs_store_lock_server(st, "db01", &tok) != 0)
		return 15;
	hs_store_unlock(st, tok);
	hs_store_close(st);
	return 0;
}

static void test_server_lock(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	int tok = -1;
	assert_int_equal(hs_store_lock_server(st, "mail01", &tok), 0);
	assert_true(tok >= 0);
	struct lock_case lc = { c->store, getpid(), 1 };
	int r = ut_in_child(lock_child, &lc);
	if (r != 0)
		fail_msg("child while the lock is held: status %d", r);
	hs_store_unlock(st, tok);
	/* Released: now the child gets it. */
	lc.expect_busy = 0;
	r = ut_in_child(lock_child, &lc);
	if (r != 0)
		fail_msg("child after unlock: status %d", r);
	/* And so do we again. */
	assert_int_equal(hs_store_lock_server(st, "mail01", &tok), 0);
	hs_store_unlock(st, tok);
	hs_store_close(st);
}

/* A released lock leaves no file; one left by a killed writer (its file
 * still names it) is taken, and that writer's temporaries go with it,
 * nobody else's. */
static void test_lock_file_and_leftovers(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	int tok = -1;
	assert_int_equal(hs_store_lock_server(st, "mail01", &tok), 0);
	assert_true(file_exists(c->store, "locks/mail01.lock"));
	hs_store_unlock(st, tok);
	assert_false(file_exists(c->store, "locks/mail01.lock"));
	/* A killed writer's lock and temporaries, and another live writer's. */
	char *chunks = ut_path(c->store, "chunks"), *ab = ut_path(c->store, "chunks/ab");
	mkdir(chunks, 0755);
	mkdir(ab, 0755);
	char *lock = ut_path(c->store, "locks/mail01.lock"), *dead1 = ut_path(c->store, "chunks/ab/.tmp.9999999-0badc0de.1"),
	     *dead2 = ut_path(c->store, ".tmp.9999999-0badc0de.2"), *other = ut_path(c->store, "chunks/ab/.tmp.1-12345678.3");
	assert_int_equal(ut_write_file(lock, "9999999-0badc0de\n", 17), 0);
	assert_int_equal(ut_write_file(dead1, "xxxx", 4), 0);
	assert_int_equal(ut_write_file(dead2, "yy", 2), 0);
	assert_int_equal(ut_write_file(other, "z", 1), 0); /* pid 1 runs: in flight */
	uint64_t n, bytes;
	assert_int_equal(hs_store_leftovers(st, false, &n, &bytes), 0);
	assert_int_equal(n, 2); /* pid 9999999 is above any pid_max; pid 1 does */
	assert_int_equal(bytes, 6);
	/* With host tags: a dead pid of this host is judged, another host's
	 * (a store shared over NFS) only once its file is a day old. */
	const char *me = hs_backend_dir_host_tag();
	char name[128], *mine, *theirs, *stale;
	snprintf(name, sizeof name, "chunks/ab/.tmp.9999999-0badc0de-%s.5", me);
	mine = ut_path(c->store, name);
	snprintf(name, sizeof name, "chunks/ab/.tmp.9999999-0badc0de-%08x.6", strcmp(me, "00000000") ? 0u : 1u);
	theirs = ut_path(c->store, name);
	snprintf(name, sizeof name, "chunks/ab/.tmp.9999999-0badc0de-%08x.7", strcmp(me, "00000000") ? 0u : 1u);
	stale = ut_path(c->store, name);
	assert_int_equal(ut_write_file(mine, "m", 1), 0);
	assert_int_equal(ut_write_file(theirs, "tt", 2), 0);
	assert_int_equal(ut_write_file(stale, "sss", 3), 0);
	struct timespec old[2] = { { .tv_sec = time(NULL) - 2 * 86400 }, { .tv_sec = time(NULL) - 2 * 86400 } };
	assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
	assert_int_equal(hs_store_leftovers(st, false, &n, &bytes), 0);
	assert_int_equal(n, 4);
	assert_int_equal(bytes, 10);
	assert_int_equal(hs_store_leftovers(st, true, &n, &bytes), 0);
	assert_false(access(mine, F_OK) == 0);
	assert_false(access(stale, F_OK) == 0);
	assert_true(access(theirs, F_OK) == 0);
	assert_int_equal(unlink(theirs), 0);
	free(mine);
	free(theirs);
	free(stale);
	assert_int_equal(ut_write_file(dead1, "xxxx", 4), 0);
	assert_int_equal(ut_write_file(dead2, "yy", 2), 0);
	assert_int_equal(hs_store_lock_server(st, "web02", &tok), 0); /* another server: nothing swept */
	hs_store_unlock(st, tok);
	assert_true(access(dead1, F_OK) == 0);
	assert_int_equal(hs_store_lock_server(st, "mail01", &tok), 0);
	assert_false(access(dead1, F_OK) == 0);
	assert_false(access(dead2, F_OK) == 0);
	assert_true(access(other, F_OK) == 0);
	hs_store_unlock(st, tok);
	assert_false(file_exists(c->store, "locks/mail01.lock"));
	free(chunks);
	free(ab);
	free(lock);
	free(dead1);
	free(dead2);
	free(other);
	hs_store_close(st);
}

static void test_badlist(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	struct hs_dset set;
	assert_int_equal(hs_badlist_load(st, &set), 0);
	assert_int_equal(set.n, 0);
	hs_dset_free(&set);
	struct hs_digest d[3];
	for (int k = 0; k < 3; k++)
		hs_digest_compute(&k, sizeof k, &d[k]);
	assert_int_equal(hs_badlist_add(st, d, 3), 0);
	assert_int_equal(hs_badlist_add(st, d, 1), 0); /* listed once */
	assert_int_equal(hs_badlist_load(st, &set), 0);
	assert_int_equal(set.n, 3);
	struct hs_dset done;
	assert_int_equal(hs_dset_init(&done, 4), 0);
	assert_int_equal(hs_dset_add(&done, &d[1]), 1);
	assert_int_equal(hs_badlist_remove(st, &done), 0);
	hs_dset_free(&set);
	assert_int_equal(hs_badlist_load(st, &set), 0);
	assert_int_equal(set.n, 2);
	assert_false(hs_dset_has(&set, &d[1]));
	assert_true(hs_dset_has(&set, &d[0]) && hs_dset_has(&set, &d[2]));
	hs_dset_free(&set);
	hs_dset_free(&done);
	/* Lines that are not digests are ignored; no lock file is left. */
	char *p = ut_path(c->store, "bad-chunks");
	assert_int_equal(ut_write_file(p, "junk\n\n0000\n", 11), 0);
	assert_int_equal(hs_badlist_load(st, &set), 0);
	assert_int_equal(set.n, 0);
	hs_dset_free(&set);
	assert_false(file_exists(c->store, "locks/.bad.lock"));
	free(p);
	hs_store_close(st);
}

/* ---- open_or_init ---- */

static void test_open_or_init(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = NULL;
	assert_int_equal(hs_store_open_or_init(c->store, CS * 2, &st), 0);
	assert_non_null(st);
	assert_int_equal(st->chunk_size, CS * 2);
	hs_store_close(st);
	st = NULL;
	assert_int_equal(hs_store_open_or_init(c->store, CS * 2, &st), 0);
	assert_int_equal(st->chunk_size, CS * 2);
	hs_store_close(st);
	st = (struct hs_store *)0x1;
	hs_err_clear();
	assert_int_equal(hs_store_open_or_init(c->store, CS, &st), -EINVAL);
	assert_null(st);
	assert_err_mentions("chunk size");
	assert_err_mentions("131072");
	assert_err_mentions("65536");
	/* The store keeps its chunk size. */
	assert_int_equal(hs_store_open(c->store, &st), 0);
	assert_int_equal(st->chunk_size, CS * 2);
	hs_store_close(st);
}

/* An invalid chunk size must be refused up front (like hs_store_init) and
 * must not leave a half-made store behind. */
static void test_open_or_init_bad_chunk_size(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = NULL;
	hs_err_clear();
	int r = hs_store_open_or_init(c->store, 12345, &st);
	assert_null(st);
	if (r != -EINVAL)
		fail_msg("open_or_init with chunk size 12345: expected -EINVAL, got %d (%s); "
			 "description left behind: %s", r, hs_err_msg() ? hs_err_msg() : "",
			 file_exists(c->store, "hotspare-store.json") ? "yes" : "no");
	assert_err_mentions("chunk size");
	assert_false(file_exists(c->store, "hotspare-store.json"));
	/* And the location can still become a good store. */
	assert_int_equal(hs_store_open_or_init(c->store, CS, &st), 0);
	hs_store_close(st);
}

/* ---- several disks ---- */

static void test_point_several_disks(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	struct hs_index *d[3] = {
		point("win01", T1, HS_KIND_SNAPSHOT, 5 * (uint64_t)CS),
		point("win01", T1, HS_KIND_SNAPSHOT, 2 * (uint64_t)CS + 1),
		point("win01", T1, HS_KIND_SNAPSHOT, 9 * (uint64_t)CS),
	};
	const char *names[] = { "c", "d", "e" };
	for (int k = 0; k < 3; k++)
		snprintf(d[k]->disk, sizeof d[k]->disk, "%s", names[k]);
	struct hs_point *p = calloc(1, sizeof *p);
	snprintf(p->server, sizeof p->server, "win01");
	snprintf(p->id, sizeof p->id, "%s", d[0]->id);
	p->kind = HS_KIND_SNAPSHOT;
	p->time = T1;
	p->consistency = HS_QUIESCED;
	p->ndisks = 3;
	assert_int_equal(hs_store_point_put(st, p, d), 0);
	struct hs_point *h = calloc(1, sizeof *h);
	assert_int_equal(hs_store_point_head(st, "win01", d[0]->id, h), 0);
	assert_int_equal(h->ndisks, 3);
	assert_int_equal(h->consistency, HS_QUIESCED);
	for (unsigned k = 0; k < 3; k++) {
		assert_string_equal(h->disks[k].name, names[k]);
		assert_int_equal(h->disks[k].size, d[k]->image_size);
		struct hs_index *got = NULL;
		assert_int_equal(hs_store_point_disk(st, h, k, &got), 0);
		assert_memory_equal(got->digests, d[k]->digests, d[k]->nchunks * sizeof *got->digests);
		hs_index_free(got);
		assert_int_equal(hs_store_point_get(st, "win01", d[0]->id, names[k], &got), 0);
		assert_string_equal(got->disk, names[k]);
		hs_index_free(got);
	}
	/* Without a disk name, a point of several disks says which it has. */
	struct hs_index *got = NULL;
	hs_err_clear();
	assert_int_equal(hs_store_point_get(st, "win01", d[0]->id, NULL, &got), -EINVAL);
	assert_err_mentions("3 disks");
	assert_err_mentions("win01@20260101T000000Z:DISK");
	hs_err_clear();
	assert_int_equal(hs_store_point_get(st, "win01", d[0]->id, "f", &got), -ENOENT);
	assert_err_mentions("no disk f");
	assert_null(got);
	for (int k = 0; k < 3; k++)
		hs_index_free(d[k]);
	free(p);
	free(h);
	hs_store_close(st);
}

/* ---- encryption ---- */

static struct hs_key *use_key(uint8_t fill)
{
	uint8_t m[HS_KEY_LEN];
	memset(m, fill, sizeof m);
	struct hs_key *k = NULL;
	assert_int_equal(hs_key_from_bytes(m, &k), 0);
	hs_key_set_current(k);
	return k;
}

static void test_encrypted_store(void **state)
{
	struct fx *c = *state;
	struct hs_key *k = use_key(1);
	assert_int_equal(hs_store_create(c->store, CS, k, "ZXNjcm93"), 0);
	size_t n;
	char *dp = ut_path(c->store, "hotspare-store.json");
	char *desc = (char *)ut_read_file(dp, &n);
	assert_non_null(strstr(desc, k->fingerprint));
	assert_non_null(strstr(desc, "aes-256-gcm"));
	assert_null(strstr(desc, "\"key\"")); /* never the key */
	struct hs_store *st = NULL;
	assert_int_equal(hs_store_open(c->store, &st), 0);
	assert_true(st->encrypted);
	assert_ptr_equal(st->key, k);

	/* A chunk: keyed id, encrypted body, read back exactly. */
	unsigned char plain[CS], back[CS];
	ut_fill(plain, CS, 42);
	struct hs_digest id, sha;
	hs_store_chunk_id(st, plain, CS, &id);
	hs_digest_compute(plain, CS, &sha);
	assert_false(hs_digest_eq(&id, &sha));
	struct hs_buf z = { 0 };
	assert_int_equal(hs_store_chunk_encode(st, &id, plain, CS, &z), 0);
	assert_int_equal(hs_store_chunk_put(st, &id, z.data, z.len), 1);
	char key[96];
	hs_store_chunk_key(st, &id, key);
	assert_true(file_exists(c->store, key));
	assert_non_null(strstr(key, ".enc"));
	struct hs_buf got = { 0 };
	assert_int_equal(hs_store_chunk_get(st, &id, &got), 0);
	assert_int_equal(hs_store_chunk_decode(st, got.data, got.len, &id, back, CS), 0);
	assert_memory_equal(back, plain, CS);
	/* A point, its table authenticated with the key. */
	struct hs_index *ix = point("mail01", T1, HS_KIND_SNAPSHOT, 3 * (uint64_t)CS);
	assert_int_equal(hs_store_point_put1(st, ix), 0);
	struct hs_index *gx = NULL;
	assert_int_equal(hs_store_point_get(st, "mail01", ix->id, NULL, &gx), 0);
	assert_memory_equal(gx->digests, ix->digests, 3 * sizeof *gx->digests);
	hs_index_free(gx);
	hs_store_close(st);

	/* Without the key: refused, unless opened for keyless work, which lists
	 * points and reads their tables but cannot decode or write chunks. */
	hs_key_set_current(NULL);
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EACCES);
	assert_err_mentions("--keyfile");
	assert_int_equal(hs_store_open_flags(c->store, HS_OPEN_NOKEY, &st), 0);
	assert_null(st->key);
	struct hs_point *h = calloc(1, sizeof *h);
	assert_int_equal(hs_store_point_head(st, "mail01", ix->id, h), 0);
	assert_true(h->encrypted);
	assert_int_equal(hs_store_point_disk(st, h, 0, &gx), 0);
	hs_index_free(gx);
	hs_err_clear();
	assert_int_equal(hs_store_chunk_decode(st, got.data, got.len, &id, back, CS), -EACCES);
	assert_int_equal(hs_store_chunk_encode(st, &id, plain, CS, &z), -EACCES);
	hs_store_close(st);
	free(h);

	/* Another key: refused at once, naming both fingerprints. */
	struct hs_key *other = use_key(2);
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EKEYREJECTED);
	assert_err_mentions(other->fingerprint);
	hs_key_set_current(NULL);

	/* The description tampered with (a chunk size changed): the key detects it. */
	k = use_key(1);
	char *edit = strstr(desc, "65536"), *tampered = NULL;
	assert_non_null(edit);
	assert_true(asprintf(&tampered, "%.*s131072%s", (int)(edit - desc), desc, edit + 5) > 0);
	assert_int_equal(ut_write_file(dp, tampered, strlen(tampered)), 0);
	free(tampered);
	hs_err_clear();
	assert_int_equal(hs_store_open(c->store, &st), -EBADMSG);
	assert_err_mentions("does not authenticate");
	hs_key_set_current(NULL);
	hs_buf_free(&z);
	hs_buf_free(&got);
	hs_index_free(ix);
	free(desc);
	free(dp);
}

/* A drive or replica made like an encrypted store is the same store. */
/* A directory the store made is removed under it (leases/ cleaned out by
 * hand): the next put makes it again, for as long as the store is open. */
static void test_put_after_dir_removed(void **state)
{
	struct fx *c = *state;
	struct hs_store *st = new_store(c, CS);
	/* The second put finds leases/ there: the store remembers it. */
	assert_int_equal(st->be->ops->put(st->be, "leases/a.json", "{}\n", 3, 0), 0);
	assert_int_equal(st->be->ops->put(st->be, "leases/b.json", "{}\n", 3, 0), 0);
	char *a = ut_path(c->store, "leases/a.json"), *dir = ut_path(c->store, "leases");
	assert_int_equal(unlink(a), 0);
	free(a);
	a = ut_path(c->store, "leases/b.json");
	assert_int_equal(unlink(a), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(st->be->ops->put(st->be, "leases/c.json", "{}\n", 3, 0), 0);
	assert_true(file_exists(c->store, "leases/c.json"));
	free(a);
	free(dir);
	hs_store_close(st);
}

static void test_open_like(void **state)
{
	struct fx *c = *state;
	struct hs_key *k = use_key(5);
	assert_int_equal(hs_store_create(c->store, CS * 2, k, NULL), 0);
	struct hs_store *st = NULL, *drive = NULL;
	assert_int_equal(hs_store_open(c->store, &st), 0);
	assert_int_equal(hs_store_open_like(c->seed, st, 0, &drive), 0);
	assert_true(drive->encrypted);
	assert_int_equal(drive->chunk_size, CS * 2);
	assert_string_equal(drive->fingerprint, st->fingerprint);
	hs_store_close(drive);
	/* Open it again like the store; a plain store refuses to be one. */
	assert_int_equal(hs_store_open_like(c->seed, st, 0, &drive), 0);
	hs_store_close(drive);
	hs_key_set_current(NULL);
	assert_int_equal(hs_store_init(c->seed2, CS * 2), 0);
	struct hs_store *plain = NULL;
	assert_int_equal(hs_store_open_flags(c->store, HS_OPEN_NOKEY, &plain), 0);
	hs_err_clear();
	assert_int_equal(hs_store_open_like(c->seed2, plain, HS_OPEN_NOKEY, &drive), -EINVAL);
	assert_null(drive);
	assert_err_mentions("without encryption");
	hs_store_close(plain);
	hs_store_close(st);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup_dirs, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_then_open),
		T(test_point_several_disks),
		T(test_encrypted_store),
		T(test_open_like),
		T(test_put_after_dir_removed),
		T(test_init_bad_chunk_size),
		T(test_init_twice),
		T(test_open_missing_and_uninitialised),
		T(test_open_unknown_version),
		T(test_open_corrupt_description),
		T(test_open_description_null_fields),
		T(test_chunk_round_trip),
		T(test_chunk_put_existing),
		T(test_chunk_decode_tampered),
		T(test_point_put_get_list),
		T(test_point_get_errors),
		T(test_objects_past_their_limit),
		T(test_point_resolve),
		T(test_servers_list),
		T(test_server_lock),
		T(test_lock_file_and_leftovers),
		T(test_badlist),
		T(test_open_or_init),
		T(test_open_or_init_bad_chunk_size),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
