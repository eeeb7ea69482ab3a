/* hotspare points STORE SERVER [--json]
 * hotspare points STORE [--json]   (the servers, with their newest point)
 * Reads each point's fixed-size header only (never a digest table), and
 * needs no key: an encrypted store lists its points without one. */
#include "cli.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/progress.h"
#include "jobs/prune.h"
#include "store/store.h"
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#define USAGE "STORE SERVER [--json]\n" \
	      "       STORE [--json]   (its servers, each with its number of points and the newest)"

/* Bytes read to take the point: its size unless an incremental capture
 * took unchanged chunks from the point before, unread. */
static uint64_t read_bytes(const struct hs_point *p)
{
	uint64_t n = 0;
	for (uint32_t k = 0; k < p->ndisks; k++)
		n += p->disks[k].read_bytes;
	return n;
}

static json_object *point_json(const struct hs_point *p, const char *drive)
{
	char when[21];
	hs_time_iso((time_t)p->time, when);
	json_object *o = json_object_new_object(), *disks = json_object_new_array();
	json_object_object_add(o, "id", json_object_new_string(p->id));
	json_object_object_add(o, "kind", json_object_new_string(hs_kind_name(p->kind)));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)hs_point_size(p)));
	json_object_object_add(o, "new_bytes", json_object_new_int64((int64_t)hs_point_new_bytes(p)));
	json_object_object_add(o, "shipped_bytes", json_object_new_int64((int64_t)hs_point_ship_bytes(p)));
	json_object_object_add(o, "chunk_size", json_object_new_int64(p->chunk_size));
	json_object_object_add(o, "base", p->base[0] ? json_object_new_string(p->base) : NULL);
	/* The drive (snapshot id) whose chunks it needs: a seed when restoring. */
	json_object_object_add(o, "drive", drive[0] ? json_object_new_string(drive) : NULL);
	json_object_object_add(o, "consistency", json_object_new_string(hs_consistency_name(p->consistency)));
	json_object_object_add(o, "encrypted", json_object_new_boolean(p->encrypted));
	json_object *inc = json_object_new_object();
	json_object_object_add(inc, "read_bytes", json_object_new_int64((int64_t)read_bytes(p)));
	json_object_object_add(inc, "size", json_object_new_int64((int64_t)hs_point_size(p)));
	json_object_object_add(o, "incremental", inc);
	for (uint32_t k = 0; k < p->ndisks; k++) {
		const struct hs_point_disk *d = &p->disks[k];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "name", json_object_new_string(d->name));
		json_object_object_add(j, "size", json_object_new_int64((int64_t)d->size));
		json_object_object_add(j, "new_bytes", json_object_new_int64((int64_t)d->new_bytes));
		json_object_object_add(j, "shipped_bytes", json_object_new_int64((int64_t)d->ship_bytes));
		json_object_object_add(j, "read_bytes", json_object_new_int64((int64_t)d->read_bytes));
		json_object_array_add(disks, j);
	}
	json_object_object_add(o, "disks", disks);
	return o;
}

static void point_line(const struct hs_point *p, const char *drive)
{
	char when[21], a[16], b[16], c[16], newcol[40], disks[256] = "";
	hs_time_iso((time_t)p->time, when);
	uint64_t ship = hs_point_ship_bytes(p);
	if (ship)
		snprintf(newcol, sizeof newcol, "%s shipped", hs_fmt_bytes(ship, b));
	else
		snprintf(newcol, sizeof newcol, "%s", hs_fmt_bytes(hs_point_new_bytes(p), b));
	for (uint32_t k = 0; k < p->ndisks; k++) {
		char sz[16], one[64];
		snprintf(one, sizeof one, "%s%s=%s", k ? " " : "", p->disks[k].name, hs_fmt_bytes(p->disks[k].size, sz));
		if (strlen(disks) + strlen(one) + 4 < sizeof disks)
			strcat(disks, one);
		else if (!strstr(disks, "..."))
			strcat(disks, " ...");
	}
	printf("%-17s %-9s %-21s %10s %16s %10s  %-17s %-16s %s\n", p->id, hs_kind_name(p->kind), when,
	       hs_fmt_bytes(hs_point_size(p), a), newcol, hs_fmt_bytes(read_bytes(p), c), drive[0] ? drive : "-",
	       hs_consistency_name(p->consistency), disks);
}

