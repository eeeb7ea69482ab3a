/* hotspare snapshot STORE SERVER SOURCE|DISK=SOURCE... [--ship DIR]
 * and the capture logic it shares with backup. A lone SOURCE is the disk
 * disk0; DISK=SOURCE pairs name each disk of a server with several.
 * --domain NAME captures a running libvirt domain (vm/live.h),
 * --lvm-snapshot a logical volume from a snapshot of it (jobs/lvsnap.h). */
#include "jobs/capture.h"
#include "jobs/lvsnap.h"
#include "vm/live.h"
#include "cli.h"
#include "config.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/interrupt.h"
#include "basics/progress.h"
#include "store/places.h"
#include "store/point.h"
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

static void print_summary(const struct hs_capture_stats *s, const struct hs_live_stats *live, const char *server,
			  unsigned kind, uint32_t consistency, const char *ship, bool json)
{
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "server", json_object_new_string(server));
		json_object_object_add(o, "point", json_object_new_string(s->id));
		json_object_object_add(o, "kind", json_object_new_string(hs_kind_name(kind)));
		json_object_object_add(o, "base", s->base[0] ? json_object_new_string(s->base) : NULL);
		json_object_object_add(o, "size", json_object_new_int64((int64_t)s->image_size));
		json_object_object_add(o, "bytes_zero", json_object_new_int64((int64_t)s->bytes_zero));
		json_object_object_add(o, "bytes_dedup", json_object_new_int64((int64_t)s->bytes_dedup));
		json_object_object_add(o, "bytes_new", json_object_new_int64((int64_t)s->bytes_new));
		json_object_object_add(o, "bytes_stored", json_object_new_int64((int64_t)s->bytes_stored));
		json_object_object_add(o, "chunks_new", json_object_new_int64((int64_t)s->chunks_new));
		json_object_object_add(o, "chunks_repaired", json_object_new_int64((int64_t)s->chunks_repaired));
		json_object_object_add(o, "seconds", json_object_new_double(s->seconds));
		json_object_object_add(o, "consistency", json_object_new_string(hs_consistency_name(consistency)));
		json_object_object_add(o, "read_bytes", json_object_new_int64((int64_t)s->bytes_read));
		json_object_object_add(o, "since", s->since[0] ? json_object_new_string(s->since) : NULL);
		if (live) {
			json_object_object_add(o, "nbd_bytes", json_object_new_int64((int64_t)live->nbd_bytes));
			json_object_object_add(o, "dirty_bytes", json_object_new_int64((int64_t)live->dirty_bytes));
			json_object_object_add(o, "frozen_filesystems", json_object_new_int64(live->frozen));
			json_object_object_add(o, "freeze_seconds", json_object_new_double(live->freeze_seconds));
			json_object_object_add(o, "begin_seconds", json_object_new_double(live->begin_seconds));
			json_object *ph = json_object_new_object();
			json_object_object_add(ph, "setup", json_object_new_double(live->setup_seconds));
			json_object_object_add(ph, "start", json_object_new_double(live->start_seconds));
			json_object_object_add(ph, "capture", json_object_new_double(live->capture_seconds));
			json_object_object_add(ph, "finish", json_object_new_double(live->finish_seconds));
			json_object_object_add(o, "phase_seconds", ph);
			json_object_object_add(o, "checkpoint",
					       live->checkpoint[0] ? json_object_new_string(live->checkpoint) : NULL);
		}
		json_object *disks = json_object_new_array();
		for (unsigned k = 0; k < s->ndisks; k++) {
			const struct hs_capture_disk_stats *d = &s->disks[k];
			json_object *j = json_object_new_object();
			json_object_object_add(j, "name", json_object_new_string(d->name));
			json_object_object_add(j, "size", json_object_new_int64((int64_t)d->size));
			json_object_object_add(j, "bytes_new", json_object_new_int64((int64_t)d->bytes_new));
			json_object_object_add(j, "bytes_stored", json_object_new_int64((int64_t)d->bytes_stored));
			json_object_object_add(j, "bytes_dedup", json_object_new_int64((int64_t)d->bytes_dedup));
			json_object_object_add(j, "bytes_zero", json_object_new_int64((int64_t)d->bytes_zero));
			json_object_object_add(j, "read_bytes", json_object_new_int64((int64_t)d->bytes_read));
			json_object_array_add(disks, j);
		}
		json_object_object_add(o, "disks", disks);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return;
	}
	char a[16], b[16], c[16], d[16], e[16], f[16];
	double rate = s->seconds > 0 ? (double)s->bytes_read / s->seconds : 0;
	printf("%s %s@%s: read %s, stored %s%s%s (%s new data), deduplicated %s, zero %s, %.1f s, %s/s\n",
	       hs_kind_name(kind), server, s->id, hs_fmt_bytes(s->bytes_read, a),
	       hs_fmt_bytes(s->bytes_stored, b), ship ? " on " : "", ship ? ship : "",
	       hs_fmt_bytes(s->bytes_new, c), hs_fmt_bytes(s->bytes_dedup, d),
	       hs_fmt_bytes(s->bytes_zero, e), s->seconds, hs_fmt_bytes((uint64_t)rate, f));
	for (unsigned k = 0; s->ndisks > 1 && k < s->ndisks; k++)
		printf("  disk %s: %s, stored %s (%s new data)\n", s->disks[k].name, hs_fmt_bytes(s->disks[k].size, a),
		       hs_fmt_bytes(s->disks[k].bytes_stored, b), hs_fmt_bytes(s->disks[k].bytes_new, c));
	if (s->since[0])
		printf("%s %s@%s: incremental: read %s of %s changed since %s, the rest taken from it\n",
		       hs_kind_name(kind), server, s->id, hs_fmt_bytes(s->bytes_read, a), hs_fmt_bytes(s->image_size, b),
		       s->since);
	if (live && live->frozen)
		printf("%s %s@%s: %s (%u filesystem%s frozen for %.2f s), crash-consistent otherwise\n",
		       hs_kind_name(kind), server, s->id, hs_consistency_name(consistency), live->frozen,
		       live->frozen == 1 ? "" : "s", live->freeze_seconds);
	else
		printf("%s %s@%s: %s\n", hs_kind_name(kind), server, s->id, hs_consistency_name(consistency));
	if (s->chunks_repaired)
		printf("%s %s@%s: stored %llu chunk%s again that verify had found bad\n", hs_kind_name(kind), server, s->id,
		       (unsigned long long)s->chunks_repaired, s->chunks_repaired == 1 ? "" : "s");
}

