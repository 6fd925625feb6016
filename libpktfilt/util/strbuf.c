/*
 * strbuf.c - growable text buffer.
 */
#include "util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pf_sb_init(struct pf_strbuf *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->failed = 0;
}

void pf_sb_free(struct pf_strbuf *sb)
{
	free(sb->buf);
	pf_sb_init(sb);
}

void pf_sb_reset(struct pf_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

static int sb_reserve(struct pf_strbuf *sb, size_t extra)
{
	if (sb->failed)
		return -1;
	if (sb->len + extra + 1 <= sb->cap)
		return 0;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *nb = realloc(sb->buf, cap);
	if (!nb) {
		sb->failed = 1;
		return -1;
	}
	sb->buf = nb;
	sb->cap = cap;
	return 0;
}

void pf_sb_putn(struct pf_strbuf *sb, const char *s, size_t n)
{
	if (sb_reserve(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void pf_sb_putc(struct pf_strbuf *sb, char c)
{
	pf_sb_putn(sb, &c, 1);
}

void pf_sb_puts(struct pf_strbuf *sb, const char *s)
{
	pf_sb_putn(sb, s, strlen(s));
}

void pf_sb_vprintf(struct pf_strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		pf_sb_putn(sb, tmp, (size_t)n);
	} else if (sb_reserve(sb, (size_t)n) == 0) {
		vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2);
		sb->len += (size_t)n;
	}
	va_end(ap2);
}

void pf_sb_printf(struct pf_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pf_sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

void pf_sb_save_string(struct pf_strbuf *sb, const char *value)
{
	static const char plain[] = "_-0123456789"
				    "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = strspn(value, plain);
	pf_sb_putc(sb, ' ');
	if (n > 0 && value[n] == '\0') {
		pf_sb_puts(sb, value);
		return;
	}
	pf_sb_putc(sb, '"');
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == '\'')
			pf_sb_putc(sb, '\\');
		pf_sb_putc(sb, *p);
	}
	pf_sb_putc(sb, '"');
}

void pf_sb_put_u64(struct pf_strbuf *sb, unsigned long long v)
{
	char tmp[24];
	int i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	pf_sb_putn(sb, tmp + i, sizeof(tmp) - (size_t)i);
}

const char *pf_sb_str(const struct pf_strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

void pf_sb_put_word(struct pf_strbuf *sb, const char *word, bool quote)
{
	if (!quote || !word[strcspn(word, " \t\"'\\")]) {
		pf_sb_puts(sb, word);
		return;
	}
	pf_sb_putc(sb, '"');
	for (const char *p = word; *p; p++) {
		if (*p == '"' || *p == '\\')
			pf_sb_putc(sb, '\\');
		pf_sb_putc(sb, *p);
	}
	pf_sb_putc(sb, '"');
}
