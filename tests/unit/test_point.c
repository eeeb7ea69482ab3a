/* Unit tests for point.h (store format version 2) and index.h: encoding a
 * point of one or several disks, decoding its header and each disk's table,
 * and detecting every kind of damage: truncation, flipped bytes, crafted
 * headers with recomputed checksums, tables moved between points; with a key,
 * tampering that recomputes every checksum.
 *
 * Crafted-header tests need the on-disk layout; the offsets below are the
 * format's (point.c), and test_layout checks them against a real encoding so
 * a layout change fails loudly there rather than mysteriously elsewhere. */
#include "unit.h"
#include "store/key.h"
#include "store/point.h"
#include <endian.h>
#include <zstd.h>

enum {
	O_MAGIC = 0, O_VERSION = 8, O_HDRLEN = 12, O_KIND = 16, O_CHUNK = 20, O_TIME = 24,
	O_CONSIST = 32, O_FLAGS = 36, O_NDISKS = 40, O_ID = 48, O_BASE = 72, O_SERVER = 96, O_SUM = 480,
	O_SLOTS = 512,
};
enum { S_NAME = 0, S_SIZE = 40, S_NEW = 48, S_SHIP = 56, S_READ = 64, S_OFF = 72, S_LEN = 80, S_SUM = 88, SLOT = 128 };

static void put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

#define CS 65536u
#define T0 1795609136

/* A disk's index with recognisable digests, some of them zero. */
static struct hs_index *make_disk(const char *name, uint64_t size, uint64_t seed)
{
	struct hs_index *ix = NULL;
	assert_int_equal(hs_index_new(size, CS, &ix), 0);
	snprintf(ix->server, sizeof ix->server, "mail01");
	snprintf(ix->disk, sizeof ix->disk, "%s", name);
	hs_point_id_format(T0, ix->id);
	ix->kind = HS_KIND_BACKUP;
	ix->time = T0;
	ix->new_bytes = 0x0123456789abcdefull + seed;
	ix->ship_bytes = 987654321ull + seed;
	ix->read_bytes = size / 3;
	for (uint64_t i = 0; i < ix->nchunks; i++) {
		if (i % 3 == 1)
			continue; /* a zero chunk */
		uint64_t v = i * 2654435761u + 17 + seed * 1000003;
		hs_digest_compute(&v, sizeof v, &ix->digests[i]);
	}
	return ix;
}

struct sample {
	struct hs_point p;
	struct hs_index *d[3];
	unsigned n;
	struct hs_buf b;
};

/* A point of n disks (sizes differ; short last chunks) encoded with key. */
static void make_sample(struct sample *s, unsigned n, const struct hs_key *key)
{
	memset(s, 0, sizeof *s);
	static const char *names[] = { "sda", "data", "e" };
	static const uint64_t sizes[] = { 7 * (uint64_t)CS + 1234, 3 * (uint64_t)CS, 12 * (uint64_t)CS + 1 };
	s->n = n;
	for (unsigned k = 0; k < n; k++)
		s->d[k] = make_disk(names[k], sizes[k], k);
	snprintf(s->p.server, sizeof s->p.server, "mail01");
	hs_point_id_format(T0, s->p.id);
	snprintf(s->p.base, sizeof s->p.base, "20261101T000000Z");
	s->p.kind = HS_KIND_BACKUP;
	s->p.chunk_size = CS;
	s->p.time = T0;
	s->p.consistency = HS_CRASH_CONSISTENT;
	s->p.ndisks = n;
	assert_int_equal(hs_point_encode(key, &s->p, s->d, &s->b), 0);
}

static void free_sample(struct sample *s)
{
	for (unsigned k = 0; k < s->n; k++)
		hs_index_free(s->d[k]);
	hs_buf_free(&s->b);
}

/* Decode the header from a copy of exactly n bytes (ASan sees any overread). */
static int head_n(const void *p, size_t n, struct hs_point *out)
{
	void *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	if (n)
		memcpy(copy, p, n);
	hs_err_clear();
	int r = hs_point_decode_head(copy, n, "test.idx", out);
	free(copy);
	if (r < 0)
		assert_err_mentions("test.idx");
	return r;
}

