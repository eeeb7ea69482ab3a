/* Drill reports; see report.h. */
#include "vm/report.h"
#include "store/point.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/point.h"
#include <json-c/json.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

void hs_report_error(struct hs_report *r, const char *fmt, ...)
{
	size_t k = r->nerrors < HS_REPORT_MAX_ERRORS ? r->nerrors++ : HS_REPORT_MAX_ERRORS - 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->errors[k], sizeof r->errors[k], fmt, ap);
	va_end(ap);
}

/* "SIGINT" for SIGINT. */
static const char *signame(int sig, char out[16])
{
	const char *a = sigabbrev_np(sig);
	snprintf(out, 16, "SIG%s", a ? a : "?");
	return out;
}

static json_object *report_json(const struct hs_report *r)
{
	char sig[16];
	char when[21], started[21];
	hs_time_iso((time_t)r->point_time, when);
	hs_time_iso(r->started, started);
	json_object *o = json_object_new_object();
#define S(k, v) json_object_object_add(o, k, json_object_new_string(v))
#define D(k, v) json_object_object_add(o, k, json_object_new_double(v))
#define I(k, v) json_object_object_add(o, k, json_object_new_int64((int64_t)(v)))
	/* A time not reached is null. */
#define T(k, v) json_object_object_add(o, k, (v) >= 0 ? json_object_new_double(v) : NULL)
	S("server", r->server);
	S("point", r->point);
	S("point_time", when);
	I("point_age_seconds", r->started - (time_t)r->point_time);
	S("consistency", hs_consistency_name(r->consistency));
	S("started", started);
	json_object_object_add(o, "passed", json_object_new_boolean(r->passed));
	json_object_object_add(o, "interrupted", json_object_new_boolean(r->interrupted != 0));
	if (r->interrupted)
		S("signal", signame(r->interrupted, sig));
	S("accelerator", r->accelerator);
	S("expect", r->expect);
	json_object_object_add(o, "expect_screen", json_object_new_boolean(r->expect_screen));
	I("rpo_seconds", r->started - (time_t)r->point_time);
	T("startup_seconds", r->startup_seconds);
	T("restore_seconds", r->restore_seconds);
	T("online_seconds", r->online_seconds);
	D("boot_seconds", r->boot_seconds);
	D("verify_seconds", r->verify_seconds);
	D("total_seconds", r->total_seconds);
	D("working_seconds", r->working_seconds);
	json_object *steps = json_object_new_array();
	for (size_t i = 0; i < r->nsteps; i++) {
		json_object *s = json_object_new_object();
		json_object_object_add(s, "name", json_object_new_string(r->steps[i].name));
		json_object_object_add(s, "start", json_object_new_double(r->steps[i].start));
		json_object_object_add(s, "seconds", json_object_new_double(r->steps[i].seconds));
		json_object_object_add(s, "ok", json_object_new_boolean(r->steps[i].ok));
		if (r->steps[i].detail[0])
			json_object_object_add(s, "detail", json_object_new_string(r->steps[i].detail));
		json_object_array_add(steps, s);
	}
	json_object_object_add(o, "steps", steps);
	json_object *checks = json_object_new_array();
	for (size_t i = 0; i < r->nchecks; i++) {
		json_object *c = json_object_new_object();
		const struct hs_report_check *k = &r->checks[i];
		json_object_object_add(c, "name", json_object_new_string(k->name));
		json_object_object_add(c, "kind", json_object_new_string(k->kind));
		json_object_object_add(c, "ok", json_object_new_boolean(k->ok));
		json_object_object_add(c, "run", json_object_new_boolean(k->run));
		json_object_object_add(c, "seconds", json_object_new_double(k->seconds));
		json_object_object_add(c, "detail", json_object_new_string(k->detail));
		if (k->sha256[0])
			json_object_object_add(c, "sha256", json_object_new_string(k->sha256));
		if (!strcmp(k->kind, "script"))
			json_object_object_add(c, "output", json_object_new_string(k->output));
		json_object_array_add(checks, c);
	}
	json_object_object_add(o, "checks", checks);
	json_object *boot = json_object_new_object();
	json_object_object_add(boot, "bytes", json_object_new_int64((int64_t)r->boot_bytes));
	json_object_object_add(boot, "chunks", json_object_new_int64((int64_t)r->boot_chunks));
	json_object_object_add(boot, "bytes_from_seed", json_object_new_int64((int64_t)r->boot_from_seed));
	json_object_object_add(boot, "bytes_from_store", json_object_new_int64((int64_t)r->boot_from_store));
	json_object *bdisks = json_object_new_array();
	for (unsigned k = 0; k < r->ndisks; k++) {
		const struct hs_report_disk *d = &r->disks[k];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "name", json_object_new_string(d->name));
		json_object_object_add(j, "size", json_object_new_int64((int64_t)d->size));
		json_object_object_add(j, "bytes", json_object_new_int64((int64_t)(d->boot_from_seed + d->boot_from_store)));
		json_object_object_add(j, "chunks", json_object_new_int64((int64_t)d->boot_chunks));
		json_object_object_add(j, "bytes_from_seed", json_object_new_int64((int64_t)d->boot_from_seed));
		json_object_object_add(j, "bytes_from_store", json_object_new_int64((int64_t)d->boot_from_store));
		json_object_array_add(bdisks, j);
	}
	json_object_object_add(boot, "disks", bdisks);
	json_object_object_add(o, "boot_reads", boot);
	json_object *ver = json_object_new_object();
	json_object_object_add(ver, "chunks", json_object_new_int64((int64_t)r->verify_chunks));
	json_object_object_add(ver, "bytes", json_object_new_int64((int64_t)r->verify_bytes));
	json_object_object_add(ver, "bad_chunks", json_object_new_int64((int64_t)r->verify_bad));
	json_object_object_add(o, "verify", ver);
	json_object *res = json_object_new_object();
	json_object_object_add(res, "complete", json_object_new_boolean(r->restore_seconds >= 0));
	json_object_object_add(res, "bytes_from_seed", json_object_new_int64((int64_t)r->restore_bytes_from_seed));
	json_object_object_add(res, "bytes_from_store", json_object_new_int64((int64_t)r->restore_bytes_from_store));
	json_object_object_add(o, "restore", res);
	json_object *scr = NULL;
	if (r->screen_len) {
		scr = json_object_new_object();
		json_object_object_add(scr, "file", json_object_new_string("screenshot.png"));
		json_object_object_add(scr, "width", json_object_new_int64(r->screen_width));
		json_object_object_add(scr, "height", json_object_new_int64(r->screen_height));
		json_object_object_add(scr, "seconds", json_object_new_double(r->screen_seconds));
	}
	json_object_object_add(o, "screenshot", scr);
	if (r->screen_note[0])
		S("screenshot_note", r->screen_note);
	json_object *errs = json_object_new_array();
	for (size_t i = 0; i < r->nerrors; i++)
		json_object_array_add(errs, json_object_new_string(r->errors[i]));
	json_object_object_add(o, "errors", errs);
	if (!r->passed && r->console_tail[0])
		S("console_tail", r->console_tail);
