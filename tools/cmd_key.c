/* hotspare key create FILE [--passphrase-file F] [--master-pubkey PEM]
 * hotspare key recover STORE --master-key PRIVATE.pem FILE
 * Keys of encrypted stores (see store/key.h): a new random key in a 0600
 * file, optionally wrapped with a passphrase and escrowed with the master
 * public key; or a key recovered from a store's escrow copy with the master
 * private key. Neither prints the key. */
#include "cli.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "store/key.h"
#include "store/store.h"
#include <errno.h>
#include <getopt.h>
#include <string.h>

#define USAGE "create FILE [--passphrase-file F] [--master-pubkey PEM] | recover STORE --master-key PRIVATE.pem FILE"

static int key_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "master-pubkey", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *passfile = NULL, *pub = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'p')
			passfile = optarg;
		else if (c == 'm')
			pub = optarg;
		else
			return c == 'h' ? cli_usage("key", USAGE) & 0 : cli_usage("key", USAGE);
	}
	if (argc - optind != 1)
		return cli_usage("key", USAGE);
	char *pass = NULL;
	int r = passfile ? cli_read_passphrase(passfile, &pass) : 0;
	if (r == 0)
		r = hs_key_create(argv[optind], pass, pub);
	cli_free_passphrase(pass);
	if (r < 0)
		return cli_fail("key", r);
	printf("created key %s%s%s%s\n", argv[optind], passfile ? " (wrapped with a passphrase)" : "",
	       pub ? ", escrowed with " : "", pub ? pub : "");
	return 0;
}

static int key_recover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "master-key", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *priv = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'm')
			priv = optarg;
		else
			return c == 'h' ? cli_usage("key", USAGE) & 0 : cli_usage("key", USAGE);
	}
	if (argc - optind != 2 || !priv)
		return cli_usage("key", USAGE);
	const char *where = argv[optind], *file = argv[optind + 1];
	_cleanup_(hs_store_close_p) struct hs_store *st = NULL;
	int r = hs_store_open_flags(where, HS_OPEN_NOKEY, &st);
	if (r < 0)
		return cli_fail("key", r);
	if (!st->encrypted)
		return cli_failf("key", "%s is not encrypted: it has no key to recover", where);
	_cleanup_free_ char *escrow = NULL;
	r = hs_store_escrow(st, &escrow);
	if (r < 0)
		return cli_fail("key", r);
	if (!escrow)
		return cli_failf("key", "%s keeps no escrow copy of its key (it was made without --master-pubkey)",
				 where);
	struct hs_key *k = NULL;
	r = hs_key_recover(escrow, priv, &k);
	if (r == 0 && strcmp(k->fingerprint, st->fingerprint) != 0)
		r = hs_err(EBADMSG, "the escrow copy in %s holds a key with another fingerprint (%s, store %s)", where,
			   k->fingerprint, st->fingerprint);
	if (r == 0)
		r = hs_key_save(k, file);
	hs_key_free(k);
	if (r < 0)
		return cli_fail("key", r);
	printf("recovered the key of %s into %s (fingerprint %s)\n", where, file, st->fingerprint);
	return 0;
}

int cmd_key(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create"))
		return key_create(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "recover"))
		return key_recover(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_usage("key", USAGE) & 0;
	return cli_usage("key", USAGE);
}
