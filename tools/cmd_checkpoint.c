/* hotspare checkpoint MOUNTPOINT [--json]: the spare's current disk becomes
 * a new point in its store (only the chunks the guest wrote are read); with
 * nothing written since the last point, none is added. */
#include "cli.h"
#include "spare/checkpoint.h"
#include "spare/control.h"
#include <getopt.h>
#include <json-c/json.h>

#define USAGE "MOUNTPOINT [--json]"

int cmd_checkpoint(int argc, char **argv)
{
	bool json;
	int c = cli_json_only(argc, argv, "checkpoint", USAGE, 1, &json);
	if (c >= 0)
		return c;
	struct hs_checkpoint_result res;
	int r = hs_control_checkpoint(argv[optind], &res);
	if (r < 0)
		return cli_fail("checkpoint", r);
	if (json) {
		json_object *o = hs_checkpoint_json(&res);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return 0;
	}
	if (!res.added) {
		printf("checkpoint: nothing written since point %s; no point added\n", res.id);
		return 0;
	}
	printf("checkpoint %s: read %llu written chunks (%.1f MiB), stored %.1f MiB new, %.2f s%s\n", res.id,
	       (unsigned long long)res.chunks_read, (double)res.bytes_read / 1048576,
	       (double)res.bytes_stored / 1048576, res.seconds,
	       res.incremental ? " (changes since the last checkpoint)" : "");
	if (res.ndisks > 1)
		for (unsigned k = 0; k < res.ndisks; k++)
			printf("  disk %s: read %llu chunks (%.1f MiB), stored %.1f MiB new\n", res.disks[k].name,
			       (unsigned long long)res.disks[k].chunks_read, (double)res.disks[k].bytes_read / 1048576,
			       (double)res.disks[k].bytes_stored / 1048576);
	if (!res.consistent)
		fprintf(stderr, "hotspare checkpoint: warning: the image was open for writing; this point is "
				"crash-consistent at best (pause or shut down the domain first, as failback does)\n");
	return 0;
}
