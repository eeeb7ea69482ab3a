/* Browsing a point's files: a read-only view of the point (view.h) attached
 * read-only to a loop device with its partitions; each filesystem found is
 * mounted under DIR/pN (DIR/disk for a whole-disk filesystem) with
 * ro,nosuid,nodev,noexec and options that replay no journal. What was done is
 * recorded in DIR/.hotspare-browse.json, which hs_browse_undo reads to undo it
 * all (`hotspare umount DIR`). */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vm/view.h"

#define HS_BROWSE_MAX_PARTS 128

struct hs_browse_part {
	int num;             /* 0: a filesystem on the whole disk */
	char dev[300], dir[PATH_MAX + 32];
	uint64_t size;
	char type[64], label[256], note[256]; /* note: why it is not mounted */
	bool mounted;
};

struct hs_browse {
	char dir[PATH_MAX];
	struct hs_view view;
	char loop[64];
	struct hs_browse_part parts[HS_BROWSE_MAX_PARTS];
	size_t n;
};

/* Browse STORE's point ref under dir (an empty directory, not a mount point).
 * *out (caller frees) says what was mounted where. 0, or -errno with a
 * message, and then nothing is left behind. */
int hs_browse_open(const char *store, const char *ref, char **seeds, size_t nseeds, const char *dir,
		   struct hs_browse **out);

/* Undo a browse of dir: unmount its filesystems, detach the loop device,
 * close the view. 1 if dir holds no browse, 0 when undone, or -errno with a
 * message (the record stays, so it can be tried again). */
int hs_browse_undo(const char *dir);
