/* Digest tables kept in the state; see table.h. */
#include "spare/table.h"
#include "basics/cleanup.h"
#include "basics/device.h"
#include "basics/err.h"
#include "store/point.h"
#include "store/store.h"
#include <endian.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char MAGIC[8] = "HSDTABL1";
#define VERSION 1
#define HDR 4096u
#define BLOCK (HS_TABLE_PER_BLOCK * HS_DIGEST_LEN)
#define RUN_BLOCKS 256u /* blocks a bulk read or write moves at once: 1 MiB */

/* Header layout. */
enum {
	H_MAGIC = 0, H_VERSION = 8, H_HDRLEN = 12, H_NCHUNKS = 16, H_SIZE = 24, H_CHUNK = 32, H_PER_BLOCK = 36,
	H_ZERO_OFF = 40, H_SUMS_OFF = 48, H_DIGESTS_OFF = 56, H_MADE_FROM = 64, H_CONTENT = 96, H_ZERO_SUM = 128,
	H_SERVER = 160, H_ID = 232, H_DISK = 256, H_DISK_END = 296, H_SUM = HDR - 32,
};
_Static_assert(HS_SERVER_MAX < H_ID - H_SERVER, "server field");
_Static_assert(HS_POINT_ID_LEN < H_DISK - H_ID, "id field");
_Static_assert(HS_DISK_MAX < H_DISK_END - H_DISK, "disk field");
_Static_assert(BLOCK == 4096, "a block is a page");

