/* Unit tests for http.h: credentials are split off a store URL
 * (percent-decoded), masked in command-line arguments and read from a
 * file; deadlines and body limits hold against a misbehaving server; lock objects are
 * created conditionally, so of two racing writers the second is refused
 * where the server honours the condition (an in-memory fake server here). */
#include "unit.h"
#include "store/backend.h"
#include "store/http.h"
#include "basics/clock.h"
#include "basics/deadline.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>

static void split(const char *url, const char *clean, const char *user, const char *password)
{
	char *c, *u, *p;
	assert_int_equal(hs_url_split_credentials(url, &c, &u, &p), 0);
	assert_string_equal(c, clean);
	if (user)
		assert_string_equal(u, user);
	else
		assert_null(u);
	if (password)
		assert_string_equal(p, password);
	else
		assert_null(p);
	free(c);
	free(u);
	free(p);
}

static void test_split(void **state)
{
	(void)state;
	split("http://127.0.0.1:8080/store", "http://127.0.0.1:8080/store", NULL, NULL);
	split("https://bob:s3cr%40t@host/a/b", "https://host/a/b", "bob", "s3cr@t");
	split("https://bob@host/a", "https://host/a", "bob", NULL);
	split("http://u:p@ss@host:1/x", "http://host:1/x", "u", "p@ss");
	/* An '@' after the host is part of the path, not credentials. */
	split("http://host/p@th", "http://host/p@th", NULL, NULL);
	split("/var/lib/store", "/var/lib/store", NULL, NULL);
}

/* The mask hides the credentials and their length. */
static void test_mask(void **state)
{
	(void)state;
	char *m = hs_url_mask("https://bob:hunter2@host:443/store");
	assert_non_null(m);
	assert_string_equal(m, "https://***@host:443/store");
	free(m);
	m = hs_url_mask("http://a-much-longer-user:and-a-far-longer-password-42@host/store");
	assert_string_equal(m, "http://***@host/store");
	free(m);
	m = hs_url_mask("http://u@host/store");
	assert_string_equal(m, "http://***@host/store");
	free(m);
	assert_null(hs_url_mask("http://host/store"));
	assert_null(hs_url_mask("/srv/u:p@x"));
	assert_null(hs_url_mask("--seed"));
}

static char *cred_file(const char *text, mode_t mode)
{
	char *p = strdup("/tmp/hs-cred.XXXXXX");
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return p;
}

/* Credentials files: one line USER:PASSWORD, readable by its owner alone. */
static void test_credentials_file(void **state)
{
	(void)state;
	char *user, *password, *p = cred_file("backup:pa:ss word\n", 0600);
	assert_int_equal(hs_credentials_read(p, &user, &password), 0);
	assert_string_equal(user, "backup");
	assert_string_equal(password, "pa:ss word");
	free(user);
	free(password);
	chmod(p, 0400);
	assert_int_equal(hs_credentials_read(p, &user, &password), 0);
	free(user);
	free(password);
	chmod(p, 0644);
	hs_err_clear();
	assert_int_equal(hs_credentials_read(p, &user, &password), -EPERM);
	assert_err_mentions("mode 0644");
	assert_null(user);
	unlink(p);
	free(p);
	const char *bad[] = { "no colon\n", ":nouser\n", "a:b\nc:d\n", "" };
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		p = cred_file(bad[k], 0600);
		hs_err_clear();
		assert_int_equal(hs_credentials_read(p, &user, &password), -EINVAL);
		assert_err_mentions("USER:PASSWORD");
		unlink(p);
		free(p);
	}
	hs_err_clear();
	assert_int_equal(hs_credentials_read("/nonexistent/cred", &user, &password), -ENOENT);
	assert_err_mentions("/nonexistent/cred");
}

/* ---- lock objects over a fake server holding one object ---- */
struct fake {
	struct hs_backend be;
	struct hs_buf obj;
	bool present;
	bool race;      /* the next PUT finds another writer's lock object just created */
	unsigned flags; /* of the last PUT */
	int puts;
};
static struct fake *F(struct hs_backend *be) { return (struct fake *)be; }

