/* A store in a local directory (or a mounted USB drive).
 * Objects are files written to a temporary name, made durable, then renamed
 * into place without replacing; directories touched are fsync'ed by sync().
 * Batched puts (chunks) skip the per-file fdatasync: a batch of temporary
 * files is made durable by one syncfs() before any of them is renamed, so a
 * name never points at content that is not on disk, and the compute threads
 * of a snapshot do not wait for a disk flush per chunk. A batch is also
 * committed once it is a second old, so a writer killed mid-run loses at most
 * its last second of chunks (a rerun sends only those).
 *
 * Temporary names are ".tmp.PID-TAG-HOST.SEQ" (TAG: random, per open
 * backend; HOST: this host, boot and pid namespace, hashed), and a writer
 * lock's file holds "PID-TAG-HOST" while it is held and is removed
 * when released: a lock file that still names an owner when taken was left
 * by a writer that was killed, and the temporaries with its name are its
 * leftovers, removed by the next writer of the same lock. A sweep of every
 * dead owner (gc, replicate) asks only about processes of this host: a
 * store may be shared (NFS) and another host's writer is not ours to judge;
 * its temporaries go once a day old (a live one is renamed within seconds). */
#include "store/backend.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/digest.h"
#include "basics/err.h"
#include "basics/run.h"
#include <dirent.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

struct pending {
	char *tmp, *key;
};

/* Commit a batch once this much is written: each commit's syncfs makes the
 * device flush what it was sent, and smaller steps overlap that with the
 * compression of the next chunks (a 512 MiB snapshot: 0.91 s at 32 MiB,
 * 0.96 s at 128 MiB, zstd -T0 -3 alone 0.90 s; 16 MiB gained no more). */
#define BATCH_BYTES (32u << 20)
#define BATCH_SECONDS 1.0        /* ... or once its first object is this old */
#define DIRS_ONE_BY_ONE 16       /* more directories to sync than this: one syncfs */

/* A set of strings (open addressing), for directory names. */
struct strset {
	char **slot;
	size_t n, cap; /* cap is 0 or a power of two */
};

#define MAX_HELD 16 /* locks one backend holds at once (a server's and the store's) */

struct dir_backend {
	struct hs_backend be;
	int rootfd;
	int pid;
	char owner[40]; /* "PID-TAG": this backend's writes and locks */
	/* held_lock protects the locks held: their descriptors and paths */
	pthread_mutex_t held_lock;
	struct {
		int fd;
		char path[300];
	} held[MAX_HELD];
	/* dirty_lock protects the directories whose entries changed since the last sync */
	pthread_mutex_t dirty_lock;
	struct strset dirty;
	/* dirs_lock protects the directories known to exist (saves a stat per put) */
	pthread_mutex_t dirs_lock;
	struct strset dirs;
	atomic_uint tmp_seq;
	/* batch_lock protects the batch: temporary files written, not yet renamed */
	pthread_mutex_t batch_lock;
	struct pending *batch;
	size_t nbatch, capbatch, batch_bytes;
	double batch_start; /* when the batch's first object was added (hs_now_s) */
	/* commit_lock serialises commits, so a sync covers every earlier put */
	pthread_mutex_t commit_lock;
};

static struct dir_backend *D(struct hs_backend *be) { return (struct dir_backend *)be; }

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static bool strset_find(const struct strset *s, const char *str, size_t *at)
{
	if (!s->cap)
		return false;
	size_t j = hash_str(str) & (s->cap - 1);
	while (s->slot[j]) {
		if (strcmp(s->slot[j], str) == 0) {
			*at = j;
			return true;
		}
		j = (j + 1) & (s->cap - 1);
	}
	*at = j;
	return false;
}

static bool strset_has(const struct strset *s, const char *str)
{
	size_t at;
	return strset_find(s, str, &at);
}

