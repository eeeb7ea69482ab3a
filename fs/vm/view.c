/* Helper programs and read-only views; see view.h. */
#include "view.h"
#include "cli.h"
#include "basics/err.h"
#include "basics/mounts.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int cli_run(char *const argv[], char *out, size_t cap)
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

char *cli_first_line(char *text)
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

int cli_rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return hs_err(errno, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static int run_fusermount(const char *mnt)
{
	char *argv[] = { "fusermount3", "-u", (char *)mnt, NULL };
	int r = cli_run(argv, NULL, 0);
	return r < 0 ? r : r == 0 ? 0 : -EBUSY;
}

int cli_spare_unmount(const char *mnt, long pid, int busy_ms)
{
	int r;
	for (int waited = 0;; waited += 100) {
		r = geteuid() == 0 ? hs_mount_detach(mnt, false) : run_fusermount(mnt);
		if (r != -EBUSY || waited >= busy_ms)
			break;
		nap_ms(100);
	}
	if (r == -EBUSY)
		return hs_err(EBUSY, "%s is busy (is a VM still using the image?)", mnt);
	if (r < 0)
		return hs_err(-r, "cannot unmount %s: %s", mnt, strerror(-r));
	/* Wait for the daemon: it flushes the state after the mount goes away. */
	for (int waited = 0; pid > 0 && kill((pid_t)pid, 0) == 0; waited += 20) {
		if (waited >= 600000)
			return hs_err(ETIMEDOUT, "the daemon (pid %ld) has not exited after 10 minutes", pid);
		nap_ms(20);
	}
	return 0;
}

/* The daemon's pid, from the mount's status file; 0 if unknown. */
static long view_pid(const char *mnt)
{
	char path[PATH_MAX + 32], buf[8192];
	snprintf(path, sizeof path, "%s/.hotspare-status", mnt);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	long pid = 0;
	json_object *o = json_tokener_parse(buf), *v;
	if (o && json_object_object_get_ex(o, "pid", &v))
		pid = (long)json_object_get_int64(v);
	json_object_put(o);
	return pid;
}

int cli_view_open(const char *store, const char *ref, char **seeds, size_t nseeds, struct cli_view *v)
{
	memset(v, 0, sizeof *v);
	const char *base = getenv("HOTSPARE_WORK_DIR");
	if (!base || !*base)
		base = "/var/tmp";
	snprintf(v->work, sizeof v->work, "%s/hotspare-view-XXXXXX", base);
	if (!mkdtemp(v->work)) {
		int e = errno;
		v->work[0] = 0;
		return hs_err(e, "cannot make a work directory under %s: %s", base, strerror(e));
	}
	snprintf(v->mnt, sizeof v->mnt, "%s/mnt", v->work);
	char state[PATH_MAX], self[PATH_MAX];
	snprintf(state, sizeof state, "%s/state", v->work);
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (mkdir(v->mnt, 0700) < 0 || sl < 0) {
		int e = errno;
		cli_rm_tree(v->work);
		return hs_err(e, "cannot prepare the work directory %s: %s", v->work, strerror(e));
	}
	self[sl] = 0;
	size_t argc = 0;
	char **argv = calloc(12 + 2 * nseeds, sizeof *argv);
	if (!argv) {
		cli_rm_tree(v->work);
		return -ENOMEM;
	}
	argv[argc++] = self;
	argv[argc++] = "mount";
	argv[argc++] = (char *)store;
	argv[argc++] = (char *)ref;
	argv[argc++] = v->mnt;
	argv[argc++] = "--state";
	argv[argc++] = state;
	argv[argc++] = "--read-only";
	argv[argc++] = "--hydrate-threads";
	argv[argc++] = "0";
	for (size_t i = 0; i < nseeds; i++) {
		argv[argc++] = "--seed";
		argv[argc++] = seeds[i];
	}
	char out[1024];
	int r = cli_run(argv, out, sizeof out);
	free(argv);
	if (r != 0) {
		cli_rm_tree(v->work);
		char *msg = cli_first_line(out);
		if (!strncmp(msg, "hotspare mount: ", 16))
			msg += 16;
		return hs_err(r < 0 ? -r : EIO, "%s", *msg ? msg : "cannot mount a read-only view of the point");
	}
	v->pid = view_pid(v->mnt);
	DIR *d = opendir(v->mnt);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(v->image, sizeof v->image, "%s/%s", v->mnt, e->d_name);
	if (d)
		closedir(d);
	if (!v->image[0]) {
		cli_view_close(v);
		return hs_err(EIO, "the read-only view at %s shows no image", v->mnt);
	}
	return 0;
}

int cli_view_close(struct cli_view *v)
{
	if (!v->work[0])
		return 0;
	char type[64];
	if (hs_mount_type(v->mnt, type, sizeof type) == 1) {
		/* A loop device just detached lets go of the image a moment later. */
		int r = cli_spare_unmount(v->mnt, v->pid, 10000);
		if (r < 0)
			return r;
	}
	int r = cli_rm_tree(v->work);
	if (r == 0)
		v->work[0] = 0;
	return r;
}
