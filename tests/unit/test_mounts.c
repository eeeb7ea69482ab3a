/* Unit tests for mounts.h: a mount point whose path is near PATH_MAX (its
 * /proc/self/mountinfo line is longer than a page) and one whose name holds
 * spaces are seen, by name and by type. Mounting needs root: skipped without. */
#include "unit.h"
#include "basics/mounts.h"
#include <limits.h>
#include <sys/mount.h>

/* dir/<component>/<component>/... until the path is len bytes long (the last
 * component shorter); made as it goes. The path, to free. */
static char *deep_dir(const char *dir, size_t len, const char *component)
{
	char *p = strdup(dir);
	assert_non_null(p);
	while (strlen(p) + strlen(component) + 1 < len) {
		char *q = ut_path(p, component);
		assert_int_equal(mkdir(q, 0755), 0);
		free(p);
		p = q;
	}
	size_t room = len - strlen(p) - 1; /* the rest in one last component */
	if (room > 0) {
		char last[256];
		memset(last, component[0], room);
		last[room] = 0;
		char *q = ut_path(p, last);
		assert_int_equal(mkdir(q, 0755), 0);
		free(p);
		p = q;
	}
	assert_int_equal(strlen(p), len);
	return p;
}

struct seen {
	const char *want;
	int n;
};

static int count(void *arg, const char *mnt, const char *fstype)
{
	struct seen *s = arg;
	if (strcmp(mnt, s->want) == 0 && strcmp(fstype, "tmpfs") == 0)
		s->n++;
	return 0;
}

/* false when this process may not mount (not root) */
static bool check_mounted_at(const char *dir)
{
	char real[PATH_MAX], type[64] = "";
	assert_non_null(realpath(dir, real));
	if (mount("hs-unit", real, "tmpfs", 0, "size=1m") < 0) {
		assert_true(errno == EPERM || errno == EACCES);
		return false;
	}
	int r = hs_mount_type(real, type, sizeof type);
	struct seen s = { real, 0 };
	int each = hs_mounts_each(count, &s);
	char fuse[PATH_MAX];
	int above = hs_mount_fuse_above(real, fuse, sizeof fuse);
	assert_int_equal(umount2(real, MNT_DETACH), 0);
	assert_int_equal(r, 1);
	assert_string_equal(type, "tmpfs");
	assert_int_equal(each, 0);
	assert_int_equal(s.n, 1); /* once: not also as a fragment of its line */
	assert_int_equal(above, 0);
	assert_int_equal(hs_mount_type(real, type, sizeof type), 0);
	return true;
}

/* A mount at a PATH_MAX - 1 byte path made of component, in a fresh
 * temporary directory; skipped where this process may not mount. */
static void mount_deep(const char *component)
{
	char *top = ut_tmpdir();
	char *deep = deep_dir(top, PATH_MAX - 1, component);
	bool ran = check_mounted_at(deep);
	free(deep);
	ut_rm_rf(top);
	free(top);
	if (!ran)
		skip();
}

static void long_path_is_seen(void **state)
{
	(void)state;
	char comp[51];
	memset(comp, 'd', sizeof comp - 1);
	comp[sizeof comp - 1] = 0;
	mount_deep(comp);
}

/* Spaces are escaped as \040 in mountinfo: the line grows 3 bytes per space. */
static void spaces_near_path_max(void **state)
{
	(void)state;
	char comp[201];
	memset(comp, ' ', sizeof comp - 1);
	comp[0] = 's';
	comp[sizeof comp - 1] = 0;
	mount_deep(comp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(long_path_is_seen),
		cmocka_unit_test(spaces_near_path_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
