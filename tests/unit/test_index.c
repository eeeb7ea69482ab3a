/* Unit tests for index.h: point index encoding, decoding and validation.
 *
 * Crafted-header tests need the on-disk layout; the offsets below are the
 * format's (index.c), and test_layout checks them against a real encoding so
 * a layout change fails loudly there rather than mysteriously elsewhere. */
#include "unit.h"
#include "store/index.h"
#include <endian.h>
#include <zstd.h>

#define HDR_LEN 256
enum {
	O_MAGIC = 0, O_VERSION = 8, O_KIND = 12, O_CHUNK = 16, O_HDRLEN = 20,
	O_SIZE = 24, O_NCHUNKS = 32, O_TIME = 40, O_NEW = 48, O_SHIP = 56,
	O_TABLEZ = 64, O_ID = 72, O_BASE = 96, O_SERVER = 120, O_END = 192,
};

static void put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

#define CS 65536u

/* An index with recognisable digests, some of them zero. */
static struct hs_index *make_index(uint64_t size, uint32_t cs, uint32_t kind)
{
	struct hs_index *ix = NULL;
	assert_int_equal(hs_index_new(size, cs, &ix), 0);
	assert_non_null(ix);
	snprintf(ix->server, sizeof ix->server, "mail01");
	hs_point_id_format(1795609136, ix->id);
	ix->kind = kind;
	ix->time = 1795609136;
	ix->new_bytes = 0x0123456789abcdefull;
	ix->ship_bytes = 987654321ull;
	for (uint64_t i = 0; i < ix->nchunks; i++) {
		if (i % 3 == 1)
			continue; /* a zero chunk */
		uint64_t v = i * 2654435761u + 17;
		hs_digest_compute(&v, sizeof v, &ix->digests[i]);
	}
	return ix;
}

static void assert_index_equal(const struct hs_index *a, const struct hs_index *b)
{
	assert_string_equal(a->server, b->server);
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->base, b->base);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->chunk_size, b->chunk_size);
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->image_size, b->image_size);
	assert_int_equal(a->nchunks, b->nchunks);
	assert_int_equal(a->new_bytes, b->new_bytes);
	assert_int_equal(a->ship_bytes, b->ship_bytes);
	if (a->nchunks)
		assert_memory_equal(a->digests, b->digests, a->nchunks * sizeof *a->digests);
}

static void encode(const struct hs_index *ix, struct hs_buf *b)
{
	*b = (struct hs_buf){ 0 };
	assert_int_equal(hs_index_encode(ix, b), 0);
	assert_true(b->len > HDR_LEN + HS_DIGEST_LEN);
}

/* Decode a copy of exactly n bytes (so ASan sees any read past the end). */
static int decode_n(const void *p, size_t n, struct hs_index **out)
{
	void *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	if (n)
		memcpy(copy, p, n);
	*out = NULL;
	hs_err_clear();
	int r = hs_index_decode(copy, n, "test.idx", out);
	free(copy);
	if (r < 0) {
		assert_null(*out);
		assert_err_mentions("test.idx");
	}
	return r;
}

/* Recompute the trailing checksum after editing header or table. */
static void reseal(struct hs_buf *b)
{
	uint64_t tz = get64(b->data + O_TABLEZ);
	assert_int_equal(HDR_LEN + tz + HS_DIGEST_LEN, b->len);
	struct hs_digest sum;
	hs_digest_compute(b->data, HDR_LEN + tz, &sum);
	memcpy(b->data + HDR_LEN + tz, sum.b, HS_DIGEST_LEN);
}

/* A valid encoding of a small index (short last chunk). */
static struct hs_buf sample(void)
{
	struct hs_index *ix = make_index(7 * (uint64_t)CS + 1234, CS, HS_KIND_SNAPSHOT);
	struct hs_buf b;
	encode(ix, &b);
	hs_index_free(ix);
	return b;
}

