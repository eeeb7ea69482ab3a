/* Instant-recovery drills: mount a point with a throw-away state, boot it as
 * a transient libvirt domain with no route anywhere, wait for the console to
 * show it is up, check its services through loopback forwards, verify every
 * chunk of the point, time each step, tear everything down and report. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include "vm/report.h"

struct hs_drill_opts {
	const char *store;
	const char *ref;          /* SERVER[@POINT] */
	char **seeds;
	size_t nseeds;
	const char *report_dir;
	const char *uri;          /* libvirt connection, default qemu:///system */
	const char *expect;       /* console text meaning "up", default "login:" */
	int timeout_s;            /* for the boot (and the checks after it) */
	int check_port[HS_REPORT_MAX_CHECKS];
	size_t nchecks;
	unsigned memory_mib, vcpus;
	bool windows;             /* the Windows profile: SATA disk, e1000 NIC */
	const char *trace_path;   /* where to save the boot trace; NULL: the default */
	const char *work_dir;     /* parent of the throw-away state and mount (must exist); NULL: /var/tmp */
};

/* Set to the signal's number by a signal handler to cut a drill short;
 * teardown still runs. */
extern volatile sig_atomic_t hs_drill_interrupted;

#define HS_DRILL_INTERRUPTED 2

/* Run a drill and write its report. 0 if it passed, 1 if it failed (the
 * report says which step and why), HS_DRILL_INTERRUPTED if a signal cut it
 * short (no verdict: the report says "interrupted"), -errno if not even the
 * report could be written (with a message). Every path handed to libvirt is
 * absolute, whatever the options held. */
int hs_drill(const struct hs_drill_opts *o, struct hs_report *rep);
