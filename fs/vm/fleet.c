/* The morning view; see fleet.h. */
#include "vm/fleet.h"
#include "basics/atomicfile.h"
#include "basics/buf.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/progress.h"
#include "spare/status.h"
#include "store/store.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a spare's daemon may take to say its status. */
#define STATUS_WAIT_MS 5000

void hs_fleet_free(struct hs_fleet *f)
{
	free(f->rows);
	f->rows = NULL;
	f->n = f->bad = 0;
}

/* ---- the spares mounted here ---------------------------------------------- */

struct mounts {
	char (*v)[PATH_MAX];
	size_t n, cap;
};

static int add_mount(void *arg, const char *mnt, const char *fstype)
{
	struct mounts *m = arg;
	if (strcmp(fstype, "fuse.hotspare") != 0)
		return 0;
	if (hs_grow(&m->v, &m->cap, m->n + 1, sizeof *m->v) < 0)
		return -ENOMEM;
	snprintf(m->v[m->n++], PATH_MAX, "%s", mnt);
	return 0;
}

/* The status JSON of the spare at mnt, read by a child process so that a
 * daemon that does not answer (stopped, hung on its store) cannot hang the
 * morning view: 0, or -errno with why in err. */
static int status_bounded(const char *mnt, struct hs_buf *out, char *err, size_t cap)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		struct hs_buf b = { 0 };
		int r = hs_status_read(mnt, &b, NULL);
		if (r < 0) {
			dprintf(p[1], "E%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
			_exit(1);
		}
		size_t at = 0;
		ssize_t k = write(p[1], "O", 1);
		while (k > 0 && at < b.len && (k = write(p[1], b.data + at, b.len - at)) > 0)
			at += (size_t)k;
		_exit(0);
	}
	close(p[1]);
	double deadline = hs_now_s() + STATUS_WAIT_MS / 1000.0;
	char buf[4096];
	int r = 0;
	for (;;) {
		int left = (int)((deadline - hs_now_s()) * 1000);
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, left) == 0) {
			snprintf(err, cap, "its daemon did not answer within %d s", STATUS_WAIT_MS / 1000);
			r = -ETIMEDOUT;
			break;
		}
		ssize_t k = read(p[0], buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if ((r = hs_buf_append(out, buf, (size_t)k)) < 0)
			break;
	}
	close(p[0]);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (out->len == 0 || out->data[0] != 'O')) {
		snprintf(err, cap, "%.*s", out->len > 1 ? (int)out->len - 1 : 14,
			 out->len > 1 ? (const char *)out->data + 1 : "no status read");
		r = -EIO;
	}
	return r;
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : "";
}

/* A drill's own mount: WORK/mnt of a work directory hotspare-drill-SERVER-XXXXXX. */
static bool drill_mount(const char *mnt)
{
	const char *base = strrchr(mnt, '/');
	if (!base || strcmp(base, "/mnt") != 0)
		return false;
	const char *parent = base - 1;
	while (parent > mnt && *parent != '/')
		parent--;
	return !strncmp(parent, "/hotspare-drill-", 16);
}

static struct hs_fleet_row *find_row(struct hs_fleet *f, const char *server)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->rows[i].server, server))
			return &f->rows[i];
	return NULL;
}

/* Each spare mounted here (read-write, not a drill's) fills its server's row. */
static int read_spares(struct hs_fleet *f)
{
	struct mounts m = { 0 };
	int r = hs_mounts_each(add_mount, &m);
	for (size_t i = 0; r == 0 && i < m.n; i++) {
		if (drill_mount(m.v[i]))
			continue;
		struct hs_buf b = { 0 };
		char err[256] = "";
		int e = status_bounded(m.v[i], &b, err, sizeof err);
		json_object *o = NULL, *v;
		if (e == 0 && hs_buf_append(&b, "", 1) == 0)
			o = json_tokener_parse((const char *)b.data + 1);
		hs_buf_free(&b);
		if (e < 0) {
			/* Whose it is cannot be told: a server's spare whose mount is
			 * under its name is the likely one (the default layout). */
			const char *base = strrchr(m.v[i], '/');
			struct hs_fleet_row *row = base ? find_row(f, base + 1) : NULL;
			if (row && !row->mounted) {
				row->mounted = true;
				snprintf(row->mountpoint, sizeof row->mountpoint, "%s", m.v[i]);
				snprintf(row->spare_error, sizeof row->spare_error, "%s", err);
			}
			continue;
		}
		struct hs_fleet_row *row = o ? find_row(f, jstr(o, "server")) : NULL;
		bool ro = o && json_object_object_get_ex(o, "read_only", &v) && json_object_get_boolean(v);
		if (row && !ro && !row->mounted) {
			row->mounted = true;
			snprintf(row->mountpoint, sizeof row->mountpoint, "%s", m.v[i]);
			row->chunks_total = (uint64_t)jint(o, "chunks_total");
			row->chunks_present = (uint64_t)jint(o, "chunks_present");
			row->chunk_size = (uint64_t)jint(o, "chunk_size");
			row->size_mounted = (uint64_t)jint(o, "size");
			row->errors = (uint64_t)jint(o, "errors");
			row->hydrated = json_object_object_get_ex(o, "hydrated", &v) && json_object_get_boolean(v);
		}
		json_object_put(o);
	}
	free(m.v);
	return r;
}

