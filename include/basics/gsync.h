/* Group commit of fdatasync on one descriptor: threads that each need what
 * they wrote so far made durable share one fdatasync that began after they
 * asked, instead of running theirs one after another (a guest writing into
 * many chunks at once pays for one sync of the spare's map, not one each). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct hs_gsync {
	int fd;
	/* lock protects everything below; ended is signalled when a sync ends */
	pthread_mutex_t lock;
	pthread_cond_t ended;
	uint64_t begun, done; /* syncs begun and ended (one runs at a time, in order) */
	bool running;
	uint64_t failed;      /* the callers waiting for syncs up to this one are told err */
	int err;
};

/* Set up g for fd (which may be set later, before the first hs_gsync). */
void hs_gsync_init(struct hs_gsync *g, int fd);

/* Release g (no caller may be waiting in it). */
void hs_gsync_destroy(struct hs_gsync *g);

/* Make everything written to g's descriptor before this call durable: wait
 * for, or run, an fdatasync that begins after the call. 0, or the failed
 * sync's -errno: then every caller that asked before it ended is told so
 * (their bytes may have been in what failed, and the next fdatasync would
 * not say it), and a caller may be told of a failure just after its own
 * sync worked. */
int hs_gsync(struct hs_gsync *g);
