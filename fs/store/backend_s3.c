/* A store in an S3 bucket (AWS, Ceph RGW, MinIO, s3rver): objects under
 * s3://bucket/prefix/, requests signed with Signature Version 4 (sigv4.c),
 * GET/PUT/HEAD/DELETE and ListObjectsV2 with pagination. S3 is strongly
 * consistent and a PUT is stored when it is answered, so sync has nothing
 * to do. Locks are lock objects, created with a conditional PUT (see http.h).
 *
 * Environment:
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   credentials
 *       (none: unsigned requests, for public buckets)
 *   AWS_REGION or AWS_DEFAULT_REGION      region (default us-east-1)
 *   HOTSPARE_S3_ENDPOINT, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL
 *       endpoint (default https://s3.REGION.amazonaws.com)
 *   HOTSPARE_S3_PATH_STYLE=1|0            https://endpoint/bucket/key instead of
 *       https://bucket.endpoint/key (default: 1 with a custom endpoint)
 *   HOTSPARE_S3_MAX_KEYS                  page size of listings (default 1000) */
#include "store/backend.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/http.h"
#include "store/sigv4.h"
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct s3_backend {
	struct hs_backend be;
	struct hs_http *http;
	char *scheme;   /* "http" or "https" */
	char *host;     /* the Host header: the endpoint's authority, or bucket.authority */
	char *bucket;
	char *prefix;   /* "" or "some/prefix/" */
	bool path_style;
	char *region, *key_id, *secret, *token;
	int max_keys;
	struct hs_remote_locks locks;
};

static struct s3_backend *S(struct hs_backend *be) { return (struct s3_backend *)be; }

static const char *env_first(const char *a, const char *b, const char *c)
{
	const char *n[] = { a, b, c };
	for (int i = 0; i < 3; i++) {
		const char *v = n[i] ? getenv(n[i]) : NULL;
		if (v && *v)
			return v;
	}
	return NULL;
}

/* What the service said, from an error body: "<Code>: <Message>". */
static void error_detail(const struct hs_buf *b, char *out, size_t cap)
{
	out[0] = 0;
	if (!b || !b->len)
		return;
	char text[2048];
	size_t n = b->len < sizeof text - 1 ? b->len : sizeof text - 1;
	memcpy(text, b->data, n);
	text[n] = 0;
	const char *code = strstr(text, "<Code>"), *msg = strstr(text, "<Message>");
	if (!code)
		return;
	code += 6;
	int cl = (int)strcspn(code, "<");
	if (msg) {
		msg += 9;
		snprintf(out, cap, "%.*s: %.*s", cl, code, (int)strcspn(msg, "<"), msg);
	} else {
		snprintf(out, cap, "%.*s", cl, code);
	}
}

/* One signed request. key is relative to the prefix (NULL: the bucket
 * itself); query is canonical ("" for none); cond is an extra (unsigned)
 * header line such as a precondition, or NULL; copy_source the value of a
 * signed x-amz-copy-source header (a server-side copy), or NULL.
 * 0 with *status, or -errno. */
static int s3_request_copy(struct s3_backend *s, const char *method, const char *key, const char *query,
			   const char *cond, const char *copy_source, const void *body, size_t n,
			   struct hs_buf *out, long *status, char *what, size_t wcap)
{
	char objkey[2048], path[6144], url[8192];
	if ((size_t)snprintf(objkey, sizeof objkey, "%s%s", key ? s->prefix : "", key ? key : "") >= sizeof objkey)
		return hs_err(ENAMETOOLONG, "object key too long in %s", s->be.where);
	char enc[4200];
	int r = hs_sigv4_encode(objkey, true, enc, sizeof enc);
	if (r < 0)
		return hs_err(ENAMETOOLONG, "object key too long in %s", s->be.where);
	if (s->path_style)
		snprintf(path, sizeof path, "/%s/%s", s->bucket, enc);
	else
		snprintf(path, sizeof path, "/%s", enc);
	if ((size_t)snprintf(url, sizeof url, "%s://%s%s%s%s", s->scheme, s->host, path, query[0] ? "?" : "",
			     query) >= sizeof url)
		return hs_err(ENAMETOOLONG, "URL too long in %s", s->be.where);
	snprintf(what, wcap, "%s/%s", s->be.where, key ? key : "");

