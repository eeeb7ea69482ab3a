/* What browse and export share: running helper programs, and a read-only
 * view of a point (a `hotspare mount --read-only` without hydration, over a
 * throw-away state in a work directory of its own). */
#pragma once
#include <limits.h>
#include <stddef.h>

/* Run argv[0] (found on PATH) with stdin from /dev/null; its stdout and
 * stderr together go into out (cap bytes, NUL-terminated, may be NULL).
 * The exit status (0 on success, 127 if it could not run), or -errno. */
int cli_run(char *const argv[], char *out, size_t cap);

/* The first line of text, trimmed in place (for one-line error messages). */
char *cli_first_line(char *text);

/* Remove a directory tree without crossing into mounts. 0 or -errno. */
int cli_rm_tree(const char *path);

struct cli_view {
	char work[PATH_MAX - 64]; /* the work directory, removed by cli_view_close */
	char mnt[PATH_MAX];       /* WORK/mnt: the read-only FUSE mount */
	char image[PATH_MAX + 256]; /* WORK/mnt/SERVER.img */
	long pid;                 /* the daemon serving it */
};

/* Mount STORE's point ref read-only with a throw-away state under
 * $HOTSPARE_WORK_DIR (default /var/tmp). Nothing is written to the store, the
 * seeds or any spare's state. 0, or -errno with a message (nothing left). */
int cli_view_open(const char *store, const char *ref, char **seeds, size_t nseeds, struct cli_view *v);

/* Unmount the view, wait for its daemon and remove the work directory.
 * 0, or -errno with a message (then the work directory is kept). */
int cli_view_close(struct cli_view *v);

/* Unmount a hotspare mount (fusermount3 when not root) and wait for its
 * daemon (pid, if > 0) to exit; a busy mount is retried busy_ms first.
 * 0, or -errno with a message. Shared with `hotspare umount`. */
int cli_spare_unmount(const char *mnt, long pid, int busy_ms);

/* Undo a browse of dir (recorded in dir/.hotspare-browse.json): unmount its
 * filesystems, detach the loop device, close the view. 1 if dir holds no
 * browse, 0 when undone, or -errno with a message. */
int cli_browse_undo(const char *dir);
