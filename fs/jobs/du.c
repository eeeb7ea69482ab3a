/* du; see du.h. One table of the store's chunks (store/chunklist.h); each
 * server's points are read in turn, and each chunk remembers the last server
 * that named it (so a server counts it once) and whether more than one did. */
#include "jobs/du.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "store/chunklist.h"
#include <string.h>

enum { F_LIVE = 1, F_TRASH = 2, F_NAMED = 4, F_PRUNED = 8 };

#define SHARED UINT32_MAX

struct run {
	struct hs_store *st;
	struct hs_chunk_table t;
	uint32_t *last;  /* per entry: the last server (index + 1) that named it */
	uint32_t *owner; /* per entry: the only server naming it (index + 1), or SHARED */
};

/* Count the chunks of one point (server k) into s. */
static int count_point(struct run *run, uint32_t k, struct hs_du_server *s, const char *server, const char *id,
		       bool pruned)
{
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	int r = hs_store_point_head(run->st, server, id, p);
	if (r == -ENOENT) { /* pruned and deleted meanwhile */
		hs_err_clear();
		return 0;
	}
	if (r == 0 && !pruned) {
		s->points++;
		s->image_bytes += hs_point_size(p);
	}
	for (unsigned d = 0; r == 0 && d < p->ndisks; d++) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(run->st, p, d, &ix);
		for (uint64_t i = 0; r == 0 && i < ix->nchunks; i++) {
			if (hs_digest_is_zero(&ix->digests[i]))
				continue;
			if (!pruned)
				s->data_bytes += hs_index_chunk_len(ix, i);
			struct hs_chunk_ent *e = hs_chunk_table_find(&run->t, &ix->digests[i]);
			if (!e) {
				s->elsewhere_chunks += !pruned;
				continue;
			}
			size_t at = (size_t)(e - run->t.v);
			if (pruned) {
				e->flags |= F_PRUNED;
				continue;
			}
			e->flags |= F_NAMED;
			run->owner[at] = !run->owner[at] || run->owner[at] == k + 1 ? k + 1 : SHARED;
			if (run->last[at] == k + 1)
				continue;
			run->last[at] = k + 1;
			s->chunks++;
			s->stored_bytes += e->size;
		}
	}
	return r;
}

void hs_du_free(struct hs_du_result *res)
{
	free(res->servers);
	memset(res, 0, sizeof *res);
}

int hs_du(struct hs_store *st, const char *server, struct hs_du_result *res)
{
	memset(res, 0, sizeof *res);
	double t0 = hs_now_s();
	struct run run = { .st = st };
	_cleanup_(hs_strv_free_p) char **servers = NULL, **pruned = NULL;
	size_t ns = 0, np = 0;
	int r = server ? hs_server_name_check(server) : 0;
	if (r == 0)
		r = hs_chunk_table_list(&run.t, st, "chunks", F_LIVE, 0, 0);
	if (r == 0)
		r = hs_chunk_table_list(&run.t, st, HS_TRASH_PREFIX "chunks", F_TRASH, 0, 0);
	if (r == 0)
		r = hs_chunk_table_index(&run.t, F_LIVE);
	if (r == 0 && (!(run.last = calloc(run.t.n + 1, sizeof *run.last)) ||
		       !(run.owner = calloc(run.t.n + 1, sizeof *run.owner))))
		r = -ENOMEM;
	if (r == 0)
		r = hs_store_servers_list(st, &servers, &ns);
	if (r == 0)
		r = hs_store_trash_servers(st, &pruned, &np);
	if (r == 0 && !(res->servers = calloc(ns + np + 1, sizeof *res->servers)))
		r = -ENOMEM;
	/* Every server's points (the unique bytes of one need the others), then
	 * the pruned points gc has not deleted yet: they name chunks too. */
	size_t nall = 0;
	for (size_t i = 0; r == 0 && i < ns + np; i++) {
		bool is_pruned = i >= ns;
		const char *name = is_pruned ? pruned[i - ns] : servers[i];
		if (hs_server_name_check(name) < 0) {
			hs_err_clear();
			continue;
		}
		_cleanup_(hs_strv_free_p) char **ids = NULL;
		size_t n, at = nall;
		r = is_pruned ? hs_store_trash_points(st, name, &ids, &n) : hs_store_points_list(st, name, &ids, &n);
		/* A server's pruned points are its own until gc deletes them. */
		for (size_t k = 0; is_pruned && k < nall; k++)
			if (!strcmp(res->servers[k].name, name))
				at = k;
		struct hs_du_server *s = &res->servers[at];
		snprintf(s->name, sizeof s->name, "%s", name);
		for (size_t k = 0; r == 0 && k < n; k++)
			r = count_point(&run, (uint32_t)at, s, name, ids[k], is_pruned);
		if (r == 0 && n && at == nall)
			nall++;
	}
	for (size_t i = 0; r == 0 && i < run.t.n; i++) {
		const struct hs_chunk_ent *e = &run.t.v[i];
		res->chunks++;
		res->bytes += e->size;
		if (e->flags & F_TRASH) {
			res->trash_chunks++;
			res->trash_bytes += e->size;
		}
		if (!(e->flags & (F_NAMED | F_PRUNED))) {
			res->unnamed_chunks++;
			res->unnamed_bytes += e->size;
		} else if (!(e->flags & F_NAMED)) {
			res->pruned_chunks++;
			res->pruned_bytes += e->size;
		} else if (run.owner[i] != SHARED) {
			struct hs_du_server *s = &res->servers[run.owner[i] - 1];
			s->unique_chunks++;
			s->unique_bytes += e->size;
		}
	}
	/* The servers' own entries, pruned points' left out (they are gc's). */
	size_t keep = 0;
	for (size_t i = 0; r == 0 && i < nall; i++) {
		struct hs_du_server *s = &res->servers[i];
		if (!s->points)
			continue;
		s->dedup = s->stored_bytes ? (double)s->data_bytes / (double)s->stored_bytes : 0;
		res->data_bytes += s->data_bytes;
		if (!server || !strcmp(s->name, server))
			res->servers[keep++] = *s;
	}
	res->nservers = keep;
	res->dedup = res->bytes ? (double)res->data_bytes / (double)res->bytes : 0;
	if (r == 0 && server && !keep)
		r = hs_err(ENOENT, "server %s has no points in %s", server, st->be->where);
	free(run.last);
	free(run.owner);
	hs_chunk_table_free(&run.t);
	if (r < 0)
		hs_du_free(res);
	res->seconds = hs_now_s() - t0;
	return r;
}
