/* Image and block-device I/O; see device.h. */
#include "basics/device.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/path.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static int fd_size(int fd, const struct stat *st, uint64_t *size)
{
	if (S_ISBLK(st->st_mode)) {
		uint64_t n;
		if (ioctl(fd, BLKGETSIZE64, &n) < 0)
			return -errno;
		*size = n;
		return 0;
	}
	*size = (uint64_t)st->st_size;
	return 0;
}

int hs_dev_open_read(const char *path, int *fdp, uint64_t *size)
{
	/* O_NONBLOCK: a FIFO's open would wait for a writer for ever. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return hs_err(errno, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return hs_err(EINVAL, "%s is not a raw image file or a block device", path);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	int r = fd_size(fd, &st, size);
	if (r < 0)
		return hs_err(-r, "cannot get the size of %s: %s", path, strerror(-r));
	if (*size == 0)
		return hs_err(EINVAL, "%s is empty", path);
	/* Probe one byte: a directory-like or unreadable device fails here, not mid-way. */
	char probe;
	if (pread(fd, &probe, 1, 0) < 0)
		return hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	*fdp = HS_TAKE_FD(fd);
	return 0;
}

/* A file with other names (hard links) or mounted at its path from
 * elsewhere (a bind mount of one file) is shared with whatever those are;
 * for a loop device, its backing file. 0, or -EINVAL with a message naming
 * what (the TARGET as given). file: the regular file's path, or NULL for a
 * device (st is its stat). */
static int shared_file(const char *file, const struct stat *st, const char *what)
{
	char backing[PATH_MAX], type[64];
	struct stat bs;
	if (!file) {
		if (hs_dev_loop_file(what, backing, sizeof backing) != 1 || stat(backing, &bs) < 0)
			return 0;
		file = backing;
		st = &bs;
	}
	/* "TARGET has ..." or "TARGET writes to FILE, which has ..." */
	char who[2 * PATH_MAX + 32];
	if (file == what)
		snprintf(who, sizeof who, "%s", what);
	else
		snprintf(who, sizeof who, "%s writes to %s, which", what, file);
	if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		return hs_err(EINVAL, "%s has %llu names (hard links): writing it would change the file under each "
				      "of them; write to a file of its own", who, (unsigned long long)st->st_nlink);
	if (hs_mount_type(file, type, sizeof type) == 1)
		return hs_err(EINVAL, "%s is a mount point (a file mounted there from elsewhere): write to a file "
				      "of its own", who);
	return 0;
}

int hs_dev_open_target(const char *path, uint64_t size, int *fdp, bool *created, bool *is_blk)
{
	int r0;
	*created = false;
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		*created = fd >= 0;
	}
	if (fd < 0)
		return hs_err(errno, "cannot open %s for writing: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return hs_err(errno, "cannot stat %s: %s", path, strerror(errno));
	*is_blk = S_ISBLK(st.st_mode);
	if (!S_ISREG(st.st_mode) && !*is_blk)
		return hs_err(EINVAL, "%s is not a regular file or a block device", path);
	/* The file may be another one's too, a store's file among them: writing
	 * through it would change it there. So may a loop device's. */
	if (!*created && (r0 = shared_file(S_ISREG(st.st_mode) ? path : NULL, &st, path)) < 0)
		return r0;
	uint64_t have = 0;
	int r = fd_size(fd, &st, &have);
	if (r < 0)
		return hs_err(-r, "cannot get the size of %s: %s", path, strerror(-r));
	if (*is_blk && have < size)
		return hs_err(ENOSPC, "%s holds %llu bytes, smaller than the image (%llu bytes)", path,
			      (unsigned long long)have, (unsigned long long)size);
	if (!*is_blk && have != size && ftruncate(fd, (off_t)size) < 0)
		return hs_err(errno, "cannot resize %s to %llu bytes: %s", path,
			      (unsigned long long)size, strerror(errno));
	*fdp = HS_TAKE_FD(fd);
	return 0;
}

ssize_t hs_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int hs_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pwrite(fd, (const char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)r;
	}
	return 0;
}

