/* hotspare drill STORE SERVER[@POINT] --report DIR|--drills DIR [--seed SEED]... [--connect URI]
 *               [--expect TEXT] [--expect-screen] [--screenshot-after SECONDS] [--timeout SECONDS]
 *               [--check-tcp PORT]... [--check-http PORT[/PATH][=TEXT]]...
 *               [--check-file DISK:PART:PATH[=SHA256]]... [--check-script FILE]... */
#include "cli.h"
#include "config.h"
#include "vm/drill.h"
#include "vm/drills.h"
#include "vm/domain.h"
#include "basics/err.h"
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "STORE SERVER[@POINT] --report DIR|--drills DIR [--skip-proved] [--seed SEED]... [--connect URI]\n" \
	      "       [--expect TEXT] [--expect-screen] [--screenshot-after SECONDS] [--timeout SECONDS]\n" \
	      "       [--check-tcp PORT]... [--check-http PORT[/PATH][=TEXT]]...\n" \
	      "       [--check-file DISK:PART:PATH[=SHA256]]... [--check-script FILE]... [--forward PORT]...\n" \
	      "       [--restore-timeout SECONDS] [--memory MIB] [--vcpus N] [--profile linux|windows]\n" \
	      "       [--boot-trace FILE] [--work-dir DIR] [--json]\n" \
	      "       (STORE, --report, --seed, --connect and --profile may come from the configuration: see 'hotspare config')"

static void on_signal(int sig)
{
	hs_drill_interrupted = sig;
}

/* A numeric option (see cli_number): 0, or 1 once the error is printed. */
static int number(const char *opt, const char *s, int lo, int hi, const char *unit, int *out)
{
	uint64_t v;
	if (cli_number("drill", opt, s, (uint64_t)lo, (uint64_t)hi, unit, &v))
		return 1;
	*out = (int)v;
	return 0;
}

/* One more check: 0, or 1 once the error is printed. */
static int add_check(struct hs_drill_opts *o, enum hs_check_kind kind, const char *opt, const char *arg)
{
	/* One place in the report stays for the screen. */
	if (o->nchecks == HS_REPORT_MAX_CHECKS - 1)
		return cli_failf("drill", "%s: at most %d checks in all", opt, HS_REPORT_MAX_CHECKS - 1);
	if (kind == HS_CHECK_TCP) {
		int port;
		if (number(opt, arg, 1, 65535, "port", &port))
			return 1;
		memset(&o->checks[o->nchecks], 0, sizeof o->checks[o->nchecks]);
		o->checks[o->nchecks].kind = HS_CHECK_TCP;
		o->checks[o->nchecks++].port = port;
		return 0;
	}
	if (hs_check_parse(kind, arg, &o->checks[o->nchecks]) < 0)
		return cli_fail("drill", -EINVAL);
	o->nchecks++;
	return 0;
}

/* The guest ports forwarded: those of the TCP and HTTP checks and --forward. */
static size_t forwards(const struct hs_drill_opts *o)
{
	int seen[2 * HS_REPORT_MAX_CHECKS];
	size_t n = 0;
	for (size_t i = 0; i < o->nchecks + o->nforward; i++) {
		int port = i < o->nchecks ? o->checks[i].port : o->forward[i - o->nchecks];
		if (i < o->nchecks && o->checks[i].kind != HS_CHECK_TCP && o->checks[i].kind != HS_CHECK_HTTP)
			continue;
		bool dup = false;
		for (size_t k = 0; k < n; k++)
			dup |= seen[k] == port;
		if (!dup)
			seen[n++] = port;
	}
	return n;
}

static void print_time(const char *what, double s)
{
	if (s >= 0)
		printf("%s %.1f s", what, s);
	else
		printf("%s -", what);
}