/* Decode disk k's table from the object b as its header says. */
static int disk_of(const struct hs_key *key, const struct hs_point *p, const struct hs_buf *b, unsigned k,
		   struct hs_index **out)
{
	const struct hs_point_disk *d = &p->disks[k];
	if (d->table_off + d->table_len > b->len)
		return -EBADMSG;
	void *copy = malloc(d->table_len);
	assert_non_null(copy);
	memcpy(copy, b->data + d->table_off, d->table_len);
	*out = NULL;
	hs_err_clear();
	int r = hs_point_decode_disk(key, p, k, copy, d->table_len, "test.idx", out);
	free(copy);
	if (r < 0) {
		assert_null(*out);
		assert_err_mentions("test.idx");
	}
	return r;
}

/* Recompute the header checksum after editing it (a crafted header). */
static void reseal(unsigned char *h)
{
	memset(h + O_SUM, 0, 32);
	struct hs_digest sum;
	hs_digest_compute(h, HS_POINT_HDR_LEN, &sum);
	memcpy(h + O_SUM, sum.b, 32);
}

static void assert_disk_equal(const struct hs_index *a, const struct hs_index *b)
{
	assert_string_equal(a->server, b->server);
	assert_string_equal(a->disk, b->disk);
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->chunk_size, b->chunk_size);
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->image_size, b->image_size);
	assert_int_equal(a->nchunks, b->nchunks);
	assert_int_equal(a->new_bytes, b->new_bytes);
	assert_int_equal(a->ship_bytes, b->ship_bytes);
	assert_int_equal(a->read_bytes, b->read_bytes);
	if (a->nchunks)
		assert_memory_equal(a->digests, b->digests, a->nchunks * sizeof *a->digests);
}

static void test_layout(void **state)
{
	(void)state;
	struct sample s;
	make_sample(&s, 2, NULL);
	const unsigned char *h = s.b.data;
	assert_memory_equal(h + O_MAGIC, "HSPOINT2", 8);
	assert_int_equal(get32(h + O_VERSION), HS_POINT_VERSION);
	assert_int_equal(get32(h + O_HDRLEN), HS_POINT_HDR_LEN);
	assert_int_equal(get32(h + O_KIND), HS_KIND_BACKUP);
	assert_int_equal(get32(h + O_CHUNK), CS);
	assert_int_equal(get64(h + O_TIME), T0);
	assert_int_equal(get32(h + O_CONSIST), HS_CRASH_CONSISTENT);
	assert_int_equal(get32(h + O_FLAGS), 0);
	assert_int_equal(get32(h + O_NDISKS), 2);
	assert_string_equal((char *)h + O_ID, s.p.id);
	assert_string_equal((char *)h + O_BASE, "20261101T000000Z");
	assert_string_equal((char *)h + O_SERVER, "mail01");
	uint64_t end = HS_POINT_HDR_LEN;
	for (unsigned k = 0; k < 2; k++) {
		const unsigned char *sl = h + O_SLOTS + k * SLOT;
		assert_string_equal((char *)sl + S_NAME, s.d[k]->disk);
		assert_int_equal(get64(sl + S_SIZE), s.d[k]->image_size);
		assert_int_equal(get64(sl + S_NEW), s.d[k]->new_bytes);
		assert_int_equal(get64(sl + S_SHIP), s.d[k]->ship_bytes);
		assert_int_equal(get64(sl + S_READ), s.d[k]->read_bytes);
		assert_int_equal(get64(sl + S_OFF), end); /* tables follow the header in disk order */
		end += get64(sl + S_LEN);
		struct hs_digest sum;
		hs_digest_compute(s.b.data + get64(sl + S_OFF), get64(sl + S_LEN), &sum);
		assert_memory_equal(sum.b, sl + S_SUM, 32);
	}
	assert_int_equal(end, s.b.len);
	/* The header checksum is SHA-256 of the header with that field zero. */
	unsigned char copy[HS_POINT_HDR_LEN];
	memcpy(copy, h, sizeof copy);
	memset(copy + O_SUM, 0, 32);
	struct hs_digest sum;
	hs_digest_compute(copy, sizeof copy, &sum);
	assert_memory_equal(sum.b, h + O_SUM, 32);
	free_sample(&s);
}

