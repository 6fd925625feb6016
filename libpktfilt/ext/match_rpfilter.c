/*
 * match_rpfilter.c - the rpfilter match: reverse path filtering by a route lookup of the
 * source address, as libxt_rpfilter and the kernel's xt_rpfilter (raw and mangle
 * PREROUTING only).
 */
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_rpfilter_info. */
struct rpfilter_info {
	uint8_t flags;
};

/* Option ids equal the bit numbers of XT_RPFILTER_LOOSE, _VALID_MARK, _ACCEPT_LOCAL and
 * _INVERT. */
enum { O_LOOSE, O_VALIDMARK, O_ACCEPT_LOCAL, O_INVERT, O_COUNT };

static const struct pf_ext_option rpfilter_opts[] = {
    {"loose", O_LOOSE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"validmark", O_VALIDMARK, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"accept-local", O_ACCEPT_LOCAL, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"invert", O_INVERT, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int rpfilter_parse(struct pf_parse_ctx *ctx)
{
	struct rpfilter_info *info = ctx->data;
	if (pf_xt_opt_check(ctx->err, "rpfilter", rpfilter_opts[ctx->id].name,
			    ctx->seen & (1ull << ctx->id), ctx->invert, false))
		return -1;
	info->flags |= (uint8_t)(1u << ctx->id);
	return 0;
}

static void put_flags(struct pf_strbuf *out, const struct rpfilter_info *info, const char *prefix)
{
	for (int i = 0; i < O_COUNT; i++)
		if (info->flags & (1u << i))
			pf_sb_printf(out, " %s%s", prefix, rpfilter_opts[i].name);
}

static void rpfilter_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_sb_puts(out, " rpfilter");
	put_flags(out, ctx->data, "");
}

static void rpfilter_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	put_flags(out, ctx->data, "--");
}

static const char *const rpfilter_tables[] = {"raw", "mangle", NULL};

const struct pf_ext pf_match_rpfilter = {
    .name = "rpfilter",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct rpfilter_info),
    .options = rpfilter_opts,
    .tables = rpfilter_tables,
    .hooks = 1u << PF_HOOK_PRE_ROUTING,
    .parse = rpfilter_parse,
    .save = rpfilter_save,
    .print = rpfilter_print,
};
