/* gc; see gc.h for the protocol. A run: (1) pruned points no lease names
 * are deleted; (2) live writers and held writer locks are listed; (3) the
 * batches whose moves every live writer started after are ripe; (4) what is
 * under chunks/ and trash/chunks/ is listed into one table, sorted by digest;
 * (5) every point (and every pruned point still in use) marks the chunks it
 * names; (6) ripe batches are emptied; (7) the chunks no point names, older
 * than the grace and in no batch yet, become a new batch, moved to the
 * trash; (8) with no writer live now, that batch is emptied at once (after
 * marking what points appeared since (5)); (9) leftovers of dead processes go.
 *
 * Memory: store/chunklist.h's 40 bytes a chunk listed, and a word a chunk for
 * the steps that work through them in parallel; point tables are read one at
 * a time. */
#include "jobs/gc.h"
#include "basics/buf.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/workers.h"
#include "store/chunklist.h"
#include "store/lease.h"
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define GC_LOCK ".gc" /* locks/.gc.lock; no server name starts with '.' */
#define BATCH_MAX ((size_t)1 << 18) /* keys per batch: its list stays well under 64 MiB */

enum {
	E_LIVE = 1,    /* under chunks/ */
	E_TRASH = 2,   /* under trash/chunks/ */
	E_NAMED = 4,   /* a point names it */
	E_OLD = 8,     /* the copy under chunks/ is older than the grace */
	E_RIPE = 16,   /* a ripe batch lists it */
	E_BATCH = 32,  /* a batch that waits lists it (moved or not) */
	E_NEW = 64,    /* moved to the trash by this run */
	E_GONE = 128,  /* deleted from the trash, or put back, by this run */
};

struct batch {
	char id[64];
	int64_t created, moved;
	bool ripe;
	bool has_json;
};

struct run {
	const struct hs_gc_opts *o;
	struct hs_store *st;
	struct hs_gc_stats *s;
	int64_t now;
	struct hs_chunk_table t;
	struct batch *b;
	size_t nb;
	char **seen; /* "SERVER@ID" of the points marked, sorted */
	size_t nseen, capseen;
	/* the batches this run made (several when a sweep is larger than
	 * BATCH_MAX), and whether they were emptied at once */
	char (*made)[64];
	size_t nmade;
	bool made_emptied;
	/* entries the parallel steps work on */
	uint32_t *work;
	size_t nwork;
	atomic_uint_fast64_t n_freed, b_freed, n_restored, n_moved, b_moved;
};

/* ---- marking ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool was_seen(const struct run *run, const char *name)
{
	return run->nseen && bsearch(&name, run->seen, run->nseen, sizeof *run->seen, cmp_str);
}

/* Mark the chunks of server@id (under points/, else in the trash). A point
 * gone from both (a dry run beside another gc) names nothing any more. */
static int mark_point(struct run *run, const char *server, const char *id)
{
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	int r = hs_store_point_head(run->st, server, id, p);
	if (r == -ENOENT) {
		hs_err_clear();
		return 0;
	}
	for (unsigned k = 0; r == 0 && k < p->ndisks; k++) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(run->st, p, k, &ix);
		for (uint64_t i = 0; r == 0 && i < ix->nchunks; i++) {
			struct hs_chunk_ent *e = hs_digest_is_zero(&ix->digests[i]) ? NULL : hs_chunk_table_find(&run->t, &ix->digests[i]);
			if (e)
				e->flags |= E_NAMED;
		}
	}
	if (r < 0 && r != -ENOMEM) {
		char why[1024];
		snprintf(why, sizeof why, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
		return hs_err(-r, "gc takes nothing while a point cannot be read (%s); repair or remove it", why);
	}
	char *name;
	if (r == 0 && asprintf(&name, "%s@%s", server, id) >= 0) {
		if (hs_grow(&run->seen, &run->capseen, run->nseen + 1, sizeof *run->seen) < 0) {
			free(name);
			return -ENOMEM;
		}
		run->seen[run->nseen++] = name;
	} else if (r == 0) {
		r = -ENOMEM;
	}
	return r;
}

