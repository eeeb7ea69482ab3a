/* Running helper programs (losetup, mount, qemu-img, ...) and removing the
 * work trees they leave. */
#pragma once
#include <stddef.h>

/* Run argv[0] (found on PATH) with stdin from /dev/null; its stdout and
 * stderr together go into out (cap bytes, NUL-terminated, may be NULL).
 * The exit status (0 on success, 127 if it could not run), or -errno. */
int hs_run(char *const argv[], char *out, size_t cap);

/* The first line of text, trimmed in place (for one-line error messages). */
char *hs_first_line(char *text);

/* Remove a directory tree without crossing into mounts. 0 or -errno. */
int hs_rm_tree(const char *path);
