/* hotspare metrics STORE [--drills DIR] [--max-age HOURS] [--output FILE]
 * Prometheus text on stdout (or into FILE, replaced atomically), for
 * node_exporter's textfile collector. */
#include "cli.h"
#include "config.h"
#include "basics/err.h"
#include "vm/metrics.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "STORE [--drills DIR] [--max-age HOURS] [--output FILE]\n" \
	      "       (STORE and --drills may come from the configuration's store and report-dir: see 'hotspare config')"

int cmd_metrics(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "drills", required_argument, NULL, 'd' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *drills = NULL, *output = NULL;
	uint64_t max_age = 26; /* as fleet: what hotspare_attention goes by */
	int c, bad = 0;
	while (!bad && (c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'd': drills = optarg; break;
		case 'a': bad = cli_number("metrics", "--max-age", optarg, 0, 87600, "hours", &max_age); break;
		case 'o': output = optarg; break;
		case 'h': return cli_help("metrics", USAGE);
		default: bad = 2;
		}
	}
	if (!bad && (c = cfg_store_arg("metrics", &argc, &argv, 1, 1, -1)) >= 0)
		bad = c;
	if (bad || argc - optind != 1)
		return bad == 1 ? 1 : cli_usage("metrics", USAGE);
	if (!drills)
		drills = cfg_get(CFG_REPORT_DIR);
	/* The file goes where it touches no store. */
	if ((c = cli_apart("metrics", "--output", output, argv[optind], NULL, false)) >= 0)
		return c;
	struct hs_fleet f;
	int r = hs_fleet_collect(argv[optind], drills, (int)max_age, &f);
	/* A store that cannot be read is a metric too (hotspare_up 0), and an error. */
	int e = r;
	if (output) {
		/* The collector keeps reading the last file: hotspare_up 0 replaces it. */
		int w = hs_metrics_write_file(r < 0 ? NULL : &f, output);
		if (w < 0) {
			if (r >= 0)
				hs_fleet_free(&f);
			return cli_fail("metrics", w);
		}
	} else {
		hs_metrics_write(stdout, r < 0 ? NULL : &f);
		fflush(stdout);
	}
	if (e < 0)
		return cli_fail("metrics", e);
	hs_fleet_free(&f);
	return 0;
}
