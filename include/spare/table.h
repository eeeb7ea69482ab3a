/* A disk's digest table kept in the spare's state instead of the daemon's
 * heap: the digests are read with pread when a chunk is fetched or checked,
 * so the page cache holds them (shared, evicted under pressure, never in the
 * daemon's resident set). What stays in memory is one bit a chunk (is it a
 * zero chunk?) and one 16-byte checksum per block of 128 digests: 1 MiB per
 * TiB at 256 KiB chunks, where the whole table would be 128 MiB.
 *
 *   STATE/digests             the mounted point's table: written once
 *                             (tmp, fsync, rename) and reused by every later
 *                             mount of the state while it still matches the
 *                             point's table in the store
 *   STATE/checkpoint.digests  the last checkpoint's table, the base of the
 *                             next one: kept for this daemon only (removed
 *                             when the state is opened again)
 *
 * File layout (little-endian; every region starts on a 4 KiB boundary):
 *   header    4 KiB: magic "HSDTABL1", version, sizes, the disk's server,
 *             point and name, what the table was made from (the checksum
 *             of the point's table object in the store), checksums of the
 *             two regions below, and a SHA-256 of the header itself
 *   zero map  one bit a chunk, set for a zero chunk (64-bit words)
 *   sums      per block of 128 digests (4 KiB): the first 16 bytes of
 *             SHA-256(block number, block bytes)
 *   digests   32 bytes a chunk; runs of zero chunks are holes
 *
 * Nothing in the file is trusted unchecked: the header by its checksum, the
 * file by its size, the zero map and the sums (read into memory at open) by
 * the header's checksums of them, and every block of digests by its sum each
 * time it is read. A file that fails at open is made again from the point's
 * table in the store; a block that fails when read is rewritten from it
 * (once per damage, for every bad block at once), and until then the
 * reader waits: a wrong digest is never used. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "basics/digest.h"
#include "store/index.h"

#define HS_TABLE_FILE "digests"
#define HS_TABLE_CHECKPOINT "checkpoint.digests"
#define HS_TABLE_PER_BLOCK 128u /* digests a block: 4 KiB, one page */
#define HS_TABLE_SUM_LEN 16

struct hs_store;
struct hs_point;

struct hs_table {
	int fd;       /* the file, read-write (a repair rewrites blocks in place) */
	char *path;   /* for messages */
	char server[HS_SERVER_MAX + 1];
	char id[HS_POINT_ID_LEN + 1];
	char disk[HS_DISK_MAX + 1];
	uint64_t image_size, nchunks, nblocks;
	uint32_t chunk_size;
	uint64_t data_bytes;  /* plain bytes of the non-zero chunks */
	uint64_t digests_off; /* where block 0 starts */
	uint64_t *zero;       /* bit i: chunk i is a zero chunk */
	uint8_t (*sums)[HS_TABLE_SUM_LEN];
	uint8_t made_from[32]; /* checksum of the store's table object, or zeros */
	uint8_t content[32];   /* SHA-256 of the sums: which table this is */
	uint8_t zero_sum[32];  /* SHA-256 of the zero map */
	/* Where a damaged block is rebuilt from (borrowed: it outlives the
	 * table), or NULL: a damaged block is then an I/O error. */
	struct hs_store *st;
	/* repair_lock serialises rebuilds of the file; repairs counts those
	 * done, so a reader that saw a bad block retries after any of them */
	pthread_mutex_t repair_lock;
	atomic_uint repairs;
};

/* An index of disk k of point p with the point's fields and no digests
 * (digests NULL): what a state and an engine need to know of the disk.
 * 0 or -ENOMEM. */
int hs_table_head_index(const struct hs_point *p, unsigned k, struct hs_index **out);

/* The table of disk k of point p (a point of store st) in the state
 * directory dirfd (dir names it in messages): STATE/digests when it was made
 * from the same table object and is whole, else made (again) from the
 * store's table, which is then in memory only while the file is written.
 * st is kept for repairs. 0 or -errno with a message. */
int hs_table_load(int dirfd, const char *dir, struct hs_store *st, const struct hs_point *p, unsigned k,
		  struct hs_table **out);

/* The table of ix (its digests in memory) as the file name in dirfd: the
 * file when it holds these very digests, else written; durable: fsynced
 * before and after its rename (else left to the page cache: a file only
 * this process uses). st (or NULL) is where a damaged block is rebuilt
 * from, by the point ix names. 0 or -errno with a message. */
int hs_table_from_index(int dirfd, const char *dir, const char *name, const struct hs_index *ix, bool durable,
			struct hs_store *st, struct hs_table **out);

/* Remove the file name (and its temporary) from dirfd, if there. */
void hs_table_forget(int dirfd, const char *name);

/* True if chunk i is a zero chunk (never stored: reads as zeros). */
static inline bool hs_table_zero(const struct hs_table *t, uint64_t i)
{
	return (t->zero[i / 64] >> (i % 64)) & 1;
}

/* The digest of chunk i (the all-zero digest for a zero chunk), read from
 * the file and checked. 0, or -EIO with a message when the block is damaged
 * and cannot be rebuilt. */
int hs_table_get(struct hs_table *t, uint64_t i, struct hs_digest *out);

/* Every digest of the table (nchunks of them) into out, checked as by
 * hs_table_get. 0 or -errno. */
int hs_table_read_all(struct hs_table *t, struct hs_digest *out);

/* Close the table (NULL is fine); the file stays. */
void hs_table_close(struct hs_table *t);
