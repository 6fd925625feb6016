/*
 * target_MASQUERADE.c - -j MASQUERADE [--to-ports port[-port]] [--random] [--random-fully]:
 * source NAT to the outgoing interface's address, nat POSTROUTING.
 */
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

static const struct pf_ext_option masquerade_opts[] = {
    {"to-ports", O_TO_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"random-fully", O_RANDOM_FULLY, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec masquerade_specs[] = {
    {"to-ports", O_TO_PORTS, 0, 0, false},
    {"random", O_RANDOM, 0, 0, false},
    {"random-fully", O_RANDOM_FULLY, 0, 0, false},
    {.name = NULL},
};

static int masquerade_parse(struct pf_parse_ctx *ctx)
{
	struct pf_nat_range *r = ctx->data;
	bool portok = pf_nat_portok(ctx->rule->ip.proto);
	if (pf_xt_opt_check(ctx->err, "MASQUERADE", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	switch (ctx->id) {
	case O_TO_PORTS:
		if (pf_nat_parse_ports(ctx->arg, portok, true, r, ctx->err))
			return -1;
		r->base_port = 0; /* revision 0 has no room for it */
		break;
	case O_RANDOM:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM;
		break;
	case O_RANDOM_FULLY:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM_FULLY;
		break;
	}
	return 0;
}

static int masquerade_final_check(struct pf_parse_ctx *ctx)
{
	return pf_xt_options_fcheck("MASQUERADE", masquerade_specs, ctx->seen, ctx->err);
}

static void masquerade_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "--to-ports ", "--", true);
}

static void masquerade_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "masq ports: ", "", true);
}

/*
 * nf_nat_masquerade_ipv4: source NAT to this host's address on the output interface
 * (meta->out_addr; without one the kernel drops the packet, and so do we), ports as for
 * SNAT (kept, or chosen in --to-ports by pf_packet_nat_pick_port()). In place, checksums
 * fixed. Accepts the packet.
 */
static unsigned masquerade_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct pf_nat_range *r = data;
	struct pf_packet *p = ev->pkt;
	(void)state;
	if (ev->meta->out_addr == 0)
		return PF_XT_VERDICT(PF_NF_DROP);
	int port = pf_packet_nat_pick_port(
	    p, true, (r->flags & PF_NAT_RANGE_PROTO_SPECIFIED) != 0, r->min_port, r->max_port,
	    false, 0,
	    (r->flags & (PF_NAT_RANGE_PROTO_RANDOM | PF_NAT_RANGE_PROTO_RANDOM_FULLY)) != 0);
	if (pf_packet_nat(p, true, ev->meta->out_addr, port))
		ev->res->packet_changed = true;
	return PF_XT_VERDICT(PF_NF_ACCEPT);
}

static const char *const masquerade_tables[] = {"nat", NULL};

const struct pf_ext pf_target_MASQUERADE = {
    .name = "MASQUERADE",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct pf_nat_range),
    .options = masquerade_opts,
    .tables = masquerade_tables,
    .hooks = (1u << PF_HOOK_POST_ROUTING),
    .parse = masquerade_parse,
    .final_check = masquerade_final_check,
    .save = masquerade_save,
    .print = masquerade_print,
    .needs_conntrack = true,
    .target = masquerade_target,
};
