/* Unit tests for gsync.h (group commit of fdatasync) and its use by the
 * spare's state: concurrent callers share syncs, each returns only once a
 * sync that began after its write has ended, and a failed sync is reported
 * to everyone whose bytes may have been in it. Linked with its own
 * fdatasync wrapper (-Wl,--wrap=fdatasync): slow, counted, failable, and
 * recording what the tracked file held when each sync began. */
#include "fixture.h"
#include "basics/gsync.h"

int __real_fdatasync(int fd);

static struct {
	pthread_mutex_t lock;
	atomic_int delay_ms;  /* each sync takes this long */
	atomic_int fail_next; /* fail this many syncs with EIO */
	atomic_int syncs;     /* syncs begun */
	int track_fd;         /* the file whose content is recorded, -1: none */
	unsigned char seen[256]; /* its first bytes when the last sync began */
} w = { .lock = PTHREAD_MUTEX_INITIALIZER, .track_fd = -1 };

int __wrap_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	atomic_fetch_add(&w.syncs, 1);
	pthread_mutex_lock(&w.lock);
	if (fd == w.track_fd)
		assert_true(pread(fd, w.seen, sizeof w.seen, 0) >= 0);
	pthread_mutex_unlock(&w.lock);
	int ms = atomic_load(&w.delay_ms);
	if (ms)
		usleep((useconds_t)ms * 1000);
	int n = atomic_load(&w.fail_next);
	while (n > 0 && !atomic_compare_exchange_weak(&w.fail_next, &n, n - 1))
		;
	if (n > 0) {
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}

static int setup(void **state)
{
	atomic_store(&w.delay_ms, 0);
	atomic_store(&w.fail_next, 0);
	atomic_store(&w.syncs, 0);
	w.track_fd = -1;
	memset(w.seen, 0, sizeof w.seen);
	return fx_setup_dirs(state);
}

static int teardown(void **state) { return fx_teardown(state); }

#define NTH 8

struct caller {
	struct hs_gsync *g;
	int fd;
	unsigned k;
	pthread_barrier_t *go;
	int r;
	bool seen_own; /* its byte was in the file when the last sync before its return began */
};

static void *caller_main(void *p)
{
	struct caller *c = p;
	pthread_barrier_wait(c->go);
	unsigned char b = (unsigned char)(c->k + 1);
	assert_int_equal(pwrite(c->fd, &b, 1, c->k), 1);
	c->r = hs_gsync(c->g);
	pthread_mutex_lock(&w.lock);
	c->seen_own = w.seen[c->k] == b;
	pthread_mutex_unlock(&w.lock);
	return NULL;
}

static int track_file(const char *dir)
{
	char *path = ut_path(dir, "synced");
	assert_int_equal(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	free(path);
	assert_true(fd >= 0);
	w.track_fd = fd;
	return fd;
}

/* Eight writers at once, syncs slow: all of them are covered, by few syncs. */
static void test_concurrent_callers_share(void **state)
{
	struct fx *c = *state;
	int fd = track_file(c->state);
	struct hs_gsync g;
	hs_gsync_init(&g, fd);
	atomic_store(&w.delay_ms, 50);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, NTH);
	pthread_t th[NTH];
	struct caller cs[NTH];
	for (unsigned k = 0; k < NTH; k++) {
		cs[k] = (struct caller){ .g = &g, .fd = fd, .k = k, .go = &go };
		assert_int_equal(pthread_create(&th[k], NULL, caller_main, &cs[k]), 0);
	}
	for (unsigned k = 0; k < NTH; k++)
		pthread_join(th[k], NULL);
	for (unsigned k = 0; k < NTH; k++) {
		assert_int_equal(cs[k].r, 0);
		if (!cs[k].seen_own)
			fail_msg("caller %u returned before a sync that began after its write ended", k);
	}
	int n = atomic_load(&w.syncs);
	if (n > 3)
		fail_msg("%d syncs for %d concurrent callers: they were not shared", n, NTH);
	pthread_barrier_destroy(&go);
	hs_gsync_destroy(&g);
	close(fd);
}

struct late {
	struct hs_gsync *g;
	int r;
};

static void *late_main(void *p)
{
	struct late *l = p;
	usleep(30000); /* asks while the first, failing sync runs */
	l->r = hs_gsync(l->g);
	return NULL;
}

