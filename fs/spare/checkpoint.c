/* Checkpoints; see checkpoint.h. */
#include "spare/checkpoint.h"
#include "store/badlist.h"
#include "store/chunk.h"
#include "store/lease.h"
#include "basics/cleanup.h"
#include "basics/device.h"
#include "basics/err.h"
#include "spare/set.h"
#include "basics/workers.h"
#include <malloc.h>
#include <string.h>
#include <time.h>

/* A chunk to take: chunk i of disk k. */
struct item {
	unsigned k;
	uint64_t i;
};

struct job {
	struct hs_spare_set *set;
	struct hs_store *store;
	struct hs_index *ix[HS_DISKS_MAX]; /* the new point's disks, filled in place */
	struct item *todo;
	size_t ntodo;
	atomic_uint_fast64_t bytes, stored, fresh;
	atomic_bool changed; /* a chunk read differs from its base */
	atomic_uint_fast64_t disk_read[HS_DISKS_MAX], disk_bytes[HS_DISKS_MAX], disk_stored[HS_DISKS_MAX];
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

/* Read the n-th chunk to take and store it if the store lacks it. */
static int read_one(void *arg, uint64_t n, void *plain, struct hs_buf *z)
{
	struct job *j = arg;
	unsigned k = j->todo[n].k;
	uint64_t i = j->todo[n].i;
	struct hs_spare *sp = j->set->disk[k];
	uint32_t len = hs_index_chunk_len(sp->ix, i);
	/* Clear first: a write landing during the read sets it again. */
	__atomic_store_n(&sp->touched[i], 0, __ATOMIC_RELEASE);
	ssize_t got = hs_pread_full(hs_spare_image_fd(sp), plain, len, i * sp->ix->chunk_size);
	if (got != (ssize_t)len)
		return hs_err(got < 0 ? (int)-got : EIO, "cannot read chunk %llu of %s/disk.img",
			      (unsigned long long)i, sp->state->dir);
	atomic_fetch_add(&j->bytes, len);
	atomic_fetch_add(&j->disk_read[k], 1);
	atomic_fetch_add(&j->disk_bytes[k], len);
	/* The new point's entry holds the base's digest until now. */
	struct hs_digest *d = &j->ix[k]->digests[i], nd;
	if (hs_is_zero(plain, len))
		memset(&nd, 0, sizeof nd);
	else
		hs_store_chunk_id(j->store, plain, len, &nd);
	if (!hs_digest_eq(&nd, d)) {
		*d = nd;
		atomic_store(&j->changed, true);
	}
	if (hs_digest_is_zero(d))
		return 0;
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
	atomic_fetch_add(&j->disk_stored[k], z->len);
	atomic_fetch_add(&j->fresh, 1);
	return 0;
}

/* The table a disk is at now: its last checkpoint's, or the mounted point's. */
static struct hs_table *base_of(const struct hs_spare *sp)
{
	return sp->cp_table ? sp->cp_table : sp->table;
}

/* Keep the new point's digests of sp (ix) in its state as the next
 * checkpoint's base. Without it (no room, say), the next checkpoint reads
 * every written chunk against the mounted point: slower, never wrong. */
static void keep_base(struct hs_spare *sp, struct hs_store *st, const struct hs_index *ix)
{
	struct hs_table *t = NULL;
	/* Not fsynced: a base is this daemon's own and gone at the next open. */
	int r = hs_table_from_index(sp->state->dirfd, sp->state->dir, HS_TABLE_CHECKPOINT, ix, false, st, &t);
	if (r < 0) {
		hs_note("the next checkpoint of %s reads every written chunk: %s", sp->state->dir,
			hs_err_msg() ? hs_err_msg() : strerror(-r));
		hs_err_clear();
		hs_table_forget(sp->state->dirfd, HS_TABLE_CHECKPOINT);
	}
	hs_table_close(sp->cp_table);
	sp->cp_table = t;
}

/* Write the new point (every disk of the set) into the store. */
static int write_point(struct job *j, bool consistent)
{
	struct hs_spare_set *set = j->set;
	const struct hs_index *first = set->disk[0]->ix;
	_cleanup_(hs_strv_free_p) char **ids = NULL;
	size_t n;
	int r = hs_store_points_list(j->store, set->server, &ids, &n);
	time_t t = time(NULL), last;
	if (r == 0 && n && hs_point_id_parse(ids[n - 1], &last) == 0 && last >= t)
		t = last + 1;
	_cleanup_free_ struct hs_point *p = calloc(1, sizeof *p);
	if (r == 0 && !p)
		r = -ENOMEM;
	if (r < 0)
		return r;
	hs_point_id_format(t, p->id);
	snprintf(p->server, sizeof p->server, "%s", set->server);
	snprintf(p->base, sizeof p->base, "%s", first->kind == HS_KIND_SNAPSHOT ? first->id : first->base);
	p->kind = HS_KIND_BACKUP;
	p->time = t;
	/* Read while nothing could write: one moment; else a guest wrote meanwhile. */
	p->consistency = consistent ? HS_CRASH_CONSISTENT : HS_TORN;
	p->ndisks = set->n;
	for (unsigned k = 0; k < set->n; k++) {
		struct hs_index *ix = j->ix[k];
		snprintf(ix->server, sizeof ix->server, "%s", set->server);
		snprintf(ix->disk, sizeof ix->disk, "%s", set->disk[k]->ix->disk);
		snprintf(ix->id, sizeof ix->id, "%s", p->id);
		snprintf(ix->base, sizeof ix->base, "%s", p->base);
		ix->kind = HS_KIND_BACKUP;
		ix->time = t;
		ix->new_bytes = j->disk_stored[k];
		ix->read_bytes = j->disk_bytes[k];
	}
	return hs_store_point_put(j->store, p, j->ix);
}

int hs_checkpoint(struct hs_spare_set *set, struct hs_checkpoint_result *res)
{
	memset(res, 0, sizeof *res);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	res->consistent = true;
	for (unsigned k = 0; k < set->n; k++)
		res->consistent &= atomic_load(&set->disk[k]->open_writers) == 0;
	int r = hs_spare_set_flush(set);
	if (r < 0)
		return r;
	struct job j = { .set = set, .store = set->src.v[set->src.n - 1] };
	/* Incremental for a disk with a base from the last checkpoint: only
	 * what changed since is read; else every chunk the guest wrote. */
	res->incremental = true;
	uint64_t total = 0;
	for (unsigned k = 0; k < set->n; k++) {
		res->incremental &= set->disk[k]->cp_table != NULL;
		total += set->disk[k]->ix->nchunks;
	}
	if (!(j.todo = malloc((total ? total : 1) * sizeof *j.todo)))
		r = -ENOMEM;
	for (unsigned k = 0; r == 0 && k < set->n; k++) {
		struct hs_spare *sp = set->disk[k];
		for (uint64_t i = 0; i < sp->ix->nchunks; i++)
			if (sp->cp_table ? __atomic_load_n(&sp->touched[i], __ATOMIC_ACQUIRE)
					 : hs_state_get(sp->state, i) == HS_WRITTEN)
				j.todo[j.ntodo++] = (struct item){ k, i };
	}
	/* The new point's tables start as their bases (in memory while the
	 * checkpoint runs: the whole table is what the store is given). */
	for (unsigned k = 0; r == 0 && j.ntodo && k < set->n; k++) {
		struct hs_spare *sp = set->disk[k];
		r = hs_index_new(sp->ix->image_size, sp->ix->chunk_size, &j.ix[k]);
		if (r == 0)
			r = hs_table_read_all(base_of(sp), j.ix[k]->digests);
	}

	/* Nothing written since the last point (or written back as it was): no
	 * point, which would only be a copy of that one; and with nothing to
	 * read, not even the store's lock. */
	bool same = j.ntodo == 0;
	int lock = -1;
	struct hs_writer *writer = NULL;
	pthread_mutex_init(&j.repaired_lock, NULL);
	if (r == 0 && !same)
		r = hs_store_lock_server(j.store, set->server, &lock);
	if (r == 0 && !same)
		r = hs_writer_register(j.store, "checkpoint", &writer);
	/* The last checkpoint pruned since (a newer point came, then prune): its
	 * chunks may be gone, so they are not named unchecked; this one reads
	 * every chunk the guest wrote, as a first checkpoint does. */
	if (r == 0 && !same && res->incremental &&
	    hs_store_point_exists(j.store, set->server, set->disk[0]->cp_table->id) != 1) {
		hs_err_clear();
		res->incremental = false;
		j.ntodo = 0;
		for (unsigned k = 0; r == 0 && k < set->n; k++) {
			struct hs_spare *sp = set->disk[k];
			hs_table_close(sp->cp_table);
			sp->cp_table = NULL;
			hs_table_forget(sp->state->dirfd, HS_TABLE_CHECKPOINT);
			r = hs_table_read_all(sp->table, j.ix[k]->digests);
			for (uint64_t i = 0; r == 0 && i < sp->ix->nchunks; i++)
				if (hs_state_get(sp->state, i) == HS_WRITTEN)
					j.todo[j.ntodo++] = (struct item){ k, i };
		}
	}
	if (r == 0 && !same && (r = hs_badlist_load(j.store, &j.bad)) == 0)
		r = hs_dset_init(&j.repaired, 16);
	if (r == 0 && !same)
		r = hs_parallel_each(2 * hs_ncpu(), j.ntodo, set->disk[0]->ix->chunk_size, read_one, &j);
	if (r == 0 && !same) {
		same = !atomic_load(&j.changed);
		r = hs_store_sync(j.store); /* chunks queued for a base whose chunks were on a drive */
	}
	if (r == 0 && !same)
		r = write_point(&j, res->consistent);
	/* The good copies are durable (synced above), point or no point. */
	if (r == 0 && j.repaired.n)
		hs_badlist_remove(j.store, &j.repaired);
	/* A failed checkpoint leaves no temporaries in the store for as long as
	 * the daemon lives: the chunks it queued are committed (or, when that
	 * fails too, removed). */
	if (r < 0 && lock >= 0)
		hs_store_sync(j.store);
	hs_writer_done(writer);
	if (lock >= 0)
		hs_store_unlock(j.store, lock);
	hs_dset_free(&j.bad);
	hs_dset_free(&j.repaired);
	pthread_mutex_destroy(&j.repaired_lock);
	if (r < 0) {
		/* Nothing recorded: the chunks read stay due for the next checkpoint. */
		for (size_t n = 0; n < j.ntodo; n++)
			__atomic_store_n(&set->disk[j.todo[n].k]->touched[j.todo[n].i], 1, __ATOMIC_RELEASE);
		for (unsigned k = 0; k < set->n; k++)
			hs_index_free(j.ix[k]);
		free(j.todo);
		malloc_trim(0);
		return r;
	}
	res->added = !same;
	memcpy(res->id, same ? base_of(set->disk[0])->id : j.ix[0]->id, sizeof res->id);
	res->chunks_read = j.ntodo;
	res->bytes_read = j.bytes;
	res->bytes_stored = j.stored;
	res->chunks_new = j.fresh;
	res->ndisks = set->n;
	for (unsigned k = 0; k < set->n; k++) {
		struct hs_spare *sp = set->disk[k];
		snprintf(res->disks[k].name, sizeof res->disks[k].name, "%s", sp->ix->disk);
		res->disks[k].chunks_read = j.disk_read[k];
		res->disks[k].bytes_read = j.disk_bytes[k];
		res->disks[k].bytes_stored = j.disk_stored[k];
		if (!same)
			keep_base(sp, j.store, j.ix[k]);
		hs_index_free(j.ix[k]);
	}
	free(j.todo);
	/* The tables were in memory only while the checkpoint ran. */
	malloc_trim(0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return 0;
}
