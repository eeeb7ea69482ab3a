/* hotspare metrics STORE [--drills DIR] [--max-age HOURS]
 * Prometheus text on stdout, for node_exporter's textfile collector. */
#include "cli.h"
#include "basics/err.h"
#include "vm/metrics.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "STORE [--drills DIR] [--max-age HOURS]"

int cmd_metrics(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "drills", required_argument, NULL, 'd' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *drills = NULL;
	uint64_t max_age = 26; /* as fleet: what hotspare_attention goes by */
	int c, bad = 0;
	while (!bad && (c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'd': drills = optarg; break;
		case 'a': bad = cli_number("metrics", "--max-age", optarg, 0, 87600, "hours", &max_age); break;
		case 'h': return cli_help("metrics", USAGE);
		default: bad = 2;
		}
	}
	if (bad || argc - optind != 1)
		return bad == 1 ? 1 : cli_usage("metrics", USAGE);
	struct hs_fleet f;
	int r = hs_fleet_collect(argv[optind], drills, (int)max_age, &f);
	/* A store that cannot be read is a metric too (hotspare_up 0), and an error. */
	hs_metrics_write(stdout, r < 0 ? NULL : &f);
	fflush(stdout);
	if (r < 0)
		return cli_fail("metrics", r);
	hs_fleet_free(&f);
	return 0;
}
