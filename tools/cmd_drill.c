/* hotspare drill STORE SERVER[@POINT] --report DIR [--seed SEED]... [--connect URI]
 *               [--expect TEXT] [--timeout SECONDS] [--check-tcp PORT]... */
#include "cli.h"
#include "config.h"
#include "vm/drill.h"
#include "vm/domain.h"
#include "basics/err.h"
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "STORE SERVER[@POINT] --report DIR [--seed SEED]... [--connect URI]\n" \
	      "       [--expect TEXT] [--timeout SECONDS] [--check-tcp PORT]... [--memory MIB] [--vcpus N]\n" \
	      "       [--profile linux|windows] [--boot-trace FILE] [--work-dir DIR]\n" \
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

int cmd_drill(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "report", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "connect", required_argument, NULL, 'c' },
		{ "expect", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "check-tcp", required_argument, NULL, 'p' },
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
	struct hs_drill_opts o = { .expect = "login:", .timeout_s = 300, .memory_mib = 512, .vcpus = 1 };
	const char *profile = NULL;
	bool json = false;
	int c, v = 0, bad = 0;
	while (!bad && (c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'r': o.report_dir = optarg; break;
		case 's': bad = cli_list_add(&seeds, optarg) < 0; break;
		case 'c': o.uri = optarg; break;
		case 'e':
			o.expect = optarg;
			if (!*optarg)
				bad = cli_failf("drill", "--expect needs some text");
			break;
		case 't':
			bad = number("--timeout", optarg, 1, 86400, "seconds", &o.timeout_s);
			break;
		case 'p':
			if (o.nchecks == HS_REPORT_MAX_CHECKS)
				bad = cli_failf("drill", "--check-tcp: at most %d checks", HS_REPORT_MAX_CHECKS);
			else if (!(bad = number("--check-tcp", optarg, 1, 65535, "port", &v)))
				o.check_port[o.nchecks++] = v;
			break;
		case 'm':
			if (!(bad = number("--memory", optarg, 64, 1 << 20, "MiB", &v)))
				o.memory_mib = (unsigned)v;
			break;
		case 'v':
			if (!(bad = number("--vcpus", optarg, 1, 64, NULL, &v)))
				o.vcpus = (unsigned)v;
			break;
		case 'P':
			if (strcmp(optarg, "linux") && strcmp(optarg, "windows"))
				bad = cli_failf("drill", "--profile '%s' is not linux or windows", optarg);
			profile = optarg;
			break;
		case 'b': o.trace_path = optarg; break;
		case 'w': o.work_dir = optarg; break;
		case 'j': json = true; break;
		case 'h':
			cli_list_free(&seeds);
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
	if (!o.report_dir)
		o.report_dir = cfg_server_dir(CFG_REPORT_DIR);
	if (!o.uri)
		o.uri = cfg_get(CFG_CONNECT);
	o.windows = !strcmp(profile ? profile : cfg_get(CFG_PROFILE), "windows");
	if (bad || argc - optind != 2 || !o.report_dir) {
		cli_list_free(&seeds);
		return bad == 1 ? 1 : cli_usage("drill", USAGE);
	}
	/* The report and the throw-away state go where they touch no store. */
	if ((c = cli_drill_places(argv[optind], &seeds, o.report_dir, o.work_dir)) >= 0 ||
	    (c = cfg_make_dirs(o.report_dir, false) < 0 ? cli_fail("drill", -EIO) : -1) >= 0) {
		cli_list_free(&seeds);
		return c;
	}
	o.store = argv[optind];
	o.ref = argv[optind + 1];
	o.seeds = seeds.v;
	o.nseeds = seeds.n;
	/* SA_RESTART: a signal must not cut a libvirt call short (a domain
	 * created by an interrupted call would be left running). */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	hs_virt_quiet();
	struct hs_report *rep = calloc(1, sizeof *rep);
	if (!rep) {
		cli_list_free(&seeds);
		return cli_fail("drill", -ENOMEM);
	}
	int r = hs_drill(&o, rep);
	cli_list_free(&seeds);
	if (r < 0) {
		free(rep);
		return cli_fail("drill", r);
	}
	if (json) {
		char path[4200];
		snprintf(path, sizeof path, "%s/report.json", o.report_dir);
		FILE *f = fopen(path, "re");
		char buf[4096];
		size_t n;
		while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, stdout);
		if (f)
			fclose(f);
	} else {
		printf("drill %s@%s: %s; boot %.1f s, verify %.1f s, total %.1f s; report %s/report.html\n",
		       rep->server, rep->point[0] ? rep->point : "?",
		       rep->interrupted ? "INTERRUPTED" : rep->passed ? "PASSED" : "FAILED", rep->boot_seconds,
		       rep->verify_seconds, rep->total_seconds, o.report_dir);
	}
	int sig = rep->interrupted;
	if (sig)
		fprintf(stderr, "hotspare drill: interrupted by SIG%s before a verdict\n",
			sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	else if (!rep->passed)
		fprintf(stderr, "hotspare drill: %s\n", rep->nerrors ? rep->errors[0] : "failed");
	free(rep);
	/* An interrupted drill is no verdict: the shell's status for the signal. */
	return sig ? 128 + sig : r;
}
