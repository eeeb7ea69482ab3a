/* Validation of the names users type; see name.h. */
#include "store/name.h"
#include "basics/err.h"
#include "basics/path.h"
#include <stdio.h>
#include <string.h>

/* The rules of server and disk names; what is "server" or "disk". */
static int name_check(const char *what, const char *s, size_t max)
{
	/* Names are echoed escaped: a byte of a UTF-8 character alone is not text. */
	char e[HS_SERVER_MAX * 4 + 8];
	size_t n = strlen(s);
	if (n == 0)
		return hs_err(EINVAL, "%s name is empty", what);
	if (n > max) {
		char head[24];
		snprintf(head, sizeof head, "%.20s", s);
		return hs_err(EINVAL, "%s name '%s...' is longer than %zu bytes", what, hs_escape(head, e, sizeof e),
			      max);
	}
	hs_escape(s, e, sizeof e);
	if (s[0] == '.')
		return hs_err(EINVAL, "%s name '%s' starts with '.'", what, e);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.')
			continue;
		if (c == '/')
			return hs_err(EINVAL, "%s name '%s' contains '/'", what, e);
		if (c < 0x20 || c == 0x7f)
			return hs_err(EINVAL, "%s name contains a control character (byte %zu)", what, i);
		/* The whole character: a UTF-8 lead byte and its continuation bytes. */
		size_t k = 1;
		while (c >= 0xc0 && i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80 && k < 4)
			k++;
		char ch[8], ce[40];
		snprintf(ch, sizeof ch, "%.*s", (int)k, s + i);
		return hs_err(EINVAL, "%s name '%s' contains '%s' (allowed: letters, digits, '-', '_', '.')", what, e,
			      hs_escape(ch, ce, sizeof ce));
	}
	if (strstr(s, ".."))
		return hs_err(EINVAL, "%s name '%s' contains '..'", what, e);
	return 0;
}

int hs_server_name_check(const char *s)
{
	return name_check("server", s, HS_SERVER_MAX);
}

int hs_disk_name_check(const char *s)
{
	return name_check("disk", s, HS_DISK_MAX);
}

void hs_point_id_format(time_t t, char out[HS_POINT_ID_LEN + 1])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, HS_POINT_ID_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

int hs_point_id_parse(const char *id, time_t *t)
{
	struct tm tm = { 0 };
	if (strlen(id) != HS_POINT_ID_LEN)
		return -EINVAL;
	const char *end = strptime(id, "%Y%m%dT%H%M%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	*t = timegm(&tm);
	/* strptime+timegm normalise impossible dates (Feb 31): insist on the canonical form. */
	char back[HS_POINT_ID_LEN + 1];
	hs_point_id_format(*t, back);
	return strcmp(back, id) == 0 ? 0 : -EINVAL;
}

int hs_ref_parse(const char *ref, char server[HS_SERVER_MAX + 1], char point[HS_POINT_ID_LEN + 1],
		 char disk[HS_DISK_MAX + 1])
{
	const char *colon = strchr(ref, ':');
	const char *at = strchr(ref, '@');
	if (at && colon && colon < at)
		at = NULL; /* an '@' after the disk name belongs to no point */
	size_t sn = at ? (size_t)(at - ref) : colon ? (size_t)(colon - ref) : strlen(ref);
	char e[128];
	if (sn > HS_SERVER_MAX) {
		char head[24];
		snprintf(head, sizeof head, "%.20s", ref);
		return hs_err(EINVAL, "server name in '%s...' is longer than %d bytes", hs_escape(head, e, sizeof e),
			      HS_SERVER_MAX);
	}
	memcpy(server, ref, sn);
	server[sn] = 0;
	int r = hs_server_name_check(server);
	if (r < 0)
		return r;
	point[0] = 0;
	if (at) {
		const char *p = at + 1;
		size_t pn = colon ? (size_t)(colon - p) : strlen(p);
		if (pn == 0 || pn > HS_POINT_ID_LEN || strspn(p, "0123456789TZlatest") < pn) {
			char head[48];
			snprintf(head, sizeof head, "%.*s", (int)(pn > 40 ? 40 : pn), p);
			return hs_err(EINVAL, "point '%s' is not a point id (YYYYMMDDTHHMMSSZ, a prefix of one, or 'latest')",
				      hs_escape(head, e, sizeof e));
		}
		memcpy(point, p, pn);
		point[pn] = 0;
	}
	if (disk)
		disk[0] = 0;
	if (colon) {
		if (!disk)
			return hs_err(EINVAL, "'%s' names a disk; give SERVER[@POINT] here (the command works on "
					      "every disk of the point)", hs_escape(ref, e, sizeof e));
		if (strlen(colon + 1) > HS_DISK_MAX) {
			char head[48];
			snprintf(head, sizeof head, "%.40s", ref);
			return hs_err(EINVAL, "disk name in '%s...' is longer than %d bytes", hs_escape(head, e, sizeof e),
				      HS_DISK_MAX);
		}
		if ((r = hs_disk_name_check(colon + 1)) < 0)
			return r;
		strcpy(disk, colon + 1);
	}
	return 0;
}

void hs_time_iso(time_t t, char out[21])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