static void test_round_trip(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 3; n++) {
		struct sample s;
		make_sample(&s, n, NULL);
		struct hs_point p;
		/* The header alone is enough to list the point. */
		assert_int_equal(head_n(s.b.data, HS_POINT_HDR_LEN, &p), 0);
		assert_string_equal(p.server, "mail01");
		assert_string_equal(p.id, s.p.id);
		assert_string_equal(p.base, s.p.base);
		assert_int_equal(p.kind, HS_KIND_BACKUP);
		assert_int_equal(p.consistency, HS_CRASH_CONSISTENT);
		assert_false(p.encrypted);
		assert_int_equal(p.ndisks, n);
		uint64_t total = 0;
		for (unsigned k = 0; k < n; k++) {
			total += s.d[k]->image_size;
			assert_int_equal(hs_point_disk_find(&p, s.d[k]->disk), (int)k);
			struct hs_index *back;
			assert_int_equal(disk_of(NULL, &p, &s.b, k, &back), 0);
			assert_disk_equal(back, s.d[k]);
			assert_int_equal(back->consistency, HS_CRASH_CONSISTENT);
			assert_string_equal(back->base, s.p.base);
			hs_index_free(back);
		}
		assert_int_equal(hs_point_size(&p), total);
		assert_int_equal(hs_point_disk_find(&p, "nosuch"), -1);
		free_sample(&s);
	}
}

static void test_big_sparse_disk(void **state)
{
	(void)state;
	/* 3 TiB at 4 MiB chunks: offsets and sizes above 32 bits survive. */
	struct hs_index *ix = NULL;
	assert_int_equal(hs_index_new(3ull << 40, 4u << 20, &ix), 0);
	snprintf(ix->server, sizeof ix->server, "big");
	snprintf(ix->disk, sizeof ix->disk, "disk0");
	hs_point_id_format(T0, ix->id);
	ix->kind = HS_KIND_SNAPSHOT;
	ix->time = T0;
	hs_digest_compute("x", 1, &ix->digests[ix->nchunks - 1]);
	struct hs_point p = { .kind = HS_KIND_SNAPSHOT, .chunk_size = 4u << 20, .time = T0, .ndisks = 1 };
	snprintf(p.server, sizeof p.server, "big");
	snprintf(p.id, sizeof p.id, "%s", ix->id);
	struct hs_buf b = { 0 };
	assert_int_equal(hs_point_encode(NULL, &p, &ix, &b), 0);
	struct hs_point q;
	assert_int_equal(head_n(b.data, b.len, &q), 0);
	assert_int_equal(q.disks[0].size, 3ull << 40);
	struct hs_index *back;
	assert_int_equal(disk_of(NULL, &q, &b, 0, &back), 0);
	assert_disk_equal(back, ix);
	hs_index_free(back);
	hs_index_free(ix);
	hs_buf_free(&b);
}

static void test_truncation(void **state)
{
	(void)state;
	struct sample s;
	make_sample(&s, 2, NULL);
	struct hs_point p;
	for (size_t n = 0; n < HS_POINT_HDR_LEN; n += (n < 64 ? 1 : 97))
		assert_int_equal(head_n(s.b.data, n, &p), -EBADMSG);
	assert_int_equal(head_n(s.b.data, HS_POINT_HDR_LEN, &p), 0);
	/* A table cut short anywhere is refused. */
	for (unsigned k = 0; k < 2; k++) {
		const struct hs_point_disk *d = &p.disks[k];
		for (size_t n = 0; n < d->table_len; n++) {
			struct hs_index *ix = (struct hs_index *)0x1;
			hs_err_clear();
			assert_int_equal(hs_point_decode_disk(NULL, &p, k, s.b.data + d->table_off, n, "test.idx", &ix),
					 -EBADMSG);
			assert_ptr_equal(ix, (struct hs_index *)0x1);
			assert_err_mentions("truncated");
		}
	}
	free_sample(&s);
}

static void test_flip_header(void **state)
{
	(void)state;
	struct sample s;
	make_sample(&s, 3, NULL);
	for (size_t i = 0; i < HS_POINT_HDR_LEN; i++) {
		struct hs_point p;
		s.b.data[i] ^= 0x10;
		int r = head_n(s.b.data, s.b.len, &p);
		if (r != -EBADMSG && r != -EPROTONOSUPPORT)
			fail_msg("a flipped bit at header byte %zu was not detected (%d)", i, r);
		s.b.data[i] ^= 0x10;
	}
	free_sample(&s);
}

