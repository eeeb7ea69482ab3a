/* The HTTP client of the remote store kinds; see http.h.
 * Connections are kept alive in the client's own connection cache (a share
 * object), not in easy handles: every attempt takes a fresh handle, which
 * picks an idle connection from the cache and returns it there, so N workers
 * end up with N kept-alive connections. A handle is never used twice: one
 * that is keeps the last response's header state, and libcurl 7.88 then
 * reads a freed header when the next response begins with a folded line (a
 * server can make it; curl fixed it in 8.1.0). DNS results and TLS sessions
 * are shared too. Each attempt runs in a multi handle taken from the
 * client's pool rather than through curl_easy_perform, which makes and
 * destroys a multi handle of its own every time (a socketpair, its two
 * closes, fcntls and SIGPIPE sigactions: a dozen system calls a chunk). */
#include "store/http.h"
#include "basics/cleanup.h"
#include "basics/deadline.h"
#include "basics/err.h"
#include "basics/path.h"
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Idle multi handles a client keeps (one per worker that ran at once). */
#define POOL_MAX 64

struct hs_http {
	char *where;
	char *user, *password;
	char *ca_file;
	const char *ca_var; /* the variable that named ca_file */
	int retries;
	long connect_ms, stall_s;
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST]; /* one per kind of shared data */
	/* pool_lock protects the idle multi handles */
	pthread_mutex_t pool_lock;
	CURLM *idle[POOL_MAX];
	size_t nidle;
};

/* Kept-alive connections the cache holds (past it, the oldest idle one is
 * closed): more than the workers of any one job. */