	char payload[65], amz_date[17];
	hs_sha256_hex(body ? body : "", body ? n : 0, payload);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);

	char h_host[600], h_sha[100], h_date[64], h_auth[1024], h_copy[4300] = "", *h_token = NULL;
	snprintf(h_host, sizeof h_host, "Host: %s", s->host);
	snprintf(h_sha, sizeof h_sha, "x-amz-content-sha256: %s", payload);
	snprintf(h_date, sizeof h_date, "x-amz-date: %s", amz_date);
	if (copy_source && (size_t)snprintf(h_copy, sizeof h_copy, "x-amz-copy-source: %s", copy_source) >= sizeof h_copy)
		return hs_err(ENAMETOOLONG, "object key too long in %s", s->be.where);
	struct curl_slist *list = NULL;
	const char *lines[7] = { h_host, h_sha, h_date, NULL, NULL, cond, copy_source ? h_copy : NULL };
	if (s->key_id) {
		struct hs_sigv4_header sh[5] = {
			{ "host", s->host }, { "x-amz-content-sha256", payload }, { "x-amz-date", amz_date },
			{ "x-amz-security-token", s->token }, { "x-amz-copy-source", copy_source },
		};
		size_t nsh = s->token ? 4 : 3;
		if (copy_source)
			sh[nsh++] = sh[4];
		struct hs_sigv4_cred cred = { s->key_id, s->secret, s->region, "s3" };
		char auth[900];
		r = hs_sigv4_authorization(&cred, amz_date, method, path, query, sh, nsh, payload, auth, sizeof auth);
		if (r < 0)
			return hs_err(-r, "cannot sign a request to %s", what);
		snprintf(h_auth, sizeof h_auth, "Authorization: %s", auth);
		lines[3] = h_auth;
		if (s->token) {
			if (asprintf(&h_token, "x-amz-security-token: %s", s->token) < 0)
				return -ENOMEM;
			lines[4] = h_token;
		}
	}
	for (int i = 0; i < 7; i++) {
		if (!lines[i])
			continue;
		struct curl_slist *t = curl_slist_append(list, lines[i]);
		if (!t) {
			curl_slist_free_all(list);
			free(h_token);
			return -ENOMEM;
		}
		list = t;
	}
	struct hs_http_req req = {
		.method = method, .url = url, .what = what, .headers = list, .body = body, .body_len = n, .out = out,
	};
	r = hs_http_do(s->http, &req, status);
	curl_slist_free_all(list);
	free(h_token);
	return r;
}

static int s3_request(struct s3_backend *s, const char *method, const char *key, const char *query,
		      const char *cond, const void *body, size_t n, struct hs_buf *out, long *status,
		      char *what, size_t wcap)
{
	return s3_request_copy(s, method, key, query, cond, NULL, body, n, out, status, what, wcap);
}

/* The error for a failed response (after s3_request returned 0). */
static int s3_status_err(struct s3_backend *s, const char *method, const char *what, long status,
			 const struct hs_buf *body)
{
	char detail[512];
	error_detail(body, detail, sizeof detail);
	if (strncmp(detail, "NoSuchBucket", 12) == 0)
		return hs_err(ENXIO, "bucket %s does not exist (%s)", s->bucket, s->be.where);
	if (status == 301 || strncmp(detail, "PermanentRedirect", 17) == 0 ||
	    strncmp(detail, "AuthorizationHeaderMalformed", 28) == 0)
		return hs_err(EIO, "%s %s: wrong region or endpoint (region %s; set AWS_REGION): %s", method, what,
			      s->region, detail[0] ? detail : "HTTP 301");
	struct hs_http_req req = { .method = method, .what = what };
	return hs_http_status_err(&req, status, detail[0] ? detail : NULL);
}

static int s3_get(struct hs_backend *be, const char *key, struct hs_buf *out)
{
	char what[4096];
	long status;
	bool fresh = out->cap == 0;
	int r = s3_request(S(be), "GET", key, "", NULL, NULL, 0, out, &status, what, sizeof what);
	if (r == 0 && status >= 200 && status < 300)
		return 0;
	if (r == 0)
		r = s3_status_err(S(be), "GET", what, status, out);
	/* An error body or a partial one: callers free out only after success. */
	if (fresh)
		hs_buf_free(out);
	out->len = 0;
	return r;
}

