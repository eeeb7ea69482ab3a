/* Status JSON; see status.h. */
#include "spare/status.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "spare/set.h"
#include "basics/mem.h"
#include "basics/atomicfile.h"
#include "basics/path.h"
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* One spare's counters (a disk, or the whole point) into o. */
static void counters(json_object *o, const struct hs_spare_status *st, int open_writers)
{
#define I(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	I("size", st->size);
	I("chunk_size", st->chunk_size);
	I("chunks_total", st->chunks_total);
	I("chunks_present", st->chunks_present);
	I("chunks_written", st->chunks_written);
	I("bytes_from_seed", st->bytes_from_seed);
	I("bytes_from_store", st->bytes_from_store);
	I("bytes_read_ahead", st->bytes_read_ahead);
	json_object_object_add(o, "hydrate_bytes_per_s", json_object_new_double(st->hydrate_bytes_per_s));
	json_object_object_add(o, "hydrated", json_object_new_boolean(st->hydrated));
	I("open_writers", open_writers);
	I("errors", st->errors);
	I("chunks_unchecked", st->chunks_unchecked);
	I("chunks_repaired", st->chunks_repaired);
#undef I
	json_object_object_add(o, "last_error", st->last_error[0] ? json_object_new_string(st->last_error) : NULL);
}

int hs_status_json(struct hs_spare_set *set, const struct hs_status_info *info, struct hs_buf *out)
{
	struct hs_spare_status st;
	hs_spare_set_status(set, &st);
	json_object *o = json_object_new_object(), *disks = json_object_new_array();
	if (!o || !disks) {
		json_object_put(o);
		json_object_put(disks);
		return -ENOMEM;
	}
#define S(k, v) json_object_object_add(o, k, (v) ? json_object_new_string(v) : NULL)
	S("server", set->server);
	S("point", set->id);
	S("image", set->image[0]);
	S("mountpoint", info->mountpoint);
	S("store", info->store);
	S("state", info->state_dir);
	json_object_object_add(o, "pid", json_object_new_int64(info->pid));
	json_object_object_add(o, "pid_start", json_object_new_uint64(info->pid_start));
	/* Where this daemon leaves its last word (a daemon of an older
	 * version, still serving after an upgrade, leaves none). */
	S("exit_record", HS_EXIT_FILE);
	json_object_object_add(o, "read_only", json_object_new_boolean(info->read_only));
	json_object_object_add(o, "rss_bytes", json_object_new_int64((int64_t)hs_self_rss()));
#undef S
	int writers = 0;
	for (unsigned k = 0; k < set->n; k++) {
		struct hs_spare *sp = set->disk[k];
		struct hs_spare_status d;
		hs_spare_status(sp, &d);
		int w = atomic_load(&sp->open_writers);
		writers += w;
		json_object *j = json_object_new_object();
		json_object_object_add(j, "name", json_object_new_string(sp->ix->disk));
		json_object_object_add(j, "image", json_object_new_string(set->image[k]));
		counters(j, &d, w);
		json_object_array_add(disks, j);
	}
	counters(o, &st, writers);
	json_object_object_add(o, "disks", disks);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out->len = 0;
	int r = hs_buf_append(out, text, strlen(text));
	if (r == 0)
		r = hs_buf_append(out, "\n", 1);
	json_object_put(o);
	return r;
}

/* The most bytes of a status: a few hundred, and a last error. */
#define STATUS_MAX ((size_t)64 << 10)

