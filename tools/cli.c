/* Helpers shared by the subcommands; see cli.h. */
#include "cli.h"
#include "config.h"
#include "jobs/capture.h"
#include "basics/err.h"
#include "basics/path.h"
#include "store/places.h"
#include "spare/state.h"
#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Every error is one line, whatever the paths and names it echoes hold. */
int cli_fail(const char *cmd, int r)
{
	const char *m = hs_err_msg();
	fprintf(stderr, "hotspare %s: ", cmd);
	hs_fput_line(m ? m : strerror(r < 0 ? -r : r), stderr);
	fputc('\n', stderr);
	return 1;
}

int cli_failf(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&m, fmt, ap);
	va_end(ap);
	fprintf(stderr, "hotspare %s: ", cmd);
	hs_fput_line(n >= 0 ? m : "out of memory", stderr);
	fputc('\n', stderr);
	free(m);
	return 1;
}

/* What the last cli_getopt refused, for cli_usage to say in its one line. */
static char opt_error[256];
static int empty_arg = -1; /* index among the positional arguments of an empty one */

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	char so[64], esc[96];
	/* Leading ':' tells a missing value apart from an unknown option. */
	snprintf(so, sizeof so, ":%s", shortopts);
	opterr = 0;
	opt_error[0] = 0;
	empty_arg = -1;
	int idx = -1;
	int c = getopt_long(argc, argv, so, opts, &idx);
	const char *given = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	if (c == '?') {
		if (optopt && !(given[0] == '-' && given[1] == '-'))
			snprintf(opt_error, sizeof opt_error, "unknown option '-%s'",
				 hs_escape((char[]){ (char)optopt, 0 }, esc, sizeof esc));
		else
			snprintf(opt_error, sizeof opt_error, "unknown option '%s'", hs_escape(given, esc, sizeof esc));
		return '?';
	}
	if (c == ':') {
		snprintf(opt_error, sizeof opt_error, "option '%s' needs a value", hs_escape(given, esc, sizeof esc));
		return '?';
	}
	if (c != -1) {
		if (optarg && !*optarg) {
			if (idx >= 0)
				snprintf(opt_error, sizeof opt_error, "option '--%s' is empty", opts[idx].name);
			else
				snprintf(opt_error, sizeof opt_error, "option '-%c' is empty", c);
			return '?';
		}
		return c;
	}
	/* The options are done: an empty positional argument names nothing. */
	for (int i = optind; i < argc; i++)
		if (!argv[i][0]) {
			empty_arg = i - optind;
			return '?';
		}
	return -1;
}

/* The k-th positional word of a usage line ("STORE SERVER[@POINT] MOUNTPOINT
 * --state DIR ..."), into out; false past the named ones. */
static bool usage_word(const char *usage, int k, char *out, size_t cap)
{
	const char *p = usage;
	int seen = 0;
	bool after_option = false;
	while (*p && *p != '\n') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " \n");
		if (!n)
			break;
		/* "[SERVER]...": an optional positional word, named without brackets. */
		bool optional = p[0] == '[' && p[1] != '-';
		if (p[0] == '-')
			after_option = true;
		else if (after_option || p[0] == '|' || (p[0] == '[' && !optional))
			after_option = false;
		else if (seen++ == k) {
			/* "TARGET|DISK=TARGET...": the first form names it. */
			const char *w0 = p + optional;
			size_t w = strcspn(w0, "|.[]");
			snprintf(out, cap, "%.*s", (int)(w < n ? w : n), w0);
			return true;
		}
		p += n;
	}
	return false;
}

int cli_usage(const char *cmd, const char *usage)
{
	char word[64];
	if (opt_error[0])
		fprintf(stderr, "hotspare %s: %s (see 'hotspare %s --help')\n", cmd, opt_error, cmd);
	else if (empty_arg >= 0 && usage_word(usage, empty_arg, word, sizeof word))
		fprintf(stderr, "hotspare %s: %s is empty (see 'hotspare %s --help')\n", cmd, word, cmd);
	else if (empty_arg >= 0)
		fprintf(stderr, "hotspare %s: argument %d is empty (see 'hotspare %s --help')\n", cmd, empty_arg + 1, cmd);
	else
		fprintf(stderr, "hotspare %s: wrong arguments; usage: hotspare %s %.*s (see 'hotspare %s --help')\n", cmd,
			cmd, (int)strcspn(usage, "\n"), usage, cmd);
	opt_error[0] = 0;
	empty_arg = -1;
	return 2;
}

