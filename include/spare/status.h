/* A spare's status as JSON: what `hotspare status` shows. The daemon serves
 * it as a hidden file in the mount (MOUNTPOINT/.hotspare-status). */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include "basics/buf.h"
#include "store/name.h"

struct hs_spare_set;

/* Who is serving the spare, for the record in the status. */
struct hs_status_info {
	const char *store;
	const char *state_dir;
	const char *mountpoint;
	int pid;
	unsigned long long pid_start; /* its start time (hs_proc_start): pid's process, not a later one */
	bool read_only;   /* the FUSE layer refuses every change (EROFS), mounted ro */
};

/* The status of a spare (every disk of its point) as one JSON object with a
 * trailing newline into out: the contract's fields for the whole point
 * (sizes and counters added up over the disks), the daemon's resident
 * memory, and "disks": the same counters per disk with its image's name. */
int hs_status_json(struct hs_spare_set *set, const struct hs_status_info *info, struct hs_buf *out);

#define HS_STATUS_FILE ".hotspare-status"

/* What a client of a mounted spare needs from its status. */
struct hs_status_brief {
	char server[HS_SERVER_MAX + 1];
	char point[HS_POINT_ID_LEN + 1];
	char state_dir[PATH_MAX]; /* absolute */
	char image[PATH_MAX];     /* MOUNTPOINT/SERVER.img (the first disk's image), absolute */
	unsigned ndisks;
	bool read_only;
	int open_writers;         /* open read-write handles of the image; -1: not told */
	int pid;
	unsigned long long pid_start; /* 0: not told */
	bool exit_record;         /* the daemon leaves STATE/daemon.exit as it ends */
};

/* Read the status the daemon at mountpoint serves: its JSON text into json
 * (json->len bytes, a NUL after them) and the essentials into brief (either
 * may be NULL). 0; -ENOENT "... is
 * not a hotspare mount"; -ENOTCONN "... whose daemon died"; -EBADMSG; -errno;
 * each with a message (no command name: the caller's). */
int hs_status_read(const char *mountpoint, struct hs_buf *json, struct hs_status_brief *brief);

#define HS_EXIT_FILE "daemon.exit"

/* The daemon's last word, in STATE_DIR/daemon.exit as it ends: its pid and
 * start time as its status gave them, and whether it flushed and closed the
 * state (result 0) or not (the message of the failure). 0 or -errno with a
 * message. */
int hs_status_exit_write(const struct hs_status_info *info, int result);

/* After the daemon pid (started at start, see hs_proc_start) is gone: 0 if
 * it left a record of a clean close; else -EIO with a message that says
 * why not (it failed, or it died before it could say). */
int hs_status_exit_check(const char *state_dir, long pid, unsigned long long start);
