/*
 * target_REDIRECT.c - -j REDIRECT [--to-ports port[-port]] [--random]: redirect to the local
 * machine, nat PREROUTING/OUTPUT.
 */
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

enum {
	O_TO_DEST = 0,
	O_TO_SRC,
	O_TO_PORTS,
	O_RANDOM,
	O_RANDOM_FULLY,
	O_PERSISTENT,
};

static const struct pf_ext_option redirect_opts[] = {
    {"to-ports", O_TO_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec redirect_specs[] = {
    {"to-ports", O_TO_PORTS, 0, 0, false},
    {"random", O_RANDOM, 0, 0, false},
    {.name = NULL},
};

static int redirect_parse(struct pf_parse_ctx *ctx)
{
	struct pf_nat_range *r = ctx->data;
	bool portok = pf_nat_portok(ctx->rule->ip.proto);
	if (pf_xt_opt_check(ctx->err, "REDIRECT", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	switch (ctx->id) {
	case O_TO_PORTS:
		if (pf_nat_parse_ports(ctx->arg, portok, false, r, ctx->err))
			return -1;
		r->base_port = 0; /* revision 0 has no room for it */
		break;
	case O_RANDOM:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM;
		break;
	}
	return 0;
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
	const struct pf_nat_range *r = data;
	struct pf_packet *p = ev->pkt;
	uint32_t addr;
	(void)state;
	if (ev->hook == PF_NF_LOCAL_OUT)
		memcpy(&addr, loopback, 4);
	else if (ev->meta->in_addr)
		addr = ev->meta->in_addr;
	else
		return PF_XT_VERDICT(PF_NF_DROP);
	int port = pf_packet_nat_pick_port(
	    p, false, (r->flags & PF_NAT_RANGE_PROTO_SPECIFIED) != 0, r->min_port, r->max_port,
	    false, 0,
	    (r->flags & (PF_NAT_RANGE_PROTO_RANDOM | PF_NAT_RANGE_PROTO_RANDOM_FULLY)) != 0);
	if (pf_packet_nat(p, false, addr, port))
		ev->res->packet_changed = true;
	return PF_XT_VERDICT(PF_NF_ACCEPT);
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
