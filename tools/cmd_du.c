/* hotspare du STORE [SERVER] [--json]
 * Per server: the bytes of its points, what only it names (deleting it would
 * free that) and its dedup factor; for the store, what gc would free. */
#include "cli.h"
#include "basics/err.h"
#include "basics/progress.h"
#include "jobs/du.h"
#include "store/store.h"
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#define USAGE "STORE [SERVER] [--json]"

static void print_json(const struct hs_du_result *d)
{
	json_object *j = json_object_new_object(), *arr = json_object_new_array();
	for (size_t i = 0; i < d->nservers; i++) {
		const struct hs_du_server *s = &d->servers[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "server", json_object_new_string(s->name));
		json_object_object_add(o, "points", json_object_new_int64((int64_t)s->points));
		json_object_object_add(o, "image_bytes", json_object_new_int64((int64_t)s->image_bytes));
		json_object_object_add(o, "data_bytes", json_object_new_int64((int64_t)s->data_bytes));
		json_object_object_add(o, "chunks", json_object_new_int64((int64_t)s->chunks));
		json_object_object_add(o, "stored_bytes", json_object_new_int64((int64_t)s->stored_bytes));
		json_object_object_add(o, "unique_chunks", json_object_new_int64((int64_t)s->unique_chunks));
		json_object_object_add(o, "unique_bytes", json_object_new_int64((int64_t)s->unique_bytes));
		json_object_object_add(o, "elsewhere_chunks", json_object_new_int64((int64_t)s->elsewhere_chunks));
		json_object_object_add(o, "dedup", json_object_new_double(s->dedup));
		json_object_array_add(arr, o);
	}
	json_object_object_add(j, "servers", arr);
	json_object_object_add(j, "chunks", json_object_new_int64((int64_t)d->chunks));
	json_object_object_add(j, "bytes", json_object_new_int64((int64_t)d->bytes));
	json_object_object_add(j, "unnamed_chunks", json_object_new_int64((int64_t)d->unnamed_chunks));
	json_object_object_add(j, "unnamed_bytes", json_object_new_int64((int64_t)d->unnamed_bytes));
	json_object_object_add(j, "pruned_chunks", json_object_new_int64((int64_t)d->pruned_chunks));
	json_object_object_add(j, "pruned_bytes", json_object_new_int64((int64_t)d->pruned_bytes));
	json_object_object_add(j, "trash_chunks", json_object_new_int64((int64_t)d->trash_chunks));
	json_object_object_add(j, "trash_bytes", json_object_new_int64((int64_t)d->trash_bytes));
	json_object_object_add(j, "data_bytes", json_object_new_int64((int64_t)d->data_bytes));
	json_object_object_add(j, "dedup", json_object_new_double(d->dedup));
	json_object_object_add(j, "seconds", json_object_new_double(d->seconds));
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

static void print_text(const struct hs_du_result *d, const char *where)
{
	char a[16], b[16], c[16], e[16];
	printf("%-20s %7s %10s %10s %10s %10s %7s\n", "SERVER", "POINTS", "IMAGES", "DATA", "STORED", "ONLY ITS",
	       "DEDUP");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct hs_du_server *s = &d->servers[i];
		printf("%-20s %7llu %10s %10s %10s %10s %6.1fx\n", s->name, (unsigned long long)s->points,
		       hs_fmt_bytes(s->image_bytes, a), hs_fmt_bytes(s->data_bytes, b), hs_fmt_bytes(s->stored_bytes, c),
		       hs_fmt_bytes(s->unique_bytes, e), s->dedup);
	}
	printf("store %s: %llu chunks, %s (dedup %.1fx); %llu chunks (%s) named by no point and "
	       "%llu (%s) named only by pruned points (hotspare gc frees them once older than its grace); "
	       "%s in the trash\n",
	       where, (unsigned long long)d->chunks,
	       hs_fmt_bytes(d->bytes, a), d->dedup, (unsigned long long)d->unnamed_chunks,
	       hs_fmt_bytes(d->unnamed_bytes, b), (unsigned long long)d->pruned_chunks, hs_fmt_bytes(d->pruned_bytes, e),
	       hs_fmt_bytes(d->trash_bytes, c));
}

int cmd_du(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'j')
			json = true;
		else
			return c == 'h' ? cli_help("du", USAGE) : cli_usage("du", USAGE);
	}
	if (argc - optind != 1 && argc - optind != 2)
		return cli_usage("du", USAGE);
	struct hs_store *st;
	int r = hs_store_open_flags(argv[optind], HS_OPEN_NOKEY, &st);
	if (r < 0)
		return cli_fail("du", r);
	struct hs_du_result d;
	r = hs_du(st, argc - optind == 2 ? argv[optind + 1] : NULL, &d);
	if (r == 0 && json)
		print_json(&d);
	else if (r == 0)
		print_text(&d, st->be->where);
	if (r < 0)
		cli_fail("du", r);
	hs_du_free(&d);
	hs_store_close(st);
	return r < 0 ? 1 : 0;
}