static int s3_get_range(struct hs_backend *be, const char *key, uint64_t off, size_t len,
			struct hs_buf *out)
{
	char what[4096], range[80];
	long status;
	out->len = 0;
	if (len == 0)
		return 0;
	/* A server that ignores the range sends the object from its start:
	 * what the range needs of it, and no more. */
	out->max = off + len;
	out->limit = NULL;
	snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	int r = s3_request(S(be), "GET", key, "", range, NULL, 0, out, &status, what, sizeof what);
	if (r == 0 && status == 416) {
		out->len = 0;
		return 0;
	}
	if (r == 0 && status == 200 && off < out->len) { /* the whole object: keep the range */
		size_t n = out->len - (size_t)off < len ? out->len - (size_t)off : len;
		memmove(out->data, out->data + off, n);
		out->len = n;
	} else if (r == 0 && status == 200) {
		out->len = 0;
	} else if (r == 0 && status != 206) {
		r = s3_status_err(S(be), "GET", what, status, out);
	}
	if (r < 0)
		out->len = 0;
	else if (out->len > len)
		out->len = len;
	return r;
}

static int s3_exists(struct hs_backend *be, const char *key)
{
	char what[4096];
	long status;
	int r = s3_request(S(be), "HEAD", key, "", NULL, NULL, 0, NULL, &status, what, sizeof what);
	if (r < 0)
		return r;
	if (status >= 200 && status < 300)
		return 1;
	r = s3_status_err(S(be), "HEAD", what, status, NULL);
	return r == -ENOENT ? 0 : r;
}

static int s3_put(struct hs_backend *be, const char *key, const void *p, size_t n, unsigned flags)
{
	/* NOREPLACE: look first (as for HTTP; a batched chunk was just looked up). */
	if ((flags & HS_PUT_NOREPLACE) && !(flags & HS_PUT_BATCH)) {
		int r = s3_exists(be, key);
		if (r < 0)
			return r;
		if (r == 1)
			return -EEXIST;
	}
	char what[4096];
	long status;
	struct hs_buf body = { 0 };
	/* Conditional create where the service has it (AWS S3, MinIO): of two
	 * writers racing past the look above, one gets 412 (or 409 while the
	 * other's upload is under way). */
	bool create = (flags & HS_PUT_NOREPLACE) && !(flags & HS_PUT_BATCH);
	int r = s3_request(S(be), "PUT", key, "", create ? "If-None-Match: *" : NULL, p, n, &body, &status,
			   what, sizeof what);
	if (r == 0 && create && (status == 412 || status == 409))
		r = -EEXIST;
	else if (r == 0 && (status < 200 || status >= 300))
		r = s3_status_err(S(be), "PUT", what, status, &body);
	hs_buf_free(&body);
	return r;
}

static int s3_delete(struct hs_backend *be, const char *key)
{
	char what[4096];
	long status;
	struct hs_buf body = { 0 };
	int r = s3_request(S(be), "DELETE", key, "", NULL, NULL, 0, &body, &status, what, sizeof what);
	if (r == 0 && (status < 200 || status >= 300))
		r = s3_status_err(S(be), "DELETE", what, status, &body);
	hs_buf_free(&body);
	return r;
}

static int s3_remove(struct hs_backend *be, const char *key)
{
	/* S3 answers 204 for a key that does not exist: look first, so callers
	 * learn -ENOENT as from the other kinds. */
	int r = s3_exists(be, key);
	if (r <= 0)
		return r == 0 ? -ENOENT : r;
	return s3_delete(be, key);
}

/* XML text with the five predefined entities decoded, into out. */
static void xml_text(const char *p, size_t n, char *out, size_t cap)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < cap;) {
		bool done = false;
		if (p[i] == '&') {
			for (size_t e = 0; e < 5 && !done; e++) {
				size_t l = strlen(ents[e].e);
				if (i + l <= n && strncmp(p + i, ents[e].e, l) == 0) {
					out[k++] = ents[e].c;
					i += l;
					done = true;
				}
			}
		}
		if (!done)
			out[k++] = p[i++];
	}
	out[k] = 0;
}

/* Find <tag>text</tag> in [p, end); the decoded text into out. Returns the
 * position after it, or NULL. */
static const char *xml_find(const char *p, const char *end, const char *tag, char *out, size_t cap)
{
	char open[64], close[64];
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return NULL;
	xml_text(a, (size_t)(b - a), out, cap);
	return b + strlen(close);
}

