/* hotspare restore STORE SERVER[@POINT] TARGET [--seed SEED]... */
#include "cli.h"
#include "basics/cleanup.h"
#include "jobs/restore.h"
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>

#define USAGE "STORE SERVER[@POINT] TARGET [--seed SEED]... [--json]"

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_list seeds = { 0 };
	bool json = false;
	unsigned threads = 0;
	uint64_t v;
	int c, r;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 's':
			if (cli_list_add(&seeds, optarg) < 0) {
				cli_list_free(&seeds);
				return cli_fail("restore", -ENOMEM);
			}
			break;
		case 't':
			if (cli_number("restore", "--threads", optarg, 1, 256, NULL, &v)) {
				cli_list_free(&seeds);
				return 1;
			}
			threads = (unsigned)v;
			break;
		case 'j':
			json = true;
			break;
		default:
			cli_list_free(&seeds);
			return c == 'h' ? cli_help("restore", USAGE) : cli_usage("restore", USAGE);
		}
	}
	if (argc - optind != 3) {
		cli_list_free(&seeds);
		return cli_usage("restore", USAGE);
	}
	/* Before anything is opened: a TARGET in the store would overwrite it. */
	if ((c = cli_apart("restore", "TARGET", argv[optind + 2], argv[optind], &seeds, false)) >= 0) {
		cli_list_free(&seeds);
		return c;
	}
	struct hs_store *st;
	_cleanup_(hs_index_free_p) struct hs_index *ix = NULL;
	r = cli_load_point(argv[optind], argv[optind + 1], &st, &ix);
	if (r < 0) {
		cli_list_free(&seeds);
		return cli_fail("restore", r);
	}
	struct hs_sources src;
	r = hs_sources_open(st, seeds.v, seeds.n, &src);
	cli_list_free(&seeds);
	if (r < 0)
		return cli_fail("restore", r);
	struct hs_progress progress;
	struct hs_restore_opts o = {
		.src = &src, .ix = ix, .target = argv[optind + 2], .threads = threads, .progress = &progress,
	};
	struct hs_restore_stats s;
	r = hs_restore(&o, &s);
	hs_sources_close(&src);
	if (r < 0)
		return cli_fail("restore", r);
	if (json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "server", json_object_new_string(ix->server));
		json_object_object_add(j, "point", json_object_new_string(ix->id));
		json_object_object_add(j, "size", json_object_new_int64((int64_t)ix->image_size));
		json_object_object_add(j, "bytes_written", json_object_new_int64((int64_t)s.bytes_written));
		json_object_object_add(j, "bytes_same", json_object_new_int64((int64_t)s.bytes_same));
		json_object_object_add(j, "bytes_zero", json_object_new_int64((int64_t)s.bytes_zero));
		json_object_object_add(j, "bytes_from_seed", json_object_new_int64((int64_t)s.bytes_from_seed));
		json_object_object_add(j, "bytes_from_store", json_object_new_int64((int64_t)s.bytes_from_store));
		json_object_object_add(j, "seconds", json_object_new_double(s.seconds));
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
		json_object_put(j);
	} else {
		char a[16], b[16], cc[16], d[16], e[16];
		printf("restore %s@%s to %s: %s, wrote %s (from seeds %s, from store %s), already there %s, %.1f s\n",
		       ix->server, ix->id, argv[optind + 2], hs_fmt_bytes(ix->image_size, a),
		       hs_fmt_bytes(s.bytes_written, b), hs_fmt_bytes(s.bytes_from_seed, cc),
		       hs_fmt_bytes(s.bytes_from_store, d), hs_fmt_bytes(s.bytes_same, e), s.seconds);
	}
	return 0;
}