/* Mark every point under points/; with only_new, those not marked before. */
static int mark_points(struct run *run, bool only_new)
{
	_cleanup_(hs_strv_free_p) char **servers = NULL;
	size_t ns, before = run->nseen;
	int r = hs_store_servers_list(run->st, &servers, &ns);
	for (size_t i = 0; r == 0 && i < ns; i++) {
		_cleanup_(hs_strv_free_p) char **ids = NULL;
		size_t n;
		if (hs_server_name_check(servers[i]) < 0) {
			hs_err_clear();
			continue;
		}
		r = hs_store_points_list(run->st, servers[i], &ids, &n);
		for (size_t k = 0; r == 0 && k < n; k++) {
			char name[HS_SERVER_MAX + HS_POINT_ID_LEN + 2];
			snprintf(name, sizeof name, "%s@%s", servers[i], ids[k]);
			if (only_new && was_seen(run, name))
				continue;
			r = mark_point(run, servers[i], ids[k]);
		}
	}
	if (run->nseen > before)
		qsort(run->seen, run->nseen, sizeof *run->seen, cmp_str);
	return r;
}

/* ---- pruned points ---- */

/* Delete the pruned points no lease names (and those prune put back);
 * mark the chunks of the others. */
static int pruned_points(struct run *run, bool mark)
{
	struct hs_backend *be = run->st->be;
	_cleanup_(hs_strv_free_p) char **servers = NULL;
	struct hs_lease_info *leases = NULL;
	size_t ns = 0, nl = 0;
	int r = hs_store_trash_servers(run->st, &servers, &ns);
	/* Leases listed after the pruned points: a lease taken before a point
	 * was pruned is in this list, so no point in use goes. */
	if (r == 0 && ns)
		r = hs_leases_list(run->st, &leases, &nl);
	for (size_t i = 0; r == 0 && i < ns; i++) {
		_cleanup_(hs_strv_free_p) char **ids = NULL;
		size_t n;
		r = hs_store_trash_points(run->st, servers[i], &ids, &n);
		for (size_t k = 0; r == 0 && k < n; k++) {
			if (hs_leases_name(leases, nl, run->now, servers[i], ids[k], NULL, 0)) {
				if (mark) {
					run->s->points_in_use++;
					r = mark_point(run, servers[i], ids[k]);
				}
				continue;
			}
			if (mark)
				continue;
			run->s->points_deleted++;
			if (run->o->dry_run)
				continue;
			char key[160];
			snprintf(key, sizeof key, "%spoints/%s/%s.idx", HS_TRASH_PREFIX, servers[i], ids[k]);
			r = be->ops->remove(be, key);
			if (r == -ENOENT)
				r = 0;
		}
		/* A prune killed between its moves and its manifest left the
		 * manifest listing pruned points: it lists what is there now. */
		if (r == 0 && n && !mark && !run->o->dry_run)
			r = hs_store_points_manifest_update(run->st, servers[i], NULL, 0);
	}
	hs_leases_free(leases, nl);
	if (r == 0 && !mark && !run->o->dry_run)
		r = be->ops->sync(be);
	return r;
}

/* ---- batches ---- */

static int batch_json(const struct batch *b, char **text)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "format", json_object_new_string("hotspare-gc-batch"));
	json_object_object_add(o, "created", json_object_new_int64(b->created));
	if (b->moved)
		json_object_object_add(o, "moved", json_object_new_int64(b->moved));
	json_object_object_add(o, "host", json_object_new_string(hs_lease_host()));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r = s && asprintf(text, "%s\n", s) >= 0 ? 0 : -ENOMEM;
	json_object_put(o);
	return r;
}

static int batch_put(struct run *run, const struct batch *b)
{
	_cleanup_free_ char *text = NULL;
	char key[128];
	snprintf(key, sizeof key, "%sbatches/%s.json", HS_TRASH_PREFIX, b->id);
	int r = batch_json(b, &text);
	if (r == 0)
		r = run->st->be->ops->put(run->st->be, key, text, strlen(text), 0);
	if (r == 0)
		r = run->st->be->ops->sync(run->st->be);
	return r;
}

struct batch_names {
	struct run *run;
	int err;
};

