/* Read-only views of points; see view.h. */
#include "vm/view.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/openby.h"
#include "basics/run.h"
#include "basics/buf.h"
#include "spare/status.h"
#include "store/name.h"
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Unmount as a user: fusermount3 does what the kernel lets only root do.
 * -EBUSY when it says the mount is in use; any other refusal (not this
 * user's mount, ...) is -EPERM with its first line in why. */
static int run_fusermount(const char *mnt, char *why, size_t cap)
{
	char *argv[] = { "fusermount3", "-u", (char *)mnt, NULL };
	char out[1024] = "";
	int r = hs_run(argv, out, sizeof out);
	if (r <= 0)
		return r;
	if (r == 127) {
		snprintf(why, cap, "fusermount3 could not be run (is fuse3 installed?)");
		return -ENOENT;
	}
	if (strstr(out, "busy"))
		return -EBUSY;
	snprintf(why, cap, "%s", *hs_first_line(out) ? out : "fusermount3 failed");
	return -EPERM;
}

/* Whether the daemon pid, started at start (0: unknown), still runs. */
static bool daemon_runs(long pid, unsigned long long start)
{
	if (pid <= 0)
		return false;
	waitpid((pid_t)pid, NULL, WNOHANG); /* our own child: reaped here */
	return hs_proc_running(pid, start);
}

/* Whether mnt is still a hotspare mount (after a pause, when asked: an
 * unmount under way elsewhere ends within it). */
static bool still_mounted(const char *mnt, bool pause)
{
	char type[64];
	if (pause)
		hs_sleep_ms(100);
	int r = hs_mount_type(mnt, type, sizeof type);
	return r != 0 && !(r == 1 && strcmp(type, "fuse.hotspare") != 0);
}

int hs_spare_unmount(const char *mnt, long pid, unsigned long long start, int busy_ms)
{
	/* The daemon is this pid started at this time: a pid reused after it
	 * is reaped names another process, not one to wait for. */
	if (!start && pid > 0)
		start = hs_proc_start(pid);
	int r;
	char why[1024] = "";
	/* A copy of the mount in another mount namespace (a QEMU libvirt
	 * started while it was mounted gets one) is not ours to unmount and
	 * keeps the daemon serving it. One that a process there uses (that VM
	 * reads the image) refuses the unmount, as a user here would; one that
	 * nobody uses has its connection aborted below. */
	dev_t dev = 0;
	bool have_dev = hs_mount_dev(mnt, &dev) == 1;
	struct hs_open_by by;
	if (have_dev && hs_open_by(dev, (pid_t)pid, true, &by) == 1)
		return hs_err(EBUSY, "%s is busy: pid %d (%s) has its files open in another mount namespace "
				     "(a VM started by libvirt?)", mnt, (int)by.pid, by.comm);
	for (int waited = 0;; waited += 100) {
		r = geteuid() == 0 ? hs_mount_detach(mnt, false) : run_fusermount(mnt, why, sizeof why);
		/* Another umount of it at the same moment: EINVAL once it is gone,
		 * EBUSY while it goes (fusermount3: any refusal). Gone is what was
		 * asked; its daemon is still waited for below. */
		if ((r == -EINVAL || r == -EBUSY || (r < 0 && why[0])) && !still_mounted(mnt, r == -EBUSY)) {
			r = 0;
			break;
		}
		if (r != -EBUSY || waited >= busy_ms)
			break;
		hs_sleep_ms(100);
	}
	if (r == -EBUSY)
		return hs_err(EBUSY, "%s is busy (is a VM still using the image?)", mnt);
	if (r < 0 && why[0])
		return hs_err(-r, "cannot unmount %s: %s", mnt, why);
	if (r < 0)
		return hs_err(-r, "cannot unmount %s: %s", mnt, strerror(-r));
	/* Wait for the daemon: it flushes the state after the mount goes away.
	 * A daemon this process forked (a drill's partition files) is its own
	 * child, reaped as it ends; any other is done once a zombie: its parent
	 * (init) may take a second or more to reap it. */
	bool aborted = false;
	for (int waited = 0; daemon_runs(pid, start); waited += 20) {
		if (waited >= 600000)
			return hs_err(ETIMEDOUT, "the daemon (pid %ld) has not exited after 10 minutes", pid);
		/* Still serving after our mount went: a copy elsewhere holds the
		 * connection. Nobody using it, it is aborted: the daemon then
		 * flushes and exits as after an unmount. */
		if (!aborted && waited >= 500 && have_dev && geteuid() == 0 && hs_open_by(dev, (pid_t)pid, false, &by) == 0) {
			hs_fuse_conn_abort(dev);
			aborted = true;
		}
		hs_sleep_ms(20);
	}
	return 0;
}

/* The daemon's pid and the image of disk ("": the only disk) from the
 * view's status. 0, or -errno with a message. */
static int view_image(struct hs_view *v, const char *server, const char *disk, bool all)
{
	struct hs_buf b = { 0 };
	struct hs_status_brief st;
	int r = hs_status_read(v->mnt, &b, &st);
	if (r < 0)
		return r;
	v->pid = st.pid;
	json_object *o = json_tokener_parse((const char *)b.data), *disks, *x;
	hs_buf_free(&b);
	size_t n = o && json_object_object_get_ex(o, "disks", &disks) ? json_object_array_length(disks) : 0;
	char names[512] = "";
	const char *image = NULL;
	for (size_t k = 0; k < n; k++) {
		json_object *d = json_object_array_get_idx(disks, k);
		const char *name = json_object_object_get_ex(d, "name", &x) ? json_object_get_string(x) : "";
		const char *img = json_object_object_get_ex(d, "image", &x) ? json_object_get_string(x) : NULL;
		size_t at = strlen(names);
		snprintf(names + at, sizeof names - at, "%s%s", k ? ", " : "", name);
		if (img && !strchr(img, '/') && ((disk[0] && !strcmp(name, disk)) || (!disk[0] && (n == 1 || all)) ) &&
		    !image)
			image = img;
		if (all && img && !strchr(img, '/') && v->ndisks < 64) {
			snprintf(v->disk[v->ndisks], sizeof v->disk[0], "%s", name);
			snprintf(v->disk_image[v->ndisks], sizeof v->disk_image[0], "%s", img);
			v->ndisks++;
		}
	}
	if (image)
		snprintf(v->image, sizeof v->image, "%s/%s", v->mnt, image);
	else if (!n)
		r = hs_err(EIO, "the read-only view at %s shows no disk", v->mnt);
	else if (disk[0])
		r = hs_err(ENOENT, "point %s@%s has no disk %s (its disks: %s)", server, st.point, disk, names);
	else
		r = hs_err(EINVAL, "point %s@%s has %zu disks (%s): name one as %s@%s:DISK", server, st.point, n,
			   names, server, st.point);
	json_object_put(o);
	return r;
}

static int view_open(const char *store, const char *ref, char **seeds, size_t nseeds, bool all, struct hs_view *v)
{
	memset(v, 0, sizeof *v);
	/* The view mounts the whole point; a ":DISK" picks the image. */
	char server[HS_SERVER_MAX + 1], point[HS_POINT_ID_LEN + 1], disk[HS_DISK_MAX + 1], whole[160];
	int r = hs_ref_parse(ref, server, point, all ? NULL : disk);
	if (r < 0)
		return r;
	if (all)
		disk[0] = 0;
	snprintf(whole, sizeof whole, "%s%s%s", server, point[0] ? "@" : "", point);
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
	argv[argc++] = whole;
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
	r = hs_run(argv, out, sizeof out);
	free(argv);
	if (r != 0) {
		hs_rm_tree(v->work);
		char *msg = hs_first_line(out);
		if (!strncmp(msg, "hotspare mount: ", 16))
			msg += 16;
		return hs_err(r < 0 ? -r : EIO, "%s", *msg ? msg : "cannot mount a read-only view of the point");
	}
	if ((r = view_image(v, server, disk, all)) < 0) {
		int e = hs_view_close(v);
		(void)e; /* the first failure is the one to tell */
		return r;
	}
	return 0;
}

int hs_view_open(const char *store, const char *ref, char **seeds, size_t nseeds, struct hs_view *v)
{
	return view_open(store, ref, seeds, nseeds, false, v);
}

int hs_view_open_all(const char *store, const char *ref, char **seeds, size_t nseeds, struct hs_view *v)
{
	return view_open(store, ref, seeds, nseeds, true, v);
}

int hs_view_close(struct hs_view *v)
{
	if (!v->work[0])
		return 0;
	char type[64];
	if (hs_mount_type(v->mnt, type, sizeof type) == 1) {
		/* A loop device just detached lets go of the image a moment later. */
		int r = hs_spare_unmount(v->mnt, v->pid, 0, 10000);
		if (r < 0)
			return r;
	}
	int r = hs_rm_tree(v->work);
	if (r == 0)
		v->work[0] = 0;
	return r;
}
