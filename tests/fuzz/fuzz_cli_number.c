/* Fuzz the command line's strict numeric parser (cli_number, tools/cli.h)
 * against a reference written from its promise (decimal digits only, no
 * overflow, within bounds), and the DISK=SOURCE argument splitter
 * (cli_disk_pairs). The first byte picks the bounds; the rest is the text
 * (for the splitter, split at blanks). */
#include "cli.h"
#include "jobs/capture.h"
#include "store/point.h"
#include "fuzz.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const uint64_t bounds[][2] = {
	{ 0, UINT64_MAX }, { 1, 256 }, { 65536, 4194304 }, { 0, 0 }, { 1, 1000000 }, { 18446744073709551600ull, UINT64_MAX },
};

/* The promise: digits only (at least one), the value fits in 64 bits and lies in [lo, hi]. */
static bool reference(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	if (!*s)
		return false;
	__uint128_t x = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		x = x * 10 + (unsigned)(*p - '0');
		if (x > UINT64_MAX)
			return false;
	}
	*v = (uint64_t)x;
	return *v >= lo && *v <= hi;
}

static int devnull = -1, stderr_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	stderr_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (devnull < 0 || stderr_fd < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	const uint64_t *b = bounds[data[0] % (sizeof bounds / sizeof *bounds)];
	char *s = fuzz_dup(data + 1, size - 1, 1);
	uint64_t got = 12345, want = 0;
	/* Its refusals go to stderr: not to the fuzzer's log. */
	fflush(stderr);
	dup2(devnull, 2);
	int r = cli_number("fuzz", "--n", s, b[0], b[1], data[0] & 8 ? "bytes" : NULL, &got);
	fflush(stderr);
	dup2(stderr_fd, 2);
	bool ok = reference(s, b[0], b[1], &want);
	FUZZ_ASSERT(ok ? r == 0 && got == want : r == 1 && got == 12345);

	/* The splitter, on the same text cut at blanks. */
	char *args[HS_DISKS_MAX + 8];
	int n = 0;
	for (char *tok = strtok(s, " \t"); tok && n < (int)(sizeof args / sizeof *args); tok = strtok(NULL, " \t"))
		args[n++] = tok;
	struct hs_capture_disk disks[HS_DISKS_MAX];
	unsigned nd = 99;
	bool lone = false;
	if (n > 0 && cli_disk_pairs("fuzz", n, args, "SOURCE", disks, &nd, &lone) == 0) {
		FUZZ_ASSERT(nd >= 1 && nd <= HS_DISKS_MAX && (lone ? nd == 1 : nd == (unsigned)n));
		for (unsigned k = 0; k < nd; k++) {
			FUZZ_ASSERT(hs_disk_name_check(disks[k].name) == 0 && disks[k].source[0]);
			for (unsigned m = 0; m < k; m++)
				FUZZ_ASSERT(strcmp(disks[m].name, disks[k].name) != 0);
		}
	}
	fuzz_check_msg();
	free(s);
	return 0;
}
