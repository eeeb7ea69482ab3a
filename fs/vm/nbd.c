/* NBD exports read as capture disks; see nbd.h. */
#include "vm/nbd.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <libnbd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Sorted, disjoint, merged byte ranges [start, end). */
struct ranges {
	uint64_t *start, *end;
	size_t n, cap;
};

struct hs_nbd_disk {
	char *socket, *export, *what;
	struct hs_capture_reader reader;
	struct ranges zero, dirty;
	bool incremental;
	atomic_uint_fast64_t bytes_read;
	/* pool_lock protects the idle connections */
	pthread_mutex_t pool_lock;
	struct nbd_handle **idle;
	size_t nidle, cap;
};

static int ranges_add(struct ranges *r, uint64_t a, uint64_t b)
{
	if (a >= b)
		return 0;
	if (r->n && r->end[r->n - 1] == a) { /* the map comes in order: merge */
		r->end[r->n - 1] = b;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		uint64_t *s = realloc(r->start, cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		r->start = s;
		uint64_t *e = realloc(r->end, cap * sizeof *e);
		if (!e)
			return -ENOMEM;
		r->end = e;
		r->cap = cap;
	}
	r->start[r->n] = a;
	r->end[r->n] = b;
	r->n++;
	return 0;
}

/* The first range that ends after off (n if none). */
static size_t ranges_after(const struct ranges *r, uint64_t off)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->end[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether [off, off + len) lies inside one range. */
static bool ranges_cover(const struct ranges *r, uint64_t off, uint64_t len)
{
	size_t i = ranges_after(r, off);
	return i < r->n && r->start[i] <= off && r->end[i] >= off + len;
}

/* Whether [off, off + len) meets any range. */
static bool ranges_meet(const struct ranges *r, uint64_t off, uint64_t len)
{
	size_t i = ranges_after(r, off);
	return i < r->n && r->start[i] < off + len;
}

static uint64_t ranges_bytes(const struct ranges *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->n; i++)
		n += r->end[i] - r->start[i];
	return n;
}

static void ranges_free(struct ranges *r)
{
	free(r->start);
	free(r->end);
}

static int nbd_fail(struct hs_nbd_disk *d, const char *doing)
{
	int e = nbd_get_errno();
	const char *m = nbd_get_error();
	return hs_err(e > 0 ? e : EIO, "%s: cannot %s: %s", d->what, doing, m ? m : "unknown NBD error");
}

/* A new connection to the export, with the maps' contexts when asked. */
static int connect_one(struct hs_nbd_disk *d, const char *bitmap, bool maps, struct nbd_handle **out)
{
	struct nbd_handle *h = nbd_create();
	if (!h)
		return nbd_fail(d, "start an NBD client");
	/* libnbd zeroes each read's buffer first unless told not to: a
	 * successful read fills it whole, and a failed one is never used. */
	int r = nbd_set_pread_initialize(h, false);
	if (r == 0)
		r = nbd_set_export_name(h, d->export);
	if (r == 0 && maps)
		r = nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION);
	if (r == 0 && maps && bitmap)
		r = nbd_add_meta_context(h, bitmap);
	if (r == 0)
		r = nbd_connect_unix(h, d->socket);
	if (r < 0) {
		r = nbd_fail(d, "connect to its NBD export");
		nbd_close(h);
		return r;
	}
	*out = h;
	return 0;
}

struct map_walk {
	struct hs_nbd_disk *d;
	const char *bitmap;
	uint64_t zero_to, dirty_to; /* how far each context has been told */
	int err;
};

