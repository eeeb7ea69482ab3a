/* Snapshot and backup; see capture.h. */
#include "jobs/capture.h"
#include "store/badlist.h"
#include "store/chunk.h"
#include "basics/cleanup.h"
#include "basics/device.h"
#include "basics/digestset.h"
#include "basics/err.h"
#include "basics/workers.h"
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

struct job {
	const struct hs_capture_opts *o;
	struct hs_store *dest;
	struct hs_index *ix;
	const struct hs_dset *known; /* chunks the destination or the base snapshot holds */
	const struct hs_dset *bad;   /* chunks known bad (badlist.h): stored again */
	int fd;
	bool is_reg;
	atomic_uint_fast64_t zero, dedup, fresh, stored, chunks_new, repaired;
	/* repaired_lock protects the set of known-bad chunks stored again */
	pthread_mutex_t repaired_lock;
	struct hs_dset repaired_set;
};

/* A chunk known bad: a good copy goes over the bad one, once per digest,
 * whatever the store or the base snapshot seem to hold. */
static int repair_one(struct job *j, const struct hs_digest *d, const void *plain, uint32_t len,
		      struct hs_buf *z)
{
	pthread_mutex_lock(&j->repaired_lock);
	int first = hs_dset_add(&j->repaired_set, d);
	pthread_mutex_unlock(&j->repaired_lock);
	if (first < 0)
		return first;
	if (first == 0) {
		atomic_fetch_add(&j->dedup, len);
		return 0;
	}
	int r = hs_chunk_compress(plain, len, j->dest->zstd_level, z);
	if (r == 0)
		r = hs_store_chunk_replace(j->dest, d, z->data, z->len);
	if (r < 0)
		return r;
	atomic_fetch_add(&j->fresh, len);
	atomic_fetch_add(&j->stored, z->len);
	atomic_fetch_add(&j->chunks_new, 1);
	atomic_fetch_add(&j->repaired, 1);
	return 0;
}

static int capture_one(struct job *j, uint64_t i, void *plain, struct hs_buf *z)
{
	struct hs_index *ix = j->ix;
	uint64_t off = i * ix->chunk_size;
	uint32_t len = hs_index_chunk_len(ix, i);
	if (j->is_reg && hs_range_is_hole(j->fd, off, len)) {
		atomic_fetch_add(&j->zero, len);
		return 0;
	}
	ssize_t got = hs_pread_full(j->fd, plain, len, off);
	if (got < 0)
		return hs_err((int)-got, "cannot read %s at offset %llu: %s", j->o->source,
			      (unsigned long long)off, strerror((int)-got));
	if ((size_t)got != len)
		return hs_err(EIO, "%s ended at offset %llu while reading (did it shrink?)",
			      j->o->source, (unsigned long long)(off + (uint64_t)got));
	if (hs_is_zero(plain, len)) {
		atomic_fetch_add(&j->zero, len);
		return 0;
	}
	struct hs_digest *d = &ix->digests[i];
	hs_digest_compute(plain, len, d);
	if (j->bad && hs_dset_has(j->bad, d))
		return repair_one(j, d, plain, len, z);
	if (j->known && hs_dset_has(j->known, d)) {
		atomic_fetch_add(&j->dedup, len);
		return 0;
	}
	int r = hs_store_chunk_has(j->dest, d);
	if (r < 0)
		return r;
	bool stored = false; /* present already (r == 1) counts as deduplicated */
	if (r == 0) {
		r = hs_chunk_compress(plain, len, j->dest->zstd_level, z);
		if (r < 0)
			return hs_err(-r, "cannot compress chunk %llu", (unsigned long long)i);
		r = hs_store_chunk_queue(j->dest, d, z->data, z->len);
		if (r < 0)
			return r;
		stored = r == 1;
	}
	if (stored) {
		atomic_fetch_add(&j->fresh, len);
		atomic_fetch_add(&j->stored, z->len);
		atomic_fetch_add(&j->chunks_new, 1);
	} else {
		atomic_fetch_add(&j->dedup, len);
	}
	return 0;
}

static int capture_item(void *arg, uint64_t i, void *plain, struct hs_buf *z)
{
	struct job *j = arg;
	int r = capture_one(j, i, plain, z);
	if (j->o->progress)
		hs_progress_add(j->o->progress, hs_index_chunk_len(j->ix, i));
	return r;
}

/* Add every digest of a point to the set. */
static int add_digests(const struct hs_index *ix, struct hs_dset *set)
{
	for (uint64_t i = 0; i < ix->nchunks; i++)
		if (!hs_digest_is_zero(&ix->digests[i])) {
			int r = hs_dset_add(set, &ix->digests[i]);
			if (r < 0)
				return r;
		}
	return 0;
}

