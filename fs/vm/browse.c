/* Browsing a point's files; see browse.h. */
#include "vm/browse.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/run.h"
#include "vm/domain.h"
#include "vm/slices.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RECORD ".hotspare-browse.json"

static const char *const via_names[] = { "safe", "vm", "kernel" };

void hs_browse_part_name(const struct hs_browse_part *p, char *out, size_t cap)
{
	int n = snprintf(out, cap, p->num ? "p%d" : "disk", p->num);
	/* /dev/VG/LV -> -VG-LV (names checked to hold no '/' but the two) */
	if (p->lv[0] && n > 0 && (size_t)n < cap) {
		snprintf(out + n, cap - (size_t)n, "-%s", p->lv + 5);
		for (char *c = out + n; *c; c++)
			if (*c == '/')
				*c = '-';
	}
}

/* ---- the record ---------------------------------------------------------- */

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

/* Write the record atomically: umount undoes whatever it names. */
static int save(const struct hs_browse *b)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return -ENOMEM;
	}
	add_str(o, "via", via_names[b->via]);
	add_str(o, "image", b->image);
	add_str(o, "work", b->view.work);
	add_str(o, "fuse_mountpoint", b->view.mnt);
	add_int(o, "pid", b->view.pid);
	add_str(o, "browse_work", b->work);
	add_int(o, "slices_pid", b->slices_pid);
	add_int(o, "slices_start", (int64_t)b->slices_start);
	add_str(o, "loop", b->loop);
	for (size_t i = 0; i < b->n; i++) {
		const struct hs_browse_part *p = &b->parts[i];
		json_object *j = json_object_new_object();
		add_int(j, "number", p->num);
		add_int(j, "start", (int64_t)p->start);
		add_int(j, "size", (int64_t)p->size);
		add_str(j, "type", p->type);
		add_str(j, "label", p->label);
		add_str(j, "via", p->via);
		add_str(j, "lv", p->lv);
		add_str(j, "dir", p->dir);
		add_str(j, "device", p->dev);
		add_int(j, "pid", p->pid);
		add_int(j, "pid_start", (int64_t)p->pid_start);
		json_object_object_add(j, "mounted", json_object_new_boolean(p->mounted));
		if (p->note[0])
			add_str(j, "note", p->note);
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "partitions", a);
	if (b->ndisks) {
		json_object *d = json_object_new_array();
		for (unsigned k = 0; k < b->ndisks; k++)
			json_object_array_add(d, json_object_new_string(b->disk[k]));
		json_object_object_add(o, "disks", d);
	}
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	snprintf(path, sizeof path, "%s/%s", b->dir, RECORD);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int r = 0;
	FILE *f = fopen(tmp, "we");
	if (!f || fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0)
		r = hs_err(errno ? errno : EIO, "cannot write %s: %s", tmp, strerror(errno ? errno : EIO));
	if (f && fclose(f) != 0 && r == 0)
		r = hs_err(errno, "cannot write %s: %s", tmp, strerror(errno));
	if (r == 0 && rename(tmp, path) < 0)
		r = hs_err(errno, "cannot write %s: %s", path, strerror(errno));
	if (r < 0)
		unlink(tmp);
	json_object_put(o);
	return r;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

/* A work directory a record may name: ours, by its name. */
static bool ours(const char *path, const char *kind)
{
	return !path[0] || (path[0] == '/' && strstr(path, kind) && !strstr(path, "/../"));
}

/* Load a record written by save(). 1 if there is none, 0, or -errno. */
static int load(const char *dir, struct hs_browse *b)
{
	memset(b, 0, sizeof *b);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, RECORD);
	/* No record (or a dead FUSE mount answering ENOTCONN): not a browse. */
	if (access(path, F_OK) < 0)
		return 1;
	json_object *o = json_object_from_file(path), *a;
	if (!o)
		return hs_err(EINVAL, "%s is not a browse record", path);
	if (!realpath(dir, b->dir))
		snprintf(b->dir, sizeof b->dir, "%s", dir);
	for (size_t i = 0; i < sizeof via_names / sizeof *via_names; i++)
		if (!strcmp(jstr(o, "via"), via_names[i]))
			b->via = (enum hs_browse_via)i;
	snprintf(b->image, sizeof b->image, "%s", jstr(o, "image"));
	snprintf(b->view.work, sizeof b->view.work, "%s", jstr(o, "work"));
	snprintf(b->view.mnt, sizeof b->view.mnt, "%s", jstr(o, "fuse_mountpoint"));
	snprintf(b->view.image, sizeof b->view.image, "%s", b->image);
	b->view.pid = (long)jint(o, "pid");
	snprintf(b->work, sizeof b->work, "%s", jstr(o, "browse_work"));
	b->slices_pid = (long)jint(o, "slices_pid");
	b->slices_start = (unsigned long long)jint(o, "slices_start");
	snprintf(b->loop, sizeof b->loop, "%s", jstr(o, "loop"));
	if (json_object_object_get_ex(o, "disks", &a) && json_object_is_type(a, json_type_array))
		for (size_t k = 0; k < json_object_array_length(a) && b->ndisks < 64; k++) {
			const char *name = json_object_get_string(json_object_array_get_idx(a, k));
			/* A disk's directory is DIR/NAME: nothing that leaves DIR. */
			if (name && *name && *name != '.' && !strchr(name, '/') && strlen(name) <= HS_DISK_MAX)
				snprintf(b->disk[b->ndisks++], sizeof b->disk[0], "%s", name);
		}
	if (json_object_object_get_ex(o, "partitions", &a) && json_object_is_type(a, json_type_array))
		for (size_t i = 0; i < json_object_array_length(a) && b->n < HS_BROWSE_MAX_PARTS; i++) {
			json_object *j = json_object_array_get_idx(a, i), *v;
			struct hs_browse_part *p = &b->parts[b->n++];
			p->num = (int)jint(j, "number");
			snprintf(p->dir, sizeof p->dir, "%s", jstr(j, "dir"));
			snprintf(p->via, sizeof p->via, "%s", jstr(j, "via"));
			snprintf(p->lv, sizeof p->lv, "%s", jstr(j, "lv"));
			p->pid = (long)jint(j, "pid");
			p->pid_start = (unsigned long long)jint(j, "pid_start");
			p->mounted = json_object_object_get_ex(j, "mounted", &v) && json_object_get_boolean(v);
		}
	json_object_put(o);
	if (!ours(b->view.work, "/hotspare-view-") || !ours(b->work, "/hotspare-browse-") ||
	    (!b->view.work[0] && !b->work[0]))
		return hs_err(EINVAL, "%s names no hotspare work directory", path);
	for (size_t i = 0; i < b->n; i++) {
		/* Only directories of this browse are unmounted and removed. */
		const char *d = b->parts[i].dir;
		size_t l = strlen(b->dir);
		if (d[0] && (strncmp(d, b->dir, l) != 0 || d[l] != '/' || strchr(d + l + 1, '/')))
			return hs_err(EINVAL, "%s names %s, outside %s", path, d, b->dir);
	}
	return 0;
}

