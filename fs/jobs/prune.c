/* Prune; see prune.h. The rules follow Proxmox Backup Server's
 * compute_prune_info: points newest first; keep-last, then each calendar
 * rule in turn marks the newest point of each of its periods that no earlier
 * rule decided, and the other points of those periods as going, until it has
 * kept its count of periods; a period an earlier rule already kept a point of
 * counts for nothing. What no rule marked goes. */
#include "jobs/prune.h"
#include "basics/clock.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/lease.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

enum mark { UNMARKED, KEEP, GO };

/* The period of t a rule counts in (UTC): "%Y/%m/%d", ISO "%G/%V", ... */
static void period(int rule, int64_t t, char out[32])
{
	static const char *const fmt[] = { NULL, "%Y/%m/%d", "%G/%V", "%Y/%m", "%Y" };
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, fmt[rule], &tm);
}

static bool seen(char (*v)[32], size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/* One rule over the points newest first (order[]); rule 0 is keep-last,
 * whose periods are the points themselves. */
static void mark_rule(struct hs_prune_point *v, const size_t *order, size_t n, enum mark *mark, int rule,
		      unsigned keep, unsigned reason)
{
	if (!keep)
		return;
	char (*included)[32] = calloc(n ? n : 1, 32), (*chosen)[32] = calloc(keep, 32);
	if (!included || !chosen) {
		/* No memory for the bookkeeping: keep everything unmarked (safe). */
		for (size_t k = 0; k < n; k++)
			if (mark[order[k]] == UNMARKED) {
				mark[order[k]] = KEEP;
				v[order[k]].reasons |= reason;
			}
		free(included);
		free(chosen);
		return;
	}
	size_t ni = 0, nc = 0;
	char sel[32];
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		if (mark[i] != KEEP)
			continue;
		if (rule)
			period(rule, v[i].time, sel);
		else
			snprintf(sel, sizeof sel, "%s", v[i].id);
		if (!seen(included, ni, sel))
			snprintf(included[ni++], 32, "%s", sel);
	}
	for (size_t k = 0; k < n; k++) {
		size_t i = order[k];
		if (mark[i] != UNMARKED)
			continue;
		if (rule)
			period(rule, v[i].time, sel);
		else
			snprintf(sel, sizeof sel, "%s", v[i].id);
		if (seen(included, ni, sel))
			continue;
		if (!seen(chosen, nc, sel)) {
			if (nc >= keep)
				break;
			snprintf(chosen[nc++], 32, "%s", sel);
			mark[i] = KEEP;
			v[i].reasons |= reason;
		} else {
			mark[i] = GO;
		}
	}
	free(included);
	free(chosen);
}

void hs_prune_drive(const struct hs_prune_point *v, size_t n, const struct hs_prune_point *p,
		    char out[HS_POINT_ID_LEN + 1])
{
	out[0] = 0;
	if (p->unreadable)
		return;
	if (p->kind == HS_KIND_SNAPSHOT) {
		if (p->shipped)
			snprintf(out, HS_POINT_ID_LEN + 1, "%s", p->id);
		return;
	}
	if (!p->base[0])
		return;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, p->base)) {
			if (v[i].shipped || v[i].unreadable)
				snprintf(out, HS_POINT_ID_LEN + 1, "%s", p->base);
			return;
		}
	/* The snapshot is gone from the store: whether it was shipped cannot
	 * be asked, so its drive counts as needed. */
	snprintf(out, HS_POINT_ID_LEN + 1, "%s", p->base);
}

