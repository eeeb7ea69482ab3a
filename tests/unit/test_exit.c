/* Unit tests for the daemon's exit record (spare/status.h): what umount
 * trusts is only a regular, small record of this very process (pid and
 * start), with fields of the right types; anything else, a FIFO or a
 * device planted in its place included, is "no record", at once. */
#include "unit.h"
#include "basics/run.h"
#include "spare/status.h"

static char *dir;
static long me;
static unsigned long long born;

static int setup(void **state)
{
	(void)state;
	dir = ut_tmpdir();
	me = (long)getpid();
	born = hs_proc_start(me);
	return dir && born ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ut_rm_rf(dir);
	free(dir);
	return 0;
}

static void plant(const char *text)
{
	char *p = ut_path(dir, HS_EXIT_FILE);
	unlink(p);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void test_written_then_read(void **state)
{
	(void)state;
	/* The pid and start time the daemon's status gave. */
	struct hs_status_info info = { .state_dir = dir, .pid = (int)me, .pid_start = born };
	assert_int_equal(hs_status_exit_write(&info, 0), 0);
	assert_int_equal(hs_status_exit_check(dir, me, born), 0);
	/* Another process (or this pid started at another time) left it. */
	assert_int_equal(hs_status_exit_check(dir, me + 1, born), -EIO);
	assert_err_mentions("left no record");
	assert_int_equal(hs_status_exit_check(dir, me, born + 1), -EIO);
	char *p = ut_path(dir, HS_EXIT_FILE);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
	/* A failed close says why, on one line. */
	hs_err(EIO, "cannot flush state %s/x\ny: Input/output error", dir);
	assert_int_equal(hs_status_exit_write(&info, -EIO), 0);
	assert_int_equal(hs_status_exit_check(dir, me, born), -EIO);
	assert_err_mentions("could not close its state cleanly: cannot flush state");
	assert_null(strchr(hs_err_msg(), '\n'));
}

static void test_forged_or_odd_records(void **state)
{
	(void)state;
	char text[512];
	const char *bad[] = {
		"{\"pid\":%ld,\"start\":%llu,\"ok\":\"yes\"}",  /* ok not a boolean */
		"{\"pid\":%ld,\"start\":%llu.5,\"ok\":true}",   /* start not a whole number */
		"{\"pid\":\"%ld\",\"start\":%llu,\"ok\":true}", /* pid a string */
		"{\"pid\":%ld,\"start\":%llu}",                 /* no ok */
		"[%ld,%llu,true]",                             /* not an object */
		"{\"pid\":%ld,\"start\":%llu,\"ok\":true",      /* cut short */
	};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		snprintf(text, sizeof text, bad[k], me, born);
		plant(text);
		assert_int_equal(hs_status_exit_check(dir, me, born), -EIO);
		assert_err_mentions("left no record");
	}
	/* A failure without a reason (null, or none): said so, not "(null)". */
	snprintf(text, sizeof text, "{\"pid\":%ld,\"start\":%llu,\"ok\":false,\"error\":null}", me, born);
	plant(text);
	assert_int_equal(hs_status_exit_check(dir, me, born), -EIO);
	assert_err_mentions("cleanly: no reason given");
	/* Longer than any record: not read whole. */
	char *big = malloc(1 << 20);
	assert_non_null(big);
	int n = snprintf(big, 1 << 20, "{\"pid\":%ld,\"start\":%llu,\"ok\":true,\"pad\":\"", me, born);
	memset(big + n, 'x', (1 << 20) - n - 3);
	memcpy(big + (1 << 20) - 3, "\"}", 3);
	plant(big);
	free(big);
	assert_int_equal(hs_status_exit_check(dir, me, born), -EIO);
}

static void test_planted_specials_are_not_opened(void **state)
{
	(void)state;
	char *p = ut_path(dir, HS_EXIT_FILE);
	unlink(p);
	/* A FIFO with no writer would block an open or a read for ever. */
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(hs_status_exit_check(dir, me, born), -EIO);
	unlink(p);
	/* A symlink (here to an endless device) is not followed. */
	assert_int_equal(symlink("/dev/zero", p), 0);
	assert_int_equal(hs_status_exit_check(dir, me, born), -EIO);
	unlink(p);
	/* Nothing there at all. */
	assert_int_equal(hs_status_exit_check(dir, me, born), -EIO);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_written_then_read),
		cmocka_unit_test(test_forged_or_odd_records),
		cmocka_unit_test(test_planted_specials_are_not_opened),
	};
	return cmocka_run_group_tests_name("exit", tests, setup, teardown);
}
