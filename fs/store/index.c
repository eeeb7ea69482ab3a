/* Point index encoding and validation; see index.h. */
#include "store/index.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <endian.h>
#include <string.h>
#include <zstd.h>

#define HDR_LEN 256
static const char MAGIC[8] = "HSPOINT";

/* Header field offsets. */
enum {
	O_MAGIC = 0, O_VERSION = 8, O_KIND = 12, O_CHUNK = 16, O_HDRLEN = 20,
	O_SIZE = 24, O_NCHUNKS = 32, O_TIME = 40, O_NEW = 48, O_SHIP = 56,
	O_TABLEZ = 64, O_ID = 72, O_BASE = 96, O_SERVER = 120, O_END = 192,
};

static void put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

const char *hs_kind_name(uint32_t kind)
{
	return kind == HS_KIND_SNAPSHOT ? "snapshot" : kind == HS_KIND_BACKUP ? "backup" : "unknown";
}

int hs_chunk_size_valid(uint64_t size)
{
	return size >= 65536 && size <= 4194304 && (size & (size - 1)) == 0;
}

int hs_index_new(uint64_t image_size, uint32_t chunk_size, struct hs_index **out)
{
	if (!hs_chunk_size_valid(chunk_size))
		return hs_err(EINVAL, "chunk size %u is not a power of two from 64 KiB to 4 MiB", chunk_size);
	if (image_size > HS_IMAGE_MAX_SIZE)
		return hs_err(EINVAL, "image size %llu is larger than the supported %llu bytes",
			      (unsigned long long)image_size, (unsigned long long)HS_IMAGE_MAX_SIZE);
	uint64_t n = (image_size + chunk_size - 1) / chunk_size;
	if (n > HS_INDEX_MAX_CHUNKS)
		return hs_err(EINVAL, "image of %llu bytes has too many chunks (%llu) for chunk size %u",
			      (unsigned long long)image_size, (unsigned long long)n, chunk_size);
	struct hs_index *ix = calloc(1, sizeof *ix);
	if (!ix)
		return -ENOMEM;
	ix->digests = calloc(n ? n : 1, sizeof *ix->digests);
	if (!ix->digests) {
		free(ix);
		return -ENOMEM;
	}
	ix->image_size = image_size;
	ix->chunk_size = chunk_size;
	ix->nchunks = n;
	*out = ix;
	return 0;
}

uint32_t hs_index_chunk_len(const struct hs_index *ix, uint64_t i)
{
	uint64_t off = i * ix->chunk_size;
	uint64_t left = ix->image_size - off;
	return left < ix->chunk_size ? (uint32_t)left : ix->chunk_size;
}

void hs_index_free(struct hs_index *ix)
{
	if (!ix)
		return;
	free(ix->digests);
	free(ix);
}

int hs_index_encode(const struct hs_index *ix, struct hs_buf *out)
{
	size_t tlen = ix->nchunks * HS_DIGEST_LEN;
	size_t bound = ZSTD_compressBound(tlen);
	out->len = 0;
	int r = hs_buf_reserve(out, HDR_LEN + bound + HS_DIGEST_LEN);
	if (r < 0)
		return r;
	unsigned char *h = out->data;
	memset(h, 0, HDR_LEN);
	memcpy(h + O_MAGIC, MAGIC, sizeof MAGIC);
	put32(h + O_VERSION, HS_INDEX_VERSION);
	put32(h + O_KIND, ix->kind);
	put32(h + O_CHUNK, ix->chunk_size);
	put32(h + O_HDRLEN, HDR_LEN);
	put64(h + O_SIZE, ix->image_size);
	put64(h + O_NCHUNKS, ix->nchunks);
	put64(h + O_TIME, (uint64_t)ix->time);
	put64(h + O_NEW, ix->new_bytes);
	put64(h + O_SHIP, ix->ship_bytes);
	memcpy(h + O_ID, ix->id, strlen(ix->id));
	memcpy(h + O_BASE, ix->base, strlen(ix->base));
	memcpy(h + O_SERVER, ix->server, strlen(ix->server));
	size_t z = ZSTD_compress(h + HDR_LEN, bound, ix->digests, tlen, 3);
	if (ZSTD_isError(z))
		return -ENOMEM;
	put64(h + O_TABLEZ, z);
	struct hs_digest sum;
	hs_digest_compute(h, HDR_LEN + z, &sum);
	memcpy(h + HDR_LEN + z, sum.b, HS_DIGEST_LEN);
	out->len = HDR_LEN + z + HS_DIGEST_LEN;
	return 0;
}

size_t hs_index_encoded_max(const void *p, size_t n)
{
	const unsigned char *h = p;
	uint64_t nch = HS_INDEX_MAX_CHUNKS, tz = UINT64_MAX;
	if (n >= HDR_LEN && memcmp(h, MAGIC, sizeof MAGIC) != 0)
		return (size_t)1 << 20; /* enough for decode to say what it is not */
	if (n >= HDR_LEN) {
		nch = get64(h + O_NCHUNKS);
		tz = get64(h + O_TABLEZ);
		uint32_t cs = get32(h + O_CHUNK);
		uint64_t size = get64(h + O_SIZE);
		/* A header that does not hold together earns no trust in its sizes. */
		if (!hs_chunk_size_valid(cs) || size > HS_IMAGE_MAX_SIZE || nch != (size + cs - 1) / cs)
			return (size_t)1 << 20;
	}
	if (nch > HS_INDEX_MAX_CHUNKS)
		nch = HS_INDEX_MAX_CHUNKS;
	size_t bound = ZSTD_compressBound((size_t)nch * HS_DIGEST_LEN);
	return HDR_LEN + (tz < bound ? (size_t)tz : bound) + HS_DIGEST_LEN + 4096;
}