/* For a backup: the chunks of the newest point (in the store) and of the
 * newest snapshot (on the shipped drive, the seed at the datacentre). */
static int load_known(const struct hs_capture_opts *o, char **ids, size_t n, struct hs_dset *set,
		      char base[HS_POINT_ID_LEN + 1])
{
	base[0] = 0;
	int r = hs_dset_init(set, 1024);
	for (size_t k = n; r == 0 && k-- > 0;) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_get(o->store, o->server, ids[k], &ix);
		if (r < 0)
			return r;
		if (k == n - 1 || ix->kind == HS_KIND_SNAPSHOT)
			r = add_digests(ix, set);
		if (ix->kind == HS_KIND_SNAPSHOT) {
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

int hs_capture(const struct hs_capture_opts *o, struct hs_capture_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	int r = hs_server_name_check(o->server);
	if (r < 0)
		return r;
	int lock = -1, ship_lock = -1;
	_cleanup_close_ int fd = -1;
	struct hs_dset known = { 0 }, bad = { 0 };
	struct hs_index *ix = NULL;
	char **ids = NULL;
	size_t nids = 0;

	/* The source first: a refused capture leaves the store as it was, not
	 * even a lock file. */
	uint64_t size;
	r = hs_dev_open_read(o->source, &fd, &size);
	if (r < 0)
		goto out;
	r = hs_store_lock_server(o->store, o->server, &lock);
	if (r < 0)
		goto out;
	if (o->ship && (r = hs_store_lock_server(o->ship, o->server, &ship_lock)) < 0)
		goto out;
	struct stat st;
	fstat(fd, &st);
	r = hs_index_new(size, o->store->chunk_size, &ix);
	if (r < 0)
		goto out;
	r = hs_store_points_list(o->store, o->server, &ids, &nids);
	if (r < 0)
		goto out;
	if (o->kind == HS_KIND_BACKUP && (r = load_known(o, ids, nids, &known, stats->base)) < 0)
		goto out;
	if ((r = hs_badlist_load(o->store, &bad)) < 0)
		goto out;

	struct job j = {
		.o = o,
		.dest = o->ship ? o->ship : o->store,
		.ix = ix,
		.known = known.slot ? &known : NULL,
		.bad = bad.n ? &bad : NULL,
		.fd = fd,
		.is_reg = S_ISREG(st.st_mode),
	};
	pthread_mutex_init(&j.repaired_lock, NULL);
	if ((r = hs_dset_init(&j.repaired_set, 16)) < 0)
		goto out_job;
	unsigned threads = o->threads ? o->threads : 2 * hs_ncpu();
	if (o->progress)
		hs_progress_start(o->progress, hs_kind_name(o->kind), size, 0);
	r = hs_parallel_each(threads, ix->nchunks, ix->chunk_size, capture_item, &j);
	if (r == 0)
		r = hs_store_sync(j.dest);
	if (r < 0) {
		if (o->progress)
			hs_progress_end(o->progress);
		goto out_job;
	}

	time_t t;
	next_id(ids, nids, ix->id, &t);
	snprintf(ix->server, sizeof ix->server, "%s", o->server);
	snprintf(ix->base, sizeof ix->base, "%s", stats->base);
	ix->kind = o->kind;
	ix->time = t;
	ix->new_bytes = o->ship ? 0 : j.stored;
	ix->ship_bytes = o->ship ? j.stored : 0;
	/* The drive gets its copy first: the store's index is what makes the point exist. */
	if (o->ship && (r = hs_store_point_put(o->ship, ix)) < 0)
		goto out_progress;
	r = hs_store_point_put(o->store, ix);
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
	memcpy(stats->id, ix->id, sizeof stats->id);
	stats->image_size = size;
	stats->bytes_zero = j.zero;
	stats->bytes_dedup = j.dedup;
	stats->bytes_new = j.fresh;
	stats->bytes_stored = j.stored;
	stats->chunks_new = j.chunks_new;
	stats->chunks_repaired = j.repaired;
out_job:
	hs_dset_free(&j.repaired_set);
	pthread_mutex_destroy(&j.repaired_lock);
out:
	hs_strv_free(ids);
	hs_index_free(ix);
	hs_dset_free(&known);
	hs_dset_free(&bad);
	if (ship_lock >= 0)
		hs_store_unlock(o->ship, ship_lock);
	if (lock >= 0)
		hs_store_unlock(o->store, lock);
	return r;
}
