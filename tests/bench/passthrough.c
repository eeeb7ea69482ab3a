/* The benchmarks' reference for the cost of FUSE itself: one file served
 * straight from a backing file (splice from its descriptor, as libfuse's
 * passthrough_ll does), multi-threaded, no policy at all. It asks the kernel
 * for what hotspare's FUSE layer asks (1 MiB reads and writes, splice,
 * asynchronous O_DIRECT, no writeback cache) and makes a flush durable the
 * way a plain file's owner would (fdatasync), so a ratio against it is the
 * price of hotspare's engine, not of a different FUSE setup.
 * usage: hs-passthrough BACKING_FILE MOUNTPOINT  (foreground; unmount to stop) */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int backing = -1;

static void pt_init(void *u, struct fuse_conn_info *c)
{
	(void)u;
	c->max_write = c->max_read = c->max_readahead = 1u << 20;
	if (c->capable & FUSE_CAP_SPLICE_WRITE)
		c->want |= FUSE_CAP_SPLICE_WRITE | (c->capable & FUSE_CAP_SPLICE_MOVE);
	if (c->capable & FUSE_CAP_ASYNC_DIO)
		c->want |= FUSE_CAP_ASYNC_DIO;
	c->want &= ~(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_WRITEBACK_CACHE);
}

static void attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	if (ino == 1) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		fstat(backing, st);
		st->st_ino = 2;
		st->st_mode = S_IFREG | 0644;
	}
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != 1 || strcmp(name, "file") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = { .ino = 2, .attr_timeout = 1, .entry_timeout = 1 };
	attr(2, &e.attr);
	fuse_reply_entry(req, &e);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	attr(ino, &st);
	fuse_reply_attr(req, &st, 1);
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = backing;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *b, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	ssize_t n = pwrite(backing, b, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, fdatasync(backing) < 0 ? errno : 0);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.init = pt_init, .lookup = pt_lookup, .getattr = pt_getattr, .open = pt_open,
	.read = pt_read, .write = pt_write, .fsync = pt_fsync, .flush = pt_flush,
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: hs-passthrough BACKING_FILE MOUNTPOINT\n");
		return 2;
	}
	backing = open(argv[1], O_RDWR);
	if (backing < 0) {
		perror(argv[1]);
		return 1;
	}
	char *fargv[] = { argv[0], "-o", "allow_other,default_permissions,max_read=1048576,fsname=hs-passthrough", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
	if (!se || fuse_session_mount(se, argv[2]) != 0)
		return 1;
	fuse_set_signal_handlers(se);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, 32);
	fuse_loop_cfg_set_idle_threads(cfg, 8);
	int r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return r ? 1 : 0;
}
