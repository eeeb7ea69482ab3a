/* A drill's report: report.json for programs, report.html for the customer
 * (a verdict; at the top the three times the service promises: to start-up,
 * to restore the data, to online, and the recovery point's age; the guest's
 * screen; a timeline of the steps as inline SVG; each check with its
 * verdict; the console's last lines on failure; no external assets, so it
 * opens offline and prints well) and screenshot.png beside them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "store/name.h"

#define HS_REPORT_MAX_STEPS 16
#define HS_REPORT_MAX_CHECKS 32
#define HS_REPORT_MAX_ERRORS 16
#define HS_REPORT_OUTPUT_MAX 2048 /* the tail of a script's output kept */

struct hs_report_step {
	char name[32];
	double start;   /* seconds from the drill's start */
	double seconds;
	bool ok;
	char detail[256];
};

struct hs_report_check {
	char name[1100];
	char kind[8];       /* "tcp", "http", "file", "script", "screen" */
	bool ok;
	bool run;           /* false: not run (an earlier step failed) */
	double seconds;
	char detail[256];
	char sha256[65];    /* a file's checksum as read */
	char output[HS_REPORT_OUTPUT_MAX]; /* a script's output (its tail) */
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
	char proved[21];        /* a skipped drill: when the drills directory says the point was proved */
	bool passed;
	int interrupted;        /* the signal that cut the drill short (no verdict), or 0 */
	char accelerator[8];    /* "kvm" or "tcg" */
	char expect[128];       /* the console text waited for ("": none) */
	bool expect_screen;     /* and a steady screen that is not blank */
	struct hs_report_step steps[HS_REPORT_MAX_STEPS];
	size_t nsteps;
	struct hs_report_check checks[HS_REPORT_MAX_CHECKS];
	size_t nchecks;
	double boot_seconds, verify_seconds, total_seconds, working_seconds;
	/* The three times, from the drill's start; negative: not reached. */
	double startup_seconds;  /* to the console's text (or the screen) */
	double restore_seconds;  /* until every chunk of the point was local */
	double online_seconds;   /* until every check had passed */
	uint64_t restore_bytes_from_seed, restore_bytes_from_store; /* everything fetched, boot included */
	/* The guest's screen as PNG (malloc'ed; hs_report_release frees it),
	 * when it was taken (seconds from the start) and why there is none. */
	unsigned char *screen_png;
	size_t screen_len;
	unsigned screen_width, screen_height;
	double screen_seconds;
	char screen_note[256];
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

/* Write screenshot.png (when there is a screen), report.json and
 * report.html into dir (created if missing), each atomically. 0 or -errno
 * with a message. */
int hs_report_write(const struct hs_report *r, const char *dir);

/* Free what the report holds (the screen); the struct itself stays. */
void hs_report_release(struct hs_report *r);
