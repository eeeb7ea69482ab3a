/* Read-ahead: threads that fetch the chunks a reader is about to need, so a
 * guest reading a cold spare waits for one round trip, not one per chunk.
 *  - A read that spans several missing chunks: the rest of them are fetched
 *    beside the reader (first in the queue), not one after another.
 *  - Sequential streams of reads (a few at once, as a booting guest reads
 *    several files): after a miss, a small window of the following chunks;
 *    when the reader enters a window, the next one, twice as large, up to a
 *    maximum (the first window is a sixteenth of it, at least one chunk).
 *    A lone random miss only fetches the small window.
 * Read-ahead fetches are tried once; a reader that then needs the chunk
 * retries it itself. Hydration stands aside while they run. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct hs_spare;
struct hs_spare_helper;

/* Enough fetches in flight to fill a largest window of 256 KiB chunks over a
 * 20 ms round trip; idle threads cost no buffers. */
#define HS_READAHEAD_THREADS 16
#define HS_READAHEAD_MAX_BYTES (8u << 20)

/* Start read-ahead for sp with the given threads and largest window (bytes,
 * at least one chunk). Store the result in sp->ra: the spare's readers then
 * feed it and hs_spare_close stops it. 0 or -errno. */
int hs_readahead_start(struct hs_spare *sp, unsigned threads, uint64_t max_bytes,
		       struct hs_spare_helper **out);

/* Stop and join the threads; queued chunks are dropped. */
void hs_readahead_stop(struct hs_spare_helper *ra);

/* A reader reads chunks [first, last]; missed: first is not local and the
 * reader is about to fetch it. Queues what to fetch ahead. */
void hs_readahead_note(struct hs_spare_helper *ra, uint64_t first, uint64_t last, bool missed);
