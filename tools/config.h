/* The host's defaults: one file, /etc/hotspare/hotspare.conf (or the one
 * $HOTSPARE_CONFIG names; set and empty: none), read once by main with
 * libinih. Settings before any section apply to every server; a
 * [server NAME] section overrides them for that server. Command-line
 * options always win, then the environment (HOTSPARE_KEYFILE, ...), then
 * the file's server section, then its top, then the built-in default.
 * A malformed file is refused with one line naming the file and the line. */
#pragma once
#include <stdbool.h>

struct cli_list;

enum cfg_key {
	CFG_STORE,            /* STORE when a command is given none */
	CFG_SEED,             /* --seed when none is given (repeatable) */
	CFG_KEYFILE,          /* --keyfile */
	CFG_PASSPHRASE_FILE,  /* --passphrase-file */
	CFG_CREDENTIALS_FILE, /* --credentials-file */
	CFG_STATE_DIR,        /* --state DIR/SERVER for mount and failover */
	CFG_MOUNT_DIR,        /* MOUNTPOINT DIR/SERVER for mount and failover */
	CFG_CONNECT,          /* --connect (libvirt URI) */
	CFG_REPORT_DIR,       /* drill --report DIR/SERVER */
	CFG_PROFILE,          /* --profile (linux or windows) */
	CFG_NKEYS
};

/* Where a setting's value came from. */
enum cfg_from { CFG_FROM_NONE, CFG_FROM_DEFAULT, CFG_FROM_FILE, CFG_FROM_ENV, CFG_FROM_OPTION };

/* The file's path (NULL: none is read) and whether $HOTSPARE_CONFIG named it. */
const char *cfg_path(bool *from_env);

/* Whether the file was there and read. */
bool cfg_present(void);

/* Read the file. 0, or -errno with a one-line message ("FILE line N: ..."). */
int cfg_load(void);

/* A setting's name in the file ("state-dir"). */
const char *cfg_name(enum cfg_key k);

/* Record that an option or the environment set k to value (main and keys.c:
 * the settings taken before the command parses its arguments). */
void cfg_note(enum cfg_key k, enum cfg_from from, const char *value);

/* The server the command works on (NULL: none): its [server NAME] section
 * applies from now on, and the key file and credentials file configured
 * for it are taken when no option or environment variable named one (a
 * command that opens a store calls this, or cfg_store_arg, once it knows
 * its server). -1 to go on, or the exit status after a one-line error
 * (cmd names the command: a key that does not load). */
int cfg_set_server(const char *cmd, const char *server);

/* The same without taking any file (for `hotspare config SERVER`). */
void cfg_use_server(const char *server);

/* Where an option or the environment set k, if either did (*value: to what). */
enum cfg_from cfg_noted(enum cfg_key k, const char **value);

/* The environment variable that sets k, or NULL. */
const char *cfg_env_name(enum cfg_key k);

/* A setting's value for the current server (its section's, else the top
 * of the file's, else the built-in default), or NULL; for CFG_SEED the
 * first. Options and the environment are the caller's to prefer. */
const char *cfg_get(enum cfg_key k);

/* Like cfg_get, with where the value comes from (*line: its line in the
 * file, 0 when not from the file; *section: the server section or NULL). */
const char *cfg_get_from(enum cfg_key k, enum cfg_from *from, unsigned *line, const char **section);

/* The directory setting k (state-dir, mount-dir, report-dir) joined with
 * the current server: "DIR/SERVER", or NULL when k or the server is unset. */
const char *cfg_server_dir(enum cfg_key k);

/* Make the directory a path handed out by cfg_server_dir is in (whole: the
 * path itself too), with its parents, when missing; any other path is left
 * alone (the command makes what it was given, or refuses). Call it once
 * the places a command writes are checked. 0 or -errno with a message. */
int cfg_make_dirs(const char *path, bool whole);

/* With no --seed given (seeds empty), the configured seeds. 0 or -ENOMEM. */
int cfg_seeds(struct cli_list *seeds);

/* The configured seeds for the current server (NULL-terminated), with the
 * line of each in *lines (may be NULL). */
const char *const *cfg_seed_list(const unsigned **lines);

/* STORE left out. After a command's options are parsed (its positional
 * arguments are argv[optind..*argc)): when a store is configured (for the
 * server the arguments name) and either fewer than min arguments were
 * given, or the first has no '/' (no path, no URL) and names nothing that
 * exists (so it cannot be a store) and one more would be at most max (-1:
 * any number), the store
 * is inserted as the first positional argument (*argv then points to an
 * array kept for the process's life). ref: the position (with STORE) of the
 * SERVER[@POINT] argument, whose server becomes the current one (see
 * cfg_set_server); -1 for none. -1 to go on, or the exit status. */
int cfg_store_arg(const char *cmd, int *argc, char ***argv, int min, int max, int ref);

int cmd_config(int argc, char **argv);
