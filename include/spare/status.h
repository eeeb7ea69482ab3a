/* A spare's status as JSON: what `hotspare status` shows. The daemon serves
 * it as a hidden file in the mount (MOUNTPOINT/.hotspare-status). */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include "basics/buf.h"
#include "store/name.h"

struct hs_spare;

/* Who is serving the spare, for the record in the status. */
struct hs_status_info {
	const char *store;
	const char *state_dir;
	const char *mountpoint;
	const char *image_name;
	int pid;
	bool read_only;   /* the FUSE layer refuses every change (EROFS), mounted ro */
};

/* The status of sp as one JSON object (with a trailing newline) into out. */
int hs_status_json(struct hs_spare *sp, const struct hs_status_info *info, struct hs_buf *out);

#define HS_STATUS_FILE ".hotspare-status"

/* What a client of a mounted spare needs from its status. */
struct hs_status_brief {
	char server[HS_SERVER_MAX + 1];
	char point[HS_POINT_ID_LEN + 1];
	char state_dir[PATH_MAX]; /* absolute */
	char image[PATH_MAX];     /* MOUNTPOINT/SERVER.img, absolute */
	bool read_only;
	int open_writers;         /* open read-write handles of the image; -1: not told */
	int pid;
};

/* Read the status the daemon at mountpoint serves: its JSON text into json
 * and the essentials into brief (either may be NULL). 0; -ENOENT "... is
 * not a hotspare mount"; -ENOTCONN "... whose daemon died"; -EBADMSG; -errno;
 * each with a message (no command name: the caller's). */
int hs_status_read(const char *mountpoint, struct hs_buf *json, struct hs_status_brief *brief);