/* ---- the store -------------------------------------------------------------- */

/* The row of one server from its points' headers. */
static void read_points(struct hs_store *st, struct hs_fleet_row *row, struct hs_point *p)
{
	_cleanup_(hs_strv_free_p) char **ids = NULL;
	size_t n = 0;
	hs_err_clear();
	if (hs_store_points_list(st, row->server, &ids, &n) < 0) {
		snprintf(row->error, sizeof row->error, "cannot list its points: %s",
			 hs_err_msg() ? hs_err_msg() : "failed");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		hs_err_clear();
		if (hs_store_point_head(st, row->server, ids[i], p) < 0) {
			row->unreadable++;
			if (!row->error[0])
				snprintf(row->error, sizeof row->error, "point %s cannot be read: %s", ids[i],
					 hs_err_msg() ? hs_err_msg() : "failed");
			continue;
		}
		row->points++;
		row->unique_bytes += hs_point_new_bytes(p);
		if (!row->has_point || p->time >= row->point_time) {
			row->has_point = true;
			snprintf(row->point, sizeof row->point, "%s", p->id);
			row->point_time = p->time;
			row->kind = p->kind;
			row->consistency = p->consistency;
			row->size = hs_point_size(p);
		}
	}
}

static int by_attention(const void *a, const void *b)
{
	const struct hs_fleet_row *x = a, *y = b;
	bool bx = x->problem[0] != 0, by = y->problem[0] != 0;
	if (bx != by)
		return bx ? -1 : 1;
	return strcmp(x->server, y->server);
}

static void age_text(char *out, size_t cap, int64_t secs)
{
	if (secs < 3600)
		snprintf(out, cap, "%lld min", (long long)(secs / 60));
	else if (secs < 2 * 86400)
		snprintf(out, cap, "%.1f h", (double)secs / 3600);
	else
		snprintf(out, cap, "%.1f days", (double)secs / 86400);
}

/* Does the row need attention, and why. */
static void judge(struct hs_fleet *f, struct hs_fleet_row *row)
{
	char *p = row->problem;
	size_t cap = sizeof row->problem;
	int64_t age = row->has_point ? (int64_t)f->now - row->point_time : 0;
	if (!row->has_point) {
		row->stale = true;
		snprintf(p, cap, "no readable point");
	} else if (f->max_age_hours && age > (int64_t)f->max_age_hours * 3600) {
		char a[32];
		age_text(a, sizeof a, age);
		row->stale = true;
		snprintf(p, cap, "newest point is %s old (more than %d h)", a, f->max_age_hours);
	}
	if (row->has_drill && !row->drill.passed) {
		row->failed = true;
		size_t l = strlen(p);
		snprintf(p + l, cap - l, "%slast drill failed%s%.300s", l ? "; " : "", row->drill.error[0] ? ": " : "",
			 row->drill.error);
	}
}

