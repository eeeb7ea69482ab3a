/* The daemon's control socket; see control.h. Commands run one at a time on
 * the control thread, so two checkpoints never overlap. */
#include "spare/control.h"
#include "spare/checkpoint.h"
#include "spare/scrub.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "spare/set.h"
#include "spare/status.h"
#include <json-c/json.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

struct hs_control {
	struct hs_spare_set *set;
	bool read_only;
	int fd;
	int stop_pipe[2];
	pthread_t th;
	char path[108];
};

static int addr_of(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path)
		return hs_err(ENAMETOOLONG, "control socket path %s is too long", path);
	strcpy(a->sun_path, path);
	return 0;
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

json_object *hs_checkpoint_json(const struct hs_checkpoint_result *res)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "point", json_object_new_string(res->id));
	json_object_object_add(o, "added", json_object_new_boolean(res->added));
	add_u64(o, "chunks_read", res->chunks_read);
	add_u64(o, "bytes_read", res->bytes_read);
	add_u64(o, "bytes_stored", res->bytes_stored);
	add_u64(o, "chunks_new", res->chunks_new);
	json_object_object_add(o, "seconds", json_object_new_double(res->seconds));
	json_object_object_add(o, "consistent", json_object_new_boolean(res->consistent));
	json_object_object_add(o, "incremental", json_object_new_boolean(res->incremental));
	json_object *disks = json_object_new_array();
	for (unsigned k = 0; k < res->ndisks; k++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "name", json_object_new_string(res->disks[k].name));
		add_u64(d, "chunks_read", res->disks[k].chunks_read);
		add_u64(d, "bytes_read", res->disks[k].bytes_read);
		add_u64(d, "bytes_stored", res->disks[k].bytes_stored);
		json_object_array_add(disks, d);
	}
	json_object_object_add(o, "disks", disks);
	return o;
}

static void reply_checkpoint(struct hs_control *c, int fd)
{
	struct hs_checkpoint_result res;
	hs_err_clear();
	int r = c->read_only ? hs_err(EROFS, "%s@%s is mounted read-only: nothing of its own to checkpoint",
				      c->set->server, c->set->id)
			     : hs_checkpoint(c->set, &res);
	json_object *o = r == 0 ? hs_checkpoint_json(&res) : json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
	if (r < 0) {
		const char *m = hs_err_msg();
		json_object_object_add(o, "error", json_object_new_string(m ? m : strerror(-r)));
		json_object_object_add(o, "errno", json_object_new_int(-r));
	}
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	dprintf(fd, "%s\n", s);
	json_object_put(o);
}

/* The scrub's result as one JSON line (the numbers of hs_scrub_stats). */
static void reply_scrub(struct hs_control *c, int fd)
{
	struct hs_scrub_stats st;
	hs_err_clear();
	int r = hs_scrub_set(c->set, true, 0, NULL, NULL, &st);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(r == 0));
	if (r < 0) {
		const char *m = hs_err_msg();
		json_object_object_add(o, "error", json_object_new_string(m ? m : strerror(-r)));
	}
#define I(k) json_object_object_add(o, #k, json_object_new_int64((int64_t)st.k))
	I(chunks_checked);
	I(bytes_checked);
	I(chunks_bad);
	I(chunks_repaired);
	I(chunks_failed);
	I(chunks_written);
	I(chunks_absent);
