/* Mount point inspection; see mounts.h. */
#include "basics/mounts.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

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

int hs_mount_type(const char *path, char *type, int cap)
{
	char want[PATH_MAX];
	if (!realpath(path, want)) {
		/* A dead FUSE mount cannot be resolved: compare the absolute path. */
		if (errno != ENOTCONN || path[0] != '/')
			return -errno;
		snprintf(want, sizeof want, "%s", path);
	}
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char line[4096], mnt[4096], fstype[256];
	int found = 0;
	while (fgets(line, sizeof line, f)) {
		/* id parent major:minor root MOUNTPOINT options [optional...] - FSTYPE source ... */
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		unescape(mnt);
		if (strcmp(mnt, want) == 0) {
			snprintf(type, (size_t)cap, "%s", fstype);
			found = 1; /* the last match is the one on top */
		}
	}
	return found;
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
