/* The daemon's control socket (STATE/control.sock, root only): one command
 * line in, one JSON line out. Commands: "checkpoint". */
#pragma once
#include <stddef.h>

struct hs_spare;
struct hs_control;

/* Listen on path and serve commands for sp on a thread. 0 or -errno. */
int hs_control_start(struct hs_spare *sp, const char *path, struct hs_control **out);

/* Stop serving and remove the socket. NULL is fine. */
void hs_control_stop(struct hs_control *c);

/* Send cmd to the daemon listening on path and read its one-line reply into
 * out (cap bytes). 0, or -errno with a message (-ECONNREFUSED: no daemon). */
int hs_control_call(const char *path, const char *cmd, char *out, size_t cap);
