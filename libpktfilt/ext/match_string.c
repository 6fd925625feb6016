/*
 * match_string.c - the string match: a pattern searched in the packet with a kernel text
 * search algorithm (--algo bm|kmp|fsm, --string, --hex-string, --from, --to, --icase), as
 * libxt_string revision 1 and the kernel's xt_string.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "engine/eval.h"
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

/* ts_fsm's check of its pattern (fsm_init), an array of {u16 type, u8 recur, u8 value} tokens:
 * types up to TS_FSM_SPACE (13), recurrences up to TS_FSM_HEAD_IGNORE (4), which only the first
 * of several tokens may have; no --icase. */
static int fsm_check(const struct string_info *info)
{
	unsigned n = info->patlen / 4;
	if (info->patlen % 4 || n < 1 || (info->flags & STR_IGNORECASE))
		return EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *t = (const unsigned char *)info->pattern + 4 * i;
		unsigned type = t[0] | (unsigned)t[1] << 8, recur = t[2];
		if (type > 13 || recur > 4)
			return EINVAL;
		if (recur == 4 && (i != 0 || i == n - 1))
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

/* ---- evaluation (xt_string's string_mt: skb_find_text with lib/ts_bm, ts_kmp, ts_fsm) ---- */

enum { ALGO_NONE, ALGO_BM, ALGO_KMP, ALGO_FSM };

/* Prepared once per rule (textsearch_prepare): no work per packet but the search. */
struct string_state {
	uint8_t algo;
	bool icase;
	uint8_t upper[256];	       /* the kernel's toupper() */
	uint16_t cls[256];	       /* fsm: the classes of each byte */
	uint8_t pat[STR_PATTERN_SIZE]; /* upper-cased with --icase (bm, kmp) */
	uint16_t bad_shift[256];       /* bm */
	uint16_t good_shift[STR_PATTERN_SIZE];
	uint16_t prefix[STR_PATTERN_SIZE]; /* kmp */
	struct {			   /* fsm tokens, type mapped to class bits */
		uint16_t type;
		uint8_t recur, value;
	} tok[STR_PATTERN_SIZE / 4];
	unsigned ntok;
};

/* The kernel's ctype (lib/ctype.c): Latin-1 letters are letters, 0xDF and 0xFF lower case. */
#define K_U 0x01
#define K_L 0x02
#define K_D 0x04
#define K_C 0x08
#define K_P 0x10
#define K_S 0x20
#define K_X 0x40
#define K_SP 0x80

static unsigned kctype(uint8_t c)
{
	if (c < 32)
		return K_C | ((c >= 9 && c <= 13) ? K_S : 0);
	if (c == 32)
		return K_S | K_SP;
	if (c >= '0' && c <= '9')
		return K_D;
	if (c >= 'A' && c <= 'Z')
		return K_U | (c <= 'F' ? K_X : 0);
	if (c >= 'a' && c <= 'z')
		return K_L | (c <= 'f' ? K_X : 0);
	if (c < 127)
		return K_P;
	if (c == 127)
		return K_C;
	if (c < 160)
		return 0;
	if (c == 160)
		return K_S | K_SP;
	if (c < 192 || c == 215 || c == 247)
		return K_P;
	return c < 223 ? K_U : K_L;
}

static uint8_t ktoupper(uint8_t c)
{
	return (kctype(c) & K_L) ? (uint8_t)(c - 32) : c;
}

static uint8_t ktolower(uint8_t c)
{
	return (kctype(c) & K_U) ? (uint8_t)(c + 32) : c;
}

/*
 * skb_seq_read over a linear skb (all the packet in its head, as the kernel has it for the
 * packets of a normal size): from lower_offset, one block up to the end of the packet (not
 * cut at upper_offset); then 0. Read again once it has said 0, it steps past the head once
 * more and hands out the head from its start again (the kernel does that too; only ts_fsm
 * asks again).
 */
struct seq {
	const uint8_t *data;
	uint32_t headlen, lower, upper, stepped;
};

static uint32_t seq_read(struct seq *st, uint32_t consumed, const uint8_t **data)
{
	uint32_t abs = consumed + st->lower;
	if (abs >= st->upper)
		return 0;
	uint32_t limit = st->headlen + st->stepped;
	if (abs < limit) {
		*data = st->data + (abs - st->stepped);
		return limit - abs;
	}
	st->stepped += st->headlen;
	return 0;
}

#define NOT_FOUND UINT32_MAX

/* ts_bm: bm_find and compute_prefix_tbl. */
static bool bm_sub(const uint8_t *pat, int i, int j, int g)
{
	int x = i + g - 1, y = j + g - 1;
	while (pat[x--] == pat[y--]) {
		if (y < 0)
			return true;
		if (--g == 0)
			return pat[i - 1] != pat[j - 1];
	}
	return false;
}

static void bm_prepare(struct string_state *st, unsigned len)
{
	for (unsigned c = 0; c < 256; c++)
		st->bad_shift[c] = (uint16_t)len;
	for (unsigned i = 0; i + 1 < len; i++) {
		st->bad_shift[st->pat[i]] = (uint16_t)(len - 1 - i);
		if (st->icase)
			st->bad_shift[ktolower(st->pat[i])] = (uint16_t)(len - 1 - i);
	}
	st->good_shift[0] = 1;
	for (unsigned i = 1; i < len; i++)
		st->good_shift[i] = (uint16_t)len;
	int g = 1;
	for (int i = (int)len - 1; i > 0; g++, i--)
		for (int j = i - 1; j >= 1 - g; j--)
			if (bm_sub(st->pat, i, j, g)) {
				st->good_shift[g] = (uint16_t)((int)len - j - g);
				break;
			}
}

static uint32_t bm_find(const struct string_state *st, unsigned len, struct seq *sq)
{
	uint32_t consumed = 0;
	const uint8_t *text;
	for (;;) {
		uint32_t shift = len - 1, text_len = seq_read(sq, consumed, &text);
		if (text_len == 0)
			break;
		while (shift < text_len) {
			unsigned i;
			for (i = 0; i < len; i++) {
				uint8_t t = text[shift - i];
				if (st->icase)
					t = st->upper[t];
				if (t != st->pat[len - 1 - i])
					break;
			}
			if (i == len)
				return consumed + (shift - (len - 1));
			uint32_t a = shift - i + st->bad_shift[text[shift - i]];
			uint32_t b = shift + st->good_shift[i];
			shift = a > b ? a : b;
		}
		consumed += text_len;
	}
	return NOT_FOUND;
}

/* ts_kmp: kmp_find and compute_prefix_tbl. */
static void kmp_prepare(struct string_state *st, unsigned len)
{
	unsigned k = 0;
	st->prefix[0] = 0;
	for (unsigned q = 1; q < len; q++) {
		while (k > 0 && st->pat[k] != st->pat[q])
			k = st->prefix[k - 1];
		if (st->pat[k] == st->pat[q])
			k++;
		st->prefix[q] = (uint16_t)k;
	}
}

static uint32_t kmp_find(const struct string_state *st, unsigned len, struct seq *sq)
{
	uint32_t consumed = 0, q = 0;
	const uint8_t *text;
	for (;;) {
		uint32_t text_len = seq_read(sq, consumed, &text);
		if (text_len == 0)
			break;
		for (uint32_t i = 0; i < text_len; i++) {
			uint8_t c = st->icase ? st->upper[text[i]] : text[i];
			while (q > 0 && st->pat[q] != c)
				q = st->prefix[q - 1];
			if (st->pat[q] == c)
				q++;
			if (q == len)
				return consumed + i + 1 - len;
		}
		consumed += text_len;
	}
	return NOT_FOUND;
}

/* ts_fsm: tokens {u16 type (host order), u8 recur, u8 value}. */
enum { FSM_SINGLE, FSM_PERHAPS, FSM_ANY, FSM_MULTI, FSM_HEAD_IGNORE };
#define K_A 0x100 /* ascii */
#define K_W 0x200 /* wildcard */

static const uint16_t fsm_type_map[14] = {
    0,				  /* specific */
    K_W,			  /* wildcard */
    K_D,			  /* digit */
    K_D | K_X,			  /* xdigit */
    K_P | K_U | K_L | K_D | K_SP, /* print */
    K_U | K_L,			  /* alpha */
    K_U | K_L | K_D,		  /* alnum */
    K_A,			  /* ascii */
    K_C,			  /* cntrl */
    K_P | K_U | K_L | K_D,	  /* graph */
    K_L,			  /* lower */
    K_U,			  /* upper */
    K_P,			  /* punct */
    K_S,			  /* space */
};

/* ts_fsm's token_lookup_tbl: the kernel's ctype classes of the byte, plus the wildcard bit for
 * every byte and the ascii bit below 128. */
static unsigned fsm_class(uint8_t c)
{
	unsigned v = K_W | (c < 128 ? K_A : 0);
	if (c >= 128 && c < 160)
		return v;
	return v | kctype(c);
}

static bool fsm_tok_match(const struct string_state *st, unsigned t, uint8_t d)
{
	if (st->tok[t].type)
		return (st->cls[d] & st->tok[t].type) != 0;
	return st->tok[t].value == d;
}

static uint32_t fsm_find(const struct string_state *st, struct seq *sq)
{
	const uint8_t *data = NULL;
	uint32_t consumed = 0, block_idx = 0, block_len = 0, match_start;
	unsigned n = st->ntok;
#define FSM_END()                                                                                  \
	(block_idx >= block_len &&                                                                 \
	 (consumed += block_idx, block_idx = 0, (block_len = seq_read(sq, consumed, &data)) == 0))
#define FSM_MISMATCH()                                                                             \
	do {                                                                                       \
		if (strict)                                                                        \
			return NOT_FOUND;                                                          \
		block_idx++;                                                                       \
		goto startover;                                                                    \
	} while (0)
	if (FSM_END())
		return NOT_FOUND;
	bool strict = st->tok[0].recur != FSM_HEAD_IGNORE;
startover:
	match_start = consumed + block_idx;
	for (unsigned t = 0; t < n; t++) {
		bool has_next = t + 1 < n;
		switch (st->tok[t].recur) {
		case FSM_SINGLE:
			if (FSM_END())
				return NOT_FOUND;
			if (!fsm_tok_match(st, t, data[block_idx]))
				FSM_MISMATCH();
			break;
		case FSM_PERHAPS:
			if (FSM_END() || !fsm_tok_match(st, t, data[block_idx]))
				continue;
			break;
		case FSM_MULTI:
			if (FSM_END())
				return NOT_FOUND;
			if (!fsm_tok_match(st, t, data[block_idx]))
				FSM_MISMATCH();
			block_idx++;
			/* fall through */
		case FSM_ANY:
			if (!has_next)
				return match_start;
			if (FSM_END())
				continue;
			while (!fsm_tok_match(st, t + 1, data[block_idx])) {
				if (!fsm_tok_match(st, t, data[block_idx]))
					FSM_MISMATCH();
				block_idx++;
				if (FSM_END())
					return NOT_FOUND;
			}
			continue;
		case FSM_HEAD_IGNORE:
			if (FSM_END())
				continue;
			while (!fsm_tok_match(st, t + 1, data[block_idx])) {
				if (!fsm_tok_match(st, t, data[block_idx]))
					return NOT_FOUND;
				block_idx++;
				if (FSM_END())
					return NOT_FOUND;
			}
			match_start = consumed + block_idx;
			continue;
		}
		block_idx++;
	}
	if (FSM_END())
		return match_start;
	return NOT_FOUND;
#undef FSM_END
#undef FSM_MISMATCH
}

static int string_state_init(struct pf_engine *engine, const void *data, void *state)
{
	const struct string_info *info = data;
	struct string_state *st = state;
	unsigned len = info->patlen < STR_PATTERN_SIZE ? info->patlen : STR_PATTERN_SIZE;
	(void)engine;
	st->icase = info->flags & STR_IGNORECASE;
	for (unsigned c = 0; c < 256; c++) {
		st->upper[c] = ktoupper((uint8_t)c);
		st->cls[c] = (uint16_t)fsm_class((uint8_t)c);
	}
	for (unsigned i = 0; i < len; i++) {
		uint8_t c = (uint8_t)info->pattern[i];
		st->pat[i] = st->icase ? ktoupper(c) : c;
	}
	if (len == 0)
		return 0; /* refused at commit (check_entry) */
	if (strcmp(info->algo, "bm") == 0) {
		st->algo = ALGO_BM;
		bm_prepare(st, len);
	} else if (strcmp(info->algo, "kmp") == 0) {
		st->algo = ALGO_KMP;
		kmp_prepare(st, len);
	} else if (strcmp(info->algo, "fsm") == 0 && fsm_check(info) == 0) {
		st->algo = ALGO_FSM;
		st->ntok = len / 4;
		for (unsigned i = 0; i < st->ntok; i++) {
			const uint8_t *t = (const uint8_t *)info->pattern + 4 * i;
			unsigned type = t[0] | (unsigned)t[1] << 8; /* little-endian host */
			st->tok[i].type = fsm_type_map[type];
			st->tok[i].recur = t[2];
			st->tok[i].value = t[3];
		}
	}
	return 0;
}

static bool string_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct string_info *info = data;
	const struct string_state *st = state;
	const struct pf_packet *p = ev->pkt;
	unsigned len = info->patlen < STR_PATTERN_SIZE ? info->patlen : STR_PATTERN_SIZE;
	struct seq sq = {p->data, (uint32_t)p->len, info->from_offset, info->to_offset, 0};
	uint32_t pos;
	switch (st->algo) {
	case ALGO_BM:
		pos = bm_find(st, len, &sq);
		break;
	case ALGO_KMP:
		pos = kmp_find(st, len, &sq);
		break;
	case ALGO_FSM:
		pos = fsm_find(st, &sq);
		break;
	default:
		pos = NOT_FOUND;
		break;
	}
	/* skb_find_text: the pattern (for fsm, the token array's length) must end by --to */
	bool found = pos != NOT_FOUND && (uint32_t)(pos + info->patlen) <=
					     (uint32_t)(info->to_offset - info->from_offset);
	return found != !!(info->flags & STR_INVERT);
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
    .match = string_match,
    .state_size = sizeof(struct string_state),
    .state_init = string_state_init,
};
