/* hotspare gc STORE [--dry-run] [--json] [--grace SECONDS]
 * Deletes the chunks no point names and what killed runs left behind, beside
 * whatever else runs on the store (the protocol: jobs/gc.h). Needs no key. */
#include "cli.h"
#include "basics/err.h"
#include "basics/progress.h"
#include "jobs/gc.h"
#include "store/lease.h"
#include "store/store.h"
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#define USAGE "STORE [--dry-run] [--json] [--grace SECONDS (default 600: younger chunks are left)]"

static void print_json(const struct hs_gc_stats *s)
{
	json_object *j = json_object_new_object();
	const struct {
		const char *name;
		uint64_t v;
	} f[] = {
		{ "chunks", s->chunks }, { "bytes", s->bytes }, { "chunks_named", s->chunks_named },
		{ "chunks_young", s->chunks_young }, { "chunks_freed", s->chunks_freed },
		{ "bytes_freed", s->bytes_freed }, { "chunks_restored", s->chunks_restored },
		{ "chunks_waiting", s->chunks_waiting }, { "bytes_waiting", s->bytes_waiting },
		{ "batches_emptied", s->batches_emptied }, { "batches_waiting", s->batches_waiting },
		{ "points_deleted", s->points_deleted }, { "points_in_use", s->points_in_use },
		{ "tmp_files", s->tmp_files }, { "tmp_bytes", s->tmp_bytes }, { "writers_live", s->writers_live },
		{ "writers_unregistered", s->writers_unregistered }, { "writers_removed", s->writers_removed },
		{ "leases_removed", s->leases_removed }, { "writers_ahead", s->writers_ahead },
		{ "leases_unreadable", s->leases_unreadable },
	};
	json_object_object_add(j, "dry_run", json_object_new_boolean(s->dry_run));
	for (size_t i = 0; i < sizeof f / sizeof *f; i++)
		json_object_object_add(j, f[i].name, json_object_new_int64((int64_t)f[i].v));
	json_object_object_add(j, "seconds", json_object_new_double(s->seconds));
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
}

static void print_text(const struct hs_gc_stats *s, const char *where)
{
	char a[16], b[16], c[16], d[16];
	const char *would = s->dry_run ? "would be " : "";
	printf("gc %s%s: %llu chunks (%s), %llu named by points; %s %llu chunks (%s)", where,
	       s->dry_run ? " (dry run: nothing changed)" : "", (unsigned long long)s->chunks, hs_fmt_bytes(s->bytes, a),
	       (unsigned long long)s->chunks_named, s->dry_run ? "would free" : "freed",
	       (unsigned long long)s->chunks_freed, hs_fmt_bytes(s->bytes_freed, b));
	if (s->chunks_waiting)
		printf("; %llu chunks (%s) wait in the trash for %llu writer%s that started before them",
		       (unsigned long long)s->chunks_waiting, hs_fmt_bytes(s->bytes_waiting, c),
		       (unsigned long long)(s->writers_live + s->writers_unregistered),
		       s->writers_live + s->writers_unregistered == 1 ? "" : "s");
	if (s->chunks_restored)
		printf("; %llu put back (points name them)", (unsigned long long)s->chunks_restored);
	if (s->chunks_young)
		printf("; %llu younger than the grace left", (unsigned long long)s->chunks_young);
	if (s->points_deleted || s->points_in_use)
		printf("; %llu pruned points %sdeleted (%llu kept: in use)", (unsigned long long)s->points_deleted, would,
		       (unsigned long long)s->points_in_use);
	if (s->tmp_files)
		printf("; %llu temporary files (%s) of killed runs %sremoved", (unsigned long long)s->tmp_files,
		       hs_fmt_bytes(s->tmp_bytes, d), would);
	printf("; %.1f s\n", s->seconds);
	if (s->writers_ahead)
		printf("warning: %llu live writer%s registered with a clock more than %d s ahead of this host's: "
		       "the trash is kept until %s (set the hosts' clocks right, e.g. NTP)\n",
		       (unsigned long long)s->writers_ahead, s->writers_ahead == 1 ? "" : "s", HS_CLOCK_SKEW_SECONDS,
		       s->writers_ahead == 1 ? "it ends" : "they end");
	if (s->leases_unreadable)
		printf("note: %llu object%s under leases/ not a lease (damaged, or another program's): it keeps "
		       "no point, and gc removes it a day after its last write\n",
		       (unsigned long long)s->leases_unreadable, s->leases_unreadable == 1 ? "" : "s");
	if (s->writers_unregistered)
		printf("note: %llu writer lock%s held without a registration (an older hotspare?): the trash is "
		       "kept until it is released\n", (unsigned long long)s->writers_unregistered,
		       s->writers_unregistered == 1 ? " is" : "s are");
}

int cmd_gc(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "grace", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct hs_gc_opts o = { .grace = HS_GC_GRACE };
	bool json = false;
	uint64_t v;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'n') {
			o.dry_run = true;
		} else if (c == 'j') {
			json = true;
		} else if (c == 'g') {
			if (cli_number("gc", "--grace", optarg, 0, 31536000, "seconds", &v))
				return 1;
			o.grace = (int64_t)v;
		} else {
			return c == 'h' ? cli_help("gc", USAGE) : cli_usage("gc", USAGE);
		}
	}
	if (argc - optind != 1)
		return cli_usage("gc", USAGE);
	struct hs_store *st;
	int r = hs_store_open_flags(argv[optind], HS_OPEN_NOKEY, &st);
	if (r < 0)
		return cli_fail("gc", r);
	o.store = st;
	struct hs_gc_stats s;
	r = hs_gc(&o, &s);
	if (r == 0 && json)
		print_json(&s);
	else if (r == 0)
		print_text(&s, st->be->where);
	if (r < 0)
		cli_fail("gc", r);
	hs_store_close(st);
	return r < 0 ? 1 : 0;
}