static void put32(unsigned char *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

static uint64_t round_up(uint64_t n) { return (n + HDR - 1) / HDR * HDR; }

/* Where each region of a table of n chunks lies. */
struct layout {
	uint64_t nwords, nblocks, zero_off, zero_len, sums_off, sums_len, digests_off, size;
};

static void layout_of(uint64_t n, struct layout *l)
{
	l->nwords = (n + 63) / 64;
	l->nblocks = (n + HS_TABLE_PER_BLOCK - 1) / HS_TABLE_PER_BLOCK;
	l->zero_off = HDR;
	l->zero_len = l->nwords * 8;
	l->sums_off = l->zero_off + round_up(l->zero_len);
	l->sums_len = l->nblocks * HS_TABLE_SUM_LEN;
	l->digests_off = l->sums_off + round_up(l->sums_len);
	l->size = l->digests_off + n * HS_DIGEST_LEN;
}

static size_t block_len(const struct hs_table *t, uint64_t b)
{
	uint64_t left = (t->nchunks - b * HS_TABLE_PER_BLOCK) * HS_DIGEST_LEN;
	return left < BLOCK ? (size_t)left : BLOCK;
}

/* A block's sum binds its number too: a block read from the wrong place
 * fails. A block of zero chunks only (all zeros: a hole in the file) has the
 * sum zero, so a sparse table costs no hashing; any other bytes in its place
 * hash to something else. */
static void block_sum(uint64_t b, const void *p, size_t n, uint8_t out[HS_TABLE_SUM_LEN])
{
	if (hs_is_zero(p, n)) {
		memset(out, 0, HS_TABLE_SUM_LEN);
		return;
	}
	unsigned char buf[8 + BLOCK];
	put64(buf, b);
	memcpy(buf + 8, p, n);
	struct hs_digest d;
	hs_digest_compute(buf, 8 + n, &d);
	memcpy(out, d.b, HS_TABLE_SUM_LEN);
}

static bool block_ok(const struct hs_table *t, uint64_t b, const void *p, size_t n)
{
	uint8_t s[HS_TABLE_SUM_LEN];
	block_sum(b, p, n, s);
	return memcmp(s, t->sums[b], sizeof s) == 0;
}

static void count_data(struct hs_table *t)
{
	uint64_t zero = 0;
	for (uint64_t w = 0; w < (t->nchunks + 63) / 64; w++)
		zero += (uint64_t)__builtin_popcountll(t->zero[w]);
	t->data_bytes = (t->nchunks - zero) * t->chunk_size;
	if (t->nchunks && !hs_table_zero(t, t->nchunks - 1))
		t->data_bytes -= t->nchunks * (uint64_t)t->chunk_size - t->image_size;
}

static struct hs_table *table_alloc(void)
{
	struct hs_table *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->fd = -1;
	pthread_mutex_init(&t->repair_lock, NULL);
	return t;
}

void hs_table_close(struct hs_table *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	pthread_mutex_destroy(&t->repair_lock);
	free(t->path);
	free(t->zero);
	free(t->sums);
	free(t);
}

static void hs_table_close_p(struct hs_table **t) { hs_table_close(*t); }

static void set_identity(struct hs_table *t, const struct hs_index *ix)
{
	snprintf(t->server, sizeof t->server, "%s", ix->server);
	snprintf(t->id, sizeof t->id, "%s", ix->id);
	snprintf(t->disk, sizeof t->disk, "%s", ix->disk);
	t->image_size = ix->image_size;
	t->chunk_size = ix->chunk_size;
	t->nchunks = ix->nchunks;
	t->nblocks = (ix->nchunks + HS_TABLE_PER_BLOCK - 1) / HS_TABLE_PER_BLOCK;
}

/* A table (no file yet) describing ix's digests: zero map, sums, checksums. */
static int table_of(const struct hs_index *ix, const uint8_t made_from[32], struct hs_table **out)
{
	_cleanup_(hs_table_close_p) struct hs_table *t = table_alloc();
	if (!t)
		return -ENOMEM;
	set_identity(t, ix);
	struct layout l;
	layout_of(ix->nchunks, &l);
	t->digests_off = l.digests_off;
	t->zero = calloc(l.nwords ? l.nwords : 1, 8);
	t->sums = malloc(l.nblocks ? l.sums_len : 1);
	if (!t->zero || !t->sums)
		return -ENOMEM;
	for (uint64_t i = 0; i < ix->nchunks; i++)
		if (hs_digest_is_zero(&ix->digests[i]))
			t->zero[i / 64] |= 1ull << (i % 64);
	const unsigned char *d = (const unsigned char *)ix->digests;
	for (uint64_t b = 0; b < l.nblocks; b++)
		block_sum(b, d + b * BLOCK, block_len(t, b), t->sums[b]);
	struct hs_digest s;
	hs_digest_compute(t->sums, l.sums_len, &s);
	memcpy(t->content, s.b, 32);
	hs_digest_compute(t->zero, l.zero_len, &s);
	memcpy(t->zero_sum, s.b, 32);
	if (made_from)
		memcpy(t->made_from, made_from, 32);
	count_data(t);
	*out = HS_TAKE(t);
	return 0;
}

static void encode_header(const struct hs_table *t, unsigned char h[HDR])
{
	struct layout l;
	layout_of(t->nchunks, &l);
	memset(h, 0, HDR);
	memcpy(h + H_MAGIC, MAGIC, sizeof MAGIC);
	put32(h + H_VERSION, VERSION);
	put32(h + H_HDRLEN, HDR);
	put64(h + H_NCHUNKS, t->nchunks);
	put64(h + H_SIZE, t->image_size);
	put32(h + H_CHUNK, t->chunk_size);
	put32(h + H_PER_BLOCK, HS_TABLE_PER_BLOCK);
	put64(h + H_ZERO_OFF, l.zero_off);
	put64(h + H_SUMS_OFF, l.sums_off);
	put64(h + H_DIGESTS_OFF, l.digests_off);
	memcpy(h + H_MADE_FROM, t->made_from, 32);
	memcpy(h + H_CONTENT, t->content, 32);
	memcpy(h + H_ZERO_SUM, t->zero_sum, 32);
	memcpy(h + H_SERVER, t->server, strlen(t->server));
	memcpy(h + H_ID, t->id, strlen(t->id));
	memcpy(h + H_DISK, t->disk, strlen(t->disk));
	struct hs_digest s;
	hs_digest_compute(h, HDR, &s);
	memcpy(h + H_SUM, s.b, 32);
}

/* Write the header, the zero map and the sums of t at their places in fd. */
static int write_meta(int fd, const struct hs_table *t)
{
	struct layout l;
	layout_of(t->nchunks, &l);
	unsigned char h[HDR];
	encode_header(t, h);
	int r = hs_pwrite_full(fd, h, HDR, 0);
	if (r == 0)
		r = hs_pwrite_full(fd, t->zero, l.zero_len, l.zero_off);
	if (r == 0)
		r = hs_pwrite_full(fd, t->sums, l.sums_len, l.sums_off);
	return r;
}

/* Write t's file (digests d) as name in dirfd: a temporary, renamed over. */
static int write_file(int dirfd, const char *dir, const char *name, const struct hs_table *t,
		      const struct hs_digest *d, bool durable)
{
	struct layout l;
	layout_of(t->nchunks, &l);
	char tmp[64];
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	unlinkat(dirfd, tmp, 0); /* a killed writer's, or anything planted there */
	int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return hs_err(errno, "cannot create %s/%s: %s", dir, tmp, strerror(errno));
	int r = ftruncate(fd, (off_t)l.size) < 0 ? -errno : 0;
	if (r == 0)
		r = write_meta(fd, t);
	/* Blocks of zero chunks only stay holes: a sparse point costs no space. */
	const unsigned char *p = (const unsigned char *)d;
	for (uint64_t b = 0; r == 0 && b < l.nblocks;) {
		if (hs_is_zero(p + b * BLOCK, block_len(t, b))) {
			b++;
			continue;
		}
		uint64_t e = b + 1;
		while (e < l.nblocks && e - b < RUN_BLOCKS && !hs_is_zero(p + e * BLOCK, block_len(t, e)))
			e++;
		size_t n = (size_t)((e - b - 1) * BLOCK + block_len(t, e - 1));
		r = hs_pwrite_full(fd, p + b * BLOCK, n, l.digests_off + b * BLOCK);
		b = e;
	}
	if (r == 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r == 0 && durable && fsync(dirfd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return hs_err(-r, "cannot write %s/%s: %s", dir, name, strerror(-r));
	}
	return 0;
}

/* A string field: NUL-terminated within its slot, zeros after it. */
static bool field_is(const unsigned char *p, size_t slot, const char *want)
{
	size_t n = strlen(want);
	if (n >= slot || memcmp(p, want, n) != 0)
		return false;
	for (size_t i = n; i < slot; i++)
		if (p[i])
			return false;
	return true;
}

/* Open the file name in dirfd as the table want describes (its identity,
 * and its content or what it was made from): 0; -ENOENT (no file);
 * -ESTALE (a table of something else); -EBADMSG (damaged); or -errno. */
static int open_file(int dirfd, const char *dir, const char *name, const struct hs_table *want, bool by_content,
		     struct hs_table **out)
{
	_cleanup_(hs_table_close_p) struct hs_table *t = table_alloc();
	if (!t || asprintf(&t->path, "%s/%s", dir, name) < 0) {
		if (t)
			t->path = NULL;
		return -ENOMEM;
	}
	t->fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (t->fd < 0)
		return errno == ENOENT ? -ENOENT : hs_err(errno, "cannot open %s: %s", t->path, strerror(errno));
	unsigned char h[HDR];
	ssize_t got = hs_pread_full(t->fd, h, HDR, 0);
	if (got < 0)
		return hs_err((int)-got, "cannot read %s: %s", t->path, strerror((int)-got));
	if ((size_t)got < HDR || memcmp(h + H_MAGIC, MAGIC, sizeof MAGIC) != 0)
		return hs_err(EBADMSG, "%s is damaged (no table header)", t->path);
	uint8_t sum[32];
	memcpy(sum, h + H_SUM, 32);
	memset(h + H_SUM, 0, 32);
	struct hs_digest s;
	hs_digest_compute(h, HDR, &s);
	if (memcmp(s.b, sum, 32) != 0)
		return hs_err(EBADMSG, "%s is damaged (header checksum mismatch)", t->path);
	if (get32(h + H_VERSION) != VERSION || get32(h + H_HDRLEN) != HDR ||
	    get32(h + H_PER_BLOCK) != HS_TABLE_PER_BLOCK)
		return hs_err(ESTALE, "%s has another table format", t->path);
	if (get64(h + H_NCHUNKS) != want->nchunks || get64(h + H_SIZE) != want->image_size ||
	    get32(h + H_CHUNK) != want->chunk_size || !field_is(h + H_SERVER, H_ID - H_SERVER, want->server) ||
	    !field_is(h + H_ID, H_DISK - H_ID, want->id) || !field_is(h + H_DISK, H_DISK_END - H_DISK, want->disk))
		return hs_err(ESTALE, "%s holds the table of another disk", t->path);
	if (by_content ? memcmp(h + H_CONTENT, want->content, 32) != 0
		       : memcmp(h + H_MADE_FROM, want->made_from, 32) != 0)
		return hs_err(ESTALE, "%s holds another table of %s@%s", t->path, want->server, want->id);
	set_identity(t, &(struct hs_index){ .image_size = want->image_size, .chunk_size = want->chunk_size,
					    .nchunks = want->nchunks });
	memcpy(t->server, want->server, sizeof t->server);
	memcpy(t->id, want->id, sizeof t->id);
	memcpy(t->disk, want->disk, sizeof t->disk);
	memcpy(t->made_from, h + H_MADE_FROM, 32);
	memcpy(t->content, h + H_CONTENT, 32);
	memcpy(t->zero_sum, h + H_ZERO_SUM, 32);
	struct layout l;
	layout_of(t->nchunks, &l);
	struct stat st;
	if (fstat(t->fd, &st) < 0)
		return hs_err(errno, "cannot stat %s: %s", t->path, strerror(errno));
	if (get64(h + H_ZERO_OFF) != l.zero_off || get64(h + H_SUMS_OFF) != l.sums_off ||
	    get64(h + H_DIGESTS_OFF) != l.digests_off)
		return hs_err(EBADMSG, "%s is damaged (region offsets)", t->path);
	if ((uint64_t)st.st_size != l.size)
		return hs_err(EBADMSG, "%s is damaged (%llu bytes, not %llu)", t->path,
			      (unsigned long long)st.st_size, (unsigned long long)l.size);
	t->digests_off = l.digests_off;
	t->zero = malloc(l.nwords ? l.zero_len : 8);
	t->sums = malloc(l.nblocks ? l.sums_len : 1);
	if (!t->zero || !t->sums)
		return -ENOMEM;
	t->zero[0] = 0;
	if ((got = hs_pread_full(t->fd, t->zero, l.zero_len, l.zero_off)) != (ssize_t)l.zero_len ||
	    (got = hs_pread_full(t->fd, t->sums, l.sums_len, l.sums_off)) != (ssize_t)l.sums_len)
		return got < 0 ? hs_err((int)-got, "cannot read %s: %s", t->path, strerror((int)-got))
			       : hs_err(EBADMSG, "%s is damaged (short)", t->path);
	hs_digest_compute(t->zero, l.zero_len, &s);
	bool ok = memcmp(s.b, t->zero_sum, 32) == 0;
	hs_digest_compute(t->sums, l.sums_len, &s);
	ok &= memcmp(s.b, t->content, 32) == 0;
	/* The bits past the last chunk are clear. */
	if (ok && t->nchunks % 64)
		ok = (t->zero[l.nwords - 1] >> (t->nchunks % 64)) == 0;
	if (!ok)
		return hs_err(EBADMSG, "%s is damaged (zero map or block checksums)", t->path);
	count_data(t);
	*out = HS_TAKE(t);
	return 0;
}

void hs_table_forget(int dirfd, const char *name)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	unlinkat(dirfd, name, 0);
	unlinkat(dirfd, tmp, 0);
}

int hs_table_head_index(const struct hs_point *p, unsigned k, struct hs_index **out)
{
	const struct hs_point_disk *d = &p->disks[k];
	if (!hs_chunk_size_valid(p->chunk_size) || d->size > HS_IMAGE_MAX_SIZE)
		return hs_err(EINVAL, "disk %s of %s@%s has absurd sizes", d->name, p->server, p->id);
	struct hs_index *ix = calloc(1, sizeof *ix);
	if (!ix)
		return -ENOMEM;
	hs_point_disk_fields(p, k, ix);
	ix->chunk_size = p->chunk_size;
	ix->image_size = d->size;
	ix->nchunks = (d->size + p->chunk_size - 1) / p->chunk_size;
	*out = ix;
	return 0;
}

/* Give back to the system what a whole table in memory left behind: the
 * daemon forks after loading, and would carry the parent's freed pages. */
static void release_heap(void) { malloc_trim(0); }

/* Write ix's table as name in dirfd, then open it as want says. */
static int make(int dirfd, const char *dir, const char *name, const struct hs_index *ix, struct hs_table *t,
		bool durable, bool by_content, struct hs_table **out)
{
	int r = write_file(dirfd, dir, name, t, ix->digests, durable);
	if (r == 0)
		r = open_file(dirfd, dir, name, t, by_content, out);
	return r;
}

int hs_table_load(int dirfd, const char *dir, struct hs_store *st, const struct hs_point *p, unsigned k,
		  struct hs_table **out)
{
	_cleanup_(hs_index_free_p) struct hs_index *head = NULL;
	int r = hs_table_head_index(p, k, &head);
	if (r < 0)
		return r;
	_cleanup_(hs_table_close_p) struct hs_table *want = table_alloc();
	if (!want)
		return -ENOMEM;
	set_identity(want, head);
	memcpy(want->made_from, p->disks[k].table_sum, 32);
	r = open_file(dirfd, dir, HS_TABLE_FILE, want, false, out);
	if (r == 0) {
		(*out)->st = st;
		return 0;
	}
	if (r == -ENOMEM)
		return r;
	/* Absent (a state made before tables were kept, or a new one), made
	 * from another copy of the table, or damaged: made again. */
	char why[512] = "";
	if (r == -EBADMSG)
		snprintf(why, sizeof why, "%s", hs_err_msg() ? hs_err_msg() : "damaged");
	hs_err_clear();
	struct hs_index *ix = NULL;
	r = hs_store_point_disk(st, p, k, &ix);
	_cleanup_(hs_table_close_p) struct hs_table *t = NULL;
	if (r == 0)
		r = table_of(ix, p->disks[k].table_sum, &t);
	if (r == 0)
		r = make(dirfd, dir, HS_TABLE_FILE, ix, t, true, false, out);
	hs_index_free(ix);
	release_heap();
	if (r < 0)
		return r;
	(*out)->st = st;
	if (why[0])
		hs_note("%s: made again from the store", why);
	return 0;
}

int hs_table_from_index(int dirfd, const char *dir, const char *name, const struct hs_index *ix, bool durable,
			struct hs_store *st, struct hs_table **out)
{
	_cleanup_(hs_table_close_p) struct hs_table *t = NULL;
	int r = table_of(ix, NULL, &t);
	if (r < 0)
		return r;
	r = open_file(dirfd, dir, name, t, true, out);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		hs_err_clear();
		r = make(dirfd, dir, name, ix, t, durable, true, out);
	}
	if (r == 0)
		(*out)->st = st;
	return r;
}