bool hs_range_is_hole(int fd, uint64_t off, uint64_t n)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	/* ENXIO: no data at or after off. */
	if (d < 0)
		return errno == ENXIO;
	return (uint64_t)d >= off + n;
}

void hs_holes_init(struct hs_holes *h)
{
	pthread_mutex_init(&h->lock, NULL);
	h->from = h->to = 0;
}

void hs_holes_destroy(struct hs_holes *h)
{
	pthread_mutex_destroy(&h->lock);
}

bool hs_holes_has(struct hs_holes *h, int fd, uint64_t off, uint64_t n)
{
	pthread_mutex_lock(&h->lock);
	bool known = off >= h->from && off + n <= h->to;
	pthread_mutex_unlock(&h->lock);
	if (known)
		return true;
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	/* ENXIO: no data at or after off, holes to the end. */
	if (d < 0 && errno != ENXIO)
		return false;
	uint64_t end = d < 0 ? UINT64_MAX : (uint64_t)d;
	if (end < off + n)
		return false;
	pthread_mutex_lock(&h->lock);
	h->from = off;
	h->to = end;
	pthread_mutex_unlock(&h->lock);
	return true;
}

/* Whether block device number d is t, a partition of t, or stacked on t
 * (device mapper, md: its "slaves" in sysfs), depth levels down. */
