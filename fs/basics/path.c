/* Path resolution and comparison; see path.h. */
#include "basics/path.h"
#include "basics/cleanup.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WORK (2 * PATH_MAX)

/* Drop the last component of an absolute path held without its leading "/"
 * form: "" stands for "/". */
static void pop(char *res)
{
	char *slash = strrchr(res, '/');
	if (slash)
		*slash = 0;
	else
		res[0] = 0;
}

/* Append "/" comp to res (WORK bytes). 0 or -ENAMETOOLONG. */
static int push(char *res, const char *comp, size_t n)
{
	size_t len = strlen(res);
	if (len + 1 + n + 1 > WORK)
		return -ENAMETOOLONG;
	res[len] = '/';
	memcpy(res + len + 1, comp, n);
	res[len + 1 + n] = 0;
	return 0;
}

/* path made absolute (relative to the current directory) into abs (WORK bytes). */
static int absolute(const char *path, char *abs)
{
	if (!*path)
		return -ENOENT;
	if (path[0] == '/') {
		if (strlen(path) >= WORK)
			return -ENAMETOOLONG;
		strcpy(abs, path);
		return 0;
	}
	if (!getcwd(abs, WORK))
		return -errno;
	size_t len = strlen(abs);
	if (len + 1 + strlen(path) + 1 > WORK)
		return -ENAMETOOLONG;
	abs[len] = '/';
	strcpy(abs + len + 1, path);
	return 0;
}

static int finish(const char *res, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s", res[0] ? res : "/");
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int hs_path_lexical(const char *path, char *out, size_t cap)
{
	_cleanup_free_ char *abs = malloc(WORK), *res = malloc(WORK);
	if (!abs || !res)
		return -ENOMEM;
	int r = absolute(path, abs);
	if (r < 0)
		return r;
	res[0] = 0;
	for (char *save = NULL, *c = strtok_r(abs, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, ".."))
			pop(res);
		else if ((r = push(res, c, strlen(c))) < 0)
			return r;
	}
	return finish(res, out, cap);
}

int hs_path_canon(const char *path, char *out, size_t cap)
{
	_cleanup_free_ char *rest = malloc(WORK), *res = malloc(WORK), *tmp = malloc(WORK);
	if (!rest || !res || !tmp)
		return -ENOMEM;
	int r = absolute(path, rest);
	if (r < 0)
		return r;
	res[0] = 0;
	bool exists = true;
	int links = 0;
	size_t at = 0; /* next character of rest to read */
	while (rest[at]) {
		while (rest[at] == '/')
			at++;
		size_t n = strcspn(rest + at, "/");
		if (n == 0)
			break;
		const char *comp = rest + at;
		at += n;
		if (n == 1 && comp[0] == '.')
			continue;
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			/* res is resolved (no symlinks in it), so its parent is lexical. */
			pop(res);
			continue;
		}
		if ((r = push(res, comp, n)) < 0)
			return r;
		if (!exists)
			continue;
		struct stat st;
		if (lstat(res, &st) < 0) {
			/* ENOTCONN: a FUSE mount whose daemon died; it is there, but
			 * nothing under it can be looked at. */
			if (errno != ENOENT && errno != ENOTDIR && errno != ENOTCONN)
				return -errno;
			exists = false; /* the rest is a path not made yet (or unreachable) */
			continue;
		}
		if (!S_ISLNK(st.st_mode))
			continue;
		if (++links > 40)
			return -ELOOP;
		ssize_t len = readlink(res, tmp, WORK - 1);
		if (len < 0)
			return -errno;
		tmp[len] = 0;
		/* The link's target replaces it: read it, then what followed. */
		if ((size_t)len + 1 + strlen(rest + at) + 1 > WORK)
			return -ENAMETOOLONG;
		memmove(rest + len, rest + at, strlen(rest + at) + 1);
		memcpy(rest, tmp, (size_t)len);
		at = 0;
		pop(res);
		if (tmp[0] == '/')
			res[0] = 0;
	}
	return finish(res, out, cap);
}

bool hs_path_up(char *p)
{
	char *slash = strrchr(p, '/');
	if (!slash || !strcmp(p, "/"))
		return false;
	slash[slash == p] = 0; /* "/a/b" -> "/a"; "/a" -> "/" */
	return true;
}

int hs_path_has_prefix(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return 1;
	return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/');
}

