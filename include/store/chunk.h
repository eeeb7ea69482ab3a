/* Chunks: a fixed-size piece of an image, stored as one zstd frame and named
 * by the SHA-256 of its plain content; in an encrypted store named by
 * HMAC-SHA-256 under the key's id key and sealed with AES-256-GCM (a fresh
 * random nonce per chunk, the id as associated data) after compression.
 * Compression contexts are per thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "basics/buf.h"
#include "basics/digest.h"

#define HS_ZSTD_LEVEL 3

struct hs_key;

/* The id of n plain bytes: SHA-256, or with key the keyed digest. */
void hs_chunk_id(const struct hs_key *key, const void *plain, size_t n, struct hs_digest *out);

/* Encode n plain bytes whose id is id for storage into out (replacing its
 * content): zstd at level, then sealed when key is given. 0 or -ENOMEM/-EIO. */
int hs_chunk_encode(const struct hs_key *key, const struct hs_digest *id, const void *plain, size_t n,
		    int level, struct hs_buf *out);

/* Decode a stored chunk into plain (exactly len bytes expected) and check it
 * against want. 0, or -EBADMSG if it does not open (key), decompress to len
 * bytes or match its id (the caller names the chunk and its source). */
int hs_chunk_decode(const struct hs_key *key, const void *z, size_t zn, const struct hs_digest *want,
		    void *plain, size_t len);

/* The most bytes a stored chunk of chunk_size plain bytes can be: zstd's
 * bound plus what encryption adds. A fetched body past it is refused. */
size_t hs_chunk_stored_max(size_t chunk_size);

/* Store key of a chunk: "chunks/<first 2 hex>/<64 hex>.zst" (".enc" when
 * encrypted): 256 directories, as restic does: few mkdirs, and ext4 indexes
 * big directories. */
void hs_chunk_key(const struct hs_digest *d, bool encrypted, char out[96]);
