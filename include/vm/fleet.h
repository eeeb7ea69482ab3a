/* The morning view: one row per server of a store, from what is cheap to
 * read: each point's fixed-size header (never a digest table, so an
 * encrypted store needs no key), the newest drill report of each server in
 * a drills directory (drills.h), and the status of the server's spare when
 * it is mounted on this host. A row needs attention (and sorts first) when
 * the server's newest point is older than the allowed age, its last drill
 * failed, or it has no readable point. fleet prints it as a table, JSON or
 * a self-contained HTML page; metrics (metrics.h) as Prometheus text. */
#pragma once
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "store/name.h"
#include "vm/drills.h"

struct hs_fleet_row {
	char server[HS_SERVER_MAX + 1];
	unsigned points;            /* readable points */
	unsigned unreadable;        /* points whose header cannot be read */
	/* The newest readable point. */
	bool has_point;
	char point[HS_POINT_ID_LEN + 1];
	int64_t point_time;
	uint32_t kind, consistency;
	uint64_t size;              /* image bytes, every disk */
	/* Store bytes the server alone holds, estimated: the sum of its points'
	 * new bytes (what each added to the store; chunks a later point of
	 * another server shares still count here). */
	uint64_t unique_bytes;
	/* Its last drill with a verdict (drills directory). */
	bool has_drill;
	struct hs_drill_brief drill;
	/* Its spare, when mounted on this host (read-write: not a browse's or
	 * an export's view, nor a drill's throw-away mount). */
	bool mounted;
	char mountpoint[PATH_MAX];
	uint64_t chunks_total, chunks_present, chunk_size, size_mounted, errors;
	bool hydrated;
	char spare_error[256];      /* a mount whose status could not be read */
	/* The verdict. */
	bool stale, failed;         /* older than the allowed age; last drill failed */
	char problem[512];          /* why the row needs attention, or "" */
	char error[256];            /* what could not be read about the server */
};

struct hs_fleet {
	char store[4096];           /* as the backend names it (no credentials) */
	time_t now;
	int max_age_hours;          /* 0: no limit */
	bool drills;                /* a drills directory was read */
	unsigned unreadable_reports;
	struct hs_fleet_row *rows;  /* attention first, then by server */
	size_t n, bad;
};

/* Collect the rows of every server of store (a directory or URL), reading
 * drills (NULL: none) and the mounts on this host; max_age_hours 0 means
 * no age limit. A server whose points cannot be listed is a row with an
 * error, not a failure of the whole. 0, or -errno with a message (the store
 * or the drills directory cannot be read). Free with hs_fleet_free. */
int hs_fleet_collect(const char *store, const char *drills, int max_age_hours, struct hs_fleet *out);

void hs_fleet_free(struct hs_fleet *f);

/* The rows as JSON (the caller puts it). */
json_object *hs_fleet_json(const struct hs_fleet *f);

/* The rows as a table; rows that need attention in red when color. */
void hs_fleet_text(FILE *out, const struct hs_fleet *f, bool color);

/* The rows as a self-contained HTML page (no outside assets). */
void hs_fleet_html(FILE *out, const struct hs_fleet *f);

/* Write the page atomically to path. 0 or -errno with a message. */
int hs_fleet_html_write(const struct hs_fleet *f, const char *path);