/* "2024-05-01T12:34:56.000Z" (a listing's LastModified) as UTC seconds; 0 if malformed. */
static int64_t iso_time(const char *s)
{
	struct tm tm = { 0 };
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* Call fn for each name of a listing page under full (the listed prefix):
 * objects (<Contents><Key>, with <Size> and <LastModified>) and "directories"
 * (<CommonPrefixes><Prefix>, size and time 0). */
static int list_page(const char *doc, size_t n, const char *full,
		     int (*fn)(void *, const char *, uint64_t, int64_t), void *arg)
{
	const char *end = doc + n;
	const char *tags[2][2] = { { "Contents", "Key" }, { "CommonPrefixes", "Prefix" } };
	size_t fl = strlen(full);
	for (int t = 0; t < 2; t++) {
		char open[32], close[32];
		snprintf(open, sizeof open, "<%s>", tags[t][0]);
		snprintf(close, sizeof close, "</%s>", tags[t][0]);
		const char *p = doc;
		for (;;) {
			const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
			if (!a)
				break;
			const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
			if (!b)
				break;
			char name[2048];
			if (xml_find(a, b, tags[t][1], name, sizeof name) && strncmp(name, full, fl) == 0) {
				char *rel = name + fl;
				size_t rl = strlen(rel);
				if (t == 1 && rl && rel[rl - 1] == '/')
					rel[--rl] = 0;
				if (rl && rel[0] != '.' && !strchr(rel, '/')) {
					char size[32] = "", when[64] = "";
					if (t == 0) {
						xml_find(a, b, "Size", size, sizeof size);
						xml_find(a, b, "LastModified", when, sizeof when);
					}
					int r = fn(arg, rel, strtoull(size, NULL, 10), iso_time(when));
					if (r != 0)
						return r;
				}
			}
			p = b + strlen(close);
		}
	}
	return 0;
}

int hs_s3_list_page(const char *doc, size_t n, const char *full,
		    int (*fn)(void *, const char *, uint64_t, int64_t), void *arg,
		    char *token, size_t tcap, bool *more)
{
	*more = false;
	int r = list_page(doc, n, full, fn, arg);
	if (r != 0)
		return r;
	char truncated[16] = "";
	xml_find(doc, doc + n, "IsTruncated", truncated, sizeof truncated);
	if (strcmp(truncated, "true") != 0)
		return 0;
	if (!xml_find(doc, doc + n, "NextContinuationToken", token, tcap) || !token[0])
		return -EPROTO;
	*more = true;
	return 0;
}

static int s3_list_sized(struct hs_backend *be, const char *dir,
			 int (*fn)(void *, const char *, uint64_t, int64_t), void *arg)
{
	struct s3_backend *s = S(be);
	char full[2048], efull[6200], token[2048] = "", etoken[6200], query[12800], what[4096];
	snprintf(full, sizeof full, "%s%s/", s->prefix, dir);
	if (hs_sigv4_encode(full, false, efull, sizeof efull) < 0)
		return hs_err(ENAMETOOLONG, "listing %s/%s: prefix too long", be->where, dir);
	struct hs_buf page = { 0 };
	int r = 0;
	for (int pages = 0; r == 0; pages++) {
		if (pages > 1000000) {
			r = hs_err(EIO, "listing %s/%s: the service keeps returning pages", be->where, dir);
			break;
		}
		etoken[0] = 0;
		if (token[0] && hs_sigv4_encode(token, false, etoken, sizeof etoken) < 0) {
			r = hs_err(EIO, "listing %s/%s: continuation token too long", be->where, dir);
			break;
		}
		/* Canonical order: parameters sorted by name. */
		snprintf(query, sizeof query, "%s%s%sdelimiter=%%2F&list-type=2&max-keys=%d&prefix=%s",
			 token[0] ? "continuation-token=" : "", etoken, token[0] ? "&" : "", s->max_keys, efull);
		long status;
		r = s3_request(s, "GET", NULL, query, NULL, NULL, 0, &page, &status, what, sizeof what);
		if (r < 0)
			break;
		if (status < 200 || status >= 300) {
			r = s3_status_err(s, "GET", what, status, &page);
			break;
		}
		bool more;
		r = hs_s3_list_page((const char *)page.data, page.len, full, fn, arg, token, sizeof token, &more);
		if (r == -EPROTO)
			r = hs_err(EIO, "listing %s/%s: a truncated page without a continuation token", be->where, dir);
		if (r != 0 || !more)
			break;
	}
	hs_buf_free(&page);
	return r;
}

/* list() over list_sized(): the names alone. */
struct names_only {
	int (*fn)(void *, const char *);
	void *arg;
};

static int name_only(void *arg, const char *name, uint64_t size, int64_t mtime)
{
	(void)size;
	(void)mtime;
	struct names_only *o = arg;
	return o->fn(o->arg, name);
}

static int s3_list(struct hs_backend *be, const char *dir, int (*fn)(void *, const char *), void *arg)
{
	struct names_only o = { fn, arg };
	return s3_list_sized(be, dir, name_only, &o);
}

/* A server-side copy (PUT with x-amz-copy-source), then for a move the
 * source's removal: the object is under one key or both, never neither. */
static int s3_copy(struct hs_backend *be, const char *from, const char *to, unsigned flags)
{
	struct s3_backend *s = S(be);
	int r = s3_exists(be, to);
	if (r != 0)
		return r == 1 ? -EEXIST : r;
	char src[2048], esrc[6200], what[4096];
	snprintf(src, sizeof src, "/%s/%s%s", s->bucket, s->prefix, from);
	if (hs_sigv4_encode(src, true, esrc, sizeof esrc) < 0)
		return hs_err(ENAMETOOLONG, "object key too long in %s", be->where);
	long status;
	struct hs_buf body = { 0 };
	r = s3_request_copy(s, "PUT", to, "", NULL, esrc, NULL, 0, &body, &status, what, sizeof what);
	/* A copy can fail after a 200 (the error is in the body). */
	if (r == 0 && (status < 200 || status >= 300 || (body.len && memmem(body.data, body.len, "<Error>", 7))))
		r = s3_status_err(s, "PUT (copy)", what, status >= 200 && status < 300 ? 500 : status, &body);
	hs_buf_free(&body);
	if (r == 0 && (flags & HS_COPY_MOVE))
		r = s3_delete(be, from);
	return r;
}

static int s3_sync(struct hs_backend *be)
{
	(void)be;
	return 0; /* every PUT was answered after the service stored it */
}

static int s3_lock(struct hs_backend *be, const char *name, int wait, int *token)
{
	return hs_remote_lock(be, &S(be)->locks, s3_delete, name, wait, token);
}

static void s3_unlock(struct hs_backend *be, int token)
{
	hs_remote_unlock(be, &S(be)->locks, s3_delete, token);
}

static void s3_close(struct hs_backend *be)
{
	struct s3_backend *s = S(be);
	hs_http_free(s->http);
	hs_remote_locks_free(&s->locks);
	if (s->secret)
		memset(s->secret, 0, strlen(s->secret));
	free(s->secret);
	free(s->token);
	free(s->key_id);
	free(s->region);
	free(s->scheme);
	free(s->host);
	free(s->bucket);
	free(s->prefix);
	free(be->where);
	free(s);
}

static const struct hs_backend_ops s3_ops = {
	.get = s3_get,
	.get_range = s3_get_range,
	.remove = s3_remove,
	.put = s3_put,
	.exists = s3_exists,
	.list = s3_list,
	.list_sized = s3_list_sized,
	.copy = s3_copy,
	.sync = s3_sync,
	.lock = s3_lock,
	.unlock = s3_unlock,
	.close = s3_close,
};

/* init on a bucket that does not exist yet: create it. */
static int make_bucket(struct s3_backend *s)
{
	char what[4096];
	long status;
	struct hs_buf body = { 0 };
	int r = s3_request(s, "HEAD", NULL, "", NULL, NULL, 0, NULL, &status, what, sizeof what);
	if (r < 0 || status != 404)
		return r;
	char conf[256] = "";
	if (strcmp(s->region, "us-east-1") != 0)
		snprintf(conf, sizeof conf,
			 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>", s->region);
	r = s3_request(s, "PUT", NULL, "", NULL, conf, strlen(conf), &body, &status, what, sizeof what);
	if (r == 0 && (status < 200 || status >= 300)) {
		char detail[512];
		error_detail(&body, detail, sizeof detail);
		r = strncmp(detail, "BucketAlreadyOwnedByYou", 23) == 0
			    ? 0 : hs_err(EIO, "cannot create bucket %s: HTTP %ld %s", s->bucket, status, detail);
	}
	hs_buf_free(&body);
	return r;
}

static bool bucket_name_ok(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return false;
	for (const char *p = b; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		      (*p >= 'A' && *p <= 'Z') || *p == '_'))
			return false;
	return true;
}

/* A prefix made of plain segments. "a/../b" and "a/./b" are S3 keys of their
 * own, but libcurl (and proxies) resolve the dot segments after the request
 * is signed, so the signature fails; sending them as they are would give a
 * store other tools (and the user who typed "a/../b" for "b") find elsewhere. */
static bool prefix_ok(const char *p, size_t n)
{
	for (size_t i = 0; i <= n;) {
		size_t l = 0;
		while (i + l < n && p[i + l] != '/')
			l++;
		if (n && (l == 0 || (l == 1 && p[i] == '.') || (l == 2 && p[i] == '.' && p[i + 1] == '.')))
			return false;
		i += l + 1;
	}
	return true;
}

int hs_backend_s3_open(const char *url, int create, struct hs_backend **out)
{
	const char *rest = url + 5; /* after "s3://" */
	size_t bl = strcspn(rest, "/");
	struct s3_backend *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->be.ops = &s3_ops;
	s->be.remote = true;
	hs_remote_locks_init(&s->locks);
	int r = 0;
	s->bucket = strndup(rest, bl);
	const char *pre = rest + bl;
	while (*pre == '/')
		pre++;
	size_t pl = strlen(pre);
	while (pl && pre[pl - 1] == '/')
		pl--;
	if (!s->bucket || asprintf(&s->prefix, "%.*s%s", (int)pl, pre, pl ? "/" : "") < 0) {
		s->prefix = NULL;
		r = -ENOMEM;
		goto fail;
	}
	if (asprintf(&s->be.where, "s3://%s%s%.*s", s->bucket, pl ? "/" : "", (int)pl, pre) < 0) {
		s->be.where = NULL;
		r = -ENOMEM;
		goto fail;
	}
	if (!bucket_name_ok(s->bucket)) {
		r = hs_err(EINVAL, "store %s: '%s' is not a bucket name", s->be.where, s->bucket);
		goto fail;
	}
	if (!prefix_ok(pre, pl)) {
		r = hs_err(EINVAL, "store %s: a prefix with '.', '..' or empty segments is refused (S3 keeps "
			   "them in the keys, HTTP clients and proxies resolve them)", s->be.where);
		goto fail;
	}

	const char *region = env_first("AWS_REGION", "AWS_DEFAULT_REGION", NULL);
	const char *endpoint = env_first("HOTSPARE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	const char *ps = getenv("HOTSPARE_S3_PATH_STYLE");
	const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	s->region = strdup(region ? region : "us-east-1");
	s->path_style = ps && *ps ? strcmp(ps, "0") != 0 : endpoint != NULL;
	s->max_keys = 1000;
	const char *mk = getenv("HOTSPARE_S3_MAX_KEYS");
	if (mk && atoi(mk) >= 1 && atoi(mk) <= 1000)
		s->max_keys = atoi(mk);
	if (id && *id) {
		if (!secret || !*secret) {
			r = hs_err(EINVAL, "store %s: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
				   s->be.where);
			goto fail;
		}
		s->key_id = strdup(id);
		s->secret = strdup(secret);
		if (token && *token)
			s->token = strdup(token);
		if (!s->key_id || !s->secret || (token && *token && !s->token)) {
			r = -ENOMEM;
			goto fail;
		}
	}
	char authority[512];
	if (endpoint) {
		const char *sep = strstr(endpoint, "://");
		if (!sep || (strncasecmp(endpoint, "http://", 7) != 0 && strncasecmp(endpoint, "https://", 8) != 0)) {
			r = hs_err(EINVAL, "S3 endpoint %s is not an http:// or https:// URL", endpoint);
			goto fail;
		}
		s->scheme = strndup(endpoint, (size_t)(sep - endpoint));
		const char *a = sep + 3;
		size_t al = strcspn(a, "/?#");
		if (!al || memchr(a, '@', al) || al >= sizeof authority) {
			r = hs_err(EINVAL, "S3 endpoint %s: give the host (and port) only, no credentials", endpoint);
			goto fail;
		}
		snprintf(authority, sizeof authority, "%.*s", (int)al, a);
	} else {
		s->scheme = strdup("https");
		snprintf(authority, sizeof authority, "s3.%s.amazonaws.com", s->region ? s->region : "");
	}
	if (!s->scheme || !s->region) {
		r = -ENOMEM;
		goto fail;
	}
	for (char *c = s->scheme; *c; c++)
		*c = (char)(*c | 0x20);
	if ((s->path_style ? asprintf(&s->host, "%s", authority)
			   : asprintf(&s->host, "%s.%s", s->bucket, authority)) < 0) {
		s->host = NULL;
		r = -ENOMEM;
		goto fail;
	}
	r = hs_http_new(s->be.where, NULL, NULL, &s->http);
	if (r < 0)
		goto fail;
	if (create && (r = make_bucket(s)) < 0)
		goto fail;
	*out = &s->be;
	return 0;
fail:
	s3_close(&s->be);
	return r;
}