/* A failed sync: its caller and whoever asked while it ran are told; the
 * next caller gets a sync of its own. */
static void test_failure_reported(void **state)
{
	struct fx *c = *state;
	int fd = track_file(c->state);
	struct hs_gsync g;
	hs_gsync_init(&g, fd);
	atomic_store(&w.delay_ms, 100);
	atomic_store(&w.fail_next, 1);
	struct late l = { .g = &g };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, late_main, &l), 0);
	assert_int_equal(hs_gsync(&g), -EIO);
	pthread_join(th, NULL);
	assert_int_equal(l.r, -EIO);
	atomic_store(&w.delay_ms, 0);
	int before = atomic_load(&w.syncs);
	assert_int_equal(hs_gsync(&g), 0);
	assert_int_equal(atomic_load(&w.syncs), before + 1);
	hs_gsync_destroy(&g);
	close(fd);
}

/* The state: guest writes into eight durably present chunks at once each
 * make "written" durable first, and share the map's syncs. */
struct marker {
	struct hs_state *s;
	uint64_t i;
	pthread_barrier_t *go;
	int r;
};

static void *marker_main(void *p)
{
	struct marker *m = p;
	pthread_barrier_wait(m->go);
	m->r = hs_state_mark_written(m->s, m->i, true);
	return NULL;
}

static void test_state_mark_written_shares_map_syncs(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = NULL;
	assert_int_equal(hs_state_open(c->state, ix, "/some/store", &s), 0);
	for (uint64_t i = 0; i < NTH; i++)
		assert_int_equal(hs_state_set(s, i, HS_PRESENT), 0);
	assert_int_equal(hs_state_flush(s), 0);
	pthread_mutex_lock(&w.lock);
	w.track_fd = s->map_fd;
	pthread_mutex_unlock(&w.lock);
	atomic_store(&w.delay_ms, 50);
	atomic_store(&w.syncs, 0);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, NTH);
	pthread_t th[NTH];
	struct marker m[NTH];
	for (unsigned k = 0; k < NTH; k++) {
		m[k] = (struct marker){ .s = s, .i = k, .go = &go };
		assert_int_equal(pthread_create(&th[k], NULL, marker_main, &m[k]), 0);
	}
	for (unsigned k = 0; k < NTH; k++)
		pthread_join(th[k], NULL);
	for (unsigned k = 0; k < NTH; k++) {
		assert_int_equal(m[k].r, 1);
		assert_int_equal(hs_state_get(s, k), HS_WRITTEN);
		/* Durable before the call returned: the last sync began after it was written. */
		assert_int_equal(w.seen[k], HS_WRITTEN);
	}
	int n = atomic_load(&w.syncs);
	if (n > 3)
		fail_msg("%d map syncs for %d chunks marked at once: one each, not shared", n, NTH);
	pthread_barrier_destroy(&go);
	w.track_fd = -1;
	hs_state_close(s);
	hs_index_free(ix);
}

/* A failed map sync: the chunk is not marked, and the next attempt writes
 * and syncs its byte again. */
static void test_state_failed_map_sync(void **state)
{
	struct fx *c = *state;
	struct hs_index *ix = fx_index(SERVER, T0, IMG_SIZE, CS);
	struct hs_state *s = NULL;
	assert_int_equal(hs_state_open(c->state, ix, "/some/store", &s), 0);
	assert_int_equal(hs_state_set(s, 5, HS_PRESENT), 0);
	assert_int_equal(hs_state_flush(s), 0);
	atomic_store(&w.fail_next, 1);
	assert_int_equal(hs_state_mark_written(s, 5, true), -EIO);
	assert_int_equal(hs_state_get(s, 5), HS_PRESENT);
	int before = atomic_load(&w.syncs);
	assert_int_equal(hs_state_mark_written(s, 5, true), 1);
	assert_true(atomic_load(&w.syncs) > before);
	assert_int_equal(hs_state_get(s, 5), HS_WRITTEN);
	hs_state_close(s);
	hs_index_free(ix);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_concurrent_callers_share),
		T(test_failure_reported),
		T(test_state_mark_written_shares_map_syncs),
		T(test_state_failed_map_sync),
	};
	return cmocka_run_group_tests_name("gsync", tests, NULL, NULL);
}
