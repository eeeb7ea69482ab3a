/* Unit tests for device.h's hole cache: hs_holes_has answers exactly what
 * hs_range_is_hole does for every chunk of a sparse file, in any order and
 * from several threads, though most answers come from the cached run. */
#include "unit.h"
#include "basics/device.h"

#define CS (64u << 10)
#define NCHUNKS 512u

struct file {
	char *dir;
	int fd;
};

static int setup(void **state)
{
	struct file *f = calloc(1, sizeof *f);
	f->dir = ut_tmpdir();
	char *p = ut_path(f->dir, "sparse.img");
	f->fd = open(p, O_RDWR | O_CREAT, 0644);
	free(p);
	if (f->fd < 0 || ftruncate(f->fd, (off_t)NCHUNKS * CS) < 0)
		return -1;
	/* Data in chunk 0, straddling 99/100, inside 300, and in the last. */
	static const uint64_t at[] = { 0, 100 * (uint64_t)CS - 4096, 300 * (uint64_t)CS + 1000,
				       (NCHUNKS - 1) * (uint64_t)CS };
	char buf[8192];
	memset(buf, 'x', sizeof buf);
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
		if (pwrite(f->fd, buf, sizeof buf, (off_t)at[k]) < 0)
			return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct file *f = *state;
	close(f->fd);
	ut_rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void check_order(struct file *f, const uint32_t *order, unsigned n)
{
	struct hs_holes h;
	hs_holes_init(&h);
	unsigned holes = 0;
	for (unsigned k = 0; k < n; k++) {
		uint64_t off = (uint64_t)order[k] * CS;
		bool want = hs_range_is_hole(f->fd, off, CS);
		assert_int_equal(hs_holes_has(&h, f->fd, off, CS), want);
		holes += want;
	}
	hs_holes_destroy(&h);
	/* Chunks 0, 99, 100, 300, 511 hold data (when the filesystem keeps holes). */
	assert_true(holes == 0 || holes == NCHUNKS - 5);
}

static void test_forward_backward_random(void **state)
{
	uint32_t order[NCHUNKS];
	for (unsigned k = 0; k < NCHUNKS; k++)
		order[k] = k;
	check_order(*state, order, NCHUNKS);
	for (unsigned k = 0; k < NCHUNKS; k++)
		order[k] = NCHUNKS - 1 - k;
	check_order(*state, order, NCHUNKS);
	uint64_t s = 42;
	for (unsigned k = NCHUNKS - 1; k > 0; k--) {
		unsigned j = (unsigned)(ut_rand(&s) % (k + 1));
		uint32_t t = order[k];
		order[k] = order[j];
		order[j] = t;
	}
	check_order(*state, order, NCHUNKS);
}

/* Past the end of the file: holes, as hs_range_is_hole says (ENXIO). */
static void test_past_end(void **state)
{
	struct file *f = *state;
	struct hs_holes h;
	hs_holes_init(&h);
	assert_true(hs_holes_has(&h, f->fd, (uint64_t)NCHUNKS * CS, CS));
	assert_false(hs_holes_has(&h, f->fd, (uint64_t)(NCHUNKS - 1) * CS, CS));
	hs_holes_destroy(&h);
}

struct worker {
	struct file *f;
	struct hs_holes *h;
	unsigned first, wrong;
};

static void *walk(void *arg)
{
	struct worker *w = arg;
	for (unsigned i = w->first; i < NCHUNKS; i += 2) {
		uint64_t off = (uint64_t)i * CS;
		if (hs_holes_has(w->h, w->f->fd, off, CS) != hs_range_is_hole(w->f->fd, off, CS))
			w->wrong++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct hs_holes h;
	hs_holes_init(&h);
	struct worker w[2] = { { *state, &h, 0, 0 }, { *state, &h, 1, 0 } };
	pthread_t t[2];
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&t[k], NULL, walk, &w[k]), 0);
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	assert_int_equal(w[0].wrong + w[1].wrong, 0);
	hs_holes_destroy(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forward_backward_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
