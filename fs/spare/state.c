/* The spare's state directory; see state.h. */
#include "spare/state.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/path.h"
#include "store/places.h"
#include <limits.h>
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define STATE_VERSION 1

static int write_json_atomic(int dirfd, const char *name, json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	char tmp[64];
	snprintf(tmp, sizeof tmp, ".%s.tmp", name);
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		return errno ? -errno : -EIO;
	if (renameat(dirfd, tmp, dirfd, name) < 0 || fsync(dirfd) < 0)
		return -errno;
	return 0;
}

static int save_attrs_locked(struct hs_state *s)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "format", json_object_new_string("hotspare-state"));
	json_object_object_add(o, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(o, "server", json_object_new_string(s->server));
	json_object_object_add(o, "point", json_object_new_string(s->point));
	json_object_object_add(o, "disk", json_object_new_string(s->disk));
	json_object_object_add(o, "store", json_object_new_string(s->store));
	json_object_object_add(o, "image_size", json_object_new_int64((int64_t)s->image_size));
	json_object_object_add(o, "chunk_size", json_object_new_int64(s->chunk_size));
	json_object_object_add(o, "uid", json_object_new_int64(s->uid));
	json_object_object_add(o, "gid", json_object_new_int64(s->gid));
	json_object_object_add(o, "mode", json_object_new_int(s->mode & 07777));
	int r = write_json_atomic(s->dirfd, "state.json", o);
	json_object_put(o);
	return r;
}

/* A field of state.json as text ("" when missing or null: never NULL). */
static const char *jstr(json_object *o, const char *key)
{
	json_object *v;
	const char *t = json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
	return t ? t : "";
}

static int load_json(struct hs_state *s, const struct hs_index *ix)
{
	_cleanup_close_ int fd = openat(s->dirfd, "state.json", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[8192];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	json_object *o = json_tokener_parse(buf), *v;
	const char *fmt = o && json_object_object_get_ex(o, "format", &v) ? json_object_get_string(v) : NULL;
	if (!fmt || strcmp(fmt, "hotspare-state") != 0) {
		json_object_put(o);
		return hs_err(EINVAL, "%s/state.json is not a hotspare state description", s->dir);
	}
#define GETS(key) jstr(o, key)
#define GETI(key) (json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1)
	char e1[96], e2[48]; /* what state.json says, quoted in a one-line message */
	int r = 0;
	if (GETI("version") != STATE_VERSION)
		r = hs_err(EPROTONOSUPPORT, "state %s has format version %lld; this hotspare reads version %d",
			   s->dir, (long long)GETI("version"), STATE_VERSION);
	else if (strcmp(GETS("server"), ix->server) != 0 || strcmp(GETS("point"), ix->id) != 0)
		r = hs_err(EINVAL, "state %s belongs to %s@%s, not %s@%s", s->dir,
			   hs_escape(GETS("server"), e1, sizeof e1), hs_escape(GETS("point"), e2, sizeof e2), ix->server,
			   ix->id);
	/* A state made before disks had names holds the point's only disk. */
	else if (json_object_object_get_ex(o, "disk", &v) && strcmp(GETS("disk"), ix->disk) != 0)
		r = hs_err(EINVAL, "state %s holds disk %s of %s@%s, not disk %s", s->dir,
			   hs_escape(GETS("disk"), e1, sizeof e1), ix->server, ix->id, ix->disk);
	else if ((uint64_t)GETI("image_size") != ix->image_size || GETI("chunk_size") != ix->chunk_size)
		r = hs_err(EINVAL, "state %s was made for another image size or chunk size", s->dir);
	if (r == 0) {
		s->uid = (uid_t)GETI("uid");
		s->gid = (gid_t)GETI("gid");
		s->mode = (mode_t)GETI("mode") & 07777;
	}
#undef GETS
#undef GETI
	json_object_put(o);
	return r;
}

/* True if the directory is empty, or holds only what an interrupted creation
 * leaves: our lock file (always made first) and the files made before
 * state.json, which is written last. A user's own disk.img without our lock
 * is never taken for one. */
static int dir_empty(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	static const char *const ours[] = { "disk.img", "map", ".state.json.tmp", "daemon.log", "daemon.exit", "clean" };
	struct dirent *de;
	bool lock = false, others = false, foreign = false;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (!strcmp(n, "lock")) {
			lock = true;
			continue;
		}
		bool mine = false;
		for (size_t k = 0; k < sizeof ours / sizeof *ours; k++)
			mine |= !strcmp(n, ours[k]);
		if (mine)
			others = true;
		else
			foreign = true;
	}
	closedir(d);
	return !foreign && (lock || !others);
}

