/* hotspare umount MOUNTPOINT: unmount and wait until the daemon has flushed
 * its state and exited (fusermount alone returns before that). */
#include "cli.h"
#include "mounts.h"
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>

#define USAGE "MOUNTPOINT"

static int run_fusermount(const char *mnt)
{
	pid_t p = fork();
	if (p == 0) {
		execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
		_exit(127);
	}
	int st;
	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EBUSY;
}

int cmd_umount(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-')
		return argc == 2 && !strcmp(argv[1], "--help") ? cli_usage("umount", USAGE) & 0
							    : cli_usage("umount", USAGE);
	const char *mnt = argv[1];
	char type[64];
	int r = hs_mount_type(mnt, type, sizeof type);
	if (r == 0 || r == -ENOENT)
		return cli_failf("umount", "%s is not mounted", mnt);
	if (r < 0)
		return cli_failf("umount", "cannot inspect %s: %s", mnt, strerror(-r));
	if (strcmp(type, "fuse.hotspare") != 0)
		return cli_failf("umount", "%s is a %s mount, not a hotspare one", mnt, type);

	char buf[8192];
	long pid = 0;
	if (cli_read_status(mnt, buf, sizeof buf) == 0) {
		json_object *o = json_tokener_parse(buf), *v;
		if (o && json_object_object_get_ex(o, "pid", &v))
			pid = (long)json_object_get_int64(v);
		json_object_put(o);
	} else {
		/* The daemon is gone: nothing to flush, only a dead endpoint to clear. */
		r = hs_mount_detach(mnt, true);
		if (r < 0)
			return cli_failf("umount", "cannot detach %s: %s", mnt, strerror(-r));
		return 0;
	}
	r = geteuid() == 0 ? hs_mount_detach(mnt, false) : run_fusermount(mnt);
	if (r == -EBUSY)
		return cli_failf("umount", "%s is busy (is a VM still using the image?)", mnt);
	if (r < 0)
		return cli_failf("umount", "cannot unmount %s: %s", mnt, strerror(-r));
	/* Wait for the daemon: it flushes the state after the mount goes away. */
	for (int waited = 0; pid > 0 && kill((pid_t)pid, 0) == 0; waited += 20) {
		if (waited >= 600000)
			return cli_failf("umount", "the daemon (pid %ld) has not exited after 10 minutes", pid);
		struct timespec ts = { 0, 20 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}
