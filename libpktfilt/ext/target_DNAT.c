/*
 * target_DNAT.c - -j DNAT --to-destination [ip[-ip]][:port[-port[/port]]] [--random]
 * [--persistent]: destination NAT (revision 2, shifted port maps), nat PREROUTING/OUTPUT.
 */
#include "ext/nat_common.h"
#include "model/model.h"

static const struct pf_ext_option dnat_opts[] = {
    {"to-destination", NAT_O_TO_DEST, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", NAT_O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"persistent", NAT_O_PERSISTENT, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec dnat_specs[] = {
    {"to-destination", NAT_O_TO_DEST, 0, 0, true},
    {"random", NAT_O_RANDOM, 0, 0, false},
    {"persistent", NAT_O_PERSISTENT, 0, 0, false},
    {.name = NULL},
};

static int dnat_parse(struct pf_parse_ctx *ctx)
{
	return pf_nat_target_parse(ctx, false, true);
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
	return pf_nat_rewrite(ev, r, false, addr, true);
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
