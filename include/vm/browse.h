/* Browsing a point's files without trusting the customer's disk. The image's
 * partition table is read in userspace (sfdisk) and each partition is served
 * as a file of its own (slices.h); no loop device, and no filesystem of the
 * image reaches the host kernel's drivers:
 *   ext2/3/4 through fuse2fs (norecovery), NTFS through ntfs-3g, both
 *   read-only in userspace;
 *   anything else (XFS, btrfs, vfat, ...) in a throw-away VM: libguestfs'
 *   guestmount --ro over its direct QEMU backend, so the kernel that parses
 *   the filesystem is the VM's; an LVM partition's logical volumes are listed
 *   by a VM too (virt-filesystems) and each mounted under DIR/pN-VG-LV.
 * HS_BROWSE_KERNEL keeps the old way for a trusted disk: a read-only loop
 * device and the host kernel's drivers. Each filesystem is mounted under
 * DIR/pN (DIR/disk for a whole-disk filesystem), ro,nosuid,nodev,noexec, and
 * nothing replays a journal. What was set up (view, partition files,
 * drivers' processes, VMs, loop device, mounts) is recorded in
 * DIR/.hotspare-browse.json, which hs_browse_undo reads to undo it all
 * (`hotspare umount DIR`), also after a driver was killed. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vm/view.h"

#define HS_BROWSE_MAX_PARTS 128

/* Who parses the filesystems. */
enum hs_browse_via {
	HS_BROWSE_SAFE,   /* userspace drivers where there are, else a VM (default) */
	HS_BROWSE_VM,     /* every filesystem in a throw-away VM */
	HS_BROWSE_KERNEL, /* the host kernel, on a read-only loop device (trusted disks only) */
};

struct hs_browse_part {
	int num;             /* 0: a filesystem on the whole disk */
	uint64_t start, size; /* bytes within the image */
	char type[64], label[256];
	char lv[128];        /* a logical volume of an LVM partition: "/dev/VG/LV" (in the VM) */
	char via[16];        /* what mounted it: "fuse2fs", "ntfs-3g", "vm", "kernel" */
	char dir[PATH_MAX + 160];
	char dev[300];       /* HS_BROWSE_KERNEL: the loop partition */
	long pid;            /* the driver's process (its own process group), 0: none */
	unsigned long long pid_start; /* its start time, so a reused pid is never signalled */
	char note[256];      /* why it is not mounted */
	bool mounted;
};

struct hs_browse {
	char dir[PATH_MAX];
	char image[PATH_MAX + 256]; /* what is browsed */
	struct hs_view view;        /* view.work[0] == 0: the caller's image, no view */
	char work[PATH_MAX - 64];   /* the browse's own work directory (partition files, logs) */
	long slices_pid;            /* the partition files' daemon, mounted at WORK/parts */
	unsigned long long slices_start;
	char loop[64];              /* HS_BROWSE_KERNEL */
	enum hs_browse_via via;
	struct hs_browse_part parts[HS_BROWSE_MAX_PARTS];
	size_t n;
	/* A point of several disks: one browse per disk under DIR/DISK (each
	 * with its own record), sharing this one's view. */
	unsigned ndisks;
	char disk[64][HS_DISK_MAX + 1];
	struct hs_browse *child[64]; /* not recorded: hs_browse_open's result only */
};

/* Browse one image file under dir (an empty directory, not a mount point);
 * the image must stay readable until hs_browse_undo. Work files go under
 * $HOTSPARE_WORK_DIR (default /var/tmp). *out (caller frees) says what was
 * mounted where; a filesystem that cannot be mounted has a note and does
 * not fail the call. 0, or -errno with a message, and then nothing is left. */
int hs_browse_image(const char *image, const char *dir, enum hs_browse_via via, struct hs_browse **out);

/* Browse STORE's point ref under dir: a read-only view of the point
 * (view.h), browsed as above; the view is undone with the rest. A point of
 * several disks (ref without ":DISK") is browsed disk by disk under
 * DIR/DISK/ (out->child[k]); SERVER@POINT:DISK browses that disk alone. */
int hs_browse_open(const char *store, const char *ref, char **seeds, size_t nseeds, const char *dir,
		   enum hs_browse_via via, struct hs_browse **out);

/* Free what hs_browse_open or hs_browse_image returned (NULL is fine). */
void hs_browse_free(struct hs_browse *b);

/* A partition's name in DIR and in output: "p2", "disk", "p3-VG-LV". */
void hs_browse_part_name(const struct hs_browse_part *p, char *out, size_t cap);

/* Undo a browse of dir: unmount its filesystems, stop their drivers and VMs,
 * detach the loop device, close the view. 1 if dir holds no browse, 0 when
 * undone, or -errno with a message (the record stays, so it can be tried
 * again). */
int hs_browse_undo(const char *dir);
