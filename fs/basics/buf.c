/* Growable byte buffer; see buf.h. */
#include "basics/buf.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int hs_buf_reserve(struct hs_buf *b, size_t cap)
{
	if (cap <= b->cap)
		return 0;
	size_t n = b->cap ? b->cap : 4096;
	while (n < cap)
		n *= 2;
	unsigned char *p = realloc(b->data, n);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = n;
	return 0;
}

size_t hs_buf_limit(const struct hs_buf *b)
{
	size_t max = b->max, known = b->limit ? b->limit(b) : 0;
	return known && (!max || known < max) ? known : max;
}

int hs_buf_append(struct hs_buf *b, const void *p, size_t n)
{
	size_t max = hs_buf_limit(b);
	if (max && (b->len > max || n > max - b->len))
		return -EFBIG;
	if (n == 0)
		return 0; /* nothing to copy, maybe nowhere to copy it (data NULL) */
	int r = hs_buf_reserve(b, b->len + n);
	if (r < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int hs_grow(void *pp, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *p = realloc(*(void **)pp, n * size);
	if (!p)
		return -ENOMEM;
	*(void **)pp = p;
	*cap = n;
	return 0;
}

void hs_buf_free(struct hs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