/* The table of the point and disk t names, from its store. */
static int reload(struct hs_table *t, struct hs_index **out)
{
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	int r = hs_store_point_head(t->st, t->server, t->id, p);
	if (r < 0)
		return r;
	int k = hs_point_disk_find(p, t->disk);
	if (k < 0)
		return hs_err(ENOENT, "point %s@%s has no disk %s", t->server, t->id, t->disk);
	struct hs_index *ix = NULL;
	if ((r = hs_store_point_disk(t->st, p, (unsigned)k, &ix)) < 0)
		return r;
	if (ix->nchunks != t->nchunks || ix->chunk_size != t->chunk_size) {
		hs_index_free(ix);
		return hs_err(EBADMSG, "the store's point %s@%s has another size", t->server, t->id);
	}
	*out = ix;
	return 0;
}

/* A block of t failed its check (what: why, for the message): rewrite every
 * bad block of the file from the store's table, unless a repair was done
 * since the caller read (seen: t->repairs then). 0 once the caller may read
 * again, or -EIO with a message. */
static int repair(struct hs_table *t, unsigned seen, const char *what)
{
	HS_LOCK_SCOPE(&t->repair_lock);
	if (atomic_load(&t->repairs) != seen)
		return 0;
	if (!t->st)
		return hs_err(EIO, "%s (and there is no store to rebuild it from)", what);
	struct hs_index *ix = NULL;
	int r = reload(t, &ix);
	if (r < 0) {
		char m[400];
		snprintf(m, sizeof m, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
		return hs_err(EIO, "%s, and it cannot be rebuilt: %s", what, m);
	}
	struct layout l;
	layout_of(t->nchunks, &l);
	struct stat st;
	uint64_t fixed = 0;
	if (fstat(t->fd, &st) < 0 || ((uint64_t)st.st_size != l.size && ftruncate(t->fd, (off_t)l.size) < 0))
		r = -errno;
	if (r == 0)
		r = write_meta(t->fd, t);
	const unsigned char *d = (const unsigned char *)ix->digests;
	unsigned char buf[BLOCK];
	for (uint64_t b = 0; r == 0 && b < t->nblocks; b++) {
		size_t n = block_len(t, b);
		if (hs_pread_full(t->fd, buf, n, l.digests_off + b * BLOCK) == (ssize_t)n && block_ok(t, b, buf, n))
			continue;
		/* Only the table the file was made from may go in. */
		if (!block_ok(t, b, d + b * BLOCK, n)) {
			r = hs_err(EIO, "%s, and the store's table of %s@%s is not the one it was made from", what,
				   t->server, t->id);
			break;
		}
		r = hs_pwrite_full(t->fd, d + b * BLOCK, n, l.digests_off + b * BLOCK);
		fixed++;
	}
	if (r == 0 && fdatasync(t->fd) < 0)
		r = -errno;
	hs_index_free(ix);
	release_heap();
	if (r < 0)
		return r == -EIO ? r : hs_err(EIO, "%s, and rewriting it failed: %s", what, strerror(-r));
	atomic_fetch_add(&t->repairs, 1);
	hs_note("%s: %llu blocks rewritten from the store", what, (unsigned long long)fixed);
	return 0;
}

/* Read blocks [b, e) into p and check them. 0, or -EBADMSG with what. */
static int read_blocks(struct hs_table *t, uint64_t b, uint64_t e, unsigned char *p, char *what, size_t cap)
{
	size_t n = (size_t)((e - b - 1) * BLOCK + block_len(t, e - 1));
	ssize_t got = hs_pread_full(t->fd, p, n, t->digests_off + b * BLOCK);
	if (got < 0) {
		snprintf(what, cap, "%s cannot be read (%s)", t->path, strerror((int)-got));
		return -EBADMSG;
	}
	if ((size_t)got != n) {
		snprintf(what, cap, "%s is damaged (cut short)", t->path);
		return -EBADMSG;
	}
	for (uint64_t k = b; k < e; k++)
		if (!block_ok(t, k, p + (k - b) * BLOCK, block_len(t, k))) {
			snprintf(what, cap, "%s is damaged (block %llu of its digests fails its checksum)", t->path,
				 (unsigned long long)k);
			return -EBADMSG;
		}
	return 0;
}

/* Blocks [b, e) into p, checked, repaired if need be. */
static int get_blocks(struct hs_table *t, uint64_t b, uint64_t e, unsigned char *p)
{
	char what[600];
	for (int tries = 0;; tries++) {
		unsigned seen = atomic_load(&t->repairs);
		int r = read_blocks(t, b, e, p, what, sizeof what);
		if (r == 0)
			return 0;
		/* A second failure after a repair: the file is being damaged
		 * faster than it is mended, or the disk under it fails. */
		if (tries == 2)
			return hs_err(EIO, "%s", what);
		if ((r = repair(t, seen, what)) < 0)
			return r;
	}
}

int hs_table_get(struct hs_table *t, uint64_t i, struct hs_digest *out)
{
	if (i >= t->nchunks)
		return hs_err(EINVAL, "chunk %llu is past the end of %s", (unsigned long long)i, t->path);
	if (hs_table_zero(t, i)) {
		memset(out, 0, sizeof *out);
		return 0;
	}
	uint64_t b = i / HS_TABLE_PER_BLOCK;
	unsigned char buf[BLOCK];
	int r = get_blocks(t, b, b + 1, buf);
	if (r < 0)
		return r;
	memcpy(out, buf + (i % HS_TABLE_PER_BLOCK) * HS_DIGEST_LEN, sizeof *out);
	/* The zero map and the digests were made together; a disagreement is damage. */
	if (hs_digest_is_zero(out))
		return hs_err(EIO, "%s is damaged (chunk %llu has no digest)", t->path, (unsigned long long)i);
	return 0;
}

int hs_table_read_all(struct hs_table *t, struct hs_digest *out)
{
	unsigned char *p = (unsigned char *)out;
	for (uint64_t b = 0; b < t->nblocks; b += RUN_BLOCKS) {
		uint64_t e = b + RUN_BLOCKS < t->nblocks ? b + RUN_BLOCKS : t->nblocks;
		int r = get_blocks(t, b, e, p + b * BLOCK);
		if (r < 0)
			return r;
	}
	return 0;
}