static void test_layout(void **state)
{
	(void)state;
	struct hs_index *ix = make_index(7 * (uint64_t)CS + 1234, CS, HS_KIND_BACKUP);
	snprintf(ix->base, sizeof ix->base, "20261101T000000Z");
	struct hs_buf b;
	encode(ix, &b);
	assert_memory_equal(b.data + O_MAGIC, "HSPOINT\0", 8);
	assert_int_equal(get32(b.data + O_VERSION), HS_INDEX_VERSION);
	assert_int_equal(get32(b.data + O_KIND), HS_KIND_BACKUP);
	assert_int_equal(get32(b.data + O_CHUNK), CS);
	assert_int_equal(get32(b.data + O_HDRLEN), HDR_LEN);
	assert_int_equal(get64(b.data + O_SIZE), ix->image_size);
	assert_int_equal(get64(b.data + O_NCHUNKS), 8);
	assert_int_equal(get64(b.data + O_TIME), ix->time);
	assert_int_equal(get64(b.data + O_NEW), ix->new_bytes);
	assert_int_equal(get64(b.data + O_SHIP), ix->ship_bytes);
	assert_int_equal(HDR_LEN + get64(b.data + O_TABLEZ) + HS_DIGEST_LEN, b.len);
	assert_string_equal((char *)b.data + O_ID, ix->id);
	assert_string_equal((char *)b.data + O_BASE, ix->base);
	assert_string_equal((char *)b.data + O_SERVER, ix->server);
	/* The trailing checksum is SHA-256 of everything before it. */
	struct hs_digest sum;
	hs_digest_compute(b.data, b.len - HS_DIGEST_LEN, &sum);
	assert_memory_equal(sum.b, b.data + b.len - HS_DIGEST_LEN, HS_DIGEST_LEN);
	hs_buf_free(&b);
	hs_index_free(ix);
}

static void round_trip(struct hs_index *ix)
{
	struct hs_buf b, b2;
	encode(ix, &b);
	struct hs_index *back = NULL;
	assert_int_equal(decode_n(b.data, b.len, &back), 0);
	assert_non_null(back);
	assert_index_equal(ix, back);
	/* Encoding is deterministic: the decoded index encodes to the same bytes. */
	encode(back, &b2);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	hs_buf_free(&b);
	hs_buf_free(&b2);
	hs_index_free(back);
}

static void test_round_trip(void **state)
{
	(void)state;
	/* Short last chunk. */
	struct hs_index *ix = make_index(7 * (uint64_t)CS + 1234, CS, HS_KIND_SNAPSHOT);
	assert_int_equal(ix->nchunks, 8);
	assert_int_equal(hs_index_chunk_len(ix, 0), CS);
	assert_int_equal(hs_index_chunk_len(ix, 6), CS);
	assert_int_equal(hs_index_chunk_len(ix, 7), 1234);
	round_trip(ix);
	hs_index_free(ix);

	/* Backup with a base, a maximal server name, exact multiple of the chunk size. */
	ix = make_index(64 * (uint64_t)CS * 2, CS * 2, HS_KIND_BACKUP);
	memset(ix->server, 'S', HS_SERVER_MAX);
	ix->server[HS_SERVER_MAX] = 0;
	snprintf(ix->base, sizeof ix->base, "20261101T000000Z");
	ix->new_bytes = UINT64_MAX;
	ix->ship_bytes = 0;
	ix->time = 253402300799;
	hs_point_id_format((time_t)ix->time, ix->id);
	assert_int_equal(ix->nchunks, 64);
	assert_int_equal(hs_index_chunk_len(ix, 63), CS * 2);
	round_trip(ix);
	hs_index_free(ix);

	/* One byte; 4 MiB chunks; every digest non-zero and distinct. */
	ix = make_index(1, 4u << 20, HS_KIND_SNAPSHOT);
	assert_int_equal(ix->nchunks, 1);
	assert_int_equal(hs_index_chunk_len(ix, 0), 1);
	round_trip(ix);
	hs_index_free(ix);

	/* An empty image. */
	ix = make_index(0, CS, HS_KIND_SNAPSHOT);
	assert_int_equal(ix->nchunks, 0);
	round_trip(ix);
	hs_index_free(ix);

	/* Many chunks with random digests (the table does not compress). */
	ix = make_index(5000 * (uint64_t)CS - 1, CS, HS_KIND_BACKUP);
	ut_fill(ix->digests, ix->nchunks * sizeof *ix->digests, 99);
	assert_int_equal(hs_index_chunk_len(ix, 4999), CS - 1);
	round_trip(ix);
	hs_index_free(ix);
}