void hs_prune_select(struct hs_prune_point *v, size_t n, const struct hs_prune_rules *rules)
{
	size_t *order = calloc(n ? n : 1, sizeof *order);
	enum mark *mark = calloc(n ? n : 1, sizeof *mark);
	for (size_t i = 0; i < n; i++)
		v[i].reasons = 0;
	if (!order || !mark) {
		for (size_t i = 0; i < n; i++)
			v[i].reasons = HS_KEEP_UNREADABLE; /* no memory to judge: keep all */
		free(order);
		free(mark);
		return;
	}
	/* Newest first; points that cannot be read are kept and judged by no rule. */
	size_t m = 0;
	for (size_t i = n; i-- > 0;) {
		if (v[i].unreadable)
			v[i].reasons |= HS_KEEP_UNREADABLE;
		else
			order[m++] = i;
	}
	mark_rule(v, order, m, mark, 0, rules->last, HS_KEEP_LAST);
	mark_rule(v, order, m, mark, 1, rules->daily, HS_KEEP_DAILY);
	mark_rule(v, order, m, mark, 2, rules->weekly, HS_KEEP_WEEKLY);
	mark_rule(v, order, m, mark, 3, rules->monthly, HS_KEEP_MONTHLY);
	mark_rule(v, order, m, mark, 4, rules->yearly, HS_KEEP_YEARLY);
	/* What is kept whatever the rules say. */
	if (m)
		v[order[0]].reasons |= HS_KEEP_NEWEST;
	for (size_t k = 0; k < m; k++)
		if (v[order[k]].kind == HS_KIND_SNAPSHOT) {
			v[order[k]].reasons |= HS_KEEP_SNAPSHOT;
			break;
		}
	for (size_t i = 0; i < n; i++)
		if (v[i].in_use)
			v[i].reasons |= HS_KEEP_IN_USE;
	for (size_t i = 0; i < n; i++)
		hs_prune_drive(v, n, &v[i], v[i].drive);
	free(order);
	free(mark);
}

void hs_prune_reasons(unsigned reasons, char *out, size_t cap)
{
	static const char *const names[] = { "last", "daily", "weekly", "monthly", "yearly", "newest",
					     "newest snapshot", "in use", "unreadable" };
	size_t len = 0;
	out[0] = 0;
	for (unsigned b = 0; b < sizeof names / sizeof *names; b++)
		if (reasons & (1u << b)) {
			int k = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", names[b]);
			if (k < 0 || (size_t)k >= cap - len)
				break;
			len += (size_t)k;
		}
}

void hs_prune_free(struct hs_prune_result *res)
{
	for (size_t i = 0; res->servers && i < res->nservers; i++) {
		free(res->servers[i].points);
		free(res->servers[i].drives_freed);
	}
	free(res->servers);
	memset(res, 0, sizeof *res);
}

/* The server's points, each header read (an unreadable one is marked so). */
static int load_points(struct hs_store *st, struct hs_prune_server *s)
{
	_cleanup_(hs_strv_free_p) char **ids = NULL;
	size_t n;
	int r = hs_store_points_list(st, s->name, &ids, &n);
	if (r < 0)
		return r;
	s->points = calloc(n ? n : 1, sizeof *s->points);
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	if (!s->points || !p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct hs_prune_point *q = &s->points[s->npoints++];
		snprintf(q->id, sizeof q->id, "%s", ids[i]);
		time_t t = 0;
		hs_point_id_parse(ids[i], &t);
		q->time = t;
		r = hs_store_point_head(st, s->name, ids[i], p);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			hs_err_clear();
			q->unreadable = true;
			continue;
		}
		q->kind = p->kind;
		q->time = p->time;
		snprintf(q->base, sizeof q->base, "%s", p->base);
		q->shipped = p->kind == HS_KIND_SNAPSHOT && hs_point_ship_bytes(p) > 0;
	}
	return 0;
}

static int64_t clock_now(const struct hs_prune_opts *o)
{
	return o->now ? o->now : (int64_t)time(NULL);
}