static struct batch *batch_get(struct run *run, const char *id)
{
	for (size_t i = 0; i < run->nb; i++)
		if (!strcmp(run->b[i].id, id))
			return &run->b[i];
	size_t cap = run->nb;
	if (hs_grow(&run->b, &cap, run->nb + 1, sizeof *run->b) < 0)
		return NULL;
	struct batch *b = &run->b[run->nb++];
	memset(b, 0, sizeof *b);
	snprintf(b->id, sizeof b->id, "%s", id);
	return b;
}

static int add_batch_name(void *arg, const char *name)
{
	struct run *run = arg;
	size_t len = strlen(name);
	bool json = len > 5 && !strcmp(name + len - 5, ".json"), keys = len > 5 && !strcmp(name + len - 5, ".keys");
	if ((!json && !keys) || len - 5 >= 64)
		return 0;
	char id[64];
	snprintf(id, sizeof id, "%.*s", (int)(len - 5), name);
	struct batch *b = batch_get(run, id);
	if (!b)
		return -ENOMEM;
	if (json)
		b->has_json = true;
	return 0;
}

static int batch_read(struct run *run, struct batch *b)
{
	char key[128];
	snprintf(key, sizeof key, "%sbatches/%s.json", HS_TRASH_PREFIX, b->id);
	struct hs_buf buf = { .max = 4096 };
	int r = run->st->be->ops->get(run->st->be, key, &buf);
	if (r < 0) {
		hs_buf_free(&buf);
		return r;
	}
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)buf.data, (int)buf.len) : NULL;
	if (tok)
		json_tokener_free(tok);
	hs_buf_free(&buf);
	json_object *v;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return hs_err(EBADMSG, "%s/%s is not a gc batch", run->st->be->where, key);
	}
	b->created = json_object_object_get_ex(o, "created", &v) ? json_object_get_int64(v) : 0;
	b->moved = json_object_object_get_ex(o, "moved", &v) ? json_object_get_int64(v) : 0;
	json_object_put(o);
	return 0;
}

/* Flag the table's entries a batch lists. */
static int batch_keys(struct run *run, const struct batch *b, uint8_t flags)
{
	char key[128];
	snprintf(key, sizeof key, "%sbatches/%s.keys", HS_TRASH_PREFIX, b->id);
	struct hs_buf buf = { .max = BATCH_MAX * (2 * HS_DIGEST_LEN + 1) + 4096 };
	int r = run->st->be->ops->get(run->st->be, key, &buf);
	if (r == -ENOENT) { /* a batch whose list is gone lists nothing */
		hs_buf_free(&buf);
		return 0;
	}
	for (size_t i = 0; r == 0 && i + 2 * HS_DIGEST_LEN <= buf.len; i += 2 * HS_DIGEST_LEN + 1) {
		char hex[HS_DIGEST_HEX];
		struct hs_digest d;
		memcpy(hex, buf.data + i, 2 * HS_DIGEST_LEN);
		hex[2 * HS_DIGEST_LEN] = 0;
		struct hs_chunk_ent *e = hs_digest_parse(hex, &d) == 0 ? hs_chunk_table_find(&run->t, &d) : NULL;
		if (e)
			e->flags |= flags;
	}
	hs_buf_free(&buf);
	return r;
}

static int batch_remove(struct run *run, const struct batch *b)
{
	struct hs_backend *be = run->st->be;
	char key[128];
	/* The list last: a batch whose list is left alone lists nothing in the trash. */
	snprintf(key, sizeof key, "%sbatches/%s.json", HS_TRASH_PREFIX, b->id);
	int r = be->ops->remove(be, key);
	if (r == 0 || r == -ENOENT) {
		snprintf(key, sizeof key, "%sbatches/%s.keys", HS_TRASH_PREFIX, b->id);
		r = be->ops->remove(be, key);
	}
	return r == -ENOENT ? 0 : r;
}

/* The batches, and which are ripe given the writers. */
static int load_batches(struct run *run, bool writers_live, int64_t first_start)
{
	int r = run->st->be->ops->list(run->st->be, HS_TRASH_PREFIX "batches", add_batch_name, run);
	if (r == -ENOENT)
		r = 0;
	for (size_t i = 0; r == 0 && i < run->nb; i++) {
		struct batch *b = &run->b[i];
		if (!b->has_json) {
			/* A list without its record: a run killed before it moved
			 * anything, or after it emptied the batch. Nothing of it is
			 * in the trash. */
			b->ripe = true;
			continue;
		}
		if ((r = batch_read(run, b)) < 0)
			break;
		/* A run killed while moving: its moves are over now (one gc at a
		 * time), so they are done as of now. */
		if (!b->moved) {
			b->moved = run->now;
			if (!run->o->dry_run && (r = batch_put(run, b)) < 0)
				break;
		}
		b->ripe = !writers_live || b->moved < first_start - HS_CLOCK_SKEW_SECONDS;
	}
	return r;
}

