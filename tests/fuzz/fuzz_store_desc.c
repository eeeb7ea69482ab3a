/* Fuzz the store description parser (hs_store_desc_parse, store/store.h):
 * hotspare-store.json as a store, a drive or a server hands it back, read
 * without a key, with one (an encrypted store's description must then
 * authenticate), and with the flags of keyless work and of the upgrade. */
#include "store/store.h"
#include "store/index.h"
#include "fuzz.h"
#include <string.h>

static const uint8_t master[HS_KEY_LEN] = { 3 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > HS_STORE_DESC_MAX)
		return 0;
	static const unsigned flags[] = { 0, HS_OPEN_NOKEY, HS_OPEN_ANY_VERSION, HS_OPEN_NOKEY | HS_OPEN_ANY_VERSION };
	for (int pass = 0; pass < 8; pass++) {
		bool keyed = pass >= 4;
		if (keyed) {
			struct hs_key *k;
			FUZZ_ASSERT(hs_key_from_bytes(master, &k) == 0);
			hs_key_set_current(k);
		}
		struct hs_backend be = { .where = (char *)"fuzz" };
		struct hs_store st = { .be = &be };
		/* As desc_read leaves it: the bytes, then a NUL. */
		FUZZ_ASSERT(hs_buf_reserve(&st.desc, size + 1) == 0);
		memcpy(st.desc.data, data, size);
		st.desc.data[size] = 0;
		st.desc.len = size;
		int r = hs_store_desc_parse(&st, flags[pass % 4]);
		fuzz_check_msg();
		if (r == 0) {
			FUZZ_ASSERT(hs_chunk_size_valid(st.chunk_size));
			FUZZ_ASSERT(!st.encrypted || strlen(st.fingerprint) == HS_KEY_FPR_HEX - 1);
			/* Opened without its key only when asked, and never with another's. */
			FUZZ_ASSERT(!st.encrypted || st.key || (flags[pass % 4] & HS_OPEN_NOKEY));
			FUZZ_ASSERT(!st.key || !strcmp(st.key->fingerprint, st.fingerprint));
			char *escrow = NULL;
			FUZZ_ASSERT(hs_store_escrow(&st, &escrow) == 0);
			free(escrow);
		} else {
			FUZZ_ASSERT(r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EACCES || r == -EKEYREJECTED);
		}
		hs_buf_free(&st.desc);
		if (keyed)
			hs_key_set_current(NULL);
	}
	return 0;
}
