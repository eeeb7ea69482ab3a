/* Replication; see replicate.h. */
#include "jobs/replicate.h"
#include "basics/buf.h"
#include "store/chunk.h"
#include "store/lease.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/digestset.h"
#include "basics/err.h"
#include "basics/workers.h"
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* Where a replica records its source (for verify's advice). */
#define REPLICA_KEY "hotspare-replica.json"
/* Chunks of a server's newest point at the destination looked up before the
 * run takes that point's word for the rest (all of them when fewer; another
 * sample each run): a cheap check that catches a replica that lost chunks
 * wholesale, and in time any lost chunk. */
#define PROBE_MAX 32
/* Manifests are rewritten once per server and once per run, and at least
 * this often, so a killed run leaves few points unlisted for the kinds that
 * cannot list (the next write of the server lists them again). */
#define FLUSH_POINTS 64
#define FLUSH_SECONDS 10.0

/* A chunk a point needs at the destination. */
struct todo {
	struct hs_digest d;
	uint32_t len;
	uint8_t disk; /* the first disk of the point that names it */
	bool claimed; /* a point at the destination names it */
};

/* The run: what every point shares. */
struct run {
	const struct hs_replicate_opts *o;
	struct hs_replicate_stats *st;
	struct hs_store *from;
	bool checking; /* read back what would be skipped (verify_dest, or the fallback) */
	bool keyless;  /* an encrypted source without its key: chunks copied as stored, unchecked */
	/* Servers with points at the destination, to be confirmed in its list of servers. */
	char **servers;
	size_t nservers, capservers;
	double servers_since;
};

/* What the destination holds of one server, under its writer lock. */
struct server {
	char name[HS_SERVER_MAX + 1];
	char **ids;   /* its points there, as listed (and the ones listed since) */
	size_t nids, capids;
	char **fresh; /* written by this run, not yet in its manifest */
	size_t nfresh, capfresh;
	double fresh_since;
	struct hs_dset done;    /* chunks this run sent or found there */
	struct hs_dset trusted; /* the chunks of its newest point there, when all are in that store */
	bool has_trusted;
	int lock;
};

/* One point's chunks (every disk's) going through the pipeline. */
struct job {
	struct run *run;
	const struct hs_point *p;
	struct todo *v;
	size_t n;
	atomic_uint_fast64_t sent, bytes, present, checked, repaired;
	atomic_uint_fast64_t disk_bytes[HS_DISKS_MAX]; /* stored bytes sent, by disk */
};

/* Read the destination's copy back: 1 good, 0 missing, -EBADMSG corrupt,
 * other -errno. A remote copy that fails its digest is fetched once more (a
 * body damaged in transit is no reason to resend). */
static int dest_check(struct hs_store *dst, const struct todo *t, void *plain, struct hs_buf *z)
{
	/* An encrypted replica without its key: only presence can be told. */
	if (dst->encrypted && !dst->key)
		return hs_store_chunk_has(dst, &t->d);
	int tries = dst->be->remote ? 2 : 1;
	for (int i = 0; i < tries; i++) {
		/* Not the trash: a chunk gc took out of use must be sent again. */
		int r = hs_store_chunk_get_live(dst, &t->d, z);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		r = hs_store_chunk_decode(dst, z->data, z->len, &t->d, plain, t->len);
		if (r != -EBADMSG)
			return r == 0 ? 1 : r;
	}
	return -EBADMSG;
}

/* A chunk as stored, from the first source that has it, unchecked: an
 * encrypted store replicated without its key (verify with the key at the
 * second site to check its content). */
static int read_stored(const struct hs_sources *src, const struct hs_digest *d, struct hs_buf *z)
{
	for (size_t i = 0; i < src->n; i++) {
		int r = hs_store_chunk_get(src->v[i], d, z);
		if (r != -ENOENT)
			return r;
	}
	char hex[HS_DIGEST_HEX];
	hs_digest_hex(d, hex);
	return hs_err(ENOENT, "chunk %s is missing (not in %s%s)", hex, src->v[src->n - 1]->be->where,
		      src->n > 1 ? " nor any seed" : "");
}

/* Send the k-th needed chunk unless the destination has a copy (a good one,
 * when checking). */
static int send_one(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	struct job *j = arg;
	const struct hs_replicate_opts *o = j->run->o;
	const struct todo *t = &j->v[k];
	bool checking = j->run->checking;
	int have = checking ? dest_check(o->dst, t, plain, z) : hs_store_chunk_has(o->dst, &t->d);
	if (have < 0 && have != -EBADMSG)
		return have;
	bool sent = false;
	if (have != 1) {
		size_t from;
		int r = j->run->keyless ? read_stored(o->src, &t->d, z)
					: hs_sources_read(o->src, &t->d, plain, t->len, z, &from);
		if (r < 0) {
			char why[512];
			snprintf(why, sizeof why, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
			return hs_err(-r, "%s@%s: %s%s", j->p->server, j->p->id, why,
				      r == -ENOENT ? "; a snapshot shipped on a drive? give the drive with --seed" : "");
		}
		/* Checked above: the stored bytes go as they are. A corrupt copy
		 * is replaced (atomically); a missing one joins the batch. */
		if (have == -EBADMSG && (r = hs_store_chunk_replace(o->dst, &t->d, z->data, z->len)) == 0)
			r = 1;
		else if (have != -EBADMSG)
			r = hs_store_chunk_queue(o->dst, &t->d, z->data, z->len);
		if (r < 0)
			return r;
		sent = r == 1;
	}
	if (sent) {
		atomic_fetch_add(&j->sent, 1);
		atomic_fetch_add(&j->bytes, z->len);
		atomic_fetch_add(&j->disk_bytes[t->disk], z->len);
		if (t->claimed || have == -EBADMSG)
			atomic_fetch_add(&j->repaired, 1);
	} else {
		atomic_fetch_add(&j->present, 1);
		if (checking)
			atomic_fetch_add(&j->checked, 1);
	}
	if (o->progress)
		hs_progress_add(o->progress, t->len);
	return 0;
}

/* The distinct chunks of ix this run has not handled yet for s (nor, unless
 * checking, its newest point holds), added to the handled ones: the run stops
 * at the first failure, so from here on they are at the destination or the
 * run is over. (The bar counts the other positions.) */
static int needed(struct run *run, struct server *s, const struct hs_index *ix, uint8_t disk, bool at_dest,
		  struct todo **out, size_t *n, size_t *capp)
{
	struct todo *v = *out;
	size_t cap = *capp, m = *n;
	uint64_t skipped = 0;
	int r = 0;
	for (uint64_t i = 0; r == 0 && i < ix->nchunks; i++) {
		const struct hs_digest *d = &ix->digests[i];
		bool trusted = s->has_trusted && hs_dset_has(&s->trusted, d);
		if (hs_digest_is_zero(d) || (trusted && !run->checking) || (r = hs_dset_add(&s->done, d)) == 0) {
			skipped += hs_index_chunk_len(ix, i);
			continue;
		}
		if (r < 0 || (r = hs_grow(&v, &cap, m + 1, sizeof *v)) < 0)
			break;
		v[m++] = (struct todo){ *d, hs_index_chunk_len(ix, i), disk, at_dest || trusted };
	}
	*out = v;
	*n = m;
	*capp = cap;
	if (r < 0)
		return r;
	if (run->o->progress)
		hs_progress_add(run->o->progress, skipped);
	return 0;
}

/* Add a copy of id to a string vector. */
static int strv_push(char ***v, size_t *n, size_t *cap, const char *id)
{
	char *c = strdup(id);
	if (!c || hs_grow(v, cap, *n + 2, sizeof **v) < 0) {
		free(c);
		return -ENOMEM;
	}
	(*v)[(*n)++] = c;
	(*v)[*n] = NULL;
	return 0;
}

/* Send what point p (its header, read from the source) needs at the
 * destination, every disk's chunks in one pipeline; then, unless the
 * destination has the point already (at_dest: its chunks were only
 * checked), write the point object as stored, with what it added there. */
static int copy_point(struct run *run, struct server *s, struct hs_point *p, bool at_dest)
{
	const struct hs_replicate_opts *o = run->o;
	struct hs_replicate_stats *st = run->st;
	struct job j = { .run = run, .p = p };
	size_t cap = 0;
	if (o->progress) {
		char label[HS_SERVER_MAX + HS_POINT_ID_LEN + 2];
		snprintf(label, sizeof label, "%s@%s", p->server, p->id);
		hs_progress_start(o->progress, label, hs_point_size(p), 0);
	}
	int r = 0;
	for (unsigned k = 0; r == 0 && k < p->ndisks; k++) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(run->from, p, k, &ix);
		if (r == 0)
			r = needed(run, s, ix, (uint8_t)k, at_dest, &j.v, &j.n, &cap);
	}
	if (r == 0)
		r = hs_parallel_each(o->threads ? o->threads : 4 * hs_ncpu(), j.n, p->chunk_size, send_one, &j);
	/* Chunks first, durably; then the point that names them. At the
	 * destination every chunk of the point is in the store (shipped ones
	 * included) and it added what was sent. */
	if (r == 0)
		r = hs_store_sync(o->dst);
	bool written = false;
	if (r == 0 && !at_dest) {
		struct hs_buf obj = { 0 };
		r = hs_store_point_get_raw(run->from, p->server, p->id, &obj);
		struct hs_point copy = *p;
		for (unsigned k = 0; k < copy.ndisks; k++) {
			copy.disks[k].ship_bytes = 0;
			copy.disks[k].new_bytes = j.disk_bytes[k];
		}
		if (r == 0)
			r = hs_point_rewrite_head(obj.data, obj.len, &copy);
		if (r == 0)
			r = hs_store_point_write_raw(o->dst, p, obj.data, obj.len);
		hs_buf_free(&obj);
		written = r == 0;
		if (r == -EEXIST) {
			/* Written by a run killed before it listed it: list it now. */
			hs_err_clear();
			r = 0;
			st->points_present++;
		}
		if (r == 0) {
			if (!s->nfresh)
				s->fresh_since = hs_now_s();
			r = strv_push(&s->fresh, &s->nfresh, &s->capfresh, p->id);
		}
	}
	st->chunks_sent += j.sent;
	st->bytes_sent += j.bytes;
	st->chunks_present += j.present;
	st->chunks_checked += j.checked;
	st->chunks_repaired += j.repaired;
	if (written)
		st->points++;
	if (o->progress)
		hs_progress_end(o->progress);
	free(j.v);
	return r;
}

/* Are all of p's chunks in dst? An index is written after its chunks; only
 * a shipped snapshot, and backups deduplicated against one, name chunks
 * that live on a drive. */
static bool self_contained(struct hs_store *dst, const struct hs_point *p)
{
	if (hs_point_ship_bytes(p))
		return false;
	if (p->kind == HS_KIND_SNAPSHOT || !p->base[0])
		return true;
	_cleanup_free_ struct hs_point *base = malloc(sizeof *base);
	bool ok = base && hs_store_point_head(dst, p->server, p->base, base) == 0 && hs_point_ship_bytes(base) == 0;
	hs_err_clear();
	return ok;
}

static bool has_id(const struct server *s, const char *id)
{
	for (size_t k = 0; k < s->nids; k++)
		if (strcmp(s->ids[k], id) == 0)
			return true;
	for (size_t k = 0; k < s->nfresh; k++)
		if (strcmp(s->fresh[k], id) == 0)
			return true;
	return false;
}

/* The servers' list at the destination names every server queued. */
static int servers_flush(struct run *run)
{
	if (!run->nservers)
		return 0;
	int r = hs_store_servers_add(run->o->dst, (const char *const *)run->servers, run->nservers);
	if (r == 0) {
		for (size_t i = 0; i < run->nservers; i++)
			free(run->servers[i]);
		run->nservers = 0;
	}
	return r;
}

/* s's manifest lists the points this run wrote. */
static int server_flush(struct run *run, struct server *s)
{
	if (!s->nfresh)
		return 0;
	int r = hs_store_points_manifest_update(run->o->dst, s->name, s->fresh, s->nfresh);
	for (size_t i = 0; r == 0 && i < s->nfresh; i++)
		r = strv_push(&s->ids, &s->nids, &s->capids, s->fresh[i]);
	if (r == 0) {
		for (size_t i = 0; i < s->nfresh; i++)
			free(s->fresh[i]);
		s->nfresh = 0;
		s->fresh[0] = NULL;
	}
	return r;
}

/* Flush the manifests that have waited long enough. */
static int maybe_flush(struct run *run, struct server *s)
{
	double now = hs_now_s();
	int r = 0;
	if (s->nfresh >= FLUSH_POINTS || (s->nfresh && now - s->fresh_since >= FLUSH_SECONDS))
		r = server_flush(run, s);
	if (r == 0 && (run->nservers >= FLUSH_POINTS || (run->nservers && now - run->servers_since >= FLUSH_SECONDS)))
		r = servers_flush(run);
	return r;
}

/* List what s wrote, queue it for the servers' list, release its lock. */
static int server_end(struct run *run, struct server *s)
{
	int r = s->name[0] ? server_flush(run, s) : 0;
	if (s->nids) {
		if (!run->nservers)
			run->servers_since = hs_now_s();
		int e = strv_push(&run->servers, &run->nservers, &run->capservers, s->name);
		if (r == 0)
			r = e;
	}
	if (s->lock >= 0)
		hs_store_unlock(run->o->dst, s->lock);
	hs_strv_free(s->ids);
	hs_strv_free(s->fresh);
	hs_dset_free(&s->done);
	hs_dset_free(&s->trusted);
	memset(s, 0, sizeof *s);
	s->lock = -1;
	return r;
}

/* Looking up a sample of the trusted chunks. */
struct probe {
	struct hs_store *dst;
	const struct hs_digest *d;
	atomic_uint_fast64_t missing;
	atomic_size_t first; /* index of a missing one, +1 */
};

static int probe_one(void *arg, uint64_t k, void *plain, struct hs_buf *z)
{
	(void)plain;
	(void)z;
	struct probe *p = arg;
	int r = hs_store_chunk_has(p->dst, &p->d[k]);
	if (r == 0) {
		atomic_fetch_add(&p->missing, 1);
		size_t none = 0;
		atomic_compare_exchange_strong(&p->first, &none, (size_t)k + 1);
	}
	return r < 0 ? r : 0;
}

/* Take the word of s's newest point at the destination (last) for what it
 * holds, after looking up a sample of its chunks; a missing one turns the
 * run to checking. */
static int trust(struct run *run, struct server *s, const struct hs_point *last)
{
	const struct hs_replicate_opts *o = run->o;
	struct hs_digest *v = NULL;
	size_t n = 0, cap = 0;
	int r = hs_dset_init(&s->trusted, 1024);
	for (unsigned k = 0; r == 0 && k < last->ndisks; k++) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(o->dst, last, k, &ix);
		for (uint64_t i = 0; r == 0 && i < ix->nchunks; i++) {
			const struct hs_digest *d = &ix->digests[i];
			if (hs_digest_is_zero(d) || (r = hs_dset_add(&s->trusted, d)) == 0)
				continue;
			if (r < 0 || (r = hs_grow(&v, &cap, n + 1, sizeof *v)) < 0)
				break;
			v[n++] = *d;
		}
	}
	if (r < 0) {
		free(v);
		return r;
	}
	s->has_trusted = true;
	if (run->checking || n == 0) {
		free(v);
		return 0;
	}
	/* Every step-th distinct chunk, in the order of the image, from an
	 * offset that changes from run to run: daily runs cover the whole point
	 * within step days. */
	size_t step = (n + PROBE_MAX - 1) / PROBE_MAX, m = 0;
	for (size_t i = (size_t)(hs_now_s() * 1e6) % step; i < n; i += step)
		v[m++] = v[i];
	struct probe p = { .dst = o->dst, .d = v };
	r = hs_parallel_each(o->threads ? o->threads : 4 * hs_ncpu(), m, 1, probe_one, &p);
	if (r == 0 && p.missing) {
		char hex[HS_DIGEST_HEX], line[1024];
		hs_digest_hex(&v[p.first - 1], hex);
		snprintf(line, sizeof line,
			 "%s: chunk %s of %s@%s is missing (%llu of %zu looked up); checking every chunk "
			 "the run would skip, as --verify-dest does",
			 o->dst->be->where, hex, last->server, last->id, (unsigned long long)p.missing, m);
		if (o->note)
			o->note(o->note_arg, line);
		run->checking = true;
		run->st->checked = true;
	}
	free(v);
	return r;
}

