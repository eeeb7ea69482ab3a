/* Unit tests for upgrade.h: a store of format version 1 (made here by a
 * version 1 encoder, as the old hotspare wrote it) becomes version 2 with
 * the same points and chunks; an interrupted upgrade finishes on the next
 * run; a damaged index stops it with the store still readable as version 1. */
#include "fixture.h"
#include "jobs/upgrade.h"
#include <endian.h>
#include <zstd.h>

static void put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }

/* The version 1 encoding of ix, as index.c wrote it before version 2. */
static void v1_encode(const struct hs_index *ix, struct hs_buf *out)
{
	size_t tlen = ix->nchunks * HS_DIGEST_LEN, bound = ZSTD_compressBound(tlen);
	out->len = 0;
	assert_int_equal(hs_buf_reserve(out, 256 + bound + 32), 0);
	unsigned char *h = out->data;
	memset(h, 0, 256);
	memcpy(h, "HSPOINT", 8);
	put32(h + 8, 1);
	put32(h + 12, ix->kind);
	put32(h + 16, ix->chunk_size);
	put32(h + 20, 256);
	put64(h + 24, ix->image_size);
	put64(h + 32, ix->nchunks);
	put64(h + 40, (uint64_t)ix->time);
	put64(h + 48, ix->new_bytes);
	put64(h + 56, ix->ship_bytes);
	memcpy(h + 72, ix->id, strlen(ix->id));
	memcpy(h + 96, ix->base, strlen(ix->base));
	memcpy(h + 120, ix->server, strlen(ix->server));
	size_t z = ZSTD_compress(h + 256, bound, ix->digests, tlen, 3);
	assert_false(ZSTD_isError(z));
	put64(h + 64, z);
	struct hs_digest sum;
	hs_digest_compute(h, 256 + z, &sum);
	memcpy(h + 256 + z, sum.b, 32);
	out->len = 256 + z + 32;
}

static const char V1_DESC[] = "{\"format\":\"hotspare-store\",\"version\":1,\"chunk_size\":65536,"
			      "\"compression\":\"zstd\",\"digest\":\"sha256\"}\n";

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char *path = ut_path(dir, name);
	unlink(path);
	assert_int_equal(ut_write_file(path, p, n), 0);
	free(path);
}

/* Rewrite the point of the fixture (and two more of another server) in v1. */
static void make_v1_store(struct fx *f, char ids[3][HS_POINT_ID_LEN + 1])
{
	const char *servers[3] = { SERVER, SERVER, "db01" };
	for (int k = 0; k < 3; k++) {
		if (k == 0)
			snprintf(ids[0], HS_POINT_ID_LEN + 1, "%s", f->id);
		else
			fx_put_point(f->store, f->img, IMG_SIZE, servers[k], T0 + k * 86400, NULL, ids[k]);
		struct hs_index *ix = fx_get_index(f->store, servers[k], ids[k]);
		ix->kind = k == 1 ? HS_KIND_BACKUP : HS_KIND_SNAPSHOT;
		if (k == 1)
			snprintf(ix->base, sizeof ix->base, "%s", ids[0]);
		ix->new_bytes = 1000 + (uint64_t)k;
		struct hs_buf b = { 0 };
		v1_encode(ix, &b);
		char name[128];
		snprintf(name, sizeof name, "points/%s/%s.idx", servers[k], ids[k]);
		write_file(f->store, name, b.data, b.len);
		hs_buf_free(&b);
		hs_index_free(ix);
	}
	write_file(f->store, "hotspare-store.json", V1_DESC, strlen(V1_DESC));
}

static void test_upgrade(void **state)
{
	struct fx *f = *state;
	char ids[3][HS_POINT_ID_LEN + 1];
	make_v1_store(f, ids);
	struct hs_store *st = NULL;
	hs_err_clear();
	assert_int_equal(hs_store_open(f->store, &st), -EPROTONOSUPPORT);
	assert_err_mentions("hotspare upgrade");

	struct hs_upgrade_stats s;
	assert_int_equal(hs_upgrade(f->store, &s), 0);
	assert_int_equal(s.from_version, 1);
	assert_int_equal(s.points_converted, 3);
	assert_int_equal(s.servers, 2);
	assert_int_equal(hs_store_open(f->store, &st), 0);
	assert_int_equal(st->version, 2);
	struct hs_index *ix = NULL;
	assert_int_equal(hs_store_point_get(st, SERVER, ids[1], NULL, &ix), 0);
	assert_int_equal(ix->kind, HS_KIND_BACKUP);
	assert_string_equal(ix->base, ids[0]);
	assert_string_equal(ix->disk, "disk0");
	assert_int_equal(ix->new_bytes, 1001);
	assert_int_equal(ix->image_size, IMG_SIZE);
	/* The same digests, and the chunks they name still read back. */
	for (uint64_t i = 0; i < NCHUNKS; i++) {
		struct hs_digest d = { 0 };
		if (!fx_zero_chunk(i) && !hs_is_zero(f->img + i * CS, fx_chunk_len(i)))
			hs_digest_compute(f->img + i * CS, fx_chunk_len(i), &d);
		assert_true(hs_digest_eq(&d, &ix->digests[i]));
	}
	hs_index_free(ix);
	hs_store_close(st);
	struct hs_spare *sp = fx_open_plain(f);
	fx_expect(sp, 0, IMG_SIZE, f->img);
	hs_spare_close(sp);

	/* Again: nothing to do. */
	assert_int_equal(hs_upgrade(f->store, &s), 0);
	assert_int_equal(s.from_version, 2);
	assert_int_equal(s.points_converted, 0);
}

/* An interrupted upgrade (some points converted, the description still v1). */
static void test_upgrade_resumes(void **state)
{
	struct fx *f = *state;
	char ids[3][HS_POINT_ID_LEN + 1];
	make_v1_store(f, ids);
	struct hs_upgrade_stats s;
	assert_int_equal(hs_upgrade(f->store, &s), 0);
	/* Put one point back in v1 and the description too: a run killed in the middle. */
	struct hs_index *ix = fx_get_index(f->store, "db01", ids[2]);
	struct hs_buf b = { 0 };
	v1_encode(ix, &b);
	char name[128];
	snprintf(name, sizeof name, "points/db01/%s.idx", ids[2]);
	write_file(f->store, name, b.data, b.len);
	write_file(f->store, "hotspare-store.json", V1_DESC, strlen(V1_DESC));
	assert_int_equal(hs_upgrade(f->store, &s), 0);
	assert_int_equal(s.points_converted, 1);
	assert_int_equal(s.points_already, 2);
	struct hs_index *back = fx_get_index(f->store, "db01", ids[2]);
	assert_memory_equal(back->digests, ix->digests, ix->nchunks * sizeof *ix->digests);
	hs_index_free(back);

	/* A damaged version 1 index stops the upgrade, naming the point; the
	 * store stays version 1 (readable by the upgrade, nothing lost). */
	b.data[300] ^= 1;
	write_file(f->store, name, b.data, b.len);
	write_file(f->store, "hotspare-store.json", V1_DESC, strlen(V1_DESC));
	hs_err_clear();
	assert_int_equal(hs_upgrade(f->store, &s), -EBADMSG);
	assert_err_mentions(ids[2]);
	struct hs_store *st = NULL;
	assert_int_equal(hs_store_open(f->store, &st), -EPROTONOSUPPORT);
	hs_buf_free(&b);
	hs_index_free(ix);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = { T(test_upgrade), T(test_upgrade_resumes) };
	return cmocka_run_group_tests_name("upgrade", tests, NULL, NULL);
}
