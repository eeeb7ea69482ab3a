/* hotspare init STORE [--chunk-size SIZE] [--encrypt KEYFILE]
 * An encrypted store records its key's fingerprint (and the key file's escrow
 * copy, if it has one), never the key. */
#include "cli.h"
#include "config.h"
#include "store/http.h"
#include <errno.h>
#include <stdlib.h>
#include "basics/path.h"
#include "basics/progress.h"
#include "store/key.h"
#include "store/store.h"
#include <stdio.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include "basics/err.h"

#define USAGE "STORE [--chunk-size SIZE] [--encrypt KEYFILE]"

/* A store made inside another (in its points/ or chunks/) would read to
 * the outer one as a server or a damaged chunk directory: refused. */
static int check_not_nested(const char *store)
{
	if (strstr(store, "://"))
		return 0;
	char p[PATH_MAX], desc[PATH_MAX + 32];
	int r = hs_path_canon(store, p, sizeof p);
	if (r < 0)
		return 0; /* the store's creation says what is wrong with the path */
	while (hs_path_up(p)) {
		snprintf(desc, sizeof desc, "%s%shotspare-store.json", p, p[1] ? "/" : "");
		if (access(desc, F_OK) == 0)
			return hs_err(EINVAL, "%s would lie inside the store %s", store, p);
	}
	return 0;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "encrypt", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t cs = HS_DEFAULT_CHUNK_SIZE;
	const char *keyfile = NULL;
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
		case 'e':
			keyfile = optarg;
			break;
		case 'h':
			return cli_help("init", USAGE);
		default:
			return cli_usage("init", USAGE);
		}
	}
	if ((c = cfg_store_arg("init", &argc, &argv, 1, 1, -1)) >= 0)
		return c;
	if (argc - optind != 1)
		return cli_usage("init", USAGE);
	struct hs_key *key = NULL;
	char *escrow = NULL, *pass = NULL;
	int r = 0;
	if (keyfile) {
		const char *pf = cli_passphrase_file();
		r = pf ? cli_read_passphrase(pf, &pass) : 0;
		if (r == 0)
			r = hs_key_load(keyfile, pass, &key);
		if (r == 0)
			r = hs_key_escrow_of_file(keyfile, &escrow);
		cli_free_passphrase(pass);
	}
	if (r == 0)
		r = check_not_nested(argv[optind]);
	if (r == 0)
		r = hs_store_create(argv[optind], (uint32_t)cs, key, escrow);
	char fpr[HS_KEY_FPR_HEX] = "";
	if (key)
		snprintf(fpr, sizeof fpr, "%s", key->fingerprint);
	hs_key_free(key);
	free(escrow);
	if (r < 0)
		return cli_fail("init", r);
	char b[16], *clean = NULL, *user = NULL, *password = NULL;
	if (hs_url_split_credentials(argv[optind], &clean, &user, &password) < 0)
		return cli_fail("init", -ENOMEM);
	if (fpr[0])
		printf("initialised store %s (chunk size %s, zstd, encrypted with AES-256-GCM, key %s)\n", clean,
		       hs_fmt_bytes(cs, b), fpr);
	else
		printf("initialised store %s (chunk size %s, zstd)\n", clean, hs_fmt_bytes(cs, b));
	free(clean);
	free(user);
	free(password);
	return 0;
}