int hs_fleet_collect(const char *where, const char *drills, int max_age_hours, struct hs_fleet *f)
{
	memset(f, 0, sizeof *f);
	f->now = time(NULL);
	f->max_age_hours = max_age_hours;
	_cleanup_(hs_store_close_p) struct hs_store *st = NULL;
	_cleanup_(hs_strv_free_p) char **names = NULL;
	_cleanup_free_ struct hs_drill_brief *briefs = NULL;
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	size_t n = 0, nb = 0;
	/* Headers only: an encrypted store lists without its key. */
	int r = p ? hs_store_open_flags(where, HS_OPEN_NOKEY, &st) : -ENOMEM;
	if (r == 0)
		r = hs_store_servers_list(st, &names, &n);
	if (r == 0 && drills) {
		f->drills = true;
		r = hs_drills_scan(drills, &briefs, &nb, &f->unreadable_reports);
	}
	if (r < 0)
		return r;
	snprintf(f->store, sizeof f->store, "%s", st->be->where);
	f->rows = calloc(n ? n : 1, sizeof *f->rows);
	if (!f->rows)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct hs_fleet_row *row = &f->rows[f->n++];
		snprintf(row->server, sizeof row->server, "%s", names[i]);
		read_points(st, row, p);
		for (size_t k = 0; k < nb; k++)
			if (!strcmp(briefs[k].server, row->server)) {
				row->has_drill = true;
				row->drill = briefs[k];
			}
	}
	if ((r = read_spares(f)) < 0) {
		hs_fleet_free(f);
		return hs_err(-r, "cannot read this host's mounts: %s", strerror(-r));
	}
	for (size_t i = 0; i < f->n; i++) {
		judge(f, &f->rows[i]);
		f->bad += f->rows[i].problem[0] != 0;
	}
	if (f->n)
		qsort(f->rows, f->n, sizeof *f->rows, by_attention);
	hs_err_clear();
	return 0;
}

/* ---- output ------------------------------------------------------------------ */

static double hydration(const struct hs_fleet_row *r)
{
	return r->chunks_total ? (double)r->chunks_present / (double)r->chunks_total : 0;
}

static uint64_t remote_bytes(const struct hs_fleet_row *r)
{
	uint64_t missing = r->chunks_total > r->chunks_present ? r->chunks_total - r->chunks_present : 0;
	uint64_t b = missing * r->chunk_size;
	return b > r->size_mounted ? r->size_mounted : b;
}

static json_object *time_or_null(double s)
{
	return s >= 0 ? json_object_new_double(s) : NULL;
}

json_object *hs_fleet_json(const struct hs_fleet *f)
{
	json_object *o = json_object_new_object(), *rows = json_object_new_array();
	char when[21];
	hs_time_iso(f->now, when);
	json_object_object_add(o, "store", json_object_new_string(f->store));
	json_object_object_add(o, "generated", json_object_new_string(when));
	json_object_object_add(o, "max_age_hours", f->max_age_hours ? json_object_new_int(f->max_age_hours) : NULL);
	json_object_object_add(o, "attention", json_object_new_int64((int64_t)f->bad));
	if (f->drills)
		json_object_object_add(o, "unreadable_reports", json_object_new_int64(f->unreadable_reports));
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_fleet_row *r = &f->rows[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "server", json_object_new_string(r->server));
		json_object_object_add(j, "ok", json_object_new_boolean(!r->problem[0]));
		json_object_object_add(j, "stale", json_object_new_boolean(r->stale));
		json_object_object_add(j, "drill_failed", json_object_new_boolean(r->failed));
		json_object_object_add(j, "problem", r->problem[0] ? json_object_new_string(r->problem) : NULL);
		json_object_object_add(j, "points", json_object_new_int64(r->points));
		json_object_object_add(j, "unreadable_points", json_object_new_int64(r->unreadable));
		json_object_object_add(j, "unique_bytes_estimate", json_object_new_int64((int64_t)r->unique_bytes));
		json_object *np = NULL;
		if (r->has_point) {
			char t[21];
			hs_time_iso((time_t)r->point_time, t);
			np = json_object_new_object();
			json_object_object_add(np, "id", json_object_new_string(r->point));
			json_object_object_add(np, "time", json_object_new_string(t));
			json_object_object_add(np, "age_seconds", json_object_new_int64((int64_t)f->now - r->point_time));
			json_object_object_add(np, "kind", json_object_new_string(hs_kind_name(r->kind)));
			json_object_object_add(np, "consistency", json_object_new_string(hs_consistency_name(r->consistency)));
			json_object_object_add(np, "size", json_object_new_int64((int64_t)r->size));
		}
		json_object_object_add(j, "newest", np);
		json_object *d = NULL;
		if (r->has_drill) {
			char t[21];
			hs_time_iso(r->drill.started, t);
			d = json_object_new_object();
			json_object_object_add(d, "point", json_object_new_string(r->drill.point));
			json_object_object_add(d, "of_newest_point", json_object_new_boolean(!strcmp(r->drill.point, r->point)));
			json_object_object_add(d, "started", json_object_new_string(t));
			json_object_object_add(d, "passed", json_object_new_boolean(r->drill.passed));
			json_object_object_add(d, "startup_seconds", time_or_null(r->drill.startup_seconds));
			json_object_object_add(d, "restore_seconds", time_or_null(r->drill.restore_seconds));
			json_object_object_add(d, "online_seconds", time_or_null(r->drill.online_seconds));
			json_object_object_add(d, "rpo_seconds",
					       r->drill.rpo_seconds >= 0 ? json_object_new_int64(r->drill.rpo_seconds) : NULL);
			json_object_object_add(d, "report", json_object_new_string(r->drill.path));
			json_object_object_add(d, "error", r->drill.error[0] ? json_object_new_string(r->drill.error) : NULL);
		}
		json_object_object_add(j, "drill", d);
		json_object *s = NULL;
		if (r->mounted) {
			s = json_object_new_object();
			json_object_object_add(s, "mountpoint", json_object_new_string(r->mountpoint));
			if (r->spare_error[0]) {
				json_object_object_add(s, "error", json_object_new_string(r->spare_error));
			} else {
				json_object_object_add(s, "chunks_total", json_object_new_int64((int64_t)r->chunks_total));
				json_object_object_add(s, "chunks_present", json_object_new_int64((int64_t)r->chunks_present));
				json_object_object_add(s, "hydration", json_object_new_double(hydration(r)));
				json_object_object_add(s, "hydrated", json_object_new_boolean(r->hydrated));
				json_object_object_add(s, "bytes_remote", json_object_new_int64((int64_t)remote_bytes(r)));
				json_object_object_add(s, "errors", json_object_new_int64((int64_t)r->errors));
			}
		}
		json_object_object_add(j, "spare", s);
		json_object_object_add(j, "error", r->error[0] ? json_object_new_string(r->error) : NULL);
		json_object_array_add(rows, j);
	}
	json_object_object_add(o, "servers", rows);
	return o;
}