static const char racer[] = "hotspare-lock\nhost other-host\npid 4242\ntime 1700000000\nnonce racer\n";

static void set_obj(struct fake *f, const void *p, size_t n)
{
	f->obj.len = 0;
	assert_int_equal(hs_buf_append(&f->obj, p, n), 0);
	f->present = true;
}

static int fake_get(struct hs_backend *be, const char *key, struct hs_buf *out)
{
	(void)key;
	if (!F(be)->present)
		return -ENOENT;
	out->len = 0;
	return hs_buf_append(out, F(be)->obj.data, F(be)->obj.len);
}

static int fake_put(struct hs_backend *be, const char *key, const void *p, size_t n, unsigned flags)
{
	(void)key;
	struct fake *f = F(be);
	f->puts++;
	f->flags = flags;
	if (f->race) {
		f->race = false;
		set_obj(f, racer, sizeof racer - 1);
	}
	if ((flags & HS_PUT_NOREPLACE) && f->present)
		return -EEXIST; /* the server honours If-None-Match: * */
	set_obj(f, p, n);
	return 0;
}

static int fake_del(struct hs_backend *be, const char *key)
{
	(void)key;
	int r = F(be)->present ? 0 : -ENOENT;
	F(be)->present = false;
	return r;
}

static const struct hs_backend_ops fake_ops = { .get = fake_get, .put = fake_put };

static void test_lock_conditional_create(void **state)
{
	(void)state;
	struct fake f = { .be = { .ops = &fake_ops, .where = "fake://store" } };
	struct hs_remote_locks l;
	hs_remote_locks_init(&l);
	int token = -1;
	/* Free: created with the condition, read back, released by a delete. */
	assert_int_equal(hs_remote_lock(&f.be, &l, fake_del, "server-web01", 0, &token), 0);
	assert_true(f.flags & HS_PUT_NOREPLACE);
	assert_true(f.present);
	assert_non_null(strstr((char *)f.obj.data, "hotspare-lock\n"));
	hs_remote_unlock(&f.be, &l, fake_del, token);
	assert_false(f.present);

	/* Another writer creates it between our look and our PUT: refused, and
	 * its lock object stays as it was. */
	f.race = true;
	hs_err_clear();
	assert_int_equal(hs_remote_lock(&f.be, &l, fake_del, "server-web01", 0, &token), -EBUSY);
	assert_non_null(hs_err_msg());
	assert_non_null(strstr(hs_err_msg(), "pid 4242 on other-host"));
	assert_int_equal(f.obj.len, sizeof racer - 1);
	assert_memory_equal(f.obj.data, racer, sizeof racer - 1);

	/* A released lock object is replaced by a plain PUT. */
	set_obj(&f, "released\n", 9);
	assert_int_equal(hs_remote_lock(&f.be, &l, fake_del, "server-web01", 0, &token), 0);
	assert_int_equal(f.flags, 0);
	hs_remote_unlock(&f.be, &l, fake_del, token);
	hs_remote_locks_free(&l);
	hs_buf_free(&f.obj);
}

/* ---- a misbehaving server on 127.0.0.1 ---- */

enum serve_mode { STALL, TRICKLE, ENDLESS, HUGE };

struct server {
	int fd, port;
	enum serve_mode mode;
	atomic_bool stop;
	pthread_t th;
};

struct conn {
	struct server *s;
	int fd;
};

