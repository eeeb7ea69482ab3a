/* Replication; see replicate.h. */
#include "jobs/replicate.h"
#include "basics/buf.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/digestset.h"
#include "basics/err.h"
#include "basics/workers.h"
#include <stdio.h>
#include <string.h>

/* A chunk a point needs at the destination. */
struct todo {
	struct hs_digest d;
	uint32_t len;
};

struct job {
	const struct hs_replicate_opts *o;
	const struct hs_index *ix;
	struct todo *v;
	size_t n;
	atomic_uint_fast64_t sent, bytes, present;
};

/* Send the k-th needed chunk unless the destination has it. */
static int send_one(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	struct job *j = arg;
	const struct todo *t = &j->v[k];
	int r = hs_store_chunk_has(j->o->dst, &t->d);
	if (r < 0)
		return r;
	bool sent = false;
	if (r == 0) {
		size_t from;
		r = hs_sources_read(j->o->src, &t->d, plain, t->len, z, &from);
		if (r < 0) {
			char why[512];
			snprintf(why, sizeof why, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
			return hs_err(-r, "%s@%s: %s%s", j->ix->server, j->ix->id, why,
				      r == -ENOENT ? "; a snapshot shipped on a drive? give the drive with --seed" : "");
		}
		/* Checked above: the stored bytes go as they are. */
		r = hs_store_chunk_queue(j->o->dst, &t->d, z->data, z->len);
		if (r < 0)
			return r;
		sent = r == 1;
	}
	if (sent) {
		atomic_fetch_add(&j->sent, 1);
		atomic_fetch_add(&j->bytes, z->len);
	} else {
		atomic_fetch_add(&j->present, 1);
	}
	if (j->o->progress)
		hs_progress_add(j->o->progress, t->len);
	return 0;
}

/* The distinct chunks of ix that known does not hold, added to known: the
 * run stops at the first failure, so from here on they are at the
 * destination or the run is over. (The bar counts the other positions.) */
static int needed(const struct hs_index *ix, struct hs_dset *known, struct todo **out, size_t *n,
		  struct hs_progress *progress)
{
	struct todo *v = NULL;
	size_t cap = 0, m = 0;
	uint64_t skipped = 0;
	int r = 0;
	for (uint64_t i = 0; r == 0 && i < ix->nchunks; i++) {
		const struct hs_digest *d = &ix->digests[i];
		if (hs_digest_is_zero(d) || (r = hs_dset_add(known, d)) == 0) {
			skipped += hs_index_chunk_len(ix, i);
			continue;
		}
		if (r < 0 || (r = hs_grow(&v, &cap, m + 1, sizeof *v)) < 0)
			break;
		v[m++] = (struct todo){ *d, hs_index_chunk_len(ix, i) };
	}
	if (r < 0) {
		free(v);
		return r;
	}
	if (progress)
		hs_progress_add(progress, skipped);
	*out = v;
	*n = m;
	return 0;
}

static int copy_point(const struct hs_replicate_opts *o, struct hs_index *ix, struct hs_dset *known,
		      struct hs_replicate_stats *st)
{
	struct job j = { .o = o, .ix = ix };
	if (o->progress) {
		char label[HS_SERVER_MAX + HS_POINT_ID_LEN + 2];
		snprintf(label, sizeof label, "%s@%s", ix->server, ix->id);
		hs_progress_start(o->progress, label, ix->image_size, 0);
	}
	int r = needed(ix, known, &j.v, &j.n, o->progress);
	if (r == 0)
		r = hs_parallel_each(o->threads ? o->threads : 4 * hs_ncpu(), j.n, ix->chunk_size, send_one, &j);
	/* Chunks first, durably; then the index that names them. At the
	 * destination every chunk of the point is in the store (shipped ones
	 * included) and it added what was sent. */
	if (r == 0)
		r = hs_store_sync(o->dst);
	if (r == 0) {
		struct hs_index copy = *ix;
		copy.ship_bytes = 0;
		copy.new_bytes = j.bytes;
		r = hs_store_point_put1(o->dst, &copy);
	}
	st->chunks_sent += j.sent;
	st->bytes_sent += j.bytes;
	st->chunks_present += j.present;
	if (r == 0)
		st->points++;
	if (o->progress)
		hs_progress_end(o->progress);
	free(j.v);
	return r;
}

/* What the destination holds of server: its points' ids, and the chunks of
 * its newest point when they are all in that store (then nobody need ask
 * for them one by one). */
struct server {
	char name[HS_SERVER_MAX + 1];
	char **ids;
	size_t nids;
	struct hs_dset known;
	int lock;
};

/* Are all of p's chunks in dst? An index is written after its chunks; only
 * a shipped snapshot, and backups deduplicated against one, name chunks
 * that live on a drive. */
static bool self_contained(struct hs_store *dst, const struct hs_index *p)
{
	if (p->ship_bytes)
		return false;
	if (p->kind == HS_KIND_SNAPSHOT || !p->base[0])
		return true;
	_cleanup_(hs_index_free_p) struct hs_index *base = NULL;
	bool ok = hs_store_point_get(dst, p->server, p->base, NULL, &base) == 0 && base->ship_bytes == 0;
	hs_err_clear();
	return ok;
}

static void server_end(const struct hs_replicate_opts *o, struct server *s)
{
	if (s->lock >= 0)
		hs_store_unlock(o->dst, s->lock);
	hs_strv_free(s->ids);
	hs_dset_free(&s->known);
	memset(s, 0, sizeof *s);
	s->lock = -1;
}

static int server_begin(const struct hs_replicate_opts *o, const char *name, struct server *s)
{
	server_end(o, s);
	snprintf(s->name, sizeof s->name, "%s", name);
	int r = hs_store_lock_server(o->dst, name, &s->lock);
	if (r == 0)
		r = hs_store_points_list(o->dst, name, &s->ids, &s->nids);
	if (r == 0)
		r = hs_dset_init(&s->known, 1024);
	if (r == 0 && s->nids) {
		_cleanup_(hs_index_free_p) struct hs_index *last = NULL;
		r = hs_store_point_get(o->dst, name, s->ids[s->nids - 1], NULL, &last);
		bool trusted = r == 0 && self_contained(o->dst, last);
		for (uint64_t i = 0; trusted && r == 0 && i < last->nchunks; i++)
			if (!hs_digest_is_zero(&last->digests[i]))
				r = hs_dset_add(&s->known, &last->digests[i]) < 0 ? -ENOMEM : 0;
	}
	return r;
}

static bool has_id(const struct server *s, const char *id)
{
	for (size_t k = 0; k < s->nids; k++)
		if (strcmp(s->ids[k], id) == 0)
			return true;
	return false;
}

int hs_replicate(const struct hs_replicate_opts *o, struct hs_replicate_stats *st)
{
	memset(st, 0, sizeof *st);
	struct hs_store *from = o->src->v[o->src->n - 1];
	if (from->chunk_size != o->dst->chunk_size)
		return hs_err(EINVAL, "%s has chunks of %u bytes, %s of %u: a replica needs the same chunk size",
			      o->dst->be->where, o->dst->chunk_size, from->be->where, from->chunk_size);
	double t0 = hs_now_s();
	struct server s = { .lock = -1 };
	int r = 0;
	for (size_t k = 0; r == 0 && k < o->npoints; k++) {
		const struct hs_point_ref *p = &o->points[k];
		if (strcmp(s.name, p->server) != 0 && (r = server_begin(o, p->server, &s)) < 0)
			break;
		if (has_id(&s, p->id)) {
			st->points_present++;
			continue;
		}
		struct hs_index *ix;
		r = hs_store_point_get(from, p->server, p->id, NULL, &ix);
		if (r == 0) {
			r = copy_point(o, ix, &s.known, st);
			hs_index_free(ix);
		}
	}
	server_end(o, &s);
	st->seconds = hs_now_s() - t0;
	return r;
}
