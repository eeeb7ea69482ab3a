/* Boot trace files; see trace.h. A small text format:
 *   hotspare-boot-trace 1
 *   server <name>
 *   point <id>          (the point the trace was recorded on; informational)
 *   chunk_size <bytes>
 *   then one chunk index per line, in the order the boot read them. */
#include "spare/trace.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void hs_trace_path(const char *server, char *out, size_t cap)
{
	hs_trace_path_disk(server, NULL, out, cap);
}

void hs_trace_path_disk(const char *server, const char *disk, char *out, size_t cap)
{
	const char *dir = getenv("HOTSPARE_TRACE_DIR");
	snprintf(out, cap, "%s/%s%s%s.trace", dir && dir[0] ? dir : HS_TRACE_DIR_DEFAULT, server, disk ? ":" : "",
		 disk ? disk : "");
}

/* mkdir -p of the directory part of path. */
static int make_parent(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int hs_trace_save(const char *path, const struct hs_index *ix, const uint64_t *v, size_t n)
{
	int r = make_parent(path);
	if (r < 0)
		return hs_err(-r, "cannot create the directory of %s: %s", path, strerror(-r));
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	_cleanup_fclose_ FILE *f = fopen(tmp, "we");
	if (!f)
		return hs_err(errno, "cannot write %s: %s", tmp, strerror(errno));
	fprintf(f, "hotspare-boot-trace 1\nserver %s\npoint %s\nchunk_size %u\n", ix->server, ix->id,
		ix->chunk_size);
	for (size_t k = 0; k < n; k++)
		fprintf(f, "%llu\n", (unsigned long long)v[k]);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(HS_TAKE(f)) != 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return hs_err(e, "cannot write %s: %s", path, strerror(e));
	}
	return 0;
}

int hs_trace_load(const char *path, const struct hs_index *ix, uint64_t **out, size_t *nout)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : hs_err(errno, "cannot read %s: %s", path, strerror(errno));
	char line[256], server[HS_SERVER_MAX + 2] = "";
	unsigned version = 0, cs = 0;
	if (!fgets(line, sizeof line, f) || sscanf(line, "hotspare-boot-trace %u", &version) != 1 || version != 1)
		return hs_err(EINVAL, "%s is not a hotspare boot trace (version 1)", path);
	if (!fgets(line, sizeof line, f) || sscanf(line, "server %65s", server) != 1 ||
	    !fgets(line, sizeof line, f) || strncmp(line, "point ", 6) != 0 ||
	    !fgets(line, sizeof line, f) || sscanf(line, "chunk_size %u", &cs) != 1)
		return hs_err(EINVAL, "%s is a malformed boot trace", path);
	if (strcmp(server, ix->server) != 0 || cs != ix->chunk_size)
		return hs_err(EINVAL, "boot trace %s was recorded for %s with %u-byte chunks, not %s with %u",
			      path, server, cs, ix->server, ix->chunk_size);
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	while (fgets(line, sizeof line, f)) {
		char *end;
		errno = 0;
		unsigned long long i = strtoull(line, &end, 10);
		if (errno || end == line || (*end && *end != '\n')) {
			free(v);
			return hs_err(EINVAL, "%s is a malformed boot trace (line '%.40s')", path, line);
		}
		if (i >= ix->nchunks)
			continue;
		if (hs_grow(&v, &cap, n + 1, sizeof *v) < 0) {
			free(v);
			return -ENOMEM;
		}
		v[n++] = i;
	}
	*out = v;
	*nout = n;
	return 0;
}
