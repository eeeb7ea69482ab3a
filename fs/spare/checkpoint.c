/* Checkpoints; see checkpoint.h. */
#include "spare/checkpoint.h"
#include "store/badlist.h"
#include "store/chunk.h"
#include "store/lease.h"
#include "basics/cleanup.h"
#include "basics/device.h"
#include "basics/err.h"
#include "spare/spare.h"
#include "basics/workers.h"
#include <string.h>
#include <time.h>

struct job {
	struct hs_spare *sp;
	struct hs_store *store;
	struct hs_index *ix;   /* the new point's index, filled in place */
	uint64_t *todo;
	size_t ntodo;
	atomic_uint_fast64_t bytes, stored, fresh;
	struct hs_dset bad;      /* known-bad chunks (badlist.h): stored again */
	/* repaired_lock protects repaired: the bad chunks stored again so far */
	pthread_mutex_t repaired_lock;
	struct hs_dset repaired;
};

/* 1 if d is a known-bad chunk not yet stored again by this checkpoint (the
 * caller stores it), 0 if not, -ENOMEM. */
static int repair_due(struct job *j, const struct hs_digest *d)
{
	if (!j->bad.n || !hs_dset_has(&j->bad, d))
		return 0;
	HS_LOCK_SCOPE(&j->repaired_lock);
	return hs_dset_add(&j->repaired, d);
}

/* Read the k-th chunk to take and store it if the store lacks it. */
static int read_one(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	struct job *j = arg;
	uint64_t i = j->todo[k];
	struct hs_spare *sp = j->sp;
	uint32_t len = hs_index_chunk_len(sp->ix, i);
	/* Clear first: a write landing during the read sets it again. */
	__atomic_store_n(&sp->touched[i], 0, __ATOMIC_RELEASE);
	ssize_t got = hs_pread_full(hs_spare_image_fd(sp), plain, len, i * sp->ix->chunk_size);
	if (got != (ssize_t)len)
		return hs_err(got < 0 ? (int)-got : EIO, "cannot read chunk %llu of %s/disk.img",
			      (unsigned long long)i, sp->state->dir);
	atomic_fetch_add(&j->bytes, len);
	struct hs_digest *d = &j->ix->digests[i];
	if (hs_is_zero(plain, len)) {
		memset(d, 0, sizeof *d);
		return 0;
	}
	hs_store_chunk_id(j->store, plain, len, d);
	int repair = repair_due(j, d);
	if (repair < 0)
		return repair;
	int r = repair ? 0 : hs_store_chunk_has(j->store, d);
	if (r != 0)
		return r < 0 ? r : 0;
	r = hs_store_chunk_encode(j->store, d, plain, len, z);
	if (r == 0 && repair)
		r = hs_store_chunk_replace(j->store, d, z->data, z->len);
	else if (r == 0)
		r = hs_store_chunk_queue(j->store, d, z->data, z->len);
	if (r < 0)
		return r;
	atomic_fetch_add(&j->stored, z->len);
	atomic_fetch_add(&j->fresh, 1);
	return 0;
}

