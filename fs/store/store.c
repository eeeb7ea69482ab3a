/* Store layout over a backend: description, chunks, points and manifests. */
#include "store/store.h"
#include "store/chunk.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/path.h"
#include <json-c/json.h>
#include <string.h>

#define DESC_KEY "hotspare-store.json"
#define SERVERS_KEY "points/.servers"
#define STORE_LOCK ".store" /* no server name starts with '.' */
/* The most bytes of the objects read whole: a description is a few lines
 * of JSON; a manifest one line per point or server. */
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

/* What the description's MAC covers: every field that decides how the
 * store's bytes are read, so a store with the key detects tampering. */
static void desc_mac(const struct hs_key *key, uint32_t chunk_size, const char *digest, const char *enc,
		     const char *fpr, const char *escrow, char out[65])
{
	char *text = NULL;
	uint8_t mac[32];
	if (asprintf(&text, "hotspare-store|%d|%u|zstd|%s|%s|%s|%s", HS_STORE_VERSION, chunk_size, digest, enc,
		     fpr, escrow ? escrow : "") < 0) {
		out[0] = 0;
		return;
	}
	hs_hmac256(key->desc_key, text, strlen(text), mac);
	free(text);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* The description of a new store: version, chunk size, and for an
 * encrypted one its cipher, key fingerprint, escrow copy and MAC. */
static int desc_text(uint32_t chunk_size, const struct hs_key *key, const char *escrow, char **text)
{
	json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	const char *digest = key ? "hmac-sha256" : "sha256", *enc = key ? "aes-256-gcm" : "none";
	json_object_object_add(o, "format", json_object_new_string("hotspare-store"));
	json_object_object_add(o, "version", json_object_new_int(HS_STORE_VERSION));
	json_object_object_add(o, "chunk_size", json_object_new_int64(chunk_size));
	json_object_object_add(o, "compression", json_object_new_string("zstd"));
	json_object_object_add(o, "digest", json_object_new_string(digest));
	json_object_object_add(o, "encryption", json_object_new_string(enc));
	if (key) {
		char mac[65];
		desc_mac(key, chunk_size, digest, enc, key->fingerprint, escrow, mac);
		json_object_object_add(o, "key_fingerprint", json_object_new_string(key->fingerprint));
		if (escrow)
			json_object_object_add(o, "escrow", json_object_new_string(escrow));
		json_object_object_add(o, "mac", json_object_new_string(mac));
	}
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int r = asprintf(text, "%s\n", s) < 0 ? -ENOMEM : 0;
	json_object_put(o);
	return r;
}

static int desc_put(struct hs_backend *be, const void *text, size_t n)
{
	int r = be->ops->put(be, DESC_KEY, text, n, HS_PUT_NOREPLACE);
	if (r == -EEXIST)
		return hs_err(EEXIST, "%s is already a hotspare store", be->where);
	if (r < 0)
		return r;
	return be->ops->sync(be);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

int hs_store_desc_parse(struct hs_store *st, unsigned flags)
{
	struct hs_backend *be = st->be;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)st->desc.data, (int)st->desc.len) : NULL;
	/* One JSON object and nothing after it but white space: a description
	 * with more is not one hotspare wrote. */
	size_t end = tok && o ? json_tokener_get_parse_end(tok) : 0;
	while (o && end < st->desc.len && strchr(" \t\r\n", st->desc.data[end]) && st->desc.data[end])
		end++;
	if (o && end != st->desc.len) {
		json_object_put(o);
		o = NULL;
	}
	if (tok)
		json_tokener_free(tok);
	json_object *v;
	const char *fmt = o && json_object_is_type(o, json_type_object) ? jstr(o, "format") : NULL;
	if (!fmt || strcmp(fmt, "hotspare-store") != 0) {
		json_object_put(o);
		return hs_err(EBADMSG, "%s/%s is not a valid store description", be->where, DESC_KEY);
	}
	int version = json_object_object_get_ex(o, "version", &v) && json_object_is_type(v, json_type_int)
			      ? json_object_get_int(v)
			      : -1;
	int64_t cs = json_object_object_get_ex(o, "chunk_size", &v) && json_object_is_type(v, json_type_int)
			     ? json_object_get_int64(v)
			     : 0;
	const char *comp = jstr(o, "compression"), *digest = jstr(o, "digest"), *enc = jstr(o, "encryption");
	const char *fpr = jstr(o, "key_fingerprint"), *escrow = jstr(o, "escrow"), *mac = jstr(o, "mac");
	char e1[64], e2[64]; /* what the description says, quoted in a one-line message */
	int r = 0;
	if (version == 1 && (flags & HS_OPEN_ANY_VERSION))
		enc = "none", digest = "sha256";
	if (version == 1 && !(flags & HS_OPEN_ANY_VERSION))
		r = hs_err(EPROTONOSUPPORT, "%s has store format version 1; run 'hotspare upgrade %s' to convert "
					    "it to version %d", be->where, be->where, HS_STORE_VERSION);
	else if (version != HS_STORE_VERSION && version != 1)
		r = hs_err(EPROTONOSUPPORT, "%s has store format version %d; this hotspare reads version %d",
			   be->where, version, HS_STORE_VERSION);
	else if (!hs_chunk_size_valid((uint64_t)cs))
		r = hs_err(EBADMSG, "%s/%s has an invalid chunk size %lld", be->where, DESC_KEY, (long long)cs);
	else if (!comp || strcmp(comp, "zstd") != 0)
		r = hs_err(EPROTONOSUPPORT, "%s uses compression '%s'; this hotspare knows zstd", be->where,
			   hs_escape(comp ? comp : "", e1, sizeof e1));
	else if (!enc || !digest ||
		 !((!strcmp(enc, "none") && !strcmp(digest, "sha256")) ||
		   (!strcmp(enc, "aes-256-gcm") && !strcmp(digest, "hmac-sha256"))))
		r = hs_err(EPROTONOSUPPORT, "%s uses encryption '%s' with digest '%s'; this hotspare knows none "
					    "with sha256 and aes-256-gcm with hmac-sha256", be->where,
			   hs_escape(enc ? enc : "", e1, sizeof e1), hs_escape(digest ? digest : "", e2, sizeof e2));
	st->version = version;
	st->chunk_size = (uint32_t)cs;
	st->encrypted = r == 0 && strcmp(enc, "none") != 0;
	if (r == 0 && st->encrypted) {
		if (!fpr || strlen(fpr) != HS_KEY_FPR_HEX - 1 || strspn(fpr, "0123456789abcdef") != HS_KEY_FPR_HEX - 1 ||
		    !mac)
			r = hs_err(EBADMSG, "%s/%s is corrupt (an encrypted store without its key fingerprint)",
				   be->where, DESC_KEY);
		else
			snprintf(st->fingerprint, sizeof st->fingerprint, "%s", fpr);
	}
	const struct hs_key *key = hs_key_current();
	if (r == 0 && st->encrypted && key) {
		char want[65];
		desc_mac(key, st->chunk_size, digest, enc, key->fingerprint, escrow, want);
		if (strcmp(key->fingerprint, st->fingerprint) != 0)
			r = hs_err(EKEYREJECTED, "the key is not %s's (the store's key has fingerprint %s, this one %s)",
				   be->where, st->fingerprint, key->fingerprint);
		else if (strcmp(want, mac) != 0)
			r = hs_err(EBADMSG, "%s/%s does not authenticate with its key (tampered with?)", be->where,
				   DESC_KEY);
		else
			st->key = key;
	} else if (r == 0 && st->encrypted && !(flags & HS_OPEN_NOKEY)) {
		r = hs_err(EACCES, "%s is encrypted: give its key with --keyfile FILE (or HOTSPARE_KEYFILE)", be->where);
	}
	json_object_put(o);
	return r;
}

