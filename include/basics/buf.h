/* A growable byte buffer: what backends return for objects of unknown size. */
#pragma once
#include <stddef.h>

struct hs_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
	/* The most bytes the buffer may hold, 0 for no limit: an object read
	 * from elsewhere is refused past what it can be (-EFBIG) instead of
	 * being read without end. Kept by hs_buf_free. */
	size_t max;
	/* Optional: a tighter limit learnt from the bytes held so far (an
	 * index's header says how long it is); 0 when they do not tell yet. */
	size_t (*limit)(const struct hs_buf *b);
};

/* Make room for at least cap bytes in total. 0 or -ENOMEM. */
int hs_buf_reserve(struct hs_buf *b, size_t cap);

/* Append n bytes. 0, -ENOMEM, or -EFBIG past the buffer's limit
 * (hs_buf_limit; nothing appended). */
int hs_buf_append(struct hs_buf *b, const void *p, size_t n);

/* The most bytes b may hold given what it holds: max, tightened by
 * limit(); 0 for no limit. */
size_t hs_buf_limit(const struct hs_buf *b);

/* Release the memory and reset to empty (the limits stay). */
void hs_buf_free(struct hs_buf *b);

/* Grow the array *pp of elements of size bytes, whose capacity is *cap, so
 * that it holds at least need elements (doubling, from 16). 0 or -ENOMEM;
 * on failure the array is unchanged. */
int hs_grow(void *pp, size_t *cap, size_t need, size_t size);
