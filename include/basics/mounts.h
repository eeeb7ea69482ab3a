/* Mount points: whether a directory is one, of which kind, and clearing a
 * hotspare mount whose daemon died (kill -9 leaves "transport endpoint is
 * not connected" behind). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* The filesystem type mounted exactly at path ("fuse.hotspare", ...) into
 * type (cap bytes). 1 if path is a mount point, 0 if not, -errno. */
int hs_mount_type(const char *path, char *type, int cap);

/* Whether path (which may not exist yet) lies at or under a FUSE mount (a
 * spare's, or any other): the mount's path into mnt. 1 if it does, 0 if not,
 * -errno. A spare's state there would wait on a filesystem that may be its
 * own or may not answer. */
int hs_mount_fuse_above(const char *path, char *mnt, size_t cap);

/* Check that path can take a new mount: an existing directory that is not a
 * mount point; a dead hotspare mount there is detached first.
 * 0, or -errno with a message (-EBUSY: in use). */
int hs_mount_check_free(const char *path);

/* Detach the mount at path (lazily when its daemon is dead). 0 or -errno. */
int hs_mount_detach(const char *path, bool lazy);