#undef S
#undef D
#undef I
#undef T
	return o;
}

/* HTML-escaped text. */
/* What a consistency means to the customer who reads the report. */
static const char *consistency_text(uint32_t c)
{
	switch (c) {
	case HS_QUIESCED:
		return "quiesced: the server's filesystems were frozen by its guest agent at that instant";
	case HS_CRASH_CONSISTENT:
		return "crash-consistent: every disk at one instant, as after a power cut (filesystems replay their "
		       "journals at boot)";
	case HS_TORN:
		return "torn: read while in use (--allow-torn); it may not boot";
	default:
		return "not recorded (a point from an older store format)";
	}
}

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

static void age(char *out, size_t cap, int64_t secs)
{
	if (secs < 3600)
		snprintf(out, cap, "%lld minutes", (long long)(secs / 60));
	else if (secs < 2 * 86400)
		snprintf(out, cap, "%.1f hours", (double)secs / 3600);
	else
		snprintf(out, cap, "%.1f days", (double)secs / 86400);
}

/* A duration as people read it: "45.2 s", "12 min 5 s", "3 h 12 min". */
static void dur(char *out, size_t cap, double secs)
{
	if (secs < 0)
		snprintf(out, cap, "not reached");
	else if (secs < 120)
		snprintf(out, cap, "%.1f s", secs);
	else if (secs < 3600)
		snprintf(out, cap, "%d min %d s", (int)secs / 60, (int)secs % 60);
	else
		snprintf(out, cap, "%d h %d min", (int)(secs / 3600), (int)secs % 3600 / 60);
}

