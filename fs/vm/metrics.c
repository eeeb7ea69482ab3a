/* Prometheus text exposition of a fleet; see metrics.h. */
#include "vm/metrics.h"
#include "basics/atomicfile.h"
#include "basics/err.h"
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* A label value as the format wants it: backslash, quote and newline escaped. */
static void label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* One family: HELP and TYPE, then a sample per row that has a value. */
struct family {
	const char *name, *type, *help;
	/* The row's value into *v; false: none for this row. */
	bool (*value)(const struct hs_fleet *f, const struct hs_fleet_row *r, double *v);
	bool integer;
};

static void family(FILE *out, const struct hs_fleet *f, const struct family *m)
{
	bool any = false;
	for (size_t i = 0; i < f->n; i++) {
		double v;
		if (!m->value(f, &f->rows[i], &v))
			continue;
		if (!any)
			fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
		any = true;
		fprintf(out, "%s{server=\"", m->name);
		label(out, f->rows[i].server);
		if (m->integer)
			fprintf(out, "\"} %.0f\n", v);
		else
			fprintf(out, "\"} %.3f\n", v);
	}
}

#define VALUE(fn, cond, expr)                                                                        \
	static bool fn(const struct hs_fleet *f, const struct hs_fleet_row *r, double *v)           \
	{                                                                                            \
		(void)f;                                                                             \
		if (!(cond))                                                                         \
			return false;                                                                \
		*v = (double)(expr);                                                                 \
		return true;                                                                         \
	}

VALUE(v_points, true, r->points)
VALUE(v_unreadable, true, r->unreadable)
VALUE(v_point_time, r->has_point, r->point_time)
VALUE(v_point_age, r->has_point, (int64_t)f->now - r->point_time)
VALUE(v_point_size, r->has_point, r->size)
VALUE(v_unique, true, r->unique_bytes)
VALUE(v_attention, true, r->problem[0] != 0)
VALUE(v_errors, true, r->unreadable + (r->error[0] && !r->unreadable) + (r->spare_error[0] != 0))
VALUE(v_drill_ok, r->has_drill, r->drill.passed)
VALUE(v_drill_time, r->has_drill, r->drill.started)
VALUE(v_drill_startup, r->has_drill && r->drill.startup_seconds >= 0, r->drill.startup_seconds)
VALUE(v_drill_restore, r->has_drill && r->drill.restore_seconds >= 0, r->drill.restore_seconds)
VALUE(v_drill_online, r->has_drill && r->drill.online_seconds >= 0, r->drill.online_seconds)
VALUE(v_drill_rpo, r->has_drill && r->drill.rpo_seconds >= 0, r->drill.rpo_seconds)
VALUE(v_drill_checks_failed, r->has_drill, r->drill.checks_failed)
VALUE(v_hydration, r->mounted && !r->spare_error[0] && r->chunks_total,
      (double)r->chunks_present / (double)r->chunks_total)
VALUE(v_remote, r->mounted && !r->spare_error[0],
      r->chunks_total > r->chunks_present
	      ? ((r->chunks_total - r->chunks_present) * r->chunk_size > r->size_mounted
			 ? r->size_mounted : (r->chunks_total - r->chunks_present) * r->chunk_size)
	      : 0)
VALUE(v_spare_errors, r->mounted && !r->spare_error[0], r->errors)

static const struct family families[] = {
	{ "hotspare_points", "gauge", "Readable points the server has in the store.", v_points, true },
	{ "hotspare_points_unreadable", "gauge", "Points of the server whose header cannot be read.", v_unreadable, true },
	{ "hotspare_point_timestamp_seconds", "gauge", "When the server's newest point was taken (Unix time).",
	  v_point_time, true },
	{ "hotspare_point_age_seconds", "gauge", "Age of the server's newest point.", v_point_age, true },
	{ "hotspare_point_size_bytes", "gauge", "Image bytes of the server's newest point, every disk.", v_point_size,
	  true },
	{ "hotspare_unique_bytes", "gauge",
	  "Store bytes the server alone holds, estimated as the sum of its points' new bytes.", v_unique, true },
	{ "hotspare_attention", "gauge",
	  "Whether the server needs attention: no recent point or a failed last drill (1) or not (0).", v_attention,
	  true },
	{ "hotspare_errors", "gauge",
	  "What could not be read about the server: unreadable points, its point list, its spare's status.", v_errors,
	  true },
	{ "hotspare_drill_success", "gauge", "Whether the server's last drill passed (1) or failed (0).", v_drill_ok,
	  true },
	{ "hotspare_drill_timestamp_seconds", "gauge", "When the server's last drill started (Unix time).",
	  v_drill_time, true },
	{ "hotspare_drill_startup_seconds", "gauge", "Time to start-up in the last drill.", v_drill_startup, false },
	{ "hotspare_drill_restore_seconds", "gauge", "Time to restore the data (every chunk local) in the last drill.",
	  v_drill_restore, false },
	{ "hotspare_drill_online_seconds", "gauge", "Time to online (every check passed) in the last drill.",
	  v_drill_online, false },
	{ "hotspare_drill_rpo_seconds", "gauge", "Age of the drilled point when the last drill started.", v_drill_rpo,
	  true },
	{ "hotspare_drill_checks_failed", "gauge", "Checks that failed in the last drill.", v_drill_checks_failed, true },
	{ "hotspare_spare_hydration_ratio", "gauge", "Fraction of the chunks of the spare mounted here held locally.",
	  v_hydration, false },
	{ "hotspare_spare_remote_bytes", "gauge", "Bytes of the spare mounted here not fetched yet.", v_remote, true },
	{ "hotspare_spare_errors_total", "counter", "Failed fetches of the spare mounted here since its daemon started.",
	  v_spare_errors, true },
};

void hs_metrics_write(FILE *out, const struct hs_fleet *f)
{
	fputs("# HELP hotspare_up Whether the store could be read (1) or not (0).\n# TYPE hotspare_up gauge\n", out);
	fprintf(out, "hotspare_up %d\n", f ? 1 : 0);
	if (!f)
		return;
	fprintf(out, "# HELP hotspare_servers Servers with points in the store.\n# TYPE hotspare_servers gauge\n"
		     "hotspare_servers %zu\n", f->n);
	if (f->drills)
		fprintf(out, "# HELP hotspare_drill_reports_unreadable Files named report.json in the drills directory "
			     "that are no drill reports.\n# TYPE hotspare_drill_reports_unreadable gauge\n"
			     "hotspare_drill_reports_unreadable %u\n", f->unreadable_reports);
	for (size_t i = 0; i < sizeof families / sizeof *families; i++)
		family(out, f, &families[i]);
}

static void metrics_fill(FILE *out, const void *f)
{
	hs_metrics_write(out, f);
}

int hs_metrics_write_file(const struct hs_fleet *f, const char *path)
{
	return hs_file_replace(path, "--output", metrics_fill, f);
}
