/*
 * target_CLASSIFY.c - -j CLASSIFY --set-class MAJOR:MINOR (hexadecimal): set the packet's
 * priority (tc class); OUTPUT, FORWARD and POSTROUTING only.
 */
#include <stdio.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum { O_SET_CLASS = 0 };

/* struct xt_classify_target_info */
struct classify_data {
	uint32_t priority;
};

static const struct pf_ext_option classify_opts[] = {
    {"set-class", O_SET_CLASS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec classify_specs[] = {
    {"set-class", O_SET_CLASS, 0, 0, true},
    {.name = NULL},
};

static int classify_parse(struct pf_parse_ctx *ctx)
{
	struct classify_data *d = ctx->data;
	unsigned int major, minor;
	if (pf_xt_opt_check(ctx->err, "CLASSIFY", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	/* as iptables reads it: two hexadecimal numbers, anything may follow */
	if (sscanf(ctx->arg, "%x:%x", &major, &minor) != 2)
		return pf_err_param(ctx->err, "Bad class value \"%s\"", ctx->arg);
	d->priority = ((major << 16) & 0xffff0000u) | (minor & 0xffffu);
	return 0;
}

static int classify_final_check(struct pf_parse_ctx *ctx)
{
	return pf_xt_options_fcheck("CLASSIFY", classify_specs, ctx->seen, ctx->err);
}

static void classify_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct classify_data *d = ctx->data;
	pf_sb_printf(out, " --set-class %.4x:%.4x", d->priority >> 16, d->priority & 0xffffu);
}

static void classify_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct classify_data *d = ctx->data;
	pf_sb_printf(out, " CLASSIFY set %x:%x", d->priority >> 16, d->priority & 0xffffu);
}

/* classify_tg (xt_CLASSIFY.c): skb->priority = priority; the result's priority field. */
static unsigned classify_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct classify_data *d = data;
	(void)state;
	ev->res->priority = d->priority;
	return PF_XT_CONTINUE;
}

const struct pf_ext pf_target_CLASSIFY = {
    .name = "CLASSIFY",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct classify_data),
    .options = classify_opts,
    .hooks = (1u << PF_HOOK_LOCAL_OUT) | (1u << PF_HOOK_FORWARD) | (1u << PF_HOOK_POST_ROUTING),
    .parse = classify_parse,
    .final_check = classify_final_check,
    .save = classify_save,
    .print = classify_print,
    .target = classify_target,
};