static void test_truncation(void **state)
{
	(void)state;
	struct hs_buf b = sample();
	struct hs_index *out;
	for (size_t n = 0; n < b.len; n++) {
		int r = decode_n(b.data, n, &out);
		if (r != -EBADMSG)
			fail_msg("truncated to %zu of %zu bytes: expected -EBADMSG, got %d", n, b.len, r);
	}
	/* Trailing garbage is corruption too. */
	assert_int_equal(hs_buf_append(&b, "", 1), 0);
	assert_int_equal(decode_n(b.data, b.len, &out), -EBADMSG);
	hs_buf_free(&b);

	/* A bigger index, truncated at a spread of lengths. */
	struct hs_index *ix = make_index(3000 * (uint64_t)CS, CS, HS_KIND_SNAPSHOT);
	ut_fill(ix->digests, ix->nchunks * sizeof *ix->digests, 5);
	encode(ix, &b);
	hs_index_free(ix);
	for (size_t n = 0; n < b.len; n += 97) {
		assert_int_equal(decode_n(b.data, n, &out), -EBADMSG);
	}
	assert_int_equal(decode_n(b.data, b.len - 1, &out), -EBADMSG);
	assert_int_equal(decode_n(b.data, b.len, &out), 0);
	hs_index_free(out);
	hs_buf_free(&b);
}

/* Flip bits of every byte in [from, to) and expect each copy rejected with want. */
static void flip_range(const struct hs_buf *b, size_t from, size_t to, int want, const char *part)
{
	const unsigned char masks[] = { 0x01, 0x80, 0xff };
	unsigned char *c = malloc(b->len);
	assert_non_null(c);
	for (size_t i = from; i < to; i++) {
		for (size_t m = 0; m < sizeof masks; m++) {
			memcpy(c, b->data, b->len);
			c[i] ^= masks[m];
			struct hs_index *out;
			int r = decode_n(c, b->len, &out);
			if (r != want) {
				hs_index_free(out);
				free(c);
				fail_msg("%s byte %zu ^ 0x%02x: expected %d, got %d", part, i, masks[m], want, r);
			}
		}
	}
	free(c);
}

static void test_flip_header(void **state)
{
	(void)state;
	struct hs_buf b = sample();
	/* Every header byte outside the version field: corrupt. The version is
	 * read before the checksum on purpose (a future format may checksum
	 * differently), so a flipped version byte reads as an unknown version. */
	flip_range(&b, 0, O_VERSION, -EBADMSG, "header");
	flip_range(&b, O_VERSION, O_VERSION + 4, -EPROTONOSUPPORT, "version");
	flip_range(&b, O_VERSION + 4, HDR_LEN, -EBADMSG, "header");
	hs_buf_free(&b);
}

static void test_flip_table_and_checksum(void **state)
{
	(void)state;
	struct hs_buf b = sample();
	size_t tz = get64(b.data + O_TABLEZ);
	assert_true(tz > 0);
	flip_range(&b, HDR_LEN, HDR_LEN + tz, -EBADMSG, "table");
	flip_range(&b, HDR_LEN + tz, b.len, -EBADMSG, "checksum");
	hs_buf_free(&b);
}

static void test_wrong_magic(void **state)
{
	(void)state;
	struct hs_buf b = sample();
	struct hs_index *out;
	const char *magics[] = { "HSPOINX", "hspoint", "\0\0\0\0\0\0\0", "HSSTORE" };
	for (size_t i = 0; i < sizeof magics / sizeof *magics; i++) {
		memcpy(b.data, magics[i], 8);
		reseal(&b);
		assert_int_equal(decode_n(b.data, b.len, &out), -EBADMSG);
		assert_err_mentions("magic");
	}
	/* Things that are not indexes at all. */
	const char *text = "{\"format\": \"hotspare-store\"}\n";
	assert_int_equal(decode_n(text, strlen(text), &out), -EBADMSG);
	unsigned char junk[4096];
	ut_fill(junk, sizeof junk, 3);
	assert_int_equal(decode_n(junk, sizeof junk, &out), -EBADMSG);
	memset(junk, 0, sizeof junk);
	assert_int_equal(decode_n(junk, sizeof junk, &out), -EBADMSG);
	hs_buf_free(&b);
}

static void test_unknown_version(void **state)
{
	(void)state;
	const uint32_t versions[] = { 0, 2, 3, 99, 0x100, 0xffffffffu };
	for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
		struct hs_buf b = sample();
		put32(b.data + O_VERSION, versions[i]);
		reseal(&b);
		struct hs_index *out;
		assert_int_equal(decode_n(b.data, b.len, &out), -EPROTONOSUPPORT);
		assert_err_mentions("version");
		hs_buf_free(&b);
	}
}

