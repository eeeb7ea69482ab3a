/* A store on a web server: reads with GET from any static server, writes
 * with PUT (nginx's WebDAV PUT, which writes to a temporary file and renames
 * it into place, so readers see nothing or all of an object). A successful
 * PUT means stored, so sync has nothing to do; how durable "stored" is, is
 * the server's business. There are no listings (the store keeps manifests)
 * and no locks (advisory lock objects instead; see http.h). */
#include "store/backend.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/http.h"
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

struct http_backend {
	struct hs_backend be;
	struct hs_http *http;
	char *base; /* the store's URL without credentials, ending in '/' */
	struct hs_remote_locks locks;
};

static struct http_backend *H(struct hs_backend *be) { return (struct http_backend *)be; }

/* The URL and the name for messages of key. */
struct target {
	char url[4096];
	char what[4096];
};

static int target(struct http_backend *h, const char *key, struct target *t)
{
	if ((size_t)snprintf(t->url, sizeof t->url, "%s%s", h->base, key) >= sizeof t->url)
		return hs_err(ENAMETOOLONG, "URL of %s/%s is too long", h->be.where, key);
	snprintf(t->what, sizeof t->what, "%s/%s", h->be.where, key);
	return 0;
}

/* Send method on key (body and out as the request needs). 0 for a 2xx
 * answer, else -errno (the status mapped by hs_http_status_err: 404 is
 * -ENOENT); t stays valid for error messages. */
static int request(struct hs_backend *be, struct hs_http_req *req, struct target *t, const char *key)
{
	int r = target(H(be), key, t);
	if (r < 0)
		return r;
	req->url = t->url;
	req->what = t->what;
	long status;
	r = hs_http_do(H(be)->http, req, &status);
	if (r < 0)
		return r;
	return status >= 200 && status < 300 ? 0 : hs_http_status_err(req, status, NULL);
}

static int http_get(struct hs_backend *be, const char *key, struct hs_buf *out)
{
	struct target t;
	struct hs_http_req req = { .method = "GET", .out = out };
	bool fresh = out->cap == 0;
	int r = request(be, &req, &t, key);
	if (r == 0)
		return 0;
	/* An error body or a partial one: callers free out only after success. */
	if (fresh)
		hs_buf_free(out);
	out->len = 0;
	return r;
}

/* Keep [off, off+len) of a whole body a server sent instead of a range. */
static void keep_range(struct hs_buf *out, uint64_t off, size_t len)
{
	if (off >= out->len) {
		out->len = 0;
		return;
	}
	size_t n = out->len - (size_t)off < len ? out->len - (size_t)off : len;
	memmove(out->data, out->data + off, n);
	out->len = n;
}

static int http_get_range(struct hs_backend *be, const char *key, uint64_t off, size_t len,
			  struct hs_buf *out)
{
	char range[80];
	out->len = 0;
	if (len == 0)
		return 0;
	/* A server that ignores the range sends the object from its start:
	 * what the range needs of it, and no more. */
	out->max = off + len;
	out->limit = NULL;
	snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	struct curl_slist *h = curl_slist_append(NULL, range);
	if (!h)
		return -ENOMEM;
	struct target t;
	struct hs_http_req req = { .method = "GET", .out = out, .headers = h, .prefix_ok = true };
	int r = target(H(be), key, &t);
	long status = 0;
	if (r == 0) {
		req.url = t.url;
		req.what = t.what;
		r = hs_http_do(H(be)->http, &req, &status);
	}
	curl_slist_free_all(h);
	if (r == 0 && status == 416) { /* the range starts past the end */
		out->len = 0;
		return 0;
	}
	if (r == 0 && status == 200) /* a server that ignores ranges sends it all */
		keep_range(out, off, len);
	else if (r == 0 && status != 206)
		r = hs_http_status_err(&req, status, NULL);
	if (r < 0)
		out->len = 0;
	else if (out->len > len)
		out->len = len;
	return r;
}

