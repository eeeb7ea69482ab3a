/* hotspare browse STORE SERVER[@POINT][:DISK] DIR [--seed SEED]... [--vm | --kernel-mount]
 * Mounts the point's filesystems read-only under DIR (see vm/browse.h) and
 * lists them; `hotspare umount DIR` undoes it. */
#include "cli.h"
#include "config.h"
#include "basics/progress.h"
#include "vm/browse.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#define USAGE "STORE SERVER[@POINT][:DISK] DIR [--seed SEED]... [--vm | --kernel-mount]"

/* One line per partition of b (named DISK/pN for a disk of several); how many are mounted. */
static size_t print_parts(const struct hs_browse *b, const char *disk)
{
	size_t mounted = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct hs_browse_part *p = &b->parts[i];
		char sz[16], part[160], name[200];
		hs_browse_part_name(p, part, sizeof part);
		snprintf(name, sizeof name, "%s%s%s", disk, *disk ? "/" : "", part);
		printf("  %-5s %10s  %-8s %-16s %-8s %s\n", name, hs_fmt_bytes(p->size, sz), p->type[0] ? p->type : "-",
		       p->label[0] ? p->label : "-", p->mounted ? p->via : "-", p->mounted ? p->dir : p->note);
		mounted += p->mounted;
	}
	if (b->n == 0)
		printf("  %s%sno partitions and no filesystem found\n", disk, *disk ? ": " : "");
	return mounted;
}

int cmd_browse(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "vm", no_argument, NULL, 'v' },
		{ "kernel-mount", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_list seeds = { 0 };
	enum hs_browse_via via = HS_BROWSE_SAFE;
	int c, nvia = 0;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 's' && cli_list_add(&seeds, optarg) == 0)
			continue;
		if (c == 'v' || c == 'k') {
			via = c == 'v' ? HS_BROWSE_VM : HS_BROWSE_KERNEL;
			nvia++;
			continue;
		}
		cli_list_free(&seeds);
		return c == 's' ? cli_fail("browse", -ENOMEM)
				: c == 'h' ? cli_help("browse", USAGE) : cli_usage("browse", USAGE);
	}
	if ((c = cfg_store_arg("browse", &argc, &argv, 3, 3, 1)) >= 0 || cfg_seeds(&seeds) < 0 ||
	    argc - optind != 3) {
		cli_list_free(&seeds);
		return c >= 0 ? c : argc - optind != 3 ? cli_usage("browse", USAGE) : cli_fail("browse", -ENOMEM);
	}
	if (nvia > 1) {
		cli_list_free(&seeds);
		return cli_failf("browse", "--vm and --kernel-mount exclude each other");
	}
	/* DIR gets the filesystems' mount points and the browse record. */
	if ((c = cli_apart("browse", "DIR", argv[optind + 2], argv[optind], &seeds, false)) >= 0) {
		cli_list_free(&seeds);
		return c;
	}
	if (via == HS_BROWSE_KERNEL)
		fprintf(stderr, "hotspare browse: warning: --kernel-mount hands the disk's filesystems to this host's "
				"kernel: only for a disk you trust\n");
	struct hs_browse *b = NULL;
	int r = hs_browse_open(argv[optind], argv[optind + 1], seeds.v, seeds.n, argv[optind + 2], via, &b);
	cli_list_free(&seeds);
	if (r < 0)
		return cli_fail("browse", r);
	size_t mounted = 0;
	printf("%s read-only (undo with: hotspare umount %s)\n", b->dir, b->dir);
	if (!b->ndisks)
		mounted = print_parts(b, "");
	for (unsigned k = 0; k < b->ndisks; k++)
		mounted += print_parts(b->child[k], b->disk[k]);
	printf("%zu filesystem%s mounted\n", mounted, mounted == 1 ? "" : "s");
	hs_browse_free(b);
	return 0;
}