#define CONNECTIONS_MAX 64L

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *arg)
{
	(void)c;
	(void)a;
	struct hs_http *h = arg;
	pthread_mutex_lock(&h->share_lock[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *arg)
{
	(void)c;
	struct hs_http *h = arg;
	pthread_mutex_unlock(&h->share_lock[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static long env_long(const char *name, long def, long min, long max)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || n < min || n > max)
		return def;
	return n;
}

int hs_http_new(const char *where, const char *user, const char *password, struct hs_http **out)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return hs_err(EIO, "cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
	struct hs_http *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	const char *ca_var = "HOTSPARE_CA_FILE", *ca = getenv(ca_var);
	if (!ca || !*ca)
		ca = getenv(ca_var = "CURL_CA_BUNDLE");
	/* A CA file that is not there is a setting to fix, not a server to distrust. */
	if (ca && *ca && access(ca, F_OK) < 0) {
		int e = errno;
		free(h);
		return e == ENOENT ? hs_err(ENOENT, "%s %s: no such file", ca_var, ca)
				   : hs_err(e, "%s %s: %s", ca_var, ca, strerror(e));
	}
	h->ca_var = ca_var;
	h->where = strdup(where);
	h->user = user ? strdup(user) : NULL;
	h->password = password ? strdup(password) : NULL;
	h->ca_file = ca && *ca ? strdup(ca) : NULL;
	h->retries = (int)env_long("HOTSPARE_HTTP_RETRIES", 4, 0, 100);
	h->connect_ms = env_long("HOTSPARE_HTTP_CONNECT_TIMEOUT", 10, 1, 3600) * 1000;
	h->stall_s = env_long("HOTSPARE_HTTP_STALL_TIMEOUT", 30, 1, 3600);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_lock[i], NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	h->share = curl_share_init();
	if (!h->where || (user && !h->user) || (password && !h->password) || (ca && *ca && !h->ca_file) ||
	    !h->share) {
		hs_http_free(h);
		return -ENOMEM;
	}
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = h;
	return 0;
}

void hs_http_free(struct hs_http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nidle; i++)
		curl_multi_cleanup(h->idle[i]);
	pthread_mutex_destroy(&h->pool_lock);
	if (h->share)
		curl_share_cleanup(h->share); /* closes the kept-alive connections */
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_lock[i]);
	if (h->password)
		memset(h->password, 0, strlen(h->password));
	free(h->password);
	free(h->user);
	free(h->ca_file);
	free(h->where);
	free(h);
}

/* The body of a PUT, sent (and re-sent on a retry or rewind) from memory. */
struct upload {
	const char *p;
	size_t n, at;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t want = size * nmemb, left = u->n - u->at;
	size_t k = want < left ? want : left;
	memcpy(dst, u->p + u->at, k);
	u->at += k;
	return k;
}

static int seek_cb(void *arg, curl_off_t off, int origin)
{
	struct upload *u = arg;
	if (origin != SEEK_SET || off < 0 || (size_t)off > u->n)
		return CURL_SEEKFUNC_CANTSEEK;
	u->at = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* The most a Content-Length reserves up front (a bigger body grows as it
 * arrives, so memory follows bytes received, not bytes announced). */
#define RESERVE_MAX ((curl_off_t)16 << 20)

struct download {
	CURL *c;
	struct hs_buf *out;
	bool failed;    /* out of memory */
	size_t too_big; /* the limit the body went past, or 0 */
	bool prefix_ok; /* the request's: a whole body (200) may be cut at the limit */
	bool cut;       /* it was: the transfer stopped there on purpose */
};

/* Whether this response's body may be cut at the limit: a 200 to a request
 * that needs only the body's start (a range the server did not honour). */
static bool may_cut(struct download *d)
{
	long status = 0;
	return d->prefix_ok && curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	       status == 200;
}

static size_t write_cb(char *src, size_t size, size_t nmemb, void *arg)
{
	struct download *d = arg;
	size_t n = size * nmemb;
	if (!d->out)
		return n;
	/* What the object can be (the caller's limit), else a bound for bodies
	 * nobody sized: never what the server claims. */
	size_t max = hs_buf_limit(d->out);
	if (!max)
		max = HS_HTTP_BODY_MAX;
	if (d->out->len == 0 && d->out->cap < n + 1) {
		/* Reserve the whole body at once when its length is known and allowed. */
		curl_off_t cl = -1;
		curl_easy_getinfo(d->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		if (cl > 0 && (uint64_t)cl > max) {
			if (!may_cut(d)) {
				d->too_big = max;
				return 0;
			}
			cl = (curl_off_t)max;
		}
		if (cl > 0 && hs_buf_reserve(d->out, (size_t)(cl < RESERVE_MAX ? cl : RESERVE_MAX) + 1) < 0) {
			d->failed = true;
			return 0;
		}
	}
	if (d->out->len > max || n > max - d->out->len) {
		if (d->out->len <= max && may_cut(d)) {
			/* What is needed, then stop the transfer. */
			if (hs_buf_append(d->out, src, max - d->out->len) < 0)
				d->failed = true;
			else
				d->cut = true;
			return 0;
		}
		d->too_big = max;
		return 0;
	}
	int r = hs_buf_append(d->out, src, n);
	if (r == -EFBIG)
		d->too_big = hs_buf_limit(d->out);
	else if (r < 0)
		d->failed = true;
	return r < 0 ? 0 : n;
}

/* A multi handle from the pool, or a new one (NULL: out of memory). */
static CURLM *multi_get(struct hs_http *h)
{
	pthread_mutex_lock(&h->pool_lock);
	CURLM *m = h->nidle ? h->idle[--h->nidle] : NULL;
	pthread_mutex_unlock(&h->pool_lock);
	if (m || !(m = curl_multi_init()))
		return m;
	/* The share's cache holds every thread's connections; the limit is the
	 * multi handle's (by default four per easy handle in it: one here). */
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, CONNECTIONS_MAX);
	return m;
}

static void multi_put(struct hs_http *h, CURLM *m)
{
	pthread_mutex_lock(&h->pool_lock);
	if (h->nidle < POOL_MAX) {
		h->idle[h->nidle++] = m;
		m = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	curl_multi_cleanup(m);
}

/* curl_easy_perform's work on a pooled multi handle: run c's transfer to its
 * end (the easy handle's own timeouts end it) and return its result. */
static CURLcode perform(struct hs_http *h, CURL *c)
{
	CURLM *m = multi_get(h);
	if (!m)
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(m, c) != CURLM_OK) {
		multi_put(h, m);
		return CURLE_OUT_OF_MEMORY;
	}
	CURLcode cc = CURLE_OK;
	int running = 1;
	for (;;) {
		CURLMcode mc = curl_multi_perform(m, &running);
		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK) {
			cc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
	}
	int left;
	bool done = false;
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c && !done) {
			done = true;
			if (cc == CURLE_OK)
				cc = msg->data.result;
		}
	if (!done && cc == CURLE_OK)
		cc = CURLE_FAILED_INIT; /* ended without a result: not to be trusted */
	/* A handle that cannot let go of c is not used again. */
	if (curl_multi_remove_handle(m, c) == CURLM_OK)
		multi_put(h, m);
	else
		curl_multi_cleanup(m);
	return cc;
}

/* One attempt on c, a fresh handle, cut to left ms when the thread has a
 * deadline (left >= 0). Returns the CURLcode; *status is the HTTP status
 * when there was a response. */
static CURLcode attempt(struct hs_http *h, CURL *c, const struct hs_http_req *req,
			struct curl_slist *headers, long *status, char *errbuf, bool *oom, size_t *too_big,
			int64_t left)
{
	errbuf[0] = 0;
	struct upload up = { req->body, req->body_len, 0 };
	struct download down = { c, req->out, false, 0, req->prefix_ok, false };
	if (req->out)
		req->out->len = 0;
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	long connect_ms = h->connect_ms, stall_s = h->stall_s;
	if (left >= 0) {
		/* The whole transfer ends by the deadline, however the server
		 * behaves (silent, slow, a byte at a time). */
		long ms = left > 0 ? (long)left : 1;
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
		if (connect_ms > ms)
			connect_ms = ms;
		if (stall_s > ms / 1000 + 1)
			stall_s = ms / 1000 + 1;
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hotspare");
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, CONNECTIONS_MAX);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (h->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->password ? h->password : "");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &down);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, &up);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	CURLcode cc = perform(h, c);
	if (down.cut && cc == CURLE_WRITE_ERROR)
		cc = CURLE_OK; /* stopped on purpose, with all that was needed */
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*oom = down.failed;
	*too_big = down.too_big;
	return cc;
}

