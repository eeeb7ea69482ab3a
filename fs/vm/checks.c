/* A drill's checks; see checks.h. */
#include "vm/checks.h"
#include "basics/clock.h"
#include "basics/cleanup.h"
#include "basics/err.h"
#include "basics/path.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *hs_check_kind_name(enum hs_check_kind kind)
{
	static const char *const names[] = { "tcp", "http", "file", "script" };
	return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "?";
}

/* ---- parsing ------------------------------------------------------------- */

/* A port in decimal digits, 1-65535, from s up to end. */
static int parse_port(const char *opt, const char *s, const char *end, int *out)
{
	char e[64], tmp[16];
	long v = 0;
	size_t n = (size_t)(end - s);
	for (const char *c = s; c < end; c++) {
		if (*c < '0' || *c > '9' || v > 65535) {
			v = -1;
			break;
		}
		v = v * 10 + (*c - '0');
	}
	if (n == 0 || v < 1 || v > 65535) {
		snprintf(tmp, sizeof tmp, "%.*s", n < 12 ? (int)n : 12, s);
		return hs_err(EINVAL, "%s: '%s' is not a port from 1 to 65535", opt, hs_escape(tmp, e, sizeof e));
	}
	*out = (int)v;
	return 0;
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *c = s; *c; c++)
		if (!isxdigit((unsigned char)*c))
			return false;
	return true;
}

/* Printable ASCII without control characters: what a path, a text or a
 * partition name in a report and in an HTTP request may hold. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static int parse_http(const char *arg, struct hs_check *c)
{
	const char *opt = "--check-http";
	char e[160];
	const char *end = arg + strcspn(arg, "/=");
	int r = parse_port(opt, arg, end, &c->port);
	if (r < 0)
		return r;
	const char *eq = strchr(end, '=');
	size_t plen = eq ? (size_t)(eq - end) : strlen(end);
	if (plen == 0)
		snprintf(c->path, sizeof c->path, "/");
	else if (plen >= sizeof c->path)
		return hs_err(EINVAL, "%s: the path is longer than %zu bytes", opt, sizeof c->path - 1);
	else
		snprintf(c->path, sizeof c->path, "%.*s", (int)plen, end);
	/* Sent as it is: no spaces or control characters in a request line. */
	for (const char *p = c->path; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return hs_err(EINVAL, "%s: the path '%s' holds a space or a character that is not ASCII "
				      "(write it %%-encoded)", opt, hs_escape(c->path, e, sizeof e));
	if (eq) {
		if (!eq[1])
			return hs_err(EINVAL, "%s: empty TEXT after '='", opt);
		if (strlen(eq + 1) >= sizeof c->text)
			return hs_err(EINVAL, "%s: TEXT is longer than %zu bytes", opt, sizeof c->text - 1);
		if (!printable(eq + 1))
			return hs_err(EINVAL, "%s: TEXT holds a control character", opt);
		snprintf(c->text, sizeof c->text, "%s", eq + 1);
	}
	return 0;
}

static int parse_file(const char *arg, struct hs_check *c)
{
	const char *opt = "--check-file";
	char e[160];
	const char *c1 = strchr(arg, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2)
		return hs_err(EINVAL, "%s '%s' is not DISK:PART:PATH[=SHA256]", opt, hs_escape(arg, e, sizeof e));
	if ((size_t)(c1 - arg) > HS_DISK_MAX)
		return hs_err(EINVAL, "%s: the disk name is longer than %d bytes", opt, HS_DISK_MAX);
	snprintf(c->disk, sizeof c->disk, "%.*s", (int)(c1 - arg), arg);
	int r = hs_disk_name_check(c->disk);
	if (r < 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "%s", hs_err_msg());
		return hs_err(EINVAL, "%s: %s", opt, msg);
	}
	size_t plen = (size_t)(c2 - c1 - 1);
	if (plen == 0 || plen >= sizeof c->part)
		return hs_err(EINVAL, "%s: the partition (p1, p2, ... or disk) is %s", opt, plen ? "too long" : "empty");
	snprintf(c->part, sizeof c->part, "%.*s", (int)plen, c1 + 1);
	for (const char *p = c->part; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_.+", *p))
			return hs_err(EINVAL, "%s: the partition '%s' is not a name like p1, p2 or disk", opt,
				      hs_escape(c->part, e, sizeof e));
	const char *path = c2 + 1;
	size_t len = strlen(path);
	const char *eq = strrchr(path, '=');
	if (eq && is_hex64(eq + 1)) {
		for (size_t i = 0; i < 64; i++)
			c->sha256[i] = (char)tolower((unsigned char)eq[1 + i]);
		c->sha256[64] = 0;
		len = (size_t)(eq - path);
	}
	if (len == 0 || path[0] != '/')
		return hs_err(EINVAL, "%s: the path in the filesystem must start with '/'", opt);
	if (len >= sizeof c->path)
		return hs_err(EINVAL, "%s: the path is longer than %zu bytes", opt, sizeof c->path - 1);
	snprintf(c->path, sizeof c->path, "%.*s", (int)len, path);
	if (!printable(c->path))
		return hs_err(EINVAL, "%s: the path holds a control character", opt);
	return 0;
}

