/* hotspare scrub MOUNTPOINT|STATE [--seed SEED]... [--store STORE] [--json]
 * Checks every chunk a spare's state holds against its point and fetches the
 * bad ones again: through the daemon's control socket when the spare runs
 * (its in-memory map is its own to change), directly on a state no daemon
 * uses (see spare/scrub.h). */
#include "cli.h"
#include "config.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include "basics/progress.h"
#include "spare/control.h"
#include "spare/scrub.h"
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#define USAGE "MOUNTPOINT|STATE [--seed SEED]... [--store STORE] [--json]\n" \
	      "       (seeds and store: where a state no daemon uses fetches bad chunks again;\n" \
	      "        default: the store the state records)"

static void print(const char *what, const struct hs_scrub_stats *st, bool json)
{
	if (json) {
		json_object *o = json_object_new_object();
#define I(k) json_object_object_add(o, #k, json_object_new_int64((int64_t)st->k))
		I(chunks_checked);
		I(bytes_checked);
		I(chunks_bad);
		I(chunks_repaired);
		I(chunks_failed);
		I(chunks_written);
		I(chunks_absent);
#undef I
		json_object_object_add(o, "seconds", json_object_new_double(st->seconds));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return;
	}
	char line[512];
	hs_scrub_summary(st, line, sizeof line);
	printf("scrub %s: %s\n", what, line);
}

/* The state directory of a running spare (its mountpoint's status). */
static int live_state(const char *mnt, char *state, size_t cap)
{
	static char buf[65536];
	if (cli_read_status("scrub", mnt, buf, sizeof buf) < 0)
		return -EIO;
	json_object *o = json_tokener_parse(buf), *v;
	const char *s = o && json_object_object_get_ex(o, "state", &v) ? json_object_get_string(v) : NULL;
	int r = s && *s ? 0 : -EIO;
	if (r == 0)
		snprintf(state, cap, "%s", s);
	json_object_put(o);
	if (r < 0)
		cli_failf("scrub", "the daemon at %s did not say where its state is", mnt);
	return r;
}

/* Ask the daemon serving the state to scrub. 1 if no daemon answers there. */
static int through_daemon(const char *state, struct hs_scrub_stats *st)
{
	char sock[PATH_MAX + 16], reply[4096];
	snprintf(sock, sizeof sock, "%s/control.sock", state);
	if (access(sock, F_OK) < 0)
		return 1;
	hs_err_clear();
	int r = hs_control_call(sock, "scrub", reply, sizeof reply);
	if (r == -ECONNREFUSED || r == -ENOENT)
		return 1; /* left by a daemon that died: nobody serves the state */
	if (r < 0)
		return r;
	json_object *o = json_tokener_parse(reply), *v;
	if (!o)
		return hs_err(EIO, "the daemon of %s gave no readable answer", state);
	memset(st, 0, sizeof *st);
#define I(k) st->k = json_object_object_get_ex(o, #k, &v) ? (uint64_t)json_object_get_int64(v) : 0
	I(chunks_checked);
	I(bytes_checked);
	I(chunks_bad);
	I(chunks_repaired);
	I(chunks_failed);
	I(chunks_written);
	I(chunks_absent);
#undef I
	st->seconds = json_object_object_get_ex(o, "seconds", &v) ? json_object_get_double(v) : 0;
	bool ok = json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
	if (!ok)
		r = hs_err(EIO, "%s", json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : "scrub failed");
	json_object_put(o);
	return r;
}

int cmd_scrub(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_list seeds = { 0 };
	const char *store = NULL;
	bool json = false;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		if (c == 's' && cli_list_add(&seeds, optarg) == 0)
			continue;
		if (c == 'S') {
			store = optarg;
			continue;
		}
		if (c == 'j') {
			json = true;
			continue;
		}
		cli_list_free(&seeds);
		return c == 'h' ? cli_help("scrub", USAGE) : cli_usage("scrub", USAGE);
	}
	if (argc - optind != 1) {
		cli_list_free(&seeds);
		return cli_usage("scrub", USAGE);
	}
	const char *target = argv[optind];
	char type[64], state[PATH_MAX];
	struct hs_scrub_stats st;
	int r;
	bool mounted = hs_mount_type(target, type, sizeof type) == 1 && !strcmp(type, "fuse.hotspare");
	if (mounted) {
		if (live_state(target, state, sizeof state) < 0) {
			cli_list_free(&seeds);
			return 1;
		}
		r = through_daemon(state, &st);
		if (r == 1)
			r = hs_err(EIO, "the daemon serving %s does not answer on %s/control.sock", target, state);
	} else {
		snprintf(state, sizeof state, "%s", target);
		r = through_daemon(state, &st);
		/* No daemon: this process fetches, with the configuration's key, credentials and seeds. */
		if (r == 1 && (c = cfg_set_server("scrub", NULL)) >= 0) {
			cli_list_free(&seeds);
			return c;
		}
		if (r == 1 && cfg_seeds(&seeds) < 0)
			r = -ENOMEM;
		if (r == 1) {
			struct hs_progress progress;
			r = hs_scrub_state(state, store, seeds.v, seeds.n, &progress, &st);
		}
	}
	cli_list_free(&seeds);
	if (r < 0)
		return cli_fail("scrub", r);
	print(target, &st, json);
	if (st.chunks_failed)
		return cli_failf("scrub", "%llu chunk%s of %s could not be made good: reads of %s fail with EIO",
				 (unsigned long long)st.chunks_failed, st.chunks_failed == 1 ? "" : "s", state,
				 st.chunks_failed == 1 ? "it" : "them");
	return 0;
}
