/* Chunks known to be bad: verify found a copy that does not match its digest
 * (or cannot be read) and no good copy anywhere. They are listed in the
 * store (object "bad-chunks", one hex digest a line) so that the next
 * capture into the store that has their content stores a good copy over the
 * bad one, instead of skipping it as present.
 *
 * A list rather than renaming the bad chunk aside (as Proxmox Backup Server
 * does): HTTP stores only GET, PUT and DELETE, S3 cannot rename, and a list
 * leaves every chunk where readers find it, so mounts and restores running
 * meanwhile see the store as before. It is read and rewritten under the
 * store's ".bad" lock. Only verify adds to it; readers never do. */
#pragma once
#include <stddef.h>
#include "basics/digest.h"
#include "basics/digestset.h"
#include "store/store.h"

/* The store's list into set (initialised here; empty when there is none).
 * 0 or -errno. */
int hs_badlist_load(struct hs_store *st, struct hs_dset *set);

/* Add n digests to the store's list. 0 or -errno. */
int hs_badlist_add(struct hs_store *st, const struct hs_digest *d, size_t n);

/* Remove the digests in done (good copies of them are stored now). 0 or -errno. */
int hs_badlist_remove(struct hs_store *st, const struct hs_dset *done);

/* A good copy of a listed chunk is stored over the bad one with
 * hs_store_chunk_replace (store.h). */