/* Add str. 0 (added or present) or -ENOMEM. */
static int strset_add(struct strset *s, const char *str)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **n = calloc(ncap, sizeof *n);
		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slot[i])
				continue;
			size_t j = hash_str(s->slot[i]) & (ncap - 1);
			while (n[j])
				j = (j + 1) & (ncap - 1);
			n[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = n;
		s->cap = ncap;
	}
	size_t at;
	if (strset_find(s, str, &at))
		return 0;
	if (!(s->slot[at] = strdup(str)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static void strset_clear(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->slot[i]);
		s->slot[i] = NULL;
	}
	s->n = 0;
}

static void strset_free(struct strset *s)
{
	strset_clear(s);
	free(s->slot);
	s->slot = NULL;
	s->cap = 0;
}

/* Add dir to the set of directories to fsync at the next sync. */
static int mark_dirty(struct dir_backend *d, const char *dir)
{
	HS_LOCK_SCOPE(&d->dirty_lock);
	return strset_add(&d->dirty, dir);
}

/* The directory part of key ("." for a top-level key) into out. */
static void dir_of(const char *key, char *out, size_t cap)
{
	const char *slash = strrchr(key, '/');
	if (!slash)
		snprintf(out, cap, ".");
	else
		snprintf(out, cap, "%.*s", (int)(slash - key), key);
}

