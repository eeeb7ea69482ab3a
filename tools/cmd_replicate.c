/* hotspare replicate SOURCE DEST [SERVER[@POINT]]... [--seed SEED]... [--json]
 * Copies points (all of SOURCE's when no server is named) to DEST, a store
 * at another site, created with SOURCE's chunk size if it is not one yet. */
#include "cli.h"
#include "basics/clock.h"
#include "basics/err.h"
#include "jobs/replicate.h"
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#define USAGE "SOURCE DEST [SERVER[@POINT]]... [--seed SEED]... [--json]"

static int run(const char *from, const char *to, char **refs, int nrefs, struct cli_list *seeds, bool json,
	       double t0)
{
	struct cli_points pts = { 0 };
	struct hs_store *st = NULL, *dst = NULL;
	struct hs_sources src = { 0 };
	int r = hs_store_open(from, &st);
	for (int i = 0; r == 0 && i < nrefs; i++)
		r = cli_points_add(st, refs[i], &pts);
	if (r == 0 && nrefs == 0)
		r = cli_points_all(st, &pts);
	uint32_t chunk_size = st ? st->chunk_size : 0;
	if (r == 0) {
		r = hs_sources_open(st, seeds->v, seeds->n, &src);
		st = NULL;
	}
	if (r == 0)
		r = hs_store_open_or_init(to, chunk_size, &dst);
	struct hs_replicate_stats s = { 0 };
	if (r == 0) {
		struct hs_progress progress;
		struct hs_replicate_opts o = {
			.src = &src, .dst = dst, .points = pts.v, .npoints = pts.n, .progress = &progress,
		};
		r = hs_replicate(&o, &s);
	}
	/* The whole command, listing the points and opening the stores included. */
	s.seconds = hs_now_s() - t0;
	if (r == 0 && json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "points", json_object_new_int64((int64_t)s.points));
		json_object_object_add(j, "points_present", json_object_new_int64((int64_t)s.points_present));
		json_object_object_add(j, "chunks_sent", json_object_new_int64((int64_t)s.chunks_sent));
		json_object_object_add(j, "bytes_sent", json_object_new_int64((int64_t)s.bytes_sent));
		json_object_object_add(j, "chunks_present", json_object_new_int64((int64_t)s.chunks_present));
		json_object_object_add(j, "seconds", json_object_new_double(s.seconds));
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
	} else if (r == 0) {
		char a[16];
		printf("replicate to %s: %llu points copied (%llu already there), %llu chunks sent (%s), "
		       "%llu already there, %.1f s\n",
		       dst->be->where, (unsigned long long)s.points, (unsigned long long)s.points_present,
		       (unsigned long long)s.chunks_sent, hs_fmt_bytes(s.bytes_sent, a),
		       (unsigned long long)s.chunks_present, s.seconds);
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
	struct cli_list seeds = { 0 };
	bool json;
	int c = cli_seeds_json(argc, argv, "replicate", USAGE, 2, -1, &seeds, &json);
	if (c >= 0)
		return c;
	int r = run(argv[optind], argv[optind + 1], argv + optind + 2, argc - optind - 2, &seeds, json, t0);
	cli_list_free(&seeds);
	return r;
}
