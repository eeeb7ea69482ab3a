/* Store format version 1 to 2; see upgrade.h. The version 1 index decoder
 * lives here, the only place that still reads that format. */
#include "jobs/upgrade.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/store.h"
#include <endian.h>
#include <string.h>
#include <zstd.h>

/* Version 1 index: a 256-byte header, the zstd digest table, a SHA-256 over both. */
#define V1_HDR 256
static const char V1_MAGIC[8] = "HSPOINT";
enum {
	O_VERSION = 8, O_KIND = 12, O_CHUNK = 16, O_HDRLEN = 20, O_SIZE = 24, O_NCHUNKS = 32, O_TIME = 40,
	O_NEW = 48, O_SHIP = 56, O_TABLEZ = 64, O_ID = 72, O_BASE = 96, O_SERVER = 120, O_END = 192,
};

static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

static int field_str(const unsigned char *p, size_t slot, char *out, size_t cap)
{
	size_t n = strnlen((const char *)p, slot);
	if (n == slot || n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

static int v1_decode(const unsigned char *h, size_t n, const char *what, struct hs_index **out)
{
	if (n < V1_HDR + HS_DIGEST_LEN || get32(h + O_VERSION) != 1 || get32(h + O_HDRLEN) != V1_HDR)
		return hs_err(EBADMSG, "%s is not a version 1 index (truncated or corrupt header)", what);
	uint64_t tz = get64(h + O_TABLEZ);
	if (tz > n || V1_HDR + tz + HS_DIGEST_LEN != n)
		return hs_err(EBADMSG, "%s is truncated or corrupt (%zu bytes)", what, n);
	struct hs_digest sum;
	hs_digest_compute(h, V1_HDR + tz, &sum);
	if (memcmp(sum.b, h + V1_HDR + tz, HS_DIGEST_LEN) != 0)
		return hs_err(EBADMSG, "%s is corrupt (checksum mismatch)", what);
	uint32_t kind = get32(h + O_KIND), cs = get32(h + O_CHUNK);
	uint64_t size = get64(h + O_SIZE), nch = get64(h + O_NCHUNKS);
	if ((kind != HS_KIND_SNAPSHOT && kind != HS_KIND_BACKUP) || !hs_chunk_size_valid(cs) ||
	    size > HS_IMAGE_MAX_SIZE || nch != (size + cs - 1) / cs || nch > HS_INDEX_MAX_CHUNKS)
		return hs_err(EBADMSG, "%s is corrupt (kind, chunk size or image size)", what);
	_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
	int r = hs_index_new(size, cs, &ix);
	if (r < 0)
		return r;
	ix->kind = kind;
	ix->time = (int64_t)get64(h + O_TIME);
	ix->new_bytes = get64(h + O_NEW);
	ix->ship_bytes = get64(h + O_SHIP);
	ix->read_bytes = size;
	ix->consistency = HS_CONSISTENCY_UNKNOWN; /* version 1 did not record it */
	time_t t;
	if (field_str(h + O_ID, O_BASE - O_ID, ix->id, sizeof ix->id) < 0 ||
	    field_str(h + O_BASE, O_SERVER - O_BASE, ix->base, sizeof ix->base) < 0 ||
	    field_str(h + O_SERVER, O_END - O_SERVER, ix->server, sizeof ix->server) < 0 ||
	    hs_server_name_check(ix->server) < 0 || hs_point_id_parse(ix->id, &t) < 0 ||
	    (ix->base[0] && hs_point_id_parse(ix->base, &t) < 0)) {
		hs_err_clear();
		return hs_err(EBADMSG, "%s is corrupt (bad server name or point id)", what);
	}
	size_t tlen = nch * HS_DIGEST_LEN;
	if (ZSTD_getFrameContentSize(h + V1_HDR, tz) != tlen ||
	    ZSTD_decompress(ix->digests, tlen ? tlen : 1, h + V1_HDR, tz) != tlen)
		return hs_err(EBADMSG, "%s is corrupt (digest table does not decompress)", what);
	*out = HS_TAKE(ix);
	return 0;
}

/* Convert one point, unless it already is version 2. 1 if converted, 0 if not needed. */
static int convert(struct hs_store *st, const char *server, const char *id)
{
	char key[160], what[512];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	snprintf(what, sizeof what, "point %s@%s in %s", server, id, st->be->where);
	struct hs_buf b = { 0 };
	int r = st->be->ops->get(st->be, key, &b);
	if (r < 0) {
		hs_buf_free(&b);
		return r == -ENOENT ? hs_err(ENOENT, "%s disappeared during the upgrade", what) : r;
	}
	if (b.len >= 8 && memcmp(b.data, "HSPOINT2", 8) == 0) {
		hs_buf_free(&b);
		return 0;
	}
	if (b.len < 8 || memcmp(b.data, V1_MAGIC, 8) != 0) {
		hs_buf_free(&b);
		return hs_err(EBADMSG, "%s is not a hotspare point (wrong magic)", what);
	}
	_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
	r = v1_decode(b.data, b.len, what, &ix);
	hs_buf_free(&b);
	if (r == 0 && (strcmp(ix->server, server) != 0 || strcmp(ix->id, id) != 0))
		r = hs_err(EBADMSG, "%s is corrupt (it names another point)", what);
	if (r < 0)
		return r;
	struct hs_point *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	hs_point_of_index(ix, p);
	p->chunk_size = st->chunk_size; /* an index of another chunk size is refused by the encoder */
	r = hs_point_encode(NULL, p, &ix, &b);
	free(p);
	/* Replaced atomically: a reader sees the old object or the new one. */
	if (r == 0)
		r = st->be->ops->put(st->be, key, b.data, b.len, 0);
	hs_buf_free(&b);
	return r < 0 ? r : 1;
}

int hs_upgrade(const char *where, struct hs_upgrade_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	_cleanup_(hs_store_close_p) struct hs_store *st = NULL;
	int r = hs_store_open_flags(where, HS_OPEN_ANY_VERSION | HS_OPEN_NOKEY, &st);
	if (r < 0)
		return r;
	stats->from_version = st->version;
	if (st->version == HS_STORE_VERSION)
		return 0;
	_cleanup_(hs_strv_free_p) char **servers = NULL;
	size_t ns;
	r = hs_store_servers_list(st, &servers, &ns);
	for (size_t i = 0; r == 0 && i < ns; i++) {
		int lock = -1;
		_cleanup_(hs_strv_free_p) char **ids = NULL;
		size_t n;
		r = hs_store_lock_server(st, servers[i], &lock);
		if (r == 0)
			r = hs_store_points_list(st, servers[i], &ids, &n);
		for (size_t k = 0; r == 0 && k < n; k++) {
			int c = convert(st, servers[i], ids[k]);
			if (c < 0)
				r = c;
			else if (c)
				stats->points_converted++;
			else
				stats->points_already++;
		}
		if (lock >= 0)
			hs_store_unlock(st, lock);
		stats->servers++;
	}
	if (r == 0)
		r = hs_store_sync(st);
	/* The description last: until it says 2, the store is version 1 to every reader. */
	if (r == 0)
		r = hs_store_upgrade_desc(st);
	return r;
}
