/*
 * target_MARK.c - -j MARK: set the packet's nfmark (revision 2: --set-xmark, --set-mark,
 * --and-mark, --or-mark, --xor-mark, all saved as --set-xmark VALUE/MASK). Any table.
 */
#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum {
	O_SET_MARK = 0,
	O_AND_MARK,
	O_OR_MARK,
	O_XOR_MARK,
	O_SET_XMARK,
};
#define F_ANY 0x1f

/* struct xt_mark_tginfo2: mark = (mark & ~mask) ^ value */
struct mark_data {
	uint32_t mark, mask;
};

static const struct pf_ext_option mark_opts[] = {
    {"set-xmark", O_SET_XMARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"set-mark", O_SET_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"and-mark", O_AND_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"or-mark", O_OR_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"xor-mark", O_XOR_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec mark_specs[] = {
    {"set-xmark", O_SET_XMARK, F_ANY, 0, false}, {"set-mark", O_SET_MARK, F_ANY, 0, false},
    {"and-mark", O_AND_MARK, F_ANY, 0, false},	 {"or-mark", O_OR_MARK, F_ANY, 0, false},
    {"xor-mark", O_XOR_MARK, F_ANY, 0, false},	 {.name = NULL},
};

static int mark_parse(struct pf_parse_ctx *ctx)
{
	struct mark_data *d = ctx->data;
	uint32_t value, mask;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "MARK", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    false))
		return -1;
	switch (ctx->id) {
	case O_SET_XMARK:
	case O_SET_MARK:
		if (pf_xt_parse_markmask(ctx->arg, "MARK", ctx->name, &value, &mask, ctx->err))
			return -1;
		d->mark = value;
		d->mask = ctx->id == O_SET_MARK ? (value | mask) : mask;
		break;
	default:
		if (pf_xt_parse_uint(ctx->arg, "MARK", ctx->name, 0, 0xffffffffu, &v, ctx->err))
			return -1;
		if (ctx->id == O_AND_MARK) {
			d->mark = 0;
			d->mask = ~(uint32_t)v;
		} else if (ctx->id == O_OR_MARK) {
			d->mark = d->mask = (uint32_t)v;
		} else {
			d->mark = (uint32_t)v;
			d->mask = 0;
		}
		break;
	}
	return 0;
}

static int mark_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "MARK: One of the --set-xmark, "
					      "--{and,or,xor,set}-mark options is required");
	return pf_xt_options_fcheck("MARK", mark_specs, ctx->seen, ctx->err);
}

static void mark_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct mark_data *d = ctx->data;
	pf_sb_printf(out, " --set-xmark 0x%x/0x%x", d->mark, d->mask);
}

static void mark_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct mark_data *d = ctx->data;
	if (d->mark == 0)
		pf_sb_printf(out, " MARK and 0x%x", (uint32_t)~d->mask);
	else if (d->mark == d->mask)
		pf_sb_printf(out, " MARK or 0x%x", d->mark);
	else if (d->mask == 0)
		pf_sb_printf(out, " MARK xor 0x%x", d->mark);
	else if (d->mask == 0xffffffffu)
		pf_sb_printf(out, " MARK set 0x%x", d->mark);
	else
		pf_sb_printf(out, " MARK xset 0x%x/0x%x", d->mark, d->mask);
}

/* mark_tg (xt_MARK.c): skb->mark = (skb->mark & ~mask) ^ mark; every form (set, xset, and,
 * or, xor) was folded into this pair by the parser. */
static unsigned mark_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct mark_data *d = data;
	(void)state;
	ev->mark = (ev->mark & ~d->mask) ^ d->mark;
	return PF_XT_CONTINUE;
}

const struct pf_ext pf_target_MARK = {
    .name = "MARK",
    .kind = PF_EXT_TARGET,
    .revision = 2,
    .data_size = sizeof(struct mark_data),
    .options = mark_opts,
    .parse = mark_parse,
    .final_check = mark_final_check,
    .save = mark_save,
    .print = mark_print,
    .target = mark_target,
};
