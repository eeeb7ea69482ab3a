/* A store: where chunks and points live. The layout, the same for every kind
 * (store format version 2):
 *   hotspare-store.json           format version, chunk size, compression,
 *                                 encryption and the key's fingerprint
 *   chunks/<2 hex>/<64 hex>.zst   one zstd frame per chunk, named by SHA-256
 *   chunks/<2 hex>/<64 hex>.enc   encrypted stores: zstd sealed with AES-256-GCM,
 *                                 named by HMAC-SHA-256 (see key.h)
 *   points/<server>/<id>.idx      one object per point (point.h)
 *   points/.servers, points/<server>/.points   manifests for kinds that cannot list
 *   hotspare-replica.json         a replica's source (jobs/replicate)
 *   trash/chunks/..., trash/points/<server>/<id>.idx
 *                                 chunks gc took out of use and points prune
 *                                 removed, until gc deletes them (jobs/gc.h);
 *                                 readers look there when an object is missing
 *   leases/, writers/             work in progress retention must know of
 *                                 (store/lease.h) */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "store/backend.h"
#include "basics/digest.h"
#include "store/index.h"
#include "store/key.h"
#include "store/point.h"

#define HS_STORE_VERSION 2
#define HS_DEFAULT_CHUNK_SIZE (1u << 18) /* 256 KiB: see README, "Chunk size" */
#define HS_STORE_DESC_MAX 16384        /* a description is a few hundred bytes */

struct hs_store {
	struct hs_backend *be;
	uint32_t chunk_size;
	int zstd_level;
	int version;
	bool encrypted;
	char fingerprint[HS_KEY_FPR_HEX]; /* of the key an encrypted store needs */
	const struct hs_key *key;         /* the current key when it is this store's, else NULL */
	struct hs_buf desc;               /* the description as read (copied to drives and replicas) */
	/* Asked before a point is written (NULL: nothing to ask): a registered
	 * writer (store/lease.h) refuses the point, -ESTALE with a message, when
	 * its registration lapsed. */
	int (*point_guard)(void *arg);
	void *point_guard_arg;
};

/* Create a new store at where with the given chunk size; encrypted with key
 * (NULL: plain), keeping escrow_b64 (NULL: none; see key.h). 0, -EEXIST
 * (already a store), -EINVAL (bad chunk size), -errno; nothing is written
 * when refused. */
int hs_store_create(const char *where, uint32_t chunk_size, const struct hs_key *key, const char *escrow_b64);

/* hs_store_create of a plain store. */
int hs_store_init(const char *where, uint32_t chunk_size);

#define HS_OPEN_NOKEY 1u       /* an encrypted store may open without its key: names and headers only */
#define HS_OPEN_ANY_VERSION 2u /* open a store of an older format version (the upgrade does) */
#define HS_OPEN_EXISTING 4u    /* hs_store_open_like: make nothing; -ENOENT when where is no store yet */

/* Open an existing store. An encrypted one takes the current key
 * (hs_key_current); without it (and without HS_OPEN_NOKEY) it is refused
 * with -EACCES, and a key that is not its own with -EKEYREJECTED. 0,
 * -ENOENT (missing or never initialised), -EPROTONOSUPPORT (another
 * version), -EBADMSG (corrupt or, with the key, tampered description). */
int hs_store_open_flags(const char *where, unsigned flags, struct hs_store **out);
int hs_store_open(const char *where, struct hs_store **out);

/* Parse and check the description in st->desc (st->desc.len bytes of JSON,
 * a NUL after them) and fill st's version, chunk size, encryption and key
 * fingerprint; st->be->where names the store in messages. With the current
 * key, an encrypted store's description must authenticate. 0, -EBADMSG,
 * -EPROTONOSUPPORT, -EACCES or -EKEYREJECTED as for hs_store_open_flags.
 * (hs_store_open reads and parses; exposed for the fuzzer.) */
int hs_store_desc_parse(struct hs_store *st, unsigned flags);

/* Open the store at where, creating it as a copy of like's description (the
 * same chunk size and encryption) if it is not a store yet; -EINVAL if it
 * is one that differs. For shipped drives and replicas. */
int hs_store_open_like(const char *where, const struct hs_store *like, unsigned flags, struct hs_store **out);

/* Rewrite a plain version 1 store's description as version 2 (the upgrade's
 * last step, once every point is converted). 0 or -errno. */
int hs_store_upgrade_desc(struct hs_store *st);

/* The escrow copy of an encrypted store's key (base64, caller frees), or
 * NULL when it keeps none. 0 or -ENOMEM. */
int hs_store_escrow(const struct hs_store *st, char **out);

/* The id of a chunk's plain content in this store (SHA-256, or the keyed
 * digest of an encrypted store). */
void hs_store_chunk_id(const struct hs_store *st, const void *plain, size_t n, struct hs_digest *d);

/* The stored form of n plain bytes whose id is d (compressed; encrypted in
 * an encrypted store). 0 or -errno. */
int hs_store_chunk_encode(const struct hs_store *st, const struct hs_digest *d, const void *plain, size_t n,
			  struct hs_buf *out);

/* Decode a stored chunk into plain (exactly len bytes) and check it against
 * d. 0, or -EBADMSG (does not decode, authenticate or match). */
int hs_store_chunk_decode(const struct hs_store *st, const void *z, size_t zn, const struct hs_digest *d,
			  void *plain, size_t len);

/* Store key of a chunk ("chunks/ab/<hex>.zst" or ".enc"). */
void hs_store_chunk_key(const struct hs_store *st, const struct hs_digest *d, char out[96]);

