/* Snapshot and backup; see capture.h. */
#include "jobs/capture.h"
#include "store/badlist.h"
#include "store/chunk.h"
#include "store/lease.h"
#include "basics/cleanup.h"
#include "basics/device.h"
#include "basics/digestset.h"
#include "basics/err.h"
#include "basics/interrupt.h"
#include "basics/workers.h"
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

/* Chunks a worker reads from one disk before the next disk's turn: disks
 * are read side by side in stripes (a few MiB each), not one after another. */
#define STRIPE 16

struct disk {
	const struct hs_capture_disk *in;
	const struct hs_capture_reader *rd; /* NULL: read fd */
	struct hs_index *ix;
	struct hs_index *since; /* incremental: the table unchanged chunks come from */
	int fd;
	bool is_reg;
	struct hs_holes holes; /* of a regular file's fd */
	atomic_uint_fast64_t zero, dedup, fresh, stored, unchanged;
};

struct job {
	const struct hs_capture_opts *o;
	struct hs_store *dest;
	const struct hs_dset *known; /* chunks the destination or the base snapshot holds */
	const struct hs_dset *bad;   /* chunks known bad (badlist.h): stored again */
	struct disk *d;
	unsigned nd;
	atomic_uint_fast64_t chunks_new, repaired;
	/* repaired_lock protects the set of known-bad chunks stored again */
	pthread_mutex_t repaired_lock;
	struct hs_dset repaired_set;
};

/* A chunk known bad: a good copy goes over the bad one, once per digest,
 * whatever the store or the base snapshot seem to hold. */
static int repair_one(struct job *j, struct disk *dk, const struct hs_digest *d, const void *plain,
		      uint32_t len, struct hs_buf *z)
{
	pthread_mutex_lock(&j->repaired_lock);
	int first = hs_dset_add(&j->repaired_set, d);
	pthread_mutex_unlock(&j->repaired_lock);
	if (first < 0)
		return first;
	if (first == 0) {
		atomic_fetch_add(&dk->dedup, len);
		return 0;
	}
	int r = hs_store_chunk_encode(j->dest, d, plain, len, z);
	if (r == 0)
		r = hs_store_chunk_replace(j->dest, d, z->data, z->len);
	if (r < 0)
		return r;
	atomic_fetch_add(&dk->fresh, len);
	atomic_fetch_add(&dk->stored, z->len);
	atomic_fetch_add(&j->chunks_new, 1);
	atomic_fetch_add(&j->repaired, 1);
	return 0;
}

/* Incremental: chunk i unchanged since the point opts->since takes its
 * digest from there, unread. 1 if it did, 0 if it must be read, -errno. A
 * chunk known bad is read all the same, so that its good copy gets stored. */
static int take_unchanged(struct job *j, struct disk *dk, uint64_t i, uint64_t off, uint32_t len)
{
	int c = dk->rd->changed(dk->rd->ctx, off, len);
	if (c < 0)
		return c;
	const struct hs_digest *d = &dk->since->digests[i];
	bool zero = hs_digest_is_zero(d);
	if (c || (!zero && j->bad && hs_dset_has(j->bad, d)))
		return 0;
	dk->ix->digests[i] = *d;
	atomic_fetch_add(zero ? &dk->zero : &dk->dedup, len);
	atomic_fetch_add(&dk->unchanged, len);
	return 1;
}

/* Read a chunk into plain: 1 if read, 0 if known to be zeros unread, -errno. */
static int read_chunk(struct disk *dk, uint64_t off, uint32_t len, void *plain)
{
	const struct hs_capture_reader *rd = dk->rd;
	if (rd) {
		int r = rd->zero ? rd->zero(rd->ctx, off, len) : 0;
		if (r != 0)
			return r < 0 ? r : 0;
		r = rd->read(rd->ctx, plain, len, off);
		return r < 0 ? r : 1;
	}
	if (dk->is_reg && hs_holes_has(&dk->holes, dk->fd, off, len))
		return 0;
	ssize_t got = hs_pread_full(dk->fd, plain, len, off);
	if (got < 0)
		return hs_err((int)-got, "cannot read %s at offset %llu: %s", dk->in->source,
			      (unsigned long long)off, strerror((int)-got));
	if ((size_t)got != len)
		return hs_err(EIO, "%s ended at offset %llu while reading (did it shrink?)",
			      dk->in->source, (unsigned long long)(off + (uint64_t)got));
	return 1;
}

