/* hsfault: a test-only fault layer, loaded with LD_PRELOAD, that makes the
 * Nth write, fsync or rename on chosen paths fail (ENOSPC, EIO, ...) or come
 * out short, so tests can prove what a command leaves behind when the disk
 * fills or fails at a chosen moment. Driven by the environment:
 *
 *   HSFAULT_OPS    which calls: a comma list of write (write, pwrite),
 *                  fsync (fsync, fdatasync, syncfs), rename (rename,
 *                  renameat, renameat2); default: all three
 *   HSFAULT_PATH   fnmatch(3) pattern the call's path must match ('*' also
 *                  matches '/'); for a descriptor, the file it is open on;
 *                  for a rename, the new name; default: every path
 *   HSFAULT_NTH    the matching call that fails first, counted from 1 per
 *                  process (a forked child counts on from its parent's)
 *   HSFAULT_TIMES  how many matching calls fail from there (0: all; default 1)
 *   HSFAULT_ERR    ENOSPC, EIO, EDQUOT, EROFS or EFBIG; or "short": a write
 *                  writes half of what it was given (at least one byte
 *                  less) and says so, as a full disk may (a sync or a
 *                  rename then fails with EIO); or "stall": the call waits
 *                  HSFAULT_STALL_MS (default 5000) ms, then runs as asked
 *                  (a disk that hangs: a test kills the process meanwhile)
 *   HSFAULT_LOG    a file to which each injected fault appends one line
 *                  ("write /path ENOSPC call 3"), so a test knows it fired
 *
 * Without HSFAULT_NTH the layer does nothing. Calls libc makes internally
 * (stdio's flushes) are not seen. */
/* pwrite and pwrite64 are both defined here: neither may be renamed to the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_SYNC = 2, OP_RENAME = 4 };

static struct {
	bool on;
	unsigned ops;
	const char *pattern;
	unsigned long nth, times;
	int err; /* 0: short */
	long stall_ms; /* > 0: stall instead of failing */
	const char *log;
} cfg;
static atomic_ulong calls; /* matching calls so far */

static const struct {
	const char *name;
	int err;
} errs[] = { { "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS }, { "EFBIG", EFBIG } };

__attribute__((constructor)) static void setup(void)
{
	const char *nth = getenv("HSFAULT_NTH"), *ops = getenv("HSFAULT_OPS"), *e = getenv("HSFAULT_ERR");
	const char *times = getenv("HSFAULT_TIMES");
	if (!nth || !*nth)
		return;
	cfg.nth = strtoul(nth, NULL, 10);
	cfg.times = times && *times ? strtoul(times, NULL, 10) : 1;
	cfg.pattern = getenv("HSFAULT_PATH");
	cfg.log = getenv("HSFAULT_LOG");
	cfg.ops = ops && *ops ? 0 : OP_WRITE | OP_SYNC | OP_RENAME;
	if (ops && strstr(ops, "write"))
		cfg.ops |= OP_WRITE;
	if (ops && strstr(ops, "sync"))
		cfg.ops |= OP_SYNC;
	if (ops && strstr(ops, "rename"))
		cfg.ops |= OP_RENAME;
	cfg.err = ENOSPC;
	if (e && !strcmp(e, "short"))
		cfg.err = 0;
	for (size_t i = 0; e && i < sizeof errs / sizeof *errs; i++)
		if (!strcmp(e, errs[i].name))
			cfg.err = errs[i].err;
	if (e && !strcmp(e, "stall")) {
		const char *ms = getenv("HSFAULT_STALL_MS");
		cfg.stall_ms = ms && *ms ? strtol(ms, NULL, 10) : 5000;
	}
	cfg.on = cfg.nth > 0;
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f)
		abort();
	return f;
}

/* The path a descriptor is open on, into out. */
static void fd_path(int fd, char *out, size_t cap)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	int saved = errno;
	ssize_t n = readlink(link, out, cap - 1);
	out[n > 0 ? n : 0] = 0;
	errno = saved;
}

/* name relative to dirfd, made absolute (cut to cap bytes). */
static void at_path(int dirfd, const char *name, char *out, size_t cap)
{
	char dir[PATH_MAX] = "";
	if (name[0] != '/' && dirfd == AT_FDCWD) {
		int saved = errno;
		if (!getcwd(dir, sizeof dir))
			dir[0] = 0;
		errno = saved;
	} else if (name[0] != '/') {
		fd_path(dirfd, dir, sizeof dir);
	}
	if ((size_t)snprintf(out, cap, "%s%s%s", dir, dir[0] ? "/" : "", name) >= cap)
		out[cap - 1] = 0;
}