#undef I
	json_object_object_add(o, "seconds", json_object_new_double(st.seconds));
	dprintf(fd, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void serve_one(struct hs_control *c, int fd)
{
	char line[128];
	size_t n = 0;
	while (n < sizeof line - 1) {
		ssize_t k = read(fd, line + n, 1);
		if (k <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	if (strcmp(line, "checkpoint") == 0)
		reply_checkpoint(c, fd);
	else if (strcmp(line, "scrub") == 0)
		reply_scrub(c, fd);
	else
		dprintf(fd, "{\"ok\":false,\"error\":\"unknown command\"}\n");
}

static void *control_main(void *arg)
{
	struct hs_control *c = arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = c->stop_pipe[0], .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(c, fd);
		close(fd);
	}
	return NULL;
}

int hs_control_start(struct hs_spare_set *set, const char *path, bool read_only, struct hs_control **out)
{
	struct sockaddr_un a;
	int r = addr_of(path, &a);
	if (r < 0)
		return r;
	struct hs_control *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->set = set;
	c->read_only = read_only;
	snprintf(c->path, sizeof c->path, "%s", path);
	unlink(path); /* left by a daemon that was killed */
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(077);
	r = c->fd < 0 || bind(c->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(c->fd, 4) < 0 ? -errno : 0;
	umask(old);
	if (r == 0 && pipe2(c->stop_pipe, O_CLOEXEC) < 0)
		r = -errno;
	if (r == 0 && pthread_create(&c->th, NULL, control_main, c) != 0)
		r = -EAGAIN;
	if (r < 0) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return hs_err(-r, "cannot listen on %s: %s", path, strerror(-r));
	}
	*out = c;
	return 0;
}

void hs_control_stop(struct hs_control *c)
{
	if (!c)
		return;
	if (write(c->stop_pipe[1], "x", 1) == 1)
		pthread_join(c->th, NULL);
	close(c->stop_pipe[0]);
	close(c->stop_pipe[1]);
	close(c->fd);
	unlink(c->path);
	free(c);
}

int hs_control_call(const char *path, const char *cmd, char *out, size_t cap)
{
	struct sockaddr_un a;
	int r = addr_of(path, &a);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return hs_err(errno, "cannot reach the daemon at %s: %s", path, strerror(errno));
	if (dprintf(fd, "%s\n", cmd) < 0)
		return hs_err(errno, "cannot talk to the daemon at %s: %s", path, strerror(errno));
	size_t n = 0;
	ssize_t k;
	while (n < cap - 1 && (k = read(fd, out + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = 0;
	if (n == 0)
		return hs_err(EIO, "the daemon at %s closed without an answer", path);
	return 0;
}

int hs_control_checkpoint(const char *mountpoint, struct hs_checkpoint_result *res)
{
	memset(res, 0, sizeof *res);
	struct hs_status_brief st;
	int r = hs_status_read(mountpoint, NULL, &st);
	if (r < 0)
		return r;
	if (st.read_only)
		return hs_err(EROFS, "%s is a read-only mount of %s@%s: nothing of its own to checkpoint",
			      mountpoint, st.server, st.point);
	char sock[PATH_MAX + 16], reply[16384];
	snprintf(sock, sizeof sock, "%s/control.sock", st.state_dir);
	r = hs_control_call(sock, "checkpoint", reply, sizeof reply);
	if (r < 0)
		return r;
	json_object *o = json_tokener_parse(reply), *v;
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return hs_err(EBADMSG, "the daemon at %s sent an unreadable answer", mountpoint);
	}
#define B(k) (json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v))
#define U(k) (json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_int64(v) : 0)
	if (!B("ok")) {
		const char *e = json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : NULL;
		int err = json_object_object_get_ex(o, "errno", &v) ? json_object_get_int(v) : EIO;
		r = hs_err(err > 0 && err < 4096 ? err : EIO, "%s", e && *e ? e : "the daemon refused without saying why");
	} else {
		const char *id = json_object_object_get_ex(o, "point", &v) ? json_object_get_string(v) : "";
		snprintf(res->id, sizeof res->id, "%s", id ? id : "");
		res->added = B("added");
		res->chunks_read = U("chunks_read");
		res->bytes_read = U("bytes_read");
		res->bytes_stored = U("bytes_stored");
		res->chunks_new = U("chunks_new");
		res->seconds = json_object_object_get_ex(o, "seconds", &v) ? json_object_get_double(v) : 0;
		res->consistent = B("consistent");
		res->incremental = B("incremental");
		json_object *disks;
		if (json_object_object_get_ex(o, "disks", &disks) && json_object_is_type(disks, json_type_array))
			for (size_t k = 0; k < json_object_array_length(disks) && k < 64; k++) {
				json_object *d = json_object_array_get_idx(disks, k), *w;
				const char *name = json_object_object_get_ex(d, "name", &w) ? json_object_get_string(w) : "";
				snprintf(res->disks[k].name, sizeof res->disks[k].name, "%s", name ? name : "");
#define D(f) (json_object_object_get_ex(d, #f, &w) ? (uint64_t)json_object_get_int64(w) : 0)
				res->disks[k].chunks_read = D(chunks_read);
				res->disks[k].bytes_read = D(bytes_read);
				res->disks[k].bytes_stored = D(bytes_stored);
#undef D
				res->ndisks = (unsigned)k + 1;
			}
		if (!res->id[0])
			r = hs_err(EBADMSG, "the daemon at %s did not name the point", mountpoint);
	}
#undef B
#undef U
	json_object_put(o);
	return r;
}
