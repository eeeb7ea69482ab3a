/* Browsing a point's files; see browse.h. */
#include "vm/browse.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/run.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD ".hotspare-browse.json"

/* Write the record atomically: umount undoes whatever it names. */
static int save(const struct hs_browse *b)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return -ENOMEM;
	}
	json_object_object_add(o, "work", json_object_new_string(b->view.work));
	json_object_object_add(o, "fuse_mountpoint", json_object_new_string(b->view.mnt));
	json_object_object_add(o, "image", json_object_new_string(b->view.image));
	json_object_object_add(o, "pid", json_object_new_int64(b->view.pid));
	json_object_object_add(o, "loop", json_object_new_string(b->loop));
	for (size_t i = 0; i < b->n; i++) {
		const struct hs_browse_part *p = &b->parts[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "number", json_object_new_int(p->num));
		json_object_object_add(j, "device", json_object_new_string(p->dev));
		json_object_object_add(j, "dir", json_object_new_string(p->dir));
		json_object_object_add(j, "size", json_object_new_int64((int64_t)p->size));
		json_object_object_add(j, "type", json_object_new_string(p->type));
		json_object_object_add(j, "label", json_object_new_string(p->label));
		json_object_object_add(j, "mounted", json_object_new_boolean(p->mounted));
		if (p->note[0])
			json_object_object_add(j, "note", json_object_new_string(p->note));
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "partitions", a);
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

/* Load a record written by save(). 1 if there is none, 0, or -errno. */
static int load(const char *dir, struct hs_browse *b)
{
	memset(b, 0, sizeof *b);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, RECORD);
	/* No record (or a dead FUSE mount answering ENOTCONN): not a browse. */
	if (access(path, F_OK) < 0)
		return 1;
	json_object *o = json_object_from_file(path), *a, *v;
	if (!o)
		return hs_err(EINVAL, "%s is not a browse record", path);
	snprintf(b->dir, sizeof b->dir, "%s", dir);
	snprintf(b->view.work, sizeof b->view.work, "%s", jstr(o, "work"));
	snprintf(b->view.mnt, sizeof b->view.mnt, "%s", jstr(o, "fuse_mountpoint"));
	snprintf(b->view.image, sizeof b->view.image, "%s", jstr(o, "image"));
	snprintf(b->loop, sizeof b->loop, "%s", jstr(o, "loop"));
	if (json_object_object_get_ex(o, "pid", &v))
		b->view.pid = (long)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "partitions", &a) && json_object_is_type(a, json_type_array))
		for (size_t i = 0; i < json_object_array_length(a) && b->n < HS_BROWSE_MAX_PARTS; i++) {
			json_object *j = json_object_array_get_idx(a, i);
			struct hs_browse_part *p = &b->parts[b->n++];
			snprintf(p->dir, sizeof p->dir, "%s", jstr(j, "dir"));
			p->mounted = json_object_object_get_ex(j, "mounted", &v) && json_object_get_boolean(v);
		}
	json_object_put(o);
	if (!b->view.work[0] || !strstr(b->view.work, "/hotspare-view-"))
		return hs_err(EINVAL, "%s names no hotspare work directory", path);
	return 0;
}

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

/* Undo everything b records, newest first. 0, or -errno (the record stays). */
static int teardown(struct hs_browse *b)
{
	int r;
	for (size_t i = b->n; i-- > 0;) {
		struct hs_browse_part *p = &b->parts[i];
		char type[64];
		if (p->mounted && hs_mount_type(p->dir, type, sizeof type) == 1) {
			r = -EBUSY;
			for (int t = 0; t < 30 && r == -EBUSY; t++) {
				if (t)
					hs_sleep_ms(100);
				r = hs_mount_detach(p->dir, false);
			}
			if (r < 0)
				return hs_err(-r, "cannot unmount %s: %s", p->dir, strerror(-r));
		}
		p->mounted = false;
		if (p->dir[0])
			rmdir(p->dir);
	}
	char back[PATH_MAX];
	loop_backing(b->loop, back, sizeof back);
	/* Only the loop device that still holds this browse's image. */
	if (b->loop[0] && back[0] && !strcmp(back, b->view.image)) {
		char *argv[] = { "losetup", "-d", b->loop, NULL };
		char out[512];
		if ((r = hs_run(argv, out, sizeof out)) != 0)
			return hs_err(r < 0 ? -r : EBUSY, "cannot detach %s: %s", b->loop, hs_first_line(out));
		for (int t = 0; t < 100; t++) {
			loop_backing(b->loop, back, sizeof back);
			if (strcmp(back, b->view.image) != 0)
				break;
			hs_sleep_ms(50);
		}
	}
	b->loop[0] = 0;
	r = hs_view_close(&b->view);
	if (r < 0)
		return r;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", b->dir, RECORD);
	unlink(path);
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

static int cmp_part(const void *a, const void *b)
{
	return ((const struct hs_browse_part *)a)->num - ((const struct hs_browse_part *)b)->num;
}

/* The loop device's partitions, from sysfs. */
static size_t list_parts(struct hs_browse *b)
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
	}
	if (d)
		closedir(d);
	qsort(b->parts, b->n, sizeof *b->parts, cmp_part);
	return b->n;
}

