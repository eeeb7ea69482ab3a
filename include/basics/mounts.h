/* Mount points: whether a directory is one, of which kind, and clearing a
 * hotspare mount whose daemon died (kill -9 leaves "transport endpoint is
 * not connected" behind). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The filesystem type mounted exactly at path ("fuse.hotspare", ...) into
 * type (cap bytes). 1 if path is a mount point, 0 if not, -errno. */
int hs_mount_type(const char *path, char *type, int cap);

/* The device (st_dev) of the mount exactly at path, from mountinfo: 1 with
 * *dev set, 0 if path is not a mount point, -errno. */
int hs_mount_dev(const char *path, dev_t *dev);

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

/* Call fn(arg, mountpoint, fstype) for every mount this process sees, oldest
 * first; a non-zero return stops the walk and is returned. 0 or -errno. */
int hs_mounts_each(int (*fn)(void *arg, const char *mnt, const char *fstype), void *arg);

/* Abort the FUSE connection of the filesystem whose device is dev (st_dev of
 * its root): every request fails with ENOTCONN and its daemon's reads end.
 * For a mount this process made and nobody may use any more, which a copy
 * in another mount namespace (a QEMU started by libvirt meanwhile) would
 * otherwise keep alive. 0, or -errno. */
int hs_fuse_conn_abort(dev_t dev);
