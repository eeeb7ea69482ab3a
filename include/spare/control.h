/* The daemon's control socket (STATE/control.sock, root only): one command
 * line in, one JSON line out. Commands: "checkpoint", "scrub" (see scrub.h). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct hs_spare_set;
struct hs_control;
struct hs_checkpoint_result;

/* Listen on path and serve commands for set on a thread; a read_only spare
 * refuses checkpoints (it has nothing of its own to keep). 0 or -errno. */
int hs_control_start(struct hs_spare_set *set, const char *path, bool read_only, struct hs_control **out);

/* Stop serving and remove the socket. NULL is fine. */
void hs_control_stop(struct hs_control *c);

/* Send cmd to the daemon listening on path and read its one-line reply into
 * out (cap bytes). 0, or -errno with a message (-ECONNREFUSED: no daemon). */
int hs_control_call(const char *path, const char *cmd, char *out, size_t cap);

/* Ask the daemon serving the spare mounted at mountpoint for a checkpoint
 * (refused for a read-only mount). 0 with *res, or -errno with a message
 * ("... is not a hotspare mount", the daemon's own error). */
int hs_control_checkpoint(const char *mountpoint, struct hs_checkpoint_result *res);

/* A checkpoint's result as a JSON object (json-c; the caller puts it): the
 * daemon's reply and the commands' --json output share this form. */
struct json_object;
struct json_object *hs_checkpoint_json(const struct hs_checkpoint_result *res);
