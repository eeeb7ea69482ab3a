/* Mount point inspection; see mounts.h. */
#include "basics/mounts.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/path.h"
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
}

/* The n-th space-separated field of line (0 first) copied into out, or NULL
 * when the line has fewer fields. */
static char *field(const char *line, int n, char *out, size_t cap)
{
	const char *p = line;
	for (int k = 0; k < n; k++) {
		p = strchr(p, ' ');
		if (!p)
			return NULL;
		p++;
	}
	size_t len = strcspn(p, " \n");
	if (len >= cap)
		return NULL;
	memcpy(out, p, len);
	out[len] = 0;
	return out;
}

/* Call fn(arg, mountpoint, fstype, device) for every line of
 * /proc/self/mountinfo, oldest mount first; a non-zero return stops the walk
 * and is returned. Lines are read whole: a mount point near PATH_MAX makes a
 * line longer than any fixed buffer, and a line cut in two would parse as
 * two wrong mounts. */
static int each_mount_dev(int (*fn)(void *arg, const char *mnt, const char *fstype, dev_t dev), void *arg)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	_cleanup_free_ char *line = NULL, *mnt = NULL;
	size_t cap = 0, mcap = 0;
	char fstype[256];
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		/* id parent major:minor root MOUNTPOINT options [optional...] - FSTYPE source ... */
		const char *sep = strstr(line, " - ");
		if ((size_t)n > mcap) {
			free(mnt);
			if (!(mnt = malloc(mcap = (size_t)n)))
				return -ENOMEM;
		}
		unsigned ma, mi;
		if (!sep || sscanf(line, "%*d %*d %u:%u", &ma, &mi) != 2 || !field(line, 4, mnt, mcap) ||
		    !field(sep + 3, 0, fstype, sizeof fstype))
			continue;
		unescape(mnt);
		int r = fn(arg, mnt, fstype, makedev(ma, mi));
		if (r)
			return r;
	}
	return ferror(f) ? -EIO : 0;
}

struct each_adapter {
	int (*fn)(void *arg, const char *mnt, const char *fstype);
	void *arg;
};

static int each_adapted(void *arg, const char *mnt, const char *fstype, dev_t dev)
{
	(void)dev;
	struct each_adapter *a = arg;
	return a->fn(a->arg, mnt, fstype);
}

static int each_mount(int (*fn)(void *arg, const char *mnt, const char *fstype), void *arg)
{
	struct each_adapter a = { fn, arg };
	return each_mount_dev(each_adapted, &a);
}

int hs_mounts_each(int (*fn)(void *arg, const char *mnt, const char *fstype), void *arg)
{
	return each_mount(fn, arg);
}

int hs_fuse_conn_abort(dev_t dev)
{
	char path[96];
	/* The connection's number is its device's minor number. */
	snprintf(path, sizeof path, "/sys/fs/fuse/connections/%u/abort", minor(dev));
	if (access("/sys/fs/fuse/connections", F_OK) == 0 && access(path, F_OK) < 0 && errno == ENOENT)
		mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL); /* not mounted yet */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return write(fd, "1", 1) == 1 ? 0 : -errno;
}

struct type_at {
	const char *want;
	char *type;
	int cap;
	int found;
	dev_t dev;
};

static int type_at(void *arg, const char *mnt, const char *fstype, dev_t dev)
{
	struct type_at *t = arg;
	if (strcmp(mnt, t->want) == 0) {
		if (t->type)
			snprintf(t->type, (size_t)t->cap, "%s", fstype);
		t->dev = dev;
		t->found = 1; /* the last match is the one on top */
	}
	return 0;
}

/* The mount exactly at path: 1 with t filled, 0 if none, -errno. */
static int mount_at(const char *path, struct type_at *t)
{
	char want[PATH_MAX];
	if (!realpath(path, want)) {
		/* A dead FUSE mount cannot be resolved: compare the absolute path. */
		if (errno != ENOTCONN || path[0] != '/')
			return -errno;
		snprintf(want, sizeof want, "%s", path);
	}
	t->want = want;
	int r = each_mount_dev(type_at, t);
	return r < 0 ? r : t->found;
}

int hs_mount_type(const char *path, char *type, int cap)
{
	struct type_at t = { .type = type, .cap = cap };
	return mount_at(path, &t);
}

int hs_mount_dev(const char *path, dev_t *dev)
{
	struct type_at t = { 0 };
	int r = mount_at(path, &t);
	if (r == 1)
		*dev = t.dev;
	return r;
}

struct fuse_above {
	const char *path;
	char *mnt;
	size_t cap;
};

static int fuse_above(void *arg, const char *mnt, const char *fstype)
{
	struct fuse_above *a = arg;
	if (strncmp(fstype, "fuse", 4) != 0 || !hs_path_has_prefix(a->path, mnt))
		return 0;
	snprintf(a->mnt, a->cap, "%s", mnt);
	return 1;
}

int hs_mount_fuse_above(const char *path, char *mnt, size_t cap)
{
	char p[PATH_MAX];
	/* First by name alone, so a path under a FUSE mount that no longer
	 * answers is refused without a lookup that would wait for it. */
	int r = hs_path_lexical(path, p, sizeof p);
	struct fuse_above a = { p, mnt, cap };
	if (r == 0 && (r = each_mount(fuse_above, &a)) != 0)
		return r;
	r = hs_path_canon(path, p, sizeof p);
	return r < 0 ? r : each_mount(fuse_above, &a);
}

int hs_mount_detach(const char *path, bool lazy)
{
	return umount2(path, lazy ? MNT_DETACH : 0) == 0 ? 0 : -errno;
}

/* A hotspare mount whose daemon died answers every request with ENOTCONN. */
static bool dead_hotspare(const char *path)
{
	char type[64], probe[4200];
	if (hs_mount_type(path, type, sizeof type) != 1 || strcmp(type, "fuse.hotspare") != 0)
		return false;
	snprintf(probe, sizeof probe, "%s/.hotspare-status", path);
	int fd = open(probe, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == ENOTCONN;
}

int hs_mount_check_free(const char *path)
{
	struct stat st;
	char type[64];
	if (dead_hotspare(path) && hs_mount_detach(path, true) < 0)
		return hs_err(EBUSY, "%s holds a dead hotspare mount that cannot be detached", path);
	if (stat(path, &st) < 0)
		return hs_err(errno, "mountpoint %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return hs_err(ENOTDIR, "mountpoint %s is not a directory", path);
	int r = hs_mount_type(path, type, sizeof type);
	if (r < 0)
		return hs_err(-r, "cannot inspect mountpoint %s: %s", path, strerror(-r));
	if (r == 1)
		return hs_err(EBUSY, "mountpoint %s is in use (a %s filesystem is mounted there)", path, type);
	return 0;
}
