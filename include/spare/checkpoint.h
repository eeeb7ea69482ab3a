/* Checkpoints: a running spare's current disks (every disk of its point)
 * become one new point in its store, by reading and hashing only the chunks
 * the guest wrote (the rest are the base point's). A second checkpoint by the same daemon reads only
 * the chunks changed since the first, which keeps failback's downtime short. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "store/name.h"

struct hs_spare_set;

struct hs_checkpoint_result {
	char id[HS_POINT_ID_LEN + 1]; /* the new point, or the one the disk still equals */
	bool added;            /* a point was added (none when nothing was written since the last) */
	uint64_t chunks_read;  /* written chunks read and hashed */
	uint64_t bytes_read;
	uint64_t bytes_stored; /* compressed bytes of chunks the store lacked */
	uint64_t chunks_new;
	double seconds;
	bool consistent;       /* nobody had the image open for writing */
	bool incremental;      /* only chunks changed since the last checkpoint were read */
	unsigned ndisks;
	struct {
		char name[HS_DISK_MAX + 1];
		uint64_t chunks_read, bytes_read, bytes_stored;
	} disks[64];           /* per disk of the point, in its order */
};

/* Take a checkpoint of every disk of set into its store. When the disk still equals the
 * last point (the mounted one, or the last checkpoint), no point is added:
 * res->added is false and res->id names that point. 0, or -errno with a
 * message (-EBUSY: another writer of the server, e.g. a backup, holds its lock). */
int hs_checkpoint(struct hs_spare_set *set, struct hs_checkpoint_result *res);