int cmd_drill(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "report", required_argument, NULL, 'r' },
		{ "drills", required_argument, NULL, 'D' },
		{ "skip-proved", no_argument, NULL, 'K' },
		{ "seed", required_argument, NULL, 's' },
		{ "connect", required_argument, NULL, 'c' },
		{ "expect", required_argument, NULL, 'e' },
		{ "expect-screen", no_argument, NULL, 'E' },
		{ "screenshot-after", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "restore-timeout", required_argument, NULL, 'R' },
		{ "check-tcp", required_argument, NULL, 'p' },
		{ "check-http", required_argument, NULL, 'H' },
		{ "check-file", required_argument, NULL, 'F' },
		{ "check-script", required_argument, NULL, 'X' },
		{ "forward", required_argument, NULL, 'f' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'v' },
		{ "profile", required_argument, NULL, 'P' },
		{ "boot-trace", required_argument, NULL, 'b' },
		{ "work-dir", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_list seeds = { 0 };
	struct hs_drill_opts *o = calloc(1, sizeof *o);
	if (!o)
		return cli_fail("drill", -ENOMEM);
	o->timeout_s = 300;
	o->restore_timeout_s = 86400;
	o->memory_mib = 512;
	o->vcpus = 1;
	const char *profile = NULL;
	bool json = false;
	int c, v = 0, bad = 0;
	while (!bad && (c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'r': o->report_dir = optarg; break;
		case 'D': o->drills_dir = optarg; break;
		case 'K': o->skip_proved = true; break;
		case 's': bad = cli_list_add(&seeds, optarg) < 0; break;
		case 'c': o->uri = optarg; break;
		case 'e':
			o->expect = optarg;
			if (!*optarg)
				bad = cli_failf("drill", "--expect needs some text");
			break;
		case 'E': o->expect_screen = true; break;
		case 'S': bad = number("--screenshot-after", optarg, 1, 86400, "seconds", &o->screenshot_after_s); break;
		case 't': bad = number("--timeout", optarg, 1, 86400, "seconds", &o->timeout_s); break;
		case 'R': bad = number("--restore-timeout", optarg, 1, 604800, "seconds", &o->restore_timeout_s); break;
		case 'p': bad = add_check(o, HS_CHECK_TCP, "--check-tcp", optarg); break;
		case 'H': bad = add_check(o, HS_CHECK_HTTP, "--check-http", optarg); break;
		case 'F': bad = add_check(o, HS_CHECK_FILE, "--check-file", optarg); break;
		case 'X': bad = add_check(o, HS_CHECK_SCRIPT, "--check-script", optarg); break;
		case 'f':
			if (o->nforward == HS_REPORT_MAX_CHECKS)
				bad = cli_failf("drill", "--forward: at most %d ports", HS_REPORT_MAX_CHECKS);
			else if (!(bad = number("--forward", optarg, 1, 65535, "port", &v)))
				o->forward[o->nforward++] = v;
			break;
		case 'm':
			if (!(bad = number("--memory", optarg, 64, 1 << 20, "MiB", &v)))
				o->memory_mib = (unsigned)v;
			break;
		case 'v':
			if (!(bad = number("--vcpus", optarg, 1, 64, NULL, &v)))
				o->vcpus = (unsigned)v;
			break;
		case 'P':
			if (strcmp(optarg, "linux") && strcmp(optarg, "windows"))
				bad = cli_failf("drill", "--profile '%s' is not linux or windows", optarg);
			profile = optarg;
			break;
		case 'b': o->trace_path = optarg; break;
		case 'w': o->work_dir = optarg; break;
		case 'j': json = true; break;
		case 'h':
			cli_list_free(&seeds);
			free(o);
			return cli_help("drill", USAGE);
		default:
			bad = 2;
		}
	}
	/* The configuration's store, seeds, report directory, URI and profile (config.h). */
	if (!bad && (c = cfg_store_arg("drill", &argc, &argv, 2, 2, 1)) >= 0)
		bad = c;
	if (!bad && cfg_seeds(&seeds) < 0)
		bad = cli_fail("drill", -ENOMEM);
	/* --drills files the report under DIR/SERVER/POINT: the configured
	 * report directory is the default of --report alone. */
	if (!o->report_dir && !o->drills_dir)
		o->report_dir = cfg_server_dir(CFG_REPORT_DIR);
	if (!o->uri)
		o->uri = cfg_get(CFG_CONNECT);
	o->windows = !strcmp(profile ? profile : cfg_get(CFG_PROFILE), "windows");
	int usage = 0; /* a refusal of the arguments, exit status 2 */
	if (!bad && argc - optind == 2 && !o->report_dir && !o->drills_dir)
		usage = cli_failf("drill", "--report DIR or --drills DIR is missing (see 'hotspare drill --help')");
	else if (!bad && argc - optind == 2 && o->skip_proved && !o->drills_dir)
		usage = cli_failf("drill", "--skip-proved needs --drills DIR, where proved points are recorded");
	else if (!bad && forwards(o) > HS_MAX_FORWARDS)
		usage = cli_failf("drill", "the checks and --forward name %zu guest ports; at most %d can be forwarded",
				  forwards(o), HS_MAX_FORWARDS);
	if (bad || usage || argc - optind != 2) {
		cli_list_free(&seeds);
		free(o);
		return usage ? 2 : bad == 1 ? 1 : cli_usage("drill", USAGE);
	}
	/* Without a screen to go by, "up" is a login prompt on the console. */
	if (!o->expect && !o->expect_screen && !o->screenshot_after_s)
		o->expect = "login:";
	/* The report, the drills directory and the throw-away state go where
	 * they touch no store. */
	if ((c = cli_drill_places(argv[optind], &seeds, o->report_dir, o->work_dir)) >= 0 ||
	    (c = cli_apart("drill", "--drills", o->drills_dir, argv[optind], &seeds, false)) >= 0 ||
	    (c = cfg_make_dirs(o->report_dir, false) < 0 ? cli_fail("drill", -EIO) : -1) >= 0) {
		cli_list_free(&seeds);
		free(o);
		return c;
	}
	o->store = argv[optind];
	o->ref = argv[optind + 1];
	o->seeds = seeds.v;
	o->nseeds = seeds.n;
	/* SA_RESTART: a signal must not cut a libvirt call short (a domain
	 * created by an interrupted call would be left running). */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* libvirt's streams (screenshots) and the checks' sockets may meet a
	 * peer that went away: an error to handle, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	hs_virt_quiet();
	struct hs_report *rep = calloc(1, sizeof *rep);
	if (!rep) {
		cli_list_free(&seeds);
		free(o);
		return cli_fail("drill", -ENOMEM);
	}
	int r = hs_drill(o, rep);
	cli_list_free(&seeds);
	if (r < 0) {
		hs_report_release(rep);
		free(rep);
		free(o);
		return cli_fail("drill", r);
	}
	char dir[4200];
	if (o->report_dir)
		snprintf(dir, sizeof dir, "%s", o->report_dir);
	else
		hs_drills_report_dir(o->drills_dir, rep->server, rep->point, dir, sizeof dir);
	if (r == HS_DRILL_SKIPPED) {
		if (json) {
			json_object *j = json_object_new_object();
			json_object_object_add(j, "server", json_object_new_string(rep->server));
			json_object_object_add(j, "point", json_object_new_string(rep->point));
			json_object_object_add(j, "skipped", json_object_new_boolean(1));
			json_object_object_add(j, "proved", json_object_new_string(rep->proved));
			json_object_object_add(j, "report", json_object_new_string(dir));
			puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(j);
		} else {
			printf("drill %s@%s: already proved by the drill of %s (%s); skipped\n", rep->server, rep->point,
			       rep->proved, dir);
		}
		hs_report_release(rep);
		free(rep);
		free(o);
		return 0;
	}
	if (json) {
		char path[4300];
		snprintf(path, sizeof path, "%s/report.json", dir);
		FILE *f = fopen(path, "re");
		char buf[4096];
		size_t n;
		while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, stdout);
		if (f)
			fclose(f);
	} else {
		printf("drill %s@%s: %s; ", rep->server, rep->point[0] ? rep->point : "?",
		       rep->interrupted ? "INTERRUPTED" : rep->passed ? "PASSED" : "FAILED");
		print_time("start-up", rep->startup_seconds);
		print_time(", restore", rep->restore_seconds);
		print_time(", online", rep->online_seconds);
		printf("; verify %.1f s, total %.1f s; report %s/report.html\n", rep->verify_seconds, rep->total_seconds,
		       dir);
	}
	int sig = rep->interrupted;
	if (sig)
		fprintf(stderr, "hotspare drill: interrupted by SIG%s before a verdict\n",
			sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	else if (!rep->passed)
		fprintf(stderr, "hotspare drill: %s\n", rep->nerrors ? rep->errors[0] : "failed");
	hs_report_release(rep);
	free(rep);
	free(o);
	/* An interrupted drill is no verdict: the shell's status for the signal. */
	return sig ? 128 + sig : r;
}
