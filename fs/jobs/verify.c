/* Verify; see verify.h. */
#include "jobs/verify.h"
#include "jobs/replicate.h"
#include "store/chunk.h"
#include "store/point.h"
#include "store/store.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/digestset.h"
#include "basics/err.h"
#include "basics/workers.h"
#include <stdatomic.h>
#include <string.h>

struct entry {
	struct hs_digest d;
	uint32_t len;
};

struct bad {
	struct hs_digest d;
	char why[160];
};

struct job {
	const struct hs_verify_opts *o;
	struct entry *e;
	size_t n;
	atomic_uint_fast64_t bytes;
	/* bad_lock protects the bad list */
	pthread_mutex_t bad_lock;
	struct bad *bad;
	size_t nbad, capbad;
};

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(a, b, HS_DIGEST_LEN);
}

/* Call fn for every disk of point k: its loaded index, or each disk of the
 * named point read from the store (the last source) one at a time. */
static int point_disks(const struct hs_verify_opts *o, size_t k, int (*fn)(void *, const struct hs_index *),
		       void *arg)
{
	if (o->points)
		return fn(arg, o->points[k]);
	struct hs_store *st = o->src->v[o->src->n - 1];
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	int r = hs_store_point_head(st, o->refs[k].server, o->refs[k].id, p);
	for (unsigned d = 0; r == 0 && d < p->ndisks; d++) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(st, p, d, &ix);
		if (r == 0)
			r = fn(arg, ix);
	}
	return r;
}

/* The distinct non-zero chunks of all points, sorted by digest (the order
 * the store's fan-out directories hold them in). */
struct collecting {
	struct hs_dset seen;
	struct entry *e;
	size_t cap, k;
};

static int collect_disk(void *arg, const struct hs_index *ix)
{
	struct collecting *c = arg;
	int r = 0;
	for (uint64_t i = 0; r == 0 && i < ix->nchunks; i++) {
		if (hs_digest_is_zero(&ix->digests[i]) || (r = hs_dset_add(&c->seen, &ix->digests[i])) == 0)
			continue;
		if (r < 0 || (r = hs_grow(&c->e, &c->cap, c->k + 1, sizeof *c->e)) < 0)
			break;
		c->e[c->k].d = ix->digests[i];
		c->e[c->k++].len = hs_index_chunk_len(ix, i);
	}
	return r < 0 ? r : 0;
}

static int collect(const struct hs_verify_opts *o, struct entry **out, size_t *n)
{
	struct collecting c = { 0 };
	int r = hs_dset_init(&c.seen, 1024);
	for (size_t p = 0; r == 0 && p < o->npoints; p++)
		r = point_disks(o, p, collect_disk, &c);
	hs_dset_free(&c.seen);
	if (r < 0) {
		free(c.e);
		return r;
	}
	qsort(c.e, c.k, sizeof *c.e, cmp_entry);
	*out = c.e;
	*n = c.k;
	return 0;
}

static int add_bad(struct job *j, const struct hs_digest *d, const char *why)
{
	HS_LOCK_SCOPE(&j->bad_lock);
	if (hs_grow(&j->bad, &j->capbad, j->nbad + 1, sizeof *j->bad) < 0)
		return -ENOMEM;
	j->bad[j->nbad].d = *d;
	snprintf(j->bad[j->nbad].why, sizeof j->bad[j->nbad].why, "%s", why);
	j->nbad++;
	return 0;
}

/* Check one chunk: the first source that holds it must hold a good copy;
 * corrupt copies met on the way are reported too. */
static int check_one(struct job *j, const struct entry *e, void *plain, struct hs_buf *z)
{
	const struct hs_sources *s = j->o->src;
	char why[160];
	for (size_t i = 0; i < s->n; i++) {
		int r = hs_store_chunk_get(s->v[i], &e->d, z);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		r = hs_store_chunk_decode(s->v[i], z->data, z->len, &e->d, plain, e->len);
		if (r == 0)
			return 0;
		if (r != -EBADMSG)
			return r;
		snprintf(why, sizeof why, "corrupt in %s", s->v[i]->be->where);
		r = add_bad(j, &e->d, why);
		if (r < 0)
			return r;
	}
	snprintf(why, sizeof why, "missing (not in %s%s)", s->v[s->n - 1]->be->where,
		 s->n > 1 ? " nor any seed" : "");
	return add_bad(j, &e->d, why);
}

