/* hotspare umount MOUNTPOINT: unmount and wait until the daemon has flushed
 * its state and exited (fusermount alone returns before that). A directory
 * holding a browse (see cmd_browse.c) has that browse undone instead. */
#include "cli.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "spare/status.h"
#include "vm/browse.h"
#include "vm/view.h"
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "MOUNTPOINT"

int cmd_umount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c = cli_getopt(argc, argv, "h", opts);
	if (c != -1 || argc - optind != 1)
		return c == 'h' ? cli_help("umount", USAGE) : cli_usage("umount", USAGE);
	const char *mnt = argv[optind];
	char type[64];
	int r = hs_browse_undo(mnt);
	if (r < 0)
		return cli_fail("umount", r);
	if (r == 0)
		return 0;
	r = hs_mount_type(mnt, type, sizeof type);
	if (r == 0 || r == -ENOENT)
		return cli_failf("umount", "%s is not mounted", mnt);
	if (r < 0)
		return cli_failf("umount", "cannot inspect %s: %s", mnt, strerror(-r));
	if (strcmp(type, "fuse.hotspare") != 0)
		return cli_failf("umount", "%s is a %s mount, not a hotspare one", mnt, type);

	struct hs_status_brief st;
	if ((r = hs_status_read(mnt, NULL, &st)) < 0) {
		/* Unmounted meanwhile (another umount of it at the same moment). */
		if (hs_mount_type(mnt, type, sizeof type) == 0)
			return cli_failf("umount", "%s is not mounted", mnt);
		/* The daemon is gone: nothing to flush, only a dead endpoint to clear. */
		bool dead = r == -ENOTCONN;
		r = hs_mount_detach(mnt, true);
		if (r < 0)
			return cli_failf("umount", "cannot detach %s: %s", mnt, strerror(-r));
		printf("%s: %s; detached\n", mnt, dead ? "its daemon had died (the state keeps what it last flushed)"
						       : "its daemon did not answer");
		return 0;
	}
	/* Waits for the daemon too: it flushes the state after the mount goes
	 * away, then leaves its last word on how that went. */
	/* The daemon's own word on its start time (read from /proc here, a
	 * daemon reaped meanwhile would have none). A daemon that leaves a
	 * record gives it; an older one does not, and is not asked for one. */
	r = hs_spare_unmount(mnt, st.pid, st.pid_start, 0);
	if (r == 0 && st.exit_record && st.pid > 0 && st.pid_start)
		r = hs_status_exit_check(st.state_dir, st.pid, st.pid_start);
	if (r < 0)
		return cli_fail("umount", r);
	return 0;
}
