/*
 * match_multiport.c - the multiport match (revision 1): up to 15 source, destination or
 * either-side ports and port ranges for tcp, udp, udplite, sctp and dccp, as libxt_multiport
 * and the kernel's xt_multiport.
 */
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "ext/port_range.h"
#include "language/xtutil.h"
#include "model/model.h"

#define MULTI_PORTS 15

/* The kernel's struct xt_multiport_v1. */
struct multiport_info {
	uint8_t flags;
	uint8_t count;
	uint16_t ports[MULTI_PORTS];
	uint8_t pflags[MULTI_PORTS];
	uint8_t invert;
};

#define MP_SOURCE 0
#define MP_DESTINATION 1
#define MP_EITHER 2

enum { O_SOURCE_PORTS, O_DEST_PORTS, O_SD_PORTS };

static const struct pf_ext_option multiport_opts[] = {
    {"source-ports", O_SOURCE_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"sports", O_SOURCE_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"destination-ports", O_DEST_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"dports", O_DEST_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ports", O_SD_PORTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

/* First declared name of each option id, as iptables names options in its messages. */
static const char *const canon[] = {"source-ports", "destination-ports", "ports"};

static const char *proto_to_name(uint16_t proto)
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 136:
		return "udplite";
	case 132:
		return "sctp";
	case 33:
		return "dccp";
	default:
		return NULL;
	}
}

static int parse_ports(const char *arg, struct multiport_info *m, const char *proto,
		       struct pf_error *err)
{
	char buf[1024];
	if (strlen(arg) >= sizeof(buf))
		return pf_err_param(err, "too many ports specified");
	strcpy(buf, arg);
	memset(m->pflags, 0, sizeof(m->pflags));
	char *cp = buf, *next;
	unsigned i;
	for (i = 0; cp && i < MULTI_PORTS; cp = next, i++) {
		next = strchr(cp, ',');
		if (next)
			*next++ = '\0';
		char *range = strchr(cp, ':');
		if (range) {
			if (i == MULTI_PORTS - 1)
				return pf_err_param(err, "too many ports specified");
			*range++ = '\0';
		}
		if (pf_parse_port(cp, proto, &m->ports[i], err))
			return -1;
		if (range) {
			m->pflags[i] = 1;
			i++;
			if (pf_parse_port(range, proto, &m->ports[i], err))
				return -1;
			if (m->ports[i - 1] >= m->ports[i])
				return pf_err_param(err, "invalid portrange specified");
		}
	}
	m->count = (uint8_t)i;
	if (cp)
		return pf_err_param(err, "too many ports specified");
	return 0;
}

static int multiport_parse(struct pf_parse_ctx *ctx)
{
	struct multiport_info *m = ctx->data;
	/* Every option excludes the others and itself: each is allowed once. */
	if (pf_xt_opt_check(ctx->err, "multiport", canon[ctx->id], ctx->seen & (1u << ctx->id),
			    ctx->invert, true))
		return -1;
	const struct pf_ipt_ip *ip = &ctx->rule->ip;
	const char *proto = proto_to_name(ip->proto);
	if ((ip->invflags & PF_INV_PROTO) || (!proto && ip->proto))
		return pf_err_param(ctx->err,
				    "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
	if (!proto)
		return pf_err_param(ctx->err, "multiport needs `-p tcp', `-p udp', `-p udplite', "
					      "`-p sctp' or `-p dccp'");
	if (parse_ports(ctx->arg, m, proto, ctx->err))
		return -1;
	m->flags = ctx->id == O_SOURCE_PORTS ? MP_SOURCE
		   : ctx->id == O_DEST_PORTS ? MP_DESTINATION
					     : MP_EITHER;
	if (ctx->invert)
		m->invert = 1;
	return 0;
}

static int multiport_final(struct pf_parse_ctx *ctx)
{
	/* xtables_options_fcheck: the first option (in table order) that is set names the
	 * first other set option it excludes. */
	for (int id = 0; id < 3; id++) {
		if (!(ctx->seen & (1u << id)))
			continue;
		for (int j = 0; j < 3; j++)
			if (j != id && (ctx->seen & (1u << j)))
				return pf_err_param(
				    ctx->err,
				    "multiport: option \"--%s\" cannot be used together with "
				    "\"--%s\".\n",
				    canon[id], canon[j]);
	}
	if (!ctx->seen)
		return pf_err_param(ctx->err, "multiport expection an option");
	return 0;
}

static void put_list(struct pf_strbuf *out, const struct multiport_info *m, uint16_t proto,
		     bool numeric)
{
	const char *pname = proto_to_name(proto);
	for (unsigned i = 0; i < m->count && i < MULTI_PORTS; i++) {
		if (i)
			pf_sb_putc(out, ',');
		pf_port_put(out, m->ports[i], pname, numeric);
		if (m->pflags[i] && i + 1 < MULTI_PORTS) {
			pf_sb_putc(out, ':');
			pf_port_put(out, m->ports[++i], pname, numeric);
		}
	}
}

static void multiport_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct multiport_info *m = ctx->data;
	if (m->invert)
		pf_sb_puts(out, " !");
	switch (m->flags) {
	case MP_SOURCE:
		pf_sb_puts(out, " --sports ");
		break;
	case MP_DESTINATION:
		pf_sb_puts(out, " --dports ");
		break;
	case MP_EITHER:
		pf_sb_puts(out, " --ports ");
		break;
	}
	put_list(out, m, ctx->rule->ip.proto, true);
}

