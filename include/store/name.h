/* Names users type: server and disk names, point ids and SERVER[@POINT][:DISK]
 * references. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HS_SERVER_MAX 64  /* longest server name, in bytes */
#define HS_POINT_ID_LEN 16 /* YYYYMMDDTHHMMSSZ */
#define HS_DISK_MAX 32    /* longest disk name, in bytes */
#define HS_DISK_DEFAULT "disk0" /* the disk of a capture given one SOURCE without a name */

/* 0 if s is a valid server name (letters, digits, '-', '_', '.'; no leading
 * '.', 1..HS_SERVER_MAX bytes); else -EINVAL with a message naming the fault. */
int hs_server_name_check(const char *s);

/* 0 if s is a valid disk name (the same rules as a server name), else
 * -EINVAL with a message. */
int hs_disk_name_check(const char *s);

/* Format a point id for a UTC time: YYYYMMDDTHHMMSSZ, which sorts by time. */
void hs_point_id_format(time_t t, char out[HS_POINT_ID_LEN + 1]);

/* Parse a point id back into its UTC time. 0 or -EINVAL. */
int hs_point_id_parse(const char *id, time_t *t);

/* Split "SERVER[@POINT][:DISK]" into its parts; point and disk are "" when
 * absent. With disk NULL, a ":DISK" part is refused (the command works on
 * whole points). 0, or -EINVAL with a message when a part is malformed. */
int hs_ref_parse(const char *ref, char server[HS_SERVER_MAX + 1], char point[HS_POINT_ID_LEN + 1],
		 char disk[HS_DISK_MAX + 1]);

/* ISO 8601 UTC form of t ("2026-11-25T12:18:56Z") into out (21 bytes). */
void hs_time_iso(time_t t, char out[21]);