static bool dev_uses(dev_t d, dev_t t, int depth)
{
	if (d == t)
		return true;
	if (depth > 8)
		return false;
	char sys[128], path[PATH_MAX], buf[64];
	snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u", major(d), minor(d));
	unsigned ma, mi;
	/* A partition's sysfs directory sits in its disk's. */
	snprintf(path, sizeof path, "%s/partition", sys);
	if (access(path, F_OK) == 0) {
		snprintf(path, sizeof path, "%s/../dev", sys);
		FILE *f = fopen(path, "re");
		bool ok = f && fgets(buf, sizeof buf, f) && sscanf(buf, "%u:%u", &ma, &mi) == 2;
		if (f)
			fclose(f);
		if (ok && dev_uses(makedev(ma, mi), t, depth + 1))
			return true;
	}
	snprintf(path, sizeof path, "%s/slaves", sys);
	DIR *dir = opendir(path);
	struct dirent *e;
	bool found = false;
	while (dir && !found && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		char dev[PATH_MAX + 300];
		snprintf(dev, sizeof dev, "%s/slaves/%s/dev", sys, e->d_name);
		FILE *f = fopen(dev, "re");
		if (f && fgets(buf, sizeof buf, f) && sscanf(buf, "%u:%u", &ma, &mi) == 2)
			found = dev_uses(makedev(ma, mi), t, depth + 1);
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
	return found;
}

int hs_dev_holds(const char *dev, const char *path)
{
	struct stat ds, ps;
	if (stat(dev, &ds) < 0 || !S_ISBLK(ds.st_mode) || stat(path, &ps) < 0)
		return 0;
	return dev_uses(ps.st_dev, ds.st_rdev, 0);
}

int hs_dev_loop_file(const char *dev, char *out, size_t cap)
{
	struct stat st;
	if (stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
		return 0;
	char path[128];
	snprintf(path, sizeof path, "/sys/dev/block/%u:%u/loop/backing_file", major(st.st_rdev), minor(st.st_rdev));
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	bool ok = fgets(out, (int)cap, f) != NULL;
	fclose(f);
	if (!ok)
		return 0;
	out[strcspn(out, "\n")] = 0;
	return out[0] == '/';
}

/* The block device number of line's mount (mountinfo's "major:minor") when
 * it is mounted read-write; 0 if read-only or unreadable. */
static dev_t mount_rw_dev(const char *line, char *mnt, size_t cap)
{
	unsigned ma, mi;
	char opts[512], point[4096];
	if (sscanf(line, "%*s %*s %u:%u %*s %4095s %511s", &ma, &mi, point, opts) != 4)
		return 0;
	/* The mount's own options: "rw" or "ro" first. */
	if (strncmp(opts, "rw", 2) != 0 || (opts[2] != 0 && opts[2] != ','))
		return 0;
	snprintf(mnt, cap, "%s", point);
	return makedev(ma, mi);
}

/* Who holds block device d (its "holders" in sysfs, and its partitions'):
 * the first holder's name into out; 1 if any, 0 if none. */
static int dev_holder(dev_t d, char *out, size_t cap)
{
	char sys[128];
	snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u", major(d), minor(d));
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/holders", sys);
	DIR *dir = opendir(path);
	struct dirent *e;
	int found = 0;
	while (dir && !found && (e = readdir(dir)))
		if (e->d_name[0] != '.') {
			snprintf(out, cap, "%s", e->d_name);
			found = 1;
		}
	if (dir)
		closedir(dir);
	/* A whole disk's partitions are directories of its own holding "partition". */
	dir = found ? NULL : opendir(sys);
	while (dir && !found && (e = readdir(dir))) {
		char part[PATH_MAX + 300], buf[32];
		snprintf(part, sizeof part, "%s/%s/partition", sys, e->d_name);
		if (e->d_name[0] == '.' || access(part, F_OK) != 0)
			continue;
		snprintf(part, sizeof part, "%s/%s/dev", sys, e->d_name);
		FILE *f = fopen(part, "re");
		unsigned ma, mi;
		if (f && fgets(buf, sizeof buf, f) && sscanf(buf, "%u:%u", &ma, &mi) == 2)
			found = dev_holder(makedev(ma, mi), out, cap);
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
	return found;
}

/* QEMU's lock bytes (file-posix): 100 + n is locked shared by every user
 * holding permission bit n; bit 1 is "write". */
#define QEMU_LOCK_WRITE 101

int hs_dev_in_use(const char *path, char *why, size_t cap)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return hs_err(errno, "cannot stat %s: %s", path, strerror(errno));
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = QEMU_LOCK_WRITE, .l_len = 1 };
	if (fcntl(fd, F_OFD_GETLK, &lk) == 0 && lk.l_type != F_UNLCK) {
		snprintf(why, cap, "is open for writing by a virtual machine (QEMU holds its write lock)");
		return 1;
	}
	if (!S_ISBLK(st.st_mode))
		return 0;
	dev_t dev = st.st_rdev;
	bool mounted = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[4096];
	while (f && fgets(line, sizeof line, f)) {
		unsigned ma, mi;
		if (sscanf(line, "%*s %*s %u:%u", &ma, &mi) == 2 && dev_uses(makedev(ma, mi), dev, 0))
			mounted = true;
		dev_t m = mount_rw_dev(line, mnt, sizeof mnt);
		if (m && dev_uses(m, dev, 0)) {
			fclose(f);
			char esc[256];
			snprintf(why, cap, "is mounted read-write at %s", hs_escape(mnt, esc, sizeof esc));
			return 1;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/swaps", "re");
	while (f && fgets(line, sizeof line, f)) {
		char dev_path[4096];
		struct stat ss;
		if (sscanf(line, "%4095s", dev_path) == 1 && stat(dev_path, &ss) == 0 && S_ISBLK(ss.st_mode) &&
		    dev_uses(ss.st_rdev, dev, 0)) {
			fclose(f);
			snprintf(why, cap, "is in use as swap");
			return 1;
		}
	}
	if (f)
		fclose(f);
	char holder[256];
	if (dev_holder(dev, holder, sizeof holder)) {
		snprintf(why, cap, "is held by %s (a volume stacked on it: LVM, RAID or encryption)", holder);
		return 1;
	}
	/* A read-only mount claims the device too; anything else that does is a writer. */
	int x = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (x >= 0)
		close(x);
	else if (errno == EBUSY && !mounted) {
		snprintf(why, cap, "is claimed by another program (opened exclusively)");
		return 1;
	}
	/* udev holds a shared flock for a moment while it probes a device:
	 * only a lock that stays is someone's. */
	for (int tries = 0;; tries++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			flock(fd, LOCK_UN);
			return 0;
		}
		if (errno != EWOULDBLOCK)
			return 0;
		if (tries == 20) {
			snprintf(why, cap, "is locked by another program (flock)");
			return 1;
		}
		usleep(100 * 1000);
	}
}
