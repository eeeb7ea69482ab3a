/* hotspare failback MOUNTPOINT [--connect URI] [--domain NAME] [--shutdown-timeout S] [--json]
 * Two checkpoints around shutting the spare's domain down (vm/failback.h);
 * this prints what they did and the point to restore. */
#include "cli.h"
#include "config.h"
#include "spare/control.h"
#include "vm/failback.h"
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "MOUNTPOINT [--connect URI] [--domain NAME] [--shutdown-timeout SECONDS] [--json]"

static void print_pass(int n, const char *how, const struct hs_checkpoint_result *p, const char *tail)
{
	if (p->added)
		printf("failback pass %d (%s): point %s, %llu chunks read, %.1f MiB stored%s\n", n, how, p->id,
		       (unsigned long long)p->chunks_read, (double)p->bytes_stored / 1048576, tail);
	else
		printf("failback pass %d (%s): nothing written since point %s, no point added%s\n", n, how, p->id,
		       tail);
}

int cmd_failback(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "domain", required_argument, NULL, 'd' },
		{ "shutdown-timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct hs_failback_opts o = { .shutdown_timeout_s = 120 };
	bool json = false;
	uint64_t secs;
	int c;
	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'c': o.uri = optarg; break;
		case 'd': o.domain = optarg; break;
		case 't': {
			if (cli_number("failback", "--shutdown-timeout", optarg, 1, 86400, "seconds", &secs))
				return 1;
			o.shutdown_timeout_s = (int)secs;
			break;
		}
		case 'j': json = true; break;
		default: return c == 'h' ? cli_help("failback", USAGE) : cli_usage("failback", USAGE);
		}
	}
	if (argc - optind != 1)
		return cli_usage("failback", USAGE);
	o.mountpoint = argv[optind];
	if (!o.uri)
		o.uri = cfg_get(CFG_CONNECT);
	struct hs_failback_result res;
	int r = hs_failback(&o, &res);
	if (r < 0)
		return cli_fail("failback", r);
	if (json) {
		json_object *j = json_object_new_object();
		json_object_object_add(j, "server", json_object_new_string(res.server));
		json_object_object_add(j, "point", json_object_new_string(res.point));
		json_object_object_add(j, "domain", res.domain[0] ? json_object_new_string(res.domain) : NULL);
		json_object_object_add(j, "domain_was_running", json_object_new_boolean(res.domain_was_running));
		json_object_object_add(j, "domain_destroyed", json_object_new_boolean(res.destroyed));
		json_object_object_add(j, "pass1", hs_checkpoint_json(&res.pass1));
		json_object_object_add(j, "pass2", hs_checkpoint_json(&res.pass2));
		json_object_object_add(j, "pass1_seconds", json_object_new_double(res.pass1_seconds));
		json_object_object_add(j, "downtime_seconds", json_object_new_double(res.downtime_seconds));
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
		return 0;
	}
	char how1[300], how2[300], tail[64];
	if (res.domain_was_running) {
		snprintf(how1, sizeof how1, "domain %s running", res.domain);
		snprintf(how2, sizeof how2, "domain %s %s", res.domain,
			 res.destroyed ? "destroyed after the shutdown timeout" : "shut down");
	} else {
		snprintf(how1, sizeof how1, "%s", res.domain[0] ? "its domain is shut off" : "no domain uses the image");
		snprintf(how2, sizeof how2, "%s", how1);
	}
	snprintf(tail, sizeof tail, ", %.1f s", res.pass1_seconds);
	print_pass(1, how1, &res.pass1, tail);
	snprintf(tail, sizeof tail, "; downtime %.1f s", res.downtime_seconds);
	print_pass(2, how2, &res.pass2, tail);
	const struct hs_checkpoint_result *last = &res.pass2;
	if (last->ndisks <= 1) {
		printf("final point %s@%s; at the customer's site: hotspare restore STORE %s@%s /dev/sdX\n",
		       res.server, res.point, res.server, res.point);
		return 0;
	}
	/* One target per disk, in the point's order. */
	printf("final point %s@%s; at the customer's site: hotspare restore STORE %s@%s", res.server, res.point,
	       res.server, res.point);
	for (unsigned k = 0; k < last->ndisks; k++)
		printf(" %s=/dev/sd%c", last->disks[k].name, 'a' + (int)(k % 26));
	putchar('\n');
	return 0;
}
