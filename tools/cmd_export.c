/* hotspare export STORE SERVER[@POINT][:DISK] FILE [--format raw|qcow2|vmdk|vhdx] [--seed SEED]... [--force]
 * raw: the restore engine into a new sparse file (every chunk checked against
 * its digest). Other formats: qemu-img convert from a read-only view of the
 * point (no raw copy is made), then qemu-img compare against that view.
 * The image is written to a hidden temporary file beside FILE and renamed to
 * FILE only once complete and checked: a failure leaves nothing behind. An
 * existing FILE is refused unless --force, which replaces it atomically. */
#include "cli.h"
#include "config.h"
#include "basics/err.h"
#include "basics/progress.h"
#include "jobs/restore.h"
#include "store/lease.h"
#include "store/store.h"
#include "basics/run.h"
#include "vm/view.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE "STORE SERVER[@POINT][:DISK] FILE [--format raw|qcow2|vmdk|vhdx] [--seed SEED]... [--force]"

static const char *const formats[] = { "raw", "qcow2", "vmdk", "vhdx", NULL };

static int export_raw(const char *store, const char *ref, struct cli_list *seeds, const char *tmp)
{
	struct hs_store *st;
	struct hs_index *ix = NULL;
	int r = cli_load_point(store, ref, &st, &ix);
	if (r < 0)
		return r;
	struct hs_sources src;
	r = hs_sources_open(st, seeds->v, seeds->n, &src);
	if (r < 0) {
		hs_index_free(ix);
		return r;
	}
	/* In use until exported: prune keeps it. */
	struct hs_lease *lease = NULL;
	r = hs_lease_take1(src.v[src.n - 1], ix->server, ix->id, "export", &lease);
	struct hs_progress progress;
	struct hs_restore_opts o = { .src = &src, .ix = ix, .target = tmp, .progress = &progress };
	struct hs_restore_stats s;
	if (r == 0)
		r = hs_restore(&o, &s);
	hs_lease_release(lease);
	hs_sources_close(&src);
	hs_index_free(ix);
	return r;
}

/* qemu-img convert from the read-only view, then compare against it. */
static int export_qemu(const char *store, const char *ref, struct cli_list *seeds, const char *fmt,
		       const char *tmp)
{
	struct hs_view v;
	int r = hs_view_open(store, ref, seeds->v, seeds->n, &v);
	if (r < 0)
		return r;
	char out[2048];
	char *conv[] = { "qemu-img", "convert", "-f", "raw", "-O", (char *)fmt, v.image, (char *)tmp, NULL };
	int q = hs_run(conv, out, sizeof out);
	if (q != 0) {
		r = hs_err(q < 0 ? -q : EIO, "qemu-img convert to %s failed: %s", fmt, hs_first_line(out));
	} else {
		char *cmp[] = { "qemu-img", "compare", "-q", "-f", "raw", "-F", (char *)fmt, v.image, (char *)tmp, NULL };
		q = hs_run(cmp, out, sizeof out);
		if (q == 1)
			r = hs_err(EIO, "the %s image differs from the point (qemu-img compare)", fmt);
		else if (q != 0)
			r = hs_err(q < 0 ? -q : EIO, "qemu-img compare failed: %s", hs_first_line(out));
	}
	int cr = hs_view_close(&v);
	if (cr < 0 && r == 0)
		r = cr;
	return r;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_list seeds = { 0 };
	const char *fmt = "raw";
	bool force = false;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'F': force = true; break;
		case 's':
			if (cli_list_add(&seeds, optarg) == 0)
				break;
			cli_list_free(&seeds);
			return cli_fail("export", -ENOMEM);
		default:
			cli_list_free(&seeds);
			return c == 'h' ? cli_help("export", USAGE) : cli_usage("export", USAGE);
		}
	}
	if ((c = cfg_store_arg("export", &argc, &argv, 3, 3, 1)) >= 0 || cfg_seeds(&seeds) < 0 ||
	    argc - optind != 3) {
		cli_list_free(&seeds);
		return c >= 0 ? c : argc - optind != 3 ? cli_usage("export", USAGE) : cli_fail("export", -ENOMEM);
	}
	size_t k = 0;
	while (formats[k] && strcmp(formats[k], fmt) != 0)
		k++;
	if (!formats[k]) {
		cli_list_free(&seeds);
		return cli_failf("export", "unknown --format '%s' (raw, qcow2, vmdk or vhdx)", fmt);
	}
	const char *file = argv[optind + 2];
	/* FILE (and its temporary beside it) must not land in the store or a seed. */
	if ((c = cli_apart("export", "FILE", file, argv[optind], &seeds, false)) >= 0) {
		cli_list_free(&seeds);
		return c;
	}
	struct stat sb;
	if (lstat(file, &sb) == 0 && (!force || !S_ISREG(sb.st_mode))) {
		cli_list_free(&seeds);
		return S_ISREG(sb.st_mode) ? cli_failf("export", "%s exists (--force replaces it)", file)
					   : cli_failf("export", "%s exists and is not a regular file", file);
	}
	/* A hidden temporary name in FILE's directory, so the rename is atomic. */
	char dcopy[PATH_MAX], bcopy[PATH_MAX], tmp[PATH_MAX + 64];
	snprintf(dcopy, sizeof dcopy, "%s", file);
	snprintf(bcopy, sizeof bcopy, "%s", file);
	snprintf(tmp, sizeof tmp, "%s/.%s.hotspare-export-%d", dirname(dcopy), basename(bcopy), (int)getpid());
	unlink(tmp);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = k == 0 ? export_raw(argv[optind], argv[optind + 1], &seeds, tmp)
		       : export_qemu(argv[optind], argv[optind + 1], &seeds, fmt, tmp);
	cli_list_free(&seeds);
	if (r == 0) {
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			r = hs_err(errno, "cannot sync %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (r == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, file, force ? 0 : RENAME_NOREPLACE) < 0)
		r = hs_err(errno, errno == EEXIST ? "%s exists (--force replaces it)" : "cannot rename to %s: %s", file,
			   strerror(errno));
	if (r < 0) {
		unlink(tmp);
		return cli_fail("export", r);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct stat fs;
	char a[16], bb[16];
	if (stat(file, &fs) < 0)
		return cli_failf("export", "%s: %s", file, strerror(errno));
	printf("exported %s to %s: %s, %s image, %s on disk%s, %.1f s\n", argv[optind + 1], file, fmt,
	       hs_fmt_bytes((uint64_t)fs.st_size, a), hs_fmt_bytes((uint64_t)fs.st_blocks * 512, bb),
	       k == 0 ? ", every chunk checked against its digest" : ", equal to the point (qemu-img compare)",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