static int capture_one(struct job *j, struct disk *dk, uint64_t i, void *plain, struct hs_buf *z)
{
	struct hs_index *ix = dk->ix;
	uint64_t off = i * ix->chunk_size;
	uint32_t len = hs_index_chunk_len(ix, i);
	int r;
	if (dk->since && (r = take_unchanged(j, dk, i, off, len)) != 0)
		return r < 0 ? r : 0;
	if ((r = read_chunk(dk, off, len, plain)) < 0)
		return r;
	if (r == 0 || hs_is_zero(plain, len)) {
		atomic_fetch_add(&dk->zero, len);
		return 0;
	}
	struct hs_digest *d = &ix->digests[i];
	hs_store_chunk_id(j->dest, plain, len, d);
	if (j->bad && hs_dset_has(j->bad, d))
		return repair_one(j, dk, d, plain, len, z);
	if (j->known && hs_dset_has(j->known, d)) {
		atomic_fetch_add(&dk->dedup, len);
		return 0;
	}
	r = hs_store_chunk_has(j->dest, d);
	if (r < 0)
		return r;
	bool stored = false; /* present already (r == 1) counts as deduplicated */
	if (r == 0) {
		r = hs_store_chunk_encode(j->dest, d, plain, len, z);
		if (r < 0)
			return hs_err(-r, "cannot compress chunk %llu of %s", (unsigned long long)i, dk->in->source);
		r = hs_store_chunk_queue(j->dest, d, z->data, z->len);
		if (r < 0)
			return r;
		stored = r == 1;
	}
	if (stored) {
		atomic_fetch_add(&dk->fresh, len);
		atomic_fetch_add(&dk->stored, z->len);
		atomic_fetch_add(&j->chunks_new, 1);
	} else {
		atomic_fetch_add(&dk->dedup, len);
	}
	return 0;
}

/* Item k: stripe group g = k / (STRIPE * nd) of disk (k / STRIPE) % nd,
 * chunk g * STRIPE + k % STRIPE; past a shorter disk's end, nothing. */
static int capture_item(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	struct job *j = arg;
	uint64_t per = (uint64_t)STRIPE * j->nd;
	struct disk *dk = &j->d[(k % per) / STRIPE];
	uint64_t i = (k / per) * STRIPE + k % STRIPE;
	if (i >= dk->ix->nchunks)
		return 0;
	int sig = hs_interrupted();
	if (sig)
		return hs_err(EINTR, "interrupted by SIG%s", sigabbrev_np(sig));
	int r = capture_one(j, dk, i, plain, z);
	if (j->o->progress)
		hs_progress_add(j->o->progress, hs_index_chunk_len(dk->ix, i));
	return r;
}

/* Add every digest of every disk of a point to the set. */
static int add_point(struct hs_store *st, const char *server, const char *id, struct hs_dset *set,
		     uint32_t *kind)
{
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	int r = hs_store_point_head(st, server, id, p);
	if (r < 0)
		return r;
	*kind = p->kind;
	for (unsigned k = 0; r == 0 && k < p->ndisks; k++) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(st, p, k, &ix);
		for (uint64_t i = 0; r == 0 && i < ix->nchunks; i++)
			if (!hs_digest_is_zero(&ix->digests[i]) && hs_dset_add(set, &ix->digests[i]) < 0)
				r = -ENOMEM;
	}
	return r;
}

/* For a backup: the chunks of the newest point (in the store) and of the
 * newest snapshot (on the shipped drive, the seed at the datacentre). */
static int load_known(const struct hs_capture_opts *o, char **ids, size_t n, struct hs_dset *set,
		      char base[HS_POINT_ID_LEN + 1])
{
	base[0] = 0;
	int r = hs_dset_init(set, 1024);
	for (size_t k = n; r == 0 && k-- > 0;) {
		uint32_t kind = 0;
		_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
		if (!p)
			return -ENOMEM;
		/* The newest point always; older ones only to find the snapshot. */
		if (k == n - 1)
			r = add_point(o->store, o->server, ids[k], set, &kind);
		else if ((r = hs_store_point_head(o->store, o->server, ids[k], p)) == 0 &&
			 (kind = p->kind) == HS_KIND_SNAPSHOT)
			r = add_point(o->store, o->server, ids[k], set, &kind);
		/* An older point pruned (and collected) since the listing: prune
		 * keeps the newest snapshot, so the one sought is further on. */
		if (r == -ENOENT && k != n - 1) {
			hs_err_clear();
			r = 0;
			continue;
		}
		if (r == 0 && kind == HS_KIND_SNAPSHOT) {
			snprintf(base, HS_POINT_ID_LEN + 1, "%s", ids[k]);
			break;
		}
	}
	return r;
}

