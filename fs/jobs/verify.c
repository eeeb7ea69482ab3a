/* Verify; see verify.h. */
#include "jobs/verify.h"
#include "jobs/replicate.h"
#include "store/badlist.h"
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
	char why[400];
	bool breaks;  /* no good copy anywhere: the points naming it are broken */
	bool damaged; /* a copy was corrupt or unreadable (not only missing) */
};

struct job {
	const struct hs_verify_opts *o;
	struct entry *e;
	size_t n;
	bool *unreadable; /* per point: its index could not be read */
	uint64_t nunreadable;
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
		if (o->refs[k].disk[0] && strcmp(o->refs[k].disk, p->disks[d].name) != 0)
			continue;
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(st, p, d, &ix);
		if (r == 0)
			r = fn(arg, ix);
	}
	return r;
}

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

/* The distinct non-zero chunks of all points, sorted by digest (the order
 * the store's fan-out directories hold them in). A point whose index cannot
 * be read is reported and marked, and the others are still verified. */
static int collect(struct job *j, struct entry **out, size_t *n)
{
	const struct hs_verify_opts *o = j->o;
	struct collecting c = { 0 };
	int r = hs_dset_init(&c.seen, 1024);
	for (size_t p = 0; r == 0 && p < o->npoints; p++) {
		hs_err_clear();
		r = point_disks(o, p, collect_disk, &c);
		if (r < 0 && r != -ENOMEM) {
			char line[700];
			snprintf(line, sizeof line, "point %s@%s cannot be read: %s", o->refs[p].server, o->refs[p].id,
				 hs_err_msg() ? hs_err_msg() : strerror(-r));
			if (o->bad)
				o->bad(o->bad_arg, line);
			j->unreadable[p] = true;
			j->nunreadable++;
			r = 0;
		}
	}
	hs_dset_free(&c.seen);
	if (r < 0) {
		free(c.e);
		return r;
	}
	if (c.k)
		qsort(c.e, c.k, sizeof *c.e, cmp_entry); /* none: c.e is NULL */
	*out = c.e;
	*n = c.k;
	return 0;
}

static int add_bad(struct job *j, const struct hs_digest *d, const char *why, bool breaks, bool damaged)
{
	HS_LOCK_SCOPE(&j->bad_lock);
	if (hs_grow(&j->bad, &j->capbad, j->nbad + 1, sizeof *j->bad) < 0)
		return -ENOMEM;
	j->bad[j->nbad].d = *d;
	snprintf(j->bad[j->nbad].why, sizeof j->bad[j->nbad].why, "%s", why);
	j->bad[j->nbad].breaks = breaks;
	j->bad[j->nbad].damaged = damaged;
	j->nbad++;
	return 0;
}

/* A failure of the network rather than of the chunk: verification stops
 * instead of calling every chunk bad. */
static bool transient(int r)
{
	return r == -EAGAIN || r == -ETIMEDOUT || r == -ECONNREFUSED || r == -ECONNRESET ||
	       r == -EHOSTUNREACH || r == -ENETUNREACH;
}

/* Append "; " and text to why (cap bytes). */
static void why_add(char *why, size_t cap, const char *text)
{
	size_t n = strlen(why);
	snprintf(why + n, cap - n, "%s%s", n ? "; " : "", text);
}

/* Check one chunk: the first source that holds it must hold a good copy.
 * Corrupt or unreadable copies met on the way are reported with it, in one
 * line per chunk: the chunk is bad (it breaks its points) when no source
 * has a good copy. */
