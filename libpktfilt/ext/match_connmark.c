/*
 * match_connmark.c - "-m connmark --mark VALUE[/MASK]": match the mark of the packet's
 * connection (libxt_connmark, revision 1).
 */
#include <stdint.h>

#include "engine/eval.h"
#include "ext/ct_view.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum { O_MARK = 0 };

struct connmark_data {
	uint32_t mark, mask;
	uint8_t invert;
	uint8_t pad[3];
};

static const struct pf_ext_option connmark_opts[] = {
    {.name = "mark", .id = O_MARK, .arg = PF_ARG_REQUIRED, .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = NULL},
};

static int connmark_parse(struct pf_parse_ctx *ctx)
{
	struct connmark_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "connmark", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, true))
		return -1;
	/* XTTYPE_MARKMASK32 */
	char *end;
	uint64_t v, m = 0xffffffffu;
	if (!pf_strtoui_end(ctx->arg, &end, 0, 0xffffffffu, &v) ||
	    (*end == '/' && !pf_strtoui_end(end + 1, &end, 0, 0xffffffffu, &m)))
		return pf_err_param(
		    ctx->err,
		    "connmark: bad integer value for option \"--mark\", or out of range.\n");
	if (*end != '\0')
		return pf_err_param(
		    ctx->err, "connmark: trailing garbage after value for option \"--mark\".\n");
	d->mark = (uint32_t)v;
	d->mask = (uint32_t)m;
	d->invert = ctx->invert ? 1 : 0;
	return 0;
}

static int connmark_final_check(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (1ull << O_MARK)))
		return pf_err_param(ctx->err, "connmark: option \"--mark\" must be specified\n");
	return 0;
}

static void connmark_value(struct pf_strbuf *out, uint32_t mark, uint32_t mask)
{
	if (mask != 0xffffffffu)
		pf_sb_printf(out, " 0x%x/0x%x", mark, mask);
	else
		pf_sb_printf(out, " 0x%x", mark);
}

static void connmark_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connmark_data *d = ctx->data;
	if (d->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " --mark");
	connmark_value(out, d->mark, d->mask);
}

/* "connmark match " then "!" when inverted, then " VALUE": two spaces when not inverted. */
static void connmark_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connmark_data *d = ctx->data;
	pf_sb_puts(out, " connmark match ");
	if (d->invert)
		pf_sb_puts(out, "!");
	connmark_value(out, d->mark, d->mask);
}

/* connmark_mt (xt_connmark.c): a packet without a conntrack entry (untracked, invalid, or in
 * the raw table) never matches, inverted or not; else the connection's mark (meta->ctmark as
 * CONNMARK targets of earlier rules changed it), masked, compared, inverted. */
static bool connmark_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct connmark_data *d = data;
	(void)state;
	if (pf_ct_view_get(ev).kind != PF_CTV_ENTRY)
		return false;
	return ((ev->ctmark & d->mask) == d->mark) ^ (d->invert != 0);
}

const struct pf_ext pf_match_connmark = {
    .name = "connmark",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct connmark_data),
    .options = connmark_opts,
    .parse = connmark_parse,
    .final_check = connmark_final_check,
    .save = connmark_save,
    .print = connmark_print,
    .match = connmark_match,
    .needs_conntrack = true,
};
