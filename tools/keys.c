/* The key every command works with: --keyfile FILE (anywhere on the command
 * line) or HOTSPARE_KEYFILE, a wrapped key's passphrase from
 * --passphrase-file FILE or HOTSPARE_PASSPHRASE_FILE. Taken out of argv
 * before the command parses it (or, for neither, the configuration's, once
 * the command knows its server: config.c), loaded into locked memory, and passed on to
 * the programs hotspare runs itself (read-only views) through the
 * environment: paths only, never the key. */
#include "cli.h"
#include "config.h"
#include "basics/err.h"
#include "store/key.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

int cli_read_passphrase(const char *path, char **out)
{
	*out = NULL;
	FILE *f = fopen(path, "re");
	if (!f)
		return hs_err(errno, "cannot read passphrase file %s: %s", path, strerror(errno));
	char buf[1024];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	int r = 0;
	if (!buf[0])
		r = hs_err(EINVAL, "passphrase file %s is empty", path);
	else if (!(*out = strdup(buf)))
		r = -ENOMEM;
	OPENSSL_cleanse(buf, sizeof buf);
	return r;
}

void cli_free_passphrase(char *p)
{
	if (p) {
		OPENSSL_cleanse(p, strlen(p));
		free(p);
	}
}

/* Remove argv[i] and, with value, argv[i + 1]. */
static void drop(int *argc, char **argv, int i, int n)
{
	memmove(argv + i, argv + i + n, (size_t)(*argc - i - n + 1) * sizeof *argv);
	*argc -= n;
}

/* Take --NAME VALUE or --NAME=VALUE out of argv; the value, or NULL. -1 when
 * the option has no value. */
static int take(int *argc, char **argv, const char *name, const char **value)
{
	size_t nl = strlen(name);
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (strncmp(argv[i], name, nl) != 0)
			continue;
		if (argv[i][nl] == '=') {
			*value = argv[i] + nl + 1;
			drop(argc, argv, i, 1);
			return 0;
		}
		if (argv[i][nl] == 0) {
			if (i + 1 >= *argc)
				return -1;
			*value = argv[i + 1];
			drop(argc, argv, i, 2);
			return 0;
		}
	}
	return 0;
}

static const char *passphrase_file;

const char *cli_passphrase_file(void) { return passphrase_file; }

int cli_key_load(const char *keyfile, const char *passfile)
{
	char *pass = NULL;
	int r = passfile ? cli_read_passphrase(passfile, &pass) : 0;
	struct hs_key *k = NULL;
	if (r == 0)
		r = hs_key_load(keyfile, pass, &k);
	cli_free_passphrase(pass);
	if (r < 0)
		return r;
	hs_key_set_current(k);
	/* Programs this one runs (read-only views) find the same key. */
	char abs[4096];
	if (realpath(keyfile, abs))
		setenv("HOTSPARE_KEYFILE", abs, 1);
	if (passfile && realpath(passfile, abs))
		setenv("HOTSPARE_PASSPHRASE_FILE", abs, 1);
	return 0;
}

int cli_key_setup(int *argc, char **argv, bool load)
{
	const char *keyfile = NULL, *passfile = NULL;
	if (take(argc, argv, "--keyfile", &keyfile) < 0)
		return cli_failf(argv[0], "--keyfile needs a FILE");
	if (take(argc, argv, "--passphrase-file", &passfile) < 0)
		return cli_failf(argv[0], "--passphrase-file needs a FILE");
	if (keyfile)
		cfg_note(CFG_KEYFILE, CFG_FROM_OPTION, keyfile);
	if (passfile)
		cfg_note(CFG_PASSPHRASE_FILE, CFG_FROM_OPTION, passfile);
	if (!keyfile && (keyfile = getenv("HOTSPARE_KEYFILE")) && !*keyfile)
		keyfile = NULL;
	if (!passfile && (passfile = getenv("HOTSPARE_PASSPHRASE_FILE")) && !*passfile)
		passfile = NULL;
	passphrase_file = passfile;
	if (!keyfile || !load)
		return -1; /* none, or the configuration's (cfg_set_server) */
	int r = cli_key_load(keyfile, passfile);
	return r < 0 ? cli_fail(argv[0], r) : -1;
}