/* Edit one header field of a valid encoding, reseal, expect -EBADMSG. */
static void expect_crafted_bad(void (*edit)(unsigned char *h, void *arg), void *arg, const char *what)
{
	struct hs_buf b = sample();
	edit(b.data, arg);
	reseal(&b);
	struct hs_index *out;
	int r = decode_n(b.data, b.len, &out);
	hs_buf_free(&b);
	if (r != -EBADMSG) {
		hs_index_free(out);
		fail_msg("%s: expected -EBADMSG, got %d", what, r);
	}
}

static void set_chunk(unsigned char *h, void *arg)
{
	uint32_t cs = *(uint32_t *)arg;
	put32(h + O_CHUNK, cs);
	/* Keep nchunks consistent with the size so only the chunk size is wrong. */
	if (cs)
		put64(h + O_NCHUNKS, (get64(h + O_SIZE) + cs - 1) / cs);
}

static void set_nchunks(unsigned char *h, void *arg) { put64(h + O_NCHUNKS, *(uint64_t *)arg); }
static void set_kind(unsigned char *h, void *arg) { put32(h + O_KIND, *(uint32_t *)arg); }

/* Image size and chunk count as a pair (each consistent with the other). */
static void set_size_pair(unsigned char *h, void *arg)
{
	uint64_t *v = arg;
	put64(h + O_SIZE, v[0]);
	put64(h + O_NCHUNKS, v[1]);
}

static void set_server(unsigned char *h, void *arg)
{
	memset(h + O_SERVER, 0, O_END - O_SERVER);
	memcpy(h + O_SERVER, arg, strlen(arg));
}

static void set_id(unsigned char *h, void *arg)
{
	memset(h + O_ID, 0, O_BASE - O_ID);
	memcpy(h + O_ID, arg, strlen(arg));
}

static void set_base(unsigned char *h, void *arg)
{
	memset(h + O_BASE, 0, O_SERVER - O_BASE);
	memcpy(h + O_BASE, arg, strlen(arg));
}

static void fill_server(unsigned char *h, void *arg)
{
	(void)arg;
	memset(h + O_SERVER, 'a', O_END - O_SERVER); /* no terminating NUL */
}

static void fill_id(unsigned char *h, void *arg)
{
	(void)arg;
	memset(h + O_ID, '1', O_BASE - O_ID);
}

static void set_hdrlen(unsigned char *h, void *arg) { put32(h + O_HDRLEN, *(uint32_t *)arg); }

static void test_absurd_sizes(void **state)
{
	(void)state;
	const uint32_t bad_cs[] = { 0, 1, 4096, 32768, 65535, 65537, 3 * 65536, 65536 + 4096,
				    8u << 20, 1u << 31, 0xffffffffu };
	for (size_t i = 0; i < sizeof bad_cs / sizeof *bad_cs; i++) {
		char what[64];
		snprintf(what, sizeof what, "chunk size %u", bad_cs[i]);
		uint32_t cs = bad_cs[i];
		expect_crafted_bad(set_chunk, &cs, what);
	}
	/* The sample has 8 chunks. */
	const uint64_t bad_n[] = { 0, 7, 9, 16, 1ull << 28, 1ull << 40, UINT64_MAX };
	for (size_t i = 0; i < sizeof bad_n / sizeof *bad_n; i++) {
		char what[64];
		snprintf(what, sizeof what, "nchunks %llu", (unsigned long long)bad_n[i]);
		uint64_t n = bad_n[i];
		expect_crafted_bad(set_nchunks, &n, what);
	}
	/* Consistent pairs that are too big: more chunks than allowed, image too big,
	 * sizes whose rounding would overflow. */
	uint64_t pairs[][2] = {
		{ (HS_INDEX_MAX_CHUNKS + 1) * CS, HS_INDEX_MAX_CHUNKS + 1 },
		{ HS_INDEX_MAX_CHUNKS * CS + 1, HS_INDEX_MAX_CHUNKS + 1 },
		{ HS_IMAGE_MAX_SIZE, HS_IMAGE_MAX_SIZE / CS },
		{ HS_IMAGE_MAX_SIZE + CS, HS_IMAGE_MAX_SIZE / CS + 1 },
		{ UINT64_MAX, UINT64_MAX / CS + 1 },
		{ UINT64_MAX - CS + 2, 0 },
	};
	for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
		char what[96];
		snprintf(what, sizeof what, "image size %llu with %llu chunks",
			 (unsigned long long)pairs[i][0], (unsigned long long)pairs[i][1]);
		expect_crafted_bad(set_size_pair, pairs[i], what);
	}
	const uint32_t kinds[] = { 0, 3, 0xffffffffu };
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		uint32_t k = kinds[i];
		expect_crafted_bad(set_kind, &k, "kind");
	}
	const uint32_t hdrlens[] = { 0, 255, 257, 512 };
	for (size_t i = 0; i < sizeof hdrlens / sizeof *hdrlens; i++) {
		uint32_t v = hdrlens[i];
		expect_crafted_bad(set_hdrlen, &v, "header length");
	}
}

