/*
 * match_udp.c - the udp match (-p udp / -m udp): source and destination port ranges, as
 * libxt_udp (guided options, XTTYPE_PORTRC) and the kernel's xt_tcpudp.
 */
#include "engine/eval.h"
#include "ext/ext.h"
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

static void save_ports(struct pf_strbuf *out, const char *name, const uint16_t p[2], bool inv)
{
	if (p[0] == 0 && p[1] == 0xFFFF)
		return;
	if (inv)
		pf_sb_puts(out, " !");
	if (p[0] != p[1])
		pf_sb_printf(out, " --%s %u:%u", name, p[0], p[1]);
	else
		pf_sb_printf(out, " --%s %u", name, p[0]);
}

static void udp_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct udp_info *u = ctx->data;
	save_ports(out, "sport", u->spts, u->invflags & UDP_INV_SRCPT);
	save_ports(out, "dport", u->dpts, u->invflags & UDP_INV_DSTPT);
}

static void list_port(struct pf_strbuf *out, uint16_t port, bool numeric)
{
	char buf[64];
	const char *name = numeric ? NULL : pf_port_to_service(port, "udp", buf, sizeof(buf));
	if (name)
		pf_sb_puts(out, name);
	else
		pf_sb_printf(out, "%u", port);
}

static void list_ports(struct pf_strbuf *out, const char *name, const uint16_t p[2], bool inv,
		       bool numeric)
{
	if (p[0] == 0 && p[1] == 0xFFFF && !inv)
		return;
	pf_sb_printf(out, " %s", name);
	if (p[0] == p[1]) {
		pf_sb_printf(out, ":%s", inv ? "!" : "");
		list_port(out, p[0], numeric);
	} else {
		pf_sb_printf(out, "s:%s", inv ? "!" : "");
		list_port(out, p[0], numeric);
		pf_sb_putc(out, ':');
		list_port(out, p[1], numeric);
	}
}

static void udp_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct udp_info *u = ctx->data;
	pf_sb_puts(out, " udp");
	list_ports(out, "spt", u->spts, u->invflags & UDP_INV_SRCPT, ctx->numeric);
	list_ports(out, "dpt", u->dpts, u->invflags & UDP_INV_DSTPT, ctx->numeric);
}

/* ---- evaluation (xt_tcpudp's udp_mt, also for udplite) ---- */

static bool port_in(uint16_t port, const uint16_t range[2], bool invert)
{
	return (port >= range[0] && port <= range[1]) != invert;
}

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
	return port_in(pf_rd16(uh), u->spts, u->invflags & UDP_INV_SRCPT) &&
	       port_in(pf_rd16(uh + 2), u->dpts, u->invflags & UDP_INV_DSTPT);
}

/* The hashed matcher's view (ext.h): the port ranges when not inverted (-p udp: the header
 * is whole on the packets the index is used for). */
static int udp_index(const void *data, const struct pf_rule *rule, struct pf_index_key *k)
{
	const struct udp_info *u = data;
	if (rule->ip.proto != 17 || (rule->ip.invflags & PF_INV_PROTO))
		return -1;
	if (!(u->invflags & UDP_INV_SRCPT)) {
		k->sport[0] = u->spts[0];
		k->sport[1] = u->spts[1];
	}
	if (!(u->invflags & UDP_INV_DSTPT)) {
		k->dport[0] = u->dpts[0];
		k->dport[1] = u->dpts[1];
	}
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
