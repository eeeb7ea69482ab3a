/* Partitions as files, from a forked FUSE daemon; see slices.h. */
#define FUSE_USE_VERSION 314
#include "vm/slices.h"
#include "basics/err.h"
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct slices {
	int fd; /* the image, read-only */
	const struct hs_slice *s;
	size_t n;
};

static struct slices *ctx(void)
{
	return fuse_get_context()->private_data;
}

static const struct hs_slice *find(const char *path)
{
	struct slices *c = ctx();
	for (size_t i = 0; path[0] == '/' && i < c->n; i++)
		if (!strcmp(path + 1, c->s[i].name))
			return &c->s[i];
	return NULL;
}

static int sl_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0500;
		st->st_nlink = 2;
		return 0;
	}
	const struct hs_slice *s = find(path);
	if (!s)
		return -ENOENT;
	st->st_mode = S_IFREG | 0400;
	st->st_nlink = 1;
	st->st_size = (off_t)s->len;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((s->len + 511) / 512);
	return 0;
}

static int sl_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	struct slices *c = ctx();
	for (size_t i = 0; i < c->n; i++)
		fill(buf, c->s[i].name, NULL, 0, 0);
	return 0;
}

static int sl_open(const char *path, struct fuse_file_info *fi)
{
	if (!find(path))
		return -ENOENT;
	return (fi->flags & O_ACCMODE) == O_RDONLY ? 0 : -EROFS;
}

static int sl_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	const struct hs_slice *s = find(path);
	if (!s)
		return -ENOENT;
	if (off < 0 || (uint64_t)off >= s->len)
		return 0;
	if (size > s->len - (uint64_t)off)
		size = (size_t)(s->len - (uint64_t)off);
	size_t done = 0;
	while (done < size) {
		ssize_t k = pread(ctx()->fd, buf + done, size - done, (off_t)(s->off + (uint64_t)off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break; /* the image is shorter than it was: what there is */
		done += (size_t)k;
	}
	return (int)done;
}

static const struct fuse_operations ops = {
	.getattr = sl_getattr,
	.readdir = sl_readdir,
	.open = sl_open,
	.read = sl_read,
};

/* The daemon: mount, say 'O' (or the error) on ready, serve until unmounted. */
static int serve(struct slices *c, const char *mnt, int ready)
{
	char *argv[] = { "hotspare-slices", "-o", "ro,default_permissions,fsname=hotspare-slices,subtype=hotspare-slices",
			 NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse *f = fuse_new(&args, &ops, sizeof ops, c);
	if (!f) {
		dprintf(ready, "cannot start the partition files' FUSE daemon");
		return 1;
	}
	if (fuse_mount(f, mnt) != 0) {
		dprintf(ready, "cannot mount the partition files at %s", mnt);
		fuse_destroy(f);
		return 1;
	}
	if (write(ready, "O", 1) != 1) {
		fuse_unmount(f);
		fuse_destroy(f);
		return 1;
	}
	close(ready);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (cfg)
		fuse_loop_cfg_set_max_threads(cfg, 8);
	int r = cfg ? fuse_loop_mt(f, cfg) : fuse_loop(f);
	fuse_loop_cfg_destroy(cfg);
	fuse_unmount(f);
	fuse_destroy(f);
	return r < 0 ? 1 : 0;
}

int hs_slices_mount(const char *image, const struct hs_slice *s, size_t n, const char *mnt, long *pid)
{
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hs_err(errno, "%s: %s", image, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return hs_err(e, "%s: %s", image, strerror(e));
	}
	for (size_t i = 0; i < n; i++)
		if (s[i].off > (uint64_t)st.st_size || s[i].len > (uint64_t)st.st_size - s[i].off) {
			close(fd);
			return hs_err(ERANGE, "%s: %s lies beyond the end of the image", image, s[i].name);
		}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		close(fd);
		return hs_err(e, "pipe: %s", strerror(e));
	}
	fflush(NULL);
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(fd);
		close(p[0]);
		close(p[1]);
		return hs_err(e, "fork: %s", strerror(e));
	}
	if (child == 0) {
		close(p[0]);
		setsid();
		signal(SIGPIPE, SIG_IGN);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		struct slices c = { .fd = fd, .s = s, .n = n };
		_exit(serve(&c, mnt, p[1]));
	}
	close(fd);
	close(p[1]);
	char msg[512];
	ssize_t k;
	while ((k = read(p[0], msg, sizeof msg - 1)) < 0 && errno == EINTR)
		;
	close(p[0]);
	msg[k > 0 ? k : 0] = 0;
	if (k == 1 && msg[0] == 'O') {
		*pid = child;
		return 0;
	}
	waitpid(child, NULL, 0);
	return hs_err(EIO, "%s", msg[0] ? msg : "the partition files' FUSE daemon died");
}
