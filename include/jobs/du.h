/* du: what each server's points take in a store, and what deleting a server
 * would give back: per server, the bytes of its points (their images, their
 * data, the stored chunks they name), the stored bytes only its points name,
 * and its dedup factor; for the store, the chunks no point names (what gc
 * would free) and the trash. Reads every point's tables, needs no key. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "store/name.h"
#include "store/store.h"

struct hs_du_server {
	char name[HS_SERVER_MAX + 1];
	uint64_t points;
	uint64_t image_bytes;    /* the points' image sizes, summed */
	uint64_t data_bytes;     /* the points' non-zero chunks' plain bytes, summed */
	uint64_t chunks, stored_bytes;        /* distinct chunks its points name that the store holds */
	uint64_t unique_chunks, unique_bytes; /* of those, named by no other server's point */
	uint64_t elsewhere_chunks;            /* named, not in the store (on a drive) */
	double dedup;            /* data_bytes / stored_bytes (0 when nothing is stored) */
};

struct hs_du_result {
	struct hs_du_server *servers; /* sorted by name; only the one asked for, if one was */
	size_t nservers;
	uint64_t chunks, bytes;                  /* every chunk the store holds, trash included */
	uint64_t unnamed_chunks, unnamed_bytes;  /* named by no point (nor pruned point) */
	uint64_t pruned_chunks, pruned_bytes;    /* named by pruned points only (gc deletes those) */
	uint64_t trash_chunks, trash_bytes;      /* of all, those in the trash */
	uint64_t data_bytes;                     /* every server's data_bytes */
	double dedup;                            /* data_bytes / bytes */
	double seconds;
};

/* Measure the store (server NULL: every server, else that one, which must
 * have points: -ENOENT with a message). 0 or -errno; free with hs_du_free. */
int hs_du(struct hs_store *st, const char *server, struct hs_du_result *res);
void hs_du_free(struct hs_du_result *res);
