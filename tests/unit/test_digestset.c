/* Unit tests for digestset.h: an open-addressed set of digests. */
#include "unit.h"
#include "basics/digestset.h"

static struct hs_digest dg(uint64_t k)
{
	struct hs_digest d;
	hs_digest_compute(&k, sizeof k, &d);
	return d;
}

static void test_add_has(void **state)
{
	(void)state;
	struct hs_dset s;
	assert_int_equal(hs_dset_init(&s, 0), 0);
	assert_int_equal(s.n, 0);
	struct hs_digest a = dg(1), b = dg(2), c = dg(3);
	assert_false(hs_dset_has(&s, &a));
	assert_int_equal(hs_dset_add(&s, &a), 1);
	assert_true(hs_dset_has(&s, &a));
	assert_false(hs_dset_has(&s, &b));
	assert_int_equal(hs_dset_add(&s, &b), 1);
	assert_true(hs_dset_has(&s, &b));
	assert_false(hs_dset_has(&s, &c));
	assert_int_equal(s.n, 2);
	/* A digest differing from a member in one bit is not a member. */
	for (int i = 0; i < HS_DIGEST_LEN; i++) {
		struct hs_digest x = a;
		x.b[i] ^= 0x10;
		assert_false(hs_dset_has(&s, &x));
	}
	hs_dset_free(&s);
	assert_null(s.slot);
	assert_int_equal(s.n, 0);
}

static void test_duplicates(void **state)
{
	(void)state;
	struct hs_dset s;
	assert_int_equal(hs_dset_init(&s, 4), 0);
	for (int round = 0; round < 5; round++) {
		for (uint64_t k = 0; k < 100; k++) {
			struct hs_digest d = dg(k);
			assert_int_equal(hs_dset_add(&s, &d), round == 0 ? 1 : 0);
		}
		assert_int_equal(s.n, 100);
	}
	/* A copy in other memory is the same member. */
	struct hs_digest d = dg(42), copy;
	memcpy(&copy, &d, sizeof d);
	assert_int_equal(hs_dset_add(&s, &copy), 0);
	hs_dset_free(&s);
}

static void test_growth(void **state)
{
	(void)state;
	const uint64_t N = 200000;
	struct hs_dset s;
	assert_int_equal(hs_dset_init(&s, 1), 0);
	size_t cap0 = s.cap;
	for (uint64_t k = 0; k < N; k++) {
		struct hs_digest d = dg(k);
		int r = hs_dset_add(&s, &d);
		if (r != 1)
			fail_msg("add #%llu returned %d", (unsigned long long)k, r);
		/* Earlier members survive every resize. */
		if ((k & (k - 1)) == 0)
			for (uint64_t j = 0; j <= k; j++) {
				struct hs_digest e = dg(j);
				assert_true(hs_dset_has(&s, &e));
			}
	}
	assert_int_equal(s.n, N);
	assert_true(s.cap > cap0);
	assert_true(s.cap >= 2 * N);
	assert_int_equal(s.cap & (s.cap - 1), 0);
	for (uint64_t k = 0; k < N; k++) {
		struct hs_digest d = dg(k);
		if (!hs_dset_has(&s, &d))
			fail_msg("member #%llu lost", (unsigned long long)k);
	}
	for (uint64_t k = N; k < 2 * N; k++) {
		struct hs_digest d = dg(k);
		if (hs_dset_has(&s, &d))
			fail_msg("non-member #%llu found", (unsigned long long)k);
	}
	hs_dset_free(&s);

	/* Sized up front: no resize needed, same answers. */
	assert_int_equal(hs_dset_init(&s, 50000), 0);
	assert_true(s.cap >= 100000);
	size_t cap = s.cap;
	for (uint64_t k = 0; k < 50000; k++) {
		struct hs_digest d = dg(k);
		assert_int_equal(hs_dset_add(&s, &d), 1);
	}
	assert_int_equal(s.cap, cap);
	for (uint64_t k = 0; k < 50000; k++) {
		struct hs_digest d = dg(k);
		assert_true(hs_dset_has(&s, &d));
	}
	hs_dset_free(&s);
}

/* Digests whose hashed bytes collide (same slot) and that probe across the
 * end of the table. */
static void test_collisions_and_wrap(void **state)
{
	(void)state;
	struct hs_dset s;
	assert_int_equal(hs_dset_init(&s, 0), 0);
	struct hs_digest d[40];
	for (int i = 0; i < 40; i++) {
		memset(&d[i], 0xff, sizeof d[i]); /* first 8 bytes all ones: the last slot */
		d[i].b[31] = (uint8_t)i;
		d[i].b[20] = (uint8_t)(i * 7);
	}
	for (int i = 0; i < 40; i++) {
		assert_int_equal(hs_dset_add(&s, &d[i]), 1);
		for (int j = 0; j <= i; j++)
			assert_true(hs_dset_has(&s, &d[j]));
		for (int j = i + 1; j < 40; j++)
			assert_false(hs_dset_has(&s, &d[j]));
	}
	for (int i = 0; i < 40; i++)
		assert_int_equal(hs_dset_add(&s, &d[i]), 0);
	assert_int_equal(s.n, 40);
	/* A digest in slot 0 coexists with the wrapped ones. */
	struct hs_digest z0;
	memset(&z0, 0, sizeof z0);
	z0.b[31] = 1;
	assert_false(hs_dset_has(&s, &z0));
	assert_int_equal(hs_dset_add(&s, &z0), 1);
	assert_true(hs_dset_has(&s, &z0));
	for (int i = 0; i < 40; i++)
		assert_true(hs_dset_has(&s, &d[i]));
	hs_dset_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_has),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_collisions_and_wrap),
	};
	return cmocka_run_group_tests_name("digestset", tests, NULL, NULL);
}
