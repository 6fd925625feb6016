/*
 * target_SNAT.c - -j SNAT --to-source [ip[-ip]][:port[-port]] [--random] [--random-fully]
 * [--persistent]: source NAT (revision 0), nat POSTROUTING/INPUT.
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

static const struct pf_ext_option snat_opts[] = {
    {"to-source", O_TO_SRC, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"random-fully", O_RANDOM_FULLY, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"persistent", O_PERSISTENT, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec snat_specs[] = {
    {"to-source", O_TO_SRC, 0, 0, true},
    {"random", O_RANDOM, 0, 0, false},
    {"random-fully", O_RANDOM_FULLY, 0, 0, false},
    {"persistent", O_PERSISTENT, 0, 0, false},
    {.name = NULL},
};

static int snat_parse(struct pf_parse_ctx *ctx)
{
	struct pf_nat_range *r = ctx->data;
	bool portok = pf_nat_portok(ctx->rule->ip.proto);
	if (pf_xt_opt_check(ctx->err, "SNAT", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    false))
		return -1;
	switch (ctx->id) {
	case O_TO_SRC:
		if (pf_nat_parse_to(ctx->arg, portok, true, r, ctx->err))
			return -1;
		r->base_port = 0; /* revision 0 has no room for it */
		break;
	case O_RANDOM:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM;
		break;
	case O_RANDOM_FULLY:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM_FULLY;
		break;
	case O_PERSISTENT:
		r->flags |= PF_NAT_RANGE_PERSISTENT;
		break;
	}
	return 0;
}

static int snat_final_check(struct pf_parse_ctx *ctx)
{
	return pf_xt_options_fcheck("SNAT", snat_specs, ctx->seen, ctx->err);
}

static void snat_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "--to-source ", "--", false);
}

static void snat_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_nat_print(out, ctx->data, "to:", "", false);
}

static uint32_t host_order(uint32_t be)
{
	const uint8_t *b = (const uint8_t *)&be;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/*
 * Source NAT of the first packet of a connection (xt_nat's SNAT -> nf_nat_setup_info), done
 * in place on this packet: a source already inside the range (address and port) is kept, as
 * the kernel keeps an original tuple that fits; otherwise the address becomes the first of
 * the range when the packet's is outside it (the kernel hashes over the range) and the port
 * is chosen by pf_packet_nat_pick_port(). Checksums are fixed. Accepts the packet.
 */
static unsigned snat_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct pf_nat_range *r = data;
	struct pf_packet *p = ev->pkt;
	uint32_t addr = p->saddr;
	(void)state;
	if ((r->flags & PF_NAT_RANGE_MAP_IPS) && (host_order(p->saddr) < host_order(r->min_ip) ||
						  host_order(p->saddr) > host_order(r->max_ip)))
		addr = r->min_ip;
	int port = pf_packet_nat_pick_port(
	    p, true, (r->flags & PF_NAT_RANGE_PROTO_SPECIFIED) != 0, r->min_port, r->max_port,
	    (r->flags & PF_NAT_RANGE_PROTO_OFFSET) != 0, r->base_port,
	    (r->flags & (PF_NAT_RANGE_PROTO_RANDOM | PF_NAT_RANGE_PROTO_RANDOM_FULLY)) != 0);
	if (pf_packet_nat(p, true, addr, port))
		ev->res->packet_changed = true;
	return PF_XT_VERDICT(PF_NF_ACCEPT);
}

static const char *const snat_tables[] = {"nat", NULL};

const struct pf_ext pf_target_SNAT = {
    .name = "SNAT",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct pf_nat_range),
    .options = snat_opts,
    .tables = snat_tables,
    .hooks = (1u << PF_HOOK_POST_ROUTING) | (1u << PF_HOOK_LOCAL_IN),
    .parse = snat_parse,
    .final_check = snat_final_check,
    .save = snat_save,
    .print = snat_print,
    .needs_conntrack = true,
    .target = snat_target,
};
