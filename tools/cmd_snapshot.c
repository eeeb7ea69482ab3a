/* hotspare snapshot STORE SERVER SOURCE|DISK=SOURCE... [--ship DIR]
 * and the capture logic it shares with backup. A lone SOURCE is the disk
 * disk0; DISK=SOURCE pairs name each disk of a server with several. */
#include "jobs/capture.h"
#include "cli.h"
#include "config.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/places.h"
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

static void print_summary(const struct hs_capture_stats *s, const char *server, unsigned kind,
			  const char *ship, bool json)
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
			json_object_array_add(disks, j);
		}
		json_object_object_add(o, "disks", disks);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return;
	}
	char a[16], b[16], c[16], d[16], e[16], f[16];
	double rate = s->seconds > 0 ? (double)s->image_size / s->seconds : 0;
	printf("%s %s@%s: read %s, stored %s%s%s (%s new data), deduplicated %s, zero %s, %.1f s, %s/s\n",
	       hs_kind_name(kind), server, s->id, hs_fmt_bytes(s->image_size, a),
	       hs_fmt_bytes(s->bytes_stored, b), ship ? " on " : "", ship ? ship : "",
	       hs_fmt_bytes(s->bytes_new, c), hs_fmt_bytes(s->bytes_dedup, d),
	       hs_fmt_bytes(s->bytes_zero, e), s->seconds, hs_fmt_bytes((uint64_t)rate, f));
	for (unsigned k = 0; s->ndisks > 1 && k < s->ndisks; k++)
		printf("  disk %s: %s, stored %s (%s new data)\n", s->disks[k].name, hs_fmt_bytes(s->disks[k].size, a),
		       hs_fmt_bytes(s->disks[k].bytes_stored, b), hs_fmt_bytes(s->disks[k].bytes_new, c));
	if (s->chunks_repaired)
		printf("%s %s@%s: stored %llu chunk%s again that verify had found bad\n", hs_kind_name(kind), server, s->id,
		       (unsigned long long)s->chunks_repaired, s->chunks_repaired == 1 ? "" : "s");
}

int cli_capture(int argc, char **argv, unsigned kind)
{
	const char *cmd = hs_kind_name(kind);
	const char *usage = kind == HS_KIND_SNAPSHOT ? "STORE SERVER SOURCE|DISK=SOURCE... [--ship DIR] [--json]"
						     : "STORE SERVER SOURCE|DISK=SOURCE... [--json]";
	static const struct option opts[] = {
		{ "ship", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *ship = NULL;
	bool json = false;
	unsigned threads = 0;
	uint64_t v;
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
		case 'h':
			return cli_help(cmd, usage);
		default:
			return cli_usage(cmd, usage);
		}
	}
	if ((c = cfg_store_arg(cmd, &argc, &argv, 3, -1, 1)) >= 0)
		return c;
	if (argc - optind < 3)
		return cli_usage(cmd, usage);
	const char *where = argv[optind], *server = argv[optind + 1];
	int r = hs_server_name_check(server);
	if (r < 0)
		return cli_fail(cmd, r);
	struct hs_capture_disk disks[HS_DISKS_MAX];
	unsigned nd = 0;
	bool lone;
	r = cli_disk_pairs(cmd, argc - optind - 2, argv + optind + 2, "SOURCE", disks, &nd, &lone);
	if (r < 0)
		return cli_fail(cmd, r);
	/* Every source is checked before anything is written (the drive included). */
	if ((r = hs_capture_check(disks, nd)) < 0)
		return cli_fail(cmd, r);
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
		.consistency = HS_CRASH_CONSISTENT, /* a source nobody writes: one moment */
		.kind = kind,
		.threads = threads,
		.progress = &progress,
	};
	struct hs_capture_stats s;
	r = hs_capture(&o, &s);
	if (r < 0)
		return cli_fail(cmd, r);
	print_summary(&s, server, kind, ship, json);
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	return cli_capture(argc, argv, HS_KIND_SNAPSHOT);
}