/* The errno for a failed transfer, and whether it is worth another try. */
static int curl_err(CURL *c, CURLcode cc, bool *transient)
{
	long os = 0;
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os);
	*transient = true;
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (os == EHOSTUNREACH || os == ENETUNREACH || os == ETIMEDOUT)
			return -(int)os;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_FUNCTION_ARGUMENT: /* 7.88's answer to a reply that begins with a folded header */
		/* A garbled reply says nothing of the object: like a cut one, try again. */
		return -ECONNRESET;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
		if (os == ECONNRESET || os == EPIPE)
			return -ECONNRESET;
		*transient = false;
		return -EPROTO;
	case CURLE_SSL_CACERT_BADFILE:
		*transient = false;
		return -EBADF;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		*transient = false;
		return -EACCES;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		*transient = false;
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		*transient = false;
		return -ENOMEM;
	default:
		*transient = false;
		return -EIO;
	}
}

/* Worth another try: a server error, but not one saying the server never
 * does this (501 Not Implemented: a static server asked to PUT; 505). */
static bool status_transient(long s)
{
	return (s >= 500 && s != 501 && s != 505) || s == 429 || s == 408;
}

/* Sleep ms milliseconds, give or take a quarter (so retrying workers spread out). */
static void backoff_sleep(int ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int jitter = ms / 4 ? (int)((unsigned long)t.tv_nsec % (unsigned long)(ms / 2)) - ms / 4 : 0;
	usleep((useconds_t)(ms + jitter) * 1000);
}

