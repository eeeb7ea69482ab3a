/* Point objects (store format version 2); see point.h. */
#include "store/point.h"
#include "store/key.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <endian.h>
#include <string.h>
#include <openssl/crypto.h>
#include <zstd.h>

static const char MAGIC[8] = "HSPOINT2";
static const char MAGIC_V1[8] = "HSPOINT"; /* with its NUL: format version 1 */

#define FLAG_ENCRYPTED 1u

/* Header layout (little-endian). */
enum {
	O_MAGIC = 0, O_VERSION = 8, O_HDRLEN = 12, O_KIND = 16, O_CHUNK = 20, O_TIME = 24,
	O_CONSIST = 32, O_FLAGS = 36, O_NDISKS = 40, O_ID = 48, O_BASE = 72, O_SERVER = 96,
	O_SERVER_END = 168, O_SUM = 480, O_SLOTS = 512,
};
/* Disk slot layout, 128 bytes each. */
enum {
	S_NAME = 0, S_NAME_END = 40, S_SIZE = 40, S_NEW = 48, S_SHIP = 56, S_READ = 64, S_OFF = 72,
	S_LEN = 80, S_SUM = 88, S_END = 120, SLOT = 128,
};
_Static_assert(O_SLOTS + HS_DISKS_MAX * SLOT == HS_POINT_HDR_LEN, "header size");
_Static_assert(HS_DISK_MAX < S_NAME_END - S_NAME, "disk name slot");
_Static_assert(HS_SERVER_MAX < O_SERVER_END - O_SERVER, "server slot");

static void put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

const char *hs_consistency_name(uint32_t c)
{
	switch (c) {
	case HS_TORN: return "torn";
	case HS_CRASH_CONSISTENT: return "crash-consistent";
	case HS_QUIESCED: return "quiesced";
	default: return "unknown";
	}
}

uint64_t hs_point_size(const struct hs_point *p)
{
	uint64_t n = 0;
	for (uint32_t k = 0; k < p->ndisks; k++)
		n += p->disks[k].size;
	return n;
}

uint64_t hs_point_new_bytes(const struct hs_point *p)
{
	uint64_t n = 0;
	for (uint32_t k = 0; k < p->ndisks; k++)
		n += p->disks[k].new_bytes;
	return n;
}

uint64_t hs_point_ship_bytes(const struct hs_point *p)
{
	uint64_t n = 0;
	for (uint32_t k = 0; k < p->ndisks; k++)
		n += p->disks[k].ship_bytes;
	return n;
}

int hs_point_disk_find(const struct hs_point *p, const char *name)
{
	for (uint32_t k = 0; k < p->ndisks; k++)
		if (strcmp(p->disks[k].name, name) == 0)
			return (int)k;
	return -1;
}

/* What a sealed table is bound to: its point and its disk, so a table moved
 * to another point or disk does not open. */
struct table_aad {
	char magic[8];
	char server[O_SERVER_END - O_SERVER];
	char id[O_BASE - O_ID];
	char disk[S_NAME_END - S_NAME];
	uint8_t kind[4], chunk[4], time[8], size[8];
};

static void make_aad(const struct hs_point *p, unsigned k, struct table_aad *a)
{
	memset(a, 0, sizeof *a);
	memcpy(a->magic, "HSPTAB2", 8);
	memcpy(a->server, p->server, strlen(p->server));
	memcpy(a->id, p->id, strlen(p->id));
	memcpy(a->disk, p->disks[k].name, strlen(p->disks[k].name));
	put32(a->kind, p->kind);
	put32(a->chunk, p->chunk_size);
	put64(a->time, (uint64_t)p->time);
	put64(a->size, p->disks[k].size);
}

#define TABLE_MAC 32

/* The MAC of an encrypted store's table: HMAC-SHA-256 under the index key of
 * what it is bound to and its bytes. */
static void table_mac(const struct hs_key *key, const struct hs_point *p, unsigned k, const void *z, size_t zn,
		      uint8_t out[TABLE_MAC])
{
	struct table_aad a;
	make_aad(p, k, &a);
	_cleanup_free_ unsigned char *m = malloc(sizeof a + zn);
	if (!m) {
		memset(out, 0, TABLE_MAC); /* cannot match a real MAC: the table is refused */
		return;
	}
	memcpy(m, &a, sizeof a);
	memcpy(m + sizeof a, z, zn);
	hs_hmac256(key->index_key, m, sizeof a + zn, out);
}

/* Append disk k's table to out: zstd of its digests, and in an encrypted
 * store a MAC binding it to the point and the disk. The ids in it are keyed
 * digests, which say nothing of the content, so the table stays readable
 * without the key: prune, gc and replicate need no key. */