/* TYPE and LABEL of a device, by blkid's low-level probe (no cache). */
static void probe(struct hs_browse_part *p)
{
	char *argv[] = { "blkid", "-p", "-o", "export", p->dev, NULL };
	char out[4096];
	if (hs_run(argv, out, sizeof out) != 0)
		return;
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "TYPE=", 5))
			snprintf(p->type, sizeof p->type, "%s", line + 5);
		else if (!strncmp(line, "LABEL=", 6))
			snprintf(p->label, sizeof p->label, "%s", line + 6);
	}
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

/* Mount one filesystem read-only, replaying nothing. */
static void mount_part(struct hs_browse *b, struct hs_browse_part *p)
{
	static const char *const skip[] = { "swap", "LVM2_member", "crypto_LUKS", "linux_raid_member",
					    "zfs_member", "BitLocker", NULL };
	if (!p->type[0]) {
		snprintf(p->note, sizeof p->note, "no filesystem found");
		return;
	}
	for (size_t i = 0; skip[i]; i++)
		if (!strcmp(p->type, skip[i])) {
			snprintf(p->note, sizeof p->note, "not a mountable filesystem");
			return;
		}
	if (p->num > 0)
		snprintf(p->dir, sizeof p->dir, "%s/p%d", b->dir, p->num);
	else
		snprintf(p->dir, sizeof p->dir, "%s/disk", b->dir);
	if (mkdir(p->dir, 0755) < 0) {
		snprintf(p->note, sizeof p->note, "cannot make the directory: %s", strerror(errno));
		p->dir[0] = 0;
		return;
	}
	char opts[128] = "ro,nosuid,nodev,noexec";
	char *argv[10];
	size_t n = 0;
	if (!strcmp(p->type, "ntfs") && !have_fs("ntfs3")) {
		argv[n++] = "ntfs-3g"; /* read-only: a dirty volume mounts, nothing is replayed */
	} else {
		const char *type = p->type, *extra = "";
		if (!strcmp(type, "ext2") || !strcmp(type, "ext3") || !strcmp(type, "ext4"))
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
		return;
	}
	snprintf(p->note, sizeof p->note, "cannot mount: %s", hs_first_line(out));
	rmdir(p->dir);
	p->dir[0] = 0;
}

/* Attach the image read-only with its partitions and mount what it holds. */
static int attach(struct hs_browse *b)
{
	char *argv[] = { "losetup", "-r", "-P", "-f", "--show", b->view.image, NULL };
	char out[1024];
	int r = hs_run(argv, out, sizeof out);
	char *line = hs_first_line(out);
	if (r != 0 || strncmp(line, "/dev/loop", 9) != 0)
		return hs_err(r < 0 ? -r : EIO, "cannot attach %s to a loop device: %s", b->view.image, line);
	snprintf(b->loop, sizeof b->loop, "%s", line);
	if ((r = save(b)) < 0)
		return r;
	/* The kernel's scan may not have run (or not be done): ask again. */
	if (list_parts(b) == 0) {
		char *px[] = { "partx", "-a", b->loop, NULL };
		hs_run(px, NULL, 0);
		list_parts(b);
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
		probe(p);
		if (p->num == 0 && !p->type[0]) {
			b->n = 0; /* no partitions and no filesystem */
			break;
		}
		mount_part(b, p);
		if ((r = save(b)) < 0)
			return r;
	}
	return 0;
}

int hs_browse_open(const char *store, const char *ref, char **seeds, size_t nseeds, const char *dir,
		   struct hs_browse **out)
{
	struct hs_browse *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	int r = check_dir(dir);
	if (r == 0 && !realpath(dir, b->dir))
		r = hs_err(errno, "%s: %s", dir, strerror(errno));
	if (r == 0)
		r = hs_view_open(store, ref, seeds, nseeds, &b->view);
	if (r == 0 && (r = save(b)) == 0)
		r = attach(b);
	if (r < 0) {
		if (b->view.work[0]) {
			char keep[512];
			snprintf(keep, sizeof keep, "%s", hs_err_msg() ? hs_err_msg() : strerror(-r));
			if (teardown(b) < 0)
				fprintf(stderr, "hotspare browse: cleaning up: %s\n", hs_err_msg());
			hs_err_clear();
			hs_err(-r, "%s", keep);
		}
		free(b);
		return r;
	}
	*out = b;
	return 0;
}
