/*
 * ctext.c - iptables-save -c text with its counters picked out: the built-in chains' policy
 * counters (":INPUT ACCEPT [p:b]") and the rules' ("[p:b] -A INPUT ..."). Each counted line has
 * an identity (its table and the line without the counters; a policy line is known by its
 * chain alone), so that counters can be summed over engines compiled from the same text and
 * carried from one rule set to the next for the rules that did not change.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktfiltd.h"

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A decimal number at s[*i]; false when none or too large. */
static bool parse_u64(const char *s, size_t n, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;
	for (; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
		unsigned d = (unsigned)(s[*i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return *i > start;
}

/* Parse "[p:b]" at s (n bytes); returns its length or 0. */
static size_t parse_counters(const char *s, size_t n, uint64_t *p, uint64_t *b)
{
	size_t i = 1;
	if (n < 5 || s[0] != '[' || !parse_u64(s, n, &i, p) || i >= n || s[i++] != ':' ||
	    !parse_u64(s, n, &i, b) || i >= n || s[i] != ']')
		return 0;
	return i + 1;
}

static size_t put_u64(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static int add_entry(struct ctext *ct, size_t *cap, const struct centry *e)
{
	if (ct->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		struct centry *ne = realloc(ct->e, nc * sizeof(*ne));
		if (!ne)
			return -1;
		ct->e = ne;
		*cap = nc;
	}
	ct->e[ct->n++] = *e;
	return 0;
}

int ctext_parse(struct ctext *ct, char *text, size_t len)
{
	memset(ct, 0, sizeof(*ct));
	ct->text = text;
	ct->len = len;
	size_t cap = 0, toff = 0, tlen = 0;
	for (size_t pos = 0; pos < len;) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - line) : len - pos;
		struct centry e = {.line = pos, .table_off = toff, .table_len = tlen};
		bool counted = false;
		if (ll > 1 && line[0] == '*') {
			toff = pos + 1;
			tlen = ll - 1;
			while (tlen &&
			       (text[toff + tlen - 1] == ' ' || text[toff + tlen - 1] == '\r'))
				tlen--;
		} else if (ll > 1 && line[0] == ':') {
			const char *sp = memchr(line, ' ', ll);
			const char *br = NULL;
			for (size_t i = ll; i > 0; i--)
				if (line[i - 1] == '[') {
					br = line + i - 1;
					break;
				}
			/* built-in chains only: a user chain's "-" has no counters of its own */
			if (sp && sp + 1 < line + ll && sp[1] != '-' && br &&
			    (e.cnt_len =
				 parse_counters(br, ll - (size_t)(br - line), &e.pkts, &e.bytes))) {
				e.cnt_off = pos + (size_t)(br - line);
				e.key_off = pos;
				e.key_len = (size_t)(sp - line);
				counted = true;
			}
		} else if (ll > 1 && line[0] == '[') {
			e.cnt_len = parse_counters(line, ll, &e.pkts, &e.bytes);
			if (e.cnt_len) {
				e.cnt_off = pos;
				size_t k = e.cnt_len;
				while (k < ll && line[k] == ' ')
					k++;
				e.key_off = pos + k;
				e.key_len = ll - k;
				counted = true;
			}
		}
		if (counted) {
			e.hash = fnv(fnv(0xcbf29ce484222325ULL, text + e.table_off, e.table_len),
				     "\n", 1);
			e.hash = fnv(e.hash, text + e.key_off, e.key_len);
			if (add_entry(ct, &cap, &e)) {
				ctext_free(ct);
				return -1;
			}
		}
		pos += ll + (nl ? 1 : 0);
	}
	return 0;
}

void ctext_free(struct ctext *ct)
{
	free(ct->text);
	free(ct->e);
	memset(ct, 0, sizeof(*ct));
}

char *ctext_render(const struct ctext *ct, size_t *len)
{
	size_t cap = ct->len + ct->n * 44 + 1, out = 0, pos = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < ct->n; i++) {
		const struct centry *e = &ct->e[i];
		memcpy(buf + out, ct->text + pos, e->cnt_off - pos);
		out += e->cnt_off - pos;
		buf[out++] = '[';
		out += put_u64(buf + out, e->pkts);
		buf[out++] = ':';
		out += put_u64(buf + out, e->bytes);
		buf[out++] = ']';
		pos = e->cnt_off + e->cnt_len;
	}
	memcpy(buf + out, ct->text + pos, ct->len - pos);
	out += ct->len - pos;
	buf[out] = '\0';
	*len = out;
	return buf;
}

static bool same_key(const struct ctext *a, const struct centry *x, const struct ctext *b,
		     const struct centry *y)
{
	return x->hash == y->hash && x->key_len == y->key_len && x->table_len == y->table_len &&
	       !memcmp(a->text + x->key_off, b->text + y->key_off, x->key_len) &&
	       !memcmp(a->text + x->table_off, b->text + y->table_off, x->table_len);
}

bool ctext_same_shape(const struct ctext *a, const struct ctext *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!same_key(a, &a->e[i], b, &b->e[i]))
			return false;
	return true;
}

int ctext_match(const struct ctext *from, const struct ctext *to, long *map)
{
	size_t size = 16;
	while (size < from->n * 2)
		size *= 2;
	long *head = malloc(size * sizeof(long)), *tail = malloc(size * sizeof(long));
	long *next = malloc((from->n + 1) * sizeof(long));
	if (!head || !tail || !next) {
		free(head);
		free(tail);
		free(next);
		return -1;
	}
	for (size_t i = 0; i < size; i++)
		head[i] = tail[i] = -1;
	for (size_t i = 0; i < from->n; i++) {
		const struct centry *e = &from->e[i];
		next[i] = -1;
		size_t s = (size_t)e->hash & (size - 1);
		while (head[s] >= 0 && !same_key(from, &from->e[head[s]], from, e))
			s = (s + 1) & (size - 1);
		if (head[s] < 0)
			head[s] = (long)i;
		else
			next[tail[s]] = (long)i;
		tail[s] = (long)i;
	}
	/* head[s] now serves as the cursor: the next unused occurrence of the key. */
	for (size_t j = 0; j < to->n; j++) {
		const struct centry *e = &to->e[j];
		size_t s = (size_t)e->hash & (size - 1);
		map[j] = -1;
		while (tail[s] >= 0) {
			if (same_key(from, &from->e[tail[s]], to, e)) {
				map[j] = head[s];
				if (head[s] >= 0)
					head[s] = next[head[s]];
				break;
			}
			s = (s + 1) & (size - 1);
		}
	}
	free(head);
	free(tail);
	free(next);
	return 0;
}
