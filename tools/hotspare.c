/* hotspare: the command. Dispatches to one cmd_*.c per subcommand. */
#define FUSE_USE_VERSION 35
#include "cli.h"
#include "config.h"
#include "basics/err.h"
#include "basics/path.h"
#include "store/http.h"
#include "store/key.h"
#include "store/store.h"
#include <curl/curl.h>
#include <fuse_lowlevel.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <zstd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
	{ "scrub", cmd_scrub, "check a spare's state against its point and fetch the bad chunks again" },
	{ "umount", cmd_umount, "unmount a spare once its daemon has flushed its state, or undo a browse" },
	{ "drill", cmd_drill, "boot a point in isolation, check it, verify it, time it, report it" },
	{ "failover", cmd_failover, "run the spare for real: mount it and start its libvirt domain" },
	{ "checkpoint", cmd_checkpoint, "make a running spare's current disk a new point (written chunks only)" },
	{ "failback", cmd_failback, "checkpoint twice around shutting the domain down, ready to restore home" },
	{ "browse", cmd_browse, "mount a point's filesystems read-only under a directory" },
	{ "export", cmd_export, "write a point as a whole image file (raw, qcow2, vmdk, vhdx)" },
	{ "prune", cmd_prune, "remove old points by retention rules (points in use are kept)" },
	{ "gc", cmd_gc, "delete the chunks no point names, beside backups and spares" },
	{ "du", cmd_du, "show what each server takes in a store and what deleting it would free" },
	{ "upgrade", cmd_upgrade, "convert a store or drive of format version 1 to version 2" },
	{ "key", cmd_key, "create a key for an encrypted store, or recover one from its escrow copy" },
	{ "fleet", cmd_fleet, "one row per server: newest point, last drill, spare; exit 1 if any needs attention" },
	{ "metrics", cmd_metrics, "the fleet as Prometheus metrics (node_exporter's textfile collector)" },
	{ "config", cmd_config, "show the effective settings (hotspare.conf, environment, defaults) and their sources" },
};

static int help(FILE *f)
{
	fprintf(f, "usage: hotspare COMMAND [ARGS]...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "\nEvery command takes --keyfile FILE (or HOTSPARE_KEYFILE) for an encrypted store, and\n"
		   "--passphrase-file FILE (or HOTSPARE_PASSPHRASE_FILE) for a key wrapped with a passphrase.\n");
	fprintf(f, "\nDefaults (the store, seeds, key file, ...) come from /etc/hotspare/hotspare.conf or\n"
		   "the file HOTSPARE_CONFIG names: see 'hotspare config'. Options always win.\n");
	fprintf(f, "\nSTORE is a directory, an http:// or https:// URL, or s3://BUCKET/PREFIX.\n"
		   "Basic-auth credentials for an http(s) STORE: --credentials-file FILE (one line\n"
		   "USER:PASSWORD, mode 0600) with any command, or HOTSPARE_HTTP_USER and\n"
		   "HOTSPARE_HTTP_PASSWORD.\n"
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

/* The original arguments, which the commands read when the process's
 * visible ones show masked credentials (kept for the process's life). */
static char **originals;

/* Where a process re-executed by mask_args finds its original arguments. */
#define ARGS_FD_ENV "HOTSPARE_ARGS_FD"

/* In a process mask_args re-executed: take the original arguments from the
 * descriptor ARGS_FD_ENV names (then closed and forgotten). */
static void take_original_args(int argc, char **argv)
{
	const char *v = getenv(ARGS_FD_ENV);
	if (!v)
		return;
	int fd = atoi(v);
	unsetenv(ARGS_FD_ENV);
	/* Only the in-memory file mask_args made, never whatever else fd N is. */
	char link[64], target[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t tl = readlink(link, target, sizeof target - 1);
	if (tl < 0 || (target[tl] = 0, strncmp(target, "/memfd:hotspare-args", 20) != 0))
		return;
	struct hs_buf b = { 0 };
	char tmp[4096];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof tmp)) > 0 && hs_buf_append(&b, tmp, (size_t)n) == 0)
		;
	close(fd);
	char **v2 = calloc((size_t)argc + 1, sizeof *v2);
	int k = 0;
	for (size_t at = 0; v2 && at < b.len && k < argc; k++) {
		v2[k] = (char *)b.data + at;
		at += strnlen(v2[k], b.len - at) + 1;
	}
	if (!v2 || k != argc || b.len == 0 || b.data[b.len - 1] != 0) {
		free(v2); /* not ours: keep the arguments as they are */
		hs_buf_free(&b);
		return;
	}
	originals = v2;
	for (int i = 0; i < argc; i++)
		argv[i] = originals[i];
	explicit_bzero(tmp, sizeof tmp);
}

/* Credentials in a store URL leave the process's visible arguments at once.
 * What ps and /proc/PID/cmdline show is the memory the arguments came in,
 * and its size gives away their length: so the process executes itself
 * again with the masked arguments (each URL's user and password as "***"),
 * handing the originals over through an unnamed in-memory file. Where that
 * fails, the arguments are masked in place (packed, the rest zeroed). A URL
 * with a password is visible until this runs: use --credentials-file or the
 * environment outside tests. */
