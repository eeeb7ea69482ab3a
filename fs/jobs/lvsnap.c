/* Captures of LVM logical volumes from temporary snapshots; see lvsnap.h. */
#include "jobs/lvsnap.h"
#include "basics/err.h"
#include "basics/interrupt.h"
#include "basics/run.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAG "hotspare_snapshot"
#define OWNER_TAG "hotspare_owner_"
#define MIN_SIZE (64ull << 20)

struct lv {
	char vg[128], name[128], attr[16];
	uint64_t size, vg_free;
	char tags[512];
};

/* Run an LVM command; its output (stdout and stderr) into out. The exit status or -errno. */
static int lvm(char *const argv[], char *out, size_t cap)
{
	/* LVM warns about every descriptor it inherits; the command runs as
	 * its own process group so a Ctrl-C meant for us does not stop a
	 * clean-up half-way. */
	setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 1);
	return hs_run_flags(argv, out, cap, HS_RUN_OWN_GROUP);
}

/* Parse one "vg|name|attr|size|vg_free|tags" line of lvs; 0 or -1. */
static int parse_lv(char *line, struct lv *lv)
{
	char *f[6];
	int n = 0;
	while (*line == ' ')
		line++;
	for (char *p = line; n < 6; n++) {
		f[n] = p;
		p = strchr(p, '|');
		if (!p) {
			n++;
			break;
		}
		*p++ = 0;
	}
	if (n != 6)
		return -1;
	snprintf(lv->vg, sizeof lv->vg, "%s", f[0]);
	snprintf(lv->name, sizeof lv->name, "%s", f[1]);
	snprintf(lv->attr, sizeof lv->attr, "%s", f[2]);
	lv->size = strtoull(f[3], NULL, 10);
	lv->vg_free = strtoull(f[4], NULL, 10);
	snprintf(lv->tags, sizeof lv->tags, "%s", f[5]);
	return lv->vg[0] && lv->name[0] ? 0 : -1;
}

#define LVS_FIELDS "vg_name,lv_name,lv_attr,lv_size,vg_free,lv_tags"

/* What lvs says of a volume (a path, VG/LV or @tag); each volume to fn. */
static int lvs(const char *what, int (*fn)(void *arg, struct lv *lv), void *arg, char *err, size_t cap)
{
	char *argv[] = { "lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o", LVS_FIELDS,
			 (char *)what, NULL };
	char out[16384];
	int rc = lvm(argv, out, sizeof out);
	if (rc != 0) {
		snprintf(err, cap, "%s", hs_first_line(out));
		return rc < 0 ? rc : -EIO;
	}
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		struct lv lv;
		int r = parse_lv(line, &lv) == 0 ? fn(arg, &lv) : 0;
		if (r)
			return r;
	}
	return 0;
}

static int take_first(void *arg, struct lv *lv)
{
	*(struct lv *)arg = *lv;
	return 1;
}

/* The owner tag's pid and start time; 1 if that process still runs. */
static bool owner_alive(const char *tags)
{
	const char *t = strstr(tags, OWNER_TAG);
	long pid;
	unsigned long long start;
	if (!t || sscanf(t + strlen(OWNER_TAG), "%ld.%llu", &pid, &start) != 2)
		return false;
	return pid > 0 && hs_proc_start(pid) == start;
}

static int remove_lv(const char *vg, const char *name)
{
	char target[300], out[4096];
	snprintf(target, sizeof target, "%s/%s", vg, name);
	char *argv[] = { "lvremove", "-f", target, NULL };
	int rc = 0;
	/* udev may hold the device open for a moment after it appears. */
	for (int tries = 0; tries < 10; tries++) {
		if ((rc = lvm(argv, out, sizeof out)) == 0)
			return 0;
		usleep(300 * 1000);
	}
	return hs_err(rc < 0 ? -rc : EBUSY, "cannot remove the snapshot %s: %s", target, hs_first_line(out));
}

struct stale {
	unsigned n;
	int err;
};

static int remove_stale(void *arg, struct lv *lv)
{
	struct stale *s = arg;
	if (!strstr(lv->tags, TAG) || owner_alive(lv->tags))
		return 0;
	int r = remove_lv(lv->vg, lv->name);
	if (r < 0 && s->err == 0)
		s->err = r;
	if (r == 0)
		s->n++;
	return 0;
}

