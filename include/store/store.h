/* A store: where chunks and points live. The layout, the same for every kind:
 *   hotspare-store.json           format version, chunk size, compression
 *   chunks/<2 hex>/<64 hex>.zst   one zstd frame per chunk, named by SHA-256
 *   points/<server>/<id>.idx      one index per point
 *   points/.servers, points/<server>/.points   manifests for kinds that cannot list
 *   hotspare-replica.json         a replica's source (jobs/replicate) */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "store/backend.h"
#include "basics/digest.h"
#include "store/index.h"

#define HS_STORE_VERSION 1
#define HS_DEFAULT_CHUNK_SIZE (1u << 18) /* 256 KiB: see README, "Chunk size" */

struct hs_store {
	struct hs_backend *be;
	uint32_t chunk_size;
	int zstd_level;
};

/* Create a new store at where with the given chunk size.
 * 0, -EEXIST (already a store), -EINVAL (bad chunk size), -errno. */
int hs_store_init(const char *where, uint32_t chunk_size);

/* Open an existing store. 0, -ENOENT (missing or never initialised),
 * -EPROTONOSUPPORT (unknown version), -EBADMSG (corrupt description). */
int hs_store_open(const char *where, struct hs_store **out);

/* Open the store at where, creating it with chunk_size if it is not one yet;
 * -EINVAL if it exists with another chunk size. */
int hs_store_open_or_init(const char *where, uint32_t chunk_size, struct hs_store **out);

/* Close a store (NULL is fine). */
void hs_store_close(struct hs_store *st);
static inline void hs_store_close_p(struct hs_store **p) { hs_store_close(*p); }

/* 1 if the store holds the chunk, 0 if not, -errno. */
int hs_store_chunk_has(struct hs_store *st, const struct hs_digest *d);

/* Read a chunk's stored (compressed) bytes. 0, -ENOENT, -errno. */
int hs_store_chunk_get(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out);

/* Store a compressed chunk. 1 if written, 0 if it was already there, -errno. */
int hs_store_chunk_put(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn);

/* Store a compressed chunk in a batch: durable and visible after the next
 * hs_store_sync (one filesystem sync per batch, not per chunk). 1 if queued,
 * 0 if the store already has it, -errno. */
int hs_store_chunk_queue(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn);

/* Replace a chunk's stored bytes (a corrupt copy) atomically: a reader sees
 * the old object or the new one, the new content is durable before its name
 * appears, the name after the next hs_store_sync. 0 or -errno. */
int hs_store_chunk_replace(struct hs_store *st, const struct hs_digest *d, const void *z, size_t zn);

/* Make every chunk put so far durable (call before writing a point naming them). */
int hs_store_sync(struct hs_store *st);

/* Write a point's index durably and add it to the manifests. */
int hs_store_point_put(struct hs_store *st, const struct hs_index *ix);

/* Write a point's index durably without touching the manifests, for a writer
 * adding many points under one server lock: it then lists them with
 * hs_store_points_manifest and hs_store_servers_add, once for the lot (until
 * then kinds that cannot list do not see the point). 0, -EEXIST (message
 * names the point), -errno. */
int hs_store_point_write(struct hs_store *st, const struct hs_index *ix);

/* Rewrite server's manifest of points to list exactly ids (every point of
 * server: under its writer lock, what hs_store_points_list said plus the
 * points written since), and sync. 0 or -errno. */
int hs_store_points_manifest(struct hs_store *st, const char *server, char *const *ids, size_t n);

/* Make the list of servers name every one of names: one read when it does;
 * else one rewrite under the store-wide lock. 0 or -errno. */
int hs_store_servers_add(struct hs_store *st, const char *const *names, size_t n);

/* Read and check a point's index. 0, -ENOENT (message names the point), -EBADMSG. */
int hs_store_point_get(struct hs_store *st, const char *server, const char *id,
		       struct hs_index **out);

/* The ids of a server's points, oldest first. *ids is a NULL-terminated array
 * the caller frees with hs_strv_free. 0 (possibly none), -errno. */
int hs_store_points_list(struct hs_store *st, const char *server, char ***ids, size_t *n);

/* A point by name, for lists of points too large to hold their indexes. */
struct hs_point_ref {
	char server[HS_SERVER_MAX + 1];
	char id[HS_POINT_ID_LEN + 1];
};

/* The names of servers with points, sorted; as above. */
int hs_store_servers_list(struct hs_store *st, char ***names, size_t *n);

/* Resolve what the user typed after '@' ("" or "latest": the newest; an exact
 * id; or a unique prefix) to a point id. 0, or -ENOENT with a message. */
int hs_store_point_resolve(struct hs_store *st, const char *server, const char *want,
			   char id[HS_POINT_ID_LEN + 1]);

/* Take the writer lock of server (two writers of one server never interleave).
 * 0, or -EBUSY with a message naming the other process. */
int hs_store_lock_server(struct hs_store *st, const char *server, int *token);
void hs_store_unlock(struct hs_store *st, int token);

/* Temporary files that writers killed on this host left in the store (a
 * local directory only; other kinds leave none): counted, and with remove
 * deleted. For verify's report, and for gc. 0 or -errno. */
int hs_store_leftovers(struct hs_store *st, bool remove, uint64_t *count, uint64_t *bytes);

/* Free a NULL-terminated string vector. */
void hs_strv_free(char **v);
static inline void hs_strv_free_p(char ***p) { hs_strv_free(*p); }
