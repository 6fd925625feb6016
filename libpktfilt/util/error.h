/*
 * error.h - internal helpers to fill the public struct pf_error.
 */
#ifndef PF_UTIL_ERROR_H
#define PF_UTIL_ERROR_H

#include "pktfilt/pktfilt.h"

/* A parameter problem (iptables exit 2): printed as "PROG vX (legacy): MSG" followed by
 * the "Try `PROG -h'..." hint. */
int pf_err_param(struct pf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, without the hint line (xtables_error cases where iptables gives none). */
int pf_err_param_nohint(struct pf_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A failure of the table operation (iptables exit 1): printed "PROG: MSG." as libiptc's
 * iptc_strerror() texts. */
int pf_err_table(struct pf_error *err, const char *msg);
/* Append a warning line (a newline is added) to err->warnings; the command goes on. */
void pf_err_warn(struct pf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Any other error with an explicit code and style. */
int pf_err_set(struct pf_error *err, int code, enum pf_error_style style, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