static int check_one(struct job *j, const struct entry *e, void *plain, struct hs_buf *z)
{
	const struct hs_sources *s = j->o->src;
	char why[400] = "", what[300];
	for (size_t i = 0; i < s->n; i++) {
		const char *where = s->v[i]->be->where;
		hs_err_clear();
		/* An encrypted store without its key (verify --no-key): presence only. */
		if (s->v[i]->encrypted && !s->v[i]->key) {
			int r = hs_store_chunk_has(s->v[i], &e->d);
			if (r == 1)
				return 0;
			if (r < 0 && transient(r))
				return r;
			continue;
		}
		int r = hs_store_chunk_get(s->v[i], &e->d, z);
		if (r == -ENOENT)
			continue;
		if (r < 0 && transient(r))
			return r;
		if (r == 0) {
			r = hs_store_chunk_decode(s->v[i], z->data, z->len, &e->d, plain, e->len);
			if (r == 0) {
				if (!why[0])
					return 0;
				snprintf(what, sizeof what, "good in %s", where);
				why_add(why, sizeof why, what);
				return add_bad(j, &e->d, why, false, true);
			}
			if (r == -ENOMEM)
				return r;
		}
		if (r == -EBADMSG)
			snprintf(what, sizeof what, "corrupt in %s", where);
		else /* a directory where the chunk should be, an I/O error: this copy only */
			snprintf(what, sizeof what, "unreadable in %s (%s)", where,
				 hs_err_msg() ? hs_err_msg() : strerror(-r));
		why_add(why, sizeof why, what);
	}
	bool damaged = why[0] != 0;
	if (!damaged)
		snprintf(why, sizeof why, "missing (not in %s%s)", s->v[s->n - 1]->be->where,
			 s->n > 1 ? " nor any seed" : "");
	return add_bad(j, &e->d, why, true, damaged);
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
		for (uint64_t i = 0; i < ix->nchunks && n->j->bad[b].breaks && !n->names[b]; i++)
			n->names[b] = hs_digest_eq(&ix->digests[i], &n->j->bad[b].d);
	return 0;
}

/* Report each bad chunk with the points that name it (each point's disks
 * read once more); returns how many points are broken. */
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
		len[b] = snprintf(line[b], sizeof line[b], "chunk %s: %s%s", hex, j->bad[b].why,
				  j->bad[b].breaks ? "; breaks" : "");
	}
	for (size_t p = 0; r == 0 && p < o->npoints; p++) {
		if (j->unreadable[p])
			continue;
		memset(n.names, 0, (j->nbad ? j->nbad : 1) * sizeof *n.names);
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

/* Damaged chunks with no good copy go on the store's list: the next capture
 * holding their content stores them again. Merely missing ones do not (a
 * verify without the drive would send the next backup a whole snapshot). */
static int mark(const struct job *j, uint64_t *marked)
{
	struct hs_digest *v = malloc((j->nbad ? j->nbad : 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (size_t b = 0; b < j->nbad; b++)
		if (j->bad[b].breaks && j->bad[b].damaged)
			v[n++] = j->bad[b].d;
	int r = hs_badlist_add(j->o->src->v[j->o->src->n - 1], v, n);
	free(v);
	*marked = r == 0 ? n : 0;
	return r;
}

int hs_verify(const struct hs_verify_opts *o, struct hs_verify_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	double t0 = hs_now_s();
	struct job j = { .o = o, .unreadable = calloc(o->npoints ? o->npoints : 1, sizeof(bool)) };
	if (!j.unreadable)
		return -ENOMEM;
	int r = collect(&j, &j.e, &j.n);
	if (r < 0) {
		free(j.unreadable);
		return r;
	}
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
	stats->unreadable_points = j.nunreadable;
	if (r == 0 && j.nbad)
		r = report(&j, &stats->broken_points);
	/* Marking is a help for the next capture: the report stands without it. */
	if (r == 0 && o->mark && mark(&j, &stats->marked) < 0 && o->bad) {
		char line[600];
		snprintf(line, sizeof line, "cannot list the damaged chunks as bad: %s", hs_err_msg() ? hs_err_msg() : "?");
		o->bad(o->bad_arg, line);
	}
	if (r == 0 && (j.nbad || j.nunreadable)) {
		/* One entry per chunk: check_one reports every copy of it at once. */
		stats->bad = j.nbad;
		/* A replica is repaired from its source: say how. */
		struct hs_store *st = o->src->v[o->src->n - 1];
		char source[2048], fix[4700] = "", extra[80] = "";
		if (hs_replica_source(st, source, sizeof source) == 0)
			snprintf(fix, sizeof fix, "; run hotspare replicate %s %s --verify-dest to repair", source,
				 st->be->where);
		if (j.nunreadable)
			snprintf(extra, sizeof extra, ", %llu of them unreadable", (unsigned long long)j.nunreadable);
		hs_err_clear();
		r = hs_err(EIO, "verify failed: %llu of %zu chunks bad, %llu of %zu points broken%s%s",
			   (unsigned long long)j.nbad, j.n,
			   (unsigned long long)(stats->broken_points + j.nunreadable), o->npoints, extra, fix);
	}
	stats->seconds = hs_now_s() - t0;
	free(j.e);
	free(j.bad);
	free(j.unreadable);
	pthread_mutex_destroy(&j.bad_lock);
	return r;
}
