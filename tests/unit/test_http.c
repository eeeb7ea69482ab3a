/* Unit tests for http.h: credentials are split off a store URL
 * (percent-decoded) and masked in command-line arguments; lock objects are
 * created conditionally, so of two racing writers the second is refused
 * where the server honours the condition (an in-memory fake server here). */
#include "unit.h"
#include "store/backend.h"
#include "store/http.h"

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

static void test_scrub(void **state)
{
	(void)state;
	char arg[] = "https://bob:hunter2@host:443/store";
	char *copy = hs_url_scrub_arg(arg);
	assert_non_null(copy);
	assert_string_equal(copy, "https://bob:hunter2@host:443/store");
	assert_string_equal(arg, "https://***********@host:443/store");
	free(copy);
	char plain[] = "http://host/store", dir[] = "/srv/u:p@x", other[] = "--seed";
	assert_null(hs_url_scrub_arg(plain));
	assert_null(hs_url_scrub_arg(dir));
	assert_null(hs_url_scrub_arg(other));
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_lock_conditional_create),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
