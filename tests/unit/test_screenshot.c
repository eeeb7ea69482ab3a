/* Unit tests for vm/screenshot.h: pictures decoded from PNG and PPM, a PPM
 * kept as PNG, blank screens and screens that changed. */
#include "unit.h"
#include "vm/screenshot.h"

/* A binary PPM of w x h black pixels with a w/4 x h/4 grey box (or none). */
static size_t ppm(unsigned w, unsigned h, bool box, unsigned char **out)
{
	char head[64];
	int n = snprintf(head, sizeof head, "P6\n# a comment\n%u %u\n255\n", w, h);
	size_t len = (size_t)n + (size_t)w * h * 3;
	unsigned char *p = calloc(1, len);
	memcpy(p, head, (size_t)n);
	for (unsigned y = 0; box && y < h / 4; y++)
		for (unsigned x = 0; x < w / 4; x++)
			memset(p + n + ((size_t)(y + h / 2) * w + x + w / 2) * 3, 0xaa, 3);
	*out = p;
	return len;
}

static void test_decode(void **state)
{
	(void)state;
	unsigned char *p;
	size_t n = ppm(64, 40, true, &p);
	struct hs_screen a, b;
	assert_int_equal(hs_screen_decode(p, n, &a), 0);
	assert_int_equal(a.width, 64);
	assert_int_equal(a.height, 40);
	assert_true(a.png.len > 8);
	assert_memory_equal(a.png.data, "\x89PNG\r\n\x1a\n", 8);
	/* The PNG made from it decodes to the same pixels. */
	assert_int_equal(hs_screen_decode(a.png.data, a.png.len, &b), 0);
	assert_int_equal(b.width, 64);
	assert_memory_equal(a.rgb, b.rgb, 64 * 40 * 3);
	assert_true(hs_screen_diff(&a, &b) == 0);
	hs_screen_free(&b);
	/* Truncated, garbage, absurd sizes: refused, with a message. */
	hs_err_clear();
	assert_int_equal(hs_screen_decode(a.png.data, a.png.len / 2, &b), -EBADMSG);
	assert_int_equal(hs_screen_decode(p, n - 10, &b), -EBADMSG);
	assert_err_mentions("cut short");
	assert_int_equal(hs_screen_decode("hello", 5, &b), -EBADMSG);
	assert_int_equal(hs_screen_decode("P6\n99999 99999\n255\n", 20, &b), -EBADMSG);
	assert_err_mentions("beyond");
	assert_int_equal(hs_screen_decode("P6\n4 4\n65535\n", 14, &b), -EBADMSG);
	hs_screen_free(&a);
	free(p);
}

static void test_blank_and_diff(void **state)
{
	(void)state;
	unsigned char *p, *q;
	size_t n = ppm(720, 400, false, &p), m = ppm(720, 400, true, &q);
	struct hs_screen black, boxed, cursor;
	assert_int_equal(hs_screen_decode(p, n, &black), 0);
	assert_int_equal(hs_screen_decode(q, m, &boxed), 0);
	assert_true(hs_screen_blank(&black));
	assert_false(hs_screen_blank(&boxed));
	assert_true(hs_screen_ink(&boxed) > 0.05);
	assert_true(hs_screen_diff(&black, &boxed) > 0.05);
	/* A blinking cursor (9x2 pixels) is the same picture, and no ink. */
	assert_int_equal(hs_screen_decode(p, n, &cursor), 0);
	for (int y = 0; y < 2; y++)
		memset(cursor.rgb + ((size_t)(100 + y) * 720 + 10) * 3, 0xaa, 9 * 3);
	assert_true(hs_screen_diff(&black, &cursor) <= HS_SCREEN_SAME);
	assert_true(hs_screen_blank(&cursor));
	/* Screens of other sizes differ wholly. */
	unsigned char *r;
	size_t k = ppm(640, 480, false, &r);
	struct hs_screen other;
	assert_int_equal(hs_screen_decode(r, k, &other), 0);
	assert_true(hs_screen_diff(&black, &other) == 1);
	hs_screen_free(&black);
	hs_screen_free(&boxed);
	hs_screen_free(&cursor);
	hs_screen_free(&other);
	free(p);
	free(q);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_blank_and_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