/* Does the run copy any point of s (from the k-th on)? */
static bool copies_any(const struct run *run, const struct server *s, size_t k)
{
	for (; k < run->o->npoints && strcmp(run->o->points[k].server, s->name) == 0; k++)
		if (!has_id(s, run->o->points[k].id))
			return true;
	return false;
}

static int server_begin(struct run *run, const char *name, struct server *s, size_t k)
{
	struct hs_store *dst = run->o->dst;
	snprintf(s->name, sizeof s->name, "%s", name);
	int r = hs_store_lock_server(dst, name, &s->lock);
	if (r == 0)
		r = hs_store_points_list(dst, name, &s->ids, &s->nids);
	s->capids = s->nids + 1;
	if (r == 0)
		r = hs_dset_init(&s->done, 1024);
	/* The newest point says what the destination holds, for the points to
	 * copy (and, when checking, which missing chunks are repairs). */
	if (r == 0 && s->nids && (run->checking || copies_any(run, s, k))) {
		_cleanup_free_ struct hs_point *last = malloc(sizeof *last);
		r = last ? hs_store_point_head(dst, name, s->ids[s->nids - 1], last) : -ENOMEM;
		if (r == 0 && self_contained(dst, last))
			r = trust(run, s, last);
	}
	return r;
}

static int record_source(const struct run *run)
{
	struct hs_backend *be = run->o->dst->be;
	const char *name = run->o->source_name ? run->o->source_name : run->from->be->where;
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "format", json_object_new_string("hotspare-replica"));
	json_object_object_add(o, "source", json_object_new_string(name));
	char *text = NULL;
	int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE;
	int r = asprintf(&text, "%s\n", json_object_to_json_string_ext(o, flags)) < 0 ? -ENOMEM : 0;
	json_object_put(o);
	struct hs_buf now = { 0 };
	if (r == 0 && (be->ops->get(be, REPLICA_KEY, &now) != 0 || now.len != strlen(text) ||
		       memcmp(now.data, text, now.len) != 0)) {
		hs_err_clear();
		r = be->ops->put(be, REPLICA_KEY, text, strlen(text), 0);
		if (r == 0)
			r = be->ops->sync(be);
	}
	hs_buf_free(&now);
	free(text);
	return r;
}