/* Open the store at where, creating it with chunk_size if it is not one yet;
 * -EINVAL if it exists with another chunk size. */
int hs_store_open_or_init(const char *where, uint32_t chunk_size, struct hs_store **out);

/* Close a store (NULL is fine). */
void hs_store_close(struct hs_store *st);
static inline void hs_store_close_p(struct hs_store **p) { hs_store_close(*p); }

/* 1 if the store holds the chunk, 0 if not, -errno. */
int hs_store_chunk_has(struct hs_store *st, const struct hs_digest *d);

/* Read a chunk's stored (compressed) bytes; a chunk missing under chunks/ is
 * looked for once under trash/ (gc moves chunks no point named there before
 * deleting them, and a point written meanwhile may name one). 0, -ENOENT, -errno. */
int hs_store_chunk_get(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out);

/* hs_store_chunk_get without the look under trash/: for a writer asking
 * whether the store holds a chunk it may then name (a chunk in the trash
 * must be stored again, like one that is missing). */
int hs_store_chunk_get_live(struct hs_store *st, const struct hs_digest *d, struct hs_buf *out);

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

#define HS_TRASH_PREFIX "trash/" /* where retention keeps what it took out of use */

/* Move a point to trash/points/ (prune): it is listed no more, but a reader
 * that already uses it (its lease appeared while prune decided) still
 * reads it, and gc counts its chunks as named until it deletes it. Its
 * server's manifest is the caller's. 0, -ENOENT, -ENOTSUP (a web server), -errno. */
int hs_store_point_trash(struct hs_store *st, const char *server, const char *id);

/* Put a pruned point back (a copy from trash/points/; gc deletes the copy
 * there later), synced. 0, -ENOENT, -errno. */
int hs_store_point_untrash(struct hs_store *st, const char *server, const char *id);

/* The servers with pruned points in the trash, and one's pruned point ids,
 * sorted (hs_strv_free). 0, -ENOTSUP (a kind that cannot list), -errno. */
int hs_store_trash_servers(struct hs_store *st, char ***names, size_t *n);
int hs_store_trash_points(struct hs_store *st, const char *server, char ***ids, size_t *n);

/* 1 if the point is in the store (under points/, not in the trash), 0 if not, -errno. */
int hs_store_point_exists(struct hs_store *st, const char *server, const char *id);

/* Write a point (p's server, id, kind, chunk size, time, consistency and
 * base; its disks from the indexes) durably and add it to the manifests.
 * 0, -EEXIST (with a message), -errno. */
int hs_store_point_put(struct hs_store *st, struct hs_point *p, struct hs_index *const *disks);

/* Write a point durably without touching the manifests, for a writer adding
 * many points under one server lock: it then lists them with
 * hs_store_points_manifest_update and hs_store_servers_add, once for the lot (until
 * then kinds that cannot list do not see the point). 0, -EEXIST (message
 * names the point), -errno. */
int hs_store_point_write(struct hs_store *st, struct hs_point *p, struct hs_index *const *disks);

/* A point's object as stored (caller frees out), and writing one as it is,
 * for replication: an encrypted point travels without its key. No manifest.
 * 0, -ENOENT / -EEXIST (with a message), -errno. */
int hs_store_point_get_raw(struct hs_store *st, const char *server, const char *id, struct hs_buf *out);
int hs_store_point_write_raw(struct hs_store *st, const struct hs_point *p, const void *obj, size_t n);

/* Rewrite server's manifest of points from its points now (the listing, or
 * where the store cannot list, the manifest itself) plus add (n ids just
 * written), and sync; under the server's manifest lock, so that a capture,
 * prune, gc and replicate never write a listing another one has outdated
 * meanwhile. 0 or -errno. */
int hs_store_points_manifest_update(struct hs_store *st, const char *server, char *const *add, size_t n);

/* Make the list of servers name every one of names: one read when it does;
 * else one rewrite under the store-wide lock. 0 or -errno. */
int hs_store_servers_add(struct hs_store *st, const char *const *names, size_t n);

/* Write a one-disk point from its index (the point's fields are the index's). */
int hs_store_point_put1(struct hs_store *st, const struct hs_index *ix);

/* Read and check a point's header (a range read of its fixed size); a point
 * missing under points/ is looked for under trash/ (pruned while in use).
 * 0, -ENOENT (message names the point), -EBADMSG, -EPROTONOSUPPORT. */
int hs_store_point_head(struct hs_store *st, const char *server, const char *id, struct hs_point *out);

/* Read and check disk k of point p (from hs_store_point_head). 0, -EBADMSG,
 * -EACCES (encrypted, no key), -errno. */
int hs_store_point_disk(struct hs_store *st, const struct hs_point *p, unsigned k, struct hs_index **out);

/* Read a point's header and the disk called disk ("" or NULL: its only
 * disk; -EINVAL with a message naming its disks when it has several). */
int hs_store_point_get(struct hs_store *st, const char *server, const char *id, const char *disk,
		       struct hs_index **out);

/* The ids of a server's points, oldest first. *ids is a NULL-terminated array
 * the caller frees with hs_strv_free. 0 (possibly none), -errno. */
int hs_store_points_list(struct hs_store *st, const char *server, char ***ids, size_t *n);

/* A point by name, for lists of points too large to hold their indexes. */
struct hs_point_ref {
	char server[HS_SERVER_MAX + 1];
	char id[HS_POINT_ID_LEN + 1];
	char disk[HS_DISK_MAX + 1]; /* "" every disk; else only this one (verify SERVER@POINT:DISK) */
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