static void test_bad_name_fields(void **state)
{
	(void)state;
	expect_crafted_bad(set_server, "", "empty server");
	expect_crafted_bad(set_server, "../etc", "server ../etc");
	expect_crafted_bad(set_server, "a/b", "server a/b");
	expect_crafted_bad(set_server, ".hidden", "server .hidden");
	expect_crafted_bad(fill_server, NULL, "unterminated server");
	expect_crafted_bad(set_id, "", "empty id");
	expect_crafted_bad(set_id, "garbage", "id garbage");
	expect_crafted_bad(set_id, "../../x", "id ../../x");
	expect_crafted_bad(fill_id, NULL, "unterminated id");
	expect_crafted_bad(set_base, "notapoint", "base notapoint");
}

/* Replace the sample's digest table by tab (tn bytes), fix the length field and reseal. */
static int decode_with_table(const void *tab, size_t tn)
{
	struct hs_buf s = sample();
	struct hs_buf b = { 0 };
	assert_int_equal(hs_buf_append(&b, s.data, HDR_LEN), 0);
	assert_int_equal(hs_buf_append(&b, tab, tn), 0);
	unsigned char zero[HS_DIGEST_LEN] = { 0 };
	assert_int_equal(hs_buf_append(&b, zero, sizeof zero), 0);
	put64(b.data + O_TABLEZ, tn);
	reseal(&b);
	struct hs_index *out;
	int r = decode_n(b.data, b.len, &out);
	if (r == 0)
		hs_index_free(out);
	hs_buf_free(&s);
	hs_buf_free(&b);
	return r;
}

static void test_bad_digest_table(void **state)
{
	(void)state;
	struct hs_digest d[9];
	ut_fill(d, sizeof d, 11);
	unsigned char z[4096];
	/* The sample's 8 digests, recompressed: accepted (the harness itself works). */
	size_t zn = ZSTD_compress(z, sizeof z, d, 8 * sizeof *d, 1);
	assert_false(ZSTD_isError(zn));
	assert_int_equal(decode_with_table(z, zn), 0);
	/* 7 or 9 digests for an 8-chunk image. */
	zn = ZSTD_compress(z, sizeof z, d, 7 * sizeof *d, 1);
	assert_int_equal(decode_with_table(z, zn), -EBADMSG);
	zn = ZSTD_compress(z, sizeof z, d, 9 * sizeof *d, 1);
	assert_int_equal(decode_with_table(z, zn), -EBADMSG);
	/* 8 digests less one byte. */
	zn = ZSTD_compress(z, sizeof z, d, 8 * sizeof *d - 1, 1);
	assert_int_equal(decode_with_table(z, zn), -EBADMSG);
	/* Not zstd; empty; a frame without a content size. */
	ut_fill(z, 300, 12);
	assert_int_equal(decode_with_table(z, 300), -EBADMSG);
	assert_int_equal(decode_with_table(z, 0), -EBADMSG);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	assert_non_null(c);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	ZSTD_outBuffer ob = { z, sizeof z, 0 };
	ZSTD_inBuffer ib = { d, 8 * sizeof *d, 0 };
	size_t rem = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
	ZSTD_freeCCtx(c);
	assert_int_equal(rem, 0);
	assert_int_equal(decode_with_table(z, ob.pos), -EBADMSG);
	/* A valid frame with the right content size whose data is cut short. */
	zn = ZSTD_compress(z, sizeof z, d, 8 * sizeof *d, 1);
	assert_int_equal(decode_with_table(z, zn - 1), -EBADMSG);
}

