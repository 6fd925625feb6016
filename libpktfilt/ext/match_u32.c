/*
 * match_u32.c - the u32 match: tests on 32-bit words read at computed packet offsets
 * (--u32 "location=value[&&...]"), parsed into the kernel's struct xt_u32 as libxt_u32 does
 * and printed back in its canonical hexadecimal form.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define U32_MAXSIZE 10 /* XT_U32_MAXSIZE */

enum u32_ops { U32_AND, U32_LEFTSH, U32_RIGHTSH, U32_AT };

/* The kernel's struct xt_u32 and its parts. */
struct u32_location {
	uint32_t number;
	uint8_t nextop;
};

struct u32_value {
	uint32_t min, max;
};

struct u32_test {
	struct u32_location location[U32_MAXSIZE + 1];
	struct u32_value value[U32_MAXSIZE + 1];
	uint8_t nnums;
	uint8_t nvalues;
};

struct u32_info {
	struct u32_test tests[U32_MAXSIZE + 1];
	uint8_t ntests;
	uint8_t invert;
};

enum { O_U32 };

static const struct pf_ext_option u32_opts[] = {
    {"u32", O_U32, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int at_err(struct pf_error *err, const char *what, const char *arg, const char *start)
{
	return pf_err_param(err, "u32: at char %u: %s", (unsigned)(arg - start), what);
}

static int parse_number(const char **s, const char *start, uint32_t *out, struct pf_error *err)
{
	char *end;
	uint64_t v;
	if (!pf_strtoui_end(*s, &end, 0, UINT32_MAX, &v) || end == *s)
		return pf_err_param(err, "u32: at char %d: not a number or out of range",
				    (int)(*s - start));
	*s = end;
	*out = (uint32_t)v;
	return 0;
}

static int u32_parse(struct pf_parse_ctx *ctx)
{
	struct u32_info *data = ctx->data;
	unsigned testind = 0, locind = 0, valind = 0;
	struct u32_test *ct = &data->tests[0];
	const char *start = ctx->arg, *arg = ctx->arg;
	int state = 0; /* 0: location (numbers and operators), 1: value ranges */
	if (pf_xt_opt_check(ctx->err, "u32", "u32", ctx->seen & 1u, ctx->invert, true))
		return -1;
	data->invert = ctx->invert;
	for (;;) {
		while (isspace((unsigned char)*arg))
			++arg;
		if (*arg == '\0') {
			if (state == 0)
				return pf_err_param(
				    ctx->err, "u32: abrupt end of input after location specifier");
			if (valind == 0)
				return pf_err_param(ctx->err,
						    "u32: test ended with no value specified");
			ct->nnums = (uint8_t)locind;
			ct->nvalues = (uint8_t)valind;
			data->ntests = (uint8_t)++testind;
			if (testind > U32_MAXSIZE)
				return at_err(ctx->err, "too many \"&&\"s", arg, start);
			return 0;
		}
		if (state == 0) {
			if (*arg == '=') {
				if (locind == 0)
					return at_err(ctx->err, "location spec missing", arg,
						      start);
				++arg;
				state = 1;
				continue;
			}
			if (locind != 0) {
				if (*arg == '&') {
					ct->location[locind].nextop = U32_AND;
				} else if (*arg == '<') {
					if (*++arg != '<')
						return at_err(ctx->err, "a second '<' was expected",
							      arg, start);
					ct->location[locind].nextop = U32_LEFTSH;
				} else if (*arg == '>') {
					if (*++arg != '>')
						return at_err(ctx->err, "a second '>' was expected",
							      arg, start);
					ct->location[locind].nextop = U32_RIGHTSH;
				} else if (*arg == '@') {
					ct->location[locind].nextop = U32_AT;
				} else {
					return at_err(ctx->err, "operator expected", arg, start);
				}
				++arg;
			}
			if (parse_number(&arg, start, &ct->location[locind].number, ctx->err))
				return -1;
			if (++locind > U32_MAXSIZE)
				return at_err(ctx->err, "too many operators", arg, start);
		} else if (*arg == '&') {
			if (*++arg != '&')
				return at_err(ctx->err, "a second '&' was expected", arg, start);
			if (valind == 0)
				return at_err(ctx->err, "value spec missing", arg, start);
			ct->nnums = (uint8_t)locind;
			ct->nvalues = (uint8_t)valind;
			ct = &data->tests[++testind];
			if (testind > U32_MAXSIZE)
				return at_err(ctx->err, "too many \"&&\"s", arg, start);
			++arg;
			state = 0;
			locind = 0;
			valind = 0;
		} else {
			if (valind > 0) {
				if (*arg != ',')
					return at_err(ctx->err, "expected \",\" or \"&&\"", arg,
						      start);
				++arg;
			}
			if (parse_number(&arg, start, &ct->value[valind].min, ctx->err))
				return -1;
			while (isspace((unsigned char)*arg))
				++arg;
			if (*arg == ':') {
				++arg;
				if (parse_number(&arg, start, &ct->value[valind].max, ctx->err))
					return -1;
			} else {
				ct->value[valind].max = ct->value[valind].min;
			}
			if (++valind > U32_MAXSIZE)
				return at_err(ctx->err, "too many \",\"s", arg, start);
		}
	}
}

static int u32_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & 1u))
		return pf_err_param(ctx->err, "u32: option \"--u32\" must be specified\n");
	return 0;
}

