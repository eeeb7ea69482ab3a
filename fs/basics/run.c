/* Running helper programs and removing work trees; see run.h. */
#include "basics/run.h"
#include "basics/err.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int hs_run(char *const argv[], char *out, size_t cap)
{
	return hs_run_flags(argv, out, cap, 0);
}

int hs_run_flags(char *const argv[], char *out, size_t cap, unsigned flags)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		if (flags & HS_RUN_OWN_GROUP)
			setpgid(0, 0);
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	char sink[4096];
	for (;;) {
		char *dst = out && n + 1 < cap ? out + n : sink;
		size_t room = out && n + 1 < cap ? cap - 1 - n : sizeof sink;
		ssize_t k = read(p[0], dst, room);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (dst != sink)
			n += (size_t)k;
	}
	close(p[0]);
	if (out && cap)
		out[n] = 0;
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

char *hs_first_line(char *text)
{
	while (*text == ' ' || *text == '\n' || *text == '\t')
		text++;
	text[strcspn(text, "\n")] = 0;
	size_t n = strlen(text);
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\r'))
		text[--n] = 0;
	return text;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int r = flag == FTW_DP ? rmdir(path) : unlink(path);
	return r < 0 && errno != ENOENT ? -1 : 0;
}

int hs_rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return hs_err(errno, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

void hs_proc_text(const char *path, char *out, size_t cap)
{
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, cap - 1);
		close(fd);
	}
	out[n > 0 ? n : 0] = 0;
}

int hs_proc_link(const char *path, char *out, size_t cap)
{
	ssize_t n = readlink(path, out, cap - 1);
	int r = n < 0 ? -errno : 0;
	out[n > 0 ? n : 0] = 0;
	return r;
}

int hs_proc_get(long pid, struct hs_proc *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = 0;
	/* pid (comm) state ppid pgrp ... num_threads (20) ... starttime (22);
	 * comm may hold anything, ')' included. */
	char *s = strrchr(buf, ')');
	if (!s || s[1] != ' ' ||
	    sscanf(s + 2, "%c %*d %ld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld %*d %llu",
		   &out->state, &out->pgrp, &out->threads, &out->start) != 4)
		return -ENOENT;
	return 0;
}

unsigned long long hs_proc_start(long pid)
{
	struct hs_proc p;
	return hs_proc_get(pid, &p) == 0 ? p.start : 0;
}

bool hs_proc_running(long pid, unsigned long long start)
{
	if (pid <= 0)
		return false;
	struct hs_proc p;
	/* A leader that left by pthread_exit is a zombie too while its other
	 * threads run: the process is done when it alone is left. */
	if (hs_proc_get(pid, &p) == 0)
		return !((p.state == 'Z' || p.state == 'X') && p.threads <= 1) && (!start || p.start == start);
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}