static int parse_script(const char *arg, struct hs_check *c)
{
	char e[160], abs[PATH_MAX];
	struct stat st;
	hs_escape(arg, e, sizeof e);
	if (!realpath(arg, abs) || stat(abs, &st) < 0)
		return hs_err(errno == ENOENT ? ENOENT : EINVAL, "--check-script %s: %s", e, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return hs_err(EINVAL, "--check-script %s is not a regular file", e);
	if (access(abs, X_OK) < 0)
		return hs_err(EINVAL, "--check-script %s is not executable", e);
	size_t len = strlen(abs);
	if (len >= sizeof c->path)
		return hs_err(EINVAL, "--check-script %s: the path is too long", e);
	memcpy(c->path, abs, len + 1);
	return 0;
}

int hs_check_parse(enum hs_check_kind kind, const char *arg, struct hs_check *out)
{
	memset(out, 0, sizeof *out);
	out->kind = kind;
	switch (kind) {
	case HS_CHECK_TCP:
		return parse_port("--check-tcp", arg, arg + strlen(arg), &out->port);
	case HS_CHECK_HTTP:
		return parse_http(arg, out);
	case HS_CHECK_FILE:
		return parse_file(arg, out);
	case HS_CHECK_SCRIPT:
		return parse_script(arg, out);
	}
	return hs_err(EINVAL, "unknown kind of check");
}

void hs_check_name(const struct hs_check *c, char *out, size_t cap)
{
	switch (c->kind) {
	case HS_CHECK_TCP:
		snprintf(out, cap, "TCP port %d", c->port);
		break;
	case HS_CHECK_HTTP:
		snprintf(out, cap, "HTTP port %d %s", c->port, c->path);
		break;
	case HS_CHECK_FILE:
		snprintf(out, cap, "file %s:%s:%s", c->disk, c->part, c->path);
		break;
	case HS_CHECK_SCRIPT:
		snprintf(out, cap, "script %s", c->path);
		break;
	}
}

/* ---- services ------------------------------------------------------------ */

bool hs_check_tcp_once(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = false;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, 1000);
		char c;
		/* Quiet (a server waiting for a request) or a banner: alive. EOF: closed. */
		ok = n == 0 || (n > 0 && recv(fd, &c, 1, MSG_PEEK) > 0);
	}
	close(fd);
	return ok;
}

#define HTTP_BODY_MAX (1u << 20)

struct body {
	char *data;
	size_t len;
};

/* Keep the first MiB; the rest is read and dropped (the text is looked for
 * at the start of a page). */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n, take = len < HTTP_BODY_MAX - b->len ? len : HTTP_BODY_MAX - b->len;
	memcpy(b->data + b->len, p, take);
	b->len += take;
	return len;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int hs_check_http_once(int port, const char *path, const char *text, int timeout_ms, char *detail, size_t cap)
{
	pthread_once(&curl_once, curl_init);
	char url[HS_CHECK_PATH_MAX + 64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	_cleanup_free_ char *data = malloc(HTTP_BODY_MAX + 1);
	CURL *c = data ? curl_easy_init() : NULL;
	if (!c) {
		snprintf(detail, cap, "out of memory");
		return -ENOMEM;
	}
	struct body b = { .data = data };
	char err[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* Straight to the forward: no proxy from the environment, no redirect
	 * anywhere else, plain HTTP only. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "hotspare-drill");
	CURLcode cr = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cr != CURLE_OK) {
		snprintf(detail, cap, "%s", err[0] ? err : curl_easy_strerror(cr));
		return cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	}
	if (status < 200 || status > 299) {
		snprintf(detail, cap, "HTTP status %ld", status);
		return -EPROTO;
	}
	if (text && *text && !memmem(b.data, b.len, text, strlen(text))) {
		snprintf(detail, cap, "HTTP status %ld, but the page does not contain the text", status);
		return -ENOMSG;
	}
	snprintf(detail, cap, "HTTP status %ld%s", status, text && *text ? ", the page contains the text" : "");
	return 0;
}

/* ---- files ----------------------------------------------------------------- */

