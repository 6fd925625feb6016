/*
 * target_SNAT.c - -j SNAT --to-source [ip[-ip]][:port[-port]] [--random] [--random-fully]
 * [--persistent]: source NAT (revision 0), nat POSTROUTING/INPUT.
 */
#include "ext/nat_common.h"
#include "model/model.h"

static const struct pf_ext_option snat_opts[] = {
    {"to-source", NAT_O_TO_SRC, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", NAT_O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"random-fully", NAT_O_RANDOM_FULLY, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"persistent", NAT_O_PERSISTENT, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec snat_specs[] = {
    {"to-source", NAT_O_TO_SRC, 0, 0, true},
    {"random", NAT_O_RANDOM, 0, 0, false},
    {"random-fully", NAT_O_RANDOM_FULLY, 0, 0, false},
    {"persistent", NAT_O_PERSISTENT, 0, 0, false},
    {.name = NULL},
};

static int snat_parse(struct pf_parse_ctx *ctx)
{
	return pf_nat_target_parse(ctx, true, false);
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
	return pf_nat_rewrite(ev, r, true, addr, true);
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
