/* hotspare verify STORE [SERVER[@POINT][:DISK]] [--seed SEED]... [--json] [--no-key]
 * --no-key: an encrypted store without its key (the storage tier, a second
 * site): every chunk's presence is checked, not its content. */
#include "cli.h"
#include "config.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "jobs/verify.h"
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#define USAGE "STORE [SERVER[@POINT][:DISK]] [--seed SEED]... [--json] [--no-key]"

static void print_bad(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "hotspare verify: %s\n", line);
}

int cmd_verify(int argc, char **argv)
{
	double t0 = hs_now_s();
	struct cli_list seeds = { 0 };
	bool json = false, nokey = false;
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-key", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int r, c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if ((c == 's' && cli_list_add(&seeds, optarg) == 0) || (c == 'j' && (json = true)) ||
		    (c == 'n' && (nokey = true)))
			continue;
		cli_list_free(&seeds);
		return c == 'h' ? cli_help("verify", USAGE) : cli_usage("verify", USAGE);
	}
	/* STORE and seeds may come from the configuration file. */
	if ((c = cfg_store_arg("verify", &argc, &argv, 1, 2, 1)) >= 0 ||
	    (c = cfg_seeds(&seeds) < 0 ? cli_fail("verify", -ENOMEM) : -1) >= 0) {
		cli_list_free(&seeds);
		return c;
	}
	int nargs = argc - optind;
	if (nargs < 1 || nargs > 2) {
		cli_list_free(&seeds);
		return cli_usage("verify", USAGE);
	}
	struct cli_points pts = { 0 };
	struct hs_store *st = NULL;
	struct hs_sources src = { 0 };
	r = hs_store_open_flags(argv[optind], nokey ? HS_OPEN_NOKEY : 0, &st);
	/* With the key at hand, --no-key is not needed: the content is checked. */
	bool presence = r == 0 && st->encrypted && !st->key;
	if (r == 0)
		r = nargs == 2 ? cli_points_add_disk(st, argv[optind + 1], &pts) : cli_points_all(st, &pts);
	if (r == 0) {
		r = hs_sources_open(st, seeds.v, seeds.n, &src);
		st = NULL;
	}
	cli_list_free(&seeds);
	struct hs_verify_stats s = { 0 };
	if (r == 0) {
		struct hs_progress progress;
		struct hs_verify_opts o = {
			.src = &src, .refs = pts.v, .npoints = pts.n, .progress = &progress, .bad = print_bad,
			.mark = true,
		};
		r = hs_verify(&o, &s);
	}
	/* What killed writers left: reported until gc removes it (the next
	 * capture of their server removes its own). */
	uint64_t left = 0, left_bytes = 0;
	char left_text[1024] = "";
	for (size_t i = 0; (r == 0 || r == -EIO) && i < src.n; i++) {
		uint64_t n, bytes;
		char b[16];
		if (hs_store_leftovers(src.v[i], false, &n, &bytes) < 0 || !n)
			continue;
		left += n;
		left_bytes += bytes;
		size_t len = strlen(left_text);
		snprintf(left_text + len, sizeof left_text - len, "; %llu temporary file%s (%s) left by killed writers in %s",
			 (unsigned long long)n, n == 1 ? "" : "s", hs_fmt_bytes(bytes, b), src.v[i]->be->where);
	}
	/* The whole command, listing the points and opening the store included. */
	s.seconds = hs_now_s() - t0;
	if (r == 0 || r == -EIO) {
		char a[16];
		if (json) {
			json_object *j = json_object_new_object();
			json_object_object_add(j, "ok", json_object_new_boolean(r == 0));
			json_object_object_add(j, "points", json_object_new_int64((int64_t)pts.n));
			json_object_object_add(j, "chunks", json_object_new_int64((int64_t)s.chunks));
			json_object_object_add(j, "bytes", json_object_new_int64((int64_t)s.bytes));
			json_object_object_add(j, "bad_chunks", json_object_new_int64((int64_t)s.bad));
			json_object_object_add(j, "broken_points", json_object_new_int64((int64_t)s.broken_points));
			json_object_object_add(j, "unreadable_points", json_object_new_int64((int64_t)s.unreadable_points));
			json_object_object_add(j, "marked_bad", json_object_new_int64((int64_t)s.marked));
			json_object_object_add(j, "leftover_files", json_object_new_int64((int64_t)left));
			json_object_object_add(j, "leftover_bytes", json_object_new_int64((int64_t)left_bytes));
			json_object_object_add(j, "content_checked", json_object_new_boolean(!presence));
			json_object_object_add(j, "seconds", json_object_new_double(s.seconds));
			puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
			json_object_put(j);
		} else if (r == 0) {
			printf("verify: %zu points, %llu chunks (%s) all present%s, %.1f s%s\n", pts.n,
			       (unsigned long long)s.chunks, hs_fmt_bytes(s.bytes, a),
			       presence ? " (no key: content not checked)" : " and intact", s.seconds, left_text);
		} else if (left) {
			fprintf(stderr, "hotspare verify: %s\n", left_text + 2);
		}
		if (!json && s.marked)
			fprintf(stderr, "hotspare verify: %llu damaged chunk%s listed as bad in %s: the next snapshot or "
					"backup that holds %s stores %s again\n", (unsigned long long)s.marked,
				s.marked == 1 ? "" : "s", src.v[src.n - 1]->be->where, s.marked == 1 ? "its content" : "their content",
				s.marked == 1 ? "it" : "them");
	}
	if (r < 0)
		cli_fail("verify", r);
	free(pts.v);
	hs_sources_close(&src);
	hs_store_close(st);
	return r < 0 ? 1 : 0;
}
