/* A set of chunk digests (open addressing; the all-zero digest marks an empty
 * slot, which is fine because the zero chunk is never looked up). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "basics/digest.h"

struct hs_dset {
	struct hs_digest *slot;
	size_t cap; /* power of two */
	size_t n;
};

/* An empty set sized for about expected digests. 0 or -ENOMEM. */
int hs_dset_init(struct hs_dset *s, size_t expected);

/* Add d (not the zero digest). 1 if added, 0 if present, -ENOMEM. */
int hs_dset_add(struct hs_dset *s, const struct hs_digest *d);

/* True if d is in the set. */
bool hs_dset_has(const struct hs_dset *s, const struct hs_digest *d);

/* Free the set's memory. */
void hs_dset_free(struct hs_dset *s);
