/* A store's chunks listed into a table sorted by digest, for retention (gc,
 * du): each chunk's stored size and a byte of flags its user defines, found
 * again by digest in about one probe (a bucket index over the digests' first
 * bits: they are uniform). 40 bytes a chunk, plus about one for the index. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "basics/digest.h"
#include "store/store.h"

struct hs_chunk_ent {
	struct hs_digest d;
	uint32_t size;  /* stored bytes */
	uint8_t flags;  /* the user's */
};

struct hs_chunk_table {
	struct hs_chunk_ent *v;
	size_t n, cap;
	uint32_t *idx;  /* bucket b is v[idx[b]] .. v[idx[b + 1] - 1] */
	unsigned shift;
};

/* Add every chunk object under base ("chunks" or "trash/chunks") with flag,
 * and old_flag too when its copy was modified before old_before (UTC
 * seconds). Only names of the store's own form count; anything else under
 * base is no chunk. Before hs_chunk_table_index. 0, -ENOMEM, -errno. */
int hs_chunk_table_list(struct hs_chunk_table *t, struct hs_store *st, const char *base, uint8_t flag,
			uint8_t old_flag, int64_t old_before);

/* Sort, merge the copies of one chunk (their flags or'ed; the size of the
 * copy listed with prefer_flag, when there is one), and index. 0 or -ENOMEM. */
int hs_chunk_table_index(struct hs_chunk_table *t, uint8_t prefer_flag);

/* The entry of d, or NULL. */
struct hs_chunk_ent *hs_chunk_table_find(const struct hs_chunk_table *t, const struct hs_digest *d);

void hs_chunk_table_free(struct hs_chunk_table *t);