/* The id of a new point: now, or one second past the newest if the clock is behind. */
static void next_id(char **ids, size_t n, char out[HS_POINT_ID_LEN + 1], time_t *t)
{
	*t = time(NULL);
	time_t last;
	if (n && hs_point_id_parse(ids[n - 1], &last) == 0 && last >= *t)
		*t = last + 1;
	hs_point_id_format(*t, out);
}

int hs_capture_next_id(struct hs_store *st, const char *server, char out[HS_POINT_ID_LEN + 1])
{
	char **ids = NULL;
	size_t n = 0;
	int r = hs_store_points_list(st, server, &ids, &n);
	if (r < 0)
		return r;
	time_t t;
	next_id(ids, n, out, &t);
	hs_strv_free(ids);
	return 0;
}

/* The id given for the new point: well formed and newer than every point. */
static int given_id(const char *id, char **ids, size_t n, char out[HS_POINT_ID_LEN + 1], time_t *t)
{
	if (hs_point_id_parse(id, t) < 0)
		return hs_err(EINVAL, "%s is not a point id", id);
	if (n && strcmp(id, ids[n - 1]) <= 0)
		return hs_err(EEXIST, "point %s is not newer than the newest point %s (another capture ran meanwhile)",
			      id, ids[n - 1]);
	snprintf(out, HS_POINT_ID_LEN + 1, "%s", id);
	return 0;
}

/* Incremental: the table of the point opts->since for every disk read
 * through a reader that tells unchanged ranges. */
static int load_since(const struct hs_capture_opts *o, struct disk *d)
{
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	int r = hs_store_point_head(o->store, o->server, o->since, p);
	if (r < 0)
		return r;
	for (unsigned k = 0; k < o->ndisks; k++) {
		if (!d[k].rd || !d[k].rd->changed)
			continue;
		int at = hs_point_disk_find(p, d[k].in->name);
		if (at < 0 || p->disks[at].size != d[k].rd->size || p->chunk_size != o->store->chunk_size)
			return hs_err(ESTALE, "point %s@%s has no disk %s of %llu bytes to take unchanged chunks from",
				      o->server, o->since, d[k].in->name, (unsigned long long)d[k].rd->size);
		if ((r = hs_store_point_disk(o->store, p, (unsigned)at, &d[k].since)) < 0)
			return r;
	}
	return 0;
}

int hs_capture_check(const struct hs_capture_disk *disks, unsigned ndisks)
{
	if (ndisks < 1 || ndisks > HS_DISKS_MAX)
		return hs_err(EINVAL, "a server has 1 to %d disks, not %u", HS_DISKS_MAX, ndisks);
	for (unsigned k = 0; k < ndisks; k++) {
		int r = hs_disk_name_check(disks[k].name);
		if (r < 0)
			return r;
		for (unsigned m = 0; m < k; m++)
			if (!strcmp(disks[m].name, disks[k].name))
				return hs_err(EINVAL, "disk name %s is given twice", disks[k].name);
		if (!disks[k].source || !disks[k].source[0])
			return hs_err(EINVAL, "disk %s has no source (write %s=SOURCE)", disks[k].name, disks[k].name);
		if (disks[k].reader)
			continue;
		int fd = -1;
		uint64_t size;
		r = hs_dev_open_read(disks[k].source, &fd, &size);
		if (r < 0)
			return r;
		close(fd);
	}
	return 0;
}

