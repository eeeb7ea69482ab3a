/* Parallel runner; see workers.h. */
#include "basics/workers.h"
#include "basics/buf.h"
#include "basics/err.h"
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

struct each {
	int (*item)(void *, uint64_t, void *, struct hs_buf *);
	void *arg;
	uint64_t n;
	size_t plain_size;
	atomic_uint_fast64_t next;
};

static int each_thread(void *p, atomic_int *stop)
{
	struct each *e = p;
	void *plain = malloc(e->plain_size ? e->plain_size : 1);
	struct hs_buf z = { 0 };
	if (!plain)
		return -ENOMEM;
	int r = 0;
	while (r == 0 && !atomic_load(stop)) {
		uint64_t k = atomic_fetch_add(&e->next, 1);
		if (k >= e->n)
			break;
		r = e->item(e->arg, k, plain, &z);
	}
	hs_buf_free(&z);
	free(plain);
	return r;
}

int hs_parallel_each(unsigned threads, uint64_t n, size_t plain_size,
		     int (*item)(void *arg, uint64_t k, void *plain, struct hs_buf *z), void *arg)
{
	if (n == 0)
		return 0;
	struct each e = { .item = item, .arg = arg, .n = n, .plain_size = plain_size };
	if (threads < 1)
		threads = 1;
	if (threads > n)
		threads = (unsigned)n;
	return hs_parallel(threads, each_thread, &e);
}
