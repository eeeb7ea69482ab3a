/* A point: one moment of every disk of one server, stored as one object,
 * points/<server>/<id>.idx (store format version 2):
 *
 *   header      HS_POINT_HDR_LEN bytes, fixed: magic "HSPOINT2", version,
 *               kind, chunk size, time, capture consistency, ids, server,
 *               then one 128-byte slot per disk (name, image size, byte
 *               counters, where its digest table is and its SHA-256), and a
 *               SHA-256 of the header itself in its last 32 bytes
 *   tables      per disk, at the offset its slot gives: the zstd-compressed
 *               digest table (32 bytes per chunk position; all zero for a
 *               zero chunk); in an encrypted store followed by an HMAC under
 *               the key's index key that binds it to the point and the disk
 *               (its ids are keyed digests that say nothing of the content,
 *               so prune, gc and replicate read them without the key)
 *
 * Listing a point reads its header alone (a range read of a fixed size, not
 * proportional to the image); a spare of one disk reads that disk's table
 * alone. Every byte read is checked: the header by its checksum, a table by
 * the checksum its slot holds (and, encrypted, by authentication), so
 * truncation, corruption and tables swapped between points are detected. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "basics/buf.h"
#include "store/index.h"

#define HS_POINT_VERSION 2
#define HS_DISKS_MAX 64
#define HS_POINT_HDR_LEN (512 + HS_DISKS_MAX * 128)

struct hs_key;

/* How a point was captured (DESIGN.md invariant 9). */
enum hs_consistency {
	HS_CONSISTENCY_UNKNOWN = 0, /* a point converted from format version 1 */
	HS_TORN = 1,                /* read while the disk was in use (--allow-torn) */
	HS_CRASH_CONSISTENT = 2,    /* a point-in-time copy, not frozen */
	HS_QUIESCED = 3,            /* filesystems frozen by the guest agent at the start */
};

/* Name of a consistency ("quiesced", "crash-consistent", "torn", "unknown"). */
const char *hs_consistency_name(uint32_t c);

struct hs_point_disk {
	char name[HS_DISK_MAX + 1];
	uint64_t size;        /* image bytes */
	uint64_t new_bytes;   /* stored bytes of chunks this disk added to the store */
	uint64_t ship_bytes;  /* stored bytes it wrote to a shipped drive */
	uint64_t read_bytes;  /* bytes read to capture it (less than size when incremental) */
	uint64_t table_off, table_len;
	uint8_t table_sum[32];
};

struct hs_point {
	char server[HS_SERVER_MAX + 1];
	char id[HS_POINT_ID_LEN + 1];
	char base[HS_POINT_ID_LEN + 1]; /* the snapshot (drive) a backup deduplicated against, or "" */
	uint32_t kind;
	uint32_t chunk_size;
	uint32_t consistency;
	bool encrypted;
	int64_t time;
	uint32_t ndisks;
	struct hs_point_disk disks[HS_DISKS_MAX];
};

/* The point's totals over its disks. */
uint64_t hs_point_size(const struct hs_point *p);
uint64_t hs_point_new_bytes(const struct hs_point *p);
uint64_t hs_point_ship_bytes(const struct hs_point *p);

/* The slot of the disk called name, or -1. */
int hs_point_disk_find(const struct hs_point *p, const char *name);

/* Fill p's header from the disks' indexes (names, sizes, counters, which
 * must agree with p's server, id, kind, chunk size and time) and encode the
 * whole object into out; key seals the tables (NULL for a plain store).
 * 0, -EINVAL (with a message) or -ENOMEM. */
int hs_point_encode(const struct hs_key *key, struct hs_point *p, struct hs_index *const *disks,
		    struct hs_buf *out);

/* Rewrite the header of an encoded point object (n bytes at obj) from p, a
 * decoded copy of it with counters changed (a replica records what it was
 * sent); the tables are untouched, so no key is needed. 0 or -EINVAL. */
int hs_point_rewrite_head(void *obj, size_t n, const struct hs_point *p);

/* Decode and check the header (the first HS_POINT_HDR_LEN bytes of n).
 * what names the point for messages. 0, or -EBADMSG (corrupt, truncated,
 * wrong magic, absurd values) / -EPROTONOSUPPORT (another version). */
int hs_point_decode_head(const void *p, size_t n, const char *what, struct hs_point *out);

/* Fill ix's naming fields from point p's header and its disk k (server,
 * disk, id, base, kind, consistency, time, new/ship/read bytes); not its
 * sizes or digests. */
void hs_point_disk_fields(const struct hs_point *p, unsigned k, struct hs_index *ix);

/* The reverse for a one-disk point: p's header (server, id, base, kind,
 * time, consistency, chunk size, one disk) from index ix; p is zeroed first. */
void hs_point_of_index(const struct hs_index *ix, struct hs_point *p);

/* Decode disk k's table (n bytes at t, read from its offset) into an index
 * carrying the point's fields. With key, an encrypted point's table is
 * authenticated; without, only checksummed (for keyless work). 0, -EBADMSG. */
int hs_point_decode_disk(const struct hs_key *key, const struct hs_point *p, unsigned k, const void *t,
			 size_t n, const char *what, struct hs_index **out);