int hs_checkpoint(struct hs_spare *sp, struct hs_checkpoint_result *res)
{
	memset(res, 0, sizeof *res);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	res->consistent = atomic_load(&sp->open_writers) == 0;
	int r = hs_spare_flush(sp);
	if (r < 0)
		return r;
	struct job j = { .sp = sp, .store = sp->src.v[sp->src.n - 1] };
	const struct hs_index *base = sp->last_cp ? sp->last_cp : sp->ix;
	res->incremental = sp->last_cp != NULL;
	r = hs_index_new(sp->ix->image_size, sp->ix->chunk_size, &j.ix);
	if (r < 0)
		return r;
	memcpy(j.ix->digests, base->digests, sp->ix->nchunks * sizeof *j.ix->digests);
	j.todo = malloc((sp->ix->nchunks ? sp->ix->nchunks : 1) * sizeof *j.todo);
	if (!j.todo) {
		hs_index_free(j.ix);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < sp->ix->nchunks; i++)
		if (res->incremental ? __atomic_load_n(&sp->touched[i], __ATOMIC_ACQUIRE)
				     : hs_state_get(sp->state, i) == HS_WRITTEN)
			j.todo[j.ntodo++] = i;

	/* Nothing written since the last point (or written back as it was): no
	 * point, which would only be a copy of that one; and with nothing to
	 * read, not even the store's lock. */
	bool same = j.ntodo == 0;
	int lock = -1;
	struct hs_writer *writer = NULL;
	pthread_mutex_init(&j.repaired_lock, NULL);
	r = same ? 0 : hs_store_lock_server(j.store, sp->ix->server, &lock);
	if (r == 0 && !same)
		r = hs_writer_register(j.store, "checkpoint", &writer);
	/* The last checkpoint pruned since (a newer point came, then prune): its
	 * chunks may be gone, so they are not named unchecked; this one reads
	 * every chunk the guest wrote, as a first checkpoint does. */
	if (r == 0 && !same && res->incremental && hs_store_point_exists(j.store, sp->ix->server, base->id) != 1) {
		hs_err_clear();
		base = sp->ix;
		res->incremental = false;
		memcpy(j.ix->digests, base->digests, sp->ix->nchunks * sizeof *j.ix->digests);
		j.ntodo = 0;
		for (uint64_t i = 0; i < sp->ix->nchunks; i++)
			if (hs_state_get(sp->state, i) == HS_WRITTEN)
				j.todo[j.ntodo++] = i;
	}
	if (r == 0 && !same && (r = hs_badlist_load(j.store, &j.bad)) == 0)
		r = hs_dset_init(&j.repaired, 16);
	if (r == 0 && !same)
		r = hs_parallel_each(2 * hs_ncpu(), j.ntodo, sp->ix->chunk_size, read_one, &j);
	if (r == 0 && !same) {
		same = memcmp(j.ix->digests, base->digests, sp->ix->nchunks * sizeof *j.ix->digests) == 0;
		r = hs_store_sync(j.store); /* chunks queued for a base whose chunks were on a drive */
	}
	if (r == 0 && !same) {
		_cleanup_(hs_strv_free_p) char **ids = NULL;
		size_t n;
		r = hs_store_points_list(j.store, sp->ix->server, &ids, &n);
		time_t t = time(NULL), last;
		if (r == 0 && n && hs_point_id_parse(ids[n - 1], &last) == 0 && last >= t)
			t = last + 1;
		hs_point_id_format(t, j.ix->id);
		snprintf(j.ix->server, sizeof j.ix->server, "%s", sp->ix->server);
		snprintf(j.ix->base, sizeof j.ix->base, "%s",
			 sp->ix->kind == HS_KIND_SNAPSHOT ? sp->ix->id : sp->ix->base);
		j.ix->kind = HS_KIND_BACKUP;
		j.ix->time = t;
		j.ix->new_bytes = j.stored;
		if (r == 0)
			r = hs_store_point_put1(j.store, j.ix);
	}
	/* The good copies are durable (synced above), point or no point. */
	if (r == 0 && j.repaired.n)
		hs_badlist_remove(j.store, &j.repaired);
	hs_writer_done(writer);
	if (lock >= 0)
		hs_store_unlock(j.store, lock);
	hs_dset_free(&j.bad);
	hs_dset_free(&j.repaired);
	pthread_mutex_destroy(&j.repaired_lock);
	if (r < 0) {
		/* Nothing recorded: the chunks read stay due for the next checkpoint. */
		for (size_t k = 0; k < j.ntodo; k++)
			__atomic_store_n(&sp->touched[j.todo[k]], 1, __ATOMIC_RELEASE);
		hs_index_free(j.ix);
		free(j.todo);
		return r;
	}
	res->added = !same;
	memcpy(res->id, same ? base->id : j.ix->id, sizeof res->id);
	res->chunks_read = j.ntodo;
	res->bytes_read = j.bytes;
	res->bytes_stored = j.stored;
	res->chunks_new = j.fresh;
	if (same) {
		hs_index_free(j.ix);
	} else {
		hs_index_free(sp->last_cp);
		sp->last_cp = j.ix;
	}
	free(j.todo);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return 0;
}