static int check_item(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	struct job *j = arg;
	int r = check_one(j, &j->e[k], plain, z);
	atomic_fetch_add(&j->bytes, j->e[k].len);
	if (j->o->progress)
		hs_progress_add(j->o->progress, j->e[k].len);
	return r;
}

struct naming {
	const struct job *j;
	bool *names; /* per bad chunk: named by the current point */
};

static int name_disk(void *arg, const struct hs_index *ix)
{
	struct naming *n = arg;
	for (size_t b = 0; b < n->j->nbad; b++)
		for (uint64_t i = 0; i < ix->nchunks && !n->names[b]; i++)
			n->names[b] = hs_digest_eq(&ix->digests[i], &n->j->bad[b].d);
	return 0;
}

/* Report each bad chunk with the points that name it (each index read once
 * more); returns how many points are broken. */
static int report(const struct job *j, uint64_t *nbroken)
{
	const struct hs_verify_opts *o = j->o;
	char (*line)[1024] = calloc(j->nbad ? j->nbad : 1, sizeof *line);
	int *len = calloc(j->nbad ? j->nbad : 1, sizeof *len);
	struct naming n = { j, calloc(j->nbad ? j->nbad : 1, sizeof *n.names) };
	int r = line && len && n.names ? 0 : -ENOMEM;
	*nbroken = 0;
	for (size_t b = 0; r == 0 && b < j->nbad; b++) {
		char hex[HS_DIGEST_HEX];
		hs_digest_hex(&j->bad[b].d, hex);
		len[b] = snprintf(line[b], sizeof line[b], "chunk %s: %s; breaks", hex, j->bad[b].why);
	}
	for (size_t p = 0; r == 0 && p < o->npoints; p++) {
		memset(n.names, 0, j->nbad * sizeof *n.names);
		if ((r = point_disks(o, p, name_disk, &n)) < 0)
			break;
		const char *server = o->points ? o->points[p]->server : o->refs[p].server;
		const char *id = o->points ? o->points[p]->id : o->refs[p].id;
		bool broken = false;
		for (size_t b = 0; b < j->nbad; b++) {
			if (n.names[b] && len[b] < (int)sizeof line[b] - 100)
				len[b] += snprintf(line[b] + len[b], sizeof line[b] - (size_t)len[b], " %s@%s", server, id);
			broken |= n.names[b];
		}
		*nbroken += broken;
	}
	for (size_t b = 0; r == 0 && b < j->nbad; b++)
		if (o->bad)
			o->bad(o->bad_arg, line[b]);
	free(line);
	free(len);
	free(n.names);
	return r;
}

int hs_verify(const struct hs_verify_opts *o, struct hs_verify_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	double t0 = hs_now_s();
	struct job j = { .o = o };
	int r = collect(o, &j.e, &j.n);
	if (r < 0)
		return r;
	pthread_mutex_init(&j.bad_lock, NULL);
	uint64_t total = 0;
	for (size_t i = 0; i < j.n; i++)
		total += j.e[i].len;
	if (o->progress)
		hs_progress_start(o->progress, "verify", total, 0);
	r = hs_parallel_each(o->threads ? o->threads : 2 * hs_ncpu(), j.n, 4u << 20, check_item, &j);
	if (o->progress)
		hs_progress_end(o->progress);
	stats->chunks = j.n;
	stats->bytes = j.bytes;
	if (r == 0 && j.nbad) {
		/* The same chunk may be listed twice (a corrupt copy and then missing). */
		uint64_t distinct = 0;
		for (size_t b = 0; b < j.nbad; b++) {
			bool seen = false;
			for (size_t c = 0; c < b && !seen; c++)
				seen = hs_digest_eq(&j.bad[c].d, &j.bad[b].d);
			distinct += !seen;
		}
		stats->bad = distinct;
		r = report(&j, &stats->broken_points);
		if (r == 0) {
			/* A replica is repaired from its source: say how. */
			struct hs_store *st = o->src->v[o->src->n - 1];
			char source[2048], fix[4700] = "";
			if (hs_replica_source(st, source, sizeof source) == 0)
				snprintf(fix, sizeof fix, "; run hotspare replicate %s %s --verify-dest to repair",
					 source, st->be->where);
			hs_err_clear();
			r = hs_err(EIO, "verify failed: %llu of %zu chunks bad, %llu of %zu points broken%s",
				   (unsigned long long)distinct, j.n,
				   (unsigned long long)stats->broken_points, o->npoints, fix);
		}
	}
	stats->seconds = hs_now_s() - t0;
	free(j.e);
	free(j.bad);
	pthread_mutex_destroy(&j.bad_lock);
	return r;
}