int hs_replica_source(struct hs_store *st, char *where, size_t cap)
{
	struct hs_buf b = { 0 };
	int r = st->be->ops->get(st->be, REPLICA_KEY, &b);
	if (r < 0) {
		hs_buf_free(&b);
		return r;
	}
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)b.data, (int)b.len) : NULL;
	if (tok)
		json_tokener_free(tok);
	hs_buf_free(&b);
	json_object *v;
	const char *src = o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "source", &v) &&
					  json_object_is_type(v, json_type_string)
				  ? json_object_get_string(v) : NULL;
	r = src && src[0] && strlen(src) < cap ? 0 : -EBADMSG;
	if (r == 0)
		snprintf(where, cap, "%s", src);
	json_object_put(o);
	return r;
}

int hs_replicate(const struct hs_replicate_opts *o, struct hs_replicate_stats *st)
{
	memset(st, 0, sizeof *st);
	double t0 = hs_now_s();
	struct run run = { .o = o, .st = st, .from = o->src->v[o->src->n - 1], .checking = o->verify_dest };
	run.keyless = run.from->encrypted && !run.from->key;
	st->checked = o->verify_dest;
	if (run.from->chunk_size != o->dst->chunk_size)
		return hs_err(EINVAL, "%s has chunks of %u bytes, %s of %u: a replica needs the same chunk size",
			      o->dst->be->where, o->dst->chunk_size, run.from->be->where, run.from->chunk_size);
	/* A run killed before leaves temporary files; they are of no use. */
	if (hs_backend_dir_clean_tmp(o->dst->be) < 0)
		hs_err_clear();
	struct server s = { .lock = -1 };
	/* The points copied are in use at the source; the destination's gc
	 * keeps what this run finds there. */
	struct hs_lease *lease = NULL;
	struct hs_writer *writer = NULL;
	bool *gone = calloc(o->npoints + 1, sizeof *gone);
	int r = gone ? 0 : -ENOMEM;
	if (r == 0 && o->npoints)
		r = hs_lease_take(run.from, o->points, o->npoints, "replicate", gone, &lease);
	if (r == 0)
		r = hs_writer_register(o->dst, "replicate", &writer);
	for (size_t k = 0; r == 0 && k < o->npoints; k++) {
		const struct hs_point_ref *p = &o->points[k];
		/* Pruned since it was listed: nothing to copy. */
		if (gone[k]) {
			st->points_gone++;
			continue;
		}
		if (strcmp(s.name, p->server) != 0) {
			r = server_end(&run, &s);
			if (r == 0)
				r = server_begin(&run, p->server, &s, k);
			if (r < 0)
				break;
		}
		bool at_dest = has_id(&s, p->id);
		if (at_dest)
			st->points_present++;
		if (at_dest && !run.checking)
			continue;
		struct hs_point *pt = malloc(sizeof *pt);
		r = pt ? hs_store_point_head(run.from, p->server, p->id, pt) : -ENOMEM;
		if (r == 0)
			r = copy_point(&run, &s, pt, at_dest);
		free(pt);
		if (r == 0)
			r = maybe_flush(&run, &s);
	}
	/* What was written is listed, whatever stopped the run (whose message
	 * is the one to report). */
	char why[1024] = "";
	if (r < 0 && hs_err_msg())
		snprintf(why, sizeof why, "%s", hs_err_msg());
	int e = server_end(&run, &s);
	if (r == 0)
		r = e;
	e = servers_flush(&run);
	if (r == 0)
		r = e;
	if (r == 0 || st->points || st->chunks_repaired) {
		e = record_source(&run);
		if (r == 0)
			r = e;
	}
	for (size_t i = 0; i < run.nservers; i++)
		free(run.servers[i]);
	free(run.servers);
	hs_writer_done(writer);
	hs_lease_release(lease);
	free(gone);
	if (why[0])
		hs_err_set_msg(why);
	st->seconds = hs_now_s() - t0;
	return r;
}