/* ---- processes ----------------------------------------------------------- */

/* Whether pid is still the process that was started at start. */
static bool same_process(long pid, unsigned long long start)
{
	return pid > 0 && start && hs_proc_start(pid) == start;
}

/* SIGKILL what is left of a driver's process group: its members that
 * started no earlier than the driver (QEMU, libguestfs' helpers). */
static void kill_group(long pid, unsigned long long start)
{
	if (pid <= 0 || !start)
		return;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char *end;
		long q = strtol(e->d_name, &end, 10);
		struct hs_proc p;
		if (*end || q <= 0 || hs_proc_get(q, &p) < 0)
			continue;
		if (p.pgrp == pid && p.start >= start)
			kill((pid_t)q, SIGKILL);
	}
	if (d)
		closedir(d);
}

/* Wait up to ms for a driver to exit, then kill its group. */
static void stop_driver(long pid, unsigned long long start, int ms)
{
	/* Exited is enough: not our child, it may wait for init to reap it. */
	for (int t = 0; t < ms && start && hs_proc_running(pid, start); t += 50) {
		waitpid((pid_t)pid, NULL, WNOHANG); /* our child while browse runs */
		hs_sleep_ms(50);
	}
	kill_group(pid, start);
	waitpid((pid_t)pid, NULL, WNOHANG);
}

/* ---- undo ------------------------------------------------------------------ */

/* The loop device's backing file, or "" when it has none. */
static void loop_backing(const char *loop, char *out, size_t cap)
{
	char path[128];
	out[0] = 0;
	const char *name = strrchr(loop, '/');
	snprintf(path, sizeof path, "/sys/block/%s/loop/backing_file", name ? name + 1 : loop);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(out, (int)cap, f))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	fclose(f);
}

/* Unmount dir, retrying while busy (a reader may be closing); the mount of
 * a driver that died is detached even when busy (nothing to flush). */
static int unmount_dir(const char *dir, bool driver_dead)
{
	char type[64];
	int r = hs_mount_type(dir, type, sizeof type);
	if (r == 0 || r == -ENOENT)
		return 0;
	r = -EBUSY;
	for (int t = 0; t < 50 && r == -EBUSY; t++) {
		if (t)
			hs_sleep_ms(100);
		r = hs_mount_detach(dir, false);
	}
	if (r == -EBUSY && driver_dead && hs_mount_type(dir, type, sizeof type) == 1 && !strncmp(type, "fuse", 4))
		r = hs_mount_detach(dir, true);
	if (r == -EBUSY)
		return hs_err(EBUSY, "%s is busy (is a shell or program still using it?)", dir);
	if (r < 0 && r != -EINVAL && r != -ENOENT)
		return hs_err(-r, "cannot unmount %s: %s", dir, strerror(-r));
	return 0;
}

