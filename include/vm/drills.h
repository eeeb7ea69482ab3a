/* The drills directory: scheduled drills (`hotspare drill --drills DIR`)
 * keep each report in DIR/SERVER/POINT/ (report.json, report.html,
 * screenshot.png) and record the points they proved in DIR/SERVER/proved
 * (one line a point: "POINT STARTED", the newest HS_DRILLS_PROVED_KEEP), so
 * the next run skips a point already proved. fleet and metrics read the
 * newest report of each server from here (also reports written elsewhere
 * with --report DIR/NAME). Nothing here is a store: it is the host's. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "store/name.h"

#define HS_DRILLS_PROVED_KEEP 256

/* DIR/SERVER/POINT into out. 0, or -ENAMETOOLONG with a message. */
int hs_drills_report_dir(const char *dir, const char *server, const char *point, char *out, size_t cap);

/* Whether server's point is recorded as proved in dir: 1 (when, ISO 8601,
 * into when), 0, or -errno with a message (a record that cannot be read). */
int hs_drills_proved(const char *dir, const char *server, const char *point, char when[21]);

/* Record that the drill started at when proved server's point: the record
 * is rewritten atomically under a lock (two drills of a server never lose
 * each other's line), creating DIR/SERVER if needed. 0 or -errno with a
 * message. */
int hs_drills_prove(const char *dir, const char *server, const char *point, time_t when);

/* A drill report in brief. */
struct hs_drill_brief {
	char server[HS_SERVER_MAX + 1];
	char point[HS_POINT_ID_LEN + 1];
	time_t started;
	bool passed;
	double startup_seconds, restore_seconds, online_seconds; /* negative: not reached */
	int64_t rpo_seconds;
	unsigned checks, checks_failed;
	char error[320];          /* the report's first error, or "" */
	char path[PATH_MAX];      /* its report.json */
};

/* Read a report.json. 0; 1 if the drill was interrupted (no verdict);
 * -EBADMSG (with a message) if it is no drill report; -errno. */
int hs_drill_brief_read(const char *path, struct hs_drill_brief *out);

/* The newest report with a verdict of each server under dir (the
 * report.json files in DIR/X/ and DIR/X/Y/; the newest by its start, then
 * by path), sorted by server, into *out (caller frees; NULL when none) and
 * *n; *unreadable counts report.json files that are no reports. 0, or
 * -errno with a message when dir cannot be read. */
int hs_drills_scan(const char *dir, struct hs_drill_brief **out, size_t *n, unsigned *unreadable);
