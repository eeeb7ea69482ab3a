/* Unit tests for sources.h: seeds first, then the store; bad copies skipped. */
#include "fixture.h"

/* Content number k: CS bytes. */
static void content(unsigned char *p, int k)
{
	ut_fill(p, CS / 4, 1000 + (uint64_t)k);
	memset(p + CS / 4, k, CS - CS / 4);
}

/* Put content k into the store at where, under the digest of content
 * as_k (a corrupt copy when k != as_k). */
static void put_into(const char *where, int k, int as_k)
{
	unsigned char *p = malloc(CS), *as = malloc(CS);
	assert_non_null(p);
	assert_non_null(as);
	content(p, k);
	content(as, as_k);
	fx_put_chunk(where, p, as, CS);
	free(p);
	free(as);
}

static void open_sources(struct fx *c, struct hs_sources *s)
{
	struct hs_store *st;
	assert_int_equal(hs_store_open(c->store, &st), 0);
	char *seeds[] = { c->seed, c->seed2 };
	assert_int_equal(hs_sources_open(st, seeds, 2, s), 0);
	assert_int_equal(s->n, 3);
	assert_ptr_equal(s->v[2], st);
}

/* Read content k: expect rc, and on success the right bytes from source want_from. */
static void expect_read(struct hs_sources *s, int k, int rc, size_t want_from)
{
	unsigned char *want = malloc(CS), *got = malloc(CS);
	assert_non_null(want);
	assert_non_null(got);
	content(want, k);
	struct hs_digest d;
	hs_digest_compute(want, CS, &d);
	struct hs_buf scratch = { 0 };
	size_t from = 99;
	memset(got, 0xcc, CS);
	hs_err_clear();
	int r = hs_sources_read(s, &d, got, CS, &scratch, &from);
	if (r != rc)
		fail_msg("content %d: expected %d, got %d (%s)", k, rc, r, hs_err_msg() ? hs_err_msg() : "");
	if (rc == 0) {
		assert_int_equal(from, want_from);
		assert_memory_equal(got, want, CS);
	} else {
		char hex[HS_DIGEST_HEX];
		hs_digest_hex(&d, hex);
		assert_err_mentions(hex);
	}
	hs_buf_free(&scratch);
	free(want);
	free(got);
}

static void test_order_and_fallback(void **state)
{
	struct fx *c = *state;
	put_into(c->store, 1, 1);  /* only in the store */
	put_into(c->seed2, 2, 2); /* in seed b and the store */
	put_into(c->store, 2, 2);
	put_into(c->seed, 3, 3); /* in every source: the first seed wins */
	put_into(c->seed2, 3, 3);
	put_into(c->store, 3, 3);
	put_into(c->seed, 99, 4); /* corrupt in seed a, good in seed b */
	put_into(c->seed2, 4, 4);
	put_into(c->seed, 99, 5); /* corrupt in both seeds, good in the store */
	put_into(c->seed2, 98, 5);
	put_into(c->store, 5, 5);
	put_into(c->seed, 99, 6); /* corrupt everywhere */
	put_into(c->store, 98, 6);
	/* content 7: nowhere */
	struct hs_sources s;
	open_sources(c, &s);
	expect_read(&s, 1, 0, 2);
	expect_read(&s, 2, 0, 1);
	expect_read(&s, 3, 0, 0);
	expect_read(&s, 4, 0, 1);
	expect_read(&s, 5, 0, 2);
	expect_read(&s, 6, -EIO, 0);
	assert_err_mentions("corrupt");
	assert_err_mentions(c->seed);
	expect_read(&s, 7, -ENOENT, 0);
	assert_err_mentions("missing");
	assert_err_mentions(c->store);
	hs_sources_close(&s);
	assert_int_equal(s.n, 0);
}

static void test_no_seeds(void **state)
{
	struct fx *c = *state;
	put_into(c->store, 1, 1);
	struct hs_store *st;
	assert_int_equal(hs_store_open(c->store, &st), 0);
	struct hs_sources s;
	assert_int_equal(hs_sources_open(st, NULL, 0, &s), 0);
	assert_int_equal(s.n, 1);
	expect_read(&s, 1, 0, 0);
	expect_read(&s, 2, -ENOENT, 0);
	hs_sources_close(&s);
}

static void test_bad_seeds(void **state)
{
	struct fx *c = *state;
	struct hs_store *st;
	struct hs_sources s;
	/* A seed with another chunk size (the store is closed by hs_sources_open). */
	char *other = ut_path(c->dir, "other");
	assert_int_equal(hs_store_init(other, CS * 2), 0);
	assert_int_equal(hs_store_open(c->store, &st), 0);
	char *seeds[] = { c->seed, other };
	hs_err_clear();
	assert_int_equal(hs_sources_open(st, seeds, 2, &s), -EINVAL);
	assert_err_mentions(other);
	assert_err_mentions("chunk size");
	/* A seed that does not exist. */
	char *missing = ut_path(c->dir, "missing");
	assert_int_equal(hs_store_open(c->store, &st), 0);
	seeds[1] = missing;
	hs_err_clear();
	assert_int_equal(hs_sources_open(st, seeds, 2, &s), -ENOENT);
	assert_err_mentions("seed");
	assert_err_mentions(missing);
	free(other);
	free(missing);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup_stores, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_order_and_fallback),
		T(test_no_seeds),
		T(test_bad_seeds),
	};
	return cmocka_run_group_tests_name("sources", tests, NULL, NULL);
}
