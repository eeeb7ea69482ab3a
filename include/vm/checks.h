/* A drill's checks of the guest beyond its console line, each with its own
 * verdict: a TCP or HTTP service answering through the isolated forwards on
 * 127.0.0.1, a file of the spare's disk read from a read-only browse of it
 * (what the guest would see) and compared with its checksum, and a program
 * run on the host. The drill (drill.c) decides when each runs. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include "store/name.h"

enum hs_check_kind {
	HS_CHECK_TCP,    /* --check-tcp PORT */
	HS_CHECK_HTTP,   /* --check-http PORT[/PATH][=TEXT] */
	HS_CHECK_FILE,   /* --check-file DISK:PART:PATH[=SHA256] */
	HS_CHECK_SCRIPT, /* --check-script FILE */
};

#define HS_CHECK_PATH_MAX 1024
#define HS_CHECK_TEXT_MAX 256
#define HS_CHECK_PART_MAX 64

struct hs_check {
	enum hs_check_kind kind;
	int port;                          /* TCP, HTTP: the guest's port */
	char path[HS_CHECK_PATH_MAX];      /* HTTP: "/..."; FILE: absolute, in the filesystem; SCRIPT: the program, absolute */
	char text[HS_CHECK_TEXT_MAX];      /* HTTP: what the body must contain ("": anything) */
	char disk[HS_DISK_MAX + 1];        /* FILE: the point's disk */
	char part[HS_CHECK_PART_MAX];      /* FILE: the partition as browse names it: p1, disk, p3-VG-LV */
	char sha256[65];                   /* FILE: expected SHA-256 in lower-case hex ("": readable is enough) */
};

/* Parse an option's argument into a check of that kind. PORT is 1-65535 in
 * decimal digits; an HTTP PATH ends at the first '='; a FILE's PATH is
 * absolute and its "=SHA256" is recognised as 64 hex digits at the end (a
 * path may hold '=' otherwise); a SCRIPT is an executable regular file
 * (made absolute). 0, or -EINVAL (-ENOENT for a missing script) with a
 * one-line message naming the option and what is wrong. */
int hs_check_parse(enum hs_check_kind kind, const char *arg, struct hs_check *out);

/* The check's name in reports: "TCP port 22", "HTTP port 80 /status",
 * "file disk0:p1:/etc/hostname", "script /usr/local/bin/x". */
void hs_check_name(const struct hs_check *c, char *out, size_t cap);

/* The kind's short name: "tcp", "http", "file", "script". */
const char *hs_check_kind_name(enum hs_check_kind kind);

/* One try: does a TCP service answer at 127.0.0.1:host_port? Accepted and
 * not closed at once within a second (QEMU accepts a forward's connection
 * and closes it when the guest's port is closed). */
bool hs_check_tcp_once(int host_port);

/* One try of GET http://127.0.0.1:host_port PATH (no proxy, no redirects
 * followed, at most timeout_ms): 0 when it answered 2xx and the body's
 * first MiB holds text (if any); otherwise -errno, and why in detail. */
int hs_check_http_once(int host_port, const char *path, const char *text, int timeout_ms, char *detail,
		       size_t cap);

/* Read path inside the filesystem mounted at root: symlinks resolve inside
 * it (never onto the host) and no other mount is crossed; it must be a
 * regular file. Its SHA-256 goes into hex; with want (64 hex digits) it
 * must match. Reading stops at the monotonic time deadline (hs_now_s), or
 * once *stop is set (stop may be NULL). 0 when it passes; -errno (-ENOENT
 * missing, -EBADMSG changed, -ETIMEDOUT, -EINTR, ...) with why in detail. */
int hs_check_file(const char *root, const char *path, const char *want, double deadline,
		  const volatile sig_atomic_t *stop, char hex[65], char *detail, size_t cap);

/* Run prog (no shell) in a session of its own with env (NULL-terminated
 * "NAME=VALUE" strings added to this process's environment), stdin from
 * /dev/null, stdout and stderr together into out (its last cap - 1 bytes,
 * NUL-terminated). Killed with its whole process group after timeout_s or
 * once *stop is set (stop may be NULL); what it left running in its
 * session is killed when it exits. 0 when it exited 0; 1 when it failed
 * (detail says how); -errno when it could not run. */
int hs_check_script(const char *prog, char *const env[], int timeout_s, const volatile sig_atomic_t *stop,
		    char *out, size_t cap, char *detail, size_t dcap);