int hs_http_do(struct hs_http *h, const struct hs_http_req *req, long *status)
{
	/* libcurl would add "Expect: 100-continue" to large PUTs: a round trip per chunk. */
	struct curl_slist *headers = NULL, *t;
	for (struct curl_slist *s = req->headers; s; s = s->next) {
		if (!(t = curl_slist_append(headers, s->data)))
			goto oom;
		headers = t;
	}
	if (!(t = curl_slist_append(headers, "Expect:")))
		goto oom;
	headers = t;
	char errbuf[CURL_ERROR_SIZE];
	int delay = 100, r = 0, tries;
	bool out_of_time = false;
	size_t too_big = 0;
	for (tries = 1;; tries++) {
		bool oom = false, transient = false;
		int64_t left = hs_deadline_left_ms();
		CURL *c = curl_easy_init();
		CURLcode cc = c ? attempt(h, c, req, headers, status, errbuf, &oom, &too_big, left) : CURLE_OK;
		if (!c || oom) {
			curl_easy_cleanup(c);
			r = -ENOMEM;
			break;
		}
		if (too_big) {
			curl_easy_cleanup(c);
			r = -EFBIG;
			break;
		}
		if (cc == CURLE_OK) {
			r = 0;
			transient = status_transient(*status);
		} else {
			r = curl_err(c, cc, &transient);
			if (cc == CURLE_BAD_FUNCTION_ARGUMENT)
				snprintf(errbuf, sizeof errbuf, "the server's reply is malformed (a header line "
					 "libcurl cannot parse)");
			if (!errbuf[0])
				snprintf(errbuf, sizeof errbuf, "%s", curl_easy_strerror(cc));
		}
		curl_easy_cleanup(c);
		if (!transient || tries > h->retries)
			break;
		/* No other try fits before the thread's deadline. */
		left = hs_deadline_left_ms();
		if (left >= 0 && left <= delay + delay / 4) { /* the backoff's jitter included */
			out_of_time = true;
			break;
		}
		backoff_sleep(delay);
		delay = delay < 1000 ? delay * 2 : 2000;
	}
	curl_slist_free_all(headers);
	if (r == -ENOMEM)
		return hs_err(ENOMEM, "out of memory reading %s", req->what);
	if (r == -EFBIG)
		return hs_err(EFBIG, "%s %s: the server sent a body larger than %zu bytes, more than that "
			      "object can be", req->method, req->what, too_big);
	if (r == 0 && status_transient(*status))
		return hs_err(EAGAIN, "%s %s: server error (HTTP %ld; tried %d times)", req->method,
			      req->what, *status, tries);
	if (r == -EBADF && h->ca_file)
		return hs_err(EIO, "%s %s cannot be used as a CA bundle: %s", h->ca_var, h->ca_file, errbuf);
	if (r == -EBADF)
		return hs_err(EIO, "the system's CA bundle cannot be used: %s", errbuf);
	if (r == -EACCES && strstr(errbuf, "target host name"))
		return hs_err(EACCES, "%s: the server's TLS certificate is for another host name than the "
			      "URL's (%s)", h->where, errbuf);
	if (r == -EACCES)
		return hs_err(EACCES, "%s: the server's TLS certificate is not trusted: %s "
			      "(set HOTSPARE_CA_FILE to the CA that signed it)", h->where, errbuf);
	if (r < 0 && (out_of_time || (r == -ETIMEDOUT && hs_deadline_left_ms() == 0)))
		return hs_err(-r, "cannot reach %s within the deadline: %s (tried %d times)", req->what,
			      errbuf, tries);
	if (r < 0 && tries > 1)
		return hs_err(-r, "cannot reach %s: %s (tried %d times)", req->what, errbuf, tries);
	if (r < 0)
		return hs_err(-r, "cannot reach %s: %s", req->what, errbuf);
	return 0;
oom:
	curl_slist_free_all(headers);
	return -ENOMEM;
}

int hs_http_status_err(const struct hs_http_req *req, long status, const char *detail)
{
	const char *sep = detail && *detail ? ": " : "", *d = detail ? detail : "";
	if (status == 404 || status == 410)
		return -ENOENT;
	if (status == 412) /* a precondition (If-None-Match: *): the object exists */
		return -EEXIST;
	if (status == 401 || status == 403)
		return hs_err(EACCES, "%s %s: access denied (HTTP %ld)%s%s", req->method, req->what, status,
			      sep, d);
	if (status == 405 || status == 501)
		return hs_err(EOPNOTSUPP, "%s %s: the server does not allow %s (HTTP %ld)%s%s%s",
			      req->method, req->what, req->method, status,
			      strcmp(req->method, "GET") ? "; is WebDAV PUT/DELETE enabled?" : "", sep, d);
	if (status == 413)
		return hs_err(EFBIG, "%s %s: too large for the server (HTTP 413; raise client_max_body_size)%s%s",
			      req->method, req->what, sep, d);
	return hs_err(EIO, "%s %s: unexpected HTTP status %ld%s%s", req->method, req->what, status, sep, d);
}

/* ---- credentials in URLs ---- */

/* Where the userinfo of url lies: [*a, *b) before the '@' at *b. false if none. */
static bool find_userinfo(const char *url, size_t *a, size_t *b)
{
	const char *s = strstr(url, "://");
	if (!s)
		return false;
	s += 3;
	size_t end = strcspn(s, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < end; i++)
		if (s[i] == '@')
			at = s + i;
	if (!at)
		return false;
	*a = (size_t)(s - url);
	*b = (size_t)(at - url);
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *pct_decode(const char *s, size_t n)
{
	char *o = malloc(n + 1), *q = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*q++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*q++ = s[i];
		}
	}
	*q = 0;
	return o;
}