static const char *warn_cmd;

static void warn_line(const char *line)
{
	hs_warn(warn_cmd, "%s", line);
}

/* --lvm-snapshot's SIZE: given as --lvm-snapshot=SIZE, or as the next
 * argument when that reads as a size (a SOURCE never does: it is a path). */
static int lvm_size(const char *cmd, int argc, char **argv, uint64_t *out)
{
	const char *s = optarg;
	if (!s && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9' && !strchr(argv[optind], '/') &&
	    !strchr(argv[optind], '=') && hs_parse_size(argv[optind], out) == 0)
		s = argv[optind++];
	if (!s) {
		*out = 0;
		return 0;
	}
	if (hs_parse_size(s, out) < 0 || *out < (4u << 20) || *out > (1ull << 50))
		return cli_failf(cmd, "--lvm-snapshot '%s' is not a size from 4M to 1P (digits and K, M, G or T)", s);
	return 0;
}

/* A live capture of a running domain: no SOURCE, the domain's disks. */
static int capture_domain(const char *cmd, struct hs_live_opts *lo, bool json)
{
	hs_interrupt_catch();
	warn_cmd = cmd;
	lo->warn = warn_line;
	struct hs_live_stats ls;
	int r = hs_live_capture(lo, &ls);
	if (r < 0) {
		cli_fail(cmd, r);
		hs_interrupt_resend();
		return 1;
	}
	print_summary(&ls.cap, &ls, lo->cap.server, lo->cap.kind, lo->quiesce && ls.frozen ? HS_QUIESCED
											     : HS_CRASH_CONSISTENT,
		      NULL, json);
	return 0;
}

