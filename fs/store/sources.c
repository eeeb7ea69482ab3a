/* Reading verified chunks from seeds and the store; see sources.h. */
#include "store/sources.h"
#include "store/chunk.h"
#include "basics/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hs_sources_open(struct hs_store *store, char **seeds, size_t nseeds, struct hs_sources *out)
{
	out->v = calloc(nseeds + 1, sizeof *out->v);
	if (!out->v) {
		hs_store_close(store);
		return -ENOMEM;
	}
	out->n = 0;
	for (size_t i = 0; i < nseeds; i++) {
		struct hs_store *s;
		/* A store opened without its key (a keyless replicate) takes its seeds so too. */
		int r = hs_store_open_flags(seeds[i], store->encrypted && !store->key ? HS_OPEN_NOKEY : 0, &s);
		if (r < 0) {
			char msg[600];
			snprintf(msg, sizeof msg, "seed %s: %s", seeds[i], hs_err_msg() ? hs_err_msg() : strerror(-r));
			hs_err_set_msg(msg);
			hs_sources_close(out);
			hs_store_close(store);
			return r;
		}
		out->v[out->n++] = s;
		if (s->chunk_size != store->chunk_size || s->encrypted != store->encrypted ||
		    strcmp(s->fingerprint, store->fingerprint) != 0) {
			r = s->chunk_size != store->chunk_size
				    ? hs_err(EINVAL, "seed %s has chunk size %u but the store has %u", seeds[i],
					     s->chunk_size, store->chunk_size)
				    : hs_err(EINVAL, "seed %s is %s, unlike the store %s", seeds[i],
					     s->encrypted ? (store->encrypted ? "encrypted with another key" : "encrypted")
							  : "not encrypted",
					     store->be->where);
			hs_sources_close(out);
			hs_store_close(store);
			return r;
		}
	}
	out->v[out->n++] = store;
	return 0;
}

void hs_sources_close(struct hs_sources *s)
{
	for (size_t i = 0; i < s->n; i++)
		hs_store_close(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Fetches of a copy that fails its digest, from a source over a network: a
 * body damaged in transit (a proxy, a truncation) is worth fetching again. */
#define REMOTE_CORRUPT_TRIES 3

int hs_sources_read(const struct hs_sources *s, const struct hs_digest *d, void *plain, size_t len,
		    struct hs_buf *scratch, size_t *from)
{
	int corrupt = 0, failed = 0;
	char hex[HS_DIGEST_HEX];
	for (size_t i = 0; i < s->n; i++) {
		int tries = s->v[i]->be->remote ? REMOTE_CORRUPT_TRIES : 1;
		for (int t = 0; t < tries; t++) {
			int r = hs_store_chunk_get(s->v[i], d, scratch);
			if (r == -ENOENT)
				break;
			if (r < 0) {
				/* A source that cannot be read now: try the next; report the first failure. */
				if (!failed && !corrupt)
					failed = r;
				break;
			}
			r = hs_store_chunk_decode(s->v[i], scratch->data, scratch->len, d, plain, len);
			if (r == 0) {
				*from = i;
				return 0;
			}
			if (r != -EBADMSG)
				return r;
			hs_digest_hex(d, hex);
			if (!corrupt && tries > 1)
				hs_err(EIO, "chunk %s in %s is corrupt (does not match its digest, fetched %d times)",
				       hex, s->v[i]->be->where, tries);
			else if (!corrupt)
				hs_err(EIO, "chunk %s in %s is corrupt (does not match its digest)", hex,
				       s->v[i]->be->where);
			corrupt = 1;
		}
	}
	if (corrupt)
		return -EIO;
	if (failed)
		return failed;
	hs_digest_hex(d, hex);
	return hs_err(ENOENT, "chunk %s is missing (not in %s%s)", hex, s->v[s->n - 1]->be->where,
		      s->n > 1 ? " nor any seed" : "");
}