static void u32_dump(struct pf_strbuf *out, const struct u32_info *data)
{
	static const char *const ops[] = {"&", "<<", ">>", "@"};
	pf_sb_puts(out, " \"");
	for (unsigned t = 0; t < data->ntests && t <= U32_MAXSIZE; ++t) {
		const struct u32_test *ct = &data->tests[t];
		if (t > 0)
			pf_sb_puts(out, "&&");
		pf_sb_printf(out, "0x%x", ct->location[0].number);
		for (unsigned i = 1; i < ct->nnums && i <= U32_MAXSIZE; ++i) {
			if (ct->location[i].nextop <= U32_AT)
				pf_sb_puts(out, ops[ct->location[i].nextop]);
			pf_sb_printf(out, "0x%x", ct->location[i].number);
		}
		pf_sb_putc(out, '=');
		for (unsigned i = 0; i < ct->nvalues && i <= U32_MAXSIZE; ++i) {
			if (i > 0)
				pf_sb_putc(out, ',');
			if (ct->value[i].min == ct->value[i].max)
				pf_sb_printf(out, "0x%x", ct->value[i].min);
			else
				pf_sb_printf(out, "0x%x:0x%x", ct->value[i].min, ct->value[i].max);
		}
	}
	pf_sb_putc(out, '"');
}

static void u32_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct u32_info *data = ctx->data;
	pf_sb_puts(out, " u32");
	if (data->invert)
		pf_sb_puts(out, " !");
	u32_dump(out, data);
}

static void u32_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct u32_info *data = ctx->data;
	if (data->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " --u32");
	u32_dump(out, data);
}

/* xt_u32's checkentry: the counts must fit the arrays, the shifts the 32-bit value. */
static int u32_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			   unsigned hooks)
{
	const struct u32_info *d = data;
	(void)rule;
	(void)table;
	(void)hooks;
	if (d->ntests > U32_MAXSIZE + 1)
		return EINVAL;
	for (unsigned i = 0; i < d->ntests; i++) {
		const struct u32_test *ct = &d->tests[i];
		if (ct->nnums > U32_MAXSIZE + 1 || ct->nvalues > U32_MAXSIZE + 1)
			return EINVAL;
		/* Linux 6.18.40 and later refuse shifts of 32 bits or more (seen on 6.18.44) */
		for (unsigned j = 1; j < ct->nnums; j++)
			if ((ct->location[j].nextop == U32_LEFTSH ||
			     ct->location[j].nextop == U32_RIGHTSH) &&
			    ct->location[j].number >= 32)
				return EINVAL;
	}
	return 0;
}

/* ---- evaluation (xt_u32's u32_match_it) ---- */

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/*
 * Every test must hold. A location starts with a word read at its first number; "&", "<<"
 * and ">>" change the value; "@" moves the base forward by the value and reads the word at
 * base + number. A read past the packet (skb->len: the IP total length) makes the whole
 * match false (before inversion), as do a base that wraps around.
 */
static bool u32_tests(const struct u32_info *d, const struct pf_packet *p)
{
	uint32_t len = (uint32_t)p->len;
	unsigned ntests = d->ntests <= U32_MAXSIZE + 1 ? d->ntests : U32_MAXSIZE + 1;
	for (unsigned t = 0; t < ntests; t++) {
		const struct u32_test *ct = &d->tests[t];
		uint32_t at = 0, pos = ct->location[0].number;
		if (len < 4 || pos > len - 4)
			return false;
		uint32_t val = rd32(p->data + pos);
		unsigned nnums = ct->nnums <= U32_MAXSIZE + 1 ? ct->nnums : U32_MAXSIZE + 1;
		for (unsigned i = 1; i < nnums; i++) {
			uint32_t number = ct->location[i].number;
			switch (ct->location[i].nextop) {
			case U32_AND:
				val &= number;
				break;
			case U32_LEFTSH: /* below 32: checked at commit */
				val <<= (number & 31);
				break;
			case U32_RIGHTSH:
				val >>= (number & 31);
				break;
			case U32_AT:
				if (at + val < at)
					return false;
				at += val;
				pos = number;
				if (at + 4 < at || len < at + 4 || pos > len - at - 4)
					return false;
				val = rd32(p->data + at + pos);
				break;
			}
		}
		unsigned nvals = ct->nvalues <= U32_MAXSIZE + 1 ? ct->nvalues : U32_MAXSIZE + 1, i;
		for (i = 0; i < nvals; i++)
			if (ct->value[i].min <= val && val <= ct->value[i].max)
				break;
		if (i >= nvals)
			return false;
	}
	return true;
}

static bool u32_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct u32_info *d = data;
	(void)state;
	return u32_tests(d, ev->pkt) != !!d->invert;
}

const struct pf_ext pf_match_u32 = {
    .name = "u32",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct u32_info),
    .options = u32_opts,
    .parse = u32_parse,
    .final_check = u32_final,
    .save = u32_save,
    .print = u32_print,
    .check_entry = u32_check_entry,
    .match = u32_match,
};