int hs_lvsnap_clean_stale(unsigned *n)
{
	struct stale s = { 0 };
	char err[512];
	int r = lvs("@" TAG, remove_stale, &s, err, sizeof err);
	*n = s.n;
	if (r < 0)
		return hs_err(-r, "cannot list LVM volumes: %s", err);
	return s.err;
}

/* Make the snapshot of the volume lv; its device path into path. */
static int create(const struct lv *lv, uint64_t size, char *name, size_t ncap, char *path, size_t pcap)
{
	if (!size) {
		size = lv->size / 10;
		if (size < MIN_SIZE)
			size = MIN_SIZE;
		if (size > lv->vg_free)
			size = lv->vg_free;
	}
	if (size == 0)
		return hs_err(ENOSPC, "volume group %s has no free space for a snapshot of %s", lv->vg, lv->name);
	long pid = (long)getpid();
	char owner[96], origin[300], bytes[32], out[4096];
	snprintf(owner, sizeof owner, OWNER_TAG "%ld.%llu", pid, hs_proc_start(pid));
	/* Volume names are at most 127 bytes. */
	snprintf(name, ncap, "%.100s-hotspare-%ld", lv->name, pid);
	snprintf(origin, sizeof origin, "%s/%s", lv->vg, lv->name);
	snprintf(bytes, sizeof bytes, "%llub", (unsigned long long)size);
	char *argv[] = { "lvcreate", "--snapshot", "--name", name, "--size", bytes, "--addtag", TAG, "--addtag", owner,
			 origin, NULL };
	int rc = lvm(argv, out, sizeof out);
	if (rc != 0)
		return hs_err(rc < 0 ? -rc : EIO, "cannot make a snapshot of %s: %s", origin, hs_first_line(out));
	snprintf(path, pcap, "/dev/%s/%s", lv->vg, name);
	return 0;
}

/* 1 if the snapshot overflowed (its attributes say invalid), 0 if not. */
static int overflowed(const char *vg, const char *name)
{
	char target[300], err[512];
	snprintf(target, sizeof target, "%s/%s", vg, name);
	struct lv lv = { 0 };
	if (lvs(target, take_first, &lv, err, sizeof err) < 0)
		return 0;
	/* lv_attr's fifth character: I for an invalid snapshot. */
	return strlen(lv.attr) > 4 && lv.attr[4] == 'I';
}

int hs_lvsnap_capture(const struct hs_capture_opts *opts, uint64_t snapshot_size, struct hs_capture_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	if (opts->ndisks != 1 || opts->disks[0].reader)
		return hs_err(EINVAL, "--lvm-snapshot takes one SOURCE: LVM cannot snapshot several volumes at one instant");
	const char *source = opts->disks[0].source;
	struct lv lv = { 0 };
	char err[512] = "";
	int r = lvs(source, take_first, &lv, err, sizeof err);
	if (r < 0 || !lv.name[0])
		return hs_err(EINVAL, "%s is not an LVM logical volume%s%s", source, err[0] ? ": " : "", err);
	if (lv.attr[0] == 's' || lv.attr[0] == 'S')
		return hs_err(EINVAL, "%s is a snapshot itself: give its origin volume", source);
	unsigned stale;
	if ((r = hs_lvsnap_clean_stale(&stale)) < 0)
		return r;
	char name[160], path[PATH_MAX];
	if ((r = create(&lv, snapshot_size, name, sizeof name, path, sizeof path)) < 0)
		return r;
	struct hs_capture_disk disk = opts->disks[0];
	disk.source = path;
	struct hs_capture_opts o = *opts;
	o.disks = &disk;
	o.consistency = HS_CRASH_CONSISTENT;
	if (!hs_interrupted())
		r = hs_capture(&o, stats);
	else
		r = hs_err(EINTR, "interrupted by SIG%s", sigabbrev_np(hs_interrupted()));
	if (r < 0 && r != -EINTR && overflowed(lv.vg, name))
		r = hs_err(ENOSPC, "the snapshot of %s/%s overflowed: more was written to it during the capture than "
				   "the snapshot holds; give a larger --lvm-snapshot SIZE", lv.vg, lv.name);
	char keep[1024] = "";
	if (r < 0 && hs_err_msg())
		snprintf(keep, sizeof keep, "%s", hs_err_msg());
	int rm = remove_lv(lv.vg, name);
	if (r < 0 && keep[0]) {
		hs_err_clear();
		hs_err(-r, "%s", keep);
	}
	return r < 0 ? r : rm;
}
