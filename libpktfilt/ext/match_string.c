/*
 * match_string.c - the string match: a pattern searched in the packet with a kernel text
 * search algorithm (--algo bm|kmp|fsm, --string, --hex-string, --from, --to, --icase), as
 * libxt_string revision 1 and the kernel's xt_string.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define STR_ALGO_SIZE 16     /* XT_STRING_MAX_ALGO_NAME_SIZE */
#define STR_PATTERN_SIZE 128 /* XT_STRING_MAX_PATTERN_SIZE */
#define STR_IGNORECASE 0x01
#define STR_INVERT 0x02

/* The kernel's struct xt_string_info (revision 1) without its internal pointer. */
struct string_info {
	uint16_t from_offset;
	uint16_t to_offset;
	char algo[STR_ALGO_SIZE];
	char pattern[STR_PATTERN_SIZE];
	uint8_t patlen;
	uint8_t flags;
};

enum { O_FROM, O_TO, O_ALGO, O_ICASE, O_STRING, O_HEX_STRING };
#define F(o) (1ull << (o))

static const struct pf_ext_option string_opts[] = {
    {"from", O_FROM, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"to", O_TO, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"algo", O_ALGO, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"string", O_STRING, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hex-string", O_HEX_STRING, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"icase", O_ICASE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec string_specs[] = {
    {"from", O_FROM, 0, 0, false},
    {"to", O_TO, 0, 0, false},
    {"algo", O_ALGO, 0, 0, true},
    {"string", O_STRING, F(O_HEX_STRING), 0, false},
    {"hex-string", O_HEX_STRING, F(O_STRING), 0, false},
    {"icase", O_ICASE, 0, 0, false},
    {.name = NULL},
};

static void string_init(void *data)
{
	struct string_info *info = data;
	info->to_offset = UINT16_MAX;
}

static int parse_hex_string(const char *s, struct string_info *info, struct pf_error *err)
{
	size_t i = 0, slen = strlen(s), sindex = 0;
	bool hex_f = false, literal_f = false;
	if (slen == 0)
		return pf_err_param(err, "STRING must contain at least one char");
	memset(info->pattern, 0, sizeof(info->pattern));
	while (i < slen) {
		if (sindex >= STR_PATTERN_SIZE)
			return pf_err_param(err, "STRING too long \"%s\"", s);
		if (s[i] == '\\' && !hex_f) {
			literal_f = true;
		} else if (s[i] == '\\') {
			return pf_err_param(err, "Cannot include literals in hex data");
		} else if (s[i] == '|') {
			if (hex_f) {
				hex_f = false;
			} else {
				hex_f = true;
				/* skip any spaces just after the '|' */
				while (s[i + 1] == ' ')
					i++;
			}
			if (i + 1 >= slen)
				break;
			i++;
		}
		if (literal_f) {
			if (i + 1 >= slen)
				return pf_err_param(err, "Bad literal placement at end of string");
			info->pattern[sindex] = s[i + 1];
			i += 2;
			literal_f = false;
		} else if (hex_f) {
			if (i + 1 >= slen)
				return pf_err_param(err, "Odd number of hex digits");
			if (i + 2 >= slen)
				return pf_err_param(err, "Invalid hex block");
			if (!isxdigit((unsigned char)s[i]))
				return pf_err_param(err, "Invalid hex char '%c'", s[i]);
			if (!isxdigit((unsigned char)s[i + 1]))
				return pf_err_param(err, "Invalid hex char '%c'", s[i + 1]);
			char hex[3] = {s[i], s[i + 1], '\0'};
			info->pattern[sindex] = (char)strtoul(hex, NULL, 16);
			i += s[i + 2] == ' ' ? 3 : 2;
		} else {
			info->pattern[sindex] = s[i];
			i++;
		}
		sindex++;
	}
	info->patlen = (uint8_t)sindex;
	return 0;
}

static const char *spec_name(int id)
{
	for (const struct pf_xt_optspec *s = string_specs; s->name; s++)
		if ((int)s->id == id)
			return s->name;
	return "";
}

static int string_parse(struct pf_parse_ctx *ctx)
{
	struct string_info *info = ctx->data;
	const char *opt = spec_name(ctx->id);
	bool invertible = ctx->id == O_STRING || ctx->id == O_HEX_STRING;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "string", opt, ctx->seen & F(ctx->id), ctx->invert,
			    invertible))
		return -1;
	switch (ctx->id) {
	case O_FROM:
	case O_TO:
		if (pf_xt_parse_uint(ctx->arg, "string", opt, 0, UINT16_MAX, &v, ctx->err))
			return -1;
		if (ctx->id == O_FROM)
			info->from_offset = (uint16_t)v;
		else
			info->to_offset = (uint16_t)v;
		return 0;
	case O_ALGO:
		memset(info->algo, 0, sizeof(info->algo));
		strncpy(info->algo, ctx->arg, STR_ALGO_SIZE - 1);
		return 0;
	case O_STRING: {
		size_t n = strlen(ctx->arg);
		if (n > STR_PATTERN_SIZE)
			return pf_err_param(ctx->err, "STRING too long \"%s\"", ctx->arg);
		memset(info->pattern, 0, sizeof(info->pattern));
		memcpy(info->pattern, ctx->arg, n);
		info->patlen = (uint8_t)n;
		break;
	}
	case O_HEX_STRING:
		if (parse_hex_string(ctx->arg, info, ctx->err))
			return -1;
		break;
	case O_ICASE:
		info->flags |= STR_IGNORECASE;
		return 0;
	}
	if (ctx->invert)
		info->flags |= STR_INVERT;
	return 0;
}