int cli_help(const char *cmd, const char *usage)
{
	printf("usage: hotspare %s %s\n", cmd, usage);
	return 0;
}

int cli_number(const char *cmd, const char *opt, const char *s, uint64_t lo, uint64_t hi, const char *unit,
	       uint64_t *out)
{
	char esc[96];
	uint64_t v = 0;
	bool ok = *s != 0;
	/* Digits only: no sign, no blanks, no exponent, no hex; overflow refused. */
	for (const char *p = s; ok && *p; p++) {
		ok = *p >= '0' && *p <= '9' && v <= (UINT64_MAX - (uint64_t)(*p - '0')) / 10;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (ok && v >= lo && v <= hi) {
		*out = v;
		return 0;
	}
	fprintf(stderr, "hotspare %s: %s '%s' is not a number%s%s from %llu to %llu\n", cmd, opt,
		hs_escape(s, esc, sizeof esc), unit ? " of " : "", unit ? unit : "", (unsigned long long)lo,
		(unsigned long long)hi);
	return 1;
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
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 'j')
			*json = true;
		else
			return c == 'h' ? cli_help(cmd, usage) : cli_usage(cmd, usage);
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
int cli_open_point(const char *where, const char *ref, struct hs_store **stp, struct hs_point *p,
		   char disk[HS_DISK_MAX + 1])
{
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1], id[HS_POINT_ID_LEN + 1];
	int r = hs_ref_parse(ref, server, want, disk);
	if (r < 0)
		return r;
	struct hs_store *st;
	r = hs_store_open(where, &st);
	if (r < 0)
		return r;
	r = hs_store_point_resolve(st, server, want, id);
	if (r == 0)
		r = hs_store_point_head(st, server, id, p);
	if (r == 0 && disk && disk[0] && hs_point_disk_find(p, disk) < 0)
		r = hs_err(ENOENT, "point %s@%s has no disk %s", server, id, disk);
	if (r < 0) {
		hs_store_close(st);
		return r;
	}
	*stp = st;
	return 0;
}

int cli_load_point(const char *where, const char *ref, struct hs_store **stp, struct hs_index **ix)
{
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1], id[HS_POINT_ID_LEN + 1],
		disk[HS_DISK_MAX + 1];
	int r = hs_ref_parse(ref, server, want, disk);
	if (r < 0)
		return r;
	struct hs_store *st;
	r = hs_store_open(where, &st);
	if (r < 0)
		return r;
	r = hs_store_point_resolve(st, server, want, id);
	if (r == 0)
		r = hs_store_point_get(st, server, id, disk, ix);
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
		v[p->n].disk[0] = 0;
		p->n++;
	}
	hs_strv_free(ids);
	return r;
}

int cli_points_add(struct hs_store *st, const char *ref, struct cli_points *p)
{
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1];
	int r = hs_ref_parse(ref, server, want, NULL);
	return r < 0 ? r : points_add(st, server, want, true, p);
}

