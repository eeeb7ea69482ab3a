/* Background hydration; see hydrate.h. */
#include "spare/hydrate.h"
#include "basics/err.h"
#include "basics/cleanup.h"
#include "basics/clock.h"
#include "spare/spare.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 16
#define RATE_SLOTS 8 /* one sample a second: the rate covers the last 8 s */

struct hs_hydrator {
	struct hs_spare_helper helper; /* first: the spare knows hydration by it */
	struct hs_spare *sp;
	pthread_t th[MAX_THREADS];
	unsigned n;
	pthread_t flusher;
	bool flusher_started;
	atomic_int stop;
	uint64_t *first;
	size_t nfirst;
	atomic_uint_fast64_t cursor; /* over first[] then every chunk: nfirst + nchunks steps a pass */
	atomic_uint_fast64_t pass;
	/* rate_lock protects the samples */
	pthread_mutex_t rate_lock;
	double t[RATE_SLOTS];
	uint64_t bytes[RATE_SLOTS];
	unsigned nsamples;
	/* sleep_lock and wake let stop() interrupt waits */
	pthread_mutex_t sleep_lock;
	pthread_cond_t wake;
};

/* Sleep up to ms milliseconds unless stopped. */
static void nap(struct hs_hydrator *h, int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->sleep_lock);
	if (!atomic_load(&h->stop))
		pthread_cond_timedwait(&h->wake, &h->sleep_lock, &until);
	pthread_mutex_unlock(&h->sleep_lock);
}

static void *worker(void *arg)
{
	struct hs_hydrator *h = arg;
	struct hs_spare *sp = h->sp;
	uint64_t steps = h->nfirst + sp->ix->nchunks;
	int backoff = 1000;
	while (!atomic_load(&h->stop)) {
		/* Done, or nothing more can be stored: the state's image was cut. */
		if (atomic_load(&sp->nlocal) >= sp->ix->nchunks || hs_state_damaged(sp->state))
			break;
		uint64_t pass = atomic_load(&h->pass);
		uint64_t k = atomic_fetch_add(&h->cursor, 1);
		if (k >= steps) {
			/* End of a pass with chunks still missing (errors): wait, then
			 * the first thread here starts the next pass. */
			nap(h, backoff);
			backoff = backoff < 60000 ? backoff * 2 : 60000;
			uint64_t expect = pass;
			if (atomic_compare_exchange_strong(&h->pass, &expect, pass + 1))
				atomic_store(&h->cursor, 0);
			continue;
		}
		uint64_t i = k < h->nfirst ? h->first[k] : k - h->nfirst;
		if (i >= sp->ix->nchunks || hs_spare_chunk_local(sp, i))
			continue;
		/* Demand reads first: stand aside while a reader is fetching. */
		while (atomic_load(sp->demand) > 0 && !atomic_load(&h->stop))
			nap(h, 2);
		if (hs_spare_ensure_chunk(sp, i, HS_FETCH_HYDRATE) == 0)
			backoff = 1000;
	}
	return NULL;
}

static void sample(struct hs_hydrator *h)
{
	HS_LOCK_SCOPE(&h->rate_lock);
	unsigned k = h->nsamples++ % RATE_SLOTS;
	h->t[k] = hs_now_s();
	h->bytes[k] = atomic_load(&h->sp->hydrated);
}

/* Flush once a second: hydration progress becomes durable, and the rate is sampled. */
static void *flusher(void *arg)
{
	struct hs_hydrator *h = arg;
	while (!atomic_load(&h->stop)) {
		nap(h, 1000);
		sample(h);
		/* A damaged state is never flushed again (its map must not vouch for
		 * lost bytes); its reads and writes say so, not this loop each second. */
		if (hs_state_damaged(h->sp->state))
			continue;
		if (hs_spare_flush(h->sp) < 0)
			hs_note("flushing the state failed; will retry");
	}
	return NULL;
}

double hs_hydrate_rate(struct hs_spare_helper *helper)
{
	struct hs_hydrator *h = (struct hs_hydrator *)helper;
	HS_LOCK_SCOPE(&h->rate_lock);
	if (h->nsamples < 2)
		return 0;
	unsigned last = (h->nsamples - 1) % RATE_SLOTS;
	unsigned oldest = h->nsamples > RATE_SLOTS ? h->nsamples % RATE_SLOTS : 0;
	double dt = h->t[last] - h->t[oldest];
	return dt > 0 ? (double)(h->bytes[last] - h->bytes[oldest]) / dt : 0;
}

int hs_hydrate_start(struct hs_spare *sp, unsigned threads, const uint64_t *first, size_t nfirst,
		     struct hs_spare_helper **out)
{
	struct hs_hydrator *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->helper = (struct hs_spare_helper){ .rate = hs_hydrate_rate, .stop = hs_hydrate_stop };
	h->sp = sp;
	pthread_mutex_init(&h->rate_lock, NULL);
	pthread_mutex_init(&h->sleep_lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	if (nfirst) {
		h->first = malloc(nfirst * sizeof *first);
		if (!h->first) {
			free(h);
			return -ENOMEM;
		}
		memcpy(h->first, first, nfirst * sizeof *first);
		h->nfirst = nfirst;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	for (unsigned i = 0; i < threads; i++)
		if (pthread_create(&h->th[h->n], NULL, worker, h) == 0)
			h->n++;
	h->flusher_started = pthread_create(&h->flusher, NULL, flusher, h) == 0;
	*out = &h->helper;
	return 0;
}

void hs_hydrate_stop(struct hs_spare_helper *helper)
{
	struct hs_hydrator *h = (struct hs_hydrator *)helper;
	pthread_mutex_lock(&h->sleep_lock);
	atomic_store(&h->stop, 1);
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->sleep_lock);
	for (unsigned i = 0; i < h->n; i++)
		pthread_join(h->th[i], NULL);
	if (h->flusher_started)
		pthread_join(h->flusher, NULL);
	pthread_mutex_destroy(&h->rate_lock);
	pthread_mutex_destroy(&h->sleep_lock);
	pthread_cond_destroy(&h->wake);
	free(h->first);
	free(h);
}
