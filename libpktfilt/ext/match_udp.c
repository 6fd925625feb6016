/*
 * match_udp.c - the udp match (-p udp / -m udp): source and destination port ranges, as
 * libxt_udp (guided options, XTTYPE_PORTRC) and the kernel's xt_tcpudp.
 */
#include "engine/eval.h"
#include "ext/ext.h"
#include "ext/port_range.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_udp. */
struct udp_info {
	uint16_t spts[2];
	uint16_t dpts[2];
	uint8_t invflags;
};

#define UDP_INV_SRCPT 0x01
#define UDP_INV_DSTPT 0x02

enum { O_SPORT, O_DPORT };

static const struct pf_ext_option udp_opts[] = {
    {"source-port", O_SPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"sport", O_SPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"destination-port", O_DPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"dport", O_DPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static void udp_init(void *data)
{
	struct udp_info *u = data;
	u->spts[1] = u->dpts[1] = 0xFFFF;
}

static int udp_parse(struct pf_parse_ctx *ctx)
{
	struct udp_info *u = ctx->data;
	const char *canon = ctx->id == O_SPORT ? "source-port" : "destination-port";
	if (pf_xt_opt_check(ctx->err, "udp", canon, ctx->seen & (1u << ctx->id), ctx->invert, true))
		return -1;
	if (pf_xt_parse_portrc(ctx->arg, "udp", canon, ctx->id == O_SPORT ? u->spts : u->dpts,
			       ctx->err))
		return -1;
	if (ctx->invert)
		u->invflags |= ctx->id == O_SPORT ? UDP_INV_SRCPT : UDP_INV_DSTPT;
	return 0;
}

static void udp_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct udp_info *u = ctx->data;
	pf_port_range_save(out, "sport", u->spts, u->invflags & UDP_INV_SRCPT, true);
	pf_port_range_save(out, "dport", u->dpts, u->invflags & UDP_INV_DSTPT, true);
}

static void udp_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct udp_info *u = ctx->data;
	pf_sb_puts(out, " udp");
	pf_port_range_print(out, "spt", u->spts, u->invflags & UDP_INV_SRCPT, "udp", ctx->numeric);
	pf_port_range_print(out, "dpt", u->dpts, u->invflags & UDP_INV_DSTPT, "udp", ctx->numeric);
}

/* ---- evaluation (xt_tcpudp's udp_mt, also for udplite) ---- */

static bool udp_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct udp_info *u = data;
	const struct pf_packet *p = ev->pkt;
	(void)state;
	if (p->fragoff != 0) /* a non-first fragment never matches, even inverted */
		return false;
	const uint8_t *uh = pf_packet_bytes(p, p->l4_off, 8);
	if (!uh) { /* first fragment without a whole UDP header */
		ev->hotdrop = true;
		return false;
	}
	return pf_port_in(pf_rd16(uh), u->spts, u->invflags & UDP_INV_SRCPT) &&
	       pf_port_in(pf_rd16(uh + 2), u->dpts, u->invflags & UDP_INV_DSTPT);
}

/* The hashed matcher's view (ext.h): the port ranges when not inverted (-p udp: the header
 * is whole on the packets the index is used for). */
static int udp_index(const void *data, const struct pf_rule *rule, struct pf_index_key *k)
{
	const struct udp_info *u = data;
	if (rule->ip.proto != 17 || (rule->ip.invflags & PF_INV_PROTO))
		return -1;
	pf_port_range_index(k, u->spts, u->invflags & UDP_INV_SRCPT, u->dpts,
			    u->invflags & UDP_INV_DSTPT);
	if (!u->invflags && u->spts[0] <= u->spts[1] && u->dpts[0] <= u->dpts[1])
		k->flags |= PF_INDEX_EXACT;
	return 0;
}

const struct pf_ext pf_match_udp = {
    .name = "udp",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct udp_info),
    .options = udp_opts,
    .proto = 17,
    .init = udp_init,
    .parse = udp_parse,
    .save = udp_save,
    .print = udp_print,
    .match = udp_match,
    .index_fields = udp_index,
};
