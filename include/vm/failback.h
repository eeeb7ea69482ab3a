/* Failback: the spare's disk becomes a final point to restore onto the
 * customer's disk. Two checkpoints: the first while the domain runs (most
 * of the changes, no downtime), the second, holding only what changed
 * since, once the domain is shut down. The domain is the one whose disk is
 * the mount's image (found in libvirt's domain XML, or named and checked);
 * nothing is checkpointed before libvirt and the domain are known, and the
 * second pass is not called final while anything still has the image open
 * for writing. A pass with nothing written adds no point. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include "spare/checkpoint.h"
#include "store/name.h"

struct hs_failback_opts {
	const char *mountpoint;
	const char *uri;            /* libvirt connection */
	const char *domain;         /* NULL: the domain whose disk is the mount's image */
	int shutdown_timeout_s;     /* ACPI shutdown, then destroy */
	int writers_timeout_s;      /* how long the image may stay open for writing once the domain is off */
};

struct hs_failback_result {
	char server[HS_SERVER_MAX + 1];
	char image[PATH_MAX];
	char domain[256];           /* "" when no domain uses the image */
	bool domain_was_running;
	bool destroyed;             /* it ignored the ACPI shutdown */
	struct hs_checkpoint_result pass1, pass2;
	double pass1_seconds, downtime_seconds;
	char point[HS_POINT_ID_LEN + 1]; /* the final point: what to restore */
};

/* Fail the spare mounted at o->mountpoint back. 0 with *res; or -errno
 * with a message: -ENOENT (not a mount; no such domain), -EROFS (a read-only
 * mount), -ECONNREFUSED (libvirt), -EINVAL (the named domain does not use
 * the image), -EBUSY (the image is open for writing by something that is
 * not a running domain of its, before pass 1 or after the shutdown). */
int hs_failback(const struct hs_failback_opts *o, struct hs_failback_result *res);