static void test_flip_table(void **state)
{
	(void)state;
	struct sample s;
	make_sample(&s, 2, NULL);
	struct hs_point p;
	assert_int_equal(head_n(s.b.data, s.b.len, &p), 0);
	for (size_t i = HS_POINT_HDR_LEN; i < s.b.len; i++) {
		unsigned k = i < p.disks[1].table_off ? 0 : 1;
		s.b.data[i] ^= 0x01;
		struct hs_index *ix;
		if (disk_of(NULL, &p, &s.b, k, &ix) != -EBADMSG)
			fail_msg("a flipped bit at table byte %zu was not detected", i);
		s.b.data[i] ^= 0x01;
		/* The other disk's table is unaffected. */
		if (i == p.disks[0].table_off) {
			assert_int_equal(disk_of(NULL, &p, &s.b, 1, &ix), 0);
			hs_index_free(ix);
		}
	}
	free_sample(&s);
}

static void test_magic_and_versions(void **state)
{
	(void)state;
	struct sample s;
	make_sample(&s, 1, NULL);
	struct hs_point p;
	/* A format version 1 index names the upgrade. */
	unsigned char v1[HS_POINT_HDR_LEN] = "HSPOINT";
	assert_int_equal(head_n(v1, sizeof v1, &p), -EPROTONOSUPPORT);
	assert_err_mentions("hotspare upgrade");
	memcpy(v1, "GARBAGE!", 8);
	assert_int_equal(head_n(v1, sizeof v1, &p), -EBADMSG);
	assert_err_mentions("wrong magic");
	/* Another version, checksummed: refused as unknown, not as corrupt. */
	put32(s.b.data + O_VERSION, 3);
	reseal(s.b.data);
	assert_int_equal(head_n(s.b.data, s.b.len, &p), -EPROTONOSUPPORT);
	assert_err_mentions("version 3");
	free_sample(&s);
}

/* Apply edit to a copy of a valid header, reseal it, expect -EBADMSG. */
static void expect_crafted_bad(void (*edit)(unsigned char *h), const char *mention)
{
	struct sample s;
	make_sample(&s, 2, NULL);
	edit(s.b.data);
	reseal(s.b.data);
	struct hs_point p;
	int r = head_n(s.b.data, s.b.len, &p);
	if (r != -EBADMSG)
		fail_msg("crafted header (%s): expected -EBADMSG, got %d", mention, r);
	assert_err_mentions(mention);
	free_sample(&s);
}

static void e_kind(unsigned char *h) { put32(h + O_KIND, 7); }
static void e_chunk(unsigned char *h) { put32(h + O_CHUNK, 12345); }
static void e_ndisks0(unsigned char *h) { put32(h + O_NDISKS, 0); }
static void e_ndisks65(unsigned char *h) { put32(h + O_NDISKS, HS_DISKS_MAX + 1); }
static void e_ndisks3(unsigned char *h) { put32(h + O_NDISKS, 3); } /* slot 2 is empty */
static void e_ndisks1(unsigned char *h) { put32(h + O_NDISKS, 1); } /* slot 1 is not */
static void e_flags(unsigned char *h) { put32(h + O_FLAGS, 4); }
static void e_consist(unsigned char *h) { put32(h + O_CONSIST, 9); }
static void e_server(unsigned char *h) { memcpy(h + O_SERVER, "../x", 4); }
static void e_id(unsigned char *h) { memcpy(h + O_ID, "20261399", 8); }
static void e_id_tail(unsigned char *h) { h[O_ID + 20] = 'x'; }
static void e_size(unsigned char *h) { put64(h + O_SLOTS + S_SIZE, HS_IMAGE_MAX_SIZE + 1); }
static void e_off(unsigned char *h) { put64(h + O_SLOTS + S_OFF, 100); }
static void e_len0(unsigned char *h) { put64(h + O_SLOTS + S_LEN, 0); }
static void e_len_huge(unsigned char *h) { put64(h + O_SLOTS + S_LEN, 1ull << 40); }
static void e_wrap(unsigned char *h)
{
	put64(h + O_SLOTS + S_OFF, UINT64_MAX - 10);
	put64(h + O_SLOTS + S_LEN, 100);
}
static void e_dupname(unsigned char *h) { memcpy(h + O_SLOTS + SLOT + S_NAME, "sda\0", 4); }
static void e_badname(unsigned char *h) { memcpy(h + O_SLOTS + S_NAME, "a/b", 3); }
static void e_noname(unsigned char *h) { memset(h + O_SLOTS + S_NAME, 0, 40); }
static void e_slot_tail(unsigned char *h) { h[O_SLOTS + 124] = 1; }