int hs_check_file(const char *root, const char *path, const char *want, double deadline,
		  const volatile sig_atomic_t *stop, char hex[65], char *detail, size_t cap)
{
	hex[0] = 0;
	_cleanup_close_ int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		int e = errno;
		snprintf(detail, cap, "cannot open the filesystem at %s: %s", root, strerror(e));
		return -e;
	}
	/* The customer's filesystem decides where its symlinks point: inside
	 * it, as the guest would see them, and never onto the host or another
	 * mount. O_NONBLOCK: a FIFO does not hang the open. */
	struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV };
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(detail, cap, "no such file");
		else if (e == EXDEV)
			snprintf(detail, cap, "the path leads out of the filesystem");
		else
			snprintf(detail, cap, "cannot open it: %s", strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(detail, cap, "not a regular file");
		return -EINVAL;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ unsigned char *buf = malloc(1 << 20);
	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		snprintf(detail, cap, "out of memory");
		return -ENOMEM;
	}
	uint64_t total = 0;
	int r = 0;
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(detail, cap, "cannot read it: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
		if (stop && *stop) {
			r = -EINTR;
			snprintf(detail, cap, "interrupted");
			break;
		}
		if (hs_now_s() > deadline) {
			r = -ETIMEDOUT;
			snprintf(detail, cap, "not read within the time allowed (%llu bytes read)", (unsigned long long)total);
			break;
		}
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (want && *want && strcmp(want, hex) != 0) {
		snprintf(detail, cap, "changed: %llu bytes with SHA-256 %.16s..., not %.16s...",
			 (unsigned long long)total, hex, want);
		return -EBADMSG;
	}
	snprintf(detail, cap, "%llu bytes, SHA-256 %.16s...%s", (unsigned long long)total, hex,
		 want && *want ? " as expected" : "");
	return 0;
}

/* ---- programs ------------------------------------------------------------ */

/* Append n bytes to the tail kept in out (cap - 1 bytes at most). */
static void keep_tail(char *out, size_t cap, size_t *len, const char *p, size_t n)
{
	size_t room = cap - 1;
	if (n >= room) {
		memcpy(out, p + n - room, room);
		*len = room;
	} else {
		if (*len + n > room) {
			size_t drop = *len + n - room;
			memmove(out, out + drop, *len - drop);
			*len -= drop;
		}
		memcpy(out + *len, p, n);
		*len += n;
	}
	out[*len] = 0;
}

int hs_check_script(const char *prog, char *const env[], int timeout_s, const volatile sig_atomic_t *stop,
		    char *out, size_t cap, char *detail, size_t dcap)
{
	out[0] = 0;
	/* The environment is built before the spawn: nothing but exec runs in
	 * the child of this threaded process. */
	size_t nenv = 0, nadd = 0;
	while (environ[nenv])
		nenv++;
	while (env && env[nadd])
		nadd++;
	_cleanup_free_ char **envp = calloc(nenv + nadd + 1, sizeof *envp);
	if (!envp)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++) {
		bool replaced = false;
		for (size_t j = 0; j < nadd && !replaced; j++) {
			size_t l = strcspn(env[j], "=");
			replaced = !strncmp(environ[i], env[j], l + 1);
		}
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < nadd; j++)
		envp[k++] = env[j];
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return hs_err(errno, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawnattr_init(&at);
	/* A session of its own: on a timeout the whole group is killed. The
	 * drill's signal handlers are not the program's. */
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	char *argv[] = { (char *)prog, NULL };
	int e = posix_spawn(&pid, prog, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (e != 0) {
		close(p[0]);
		snprintf(detail, dcap, "cannot run it: %s", strerror(e));
		return hs_err(e, "cannot run %s: %s", prog, strerror(e));
	}
	double deadline = hs_now_s() + timeout_s;
	size_t len = 0;
	char buf[4096];
	bool timed_out = false, stopped = false, eof = false;
	siginfo_t si;
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		if (!eof && poll(&pf, 1, 100) > 0) {
			ssize_t n = read(p[0], buf, sizeof buf);
			if (n > 0)
				keep_tail(out, cap, &len, buf, (size_t)n);
			else if (n == 0)
				eof = true;
		} else if (eof) {
			hs_sleep_ms(50);
		}
		/* Exited, but not reaped yet: while it is a zombie its pid (and
		 * so its group's id) cannot be reused, so the group is still the
		 * program's to kill. */
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
			break;
		if (hs_now_s() > deadline) {
			timed_out = true;
			break;
		}
		if (stop && *stop) {
			stopped = true;
			break;
		}
	}
	/* The program, on a timeout, and whatever it left running in its
	 * session either way. */
	kill(-pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* What it wrote before it ended; a child of its that escaped its
	 * session and still holds the pipe is not waited for. */
	int fl = fcntl(p[0], F_GETFL);
	fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
	ssize_t n;
	while (!eof && (n = read(p[0], buf, sizeof buf)) > 0)
		keep_tail(out, cap, &len, buf, (size_t)n);
	close(p[0]);
	if (timed_out || stopped) {
		if (timed_out)
			snprintf(detail, dcap, "still running after %d s: killed", timeout_s);
		else
			snprintf(detail, dcap, "interrupted: killed");
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(detail, dcap, "exited 0");
		return 0;
	}
	if (WIFEXITED(status))
		snprintf(detail, dcap, "exited %d", WEXITSTATUS(status));
	else
		snprintf(detail, dcap, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return 1;
}
