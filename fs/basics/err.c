/* Thread-local error message store; see err.h. */
#include "basics/err.h"
#include "basics/path.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread char msg[512];
static __thread int has_msg;

static void vset(const char *fmt, va_list ap)
{
	vsnprintf(msg, sizeof msg, fmt, ap);
	has_msg = 1;
}

int hs_err(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	return -err;
}

int hs_err_keep(int err, const char *fmt, ...)
{
	if (!has_msg) {
		va_list ap;
		va_start(ap, fmt);
		vset(fmt, ap);
		va_end(ap);
	}
	return -err;
}

const char *hs_err_msg(void) { return has_msg ? msg : NULL; }

void hs_err_clear(void) { has_msg = 0; msg[0] = 0; }

void hs_err_set_msg(const char *m)
{
	snprintf(msg, sizeof msg, "%s", m);
	has_msg = 1;
}

static void put_line(const char *head, const char *fmt, va_list ap)
{
	char *m = NULL;
	int n = vasprintf(&m, fmt, ap);
	flockfile(stderr); /* one line, whatever other threads print */
	fputs(head, stderr);
	hs_fput_line(n >= 0 ? m : "out of memory", stderr);
	fputc('\n', stderr);
	funlockfile(stderr);
	free(m);
}

void hs_warn(const char *cmd, const char *fmt, ...)
{
	char head[128];
	snprintf(head, sizeof head, "hotspare%s%s: warning: ", cmd ? " " : "", cmd ? cmd : "");
	va_list ap;
	va_start(ap, fmt);
	put_line(head, fmt, ap);
	va_end(ap);
}

void hs_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	put_line("hotspare: ", fmt, ap);
	va_end(ap);
}