static int on_extents(void *arg, const char *ctx, uint64_t off, uint32_t *e, size_t n, int *error)
{
	(void)error;
	struct map_walk *w = arg;
	bool zero = strcmp(ctx, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0;
	if (!zero && (!w->bitmap || strcmp(ctx, w->bitmap) != 0))
		return 0;
	struct ranges *r = zero ? &w->d->zero : &w->d->dirty;
	for (size_t i = 0; i + 1 < n && w->err == 0; i += 2) {
		uint64_t len = e[i];
		bool set = zero ? (e[i + 1] & LIBNBD_STATE_ZERO) != 0 : (e[i + 1] & 1) != 0;
		if (set)
			w->err = ranges_add(r, off, off + len);
		off += len;
	}
	if (zero)
		w->zero_to = off;
	else
		w->dirty_to = off;
	return 0;
}

/* Read the export's maps from start to end. */
static int read_maps(struct hs_nbd_disk *d, struct nbd_handle *h, const char *bitmap, uint64_t size)
{
	struct map_walk w = { .d = d, .bitmap = bitmap };
	uint64_t off = 0;
	while (off < size) {
		uint64_t ask = size - off < (1u << 30) ? size - off : (1u << 30);
		w.zero_to = w.dirty_to = off;
		nbd_extent_callback cb = { .callback = on_extents, .user_data = &w };
		if (nbd_block_status(h, ask, off, cb, 0) < 0)
			return nbd_fail(d, "read the map of its export");
		if (w.err < 0)
			return w.err;
		/* Both contexts are told at least one extent; go on from the shorter. */
		uint64_t to = w.zero_to;
		if (bitmap && w.dirty_to < to)
			to = w.dirty_to;
		if (to <= off)
			return hs_err(EPROTO, "%s: its NBD export's map makes no progress at offset %llu", d->what,
				      (unsigned long long)off);
		off = to;
	}
	return 0;
}

static struct nbd_handle *pool_get(struct hs_nbd_disk *d)
{
	HS_LOCK_SCOPE(&d->pool_lock);
	return d->nidle ? d->idle[--d->nidle] : NULL;
}

static void pool_put(struct hs_nbd_disk *d, struct nbd_handle *h)
{
	pthread_mutex_lock(&d->pool_lock);
	if (d->nidle == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct nbd_handle **v = realloc(d->idle, cap * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&d->pool_lock);
			nbd_close(h);
			return;
		}
		d->idle = v;
		d->cap = cap;
	}
	d->idle[d->nidle++] = h;
	pthread_mutex_unlock(&d->pool_lock);
}

static int reader_read(void *ctx, void *buf, uint32_t len, uint64_t off)
{
	struct hs_nbd_disk *d = ctx;
	struct nbd_handle *h = pool_get(d);
	int r = h ? 0 : connect_one(d, NULL, false, &h);
	if (r < 0)
		return r;
	if (nbd_pread(h, buf, len, off, 0) < 0) {
		char doing[64];
		snprintf(doing, sizeof doing, "read at offset %llu", (unsigned long long)off);
		r = nbd_fail(d, doing);
		nbd_close(h); /* a connection that failed is not reused */
		return r;
	}
	atomic_fetch_add(&d->bytes_read, len);
	pool_put(d, h);
	return 0;
}

static int reader_zero(void *ctx, uint64_t off, uint32_t len)
{
	struct hs_nbd_disk *d = ctx;
	return ranges_cover(&d->zero, off, len);
}

static int reader_changed(void *ctx, uint64_t off, uint32_t len)
{
	struct hs_nbd_disk *d = ctx;
	return ranges_meet(&d->dirty, off, len);
}

int hs_nbd_open(const char *socket, const char *export, const char *bitmap, const char *what,
		struct hs_nbd_disk **out)
{
	struct hs_nbd_disk *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->pool_lock, NULL);
	d->socket = strdup(socket);
	d->export = strdup(export);
	d->what = strdup(what);
	if (!d->socket || !d->export || !d->what) {
		hs_nbd_close(d);
		return -ENOMEM;
	}
	struct nbd_handle *h = NULL;
	int r = connect_one(d, bitmap, true, &h);
	int64_t size = r == 0 ? nbd_get_size(h) : 0;
	if (r == 0 && size < 0)
		r = nbd_fail(d, "get the size of its export");
	if (r == 0 && bitmap && nbd_can_meta_context(h, bitmap) != 1)
		r = hs_err(ENOTSUP, "%s: its NBD export offers no %s", what, bitmap);
	if (r == 0 && nbd_can_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1)
		r = read_maps(d, h, bitmap, (uint64_t)size);
	if (r < 0) {
		if (h)
			nbd_close(h);
		hs_nbd_close(d);
		return r;
	}
	pool_put(d, h);
	d->incremental = bitmap != NULL;
	d->reader = (struct hs_capture_reader){
		.ctx = d,
		.size = (uint64_t)size,
		.read = reader_read,
		.zero = reader_zero,
		.changed = bitmap ? reader_changed : NULL,
	};
	*out = d;
	return 0;
}

const struct hs_capture_reader *hs_nbd_reader(struct hs_nbd_disk *d)
{
	return &d->reader;
}

uint64_t hs_nbd_bytes_read(const struct hs_nbd_disk *d)
{
	return atomic_load(&d->bytes_read);
}

uint64_t hs_nbd_dirty_bytes(const struct hs_nbd_disk *d)
{
	return d->incremental ? ranges_bytes(&d->dirty) : 0;
}

void hs_nbd_close(struct hs_nbd_disk *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nidle; i++)
		nbd_close(d->idle[i]);
	free(d->idle);
	pthread_mutex_destroy(&d->pool_lock);
	ranges_free(&d->zero);
	ranges_free(&d->dirty);
	free(d->socket);
	free(d->export);
	free(d->what);
	free(d);
}
