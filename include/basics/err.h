/* One-line error messages that travel with a -errno return.
 * The engine returns -errno and records why in a thread-local message;
 * the command prints that message, so errors say what, where and why. */
#pragma once
#include <errno.h>

/* Record the message for the current thread and return -err (err > 0). */
int hs_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record the message only if none is set yet (keeps the innermost cause). */
int hs_err_keep(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The current thread's message, or NULL. */
const char *hs_err_msg(void);

/* Forget the current thread's message. */
void hs_err_clear(void);

/* Copy another thread's message into this one (workers report through the caller). */
void hs_err_set_msg(const char *msg);

/* Print "hotspare CMD: warning: MESSAGE" (CMD NULL: "hotspare: warning:")
 * to stderr as one line: control bytes in the paths and names it echoes
 * are escaped, as in an error. */
void hs_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "hotspare: MESSAGE" to stderr (a daemon's log) as one line, escaped
 * as hs_warn does. */
void hs_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
