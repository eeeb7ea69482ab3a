/* A disk exported over NBD (a hypervisor's backup export) read as a capture
 * disk (capture.h's reader): a pool of connections, one per reading thread
 * at most, and the export's maps read once up front: which ranges read as
 * zeros (base:allocation) and, for an incremental read, which changed (a
 * dirty-bitmap context such as qemu:dirty-bitmap:backup-vda). */
#pragma once
#include <stdint.h>
#include "jobs/capture.h"

struct hs_nbd_disk;

/* Connect to export on the unix socket and read its maps; bitmap names
 * the dirty-bitmap context of an incremental read (NULL: read whole). what
 * names the disk in messages. 0, or -errno with a message (-ENOTSUP: the
 * export offers no such bitmap). */
int hs_nbd_open(const char *socket, const char *export, const char *bitmap, const char *what,
		struct hs_nbd_disk **out);

/* The reader capture calls; valid until hs_nbd_close. */
const struct hs_capture_reader *hs_nbd_reader(struct hs_nbd_disk *d);

/* Bytes read from the export so far. */
uint64_t hs_nbd_bytes_read(const struct hs_nbd_disk *d);

/* Bytes the bitmap calls changed (0 for a whole read). */
uint64_t hs_nbd_dirty_bytes(const struct hs_nbd_disk *d);

/* Disconnect and free (NULL is fine). */
void hs_nbd_close(struct hs_nbd_disk *d);