static int encode_table(const struct hs_key *key, const struct hs_point *p, unsigned k,
			const struct hs_index *ix, struct hs_buf *out)
{
	size_t tlen = ix->nchunks * HS_DIGEST_LEN, bound = ZSTD_compressBound(tlen);
	int r = hs_buf_reserve(out, out->len + bound + TABLE_MAC);
	if (r < 0)
		return r;
	unsigned char *dst = out->data + out->len;
	size_t z = ZSTD_compress(dst, bound, ix->digests, tlen, 3);
	if (ZSTD_isError(z))
		return -ENOMEM;
	if (key)
		table_mac(key, p, k, dst, z, dst + z);
	out->len += z + (key ? TABLE_MAC : 0);
	return 0;
}

static void put_str(unsigned char *p, const char *s) { memcpy(p, s, strlen(s)); }

/* The header of p (its tables already placed) with its checksum, into h. */
static void write_header(unsigned char *h, const struct hs_point *p)
{
	memset(h, 0, HS_POINT_HDR_LEN);
	memcpy(h + O_MAGIC, MAGIC, sizeof MAGIC);
	put32(h + O_VERSION, HS_POINT_VERSION);
	put32(h + O_HDRLEN, HS_POINT_HDR_LEN);
	put32(h + O_KIND, p->kind);
	put32(h + O_CHUNK, p->chunk_size);
	put64(h + O_TIME, (uint64_t)p->time);
	put32(h + O_CONSIST, p->consistency);
	put32(h + O_FLAGS, p->encrypted ? FLAG_ENCRYPTED : 0);
	put32(h + O_NDISKS, p->ndisks);
	put_str(h + O_ID, p->id);
	put_str(h + O_BASE, p->base);
	put_str(h + O_SERVER, p->server);
	for (uint32_t k = 0; k < p->ndisks; k++) {
		unsigned char *s = h + O_SLOTS + k * SLOT;
		const struct hs_point_disk *d = &p->disks[k];
		put_str(s + S_NAME, d->name);
		put64(s + S_SIZE, d->size);
		put64(s + S_NEW, d->new_bytes);
		put64(s + S_SHIP, d->ship_bytes);
		put64(s + S_READ, d->read_bytes);
		put64(s + S_OFF, d->table_off);
		put64(s + S_LEN, d->table_len);
		memcpy(s + S_SUM, d->table_sum, 32);
	}
	struct hs_digest sum;
	hs_digest_compute(h, HS_POINT_HDR_LEN, &sum);
	memcpy(h + O_SUM, sum.b, 32);
}

int hs_point_rewrite_head(void *obj, size_t n, const struct hs_point *p)
{
	if (n < HS_POINT_HDR_LEN)
		return -EINVAL;
	write_header(obj, p);
	return 0;
}

int hs_point_encode(const struct hs_key *key, struct hs_point *p, struct hs_index *const *disks,
		    struct hs_buf *out)
{
	if (p->ndisks < 1 || p->ndisks > HS_DISKS_MAX)
		return hs_err(EINVAL, "a point holds 1 to %d disks, not %u", HS_DISKS_MAX, p->ndisks);
	p->encrypted = key != NULL;
	out->len = 0;
	int r = hs_buf_reserve(out, HS_POINT_HDR_LEN);
	if (r < 0)
		return r;
	out->len = HS_POINT_HDR_LEN;
	for (uint32_t k = 0; k < p->ndisks; k++) {
		const struct hs_index *ix = disks[k];
		struct hs_point_disk *d = &p->disks[k];
		if (ix->chunk_size != p->chunk_size || strcmp(ix->server, p->server) != 0)
			return hs_err(EINVAL, "disk %s does not belong to point %s@%s", ix->disk, p->server, p->id);
		if (hs_disk_name_check(ix->disk) < 0)
			return -EINVAL;
		for (uint32_t j = 0; j < k; j++)
			if (strcmp(p->disks[j].name, ix->disk) == 0)
				return hs_err(EINVAL, "disk name %s is given twice", ix->disk);
		memset(d, 0, sizeof *d);
		snprintf(d->name, sizeof d->name, "%s", ix->disk);
		d->size = ix->image_size;
		d->new_bytes = ix->new_bytes;
		d->ship_bytes = ix->ship_bytes;
		d->read_bytes = ix->read_bytes;
		d->table_off = out->len;
		if ((r = encode_table(key, p, k, ix, out)) < 0)
			return r;
		d->table_len = out->len - d->table_off;
		struct hs_digest sum;
		hs_digest_compute(out->data + d->table_off, d->table_len, &sum);
		memcpy(d->table_sum, sum.b, sizeof d->table_sum);
	}
	write_header(out->data, p);
	return 0;
}

