/* gc: deletes the chunks no point names and what killed runs left behind,
 * while captures, checkpoints, replicate, spares and drills go on: none of
 * them waits for it or fails because of it. The protocol (fs/README.md,
 * "Retention"), in short:
 *
 *   - writers (capture, checkpoint, replicate into the store) register
 *     (store/lease.h) before they first ask whether the store holds a chunk;
 *   - gc never deletes a chunk at once: it lists a batch of chunks no point
 *     names (trash/batches/ID.keys, then ID.json with its time), moves them to
 *     trash/chunks/, and records when the moves were done;
 *   - readers that miss a chunk under chunks/ look under trash/chunks/, so a
 *     point that names a chunk gc moved meanwhile still reads; writers do not
 *     look there, and store a chunk in the trash again;
 *   - a batch is emptied (each chunk a point names now put back, the rest
 *     deleted) only when every live writer registered after its moves were
 *     done (less the clock skew): a writer that saw one of its chunks present
 *     before it moved has finished, so its point is among those gc reads
 *     before emptying; with no writer live right after the moves, the batch
 *     is emptied in the same run (space comes back at once);
 *   - a writer lock held without a registration beside it (an older hotspare,
 *     or a writer about to register) counts as a writer that started when it
 *     took the lock.
 *
 * Pruned points wait in trash/points/ (jobs/prune.h) until gc deletes them,
 * once no unexpired lease names them; until then their chunks count as named.
 * gc takes locks/.gc.lock: one gc at a time per store. It needs no key. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "store/store.h"

#define HS_GC_GRACE 600 /* seconds: a chunk younger than this is never taken */

struct hs_gc_opts {
	struct hs_store *store; /* opened without its key is fine */
	bool dry_run;           /* count what a run would do; change nothing, take no lock */
	int64_t grace;          /* seconds (HS_GC_GRACE; 0 takes young chunks too) */
};

struct hs_gc_stats {
	uint64_t chunks, bytes;              /* under chunks/ when listed */
	uint64_t chunks_named;               /* of those, named by a point */
	uint64_t chunks_young;               /* named by none, younger than the grace: left */
	uint64_t chunks_freed, bytes_freed;  /* deleted */
	uint64_t chunks_restored;            /* put back from the trash: a point names them now */
	uint64_t chunks_waiting, bytes_waiting; /* in the trash after the run, for writers to finish */
	uint64_t batches_emptied, batches_waiting;
	uint64_t points_deleted;             /* pruned points deleted from the trash */
	uint64_t points_in_use;              /* pruned points kept in the trash: a lease names them */
	uint64_t tmp_files, tmp_bytes;       /* temporary files of killed runs, removed */
	uint64_t writers_live, writers_unregistered, writers_removed, leases_removed;
	uint64_t writers_ahead;              /* live writers whose records are ahead of this clock */
	uint64_t leases_unreadable;          /* objects under leases/ that are not leases, kept for now */
	bool dry_run;
	double seconds;
};

/* One gc run. 0, or -errno with a one-line message (-EBUSY: another gc runs;
 * -ENOTSUP: a store that cannot list, a web server; a point that cannot be
 * read stops the run before anything is taken). Killed at any moment, a run
 * leaves nothing a point needs unreadable, and the next run completes it. */
int hs_gc(const struct hs_gc_opts *o, struct hs_gc_stats *s);