/* The store's servers (sorted by name), each with its number of points and the newest. */
static int servers(const char *where, bool json)
{
	_cleanup_(hs_store_close_p) struct hs_store *st = NULL;
	_cleanup_(hs_strv_free_p) char **names = NULL;
	size_t n;
	int r = hs_store_open_flags(where, HS_OPEN_NOKEY, &st);
	if (r == 0)
		r = hs_store_servers_list(st, &names, &n);
	if (r < 0)
		return cli_fail("points", r);
	json_object *arr = json_object_new_array();
	if (!json && n)
		printf("%-32s %6s  %s\n", "SERVER", "POINTS", "NEWEST");
	for (size_t i = 0; i < n; i++) {
		_cleanup_(hs_strv_free_p) char **ids = NULL;
		size_t m = 0;
		if ((r = hs_store_points_list(st, names[i], &ids, &m)) < 0) {
			json_object_put(arr);
			return cli_fail("points", r);
		}
		if (json) {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "server", json_object_new_string(names[i]));
			json_object_object_add(o, "points", json_object_new_int64((int64_t)m));
			json_object_object_add(o, "newest", m ? json_object_new_string(ids[m - 1]) : NULL);
			json_object_array_add(arr, o);
		} else {
			printf("%-32s %6zu  %s\n", names[i], m, m ? ids[m - 1] : "-");
		}
	}
	if (json)
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (n == 0)
		printf("%s has no servers yet\n", st->be->where);
	json_object_put(arr);
	return 0;
}

int cmd_points(int argc, char **argv)
{
	bool json;
	int c = cli_store_json(&argc, &argv, "points", USAGE, 1, 2, 1, &json);
	if (c >= 0)
		return c;
	if (argc - optind == 1)
		return servers(argv[optind], json);
	const char *where = argv[optind], *server = argv[optind + 1];
	int r = hs_server_name_check(server);
	if (r < 0)
		return cli_fail("points", r);
	_cleanup_(hs_store_close_p) struct hs_store *st = NULL;
	_cleanup_(hs_strv_free_p) char **ids = NULL;
	size_t n;
	r = hs_store_open_flags(where, HS_OPEN_NOKEY, &st);
	if (r == 0)
		r = hs_store_points_list(st, server, &ids, &n);
	if (r < 0)
		return cli_fail("points", r);
	/* As du, prune and restore say: a name with no points is a mistake
	 * (prune keeps a server's newest snapshot), not an empty answer. */
	if (n == 0)
		return cli_failf("points", "server %s has no points in %s", server, st->be->where);
	_cleanup_free_ struct hs_point *p = malloc(sizeof *p);
	/* What each point is, for the drive each needs (a base is older). */
	_cleanup_free_ struct hs_prune_point *seen = calloc(n, sizeof *seen);
	if (!p || !seen)
		return cli_fail("points", -ENOMEM);
	json_object *arr = json_object_new_array();
	if (!json)
		printf("%-17s %-9s %-21s %10s %16s %10s  %-17s %-16s %s\n", "ID", "KIND", "TIME (UTC)", "SIZE", "NEW",
		       "READ", "NEEDS DRIVE", "CONSISTENCY", "DISKS");
	size_t unreadable = 0;
	for (size_t i = 0; i < n; i++) {
		hs_err_clear();
		r = hs_store_point_head(st, server, ids[i], p);
		if (r == -ENOMEM) {
			json_object_put(arr);
			return cli_fail("points", r);
		}
		struct hs_prune_point *q = &seen[i];
		snprintf(q->id, sizeof q->id, "%s", ids[i]);
		q->unreadable = r < 0;
		if (r < 0) {
			/* One bad point hides nothing else: it is listed as such. */
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
		q->kind = p->kind;
		q->shipped = p->kind == HS_KIND_SNAPSHOT && hs_point_ship_bytes(p) > 0;
		snprintf(q->base, sizeof q->base, "%s", p->base);
		hs_prune_drive(seen, i + 1, q, q->drive);
		if (json)
			json_object_array_add(arr, point_json(p, q->drive));
		else
			point_line(p, q->drive);
	}
	if (json)
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	if (unreadable)
		return cli_failf("points", "%zu of %zu points of %s cannot be read (their indexes are damaged)", unreadable,
				 n, server);
	return 0;
}