/* ---- writers ---- */

/* Whether any writer is live, and when the first live one started (a held
 * lock without a registration: the beginning of time). */
static int writers(struct run *run, bool *live, int64_t *first_start, bool count)
{
	struct hs_writer_info *w = NULL;
	struct hs_lock_info *l = NULL;
	size_t nw = 0, nl = 0;
	int r = hs_writers_list(run->st, &w, &nw);
	if (r == 0)
		r = hs_locks_held(run->st, &l, &nl);
	*live = false;
	*first_start = INT64_MAX;
	for (size_t i = 0; r == 0 && i < nw; i++) {
		if (!hs_writer_alive(&w[i], run->now))
			continue;
		*live = true;
		if (w[i].started < *first_start)
			*first_start = w[i].started;
		/* A record from further ahead than hosts' clocks may differ: that
		 * writer's start cannot be placed against the moves, so nothing
		 * it may count on goes while it lives. */
		if (w[i].started > run->now + HS_CLOCK_SKEW_SECONDS || w[i].renewed > run->now + HS_CLOCK_SKEW_SECONDS) {
			*first_start = INT64_MIN + HS_CLOCK_SKEW_SECONDS;
			if (count)
				run->s->writers_ahead++;
		}
		if (count)
			run->s->writers_live++;
	}
	for (size_t i = 0; r == 0 && i < nl; i++) {
		if (hs_lock_registered(&l[i], w, nw, run->now))
			continue;
		/* An older hotspare, or one that has not registered yet: a writer
		 * that may have asked about chunks since it took its lock. */
		*live = true;
		if (l[i].since < *first_start)
			*first_start = l[i].since;
		if (count && run->now - l[i].since >= HS_LOCK_REGISTER_SECONDS)
			run->s->writers_unregistered++;
		else if (count)
			run->s->writers_live++;
	}
	free(w);
	free(l);
	return r;
}

/* ---- moving and deleting ---- */

static void trash_key(const struct run *run, const struct hs_digest *d, char key[96], char trash[128])
{
	hs_store_chunk_key(run->st, d, key);
	snprintf(trash, 128, "%s%s", HS_TRASH_PREFIX, key);
}

/* Empty one trash copy: back under chunks/ when a point names it and
 * chunks/ lacks it, else deleted. */
static int empty_one(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	(void)plain;
	(void)z;
	struct run *run = arg;
	struct hs_chunk_ent *e = &run->t.v[run->work[k]];
	struct hs_backend *be = run->st->be;
	char key[96], trash[128];
	trash_key(run, &e->d, key, trash);
	int r = -EEXIST;
	if (e->flags & E_NAMED) {
		r = be->ops->copy(be, trash, key, HS_COPY_MOVE);
		if (r == 0) {
			atomic_fetch_add(&run->n_restored, 1);
			e->flags = (uint8_t)((e->flags | E_GONE | E_LIVE) & ~E_TRASH);
			return 0;
		}
	}
	if (r == -EEXIST) { /* not named, or chunks/ has it (again) */
		r = be->ops->remove(be, trash);
		if (r == 0 && !(e->flags & E_NAMED)) {
			atomic_fetch_add(&run->n_freed, 1);
			atomic_fetch_add(&run->b_freed, e->size);
		}
	}
	if (r == 0 || r == -ENOENT)
		e->flags = (uint8_t)((e->flags | E_GONE) & ~E_TRASH);
	return r == -ENOENT ? 0 : r;
}

