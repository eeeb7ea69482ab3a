/* Unit tests for vm/checks.h: the checks' arguments, files read inside the
 * browsed filesystem only, programs with a time limit, TCP and HTTP through
 * a local listener. */
#include "unit.h"
#include "vm/checks.h"
#include "basics/clock.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static char tmp[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "/tmp/hs-checks-XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int rm_entry(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st;
	(void)f;
	(void)w;
	return remove(p);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmp, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void parse_ok(enum hs_check_kind k, const char *arg, struct hs_check *c)
{
	hs_err_clear();
	if (hs_check_parse(k, arg, c) != 0)
		fail_msg("'%s' refused: %s", arg, hs_err_msg() ? hs_err_msg() : "");
}

static void parse_bad(enum hs_check_kind k, const char *arg, const char *mention)
{
	struct hs_check c;
	hs_err_clear();
	int r = hs_check_parse(k, arg, &c);
	if (r >= 0)
		fail_msg("'%s' accepted", arg);
	assert_err_mentions(mention);
}

static void test_parse_http(void **state)
{
	(void)state;
	struct hs_check c;
	parse_ok(HS_CHECK_HTTP, "80", &c);
	assert_int_equal(c.port, 80);
	assert_string_equal(c.path, "/");
	assert_string_equal(c.text, "");
	parse_ok(HS_CHECK_HTTP, "8080/status", &c);
	assert_int_equal(c.port, 8080);
	assert_string_equal(c.path, "/status");
	parse_ok(HS_CHECK_HTTP, "443/a/b?x=1", &c);
	assert_string_equal(c.path, "/a/b?x");
	assert_string_equal(c.text, "1");
	parse_ok(HS_CHECK_HTTP, "80=Welcome home", &c);
	assert_string_equal(c.path, "/");
	assert_string_equal(c.text, "Welcome home");
	parse_ok(HS_CHECK_HTTP, "80/=a=b", &c);
	assert_string_equal(c.text, "a=b");
	char name[200];
	hs_check_name(&c, name, sizeof name);
	assert_string_equal(name, "HTTP port 80 /");
	parse_bad(HS_CHECK_HTTP, "", "port");
	parse_bad(HS_CHECK_HTTP, "0", "port");
	parse_bad(HS_CHECK_HTTP, "65536/x", "port");
	parse_bad(HS_CHECK_HTTP, "+80", "port");
	parse_bad(HS_CHECK_HTTP, "80x/", "port");
	parse_bad(HS_CHECK_HTTP, "/index.html", "port");
	parse_bad(HS_CHECK_HTTP, "80/a b", "space");
	parse_bad(HS_CHECK_HTTP, "80/=", "empty TEXT");
	parse_bad(HS_CHECK_HTTP, "80/=a\nb", "control");
}