static void mask_args(int argc, char **argv)
{
	char **masked = calloc((size_t)argc + 1, sizeof *masked);
	bool any = false;
	for (int i = 1; masked && i < argc; i++)
		any |= (masked[i] = hs_url_mask(argv[i])) != NULL;
	if (!any)
		goto out;
	int fd = memfd_create("hotspare-args", 0);
	bool sent = fd >= 0;
	for (int i = 0; sent && i < argc; i++)
		sent = write(fd, argv[i], strlen(argv[i]) + 1) == (ssize_t)(strlen(argv[i]) + 1);
	char num[16];
	snprintf(num, sizeof num, "%d", fd);
	if (sent && lseek(fd, 0, SEEK_SET) == 0 && setenv(ARGS_FD_ENV, num, 1) == 0) {
		masked[0] = argv[0];
		for (int i = 1; i < argc; i++)
			if (!masked[i])
				masked[i] = argv[i];
		execv("/proc/self/exe", masked);
		unsetenv(ARGS_FD_ENV);
		for (int i = 0; i < argc; i++)
			if (masked[i] == argv[i])
				masked[i] = NULL;
	}
	if (fd >= 0)
		close(fd);
	/* In place: the commands read copies; the original memory is rewritten. */
	char *start = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	if (!(originals = calloc((size_t)argc + 1, sizeof *originals)))
		goto out;
	for (int i = 0; i < argc; i++) {
		if (i + 1 < argc && argv[i] + strlen(argv[i]) + 1 != argv[i + 1])
			goto out; /* not the kernel's layout: leave it */
		if (!(originals[i] = strdup(argv[i])))
			goto out;
	}
	for (int i = 0; i < argc; i++)
		argv[i] = originals[i];
	char *p = start;
	for (int i = 0; i < argc && p < end; i++) {
		const char *m = masked[i] ? masked[i] : originals[i];
		size_t n = strlen(m) + 1;
		if (n > (size_t)(end - p))
			n = (size_t)(end - p); /* "***" is longer than a one-letter user: cut the tail */
		memcpy(p, m, n);
		p += n;
	}
	end[-1] = 0;
	memset(p, 0, (size_t)(end - p));
out:
	for (int i = 0; masked && i < argc; i++)
		free(masked[i]);
	free(masked);
}

/* --credentials-file FILE (or =FILE), anywhere before "--": checked here,
 * then named to the HTTP backends (and child processes: a mount's daemon,
 * failover's mount) in HOTSPARE_CREDENTIALS_FILE, and removed from the
 * arguments. 0, or the exit status after a one-line error. */
static int credentials_option(int *argc, char **argv)
{
	static const char opt[] = "--credentials-file";
	const char *file = NULL;
	for (int i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++) {
		int take = 0;
		if (strcmp(argv[i], opt) == 0) {
			if (i + 1 == *argc) {
				fprintf(stderr, "hotspare: %s needs a FILE\n", opt);
				return 2;
			}
			file = argv[i + 1];
			take = 2;
		} else if (strncmp(argv[i], opt, sizeof opt - 1) == 0 && argv[i][sizeof opt - 1] == '=') {
			file = argv[i] + sizeof opt;
			take = 1;
		} else {
			continue;
		}
		memmove(argv + i, argv + i + take, (size_t)(*argc - i - take + 1) * sizeof *argv);
		*argc -= take;
		i--;
	}
	if (!file)
		return 0;
	const char *cmd = *argc > 1 && argv[1][0] != '-' ? argv[1] : "";
	char abs[PATH_MAX], *user, *password;
	int r = hs_credentials_read(file, &user, &password);
	if (r == 0 && !realpath(file, abs))
		r = hs_err(errno, "credentials file %s: %s", file, strerror(errno));
	if (r < 0) {
		fprintf(stderr, "hotspare%s%s: %s\n", *cmd ? " " : "", cmd, hs_err_msg());
		return 1;
	}
	explicit_bzero(password, strlen(password));
	free(password);
	free(user);
	setenv("HOTSPARE_CREDENTIALS_FILE", abs, 1);
	cfg_note(CFG_CREDENTIALS_FILE, CFG_FROM_OPTION, getenv("HOTSPARE_CREDENTIALS_FILE"));
	return 0;
}

int main(int argc, char **argv)
{
	take_original_args(argc, argv);
	if (!originals)
		mask_args(argc, argv);
	int r = credentials_option(&argc, argv);
	if (r)
		return r;
	/* Global options before the command ("hotspare --keyfile K mount ...")
	 * move after it, where cli_key_setup takes them. */
	int g = 1;
	while (g + 1 < argc && (!strcmp(argv[g], "--keyfile") || !strcmp(argv[g], "--passphrase-file")))
		g += 2;
	while (g < argc && (!strncmp(argv[g], "--keyfile=", 10) || !strncmp(argv[g], "--passphrase-file=", 18)))
		g++;
	if (g > 1 && g < argc) {
		char *cmd = argv[g];
		memmove(argv + 2, argv + 1, (size_t)(g - 1) * sizeof *argv);
		argv[1] = cmd;
	}
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
		/* A malformed configuration is refused by every command, with its line. */
		if ((r = cfg_load()) < 0)
			return cli_fail(cmds[i].name, r);
		/* "key" parses its own --passphrase-file; every other command takes
		 * the key globally ("config" only says where it would come from). */
		if (cmds[i].fn != cmd_key && (r = cli_key_setup(&n, argv + 1, cmds[i].fn != cmd_config)) >= 0)
			return r;
		r = cmds[i].fn(n, argv + 1);
		hs_key_set_current(NULL); /* wipe it */
		return r;
	}
	char esc[96];
	fprintf(stderr, "hotspare: unknown command '%s' (see 'hotspare --help')\n", hs_escape(argv[1], esc, sizeof esc));
	return 2;
}
