/* Unit tests for digest.h: SHA-256, hex form, parsing, zero detection. */
#include "unit.h"
#include "basics/digest.h"

static void digest_of_str(const char *s, struct hs_digest *d)
{
	hs_digest_compute(s, strlen(s), d);
}

static void assert_digest_hex(const struct hs_digest *d, const char *want)
{
	char hex[HS_DIGEST_HEX];
	hs_digest_hex(d, hex);
	assert_string_equal(hex, want);
}

/* FIPS 180-2 / NIST test vectors. */
static void test_compute_known_vectors(void **state)
{
	(void)state;
	struct hs_digest d;
	digest_of_str("abc", &d);
	assert_digest_hex(&d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_of_str("", &d);
	assert_digest_hex(&d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	digest_of_str("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", &d);
	assert_digest_hex(&d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	size_t n = 1000000;
	char *a = malloc(n);
	assert_non_null(a);
	memset(a, 'a', n);
	hs_digest_compute(a, n, &d);
	free(a);
	assert_digest_hex(&d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* A digest of real content is neither the zero sentinel nor equal to another's. */
static void test_eq_and_is_zero(void **state)
{
	(void)state;
	struct hs_digest a, b, c, z;
	memset(&z, 0, sizeof z);
	digest_of_str("abc", &a);
	digest_of_str("abc", &b);
	digest_of_str("abd", &c);
	assert_true(hs_digest_eq(&a, &b));
	assert_false(hs_digest_eq(&a, &c));
	assert_false(hs_digest_is_zero(&a));
	assert_true(hs_digest_is_zero(&z));
	for (int i = 0; i < HS_DIGEST_LEN; i++) {
		struct hs_digest y = z;
		y.b[i] = 0x01;
		assert_false(hs_digest_is_zero(&y));
		assert_false(hs_digest_eq(&y, &z));
		y = a;
		y.b[i] ^= 0x80;
		assert_false(hs_digest_eq(&y, &a));
	}
}

static void test_hex_round_trip(void **state)
{
	(void)state;
	uint64_t seed = 42;
	for (int round = 0; round < 1000; round++) {
		struct hs_digest d, back;
		for (int i = 0; i < HS_DIGEST_LEN; i++)
			d.b[i] = (uint8_t)(ut_rand(&seed) >> 56);
		if (round == 0)
			memset(d.b, 0, sizeof d.b);
		if (round == 1)
			memset(d.b, 0xff, sizeof d.b);
		char hex[HS_DIGEST_HEX];
		memset(hex, 'X', sizeof hex);
		hs_digest_hex(&d, hex);
		assert_int_equal(strlen(hex), 2 * HS_DIGEST_LEN);
		for (int i = 0; i < 2 * HS_DIGEST_LEN; i++)
			assert_non_null(strchr("0123456789abcdef", hex[i]));
		memset(&back, 0x5a, sizeof back);
		assert_int_equal(hs_digest_parse(hex, &back), 0);
		assert_memory_equal(d.b, back.b, HS_DIGEST_LEN);
	}
	struct hs_digest d;
	assert_int_equal(hs_digest_parse("000102030405060708090a0b0c0d0e0f"
					 "f0e1d2c3b4a5968778695a4b3c2d1e0f", &d), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(d.b[i], i);
	assert_int_equal(d.b[16], 0xf0);
	assert_int_equal(d.b[31], 0x0f);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	const char *good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	struct hs_digest d;
	assert_int_equal(hs_digest_parse(good, &d), 0);

	assert_int_equal(hs_digest_parse("", &d), -EINVAL);
	assert_int_equal(hs_digest_parse("ab", &d), -EINVAL);
	assert_int_equal(hs_digest_parse("zz", &d), -EINVAL);
	/* Every shorter prefix, and one character too many. */
	char buf[2 * HS_DIGEST_LEN + 8];
	for (size_t len = 0; len < 2 * HS_DIGEST_LEN; len++) {
		memcpy(buf, good, len);
		buf[len] = 0;
		assert_int_equal(hs_digest_parse(buf, &d), -EINVAL);
	}
	snprintf(buf, sizeof buf, "%s0", good);
	assert_int_equal(hs_digest_parse(buf, &d), -EINVAL);
	snprintf(buf, sizeof buf, "%s ", good);
	assert_int_equal(hs_digest_parse(buf, &d), -EINVAL);
	snprintf(buf, sizeof buf, "%s.zst", good);
	assert_int_equal(hs_digest_parse(buf, &d), -EINVAL);
	/* A bad character at each position. */
	const char bad[] = { 'g', 'x', ' ', '-', ':', '/', '\n', (char)0xc3 };
	for (size_t pos = 0; pos < 2 * HS_DIGEST_LEN; pos++) {
		for (size_t k = 0; k < sizeof bad; k++) {
			memcpy(buf, good, sizeof buf > 65 ? 65 : sizeof buf);
			buf[pos] = bad[k];
			assert_int_equal(hs_digest_parse(buf, &d), -EINVAL);
		}
	}
	/* A NUL in the middle ends the string early. */
	memcpy(buf, good, 65);
	buf[10] = 0;
	assert_int_equal(hs_digest_parse(buf, &d), -EINVAL);
}

static const size_t lengths[] = {
	1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 66, 100, 127, 128, 129,
	191, 192, 193, 255, 256, 257, 1000, 4095, 4096, 4097, 65535, 65536, 65537,
	(1u << 20) - 1, 1u << 20, (1u << 20) + 1,
};

/* An exactly-sized allocation, so ASan catches any read past n. */
static void test_is_zero_all_zero(void **state)
{
	(void)state;
	assert_true(hs_is_zero("x", 0));
	for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
		size_t n = lengths[li];
		unsigned char *p = calloc(1, n);
		assert_non_null(p);
		assert_true(hs_is_zero(p, n));
		free(p);
	}
	/* Zero range inside non-zero surroundings: only [1, 1+n) is looked at. */
	for (size_t n = 0; n < 300; n++) {
		unsigned char *p = malloc(n + 2);
		assert_non_null(p);
		memset(p, 0xee, n + 2);
		memset(p + 1, 0, n);
		assert_true(hs_is_zero(p + 1, n));
		free(p);
	}
}

static void test_is_zero_single_byte(void **state)
{
	(void)state;
	for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
		size_t n = lengths[li];
		unsigned char *p = calloc(1, n);
		assert_non_null(p);
		size_t pos[] = { 0, 1, 7, 8, 31, 32, 63, 64, 65, 127, 128, n / 3, n / 2, n - 65, n - 64,
				 n - 2, n - 1 };
		for (size_t k = 0; k < sizeof pos / sizeof *pos; k++) {
			if (pos[k] >= n)
				continue;
			const unsigned char vals[] = { 0x01, 0x80, 0xff };
			for (size_t v = 0; v < sizeof vals; v++) {
				p[pos[k]] = vals[v];
				if (hs_is_zero(p, n))
					fail_msg("hs_is_zero(len %zu) missed byte 0x%02x at %zu", n, vals[v],
						 pos[k]);
				p[pos[k]] = 0;
			}
			assert_true(hs_is_zero(p, n));
		}
		free(p);
	}
	/* Every position of every small length. */
	for (size_t n = 1; n <= 200; n++) {
		unsigned char *p = calloc(1, n);
		assert_non_null(p);
		for (size_t i = 0; i < n; i++) {
			p[i] = 1;
			if (hs_is_zero(p, n))
				fail_msg("hs_is_zero(len %zu) missed a byte at %zu", n, i);
			p[i] = 0;
		}
		free(p);
	}
}

/* Unaligned starts, and repeating patterns the shifted comparison must not be fooled by. */
static void test_is_zero_unaligned_and_patterns(void **state)
{
	(void)state;
	size_t n = 4096;
	unsigned char *base = calloc(1, n + 16);
	assert_non_null(base);
	for (size_t off = 0; off < 16; off++) {
		assert_true(hs_is_zero(base + off, n));
		base[off + n - 1] = 3;
		assert_false(hs_is_zero(base + off, n));
		base[off + n - 1] = 0;
		base[off + 2000] = 3;
		assert_false(hs_is_zero(base + off, n));
		base[off + 2000] = 0;
	}
	/* The same non-zero byte every 64 bytes after a zero head. */
	memset(base, 0, n + 16);
	for (size_t i = 64; i < n; i += 64)
		base[i] = 9;
	assert_false(hs_is_zero(base, n));
	/* All bytes non-zero. */
	memset(base, 0xff, n);
	assert_false(hs_is_zero(base, n));
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compute_known_vectors),
		cmocka_unit_test(test_eq_and_is_zero),
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_is_zero_all_zero),
		cmocka_unit_test(test_is_zero_single_byte),
		cmocka_unit_test(test_is_zero_unaligned_and_patterns),
	};
	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
