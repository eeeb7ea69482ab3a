/* An index: one disk of one point, the digest of every chunk position.
 * Complete on its own: restoring the disk needs only it and its chunks. A
 * point (point.h) holds one index per disk of its server; each index also
 * carries the point's own fields, so a job on one disk needs nothing else. */
#pragma once
#include <stdint.h>
#include <time.h>
#include "basics/buf.h"
#include "basics/digest.h"
#include "store/name.h"

#define HS_INDEX_MAX_CHUNKS (1ull << 28) /* 256 Mi positions: 8 GiB of digests */
#define HS_IMAGE_MAX_SIZE (1ull << 52)   /* 4 PiB */

enum hs_point_kind { HS_KIND_SNAPSHOT = 1, HS_KIND_BACKUP = 2 };

struct hs_index {
	char server[HS_SERVER_MAX + 1];
	char disk[HS_DISK_MAX + 1];     /* the disk's name ("disk0" for a one-SOURCE capture) */
	char id[HS_POINT_ID_LEN + 1];
	char base[HS_POINT_ID_LEN + 1]; /* snapshot a backup deduplicated against, or "" */
	uint32_t kind;
	uint32_t chunk_size;
	uint32_t consistency; /* enum hs_consistency (point.h) */
	int64_t time;         /* UTC seconds; the id is its formatted form */
	uint64_t image_size;  /* bytes */
	uint64_t nchunks;     /* ceil(image_size / chunk_size) */
	uint64_t new_bytes;   /* compressed bytes of chunks this point added to its store */
	uint64_t ship_bytes;  /* compressed bytes of chunks it wrote to a shipped drive */
	uint64_t read_bytes;  /* bytes read to capture it (image_size unless incremental) */
	struct hs_digest *digests; /* nchunks entries; all-zero digest = zero chunk */
};

/* Name of a kind ("snapshot", "backup"). */
const char *hs_kind_name(uint32_t kind);

/* Allocate an index for image_size bytes in chunk_size chunks, digests zeroed,
 * its disk named HS_DISK_DEFAULT.
 * 0, -EINVAL (sizes out of range, with a message), -ENOMEM. */
int hs_index_new(uint64_t image_size, uint32_t chunk_size, struct hs_index **out);

/* Length in bytes of chunk position i (the last one may be short). */
uint32_t hs_index_chunk_len(const struct hs_index *ix, uint64_t i);

/* Free an index (NULL is fine). */
void hs_index_free(struct hs_index *ix);
static inline void hs_index_free_p(struct hs_index **p) { hs_index_free(*p); }

/* True if size is a valid chunk size: a power of two from 64 KiB to 4 MiB. */
int hs_chunk_size_valid(uint64_t size);