static int http_exists(struct hs_backend *be, const char *key)
{
	struct target t;
	struct hs_http_req req = { .method = "HEAD" };
	int r = request(be, &req, &t, key);
	return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

static int http_put(struct hs_backend *be, const char *key, const void *p, size_t n, unsigned flags)
{
	/* NOREPLACE: look first, then ask for a conditional create, which
	 * servers that implement RFC 9110's If-None-Match for PUT (Apache
	 * mod_dav) honour and others (nginx) ignore. A batched chunk was looked
	 * up by the caller just before, and chunks are named by their content:
	 * a lost race rewrites the same bytes. */
	bool create = (flags & HS_PUT_NOREPLACE) && !(flags & HS_PUT_BATCH);
	if (create) {
		int r = http_exists(be, key);
		if (r < 0)
			return r;
		if (r == 1)
			return -EEXIST;
	}
	struct target t;
	struct curl_slist *cond = NULL;
	if (create && !(cond = curl_slist_append(NULL, "If-None-Match: *")))
		return -ENOMEM;
	struct hs_http_req req = { .method = "PUT", .body = p, .body_len = n, .headers = cond };
	int r = request(be, &req, &t, key);
	curl_slist_free_all(cond);
	if (r == -EEXIST)
		return r;
	if (r == -ENOENT) /* a server without WebDAV answers a PUT with 404 or 405 */
		r = hs_err(EOPNOTSUPP, "PUT %s: HTTP 404; the server does not accept uploads there "
			   "(nginx: dav_methods PUT DELETE; create_full_put_path on)", t.what);
	return r;
}

static int http_delete(struct hs_backend *be, const char *key)
{
	struct target t;
	struct hs_http_req req = { .method = "DELETE" };
	return request(be, &req, &t, key);
}

static int http_remove(struct hs_backend *be, const char *key)
{
	return http_delete(be, key);
}

static int http_list(struct hs_backend *be, const char *dir, int (*fn)(void *, const char *), void *arg)
{
	(void)be;
	(void)dir;
	(void)fn;
	(void)arg;
	return -ENOTSUP; /* directory listings are not a contract of web servers: manifests are */
}

static int http_sync(struct hs_backend *be)
{
	(void)be;
	return 0; /* every put was answered after the server stored it */
}

static int http_lock(struct hs_backend *be, const char *name, int wait, int *token)
{
	return hs_remote_lock(be, &H(be)->locks, http_delete, name, wait, token);
}

static void http_unlock(struct hs_backend *be, int token)
{
	hs_remote_unlock(be, &H(be)->locks, http_delete, token);
}

static void http_close(struct hs_backend *be)
{
	struct http_backend *h = H(be);
	hs_http_free(h->http);
	hs_remote_locks_free(&h->locks);
	free(h->base);
	free(be->where);
	free(h);
}

static const struct hs_backend_ops http_ops = {
	.get = http_get,
	.get_range = http_get_range,
	.remove = http_remove,
	.put = http_put,
	.exists = http_exists,
	.list = http_list,
	.sync = http_sync,
	.lock = http_lock,
	.unlock = http_unlock,
	.close = http_close,
};

int hs_backend_http_open(const char *url, struct hs_backend **out)
{
	char *clean = NULL, *user = NULL, *password = NULL;
	int r = hs_url_split_credentials(url, &clean, &user, &password);
	if (r < 0)
		return r;
	/* Credentials kept out of the command line entirely: a file
	 * (--credentials-file, passed down as HOTSPARE_CREDENTIALS_FILE), else
	 * the environment. */
	const char *file = getenv("HOTSPARE_CREDENTIALS_FILE");
	if (!user && file && *file)
		r = hs_credentials_read(file, &user, &password);
	if (!user && r == 0) {
		const char *u = getenv("HOTSPARE_HTTP_USER"), *p = getenv("HOTSPARE_HTTP_PASSWORD");
		if (u && *u && (!(user = strdup(u)) || (p && !(password = strdup(p)))))
			r = -ENOMEM;
	}
	struct http_backend *h = r == 0 ? calloc(1, sizeof *h) : NULL;
	if (!h) {
		if (r == 0)
			r = -ENOMEM;
		goto out;
	}
	size_t n = strlen(clean);
	while (n > 0 && clean[n - 1] == '/')
		clean[--n] = 0;
	const char *host = strstr(clean, "://") + 3;
	if (!*host || *host == '/') {
		free(h);
		r = hs_err(EINVAL, "store %s: no host in the URL", clean);
		goto out;
	}
	if (asprintf(&h->base, "%s/", clean) < 0) {
		free(h);
		r = -ENOMEM;
		goto out;
	}
	h->be.ops = &http_ops;
	h->be.where = HS_TAKE(clean);
	h->be.remote = true;
	hs_remote_locks_init(&h->locks);
	r = hs_http_new(h->be.where, user, password, &h->http);
	if (r < 0) {
		http_close(&h->be);
		goto out;
	}
	*out = &h->be;
out:
	if (password)
		memset(password, 0, strlen(password));
	free(password);
	free(user);
	free(clean);
	return r;
}
