/* What the hotspare subcommands share: error reporting, option helpers and
 * the table of commands. Each subcommand lives in tools/cmd_<name>.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Print "hotspare CMD: <message>" for a failed engine call (the engine's
 * recorded message, else strerror) and return the exit status 1. */
int cli_fail(const char *cmd, int r);

/* Print "hotspare CMD: <formatted>" and return 1 (bad arguments: 2 via cli_usage). */
int cli_failf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct option;

/* getopt_long for the subcommands: the same, but it prints nothing, and
 * refuses (returns '?') an unknown option, a missing or empty option value,
 * and, once the options are done, an empty positional argument; cli_usage
 * then says which in its one line. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts);

/* Bad arguments: one line on stderr (what cli_getopt refused, or the usage
 * line) pointing at --help; returns the exit status 2. */
int cli_usage(const char *cmd, const char *usage);

/* --help: the whole usage on stdout; returns 0. */
int cli_help(const char *cmd, const char *usage);

/* Parse a numeric option strictly: decimal digits only (no sign, blank,
 * exponent or suffix), no overflow, from lo to hi. 0 with *out set, or 1
 * after printing "hotspare CMD: OPT 'S' is not a number [of UNIT] from LO to HI". */
int cli_number(const char *cmd, const char *opt, const char *s, uint64_t lo, uint64_t hi, const char *unit,
	       uint64_t *out);

/* Parse the arguments of a command whose only option is --json and which
 * takes nargs positional arguments (from optind on). Returns -1 to go on, or
 * the exit status to return (usage shown). */
int cli_json_only(int argc, char **argv, const char *cmd, const char *usage, int nargs, bool *json);

/* A growable list of --seed arguments. */
struct cli_list {
	char **v;
	size_t n;
};
int cli_list_add(struct cli_list *l, char *s);
void cli_list_free(struct cli_list *l);

/* The places a command reads, for store/places.h: its store and its seeds
 * (seeds may be NULL). *n set; the caller frees the array. NULL: no memory. */
struct hs_place *cli_places(const char *store, const struct cli_list *seeds, size_t *n);

/* Refuse a path the command writes (what names it: "TARGET") that is or lies
 * in its store or a seed (or, both_ways, holds one): one line, exit status 1.
 * -1 to go on. Nothing is created or locked before this. */
int cli_apart(const char *cmd, const char *what, const char *path, const char *store,
	      const struct cli_list *seeds, bool both_ways);

/* drill's --report DIR must not be in its store or seeds, and its work
 * directory (NULL: /var/tmp) must be a place a spare's state may live.
 * One line and exit status 1, or -1 to go on. */
int cli_drill_places(const char *store, const struct cli_list *seeds, const char *report,
		     const char *work);

/* Parse the options of a command whose first argument is STORE (which the
 * configuration may supply: cfg_store_arg, with ref) and that takes --seed
 * SEED (repeatable; the configured seeds when none is given) and --json,
 * and from min_args to max_args (-1: any number) positional arguments from
 * optind on, STORE included. Returns -1 to go on, or the exit status to
 * return (usage shown, seeds freed). */
int cli_seeds_json(int *argc, char ***argv, const char *cmd, const char *usage, int min_args, int max_args,
		   int ref, struct cli_list *seeds, bool *json);

/* The same for a command whose only option is --json. */
int cli_store_json(int *argc, char ***argv, const char *cmd, const char *usage, int min_args, int max_args,
		   int ref, bool *json);

int cmd_init(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_points(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_drill(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_failback(int argc, char **argv);
int cmd_failover(int argc, char **argv);

int cmd_browse(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* Read MOUNTPOINT's status JSON into buf; prints the error itself as
 * "hotspare CMD: ..." (cmd NULL: prints nothing). 0 or -errno (-ENOTCONN:
 * a hotspare mount whose daemon died). */
int cli_read_status(const char *cmd, const char *mountpoint, char *buf, size_t cap);
int cmd_restore(int argc, char **argv);

/* Shared by snapshot and backup: the capture command for a kind. */
int cli_capture(int argc, char **argv, unsigned kind);

struct hs_store;
struct hs_index;
/* Open STORE and load the point SERVER[@POINT][:DISK] names (the newest if
 * none; a point of several disks needs :DISK). 0 or -errno with a message. */
int cli_load_point(const char *where, const char *ref, struct hs_store **st, struct hs_index **ix);

/* Points named in a store: a SERVER[@POINT] reference adds that point, a
 * bare SERVER all its points, oldest first (-ENOENT with a message if it has
 * none); cli_points_all adds every server's. 0 or -errno. */
struct cli_points {
	struct hs_point_ref *v;
	size_t n;
};
int cli_points_add(struct hs_store *st, const char *ref, struct cli_points *p);
/* The same for SERVER[@POINT][:DISK]: with a disk, only the points that have it, each
 * naming the disk (an error when none has it). */
int cli_points_add_disk(struct hs_store *st, const char *ref, struct cli_points *p);
int cli_points_all(struct hs_store *st, struct cli_points *p);

int cmd_replicate(int argc, char **argv);

int cmd_key(int argc, char **argv);

/* Take --keyfile FILE and --passphrase-file FILE out of argv (argv[0] is the
 * command) and, with load, load the key they name, or HOTSPARE_KEYFILE's, as
 * the current key. -1 to go on, or the exit status to return (the error
 * printed). */
int cli_key_setup(int *argc, char **argv, bool load);

/* Load keyfile (a wrapped one with the passphrase in passfile, which may be
 * NULL) as the current key, and name both to the programs this one runs.
 * 0 or -errno with a message. */
int cli_key_load(const char *keyfile, const char *passfile);

/* The passphrase file given with --passphrase-file or HOTSPARE_PASSPHRASE_FILE, or NULL. */
const char *cli_passphrase_file(void);

/* The first line of a passphrase file (caller frees with cli_free_passphrase,
 * which wipes it). 0 or -errno with a message. */
int cli_read_passphrase(const char *path, char **out);
void cli_free_passphrase(char *p);
int cmd_upgrade(int argc, char **argv);

struct hs_capture_disk;
/* Parse n arguments that are one SOURCE (the disk disk0; *lone set) or
 * DISK=SOURCE pairs (what names the right side in messages: "SOURCE",
 * "TARGET") into out (HS_DISKS_MAX entries); args are split in place.
 * 0, or -errno with a one-line message. */
int cli_disk_pairs(const char *cmd, int n, char **args, const char *what, struct hs_capture_disk *out,
		   unsigned *nout, bool *lone);

struct hs_point;
/* Open STORE and read the header of the point SERVER[@POINT][:DISK] names;
 * disk gets the :DISK part ("" when absent; checked to exist). 0 or -errno. */
int cli_open_point(const char *where, const char *ref, struct hs_store **st, struct hs_point *p,
		   char disk[33]);
int cmd_scrub(int argc, char **argv);
int cmd_fleet(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_du(int argc, char **argv);
