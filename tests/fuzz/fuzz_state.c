/* Fuzz a spare's state as the daemon finds it on disk (spare/state.h):
 * state.json and the map, opened by hs_state_open (and described by
 * hs_state_describe) in a scratch directory on a tmpfs. An input is
 *   STATE.JSON  NUL  FLAGS  MAP
 * FLAGS: bit 0 the clean mark is there, bit 1 disk.img was cut in half,
 * bit 2 open for repair (scrub). The point is fixed: mail01@20261125T121856Z,
 * 1 MiB in 64 KiB chunks (16 map bytes). */
#include "spare/state.h"
#include "store/index.h"
#include "fuzz.h"
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE (1u << 20)
#define CHUNK (1u << 16)

static char base[64], dir[96];
static struct hs_index *ix;

static void put_file(const char *name, const void *p, size_t n)
{
	char path[160];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_ASSERT(fd >= 0 && (n == 0 || write(fd, p, n) == (ssize_t)n));
	close(fd);
}

static void clear_dir(void)
{
	static const char *const names[] = { "state.json", "map", "disk.img", "lock", "clean", ".state.json.tmp",
					     "daemon.log" };
	char path[160];
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
}

static void cleanup(void)
{
	clear_dir();
	rmdir(dir);
	rmdir(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(base, sizeof base, "%s/hs-fuzz-state.XXXXXX", tmp);
	if (!mkdtemp(base))
		abort();
	snprintf(dir, sizeof dir, "%s/s", base);
	if (mkdir(dir, 0700) < 0 || hs_index_new(IMAGE, CHUNK, &ix) < 0)
		abort();
	snprintf(ix->server, sizeof ix->server, "mail01");
	snprintf(ix->id, sizeof ix->id, "20261125T121856Z");
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t jn = nul ? (size_t)(nul - data) : size;
	unsigned flags = nul && jn + 1 < size ? data[jn + 1] : 0;
	const uint8_t *map = nul && jn + 2 <= size ? data + jn + 2 : data + size;
	size_t mn = (size_t)(data + size - map);
	clear_dir();
	put_file("state.json", data, jn);
	put_file("map", map, mn);
	put_file("disk.img", "", 0);
	char path[160];
	snprintf(path, sizeof path, "%s/disk.img", dir);
	FUZZ_ASSERT(truncate(path, flags & 2 ? IMAGE / 2 : IMAGE) == 0);
	if (flags & 1)
		put_file("clean", "", 0);

	struct hs_state *s = NULL;
	int r = (flags & 4) ? hs_state_open_repair(dir, ix, "fuzz-store", &s) : hs_state_open(dir, ix, "fuzz-store", &s);
	fuzz_check_msg();
	if (r == 0) {
		/* What was opened is the point's state, of the point's shape. */
		FUZZ_ASSERT(s->nchunks == ix->nchunks && s->image_size == IMAGE && s->chunk_size == CHUNK);
		for (uint64_t i = 0; i < s->nchunks; i++)
			FUZZ_ASSERT(hs_state_get(s, i) <= HS_WRITTEN);
		FUZZ_ASSERT(!(flags & 2) || s->unclean);
		FUZZ_ASSERT((s->mode & ~07777u) == 0);
		FUZZ_ASSERT(hs_state_set(s, 0, HS_PRESENT) == 0 && hs_state_flush(s) == 0);
		hs_state_close(s);
	} else {
		FUZZ_ASSERT(r == -EINVAL || r == -EPROTONOSUPPORT || r == -EIO);
	}
	struct hs_state_desc d;
	r = hs_state_describe(dir, &d);
	fuzz_check_msg();
	if (r == 0)
		free(d.store);
	return 0;
}
