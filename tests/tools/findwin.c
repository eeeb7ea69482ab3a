/* findwin MARKER FILE...: does any FILE hold any 32-byte window of MARKER?
 * Prints "FILE OFFSET" for each file that does and exits 1; exits 0 when
 * none does. Every window of the marker goes into a hash table keyed by a
 * rolling hash, and each file is scanned once with the same rolling hash, so
 * the search is exact and linear in the bytes read (the tests search whole
 * stores for plaintext of a known random marker). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIN 32
#define BASE 1099511628211ull /* odd: the rolling hash is invertible mod 2^64 */

static uint64_t pow_win; /* BASE^(WIN-1) */
static unsigned char *marker;
static size_t mlen;
static uint32_t *slots; /* window start + 1, 0: empty */
static size_t nslots;

static uint64_t hash_of(const unsigned char *p)
{
	uint64_t h = 0;
	for (int i = 0; i < WIN; i++)
		h = h * BASE + p[i];
	return h;
}

static void put(uint64_t h, size_t at)
{
	size_t i = (size_t)(h ^ (h >> 29)) & (nslots - 1);
	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = (uint32_t)at + 1;
}

/* Is the window at p one of the marker's? */
static int found(uint64_t h, const unsigned char *p)
{
	for (size_t i = (size_t)(h ^ (h >> 29)) & (nslots - 1); slots[i]; i = (i + 1) & (nslots - 1))
		if (!memcmp(marker + slots[i] - 1, p, WIN))
			return 1;
	return 0;
}

static unsigned char *load(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 20, len = 0;
	unsigned char *b = malloc(cap);
	size_t got;
	while (b && (got = fread(b + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			unsigned char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		return NULL;
	}
	*n = len;
	return b;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: findwin MARKER FILE...\n");
		return 2;
	}
	if (!(marker = load(argv[1], &mlen)) || mlen < WIN || mlen > UINT32_MAX - 1) {
		fprintf(stderr, "findwin: cannot use marker %s\n", argv[1]);
		return 2;
	}
	pow_win = 1;
	for (int i = 1; i < WIN; i++)
		pow_win *= BASE;
	for (nslots = 1; nslots < 2 * mlen; nslots *= 2)
		;
	if (!(slots = calloc(nslots, sizeof *slots)))
		return 2;
	for (size_t at = 0; at + WIN <= mlen; at++)
		put(hash_of(marker + at), at);
	int any = 0;
	for (int a = 2; a < argc; a++) {
		size_t n;
		unsigned char *b = load(argv[a], &n);
		if (!b) {
			fprintf(stderr, "findwin: cannot read %s: %s\n", argv[a], strerror(errno));
			return 2;
		}
		if (n >= WIN) {
			uint64_t h = hash_of(b);
			for (size_t at = 0;; at++) {
				if (found(h, b + at)) {
					printf("%s %zu\n", argv[a], at);
					any = 1;
					break;
				}
				if (at + WIN >= n)
					break;
				h = (h - b[at] * pow_win) * BASE + b[at + WIN];
			}
		}
		free(b);
	}
	return any;
}