static void test_parse_file(void **state)
{
	(void)state;
	struct hs_check c;
	const char *sha = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
	char arg[300];
	parse_ok(HS_CHECK_FILE, "disk0:p1:/etc/hostname", &c);
	assert_string_equal(c.disk, "disk0");
	assert_string_equal(c.part, "p1");
	assert_string_equal(c.path, "/etc/hostname");
	assert_string_equal(c.sha256, "");
	snprintf(arg, sizeof arg, "c:p3-vg-root:/srv/a:b=c=%s", sha);
	parse_ok(HS_CHECK_FILE, arg, &c);
	assert_string_equal(c.part, "p3-vg-root");
	assert_string_equal(c.path, "/srv/a:b=c");
	assert_string_equal(c.sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	/* Not 64 hex digits after the last '=': part of the path. */
	parse_ok(HS_CHECK_FILE, "disk0:disk:/x=abc", &c);
	assert_string_equal(c.path, "/x=abc");
	assert_string_equal(c.sha256, "");
	parse_bad(HS_CHECK_FILE, "disk0:/etc/hostname", "DISK:PART:PATH");
	parse_bad(HS_CHECK_FILE, "../x:p1:/etc/hostname", "disk");
	parse_bad(HS_CHECK_FILE, ":p1:/etc/hostname", "disk");
	parse_bad(HS_CHECK_FILE, "disk0::/etc/hostname", "empty");
	parse_bad(HS_CHECK_FILE, "disk0:p/1:/etc/hostname", "partition");
	parse_bad(HS_CHECK_FILE, "disk0:p1:etc/hostname", "start with '/'");
	snprintf(arg, sizeof arg, "disk0:p1:=%s", sha);
	parse_bad(HS_CHECK_FILE, arg, "start with '/'");
}

static void test_parse_script(void **state)
{
	(void)state;
	struct hs_check c;
	char path[300];
	snprintf(path, sizeof path, "%s/s.sh", tmp);
	FILE *f = fopen(path, "w");
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	parse_bad(HS_CHECK_SCRIPT, path, "not executable");
	chmod(path, 0755);
	parse_ok(HS_CHECK_SCRIPT, path, &c);
	assert_string_equal(c.path, path);
	parse_bad(HS_CHECK_SCRIPT, tmp, "not a regular file");
	snprintf(path, sizeof path, "%s/missing", tmp);
	parse_bad(HS_CHECK_SCRIPT, path, "No such file");
	parse_ok(HS_CHECK_TCP, "22", &c);
	assert_int_equal(c.port, 22);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_file(void **state)
{
	(void)state;
	char root[300], p[400], hex[65], detail[256];
	snprintf(root, sizeof root, "%s/fs", tmp);
	mkdir(root, 0755);
	snprintf(p, sizeof p, "%s/etc", root);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/etc/hostname", root);
	write_file(p, "mail01\n");
	const char *sum = "1aab4b1d94a1ba0d2cfd0c10cbe23a7af6eb0b398a9ba2c4cdf1d7e2b1e4d7c6";
	double later = hs_now_s() + 30;
	assert_int_equal(hs_check_file(root, "/etc/hostname", NULL, later, NULL, hex, detail, sizeof detail), 0);
	assert_int_equal(strlen(hex), 64);
	char want[65];
	snprintf(want, sizeof want, "%s", hex);
	assert_int_equal(hs_check_file(root, "/etc/hostname", want, later, NULL, hex, detail, sizeof detail), 0);
	/* A changed file fails, and says so. */
	assert_int_equal(hs_check_file(root, "/etc/hostname", sum, later, NULL, hex, detail, sizeof detail), -EBADMSG);
	assert_non_null(strstr(detail, "changed"));
	assert_int_equal(hs_check_file(root, "/etc/missing", NULL, later, NULL, hex, detail, sizeof detail), -ENOENT);
	assert_string_equal(detail, "no such file");
	/* The customer's symlinks resolve inside the filesystem, never on the host. */
	snprintf(p, sizeof p, "%s/etc/abs", root);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	assert_int_equal(hs_check_file(root, "/etc/abs", want, later, NULL, hex, detail, sizeof detail), 0);
	snprintf(p, sizeof p, "%s/etc/out", root);
	assert_int_equal(symlink("../../../../../../../../etc/passwd", p), 0);
	assert_int_equal(hs_check_file(root, "/etc/out", NULL, later, NULL, hex, detail, sizeof detail), -ENOENT);
	assert_int_equal(hs_check_file(root, "/../../../../etc/passwd", NULL, later, NULL, hex, detail, sizeof detail),
			 -ENOENT);
	/* Not a regular file: a directory, a FIFO (which must not hang the open). */
	assert_int_equal(hs_check_file(root, "/etc", NULL, later, NULL, hex, detail, sizeof detail), -EINVAL);
	snprintf(p, sizeof p, "%s/fifo", root);
	assert_int_equal(mkfifo(p, 0644), 0);
	assert_int_equal(hs_check_file(root, "/fifo", NULL, later, NULL, hex, detail, sizeof detail), -EINVAL);
	assert_string_equal(detail, "not a regular file");
	/* Past its deadline, or stopped. */
	assert_int_equal(hs_check_file(root, "/etc/hostname", NULL, hs_now_s() - 1, NULL, hex, detail, sizeof detail),
			 -ETIMEDOUT);
	volatile sig_atomic_t stop = 1;
	assert_int_equal(hs_check_file(root, "/etc/hostname", NULL, later, &stop, hex, detail, sizeof detail), -EINTR);
}

static void script(const char *name, const char *body, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", tmp, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
}

/* Whether pid runs (a zombie waiting for init to reap it does not). */
static bool alive(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *s = strrchr(buf, ')');
	return s && s[1] == ' ' && s[2] != 'Z' && s[2] != 'X';
}

static void test_script(void **state)
{
	(void)state;
	char path[300], out[64], detail[256];
	char *env[] = { "HOTSPARE_PORT_80=1234", "HOME=/nowhere", NULL };
	script("ok.sh", "echo port $HOTSPARE_PORT_80 home $HOME; exit 0", path, sizeof path);
	assert_int_equal(hs_check_script(path, env, 10, NULL, out, sizeof out, detail, sizeof detail), 0);
	assert_string_equal(out, "port 1234 home /nowhere\n");
	assert_string_equal(detail, "exited 0");
	/* A failure, and only the tail of a long output. */
	script("bad.sh", "seq 1 1000; echo last >&2; exit 3", path, sizeof path);
	assert_int_equal(hs_check_script(path, NULL, 10, NULL, out, sizeof out, detail, sizeof detail), 1);
	assert_string_equal(detail, "exited 3");
	assert_int_equal(strlen(out), sizeof out - 1);
	assert_non_null(strstr(out, "999\n1000\nlast\n"));
	/* Past its time it is killed, with what it started. */
	char pidfile[300];
	snprintf(pidfile, sizeof pidfile, "%s/child.pid", tmp);
	char body[600];
	snprintf(body, sizeof body, "sleep 100 & echo $! >%s; sleep 100", pidfile);
	script("slow.sh", body, path, sizeof path);
	double t0 = hs_now_s();
	assert_int_equal(hs_check_script(path, NULL, 1, NULL, out, sizeof out, detail, sizeof detail), 1);
	assert_true(hs_now_s() - t0 < 5);
	assert_non_null(strstr(detail, "killed"));
	FILE *f = fopen(pidfile, "r");
	assert_non_null(f);
	int child = 0;
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	for (int i = 0; i < 50 && alive(child); i++)
		usleep(20000);
	assert_false(alive(child));
	/* A program that exits leaves nothing running in its session either. */
	snprintf(body, sizeof body, "sleep 100 >/dev/null 2>&1 & echo $! >%s; exit 0", pidfile);
	script("leaves.sh", body, path, sizeof path);
	assert_int_equal(hs_check_script(path, NULL, 10, NULL, out, sizeof out, detail, sizeof detail), 0);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &child), 1);
	fclose(f);
	for (int i = 0; i < 50 && alive(child); i++)
		usleep(20000);
	assert_false(alive(child));
}