int hs_url_split_credentials(const char *url, char **clean, char **user, char **password)
{
	*clean = *user = *password = NULL;
	size_t a, b;
	if (!find_userinfo(url, &a, &b)) {
		*clean = strdup(url);
		return *clean ? 0 : -ENOMEM;
	}
	const char *ui = url + a;
	size_t uilen = b - a, colon = strcspn(ui, ":");
	if (colon > uilen)
		colon = uilen;
	size_t n = strlen(url);
	char *c = malloc(n + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, url, a);
	memcpy(c + a, url + b + 1, n - b); /* with the terminator */
	*clean = c;
	*user = pct_decode(ui, colon);
	if (colon < uilen)
		*password = pct_decode(ui + colon + 1, uilen - colon - 1);
	if (!*user || (colon < uilen && !*password)) {
		free(*clean);
		free(*user);
		free(*password);
		*clean = *user = *password = NULL;
		return -ENOMEM;
	}
	return 0;
}

char *hs_url_mask(const char *arg)
{
	size_t a, b;
	if (strncmp(arg, "http", 4) != 0 || !find_userinfo(arg, &a, &b))
		return NULL;
	char *m = NULL;
	return asprintf(&m, "%.*s***%s", (int)a, arg, arg + b) < 0 ? NULL : m;
}

/* The most bytes a credentials file may have: one line. */
#define CREDENTIALS_MAX 4096

int hs_credentials_read(const char *path, char **user, char **password)
{
	*user = *password = NULL;
	/* O_NONBLOCK: a FIFO in its place must not hang the command. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return hs_err(errno, "credentials file %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return hs_err(EINVAL, "credentials file %s is not a regular file", path);
	if (st.st_mode & 077)
		return hs_err(EPERM, "credentials file %s may be read by others (mode %04o): chmod 600 it",
			      path, (unsigned)(st.st_mode & 07777));
	char text[CREDENTIALS_MAX + 1];
	ssize_t n = read(fd, text, sizeof text);
	if (n < 0)
		return hs_err(errno, "credentials file %s: %s", path, strerror(errno));
	if (n > CREDENTIALS_MAX)
		return hs_err(EINVAL, "credentials file %s is longer than one line of %d bytes", path,
			      CREDENTIALS_MAX);
	text[n] = 0;
	size_t len = (size_t)n;
	if (len && text[len - 1] == '\n')
		text[--len] = 0;
	if (len && text[len - 1] == '\r')
		text[--len] = 0;
	char *colon = strchr(text, ':');
	int r = 0;
	if (memchr(text, 0, len) || strchr(text, '\n') || !colon || colon == text)
		r = hs_err(EINVAL, "credentials file %s: expected one line USER:PASSWORD", path);
	else if (!(*user = strndup(text, (size_t)(colon - text))) || !(*password = strdup(colon + 1)))
		r = -ENOMEM;
	if (r < 0) {
		free(*user);
		free(*password);
		*user = *password = NULL;
	}
	explicit_bzero(text, sizeof text);
	return r;
}

/* ---- advisory lock objects ---- */

void hs_remote_locks_init(struct hs_remote_locks *l)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->lock, NULL);
}

void hs_remote_locks_free(struct hs_remote_locks *l)
{
	for (size_t i = 0; i < sizeof l->key / sizeof *l->key; i++)
		free(l->key[i]);
	pthread_mutex_destroy(&l->lock);
}

struct holder {
	char host[256];
	long pid;
	long long time;
	char nonce[40];
};

/* Parse a lock object; false if it holds no lock (released, or not ours to read). */
static bool parse_holder(const struct hs_buf *b, struct holder *o)
{
	memset(o, 0, sizeof *o);
	char text[1024];
	size_t n = b->len < sizeof text - 1 ? b->len : sizeof text - 1;
	if (n)
		memcpy(text, b->data, n);
	text[n] = 0;
	if (strncmp(text, "hotspare-lock\n", 14) != 0)
		return false;
	char *save = NULL;
	for (char *line = strtok_r(text + 14, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "host ", 5) == 0)
			snprintf(o->host, sizeof o->host, "%s", line + 5);
		else if (strncmp(line, "pid ", 4) == 0)
			o->pid = atol(line + 4);
		else if (strncmp(line, "time ", 5) == 0)
			o->time = atoll(line + 5);
		else if (strncmp(line, "nonce ", 6) == 0)
			snprintf(o->nonce, sizeof o->nonce, "%s", line + 6);
	}
	return true;
}

