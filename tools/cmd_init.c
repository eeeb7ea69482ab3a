/* hotspare init STORE [--chunk-size SIZE] */
#include "cli.h"
#include "store/http.h"
#include <errno.h>
#include <stdlib.h>
#include "basics/path.h"
#include "basics/progress.h"
#include "store/store.h"
#include <getopt.h>

#define USAGE "STORE [--chunk-size SIZE]"

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t cs = HS_DEFAULT_CHUNK_SIZE;
	int c;
	while ((c = cli_getopt(argc, argv, "c:h", opts)) != -1) {
		switch (c) {
		case 'c':
			if (hs_parse_size(optarg, &cs) < 0 || !hs_chunk_size_valid(cs)) {
				char esc[96];
				return cli_failf("init", "chunk size '%s' is not a power of two from 64K to 4M",
						 hs_escape(optarg, esc, sizeof esc));
			}
			break;
		case 'h':
			return cli_help("init", USAGE);
		default:
			return cli_usage("init", USAGE);
		}
	}
	if (argc - optind != 1)
		return cli_usage("init", USAGE);
	int r = hs_store_init(argv[optind], (uint32_t)cs);
	if (r < 0)
		return cli_fail("init", r);
	char b[16], *clean = NULL, *user = NULL, *password = NULL;
	if (hs_url_split_credentials(argv[optind], &clean, &user, &password) < 0)
		return cli_fail("init", -ENOMEM);
	printf("initialised store %s (chunk size %s, zstd)\n", clean, hs_fmt_bytes(cs, b));
	free(clean);
	free(user);
	free(password);
	return 0;
}