int cli_points_add_disk(struct hs_store *st, const char *ref, struct cli_points *p)
{
	char server[HS_SERVER_MAX + 1], want[HS_POINT_ID_LEN + 1], disk[HS_DISK_MAX + 1];
	int r = hs_ref_parse(ref, server, want, disk);
	size_t from = p->n;
	if (r == 0)
		r = points_add(st, server, want, true, p);
	if (r < 0 || !disk[0])
		return r;
	/* Only the points that have the disk (disks come and go between points). */
	struct hs_point *head = malloc(sizeof *head);
	if (!head)
		return -ENOMEM;
	size_t kept = from;
	for (size_t i = from; r == 0 && i < p->n; i++) {
		if ((r = hs_store_point_head(st, p->v[i].server, p->v[i].id, head)) < 0)
			break;
		if (hs_point_disk_find(head, disk) < 0)
			continue;
		p->v[kept] = p->v[i];
		snprintf(p->v[kept].disk, sizeof p->v[kept].disk, "%s", disk);
		kept++;
	}
	free(head);
	if (r == 0 && kept == from)
		r = want[0] ? hs_err(ENOENT, "point %s@%s has no disk %s", server, p->v[from].id, disk)
			    : hs_err(ENOENT, "no point of %s has a disk %s", server, disk);
	p->n = kept;
	return r;
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

int cli_seeds_json(int *argc, char ***argv, const char *cmd, const char *usage, int min_args, int max_args,
		   int ref, struct cli_list *seeds, bool *json)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*json = false;
	int c;
	while ((c = cli_getopt(*argc, *argv, "h", opts)) != -1) {
		if (c == 's' && cli_list_add(seeds, optarg) == 0)
			continue;
		if (c == 'j') {
			*json = true;
			continue;
		}
		cli_list_free(seeds);
		return c == 'h' ? cli_help(cmd, usage) : cli_usage(cmd, usage);
	}
	if ((c = cfg_store_arg(cmd, argc, argv, min_args, max_args, ref)) >= 0 ||
	    (c = cfg_seeds(seeds) < 0 ? cli_fail(cmd, -ENOMEM) : -1) >= 0) {
		cli_list_free(seeds);
		return c;
	}
	int n = *argc - optind;
	if (n < min_args || (max_args >= 0 && n > max_args)) {
		cli_list_free(seeds);
		return cli_usage(cmd, usage);
	}
	return -1;
}

int cli_store_json(int *argc, char ***argv, const char *cmd, const char *usage, int min_args, int max_args,
		   int ref, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	*json = false;
	while ((c = cli_getopt(*argc, *argv, "h", opts)) != -1) {
		if (c == 'j')
			*json = true;
		else
			return c == 'h' ? cli_help(cmd, usage) : cli_usage(cmd, usage);
	}
	if ((c = cfg_store_arg(cmd, argc, argv, min_args, max_args, ref)) >= 0)
		return c;
	int n = *argc - optind;
	return n < min_args || (max_args >= 0 && n > max_args) ? cli_usage(cmd, usage) : -1;
}

int cli_disk_pairs(const char *cmd, int n, char **args, const char *what, struct hs_capture_disk *out,
		   unsigned *nout, bool *lone)
{
	(void)cmd;
	*nout = 0;
	*lone = false;
	if (n > HS_DISKS_MAX)
		return hs_err(E2BIG, "%d disks given; a server has at most %d", n, HS_DISKS_MAX);
	for (int k = 0; k < n; k++) {
		char *eq = strchr(args[k], '=');
		size_t nl = eq ? (size_t)(eq - args[k]) : 0;
		/* A lone argument without a disk name before '=' is a path (it may hold '='). */
		bool pair = eq && nl > 0 &&
			    (n > 1 || (nl <= HS_DISK_MAX && strspn(args[k], "abcdefghijklmnopqrstuvwxyz"
								    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == nl));
		if (!pair && n > 1) {
			char e[160];
			return hs_err(EINVAL, "'%s' is not DISK=%s (with several disks, name each one)",
				      hs_escape(args[k], e, sizeof e), what);
		}
		if (!pair) {
			out[0] = (struct hs_capture_disk){ .name = HS_DISK_DEFAULT, .source = args[k] };
			*nout = 1;
			*lone = true;
			return 0;
		}
		*eq = 0;
		out[k] = (struct hs_capture_disk){ .name = args[k], .source = eq + 1 };
		int r = hs_disk_name_check(args[k]);
		if (r < 0)
			return r;
		if (!eq[1])
			return hs_err(EINVAL, "disk %s has no %s (write %s=%s)", args[k], what, args[k], what);
		for (int m = 0; m < k; m++)
			if (!strcmp(out[m].name, args[k]))
				return hs_err(EINVAL, "disk %s is named twice", args[k]);
	}
	*nout = (unsigned)n;
	return 0;
}
