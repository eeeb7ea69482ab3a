/* Chunks: a fixed-size piece of an image, stored as one zstd frame and named
 * by the SHA-256 of its plain content. Compression contexts are per thread. */
#pragma once
#include <stddef.h>
#include "basics/buf.h"
#include "basics/digest.h"

#define HS_ZSTD_LEVEL 3

/* Room for what encryption adds to a stored chunk (its header, nonce and
 * tag), so the limit on fetched chunks already fits encrypted stores. */
#define HS_CHUNK_CRYPT_OVERHEAD 64

/* The most bytes a stored chunk of chunk_size plain bytes can be: zstd's
 * bound plus HS_CHUNK_CRYPT_OVERHEAD. A fetched body past it is refused. */
size_t hs_chunk_stored_max(size_t chunk_size);

/* Compress n plain bytes into out (replacing its content). 0 or -ENOMEM/-EIO. */
int hs_chunk_compress(const void *plain, size_t n, int level, struct hs_buf *out);

/* Decompress a stored chunk into plain (exactly len bytes expected) and check
 * it against want. 0, or -EBADMSG if it does not decompress to len bytes or
 * does not match its digest (the caller names the chunk and its source). */
int hs_chunk_decode(const void *z, size_t zn, const struct hs_digest *want, void *plain,
		    size_t len);

/* Store key of a chunk: "chunks/<first 2 hex>/<64 hex>.zst" (256 directories,
 * as restic does: few mkdirs, and ext4 indexes big directories). */
void hs_chunk_key(const struct hs_digest *d, char out[96]);
