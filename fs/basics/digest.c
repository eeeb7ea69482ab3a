/* SHA-256 digests through OpenSSL's one-shot EVP call; see digest.h. */
#include "basics/digest.h"
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

void hs_digest_compute(const void *p, size_t n, struct hs_digest *d)
{
	unsigned int len = HS_DIGEST_LEN;
	/* EVP_Digest with a static EVP_MD cannot fail for in-memory input. */
	EVP_Digest(p, n, d->b, &len, EVP_sha256(), NULL);
}

bool hs_digest_is_zero(const struct hs_digest *d)
{
	return hs_is_zero(d->b, sizeof d->b);
}

bool hs_digest_eq(const struct hs_digest *a, const struct hs_digest *b)
{
	return memcmp(a->b, b->b, HS_DIGEST_LEN) == 0;
}

void hs_digest_hex(const struct hs_digest *d, char out[HS_DIGEST_HEX])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < HS_DIGEST_LEN; i++) {
		out[2 * i] = hex[d->b[i] >> 4];
		out[2 * i + 1] = hex[d->b[i] & 15];
	}
	out[2 * HS_DIGEST_LEN] = 0;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hs_digest_parse(const char *s, struct hs_digest *d)
{
	for (int i = 0; i < HS_DIGEST_LEN; i++) {
		int hi = nibble(s[2 * i]), lo = hi < 0 ? -1 : nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		d->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[2 * HS_DIGEST_LEN] == 0 ? 0 : -EINVAL;
}

bool hs_is_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	/* Check the head byte-wise, then compare the buffer against itself shifted:
	 * memcmp is vectorised, so this runs at memory speed. */
	if (n == 0)
		return true;
	if (c[0] != 0)
		return false;
	size_t head = n < 64 ? n : 64;
	for (size_t i = 0; i < head; i++)
		if (c[i])
			return false;
	return n <= 64 || memcmp(c, c + 64, n - 64) == 0;
}
