/* Read-only views of points; see view.h. */
#include "vm/view.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/run.h"
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int run_fusermount(const char *mnt)
{
	char *argv[] = { "fusermount3", "-u", (char *)mnt, NULL };
	int r = hs_run(argv, NULL, 0);
	return r < 0 ? r : r == 0 ? 0 : -EBUSY;
}

int hs_spare_unmount(const char *mnt, long pid, int busy_ms)
{
	int r;
	for (int waited = 0;; waited += 100) {
		r = geteuid() == 0 ? hs_mount_detach(mnt, false) : run_fusermount(mnt);
		if (r != -EBUSY || waited >= busy_ms)
			break;
		hs_sleep_ms(100);
	}
	if (r == -EBUSY)
		return hs_err(EBUSY, "%s is busy (is a VM still using the image?)", mnt);
	if (r < 0)
		return hs_err(-r, "cannot unmount %s: %s", mnt, strerror(-r));
	/* Wait for the daemon: it flushes the state after the mount goes away. */
	for (int waited = 0; pid > 0 && kill((pid_t)pid, 0) == 0; waited += 20) {
		if (waited >= 600000)
			return hs_err(ETIMEDOUT, "the daemon (pid %ld) has not exited after 10 minutes", pid);
		hs_sleep_ms(20);
	}
	return 0;
}

/* The daemon's pid, from the mount's status file; 0 if unknown. */
static long view_pid(const char *mnt)
{
	char path[PATH_MAX + 32], buf[8192];
	snprintf(path, sizeof path, "%s/.hotspare-status", mnt);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	long pid = 0;
	json_object *o = json_tokener_parse(buf), *v;
	if (o && json_object_object_get_ex(o, "pid", &v))
		pid = (long)json_object_get_int64(v);
	json_object_put(o);
	return pid;
}

int hs_view_open(const char *store, const char *ref, char **seeds, size_t nseeds, struct hs_view *v)
{
	memset(v, 0, sizeof *v);
	const char *base = getenv("HOTSPARE_WORK_DIR");
	if (!base || !*base)
		base = "/var/tmp";
	snprintf(v->work, sizeof v->work, "%s/hotspare-view-XXXXXX", base);
	if (!mkdtemp(v->work)) {
		int e = errno;
		v->work[0] = 0;
		return hs_err(e, "cannot make a work directory under %s: %s", base, strerror(e));
	}
	snprintf(v->mnt, sizeof v->mnt, "%s/mnt", v->work);
	char state[PATH_MAX], self[PATH_MAX];
	snprintf(state, sizeof state, "%s/state", v->work);
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (mkdir(v->mnt, 0700) < 0 || sl < 0) {
		int e = errno;
		hs_rm_tree(v->work);
		return hs_err(e, "cannot prepare the work directory %s: %s", v->work, strerror(e));
	}
	self[sl] = 0;
	size_t argc = 0;
	char **argv = calloc(12 + 2 * nseeds, sizeof *argv);
	if (!argv) {
		hs_rm_tree(v->work);
		return -ENOMEM;
	}
	argv[argc++] = self;
	argv[argc++] = "mount";
	argv[argc++] = (char *)store;
	argv[argc++] = (char *)ref;
	argv[argc++] = v->mnt;
	argv[argc++] = "--state";
	argv[argc++] = state;
	argv[argc++] = "--read-only";
	argv[argc++] = "--hydrate-threads";
	argv[argc++] = "0";
	for (size_t i = 0; i < nseeds; i++) {
		argv[argc++] = "--seed";
		argv[argc++] = seeds[i];
	}
	char out[1024];
	int r = hs_run(argv, out, sizeof out);
	free(argv);
	if (r != 0) {
		hs_rm_tree(v->work);
		char *msg = hs_first_line(out);
		if (!strncmp(msg, "hotspare mount: ", 16))
			msg += 16;
		return hs_err(r < 0 ? -r : EIO, "%s", *msg ? msg : "cannot mount a read-only view of the point");
	}
	v->pid = view_pid(v->mnt);
	DIR *d = opendir(v->mnt);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(v->image, sizeof v->image, "%s/%s", v->mnt, e->d_name);
	if (d)
		closedir(d);
	if (!v->image[0]) {
		hs_view_close(v);
		return hs_err(EIO, "the read-only view at %s shows no image", v->mnt);
	}
	return 0;
}

int hs_view_close(struct hs_view *v)
{
	if (!v->work[0])
		return 0;
	char type[64];
	if (hs_mount_type(v->mnt, type, sizeof type) == 1) {
		/* A loop device just detached lets go of the image a moment later. */
		int r = hs_spare_unmount(v->mnt, v->pid, 10000);
		if (r < 0)
			return r;
	}
	int r = hs_rm_tree(v->work);
	if (r == 0)
		v->work[0] = 0;
	return r;
}