int hs_remote_lock(struct hs_backend *be, struct hs_remote_locks *l,
		   int (*del)(struct hs_backend *, const char *key), const char *name, int wait,
		   int *token)
{
	char key[300], host[256] = "", mine[640];
	snprintf(key, sizeof key, "locks/%s.lock", name);
	gethostname(host, sizeof host - 1);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long nonce = ((unsigned long long)ts.tv_nsec << 20) ^ (unsigned long long)getpid() ^
				   ((unsigned long long)(uintptr_t)&ts << 7);
	char nonce_s[40];
	snprintf(nonce_s, sizeof nonce_s, "%016llx", nonce);
	int len = snprintf(mine, sizeof mine, "hotspare-lock\nhost %s\npid %d\ntime %lld\nnonce %s\n", host,
			   (int)getpid(), (long long)ts.tv_sec, nonce_s);
	time_t give_up = time(NULL) + 60;
	struct hs_buf b = { .max = 4096 }; /* a lock object is a few short lines */
	int r, tries = 0;
	for (;;) {
		struct holder o;
		if (++tries > 1000) { /* a server that keeps contradicting itself */
			r = hs_err(EBUSY, "cannot take lock object %s in %s: it keeps changing", key, be->where);
			break;
		}
		r = be->ops->get(be, key, &b);
		if (r < 0 && r != -ENOENT)
			break;
		if (r == 0 && parse_holder(&b, &o) && strcmp(o.nonce, nonce_s) != 0) {
			bool dead = strcmp(o.host, host) == 0 && o.pid > 0 && kill((pid_t)o.pid, 0) < 0 &&
				    errno == ESRCH;
			if (!dead && !wait) {
				char when[32] = "?";
				time_t t = (time_t)o.time;
				struct tm tm;
				if (gmtime_r(&t, &tm))
					strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
				char host_e[sizeof o.host];
				r = hs_err(EBUSY, "%s is busy: another hotspare process (pid %ld on %s, since %s) "
					   "is writing it in %s (lock object %s; remove it if that process is gone)",
					   name, o.pid, hs_escape(o.host, host_e, sizeof host_e), when, be->where, key);
				break;
			}
			/* A waiter (a short critical section) takes over a lock held
			 * longer than any such section lasts. */
			if (!dead && time(NULL) < give_up) {
				usleep(200 * 1000);
				continue;
			}
		}
		/* A fresh lock is a conditional create: where the server has it,
		 * of two writers that raced past the GET only one gets through. */
		r = be->ops->put(be, key, mine, (size_t)len, r == -ENOENT ? HS_PUT_NOREPLACE : 0);
		if (r == -EEXIST)
			continue; /* someone was quicker: look again */
		if (r < 0)
			break;
		/* Read it back: where the server ignores the condition, of two
		 * writers that raced the last PUT wins. */
		r = be->ops->get(be, key, &b);
		if (r < 0 && r != -ENOENT)
			break;
		if (r == 0 && parse_holder(&b, &o) && strcmp(o.nonce, nonce_s) == 0)
			break;
		r = 0; /* lost the race: look again */
	}
	hs_buf_free(&b);
	if (r < 0)
		return r;
	HS_LOCK_SCOPE(&l->lock);
	for (int i = 0; i < (int)(sizeof l->key / sizeof *l->key); i++) {
		if (!l->key[i]) {
			if (!(l->key[i] = strdup(key)))
				break;
			*token = i;
			return 0;
		}
	}
	if (del)
		del(be, key);
	return -ENOMEM;
}

void hs_remote_unlock(struct hs_backend *be, struct hs_remote_locks *l,
		      int (*del)(struct hs_backend *, const char *key), int token)
{
	if (token < 0 || token >= (int)(sizeof l->key / sizeof *l->key))
		return;
	pthread_mutex_lock(&l->lock);
	char *key = l->key[token];
	l->key[token] = NULL;
	pthread_mutex_unlock(&l->lock);
	if (!key)
		return;
	int r = del(be, key);
	if (r < 0 && r != -ENOENT) {
		/* A server that cannot delete: mark it released instead. */
		static const char released[] = "released\n";
		be->ops->put(be, key, released, sizeof released - 1, 0);
	}
	free(key);
}
