/* The benchmarks' reference for an incremental live backup: the time it
 * takes just to read an NBD export's dirty ranges (the bytes a dirty
 * bitmap calls changed) over its unix socket, with as many connections as
 * hotspare reads with, in pieces of at most 4 MiB, and nothing else.
 * usage: hs-nbdread SOCKET EXPORT BITMAP-CONTEXT [CONNECTIONS]
 * prints: BYTES SECONDS */
#include <libnbd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIECE (4u << 20)

static uint64_t *starts, *lens;
static size_t n, cap;
static atomic_size_t next;
static const char *sock, *export;
static uint64_t covered; /* how far the bitmap's extents have reached */

static int extent(void *u, const char *ctx, uint64_t off, uint32_t *e, size_t ne, int *err)
{
	(void)err;
	if (strcmp(ctx, (const char *)u) != 0)
		return 0;
	for (size_t i = 0; i + 1 < ne; i += 2) {
		if (e[i + 1] & 1) {
			/* Split into pieces a reader takes one at a time. */
			for (uint64_t a = off; a < off + e[i]; a += PIECE) {
				if (n == cap) {
					cap = cap ? cap * 2 : 1024;
					starts = realloc(starts, cap * sizeof *starts);
					lens = realloc(lens, cap * sizeof *lens);
					if (!starts || !lens)
						exit(1);
				}
				starts[n] = a;
				lens[n++] = off + e[i] - a < PIECE ? off + e[i] - a : PIECE;
			}
		}
		off += e[i];
	}
	covered = off;
	return 0;
}

static struct nbd_handle *open_export(const char *ctx)
{
	struct nbd_handle *h = nbd_create();
	/* No zeroing of each buffer before its read: hotspare does none. */
	if (!h || nbd_set_pread_initialize(h, false) < 0 || nbd_set_export_name(h, export) < 0 ||
	    (ctx && nbd_add_meta_context(h, ctx) < 0) || nbd_connect_unix(h, sock) < 0) {
		fprintf(stderr, "hs-nbdread: %s\n", nbd_get_error());
		exit(1);
	}
	return h;
}

static void *reader(void *arg)
{
	(void)arg;
	struct nbd_handle *h = open_export(NULL);
	char *buf = malloc(PIECE);
	size_t i;
	while (buf && (i = atomic_fetch_add(&next, 1)) < n)
		if (nbd_pread(h, buf, lens[i], starts[i], 0) < 0) {
			fprintf(stderr, "hs-nbdread: %s\n", nbd_get_error());
			exit(1);
		}
	free(buf);
	nbd_close(h);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: hs-nbdread SOCKET EXPORT BITMAP-CONTEXT [CONNECTIONS]\n");
		return 2;
	}
	sock = argv[1];
	export = argv[2];
	int conns = argc > 4 ? atoi(argv[4]) : 4;
	if (conns < 1 || conns > 64)
		conns = 4;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct nbd_handle *h = open_export(argv[3]);
	int64_t size = nbd_get_size(h);
	for (uint64_t off = 0; size > 0 && off < (uint64_t)size;) {
		uint64_t ask = (uint64_t)size - off < (1u << 30) ? (uint64_t)size - off : (1u << 30);
		covered = off;
		nbd_extent_callback cb = { .callback = extent, .user_data = argv[3] };
		if (nbd_block_status(h, ask, off, cb, 0) < 0 || covered <= off) {
			fprintf(stderr, "hs-nbdread: %s\n", nbd_get_error() ? nbd_get_error() : "no progress in the map");
			return 1;
		}
		off = covered;
	}
	nbd_close(h);
	pthread_t th[64];
	for (int i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, reader, NULL);
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += lens[i];
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%llu %.3f\n", (unsigned long long)bytes,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