int hs_store_create(const char *where, uint32_t chunk_size, const struct hs_key *key, const char *escrow_b64)
{
	if (!hs_chunk_size_valid(chunk_size))
		return hs_err(EINVAL, "chunk size %u is not a power of two from 64 KiB to 4 MiB", chunk_size);
	char *text = NULL;
	int r = desc_text(chunk_size, key, escrow_b64, &text);
	if (r < 0)
		return r;
	struct hs_backend *be;
	r = hs_backend_open(where, 1, &be);
	if (r == 0) {
		/* Looked for first: a put that finds it there has already written
		 * (and removed) a temporary file in the store. */
		r = be->ops->exists(be, DESC_KEY);
		if (r == 1)
			r = hs_err(EEXIST, "%s is already a hotspare store", be->where);
		else if (r == 0)
			r = desc_put(be, text, strlen(text));
		be->ops->close(be);
	}
	free(text);
	return r;
}

int hs_store_init(const char *where, uint32_t chunk_size)
{
	return hs_store_create(where, chunk_size, NULL, NULL);
}

/* Open the backend at where and read (not yet parse) its description. */
static int store_new(const char *where, int create, struct hs_store **out)
{
	struct hs_backend *be;
	int r = hs_backend_open(where, create, &be);
	if (r < 0)
		return r;
	struct hs_store *st = calloc(1, sizeof *st);
	if (!st) {
		be->ops->close(be);
		return -ENOMEM;
	}
	st->be = be;
	st->zstd_level = HS_ZSTD_LEVEL;
	*out = st;
	return 0;
}

