/* A spare's status as JSON: what `hotspare status` shows. The daemon serves
 * it as a hidden file in the mount (MOUNTPOINT/.hotspare-status). */
#pragma once
#include <stdbool.h>
#include "basics/buf.h"

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