static void test_crafted_headers(void **state)
{
	(void)state;
	expect_crafted_bad(e_kind, "kind");
	expect_crafted_bad(e_chunk, "chunk size");
	expect_crafted_bad(e_ndisks0, "0 disks");
	expect_crafted_bad(e_ndisks65, "65 disks");
	expect_crafted_bad(e_ndisks3, "disk name");
	expect_crafted_bad(e_ndisks1, "unused disk slot");
	expect_crafted_bad(e_flags, "flags");
	expect_crafted_bad(e_consist, "flags");
	expect_crafted_bad(e_server, "server name");
	expect_crafted_bad(e_id, "point id");
	expect_crafted_bad(e_id_tail, "point id");
	expect_crafted_bad(e_size, "disk sda");
	expect_crafted_bad(e_off, "disk sda");
	expect_crafted_bad(e_len0, "disk sda");
	expect_crafted_bad(e_len_huge, "disk sda");
	expect_crafted_bad(e_wrap, "disk sda");
	expect_crafted_bad(e_dupname, "repeated");
	expect_crafted_bad(e_badname, "disk name");
	expect_crafted_bad(e_noname, "disk name");
	expect_crafted_bad(e_slot_tail, "disk sda");
}

/* A table whose checksum and header were both recomputed: still refused when
 * its digest table does not decode to its size. */
static void test_bad_digest_table(void **state)
{
	(void)state;
	struct sample s;
	make_sample(&s, 1, NULL);
	struct hs_point p;
	assert_int_equal(head_n(s.b.data, s.b.len, &p), 0);
	struct hs_digest d[8] = { 0 };
	unsigned char z[1024];
	size_t zn = ZSTD_compress(z, sizeof z, d, sizeof d, 1); /* 8 positions, not 8 (7 + short) + ... */
	struct hs_digest sum;
	hs_digest_compute(z, zn, &sum);
	memcpy(p.disks[0].table_sum, sum.b, 32);
	p.disks[0].table_len = zn;
	struct hs_index *ix;
	hs_err_clear();
	/* sda is 7 chunks + 1234 bytes: 8 positions, so 8 digests is right; make it 9. */
	p.disks[0].size += CS;
	assert_int_equal(hs_point_decode_disk(NULL, &p, 0, z, zn, "test.idx", &ix), -EBADMSG);
	assert_err_mentions("digest table");
	free_sample(&s);
}

static void test_encode_refuses(void **state)
{
	(void)state;
	struct hs_index *a = make_disk("sda", CS, 0), *b = make_disk("sda", CS, 1);
	struct hs_index *two[] = { a, b };
	struct hs_point p = { .kind = HS_KIND_SNAPSHOT, .chunk_size = CS, .time = T0, .ndisks = 2 };
	snprintf(p.server, sizeof p.server, "mail01");
	hs_point_id_format(T0, p.id);
	struct hs_buf out = { 0 };
	hs_err_clear();
	assert_int_equal(hs_point_encode(NULL, &p, two, &out), -EINVAL);
	assert_err_mentions("twice");
	p.ndisks = 0;
	hs_err_clear();
	assert_int_equal(hs_point_encode(NULL, &p, two, &out), -EINVAL);
	assert_err_mentions("1 to 64 disks");
	p.ndisks = 1;
	p.chunk_size = 2 * CS;
	hs_err_clear();
	assert_int_equal(hs_point_encode(NULL, &p, two, &out), -EINVAL);
	assert_err_mentions("does not belong");
	hs_buf_free(&out);
	hs_index_free(a);
	hs_index_free(b);
}

static struct hs_key *a_key(uint8_t fill)
{
	uint8_t m[HS_KEY_LEN];
	memset(m, fill, sizeof m);
	struct hs_key *k = NULL;
	assert_int_equal(hs_key_from_bytes(m, &k), 0);
	return k;
}