static void multiport_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct multiport_info *m = ctx->data;
	pf_sb_puts(out, " multiport ");
	switch (m->flags) {
	case MP_SOURCE:
		pf_sb_puts(out, "sports ");
		break;
	case MP_DESTINATION:
		pf_sb_puts(out, "dports ");
		break;
	case MP_EITHER:
		pf_sb_puts(out, "ports ");
		break;
	default:
		pf_sb_puts(out, "ERROR ");
		break;
	}
	if (m->invert)
		pf_sb_puts(out, " !");
	put_list(out, m, ctx->rule->ip.proto, ctx->numeric);
}

/* ---- evaluation (xt_multiport's multiport_mt, revision 1) ---- */

static bool multiport_ports(const struct multiport_info *m, uint16_t src, uint16_t dst)
{
	unsigned n = m->count < MULTI_PORTS ? m->count : MULTI_PORTS;
	for (unsigned i = 0; i < n; i++) {
		uint16_t lo = m->ports[i], hi = lo;
		if (m->pflags[i]) { /* a range takes two slots */
			if (i + 1 >= MULTI_PORTS)
				break;
			hi = m->ports[++i];
		}
		bool s = src >= lo && src <= hi, d = dst >= lo && dst <= hi;
		switch (m->flags) {
		case MP_SOURCE:
			if (s)
				return !m->invert;
			break;
		case MP_DESTINATION:
			if (d)
				return !m->invert;
			break;
		case MP_EITHER:
			if (s || d)
				return !m->invert;
			break;
		}
	}
	return m->invert;
}

static bool multiport_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct pf_packet *p = ev->pkt;
	(void)state;
	if (p->fragoff != 0)
		return false;
	/* tcp, udp, udplite, sctp and dccp all start with the two ports */
	const uint8_t *pp = pf_packet_bytes(p, p->l4_off, 4);
	if (!pp) {
		ev->hotdrop = true;
		return false;
	}
	return multiport_ports(data, pf_rd16(pp), pf_rd16(pp + 2));
}

/* For the hashed matcher (ext.h): a --sports or --dports list accepts only ports between its
 * lowest and highest; a single port or range is exactly its condition. Inverted lists and
 * --ports (either side) narrow nothing, but the match is still pure: it has no state and
 * reads only the packet (it hotdrops only a cut transport header, which the index does not
 * judge). */
static int multiport_index(const void *data, const struct pf_rule *rule, struct pf_index_key *k)
{
	const struct multiport_info *m = data;
	(void)rule;
	unsigned n = m->count < MULTI_PORTS ? m->count : MULTI_PORTS;
	if (m->invert || n == 0 || (m->flags != MP_SOURCE && m->flags != MP_DESTINATION))
		return 0;
	uint16_t lo = 0xffff, hi = 0;
	unsigned entries = 0;
	for (unsigned i = 0; i < n; i++, entries++) {
		uint16_t a = m->ports[i], b = a;
		if (m->pflags[i]) {
			if (i + 1 >= MULTI_PORTS)
				break;
			b = m->ports[++i];
		}
		if (a < lo)
			lo = a;
		if (b > hi)
			hi = b;
	}
	if (lo > hi)
		return 0;
	uint16_t *range = m->flags == MP_SOURCE ? k->sport : k->dport;
	range[0] = lo;
	range[1] = hi;
	if (entries == 1)
		k->flags |= PF_INDEX_EXACT;
	return 0;
}

const struct pf_ext pf_match_multiport = {
    .name = "multiport",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct multiport_info),
    .options = multiport_opts,
    .parse = multiport_parse,
    .final_check = multiport_final,
    .save = multiport_save,
    .print = multiport_print,
    .match = multiport_match,
    .index_fields = multiport_index,
};
