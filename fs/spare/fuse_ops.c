/* The FUSE filesystem over a spare: "/" holds an image per disk of the point
 * (SERVER.img, or SERVER-DISK.img for each of several) and a hidden status
 * file. Requests are translated into spare calls; no policy lives here. */
#define FUSE_USE_VERSION 314
#include "spare/fuse_ops.h"
#include "basics/cleanup.h"
#include "basics/deadline.h"
#include "basics/err.h"
#include "spare/set.h"
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "basics/device.h"
#include <sys/stat.h>
#include <time.h>

enum { INO_ROOT = 1, INO_STATUS = 3, INO_IMAGE = 16 }; /* disk k's image is INO_IMAGE + k */

#define RECENT_FAILURES 8
#define RECENT_FAILURE_MS 1000

struct image {
	uint64_t data_blocks; /* 512-byte blocks of non-zero chunks, for st_blocks */
	struct timespec atime, mtime, ctime; /* guarded by times_lock */
};

/* The status as one open of the status file took it. */
struct status_copy {
	uint64_t id;
	struct hs_buf text;
	struct status_copy *next;
};

struct hs_fuse {
	struct hs_spare_set *set;
	struct hs_status_info info;
	struct fuse_session *se;
	bool mounted;
	char *store, *state_dir, *mountpoint; /* owned copies for info */
	struct timespec born; /* the root's and the status file's times */
	/* times_lock protects the images' times */
	pthread_mutex_t times_lock;
	struct image img[HS_DISKS_MAX];
	/* Buffered reads that failed lately (guarded by failed_lock): when the
	 * read-ahead covering a page fails, the kernel reads that page again at
	 * once, and that read must not wait out a second deadline. */
	pthread_mutex_t failed_lock;
	struct {
		uint64_t off, end;
		int64_t at; /* hs_mono_ms; 0: unused */
	} failed[RECENT_FAILURES];
	/* Each open status file's copy, by the id in its file handle (guarded
	 * by status_lock): a release may run beside a read of the same open
	 * when its reader was killed, so a read finds its copy by id, under
	 * the lock, or finds it gone. */
	pthread_mutex_t status_lock;
	struct status_copy *status;
	uint64_t status_next;
};

static struct hs_fuse *F(fuse_req_t req) { return fuse_req_userdata(req); }

/* The disk behind an inode, or NULL for the root and the status file. */
static struct hs_spare *disk_of(struct hs_fuse *f, fuse_ino_t ino)
{
	return ino >= INO_IMAGE && ino < INO_IMAGE + f->set->n ? f->set->disk[ino - INO_IMAGE] : NULL;
}

static bool is_image(struct hs_fuse *f, fuse_ino_t ino) { return disk_of(f, ino) != NULL; }

static void hs_fuse_free_strings(struct hs_fuse *f)
{
	free(f->store);
	free(f->state_dir);
	free(f->mountpoint);
}

static void image_attr(struct hs_fuse *f, fuse_ino_t ino, struct stat *st)
{
	struct hs_spare *sp = disk_of(f, ino);
	struct image *im = &f->img[ino - INO_IMAGE];
	struct hs_state *s = sp->state;
	pthread_mutex_lock(&s->attr_lock);
	st->st_mode = S_IFREG | s->mode;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	pthread_mutex_unlock(&s->attr_lock);
	st->st_nlink = 1;
	st->st_size = (off_t)hs_spare_size(sp);
	st->st_blocks = (blkcnt_t)im->data_blocks;
	st->st_blksize = 65536;
	pthread_mutex_lock(&f->times_lock);
	st->st_atim = im->atime;
	st->st_mtim = im->mtime;
	st->st_ctim = im->ctime;
	pthread_mutex_unlock(&f->times_lock);
}

static int fill_attr(struct hs_fuse *f, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	if (is_image(f, ino)) {
		image_attr(f, ino, st);
		return 0;
	}
	switch (ino) {
	case INO_ROOT:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_mtim = st->st_ctim = st->st_atim = f->born;
		return 0;
	case INO_STATUS:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_mtim = st->st_ctim = st->st_atim = f->born;
		return 0;
	}
	return -ENOENT;
}

