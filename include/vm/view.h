/* A read-only view of a point, what browse and export read from: a
 * `hotspare mount --read-only` without hydration, over a throw-away state in
 * a work directory of its own. */
#pragma once
#include <limits.h>
#include <stddef.h>
#include "store/name.h"

struct hs_view {
	char work[PATH_MAX - 64]; /* the work directory, removed by hs_view_close */
	char mnt[PATH_MAX];       /* WORK/mnt: the read-only FUSE mount */
	char image[PATH_MAX + 256]; /* WORK/mnt/SERVER.img: the disk the ref names (SERVER@POINT:DISK), or its only one */
	long pid;                 /* the daemon serving it */
	/* hs_view_open_all: every disk of the point, in its order (image names under mnt). */
	unsigned ndisks;
	char disk[64][HS_DISK_MAX + 1];
	char disk_image[64][HS_SERVER_MAX + HS_DISK_MAX + 8];
};

/* Mount STORE's point ref (SERVER[@POINT][:DISK]; :DISK is needed for a
 * point of several disks) read-only with a throw-away state under
 * $HOTSPARE_WORK_DIR (default /var/tmp). Nothing is written to the store, the
 * seeds or any spare's state. 0, or -errno with a message (nothing left). */
int hs_view_open(const char *store, const char *ref, char **seeds, size_t nseeds, struct hs_view *v);

/* The same for a point of any number of disks: ref is SERVER[@POINT] and
 * every disk is listed in v->disk / v->disk_image (v->image is the first). */
int hs_view_open_all(const char *store, const char *ref, char **seeds, size_t nseeds, struct hs_view *v);

/* Unmount the view, wait for its daemon and remove the work directory.
 * 0, or -errno with a message (then the work directory is kept). */
int hs_view_close(struct hs_view *v);

/* Unmount a hotspare mount (fusermount3 when not root) and wait for its
 * daemon (pid, if > 0, started at start: see hs_proc_start; 0: read now) to
 * exit; a busy mount is retried busy_ms first. 0, or -errno with a message.
 * Shared with `hotspare umount`. */
int hs_spare_unmount(const char *mnt, long pid, unsigned long long start, int busy_ms);