/* Undo everything b records, newest first. 0, or -errno (the record stays). */
static int teardown(struct hs_browse *b)
{
	int r;
	/* Each disk's browse first (its own record), then the shared view. */
	for (unsigned k = b->ndisks; k-- > 0;) {
		char sub[PATH_MAX + 64];
		snprintf(sub, sizeof sub, "%s/%s", b->dir, b->disk[k]);
		if ((r = hs_browse_undo(sub)) < 0)
			return r;
		rmdir(sub);
	}
	b->ndisks = 0;
	for (size_t i = b->n; i-- > 0;) {
		struct hs_browse_part *p = &b->parts[i];
		bool dead = !strcmp(p->via, "kernel") ? false : !same_process(p->pid, p->pid_start);
		if (p->dir[0] && (r = unmount_dir(p->dir, dead)) < 0)
			return r;
		/* guestmount shuts its VM down once unmounted: give it time. A
		 * driver still starting (browse was killed) is stopped at once,
		 * and whatever it mounted meanwhile is detached after it. */
		if (p->pid > 0)
			stop_driver(p->pid, p->pid_start, !p->mounted ? 0 : !strcmp(p->via, "vm") ? 60000 : 10000);
		if (p->pid > 0 && p->dir[0] && (r = unmount_dir(p->dir, true)) < 0)
			return r;
		p->mounted = false;
		p->pid = 0;
		if (p->dir[0])
			rmdir(p->dir);
	}
	if (b->work[0]) {
		char parts[PATH_MAX];
		snprintf(parts, sizeof parts, "%s/parts", b->work);
		/* A pid that is no longer the daemon is not waited for. */
		long pid = same_process(b->slices_pid, b->slices_start) ? b->slices_pid : 0;
		char type[64];
		/* Not waited for by the unmount: a mount namespace made meanwhile
		 * (a QEMU libvirt started) may hold a copy of the mount and keep the
		 * daemon serving it; it has nothing to flush, so it is stopped. */
		if (hs_mount_type(parts, type, sizeof type) == 1 && (r = hs_spare_unmount(parts, 0, 0, 10000)) < 0)
			return r;
		if (pid)
			stop_driver(pid, b->slices_start, 5000);
		if ((r = hs_rm_tree(b->work)) < 0 && r != -ENOENT)
			return hs_err(-r, "cannot remove %s: %s", b->work, strerror(-r));
		b->work[0] = 0;
	}
	char back[PATH_MAX];
	loop_backing(b->loop, back, sizeof back);
	/* Only the loop device that still holds this browse's image. */
	if (b->loop[0] && back[0] && !strcmp(back, b->image)) {
		char *argv[] = { "losetup", "-d", b->loop, NULL };
		char out[512];
		if ((r = hs_run(argv, out, sizeof out)) != 0)
			return hs_err(r < 0 ? -r : EBUSY, "cannot detach %s: %s", b->loop, hs_first_line(out));
		for (int t = 0; t < 100; t++) {
			loop_backing(b->loop, back, sizeof back);
			if (strcmp(back, b->image) != 0)
				break;
			hs_sleep_ms(50);
		}
	}
	b->loop[0] = 0;
	r = hs_view_close(&b->view);
	if (r < 0)
		return r;
	if (b->dir[0]) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/%s", b->dir, RECORD);
		unlink(path);
	}
	return 0;
}

int hs_browse_undo(const char *dir)
{
	struct hs_browse *b = malloc(sizeof *b);
	if (!b)
		return -ENOMEM;
	int r = load(dir, b);
	if (r == 0)
		r = teardown(b);
	free(b);
	return r;
}

/* ---- what the image holds ------------------------------------------------- */

/* DIR must be an empty directory that is not a mount point. */
static int check_dir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return hs_err(errno, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return hs_err(ENOTDIR, "%s is not a directory", dir);
	char type[64];
	if (hs_mount_type(dir, type, sizeof type) == 1)
		return hs_err(EBUSY, "%s is a mount point (a %s filesystem is mounted there)", dir, type);
	DIR *d = opendir(dir);
	if (!d)
		return hs_err(errno, "%s: %s", dir, strerror(errno));
	struct dirent *e;
	bool empty = true;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty ? 0 : hs_err(ENOTEMPTY, "%s is not empty", dir);
}

static int cmp_part(const void *a, const void *b)
{
	return ((const struct hs_browse_part *)a)->num - ((const struct hs_browse_part *)b)->num;
}

/* The partition table, read in userspace by sfdisk (libfdisk). None: no parts. */
static int read_table(struct hs_browse *b, uint64_t image_size)
{
	char *argv[] = { "sfdisk", "--json", b->image, NULL };
	size_t cap = 1 << 20;
	char *out = malloc(cap);
	if (!out)
		return -ENOMEM;
	int r = hs_run(argv, out, cap);
	/* sfdisk's warnings share the stream: the table is the JSON object. */
	char *js = strchr(out, '{');
	json_object *o = r == 0 && js ? json_tokener_parse(js) : NULL, *t, *a;
	free(out);
	b->n = 0;
	if (!o)
		return 0; /* no partition table: a filesystem on the whole disk, or nothing */
	uint64_t sector = 512;
	if (json_object_object_get_ex(o, "partitiontable", &t)) {
		if (jint(t, "sectorsize") > 0)
			sector = (uint64_t)jint(t, "sectorsize");
		if (!json_object_object_get_ex(t, "partitions", &a) || !json_object_is_type(a, json_type_array))
			a = NULL;
		size_t il = strlen(b->image);
		for (size_t i = 0; a && i < json_object_array_length(a) && b->n < HS_BROWSE_MAX_PARTS; i++) {
			json_object *j = json_object_array_get_idx(a, i);
			const char *node = jstr(j, "node"), *type = jstr(j, "type");
			/* A DOS extended partition only holds the logical ones. */
			if (!strcmp(type, "5") || !strcmp(type, "f") || !strcmp(type, "85"))
				continue;
			const char *num = strlen(node) > il ? node + il : "";
			if (*num == 'p')
				num++;
			int64_t start = jint(j, "start"), size = jint(j, "size");
			struct hs_browse_part *p = &b->parts[b->n++];
			memset(p, 0, sizeof *p);
			p->num = atoi(num);
			if (p->num <= 0)
				p->num = (int)b->n;
			if (start < 0 || size <= 0 || (uint64_t)start > image_size / sector ||
			    (uint64_t)size > image_size / sector - (uint64_t)start) {
				snprintf(p->note, sizeof p->note, "lies beyond the end of the image");
				continue;
			}
			p->start = (uint64_t)start * sector;
			p->size = (uint64_t)size * sector;
		}
	}
	json_object_put(o);
	if (b->n)
		qsort(b->parts, b->n, sizeof *b->parts, cmp_part);
	return 0;
}

