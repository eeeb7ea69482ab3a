/* Fuzz chunk decoding (store/chunk.h): hs_chunk_decode over what a store, a
 * seed or a server hands back as a stored chunk, plain and keyed. The first
 * byte picks the case, the rest is the stored chunk:
 *   0  plain: decoded against the digest of what zstd itself makes of it,
 *      so a chunk that decompresses to its length must decode, to the same bytes
 *   1  keyed, as given (it must not open: nobody here sealed it)
 *   2  keyed, sealed here first under the chunk's keyed id: it must open
 *      exactly when case 0 would decode */
#include "store/chunk.h"
#include "store/key.h"
#include "fuzz.h"
#include <string.h>
#include <zstd.h>

#define CHUNK_MAX (4u << 20)

static struct hs_key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	uint8_t master[HS_KEY_LEN] = { 9 };
	if (hs_key_from_bytes(master, &key) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0] % 3;
	uint8_t *z = fuzz_dup(data + 1, size - 1, 0);
	size_t zn = size - 1;
	/* The length a caller would expect: what the frame says, when a chunk can be that long. */
	unsigned long long declared = ZSTD_getFrameContentSize(z, zn);
	size_t len = declared <= CHUNK_MAX ? (size_t)declared : 65536;
	uint8_t *plain = malloc(len ? len : 1), *ref = malloc(len ? len : 1);
	FUZZ_ASSERT(plain && ref);
	size_t got = ZSTD_decompress(ref, len, z, zn);
	bool good = !ZSTD_isError(got) && got == len && declared == len;
	struct hs_digest want;
	int r;
	if (mode == 0) {
		hs_chunk_id(NULL, ref, good ? len : 0, &want);
		r = hs_chunk_decode(NULL, z, zn, &want, plain, len);
		FUZZ_ASSERT(good ? r == 0 && memcmp(plain, ref, len) == 0 : r == -EBADMSG);
	} else if (mode == 1) {
		memset(&want, 0x5a, sizeof want);
		r = hs_chunk_decode(key, z, zn, &want, plain, len);
		FUZZ_ASSERT(r == -EBADMSG);
	} else {
		hs_chunk_id(key, ref, good ? len : 0, &want);
		uint8_t *sealed = malloc(zn + HS_SEAL_OVERHEAD);
		FUZZ_ASSERT(sealed && hs_seal(key->chunk_key, want.b, HS_DIGEST_LEN, z, zn, sealed) == 0);
		r = hs_chunk_decode(key, sealed, zn + HS_SEAL_OVERHEAD, &want, plain, len);
		FUZZ_ASSERT(good ? r == 0 && memcmp(plain, ref, len) == 0 : r == -EBADMSG);
		/* One byte short: never opens. */
		r = hs_chunk_decode(key, sealed, zn + HS_SEAL_OVERHEAD - 1, &want, plain, len);
		FUZZ_ASSERT(r == -EBADMSG);
		free(sealed);
	}
	fuzz_check_msg();
	free(plain);
	free(ref);
	free(z);
	return 0;
}
