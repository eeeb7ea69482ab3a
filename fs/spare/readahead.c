/* Read-ahead; see readahead.h. */
#include "spare/readahead.h"
#include "basics/cleanup.h"
#include "spare/spare.h"
#include <errno.h>
#include <stdlib.h>

#define MAX_THREADS 16
#define NSTREAMS 8   /* sequential streams followed at once */
#define QCAP 1024    /* queued chunks; the oldest read-ahead goes first when full */

struct stream {
	bool live;
	uint64_t next; /* the chunk after the stream's last read */
	uint64_t mark; /* a read reaching this chunk queues the next window */
	uint64_t end;  /* queued up to here (exclusive) */
	uint64_t size; /* the last window, in chunks */
	uint64_t used; /* for replacing the least recently used stream */
};

struct hs_readahead {
	struct hs_spare_helper helper; /* first: the spare knows read-ahead by it */
	struct hs_spare *sp;
	uint64_t init, max; /* window sizes in chunks */
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;
	uint64_t q[QCAP];
	size_t head, n;
	struct stream s[NSTREAMS];
	uint64_t clock;
	bool stop;
	pthread_t th[MAX_THREADS];
	unsigned nth;
};

static void push_back(struct hs_readahead *ra, uint64_t i)
{
	if (ra->n == QCAP) { /* drop the oldest */
		ra->head = (ra->head + 1) % QCAP;
		ra->n--;
	}
	ra->q[(ra->head + ra->n++) % QCAP] = i;
}

static void push_front(struct hs_readahead *ra, uint64_t i)
{
	if (ra->n == QCAP)
		ra->n--; /* drop the newest */
	ra->head = (ra->head + QCAP - 1) % QCAP;
	ra->q[ra->head] = i;
	ra->n++;
}

/* Queue the chunks of [from, to) that are not local. */
static void queue_window(struct hs_readahead *ra, uint64_t from, uint64_t to)
{
	uint64_t n = ra->sp->ix->nchunks;
	for (uint64_t i = from; i < to && i < n; i++)
		if (!hs_spare_chunk_local(ra->sp, i))
			push_back(ra, i);
}

/* The window after a read ending at last, taken as the next in the stream. */
static void advance(struct hs_readahead *ra, struct stream *s, uint64_t last)
{
	uint64_t from = s->end > last + 1 ? s->end : last + 1;
	s->size = s->size * 2 < ra->max ? s->size * 2 : ra->max;
	s->mark = from;
	s->end = from + s->size;
	queue_window(ra, from, s->end);
}

void hs_readahead_note(struct hs_spare_helper *helper, uint64_t first, uint64_t last, bool missed)
{
	struct hs_readahead *ra = (struct hs_readahead *)helper;
	struct hs_spare *sp = ra->sp;
	if (atomic_load(&sp->nlocal) >= sp->ix->nchunks)
		return;
	pthread_mutex_lock(&ra->lock);
	bool queued = false;
	if (missed) /* the rest of this read, nearest first */
		for (uint64_t i = last; i > first; i--)
			if (!hs_spare_chunk_local(sp, i)) {
				push_front(ra, i);
				queued = true;
			}
	struct stream *s = NULL, *lru = &ra->s[0];
	for (unsigned k = 0; k < NSTREAMS; k++) {
		struct stream *c = &ra->s[k];
		if (c->live && first <= c->end && last + 1 >= c->next) {
			s = c;
			break;
		}
		if (!c->live || (lru->live && c->used < lru->used))
			lru = c;
	}
	size_t before = ra->n;
	if (s) {
		if (last + 1 > s->next)
			s->next = last + 1;
		if (last >= s->mark)
			advance(ra, s, last);
	} else if (missed) {
		/* A new stream (or a random read): the small window only. */
		s = lru;
		*s = (struct stream){ .live = true, .next = last + 1, .mark = last + 1,
				      .end = last + 1 + ra->init, .size = ra->init };
		queue_window(ra, last + 1, s->end);
	}
	if (s)
		s->used = ++ra->clock;
	if (queued || ra->n != before)
		pthread_cond_broadcast(&ra->wake);
	pthread_mutex_unlock(&ra->lock);
}

static void *worker(void *arg)
{
	struct hs_readahead *ra = arg;
	struct hs_spare *sp = ra->sp;
	pthread_mutex_lock(&ra->lock);
	while (!ra->stop) {
		if (ra->n == 0) {
			pthread_cond_wait(&ra->wake, &ra->lock);
			continue;
		}
		uint64_t i = ra->q[ra->head];
		ra->head = (ra->head + 1) % QCAP;
		ra->n--;
		pthread_mutex_unlock(&ra->lock);
		if (!hs_spare_chunk_local(sp, i)) {
			/* A reader's errand: hydration stands aside meanwhile. */
			atomic_fetch_add(sp->demand, 1);
			hs_spare_ensure_chunk(sp, i, HS_FETCH_AHEAD);
			atomic_fetch_sub(sp->demand, 1);
		}
		pthread_mutex_lock(&ra->lock);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

int hs_readahead_start(struct hs_spare *sp, unsigned threads, uint64_t max_bytes,
		       struct hs_spare_helper **out)
{
	struct hs_readahead *ra = calloc(1, sizeof *ra);
	if (!ra)
		return -ENOMEM;
	ra->helper = (struct hs_spare_helper){ .note_read = hs_readahead_note, .stop = hs_readahead_stop };
	ra->sp = sp;
	ra->max = max_bytes / sp->ix->chunk_size;
	if (ra->max < 1)
		ra->max = 1;
	ra->init = ra->max / 16 ? ra->max / 16 : 1;
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->wake, NULL);
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	for (unsigned k = 0; k < threads; k++)
		if (pthread_create(&ra->th[ra->nth], NULL, worker, ra) == 0)
			ra->nth++;
	if (threads && !ra->nth) {
		hs_readahead_stop(&ra->helper);
		return -EAGAIN;
	}
	*out = &ra->helper;
	return 0;
}

void hs_readahead_stop(struct hs_spare_helper *helper)
{
	struct hs_readahead *ra = (struct hs_readahead *)helper;
	pthread_mutex_lock(&ra->lock);
	ra->stop = true;
	pthread_cond_broadcast(&ra->wake);
	pthread_mutex_unlock(&ra->lock);
	for (unsigned k = 0; k < ra->nth; k++)
		pthread_join(ra->th[k], NULL);
	pthread_mutex_destroy(&ra->lock);
	pthread_cond_destroy(&ra->wake);
	free(ra);
}