/* A string field: NUL-terminated within its slot, zeros after it. */
static int field_str(const unsigned char *p, size_t slot, char *out, size_t cap)
{
	size_t n = strnlen((const char *)p, slot);
	if (n == slot || n >= cap)
		return -1;
	for (size_t i = n; i < slot; i++)
		if (p[i])
			return -1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int hs_point_decode_head(const void *buf, size_t n, const char *what, struct hs_point *out)
{
	const unsigned char *h = buf;
	memset(out, 0, sizeof *out);
	if (n >= sizeof MAGIC_V1 && memcmp(h, MAGIC_V1, sizeof MAGIC_V1) == 0)
		return hs_err(EPROTONOSUPPORT, "%s is in store format version 1; run 'hotspare upgrade STORE'", what);
	if (n < sizeof MAGIC || memcmp(h, MAGIC, sizeof MAGIC) != 0)
		return hs_err(EBADMSG, "%s is not a hotspare point (wrong magic)", what);
	if (n < HS_POINT_HDR_LEN)
		return hs_err(EBADMSG, "%s is truncated (%zu bytes; its header alone is %d)", what, n,
			      HS_POINT_HDR_LEN);
	uint32_t version = get32(h + O_VERSION);
	if (version != HS_POINT_VERSION)
		return hs_err(EPROTONOSUPPORT, "%s has point format version %u; this hotspare reads version %d",
			      what, version, HS_POINT_VERSION);
	unsigned char copy[HS_POINT_HDR_LEN];
	memcpy(copy, h, sizeof copy);
	memset(copy + O_SUM, 0, 32);
	struct hs_digest sum;
	hs_digest_compute(copy, sizeof copy, &sum);
	if (memcmp(sum.b, h + O_SUM, 32) != 0)
		return hs_err(EBADMSG, "%s is corrupt (header checksum mismatch)", what);
	if (get32(h + O_HDRLEN) != HS_POINT_HDR_LEN)
		return hs_err(EBADMSG, "%s is corrupt (header length)", what);
	out->kind = get32(h + O_KIND);
	out->chunk_size = get32(h + O_CHUNK);
	out->time = (int64_t)get64(h + O_TIME);
	out->consistency = get32(h + O_CONSIST);
	uint32_t flags = get32(h + O_FLAGS);
	out->encrypted = flags & FLAG_ENCRYPTED;
	out->ndisks = get32(h + O_NDISKS);
	if (out->kind != HS_KIND_SNAPSHOT && out->kind != HS_KIND_BACKUP)
		return hs_err(EBADMSG, "%s is corrupt (unknown point kind %u)", what, out->kind);
	if (!hs_chunk_size_valid(out->chunk_size))
		return hs_err(EBADMSG, "%s is corrupt (chunk size %u)", what, out->chunk_size);
	if (out->consistency > HS_QUIESCED || (flags & ~FLAG_ENCRYPTED))
		return hs_err(EBADMSG, "%s is corrupt (unknown flags)", what);
	if (out->ndisks < 1 || out->ndisks > HS_DISKS_MAX)
		return hs_err(EBADMSG, "%s is corrupt (%u disks)", what, out->ndisks);
	time_t t;
	if (field_str(h + O_ID, O_BASE - O_ID, out->id, sizeof out->id) < 0 ||
	    field_str(h + O_BASE, O_SERVER - O_BASE, out->base, sizeof out->base) < 0 ||
	    field_str(h + O_SERVER, O_SERVER_END - O_SERVER, out->server, sizeof out->server) < 0 ||
	    hs_server_name_check(out->server) < 0 || hs_point_id_parse(out->id, &t) < 0 ||
	    (out->base[0] && hs_point_id_parse(out->base, &t) < 0) ||
	    !all_zero(h + O_SERVER_END, O_SUM - O_SERVER_END)) {
		hs_err_clear();
		return hs_err(EBADMSG, "%s is corrupt (bad server name or point id)", what);
	}
	for (uint32_t k = 0; k < HS_DISKS_MAX; k++) {
		const unsigned char *s = h + O_SLOTS + k * SLOT;
		if (k >= out->ndisks) {
			if (!all_zero(s, SLOT))
				return hs_err(EBADMSG, "%s is corrupt (an unused disk slot is not empty)", what);
			continue;
		}
		struct hs_point_disk *d = &out->disks[k];
		d->size = get64(s + S_SIZE);
		d->new_bytes = get64(s + S_NEW);
		d->ship_bytes = get64(s + S_SHIP);
		d->read_bytes = get64(s + S_READ);
		d->table_off = get64(s + S_OFF);
		d->table_len = get64(s + S_LEN);
		memcpy(d->table_sum, s + S_SUM, 32);
		uint64_t nch = (d->size + out->chunk_size - 1) / out->chunk_size;
		if (field_str(s + S_NAME, S_NAME_END - S_NAME, d->name, sizeof d->name) < 0 ||
		    hs_disk_name_check(d->name) < 0 || hs_point_disk_find(out, d->name) != (int)k) {
			hs_err_clear();
			return hs_err(EBADMSG, "%s is corrupt (bad or repeated disk name in slot %u)", what, k);
		}
		/* A table holds at most its digests plus zstd's overhead and a MAC. */
		uint64_t most = ZSTD_compressBound(nch * HS_DIGEST_LEN) + TABLE_MAC;
		if (d->size > HS_IMAGE_MAX_SIZE || nch > HS_INDEX_MAX_CHUNKS || d->table_off < HS_POINT_HDR_LEN ||
		    d->table_len == 0 || d->table_len > most || d->table_off > UINT64_MAX - d->table_len ||
		    !all_zero(s + S_END, SLOT - S_END))
			return hs_err(EBADMSG, "%s is corrupt (disk %s: size %llu, table of %llu bytes at %llu)",
				      what, d->name, (unsigned long long)d->size,
				      (unsigned long long)d->table_len, (unsigned long long)d->table_off);
	}
	return 0;
}

void hs_point_disk_fields(const struct hs_point *p, unsigned k, struct hs_index *ix)
{
	const struct hs_point_disk *d = &p->disks[k];
	snprintf(ix->server, sizeof ix->server, "%s", p->server);
	snprintf(ix->disk, sizeof ix->disk, "%s", d->name);
	snprintf(ix->id, sizeof ix->id, "%s", p->id);
	snprintf(ix->base, sizeof ix->base, "%s", p->base);
	ix->kind = p->kind;
	ix->consistency = p->consistency;
	ix->time = p->time;
	ix->new_bytes = d->new_bytes;
	ix->ship_bytes = d->ship_bytes;
	ix->read_bytes = d->read_bytes;
}

void hs_point_of_index(const struct hs_index *ix, struct hs_point *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->server, sizeof p->server, "%s", ix->server);
	snprintf(p->id, sizeof p->id, "%s", ix->id);
	snprintf(p->base, sizeof p->base, "%s", ix->base);
	p->kind = ix->kind;
	p->time = ix->time;
	p->consistency = ix->consistency;
	p->chunk_size = ix->chunk_size;
	p->ndisks = 1;
}