static void secs(char *out, size_t cap, double s)
{
	if (s < 0)
		snprintf(out, cap, "-");
	else if (s < 120)
		snprintf(out, cap, "%.1f s", s);
	else if (s < 7200)
		snprintf(out, cap, "%.0f min", s / 60);
	else
		snprintf(out, cap, "%.1f h", s / 3600);
}

/* The cells of a row, as text, shared by the table and the page. */
struct cells {
	char point[HS_POINT_ID_LEN + 1], age[32], consistency[24], drill[80], startup[16], restore[16], online[16],
		spare[48], unique[16];
};

static void cells(const struct hs_fleet *f, const struct hs_fleet_row *r, struct cells *c)
{
	snprintf(c->point, sizeof c->point, "%s", r->has_point ? r->point : "-");
	if (r->has_point)
		age_text(c->age, sizeof c->age, (int64_t)f->now - r->point_time);
	else
		snprintf(c->age, sizeof c->age, "-");
	snprintf(c->consistency, sizeof c->consistency, "%s", r->has_point ? hs_consistency_name(r->consistency) : "-");
	if (r->has_drill) {
		char a[32];
		age_text(a, sizeof a, (int64_t)f->now - r->drill.started);
		snprintf(c->drill, sizeof c->drill, "%s %s ago%s", r->drill.passed ? "passed" : "FAILED", a,
			 strcmp(r->drill.point, r->point) ? " (older point)" : "");
	} else {
		snprintf(c->drill, sizeof c->drill, f->drills ? "never" : "-");
	}
	secs(c->startup, sizeof c->startup, r->has_drill ? r->drill.startup_seconds : -1);
	secs(c->restore, sizeof c->restore, r->has_drill ? r->drill.restore_seconds : -1);
	secs(c->online, sizeof c->online, r->has_drill ? r->drill.online_seconds : -1);
	if (!r->mounted)
		snprintf(c->spare, sizeof c->spare, "-");
	else if (r->spare_error[0])
		snprintf(c->spare, sizeof c->spare, "unreadable");
	else
		snprintf(c->spare, sizeof c->spare, "%.0f%%%s", hydration(r) * 100, r->errors ? " (errors)" : "");
	hs_fmt_bytes(r->unique_bytes, c->unique);
}

