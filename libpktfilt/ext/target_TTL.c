/*
 * target_TTL.c - -j TTL --ttl-set N | --ttl-dec N | --ttl-inc N: rewrite the IPv4 TTL
 * (mangle table only).
 */
#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum { O_TTL_SET = 0, O_TTL_INC, O_TTL_DEC };
#define F_ANY 0x7

enum { TTL_SET = 0, TTL_INC, TTL_DEC }; /* ipt_TTL modes */

/* struct ipt_TTL_info */
struct ttl_data {
	uint8_t mode;
	uint8_t ttl;
};

static const struct pf_ext_option ttl_opts[] = {
    {"ttl-set", O_TTL_SET, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ttl-dec", O_TTL_DEC, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ttl-inc", O_TTL_INC, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec ttl_specs[] = {
    {"ttl-set", O_TTL_SET, F_ANY, 0, false},
    {"ttl-dec", O_TTL_DEC, F_ANY, 0, false},
    {"ttl-inc", O_TTL_INC, F_ANY, 0, false},
    {.name = NULL},
};

static int ttl_parse(struct pf_parse_ctx *ctx)
{
	struct ttl_data *d = ctx->data;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "TTL", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    false))
		return -1;
	if (pf_xt_parse_uint(ctx->arg, "TTL", ctx->name, ctx->id == O_TTL_SET ? 0 : 1, 255, &v,
			     ctx->err))
		return -1;
	d->ttl = (uint8_t)v;
	d->mode = ctx->id == O_TTL_SET ? TTL_SET : ctx->id == O_TTL_INC ? TTL_INC : TTL_DEC;
	return 0;
}

static int ttl_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "TTL: You must specify an action");
	return pf_xt_options_fcheck("TTL", ttl_specs, ctx->seen, ctx->err);
}

static void ttl_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct ttl_data *d = ctx->data;
	switch (d->mode) {
	case TTL_SET:
		pf_sb_puts(out, " --ttl-set");
		break;
	case TTL_DEC:
		pf_sb_puts(out, " --ttl-dec");
		break;
	case TTL_INC:
		pf_sb_puts(out, " --ttl-inc");
		break;
	}
	pf_sb_printf(out, " %u", d->ttl);
}

static void ttl_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct ttl_data *d = ctx->data;
	pf_sb_puts(out, " TTL ");
	switch (d->mode) {
	case TTL_SET:
		pf_sb_puts(out, "set to");
		break;
	case TTL_DEC:
		pf_sb_puts(out, "decrement by");
		break;
	case TTL_INC:
		pf_sb_puts(out, "increment by");
		break;
	}
	pf_sb_printf(out, " %u", d->ttl);
}

/* ttl_tg (xt_HL.c): set, or add/subtract clamped to 0..255; the IP checksum is updated
 * incrementally (csum_replace2 of the TTL/protocol word) only when the TTL changes. */
static unsigned ttl_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct ttl_data *d = data;
	struct pf_packet *p = ev->pkt;
	int ttl = p->data[8];
	(void)state;
	switch (d->mode) {
	case TTL_SET:
		ttl = d->ttl;
		break;
	case TTL_INC:
		ttl += d->ttl;
		if (ttl > 255)
			ttl = 255;
		break;
	case TTL_DEC:
		ttl -= d->ttl;
		if (ttl < 0)
			ttl = 0;
		break;
	}
	if (ttl != p->data[8]) {
		uint16_t check = pf_rd16(p->data + 10);
		pf_wr16(p->data + 10,
			pf_csum_replace2(check, (uint16_t)(p->data[8] << 8), (uint16_t)(ttl << 8)));
		p->data[8] = (uint8_t)ttl;
		p->ttl = (uint8_t)ttl;
		ev->res->packet_changed = true;
	}
	return PF_XT_CONTINUE;
}

static const char *const ttl_tables[] = {"mangle", NULL};

const struct pf_ext pf_target_TTL = {
    .name = "TTL",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct ttl_data),
    .options = ttl_opts,
    .tables = ttl_tables,
    .parse = ttl_parse,
    .final_check = ttl_final_check,
    .save = ttl_save,
    .print = ttl_print,
    .target = ttl_target,
};