/* The PNG inline, base64: the page needs no other file. */
static void png_inline(FILE *f, const unsigned char *p, size_t n)
{
	unsigned char out[4 * 3072 / 3 + 4];
	fputs("data:image/png;base64,", f);
	for (size_t at = 0; at < n; at += 3072) {
		size_t k = n - at < 3072 ? n - at : 3072;
		int w = EVP_EncodeBlock(out, p + at, (int)k);
		fwrite(out, 1, (size_t)w, f);
	}
}

/* The steps as a horizontal timeline: one bar per step at its start. */
static void timeline(FILE *f, const struct hs_report *r)
{
	double total = r->total_seconds > 0 ? r->total_seconds : 1;
	const int w = 720, left = 120, bar = 22, gap = 8;
	int height = (int)r->nsteps * (bar + gap) + 30;
	fprintf(f, "<svg class=\"timeline\" role=\"img\" aria-label=\"timeline of the drill's steps\" "
		   "xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n",
		w + left + 80, height, w + left + 80, height);
	for (size_t i = 0; i < r->nsteps; i++) {
		const struct hs_report_step *s = &r->steps[i];
		double x = left + s->start / total * w, bw = s->seconds / total * w;
		if (bw < 2)
			bw = 2;
		int y = (int)i * (bar + gap) + 4;
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"lbl\">", left - 8, y + 16);
		h(f, s->name);
		fprintf(f, "</text><rect class=\"step %s\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" rx=\"3\">"
			   "<title>", s->ok ? "ok" : "bad", x, y, bw, bar);
		h(f, s->name);
		fprintf(f, ": %.2f s</title></rect><text x=\"%.1f\" y=\"%d\" class=\"dur\">%.2f s</text>\n",
			s->seconds, x + bw + 6, y + 16, s->seconds);
	}
	int ay = (int)r->nsteps * (bar + gap) + 14;
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>", left, ay, left + w, ay);
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"dur\">0 s</text><text x=\"%d\" y=\"%d\" class=\"dur\" "
		   "text-anchor=\"end\">%.1f s</text>\n</svg>\n", left, ay + 14, left + w, ay + 14, total);
}

