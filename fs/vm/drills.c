/* The drills directory; see drills.h. */
#include "vm/drills.h"
#include "basics/buf.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/path.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* A report file is a few KiB; anything much larger is not one. */
#define REPORT_MAX (4u << 20)

int hs_drills_report_dir(const char *dir, const char *server, const char *point, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s/%s", dir, server, point) >= cap)
		return hs_err(ENAMETOOLONG, "--drills %s: path too long", dir);
	return 0;
}

static int record_path(const char *dir, const char *server, const char *name, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s/%s", dir, server, name) >= cap)
		return hs_err(ENAMETOOLONG, "--drills %s: path too long", dir);
	return 0;
}

/* The record's lines as read (NULL when there is none). 0 or -errno. */
static int read_record(const char *path, char **text)
{
	*text = NULL;
	/* Never through a link someone planted in the drills directory. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 1 << 20)
		return hs_err(EBADMSG, "%s is not a record of proved points", path);
	char *b = malloc((size_t)st.st_size + 1);
	if (!b)
		return -ENOMEM;
	ssize_t n = read(fd, b, (size_t)st.st_size);
	if (n < 0) {
		int e = errno;
		free(b);
		return hs_err(e, "cannot read %s: %s", path, strerror(e));
	}
	b[n] = 0;
	*text = b;
	return 0;
}

int hs_drills_proved(const char *dir, const char *server, const char *point, char when[21])
{
	char path[PATH_MAX];
	int r = record_path(dir, server, "proved", path, sizeof path);
	_cleanup_free_ char *text = NULL;
	if (r == 0)
		r = read_record(path, &text);
	if (r < 0 || !text)
		return r;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char id[32], at[21];
		if (sscanf(line, "%31s %20s", id, at) == 2 && !strcmp(id, point)) {
			memcpy(when, at, sizeof at);
			return 1;
		}
	}
	return 0;
}

int hs_drills_prove(const char *dir, const char *server, const char *point, time_t when)
{
	char sdir[PATH_MAX], path[PATH_MAX], lock[PATH_MAX], tmp[PATH_MAX];
	int r = record_path(dir, server, "proved", path, sizeof path);
	if (r == 0)
		r = record_path(dir, server, ".proved.lock", lock, sizeof lock);
	if (r == 0 && (size_t)snprintf(tmp, sizeof tmp, "%s/%s/.proved.tmp.%d", dir, server, (int)getpid()) >= sizeof tmp)
		r = hs_err(ENAMETOOLONG, "--drills %s: path too long", dir);
	if (r < 0)
		return r;
	snprintf(sdir, sizeof sdir, "%s/%s", dir, server);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return hs_err(errno, "cannot create %s: %s", dir, strerror(errno));
	if (mkdir(sdir, 0755) < 0 && errno != EEXIST)
		return hs_err(errno, "cannot create %s: %s", sdir, strerror(errno));
	_cleanup_close_ int lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lfd < 0)
		return hs_err(errno, "cannot open %s: %s", lock, strerror(errno));
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return hs_err(errno, "cannot lock %s: %s", lock, strerror(errno));
	_cleanup_free_ char *text = NULL;
	if ((r = read_record(path, &text)) < 0)
		return r;
	/* The kept lines: the others' (not this point's), newest last, then this one. */
	char *lines[HS_DRILLS_PROVED_KEEP];
	size_t n = 0;
	for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char id[32];
		if (sscanf(line, "%31s", id) != 1 || !strcmp(id, point) || strlen(line) > 64)
			continue;
		if (n == HS_DRILLS_PROVED_KEEP - 1) {
			memmove(lines, lines + 1, (n - 1) * sizeof *lines);
			n--;
		}
		lines[n++] = line;
	}
	char at[21];
	hs_time_iso(when, at);
	FILE *f = fopen(tmp, "wxe");
	if (!f && errno == EEXIST && unlink(tmp) == 0)
		f = fopen(tmp, "wxe"); /* left by a killed run of this pid */
	if (!f)
		return hs_err(errno, "cannot write %s: %s", tmp, strerror(errno));
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	fprintf(f, "%s %s\n", point, at);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(f) != 0) {
		int e = errno;
		unlink(tmp);
		return hs_err(e, "cannot write %s: %s", tmp, strerror(e));
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return hs_err(e, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}

static double jtime(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !v)
		return -1;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_double(v);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* Parse "2026-11-25T12:18:56Z". */
static int iso_parse(const char *s, time_t *t)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	if (!end || *end)
		return -EINVAL;
	*t = timegm(&tm);
	return 0;
}

