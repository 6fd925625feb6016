/*
 * target_DNAT.c - -j DNAT --to-destination [ip[-ip]][:port[-port[/port]]] [--random]
 * [--persistent]: destination NAT (revision 2, shifted port maps), nat PREROUTING/OUTPUT.
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

static const struct pf_ext_option dnat_opts[] = {
    {"to-destination", O_TO_DEST, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"persistent", O_PERSISTENT, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec dnat_specs[] = {
    {"to-destination", O_TO_DEST, 0, 0, true},
    {"random", O_RANDOM, 0, 0, false},
    {"persistent", O_PERSISTENT, 0, 0, false},
    {.name = NULL},
};

static int dnat_parse(struct pf_parse_ctx *ctx)
{
	struct pf_nat_range *r = ctx->data;
	bool portok = pf_nat_portok(ctx->rule->ip.proto);
	if (pf_xt_opt_check(ctx->err, "DNAT", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    false))
		return -1;
	switch (ctx->id) {
	case O_TO_DEST:
		if (pf_nat_parse_to(ctx->arg, portok, false, r, ctx->err))
			return -1;
		break;
	case O_RANDOM:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM;
		break;
	case O_PERSISTENT:
		r->flags |= PF_NAT_RANGE_PERSISTENT;
		break;
	}
	return 0;
}

static int dnat_final_check(struct pf_parse_ctx *ctx)
{
	return pf_xt_options_fcheck("DNAT", dnat_specs, ctx->seen, ctx->err);
}

static void dnat_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "--to-destination ", "--", false);
}

static void dnat_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "to:", "", false);
}

/*
 * Destination NAT of the first packet of a connection (xt_nat's DNAT -> nf_nat_setup_info),
 * done in place on this packet: the address becomes the first of the range (the kernel picks
 * one by a hash of the addresses when the range has several), the port as
 * pf_packet_nat_pick_port() says (kept when inside the range, else the first port, or the
 * shifted one with a /base map). Checksums are fixed. Accepts the packet.
 */
static unsigned dnat_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct pf_nat_range *r = data;
	struct pf_packet *p = ev->pkt;
	uint32_t addr = (r->flags & PF_NAT_RANGE_MAP_IPS) ? r->min_ip : p->daddr;
	(void)state;
	int port = pf_packet_nat_pick_port(
	    p, false, (r->flags & PF_NAT_RANGE_PROTO_SPECIFIED) != 0, r->min_port, r->max_port,
	    (r->flags & PF_NAT_RANGE_PROTO_OFFSET) != 0, r->base_port,
	    (r->flags & (PF_NAT_RANGE_PROTO_RANDOM | PF_NAT_RANGE_PROTO_RANDOM_FULLY)) != 0);
	if (pf_packet_nat(p, false, addr, port))
		ev->res->packet_changed = true;
	return PF_XT_VERDICT(PF_NF_ACCEPT);
}

static const char *const dnat_tables[] = {"nat", NULL};

const struct pf_ext pf_target_DNAT = {
    .name = "DNAT",
    .kind = PF_EXT_TARGET,
    .revision = 2,
    .data_size = sizeof(struct pf_nat_range),
    .options = dnat_opts,
    .tables = dnat_tables,
    .hooks = (1u << PF_HOOK_PRE_ROUTING) | (1u << PF_HOOK_LOCAL_OUT),
    .parse = dnat_parse,
    .final_check = dnat_final_check,
    .save = dnat_save,
    .print = dnat_print,
    .needs_conntrack = true,
    .target = dnat_target,
};