int cli_capture(int argc, char **argv, unsigned kind)
{
	const char *cmd = hs_kind_name(kind);
	const char *usage = kind == HS_KIND_SNAPSHOT
				    ? "STORE SERVER SOURCE|DISK=SOURCE... [--ship DIR] [--lvm-snapshot [SIZE]] [--allow-torn] "
				      "[--json]\n   or: hotspare snapshot STORE SERVER --domain NAME [--connect URI] [--quiesce] "
				      "[--ship DIR] [--json]"
				    : "STORE SERVER SOURCE|DISK=SOURCE... [--lvm-snapshot [SIZE]] [--allow-torn] [--json]\n"
				      "   or: hotspare backup STORE SERVER --domain NAME [--connect URI] [--quiesce] [--json]";
	static const struct option opts[] = {
		{ "ship", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "domain", required_argument, NULL, 'd' },
		{ "connect", required_argument, NULL, 'c' },
		{ "quiesce", no_argument, NULL, 'q' },
		{ "lvm-snapshot", optional_argument, NULL, 'l' },
		{ "allow-torn", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ship = NULL, *domain = NULL, *uri = NULL;
	bool json = false, quiesce = false, lvm = false, allow_torn = false;
	unsigned threads = 0;
	uint64_t v, lvm_bytes = 0;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 's':
			if (kind != HS_KIND_SNAPSHOT)
				return cli_failf(cmd, "--ship is for snapshots: a backup's chunks go to the store") + 1;
			ship = optarg;
			break;
		case 't':
			if (cli_number(cmd, "--threads", optarg, 1, 256, NULL, &v))
				return 1;
			threads = (unsigned)v;
			break;
		case 'j':
			json = true;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'c':
			uri = optarg;
			break;
		case 'q':
			quiesce = true;
			break;
		case 'l':
			lvm = true;
			if (lvm_size(cmd, argc, argv, &lvm_bytes))
				return 2;
			break;
		case 'a':
			allow_torn = true;
			break;
		case 'h':
			return cli_help(cmd, usage);
		default:
			return cli_usage(cmd, usage);
		}
	}
	if ((c = cfg_store_arg(cmd, &argc, &argv, domain ? 2 : 3, -1, 1)) >= 0)
		return c;
	if (argc - optind < (domain ? 2 : 3))
		return cli_usage(cmd, usage);
	if (domain && (lvm || allow_torn))
		return cli_failf(cmd, "--%s is for SOURCE disks: --domain reads a running VM at one instant",
				 lvm ? "lvm-snapshot" : "allow-torn") + 1;
	if (domain && argc - optind > 2)
		return cli_failf(cmd, "--domain takes no SOURCE: the domain's disks are captured") + 1;
	if (!domain && (quiesce || uri))
		return cli_failf(cmd, "--%s goes with --domain NAME", quiesce ? "quiesce" : "connect") + 1;
	if (lvm && allow_torn)
		return cli_failf(cmd, "--lvm-snapshot and --allow-torn do not go together: the snapshot is not torn") + 1;
	const char *where = argv[optind], *server = argv[optind + 1];
	int r = hs_server_name_check(server);
	if (r < 0)
		return cli_fail(cmd, r);
	struct hs_capture_disk disks[HS_DISKS_MAX];
	unsigned nd = 0;
	bool lone;
	uint32_t consistency = HS_CRASH_CONSISTENT; /* a source nobody writes: one moment */
	if (!domain) {
		r = cli_disk_pairs(cmd, argc - optind - 2, argv + optind + 2, "SOURCE", disks, &nd, &lone);
		if (r < 0)
			return cli_fail(cmd, r);
		if (lvm && nd != 1)
			return cli_failf(cmd, "--lvm-snapshot takes one SOURCE: LVM cannot snapshot several volumes at one "
					      "instant") + 1;
		/* Every source is checked before anything is written (the drive included). */
		if ((r = hs_capture_check(disks, nd)) < 0)
			return cli_fail(cmd, r);
		/* A disk someone writes is torn unless read from a snapshot. */
		if (!lvm && (r = hs_capture_consistency(disks, nd, allow_torn, &consistency)) < 0)
			return cli_fail(cmd, r);
	}
	/* Before any store is opened or locked: a drive that is the store (or
	 * lies in it, or holds it, or is a SOURCE) would have its chunks and
	 * locks mixed up with the store's. */
	struct hs_place reads[HS_DISKS_MAX + 1] = { { "the store", where } };
	for (unsigned k = 0; k < nd; k++)
		reads[k + 1] = (struct hs_place){ nd == 1 ? "the SOURCE" : "a SOURCE", disks[k].source };
	if (ship && (r = hs_places_check("--ship", ship, reads, nd + 1, true)) < 0)
		return cli_fail(cmd, r);
	_cleanup_(hs_store_close_p) struct hs_store *st = NULL, *ship_st = NULL;
	r = hs_store_open(where, &st);
	if (r < 0)
		return cli_fail(cmd, r);
	/* A drive that is a store already must be one like the store; one that
	 * is not yet is made by the capture once it holds the server's lock. */
	if (ship && (r = hs_store_open_like(ship, st, HS_OPEN_EXISTING, &ship_st)) < 0 &&
	    (r != -ENOENT || (r = hs_backend_check_create(ship)) < 0))
		return cli_fail(cmd, r);
	hs_err_clear();
	struct hs_progress progress;
	struct hs_capture_opts o = {
		.store = st,
		.ship = ship_st,
		.ship_at = ship_st ? NULL : ship,
		.server = server,
		.disks = disks,
		.ndisks = nd,
		.consistency = consistency,
		.kind = kind,
		.threads = threads,
		.progress = &progress,
	};
	if (domain) {
		struct hs_live_opts lo = { .uri = uri, .domain = domain, .quiesce = quiesce, .cap = o };
		return capture_domain(cmd, &lo, json);
	}
	struct hs_capture_stats s;
	if (lvm) {
		hs_interrupt_catch();
		r = hs_lvsnap_capture(&o, lvm_bytes, &s);
	} else {
		r = hs_capture(&o, &s);
	}
	if (r < 0) {
		cli_fail(cmd, r);
		hs_interrupt_resend();
		return 1;
	}
	print_summary(&s, NULL, server, kind, consistency, ship, json);
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	return cli_capture(argc, argv, HS_KIND_SNAPSHOT);
}
