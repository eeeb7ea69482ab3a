/* Fuzz the names users type (store/name.h): server and disk names, point
 * ids and SERVER[@POINT][:DISK] references, and the escaping that quotes
 * them in messages (basics/path.h). The input is one string. */
#include "store/name.h"
#include "basics/path.h"
#include "fuzz.h"
#include <string.h>

/* What every accepted name is: the rules of name.h, checked by hand. */
static void check_name(const char *s, size_t max)
{
	size_t n = strlen(s);
	FUZZ_ASSERT(n >= 1 && n <= max && s[0] != '.' && !strstr(s, ".."));
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = fuzz_dup(data, size, 1);
	if (hs_server_name_check(s) == 0)
		check_name(s, HS_SERVER_MAX);
	fuzz_check_msg();
	if (hs_disk_name_check(s) == 0)
		check_name(s, HS_DISK_MAX);
	fuzz_check_msg();
	time_t t;
	if (hs_point_id_parse(s, &t) == 0) {
		char back[HS_POINT_ID_LEN + 1];
		hs_point_id_format(t, back);
		FUZZ_ASSERT(strcmp(back, s) == 0);
	}
	char server[HS_SERVER_MAX + 1], point[HS_POINT_ID_LEN + 1], disk[HS_DISK_MAX + 1];
	for (int pass = 0; pass < 2; pass++) {
		memset(disk, 'x', sizeof disk);
		int r = hs_ref_parse(s, server, point, pass ? disk : NULL);
		fuzz_check_msg();
		if (r == 0) {
			check_name(server, HS_SERVER_MAX);
			FUZZ_ASSERT(strlen(point) <= HS_POINT_ID_LEN && strspn(point, "0123456789TZlatest") == strlen(point));
			FUZZ_ASSERT(!pass || !disk[0] || (check_name(disk, HS_DISK_MAX), 1));
			FUZZ_ASSERT(pass || !strchr(s, ':'));
		}
	}
	/* Escaped text is printable, and never longer than its buffer. */
	for (size_t cap = 1; cap < 64; cap += 13) {
		char *e = malloc(cap);
		FUZZ_ASSERT(e);
		const char *out = hs_escape(s, e, cap);
		FUZZ_ASSERT(strlen(out) < cap);
		for (const unsigned char *p = (const unsigned char *)out; *p; p++)
			FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
		free(e);
	}
	free(s);
	return 0;
}