int hs_status_read(const char *mountpoint, struct hs_buf *json, struct hs_status_brief *brief)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", mountpoint, HS_STATUS_FILE);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		if (e == ENOENT || e == ENOTDIR)
			return hs_err(ENOENT, "%s is not a hotspare mount", mountpoint);
		if (e == ENOTCONN)
			return hs_err(ENOTCONN, "%s is a hotspare mount whose daemon died (remount it, or "
				      "'hotspare umount' it)", mountpoint);
		return hs_err(e, "cannot read the status of %s: %s", mountpoint, strerror(e));
	}
	struct hs_buf b = { .max = STATUS_MAX };
	char tmp[4096];
	size_t n;
	int r = 0;
	while (r == 0 && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
		r = hs_buf_append(&b, tmp, n);
	if (r == 0 && ferror(f))
		r = hs_err(EIO, "cannot read the status of %s", mountpoint);
	if (r == 0)
		r = hs_buf_append(&b, "", 1);
	if (r == -EFBIG)
		r = hs_err(EBADMSG, "the daemon at %s sent an oversized status", mountpoint);
	json_object *o = r == 0 ? json_tokener_parse((const char *)b.data) : NULL, *v;
	if (r == 0 && !json_object_is_type(o, json_type_object))
		r = hs_err(EBADMSG, "the daemon at %s sent an unreadable status", mountpoint);
#define S(k) (json_object_object_get_ex(o, k, &v) && json_object_get_string(v) ? json_object_get_string(v) : "")
	if (r == 0 && brief) {
		memset(brief, 0, sizeof *brief);
		snprintf(brief->server, sizeof brief->server, "%s", S("server"));
		snprintf(brief->point, sizeof brief->point, "%s", S("point"));
		snprintf(brief->state_dir, sizeof brief->state_dir, "%s", S("state"));
		if ((size_t)snprintf(brief->image, sizeof brief->image, "%s/%s", S("mountpoint"), S("image")) >=
		    sizeof brief->image)
			brief->image[0] = 0;
		brief->read_only = json_object_object_get_ex(o, "read_only", &v) && json_object_get_boolean(v);
		brief->open_writers = json_object_object_get_ex(o, "open_writers", &v) ? json_object_get_int(v) : -1;
		brief->pid = json_object_object_get_ex(o, "pid", &v) ? json_object_get_int(v) : 0;
		brief->exit_record = !strcmp(S("exit_record"), HS_EXIT_FILE);
		brief->pid_start = json_object_object_get_ex(o, "pid_start", &v) && json_object_is_type(v, json_type_int)
					   ? json_object_get_uint64(v)
					   : 0;
		brief->ndisks = json_object_object_get_ex(o, "disks", &v) && json_object_is_type(v, json_type_array)
					? (unsigned)json_object_array_length(v)
					: 1;
		if (!brief->server[0] || brief->state_dir[0] != '/' || brief->image[0] != '/')
			r = hs_err(EBADMSG, "the daemon at %s sent a status without its server, state or image",
				   mountpoint);
	}
#undef S
	json_object_put(o);
	if (r == 0 && json) {
		json->len = 0;
		/* With its NUL past len: callers parse it as a string. */
		r = hs_buf_append(json, b.data, b.len);
		if (r == 0)
			json->len--;
		if (r == -EFBIG)
			r = hs_err(EBADMSG, "the daemon at %s sent an oversized status", mountpoint);
	}
	hs_buf_free(&b);
	return r;
}

struct exit_record {
	long pid;
	unsigned long long start;
	const char *error; /* NULL: closed cleanly */
};

static void fill_exit(FILE *out, const void *arg)
{
	const struct exit_record *e = arg;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int64(e->pid));
	json_object_object_add(o, "start", json_object_new_uint64(e->start));
	json_object_object_add(o, "ok", json_object_new_boolean(!e->error));
	if (e->error)
		json_object_object_add(o, "error", json_object_new_string(e->error));
	fchmod(fileno(out), 0600); /* like the state's other files */
	fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

int hs_status_exit_write(const struct hs_status_info *info, int result)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/" HS_EXIT_FILE, info->state_dir);
	const char *m = result < 0 ? hs_err_msg() : NULL;
	struct exit_record e = {
		.pid = info->pid,
		.start = info->pid_start,
		.error = result >= 0 ? NULL : m ? m : strerror(-result),
	};
	return hs_file_replace(path, "exit record", fill_exit, &e);
}

#define EXIT_MAX 4096 /* a record is a line of JSON: anything longer is not one */

/* The record at path, parsed: NULL unless it is a regular file of at most
 * EXIT_MAX bytes holding a JSON object (no FIFO, device or symlink planted
 * in its place is opened for long, or followed). */
static json_object *exit_read(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char buf[EXIT_MAX + 1];
	ssize_t n = -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= EXIT_MAX)
		n = read(fd, buf, EXIT_MAX + 1);
	if (fd >= 0)
		close(fd);
	if (n < 0 || n > EXIT_MAX)
		return NULL;
	buf[n] = 0;
	json_object *o = json_tokener_parse(buf);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The field key of o when it has type t. */
static json_object *field(json_object *o, const char *key, json_type t)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, t) ? v : NULL;
}

int hs_status_exit_check(const char *state_dir, long pid, unsigned long long start)
{
	char path[PATH_MAX + 32], dir[512], why[1024];
	snprintf(path, sizeof path, "%s/" HS_EXIT_FILE, state_dir);
	hs_escape(state_dir, dir, sizeof dir);
	json_object *o = exit_read(path), *p = o ? field(o, "pid", json_type_int) : NULL;
	json_object *s = o ? field(o, "start", json_type_int) : NULL, *ok = o ? field(o, "ok", json_type_boolean) : NULL;
	json_object *e = o ? field(o, "error", json_type_string) : NULL;
	int r = 0;
	if (!p || json_object_get_int64(p) != pid || !s || json_object_get_uint64(s) != start || !ok)
		r = hs_err(EIO, "the daemon (pid %ld) left no record that it closed the state (killed? see %s/daemon.log); "
				"a state not closed is checked at the next mount", pid, dir);
	else if (!json_object_get_boolean(ok))
		r = hs_err(EIO, "the daemon could not close its state cleanly: %s",
			   hs_escape(e ? json_object_get_string(e) : "no reason given", why, sizeof why));
	json_object_put(o);
	return r;
}
