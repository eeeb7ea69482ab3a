/* hotspare points STORE SERVER [--json] */
#include "cli.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/progress.h"
#include "store/store.h"
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#define USAGE "STORE SERVER [--json]"

int cmd_points(int argc, char **argv)
{
	bool json;
	int c = cli_json_only(argc, argv, "points", USAGE, 2, &json);
	if (c >= 0)
		return c;
	const char *where = argv[optind], *server = argv[optind + 1];
	int r = hs_server_name_check(server);
	if (r < 0)
		return cli_fail("points", r);
	_cleanup_(hs_store_close_p) struct hs_store *st = NULL;
	_cleanup_(hs_strv_free_p) char **ids = NULL;
	size_t n;
	r = hs_store_open(where, &st);
	if (r == 0)
		r = hs_store_points_list(st, server, &ids, &n);
	if (r < 0)
		return cli_fail("points", r);
	json_object *arr = json_object_new_array();
	if (!json && n)
		printf("%-17s %-9s %-21s %10s %10s  %s\n", "ID", "KIND", "TIME (UTC)", "SIZE", "NEW", "BASE");
	size_t unreadable = 0;
	for (size_t i = 0; i < n; i++) {
		struct hs_index *ix;
		hs_err_clear();
		r = hs_store_point_get(st, server, ids[i], &ix);
		if (r == -ENOMEM) {
			json_object_put(arr);
			return cli_fail("points", r);
		}
		if (r < 0) {
			/* One bad index hides nothing else: it is listed as such. */
			const char *why = hs_err_msg() ? hs_err_msg() : strerror(-r);
			unreadable++;
			if (json) {
				json_object *o = json_object_new_object();
				json_object_object_add(o, "id", json_object_new_string(ids[i]));
				json_object_object_add(o, "error", json_object_new_string(why));
				json_object_array_add(arr, o);
			} else {
				printf("%-17s %-9s %s\n", ids[i], "BAD", why);
			}
			continue;
		}
		char when[21], a[16], b[16];
		hs_time_iso((time_t)ix->time, when);
		if (json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(ix->id));
			json_object_object_add(o, "kind", json_object_new_string(hs_kind_name(ix->kind)));
			json_object_object_add(o, "time", json_object_new_string(when));
			json_object_object_add(o, "size", json_object_new_int64((int64_t)ix->image_size));
			json_object_object_add(o, "new_bytes", json_object_new_int64((int64_t)ix->new_bytes));
			json_object_object_add(o, "shipped_bytes", json_object_new_int64((int64_t)ix->ship_bytes));
			json_object_object_add(o, "chunk_size", json_object_new_int64(ix->chunk_size));
			json_object_object_add(o, "base", ix->base[0] ? json_object_new_string(ix->base) : NULL);
			json_object_array_add(arr, o);
		} else {
			char newcol[40];
			if (ix->ship_bytes)
				snprintf(newcol, sizeof newcol, "%s shipped", hs_fmt_bytes(ix->ship_bytes, b));
			else
				snprintf(newcol, sizeof newcol, "%s", hs_fmt_bytes(ix->new_bytes, b));
			printf("%-17s %-9s %-21s %10s %10s  %s\n", ix->id, hs_kind_name(ix->kind), when,
			       hs_fmt_bytes(ix->image_size, a), newcol, ix->base[0] ? ix->base : "-");
		}
		hs_index_free(ix);
	}
	if (json)
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (n == 0)
		printf("server %s has no points in %s\n", server, st->be->where);
	json_object_put(arr);
	if (unreadable)
		return cli_failf("points", "%zu of %zu points of %s cannot be read (their indexes are damaged)", unreadable,
				 n, server);
	return 0;
}
