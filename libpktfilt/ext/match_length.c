/*
 * match_length.c - the length match: the IP packet length in a range (--length min[:max]),
 * as libxt_length and the kernel's xt_length.
 */
#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_length_info. */
struct length_info {
	uint16_t min, max;
	uint8_t invert;
};

enum { O_LENGTH };

static const struct pf_ext_option length_opts[] = {
    {"length", O_LENGTH, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int length_parse(struct pf_parse_ctx *ctx)
{
	struct length_info *l = ctx->data;
	uint64_t v[2];
	unsigned n;
	if (pf_xt_opt_check(ctx->err, "length", "length", ctx->seen & 1u, ctx->invert, true))
		return -1;
	if (pf_xt_parse_mint(ctx->arg, "length", "length", 0xFFFF, 2, v, &n, ctx->err))
		return -1;
	l->min = (uint16_t)v[0];
	l->max = n >= 2 ? (uint16_t)v[1] : l->min;
	if (ctx->invert)
		l->invert = 1;
	return 0;
}

static int length_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & 1u))
		return pf_err_param(ctx->err, "length: option \"--length\" must be specified\n");
	return 0;
}

static void put_range(struct pf_strbuf *out, const struct length_info *l)
{
	if (l->min == l->max)
		pf_sb_printf(out, "%u", l->min);
	else
		pf_sb_printf(out, "%u:%u", l->min, l->max);
}

static void length_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct length_info *l = ctx->data;
	pf_sb_printf(out, "%s --length ", l->invert ? " !" : "");
	put_range(out, l);
}

static void length_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct length_info *l = ctx->data;
	pf_sb_printf(out, " length %s", l->invert ? "!" : "");
	put_range(out, l);
}

/* ---- evaluation (xt_length's length_mt: the IP total length field) ---- */

static bool length_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct length_info *l = data;
	uint16_t len = pf_rd16(ev->pkt->data + 2);
	(void)state;
	return (len >= l->min && len <= l->max) != !!l->invert;
}

const struct pf_ext pf_match_length = {
    .name = "length",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct length_info),
    .options = length_opts,
    .parse = length_parse,
    .final_check = length_final,
    .save = length_save,
    .print = length_print,
    .match = length_match,
};
