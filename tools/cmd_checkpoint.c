/* hotspare checkpoint MOUNTPOINT [--json]: the spare's current disk becomes
 * a new point in its store (only the chunks the guest wrote are read). */
#include "cli.h"
#include "spare/control.h"
#include "basics/err.h"
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#define USAGE "MOUNTPOINT [--json]"

int cli_checkpoint(const char *cmd, const char *mountpoint, char *reply, size_t cap)
{
	char buf[8192];
	if (cli_read_status(mountpoint, buf, sizeof buf) < 0)
		return -EINVAL;
	json_object *o = json_tokener_parse(buf), *v;
	const char *state = o && json_object_object_get_ex(o, "state", &v) ? json_object_get_string(v) : NULL;
	char sock[4200];
	snprintf(sock, sizeof sock, "%s/control.sock", state ? state : "");
	json_object_put(o);
	if (!state)
		return cli_failf(cmd, "the daemon at %s did not say where its state is", mountpoint) ? -EIO : 0;
	int r = hs_control_call(sock, "checkpoint", reply, cap);
	if (r < 0)
		return cli_fail(cmd, r) ? r : r;
	o = json_tokener_parse(reply);
	bool ok = o && json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v);
	if (!ok) {
		const char *e = o && json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : "no answer";
		cli_failf(cmd, "%s", e);
		json_object_put(o);
		return -EIO;
	}
	json_object_put(o);
	return 0;
}

int cmd_checkpoint(int argc, char **argv)
{
	bool json;
	int c = cli_json_only(argc, argv, "checkpoint", USAGE, 1, &json);
	if (c >= 0)
		return c;
	char reply[2048];
	if (cli_checkpoint("checkpoint", argv[optind], reply, sizeof reply) < 0)
		return 1;
	if (json) {
		fputs(reply, stdout);
		return 0;
	}
	json_object *o = json_tokener_parse(reply), *v;
#define I(k) (json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0)
#define B(k) (json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v))
	printf("checkpoint %s: read %lld written chunks (%.1f MiB), stored %.1f MiB new, %.2f s%s\n",
	       json_object_object_get_ex(o, "point", &v) ? json_object_get_string(v) : "?",
	       (long long)I("chunks_read"), (double)I("bytes_read") / 1048576, (double)I("bytes_stored") / 1048576,
	       json_object_object_get_ex(o, "seconds", &v) ? json_object_get_double(v) : 0.0,
	       B("incremental") ? " (changes since the last checkpoint)" : "");
	if (!B("consistent"))
		fprintf(stderr, "hotspare checkpoint: warning: the image was open for writing; this point is "
				"crash-consistent at best (pause or shut down the domain first, as failback does)\n");
#undef I
#undef B
	json_object_put(o);
	return 0;
}
