/*
 * target_MASQUERADE.c - -j MASQUERADE [--to-ports port[-port]] [--random] [--random-fully]:
 * source NAT to the outgoing interface's address, nat POSTROUTING.
 */
#include "ext/nat_common.h"
#include "model/model.h"

static const struct pf_ext_option masquerade_opts[] = {
    {"to-ports", NAT_O_TO_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"random", NAT_O_RANDOM, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"random-fully", NAT_O_RANDOM_FULLY, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec masquerade_specs[] = {
    {"to-ports", NAT_O_TO_PORTS, 0, 0, false},
    {"random", NAT_O_RANDOM, 0, 0, false},
    {"random-fully", NAT_O_RANDOM_FULLY, 0, 0, false},
    {.name = NULL},
};

static int masquerade_parse(struct pf_parse_ctx *ctx)
{
	return pf_nat_target_parse(ctx, true, false);
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
	(void)state;
	if (ev->meta->out_addr == 0)
		return PF_XT_VERDICT(PF_NF_DROP);
	return pf_nat_rewrite(ev, data, true, ev->meta->out_addr, false);
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