static int desc_read(struct hs_store *st)
{
	int r = st->be->ops->get_range(st->be, DESC_KEY, 0, HS_STORE_DESC_MAX + 1, &st->desc);
	if (r == -ENOENT)
		return hs_err(ENOENT, "%s is not a hotspare store (no %s; run 'hotspare init' first)",
			      st->be->where, DESC_KEY);
	if (r == 0 && st->desc.len > HS_STORE_DESC_MAX)
		r = hs_err(EFBIG, "%s/%s is more than a store description can be (over %d bytes)",
			   st->be->where, DESC_KEY, HS_STORE_DESC_MAX);
	/* NUL-terminated for the JSON parser, which reads it as text. */
	if (r == 0 && (r = hs_buf_reserve(&st->desc, st->desc.len + 1)) == 0)
		st->desc.data[st->desc.len] = 0;
	return r;
}

int hs_store_open_flags(const char *where, unsigned flags, struct hs_store **out)
{
	struct hs_store *st;
	int r = store_new(where, 0, &st);
	if (r < 0)
		return r;
	r = desc_read(st);
	if (r == 0)
		r = hs_store_desc_parse(st, flags);
	if (r < 0) {
		hs_store_close(st);
		return r;
	}
	*out = st;
	return 0;
}

int hs_store_open(const char *where, struct hs_store **out)
{
	return hs_store_open_flags(where, 0, out);
}

int hs_store_open_like(const char *where, const struct hs_store *like, unsigned flags, struct hs_store **out)
{
	*out = NULL;
	struct hs_store *st;
	int r = store_new(where, !(flags & HS_OPEN_EXISTING), &st);
	if (r < 0)
		return r;
	r = st->be->ops->exists(st->be, DESC_KEY);
	if (r == 0 && (flags & HS_OPEN_EXISTING)) {
		r = hs_err(ENOENT, "%s is not a hotspare store yet", where);
	} else if (r == 0) {
		r = desc_put(st->be, like->desc.data, like->desc.len);
		if (r == -EEXIST) { /* created by someone else meanwhile: open it */
			hs_err_clear();
			r = 0;
		}
	}
	if (r >= 0)
		r = desc_read(st);
	if (r == 0)
		r = hs_store_desc_parse(st, flags);
	if (r == 0 && (st->chunk_size != like->chunk_size || st->encrypted != like->encrypted ||
		       strcmp(st->fingerprint, like->fingerprint) != 0))
		r = st->chunk_size != like->chunk_size
			    ? hs_err(EINVAL, "%s is a store with chunk size %u, not %u", where, st->chunk_size,
				     like->chunk_size)
			    : hs_err(EINVAL, "%s is a store %s, unlike %s", where,
				     st->encrypted ? "encrypted with another key" : "without encryption",
				     like->be->where);
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
	struct hs_store like = { .chunk_size = chunk_size };
	char *text = NULL;
	int r = desc_text(chunk_size, NULL, NULL, &text);
	if (r < 0)
		return r;
	like.desc.data = (unsigned char *)text;
	like.desc.len = strlen(text);
	like.be = &(struct hs_backend){ .where = (char *)"a new store" };
	r = hs_store_open_like(where, &like, 0, out);
	free(text);
	return r;
}

void hs_store_close(struct hs_store *st)
{
	if (!st)
		return;
	if (st->be)
		st->be->ops->close(st->be);
	hs_buf_free(&st->desc);
	free(st);
}

int hs_store_upgrade_desc(struct hs_store *st)
{
	char *text = NULL;
	int r = desc_text(st->chunk_size, NULL, NULL, &text);
	if (r == 0)
		r = st->be->ops->put(st->be, DESC_KEY, text, strlen(text), 0);
	if (r == 0)
		r = st->be->ops->sync(st->be);
	free(text);
	if (r == 0)
		st->version = HS_STORE_VERSION;
	return r;
}