static void html(FILE *f, const struct hs_report *r)
{
	char sig[16];
	char when[21], started[21], agebuf[32];
	hs_time_iso((time_t)r->point_time, when);
	hs_time_iso(r->started, started);
	age(agebuf, sizeof agebuf, r->started - (time_t)r->point_time);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Recovery drill: ", f);
	h(f, r->server);
	fputs("</title>\n<style>\n"
	      "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;margin:0;background:#fff}\n"
	      "main{max-width:960px;margin:0 auto;padding:24px}\n"
	      ".verdict{padding:18px 24px;border-radius:8px;color:#fff;margin-bottom:20px}\n"
	      ".verdict.pass{background:#1a7f37}.verdict.fail{background:#cf222e}.verdict.stopped{background:#57606a}\n"
	      ".verdict h1{margin:0;font-size:28px}.verdict p{margin:4px 0 0}\n"
	      "table{border-collapse:collapse;width:100%;margin:8px 0 20px}\n"
	      "th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #d0d7de;vertical-align:top}\n"
	      "th{width:34%;font-weight:600;color:#57606a}\n"
	      "h2{font-size:18px;margin:24px 0 8px}\n"
	      ".timeline .step.ok{fill:#2da44e}.timeline .step.bad{fill:#cf222e}\n"
	      ".timeline .lbl{font-size:13px;text-anchor:end;fill:#1b1f24}.timeline .dur{font-size:12px;fill:#57606a}\n"
	      ".timeline .axis{stroke:#8c959f}\n"
	      ".ok-t{color:#1a7f37;font-weight:600}.bad-t{color:#cf222e;font-weight:600}\n"
	      "pre{background:#f6f8fa;border:1px solid #d0d7de;padding:12px;overflow:auto;font-size:12px}\n"
	      ".times{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 20px}\n"
	      ".time{flex:1 1 150px;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px}\n"
	      ".time .v{font-size:26px;font-weight:600}.time .k{color:#57606a;font-size:13px}\n"
	      ".time.missing .v{color:#cf222e}\n"
	      "figure{margin:8px 0 20px}figure img{max-width:100%;border:1px solid #d0d7de;image-rendering:auto}\n"
	      "figcaption{color:#57606a;font-size:13px}\n"
	      "@media print{.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}main{padding:0}}\n"
	      "</style></head><body><main>\n", f);
	fprintf(f, "<section class=\"verdict %s\" id=\"verdict\"><h1>%s</h1><p>",
		r->interrupted ? "stopped" : r->passed ? "pass" : "fail",
		r->interrupted ? "Recovery drill interrupted" : r->passed ? "Recovery drill passed" : "Recovery drill FAILED");
	fputs("The spare of <b>", f);
	h(f, r->server);
	if (r->interrupted)
		fprintf(f, "</b> was being drilled when the drill was stopped (%s) before a verdict: this says "
			   "nothing about the backup. Run the drill again.", signame(r->interrupted, sig));
	else if (r->passed)
		fprintf(f, "</b> booted and answered its checks %.1f seconds after the drill began.", r->working_seconds);
	else {
		fputs("</b> did not pass: ", f);
		h(f, r->nerrors ? r->errors[0] : "see the steps below");
	}
	fputs("</p></section>\n", f);
	/* The three times the service promises, and how old the data is. */
	char t1[32], t2[32], t3[32];
	dur(t1, sizeof t1, r->startup_seconds);
	dur(t2, sizeof t2, r->restore_seconds);
	dur(t3, sizeof t3, r->online_seconds);
	fprintf(f, "<section class=\"times\">\n"
		   "<div class=\"time%s\"><div class=\"k\">Time to start-up the server</div><div class=\"v\" id=\"startup\">%s</div></div>\n"
		   "<div class=\"time%s\"><div class=\"k\">Time to restore the data</div><div class=\"v\" id=\"restore\">%s</div></div>\n"
		   "<div class=\"time%s\"><div class=\"k\">Time to bring it back online</div><div class=\"v\" id=\"online\">%s</div></div>\n"
		   "<div class=\"time\"><div class=\"k\">Age of the recovery point (RPO)</div><div class=\"v\" id=\"rpo\">%s</div></div>\n"
		   "</section>\n",
		r->startup_seconds < 0 ? " missing" : "", t1, r->restore_seconds < 0 ? " missing" : "", t2,
		r->online_seconds < 0 ? " missing" : "", t3, agebuf);
	fputs("<table>\n<tr><th>Server</th><td>", f);
	h(f, r->server);
	fprintf(f, "</td></tr>\n<tr><th>Recovery point</th><td>%s (point %s)</td></tr>\n", when, r->point);
	fprintf(f, "<tr><th>Age of the recovery point</th><td>%s at the time of the drill</td></tr>\n", agebuf);
	fprintf(f, "<tr><th>How the point was taken</th><td id=\"consistency\">%s</td></tr>\n", consistency_text(r->consistency));
	fprintf(f, "<tr><th>Drill started</th><td>%s</td></tr>\n", started);
	fprintf(f, "<tr><th>Boot</th><td>%.1f s to ", r->boot_seconds);
	if (r->expect[0]) {
		fputs("\"", f);
		h(f, r->expect);
		fputs("\" on the console", f);
	}
	if (r->expect_screen)
		fputs(r->expect[0] ? " and a steady screen" : "a steady screen that is not blank", f);
	if (!r->expect[0] && !r->expect_screen)
		fputs("the screenshot", f);
	fprintf(f, " (%s)</td></tr>\n", r->accelerator);
	fprintf(f, "<tr><th>Data read by the boot</th><td>%.1f MiB in %llu chunks (%.1f MiB from the local copy, "
		   "%.1f MiB over the network)</td></tr>\n", (double)r->boot_bytes / 1048576,
		(unsigned long long)r->boot_chunks, (double)r->boot_from_seed / 1048576,
		(double)r->boot_from_store / 1048576);
	for (unsigned k = 0; r->ndisks > 1 && k < r->ndisks; k++) {
		fputs("<tr><th>&nbsp;&nbsp;disk ", f);
		h(f, r->disks[k].name);
		fprintf(f, "</th><td>%.1f MiB read in %llu chunks of a %.1f MiB disk</td></tr>\n",
			(double)(r->disks[k].boot_from_seed + r->disks[k].boot_from_store) / 1048576,
			(unsigned long long)r->disks[k].boot_chunks, (double)r->disks[k].size / 1048576);
	}
	char rt[32];
	dur(rt, sizeof rt, r->restore_seconds);
	fprintf(f, "<tr><th>Restore of the data</th><td>%s%s (%.1f MiB from the local copy, %.1f MiB over the "
		   "network)</td></tr>\n", r->restore_seconds >= 0 ? "every block local after " : "", rt,
		(double)r->restore_bytes_from_seed / 1048576, (double)r->restore_bytes_from_store / 1048576);
	fputs("<tr><th>How the point was taken</th><td>", f);
	h(f, hs_consistency_name(r->consistency));
	fputs("</td></tr>\n", f);
	fprintf(f, "<tr><th>Integrity of the backup</th><td>%llu chunks (%.1f MiB) checked, %llu bad, in %.1f s</td></tr>\n",
		(unsigned long long)r->verify_chunks, (double)r->verify_bytes / 1048576,
		(unsigned long long)r->verify_bad, r->verify_seconds);
	fprintf(f, "<tr><th>Whole drill</th><td>%.1f s</td></tr>\n</table>\n", r->total_seconds);
	if (r->screen_len) {
		fputs("<h2>The server's screen</h2>\n<figure><img id=\"screen\" alt=\"the server's screen\" src=\"", f);
		png_inline(f, r->screen_png, r->screen_len);
		fprintf(f, "\" width=\"%u\" height=\"%u\" style=\"height:auto\"><figcaption>%u&times;%u, taken %.1f s after the "
			   "drill began (<a href=\"screenshot.png\">screenshot.png</a>)</figcaption></figure>\n",
			r->screen_width, r->screen_height, r->screen_width, r->screen_height, r->screen_seconds);
	} else if (r->screen_note[0]) {
		fputs("<h2>The server's screen</h2>\n<p>No screenshot: ", f);
		h(f, r->screen_note);
		fputs("</p>\n", f);
	}
	fputs("<h2>Timeline</h2>\n", f);
	timeline(f, r);
	fputs("<h2>Checks</h2>\n<table>\n", f);
	for (size_t i = 0; i < r->nchecks; i++) {
		fputs("<tr><th>", f);
		h(f, r->checks[i].name);
		const struct hs_report_check *k = &r->checks[i];
		fprintf(f, "</th><td><span class=\"%s\">%s</span> ", k->ok ? "ok-t" : "bad-t",
			k->ok ? "passed" : k->run ? "failed" : "not run");
		h(f, k->detail);
		if (k->run)
			fprintf(f, " (%.1f s)", k->seconds);
		if (k->output[0]) {
			fputs("<pre>", f);
			h(f, k->output);
			fputs("</pre>", f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<h2>Steps</h2>\n<table>\n", f);
	for (size_t i = 0; i < r->nsteps; i++) {
		fputs("<tr><th>", f);
		h(f, r->steps[i].name);
		fprintf(f, "</th><td><span class=\"%s\">%s</span> %.2f s ", r->steps[i].ok ? "ok-t" : "bad-t",
			r->steps[i].ok ? "ok" : "failed", r->steps[i].seconds);
		h(f, r->steps[i].detail);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
	if (r->nerrors) {
		fputs("<h2>Errors</h2>\n<ul>\n", f);
		for (size_t i = 0; i < r->nerrors; i++) {
			fputs("<li>", f);
			h(f, r->errors[i]);
			fputs("</li>\n", f);
		}
		fputs("</ul>\n", f);
	}
	if (!r->passed && r->console_tail[0]) {
		fputs("<h2>Console (last lines)</h2>\n<pre>", f);
		h(f, r->console_tail);
		fputs("</pre>\n", f);
	}
	fputs("</main></body></html>\n", f);
}

static int write_atomic(const char *dir, const char *name, void (*fn)(FILE *, const void *), const void *arg)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
	FILE *f = fopen(tmp, "we");
	if (!f)
		return hs_err(errno, "cannot write %s: %s", tmp, strerror(errno));
	fn(f, arg);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return hs_err(e, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}

static void json_fn(FILE *f, const void *arg)
{
	json_object *o = report_json(arg);
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE), f);
	fputc('\n', f);
	json_object_put(o);
}

static void html_fn(FILE *f, const void *arg) { html(f, arg); }

static void png_fn(FILE *f, const void *arg)
{
	const struct hs_report *r = arg;
	fwrite(r->screen_png, 1, r->screen_len, f);
}

int hs_report_write(const struct hs_report *r, const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return hs_err(errno, "cannot create report directory %s: %s", dir, strerror(errno));
	/* The picture first: the pages that name it never point at nothing. */
	int e = r->screen_len ? write_atomic(dir, "screenshot.png", png_fn, r) : 0;
	if (e == 0)
		e = write_atomic(dir, "report.json", json_fn, r);
	return e < 0 ? e : write_atomic(dir, "report.html", html_fn, r);
}

void hs_report_release(struct hs_report *r)
{
	free(r->screen_png);
	r->screen_png = NULL;
	r->screen_len = 0;
}