/* Bytes from the customer's disk reach a terminal: printable ASCII only. */
static void printable(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

/* Parse blkid's export output into TYPE and LABEL. */
static void parse_blkid(char *out, struct hs_browse_part *p)
{
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "TYPE=", 5))
			snprintf(p->type, sizeof p->type, "%s", line + 5);
		else if (!strncmp(line, "LABEL=", 6))
			snprintf(p->label, sizeof p->label, "%s", line + 6);
	}
	printable(p->type);
	printable(p->label);
}

/* TYPE and LABEL of a partition, by blkid's low-level probe of its bytes. */
static void probe_range(const char *image, struct hs_browse_part *p)
{
	char off[32], size[32];
	snprintf(off, sizeof off, "%llu", (unsigned long long)p->start);
	snprintf(size, sizeof size, "%llu", (unsigned long long)p->size);
	char *argv[] = { "blkid", "-p", "-o", "export", "-O", off, "-S", size, (char *)image, NULL };
	char out[4096];
	if (hs_run(argv, out, sizeof out) == 0)
		parse_blkid(out, p);
}

static bool have_prog(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t l = strcspn(path, ":");
		snprintf(buf, sizeof buf, "%.*s/%s", (int)l, path, name);
		if (access(buf, X_OK) == 0)
			return true;
		path += l + (path[l] == ':');
	}
	return false;
}

/* Types that hold no files to show. */
static bool unmountable(const char *type)
{
	static const char *const skip[] = { "swap", "LVM2_member", "crypto_LUKS", "linux_raid_member",
					    "zfs_member", "BitLocker", "VMFS_volume_member", NULL };
	for (size_t i = 0; skip[i]; i++)
		if (!strcmp(type, skip[i]))
			return true;
	return false;
}

static bool is_ext(const char *type)
{
	return !strcmp(type, "ext2") || !strcmp(type, "ext3") || !strcmp(type, "ext4");
}

/* Make DIR/pN (DIR/disk) for p. 0, or a note and -1. */
static int make_dir(struct hs_browse *b, struct hs_browse_part *p)
{
	char name[160];
	hs_browse_part_name(p, name, sizeof name);
	snprintf(p->dir, sizeof p->dir, "%s/%s", b->dir, name);
	if (mkdir(p->dir, 0755) == 0)
		return 0;
	snprintf(p->note, sizeof p->note, "cannot make the directory: %s", strerror(errno));
	p->dir[0] = 0;
	return -1;
}

/* ---- the host kernel's way (--kernel-mount) ---------------------------------- */

static uint64_t read_u64(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned long long v = 0;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* The loop device's partitions, from sysfs. */
static size_t list_loop_parts(struct hs_browse *b)
{
	const char *name = strrchr(b->loop, '/') + 1;
	char path[128];
	snprintf(path, sizeof path, "/sys/block/%s", name);
	DIR *d = opendir(path);
	struct dirent *e;
	size_t nl = strlen(name);
	b->n = 0;
	while (d && (e = readdir(d)) && b->n < HS_BROWSE_MAX_PARTS) {
		if (strncmp(e->d_name, name, nl) != 0 || e->d_name[nl] != 'p')
			continue;
		struct hs_browse_part *p = &b->parts[b->n++];
		memset(p, 0, sizeof *p);
		p->num = atoi(e->d_name + nl + 1);
		snprintf(p->dev, sizeof p->dev, "/dev/%s", e->d_name);
		char sz[600];
		snprintf(sz, sizeof sz, "%s/%s/size", path, e->d_name);
		p->size = read_u64(sz) * 512;
		snprintf(sz, sizeof sz, "%s/%s/start", path, e->d_name);
		p->start = read_u64(sz) * 512;
	}
	if (d)
		closedir(d);
	if (b->n)
		qsort(b->parts, b->n, sizeof *b->parts, cmp_part);
	return b->n;
}

static bool have_fs(const char *name)
{
	FILE *f = fopen("/proc/filesystems", "re");
	char line[128];
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		const char *t = strrchr(line, '\t');
		found = !strcmp(t ? t + 1 : line, name);
	}
	if (f)
		fclose(f);
	return found;
}

/* Mount one filesystem read-only with the host kernel, replaying nothing. */
static void kernel_mount_part(struct hs_browse *b, struct hs_browse_part *p)
{
	if (make_dir(b, p) < 0)
		return;
	char opts[128] = "ro,nosuid,nodev,noexec";
	char *argv[10];
	size_t n = 0;
	if (!strcmp(p->type, "ntfs") && !have_fs("ntfs3")) {
		argv[n++] = "ntfs-3g"; /* read-only: a dirty volume mounts, nothing is replayed */
	} else {
		const char *type = p->type, *extra = "";
		if (is_ext(type))
			extra = ",noload"; /* never replay a journal that needs recovery */
		else if (!strcmp(type, "xfs"))
			extra = ",norecovery";
		else if (!strcmp(type, "btrfs"))
			extra = ",rescue=nologreplay";
		else if (!strcmp(type, "ntfs"))
			type = "ntfs3", extra = ",force"; /* a volume marked dirty, read-only */
		strncat(opts, extra, sizeof opts - strlen(opts) - 1);
		argv[n++] = "mount";
		argv[n++] = "-t";
		argv[n++] = (char *)type;
	}
	argv[n++] = "-o";
	argv[n++] = opts;
	argv[n++] = p->dev;
	argv[n++] = p->dir;
	argv[n] = NULL;
	char out[1024];
	int r = hs_run(argv, out, sizeof out);
	if (r != 0 && !strcmp(argv[0], "mount") && !strcmp(p->type, "ntfs")) {
		/* ntfs3 refused it: try ntfs-3g, read-only. */
		char *fb[] = { "ntfs-3g", "-o", "ro,nosuid,nodev,noexec", p->dev, p->dir, NULL };
		char out2[1024];
		if (hs_run(fb, out2, sizeof out2) == 0)
			r = 0;
	}
	if (r == 0) {
		p->mounted = true;
		snprintf(p->via, sizeof p->via, "kernel");
		return;
	}
	snprintf(p->note, sizeof p->note, "cannot mount: %s", hs_first_line(out));
	rmdir(p->dir);
	p->dir[0] = 0;
}

