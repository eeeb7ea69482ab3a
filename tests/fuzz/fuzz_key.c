/* Fuzz key files (hs_key_parse, store/key.h): the JSON a key file holds,
 * plain or wrapped with a passphrase (this harness's is "fuzz"), with or
 * without an escrow copy. */
#include "store/key.h"
#include "fuzz.h"
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = fuzz_dup(data, size, 0);
	for (int pass = 0; pass < 2; pass++) {
		struct hs_key *k = NULL;
		int r = hs_key_parse(text, size, "fuzz.key", pass ? "fuzz" : NULL, &k);
		fuzz_check_msg();
		if (r == 0) {
			FUZZ_ASSERT(strlen(k->fingerprint) == HS_KEY_FPR_HEX - 1);
			hs_key_free(k);
		} else {
			FUZZ_ASSERT(r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EACCES || r == -EIO ||
				    r == -ENOMEM);
			FUZZ_ASSERT(!k);
		}
	}
	free(text);
	return 0;
}
