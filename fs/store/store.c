/* Store layout over a backend: description, chunks, points and manifests. */
#include "store/store.h"
#include "store/chunk.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <json-c/json.h>
#include <string.h>

#define DESC_KEY "hotspare-store.json"
#define SERVERS_KEY "points/.servers"
#define STORE_LOCK ".store" /* no server name starts with '.' */
/* The most bytes of the objects read whole: a description is a few lines
 * of JSON; a manifest one line per point or server. */
#define DESC_MAX ((size_t)8 << 10)
#define MANIFEST_MAX ((size_t)16 << 20)

int hs_store_leftovers(struct hs_store *st, bool remove, uint64_t *count, uint64_t *bytes)
{
	*count = *bytes = 0;
	if (!st->be->ops->leftovers)
		return 0;
	return st->be->ops->leftovers(st->be, NULL, remove, count, bytes);
}

void hs_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static int desc_write(struct hs_backend *be, uint32_t chunk_size)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "format", json_object_new_string("hotspare-store"));
	json_object_object_add(o, "version", json_object_new_int(HS_STORE_VERSION));
	json_object_object_add(o, "chunk_size", json_object_new_int64(chunk_size));
	json_object_object_add(o, "compression", json_object_new_string("zstd"));
	json_object_object_add(o, "digest", json_object_new_string("sha256"));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	char *text = NULL;
	int r = asprintf(&text, "%s\n", s) < 0 ? -ENOMEM : 0;
	json_object_put(o);
	if (r < 0)
		return r;
	r = be->ops->put(be, DESC_KEY, text, strlen(text), HS_PUT_NOREPLACE);
	free(text);
	if (r == -EEXIST)
		return hs_err(EEXIST, "%s is already a hotspare store", be->where);
	if (r < 0)
		return r;
	return be->ops->sync(be);
}

/* Parse the description; fills chunk size. */
static int desc_read(struct hs_backend *be, struct hs_store *st)
{
	struct hs_buf b = { .max = DESC_MAX };
	int r = be->ops->get(be, DESC_KEY, &b);
	if (r == -ENOENT)
		return hs_err(ENOENT, "%s is not a hotspare store (no %s; run 'hotspare init' first)",
			      be->where, DESC_KEY);
	if (r < 0)
		return r;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)b.data, (int)b.len) : NULL;
	if (tok)
		json_tokener_free(tok);
	hs_buf_free(&b);
	json_object *v;
	const char *fmt = o && json_object_is_type(o, json_type_object) &&
				  json_object_object_get_ex(o, "format", &v) ? json_object_get_string(v) : NULL;
	if (!fmt || strcmp(fmt, "hotspare-store") != 0) {
		json_object_put(o);
		return hs_err(EBADMSG, "%s/%s is not a valid store description", be->where, DESC_KEY);
	}
	int version = json_object_object_get_ex(o, "version", &v) ? json_object_get_int(v) : -1;
	int64_t cs = json_object_object_get_ex(o, "chunk_size", &v) ? json_object_get_int64(v) : 0;
	const char *comp = json_object_object_get_ex(o, "compression", &v) ? json_object_get_string(v) : NULL;
	if (!comp)
		comp = "";
	r = 0;
	if (version != HS_STORE_VERSION)
		r = hs_err(EPROTONOSUPPORT, "%s has store format version %d; this hotspare reads version %d",
			   be->where, version, HS_STORE_VERSION);
	else if (!hs_chunk_size_valid((uint64_t)cs))
		r = hs_err(EBADMSG, "%s/%s has an invalid chunk size %lld", be->where, DESC_KEY, (long long)cs);
	else if (strcmp(comp, "zstd") != 0)
		r = hs_err(EPROTONOSUPPORT, "%s uses compression '%s'; this hotspare knows zstd", be->where, comp);
	json_object_put(o);
	if (r < 0)
		return r;
	st->chunk_size = (uint32_t)cs;
	return 0;
}

int hs_store_init(const char *where, uint32_t chunk_size)
{
	if (!hs_chunk_size_valid(chunk_size))
		return hs_err(EINVAL, "chunk size %u is not a power of two from 64 KiB to 4 MiB", chunk_size);
	struct hs_backend *be;
	int r = hs_backend_open(where, 1, &be);
	if (r < 0)
		return r;
	r = desc_write(be, chunk_size);
	be->ops->close(be);
	return r;
}

