/* hotspare fleet STORE [--drills DIR] [--html FILE] [--json] [--max-age HOURS]
 * One row per server; exit status 1 when any needs attention. */
#include "cli.h"
#include "config.h"
#include "basics/err.h"
#include "vm/fleet.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "STORE [--drills DIR] [--html FILE] [--json] [--max-age HOURS]\n" \
	      "       (STORE and --drills may come from the configuration's store and report-dir: see 'hotspare config')"

/* Hours a newest point may be old before its server needs attention: a
 * daily backup and two hours to spare. */
#define DEFAULT_MAX_AGE 26

int cmd_fleet(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "drills", required_argument, NULL, 'd' },
		{ "html", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *drills = NULL, *html = NULL;
	bool json = false;
	uint64_t max_age = DEFAULT_MAX_AGE;
	int c, bad = 0;
	while (!bad && (c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'd': drills = optarg; break;
		case 'H': html = optarg; break;
		case 'j': json = true; break;
		case 'a': bad = cli_number("fleet", "--max-age", optarg, 0, 87600, "hours", &max_age); break;
		case 'h': return cli_help("fleet", USAGE);
		default: bad = 2;
		}
	}
	if (!bad && (c = cfg_store_arg("fleet", &argc, &argv, 1, 1, -1)) >= 0)
		bad = c;
	if (bad || argc - optind != 1)
		return bad == 1 ? 1 : cli_usage("fleet", USAGE);
	/* Drills write their reports under the configured report-dir. */
	if (!drills)
		drills = cfg_get(CFG_REPORT_DIR);
	const char *store = argv[optind];
	/* The page goes where it touches no store. */
	if ((c = cli_apart("fleet", "--html", html, store, NULL, false)) >= 0)
		return c;
	struct hs_fleet f;
	int r = hs_fleet_collect(store, drills, (int)max_age, &f);
	if (r < 0)
		return cli_fail("fleet", r);
	if (html && (r = hs_fleet_html_write(&f, html)) < 0) {
		hs_fleet_free(&f);
		return cli_fail("fleet", r);
	}
	if (json) {
		json_object *o = hs_fleet_json(&f);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		const char *nc = getenv("NO_COLOR");
		hs_fleet_text(stdout, &f, isatty(STDOUT_FILENO) && !(nc && *nc));
	}
	int status = f.bad ? 1 : 0;
	hs_fleet_free(&f);
	return status;
}