/* Attach the image read-only with its partitions and mount what it holds. */
static int kernel_attach(struct hs_browse *b)
{
	char *argv[] = { "losetup", "-r", "-P", "-f", "--show", b->image, NULL };
	char out[1024];
	int r = hs_run(argv, out, sizeof out);
	char *line = hs_first_line(out);
	if (r != 0 || strncmp(line, "/dev/loop", 9) != 0)
		return hs_err(r < 0 ? -r : EIO, "cannot attach %s to a loop device: %s", b->image, line);
	snprintf(b->loop, sizeof b->loop, "%s", line);
	if ((r = save(b)) < 0)
		return r;
	/* The kernel's scan may not have run (or not be done): ask again. */
	if (list_loop_parts(b) == 0) {
		char *px[] = { "partx", "-a", b->loop, NULL };
		hs_run(px, NULL, 0);
		list_loop_parts(b);
	}
	if (b->n == 0) {
		struct hs_browse_part *p = &b->parts[b->n++];
		memset(p, 0, sizeof *p);
		snprintf(p->dev, sizeof p->dev, "%s", b->loop);
		char sz[128];
		snprintf(sz, sizeof sz, "/sys/block/%s/size", strrchr(b->loop, '/') + 1);
		p->size = read_u64(sz) * 512;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct hs_browse_part *p = &b->parts[i];
		for (int t = 0; t < 40 && access(p->dev, F_OK) < 0; t++)
			hs_sleep_ms(50);
		char *bl[] = { "blkid", "-p", "-o", "export", p->dev, NULL };
		char out2[4096];
		if (hs_run(bl, out2, sizeof out2) == 0)
			parse_blkid(out2, p);
		if (p->num == 0 && !p->type[0]) {
			b->n = 0; /* no partitions and no filesystem */
			break;
		}
		if (!p->type[0])
			snprintf(p->note, sizeof p->note, "no filesystem found");
		else if (unmountable(p->type))
			snprintf(p->note, sizeof p->note, "not a mountable filesystem");
		else
			kernel_mount_part(b, p);
		if ((r = save(b)) < 0)
			return r;
	}
	return 0;
}

/* ---- userspace drivers and throw-away VMs ---------------------------------- */

/* Seconds a VM may take to mount a filesystem: TCG boots slowly. */
static int vm_timeout(void)
{
	const char *s = getenv("HOTSPARE_VM_TIMEOUT");
	char *end;
	long v = s && *s ? strtol(s, &end, 10) : 0;
	return s && *s && !*end && v > 0 && v <= 86400 ? (int)v : 600;
}

/* Start a driver in the foreground, in a session of its own (so its VM and
 * helpers can be found as its process group), its output into log. */
static long spawn(char *const argv[], const char *log, bool tcg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	setsid();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (null >= 0)
		dup2(null, 0);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
	}
	/* Never libvirt: other work runs its daemon; QEMU is started directly. */
	setenv("LIBGUESTFS_BACKEND", "direct", 1);
	if (tcg)
		setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", 1);
	execvp(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The driver's first line that says what went wrong. */
static void log_line(const char *log, char *out, size_t cap)
{
	char buf[8192];
	out[0] = 0;
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	const char *pick = NULL;
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		l = hs_first_line(l);
		if (!*l || !strncmp(l, "Mounting read-only", 18) || strstr(l, "without recovering journal"))
			continue; /* fuse2fs' notes on a ro mount, not errors */
		if (!pick || strstr(l, "error"))
			pick = l;
		if (strstr(l, "error"))
			break;
	}
	if (pick)
		snprintf(out, cap, "%s", pick);
	printable(out);
}

/* Start p's driver: fuse2fs, ntfs-3g or guestmount on its partition file. */
static void start_driver(struct hs_browse *b, struct hs_browse_part *p, bool tcg)
{
	char src[PATH_MAX + 32], log[PATH_MAX + 200], mopt[200];
	char name[160], slice[16];
	hs_browse_part_name(p, name, sizeof name);
	snprintf(slice, sizeof slice, p->num ? "p%d" : "disk", p->num);
	snprintf(src, sizeof src, "%s/parts/%s", b->work, slice);
	snprintf(log, sizeof log, "%s/%s.log", b->work, name);
	char *argv[24];
	size_t n = 0;
	if (!strcmp(p->via, "fuse2fs")) {
		/* norecovery: a journal that needs recovery is not replayed (implies ro). */
		argv[n++] = "fuse2fs";
		argv[n++] = src;
		argv[n++] = p->dir;
		argv[n++] = "-f";
		argv[n++] = "-o";
		argv[n++] = "ro,norecovery,nosuid,nodev,noexec";
	} else if (!strcmp(p->via, "ntfs-3g")) {
		argv[n++] = "ntfs-3g";
		argv[n++] = "-o";
		argv[n++] = "ro,no_detach,nosuid,nodev,noexec";
		argv[n++] = src;
		argv[n++] = p->dir;
	} else {
		/* The VM sees one raw disk, the partition; its own journal replay is off too. */
		const char *o = !strcmp(p->type, "xfs") ? "ro,norecovery"
				: !strcmp(p->type, "btrfs") ? "ro,rescue=nologreplay" : "ro";
		snprintf(mopt, sizeof mopt, "%s:/:%s", p->lv[0] ? p->lv : "/dev/sda", o);
		argv[n++] = "guestmount";
		argv[n++] = "--ro";
		argv[n++] = "--no-fork";
		argv[n++] = "--format=raw";
		argv[n++] = "-a";
		argv[n++] = src;
		argv[n++] = "-m";
		argv[n++] = mopt;
		argv[n++] = p->dir; /* nosuid,nodev,noexec: set by the remount in wait_driver */
	}
	argv[n] = NULL;
	long pid = spawn(argv, log, tcg);
	if (pid < 0) {
		snprintf(p->note, sizeof p->note, "cannot start %s: %s", argv[0], strerror((int)-pid));
		return;
	}
	p->pid = pid;
	p->pid_start = hs_proc_start(pid);
}