int hs_store_open(const char *where, struct hs_store **out)
{
	struct hs_backend *be;
	int r = hs_backend_open(where, 0, &be);
	if (r < 0)
		return r;
	struct hs_store *st = calloc(1, sizeof *st);
	if (!st) {
		be->ops->close(be);
		return -ENOMEM;
	}
	st->be = be;
	st->zstd_level = HS_ZSTD_LEVEL;
	r = desc_read(be, st);
	if (r < 0) {
		hs_store_close(st);
		return r;
	}
	*out = st;
	return 0;
}

int hs_store_open_or_init(const char *where, uint32_t chunk_size, struct hs_store **out)
{
	if (!hs_chunk_size_valid(chunk_size))
		return hs_err(EINVAL, "chunk size %u is not a power of two from 64 KiB to 4 MiB", chunk_size);
	struct hs_backend *be;
	int r = hs_backend_open(where, 1, &be);
	if (r < 0)
		return r;
	r = be->ops->exists(be, DESC_KEY);
	if (r == 0) {
		r = desc_write(be, chunk_size);
		if (r == -EEXIST) /* created by someone else meanwhile: open it */
			r = 0;
	}
	be->ops->close(be);
	if (r < 0)
		return r;
	r = hs_store_open(where, out);
	if (r < 0)
		return r;
	if ((*out)->chunk_size != chunk_size) {
		r = hs_err(EINVAL, "%s is a store with chunk size %u, not %u", where, (*out)->chunk_size,
			   chunk_size);
		hs_store_close(*out);
		*out = NULL;
	}
	return r;
}

void hs_store_close(struct hs_store *st)
{
	if (!st)
		return;
	if (st->be)
		st->be->ops->close(st->be);
	free(st);
}

int hs_store_chunk_has(struct hs_store *st, const struct hs_digest *d)
{
	char key[96];
	hs_chunk_key(d, key);
	return st->be->ops->exists(st->be, key);
}

int hs_store_chunk_get(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out)
{
	char key[96];
	hs_chunk_key(d, key);
	out->max = hs_chunk_stored_max(st->chunk_size);
	out->limit = NULL;
	return st->be->ops->get(st->be, key, out);
}

static int chunk_put(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn,
		     unsigned flags)
{
	char key[96];
	hs_chunk_key(d, key);
	int r = st->be->ops->put(st->be, key, z, zn, HS_PUT_NOREPLACE | flags);
	if (r == -EEXIST)
		return 0;
	return r < 0 ? r : 1;
}

int hs_store_chunk_put(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn)
{
	return chunk_put(st, d, z, zn, 0);
}

int hs_store_chunk_queue(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn)
{
	return chunk_put(st, d, z, zn, HS_PUT_BATCH);
}

int hs_store_chunk_replace(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn)
{
	char key[96];
	hs_chunk_key(d, key);
	return st->be->ops->put(st->be, key, z, zn, 0);
}

int hs_store_sync(struct hs_store *st)
{
	return st->be->ops->sync(st->be);
}

/* Collector for list(): keeps names that pass keep(), sorted at the end. */
struct names {
	char **v;
	size_t n, cap;
	const char *suffix; /* required suffix, stripped; NULL for none */
};

