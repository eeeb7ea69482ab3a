/* A growable byte buffer: what backends return for objects of unknown size. */
#pragma once
#include <stddef.h>

struct hs_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

/* Make room for at least cap bytes in total. 0 or -ENOMEM. */
int hs_buf_reserve(struct hs_buf *b, size_t cap);

/* Append n bytes. 0 or -ENOMEM. */
int hs_buf_append(struct hs_buf *b, const void *p, size_t n);

/* Release the memory and reset to empty. */
void hs_buf_free(struct hs_buf *b);

/* Grow the array *pp of elements of size bytes, whose capacity is *cap, so
 * that it holds at least need elements (doubling, from 16). 0 or -ENOMEM;
 * on failure the array is unchanged. */
int hs_grow(void *pp, size_t *cap, size_t need, size_t size);
