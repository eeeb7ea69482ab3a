/* Files written whole or not at all; see atomicfile.h. */
#include "basics/atomicfile.h"
#include "basics/err.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int hs_file_replace(const char *path, const char *what, void (*fill)(FILE *out, const void *arg), const void *arg)
{
	char tmp[PATH_MAX + 32];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp)
		return hs_err(ENAMETOOLONG, "%s %s: path too long", what, path);
	FILE *out = fopen(tmp, "wxe");
	if (!out)
		return hs_err(errno, "cannot write %s: %s", path, strerror(errno));
	fill(out, arg);
	int e = fflush(out) == 0 && fsync(fileno(out)) == 0 ? 0 : errno;
	if (fclose(out) != 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) < 0)
		e = errno;
	if (e) {
		unlink(tmp);
		return hs_err(e, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}
