/* Unit tests for progress.h: size parsing, byte formatting, the progress bar. */
#include "unit.h"
#include "basics/progress.h"

static void expect_size(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	int r = hs_parse_size(s, &v);
	if (r != 0)
		fail_msg("size '%s' rejected (%d)", s, r);
	if (v != want)
		fail_msg("size '%s' parsed as %llu, expected %llu", s, (unsigned long long)v,
			 (unsigned long long)want);
}

static void expect_bad_size(const char *s)
{
	uint64_t v = 0xdeadbeef;
	int r = hs_parse_size(s, &v);
	if (r != -EINVAL)
		fail_msg("size '%s': expected -EINVAL, got %d (value %llu)", s, r, (unsigned long long)v);
	assert_int_equal(v, 0xdeadbeef);
}

static void test_parse_size_accepted(void **state)
{
	(void)state;
	expect_size("0", 0);
	expect_size("1", 1);
	expect_size("65536", 65536);
	expect_size("1K", 1024);
	expect_size("1k", 1024);
	expect_size("64K", 65536);
	expect_size("64KiB", 65536);
	expect_size("64kib", 65536);
	expect_size("64KB", 65536);
	expect_size("1M", 1u << 20);
	expect_size("4MiB", 4u << 20);
	expect_size("1m", 1u << 20);
	expect_size("3G", 3ull << 30);
	expect_size("2GiB", 2ull << 30);
	expect_size("1T", 1ull << 40);
	expect_size("5TiB", 5ull << 40);
	expect_size("0K", 0);
	expect_size("16777215T", 16777215ull << 40);
	expect_size("18446744073709551615", UINT64_MAX);
	expect_size("17179869183G", 17179869183ull << 30);
}

static void test_parse_size_rejected(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "K", "KiB", "-1", "-1K", "1.5G", "1,5G", "1 K", "1X", "1P", "1E", "1KiBs",
		"1Ki", "1KK", "1iB", "1Kb2", "abc", "0x10", "1e6", "18446744073709551616",
		"99999999999999999999", "16777216T", "17179869184G", "17592186044416M",
		"18014398509481984K", "1\n", "1K ",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		expect_bad_size(bad[i]);
}

/* Signs and blanks in front of the number: a negative number must never come
 * back as an enormous size. */
static void test_parse_size_rejects_negative_after_blank(void **state)
{
	(void)state;
	expect_bad_size(" -1");
	expect_bad_size("\t-5M");
	expect_bad_size(" -0");
}

static void expect_fmt(uint64_t n, const char *want)
{
	char out[16];
	memset(out, 'X', sizeof out);
	const char *r = hs_fmt_bytes(n, out);
	assert_ptr_equal(r, out);
	assert_string_equal(out, want);
}

static void test_fmt_bytes(void **state)
{
	(void)state;
	expect_fmt(0, "0 B");
	expect_fmt(1, "1 B");
	expect_fmt(1023, "1023 B");
	expect_fmt(1024, "1.0 KiB");
	expect_fmt(1536, "1.5 KiB");
	expect_fmt(65536, "64.0 KiB");
	expect_fmt(1u << 20, "1.0 MiB");
	expect_fmt((3ull << 30) + (512ull << 20), "3.5 GiB");
	expect_fmt(1ull << 40, "1.0 TiB");
	expect_fmt(1ull << 50, "1.0 PiB");
	expect_fmt(1ull << 60, "1024.0 PiB");
	expect_fmt(UINT64_MAX, "16384.0 PiB");
}

static void test_progress_counts(void **state)
{
	(void)state;
	struct hs_progress p;
	memset(&p, 0, sizeof p);
	hs_progress_start(&p, "test", 1000, 0);
	hs_progress_add(&p, 100);
	hs_progress_add(&p, 250);
	assert_int_equal(atomic_load(&p.done), 350);
	assert_int_equal(p.total, 1000);
	double s = hs_progress_seconds(&p);
	assert_true(s >= 0 && s < 60);
	usleep(20000);
	assert_true(hs_progress_seconds(&p) >= s + 0.015);
	hs_progress_end(&p);
}

/* With force_tty the bar is drawn on stderr (captured here) and cleared at the end. */
static void test_progress_draws(void **state)
{
	(void)state;
	char *dir = ut_tmpdir();
	assert_non_null(dir);
	char *path = ut_path(dir, "stderr");
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);

	struct hs_progress p;
	memset(&p, 0, sizeof p);
	hs_progress_start(&p, "copying", 4u << 20, 1);
	hs_progress_add(&p, 2u << 20);
	usleep(300000);
	hs_progress_end(&p);

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	size_t n;
	char *out = (char *)ut_read_file(path, &n);
	assert_non_null(out);
	out = realloc(out, n + 1);
	out[n] = 0;
	assert_non_null(strstr(out, "copying"));
	assert_non_null(strstr(out, "2.0 MiB / 4.0 MiB"));
	assert_non_null(strstr(out, "50%"));
	/* Ends by clearing the line. */
	assert_true(n >= 4);
	assert_string_equal(out + n - 4, "\r\033[K");
	free(out);
	ut_rm_rf(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_accepted),
		cmocka_unit_test(test_parse_size_rejected),
		cmocka_unit_test(test_parse_size_rejects_negative_after_blank),
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_progress_counts),
		cmocka_unit_test(test_progress_draws),
	};
	return cmocka_run_group_tests_name("progress", tests, NULL, NULL);
}
