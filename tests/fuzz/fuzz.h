/* What the libFuzzer harnesses share: properties every parser keeps whatever
 * its input. A broken property aborts, which libFuzzer reports as a crash
 * and keeps the input. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "basics/err.h"

/* Abort with a line naming the property when cond is false. */
#define FUZZ_ASSERT(cond)                                                                   \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* An error's message is one line of printable text (an input's bytes are
 * escaped before they are quoted), then forgotten for the next call. */
static inline void fuzz_check_msg(void)
{
	const char *m = hs_err_msg();
	for (const unsigned char *p = (const unsigned char *)m; p && *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "a message holds byte 0x%02x: %s\n", *p, m);
			abort();
		}
	hs_err_clear();
}

/* A copy of n bytes in a buffer of exactly n bytes (plus a NUL when nul), so
 * the sanitizer sees any read past them. */
static inline void *fuzz_dup(const uint8_t *d, size_t n, int nul)
{
	unsigned char *p = malloc(n + (nul ? 1 : 0) + (n || nul ? 0 : 1));
	if (!p)
		abort();
	for (size_t i = 0; i < n; i++)
		p[i] = d[i];
	if (nul)
		p[n] = 0;
	return p;
}
