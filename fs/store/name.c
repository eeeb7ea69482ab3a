/* Validation of the names users type; see name.h. */
#include "store/name.h"
#include "basics/err.h"
#include <stdio.h>
#include <string.h>

int hs_server_name_check(const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return hs_err(EINVAL, "server name is empty");
	if (n > HS_SERVER_MAX)
		return hs_err(EINVAL, "server name '%.20s...' is longer than %d bytes", s,
			      HS_SERVER_MAX);
	if (s[0] == '.')
		return hs_err(EINVAL, "server name '%s' starts with '.'", s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.')
			continue;
		if (c == '/')
			return hs_err(EINVAL, "server name '%s' contains '/'", s);
		if (c < 0x20 || c == 0x7f)
			return hs_err(EINVAL, "server name contains a control character (byte %zu)", i);
		return hs_err(EINVAL, "server name '%s' contains '%c' (allowed: letters, digits, '-', '_', '.')", s, c);
	}
	if (strstr(s, ".."))
		return hs_err(EINVAL, "server name '%s' contains '..'", s);
	return 0;
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

int hs_ref_parse(const char *ref, char server[HS_SERVER_MAX + 1], char point[HS_POINT_ID_LEN + 1])
{
	const char *at = strchr(ref, '@');
	size_t sn = at ? (size_t)(at - ref) : strlen(ref);
	if (sn > HS_SERVER_MAX)
		return hs_err(EINVAL, "server name in '%.20s...' is longer than %d bytes", ref,
			      HS_SERVER_MAX);
	memcpy(server, ref, sn);
	server[sn] = 0;
	int r = hs_server_name_check(server);
	if (r < 0)
		return r;
	point[0] = 0;
	if (at) {
		const char *p = at + 1;
		size_t pn = strlen(p);
		if (pn == 0 || pn > HS_POINT_ID_LEN || strspn(p, "0123456789TZlatest") != pn)
			return hs_err(EINVAL, "point '%s' is not a point id (YYYYMMDDTHHMMSSZ, a prefix of one, or 'latest')", p);
		memcpy(point, p, pn + 1);
	}
	return 0;
}

void hs_time_iso(time_t t, char out[21])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
