/* Instant-recovery drills: mount a point with a throw-away state, boot it as
 * a transient libvirt domain with no route anywhere, wait for the console
 * (or the screen) to show it is up, take a screenshot, check its services
 * through loopback forwards, its files through a read-only browse of its
 * disks and run the operator's checks, keep hydrating until every chunk is
 * local, verify every chunk of the point, time each step, tear everything
 * down and report: the three times (to start-up, to restore the data, to
 * online) and the recovery point's age. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include "vm/checks.h"
#include "vm/report.h"

struct hs_drill_opts {
	const char *store;
	const char *ref;          /* SERVER[@POINT] */
	char **seeds;
	size_t nseeds;
	const char *report_dir;   /* NULL: DRILLS/SERVER/POINT (drills_dir must be set) */
	const char *drills_dir;   /* the drills directory (drills.h), or NULL */
	bool skip_proved;         /* a point drills_dir records as proved is not drilled again */
	const char *uri;          /* libvirt connection, default qemu:///system */
	const char *expect;       /* console text meaning "up"; NULL: none (a screen option decides) */
	bool expect_screen;       /* "up" also needs a screen that stopped changing and is not blank */
	int screenshot_after_s;   /* take the screenshot (and start watching the screen) this long after
				   * the guest started; 0: when it is up */
	int timeout_s;            /* for the boot, and for each check after it */
	int restore_timeout_s;    /* how long hydration may take to make every chunk local */
	struct hs_check checks[HS_REPORT_MAX_CHECKS];
	size_t nchecks;
	int forward[HS_REPORT_MAX_CHECKS]; /* guest ports forwarded for scripts beyond the checks' */
	size_t nforward;
	unsigned memory_mib, vcpus;
	bool windows;             /* the Windows profile: SATA disk, e1000 NIC */
	const char *trace_path;   /* where to save the boot trace; NULL: the default */
	const char *work_dir;     /* parent of the throw-away state and mount (must exist); NULL: /var/tmp */
};

/* Seconds a screen must stay the same to count as steady. */
#define HS_DRILL_SCREEN_STEADY_S 10

/* Set to the signal's number by a signal handler to cut a drill short;
 * teardown still runs. */
extern volatile sig_atomic_t hs_drill_interrupted;

#define HS_DRILL_INTERRUPTED 2
#define HS_DRILL_SKIPPED 3

/* Run a drill and write its report (into report_dir, else
 * DRILLS/SERVER/POINT; with drills_dir a passed drill records its point as
 * proved). 0 if it passed, 1 if it failed (the report says which step and
 * why), HS_DRILL_INTERRUPTED if a signal cut it short (no verdict: the
 * report says "interrupted"), HS_DRILL_SKIPPED when skip_proved found the
 * point proved (rep->server, rep->point and rep->proved are set; nothing
 * is booted or written), -errno if not
 * even the report could be written (with a message). Every path handed to
 * libvirt is absolute, whatever the options held. The caller releases rep
 * with hs_report_release. */
int hs_drill(const struct hs_drill_opts *o, struct hs_report *rep);
