/*
 * target_REJECT.c - -j REJECT [--reject-with TYPE]: drop and answer with an ICMP error or a
 * TCP reset (filter table, INPUT/FORWARD/OUTPUT; tcp-reset needs -p tcp).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "pktfilt/engine.h"
#include "language/xtutil.h"
#include "model/model.h"

enum { O_REJECT_WITH = 0 };

/* ipt_reject_with, the kernel's numbering. */
enum {
	REJ_NET_UNREACH = 0,
	REJ_HOST_UNREACH,
	REJ_PROTO_UNREACH,
	REJ_PORT_UNREACH,
	REJ_ECHOREPLY, /* no longer accepted */
	REJ_NET_PROHIB,
	REJ_HOST_PROHIB,
	REJ_TCP_RESET,
	REJ_ADMIN_PROHIB,
	REJ_COUNT,
};

struct reject_data {
	uint32_t with;
};

static const struct {
	const char *name, *alias;
} reject_types[REJ_COUNT] = {
    [REJ_NET_UNREACH] = {"icmp-net-unreachable", "net-unreach"},
    [REJ_HOST_UNREACH] = {"icmp-host-unreachable", "host-unreach"},
    [REJ_PROTO_UNREACH] = {"icmp-proto-unreachable", "proto-unreach"},
    [REJ_PORT_UNREACH] = {"icmp-port-unreachable", "port-unreach"},
    [REJ_NET_PROHIB] = {"icmp-net-prohibited", "net-prohib"},
    [REJ_HOST_PROHIB] = {"icmp-host-prohibited", "host-prohib"},
    [REJ_TCP_RESET] = {"tcp-reset", "tcp-rst"},
    [REJ_ADMIN_PROHIB] = {"icmp-admin-prohibited", "admin-prohib"},
};

