/* The benchmarks' store of many big points, written directly (capturing
 * a 1 TiB image a hundred times would take the bench hours): N points of
 * one server, one a day, each of one disk of SIZE GiB in the store's chunk
 * size, a snapshot every 30 days and backups between, with a sprinkle of
 * non-zero digests (one chunk in 256, different in each point) so each
 * digest table is as large as a real one of that image and compresses as
 * real ones do. The chunks themselves are not written: a listing never reads
 * them (verify or restore of these points would say they are missing).
 * usage: hs-bench-points STORE SERVER N SIZE_GIB */
#include "store/store.h"
#include "basics/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: hs-bench-points STORE SERVER N SIZE_GIB\n");
		return 2;
	}
	const char *where = argv[1], *server = argv[2];
	int n = atoi(argv[3]);
	uint64_t size = strtoull(argv[4], NULL, 10) << 30;
	struct hs_store *st = NULL;
	int token = -1, r = hs_server_name_check(server);
	if (r == 0)
		r = hs_store_open(where, &st);
	if (r == 0)
		r = hs_store_lock_server(st, server, &token);
	struct hs_index *ix = NULL;
	if (r == 0)
		r = hs_index_new(size, st->chunk_size, &ix);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char snapshot[HS_POINT_ID_LEN + 1] = "";
	for (int k = 0; r == 0 && k < n; k++) {
		memset(ix->digests, 0, ix->nchunks * sizeof *ix->digests);
		for (uint64_t i = (uint64_t)k % 256; i < ix->nchunks; i += 256)
			for (int b = 0; b < HS_DIGEST_LEN; b++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				ix->digests[i].b[b] = (uint8_t)x;
			}
		snprintf(ix->server, sizeof ix->server, "%s", server);
		ix->time = 1767225600 + (int64_t)k * 86400; /* from 2026-01-01, a day apart */
		hs_point_id_format(ix->time, ix->id);
		ix->kind = k % 30 == 0 ? HS_KIND_SNAPSHOT : HS_KIND_BACKUP;
		if (ix->kind == HS_KIND_SNAPSHOT)
			snprintf(snapshot, sizeof snapshot, "%s", ix->id);
		snprintf(ix->base, sizeof ix->base, "%s", ix->kind == HS_KIND_BACKUP ? snapshot : "");
		ix->consistency = HS_CRASH_CONSISTENT;
		ix->read_bytes = size;
		ix->new_bytes = (uint64_t)(ix->nchunks / 256) * 4096;
		r = hs_store_point_put1(st, ix);
	}
	hs_index_free(ix);
	if (token >= 0)
		hs_store_unlock(st, token);
	hs_store_close(st);
	if (r < 0) {
		fprintf(stderr, "hs-bench-points: %s\n", hs_err_msg() ? hs_err_msg() : strerror(-r));
		return 1;
	}
	return 0;
}