static int string_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (F(O_STRING) | F(O_HEX_STRING))))
		return pf_err_param(ctx->err,
				    "STRING match: You must specify `--string' or `--hex-string'");
	return pf_xt_options_fcheck("string", string_specs, ctx->seen, ctx->err);
}

/* Non-printable characters (C locale) or a final backslash: printed as a hex string. */
static bool is_hex_string(const char *str, unsigned len)
{
	for (unsigned i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c < 0x20 || c > 0x7e)
			return true;
	}
	return len > 0 && str[len - 1] == '\\';
}

static void put_pattern(struct pf_strbuf *out, const struct string_info *info)
{
	if (is_hex_string(info->pattern, info->patlen)) {
		pf_sb_puts(out, " \"|");
		for (unsigned i = 0; i < info->patlen; i++)
			pf_sb_printf(out, "%02x", (unsigned char)info->pattern[i]);
		pf_sb_puts(out, "|\"");
		return;
	}
	pf_sb_puts(out, " \"");
	for (unsigned i = 0; i < info->patlen; i++) {
		if (info->pattern[i] == '"' || info->pattern[i] == '\\')
			pf_sb_putc(out, '\\');
		pf_sb_putc(out, info->pattern[i]);
	}
	pf_sb_putc(out, '"');
}

static void string_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct string_info *info = ctx->data;
	pf_sb_printf(out, " STRING match %s", (info->flags & STR_INVERT) ? "!" : "");
	put_pattern(out, info);
	pf_sb_printf(out, " ALGO name %s", info->algo);
	if (info->from_offset != 0)
		pf_sb_printf(out, " FROM %u", info->from_offset);
	if (info->to_offset != UINT16_MAX)
		pf_sb_printf(out, " TO %u", info->to_offset);
	if (info->flags & STR_IGNORECASE)
		pf_sb_puts(out, " ICASE");
}

static void string_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct string_info *info = ctx->data;
	const char *inv = (info->flags & STR_INVERT) ? " !" : "";
	if (is_hex_string(info->pattern, info->patlen))
		pf_sb_printf(out, "%s --hex-string", inv);
	else
		pf_sb_printf(out, "%s --string", inv);
	put_pattern(out, info);
	pf_sb_printf(out, " --algo %s", info->algo);
	if (info->from_offset != 0)
		pf_sb_printf(out, " --from %u", info->from_offset);
	if (info->to_offset != UINT16_MAX)
		pf_sb_printf(out, " --to %u", info->to_offset);
	if (info->flags & STR_IGNORECASE)
		pf_sb_puts(out, " --icase");
}

/* ts_fsm's check of its pattern, an array of {u16 type, u8 recur, u8 value} tokens. */
static int fsm_check(const struct string_info *info)
{
	unsigned n = info->patlen / 4;
	if (info->patlen % 4 || n < 1 || (info->flags & STR_IGNORECASE))
		return EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *t = (const unsigned char *)info->pattern + 4 * i;
		unsigned type = t[0] | (unsigned)t[1] << 8, recur = t[2];
		/* types up to TS_FSM_SPACE (13); this kernel refuses TS_FSM_HEAD_IGNORE (5)
		 * wherever it is */
		if (type > 13 || recur > 4)
			return EINVAL;
	}
	return 0;
}

/* xt_string's checkentry and textsearch_prepare: the algorithms of the kernel are bm, kmp
 * and fsm; another name is ENOENT. */
static int string_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			      unsigned hooks)
{
	const struct string_info *info = data;
	(void)rule;
	(void)table;
	(void)hooks;
	if (info->from_offset > info->to_offset)
		return EINVAL;
	if (info->flags & ~(STR_IGNORECASE | STR_INVERT))
		return EINVAL;
	if (info->patlen == 0)
		return EINVAL;
	if (strcmp(info->algo, "bm") == 0 || strcmp(info->algo, "kmp") == 0)
		return 0;
	if (strcmp(info->algo, "fsm") == 0)
		return fsm_check(info);
	return ENOENT;
}

const struct pf_ext pf_match_string = {
    .name = "string",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct string_info),
    .options = string_opts,
    .init = string_init,
    .parse = string_parse,
    .final_check = string_final,
    .save = string_save,
    .print = string_print,
    .check_entry = string_check_entry,
};
