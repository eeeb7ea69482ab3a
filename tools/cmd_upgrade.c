/* hotspare upgrade STORE: convert a store or a shipped drive of format
 * version 1 to version 2 (see jobs/upgrade.h). Needs no key. */
#include "cli.h"
#include "jobs/upgrade.h"
#include <getopt.h>
#include <stdio.h>

#define USAGE "STORE"

int cmd_upgrade(int argc, char **argv)
{
	bool json;
	int c = cli_store_json(&argc, &argv, "upgrade", USAGE, 1, 1, -1, &json);
	if (c >= 0)
		return c;
	struct hs_upgrade_stats s;
	int r = hs_upgrade(argv[optind], &s);
	if (r < 0)
		return cli_fail("upgrade", r);
	if (json)
		printf("{\"from_version\":%d,\"servers\":%llu,\"points_converted\":%llu,\"points_already\":%llu}\n",
		       s.from_version, (unsigned long long)s.servers, (unsigned long long)s.points_converted,
		       (unsigned long long)s.points_already);
	else if (s.from_version == 2)
		printf("%s is already store format version 2\n", argv[optind]);
	else
		printf("upgraded %s to store format version 2: %llu points of %llu servers converted%s\n", argv[optind],
		       (unsigned long long)s.points_converted, (unsigned long long)s.servers,
		       s.points_already ? " (some were already, from an earlier run)" : "");
	return 0;
}
