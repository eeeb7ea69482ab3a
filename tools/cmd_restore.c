/* hotspare restore STORE SERVER[@POINT] TARGET [--seed SEED]...
 * hotspare restore STORE SERVER[@POINT] DISK=TARGET... (every disk of the point)
 * hotspare restore STORE SERVER[@POINT]:DISK TARGET     (one disk)
 * Every target is checked before the first byte is written; disks are
 * restored one after another, each resumable on its own. */
#include "cli.h"
#include "config.h"
#include "basics/path.h"
#include <limits.h>
#include "basics/cleanup.h"
#include "basics/err.h"
#include "jobs/capture.h"
#include "jobs/restore.h"
#include "store/lease.h"
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE "STORE SERVER[@POINT][:DISK] TARGET|DISK=TARGET... [--seed SEED]... [--json]"

struct job {
	unsigned slot;       /* the disk in the point */
	const char *target;
	struct hs_restore_stats s;
};

/* Do two TARGETs name one file or device (however spelled: "x", "./x", a
 * symlink, a hard link, two nodes of one block device)? */
static bool same_target(const char *a, const char *b)
{
	char ca[PATH_MAX], cb[PATH_MAX];
	if (hs_path_canon(a, ca, sizeof ca) == 0 && hs_path_canon(b, cb, sizeof cb) == 0 && !strcmp(ca, cb))
		return true;
	struct stat sa, sb;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Which disks go where: pairs must name every disk of the point, and only those. */
static int plan(const struct hs_point *p, const char *disk, const struct hs_capture_disk *pairs, unsigned np,
		bool lone, struct job *jobs, unsigned *nj)
{
	if (disk[0]) {
		if (np != 1 || !lone)
			return hs_err(EINVAL, "restore of one disk (%s) takes one TARGET", disk);
		jobs[0] = (struct job){ .slot = (unsigned)hs_point_disk_find(p, disk), .target = pairs[0].source };
		*nj = 1;
		return 0;
	}
	if (lone) {
		if (p->ndisks > 1)
			return hs_err(EINVAL, "point %s@%s has %u disks (%s, %s%s): give DISK=TARGET for each, or "
					      "SERVER@POINT:DISK TARGET for one", p->server, p->id, p->ndisks,
				      p->disks[0].name, p->disks[1].name, p->ndisks > 2 ? ", ..." : "");
		jobs[0] = (struct job){ .slot = 0, .target = pairs[0].source };
		*nj = 1;
		return 0;
	}
	for (unsigned k = 0; k < np; k++)
		if (hs_point_disk_find(p, pairs[k].name) < 0)
			return hs_err(ENOENT, "point %s@%s has no disk %s", p->server, p->id, pairs[k].name);
	for (unsigned k = 0; k < p->ndisks; k++) {
		unsigned m = 0;
		while (m < np && strcmp(pairs[m].name, p->disks[k].name) != 0)
			m++;
		if (m == np)
			return hs_err(EINVAL, "no TARGET for disk %s of %s@%s (give %s=TARGET; to restore one disk, "
					      "name it as %s@%s:DISK)", p->disks[k].name, p->server, p->id,
				      p->disks[k].name, p->server, p->id);
		jobs[k] = (struct job){ .slot = k, .target = pairs[m].source };
	}
	for (unsigned k = 0; k < p->ndisks; k++)
		for (unsigned m = 0; m < k; m++)
			if (same_target(jobs[k].target, jobs[m].target))
				return hs_err(EINVAL, "disks %s and %s have the same TARGET %s", p->disks[m].name,
					      p->disks[k].name, jobs[k].target);
	*nj = p->ndisks;
	return 0;
}

/* A target must be a writable file or block device, or a new file in an
 * existing directory: checked for every disk before any is written. */
static int check_target(const char *t)
{
	struct stat st;
	if (stat(t, &st) == 0) {
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return hs_err(EINVAL, "TARGET %s is not a file or a block device", t);
		if (access(t, W_OK) < 0)
			return hs_err(errno, "TARGET %s: %s", t, strerror(errno));
		return 0;
	}
	if (errno != ENOENT)
		return hs_err(errno, "TARGET %s: %s", t, strerror(errno));
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", t);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof dir, ".");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return hs_err(ENOENT, "TARGET %s: its directory %s does not exist", t, dir);
	if (access(dir, W_OK) < 0)
		return hs_err(errno, "TARGET %s: cannot create files in %s: %s", t, dir, strerror(errno));
	return 0;
}

static void print(const struct hs_point *p, const struct job *jobs, unsigned nj, bool json)
{
	struct hs_restore_stats t = { 0 };
	uint64_t size = 0;
	for (unsigned k = 0; k < nj; k++) {
		const struct hs_restore_stats *s = &jobs[k].s;
		t.bytes_written += s->bytes_written;
		t.bytes_same += s->bytes_same;
		t.bytes_zero += s->bytes_zero;
		t.bytes_from_seed += s->bytes_from_seed;
		t.bytes_from_store += s->bytes_from_store;
		t.seconds += s->seconds;
		size += p->disks[jobs[k].slot].size;
	}
	if (json) {
		json_object *j = json_object_new_object(), *arr = json_object_new_array();
		json_object_object_add(j, "server", json_object_new_string(p->server));
		json_object_object_add(j, "point", json_object_new_string(p->id));
		json_object_object_add(j, "size", json_object_new_int64((int64_t)size));
		json_object_object_add(j, "bytes_written", json_object_new_int64((int64_t)t.bytes_written));
		json_object_object_add(j, "bytes_same", json_object_new_int64((int64_t)t.bytes_same));
		json_object_object_add(j, "bytes_zero", json_object_new_int64((int64_t)t.bytes_zero));
		json_object_object_add(j, "bytes_from_seed", json_object_new_int64((int64_t)t.bytes_from_seed));
		json_object_object_add(j, "bytes_from_store", json_object_new_int64((int64_t)t.bytes_from_store));
		json_object_object_add(j, "seconds", json_object_new_double(t.seconds));
		for (unsigned k = 0; k < nj; k++) {
			const struct hs_restore_stats *s = &jobs[k].s;
			json_object *d = json_object_new_object();
			json_object_object_add(d, "name", json_object_new_string(p->disks[jobs[k].slot].name));
			json_object_object_add(d, "target", json_object_new_string(jobs[k].target));
			json_object_object_add(d, "size", json_object_new_int64((int64_t)p->disks[jobs[k].slot].size));
			json_object_object_add(d, "bytes_written", json_object_new_int64((int64_t)s->bytes_written));
			json_object_object_add(d, "bytes_same", json_object_new_int64((int64_t)s->bytes_same));
			json_object_object_add(d, "bytes_from_seed", json_object_new_int64((int64_t)s->bytes_from_seed));
			json_object_object_add(d, "bytes_from_store", json_object_new_int64((int64_t)s->bytes_from_store));
			json_object_array_add(arr, d);
		}
		json_object_object_add(j, "disks", arr);
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
		return;
	}
	for (unsigned k = 0; k < nj; k++) {
		const struct hs_restore_stats *s = &jobs[k].s;
		char a[16], b[16], c[16], d[16], e[16], name[HS_DISK_MAX + 8] = "";
		if (p->ndisks > 1)
			snprintf(name, sizeof name, ":%s", p->disks[jobs[k].slot].name);
		printf("restore %s@%s%s to %s: %s, wrote %s (from seeds %s, from store %s), already there %s, %.1f s\n",
		       p->server, p->id, name, jobs[k].target, hs_fmt_bytes(p->disks[jobs[k].slot].size, a),
		       hs_fmt_bytes(s->bytes_written, b), hs_fmt_bytes(s->bytes_from_seed, c),
		       hs_fmt_bytes(s->bytes_from_store, d), hs_fmt_bytes(s->bytes_same, e), s->seconds);
	}
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_list seeds = { 0 };
	bool json = false;
	unsigned threads = 0;
	uint64_t v;
	int c, r;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 's':
			if (cli_list_add(&seeds, optarg) < 0) {
				cli_list_free(&seeds);
				return cli_fail("restore", -ENOMEM);
			}
			break;
		case 't':
			if (cli_number("restore", "--threads", optarg, 1, 256, NULL, &v)) {
				cli_list_free(&seeds);
				return 1;
			}
			threads = (unsigned)v;
			break;
		case 'j':
			json = true;
			break;
		default:
			cli_list_free(&seeds);
			return c == 'h' ? cli_help("restore", USAGE) : cli_usage("restore", USAGE);
		}
	}
	if ((c = cfg_store_arg("restore", &argc, &argv, 3, -1, 1)) >= 0 || cfg_seeds(&seeds) < 0 ||
	    argc - optind < 3) {
		cli_list_free(&seeds);
		return c >= 0 ? c : argc - optind < 3 ? cli_usage("restore", USAGE) : cli_fail("restore", -ENOMEM);
	}
	/* Every TARGET, before anything is opened: one in the store (or a seed)
	 * would overwrite it. */
	struct hs_capture_disk pairs[HS_DISKS_MAX];
	unsigned np = 0;
	bool lone;
	r = cli_disk_pairs("restore", argc - optind - 2, argv + optind + 2, "TARGET", pairs, &np, &lone);
	if (r < 0) {
		cli_list_free(&seeds);
		return cli_fail("restore", r);
	}
	for (unsigned k = 0; k < np; k++)
		if ((c = cli_apart("restore", "TARGET", pairs[k].source, argv[optind], &seeds, false)) >= 0) {
			cli_list_free(&seeds);
			return c;
		}
	struct hs_store *st;
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	_cleanup_free_ struct job *jobs = calloc(HS_DISKS_MAX, sizeof *jobs);
	char disk[HS_DISK_MAX + 1];
	unsigned nj = 0;
	r = p && jobs ? cli_open_point(argv[optind], argv[optind + 1], &st, p, disk) : -ENOMEM;
	if (r < 0) {
		cli_list_free(&seeds);
		return cli_fail("restore", r);
	}
	r = plan(p, disk, pairs, np, lone, jobs, &nj);
	for (unsigned k = 0; r == 0 && k < nj; k++)
		r = check_target(jobs[k].target);
	struct hs_sources src;
	if (r == 0)
		r = hs_sources_open(st, seeds.v, seeds.n, &src); /* takes st */
	else
		hs_store_close(st);
	cli_list_free(&seeds);
	if (r < 0)
		return cli_fail("restore", r);
	/* In use until restored: prune keeps it. */
	struct hs_lease *lease = NULL;
	r = hs_lease_take1(src.v[src.n - 1], p->server, p->id, "restore", &lease);
	struct hs_progress progress;
	for (unsigned k = 0; r == 0 && k < nj; k++) {
		_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
		r = hs_store_point_disk(src.v[src.n - 1], p, jobs[k].slot, &ix);
		struct hs_restore_opts o = {
			.src = &src, .ix = ix, .target = jobs[k].target, .threads = threads, .progress = &progress,
		};
		if (r == 0)
			r = hs_restore(&o, &jobs[k].s);
	}
	hs_lease_release(lease);
	hs_sources_close(&src);
	if (r < 0)
		return cli_fail("restore", r);
	print(p, jobs, nj, json);
	return 0;
}
