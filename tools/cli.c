/* Helpers shared by the subcommands; see cli.h. */
#include "cli.h"
#include "err.h"
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

#include "store.h"
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