/* Wait for p's driver to mount (or fail, or time out), then make sure the
 * mount is ro,nosuid,nodev,noexec whatever the driver passed on. */
static void wait_driver(struct hs_browse *b, struct hs_browse_part *p, int seconds, bool *timed_out)
{
	char log[PATH_MAX + 200], name[160], type[64];
	hs_browse_part_name(p, name, sizeof name);
	snprintf(log, sizeof log, "%s/%s.log", b->work, name);
	double deadline = hs_now_s() + seconds;
	int st;
	for (;;) {
		if (hs_mount_type(p->dir, type, sizeof type) == 1 && !strncmp(type, "fuse", 4))
			break;
		pid_t w = waitpid((pid_t)p->pid, &st, WNOHANG);
		if (w == (pid_t)p->pid || (w < 0 && errno == ECHILD)) {
			char why[200];
			log_line(log, why, sizeof why);
			snprintf(p->note, sizeof p->note, "%s: %s", p->via,
				 why[0] ? why : w > 0 && WIFSIGNALED(st) ? "killed" : "exited without mounting");
			p->pid = 0;
			goto fail;
		}
		if (hs_now_s() > deadline) {
			snprintf(p->note, sizeof p->note, "%s: no mount after %d s", p->via, seconds);
			*timed_out = true;
			goto fail;
		}
		hs_sleep_ms(50);
	}
	/* A bind remount sets the mount's own flags, whatever the driver asked for. */
	if (mount(NULL, p->dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		snprintf(p->note, sizeof p->note, "cannot make the mount read-only: %s", strerror(errno));
		unmount_dir(p->dir, true);
		goto fail;
	}
	p->mounted = true;
	return;
fail:
	if (p->pid > 0)
		kill_group(p->pid, p->pid_start);
	if (p->pid > 0)
		waitpid((pid_t)p->pid, NULL, 0);
	p->pid = 0;
	p->via[0] = 0;
	rmdir(p->dir);
	p->dir[0] = 0;
}

/* Which driver reads p, or a note why none does. */
static void choose(struct hs_browse *b, struct hs_browse_part *p)
{
	if (p->note[0])
		return;
	if (!p->type[0]) {
		snprintf(p->note, sizeof p->note, "no filesystem found");
		return;
	}
	if (!strcmp(p->type, "LVM2_member") && have_prog("virt-filesystems") && have_prog("guestmount")) {
		snprintf(p->via, sizeof p->via, "lvm"); /* its volumes are listed by a VM */
		return;
	}
	if (unmountable(p->type)) {
		snprintf(p->note, sizeof p->note, "not a mountable filesystem");
		return;
	}
	const char *via = "vm";
	if (b->via == HS_BROWSE_SAFE && is_ext(p->type) && have_prog("fuse2fs"))
		via = "fuse2fs";
	else if (b->via == HS_BROWSE_SAFE && !strcmp(p->type, "ntfs") && have_prog("ntfs-3g"))
		via = "ntfs-3g";
	if (!strcmp(via, "vm") && !have_prog("guestmount")) {
		snprintf(p->note, sizeof p->note, "needs a VM to read it safely: install libguestfs-tools");
		return;
	}
	snprintf(p->via, sizeof p->via, "%s", via);
}

/* A volume name from the VM that can name a device and a directory:
 * /dev/VG/LV of plain characters. */
static bool good_lv(const char *s)
{
	if (strncmp(s, "/dev/", 5) != 0 || strlen(s) >= 120 || strstr(s, ".."))
		return false;
	int slashes = 0;
	for (const char *c = s + 5; *c; c++)
		if (*c == '/')
			slashes++;
		else if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			   strchr("+_.-", *c)))
			return false;
	return slashes == 1 && s[5] != '/' && s[strlen(s) - 1] != '/';
}

/* Run a VM that lists an LVM partition's filesystems (virt-filesystems) and
 * add each logical volume as a part of its own, for the VM to mount. */
