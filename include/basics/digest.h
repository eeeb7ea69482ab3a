/* Chunk digests: SHA-256 of a chunk's plain content (OpenSSL EVP, which uses
 * the CPU's SHA instructions). The all-zero digest stands for the zero chunk. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_DIGEST_LEN 32
#define HS_DIGEST_HEX (2 * HS_DIGEST_LEN + 1)

struct hs_digest {
	uint8_t b[HS_DIGEST_LEN];
};

/* SHA-256 of n bytes into d. */
void hs_digest_compute(const void *p, size_t n, struct hs_digest *d);

/* True if d is the all-zero sentinel (a chunk of zeros, never stored). */
bool hs_digest_is_zero(const struct hs_digest *d);

/* True if the two digests are equal. */
bool hs_digest_eq(const struct hs_digest *a, const struct hs_digest *b);

/* Lower-case hex of d into out (HS_DIGEST_HEX bytes, NUL-terminated). */
void hs_digest_hex(const struct hs_digest *d, char out[HS_DIGEST_HEX]);

/* Parse 64 hex characters. 0, or -EINVAL if s is not a digest. */
int hs_digest_parse(const char *s, struct hs_digest *d);

/* True if all n bytes at p are zero (fast: word-wise). */
bool hs_is_zero(const void *p, size_t n);
