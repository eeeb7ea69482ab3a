/* Capturing a mounted LVM logical volume of a physical server consistently:
 * a temporary snapshot volume (lvcreate -s) is taken, captured from and
 * removed on every path. Each snapshot carries the tag hotspare_snapshot and
 * one naming its maker (hotspare_owner_PID.START); a snapshot whose maker is
 * gone (killed with -9, the host rebooted) is removed by the next capture
 * that takes one. */
#pragma once
#include <stdint.h>
#include "jobs/capture.h"

/* Capture opts (one disk, its source a logical volume) from a snapshot of
 * that volume, snapshot_size bytes of room for what is written meanwhile (0:
 * a tenth of the volume, at least 64 MiB, at most what its volume group has
 * free). Stale snapshots are removed first. The point is crash-consistent.
 * 0, or -errno with a message (not a logical volume, no room for the
 * snapshot, the snapshot overflowed, -EINTR when a signal caught by
 * basics/interrupt stopped it); the snapshot is gone either way. */
int hs_lvsnap_capture(const struct hs_capture_opts *opts, uint64_t snapshot_size, struct hs_capture_stats *stats);

/* Remove every snapshot hotspare made whose maker is gone; how many in *n.
 * 0, or -errno with a message. */
int hs_lvsnap_clean_stale(unsigned *n);
