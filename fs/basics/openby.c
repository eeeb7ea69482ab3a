/* Open files on a filesystem, across mount namespaces; see openby.h. */
#include "basics/openby.h"
#include "basics/cleanup.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The ids of the mounts of dev in one mount namespace. */
struct ns_mounts {
	char ns[64];
	int ids[16];
	unsigned n;
};

/* Read pid's namespace and, unless it is cached, the ids of its mounts of
 * dev from its mountinfo. The entry, or NULL if pid is gone. */
static struct ns_mounts *mounts_of(long pid, dev_t dev, struct ns_mounts **cache, size_t *n)
{
	char path[64], ns[64];
	snprintf(path, sizeof path, "/proc/%ld/ns/mnt", pid);
	ssize_t len = readlink(path, ns, sizeof ns - 1);
	if (len < 0)
		return NULL;
	ns[len] = 0;
	for (size_t k = 0; k < *n; k++)
		if (strcmp((*cache)[k].ns, ns) == 0)
			return &(*cache)[k];
	snprintf(path, sizeof path, "/proc/%ld/mountinfo", pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct ns_mounts *grown = realloc(*cache, (*n + 1) * sizeof **cache);
	if (!grown)
		return NULL;
	*cache = grown;
	struct ns_mounts *m = &grown[(*n)++];
	snprintf(m->ns, sizeof m->ns, "%s", ns);
	m->n = 0;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		int id;
		unsigned ma, mi;
		if (sscanf(line, "%d %*d %u:%u", &id, &ma, &mi) == 3 && makedev(ma, mi) == dev &&
		    m->n < sizeof m->ids / sizeof m->ids[0])
			m->ids[m->n++] = id;
	}
	free(line);
	return m;
}

/* Whether one of pid's open files lies on one of m's mounts. */
static bool has_open(long pid, const struct ns_mounts *m)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fdinfo", pid);
	_cleanup_closedir_ DIR *d = opendir(path);
	if (!d)
		return false;
	for (struct dirent *e; (e = readdir(d));) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char p[320], buf[512];
		snprintf(p, sizeof p, "/proc/%ld/fdinfo/%.256s", pid, e->d_name);
		_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
		ssize_t got = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
		if (got <= 0)
			continue;
		buf[got] = 0;
		const char *at = strstr(buf, "mnt_id:");
		int id;
		if (!at || sscanf(at, "mnt_id: %d", &id) != 1)
			continue;
		for (unsigned k = 0; k < m->n; k++)
			if (m->ids[k] == id)
				return true;
	}
	return false;
}

int hs_open_by(dev_t dev, pid_t skip, bool other_only, struct hs_open_by *by)
{
	char self_ns[64] = "";
	ssize_t len = readlink("/proc/self/ns/mnt", self_ns, sizeof self_ns - 1);
	if (len > 0)
		self_ns[len] = 0;
	_cleanup_closedir_ DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct ns_mounts *cache = NULL;
	size_t n = 0;
	int found = 0;
	pid_t self = getpid();
	for (struct dirent *e; !found && (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self || pid == skip)
			continue;
		const struct ns_mounts *m = mounts_of(pid, dev, &cache, &n);
		bool other = m && strcmp(m->ns, self_ns) != 0;
		if (!m || m->n == 0 || (other_only && !other) || !has_open(pid, m))
			continue;
		found = 1;
		by->pid = (pid_t)pid;
		by->other_ns = other;
		by->comm[0] = 0;
		char p[64];
		snprintf(p, sizeof p, "/proc/%ld/comm", pid);
		_cleanup_fclose_ FILE *f = fopen(p, "re");
		if (f && fgets(by->comm, sizeof by->comm, f))
			by->comm[strcspn(by->comm, "\n")] = 0;
	}
	free(cache);
	return found;
}
