/* Paths as the kernel resolves them, so a command can tell whether a path it
 * writes lies in a directory it reads (a restore onto its own store's files)
 * and whether text meant for a message is safe to echo. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The canonical absolute form of path into out (cap bytes): the part that
 * exists resolved as the kernel would (symlinks, ".", ".."), the rest (a
 * target not made yet) appended with "." and ".." folded. Never fails for a
 * missing tail. 0, or -errno (-ENAMETOOLONG, -ELOOP, -EACCES, ...). */
int hs_path_canon(const char *path, char *out, size_t cap);

/* 1 if path is dir or lies under it, 0 if not, -errno. Both are resolved as
 * by hs_path_canon; besides the names, every existing ancestor of path is
 * compared by device and inode with dir and the directories two levels
 * below it, so a bind mount of dir or of one of those (a store's points/ or
 * chunks/ab) counts too. A dir that does not exist holds nothing. */
int hs_path_inside(const char *path, const char *dir);

/* Lexically fold path into an absolute one (relative to the current
 * directory) without looking at the filesystem: for paths that must not be
 * touched (under a FUSE mount that may not answer). 0 or -errno. */
int hs_path_lexical(const char *path, char *out, size_t cap);

/* Replace the absolute path p by its parent ("/a/b" -> "/a", "/a" -> "/"):
 * false, p unchanged, when p is "/" (or not absolute). */
bool hs_path_up(char *p);

/* True if path equals dir or lies under it, comparing canonical strings. */
int hs_path_has_prefix(const char *path, const char *dir);

/* s with every byte that is not printable ASCII written as \xNN (a name a
 * user typed, echoed in a one-line message): at most cap - 1 bytes, cut
 * short with "..." when it does not fit. Returns out. */
const char *hs_escape(const char *s, char *out, size_t cap);

/* Write text to f as one line of readable text: control bytes (a newline
 * in a path) and bytes that are not valid UTF-8 as \xNN. For messages that
 * echo paths and names as given. */
void hs_fput_line(const char *text, FILE *f);
