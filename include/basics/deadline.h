/* Deadlines that travel down a thread's calls: whoever promises a bound (a
 * spare's demand read: EIO within --deadline) sets one; whatever may block on
 * the way down (the HTTP client: connect, transfer, retries, backoff) cuts its
 * own waits to what is left. Per thread, so other work (hydration, another
 * reader) keeps its own; no deadline is the default. Times are milliseconds
 * on the monotonic clock. */
#pragma once
#include <stdint.h>

/* Now, in milliseconds on the monotonic clock. */
int64_t hs_mono_ms(void);

/* This thread's deadline (an hs_mono_ms time), or 0 for none. */
int64_t hs_deadline(void);

/* Set this thread's deadline (0: none) and return the previous one, which
 * the caller restores when its bounded work ends. */
int64_t hs_deadline_set(int64_t at_ms);

/* Milliseconds left before this thread's deadline: 0 once it has passed, -1
 * when there is none. */
int64_t hs_deadline_left_ms(void);
