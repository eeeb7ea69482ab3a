/* hotspare replicate SOURCE DEST [SERVER[@POINT]]... [--seed SEED]... [--verify-dest] [--json]
 * Copies points (all of SOURCE's when no server is named) to DEST, a store
 * at another site, created with SOURCE's chunk size if it is not one yet.
 * --verify-dest reads back what DEST is thought to hold and repairs it. */
#include "cli.h"
#include "config.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "jobs/replicate.h"
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "SOURCE DEST [SERVER[@POINT]]... [--seed SEED]... [--verify-dest] [--json]"

static void print_note(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "hotspare replicate: %s\n", line);
}

static int run(const char *from, const char *to, char **refs, int nrefs, struct cli_list *seeds, bool json,
	       bool verify_dest, double t0)
{
	struct cli_points pts = { 0 };
	struct hs_store *st = NULL, *dst = NULL;
	struct hs_sources src = { 0 };
	/* An encrypted store replicates without its key: chunks and points go
	 * as stored, and the replica is made with the source's description
	 * (same chunk size, encryption and key fingerprint). */
	int r = hs_store_open_flags(from, HS_OPEN_NOKEY, &st);
	for (int i = 0; r == 0 && i < nrefs; i++)
		r = cli_points_add(st, refs[i], &pts);
	if (r == 0 && nrefs == 0)
		r = cli_points_all(st, &pts);
	/* The seeds before DEST: a bad seed refuses the run before a replica is made. */
	if (r == 0) {
		r = hs_sources_open(st, seeds->v, seeds->n, &src);
		st = NULL;
	}
	if (r == 0)
		r = hs_store_open_like(to, src.v[src.n - 1], HS_OPEN_NOKEY, &dst);
	/* The replica records its source for verify's advice: a directory by
	 * its absolute path, so the advice works from anywhere. */
	char abs[PATH_MAX];
	const char *name = !strstr(from, "://") && realpath(from, abs) ? abs : NULL;
	struct hs_replicate_stats s = { 0 };
	if (r == 0) {
		struct hs_progress progress;
		struct hs_replicate_opts o = {
			.src = &src, .dst = dst, .points = pts.v, .npoints = pts.n, .progress = &progress,
			.verify_dest = verify_dest, .source_name = name, .note = print_note,
		};
		r = hs_replicate(&o, &s);
	}
	/* The whole command, listing the points and opening the stores included. */
	s.seconds = hs_now_s() - t0;
	if (r == 0 && json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "points", json_object_new_int64((int64_t)s.points));
		json_object_object_add(j, "points_present", json_object_new_int64((int64_t)s.points_present));
		json_object_object_add(j, "points_gone", json_object_new_int64((int64_t)s.points_gone));
		json_object_object_add(j, "chunks_sent", json_object_new_int64((int64_t)s.chunks_sent));
		json_object_object_add(j, "bytes_sent", json_object_new_int64((int64_t)s.bytes_sent));
		json_object_object_add(j, "chunks_present", json_object_new_int64((int64_t)s.chunks_present));
		json_object_object_add(j, "checked", json_object_new_boolean(s.checked));
		json_object_object_add(j, "chunks_checked", json_object_new_int64((int64_t)s.chunks_checked));
		json_object_object_add(j, "chunks_repaired", json_object_new_int64((int64_t)s.chunks_repaired));
		json_object_object_add(j, "seconds", json_object_new_double(s.seconds));
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
	} else if (r == 0) {
		char a[16], checked[128] = "";
		if (s.checked)
			snprintf(checked, sizeof checked, ", %llu checked at the destination, %llu repaired",
				 (unsigned long long)s.chunks_checked, (unsigned long long)s.chunks_repaired);
		printf("replicate to %s: %llu points copied (%llu already there), %llu chunks sent (%s), "
		       "%llu already there%s, %.1f s\n",
		       dst->be->where, (unsigned long long)s.points, (unsigned long long)s.points_present,
		       (unsigned long long)s.chunks_sent, hs_fmt_bytes(s.bytes_sent, a),
		       (unsigned long long)s.chunks_present, checked, s.seconds);
	}
	if (r < 0)
		cli_fail("replicate", r);
	free(pts.v);
	hs_sources_close(&src);
	hs_store_close(st);
	hs_store_close(dst);
	return r < 0 ? 1 : 0;
}

int cmd_replicate(int argc, char **argv)
{
	double t0 = hs_now_s();
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "verify-dest", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_list seeds = { 0 };
	bool json = false, verify_dest = false;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 's' && cli_list_add(&seeds, optarg) == 0)
			continue;
		if (c == 'j' || c == 'v') {
			*(c == 'j' ? &json : &verify_dest) = true;
			continue;
		}
		cli_list_free(&seeds);
		return c == 'h' ? cli_help("replicate", USAGE) : cli_usage("replicate", USAGE);
	}
	/* SOURCE is left out only when DEST is alone: "replicate A B" always
	 * names both, whichever exists (DEST is often made by the run). */
	if ((c = cfg_store_arg("replicate", &argc, &argv, 2, 2, -1)) >= 0 || cfg_seeds(&seeds) < 0 ||
	    argc - optind < 2) {
		cli_list_free(&seeds);
		return c >= 0 ? c : argc - optind < 2 ? cli_usage("replicate", USAGE) : cli_fail("replicate", -ENOMEM);
	}
	/* DEST must be another place than SOURCE and the seeds. */
	if ((c = cli_apart("replicate", "DEST", argv[optind + 1], argv[optind], &seeds, true)) >= 0) {
		cli_list_free(&seeds);
		return c;
	}
	int r = run(argv[optind], argv[optind + 1], argv + optind + 2, argc - optind - 2, &seeds, json,
		    verify_dest, t0);
	cli_list_free(&seeds);
	return r;
}
