/* hotspare prune STORE [SERVER]... --keep-last N | --keep-daily N | --keep-weekly N | --keep-monthly N
 *                | --keep-yearly N ... [--dry-run] [--json]
 * Removes the points the rules do not keep (every server's when none is
 * named), says why each kept point is kept and which drives no kept point
 * needs any more. gc then frees their chunks. Needs no key. */
#include "cli.h"
#include "basics/err.h"
#include "jobs/prune.h"
#include "store/store.h"
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define USAGE "STORE [SERVER]... --keep-last N | --keep-daily N | --keep-weekly N | --keep-monthly N\n" \
	      "       | --keep-yearly N ... [--dry-run] [--json]\n" \
	      "       (each rule keeps the newest point of each of its last N periods, UTC, ISO weeks;\n" \
	      "       the newest point, the newest snapshot and points in use are always kept)"

static json_object *reasons_json(unsigned reasons)
{
	static const char *const names[] = { "last", "daily", "weekly", "monthly", "yearly", "newest",
					     "newest snapshot", "in use", "unreadable" };
	json_object *a = json_object_new_array();
	for (unsigned b = 0; b < sizeof names / sizeof *names; b++)
		if (reasons & (1u << b))
			json_object_array_add(a, json_object_new_string(names[b]));
	return a;
}