int hs_drill_brief_read(const char *path, struct hs_drill_brief *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->path, sizeof out->path, "%s", path);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > REPORT_MAX)
		return hs_err(EBADMSG, "%s is not a drill report", path);
	_cleanup_free_ char *b = malloc((size_t)st.st_size + 1);
	if (!b)
		return -ENOMEM;
	ssize_t n = read(fd, b, (size_t)st.st_size);
	if (n < 0)
		return hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	b[n] = 0;
	json_object *o = json_tokener_parse(b), *v;
	const char *server = o ? jstr(o, "server") : NULL, *point = o ? jstr(o, "point") : NULL;
	int r = 0;
	if (!json_object_is_type(o, json_type_object) || !server || !point ||
	    hs_server_name_check(server) < 0 || iso_parse(jstr(o, "started"), &out->started) < 0 ||
	    !json_object_object_get_ex(o, "passed", &v) || !json_object_is_type(v, json_type_boolean)) {
		hs_err_clear();
		r = hs_err(EBADMSG, "%s is not a drill report", path);
		goto out;
	}
	snprintf(out->server, sizeof out->server, "%s", server);
	snprintf(out->point, sizeof out->point, "%s", point);
	out->passed = json_object_get_boolean(v);
	out->startup_seconds = jtime(o, "startup_seconds");
	out->restore_seconds = jtime(o, "restore_seconds");
	out->online_seconds = jtime(o, "online_seconds");
	out->rpo_seconds = json_object_object_get_ex(o, "rpo_seconds", &v) ? json_object_get_int64(v) : -1;
	json_object *errs, *checks;
	if (json_object_object_get_ex(o, "errors", &errs) && json_object_is_type(errs, json_type_array) &&
	    json_object_array_length(errs) > 0)
		snprintf(out->error, sizeof out->error, "%s",
			 json_object_get_string(json_object_array_get_idx(errs, 0)) ?: "");
	if (json_object_object_get_ex(o, "checks", &checks) && json_object_is_type(checks, json_type_array))
		for (size_t i = 0; i < json_object_array_length(checks); i++) {
			json_object *c = json_object_array_get_idx(checks, i), *ok;
			out->checks++;
			out->checks_failed += !(json_object_object_get_ex(c, "ok", &ok) && json_object_get_boolean(ok));
		}
	if (json_object_object_get_ex(o, "interrupted", &v) && json_object_get_boolean(v))
		r = 1;
out:
	json_object_put(o);
	return r;
}

struct scan {
	struct hs_drill_brief *v;
	size_t n, cap;
	unsigned unreadable;
};

/* Keep b if it is the newest of its server so far. */
static int keep(struct scan *s, const struct hs_drill_brief *b)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].server, b->server) != 0)
			continue;
		if (b->started > s->v[i].started ||
		    (b->started == s->v[i].started && strcmp(b->path, s->v[i].path) > 0))
			s->v[i] = *b;
		return 0;
	}
	if (hs_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v) < 0)
		return -ENOMEM;
	s->v[s->n++] = *b;
	return 0;
}

/* The report in dir, if there is one; then (depth 1) the reports one level down. */
static int scan_dir(struct scan *s, int dfd, const char *path, int depth)
{
	_cleanup_free_ struct hs_drill_brief *b = malloc(sizeof *b);
	if (!b)
		return -ENOMEM;
	char file[PATH_MAX];
	if ((size_t)snprintf(file, sizeof file, "%s/report.json", path) < sizeof file &&
	    faccessat(dfd, "report.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		int r = hs_drill_brief_read(file, b);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			s->unreadable++;
		else if (r == 0 && keep(s, b) < 0)
			return -ENOMEM;
		hs_err_clear();
	}
	if (depth == 0)
		return 0;
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0; /* not listable: nothing more here */
	}
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		/* Directories only, never followed through a link. */
		int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		char next[PATH_MAX];
		if ((size_t)snprintf(next, sizeof next, "%s/%s", path, e->d_name) < sizeof next)
			r = scan_dir(s, sub, next, depth - 1);
		close(sub);
	}
	closedir(d);
	return r;
}

static int by_server(const void *a, const void *b)
{
	return strcmp(((const struct hs_drill_brief *)a)->server, ((const struct hs_drill_brief *)b)->server);
}

int hs_drills_scan(const char *dir, struct hs_drill_brief **out, size_t *n, unsigned *unreadable)
{
	*out = NULL;
	*n = 0;
	*unreadable = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hs_err(errno, "--drills %s: %s", dir, strerror(errno));
	struct scan s = { 0 };
	int r = 0;
	int top = dup(fd);
	DIR *d = top >= 0 ? fdopendir(top) : NULL;
	struct dirent *e;
	if (!d) {
		r = hs_err(errno, "--drills %s: %s", dir, strerror(errno));
		if (top >= 0)
			close(top);
	}
	while (r == 0 && d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		char next[PATH_MAX];
		if ((size_t)snprintf(next, sizeof next, "%s/%s", dir, e->d_name) < sizeof next)
			r = scan_dir(&s, sub, next, 1);
		close(sub);
	}
	if (d)
		closedir(d);
	close(fd);
	if (r < 0) {
		free(s.v);
		return r;
	}
	if (s.n)
		qsort(s.v, s.n, sizeof *s.v, by_server);
	*out = s.v;
	*n = s.n;
	*unreadable = s.unreadable;
	return 0;
}