static int move_one(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	(void)plain;
	(void)z;
	struct run *run = arg;
	struct hs_chunk_ent *e = &run->t.v[run->work[k]];
	char key[96], trash[128];
	trash_key(run, &e->d, key, trash);
	int r = run->st->be->ops->copy(run->st->be, key, trash, HS_COPY_MOVE);
	if (r == -EEXIST || r == -ENOENT) /* one copy is in the trash already; or it is gone */
		return 0;
	if (r == 0) {
		/* A new copy in the trash: one an earlier batch left (gone) no more. */
		e->flags = (uint8_t)((e->flags | E_NEW | E_TRASH) & ~(E_LIVE | E_GONE));
		atomic_fetch_add(&run->n_moved, 1);
		atomic_fetch_add(&run->b_moved, e->size);
	}
	return r;
}

static unsigned threads(const struct run *run)
{
	return run->st->be->remote ? 4 * hs_ncpu() : 2;
}

/* Run fn over the entries whose flags have all of want and none of not. */
static int each(struct run *run, uint8_t want, uint8_t not, int (*fn)(void *, uint64_t, void *, struct hs_buf *))
{
	run->nwork = 0;
	for (size_t i = 0; i < run->t.n; i++)
		if ((run->t.v[i].flags & want) == want && !(run->t.v[i].flags & not))
			run->work[run->nwork++] = (uint32_t)i;
	if (!run->nwork || run->o->dry_run)
		return 0;
	int r = hs_parallel_each(threads(run), run->nwork, 1, fn, run);
	int e = run->st->be->ops->sync(run->st->be);
	return r < 0 ? r : e;
}

/* Empty the ripe batches: their chunks in the trash, then their records. */
/* A dry run's count of what emptying the work would do. */
static void count_empty(struct run *run)
{
	for (size_t k = 0; k < run->nwork; k++) {
		struct hs_chunk_ent *e = &run->t.v[run->work[k]];
		if (e->flags & E_NAMED) {
			run->s->chunks_restored++;
		} else {
			run->s->chunks_freed++;
			run->s->bytes_freed += e->size;
		}
		e->flags |= E_GONE;
	}
}

static int empty_ripe(struct run *run)
{
	int r = each(run, E_RIPE | E_TRASH, E_GONE, empty_one);
	if (run->o->dry_run)
		count_empty(run);
	for (size_t i = 0; r == 0 && i < run->nb; i++) {
		if (!run->b[i].ripe)
			continue;
		if (run->b[i].has_json)
			run->s->batches_emptied++;
		if (!run->o->dry_run)
			r = batch_remove(run, &run->b[i]);
	}
	if (r == 0 && !run->o->dry_run)
		r = run->st->be->ops->sync(run->st->be);
	return r;
}

/* New batches of the chunks no point names, older than the grace, in no
 * batch yet: each recorded, then moved to the trash, then marked done. */
static int sweep(struct run *run)
{
	size_t first = 0;
	int r = 0;
	for (size_t i = 0; i < run->t.n; i++) {
		const struct hs_chunk_ent *e = &run->t.v[i];
		if ((e->flags & E_LIVE) && !(e->flags & (E_NAMED | E_OLD | E_TRASH | E_BATCH)))
			run->s->chunks_young++;
	}
	while (r == 0) {
		run->nwork = 0;
		size_t i;
		for (i = first; i < run->t.n && run->nwork < BATCH_MAX; i++) {
			const struct hs_chunk_ent *e = &run->t.v[i];
			if ((e->flags & (E_LIVE | E_OLD)) == (E_LIVE | E_OLD) && !(e->flags & (E_NAMED | E_TRASH | E_BATCH)))
				run->work[run->nwork++] = (uint32_t)i;
		}
		first = i;
		if (!run->nwork)
			break;
		void *nv = realloc(run->made, (run->nmade + 1) * sizeof *run->made);
		if (!nv)
			return -ENOMEM;
		run->made = nv;
		struct batch nb = { .created = (int64_t)time(NULL) };
		uint32_t nonce = 0;
		if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
			nonce = (uint32_t)run->nwork ^ (uint32_t)getpid();
		char when[HS_POINT_ID_LEN + 1];
		hs_point_id_format((time_t)nb.created, when);
		snprintf(nb.id, sizeof nb.id, "%s-%08x", when, nonce);
		snprintf(run->made[run->nmade++], 64, "%s", nb.id);
		if (run->o->dry_run) {
			for (size_t k = 0; k < run->nwork; k++)
				run->t.v[run->work[k]].flags |= E_NEW;
			continue;
		}
		/* The list, then the record that makes it a batch, both durable
		 * before the first move. */
		struct hs_buf keys = { 0 };
		r = hs_buf_reserve(&keys, run->nwork * (2 * HS_DIGEST_LEN + 1));
		for (size_t k = 0; r == 0 && k < run->nwork; k++) {
			char hex[HS_DIGEST_HEX];
			hs_digest_hex(&run->t.v[run->work[k]].d, hex);
			hex[2 * HS_DIGEST_LEN] = '\n';
			r = hs_buf_append(&keys, hex, 2 * HS_DIGEST_LEN + 1);
		}
		char key[128];
		snprintf(key, sizeof key, "%sbatches/%s.keys", HS_TRASH_PREFIX, nb.id);
		if (r == 0)
			r = run->st->be->ops->put(run->st->be, key, keys.data, keys.len, 0);
		hs_buf_free(&keys);
		if (r == 0)
			r = batch_put(run, &nb);
		if (r == 0)
			r = hs_parallel_each(threads(run), run->nwork, 1, move_one, run);
		if (r == 0)
			r = run->st->be->ops->sync(run->st->be);
		/* Done: a writer registered from now on never saw these chunks
		 * as present. (A run killed before this: the next one stamps it.) */
		nb.moved = (int64_t)time(NULL);
		if (r == 0)
			r = batch_put(run, &nb);
	}
	return r;
}

