/* hotspare failback MOUNTPOINT [--connect URI] [--domain NAME] [--shutdown-timeout S] [--json]
 * Two checkpoints: the first while the spare keeps running, the second,
 * holding only what changed since, with the domain shut down. */
#include "cli.h"
#include "vm/domain.h"
#include "basics/err.h"
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#define USAGE "MOUNTPOINT [--connect URI] [--domain NAME] [--shutdown-timeout SECONDS] [--json]"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Shut the domain down (ACPI, then destroy after the timeout). 1 if it was
 * running, 0 if there was none running, -errno. */
static int shut_down(const char *uri, const char *name, int timeout_s)
{
	hs_virt_quiet();
	virConnectPtr conn = virConnectOpen(uri);
	if (!conn)
		return cli_failf("failback", "cannot connect to libvirt at %s: %s", uri, hs_virt_msg()) ? -ECONNREFUSED : 0;
	virDomainPtr dom = virDomainLookupByName(conn, name);
	int r = 0, state, reason;
	if (dom && virDomainGetState(dom, &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF) {
		r = 1;
		virDomainShutdown(dom);
		double until = now() + timeout_s;
		while (now() < until && virDomainGetState(dom, &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF) {
			struct timespec ts = { 0, 200 * 1000000 };
			nanosleep(&ts, NULL);
		}
		if (virDomainGetState(dom, &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF)
			virDomainDestroy(dom); /* did not shut down in time */
	}
	if (dom)
		virDomainFree(dom);
	virConnectClose(conn);
	return r;
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
	const char *uri = "qemu:///system", *name = NULL;
	int timeout_s = 120, c;
	bool json = false;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': uri = optarg; break;
		case 'd': name = optarg; break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s < 1)
				return cli_failf("failback", "--shutdown-timeout '%s' is not a number of seconds", optarg);
			break;
		case 'j': json = true; break;
		default: return c == 'h' ? cli_usage("failback", USAGE) & 0 : cli_usage("failback", USAGE);
		}
	}
	if (argc - optind != 1)
		return cli_usage("failback", USAGE);
	const char *mnt = argv[optind];
	char status[8192], r1[2048], r2[2048], server[128] = "";
	if (cli_read_status(mnt, status, sizeof status) < 0)
		return 1;
	json_object *st = json_tokener_parse(status), *v;
	if (st && json_object_object_get_ex(st, "server", &v))
		snprintf(server, sizeof server, "%s", json_object_get_string(v));
	json_object_put(st);
	if (!name)
		name = server;

	double t0 = now();
	if (cli_checkpoint("failback", mnt, r1, sizeof r1) < 0)
		return 1;
	double t1 = now();
	int was = shut_down(uri, name, timeout_s);
	if (was < 0)
		return 1;
	if (cli_checkpoint("failback", mnt, r2, sizeof r2) < 0)
		return 1;
	double t2 = now();
	json_object *p1 = json_tokener_parse(r1), *p2 = json_tokener_parse(r2);
#define I(o, k) (json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0)
	const char *point = json_object_object_get_ex(p2, "point", &v) ? json_object_get_string(v) : "?";
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "server", json_object_new_string(server));
		json_object_object_add(o, "point", json_object_new_string(point));
		json_object_object_add(o, "domain_was_running", json_object_new_boolean(was == 1));
		json_object_object_add(o, "pass1", json_object_get(p1));
		json_object_object_add(o, "pass2", json_object_get(p2));
		json_object_object_add(o, "pass1_seconds", json_object_new_double(t1 - t0));
		json_object_object_add(o, "downtime_seconds", json_object_new_double(t2 - t1));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("failback pass 1 (running): %lld chunks read, %.1f MiB stored, %.1f s\n", (long long)I(p1, "chunks_read"),
		       (double)I(p1, "bytes_stored") / 1048576, t1 - t0);
		printf("failback pass 2 (%s): %lld chunks read, %.1f MiB stored; downtime %.1f s\n",
		       was == 1 ? "domain shut down" : "no running domain", (long long)I(p2, "chunks_read"),
		       (double)I(p2, "bytes_stored") / 1048576, t2 - t1);
		printf("final point %s@%s; at the customer's site: hotspare restore STORE %s@%s /dev/sdX\n", server, point,
		       server, point);
	}
#undef I
	json_object_put(p1);
	json_object_put(p2);
	return 0;
}
