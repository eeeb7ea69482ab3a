/* Helpers shared by the subcommands; see cli.h. */
#include "cli.h"
#include "basics/err.h"
#include "store/places.h"
#include "spare/state.h"
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *cmd, int r)
{
	const char *m = hs_err_msg();
	fprintf(stderr, "hotspare %s: %s\n", cmd, m ? m : strerror(r < 0 ? -r : r));
	return 1;
}

int cli_failf(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "hotspare %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_usage(const char *cmd, const char *usage)
{
	fprintf(stderr, "usage: hotspare %s %s\n", cmd, usage);
	return 2;
}

int cli_json_only(int argc, char **argv, const char *cmd, const char *usage, int nargs, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	*json = false;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j')
			*json = true;
		else
			return c == 'h' ? cli_usage(cmd, usage) & 0 : cli_usage(cmd, usage);
	}
	return argc - optind == nargs ? -1 : cli_usage(cmd, usage);
}

int cli_list_add(struct cli_list *l, char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->v[l->n++] = s;
	return 0;
}

void cli_list_free(struct cli_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct hs_place *cli_places(const char *store, const struct cli_list *seeds, size_t *n)
{
	size_t ns = seeds ? seeds->n : 0;
	struct hs_place *v = calloc(ns + 1, sizeof *v);
	if (!v)
		return NULL;
	v[0] = (struct hs_place){ "the store", store };
	for (size_t i = 0; i < ns; i++)
		v[i + 1] = (struct hs_place){ "the seed", seeds->v[i] };
	*n = ns + 1;
	return v;
}

int cli_apart(const char *cmd, const char *what, const char *path, const char *store,
	      const struct cli_list *seeds, bool both_ways)
{
	size_t n;
	struct hs_place *v = cli_places(store, seeds, &n);
	if (!v)
		return cli_fail(cmd, -ENOMEM);
	int r = hs_places_check(what, path, v, n, both_ways);
	free(v);
	return r < 0 ? cli_fail(cmd, r) : -1;
}

int cli_drill_places(const char *store, const struct cli_list *seeds, const char *report,
		     const char *work)
{
	int c = cli_apart("drill", "--report", report, store, seeds, false);
	if (c < 0)
		c = cli_apart("drill", "--work-dir", work, store, seeds, false);
	if (c >= 0)
		return c;
	/* The work directory holds a state: the rules for a state's place. */
	int r = hs_state_check_place("--work-dir", work ? work : "/var/tmp", NULL, NULL, 0);
	return r < 0 ? cli_fail("drill", r) : -1;
}

#include "store/store.h"
int cli_load_point(const char *where, const char *ref, struct hs_store **stp, struct hs_index **ix)
{
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1], id[HS_POINT_ID_LEN + 1];
	int r = hs_ref_parse(ref, server, want);
	if (r < 0)
		return r;
	struct hs_store *st;
	r = hs_store_open(where, &st);
	if (r < 0)
		return r;
	r = hs_store_point_resolve(st, server, want, id);
	if (r == 0)
		r = hs_store_point_get(st, server, id, ix);
	if (r < 0) {
		hs_store_close(st);
		return r;
	}
	*stp = st;
	return 0;
}

/* Add server's point want ("": all its points; an error if it has none and need). */
static int points_add(struct hs_store *st, const char *server, const char *want, bool need,
		      struct cli_points *p)
{
	char **ids = NULL, id[HS_POINT_ID_LEN + 1];
	size_t n = 1;
	int r;
	if (want[0])
		r = hs_store_point_resolve(st, server, want, id);
	else if ((r = hs_store_points_list(st, server, &ids, &n)) == 0 && n == 0 && need)
		r = hs_err(ENOENT, "server %s has no points in %s", server, st->be->where);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct hs_point_ref *v = realloc(p->v, (p->n + 1) * sizeof *v);
		if (!v) {
			r = -ENOMEM;
			break;
		}
		p->v = v;
		snprintf(v[p->n].server, sizeof v->server, "%s", server);
		snprintf(v[p->n].id, sizeof v->id, "%s", ids ? ids[i] : id);
		p->n++;
	}
	hs_strv_free(ids);
	return r;
}

int cli_points_add(struct hs_store *st, const char *ref, struct cli_points *p)
{
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1];
	int r = hs_ref_parse(ref, server, want);
	return r < 0 ? r : points_add(st, server, want, true, p);
}

int cli_points_all(struct hs_store *st, struct cli_points *p)
{
	char **servers = NULL;
	size_t n;
	int r = hs_store_servers_list(st, &servers, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = points_add(st, servers[i], "", false, p);
	hs_strv_free(servers);
	return r;
}

int cli_seeds_json(int argc, char **argv, const char *cmd, const char *usage, int min_args, int max_args,
		   struct cli_list *seeds, bool *json)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*json = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 's' && cli_list_add(seeds, optarg) == 0)
			continue;
		if (c == 'j') {
			*json = true;
			continue;
		}
		cli_list_free(seeds);
		return c == 'h' ? cli_usage(cmd, usage) & 0 : cli_usage(cmd, usage);
	}
	int n = argc - optind;
	if (n < min_args || (max_args >= 0 && n > max_args)) {
		cli_list_free(seeds);
		return cli_usage(cmd, usage);
	}
	return -1;
}
