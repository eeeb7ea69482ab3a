/* Unit tests for run.h's view of processes: /proc/PID/stat read whole
 * (state, group, threads, start) and when a process counts as running. */
#include "unit.h"
#include "basics/run.h"
#include <pthread.h>
#include <time.h>

/* Wait up to 5 s for pid's state to become want. */
static void wait_state(long pid, char want)
{
	struct hs_proc p = { 0 };
	for (int i = 0; i < 500; i++) {
		if (hs_proc_get(pid, &p) == 0 && p.state == want)
			return;
		usleep(10000);
	}
	fail_msg("process %ld never reached state %c (last %c)", pid, want, p.state);
}

static void test_self(void **state)
{
	(void)state;
	struct hs_proc p;
	assert_int_equal(hs_proc_get(getpid(), &p), 0);
	assert_true(p.state == 'R' || p.state == 'S');
	assert_int_equal(p.pgrp, getpgrp());
	assert_true(p.threads >= 1);
	assert_true(p.start > 0);
	assert_true(hs_proc_start(getpid()) == p.start);
	assert_true(hs_proc_running(getpid(), 0));
	assert_true(hs_proc_running(getpid(), p.start));
	assert_false(hs_proc_running(getpid(), p.start + 1)); /* another process with this pid */
	assert_false(hs_proc_running(0, 0));
	assert_false(hs_proc_running(-1, 0));
}

/* An exited child is done before its parent reaps it, and gone after. */
static void test_zombie_is_not_running(void **state)
{
	(void)state;
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0)
		_exit(0);
	wait_state(c, 'Z');
	assert_false(hs_proc_running(c, 0));
	assert_true(hs_proc_start(c) > 0); /* still its pid until reaped */
	assert_int_equal(waitpid(c, NULL, 0), c);
	assert_false(hs_proc_running(c, 0));
	assert_int_equal(hs_proc_start(c), 0);
	struct hs_proc p;
	assert_int_equal(hs_proc_get(c, &p), -ENOENT);
}

static int wake[2];
static void *blocked(void *arg)
{
	(void)arg;
	char b;
	ssize_t n = read(wake[0], &b, 1);
	(void)n;
	return NULL;
}

/* A leader that left by pthread_exit shows as a zombie while another
 * thread works on: that process still runs. */
static void test_exited_leader_still_running(void **state)
{
	(void)state;
	assert_int_equal(pipe(wake), 0);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		close(wake[1]);
		pthread_t t;
		if (pthread_create(&t, NULL, blocked, NULL) != 0)
			_exit(1);
		pthread_exit(NULL);
	}
	close(wake[0]);
	wait_state(c, 'Z');
	struct hs_proc p;
	assert_int_equal(hs_proc_get(c, &p), 0);
	assert_int_equal(p.threads, 2);
	assert_true(hs_proc_running(c, 0));
	close(wake[1]); /* the thread returns: the process exits */
	int st;
	for (int i = 0; i < 500 && hs_proc_running(c, 0); i++)
		usleep(10000);
	assert_false(hs_proc_running(c, 0));
	assert_int_equal(waitpid(c, &st, 0), c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_zombie_is_not_running),
		cmocka_unit_test(test_exited_leader_still_running),
	};
	return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
