/* Digest set; see digestset.h. Digests are uniform, so their first 8 bytes hash. */
#include "basics/digestset.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(const struct hs_digest *d, size_t cap)
{
	uint64_t h;
	memcpy(&h, d->b, sizeof h);
	return (size_t)h & (cap - 1);
}

int hs_dset_init(struct hs_dset *s, size_t expected)
{
	size_t cap = 64;
	while (cap < expected * 2)
		cap *= 2;
	s->slot = calloc(cap, sizeof *s->slot);
	if (!s->slot)
		return -ENOMEM;
	s->cap = cap;
	s->n = 0;
	return 0;
}

static void insert(struct hs_digest *slot, size_t cap, const struct hs_digest *d)
{
	size_t i = slot_of(d, cap);
	while (!hs_digest_is_zero(&slot[i]))
		i = (i + 1) & (cap - 1);
	slot[i] = *d;
}

int hs_dset_add(struct hs_dset *s, const struct hs_digest *d)
{
	if (hs_dset_has(s, d))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap * 2;
		struct hs_digest *n = calloc(cap, sizeof *n);
		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (!hs_digest_is_zero(&s->slot[i]))
				insert(n, cap, &s->slot[i]);
		free(s->slot);
		s->slot = n;
		s->cap = cap;
	}
	insert(s->slot, s->cap, d);
	s->n++;
	return 1;
}

bool hs_dset_has(const struct hs_dset *s, const struct hs_digest *d)
{
	size_t i = slot_of(d, s->cap);
	while (!hs_digest_is_zero(&s->slot[i])) {
		if (hs_digest_eq(&s->slot[i], d))
			return true;
		i = (i + 1) & (s->cap - 1);
	}
	return false;
}

void hs_dset_free(struct hs_dset *s)
{
	free(s->slot);
	s->slot = NULL;
	s->cap = s->n = 0;
}