/* A header string field: NUL-terminated within its slot. */
static int field_str(const unsigned char *p, size_t slot, char *out, size_t cap)
{
	size_t n = strnlen((const char *)p, slot);
	if (n == slot || n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

int hs_index_decode(const void *p, size_t n, const char *what, struct hs_index **out)
{
	const unsigned char *h = p;
	if (n < sizeof MAGIC || memcmp(h, MAGIC, sizeof MAGIC) != 0)
		return hs_err(EBADMSG, "%s is not a hotspare point index (wrong magic)", what);
	if (n < HDR_LEN + HS_DIGEST_LEN)
		return hs_err(EBADMSG, "%s is truncated (%zu bytes, header alone is %d)", what, n, HDR_LEN);
	uint32_t version = get32(h + O_VERSION);
	if (version != HS_INDEX_VERSION)
		return hs_err(EPROTONOSUPPORT, "%s has index format version %u; this hotspare reads version %d",
			      what, version, HS_INDEX_VERSION);
	uint64_t tz = get64(h + O_TABLEZ);
	if (get32(h + O_HDRLEN) != HDR_LEN || tz > n || HDR_LEN + tz + HS_DIGEST_LEN > n) {
		if (tz <= n && HDR_LEN + tz + HS_DIGEST_LEN > n)
			return hs_err(EBADMSG, "%s is truncated (%zu of %llu bytes)", what, n,
				      (unsigned long long)(HDR_LEN + tz + HS_DIGEST_LEN));
		return hs_err(EBADMSG, "%s is corrupt (bad header lengths)", what);
	}
	if (HDR_LEN + tz + HS_DIGEST_LEN != n)
		return hs_err(EBADMSG, "%s is corrupt (%zu bytes, expected %llu)", what, n,
			      (unsigned long long)(HDR_LEN + tz + HS_DIGEST_LEN));
	struct hs_digest sum;
	hs_digest_compute(h, HDR_LEN + tz, &sum);
	if (memcmp(sum.b, h + HDR_LEN + tz, HS_DIGEST_LEN) != 0)
		return hs_err(EBADMSG, "%s is corrupt (checksum mismatch)", what);

	uint32_t kind = get32(h + O_KIND), cs = get32(h + O_CHUNK);
	uint64_t size = get64(h + O_SIZE), nch = get64(h + O_NCHUNKS);
	if (kind != HS_KIND_SNAPSHOT && kind != HS_KIND_BACKUP)
		return hs_err(EBADMSG, "%s is corrupt (unknown point kind %u)", what, kind);
	if (!hs_chunk_size_valid(cs))
		return hs_err(EBADMSG, "%s is corrupt (chunk size %u)", what, cs);
	if (size > HS_IMAGE_MAX_SIZE || nch != (size + cs - 1) / cs || nch > HS_INDEX_MAX_CHUNKS)
		return hs_err(EBADMSG, "%s is corrupt (image size %llu with %llu chunks)", what,
			      (unsigned long long)size, (unsigned long long)nch);
	_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
	int r = hs_index_new(size, cs, &ix);
	if (r < 0)
		return r;
	ix->kind = kind;
	ix->time = (int64_t)get64(h + O_TIME);
	ix->new_bytes = get64(h + O_NEW);
	ix->ship_bytes = get64(h + O_SHIP);
	if (field_str(h + O_ID, O_BASE - O_ID, ix->id, sizeof ix->id) < 0 ||
	    field_str(h + O_BASE, O_SERVER - O_BASE, ix->base, sizeof ix->base) < 0 ||
	    field_str(h + O_SERVER, O_END - O_SERVER, ix->server, sizeof ix->server) < 0)
		return hs_err(EBADMSG, "%s is corrupt (bad name fields)", what);
	time_t t;
	if (hs_server_name_check(ix->server) < 0 || hs_point_id_parse(ix->id, &t) < 0 ||
	    (ix->base[0] && hs_point_id_parse(ix->base, &t) < 0))
		return hs_err(EBADMSG, "%s is corrupt (bad server name or point id)", what);
	size_t tlen = nch * HS_DIGEST_LEN;
	unsigned long long declared = ZSTD_getFrameContentSize(h + HDR_LEN, tz);
	if (declared != tlen)
		return hs_err(EBADMSG, "%s is corrupt (digest table of %llu bytes, expected %zu)", what,
			      declared, tlen);
	size_t got = ZSTD_decompress(ix->digests, tlen ? tlen : 1, h + HDR_LEN, tz);
	if (ZSTD_isError(got) || got != tlen)
		return hs_err(EBADMSG, "%s is corrupt (digest table does not decompress)", what);
	*out = HS_TAKE(ix);
	return 0;
}