/* The batches just made, emptied at once when no writer is live now: every
 * writer that saw one of their chunks as present has written its point. */
static int empty_new(struct run *run)
{
	bool live = false;
	int64_t first;
	int r = 0;
	if (!run->nmade)
		return 0;
	if (run->o->dry_run)
		live = run->s->writers_live || run->s->writers_unregistered; /* as listed */
	else
		r = writers(run, &live, &first, false);
	if (r < 0 || live)
		return r;
	/* Points written since the mark may name some of them. */
	r = mark_points(run, true);
	if (r == 0)
		r = each(run, E_NEW | E_TRASH, E_GONE, empty_one);
	if (r == 0 && run->o->dry_run) {
		run->nwork = 0;
		for (size_t i = 0; i < run->t.n; i++)
			if ((run->t.v[i].flags & E_NEW) && !(run->t.v[i].flags & E_GONE))
				run->work[run->nwork++] = (uint32_t)i;
		count_empty(run);
	}
	for (size_t i = 0; r == 0 && !run->o->dry_run && i < run->nmade; i++) {
		struct batch b = { 0 };
		snprintf(b.id, sizeof b.id, "%s", run->made[i]);
		r = batch_remove(run, &b);
	}
	if (r == 0 && !run->o->dry_run)
		r = run->st->be->ops->sync(run->st->be);
	run->made_emptied = r == 0;
	return r;
}

/* ---- leftovers ---- */

static int cleanup(struct run *run)
{
	struct hs_gc_stats *s = run->s;
	int r = hs_store_leftovers(run->st, !run->o->dry_run, &s->tmp_files, &s->tmp_bytes);
	struct hs_writer_info *w = NULL;
	struct hs_lease_info *l = NULL;
	size_t nw = 0, nl = 0;
	if (r == 0)
		r = hs_writers_list(run->st, &w, &nw);
	for (size_t i = 0; r == 0 && i < nw; i++) {
		if (hs_writer_alive(&w[i], run->now))
			continue;
		s->writers_removed++;
		if (!run->o->dry_run && (r = hs_writer_remove(run->st, w[i].name)) == -ENOENT)
			r = 0;
	}
	if (r == 0)
		r = hs_leases_list(run->st, &l, &nl);
	for (size_t i = 0; r == 0 && i < nl; i++) {
		/* Expired, and by more than clocks may disagree. */
		if (l[i].expires > run->now - HS_CLOCK_SKEW_SECONDS) {
			s->leases_unreadable += l[i].unreadable;
			continue;
		}
		s->leases_removed++;
		if (!run->o->dry_run && (r = hs_lease_remove(run->st, l[i].name)) == -ENOENT)
			r = 0;
	}
	free(w);
	hs_leases_free(l, nl);
	if (r == 0 && !run->o->dry_run)
		r = run->st->be->ops->sync(run->st->be);
	return r;
}

