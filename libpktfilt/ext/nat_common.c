/*
 * nat_common.c - the option parse and the packet rewrite shared by the NAT targets (see
 * nat_common.h).
 */
#include "ext/nat_common.h"

#include "model/model.h"

int pf_nat_target_parse(struct pf_parse_ctx *ctx, bool base0, bool keep_base)
{
	struct pf_nat_range *r = ctx->data;
	bool portok = pf_nat_portok(ctx->rule->ip.proto);
	if (pf_xt_opt_check(ctx->err, ctx->ext->name, ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	switch (ctx->id) {
	case NAT_O_TO_DEST:
	case NAT_O_TO_SRC:
	case NAT_O_TO_PORTS:
		if (ctx->id == NAT_O_TO_PORTS
			? pf_nat_parse_ports(ctx->arg, portok, base0, r, ctx->err)
			: pf_nat_parse_to(ctx->arg, portok, base0, r, ctx->err))
			return -1;
		if (!keep_base)
			r->base_port = 0; /* revision 0 has no room for it */
		break;
	case NAT_O_RANDOM:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM;
		break;
	case NAT_O_RANDOM_FULLY:
		r->flags |= PF_NAT_RANGE_PROTO_RANDOM_FULLY;
		break;
	case NAT_O_PERSISTENT:
		r->flags |= PF_NAT_RANGE_PERSISTENT;
		break;
	}
	return 0;
}

unsigned pf_nat_rewrite(struct pf_eval *ev, const struct pf_nat_range *r, bool src, uint32_t addr,
			bool shifted)
{
	int port = pf_packet_nat_pick_port(
	    ev->pkt, src, (r->flags & PF_NAT_RANGE_PROTO_SPECIFIED) != 0, r->min_port, r->max_port,
	    shifted && (r->flags & PF_NAT_RANGE_PROTO_OFFSET) != 0, shifted ? r->base_port : 0,
	    (r->flags & (PF_NAT_RANGE_PROTO_RANDOM | PF_NAT_RANGE_PROTO_RANDOM_FULLY)) != 0);
	if (pf_packet_nat(ev->pkt, src, addr, port))
		ev->res->packet_changed = true;
	return PF_XT_VERDICT(PF_NF_ACCEPT);
}