int hs_capture_consistency(const struct hs_capture_disk *disks, unsigned ndisks, bool allow_torn, uint32_t *out)
{
	*out = HS_CRASH_CONSISTENT;
	for (unsigned k = 0; k < ndisks; k++) {
		if (disks[k].reader)
			continue;
		char why[512];
		int r = hs_dev_in_use(disks[k].source, why, sizeof why);
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (!allow_torn)
			return hs_err(EBUSY, "%s %s: a copy would be torn; capture it with --domain NAME (a VM's "
				      "disk), --lvm-snapshot (an LVM volume), unmounted or read-only, or "
				      "take a torn copy with --allow-torn", disks[k].source, why);
		*out = HS_TORN;
	}
	return 0;
}

static void close_disks(struct disk *d, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		if (d[k].fd >= 0)
			close(d[k].fd);
		hs_index_free(d[k].ix);
		hs_index_free(d[k].since);
		hs_holes_destroy(&d[k].holes);
	}
	free(d);
}

/* Open every source and make an index of its size for each. */
static int open_disks(const struct hs_capture_opts *o, struct disk **out, uint64_t *total)
{
	struct disk *d = calloc(o->ndisks, sizeof *d);
	if (!d)
		return -ENOMEM;
	for (unsigned k = 0; k < o->ndisks; k++) {
		d[k].fd = -1;
		hs_holes_init(&d[k].holes);
	}
	int r = 0;
	*total = 0;
	for (unsigned k = 0; r == 0 && k < o->ndisks; k++) {
		uint64_t size;
		d[k].in = &o->disks[k];
		d[k].rd = o->disks[k].reader;
		if (d[k].rd) {
			size = d[k].rd->size;
		} else {
			r = hs_dev_open_read(o->disks[k].source, &d[k].fd, &size);
			struct stat st;
			if (r == 0 && fstat(d[k].fd, &st) == 0)
				d[k].is_reg = S_ISREG(st.st_mode);
		}
		if (r == 0)
			r = hs_index_new(size, o->store->chunk_size, &d[k].ix);
		if (r == 0) {
			snprintf(d[k].ix->disk, sizeof d[k].ix->disk, "%s", o->disks[k].name);
			*total += size;
		}
	}
	if (r < 0) {
		close_disks(d, o->ndisks);
		return r;
	}
	*out = d;
	return 0;
}

