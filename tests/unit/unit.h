/* Shared helpers for the cmocka unit tests (header-only, test code only). */
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "basics/err.h"

/* The current error message exists and mentions want. */
#define assert_err_mentions(want)                                                       \
	do {                                                                            \
		const char *m_ = hs_err_msg();                                          \
		if (!m_)                                                                \
			fail_msg("no error message set (expected one mentioning '%s')", \
				 (want));                                               \
		if (!strstr(m_, (want)))                                                \
			fail_msg("error message '%s' does not mention '%s'", m_, (want)); \
	} while (0)

/* A deterministic pseudo-random generator (xorshift64*), so failures repeat. */
static inline uint64_t ut_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ull;
}

static inline void ut_fill(void *p, size_t n, uint64_t seed)
{
	uint64_t s = seed ? seed : 1;
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(ut_rand(&s) >> 56);
}

static int ut_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path. */
static inline void ut_rm_rf(const char *path)
{
	nftw(path, ut_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory; the caller frees the string. */
static inline char *ut_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t = NULL;
	if (asprintf(&t, "%s/hs-unit.XXXXXX", base && *base ? base : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

/* dir + "/" + name, allocated. */
static inline char *ut_path(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static inline int ut_write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	size_t w = fwrite(p, 1, n, f);
	int r = fclose(f);
	return w == n && r == 0 ? 0 : -EIO;
}

/* Read a whole file into a malloc'ed buffer, NUL-terminated past its *n
 * bytes (callers search it as text); NULL on failure. */
static inline unsigned char *ut_read_file(const char *path, size_t *n)
{
	*n = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	unsigned char *b = malloc(cap);
	while (b) {
		if (len + 1 >= cap) {
			unsigned char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
		size_t r = fread(b + len, 1, cap - len - 1, f);
		if (r == 0)
			break;
		len += r;
	}
	if (b)
		b[len] = 0;
	fclose(f);
	*n = len;
	return b;
}

/* Run fn(arg) in a forked child and return its exit status, or 128+signal if
 * it died of one (so a crash in the code under test fails the test cleanly
 * instead of taking the whole runner down). */
static inline int ut_in_child(int (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* cmocka catches these to report a crashed test; in the child a
		 * crash must end the child, not resume the runner. */
		const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGABRT };
		for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
			signal(sigs[i], SIG_DFL);
		_exit(fn(arg) & 0x7f);
	}
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return WEXITSTATUS(ws);
}
