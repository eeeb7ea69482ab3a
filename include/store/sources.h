/* The ordered places a chunk is read from: the seeds, then the store. The
 * first good copy wins; a copy that fails its digest is skipped, never used. */
#pragma once
#include <stddef.h>
#include "basics/buf.h"
#include "basics/digest.h"
#include "store/store.h"

struct hs_sources {
	struct hs_store **v; /* seeds first, the store last */
	size_t n;
};

/* Open the seeds (store directories) in front of store, which the sources
 * then own (also on failure). Each seed must have the store's chunk size. 0 or -errno. */
int hs_sources_open(struct hs_store *store, char **seeds, size_t nseeds,
		    struct hs_sources *out);

/* Close every source (including the store). */
void hs_sources_close(struct hs_sources *s);

/* Read chunk d (len plain bytes) into plain from the first source holding a
 * good copy; scratch holds the compressed bytes. *from is the source used.
 * 0; -ENOENT if no source has it; -EIO if every copy is corrupt; -errno.
 * Messages name the chunk and the source. */
int hs_sources_read(const struct hs_sources *s, const struct hs_digest *d, void *plain,
		    size_t len, struct hs_buf *scratch, size_t *from);