int hs_capture(const struct hs_capture_opts *o, struct hs_capture_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	int r = hs_server_name_check(o->server);
	if (r == 0)
		r = hs_capture_check(o->disks, o->ndisks);
	if (r < 0)
		return r;
	int lock = -1, ship_lock = -1;
	struct hs_store *drive = NULL; /* made here from o->ship_at */
	struct hs_capture_opts with_drive;
	struct hs_writer *writer = NULL;
	struct hs_dset known = { 0 }, bad = { 0 };
	struct disk *d = NULL;
	struct hs_point *p = calloc(1, sizeof *p);
	struct hs_index **ixs = calloc(o->ndisks, sizeof *ixs);
	char **ids = NULL;
	size_t nids = 0;
	uint64_t total = 0;
	if (!p || !ixs) {
		r = -ENOMEM;
		goto out;
	}
	if (!o->locked && (r = hs_store_lock_server(o->store, o->server, &lock)) < 0)
		goto out;
	if (!o->ship && o->ship_at) {
		if ((r = hs_store_open_like(o->ship_at, o->store, 0, &drive)) < 0)
			goto out;
		with_drive = *o;
		with_drive.ship = drive;
		o = &with_drive;
	}
	if (o->ship && (r = hs_store_lock_server(o->ship, o->server, &ship_lock)) < 0)
		goto out;
	/* Before the first question about a chunk: gc then keeps what it sees. */
	if ((r = hs_writer_register(o->ship ? o->ship : o->store, hs_kind_name(o->kind), &writer)) < 0)
		goto out;
	if ((r = open_disks(o, &d, &total)) < 0)
		goto out;
	r = hs_store_points_list(o->store, o->server, &ids, &nids);
	if (r < 0)
		goto out;
	time_t t;
	if (o->id)
		r = given_id(o->id, ids, nids, p->id, &t);
	else
		next_id(ids, nids, p->id, &t);
	if (r < 0)
		goto out;
	if (o->since && (r = load_since(o, d)) < 0)
		goto out;
	if (o->kind == HS_KIND_BACKUP && (r = load_known(o, ids, nids, &known, stats->base)) < 0)
		goto out;
	if ((r = hs_badlist_load(o->store, &bad)) < 0)
		goto out;

	struct job j = {
		.o = o,
		.dest = o->ship ? o->ship : o->store,
		.known = known.slot ? &known : NULL,
		.bad = bad.n ? &bad : NULL,
		.d = d,
		.nd = o->ndisks,
	};
	pthread_mutex_init(&j.repaired_lock, NULL);
	if ((r = hs_dset_init(&j.repaired_set, 16)) < 0)
		goto out_job;
	uint64_t most = 0;
	for (unsigned k = 0; k < o->ndisks; k++)
		if (d[k].ix->nchunks > most)
			most = d[k].ix->nchunks;
	uint64_t items = (most + STRIPE - 1) / STRIPE * STRIPE * o->ndisks;
	unsigned threads = o->threads ? o->threads : 2 * hs_ncpu();
	if (o->progress)
		hs_progress_start(o->progress, hs_kind_name(o->kind), total, 0);
	r = hs_parallel_each(threads, items, o->store->chunk_size, capture_item, &j);
	if (r == 0 && o->read_all)
		o->read_all(o->read_all_ctx);
	if (r == 0)
		r = hs_store_sync(j.dest);
	if (r < 0) {
		if (o->progress)
			hs_progress_end(o->progress);
		goto out_job;
	}

	snprintf(p->server, sizeof p->server, "%s", o->server);
	snprintf(p->base, sizeof p->base, "%s", stats->base);
	p->kind = o->kind;
	p->time = t;
	p->consistency = o->consistency;
	p->ndisks = o->ndisks;
	for (unsigned k = 0; k < o->ndisks; k++) {
		struct hs_index *ix = ixs[k] = d[k].ix;
		snprintf(ix->server, sizeof ix->server, "%s", o->server);
		snprintf(ix->id, sizeof ix->id, "%s", p->id);
		ix->kind = o->kind;
		ix->time = t;
		ix->new_bytes = o->ship ? 0 : d[k].stored;
		ix->ship_bytes = o->ship ? d[k].stored : 0;
		ix->read_bytes = ix->image_size - d[k].unchanged;
		struct hs_capture_disk_stats *ds = &stats->disks[k];
		snprintf(ds->name, sizeof ds->name, "%s", ix->disk);
		ds->size = ix->image_size;
		ds->bytes_read = ix->read_bytes;
		ds->bytes_unchanged = d[k].unchanged;
		stats->bytes_read += ds->bytes_read;
		ds->bytes_zero = d[k].zero;
		ds->bytes_dedup = d[k].dedup;
		ds->bytes_new = d[k].fresh;
		ds->bytes_stored = d[k].stored;
		stats->bytes_zero += ds->bytes_zero;
		stats->bytes_dedup += ds->bytes_dedup;
		stats->bytes_new += ds->bytes_new;
		stats->bytes_stored += ds->bytes_stored;
	}
	/* The drive gets its copy first: the store's point is what makes it exist. */
	if (o->ship && (r = hs_store_point_put(o->ship, p, ixs)) < 0)
		goto out_progress;
	r = hs_store_point_put(o->store, p, ixs);
out_progress:
	if (o->progress) {
		hs_progress_end(o->progress);
		stats->seconds = hs_progress_seconds(o->progress);
	}
	if (r < 0)
		goto out_job;
	/* Good copies are in the store now: off the list (a failure here only
	 * means the next capture stores them once more). */
	if (j.dest == o->store)
		hs_badlist_remove(o->store, &j.repaired_set);
	memcpy(stats->id, p->id, sizeof stats->id);
	if (o->since)
		snprintf(stats->since, sizeof stats->since, "%s", o->since);
	stats->image_size = total;
	stats->chunks_new = j.chunks_new;
	stats->chunks_repaired = j.repaired;
	stats->ndisks = o->ndisks;
out_job:
	hs_dset_free(&j.repaired_set);
	pthread_mutex_destroy(&j.repaired_lock);
out:
	if (d)
		close_disks(d, o->ndisks);
	free(ixs);
	free(p);
	hs_strv_free(ids);
	hs_dset_free(&known);
	hs_dset_free(&bad);
	hs_writer_done(writer);
	if (ship_lock >= 0)
		hs_store_unlock(o->ship, ship_lock);
	hs_store_close(drive);
	if (lock >= 0)
		hs_store_unlock(o->store, lock);
	return r;
}
