/*
 * match_ttl.c - the ttl match: the IP time-to-live equal to, not equal to, less than or
 * greater than a value (--ttl-eq, ! --ttl-eq, --ttl-lt, --ttl-gt), as libipt_ttl and the
 * kernel's ipt_ttl.
 */
#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct ipt_ttl_info. */
struct ttl_info {
	uint8_t mode;
	uint8_t ttl;
};

enum { TTL_EQ, TTL_NE, TTL_LT, TTL_GT };

enum { O_TTL_EQ, O_TTL_LT, O_TTL_GT };

static const struct pf_ext_option ttl_opts[] = {
    {"ttl-lt", O_TTL_LT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ttl-gt", O_TTL_GT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ttl-eq", O_TTL_EQ, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ttl", O_TTL_EQ, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

/* Option names by id; iptables' table order is ttl-lt, ttl-gt, ttl-eq (then the alias). */
static const char *const canon[] = {"ttl-eq", "ttl-lt", "ttl-gt"};
static const int table_order[] = {O_TTL_LT, O_TTL_GT, O_TTL_EQ};

static int ttl_parse(struct pf_parse_ctx *ctx)
{
	struct ttl_info *t = ctx->data;
	uint64_t v;
	/* Each option excludes the others and itself: each is allowed once. */
	if (pf_xt_opt_check(ctx->err, "ttl", canon[ctx->id], ctx->seen & (1u << ctx->id),
			    ctx->invert, ctx->id == O_TTL_EQ))
		return -1;
	if (pf_xt_parse_uint(ctx->arg, "ttl", canon[ctx->id], 0, 255, &v, ctx->err))
		return -1;
	t->ttl = (uint8_t)v;
	switch (ctx->id) {
	case O_TTL_EQ:
		t->mode = ctx->invert ? TTL_NE : TTL_EQ;
		break;
	case O_TTL_LT:
		t->mode = TTL_LT;
		break;
	case O_TTL_GT:
		t->mode = TTL_GT;
		break;
	}
	return 0;
}

static int ttl_final(struct pf_parse_ctx *ctx)
{
	for (int k = 0; k < 3; k++) {
		int id = table_order[k];
		if (!(ctx->seen & (1u << id)))
			continue;
		for (int j = 0; j < 3; j++)
			if (j != id && (ctx->seen & (1u << j)))
				return pf_err_param(ctx->err,
						    "ttl: option \"--%s\" cannot be used together "
						    "with \"--%s\".\n",
						    canon[id], canon[j]);
	}
	if (!ctx->seen)
		return pf_err_param(ctx->err, "TTL match: You must specify one of `--ttl-eq', "
					      "`--ttl-lt', `--ttl-gt");
	return 0;
}

static void ttl_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct ttl_info *t = ctx->data;
	switch (t->mode) {
	case TTL_EQ:
		pf_sb_puts(out, " --ttl-eq");
		break;
	case TTL_NE:
		pf_sb_puts(out, " ! --ttl-eq");
		break;
	case TTL_LT:
		pf_sb_puts(out, " --ttl-lt");
		break;
	case TTL_GT:
		pf_sb_puts(out, " --ttl-gt");
		break;
	default:
		return; /* iptables prints nothing for an unknown mode */
	}
	pf_sb_printf(out, " %u", t->ttl);
}

static void ttl_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct ttl_info *t = ctx->data;
	pf_sb_puts(out, " TTL match ");
	switch (t->mode) {
	case TTL_EQ:
		pf_sb_puts(out, "TTL ==");
		break;
	case TTL_NE:
		pf_sb_puts(out, "TTL !=");
		break;
	case TTL_LT:
		pf_sb_puts(out, "TTL <");
		break;
	case TTL_GT:
		pf_sb_puts(out, "TTL >");
		break;
	}
	pf_sb_printf(out, " %u", t->ttl);
}

/* ---- evaluation (xt_hl's ttl_mt) ---- */

static bool ttl_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct ttl_info *t = data;
	uint8_t ttl = ev->pkt->data[8];
	(void)state;
	switch (t->mode) {
	case TTL_EQ:
		return ttl == t->ttl;
	case TTL_NE:
		return ttl != t->ttl;
	case TTL_LT:
		return ttl < t->ttl;
	case TTL_GT:
		return ttl > t->ttl;
	default:
		return false;
	}
}

const struct pf_ext pf_match_ttl = {
    .name = "ttl",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct ttl_info),
    .options = ttl_opts,
    .parse = ttl_parse,
    .final_check = ttl_final,
    .save = ttl_save,
    .print = ttl_print,
    .match = ttl_match,
};