/* A one-connection-at-a-time HTTP server on 127.0.0.1 answering with resp. */
struct server {
	int fd, port;
	const char *resp;
	int served;
	pthread_t th;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[4096];
		ssize_t n = recv(c, buf, sizeof buf, 0);
		if (n > 0 && s->resp)
			send(c, s->resp, strlen(s->resp), MSG_NOSIGNAL);
		s->served++;
		close(c);
	}
}

static void server_start(struct server *s, const char *resp)
{
	s->resp = resp;
	s->served = 0;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(s->fd, 4), 0);
	getsockname(s->fd, (struct sockaddr *)&a, &len);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->th, NULL);
}

static void test_http(void **state)
{
	(void)state;
	struct server s;
	char detail[256];
	setenv("http_proxy", "http://127.0.0.1:1", 1); /* never used: straight to the forward */
	server_start(&s, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Welcome to mail01</h1>\n");
	assert_int_equal(hs_check_http_once(s.port, "/", "mail01", 5000, detail, sizeof detail), 0);
	assert_int_equal(hs_check_http_once(s.port, "/", NULL, 5000, detail, sizeof detail), 0);
	assert_int_equal(hs_check_http_once(s.port, "/", "mail02", 5000, detail, sizeof detail), -ENOMSG);
	assert_non_null(strstr(detail, "does not contain"));
	assert_true(hs_check_tcp_once(s.port));
	server_stop(&s);
	server_start(&s, "HTTP/1.0 503 Busy\r\n\r\nmail01\n");
	assert_int_equal(hs_check_http_once(s.port, "/", "mail01", 5000, detail, sizeof detail), -EPROTO);
	assert_non_null(strstr(detail, "503"));
	server_stop(&s);
	/* A redirect is not followed anywhere. */
	server_start(&s, "HTTP/1.0 302 Found\r\nLocation: http://example.com/\r\n\r\n");
	assert_int_equal(hs_check_http_once(s.port, "/", NULL, 5000, detail, sizeof detail), -EPROTO);
	server_stop(&s);
	/* Nobody there. */
	int port = s.port;
	assert_int_not_equal(hs_check_http_once(port, "/", NULL, 2000, detail, sizeof detail), 0);
	assert_false(hs_check_tcp_once(port));
	unsetenv("http_proxy");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_http),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test_setup_teardown(test_parse_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script, setup, teardown),
		cmocka_unit_test(test_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