/* Mark the points unexpired leases name. */
static int note_leases(const struct hs_prune_opts *o, struct hs_prune_server *s, bool *any_new)
{
	struct hs_lease_info *l = NULL;
	size_t nl = 0;
	int r = hs_leases_list(o->store, &l, &nl);
	if (r < 0)
		return r;
	int64_t now = clock_now(o);
	for (size_t i = 0; i < s->npoints; i++) {
		struct hs_prune_point *p = &s->points[i];
		if (p->in_use)
			continue;
		p->in_use = hs_leases_name(l, nl, now, s->name, p->id, p->in_use_by, sizeof p->in_use_by);
		if (p->in_use && any_new)
			*any_new = true;
	}
	hs_leases_free(l, nl);
	return 0;
}

/* The drives the removed points needed that no kept point needs. */
static int drives_freed(struct hs_prune_server *s)
{
	for (size_t i = 0; i < s->npoints; i++) {
		const char *d = s->points[i].drive;
		if (s->points[i].reasons || !d[0])
			continue;
		bool needed = false, listed = false;
		for (size_t k = 0; k < s->npoints && !needed; k++)
			needed = s->points[k].reasons && !strcmp(s->points[k].drive, d);
		for (size_t k = 0; k < s->ndrives_freed && !listed; k++)
			listed = !strcmp(s->drives_freed[k], d);
		if (needed || listed)
			continue;
		void *nv = realloc(s->drives_freed, (s->ndrives_freed + 1) * sizeof *s->drives_freed);
		if (!nv)
			return -ENOMEM;
		s->drives_freed = nv;
		snprintf(s->drives_freed[s->ndrives_freed++], HS_POINT_ID_LEN + 1, "%s", d);
	}
	return 0;
}

/* Rewrite the server's manifest from its listing now (the points a capture
 * wrote meanwhile included). */
static int write_manifest(struct hs_store *st, struct hs_prune_server *s)
{
	return hs_store_points_manifest_update(st, s->name, NULL, 0);
}

/* Decide for one server and, unless a dry run, remove what goes. Not under
 * the server's writer lock: a capture beside never fails for prune. It
 * needs none (prune.h says why); two prunes of one server, though, would
 * trip over each other's moves. */
static int prune_server(const struct hs_prune_opts *o, struct hs_prune_server *s)
{
	int lock = -1, r = 0;
	if (!o->dry_run) {
		char name[HS_SERVER_MAX + 16];
		snprintf(name, sizeof name, ".prune-%s", s->name);
		r = o->store->be->ops->lock(o->store->be, name, 0, &lock);
		if (r == -EBUSY) {
			snprintf(s->skipped, sizeof s->skipped, "another prune of %s is running", s->name);
			hs_err_clear();
			return 0;
		}
		if (r < 0)
			return r;
	}
	r = load_points(o->store, s);
	if (r == 0)
		r = note_leases(o, s, NULL);
	if (r == 0)
		hs_prune_select(s->points, s->npoints, &o->rules);
	for (size_t i = 0; r == 0 && !o->dry_run && i < s->npoints; i++)
		if (!s->points[i].reasons)
			r = hs_store_point_trash(o->store, s->name, s->points[i].id);
	if (r == 0 && !o->dry_run)
		r = hs_store_sync(o->store);
	/* A lease that appeared while prune decided (its holder then checks the
	 * point is still there, and may have found it so): the point comes back. */
	bool back = false;
	if (r == 0 && !o->dry_run)
		r = note_leases(o, s, &back);
	for (size_t i = 0; r == 0 && back && i < s->npoints; i++)
		if (!s->points[i].reasons && s->points[i].in_use) {
			r = hs_store_point_untrash(o->store, s->name, s->points[i].id);
			s->points[i].reasons |= HS_KEEP_IN_USE;
		}
	if (r == 0 && !o->dry_run)
		r = write_manifest(o->store, s);
	if (r == 0)
		r = drives_freed(s);
	for (size_t i = 0; i < s->npoints; i++)
		s->removed += !s->points[i].reasons;
	if (lock >= 0)
		o->store->be->ops->unlock(o->store->be, lock);
	return r;
}

