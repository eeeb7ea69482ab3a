/* Thread-local error message store; see err.h. */
#include "basics/err.h"
#include <stdarg.h>
#include <stdio.h>
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