static void list_lvm(struct hs_browse *b, struct hs_browse_part *p, bool *tcg)
{
	char src[PATH_MAX + 32], log[PATH_MAX + 32], slice[16];
	snprintf(slice, sizeof slice, p->num ? "p%d" : "disk", p->num);
	snprintf(src, sizeof src, "%s/parts/%s", b->work, slice);
	snprintf(log, sizeof log, "%s/%s-lvm.log", b->work, slice);
	/* Always read-only; sizes in bytes. */
	char *argv[] = { "virt-filesystems", "--format=raw", "--filesystems", "--long", "--csv",
			 "--no-title", "-a", src, NULL };
	p->via[0] = 0;
	for (;;) {
		long pid = spawn(argv, log, *tcg);
		if (pid < 0) {
			snprintf(p->note, sizeof p->note, "cannot start virt-filesystems: %s", strerror((int)-pid));
			return;
		}
		unsigned long long st = hs_proc_start(pid);
		int seconds = *tcg ? vm_timeout() : 120, status = 0;
		double deadline = hs_now_s() + seconds;
		bool done = false;
		while (!done && hs_now_s() < deadline) {
			done = waitpid((pid_t)pid, &status, WNOHANG) == (pid_t)pid;
			if (!done)
				hs_sleep_ms(100);
		}
		if (!done) {
			kill_group(pid, st);
			waitpid((pid_t)pid, NULL, 0);
			if (!*tcg) {
				/* KVM that does not run guests here hangs them: TCG. */
				hs_kvm_mark_unusable();
				*tcg = true;
				continue;
			}
			snprintf(p->note, sizeof p->note, "LVM: no answer from the VM after %d s", seconds);
			return;
		}
		kill_group(pid, st);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char why[200];
			log_line(log, why, sizeof why);
			snprintf(p->note, sizeof p->note, "LVM: %s", why[0] ? why : "virt-filesystems failed");
			return;
		}
		break;
	}
	FILE *f = fopen(log, "re");
	char line[1024];
	int found = 0;
	/* Name,Type,VFS,Label,Size,Parent */
	while (f && fgets(line, sizeof line, f) && b->n < HS_BROWSE_MAX_PARTS) {
		line[strcspn(line, "\r\n")] = 0;
		char *fld[6] = { 0 }, *t = line;
		size_t k = 0;
		for (char *c = line;; c++)
			if (*c == ',' || !*c) {
				bool end = !*c;
				*c = 0;
				if (k < 6)
					fld[k++] = t;
				t = c + 1;
				if (end)
					break;
			}
		if (k < 5 || !good_lv(fld[0]) || strcmp(fld[1], "filesystem") != 0)
			continue;
		struct hs_browse_part *q = &b->parts[b->n++];
		memset(q, 0, sizeof *q);
		q->num = p->num;
		q->start = p->start;
		snprintf(q->lv, sizeof q->lv, "%s", fld[0]);
		snprintf(q->type, sizeof q->type, "%s", fld[2]);
		snprintf(q->label, sizeof q->label, "%s", fld[3]);
		printable(q->type);
		printable(q->label);
		q->size = strtoull(fld[4], NULL, 10);
		found++;
		if (!q->type[0] || !strcmp(q->type, "unknown"))
			snprintf(q->note, sizeof q->note, "no filesystem found");
		else if (unmountable(q->type))
			snprintf(q->note, sizeof q->note, "not a mountable filesystem");
		else
			snprintf(q->via, sizeof q->via, "vm");
	}
	if (f)
		fclose(f);
	snprintf(p->note, sizeof p->note, "LVM: %d logical volume%s with a filesystem", found, found == 1 ? "" : "s");
}

/* Partition files, then each filesystem's driver: all started, then waited
 * for (VMs boot side by side). */
static int attach_safe(struct hs_browse *b)
{
	struct stat st;
	if (stat(b->image, &st) < 0)
		return hs_err(errno, "%s: %s", b->image, strerror(errno));
	uint64_t size = (uint64_t)st.st_size;
	int r = read_table(b, size);
	if (r < 0)
		return r;
	if (b->n == 0) {
		struct hs_browse_part *p = &b->parts[b->n++];
		memset(p, 0, sizeof *p);
		p->size = size;
		probe_range(b->image, p);
		if (!p->type[0]) {
			b->n = 0; /* no partitions and no filesystem */
			return save(b);
		}
	} else {
		for (size_t i = 0; i < b->n; i++)
			if (!b->parts[i].note[0])
				probe_range(b->image, &b->parts[i]);
	}
	struct hs_slice *sl = calloc(b->n ? b->n : 1, sizeof *sl);
	if (!sl)
		return -ENOMEM;
	size_t ns = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct hs_browse_part *p = &b->parts[i];
		choose(b, p);
		if (!p->via[0])
			continue;
		snprintf(sl[ns].name, sizeof sl[ns].name, p->num ? "p%d" : "disk", p->num);
		sl[ns].off = p->start;
		sl[ns].len = p->size;
		ns++;
	}
	if (ns) {
		char parts[PATH_MAX];
		snprintf(parts, sizeof parts, "%s/parts", b->work);
		if (mkdir(parts, 0700) < 0)
			r = hs_err(errno, "cannot make %s: %s", parts, strerror(errno));
		if (r == 0)
			r = hs_slices_mount(b->image, sl, ns, parts, &b->slices_pid);
		if (r == 0)
			b->slices_start = hs_proc_start(b->slices_pid);
	}
	free(sl);
	if (r == 0)
		r = save(b);
	if (r < 0)
		return r;
	bool tcg = !hs_kvm_usable();
	for (size_t i = 0, n = b->n; i < n; i++)
		if (!strcmp(b->parts[i].via, "lvm")) {
			list_lvm(b, &b->parts[i], &tcg);
			if ((r = save(b)) < 0)
				return r;
		}
	for (size_t i = 0; i < b->n; i++) {
		struct hs_browse_part *p = &b->parts[i];
		if (!p->via[0])
			continue;
		if (make_dir(b, p) == 0)
			start_driver(b, p, tcg);
		if (!p->pid) {
			p->via[0] = 0;
			if (p->dir[0])
				rmdir(p->dir);
			p->dir[0] = 0;
		}
		if ((r = save(b)) < 0)
			return r;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct hs_browse_part *p = &b->parts[i];
		if (!p->pid)
			continue;
		bool vm = !strcmp(p->via, "vm"), timed_out = false;
		/* Under KVM an appliance mounts in seconds; a KVM that cannot run
		 * guests here hangs them instead: then TCG, and remember it. */
		wait_driver(b, p, vm ? (tcg ? vm_timeout() : 120) : 60, &timed_out);
		if (vm && timed_out && !tcg) {
			hs_kvm_mark_unusable();
			tcg = true;
			p->note[0] = 0;
			snprintf(p->via, sizeof p->via, "vm");
			if (make_dir(b, p) == 0) {
				start_driver(b, p, true);
				if ((r = save(b)) < 0)
					return r;
				if (p->pid)
					wait_driver(b, p, vm_timeout(), &timed_out);
			}
		}
		if ((r = save(b)) < 0)
			return r;
	}
	return 0;
}