void hs_fleet_text(FILE *out, const struct hs_fleet *f, bool color)
{
	const char *fmt = "%-20s %-17s %-9s %-16s %-28s %-8s %-8s %-8s %-14s %s\n";
	fprintf(out, fmt, "SERVER", "NEWEST POINT", "AGE", "CONSISTENCY", "LAST DRILL", "START-UP", "RESTORE", "ONLINE",
		"SPARE", "UNIQUE~");
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_fleet_row *r = &f->rows[i];
		struct cells c;
		cells(f, r, &c);
		bool bad = r->problem[0] != 0;
		if (bad && color)
			fputs("\033[31m", out);
		fprintf(out, "%-20s %-17s %-9s %-16s %-28s %-8s %-8s %-8s %-14s %s", r->server, c.point, c.age,
			c.consistency, c.drill, c.startup, c.restore, c.online, c.spare, c.unique);
		if (bad && color)
			fputs("\033[0m", out);
		fputc('\n', out);
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_fleet_row *r = &f->rows[i];
		if (r->problem[0])
			fprintf(out, "%s! %s: %s%s\n", color ? "\033[31m" : "", r->server, r->problem, color ? "\033[0m" : "");
		if (r->error[0])
			fprintf(out, "  %s: %s\n", r->server, r->error);
		if (r->spare_error[0])
			fprintf(out, "  %s: the spare at %s: %s\n", r->server, r->mountpoint, r->spare_error);
	}
	fprintf(out, "%zu server%s, %zu need%s attention%s\n", f->n, f->n == 1 ? "" : "s", f->bad, f->bad == 1 ? "s" : "",
		f->max_age_hours ? "" : " (no age limit)");
}

/* HTML-escaped text. */
static void h(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void td(FILE *out, const char *cls, const char *text)
{
	fprintf(out, "<td%s%s%s>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	h(out, text);
	fputs("</td>", out);
}

void hs_fleet_html(FILE *out, const struct hs_fleet *f)
{
	char when[21];
	hs_time_iso(f->now, when);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>hotspare fleet</title>\n<style>\n"
	      "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;margin:0;background:#fff}\n"
	      "main{padding:20px}h1{font-size:22px;margin:0 0 4px}p.sub{color:#57606a;margin:0 0 16px}\n"
	      ".summary{padding:12px 16px;border-radius:8px;color:#fff;margin-bottom:16px;font-weight:600}\n"
	      ".summary.ok{background:#1a7f37}.summary.bad{background:#cf222e}\n"
	      "table{border-collapse:collapse;width:100%}\n"
	      "th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #d0d7de;vertical-align:top;white-space:nowrap}\n"
	      "th{color:#57606a;font-weight:600}td.problem{white-space:normal}\n"
	      "tr.bad td{background:#ffebe9;color:#cf222e}tr.bad td.server{font-weight:700}\n"
	      "tr.ok td.verdict{color:#1a7f37;font-weight:600}\n"
	      "@media print{.summary,tr.bad td{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n"
	      "</style></head><body><main>\n<h1>Spares and backups</h1>\n<p class=\"sub\">Store ", out);
	h(out, f->store);
	fprintf(out, ", %s", when);
	if (f->max_age_hours)
		fprintf(out, ", points older than %d h need attention", f->max_age_hours);
	fputs("</p>\n", out);
	fprintf(out, "<div class=\"summary %s\" id=\"summary\">%zu of %zu servers need attention</div>\n",
		f->bad ? "bad" : "ok", f->bad, f->n);
	fputs("<table>\n<thead><tr><th>Server</th><th>Newest point</th><th>Age</th><th>Consistency</th><th>Last drill</th>"
	      "<th>Start-up</th><th>Restore</th><th>Online</th><th>Spare</th><th>Unique (est.)</th><th>Verdict</th>"
	      "</tr></thead>\n<tbody>\n", out);
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_fleet_row *r = &f->rows[i];
		struct cells c;
		cells(f, r, &c);
		fprintf(out, "<tr class=\"%s\" id=\"row-", r->problem[0] ? "bad" : "ok");
		h(out, r->server);
		fputs("\">", out);
		td(out, "server", r->server);
		td(out, NULL, c.point);
		td(out, NULL, c.age);
		td(out, NULL, c.consistency);
		td(out, NULL, c.drill);
		td(out, NULL, c.startup);
		td(out, NULL, c.restore);
		td(out, NULL, c.online);
		td(out, NULL, c.spare);
		td(out, NULL, c.unique);
		char verdict[800];
		snprintf(verdict, sizeof verdict, "%s%s%s", r->problem[0] ? r->problem : "ok", r->error[0] ? "; " : "",
			 r->error);
		td(out, r->problem[0] ? "verdict problem" : "verdict", verdict);
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table>\n</main></body></html>\n", out);
}

static void html_fill(FILE *out, const void *f)
{
	hs_fleet_html(out, f);
}

int hs_fleet_html_write(const struct hs_fleet *f, const char *path)
{
	return hs_file_replace(path, "--html", html_fill, f);
}
