/* Chunk compression and verification; see chunk.h. */
#include "store/chunk.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <zstd.h>

/* One compression and one decompression context per thread, freed at thread
 * exit through a key destructor (reusing them saves an allocation per chunk). */
static pthread_key_t cctx_key, dctx_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *p) { ZSTD_freeCCtx(p); }
static void free_dctx(void *p) { ZSTD_freeDCtx(p); }
static void make_keys(void)
{
	pthread_key_create(&cctx_key, free_cctx);
	pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *cctx(void)
{
	pthread_once(&keys_once, make_keys);
	ZSTD_CCtx *c = pthread_getspecific(cctx_key);
	if (!c && (c = ZSTD_createCCtx()))
		pthread_setspecific(cctx_key, c);
	return c;
}

static ZSTD_DCtx *dctx(void)
{
	pthread_once(&keys_once, make_keys);
	ZSTD_DCtx *d = pthread_getspecific(dctx_key);
	if (!d && (d = ZSTD_createDCtx()))
		pthread_setspecific(dctx_key, d);
	return d;
}

size_t hs_chunk_stored_max(size_t chunk_size)
{
	return ZSTD_compressBound(chunk_size) + HS_CHUNK_CRYPT_OVERHEAD;
}

int hs_chunk_compress(const void *plain, size_t n, int level, struct hs_buf *out)
{
	ZSTD_CCtx *c = cctx();
	if (!c)
		return -ENOMEM;
	size_t bound = ZSTD_compressBound(n);
	int r = hs_buf_reserve(out, bound);
	if (r < 0)
		return r;
	size_t z = ZSTD_compressCCtx(c, out->data, bound, plain, n, level);
	if (ZSTD_isError(z))
		return -EIO;
	out->len = z;
	return 0;
}

int hs_chunk_decode(const void *z, size_t zn, const struct hs_digest *want, void *plain, size_t len)
{
	ZSTD_DCtx *d = dctx();
	if (!d)
		return -ENOMEM;
	unsigned long long declared = ZSTD_getFrameContentSize(z, zn);
	if (declared != len)
		return -EBADMSG;
	size_t got = ZSTD_decompressDCtx(d, plain, len, z, zn);
	if (ZSTD_isError(got) || got != len)
		return -EBADMSG;
	struct hs_digest have;
	hs_digest_compute(plain, len, &have);
	return hs_digest_eq(&have, want) ? 0 : -EBADMSG;
}

void hs_chunk_key(const struct hs_digest *d, char out[96])
{
	char hex[HS_DIGEST_HEX];
	hs_digest_hex(d, hex);
	snprintf(out, 96, "chunks/%.2s/%s.zst", hex, hex);
}
