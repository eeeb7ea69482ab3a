/* Group commit of fdatasync; see gsync.h. */
#include "basics/gsync.h"
#include <errno.h>
#include <unistd.h>

void hs_gsync_init(struct hs_gsync *g, int fd)
{
	*g = (struct hs_gsync){ .fd = fd };
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->ended, NULL);
}

void hs_gsync_destroy(struct hs_gsync *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->ended);
}

int hs_gsync(struct hs_gsync *g)
{
	pthread_mutex_lock(&g->lock);
	/* A sync running now may have begun before our write: the next one counts. */
	uint64_t need = g->begun + 1;
	int r;
	for (;;) {
		if (g->done >= need) {
			r = need <= g->failed ? g->err : 0;
			break;
		}
		if (g->running) {
			pthread_cond_wait(&g->ended, &g->lock);
			continue;
		}
		g->running = true;
		g->begun++;
		pthread_mutex_unlock(&g->lock);
		int sr = fdatasync(g->fd) < 0 ? -errno : 0;
		pthread_mutex_lock(&g->lock);
		g->running = false;
		if (sr < 0) {
			/* Callers waiting for the next sync wrote while this one ran:
			 * their bytes may be in what failed too. That next number is
			 * spent on them; whoever asks from now on needs a new sync. */
			g->failed = ++g->begun;
			g->err = sr;
		}
		g->done = g->begun;
		pthread_cond_broadcast(&g->ended);
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}
