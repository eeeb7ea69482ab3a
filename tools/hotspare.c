/* hotspare: the command. Dispatches to one cmd_*.c per subcommand. */
#define FUSE_USE_VERSION 35
#include "cli.h"
#include "store/http.h"
#include "store/key.h"
#include "store/store.h"
#include <curl/curl.h>
#include <fuse_lowlevel.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <zstd.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *what;
} cmds[] = {
	{ "init", cmd_init, "create a store" },
	{ "snapshot", cmd_snapshot, "take a full point of a server's disk (optionally shipped to a drive)" },
	{ "backup", cmd_backup, "take a daily point, storing only new chunks" },
	{ "points", cmd_points, "list a server's points" },
	{ "verify", cmd_verify, "check that every chunk of the points is present and intact" },
	{ "restore", cmd_restore, "write a point onto a file or block device" },
	{ "replicate", cmd_replicate, "copy points to a store at another site, only the chunks it lacks" },
	{ "mount", cmd_mount, "present a point as a disk image on a FUSE mount, hydrating it" },
	{ "status", cmd_status, "show a mounted spare's hydration and counters" },
	{ "umount", cmd_umount, "unmount a spare once its daemon has flushed its state, or undo a browse" },
	{ "drill", cmd_drill, "boot a point in isolation, check it, verify it, time it, report it" },
	{ "failover", cmd_failover, "run the spare for real: mount it and start its libvirt domain" },
	{ "checkpoint", cmd_checkpoint, "make a running spare's current disk a new point (written chunks only)" },
	{ "failback", cmd_failback, "checkpoint twice around shutting the domain down, ready to restore home" },
	{ "browse", cmd_browse, "mount a point's filesystems read-only under a directory" },
	{ "export", cmd_export, "write a point as a whole image file (raw, qcow2, vmdk, vhdx)" },
	{ "upgrade", cmd_upgrade, "convert a store or drive of format version 1 to version 2" },
	{ "key", cmd_key, "create a key for an encrypted store, or recover one from its escrow copy" },
};

static int help(FILE *f)
{
	fprintf(f, "usage: hotspare COMMAND [ARGS]...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "\nEvery command takes --keyfile FILE (or HOTSPARE_KEYFILE) for an encrypted store, and\n"
		   "--passphrase-file FILE (or HOTSPARE_PASSPHRASE_FILE) for a key wrapped with a passphrase.\n");
	fprintf(f, "\nSTORE is a directory, an http:// or https:// URL, or s3://BUCKET/PREFIX.\n"
		   "'hotspare COMMAND --help' shows a command's arguments.\n");
	return f == stdout ? 0 : 2;
}

/* The version, the store formats it reads and writes, and the libraries it
 * runs with (as loaded, not as compiled against). */
static unsigned long libvirt_version(void)
{
	unsigned long v = 0;
	return virGetVersion(&v, NULL, NULL) == 0 ? v : 0;
}

static int version(void)
{
	printf("hotspare %s\n", HS_VERSION);
	printf("store format: writes version %d; reads version %d (version 1 through 'hotspare upgrade')\n",
	       HS_STORE_VERSION, HS_STORE_VERSION);
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	unsigned fv = (unsigned)fuse_version();
	printf("libraries: zstd %s, %s, libcurl %s, json-c %s, libfuse %u.%u, libvirt %lu.%lu.%lu\n",
	       ZSTD_versionString(), OpenSSL_version(OPENSSL_VERSION), cv->version, json_c_version(), fv / 100,
	       fv % 100, libvirt_version() / 1000000, libvirt_version() / 1000 % 1000, libvirt_version() % 1000);
	return 0;
}

/* The original arguments that held credentials (kept for the process's life). */
static char **unscrubbed;

/* Credentials in a store URL leave the process's visible arguments at once;
 * the commands read the copies. */
static void scrub_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *copy = hs_url_scrub_arg(argv[i]);
		if (!copy)
			continue;
		if (!unscrubbed && !(unscrubbed = calloc((size_t)argc, sizeof *unscrubbed))) {
			free(copy);
			continue;
		}
		unscrubbed[i] = argv[i] = copy;
	}
}

int main(int argc, char **argv)
{
	scrub_args(argc, argv);
	if (argc < 2)
		return help(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return help(stdout);
	if (!strcmp(argv[1], "--version"))
		return version();
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		int n = argc - 1, r;
		/* "key" parses its own --passphrase-file; every other command takes the key globally. */
		if (cmds[i].fn != cmd_key && (r = cli_key_setup(&n, argv + 1)) >= 0)
			return r;
		r = cmds[i].fn(n, argv + 1);
		hs_key_set_current(NULL); /* wipe it */
		return r;
	}
	fprintf(stderr, "hotspare: unknown command '%s' (see 'hotspare --help')\n", argv[1]);
	return 2;
}
