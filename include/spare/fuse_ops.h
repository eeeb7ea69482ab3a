/* The FUSE filesystem: one directory holding an image per disk of the spare
 * (SERVER.img, or SERVER-DISK.img for each of several) and a hidden status
 * file. It only translates requests into spare engine calls. */
#pragma once
#include <stdbool.h>
#include "spare/status.h"

struct hs_spare_set;
struct hs_fuse;

/* Mount the set's images at mountpoint (allow_other,
 * default_permissions, max_read 1 MiB; with info->read_only also ro, and
 * writes, discards and attribute changes fail with EROFS). 0, or -errno with a message
 * (mountpoint missing or in use, no /dev/fuse, ...). */
int hs_fuse_mount(struct hs_spare_set *set, const struct hs_status_info *info, struct hs_fuse **out);

/* Serve requests on several threads until the filesystem is unmounted or
 * (with signals) a termination signal arrives. 0 or -errno. */
int hs_fuse_serve(struct hs_fuse *f, bool signals);

/* Make a hs_fuse_serve running in another thread return: unmount and exit
 * the session (the image must no longer be in use; else it is detached). */
void hs_fuse_stop(struct hs_fuse *f);

/* Unmount (if still mounted) and free. */
void hs_fuse_destroy(struct hs_fuse *f);