int hs_store_escrow(const struct hs_store *st, char **out)
{
	*out = NULL;
	json_object *o = st->desc.data ? json_tokener_parse((const char *)st->desc.data) : NULL;
	const char *e = o && json_object_is_type(o, json_type_object) ? jstr(o, "escrow") : NULL;
	int r = e && !(*out = strdup(e)) ? -ENOMEM : 0;
	json_object_put(o);
	return r;
}

void hs_store_chunk_id(const struct hs_store *st, const void *plain, size_t n, struct hs_digest *d)
{
	hs_chunk_id(st->key, plain, n, d);
}

int hs_store_chunk_encode(const struct hs_store *st, const struct hs_digest *d, const void *plain, size_t n,
			  struct hs_buf *out)
{
	if (st->encrypted && !st->key)
		return hs_err(EACCES, "%s is encrypted: give its key with --keyfile FILE (or HOTSPARE_KEYFILE)",
			      st->be->where);
	return hs_chunk_encode(st->key, d, plain, n, st->zstd_level, out);
}

int hs_store_chunk_decode(const struct hs_store *st, const void *z, size_t zn, const struct hs_digest *d,
			  void *plain, size_t len)
{
	if (st->encrypted && !st->key)
		return hs_err(EACCES, "%s is encrypted: give its key with --keyfile FILE (or HOTSPARE_KEYFILE)",
			      st->be->where);
	return hs_chunk_decode(st->key, z, zn, d, plain, len);
}

void hs_store_chunk_key(const struct hs_store *st, const struct hs_digest *d, char out[96])
{
	hs_chunk_key(d, st->encrypted, out);
}

int hs_store_chunk_has(struct hs_store *st, const struct hs_digest *d)
{
	char key[96];
	hs_chunk_key(d, st->encrypted, key);
	return st->be->ops->exists(st->be, key);
}

/* Read key, or (when it is missing) its copy under trash/: what retention
 * (jobs/gc) took out of use, or (a point) pruned, while something may still
 * need it. Only a miss costs the second look. */
static int get_or_trash(struct hs_store *st, const char *key, struct hs_buf *out)
{
	int r = st->be->ops->get(st->be, key, out);
	if (r != -ENOENT)
		return r;
	char trash[256];
	snprintf(trash, sizeof trash, "%s%s", HS_TRASH_PREFIX, key);
	return st->be->ops->get(st->be, trash, out);
}

static int get_range_or_trash(struct hs_store *st, const char *key, uint64_t off, size_t len, struct hs_buf *out)
{
	int r = st->be->ops->get_range(st->be, key, off, len, out);
	if (r != -ENOENT)
		return r;
	char trash[256];
	snprintf(trash, sizeof trash, "%s%s", HS_TRASH_PREFIX, key);
	return st->be->ops->get_range(st->be, trash, off, len, out);
}

int hs_store_chunk_get(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out)
{
	char key[96];
	hs_chunk_key(d, st->encrypted, key);
	out->max = hs_chunk_stored_max(st->chunk_size);
	out->limit = NULL;
	return get_or_trash(st, key, out);
}

int hs_store_chunk_get_live(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out)
{
	char key[96];
	hs_chunk_key(d, st->encrypted, key);
	out->max = hs_chunk_stored_max(st->chunk_size);
	out->limit = NULL;
	return st->be->ops->get(st->be, key, out);
}