static int names_add(void *arg, const char *name)
{
	struct names *ns = arg;
	size_t len = strlen(name);
	if (ns->suffix) {
		size_t sl = strlen(ns->suffix);
		if (len <= sl || strcmp(name + len - sl, ns->suffix) != 0)
			return 0;
		len -= sl;
	}
	if (hs_grow(&ns->v, &ns->cap, ns->n + 2, sizeof *ns->v) < 0)
		return -ENOMEM;
	if (!(ns->v[ns->n] = strndup(name, len)))
		return -ENOMEM;
	ns->v[++ns->n] = NULL;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names from a manifest object: one per line. */
static int manifest_read(struct hs_store *st, const char *key, struct names *ns)
{
	struct hs_buf b = { .max = MANIFEST_MAX };
	int r = st->be->ops->get(st->be, key, &b);
	if (r < 0) {
		hs_buf_free(&b);
		return r;
	}
	size_t i = 0;
	while (r == 0 && i < b.len) {
		size_t j = i;
		while (j < b.len && b.data[j] != '\n')
			j++;
		char line[256];
		if (j > i && j - i < sizeof line) {
			memcpy(line, b.data + i, j - i);
			line[j - i] = 0;
			r = names_add(ns, line);
		}
		i = j + 1;
	}
	hs_buf_free(&b);
	return r;
}

/* List dir through the backend, or its manifest where the kind cannot list. */
static int list_names(struct hs_store *st, const char *dir, const char *manifest,
		      const char *suffix, char ***out, size_t *n)
{
	struct names ns = { .suffix = suffix };
	int r = st->be->ops->list(st->be, dir, names_add, &ns);
	if (r == -ENOTSUP) {
		ns.suffix = NULL;
		r = manifest_read(st, manifest, &ns);
	}
	if (r == -ENOENT)
		r = 0;
	if (r < 0) {
		hs_strv_free(ns.v);
		return r;
	}
	if (!ns.v && !(ns.v = calloc(1, sizeof *ns.v)))
		return -ENOMEM;
	qsort(ns.v, ns.n, sizeof *ns.v, cmp_str);
	*out = ns.v;
	*n = ns.n;
	return 0;
}

int hs_store_points_list(struct hs_store *st, const char *server, char ***ids, size_t *n)
{
	char dir[128], manifest[160];
	snprintf(dir, sizeof dir, "points/%s", server);
	snprintf(manifest, sizeof manifest, "points/%s/.points", server);
	return list_names(st, dir, manifest, ".idx", ids, n);
}

int hs_store_servers_list(struct hs_store *st, char ***names, size_t *n)
{
	return list_names(st, "points", SERVERS_KEY, NULL, names, n);
}

/* Rewrite a manifest: its current names plus add, if missing. */
static int manifest_add(struct hs_store *st, const char *key, char **have, const char *add)
{
	struct hs_buf b = { 0 };
	int found = 0, r = 0;
	for (char **p = have; *p && r == 0; p++) {
		found |= strcmp(*p, add) == 0;
		r = hs_buf_append(&b, *p, strlen(*p));
		if (r == 0)
			r = hs_buf_append(&b, "\n", 1);
	}
	if (r == 0 && !found) {
		r = hs_buf_append(&b, add, strlen(add));
		if (r == 0)
			r = hs_buf_append(&b, "\n", 1);
	}
	if (r == 0)
		r = st->be->ops->put(st->be, key, b.data, b.len, 0);
	hs_buf_free(&b);
	return r;
}

int hs_store_point_write(struct hs_store *st, const struct hs_index *ix)
{
	char key[128];
	snprintf(key, sizeof key, "points/%s/%s.idx", ix->server, ix->id);
	struct hs_buf b = { 0 };
	int r = hs_index_encode(ix, &b);
	if (r == 0)
		r = st->be->ops->put(st->be, key, b.data, b.len, HS_PUT_NOREPLACE);
	hs_buf_free(&b);
	if (r == -EEXIST)
		return hs_err(EEXIST, "point %s@%s already exists in %s", ix->server, ix->id, st->be->where);
	if (r == 0)
		r = st->be->ops->sync(st->be);
	return r;
}

int hs_store_point_put(struct hs_store *st, const struct hs_index *ix)
{
	int r = hs_store_point_write(st, ix);
	if (r < 0)
		return r;
	/* Manifests: the server's own under its writer lock (held by the caller),
	 * the list of servers under the store-wide lock. */
	_cleanup_(hs_strv_free_p) char **ids = NULL;
	size_t n;
	char manifest[160];
	snprintf(manifest, sizeof manifest, "points/%s/.points", ix->server);
	r = hs_store_points_list(st, ix->server, &ids, &n);
	if (r == 0)
		r = manifest_add(st, manifest, ids, ix->id);
	if (r < 0)
		return r;
	const char *server = ix->server;
	return hs_store_servers_add(st, &server, 1);
}

/* Write a manifest listing v's names, sorted, each once; then sync. */
static int manifest_put(struct hs_store *st, const char *key, char *const *v, size_t n)
{
	char **sorted = calloc(n + 1, sizeof *sorted);
	if (!sorted)
		return -ENOMEM;
	if (n)
		memcpy(sorted, v, n * sizeof *v);
	qsort(sorted, n, sizeof *sorted, cmp_str);
	struct hs_buf b = { 0 };
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (i && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		r = hs_buf_append(&b, sorted[i], strlen(sorted[i]));
		if (r == 0)
			r = hs_buf_append(&b, "\n", 1);
	}
	free(sorted);
	if (r == 0)
		r = st->be->ops->put(st->be, key, b.data, b.len, 0);
	hs_buf_free(&b);
	if (r == 0)
		r = st->be->ops->sync(st->be);
	return r;
}

int hs_store_points_manifest(struct hs_store *st, const char *server, char *const *ids, size_t n)
{
	char manifest[160];
	snprintf(manifest, sizeof manifest, "points/%s/.points", server);
	return manifest_put(st, manifest, ids, n);
}

int hs_store_servers_add(struct hs_store *st, const char *const *names, size_t n)
{
	/* Most writers find their server listed: one read, no lock, no rewrite. */
	struct names have = { 0 };
	int r = manifest_read(st, SERVERS_KEY, &have);
	if (r == -ENOENT)
		r = 0;
	bool missing = false;
	for (size_t i = 0; r == 0 && i < n && !missing; i++) {
		bool found = false;
		for (size_t k = 0; k < have.n && !found; k++)
			found = strcmp(have.v[k], names[i]) == 0;
		missing = !found;
	}
	hs_strv_free(have.v);
	if (r < 0 || !missing)
		return r;

	int token = -1;
	r = st->be->ops->lock(st->be, STORE_LOCK, 1, &token);
	if (r < 0)
		return r;
	char **servers = NULL, **all = NULL;
	size_t ns = 0;
	r = hs_store_servers_list(st, &servers, &ns);
	if (r == 0 && !(all = calloc(ns + n + 1, sizeof *all)))
		r = -ENOMEM;
	if (r == 0) {
		memcpy(all, servers, ns * sizeof *all);
		memcpy(all + ns, names, n * sizeof *all);
		r = manifest_put(st, SERVERS_KEY, all, ns + n);
	}
	free(all);
	hs_strv_free(servers);
	st->be->ops->unlock(st->be, token);
	return r;
}

/* An index's limit once its header is in: what the header says. */
static size_t index_limit(const struct hs_buf *b)
{
	return hs_index_encoded_max(b->data, b->len);
}

int hs_store_point_get(struct hs_store *st, const char *server, const char *id, struct hs_index **out)
{
	char key[128], what[512];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	snprintf(what, sizeof what, "point %s@%s in %s", server, id, st->be->where);
	struct hs_buf b = { .limit = index_limit };
	int r = st->be->ops->get(st->be, key, &b);
	if (r == -ENOENT)
		r = hs_err(ENOENT, "point %s@%s does not exist in %s", server, id, st->be->where);
	if (r == 0)
		r = hs_index_decode(b.data, b.len, what, out);
	hs_buf_free(&b);
	if (r == 0 && (strcmp((*out)->server, server) != 0 || strcmp((*out)->id, id) != 0)) {
		hs_index_free(*out);
		*out = NULL;
		r = hs_err(EBADMSG, "%s is corrupt (it names another point)", what);
	}
	return r;
}

int hs_store_point_resolve(struct hs_store *st, const char *server, const char *want,
			   char id[HS_POINT_ID_LEN + 1])
{
	_cleanup_(hs_strv_free_p) char **ids = NULL;
	size_t n;
	int r = hs_store_points_list(st, server, &ids, &n);
	if (r < 0)
		return r;
	if (n == 0)
		return hs_err(ENOENT, "server %s has no points in %s", server, st->be->where);
	if (!want[0] || strcmp(want, "latest") == 0) {
		snprintf(id, HS_POINT_ID_LEN + 1, "%s", ids[n - 1]);
		return 0;
	}
	const char *match = NULL;
	size_t wl = strlen(want);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ids[i], want) == 0) {
			match = ids[i];
			break;
		}
		if (strncmp(ids[i], want, wl) == 0) {
			if (match)
				return hs_err(ENOENT, "point %s@%s is ambiguous (%s, %s, ...)", server, want,
					      match, ids[i]);
			match = ids[i];
		}
	}
	if (!match)
		return hs_err(ENOENT, "point %s@%s does not exist in %s (latest is %s)", server, want,
			      st->be->where, ids[n - 1]);
	snprintf(id, HS_POINT_ID_LEN + 1, "%s", match);
	return 0;
}

int hs_store_lock_server(struct hs_store *st, const char *server, int *token)
{
	return st->be->ops->lock(st->be, server, 0, token);
}

void hs_store_unlock(struct hs_store *st, int token)
{
	st->be->ops->unlock(st->be, token);
}