/* mkdir -p for dir under the root, marking each parent of a new dir dirty. */
static int make_dirs(struct dir_backend *d, const char *dir)
{
	if (strcmp(dir, ".") == 0)
		return 0;
	pthread_mutex_lock(&d->dirs_lock);
	bool known = strset_has(&d->dirs, dir);
	pthread_mutex_unlock(&d->dirs_lock);
	if (known)
		return 0;
	struct stat st;
	if (fstatat(d->rootfd, dir, &st, 0) == 0) {
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		HS_LOCK_SCOPE(&d->dirs_lock);
		return strset_add(&d->dirs, dir);
	}
	char parent[4096];
	dir_of(dir, parent, sizeof parent);
	int r = make_dirs(d, parent);
	if (r < 0)
		return r;
	if (mkdirat(d->rootfd, dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return mark_dirty(d, parent);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Rename tmp to key without replacing an existing key; -EEXIST if present. */
static int rename_noreplace(int rootfd, const char *tmp, const char *key)
{
	if (renameat2(rootfd, tmp, rootfd, key, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return -EEXIST;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* Filesystems without RENAME_NOREPLACE (vfat, exfat on a USB drive):
	 * the store's writers never write different content under one name,
	 * so a check-then-rename race can only put identical bytes in place. */
	if (faccessat(rootfd, key, F_OK, 0) == 0)
		return -EEXIST;
	return renameat(rootfd, tmp, rootfd, key) == 0 ? 0 : -errno;
}

/* Make the batch durable and visible: one syncfs, then the renames. */
static int commit(struct dir_backend *d)
{
	HS_LOCK_SCOPE(&d->commit_lock);
	pthread_mutex_lock(&d->batch_lock);
	struct pending *b = d->batch;
	size_t n = d->nbatch;
	d->batch = NULL;
	d->nbatch = d->capbatch = d->batch_bytes = 0;
	pthread_mutex_unlock(&d->batch_lock);
	int r = 0;
	if (n && syncfs(d->rootfd) < 0)
		r = hs_err(errno, "cannot sync %s: %s", d->be.where, strerror(errno));
	for (size_t k = 0; k < n; k++) {
		int e = r < 0 ? r : rename_noreplace(d->rootfd, b[k].tmp, b[k].key);
		if (e == 0) {
			char dir[4096];
			dir_of(b[k].key, dir, sizeof dir);
			e = mark_dirty(d, dir);
			if (e < 0)
				r = e;
		} else {
			/* A lost race (the same content is there) or a failure: the
			 * temporary goes. */
			unlinkat(d->rootfd, b[k].tmp, 0);
			if (e != -EEXIST && r == 0)
				r = hs_err(-e, "cannot write %s/%s: %s", d->be.where, b[k].key, strerror(-e));
		}
		free(b[k].tmp);
		free(b[k].key);
	}
	free(b);
	return r;
}

static int batch_add(struct dir_backend *d, const char *tmp, const char *key, size_t n)
{
	pthread_mutex_lock(&d->batch_lock);
	int r = hs_grow(&d->batch, &d->capbatch, d->nbatch + 1, sizeof *d->batch);
	char *t = r == 0 ? strdup(tmp) : NULL, *k = t ? strdup(key) : NULL;
	if (!k) {
		free(t);
		pthread_mutex_unlock(&d->batch_lock);
		unlinkat(d->rootfd, tmp, 0);
		return -ENOMEM;
	}
	double now = hs_now_s();
	if (d->nbatch == 0)
		d->batch_start = now;
	d->batch[d->nbatch++] = (struct pending){ t, k };
	d->batch_bytes += n;
	bool full = d->batch_bytes >= BATCH_BYTES || now - d->batch_start >= BATCH_SECONDS;
	pthread_mutex_unlock(&d->batch_lock);
	return full ? commit(d) : 0;
}

static int dir_put(struct hs_backend *be, const char *key, const void *p, size_t n, unsigned flags)
{
	struct dir_backend *d = D(be);
	char dir[4096], tmp[4200];
	dir_of(key, dir, sizeof dir);
	int r = make_dirs(d, dir);
	if (r < 0)
		return hs_err(-r, "cannot create %s/%s: %s", be->where, dir, strerror(-r));
	snprintf(tmp, sizeof tmp, "%s/.tmp.%s.%u", dir, d->owner, atomic_fetch_add(&d->tmp_seq, 1));
	_cleanup_close_ int fd = openat(d->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		/* A directory made earlier was removed since (by hand, or a
		 * lease directory cleaned out): forget what was made, make it again. */
		pthread_mutex_lock(&d->dirs_lock);
		strset_clear(&d->dirs);
		pthread_mutex_unlock(&d->dirs_lock);
		if ((r = make_dirs(d, dir)) < 0)
			return hs_err(-r, "cannot create %s/%s: %s", be->where, dir, strerror(-r));
		fd = openat(d->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return hs_err(errno, "cannot write %s/%s: %s", be->where, key, strerror(errno));
	r = write_all(fd, p, n);
	if (r == 0 && !(flags & HS_PUT_BATCH) && fdatasync(fd) < 0)
		r = -errno;
	/* A batched object's writeback starts now, so the batch's syncfs
	 * mostly waits for work already under way. */
	if (r == 0 && (flags & HS_PUT_BATCH))
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (r == 0 && close(HS_TAKE_FD(fd)) < 0)
		r = -errno;
	if (r == 0 && (flags & HS_PUT_BATCH))
		return batch_add(d, tmp, key, n);
	if (r == 0) {
		if (flags & HS_PUT_NOREPLACE)
			r = rename_noreplace(d->rootfd, tmp, key);
		else if (renameat(d->rootfd, tmp, d->rootfd, key) < 0)
			r = -errno;
	}
	if (r < 0) {
		int e = -r;
		unlinkat(d->rootfd, tmp, 0);
		if (e == EEXIST)
			return -EEXIST;
		return hs_err(e, "cannot write %s/%s: %s", be->where, key, strerror(e));
	}
	return mark_dirty(d, dir);
}

/* Open key to read (its status into *st): a regular file only. O_NONBLOCK,
 * so that a FIFO planted in the store is refused instead of blocking the
 * open forever. */
static int open_object(struct hs_backend *be, const char *key, struct stat *st)
{
	int fd = openat(D(be)->rootfd, key, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return hs_err(errno, "cannot read %s/%s: %s", be->where, key, strerror(errno));
	}
	int r = fstat(fd, st) < 0 ? -errno : S_ISREG(st->st_mode) ? 0 : -EINVAL;
	if (r < 0) {
		close(fd);
		if (r == -EINVAL)
			return hs_err(EINVAL, "%s/%s is not a regular file", be->where, key);
		return hs_err(-r, "cannot read %s/%s: %s", be->where, key, strerror(-r));
	}
	return fd;
}

static int dir_get(struct hs_backend *be, const char *key, struct hs_buf *out)
{
	struct stat st;
	_cleanup_close_ int fd = open_object(be, key, &st);
	if (fd < 0)
		return fd;
	out->len = 0;
	/* Never more than the object can be (out's limit), checked as it is read. */
	size_t max = hs_buf_limit(out);
	if (max && (uint64_t)st.st_size > max)
		return hs_err(EFBIG, "%s/%s is %lld bytes, larger than %zu bytes, more than that object can be",
			      be->where, key, (long long)st.st_size, max);
	int r = hs_buf_reserve(out, (size_t)st.st_size + 1);
	if (r < 0)
		return r;
	for (;;) {
		if (out->len == out->cap && (r = hs_buf_reserve(out, out->cap * 2)) < 0)
			return r;
		size_t want = out->cap - out->len;
		ssize_t n = read(fd, out->data + out->len, want < (1u << 20) ? want : (1u << 20));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return hs_err(errno, "cannot read %s/%s: %s", be->where, key, strerror(errno));
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		if ((max = hs_buf_limit(out)) && out->len > max)
			return hs_err(EFBIG, "%s/%s is larger than %zu bytes, more than that object can be",
				      be->where, key, max);
	}
	return 0;
}

static int dir_get_range(struct hs_backend *be, const char *key, uint64_t off, size_t len,
			 struct hs_buf *out)
{
	struct stat st;
	_cleanup_close_ int fd = open_object(be, key, &st);
	if (fd < 0)
		return fd;
	out->len = 0;
	int r = hs_buf_reserve(out, len ? len : 1);
	if (r < 0)
		return r;
	while (out->len < len) {
		ssize_t n = pread(fd, out->data + out->len, len - out->len, (off_t)(off + out->len));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hs_err(errno, "cannot read %s/%s: %s", be->where, key, strerror(errno));
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	return 0;
}

static int dir_remove(struct hs_backend *be, const char *key)
{
	struct dir_backend *d = D(be);
	if (unlinkat(d->rootfd, key, 0) < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return hs_err(errno, "cannot remove %s/%s: %s", be->where, key, strerror(errno));
	}
	char dir[4096];
	dir_of(key, dir, sizeof dir);
	return mark_dirty(d, dir);
}

static int dir_exists(struct hs_backend *be, const char *key)
{
	struct stat st;
	if (fstatat(D(be)->rootfd, key, &st, 0) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return hs_err(errno, "cannot look up %s/%s: %s", be->where, key, strerror(errno));
}

static int dir_list(struct hs_backend *be, const char *dirname,
		    int (*fn)(void *, const char *), void *arg)
{
	int fd = openat(D(be)->rootfd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : hs_err(errno, "cannot list %s/%s: %s", be->where, dirname, strerror(errno));
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(dir)))
		if (de->d_name[0] != '.')
			r = fn(arg, de->d_name);
	closedir(dir);
	return r;
}

static int dir_list_sized(struct hs_backend *be, const char *dirname,
			  int (*fn)(void *, const char *, uint64_t, int64_t), void *arg)
{
	int fd = openat(D(be)->rootfd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : hs_err(errno, "cannot list %s/%s: %s", be->where, dirname, strerror(errno));
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(dir))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		/* Gone since readdir (a writer's rename, gc's own move): not listed. */
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		r = fn(arg, de->d_name, (uint64_t)st.st_size, (int64_t)st.st_mtim.tv_sec);
	}
	closedir(dir);
	return r;
}

static int dir_copy(struct hs_backend *be, const char *from, const char *to, unsigned flags)
{
	struct dir_backend *d = D(be);
	char dir[4096];
	dir_of(to, dir, sizeof dir);
	int r = make_dirs(d, dir);
	if (r < 0)
		return hs_err(-r, "cannot create %s/%s: %s", be->where, dir, strerror(-r));
	/* A move is a rename; a copy a hard link: objects are never changed in
	 * place (a replacement is a new file renamed over), so two names of one
	 * file are two copies. */
	if (flags & HS_COPY_MOVE)
		r = rename_noreplace(d->rootfd, from, to);
	else
		r = linkat(d->rootfd, from, d->rootfd, to, 0) == 0 ? 0 : -errno;
	if (r == -ENOENT || r == -EEXIST)
		return r;
	if (r < 0)
		return hs_err(-r, "cannot %s %s/%s to %s: %s", flags & HS_COPY_MOVE ? "move" : "copy", be->where,
			      from, to, strerror(-r));
	r = mark_dirty(d, dir);
	if (r == 0 && (flags & HS_COPY_MOVE)) {
		dir_of(from, dir, sizeof dir);
		r = mark_dirty(d, dir);
	}
	return r;
}

static int dir_sync(struct hs_backend *be)
{
	struct dir_backend *d = D(be);
	int r = commit(d);
	HS_LOCK_SCOPE(&d->dirty_lock);
	/* Many directories (a backup's new chunks land in up to 256): one
	 * syncfs commits every rename at once, where each directory's fsync
	 * costs a cache flush of its own (0.01-0.1 s for 220, 3-19 ms as one). */
	if (d->dirty.n > DIRS_ONE_BY_ONE) {
		if (syncfs(d->rootfd) < 0 && r == 0)
			r = hs_err(errno, "cannot sync %s: %s", be->where, strerror(errno));
		strset_clear(&d->dirty);
		return r;
	}
	for (size_t i = 0; i < d->dirty.cap; i++) {
		const char *name = d->dirty.slot[i];
		if (!name)
			continue;
		int fd = openat(d->rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0) {
			if (r == 0)
				r = hs_err(errno, "cannot sync %s/%s: %s", be->where, name, strerror(errno));
		}
		if (fd >= 0)
			close(fd);
	}
	strset_clear(&d->dirty);
	return r;
}

/* The pid a lock file or a temporary name starts with ("PID-TAG", "PID"). */
static int owner_pid(const char *owner)
{
	char *end;
	long pid = strtol(owner, &end, 10);
	return end != owner && pid > 0 && pid < (1l << 30) ? (int)pid : 0;
}

/* True if the process that wrote owner cannot be running on this host. */
static bool owner_dead(const char *owner)
{
	int pid = owner_pid(owner);
	return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

static char host_tag[9];
static pthread_once_t host_tag_once = PTHREAD_ONCE_INIT;

/* Who may judge a pid: the host's name, its boot and the pid namespace
 * (a container sharing the store has pids of its own). */
static void host_tag_init(void)
{
	char id[512] = "", boot[64] = "", ns[64] = "";
	gethostname(id, 256);
	id[255] = 0;
	hs_proc_text("/proc/sys/kernel/random/boot_id", boot, sizeof boot);
	hs_proc_link("/proc/self/ns/pid", ns, sizeof ns);
	size_t len = strlen(id);
	snprintf(id + len, sizeof id - len, "\n%s\n%s", boot, ns);
	struct hs_digest d;
	hs_digest_compute(id, strlen(id), &d);
	snprintf(host_tag, sizeof host_tag, "%02x%02x%02x%02x", d.b[0], d.b[1], d.b[2], d.b[3]);
}

const char *hs_backend_dir_host_tag(void)
{
	pthread_once(&host_tag_once, host_tag_init);
	return host_tag;
}

/* A temporary file of a gone process, in a sweep of every owner:
 * "PID-TAG-HOST" of this host, its pid dead; of another host (or boot, or
 * pid namespace), a day old; "PID-TAG" and "PID" (from before host tags),
 * its pid dead here, as then. */
#define FOREIGN_TMP_SECONDS (24 * 3600)
static bool owner_gone(const char *owner, time_t mtime)
{
	const char *dash = strchr(owner, '-');
	const char *host = dash ? strchr(dash + 1, '-') : NULL;
	if (!host || !strcmp(host + 1, hs_backend_dir_host_tag()))
		return owner_dead(owner);
	return time(NULL) - mtime > FOREIGN_TMP_SECONDS;
}

struct sweep {
	const char *owner; /* NULL: every owner no longer running here */
	bool remove;
	uint64_t count, bytes;
};

/* Does the temporary name (after ".tmp."), last changed at mtime, belong to the sweep? */
static bool sweep_wants(const struct sweep *s, const char *rest, time_t mtime)
{
	size_t n = strcspn(rest, ".");
	if (!rest[n] || n >= 40)
		return false;
	char owner[40];
	memcpy(owner, rest, n);
	owner[n] = 0;
	if (!s->owner)
		return owner_gone(owner, mtime);
	if (strcmp(owner, s->owner) != 0)
		return false;
	/* An owner without a tag (written before tags): only once it is gone. */
	return strchr(owner, '-') || owner_dead(owner);
}

static int sweep_dir(struct sweep *s, int dirfd, int depth)
{
	DIR *dir = fdopendir(dirfd);
	if (!dir) {
		close(dirfd);
		return -errno;
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = depth < 8 ? openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
			if (sub >= 0)
				r = sweep_dir(s, sub, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || strncmp(e->d_name, ".tmp.", 5) != 0 || !sweep_wants(s, e->d_name + 5, st.st_mtime))
			continue;
		if (s->remove && unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT)
			continue;
		s->count++;
		s->bytes += (uint64_t)st.st_size;
	}
	closedir(dir);
	return r;
}

static int dir_leftovers(struct hs_backend *be, const char *owner, bool remove, uint64_t *count,
			 uint64_t *bytes)
{
	struct sweep s = { .owner = owner, .remove = remove };
	int fd = openat(D(be)->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? -errno : sweep_dir(&s, fd, 0);
	*count = s.count;
	*bytes = s.bytes;
	return r < 0 ? hs_err(-r, "cannot look for leftovers in %s: %s", be->where, strerror(-r)) : 0;
}

/* Read a lock file's owner ("" if none) into out. */
static void read_owner(int fd, char *out, size_t cap)
{
	ssize_t n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = 0;
	out[strcspn(out, "\n")] = 0;
}

static int dir_lock(struct hs_backend *be, const char *name, int wait, int *token)
{
	struct dir_backend *d = D(be);
	char path[300];
	snprintf(path, sizeof path, "locks/%s.lock", name);
	/* Refused before anything is made when this backend holds it already. */
	pthread_mutex_lock(&d->held_lock);
	bool mine = false;
	for (int k = 0; k < MAX_HELD; k++)
		mine |= d->held[k].fd >= 0 && !strcmp(d->held[k].path, path);
	pthread_mutex_unlock(&d->held_lock);
	if (mine)
		return hs_err(EBUSY, "%s is busy: this process (pid %d) holds its lock in %s already", name, d->pid,
			      be->where);
	int r = make_dirs(d, "locks");
	if (r < 0)
		return hs_err(-r, "cannot create %s/locks: %s", be->where, strerror(-r));
	_cleanup_close_ int fd = -1;
	for (int tries = 0;; tries++) {
		/* O_NOFOLLOW: a link planted there must not have its target truncated. */
		fd = openat(d->rootfd, path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0)
			return hs_err(errno, "cannot open lock %s/%s: %s", be->where, path, strerror(errno));
		int r2;
		while ((r2 = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) < 0 && errno == EINTR)
			;
		if (r2 < 0) {
			if (errno != EWOULDBLOCK)
				return hs_err(errno, "cannot lock %s/%s: %s", be->where, path, strerror(errno));
			char owner[64];
			read_owner(fd, owner, sizeof owner);
			int pid = owner_pid(owner);
			if (pid == d->pid)
				return hs_err(EBUSY, "%s is busy: this process (pid %d) holds its lock in %s already", name,
					      pid, be->where);
			if (pid)
				return hs_err(EBUSY, "%s is busy: another hotspare process (pid %d) is writing it in %s",
					      name, pid, be->where);
			return hs_err(EBUSY, "%s is busy: another hotspare process is writing it in %s", name,
				      be->where);
		}
		/* The holder we waited for removes the file as it lets go: the lock is
		 * the file now at the path, so take it again if this one was removed. */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && fstatat(d->rootfd, path, &b, 0) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			break;
		close(HS_TAKE_FD(fd));
		if (tries > 100)
			return hs_err(EBUSY, "cannot take lock %s/%s: it keeps being replaced", be->where, path);
	}
	char prev[64];
	read_owner(fd, prev, sizeof prev);
	/* A writer's lock left with an owner in it: that writer was killed; its
	 * temporary files go now (a short critical section does not wait for
	 * this), before the lock names this writer: killed meanwhile, it leaves
	 * the name for the next one to sweep. */
	if (!wait && prev[0] && strcmp(prev, d->owner) != 0) {
		uint64_t n, bytes;
		dir_leftovers(be, prev, true, &n, &bytes);
	}
	char own[64];
	int len = snprintf(own, sizeof own, "%s\n", d->owner);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, own, (size_t)len, 0) < 0)
		return hs_err(errno, "cannot write lock %s/%s: %s", be->where, path, strerror(errno));
	pthread_mutex_lock(&d->held_lock);
	int slot = -1;
	for (int k = 0; k < MAX_HELD && slot < 0; k++)
		if (d->held[k].fd < 0)
			slot = k;
	if (slot >= 0) {
		d->held[slot].fd = fd;
		snprintf(d->held[slot].path, sizeof d->held[slot].path, "%s", path);
	}
	pthread_mutex_unlock(&d->held_lock);
	if (slot < 0) {
		unlinkat(d->rootfd, path, 0);
		return hs_err(EMFILE, "cannot take lock %s/%s: too many locks held", be->where, path);
	}
	*token = HS_TAKE_FD(fd);
	return 0;
}

static void dir_unlock(struct hs_backend *be, int token)
{
	struct dir_backend *d = D(be);
	if (token < 0)
		return;
	/* Remove the file, then let go: a waiter that gets the lock of a removed
	 * file sees it is gone and takes the new one (see dir_lock). */
	pthread_mutex_lock(&d->held_lock);
	for (int k = 0; k < MAX_HELD; k++)
		if (d->held[k].fd == token) {
			unlinkat(d->rootfd, d->held[k].path, 0);
			d->held[k].fd = -1;
		}
	pthread_mutex_unlock(&d->held_lock);
	close(token);
}

static void dir_close(struct hs_backend *be)
{
	struct dir_backend *d = D(be);
	/* A batch never synced (the capture failed): its temporaries go. */
	for (size_t k = 0; k < d->nbatch; k++) {
		unlinkat(d->rootfd, d->batch[k].tmp, 0);
		free(d->batch[k].tmp);
		free(d->batch[k].key);
	}
	free(d->batch);
	pthread_mutex_destroy(&d->batch_lock);
	pthread_mutex_destroy(&d->commit_lock);
	strset_free(&d->dirty);
	strset_free(&d->dirs);
	pthread_mutex_destroy(&d->dirty_lock);
	pthread_mutex_destroy(&d->dirs_lock);
	pthread_mutex_destroy(&d->held_lock);
	close(d->rootfd);
	free(be->where);
	free(d);
}

static const struct hs_backend_ops dir_ops;

int hs_backend_dir_clean_tmp(struct hs_backend *be)
{
	if (be->ops != &dir_ops)
		return 0;
	uint64_t n, bytes;
	int r = dir_leftovers(be, NULL, true, &n, &bytes);
	return r < 0 ? r : (int)(n > INT32_MAX ? INT32_MAX : n);
}

static const struct hs_backend_ops dir_ops = {
	.get = dir_get,
	.get_range = dir_get_range,
	.remove = dir_remove,
	.put = dir_put,
	.exists = dir_exists,
	.list = dir_list,
	.list_sized = dir_list_sized,
	.copy = dir_copy,
	.sync = dir_sync,
	.lock = dir_lock,
	.unlock = dir_unlock,
	.leftovers = dir_leftovers,
	.close = dir_close,
};

int hs_backend_dir_open(const char *path, int create, struct hs_backend **out)
{
	if (create && mkdir(path, 0755) < 0 && errno != EEXIST)
		return hs_err(errno, "cannot create store directory %s: %s", path, strerror(errno));
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return hs_err(e, "store %s does not exist", path);
		if (e == ENOTDIR)
			return hs_err(e, "store %s is not a directory", path);
		return hs_err(e, "cannot open store %s: %s", path, strerror(e));
	}
	struct dir_backend *d = calloc(1, sizeof *d);
	if (!d || !(d->be.where = strdup(path))) {
		free(d);
		close(fd);
		return -ENOMEM;
	}
	d->be.ops = &dir_ops;
	d->rootfd = fd;
	d->pid = (int)getpid();
	uint32_t tag = 0;
	if (getrandom(&tag, sizeof tag, 0) != sizeof tag)
		tag = (uint32_t)(hs_now_s() * 1e6) ^ (uint32_t)(uintptr_t)d;
	snprintf(d->owner, sizeof d->owner, "%d-%08x-%s", d->pid, tag, hs_backend_dir_host_tag());
	for (int k = 0; k < MAX_HELD; k++)
		d->held[k].fd = -1;
	pthread_mutex_init(&d->held_lock, NULL);
	pthread_mutex_init(&d->dirty_lock, NULL);
	pthread_mutex_init(&d->dirs_lock, NULL);
	pthread_mutex_init(&d->batch_lock, NULL);
	pthread_mutex_init(&d->commit_lock, NULL);
	*out = &d->be;
	return 0;
}

int hs_backend_check_create(const char *where)
{
	if (strstr(where, "://"))
		return 0;
	struct stat st;
	if (stat(where, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : hs_err(ENOTDIR, "store %s is not a directory", where);
	if (errno != ENOENT)
		return hs_err(errno, "cannot create store directory %s: %s", where, strerror(errno));
	/* The parent: what mkdir(where) needs. */
	char parent[4096];
	size_t n = strlen(where);
	while (n > 1 && where[n - 1] == '/')
		n--;
	while (n > 0 && where[n - 1] != '/')
		n--;
	snprintf(parent, sizeof parent, "%.*s", n ? (int)n : 1, n ? where : ".");
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode) || access(parent, W_OK | X_OK) < 0) {
		int e = errno ? errno : ENOTDIR;
		return hs_err(e, "cannot create store directory %s: %s", where,
			      e == ENOENT ? "its parent directory does not exist" : strerror(e));
	}
	return 0;
}

int hs_backend_open(const char *where, int create, struct hs_backend **out)
{
	if (!*where)
		return hs_err(EINVAL, "the store location is empty (give a directory or a URL)");
	if (strncasecmp(where, "http://", 7) == 0 || strncasecmp(where, "https://", 8) == 0)
		return hs_backend_http_open(where, out);
	if (strncasecmp(where, "s3://", 5) == 0)
		return hs_backend_s3_open(where, create, out);
	if (strstr(where, "://")) {
		char scheme[16];
		snprintf(scheme, sizeof scheme, "%.*s", (int)strcspn(where, ":"), where);
		return hs_err(EPROTONOSUPPORT, "store URL scheme '%s' is not supported (http, https or s3)", scheme);
	}
	return hs_backend_dir_open(where, create, out);
}