static void print_json(const struct hs_prune_result *res, bool dry_run)
{
	json_object *j = json_object_new_object(), *servers = json_object_new_array(),
		    *drives = json_object_new_array();
	json_object_object_add(j, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(j, "removed", json_object_new_int64((int64_t)res->removed));
	json_object_object_add(j, "kept", json_object_new_int64((int64_t)res->kept));
	for (size_t i = 0; i < res->nservers; i++) {
		const struct hs_prune_server *s = &res->servers[i];
		json_object *o = json_object_new_object(), *pts = json_object_new_array(),
			    *freed = json_object_new_array();
		json_object_object_add(o, "server", json_object_new_string(s->name));
		json_object_object_add(o, "skipped", s->skipped[0] ? json_object_new_string(s->skipped) : NULL);
		json_object_object_add(o, "removed", json_object_new_int64((int64_t)s->removed));
		json_object_object_add(o, "kept", json_object_new_int64((int64_t)(s->npoints - s->removed)));
		for (size_t k = 0; k < s->npoints; k++) {
			const struct hs_prune_point *p = &s->points[k];
			json_object *q = json_object_new_object();
			char when[21];
			hs_time_iso((time_t)p->time, when);
			json_object_object_add(q, "id", json_object_new_string(p->id));
			json_object_object_add(q, "kind", p->unreadable ? NULL : json_object_new_string(hs_kind_name(p->kind)));
			json_object_object_add(q, "time", json_object_new_string(when));
			json_object_object_add(q, "keep", json_object_new_boolean(p->reasons != 0));
			json_object_object_add(q, "reasons", reasons_json(p->reasons));
			json_object_object_add(q, "in_use_by", p->in_use ? json_object_new_string(p->in_use_by) : NULL);
			json_object_object_add(q, "drive", p->drive[0] ? json_object_new_string(p->drive) : NULL);
			json_object_array_add(pts, q);
		}
		for (size_t k = 0; k < s->ndrives_freed; k++) {
			json_object_array_add(freed, json_object_new_string(s->drives_freed[k]));
			json_object *d = json_object_new_object();
			json_object_object_add(d, "server", json_object_new_string(s->name));
			json_object_object_add(d, "drive", json_object_new_string(s->drives_freed[k]));
			json_object_array_add(drives, d);
		}
		json_object_object_add(o, "points", pts);
		json_object_object_add(o, "drives_freed", freed);
		json_object_array_add(servers, o);
	}
	json_object_object_add(j, "servers", servers);
	json_object_object_add(j, "drives_freed", drives);
	json_object_object_add(j, "seconds", json_object_new_double(res->seconds));
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

static void print_text(const struct hs_prune_result *res, bool dry_run, const char *where)
{
	for (size_t i = 0; i < res->nservers; i++) {
		const struct hs_prune_server *s = &res->servers[i];
		if (s->skipped[0]) {
			printf("%s: skipped: %s\n", s->name, s->skipped);
			continue;
		}
		printf("%s:\n", s->name);
		for (size_t k = 0; k < s->npoints; k++) {
			const struct hs_prune_point *p = &s->points[k];
			char when[21], why[256], drive[40] = "";
			hs_time_iso((time_t)p->time, when);
			hs_prune_reasons(p->reasons, why, sizeof why);
			if (p->drive[0])
				snprintf(drive, sizeof drive, "drive %s", p->drive);
			if (p->reasons && p->in_use)
				snprintf(why + strlen(why), sizeof why - strlen(why), " (%s)", p->in_use_by);
			printf("  %-13s %-17s %-9s %-21s %-23s %s\n",
			       p->reasons ? "keep" : dry_run ? "would remove" : "remove", p->id,
			       p->unreadable ? "?" : hs_kind_name(p->kind), when, drive, p->reasons ? why : "");
		}
	}
	for (size_t i = 0; i < res->nservers; i++)
		for (size_t k = 0; k < res->servers[i].ndrives_freed; k++)
			printf("%s: no kept point needs drive %s (the snapshot shipped on it) any more: it may be wiped\n",
			       res->servers[i].name, res->servers[i].drives_freed[k]);
	printf("prune %s: %zu points %s, %zu kept, %.1f s%s\n", where, res->removed,
	       dry_run ? "would be removed (dry run: nothing changed)" : "removed", res->kept, res->seconds,
	       !dry_run && res->removed ? " (hotspare gc frees their chunks)" : "");
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-daily", required_argument, NULL, 'd' },
		{ "keep-weekly", required_argument, NULL, 'w' },
		{ "keep-monthly", required_argument, NULL, 'm' },
		{ "keep-yearly", required_argument, NULL, 'y' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct hs_prune_opts o = { 0 };
	bool json = false;
	uint64_t v;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		const char *k = c == 'l' ? "--keep-last" : c == 'd' ? "--keep-daily" : c == 'w' ? "--keep-weekly"
			      : c == 'm' ? "--keep-monthly" : c == 'y' ? "--keep-yearly" : NULL;
		unsigned *rule = c == 'l' ? &o.rules.last : c == 'd' ? &o.rules.daily : c == 'w' ? &o.rules.weekly
			       : c == 'm' ? &o.rules.monthly : &o.rules.yearly;
		if (k) {
			/* A rule of 0 would keep nothing of its kind: say 1 or more. */
			if (cli_number("prune", k, optarg, 1, 1000000, NULL, &v))
				return 1;
			*rule = (unsigned)v;
		} else if (c == 'n') {
			o.dry_run = true;
		} else if (c == 'j') {
			json = true;
		} else {
			return c == 'h' ? cli_help("prune", USAGE) : cli_usage("prune", USAGE);
		}
	}
	if (argc - optind < 1)
		return cli_usage("prune", USAGE);
	if (!o.rules.last && !o.rules.daily && !o.rules.weekly && !o.rules.monthly && !o.rules.yearly)
		return cli_failf("prune", "no rule given: give at least one of --keep-last, --keep-daily, "
					  "--keep-weekly, --keep-monthly, --keep-yearly N (see 'hotspare prune --help')") + 1;
	struct hs_store *st;
	int r = hs_store_open_flags(argv[optind], HS_OPEN_NOKEY, &st);
	if (r < 0)
		return cli_fail("prune", r);
	o.store = st;
	o.servers = argv + optind + 1;
	o.nservers = (size_t)(argc - optind - 1);
	struct hs_prune_result res;
	r = hs_prune(&o, &res);
	if (r == 0 && json)
		print_json(&res, o.dry_run);
	else if (r == 0)
		print_text(&res, o.dry_run, st->be->where);
	if (r < 0)
		cli_fail("prune", r);
	hs_prune_free(&res);
	hs_store_close(st);
	return r < 0 ? 1 : 0;
}