static void test_index_new(void **state)
{
	(void)state;
	struct hs_index *ix;
	const uint32_t bad_cs[] = { 0, 1, 512, 4096, 32768, 65535, 65537, 98304, 3u << 20,
				    8u << 20, 1u << 31, 0xffffffffu };
	for (size_t i = 0; i < sizeof bad_cs / sizeof *bad_cs; i++) {
		ix = (struct hs_index *)0x1;
		hs_err_clear();
		assert_int_equal(hs_index_new(1u << 30, bad_cs[i], &ix), -EINVAL);
		assert_ptr_equal(ix, (struct hs_index *)0x1);
		assert_err_mentions("chunk size");
	}
	for (uint32_t cs = 65536; cs <= (4u << 20); cs *= 2) {
		assert_int_equal(hs_index_new(10 * (uint64_t)cs + 1, cs, &ix), 0);
		assert_int_equal(ix->nchunks, 11);
		assert_int_equal(ix->chunk_size, cs);
		assert_int_equal(ix->image_size, 10 * (uint64_t)cs + 1);
		for (uint64_t i = 0; i < ix->nchunks; i++)
			assert_true(hs_digest_is_zero(&ix->digests[i]));
		hs_index_free(ix);
	}
	hs_err_clear();
	assert_int_equal(hs_index_new(HS_IMAGE_MAX_SIZE + 1, 4u << 20, &ix), -EINVAL);
	assert_err_mentions("image size");
	hs_err_clear();
	assert_int_equal(hs_index_new(UINT64_MAX, 4u << 20, &ix), -EINVAL);
	assert_non_null(hs_err_msg());
	hs_err_clear();
	assert_int_equal(hs_index_new(HS_INDEX_MAX_CHUNKS * 65536 + 1, 65536, &ix), -EINVAL);
	assert_err_mentions("too many chunks");
	hs_index_free(NULL);
}

/* The most bytes a store may send for an index: what its header says
 * (and a little), 1 MiB for bytes that are no consistent header, the most
 * any index can be while the header is incomplete. */
static void test_encoded_max(void **state)
{
	(void)state;
	struct hs_index *ix = make_index(300 * 65536 + 5, 65536, HS_KIND_SNAPSHOT);
	struct hs_buf b;
	encode(ix, &b);
	size_t max = hs_index_encoded_max(b.data, b.len);
	assert_true(max >= b.len && max <= b.len + 4096);
	assert_int_equal(hs_index_encoded_max(b.data, HDR_LEN), max);
	assert_true(hs_index_encoded_max(b.data, HDR_LEN - 1) > ((size_t)8 << 30));
	unsigned char *h = malloc(b.len);
	memcpy(h, b.data, b.len);
	h[0] ^= 1; /* wrong magic */
	assert_int_equal(hs_index_encoded_max(h, b.len), (size_t)1 << 20);
	memcpy(h, b.data, b.len);
	uint64_t huge = htole64(HS_INDEX_MAX_CHUNKS); /* chunk count that does not fit the image size */
	memcpy(h + O_NCHUNKS, &huge, 8);
	assert_int_equal(hs_index_encoded_max(h, b.len), (size_t)1 << 20);
	free(h);
	hs_buf_free(&b);
	hs_index_free(ix);
}

static void test_chunk_size_valid_and_kind(void **state)
{
	(void)state;
	for (uint64_t cs = 1; cs <= (1ull << 33); cs *= 2)
		assert_int_equal(!!hs_chunk_size_valid(cs), cs >= 65536 && cs <= (4u << 20));
	assert_false(hs_chunk_size_valid(0));
	assert_false(hs_chunk_size_valid(65536 + 65536 / 2));
	assert_false(hs_chunk_size_valid((1ull << 32) + 65536));
	assert_string_equal(hs_kind_name(HS_KIND_SNAPSHOT), "snapshot");
	assert_string_equal(hs_kind_name(HS_KIND_BACKUP), "backup");
	assert_string_equal(hs_kind_name(0), "unknown");
	assert_string_equal(hs_kind_name(77), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_encoded_max),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_flip_header),
		cmocka_unit_test(test_flip_table_and_checksum),
		cmocka_unit_test(test_wrong_magic),
		cmocka_unit_test(test_unknown_version),
		cmocka_unit_test(test_absurd_sizes),
		cmocka_unit_test(test_bad_name_fields),
		cmocka_unit_test(test_bad_digest_table),
		cmocka_unit_test(test_index_new),
		cmocka_unit_test(test_chunk_size_valid_and_kind),
	};
	return cmocka_run_group_tests_name("index", tests, NULL, NULL);
}