/* The directories a bind mount may show elsewhere: dir and those below it,
 * two levels down (a store's chunks/ab and points/SERVER, a state's
 * disks/NAME), by device and inode; at most MAX_TREE of them. */
#define TREE_DEPTH 2
#define MAX_TREE 65536

struct tree {
	struct { dev_t dev; ino_t ino; } *v;
	size_t n, cap;
};

static int tree_add(struct tree *t, const struct stat *st)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		void *v = realloc(t->v, cap * sizeof *t->v);
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n].dev = st->st_dev;
	t->v[t->n].ino = st->st_ino;
	t->n++;
	return 0;
}

static bool tree_has(const struct tree *t, const struct stat *st)
{
	for (size_t k = 0; k < t->n; k++)
		if (t->v[k].dev == st->st_dev && t->v[k].ino == st->st_ino)
			return true;
	return false;
}

/* Add the directories under the open directory fd (which it closes), down
 * to depth more levels; symlinks are not followed. */
static int tree_walk(struct tree *t, int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0; /* unreadable: nothing to add */
	}
	struct dirent *e;
	int r = 0;
	while (r == 0 && t->n < MAX_TREE && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		r = tree_add(t, &st);
		if (r == 0 && depth > 1) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				r = tree_walk(t, sub, depth - 1);
		}
	}
	closedir(d);
	return r;
}

int hs_path_inside(const char *path, const char *dir)
{
	_cleanup_free_ char *p = malloc(PATH_MAX), *d = malloc(PATH_MAX);
	if (!p || !d)
		return -ENOMEM;
	int r = hs_path_canon(path, p, PATH_MAX);
	if (r == 0)
		r = hs_path_canon(dir, d, PATH_MAX);
	if (r < 0)
		return r;
	if (hs_path_has_prefix(p, d))
		return 1;
	struct stat ds, st;
	if (stat(d, &ds) < 0)
		return 0;
	/* dir, or a directory in it, reached another way (a bind mount). Only a
	 * directory is opened: a FIFO's open would wait for a writer. */
	struct tree t = { 0 };
	r = tree_add(&t, &ds);
	int fd = r == 0 && S_ISDIR(ds.st_mode) ? open(d, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC) : -1;
	if (fd >= 0)
		r = tree_walk(&t, fd, TREE_DEPTH);
	while (r == 0) {
		if (stat(p, &st) == 0 && tree_has(&t, &st))
			r = 1;
		else if (!hs_path_up(p))
			break;
	}
	free(t.v);
	return r;
}

const char *hs_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	if (!cap)
		return out;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t need = c >= 0x20 && c < 0x7f ? 1 : 4;
		if (o + need + 4 > cap) {
			if (o + 4 <= cap)
				o += (size_t)snprintf(out + o, cap - o, "...");
			break;
		}
		if (need == 1)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o < cap ? o : cap - 1] = 0;
	return out;
}

/* The length of the valid UTF-8 sequence of 2 to 4 bytes at s, or 0. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		: s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	for (int k = 1; k < n; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* Whether the valid UTF-8 sequence of n bytes at s is a character that
 * acts on the terminal or the text's direction rather than showing: C1
 * controls (U+0080-U+009F: NEL breaks a line, CSI starts an escape) and the
 * bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069). */
static bool utf8_control(const unsigned char *s, int n)
{
	if (n == 2)
		return s[0] == 0xc2 && s[1] <= 0x9f;
	if (n == 3 && s[0] == 0xe2 && s[1] == 0x80)
		return s[2] >= 0xaa && s[2] <= 0xae;
	if (n == 3 && s[0] == 0xe2 && s[1] == 0x81)
		return s[2] >= 0xa6 && s[2] <= 0xa9;
	return false;
}

void hs_fput_line(const char *text, FILE *f)
{
	const unsigned char *s = (const unsigned char *)text;
	while (*s) {
		int n = *s >= 0x80 ? utf8_len(s) : (*s >= 0x20 && *s != 0x7f);
		if (n > 1 && utf8_control(s, n)) {
			for (int k = 0; k < n; k++)
				fprintf(f, "\\x%02x", *s++);
			continue;
		}
		if (n) {
			fwrite(s, 1, (size_t)n, f);
			s += n;
		} else {
			fprintf(f, "\\x%02x", *s++);
		}
	}
}
