/*
 * error.c - fill struct pf_error in the styles iptables prints.
 */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int verr(struct pf_error *err, int code, enum pf_error_style style, const char *fmt,
		va_list ap)
{
	if (!err)
		return -1;
	err->code = code;
	err->style = style;
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	return -1;
}

int pf_err_set(struct pf_error *err, int code, enum pf_error_style style, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(err, code, style, fmt, ap);
	va_end(ap);
	return -1;
}

int pf_err_param(struct pf_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(err, PF_ERR_PARAM, PF_STYLE_PARAM, fmt, ap);
	va_end(ap);
	return -1;
}

int pf_err_param_nohint(struct pf_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(err, PF_ERR_PARAM, PF_STYLE_PLAIN, fmt, ap);
	va_end(ap);
	return -1;
}

void pf_err_warn(struct pf_error *err, const char *fmt, ...)
{
	size_t used = strlen(err->warnings), room = sizeof(err->warnings) - used;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->warnings + used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 >= room) {
		err->warnings[used] = '\0'; /* no room for the whole line: drop it */
		return;
	}
	strcat(err->warnings, "\n");
}

int pf_err_table(struct pf_error *err, const char *msg)
{
	return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "%s", msg);
}
