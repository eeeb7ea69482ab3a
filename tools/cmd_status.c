/* hotspare status MOUNTPOINT [--json] */
#include "cli.h"
#include "basics/cleanup.h"
#include "basics/progress.h"
#include "spare/status.h"
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#define USAGE "MOUNTPOINT [--json]"

int cli_read_status(const char *cmd, const char *mountpoint, char *buf, size_t cap)
{
	struct hs_buf b = { .max = cap }; /* the text and its NUL */
	int r = hs_status_read(mountpoint, &b, NULL);
	if (r < 0) {
		hs_buf_free(&b);
		if (!cmd)
			return r;
		return cli_fail(cmd, r) ? r : r;
	}
	memcpy(buf, b.data, b.len);
	buf[b.len] = 0;
	hs_buf_free(&b);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	bool json;
	int c = cli_json_only(argc, argv, "status", USAGE, 1, &json);
	if (c >= 0)
		return c;
	static char buf[65536];
	if (cli_read_status("status", argv[optind], buf, sizeof buf) < 0)
		return 1;
	if (json) {
		fputs(buf, stdout);
		return 0;
	}
	json_object *o = json_tokener_parse(buf), *v;
	if (!o)
		return cli_failf("status", "the daemon at %s sent an unreadable status", argv[optind]);
#define I(k) (json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_int64(v) : 0)
#define S(k) (json_object_object_get_ex(o, k, &v) && json_object_get_string(v) ? json_object_get_string(v) : "")
	char a[16], b[16], d[16], e[16], f[16];
	uint64_t total = I("chunks_total"), present = I("chunks_present");
	double rate = json_object_object_get_ex(o, "hydrate_bytes_per_s", &v) ? json_object_get_double(v) : 0;
	printf("%s@%s  %s/%s  (%s, daemon pid %llu)\n", S("server"), S("point"), S("mountpoint"),
	       S("image"), hs_fmt_bytes(I("size"), a), (unsigned long long)I("pid"));
	printf("  state      %s\n", S("state"));
	printf("  hydration  %.1f%% (%llu of %llu chunks of %s)%s%s/s\n",
	       total ? 100.0 * (double)present / (double)total : 100.0, (unsigned long long)present,
	       (unsigned long long)total, hs_fmt_bytes(I("chunk_size"), b),
	       present >= total ? ", complete; " : ", ", hs_fmt_bytes((uint64_t)rate, d));
	printf("  fetched    %s from seeds, %s from the store; %s of it read ahead\n",
	       hs_fmt_bytes(I("bytes_from_seed"), d), hs_fmt_bytes(I("bytes_from_store"), e),
	       hs_fmt_bytes(I("bytes_read_ahead"), f));
	printf("  written    %llu chunks changed by the guest\n", (unsigned long long)I("chunks_written"));
	if (I("chunks_unchecked") || I("chunks_repaired"))
		printf("  checks     %llu chunks still to check against the point; %llu found bad and replaced\n",
		       (unsigned long long)I("chunks_unchecked"), (unsigned long long)I("chunks_repaired"));
	printf("  errors     %llu%s%s\n", (unsigned long long)I("errors"), S("last_error")[0] ? ": " : "",
	       S("last_error"));
	printf("  memory     %s resident (the daemon)\n", hs_fmt_bytes(I("rss_bytes"), a));
	json_object *disks;
	if (json_object_object_get_ex(o, "disks", &disks) && json_object_array_length(disks) > 1)
		for (size_t k = 0; k < json_object_array_length(disks); k++) {
			json_object *dk = json_object_array_get_idx(disks, k), *w;
#define DI(n) (json_object_object_get_ex(dk, n, &w) ? (uint64_t)json_object_get_int64(w) : 0)
#define DS(n) (json_object_object_get_ex(dk, n, &w) && json_object_get_string(w) ? json_object_get_string(w) : "")
			uint64_t dt = DI("chunks_total"), dp = DI("chunks_present");
			printf("  disk %-10s %s/%s  %s, %.1f%% hydrated, %llu chunks written, %llu errors\n", DS("name"),
			       S("mountpoint"), DS("image"), hs_fmt_bytes(DI("size"), b),
			       dt ? 100.0 * (double)dp / (double)dt : 100.0, (unsigned long long)DI("chunks_written"),
			       (unsigned long long)DI("errors"));
#undef DI
#undef DS
		}
#undef I
#undef S
	json_object_put(o);
	return 0;
}
