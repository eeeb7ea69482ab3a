/* Converting a store (or a shipped drive) from format version 1 to 2: each
 * point's one-disk index becomes a point object of one disk named disk0;
 * chunks stay as they are (same names, same content). Resumable: a point
 * already converted is skipped, and the description says version 2 only
 * after every point is converted, so an interrupted run leaves a version 1
 * store that the next run finishes. */
#pragma once
#include <stdint.h>

struct hs_upgrade_stats {
	uint64_t servers, points_converted, points_already;
	int from_version;
};

/* Upgrade the store at where. 0 (also when it is already version 2), or
 * -errno with a one-line message naming the point that could not be read. */
int hs_upgrade(const char *where, struct hs_upgrade_stats *stats);