static int chunk_put(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn,
		     unsigned flags)
{
	char key[96];
	hs_chunk_key(d, st->encrypted, key);
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
	hs_chunk_key(d, st->encrypted, key);
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

/* List dir through the backend, or its manifest where the kind cannot list
 * (none: -ENOTSUP). */
static int list_names(struct hs_store *st, const char *dir, const char *manifest,
		      const char *suffix, char ***out, size_t *n)
{
	struct names ns = { .suffix = suffix };
	int r = st->be->ops->list(st->be, dir, names_add, &ns);
	if (r == -ENOTSUP && manifest) {
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

int hs_store_points_manifest_update(struct hs_store *st, const char *server, char *const *add, size_t n)
{
	char manifest[160], lock[HS_SERVER_MAX + 16];
	snprintf(manifest, sizeof manifest, "points/%s/.points", server);
	/* Not a server's writer lock (prune takes none): a short one of its own,
	 * waited for; no server name starts with '.'. */
	snprintf(lock, sizeof lock, ".points-%s", server);
	int token = -1;
	int r = st->be->ops->lock(st->be, lock, 1, &token);
	if (r < 0)
		return r;
	char **ids = NULL, **all = NULL;
	size_t ni = 0;
	r = hs_store_points_list(st, server, &ids, &ni);
	if (r == -ENOENT) {
		hs_err_clear();
		r = 0;
	}
	if (r == 0 && !(all = calloc(ni + n + 1, sizeof *all)))
		r = -ENOMEM;
	if (r == 0) {
		if (ni)
			memcpy(all, ids, ni * sizeof *all);
		if (n)
			memcpy(all + ni, add, n * sizeof *all);
		r = manifest_put(st, manifest, all, ni + n);
	}
	free(all);
	hs_strv_free(ids);
	st->be->ops->unlock(st->be, token);
	return r;
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

/* Put a point object under its name, durably; no manifest. */
static int point_object_put(struct hs_store *st, const char *server, const char *id, const void *p, size_t n)
{
	char key[128];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	/* A registered writer whose registration lapsed may name chunks gc
	 * has taken away since: its point is refused (store/lease.h). */
	int r = st->point_guard ? st->point_guard(st->point_guard_arg) : 0;
	if (r < 0)
		return r;
	r = st->be->ops->put(st->be, key, p, n, HS_PUT_NOREPLACE);
	if (r == -EEXIST)
		return hs_err(EEXIST, "point %s@%s already exists in %s", server, id, st->be->where);
	if (r == 0)
		r = st->be->ops->sync(st->be);
	return r;
}

int hs_store_point_write(struct hs_store *st, struct hs_point *p, struct hs_index *const *disks)
{
	if (st->encrypted && !st->key)
		return hs_err(EACCES, "%s is encrypted: give its key with --keyfile FILE (or HOTSPARE_KEYFILE)",
			      st->be->where);
	struct hs_buf b = { 0 };
	p->chunk_size = st->chunk_size;
	int r = hs_point_encode(st->key, p, disks, &b);
	if (r == 0)
		r = point_object_put(st, p->server, p->id, b.data, b.len);
	hs_buf_free(&b);
	return r;
}

int hs_store_point_get_raw(struct hs_store *st, const char *server, const char *id, struct hs_buf *out)
{
	char key[128];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	int r = get_or_trash(st, key, out);
	if (r == -ENOENT)
		return hs_err(ENOENT, "point %s@%s does not exist in %s", server, id, st->be->where);
	return r;
}

int hs_store_point_write_raw(struct hs_store *st, const struct hs_point *p, const void *obj, size_t n)
{
	return point_object_put(st, p->server, p->id, obj, n);
}

int hs_store_point_put(struct hs_store *st, struct hs_point *p, struct hs_index *const *disks)
{
	int r = hs_store_point_write(st, p, disks);
	if (r < 0)
		return r;
	/* Manifests: the server's own under its manifest lock, the list of
	 * servers under the store-wide lock. */
	char *id = p->id;
	r = hs_store_points_manifest_update(st, p->server, &id, 1);
	if (r < 0)
		return r;
	const char *server = p->server;
	return hs_store_servers_add(st, &server, 1);
}

int hs_store_point_put1(struct hs_store *st, const struct hs_index *ix)
{
	struct hs_point *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	hs_point_of_index(ix, p);
	struct hs_index *one = (struct hs_index *)ix;
	int r = hs_store_point_put(st, p, &one);
	free(p);
	return r;
}

static void point_what(struct hs_store *st, const char *server, const char *id, char *out, size_t cap)
{
	snprintf(out, cap, "point %s@%s in %s", server, id, st->be->where);
}

int hs_store_point_head(struct hs_store *st, const char *server, const char *id, struct hs_point *out)
{
	char key[128], what[512];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	point_what(st, server, id, what, sizeof what);
	struct hs_buf b = { 0 };
	int r = get_range_or_trash(st, key, 0, HS_POINT_HDR_LEN, &b);
	if (r == -ENOENT)
		r = hs_err(ENOENT, "point %s@%s does not exist in %s", server, id, st->be->where);
	if (r == 0)
		r = hs_point_decode_head(b.data, b.len, what, out);
	hs_buf_free(&b);
	if (r == 0 && (strcmp(out->server, server) != 0 || strcmp(out->id, id) != 0))
		r = hs_err(EBADMSG, "%s is corrupt (it names another point)", what);
	if (r == 0 && out->chunk_size != st->chunk_size)
		r = hs_err(EBADMSG, "%s is corrupt (chunk size %u in a store of %u)", what, out->chunk_size,
			   st->chunk_size);
	if (r == 0 && out->encrypted != st->encrypted)
		r = hs_err(EBADMSG, "%s is corrupt (%s point in %s store)", what,
			   out->encrypted ? "an encrypted" : "a plain", st->encrypted ? "an encrypted" : "a plain");
	return r;
}

int hs_store_point_disk(struct hs_store *st, const struct hs_point *p, unsigned k, struct hs_index **out)
{
	char key[128], what[512];
	snprintf(key, sizeof key, "points/%s/%s.idx", p->server, p->id);
	point_what(st, p->server, p->id, what, sizeof what);
	const struct hs_point_disk *d = &p->disks[k];
	struct hs_buf b = { 0 };
	int r = get_range_or_trash(st, key, d->table_off, d->table_len, &b);
	if (r == -ENOENT)
		r = hs_err(ENOENT, "point %s@%s does not exist in %s", p->server, p->id, st->be->where);
	if (r == 0)
		r = hs_point_decode_disk(st->key, p, k, b.data, b.len, what, out);
	hs_buf_free(&b);
	return r;
}

int hs_store_point_get(struct hs_store *st, const char *server, const char *id, const char *disk,
		       struct hs_index **out)
{
	struct hs_point *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	int r = hs_store_point_head(st, server, id, p), k = 0;
	if (r == 0 && disk && disk[0] && (k = hs_point_disk_find(p, disk)) < 0)
		r = hs_err(ENOENT, "point %s@%s has no disk %s (its disks: %s%s)", server, id, disk,
			   p->disks[0].name, p->ndisks > 1 ? ", ..." : "");
	else if (r == 0 && (!disk || !disk[0]) && p->ndisks > 1)
		r = hs_err(EINVAL, "point %s@%s has %u disks (%s, %s%s): name one as %s@%s:DISK", server, id,
			   p->ndisks, p->disks[0].name, p->disks[1].name, p->ndisks > 2 ? ", ..." : "", server, id);
	if (r == 0)
		r = hs_store_point_disk(st, p, (unsigned)k, out);
	free(p);
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

int hs_store_point_trash(struct hs_store *st, const char *server, const char *id)
{
	if (!st->be->ops->copy)
		return hs_err(ENOTSUP, "%s cannot move objects (a web server): prune the directory it serves",
			      st->be->where);
	char key[128], trash[160];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	snprintf(trash, sizeof trash, "%s%s", HS_TRASH_PREFIX, key);
	int r = st->be->ops->copy(st->be, key, trash, HS_COPY_MOVE);
	/* Pruned before and restored (prune found it leased): the copy under
	 * trash/ is the same object, so this one may simply go. */
	if (r == -EEXIST)
		r = st->be->ops->remove(st->be, key);
	if (r == -ENOENT)
		return hs_err(ENOENT, "point %s@%s does not exist in %s", server, id, st->be->where);
	return r;
}

int hs_store_point_untrash(struct hs_store *st, const char *server, const char *id)
{
	if (!st->be->ops->copy)
		return -ENOTSUP;
	char key[128], trash[160];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	snprintf(trash, sizeof trash, "%s%s", HS_TRASH_PREFIX, key);
	int r = st->be->ops->copy(st->be, trash, key, 0);
	if (r == -EEXIST)
		r = 0;
	if (r == 0)
		r = st->be->ops->sync(st->be);
	if (r == -ENOENT)
		return hs_err(ENOENT, "point %s@%s is not in %s's trash", server, id, st->be->where);
	return r;
}

int hs_store_point_exists(struct hs_store *st, const char *server, const char *id)
{
	char key[128];
	snprintf(key, sizeof key, "points/%s/%s.idx", server, id);
	return st->be->ops->exists(st->be, key);
}

int hs_store_trash_servers(struct hs_store *st, char ***names, size_t *n)
{
	return list_names(st, HS_TRASH_PREFIX "points", NULL, NULL, names, n);
}

int hs_store_trash_points(struct hs_store *st, const char *server, char ***ids, size_t *n)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%spoints/%s", HS_TRASH_PREFIX, server);
	return list_names(st, dir, NULL, ".idx", ids, n);
}
