/* Unit tests for path.h and places.h: canonical paths (symlinks, "..", a
 * tail not made yet), "inside" by name and by inode, and the refusals of a
 * path a command writes that lies in a place it reads. */
#include "unit.h"
#include "basics/path.h"
#include "store/places.h"
#include <limits.h>
#include <sys/mount.h>

struct dirs {
	char *dir, *real;
};

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof *d);
	d->dir = ut_tmpdir();
	d->real = realpath(d->dir, NULL);
	*state = d;
	return d->dir && d->real ? 0 : -1;
}

static int teardown(void **state)
{
	struct dirs *d = *state;
	ut_rm_rf(d->dir);
	free(d->dir);
	free(d->real);
	free(d);
	return 0;
}

static void mk(const struct dirs *d, const char *rel)
{
	char *p = ut_path(d->dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static void expect_canon(const struct dirs *d, const char *rel, const char *want_rel)
{
	char *p = ut_path(d->dir, rel), out[PATH_MAX], want[PATH_MAX];
	assert_int_equal(hs_path_canon(p, out, sizeof out), 0);
	snprintf(want, sizeof want, "%s%s%s", d->real, want_rel[0] ? "/" : "", want_rel);
	if (strcmp(out, want) != 0)
		fail_msg("canon(%s) = %s, expected %s", rel, out, want);
	free(p);
}

static void test_canon(void **state)
{
	struct dirs *d = *state;
	mk(d, "store");
	mk(d, "store/points");
	char *link = ut_path(d->dir, "link"), *abs = ut_path(d->dir, "abslink");
	assert_int_equal(symlink("store", link), 0);
	assert_int_equal(symlink(d->real, abs), 0);
	expect_canon(d, "store", "store");
	expect_canon(d, "store/./points/..", "store");
	expect_canon(d, "link/points", "store/points");
	expect_canon(d, "link/../store", "store");       /* the link's parent, not link/.. folded */
	expect_canon(d, "abslink/link/new.img", "store/new.img");
	expect_canon(d, "store/not/yet/../made", "store/not/made"); /* a tail not made yet */
	expect_canon(d, "nothing/..", "");
	char out[PATH_MAX];
	assert_int_equal(hs_path_canon("/", out, sizeof out), 0);
	assert_string_equal(out, "/");
	assert_int_equal(hs_path_canon("", out, sizeof out), -ENOENT);
	/* A loop of links is an error, not a hang. */
	char *l1 = ut_path(d->dir, "l1"), *l2 = ut_path(d->dir, "l2");
	assert_int_equal(symlink("l2", l1), 0);
	assert_int_equal(symlink("l1", l2), 0);
	assert_int_equal(hs_path_canon(l1, out, sizeof out), -ELOOP);
	/* Relative paths are taken from the current directory. */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(d->dir), 0);
	expect_canon(d, "store", "store");
	assert_int_equal(hs_path_canon("link/x", out, sizeof out), 0);
	assert_true(hs_path_has_prefix(out, d->real));
	assert_int_equal(hs_path_lexical("./a/../b", out, sizeof out), 0);
	assert_int_equal(chdir(cwd), 0);
	free(link);
	free(abs);
	free(l1);
	free(l2);
}

static void test_inside(void **state)
{
	struct dirs *d = *state;
	mk(d, "store");
	mk(d, "storeX");
	char *store = ut_path(d->dir, "store"), *storex = ut_path(d->dir, "storeX"),
	     *in = ut_path(d->dir, "store/hotspare-store.json"), *dots = ut_path(d->dir, "storeX/../store/a/b");
	assert_int_equal(hs_path_inside(store, store), 1);
	assert_int_equal(hs_path_inside(in, store), 1);
	assert_int_equal(hs_path_inside(dots, store), 1);
	assert_int_equal(hs_path_inside(storex, store), 0); /* a common prefix is not inside */
	assert_int_equal(hs_path_inside(store, in), 0);
	assert_int_equal(hs_path_inside(d->dir, store), 0);
	/* The same directory reached through a bind mount (root only). */
	mk(d, "bind");
	char *bind = ut_path(d->dir, "bind"), *via = ut_path(d->dir, "bind/new.img");
	if (mount(store, bind, NULL, MS_BIND, NULL) == 0) {
		assert_int_equal(hs_path_inside(via, store), 1);
		assert_int_equal(umount(bind), 0);
	}
	assert_int_equal(hs_path_inside(via, store), 0);
	free(store);
	free(storex);
	free(in);
	free(dots);
	free(bind);
	free(via);
}

static void test_places(void **state)
{
	struct dirs *d = *state;
	mk(d, "store");
	mk(d, "seed");
	char *store = ut_path(d->dir, "store"), *seed = ut_path(d->dir, "seed"),
	     *t1 = ut_path(d->dir, "seed/chunks/ab/x.zst"), *t2 = ut_path(d->dir, "out.img");
	const struct hs_place places[] = {
		{ "the store", store }, { "the seed", seed }, { "the store", "http://h/stores/main" }, { "x", NULL },
	};
	hs_err_clear();
	assert_int_equal(hs_places_check("TARGET", t1, places, 4, false), -EINVAL);
	assert_err_mentions("TARGET");
	assert_err_mentions("is inside the seed");
	assert_int_equal(hs_places_check("TARGET", t2, places, 4, false), 0);
	assert_int_equal(hs_places_check("TARGET", store, places, 4, false), -EINVAL);
	assert_err_mentions("is the store itself");
	/* Both ways: a mountpoint that holds the store would hide it. */
	assert_int_equal(hs_places_check("MOUNTPOINT", d->dir, places, 4, false), 0);
	assert_int_equal(hs_places_check("MOUNTPOINT", d->dir, places, 4, true), -EINVAL);
	assert_err_mentions("holds the store");
	/* URLs hold no local path, but can be or hold another URL (credentials never shown). */
	assert_int_equal(hs_places_check("DEST", "http://u:secret@h/stores/main/", places, 4, true), -EINVAL);
	assert_err_mentions("is the store itself");
	assert_null(strstr(hs_err_msg(), "secret"));
	assert_int_equal(hs_places_check("DEST", "http://h/stores/main/sub", places, 4, false), -EINVAL);
	assert_int_equal(hs_places_check("DEST", "http://h/stores/mainly", places, 4, true), 0);
	assert_int_equal(hs_places_check("DEST", "s3://b/p", places, 4, true), 0);
	free(store);
	free(seed);
	free(t1);
	free(t2);
}

static void test_escape(void **state)
{
	(void)state;
	char out[64];
	assert_string_equal(hs_escape("mail01", out, sizeof out), "mail01");
	assert_string_equal(hs_escape("caf\xc3\xa9\n", out, sizeof out), "caf\\xc3\\xa9\\x0a");
	char tiny[10];
	hs_escape("\x01\x02\x03\x04\x05", tiny, sizeof tiny);
	assert_true(strlen(tiny) < sizeof tiny);
	assert_non_null(strstr(tiny, "..."));
}

/* stderr while fn runs, as a string. */
static char *stderr_of(void (*fn)(void))
{
	char path[] = "/tmp/hs-stderr-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	static char buf[512];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void warn_path(void) { hs_warn("backup", "cannot use %s", "/srv/a\nb\x1b[31mc\xe2\x80\xae"); }
static void note_path(void) { hs_note("boot trace %s", "/t\r\x9b"); }
static void warn_plain(void) { hs_warn(NULL, "caf\xc3\xa9 %d", 7); }

/* Warnings and a daemon's notes stay one line whatever the paths they echo
 * hold: control bytes, C1 and bidi overrides escaped, UTF-8 kept. */
static void test_warn_one_line(void **state)
{
	(void)state;
	assert_string_equal(stderr_of(warn_path),
			    "hotspare backup: warning: cannot use /srv/a\\x0ab\\x1b[31mc\\xe2\\x80\\xae\n");
	assert_string_equal(stderr_of(note_path), "hotspare: boot trace /t\\x0d\\x9b\n");
	assert_string_equal(stderr_of(warn_plain), "hotspare: warning: caf\xc3\xa9 7\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_canon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_places, setup, teardown),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_warn_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