static void touch(struct hs_fuse *f, fuse_ino_t ino, bool modify)
{
	struct image *im = &f->img[ino - INO_IMAGE];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&f->times_lock);
	if (modify)
		im->mtime = im->ctime = now;
	else
		im->ctime = now;
	pthread_mutex_unlock(&f->times_lock);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = 1u << 20;
	conn->max_read = 1u << 20; /* must match the max_read mount option */
	conn->max_readahead = 1u << 20;
	/* Replies can splice straight from the state's image file. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_SPLICE_MOVE)
		conn->want |= FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	/* We are the only writer: a changed mtime must not drop the page cache. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { .ino = ino, .attr_timeout = 1.0, .entry_timeout = 1.0 };
	fill_attr(F(req), ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct hs_fuse *f = F(req);
	if (parent != INO_ROOT) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (unsigned k = 0; k < f->set->n; k++)
		if (strcmp(name, f->set->image[k]) == 0) {
			reply_entry(req, INO_IMAGE + k);
			return;
		}
	if (strcmp(name, HS_STATUS_FILE) == 0)
		reply_entry(req, INO_STATUS);
	else
		fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	if (fill_attr(F(req), ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, 1.0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)fi;
	struct hs_fuse *f = F(req);
	struct hs_spare *sp = disk_of(f, ino);
	if (!sp) {
		fuse_reply_err(req, ino == INO_STATUS ? EPERM : EISDIR);
		return;
	}
	if (f->info.read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && (uint64_t)attr->st_size != hs_spare_size(sp)) {
		fuse_reply_err(req, EPERM); /* a disk image keeps its size */
		return;
	}
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		struct hs_state *s = sp->state;
		pthread_mutex_lock(&s->attr_lock);
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : s->uid;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : s->gid;
		mode_t mode = to_set & FUSE_SET_ATTR_MODE ? attr->st_mode : s->mode;
		pthread_mutex_unlock(&s->attr_lock);
		int r = hs_state_set_attr(s, uid, gid, mode);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
		touch(f, ino, false);
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
		      FUSE_SET_ATTR_MTIME_NOW)) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		struct image *im = &f->img[ino - INO_IMAGE];
		pthread_mutex_lock(&f->times_lock);
		if (to_set & FUSE_SET_ATTR_ATIME)
			im->atime = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			im->atime = now;
		if (to_set & FUSE_SET_ATTR_MTIME)
			im->mtime = attr->st_mtim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			im->mtime = now;
		pthread_mutex_unlock(&f->times_lock);
	}
	struct stat st;
	fill_attr(f, ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	struct hs_fuse *f = F(req);
	if (ino != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	char buf[8192];
	size_t len = 0;
	for (off_t k = off; k < 2 + (off_t)f->set->n; k++) {
		const char *name = k == 0 ? "." : k == 1 ? ".." : f->set->image[k - 2];
		struct stat st = { .st_ino = k < 2 ? INO_ROOT : INO_IMAGE + (fuse_ino_t)(k - 2),
				   .st_mode = k < 2 ? S_IFDIR : S_IFREG };
		size_t n = fuse_add_direntry(req, buf + len, sizeof buf - len, name, &st, k + 1);
		if (len + n > size || len + n > sizeof buf)
			break;
		len += n;
	}
	fuse_reply_buf(req, buf, len);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == INO_ROOT) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino == INO_STATUS) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			fuse_reply_err(req, EACCES);
			return;
		}
		/* A fresh status for every open, taken once: reads at growing
		 * offsets must see one document, not the tail of a newer one. */
		struct hs_fuse *f = F(req);
		struct status_copy *c = calloc(1, sizeof *c);
		int r = c ? hs_status_json(f->set, &f->info, &c->text) : -ENOMEM;
		if (r < 0) {
			if (c)
				hs_buf_free(&c->text);
			free(c);
			fuse_reply_err(req, -r);
			return;
		}
		pthread_mutex_lock(&f->status_lock);
		c->id = ++f->status_next;
		c->next = f->status;
		f->status = c;
		pthread_mutex_unlock(&f->status_lock);
		fi->fh = c->id;
		fi->direct_io = 1;
		fuse_reply_open(req, fi);
		return;
	}
	if (!is_image(F(req), ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (fi->flags & O_TRUNC) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (F(req)->info.read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	/* Counted, so a checkpoint can say whether anyone could be writing. */
	fi->fh = (fi->flags & O_ACCMODE) != O_RDONLY;
	if (fi->fh)
		atomic_fetch_add(&disk_of(F(req), ino)->open_writers, 1);
	fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == INO_STATUS) {
		struct hs_fuse *f = F(req);
		struct status_copy *c = NULL;
		pthread_mutex_lock(&f->status_lock);
		for (struct status_copy **p = &f->status; *p; p = &(*p)->next)
			if ((*p)->id == fi->fh) {
				c = *p;
				*p = c->next;
				break;
			}
		pthread_mutex_unlock(&f->status_lock);
		if (c)
			hs_buf_free(&c->text);
		free(c);
		fuse_reply_err(req, 0);
		return;
	}
	struct hs_spare *sp = disk_of(F(req), ino);
	if (sp && fi->fh)
		atomic_fetch_sub(&sp->open_writers, 1);
	fuse_reply_err(req, 0);
}

static void read_status(fuse_req_t req, uint64_t id, size_t size, off_t off)
{
	struct hs_fuse *f = F(req);
	HS_LOCK_SCOPE(&f->status_lock);
	struct status_copy *c = f->status;
	while (c && c->id != id)
		c = c->next;
	if (!c)
		fuse_reply_err(req, EBADF); /* released: its reader is gone */
	else if (off < 0 || (size_t)off >= c->text.len)
		fuse_reply_buf(req, NULL, 0);
	else {
		size_t n = c->text.len - (size_t)off < size ? c->text.len - (size_t)off : size;
		fuse_reply_buf(req, (const char *)c->text.data + off, n);
	}
}

/* Remember a buffered read of [off, end) that failed. */
static void note_failed(struct hs_fuse *f, uint64_t off, uint64_t end)
{
	HS_LOCK_SCOPE(&f->failed_lock);
	size_t k = 0;
	for (size_t j = 1; j < RECENT_FAILURES; j++)
		if (f->failed[j].at < f->failed[k].at)
			k = j;
	f->failed[k].off = off;
	f->failed[k].end = end;
	f->failed[k].at = hs_mono_ms();
}

/* Is [off, end) inside a read that failed just now? Yes once per failure:
 * the kernel's one read again, not every later reader. */
static bool failed_just_now(struct hs_fuse *f, uint64_t off, uint64_t end)
{
	HS_LOCK_SCOPE(&f->failed_lock);
	int64_t now = hs_mono_ms();
	for (size_t j = 0; j < RECENT_FAILURES; j++) {
		if (f->failed[j].at && now - f->failed[j].at < RECENT_FAILURE_MS && f->failed[j].off <= off &&
		    end <= f->failed[j].end) {
			f->failed[j].at = 0;
			return true;
		}
	}
	return false;
}

/* Per-thread means of replying with image bytes: a pipe the bytes are
 * spliced into (zero-copy), or a buffer when splicing cannot be used. */
struct reader {
	int pipe[2];
	size_t pipe_cap;
	bool no_splice; /* the image's filesystem cannot splice: buffer only */
	void *buf;
	size_t buf_cap;
};
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_close_pipe(struct reader *rd)
{
	if (rd->pipe[0] >= 0) {
		close(rd->pipe[0]);
		close(rd->pipe[1]);
	}
	rd->pipe[0] = rd->pipe[1] = -1;
	rd->pipe_cap = 0;
}

static void reader_free(void *p)
{
	struct reader *rd = p;
	reader_close_pipe(rd);
	free(rd->buf);
	free(rd);
}
static void reader_make(void) { pthread_key_create(&reader_key, reader_free); }

static struct reader *reader_get(void)
{
	pthread_once(&reader_once, reader_make);
	struct reader *rd = pthread_getspecific(reader_key);
	if (rd)
		return rd;
	rd = calloc(1, sizeof *rd);
	if (!rd || pthread_setspecific(reader_key, rd) != 0) {
		free(rd);
		return NULL;
	}
	rd->pipe[0] = rd->pipe[1] = -1;
	return rd;
}

/* An empty pipe that holds size bytes, or false (then the buffer is used). */
static bool reader_pipe(struct reader *rd, size_t size)
{
	if (rd->pipe[0] < 0) {
		if (pipe2(rd->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
			rd->pipe[0] = rd->pipe[1] = -1;
			return false;
		}
		int cap = fcntl(rd->pipe[1], F_SETPIPE_SZ, 1 << 20);
		rd->pipe_cap = cap > 0 ? (size_t)cap : 0;
	}
	return rd->pipe_cap >= size;
}

/* The largest reply worth splicing. libfuse splices a reply to the kernel
 * only through a pipe holding the reply and three pages more, and copies
 * one under two pages; otherwise it copies the data into a buffer it
 * allocates (and the kernel maps and zeroes) for every reply. Where a
 * process may not grow a pipe past pipe-max-size (1 MiB; no
 * CAP_SYS_RESOURCE), a 1 MiB read is such a reply: reading into a buffer of
 * our own, kept per thread, then costs one copy and no page faults. */
static size_t splice_max;
static pthread_once_t splice_once = PTHREAD_ONCE_INIT;

static void splice_max_find(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	long page = sysconf(_SC_PAGESIZE);
	int got = fcntl(p[0], F_SETPIPE_SZ, (1 << 20) + 4 * (int)page);
	if (got < 0) {
		char buf[32] = "";
		int fd = open("/proc/sys/fs/pipe-max-size", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		got = fcntl(p[0], F_SETPIPE_SZ, atoi(buf));
	}
	close(p[0]);
	close(p[1]);
	size_t room = 3 * (size_t)page + 16; /* and the reply header */
	if (got > 0 && (size_t)got > room)
		splice_max = (size_t)got - room;
}

/* Reply with size bytes of the image at off, all of them or an I/O error:
 * fewer bytes than asked (the image was cut under us) must never become a
 * short or zero-filled reply. A reply libfuse can splice is spliced into a
 * pipe of our own first, so the count is known before anything is sent;
 * others are read into a buffer of our own. */
static void reply_image(fuse_req_t req, struct hs_spare *sp, size_t size, off_t off)
{
	int fd = hs_spare_image_fd(sp);
	struct reader *rd = reader_get();
	if (!rd) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_once(&splice_once, splice_max_find);
	bool splice_ok = size >= 2 * 4096 && size <= splice_max;
	if (splice_ok && !rd->no_splice && reader_pipe(rd, size)) {
		size_t got = 0;
		loff_t pos = off;
		while (got < size) {
			ssize_t n = splice(fd, &pos, rd->pipe[1], NULL, size - got, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EINVAL || errno == ENOSYS))
				rd->no_splice = true;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got == size) {
			struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
			buf.buf[0].flags = FUSE_BUF_IS_FD;
			buf.buf[0].fd = rd->pipe[0];
			fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
			int left = 0;
			/* Bytes a failed reply left behind must not start the next one. */
			if (ioctl(rd->pipe[0], FIONREAD, &left) < 0 || left > 0)
				reader_close_pipe(rd);
			return;
		}
		reader_close_pipe(rd);
		struct stat st;
		if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < (uint64_t)off + size)
			goto short_read;
		/* Splicing did not work here: read into the buffer instead. */
	}
	if (rd->buf_cap < size) {
		void *b = realloc(rd->buf, size);
		if (!b) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		rd->buf = b;
		rd->buf_cap = size;
	}
	ssize_t got = hs_pread_full(fd, rd->buf, size, (uint64_t)off);
	if (got == (ssize_t)size) {
		fuse_reply_buf(req, rd->buf, size);
		return;
	}
	if (got < 0) {
		hs_note("cannot read %zu bytes at %lld of the state's image: %s", size,
			(long long)off, strerror((int)-got));
		fuse_reply_err(req, EIO);
		return;
	}
short_read:
	hs_spare_image_short(sp);
	hs_note("read of %zu bytes at %lld failed: %s", size, (long long)off,
		hs_err_msg() ? hs_err_msg() : "short read");
	fuse_reply_err(req, EIO);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct hs_fuse *f = F(req);
	if (ino == INO_STATUS) {
		read_status(req, fi->fh, size, off);
		return;
	}
	struct hs_spare *sp = disk_of(f, ino);
	if (!sp) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	uint64_t isz = hs_spare_size(sp);
	if ((uint64_t)off >= isz) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > isz - (uint64_t)off)
		size = (size_t)(isz - (uint64_t)off);
	/* O_DIRECT reads are not read again by the kernel. */
	bool buffered = !(fi->flags & O_DIRECT);
	if (buffered && failed_just_now(f, (uint64_t)off, (uint64_t)off + size)) {
		hs_note("read of %zu bytes at %lld failed: a read of it failed just now", size,
			(long long)off);
		fuse_reply_err(req, EIO);
		return;
	}
	int r = hs_spare_prepare_read(sp, (uint64_t)off, size);
	if (r < 0) {
		if (buffered)
			note_failed(f, (uint64_t)off, (uint64_t)off + size);
		const char *m = hs_err_msg();
		hs_note("read of %zu bytes at %lld failed: %s", size, (long long)off,
			m ? m : strerror(-r));
		fuse_reply_err(req, EIO);
		return;
	}
	reply_image(req, sp, size, off);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	struct hs_fuse *f = F(req);
	struct hs_spare *sp = disk_of(f, ino);
	if (!sp || f->info.read_only) {
		fuse_reply_err(req, !sp ? EPERM : EROFS);
		return;
	}
	int r = hs_spare_write(sp, data, size, (uint64_t)off);
	if (r < 0) {
		const char *m = hs_err_msg();
		if (r != -EFBIG)
			hs_note("write of %zu bytes at %lld failed: %s", size,
				(long long)off, m ? m : strerror(-r));
		fuse_reply_err(req, r == -EFBIG ? EFBIG : EIO);
		return;
	}
	touch(f, ino, true);
	fuse_reply_write(req, size);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	struct hs_spare *sp = disk_of(F(req), ino);
	int r = sp ? hs_spare_flush(sp) : 0;
	if (r < 0)
		hs_note("flush failed: %s", hs_err_msg() ? hs_err_msg() : strerror(-r));
	fuse_reply_err(req, r < 0 ? EIO : 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	(void)fi;
	struct hs_fuse *f = F(req);
	struct hs_spare *sp = disk_of(f, ino);
	if (!sp || off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (f->info.read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	uint64_t size = hs_spare_size(sp);
	if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
		uint64_t end = (uint64_t)off + (uint64_t)len;
		if ((uint64_t)off >= size) {
			fuse_reply_err(req, 0);
			return;
		}
		int r = hs_spare_discard(sp, (uint64_t)off, (end > size ? size : end) - (uint64_t)off);
		if (r == 0)
			touch(f, ino, true);
		fuse_reply_err(req, r < 0 ? EIO : 0);
		return;
	}
	/* The image is whole already: allocating inside it is a no-op. */
	if ((mode == 0 || mode == FALLOC_FL_KEEP_SIZE) &&
	    ((uint64_t)off + (uint64_t)len <= size || mode == FALLOC_FL_KEEP_SIZE)) {
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, mode == 0 ? EFBIG : EOPNOTSUPP);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	(void)fi;
	struct hs_spare *sp = disk_of(F(req), ino);
	if (!sp || (whence != SEEK_DATA && whence != SEEK_HOLE) || off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	int64_t r = hs_spare_seek(sp, (uint64_t)off, whence);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_lseek(req, r);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	uint64_t total = 0;
	for (unsigned k = 0; k < F(req)->set->n; k++)
		total += hs_spare_size(F(req)->set->disk[k]);
	struct statvfs sv = {
		.f_bsize = 4096, .f_frsize = 4096,
		.f_blocks = total / 4096,
		.f_files = 1 + F(req)->set->n, .f_namemax = 255,
	};
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.statfs = op_statfs,
};

int hs_fuse_mount(struct hs_spare_set *set, const struct hs_status_info *info, struct hs_fuse **out)
{
	struct hs_fuse *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->set = set;
	f->info = *info;
	/* Own copies: the caller's strings may not outlive the mount. */
	f->info.store = f->store = strdup(info->store ? info->store : "");
	f->info.state_dir = f->state_dir = strdup(info->state_dir ? info->state_dir : "");
	f->info.mountpoint = f->mountpoint = strdup(info->mountpoint);
	if (!f->store || !f->state_dir || !f->mountpoint) {
		hs_fuse_free_strings(f);
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->times_lock, NULL);
	pthread_mutex_init(&f->failed_lock, NULL);
	pthread_mutex_init(&f->status_lock, NULL);
	clock_gettime(CLOCK_REALTIME, &f->born);
	for (unsigned k = 0; k < set->n; k++) {
		struct image *im = &f->img[k];
		im->atime = im->mtime = im->ctime = f->born;
		im->data_blocks = hs_spare_data_bytes(set->disk[k]) / 512;
	}
	char *argv[] = { "hotspare", "-o",
			 info->read_only ? "ro,allow_other,default_permissions,max_read=1048576,fsname=hotspare,subtype=hotspare"
					 : "allow_other,default_permissions,max_read=1048576,fsname=hotspare,subtype=hotspare",
			 NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	f->se = fuse_session_new(&args, &ops, sizeof ops, f);
	fuse_opt_free_args(&args);
	if (!f->se) {
		hs_fuse_free_strings(f);
		free(f);
		return hs_err(EIO, "cannot create the FUSE session");
	}
	if (fuse_session_mount(f->se, info->mountpoint) != 0) {
		fuse_session_destroy(f->se);
		hs_fuse_free_strings(f);
		free(f);
		return hs_err(EIO, "cannot mount FUSE at %s (is /dev/fuse there and fuse3 installed?)",
			      info->mountpoint);
	}
	f->mounted = true;
	*out = f;
	return 0;
}

int hs_fuse_serve(struct hs_fuse *f, bool signals)
{
	if (signals && fuse_set_signal_handlers(f->se) != 0)
		return hs_err(EIO, "cannot install signal handlers");
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_max_threads(cfg, 32);
	fuse_loop_cfg_set_idle_threads(cfg, 8);
	int r = fuse_session_loop_mt(f->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	if (signals)
		fuse_remove_signal_handlers(f->se);
	/* A connection aborted (through fusectl; once also seen as an umount
	 * ran, cause unknown) ends the serving like an unmount: the state is
	 * flushed and closed after this all the same, and that is what the
	 * caller reports. */
	if (r == -ECONNABORTED) {
		hs_note("the FUSE connection was aborted");
		r = 0;
	}
	return r < 0 ? r : 0;
}

void hs_fuse_stop(struct hs_fuse *f)
{
	fuse_session_exit(f->se);
	if (f->mounted) {
		/* The loop ends when the kernel drops the connection at unmount. */
		fuse_session_unmount(f->se);
		f->mounted = false;
	}
}

void hs_fuse_destroy(struct hs_fuse *f)
{
	if (!f)
		return;
	if (f->mounted)
		fuse_session_unmount(f->se);
	fuse_session_destroy(f->se);
	pthread_mutex_destroy(&f->times_lock);
	pthread_mutex_destroy(&f->failed_lock);
	while (f->status) {
		struct status_copy *c = f->status;
		f->status = c->next;
		hs_buf_free(&c->text);
		free(c);
	}
	pthread_mutex_destroy(&f->status_lock);
	hs_fuse_free_strings(f);
	free(f);
}
