/* A drill's report: report.json for programs, report.html for the customer
 * (a verdict, the recovery point and its age, the time to a working server,
 * a timeline of the steps as inline SVG, the checks, the console's last lines
 * on failure; no external assets, so it opens offline and prints well). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "store/name.h"

#define HS_REPORT_MAX_STEPS 12
#define HS_REPORT_MAX_CHECKS 16
#define HS_REPORT_MAX_ERRORS 16

struct hs_report_step {
	char name[32];
	double start;   /* seconds from the drill's start */
	double seconds;
	bool ok;
	char detail[256];
};

struct hs_report_check {
	char name[64];
	bool ok;
	double seconds;
	char detail[160];
};

/* What the boot read of one disk of the point. */
struct hs_report_disk {
	char name[HS_DISK_MAX + 1];
	uint64_t size, boot_chunks, boot_from_seed, boot_from_store;
};

struct hs_report {
	char server[HS_SERVER_MAX + 1];
	char point[HS_POINT_ID_LEN + 1];
	int64_t point_time;     /* when the point was taken (UTC seconds) */
	uint32_t consistency;   /* how it was taken (enum hs_consistency, store/point.h) */
	time_t started;         /* when the drill started */
	bool passed;
	int interrupted;        /* the signal that cut the drill short (no verdict), or 0 */
	char accelerator[8];    /* "kvm" or "tcg" */
	char expect[128];
	struct hs_report_step steps[HS_REPORT_MAX_STEPS];
	size_t nsteps;
	struct hs_report_check checks[HS_REPORT_MAX_CHECKS];
	size_t nchecks;
	double boot_seconds, verify_seconds, total_seconds, working_seconds;
	uint64_t boot_bytes, boot_chunks, boot_from_seed, boot_from_store;
	uint64_t verify_chunks, verify_bytes, verify_bad;
	struct hs_report_disk disks[64]; /* in the point's order; the first booted */
	unsigned ndisks;
	char errors[HS_REPORT_MAX_ERRORS][320];
	size_t nerrors;
	char console_tail[4096]; /* the console's last lines (kept on failure) */
};

/* Record an error line in the report (beyond the limit, the last is kept). */
void hs_report_error(struct hs_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write report.json and report.html into dir (created if missing), each
 * atomically. 0 or -errno with a message. */
int hs_report_write(const struct hs_report *r, const char *dir);