static const struct pf_ext_option reject_opts[] = {
    {"reject-with", O_REJECT_WITH, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static void reject_init(void *data)
{
	struct reject_data *d = data;
	d->with = REJ_PORT_UNREACH;
}

static int reject_parse(struct pf_parse_ctx *ctx)
{
	struct reject_data *d = ctx->data;
	const char *arg = ctx->arg;
	size_t len = strlen(arg);
	if (pf_xt_opt_check(ctx->err, "REJECT", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	/* iptables takes the first type whose name or alias starts with the argument. */
	for (unsigned i = 0; i < REJ_COUNT; i++) {
		if (!reject_types[i].name)
			continue;
		if (strncasecmp(reject_types[i].name, arg, len) == 0 ||
		    strncasecmp(reject_types[i].alias, arg, len) == 0) {
			d->with = i;
			return 0;
		}
	}
	if (strncasecmp("echo-reply", arg, len) == 0 || strncasecmp("echoreply", arg, len) == 0)
		pf_err_warn(ctx->err, "--reject-with echo-reply no longer supported");
	return pf_err_param(ctx->err, "unknown reject type \"%s\"", arg);
}

static const char *reject_name(uint32_t with)
{
	if (with < REJ_COUNT && reject_types[with].name)
		return reject_types[with].name;
	return "(null)";
}

static void reject_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct reject_data *d = ctx->data;
	pf_sb_printf(out, " --reject-with %s", reject_name(d->with));
}

static void reject_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct reject_data *d = ctx->data;
	pf_sb_printf(out, " reject-with %s", reject_name(d->with));
}

static int reject_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			      unsigned hooks)
{
	const struct reject_data *d = data;
	(void)table;
	(void)hooks;
	if (d->with == REJ_ECHOREPLY)
		return EINVAL;
	if (d->with == REJ_TCP_RESET && (rule->ip.proto != 6 || (rule->ip.invflags & PF_INV_PROTO)))
		return EINVAL;
	return 0;
}

/* ---- evaluation: the reply nf_send_unreach()/icmp_send() or nf_send_reset() would send ---- */

#define REPLY_TTL 64 /* net.ipv4.ip_default_ttl: the route's hop limit by default */

/* nf_reject_verify_csum(): protocols whose 16-bit checksum covers the whole payload. */
static bool csum_covers_payload(const struct pf_packet *p)
{
	switch (p->proto) {
	case 17: {
		const uint8_t *uh = pf_packet_bytes(p, p->l4_off, 8);
		return !uh || pf_rd16(uh + 6) != 0; /* UDP without a checksum: nothing to verify */
	}
	case 47: { /* GRE: only with the C bit */
		const uint8_t *gh = pf_packet_bytes(p, p->l4_off, 2);
		return gh && (gh[0] & 0x80);
	}
	case 51:
	case 50:
	case 132:
	case 136:
	case 33:
		return false;
	default:
		return true;
	}
}

/* nf_ip_checksum() on a CHECKSUM_NONE packet: true when the transport checksum is right
 * (TCP and UDP with the pseudo-header, other protocols over the payload alone). */
static bool l4_checksum_ok(const struct pf_packet *p)
{
	size_t n = p->len - p->l4_off;
	uint32_t sum = 0;
	if (p->proto == 6 || p->proto == 17) {
		sum = pf_csum_add_bytes(sum, p->data + 12, 8);
		sum += p->proto;
		sum += (uint32_t)n;
	}
	sum = pf_csum_add_bytes(sum, p->data + p->l4_off, n);
	return pf_csum_fold(sum) == 0;
}

static bool is_bcast_or_mcast(uint32_t daddr_be)
{
	const uint8_t *a = (const uint8_t *)&daddr_be;
	return (a[0] & 0xf0) == 0xe0 || daddr_be == 0xffffffffu;
}

static void put_iphdr(uint8_t *h, uint16_t tot, uint8_t tos, uint16_t frag, uint8_t proto,
		      const uint8_t *saddr, const uint8_t *daddr)
{
	memset(h, 0, 20);
	h[0] = 0x45;
	h[1] = tos;
	pf_wr16(h + 2, tot);
	pf_wr16(h + 6, frag);
	h[8] = REPLY_TTL;
	h[9] = proto;
	memcpy(h + 12, saddr, 4);
	memcpy(h + 16, daddr, 4);
	pf_wr16(h + 10, pf_ip_header_checksum(h, 20));
}

/*
 * nf_send_reset(): no reply to a non-first fragment, to a packet without a complete TCP
 * header, to a RST, to a packet whose TCP checksum is wrong, or toward a broadcast or
 * multicast destination. The RST goes from the packet's destination to its source: IP id 0,
 * DF, TOS 0, TTL 64; it acknowledges what the packet carried (seq + SYN + FIN + payload) or,
 * when the packet had ACK set, takes its sequence number from that acknowledgment.
 */
static void send_reset(struct pf_eval *ev)
{
	const struct pf_packet *p = ev->pkt;
	if (p->fragoff != 0 || p->proto != 6)
		return;
	const uint8_t *oth = pf_packet_bytes(p, p->l4_off, 20);
	if (!oth || (oth[13] & 0x04) || !l4_checksum_ok(p) || is_bcast_or_mcast(p->daddr))
		return;
	uint8_t *r = ev->res->reply;
	uint8_t *th = r + 20;
	put_iphdr(r, 40, 0, 0x4000, 6, p->data + 16, p->data + 12);
	memset(th, 0, 20);
	memcpy(th, oth + 2, 2);
	memcpy(th + 2, oth, 2);
	if (oth[13] & 0x10) {
		memcpy(th + 4, oth + 8, 4);
		th[13] = 0x04;
	} else {
		uint32_t seq = (uint32_t)pf_rd16(oth + 4) << 16 | pf_rd16(oth + 6);
		uint32_t ack = seq + ((oth[13] >> 1) & 1) + (oth[13] & 1) + (uint32_t)p->len -
			       p->ihl_bytes - (uint32_t)((oth[12] >> 4) << 2);
		pf_wr16(th + 8, (uint16_t)(ack >> 16));
		pf_wr16(th + 10, (uint16_t)ack);
		th[13] = 0x14;
	}
	th[12] = 0x50;
	uint32_t sum = pf_csum_add_bytes(0, r + 12, 8);
	sum += 6 + 20;
	sum = pf_csum_add_bytes(sum, th, 20);
	pf_wr16(th + 16, pf_csum_fold(sum));
	ev->res->reply_len = 40;
}

/*
 * nf_send_unreach() then icmp_send(): no reply to a non-first fragment, to a packet whose
 * transport checksum is wrong (for the protocols nf_reject_verify_csum() checks), to a packet
 * for a broadcast or multicast address or not for this host at link level (pkt_type), or to an
 * ICMP error or an ICMP type above 18. The error quotes the packet from its IP header, at
 * most 576 - 20 - 8 = 548 bytes. IP header: TOS the original's TOS bits (0x1e) with the
 * internetwork-control precedence 0xc0, no DF, TTL 64, id 0 (the kernel draws the id of its
 * ICMP socket's packets from a hashed per-destination counter, which we cannot know). The
 * source is the packet's destination when it was for this host (INPUT), this host's address
 * on the input interface for a forwarded packet (meta->in_addr, else the destination), the
 * packet's own source in OUTPUT. Not reproduced: the kernel's ICMP rate limits and the echo
 * of IP options (record route, timestamps) in the reply.
 */
static void send_unreach(struct pf_eval *ev, uint8_t code)
{
	const struct pf_packet *p = ev->pkt;
	if (p->fragoff != 0)
		return;
	if (csum_covers_payload(p) && !l4_checksum_ok(p))
		return;
	if (is_bcast_or_mcast(p->daddr) || (ev->meta->pkt_type != 0))
		return;
	if (p->proto == 1) {
		const uint8_t *it = pf_packet_bytes(p, p->l4_off, 1);
		if (!it || it[0] > 18)
			return;
		switch (it[0]) {
		case 3:
		case 4:
		case 5:
		case 11:
		case 12:
			return;
		default:
			break;
		}
	}
	uint8_t saddr[4];
	if (ev->hook == PF_NF_LOCAL_IN)
		memcpy(saddr, p->data + 16, 4);
	else if (ev->hook == PF_NF_LOCAL_OUT)
		memcpy(saddr, p->data + 12, 4);
	else if (ev->meta->in_addr)
		memcpy(saddr, &ev->meta->in_addr, 4);
	else
		memcpy(saddr, p->data + 16, 4);
	size_t qlen = p->len < 548 ? p->len : 548;
	uint8_t *r = ev->res->reply;
	put_iphdr(r, (uint16_t)(28 + qlen), (uint8_t)((p->tos & 0x1e) | 0xc0), 0, 1, saddr,
		  p->data + 12);
	uint8_t *ic = r + 20;
	memset(ic, 0, 8);
	ic[0] = 3;
	ic[1] = code;
	memcpy(ic + 8, p->data, qlen);
	pf_wr16(ic + 2, pf_csum_fold(pf_csum_add_bytes(0, ic, 8 + qlen)));
	ev->res->reply_len = 28 + qlen;
}

/* reject_tg (ipt_REJECT.c): send the reply (when the kernel would), then drop. */
static unsigned reject_target(struct pf_eval *ev, const void *data, void *state)
{
	static const int8_t codes[REJ_COUNT] = {
	    [REJ_NET_UNREACH] = 0,  [REJ_HOST_UNREACH] = 1, [REJ_PROTO_UNREACH] = 2,
	    [REJ_PORT_UNREACH] = 3, [REJ_ECHOREPLY] = -1,   [REJ_NET_PROHIB] = 9,
	    [REJ_HOST_PROHIB] = 10, [REJ_TCP_RESET] = -1,   [REJ_ADMIN_PROHIB] = 13,
	};
	const struct reject_data *d = data;
	(void)state;
	ev->res->reply_len = 0;
	if (d->with == REJ_TCP_RESET)
		send_reset(ev);
	else if (d->with < REJ_COUNT && codes[d->with] >= 0)
		send_unreach(ev, (uint8_t)codes[d->with]);
	return PF_XT_VERDICT(PF_NF_DROP);
}

static const char *const reject_tables[] = {"filter", NULL};

const struct pf_ext pf_target_REJECT = {
    .name = "REJECT",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct reject_data),
    .options = reject_opts,
    .tables = reject_tables,
    .hooks = (1u << PF_HOOK_LOCAL_IN) | (1u << PF_HOOK_FORWARD) | (1u << PF_HOOK_LOCAL_OUT),
    .init = reject_init,
    .parse = reject_parse,
    .save = reject_save,
    .print = reject_print,
    .check_entry = reject_check_entry,
    .target = reject_target,
};