static void test_encrypted_tables(void **state)
{
	(void)state;
	struct hs_key *k = a_key(1), *other = a_key(2);
	struct sample s;
	make_sample(&s, 2, k);
	struct hs_point p;
	assert_int_equal(head_n(s.b.data, s.b.len, &p), 0);
	assert_true(p.encrypted);
	assert_int_equal(get32(s.b.data + O_FLAGS), 1);
	struct hs_index *ix;
	/* With the key: authenticated and exact. */
	for (unsigned d = 0; d < 2; d++) {
		assert_int_equal(disk_of(k, &p, &s.b, d, &ix), 0);
		assert_disk_equal(ix, s.d[d]);
		hs_index_free(ix);
	}
	/* Without it (prune, gc, replicate): readable, checked by checksum only. */
	assert_int_equal(disk_of(NULL, &p, &s.b, 0, &ix), 0);
	hs_index_free(ix);
	/* Another key does not authenticate it. */
	assert_int_equal(disk_of(other, &p, &s.b, 0, &ix), -EBADMSG);
	assert_err_mentions("does not authenticate");

	/* Tampering that recomputes the slot's checksum and the header's: a
	 * digest changed inside the table, detected with the key. */
	struct hs_point_disk *d0 = &p.disks[0];
	unsigned char *t = s.b.data + d0->table_off;
	struct hs_digest dd[8];
	memcpy(dd, s.d[0]->digests, sizeof dd);
	dd[0].b[0] ^= 1;
	size_t zn = ZSTD_compress(t, d0->table_len + 64, dd, sizeof dd, 3);
	assert_false(ZSTD_isError(zn));
	if (zn + 32 <= d0->table_len) {
		memmove(t + zn, t + d0->table_len - 32, 32); /* keep the old MAC */
		d0->table_len = zn + 32;
		struct hs_digest sum;
		hs_digest_compute(t, d0->table_len, &sum);
		memcpy(d0->table_sum, sum.b, 32);
		assert_int_equal(disk_of(NULL, &p, &s.b, 0, &ix), 0); /* the checksum cannot tell */
		hs_index_free(ix);
		assert_int_equal(disk_of(k, &p, &s.b, 0, &ix), -EBADMSG);
	}
	free_sample(&s);

	/* A table moved from another point of the same server (same size,
	 * other time and id): detected with the key. */
	struct sample a, b;
	make_sample(&a, 1, k);
	make_sample(&b, 1, NULL);
	hs_index_free(b.d[0]);
	b.d[0] = make_disk("sda", 7 * (uint64_t)CS + 1234, 7);
	b.p.time = T0 + 86400;
	hs_point_id_format(T0 + 86400, b.p.id);
	snprintf(b.d[0]->id, sizeof b.d[0]->id, "%s", b.p.id);
	b.d[0]->time = b.p.time;
	assert_int_equal(hs_point_encode(k, &b.p, b.d, &b.b), 0);
	struct hs_point pa, pb;
	assert_int_equal(head_n(a.b.data, a.b.len, &pa), 0);
	assert_int_equal(head_n(b.b.data, b.b.len, &pb), 0);
	/* Point a's header with b's table: the slot says b's length and sum. */
	pa.disks[0].table_len = pb.disks[0].table_len;
	memcpy(pa.disks[0].table_sum, pb.disks[0].table_sum, 32);
	hs_err_clear();
	assert_int_equal(hs_point_decode_disk(k, &pa, 0, b.b.data + pb.disks[0].table_off, pb.disks[0].table_len,
					      "test.idx", &ix), -EBADMSG);
	assert_err_mentions("does not authenticate");
	free_sample(&a);
	free_sample(&b);
	hs_key_free(k);
	hs_key_free(other);
}

static void test_consistency_names(void **state)
{
	(void)state;
	assert_string_equal(hs_consistency_name(HS_QUIESCED), "quiesced");
	assert_string_equal(hs_consistency_name(HS_CRASH_CONSISTENT), "crash-consistent");
	assert_string_equal(hs_consistency_name(HS_TORN), "torn");
	assert_string_equal(hs_consistency_name(HS_CONSISTENCY_UNKNOWN), "unknown");
	assert_string_equal(hs_consistency_name(99), "unknown");
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
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_big_sparse_disk),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_flip_header),
		cmocka_unit_test(test_flip_table),
		cmocka_unit_test(test_magic_and_versions),
		cmocka_unit_test(test_crafted_headers),
		cmocka_unit_test(test_bad_digest_table),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_encrypted_tables),
		cmocka_unit_test(test_consistency_names),
		cmocka_unit_test(test_index_new),
		cmocka_unit_test(test_chunk_size_valid_and_kind),
	};
	return cmocka_run_group_tests_name("point", tests, NULL, NULL);
}
