/* A point's index: one moment of one server's disk, the digest of every chunk
 * position. Complete on its own: restoring it needs only it and its chunks.
 *
 * On disk (little-endian): a 256-byte header (magic "HSPOINT\0", format
 * version, kind, chunk size, image size, chunk count, time, byte counters,
 * ids, server), the zstd-compressed digest table, and a SHA-256 over all the
 * bytes before it, so truncation and corruption are both detected. */
#pragma once
#include <stdint.h>
#include <time.h>
#include "basics/buf.h"
#include "basics/digest.h"
#include "store/name.h"

#define HS_INDEX_VERSION 1
#define HS_INDEX_MAX_CHUNKS (1ull << 28) /* 256 Mi positions: 8 GiB of digests */
#define HS_IMAGE_MAX_SIZE (1ull << 52)   /* 4 PiB */

enum hs_point_kind { HS_KIND_SNAPSHOT = 1, HS_KIND_BACKUP = 2 };

struct hs_index {
	char server[HS_SERVER_MAX + 1];
	char id[HS_POINT_ID_LEN + 1];
	char base[HS_POINT_ID_LEN + 1]; /* snapshot a backup deduplicated against, or "" */
	uint32_t kind;
	uint32_t chunk_size;
	int64_t time;         /* UTC seconds; the id is its formatted form */
	uint64_t image_size;  /* bytes */
	uint64_t nchunks;     /* ceil(image_size / chunk_size) */
	uint64_t new_bytes;   /* compressed bytes of chunks this point added to its store */
	uint64_t ship_bytes;  /* compressed bytes of chunks it wrote to a shipped drive */
	struct hs_digest *digests; /* nchunks entries; all-zero digest = zero chunk */
};

/* Name of a kind ("snapshot", "backup"). */
const char *hs_kind_name(uint32_t kind);

/* Allocate an index for image_size bytes in chunk_size chunks, digests zeroed.
 * 0, -EINVAL (sizes out of range, with a message), -ENOMEM. */
int hs_index_new(uint64_t image_size, uint32_t chunk_size, struct hs_index **out);

/* Length in bytes of chunk position i (the last one may be short). */
uint32_t hs_index_chunk_len(const struct hs_index *ix, uint64_t i);

/* Serialise ix into out. 0 or -ENOMEM. */
int hs_index_encode(const struct hs_index *ix, struct hs_buf *out);

/* Parse and check an encoded index; what names where it came from, for messages.
 * 0, or -EBADMSG (corrupt, truncated, wrong magic, absurd values) or
 * -EPROTONOSUPPORT (unknown version), each with a one-line message. */
int hs_index_decode(const void *p, size_t n, const char *what, struct hs_index **out);

/* The most bytes an encoded index can be, for the first n bytes of one at
 * p: what its header says (its digest table's length, plus a little slack
 * so decode can name an over-long index); 1 MiB when they are not an index
 * header; while the header is incomplete, the most any index can be (for
 * HS_INDEX_MAX_CHUNKS). For limiting what a store sends (hs_buf's limit). */
size_t hs_index_encoded_max(const void *p, size_t n);

/* Free an index (NULL is fine). */
void hs_index_free(struct hs_index *ix);
static inline void hs_index_free_p(struct hs_index **p) { hs_index_free(*p); }

/* True if size is a valid chunk size: a power of two from 64 KiB to 4 MiB. */
int hs_chunk_size_valid(uint64_t size);
