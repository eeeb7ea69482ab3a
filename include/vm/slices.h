/* Byte ranges of an image (its partitions) as read-only files of their own,
 * served by a small FUSE daemon forked for them: what userspace filesystem
 * drivers and throw-away VMs open instead of a loop device, so the host's
 * block layer never sees the customer's partition table. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct hs_slice {
	char name[16];     /* the file's name under the mount: "p1", "disk" */
	uint64_t off, len; /* its bytes within the image */
};

/* Serve each slice of image as mnt/NAME (read-only, mode 0400, owned by root)
 * from a forked daemon, returned in *pid; undo with hs_spare_unmount(mnt, pid).
 * Slices must lie within the image. 0, or -errno with a message (nothing
 * left mounted). */
int hs_slices_mount(const char *image, const struct hs_slice *s, size_t n, const char *mnt, long *pid);