/* Whether this call (op on path) fails, and with what: 1 fail, 0 go on. */
static int fires(unsigned op, const char *what, const char *path)
{
	if (!cfg.on || !(cfg.ops & op) || (cfg.pattern && fnmatch(cfg.pattern, path, 0) != 0))
		return 0;
	unsigned long n = atomic_fetch_add(&calls, 1) + 1;
	if (n < cfg.nth || (cfg.times && n >= cfg.nth + cfg.times))
		return 0;
	if (cfg.log) {
		int saved = errno;
		int fd = open(cfg.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			char line[PATH_MAX + 96];
			const char *e = cfg.stall_ms > 0 ? "stall" : "short";
			for (size_t i = 0; cfg.stall_ms <= 0 && i < sizeof errs / sizeof *errs; i++)
				if (errs[i].err == cfg.err)
					e = errs[i].name;
			int len = snprintf(line, sizeof line, "%s %.*s %s call %lu pid %d\n", what, PATH_MAX - 1, path, e, n,
					   (int)getpid());
			ssize_t (*w)(int, const void *, size_t) = next("write");
			if (len > 0 && w(fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1) < 0)
				(void)0;
			close(fd);
		}
		errno = saved;
	}
	if (cfg.stall_ms > 0) {
		int saved = errno;
		struct timespec ts = { cfg.stall_ms / 1000, (cfg.stall_ms % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		errno = saved;
		return 0;
	}
	return 1;
}

/* A failed write: -1 with the error, or (short) what half of it wrote. */
#define WRITE_FAULT(call, n)                                                 \
	do {                                                                 \
		if (cfg.err) {                                               \
			errno = cfg.err;                                     \
			return -1;                                           \
		}                                                            \
		size_t half = (n) > 1 ? (n) / 2 : 0;                         \
		if (!half) {                                                 \
			errno = ENOSPC;                                      \
			return -1;                                           \
		}                                                            \
		return call;                                                 \
	} while (0)

ssize_t write(int fd, const void *p, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = next("write");
	if (cfg.on && (cfg.ops & OP_WRITE) && n) {
		char path[PATH_MAX];
		fd_path(fd, path, sizeof path);
		if (fires(OP_WRITE, "write", path))
			WRITE_FAULT(real(fd, p, half), n);
	}
	return real(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		real = next("pwrite");
	if (cfg.on && (cfg.ops & OP_WRITE) && n) {
		char path[PATH_MAX];
		fd_path(fd, path, sizeof path);
		if (fires(OP_WRITE, "pwrite", path))
			WRITE_FAULT(real(fd, p, half, off), n);
	}
	return real(fd, p, n, off);
}

ssize_t pwrite64(int fd, const void *p, size_t n, off64_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off64_t);
	if (!real)
		real = next("pwrite64");
	if (cfg.on && (cfg.ops & OP_WRITE) && n) {
		char path[PATH_MAX];
		fd_path(fd, path, sizeof path);
		if (fires(OP_WRITE, "pwrite", path))
			WRITE_FAULT(real(fd, p, half, off), n);
	}
	return real(fd, p, n, off);
}

/* A failed sync: EIO for "short", else the error. */
static int sync_fault(void)
{
	errno = cfg.err ? cfg.err : EIO;
	return -1;
}

#define SYNC_CALL(name)                                              \
	int name(int fd)                                             \
	{                                                            \
		static int (*real)(int);                             \
		if (!real)                                           \
			real = next(#name);                          \
		if (cfg.on && (cfg.ops & OP_SYNC)) {                 \
			char path[PATH_MAX];                         \
			fd_path(fd, path, sizeof path);              \
			if (fires(OP_SYNC, #name, path))             \
				return sync_fault();                 \
		}                                                    \
		return real(fd);                                     \
	}
SYNC_CALL(fsync)
SYNC_CALL(fdatasync)
SYNC_CALL(syncfs)

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	if (!real)
		real = next("rename");
	if (cfg.on && (cfg.ops & OP_RENAME)) {
		char path[PATH_MAX];
		at_path(AT_FDCWD, to, path, sizeof path);
		if (fires(OP_RENAME, "rename", path))
			return sync_fault();
	}
	return real(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	static int (*real)(int, const char *, int, const char *);
	if (!real)
		real = next("renameat");
	if (cfg.on && (cfg.ops & OP_RENAME)) {
		char path[PATH_MAX];
		at_path(tofd, to, path, sizeof path);
		if (fires(OP_RENAME, "renameat", path))
			return sync_fault();
	}
	return real(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	if (!real)
		real = next("renameat2");
	if (cfg.on && (cfg.ops & OP_RENAME)) {
		char path[PATH_MAX];
		at_path(tofd, to, path, sizeof path);
		if (fires(OP_RENAME, "renameat2", path))
			return sync_fault();
	}
	return real(fromfd, from, tofd, to, flags);
}