/* Browse image under dir; a view, if given, becomes the browse's (undone with
 * it, also when this fails). */
static int browse(const char *image, const char *dir, enum hs_browse_via via, struct hs_view *view,
		  struct hs_browse **out)
{
	struct hs_browse *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	b->via = via;
	if (view)
		b->view = *view;
	int r = check_dir(dir);
	if (r == 0 && !realpath(dir, b->dir))
		r = hs_err(errno, "%s: %s", dir, strerror(errno));
	if (r == 0 && !realpath(image, b->image))
		r = hs_err(errno, "%s: %s", image, strerror(errno));
	const char *base = getenv("HOTSPARE_WORK_DIR");
	if (!base || !*base)
		base = "/var/tmp";
	snprintf(b->work, sizeof b->work, "%s/hotspare-browse-XXXXXX", base);
	if (r == 0 && !mkdtemp(b->work))
		r = hs_err(errno, "cannot make a work directory under %s: %s", base, strerror(errno));
	if (r < 0)
		b->work[0] = 0;
	if (r == 0 && (r = save(b)) == 0)
		r = via == HS_BROWSE_KERNEL ? kernel_attach(b) : attach_safe(b);
	if (r < 0) {
		char keep[512];
		snprintf(keep, sizeof keep, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
		if (teardown(b) < 0)
			fprintf(stderr, "hotspare browse: cleaning up: %s\n", hs_err_msg());
		hs_err_clear();
		hs_err(-r, "%s", keep);
		free(b);
		return r;
	}
	*out = b;
	return 0;
}

int hs_browse_image(const char *image, const char *dir, enum hs_browse_via via, struct hs_browse **out)
{
	return browse(image, dir, via, NULL, out);
}

void hs_browse_free(struct hs_browse *b)
{
	if (!b)
		return;
	for (unsigned k = 0; k < 64; k++)
		hs_browse_free(b->child[k]);
	free(b);
}

/* Browse every disk of the view under dir/DISK; the view becomes the
 * browse's (undone with it, also when this fails). */
static int browse_disks(struct hs_view *view, const char *dir, enum hs_browse_via via, struct hs_browse **out)
{
	struct hs_browse *b = calloc(1, sizeof *b);
	if (!b) {
		hs_view_close(view);
		return -ENOMEM;
	}
	b->via = via;
	b->view = *view;
	snprintf(b->image, sizeof b->image, "%s", view->image);
	int r = realpath(dir, b->dir) ? 0 : hs_err(errno, "%s: %s", dir, strerror(errno));
	/* The record names every disk before any is browsed: an undo after a
	 * kill finds them all. */
	b->ndisks = view->ndisks;
	for (unsigned k = 0; k < b->ndisks; k++)
		snprintf(b->disk[k], sizeof b->disk[k], "%s", view->disk[k]);
	if (r == 0)
		r = save(b);
	for (unsigned k = 0; r == 0 && k < b->ndisks; k++) {
		char sub[PATH_MAX + 64], image[PATH_MAX + 128];
		snprintf(sub, sizeof sub, "%s/%s", b->dir, b->disk[k]);
		snprintf(image, sizeof image, "%s/%s", view->mnt, view->disk_image[k]);
		if (mkdir(sub, 0755) < 0)
			r = hs_err(errno, "cannot create %s: %s", sub, strerror(errno));
		else
			r = browse(image, sub, via, NULL, &b->child[k]);
	}
	if (r < 0) {
		char keep[512];
		snprintf(keep, sizeof keep, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
		if (teardown(b) < 0)
			fprintf(stderr, "hotspare browse: cleaning up: %s\n", hs_err_msg());
		hs_err_clear();
		hs_err(-r, "%s", keep);
		hs_browse_free(b);
		return r;
	}
	*out = b;
	return 0;
}

int hs_browse_open(const char *store, const char *ref, char **seeds, size_t nseeds, const char *dir,
		   enum hs_browse_via via, struct hs_browse **out)
{
	char server[HS_SERVER_MAX + 1], point[HS_POINT_ID_LEN + 1], disk[HS_DISK_MAX + 1];
	int r = check_dir(dir);
	if (r == 0)
		r = hs_ref_parse(ref, server, point, disk);
	if (r < 0)
		return r;
	struct hs_view view;
	r = disk[0] ? hs_view_open(store, ref, seeds, nseeds, &view) : hs_view_open_all(store, ref, seeds, nseeds, &view);
	if (r < 0)
		return r;
	if (view.ndisks > 1)
		return browse_disks(&view, dir, via, out);
	return browse(view.image, dir, via, &view, out);
}