/* The servers to prune, each checked before anything is done. */
static int pick_servers(const struct hs_prune_opts *o, struct hs_prune_result *res)
{
	char **all = NULL;
	size_t n = 0;
	int r = 0;
	if (!o->nservers && (r = hs_store_servers_list(o->store, &all, &n)) < 0)
		return r;
	size_t want = o->nservers ? o->nservers : n;
	res->servers = calloc(want ? want : 1, sizeof *res->servers);
	if (!res->servers) {
		hs_strv_free(all);
		return -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < want; i++) {
		const char *name = o->nservers ? o->servers[i] : all[i];
		if ((r = hs_server_name_check(name)) < 0)
			break;
		bool twice = false;
		for (size_t k = 0; k < res->nservers; k++)
			twice |= !strcmp(res->servers[k].name, name);
		if (twice)
			continue;
		_cleanup_(hs_strv_free_p) char **ids = NULL;
		size_t m;
		r = hs_store_points_list(o->store, name, &ids, &m);
		if (r == 0 && m == 0 && o->nservers)
			r = hs_err(ENOENT, "server %s has no points in %s", name, o->store->be->where);
		if (r == 0 && m)
			snprintf(res->servers[res->nservers++].name, HS_SERVER_MAX + 1, "%s", name);
	}
	hs_strv_free(all);
	return r;
}

/* A server being written by a process that registered no writer (an
 * older hotspare, which neither registers nor knows the trash) is refused:
 * what it counts on cannot be known. A lock taken a moment ago is given the
 * time its holder needs to register. */
static int old_writers(const struct hs_prune_opts *o, const struct hs_prune_result *res)
{
	for (;;) {
		struct hs_lock_info *l = NULL;
		struct hs_writer_info *w = NULL;
		size_t nl = 0, nw = 0;
		int r = hs_locks_held(o->store, &l, &nl);
		if (r == 0 && nl)
			r = hs_writers_list(o->store, &w, &nw);
		int64_t now = (int64_t)time(NULL);
		bool young = false;
		for (size_t i = 0; r == 0 && i < nl; i++) {
			bool ours = false;
			for (size_t k = 0; k < res->nservers && !ours; k++)
				ours = !strcmp(res->servers[k].name, l[i].server);
			if (!ours || hs_lock_registered(&l[i], w, nw, now))
				continue;
			if (now - l[i].since < HS_LOCK_REGISTER_SECONDS)
				young = true;
			else
				r = hs_err(EBUSY, "%s is being written by a process that registered no writer (pid %d on "
						  "%s: an older hotspare?); prune it once that is done", l[i].server, l[i].pid,
					   l[i].host);
		}
		free(l);
		free(w);
		if (r < 0 || !young)
			return r;
		hs_sleep_ms(500);
	}
}

int hs_prune(const struct hs_prune_opts *o, struct hs_prune_result *res)
{
	memset(res, 0, sizeof *res);
	double t0 = hs_now_s();
	const struct hs_prune_rules *ru = &o->rules;
	if (!ru->last && !ru->daily && !ru->weekly && !ru->monthly && !ru->yearly)
		return hs_err(EINVAL, "no retention rule given (--keep-last, --keep-daily, --keep-weekly, "
				      "--keep-monthly or --keep-yearly)");
	struct hs_backend *be = o->store->be;
	if (!be->ops->list_sized || !be->ops->copy)
		return hs_err(ENOTSUP, "%s cannot list or move objects (a web server): run prune on the directory it "
				       "serves", be->where);
	int r = pick_servers(o, res);
	if (r == 0)
		r = old_writers(o, res);
	for (size_t i = 0; r == 0 && i < res->nservers; i++) {
		r = prune_server(o, &res->servers[i]);
		res->removed += res->servers[i].removed;
		res->kept += res->servers[i].npoints - res->servers[i].removed;
	}
	res->seconds = hs_now_s() - t0;
	return r;
}
