/*
 * target_REDIRECT.c - -j REDIRECT [--to-ports port[-port]] [--random]: redirect to the local
 * machine, nat PREROUTING/OUTPUT.
 */
#include <string.h>

#include "ext/nat_common.h"
#include "model/model.h"

static const struct pf_ext_option redirect_opts[] = {
    {"to-ports", NAT_O_TO_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", NAT_O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec redirect_specs[] = {
    {"to-ports", NAT_O_TO_PORTS, 0, 0, false},
    {"random", NAT_O_RANDOM, 0, 0, false},
    {.name = NULL},
};

static int redirect_parse(struct pf_parse_ctx *ctx)
{
	return pf_nat_target_parse(ctx, false, false);
}

static int redirect_final_check(struct pf_parse_ctx *ctx)
{
	const struct pf_nat_range *r = ctx->data;
	if (r->flags & PF_NAT_RANGE_PROTO_OFFSET)
		return pf_err_param(ctx->err,
				    "Shifted portmap ranges not supported with this kernel");
	return pf_xt_options_fcheck("REDIRECT", redirect_specs, ctx->seen, ctx->err);
}

static void redirect_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "--to-ports ", "--", true);
}

static void redirect_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "redir ports ", "", true);
}

/*
 * nf_nat_redirect_ipv4: destination NAT to this host: 127.0.0.1 in OUTPUT, else the input
 * interface's address (meta->in_addr; without one the kernel drops the packet, and so do we);
 * the port from --to-ports as for DNAT, else kept. In place, checksums fixed. Accepts.
 */
static unsigned redirect_target(struct pf_eval *ev, const void *data, void *state)
{
	static const uint8_t loopback[4] = {127, 0, 0, 1};
	uint32_t addr;
	(void)state;
	if (ev->hook == PF_NF_LOCAL_OUT)
		memcpy(&addr, loopback, 4);
	else if (ev->meta->in_addr)
		addr = ev->meta->in_addr;
	else
		return PF_XT_VERDICT(PF_NF_DROP);
	return pf_nat_rewrite(ev, data, false, addr, false);
}

static const char *const redirect_tables[] = {"nat", NULL};

const struct pf_ext pf_target_REDIRECT = {
    .name = "REDIRECT",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct pf_nat_range),
    .options = redirect_opts,
    .tables = redirect_tables,
    .hooks = (1u << PF_HOOK_PRE_ROUTING) | (1u << PF_HOOK_LOCAL_OUT),
    .parse = redirect_parse,
    .final_check = redirect_final_check,
    .save = redirect_save,
    .print = redirect_print,
    .needs_conntrack = true,
    .target = redirect_target,
};
