/* The list of known-bad chunks; see badlist.h. */
#include "store/badlist.h"
#include "basics/buf.h"
#include "basics/err.h"
#include <string.h>

#define LIST_KEY "bad-chunks"
#define LIST_LOCK ".bad" /* no server name starts with '.' */

/* Parse the list object into set (digests; other lines are ignored). */
static int parse(const struct hs_buf *b, struct hs_dset *set)
{
	size_t i = 0;
	while (i < b->len) {
		size_t j = i;
		while (j < b->len && b->data[j] != '\n')
			j++;
		char line[HS_DIGEST_HEX];
		struct hs_digest d;
		if (j - i == HS_DIGEST_HEX - 1) {
			memcpy(line, b->data + i, j - i);
			line[j - i] = 0;
			if (hs_digest_parse(line, &d) == 0 && !hs_digest_is_zero(&d)) {
				int r = hs_dset_add(set, &d);
				if (r < 0)
					return r;
			}
		}
		i = j + 1;
	}
	return 0;
}

static int read_list(struct hs_store *st, struct hs_dset *set)
{
	struct hs_buf b = { 0 };
	int r = hs_dset_init(set, 64);
	if (r == 0)
		r = st->be->ops->get(st->be, LIST_KEY, &b);
	if (r == -ENOENT)
		r = 0;
	else if (r == 0)
		r = parse(&b, set);
	hs_buf_free(&b);
	return r;
}

/* Write set as the list, skipping the digests in drop (may be NULL). */
static int write_list(struct hs_store *st, const struct hs_dset *set, const struct hs_dset *drop)
{
	struct hs_buf b = { 0 };
	int r = 0;
	for (size_t k = 0; r == 0 && k < set->cap; k++) {
		const struct hs_digest *d = &set->slot[k];
		if (hs_digest_is_zero(d) || (drop && hs_dset_has(drop, d)))
			continue;
		char hex[HS_DIGEST_HEX];
		hs_digest_hex(d, hex);
		hex[HS_DIGEST_HEX - 1] = '\n';
		r = hs_buf_append(&b, hex, HS_DIGEST_HEX);
	}
	if (r == 0)
		r = st->be->ops->put(st->be, LIST_KEY, b.data ? (const void *)b.data : "", b.len, 0);
	if (r == 0)
		r = st->be->ops->sync(st->be);
	hs_buf_free(&b);
	return r;
}

int hs_badlist_load(struct hs_store *st, struct hs_dset *set)
{
	int r = read_list(st, set);
	if (r < 0) {
		hs_dset_free(set);
		return hs_err_keep(-r, "cannot read the list of bad chunks in %s: %s", st->be->where, strerror(-r));
	}
	return 0;
}

/* Read, change (add n digests, or drop those in drop), write, under the lock. */
static int update(struct hs_store *st, const struct hs_digest *add, size_t n, const struct hs_dset *drop)
{
	int token = -1;
	int r = st->be->ops->lock(st->be, LIST_LOCK, 1, &token);
	if (r < 0)
		return r;
	struct hs_dset set = { 0 };
	r = read_list(st, &set);
	size_t before = set.n;
	bool dropping = false;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = hs_dset_add(&set, &add[i]) < 0 ? -ENOMEM : 0;
	for (size_t k = 0; r == 0 && drop && !dropping && k < set.cap; k++)
		dropping = !hs_digest_is_zero(&set.slot[k]) && hs_dset_has(drop, &set.slot[k]);
	if (r == 0 && (set.n != before || dropping))
		r = write_list(st, &set, drop);
	hs_dset_free(&set);
	st->be->ops->unlock(st->be, token);
	if (r < 0)
		return hs_err_keep(-r, "cannot update the list of bad chunks in %s: %s", st->be->where, strerror(-r));
	return 0;
}

int hs_badlist_add(struct hs_store *st, const struct hs_digest *d, size_t n)
{
	return n ? update(st, d, n, NULL) : 0;
}

int hs_badlist_remove(struct hs_store *st, const struct hs_dset *done)
{
	return done->n ? update(st, NULL, 0, done) : 0;
}