static int create_files(struct hs_state *s, const struct hs_index *ix)
{
	/* O_TRUNC: files left by an interrupted creation are started over. */
	_cleanup_close_ int img = openat(s->dirfd, "disk.img", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	_cleanup_close_ int map = openat(s->dirfd, "map", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (img < 0 || map < 0)
		return hs_err(errno, "cannot create state files in %s: %s", s->dir, strerror(errno));
	if (ftruncate(img, (off_t)ix->image_size) < 0 || ftruncate(map, (off_t)ix->nchunks) < 0 ||
	    fsync(img) < 0 || fsync(map) < 0)
		return hs_err(errno, "cannot size state files in %s: %s", s->dir, strerror(errno));
	s->uid = getuid();
	s->gid = getgid();
	s->mode = 0600;
	/* state.json last: a directory without it is an unfinished creation. */
	int r = save_attrs_locked(s);
	if (r < 0)
		return hs_err(-r, "cannot write %s/state.json: %s", s->dir, strerror(-r));
	return 0;
}

static int take_lock(struct hs_state *s)
{
	s->lock_fd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return hs_err(errno, "cannot open %s/lock: %s", s->dir, strerror(errno));
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(s->lock_fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		return hs_err(EBUSY, "state %s is in use by another hotspare daemon%s%s%s", s->dir,
			      pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
	}
	return 0;
}

int hs_state_own(struct hs_state *s)
{
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(s->lock_fd, 0) < 0 || pwrite(s->lock_fd, pid, (size_t)len, 0) < 0)
		return -errno;
	return 0;
}

int hs_state_check_place(const char *what, const char *dir, const char *mountpoint,
			 const struct hs_place *reads, size_t n)
{
	char fuse[PATH_MAX];
	int r = hs_mount_fuse_above(dir, fuse, sizeof fuse);
	if (r < 0)
		return hs_err(-r, "cannot resolve %s %s: %s", what, dir, strerror(-r));
	if (r == 1)
		return hs_err(EINVAL, "%s %s is on the FUSE mount %s: a spare's state must be on a local filesystem",
			      what, dir, fuse);
	if (mountpoint) {
		struct hs_place self = { what, dir };
		if ((r = hs_places_check("MOUNTPOINT", mountpoint, &self, 1, true)) < 0 ||
		    (r = hs_places_check("MOUNTPOINT", mountpoint, reads, n, true)) < 0)
			return r;
	}
	return hs_places_check(what, dir, reads, n, true);
}

/* Open a state; with repair, a disk.img that something cut short is grown
 * back to the image's size (then everything it held is checked, as after an
 * unclean stop), unless guest writes were in the part cut off. */
static int open_state(const char *dir, const struct hs_index *ix, const char *where, bool repair,
		      struct hs_state **out)
{
	struct hs_state *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->dirfd = s->image_fd = s->map_fd = s->lock_fd = -1;
	pthread_mutex_init(&s->map_lock, NULL);
	hs_gsync_init(&s->image_sync, -1);
	hs_gsync_init(&s->map_sync, -1);
	pthread_mutex_init(&s->attr_lock, NULL);
	pthread_mutex_init(&s->flush_lock, NULL);
	s->dir = strdup(dir);
	s->store = strdup(where);
	s->nchunks = ix->nchunks;
	s->image_size = ix->image_size;
	s->chunk_size = ix->chunk_size;
	snprintf(s->server, sizeof s->server, "%s", ix->server);
	snprintf(s->point, sizeof s->point, "%s", ix->id);
	snprintf(s->disk, sizeof s->disk, "%s", ix->disk);
	int r = 0;
	if (!s->dir || !s->store) {
		r = -ENOMEM;
		goto fail;
	}
	bool made = mkdir(dir, 0700) == 0;
	if (!made && errno != EEXIST) {
		r = hs_err(errno, "cannot create state directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = hs_err(errno, "cannot open state directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((r = hs_state_dir_check(s->dirfd, dir)) < 0) {
		if (made)
			rmdir(dir); /* a refusal leaves nothing behind */
		goto fail;
	}
	/* Refuse a directory that is neither a state nor empty before
	 * creating anything in it (not even the lock). */
	if (faccessat(s->dirfd, "state.json", F_OK, 0) < 0) {
		r = errno == ENOENT ? dir_empty(s->dirfd) : -errno;
		if (r == 0)
			r = hs_err(EINVAL, "%s is not empty and holds no hotspare state (no state.json)", dir);
		if (r < 0)
			goto fail;
	}
	if ((r = take_lock(s)) < 0)
		goto fail;
	r = load_json(s, ix);
	bool created = false;
	if (r == -ENOENT) {
		r = dir_empty(s->dirfd);
		if (r == 0)
			r = hs_err(EINVAL, "%s is not empty and holds no hotspare state (no state.json)", dir);
		if (r > 0) {
			r = create_files(s, ix);
			created = true;
		}
	}
	if (r < 0)
		goto fail;
	s->image_fd = openat(s->dirfd, "disk.img", O_RDWR | O_CLOEXEC);
	s->map_fd = openat(s->dirfd, "map", O_RDWR | O_CLOEXEC);
	s->image_sync.fd = s->image_fd;
	s->map_sync.fd = s->map_fd;
	struct stat ist, mst;
	if (s->image_fd < 0 || s->map_fd < 0 || fstat(s->image_fd, &ist) < 0 || fstat(s->map_fd, &mst) < 0) {
		r = hs_err(errno, "cannot open the state files in %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((uint64_t)mst.st_size != ix->nchunks) {
		r = hs_err(EINVAL, "state %s is damaged (its map has the wrong size)", dir);
		goto fail;
	}
	bool cut = (uint64_t)ist.st_size < ix->image_size;
	if ((uint64_t)ist.st_size > ix->image_size || (cut && !repair)) {
		r = hs_err(EINVAL, "state %s is damaged: disk.img is %llu bytes, not %llu%s", dir,
			   (unsigned long long)ist.st_size, (unsigned long long)ix->image_size,
			   cut ? " ('hotspare scrub' on the state grows it back and fetches what was lost)" : "");
		goto fail;
	}
	s->map = malloc(ix->nchunks ? ix->nchunks : 1);
	s->durable = malloc(ix->nchunks ? ix->nchunks : 1);
	if (!s->map || !s->durable) {
		r = -ENOMEM;
		goto fail;
	}
	size_t got = 0;
	while (got < ix->nchunks) {
		ssize_t n = pread(s->map_fd, s->durable + got, ix->nchunks - got, (off_t)got);
		if (n <= 0) {
			r = hs_err(n < 0 ? errno : EIO, "cannot read %s/map", dir);
			goto fail;
		}
		got += (size_t)n;
	}
	for (uint64_t i = 0; i < ix->nchunks; i++)
		if (s->durable[i] > HS_WRITTEN) {
			r = hs_err(EINVAL, "state %s is damaged (bad map entry %llu)", dir, (unsigned long long)i);
			goto fail;
		}
	memcpy(s->map, s->durable, ix->nchunks);
	if (cut) {
		/* The guest's bytes in the part cut off are gone: nothing can bring
		 * them back, and the point's bytes would be wrong data for them. */
		uint64_t lost = 0;
		for (uint64_t i = (uint64_t)ist.st_size / ix->chunk_size; i < ix->nchunks; i++)
			lost += s->map[i] == HS_WRITTEN;
		if (lost) {
			r = hs_err(EIO, "state %s cannot be repaired: disk.img was cut to %llu bytes and %llu chunks the "
				   "guest wrote were in the part cut off", dir, (unsigned long long)ist.st_size,
				   (unsigned long long)lost);
			goto fail;
		}
		if (ftruncate(s->image_fd, (off_t)ix->image_size) < 0 || fsync(s->image_fd) < 0) {
			r = hs_err(errno, "cannot grow %s/disk.img back: %s", dir, strerror(errno));
			goto fail;
		}
	}
	if ((r = hs_state_own(s)) < 0)
		goto fail;
	/* The clean mark goes now, durably: a crash from here on is seen by the
	 * next open. Without it, the last stop was not clean. */
	s->unclean = cut || (!created && faccessat(s->dirfd, "clean", F_OK, 0) < 0);
	if (!s->unclean && !created && (unlinkat(s->dirfd, "clean", 0) < 0 || fsync(s->dirfd) < 0)) {
		r = hs_err(errno, "cannot update %s: %s", dir, strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	hs_state_close(s);
	return r;
}

/* The first directory above path (by its name, p holding it) that every
 * user may write to without the sticky bit: its owner cannot keep anyone
 * from renaming what it holds. 1 with its name in p, 0 if none, -errno. */
static int loose_ancestor(char *p)
{
	while (hs_path_up(p)) {
		struct stat st;
		if (stat(p, &st) < 0)
			return -errno;
		if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
			return 1;
	}
	return 0;
}

/* A directory others may write to lets them replace the image a VM boots
 * (or plant the files the daemon and umount read): refused. So is one in a
 * directory anyone may write to without the sticky bit (/tmp has it): they
 * could move the whole state away and put their own in its place. Both the
 * path as given (its symlinks' directories) and the one it resolves to. */
int hs_state_dir_check(int dirfd, const char *dir)
{
	struct stat st;
	if (fstat(dirfd, &st) < 0)
		return hs_err(errno, "cannot stat state directory %s: %s", dir, strerror(errno));
	if (st.st_mode & S_IWOTH)
		return hs_err(EPERM, "state directory %s is writable by every user: anyone could replace the "
				     "spare's files (chmod o-w it)", dir);
	char p[PATH_MAX];
	for (int pass = 0; pass < 2; pass++) {
		int r = pass == 0 ? hs_path_lexical(dir, p, sizeof p) : hs_path_canon(dir, p, sizeof p);
		if (r == 0)
			r = loose_ancestor(p);
		if (r < 0)
			return hs_err(-r, "cannot check the directories above state directory %s: %s", dir,
				      strerror(-r));
		if (r == 1)
			return hs_err(EPERM, "state directory %s lies in %s, which every user may write to: anyone "
					     "could move the state away and put another in its place (chmod o-w %s, "
					     "or chmod +t %s)", dir, p, p, p);
	}
	return 0;
}

int hs_state_open(const char *dir, const struct hs_index *ix, const char *where, struct hs_state **out)
{
	return open_state(dir, ix, where, false, out);
}

int hs_state_open_repair(const char *dir, const struct hs_index *ix, const char *where, struct hs_state **out)
{
	return open_state(dir, ix, where, true, out);
}

int hs_state_describe(const char *dir, struct hs_state_desc *d)
{
	memset(d, 0, sizeof *d);
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/state.json", dir);
	json_object *o = json_object_from_file(path), *v;
	if (!o)
		return hs_err(errno == ENOENT ? ENOENT : EINVAL, "%s holds no hotspare state (no readable state.json)", dir);
	const char *fmt = json_object_object_get_ex(o, "format", &v) ? json_object_get_string(v) : NULL;
	int r = 0;
	if (!fmt || strcmp(fmt, "hotspare-state") != 0)
		r = hs_err(EINVAL, "%s/state.json is not a hotspare state description", dir);
	if (r == 0) {
		snprintf(d->server, sizeof d->server, "%s", jstr(o, "server"));
		snprintf(d->point, sizeof d->point, "%s", jstr(o, "point"));
		snprintf(d->disk, sizeof d->disk, "%s", jstr(o, "disk"));
		if (!(d->store = strdup(jstr(o, "store"))))
			r = -ENOMEM;
	}
	json_object_put(o);
	return r;
}

int hs_state_check_image(struct hs_state *s)
{
	struct stat st;
	if (!hs_state_damaged(s)) {
		if (fstat(s->image_fd, &st) < 0)
			return hs_err(errno, "cannot stat %s/disk.img: %s", s->dir, strerror(errno));
		if ((uint64_t)st.st_size >= s->image_size)
			return 0;
		HS_LOCK_SCOPE(&s->map_lock);
		if (!s->damaged) {
			snprintf(s->damage, sizeof s->damage,
				 "%s/disk.img was cut to %llu of %llu bytes by something other than hotspare: "
				 "the state is damaged (unmount, then 'hotspare scrub')",
				 s->dir, (unsigned long long)st.st_size, (unsigned long long)s->image_size);
			__atomic_store_n(&s->damaged, 1, __ATOMIC_RELEASE);
		}
	}
	return hs_err(EIO, "%s", s->damage);
}

int hs_state_mark_clean(struct hs_state *s)
{
	if (hs_state_damaged(s))
		return -EIO;
	int fd = openat(s->dirfd, "clean", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fsync(s->dirfd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

void hs_state_close(struct hs_state *s)
{
	if (!s)
		return;
	if (s->image_fd >= 0)
		close(s->image_fd);
	if (s->map_fd >= 0)
		close(s->map_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	pthread_mutex_destroy(&s->map_lock);
	hs_gsync_destroy(&s->image_sync);
	hs_gsync_destroy(&s->map_sync);
	pthread_mutex_destroy(&s->attr_lock);
	pthread_mutex_destroy(&s->flush_lock);
	free(s->store);
	free(s->map);
	free(s->durable);
	free(s->dirty);
	free(s->dir);
	free(s);
}

static int dirty_push_locked(struct hs_state *s, uint64_t i, uint8_t v)
{
	if (hs_grow(&s->dirty, &s->capdirty, s->ndirty + 1, sizeof *s->dirty) < 0)
		return -ENOMEM;
	s->dirty[s->ndirty++] = (struct hs_dirty){ i, v };
	return 0;
}

int hs_state_set(struct hs_state *s, uint64_t i, uint8_t st)
{
	HS_LOCK_SCOPE(&s->map_lock);
	if (st <= __atomic_load_n(&s->map[i], __ATOMIC_RELAXED))
		return 0; /* states only move forward: absent, present, written */
	__atomic_store_n(&s->map[i], st, __ATOMIC_RELEASE);
	return dirty_push_locked(s, i, st);
}

int hs_state_mark_written(struct hs_state *s, uint64_t i, bool nonzero_base)
{
	if (__atomic_load_n(&s->durable[i], __ATOMIC_ACQUIRE) == HS_WRITTEN)
		return 0;
	pthread_mutex_lock(&s->map_lock);
	if (s->durable[i] == HS_WRITTEN) {
		pthread_mutex_unlock(&s->map_lock);
		return 0;
	}
	int changed = s->map[i] != HS_WRITTEN;
	/* The written bit also says "present": the chunk's data must be durable
	 * first unless it is a hole (zero chunk) or already durably present. */
	bool data_first = s->durable[i] == HS_ABSENT && (nonzero_base || !changed);
	pthread_mutex_unlock(&s->map_lock);
	int r = data_first ? hs_gsync(&s->image_sync) : 0;
	if (r < 0)
		return r;
	/* The byte goes into the map file under map_lock, and durable[] says so
	 * at once: a flush writing its neighbours then writes it too, never the
	 * old value over it. It is relied on only once the sync below returns
	 * (the chunk's claim keeps everyone else waiting until then). */
	pthread_mutex_lock(&s->map_lock);
	uint8_t was = s->durable[i], v = HS_WRITTEN;
	if (pwrite(s->map_fd, &v, 1, (off_t)i) != 1) {
		r = errno ? -errno : -EIO;
		pthread_mutex_unlock(&s->map_lock);
		return r;
	}
	__atomic_store_n(&s->durable[i], HS_WRITTEN, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->map_lock);
	r = hs_gsync(&s->map_sync);
	if (r < 0) {
		/* Not durable: the next change of this chunk writes and syncs it again. */
		HS_LOCK_SCOPE(&s->map_lock);
		if (s->map[i] != HS_WRITTEN)
			__atomic_store_n(&s->durable[i], was, __ATOMIC_RELEASE);
		return r;
	}
	__atomic_store_n(&s->map[i], HS_WRITTEN, __ATOMIC_RELEASE);
	return changed;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct hs_dirty *x = a, *y = b;
	return x->i < y->i ? -1 : x->i > y->i;
}

int hs_state_flush(struct hs_state *s)
{
	HS_LOCK_SCOPE(&s->flush_lock);
	/* A cut image: the dirty entries would vouch for bytes that are gone. */
	int cr = hs_state_check_image(s);
	if (cr < 0)
		return cr;
	/* Entries taken before the image sync vouch only for data written before it. */
	pthread_mutex_lock(&s->map_lock);
	struct hs_dirty *d = s->dirty;
	size_t n = s->ndirty;
	s->dirty = NULL;
	s->ndirty = s->capdirty = 0;
	pthread_mutex_unlock(&s->map_lock);

	int r = hs_gsync(&s->image_sync);
	pthread_mutex_lock(&s->map_lock);
	if (r < 0) {
		/* Still owed to the map: keep them for the next flush. */
		for (size_t k = 0; k < n; k++)
			if (dirty_push_locked(s, d[k].i, d[k].v) < 0)
				break;
		pthread_mutex_unlock(&s->map_lock);
		free(d);
		return r;
	}
	if (n)
		qsort(d, n, sizeof *d, cmp_entry);
	/* The map's new bytes, a run at a time; durable[] learns them only once
	 * they are synced, and a failed write or sync keeps them owed, so no later
	 * flush reports done while the map lacks them. */
	uint8_t *run = n ? malloc(n) : NULL;
	if (n && !run)
		r = -ENOMEM;
	for (size_t k = 0; k < n && r == 0;) {
		size_t e = k;
		/* A run of consecutive chunks is written with one pwrite. */
		while (e + 1 < n && d[e + 1].i <= d[e].i + 1)
			e++;
		uint64_t a = d[k].i, len = d[e].i - a + 1; /* len <= e - k + 1 <= n */
		memcpy(run, s->durable + a, len);
		for (size_t m = k; m <= e; m++)
			if (d[m].v > run[d[m].i - a])
				run[d[m].i - a] = d[m].v;
		errno = 0;
		if (pwrite(s->map_fd, run, len, (off_t)a) != (ssize_t)len)
			r = errno ? -errno : -EIO;
		k = e + 1;
	}
	pthread_mutex_unlock(&s->map_lock);
	/* The map's sync outside the lock: writers go on meanwhile, and syncs
	 * asked for at once are shared (basics/gsync.h). */
	if (r == 0 && n)
		r = hs_gsync(&s->map_sync);
	pthread_mutex_lock(&s->map_lock);
	for (size_t k = 0; k < n; k++) {
		if (r < 0) {
			if (dirty_push_locked(s, d[k].i, d[k].v) < 0)
				break;
		} else if (d[k].v > s->durable[d[k].i]) {
			__atomic_store_n(&s->durable[d[k].i], d[k].v, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&s->map_lock);
	free(run);
	free(d);
	return r;
}

int hs_state_set_attr(struct hs_state *s, uid_t uid, gid_t gid, mode_t mode)
{
	HS_LOCK_SCOPE(&s->attr_lock);
	uid_t ou = s->uid;
	gid_t og = s->gid;
	mode_t om = s->mode;
	s->uid = uid;
	s->gid = gid;
	s->mode = mode & 07777;
	int r = save_attrs_locked(s);
	if (r < 0) {
		s->uid = ou;
		s->gid = og;
		s->mode = om;
	}
	return r;
}
