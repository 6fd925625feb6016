/*
 * strbuf.h - a growable text buffer used by every printer (-S, save, -L).
 */
#ifndef PF_STRBUF_H
#define PF_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct pf_strbuf {
	char *buf;
	size_t len;
	size_t cap;
	int failed; /* an allocation failed: content is truncated */
};

void pf_sb_init(struct pf_strbuf *sb);
void pf_sb_free(struct pf_strbuf *sb);
void pf_sb_reset(struct pf_strbuf *sb);
void pf_sb_putc(struct pf_strbuf *sb, char c);
void pf_sb_puts(struct pf_strbuf *sb, const char *s);
void pf_sb_putn(struct pf_strbuf *sb, const char *s, size_t n);
void pf_sb_printf(struct pf_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pf_sb_vprintf(struct pf_strbuf *sb, const char *fmt, va_list ap);
/* Append " VALUE" quoted as iptables-save quotes strings (xtables_save_string). */
void pf_sb_save_string(struct pf_strbuf *sb, const char *value);
/* Decimal number, without printf. */
void pf_sb_put_u64(struct pf_strbuf *sb, unsigned long long v);
/* A word of a rule: as is, or when quote is set and it holds a blank, a quote or a
 * backslash, in double quotes with " and \ escaped (what the restore parser reads back). */
void pf_sb_put_word(struct pf_strbuf *sb, const char *word, bool quote);
/* Content as a C string (never NULL). */
const char *pf_sb_str(const struct pf_strbuf *sb);

#endif
