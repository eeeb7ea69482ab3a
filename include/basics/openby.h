/* Who has files open on a filesystem, in any mount namespace. A QEMU that
 * libvirt starts gets a mount namespace of its own holding a copy of every
 * mount the host had then: unmounting ours leaves that copy, and a FUSE
 * daemon serving it, behind. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct hs_open_by {
	pid_t pid;
	char comm[32];
	bool other_ns; /* in a mount namespace other than this process's */
};

/* Whether a process other than this one and skip (0: none) has a file open
 * on the filesystem of device dev (st_dev of its root), through any mount
 * of it in any namespace (other_only: in any but this process's). Read from /proc (fdinfo's mnt_id against that
 * process's mountinfo): nothing on the filesystem is touched, so a daemon
 * that does not answer cannot hang the question. 1 with *by set, 0 if
 * none, -errno. */
int hs_open_by(dev_t dev, pid_t skip, bool other_only, struct hs_open_by *by);