int hs_gc(const struct hs_gc_opts *o, struct hs_gc_stats *s)
{
	memset(s, 0, sizeof *s);
	s->dry_run = o->dry_run;
	double t0 = hs_now_s();
	struct hs_store *st = o->store;
	if (!st->be->ops->list_sized || !st->be->ops->copy)
		return hs_err(ENOTSUP, "%s cannot list or move objects (a web server): run gc on the directory it serves",
			      st->be->where);
	int lock = -1, r = 0;
	if (!o->dry_run) {
		r = st->be->ops->lock(st->be, GC_LOCK, 0, &lock);
		if (r == -EBUSY)
			return hs_err(EBUSY, "another gc is running on %s", st->be->where);
		if (r < 0)
			return r;
	}
	struct run run = { .o = o, .st = st, .s = s, .now = (int64_t)time(NULL) };
	bool live = false;
	int64_t first = INT64_MAX;
	/* (1) Pruned points no lease names go; (2) then the writers. */
	r = pruned_points(&run, false);
	if (r == 0)
		r = writers(&run, &live, &first, true);
	/* (3) Which batches are ripe; (4) the table. */
	if (r == 0)
		r = load_batches(&run, live, first);
	if (r == 0)
		r = hs_chunk_table_list(&run.t, st, "chunks", E_LIVE, E_OLD, run.now - o->grace + 1);
	if (r == 0)
		r = hs_chunk_table_list(&run.t, st, HS_TRASH_PREFIX "chunks", E_TRASH, 0, 0);
	if (r == 0)
		r = hs_chunk_table_index(&run.t, E_LIVE);
	/* A ripe batch is gone before the sweep: the keys it listed but never
	 * moved (a run killed) may go into the new batch. */
	for (size_t i = 0; r == 0 && i < run.nb; i++)
		r = batch_keys(&run, &run.b[i], run.b[i].ripe ? E_RIPE : E_BATCH);
	if (r == 0 && run.t.n > UINT32_MAX)
		r = hs_err(EFBIG, "%s holds more than %u chunks", st->be->where, UINT32_MAX);
	if (r == 0 && !(run.work = malloc((run.t.n ? run.t.n : 1) * sizeof *run.work)))
		r = -ENOMEM;
	/* (5) What the points name: after the writers were listed, so a writer
	 * that finished since has its point here. */
	if (r == 0)
		r = mark_points(&run, false);
	if (r == 0)
		r = pruned_points(&run, true);
	for (size_t i = 0; i < run.t.n; i++) {
		const struct hs_chunk_ent *e = &run.t.v[i];
		if (e->flags & E_LIVE) {
			s->chunks++;
			s->bytes += e->size;
			s->chunks_named += !!(e->flags & E_NAMED);
		}
	}
	/* (6) Ripe batches; (7) a new one; (8) emptied at once if it may be. */
	if (r == 0)
		r = empty_ripe(&run);
	if (r == 0)
		r = sweep(&run);
	if (r == 0)
		r = empty_new(&run);
	/* (9) What dead processes left. */
	if (r == 0)
		r = cleanup(&run);
	if (!o->dry_run) {
		s->chunks_freed = run.n_freed;
		s->bytes_freed = run.b_freed;
		s->chunks_restored = run.n_restored;
	}
	for (size_t i = 0; i < run.t.n; i++) {
		const struct hs_chunk_ent *e = &run.t.v[i];
		if ((e->flags & (E_TRASH | E_NEW)) && !(e->flags & E_GONE)) {
			s->chunks_waiting++;
			s->bytes_waiting += e->size;
		}
	}
	for (size_t i = 0; i < run.nb; i++)
		s->batches_waiting += run.b[i].has_json && !run.b[i].ripe;
	if (!run.made_emptied)
		s->batches_waiting += run.nmade;
	if (lock >= 0)
		st->be->ops->unlock(st->be, lock);
	for (size_t i = 0; i < run.nseen; i++)
		free(run.seen[i]);
	free(run.seen);
	hs_chunk_table_free(&run.t);
	free(run.b);
	free(run.made);
	free(run.work);
	s->seconds = hs_now_s() - t0;
	return r;
}
