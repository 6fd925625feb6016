/*
 * match_mark.c - "-m mark --mark VALUE[/MASK]": match the packet's netfilter mark
 * (libxt_mark, revision 1).
 */
#include <stdint.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum { O_MARK = 0 };

struct mark_data {
	uint32_t mark, mask;
	uint8_t invert;
	uint8_t pad[3];
};

static const struct pf_ext_option mark_opts[] = {
    {.name = "mark", .id = O_MARK, .arg = PF_ARG_REQUIRED, .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = NULL},
};

/* XTTYPE_MARKMASK32 "value[/mask]", with libxtables' wording. */
static int mark_parse_value(const char *ext, const char *arg, uint32_t *mark, uint32_t *mask,
			    struct pf_error *err)
{
	char *end;
	uint64_t v, m = 0xffffffffu;
	if (!pf_strtoui_end(arg, &end, 0, 0xffffffffu, &v))
		return pf_err_param(
		    err, "%s: bad integer value for option \"--mark\", or out of range.\n", ext);
	if (*end == '/' && !pf_strtoui_end(end + 1, &end, 0, 0xffffffffu, &m))
		return pf_err_param(
		    err, "%s: bad integer value for option \"--mark\", or out of range.\n", ext);
	if (*end != '\0')
		return pf_err_param(
		    err, "%s: trailing garbage after value for option \"--mark\".\n", ext);
	*mark = (uint32_t)v;
	*mask = (uint32_t)m;
	return 0;
}

static int mark_parse(struct pf_parse_ctx *ctx)
{
	struct mark_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "mark", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    true))
		return -1;
	if (mark_parse_value("mark", ctx->arg, &d->mark, &d->mask, ctx->err))
		return -1;
	d->invert = ctx->invert ? 1 : 0;
	return 0;
}

static int mark_final_check(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (1ull << O_MARK)))
		return pf_err_param(ctx->err, "mark: option \"--mark\" must be specified\n");
	return 0;
}

static void mark_value(struct pf_strbuf *out, uint32_t mark, uint32_t mask)
{
	if (mask != 0xffffffffu)
		pf_sb_printf(out, " 0x%x/0x%x", mark, mask);
	else
		pf_sb_printf(out, " 0x%x", mark);
}

static void mark_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct mark_data *d = ctx->data;
	if (d->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " --mark");
	mark_value(out, d->mark, d->mask);
}

static void mark_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct mark_data *d = ctx->data;
	pf_sb_puts(out, " mark match");
	if (d->invert)
		pf_sb_puts(out, " !");
	mark_value(out, d->mark, d->mask);
}

/* mark_mt (xt_mark.c): the packet's mark as it is now (MARK targets of earlier rules
 * included), masked, compared, then inverted. */
static bool mark_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct mark_data *d = data;
	(void)state;
	return ((ev->mark & d->mask) == d->mark) ^ (d->invert != 0);
}

/* The hashed matcher's view (ext.h): the masked value when not inverted. */
static int mark_index(const void *data, const struct pf_rule *rule, struct pf_index_key *k)
{
	const struct mark_data *d = data;
	(void)rule;
	if (!d->invert) {
		k->mark = d->mark & d->mask;
		k->mark_mask = d->mask;
		if (!(d->mark & ~d->mask))
			k->flags |= PF_INDEX_EXACT;
	}
	return 0;
}

const struct pf_ext pf_match_mark = {
    .name = "mark",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct mark_data),
    .options = mark_opts,
    .parse = mark_parse,
    .final_check = mark_final_check,
    .save = mark_save,
    .print = mark_print,
    .match = mark_match,
    .index_fields = mark_index,
};
