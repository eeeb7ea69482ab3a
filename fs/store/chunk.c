/* Chunk compression and verification; see chunk.h. */
#include "store/chunk.h"
#include "store/key.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdio.h>
#include <zstd.h>

/* One compression and one decompression context per thread, and a buffer for
 * opened chunks, freed at thread exit through a key destructor (reusing them
 * saves an allocation per chunk). */
static pthread_key_t cctx_key, dctx_key, open_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *p) { ZSTD_freeCCtx(p); }
static void free_dctx(void *p) { ZSTD_freeDCtx(p); }
static void free_open(void *p) { hs_buf_free(p); free(p); }
static void make_keys(void)
{
	pthread_key_create(&cctx_key, free_cctx);
	pthread_key_create(&dctx_key, free_dctx);
	pthread_key_create(&open_key, free_open);
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

/* This thread's buffer for opened (decrypted) chunks. */
static struct hs_buf *open_buf(void)
{
	pthread_once(&keys_once, make_keys);
	struct hs_buf *b = pthread_getspecific(open_key);
	if (!b && (b = calloc(1, sizeof *b)) && pthread_setspecific(open_key, b) != 0) {
		free(b);
		b = NULL;
	}
	return b;
}

void hs_chunk_id(const struct hs_key *key, const void *plain, size_t n, struct hs_digest *out)
{
	if (key)
		hs_hmac256(key->id_key, plain, n, out->b);
	else
		hs_digest_compute(plain, n, out);
}

size_t hs_chunk_stored_max(size_t chunk_size)
{
	return ZSTD_compressBound(chunk_size) + HS_SEAL_OVERHEAD;
}

int hs_chunk_encode(const struct hs_key *key, const struct hs_digest *id, const void *plain, size_t n,
		    int level, struct hs_buf *out)
{
	ZSTD_CCtx *c = cctx();
	struct hs_buf *tmp = key ? open_buf() : out;
	if (!c || !tmp)
		return -ENOMEM;
	size_t bound = ZSTD_compressBound(n);
	int r = hs_buf_reserve(tmp, bound);
	if (r == 0 && key)
		r = hs_buf_reserve(out, bound + HS_SEAL_OVERHEAD);
	if (r < 0)
		return r;
	size_t z = ZSTD_compressCCtx(c, tmp->data, bound, plain, n, level);
	if (ZSTD_isError(z))
		return -EIO;
	if (!key) {
		out->len = z;
		return 0;
	}
	r = hs_seal(key->chunk_key, id->b, HS_DIGEST_LEN, tmp->data, z, out->data);
	out->len = r == 0 ? z + HS_SEAL_OVERHEAD : 0;
	return r;
}

int hs_chunk_decode(const struct hs_key *key, const void *z, size_t zn, const struct hs_digest *want,
		    void *plain, size_t len)
{
	ZSTD_DCtx *d = dctx();
	if (!d)
		return -ENOMEM;
	if (key) {
		struct hs_buf *b = open_buf();
		if (!b || (zn >= HS_SEAL_OVERHEAD && hs_buf_reserve(b, zn) < 0))
			return -ENOMEM;
		if (hs_unseal(key->chunk_key, want->b, HS_DIGEST_LEN, z, zn, b->data) < 0)
			return -EBADMSG;
		z = b->data;
		zn -= HS_SEAL_OVERHEAD;
	}
	unsigned long long declared = ZSTD_getFrameContentSize(z, zn);
	if (declared != len)
		return -EBADMSG;
	size_t got = ZSTD_decompressDCtx(d, plain, len, z, zn);
	if (ZSTD_isError(got) || got != len)
		return -EBADMSG;
	struct hs_digest have;
	hs_chunk_id(key, plain, len, &have);
	return hs_digest_eq(&have, want) ? 0 : -EBADMSG;
}

void hs_chunk_key(const struct hs_digest *d, bool encrypted, char out[96])
{
	char hex[HS_DIGEST_HEX];
	hs_digest_hex(d, hex);
	snprintf(out, 96, "chunks/%.2s/%s.%s", hex, hex, encrypted ? "enc" : "zst");
}
