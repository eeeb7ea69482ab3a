/* Parallel runner; see workers.h. */
#include "workers.h"
#include "err.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

unsigned hs_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

struct run {
	int (*fn)(void *, atomic_int *);
	void *arg;
	atomic_int stop;
	/* first_lock protects first_err and first_msg */
	pthread_mutex_t first_lock;
	int first_err;
	char first_msg[512];
};

static void *thread_main(void *p)
{
	struct run *run = p;
	hs_err_clear();
	int r = run->fn(run->arg, &run->stop);
	if (r < 0) {
		atomic_store(&run->stop, 1);
		pthread_mutex_lock(&run->first_lock);
		if (!run->first_err) {
			run->first_err = r;
			const char *m = hs_err_msg();
			snprintf(run->first_msg, sizeof run->first_msg, "%s", m ? m : "");
		}
		pthread_mutex_unlock(&run->first_lock);
	}
	return NULL;
}

int hs_parallel(unsigned n, int (*fn)(void *, atomic_int *), void *arg)
{
	struct run run = { .fn = fn, .arg = arg };
	pthread_mutex_init(&run.first_lock, NULL);
	pthread_t *th = calloc(n, sizeof *th);
	if (!th)
		return -ENOMEM;
	unsigned started = 0;
	for (unsigned i = 1; i < n; i++) {
		if (pthread_create(&th[i], NULL, thread_main, &run) != 0)
			break; /* fewer threads still finish the work */
		started = i;
	}
	thread_main(&run);
	for (unsigned i = 1; i <= started; i++)
		pthread_join(th[i], NULL);
	free(th);
	pthread_mutex_destroy(&run.first_lock);
	if (run.first_err && run.first_msg[0])
		hs_err_set_msg(run.first_msg);
	return run.first_err;
}
