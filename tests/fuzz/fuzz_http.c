/* Fuzz what hotspare makes of an HTTP server's answers (store/http.h): a
 * server on 127.0.0.1 sends the input as its whole response (status line,
 * headers, body) to hs_http_do, whose status, body limit and errno handling
 * run on it, then hs_http_status_err; the same bytes are read as a lock
 * object (hs_remote_lock over a backend that returns them) and as a URL with
 * credentials (hs_url_split_credentials, hs_url_mask). The first byte picks
 * GET or HEAD and the body's limit. Each input's request follows an ordinary
 * one by the same client, as in a daemon that has served many. */
#include "store/http.h"
#include "store/backend.h"
#include "fuzz.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct hs_http *client;
static char url[64];
static int listener;
/* response_lock protects the response the server sends */
static pthread_mutex_t response_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *response;
static size_t response_len;

/* Read the request's head (no request here has a body), then send the
 * response as it is and close: one answer per connection. */
static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(listener, NULL, NULL);
		if (c < 0)
			continue;
		char req[8192];
		size_t got = 0;
		while (got < sizeof req - 1) {
			struct pollfd p = { c, POLLIN, 0 };
			if (poll(&p, 1, 2000) <= 0)
				break;
			ssize_t k = read(c, req + got, sizeof req - 1 - got);
			if (k <= 0)
				break;
			got += (size_t)k;
			req[got] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		pthread_mutex_lock(&response_lock);
		size_t off = 0;
		while (off < response_len) {
			ssize_t k = send(c, response + off, response_len - off, MSG_NOSIGNAL);
			if (k <= 0)
				break;
			off += (size_t)k;
		}
		pthread_mutex_unlock(&response_lock);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

/* A backend whose every object is the input: the lock object as read back. */
struct fake {
	struct hs_backend be;
	const uint8_t *d;
	size_t n;
};

static int fake_get(struct hs_backend *be, const char *key, struct hs_buf *out)
{
	(void)key;
	struct fake *f = (struct fake *)be;
	out->len = 0;
	return hs_buf_append(out, f->d, f->n);
}

static int fake_put(struct hs_backend *be, const char *key, const void *p, size_t n, unsigned flags)
{
	(void)be, (void)key, (void)p, (void)n, (void)flags;
	return 0;
}

static int fake_del(struct hs_backend *be, const char *key)
{
	(void)be, (void)key;
	return 0;
}

static const struct hs_backend_ops fake_ops = { .get = fake_get, .put = fake_put };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* One attempt per request (no backoff sleeps), short timeouts. */
	setenv("HOTSPARE_HTTP_RETRIES", "0", 1);
	setenv("HOTSPARE_HTTP_CONNECT_TIMEOUT", "5", 1);
	setenv("HOTSPARE_HTTP_STALL_TIMEOUT", "5", 1);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof a) < 0 || listen(listener, 16) < 0 ||
	    getsockname(listener, (struct sockaddr *)&a, &al) < 0)
		abort();
	snprintf(url, sizeof url, "http://127.0.0.1:%u/store/x", ntohs(a.sin_port));
	pthread_t t;
	if (pthread_create(&t, NULL, serve, NULL) != 0 || hs_http_new("http://127.0.0.1/store", NULL, NULL, &client) < 0)
		abort();
	pthread_detach(t);
	return 0;
}

static const size_t limits[] = { 0, 1, 16, 100, 4096, 70000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 200000)
		return 0;
	uint8_t flags = data[0];
	const uint8_t *d = data + 1;
	size_t n = size - 1;
	/* First an ordinary answer, as a pooled connection has had before. */
	static const char warm[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Before: 1\r\n\r\nok";
	pthread_mutex_lock(&response_lock);
	free(response);
	response = fuzz_dup((const uint8_t *)warm, sizeof warm - 1, 0);
	response_len = sizeof warm - 1;
	pthread_mutex_unlock(&response_lock);
	struct hs_buf before = { 0 };
	struct hs_http_req first = { .method = "GET", .url = url, .what = "fuzz/x", .out = &before };
	long status = -1;
	FUZZ_ASSERT(hs_http_do(client, &first, &status) == 0 && status == 200);
	hs_buf_free(&before);

	pthread_mutex_lock(&response_lock);
	free(response);
	response = fuzz_dup(d, n, 0);
	response_len = n;
	pthread_mutex_unlock(&response_lock);

	bool head = flags & 1;
	struct hs_buf body = { .max = limits[(flags >> 1) % (sizeof limits / sizeof *limits)] };
	struct hs_http_req req = { .method = head ? "HEAD" : "GET", .url = url, .what = "fuzz/x",
				   .out = head ? NULL : &body };
	status = -1;
	int r = hs_http_do(client, &req, &status);
	fuzz_check_msg();
	if (r == 0) {
		FUZZ_ASSERT(status >= 0 && status < 500 && status != 429 && status != 408); /* else retried: EAGAIN */
		FUZZ_ASSERT(!body.max || body.len <= body.max);
		char detail[256];
		snprintf(detail, sizeof detail, "%.*s", (int)(body.len < 200 ? body.len : 200),
			 body.data ? (const char *)body.data : "");
		for (char *p = detail; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		if (status < 200 || status >= 300) {
			int e = hs_http_status_err(&req, status, detail);
			FUZZ_ASSERT(e < 0);
			fuzz_check_msg();
		}
	} else {
		/* What http.h promises, and nothing else. */
		FUZZ_ASSERT(r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT || r == -EHOSTUNREACH ||
			    r == -ENETUNREACH || r == -EAGAIN || r == -EFBIG || r == -EACCES || r == -EINVAL ||
			    r == -ENOMEM || r == -EIO || r == -EPROTO);
	}
	hs_buf_free(&body);

	/* The same bytes as a lock object someone else left. */
	struct fake f = { .be = { .ops = &fake_ops, .where = (char *)"fuzz" }, .d = d, .n = n };
	struct hs_remote_locks locks;
	hs_remote_locks_init(&locks);
	int token = -1;
	r = hs_remote_lock(&f.be, &locks, fake_del, "mail01", 0, &token);
	fuzz_check_msg();
	if (r == 0)
		hs_remote_unlock(&f.be, &locks, fake_del, token);
	else
		FUZZ_ASSERT(r == -EBUSY || r == -ENOMEM || r == -EFBIG);
	hs_remote_locks_free(&locks);

	/* And as a URL someone typed. */
	char *s = fuzz_dup(d, n, 1), *clean = NULL, *user = NULL, *pass = NULL;
	if (strlen(s) == n) {
		if (hs_url_split_credentials(s, &clean, &user, &pass) == 0) {
			FUZZ_ASSERT(clean && strlen(clean) <= n);
			FUZZ_ASSERT(!pass || user);
		}
		free(clean);
		free(user);
		free(pass);
		char *m = hs_url_mask(s);
		free(m);
	}
	free(s);
	return 0;
}
