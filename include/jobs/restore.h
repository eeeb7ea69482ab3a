/* Writing a point onto a TARGET file or block device. Chunks whose content the
 * target already holds are not written again, so an interrupted restore
 * resumes and a restore onto a server's old disk writes only what changed. */
#pragma once
#include <stdint.h>
#include "store/index.h"
#include "basics/progress.h"
#include "store/sources.h"

struct hs_restore_opts {
	const struct hs_sources *src;
	const struct hs_index *ix;
	const char *target;
	unsigned threads;             /* 0: twice the CPUs */
	struct hs_progress *progress; /* NULL: none */
};

struct hs_restore_stats {
	uint64_t bytes_written;    /* plain bytes written to the target */
	uint64_t bytes_same;       /* already on the target */
	uint64_t bytes_zero;       /* zero chunks (holes in a new file) */
	uint64_t bytes_from_seed;  /* fetched from seeds */
	uint64_t bytes_from_store; /* fetched from the store */
	double seconds;
};

/* Restore ix onto opts->target. A target file made here is removed again if
 * the restore fails before it starts writing (bad sources, no space).
 * 0, or -errno with a one-line message. */
int hs_restore(const struct hs_restore_opts *opts, struct hs_restore_stats *stats);