static void *conn_main(void *p)
{
	struct conn *c = p;
	char req[4096];
	(void)!read(c->fd, req, sizeof req); /* one request line and headers */
	static const char endless[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
	static const char huge[] = "HTTP/1.1 200 OK\r\nContent-Length: 3999999999\r\n\r\n";
	static const char slow[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
	static char block[65536];
	switch (c->s->mode) {
	case STALL:
		while (!atomic_load(&c->s->stop))
			hs_sleep_ms(20);
		break;
	case TRICKLE:
		(void)!write(c->fd, slow, sizeof slow - 1);
		while (!atomic_load(&c->s->stop) && write(c->fd, "x", 1) == 1)
			hs_sleep_ms(200);
		break;
	case ENDLESS:
	case HUGE:
		if (c->s->mode == ENDLESS)
			(void)!write(c->fd, endless, sizeof endless - 1);
		else
			(void)!write(c->fd, huge, sizeof huge - 1);
		while (!atomic_load(&c->s->stop) && write(c->fd, block, sizeof block) > 0)
			;
		break;
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *server_main(void *p)
{
	struct server *s = p;
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return NULL; /* the listening socket was shut down */
		struct conn *c = malloc(sizeof *c);
		pthread_t th;
		c->s = s;
		c->fd = fd;
		if (pthread_create(&th, NULL, conn_main, c) == 0)
			pthread_detach(th);
	}
}

static void server_start(struct server *s, enum serve_mode mode)
{
	memset(s, 0, sizeof *s);
	s->mode = mode;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->fd);
	hs_sleep_ms(300); /* its connections notice the stop */
}

/* GET from the server into out; 0 or -errno, *secs the time it took. */
static int get(struct server *s, struct hs_buf *out, double *secs)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", s->port);
	struct hs_http *h;
	assert_int_equal(hs_http_new(url, NULL, NULL, &h), 0);
	struct hs_http_req req = { .method = "GET", .url = url, .what = url, .out = out };
	long status = 0;
	double t = hs_now_s();
	int r = hs_http_do(h, &req, &status);
	*secs = hs_now_s() - t;
	hs_http_free(h);
	return r;
}

/* With a deadline on the thread, a server that accepts and never answers,
 * or sends a byte at a time, costs the deadline, not retries x stall
 * timeout; without one the retries go on (not waited for here). */
static void test_deadline_bounds_a_request(void **state)
{
	(void)state;
	enum serve_mode modes[] = { STALL, TRICKLE };
	for (int m = 0; m < 2; m++) {
		struct server s;
		server_start(&s, modes[m]);
		struct hs_buf out = { 0 };
		double secs;
		int64_t outer = hs_deadline_set(hs_mono_ms() + 800);
		hs_err_clear();
		int r = get(&s, &out, &secs);
		hs_deadline_set(outer);
		if (r != -ETIMEDOUT || secs > 2.0)
			fail_msg("mode %d: %d after %.1f s with a 0.8 s deadline (%s)", m, r, secs,
				 hs_err_msg() ? hs_err_msg() : "");
		assert_err_mentions("within the deadline");
		hs_buf_free(&out);
		server_stop(&s);
	}
}

/* A body past what the object can be ends the transfer with -EFBIG and one
 * message, with little memory used, whether or not the server announced
 * its (absurd) length. */
static void test_body_limit(void **state)
{
	(void)state;
	enum serve_mode modes[] = { ENDLESS, HUGE };
	for (int m = 0; m < 2; m++) {
		struct server s;
		server_start(&s, modes[m]);
		struct hs_buf out = { .max = 300000 };
		double secs;
		hs_err_clear();
		int r = get(&s, &out, &secs);
		if (r != -EFBIG)
			fail_msg("mode %d: %d (%s), expected -EFBIG", m, r, hs_err_msg() ? hs_err_msg() : "");
		assert_err_mentions("larger than 300000 bytes");
		assert_true(out.cap <= 2 * 300000 + 4096);
		hs_buf_free(&out);
		/* No limit of the caller's: HS_HTTP_BODY_MAX. */
		out.max = 0;
		r = get(&s, &out, &secs);
		assert_int_equal(r, -EFBIG);
		assert_true(out.len <= HS_HTTP_BODY_MAX);
		hs_buf_free(&out);
		server_stop(&s);
	}
}

int main(void)
{
	/* The fake servers write until the client hangs up (a capped body, a
	 * deadline): a write after that must fail with EPIPE, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_credentials_file),
		cmocka_unit_test(test_lock_conditional_create),
		cmocka_unit_test(test_deadline_bounds_a_request),
		cmocka_unit_test(test_body_limit),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