int hs_point_decode_disk(const struct hs_key *key, const struct hs_point *p, unsigned k, const void *t,
			 size_t n, const char *what, struct hs_index **out)
{
	const struct hs_point_disk *d = &p->disks[k];
	if (n != d->table_len)
		return hs_err(EBADMSG, "%s is truncated (disk %s's table: %zu of %llu bytes)", what, d->name, n,
			      (unsigned long long)d->table_len);
	struct hs_digest sum;
	hs_digest_compute(t, n, &sum);
	if (memcmp(sum.b, d->table_sum, 32) != 0)
		return hs_err(EBADMSG, "%s is corrupt (disk %s's table checksum mismatch)", what, d->name);
	size_t zn = n;
	if (p->encrypted) {
		if (n < TABLE_MAC)
			return hs_err(EBADMSG, "%s is corrupt (disk %s's table)", what, d->name);
		zn = n - TABLE_MAC;
		uint8_t mac[TABLE_MAC];
		/* Without the key (prune, gc, replicate) the checksum above is the check. */
		if (key) {
			table_mac(key, p, k, t, zn, mac);
			if (CRYPTO_memcmp(mac, (const unsigned char *)t + zn, TABLE_MAC) != 0)
				return hs_err(EBADMSG, "%s does not authenticate (disk %s's table: damaged, moved "
						       "from another point, or another key)", what, d->name);
		}
	}
	const unsigned char *z = t;
	_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
	int r = hs_index_new(d->size, p->chunk_size, &ix);
	if (r < 0)
		return r;
	size_t tlen = ix->nchunks * HS_DIGEST_LEN;
	unsigned long long declared = ZSTD_getFrameContentSize(z, zn);
	if (declared != tlen)
		return hs_err(EBADMSG, "%s is corrupt (disk %s: digest table of %llu bytes, expected %zu)", what,
			      d->name, declared, tlen);
	size_t got = ZSTD_decompress(ix->digests, tlen ? tlen : 1, z, zn);
	if (ZSTD_isError(got) || got != tlen)
		return hs_err(EBADMSG, "%s is corrupt (disk %s's digest table does not decompress)", what, d->name);
	hs_point_disk_fields(p, k, ix);
	*out = HS_TAKE(ix);
	return 0;
}
