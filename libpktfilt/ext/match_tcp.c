/*
 * match_tcp.c - the tcp match (-p tcp / -m tcp): source and destination port ranges, TCP
 * flags (--tcp-flags, --syn) and a TCP option kind, as libxt_tcp and the kernel's xt_tcpudp.
 */
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "ext/port_range.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_tcp. */
struct tcp_info {
	uint16_t spts[2];
	uint16_t dpts[2];
	uint8_t option;
	uint8_t flg_mask;
	uint8_t flg_cmp;
	uint8_t invflags;
};

#define TCP_INV_SRCPT 0x01
#define TCP_INV_DSTPT 0x02
#define TCP_INV_FLAGS 0x04
#define TCP_INV_OPTION 0x08

enum { O_SPORT, O_DPORT, O_SYN, O_FLAGS, O_OPTION };

/* Two-word options (--tcp-flags MASK COMP) need the core's PF_ARG_TWO / ctx->arg2. */
#ifdef PF_EXT_ARG2
#define TCP_ARG_FLAGS PF_ARG_TWO
#define TCP_ARG2(ctx) ((ctx)->arg2)
#else
#define TCP_ARG_FLAGS PF_ARG_REQUIRED
#define TCP_ARG2(ctx) ((void)(ctx), (const char *)NULL)
#endif

static const struct pf_ext_option tcp_opts[] = {
    {"source-port", O_SPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"sport", O_SPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"destination-port", O_DPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"dport", O_DPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"syn", O_SYN, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"tcp-flags", O_FLAGS, TCP_ARG_FLAGS, PF_OPT_NOCHECK},
    {"tcp-option", O_OPTION, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct {
	const char *name;
	uint8_t flag;
} tcp_flag_names[] = {
    {"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
    {"ACK", 0x10}, {"URG", 0x20}, {"ALL", 0x3F}, {"NONE", 0},
};
#define N_FLAG_NAMES (sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]))

static void tcp_init(void *data)
{
	struct tcp_info *t = data;
	t->spts[1] = t->dpts[1] = 0xFFFF;
}

/* "SYN,ACK" (case-insensitive, empty items skipped) to a flag mask. */
static int parse_flags(const char *s, uint8_t *out, struct pf_error *err)
{
	uint8_t ret = 0;
	const char *p = s;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len > 0) {
			size_t i;
			for (i = 0; i < N_FLAG_NAMES; i++)
				if (strlen(tcp_flag_names[i].name) == len &&
				    strncasecmp(tcp_flag_names[i].name, p, len) == 0)
					break;
			if (i == N_FLAG_NAMES)
				return pf_err_param(err, "Unknown TCP flag `%.*s'", (int)len, p);
			ret |= tcp_flag_names[i].flag;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = ret;
	return 0;
}

static int tcp_parse(struct pf_parse_ctx *ctx)
{
	struct tcp_info *t = ctx->data;
	uint64_t v;
	switch (ctx->id) {
	case O_SPORT:
		if (ctx->seen & (1u << O_SPORT))
			return pf_err_param(ctx->err, "Only one `--source-port' allowed");
		if (pf_parse_port_range(ctx->arg, "tcp", t->spts, ctx->err))
			return -1;
		if (ctx->invert)
			t->invflags |= TCP_INV_SRCPT;
		return 0;
	case O_DPORT:
		if (ctx->seen & (1u << O_DPORT))
			return pf_err_param(ctx->err, "Only one `--destination-port' allowed");
		if (pf_parse_port_range(ctx->arg, "tcp", t->dpts, ctx->err))
			return -1;
		if (ctx->invert)
			t->invflags |= TCP_INV_DSTPT;
		return 0;
	case O_SYN:
	case O_FLAGS:
		if (ctx->seen & ((1u << O_SYN) | (1u << O_FLAGS)))
			return pf_err_param(ctx->err,
					    "Only one of `--syn' or `--tcp-flags'  allowed");
		if (ctx->id == O_SYN) {
			t->flg_mask = 0x17; /* FIN,SYN,RST,ACK */
			t->flg_cmp = 0x02;  /* SYN */
		} else {
			const char *cmp = TCP_ARG2(ctx);
			if (!cmp)
				return pf_err_param(ctx->err, "--tcp-flags requires two args.");
			if (parse_flags(ctx->arg, &t->flg_mask, ctx->err) ||
			    parse_flags(cmp, &t->flg_cmp, ctx->err))
				return -1;
		}
		if (ctx->invert)
			t->invflags |= TCP_INV_FLAGS;
		return 0;
	case O_OPTION:
		if (ctx->seen & (1u << O_OPTION))
			return pf_err_param(ctx->err, "Only one `--tcp-option' allowed");
		if (!pf_strtoui(ctx->arg, 1, 255, &v))
			return pf_err_param(ctx->err, "Bad TCP option \"%s\"", ctx->arg);
		t->option = (uint8_t)v;
		if (ctx->invert)
			t->invflags |= TCP_INV_OPTION;
		return 0;
	}
	return 0;
}

static void put_flags(struct pf_strbuf *out, uint8_t flags)
{
	bool any = false;
	while (flags) {
		size_t i = 0;
		while (!(flags & tcp_flag_names[i].flag))
			i++;
		pf_sb_printf(out, "%s%s", any ? "," : "", tcp_flag_names[i].name);
		any = true;
		flags &= (uint8_t)~tcp_flag_names[i].flag;
	}
	if (!any)
		pf_sb_puts(out, "NONE");
}

static void tcp_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcp_info *t = ctx->data;
	pf_port_range_save(out, "sport", t->spts, t->invflags & TCP_INV_SRCPT, true);
	pf_port_range_save(out, "dport", t->dpts, t->invflags & TCP_INV_DSTPT, true);
	if (t->option || (t->invflags & TCP_INV_OPTION))
		pf_sb_printf(out, "%s --tcp-option %u", (t->invflags & TCP_INV_OPTION) ? " !" : "",
			     t->option);
	if (t->flg_mask || (t->invflags & TCP_INV_FLAGS)) {
		pf_sb_printf(out, "%s --tcp-flags ", (t->invflags & TCP_INV_FLAGS) ? " !" : "");
		put_flags(out, t->flg_mask);
		pf_sb_putc(out, ' ');
		put_flags(out, t->flg_cmp);
	}
}

static void tcp_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcp_info *t = ctx->data;
	pf_sb_puts(out, " tcp");
	pf_port_range_print(out, "spt", t->spts, t->invflags & TCP_INV_SRCPT, "tcp", ctx->numeric);
	pf_port_range_print(out, "dpt", t->dpts, t->invflags & TCP_INV_DSTPT, "tcp", ctx->numeric);
	if (t->option || (t->invflags & TCP_INV_OPTION))
		pf_sb_printf(out, " option=%s%u", (t->invflags & TCP_INV_OPTION) ? "!" : "",
			     t->option);
	if (t->flg_mask || (t->invflags & TCP_INV_FLAGS)) {
		pf_sb_printf(out, " flags:%s", (t->invflags & TCP_INV_FLAGS) ? "!" : "");
		if (ctx->numeric) {
			pf_sb_printf(out, "0x%02X/0x%02X", t->flg_mask, t->flg_cmp);
		} else {
			put_flags(out, t->flg_mask);
			pf_sb_putc(out, '/');
			put_flags(out, t->flg_cmp);
		}
	}
}

/* ---- evaluation (xt_tcpudp's tcp_mt) ---- */

/* The option walk of tcp_find_option over the optlen bytes after the fixed header. */
static bool tcp_has_option(struct pf_eval *ev, size_t optoff, size_t optlen, uint8_t option,
			   bool invert)
{
	if (optlen == 0)
		return invert;
	const uint8_t *op = pf_packet_bytes(ev->pkt, optoff, optlen);
	if (!op) { /* options cut off by the end of the packet */
		ev->hotdrop = true;
		return false;
	}
	size_t i = 0;
	while (i < optlen) {
		if (op[i] == option)
			return !invert;
		if (op[i] < 2) { /* EOL and NOP are one byte */
			i++;
			continue;
		}
		if (i + 1 >= optlen)
			break;
		i += op[i + 1] ? op[i + 1] : 1;
	}
	return invert;
}

static bool tcp_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct tcp_info *t = data;
	const struct pf_packet *p = ev->pkt;
	(void)state;
	if (p->fragoff != 0) {
		/* A fragment at offset 8 bytes could rewrite the flags of the first one: the
		 * kernel drops it. Any other non-first fragment just does not match. */
		if (p->fragoff == 1)
			ev->hotdrop = true;
		return false;
	}
	const uint8_t *th = pf_packet_bytes(p, p->l4_off, 20);
	if (!th) { /* first fragment without a whole TCP header */
		ev->hotdrop = true;
		return false;
	}
	if (!pf_port_in(pf_rd16(th), t->spts, t->invflags & TCP_INV_SRCPT) ||
	    !pf_port_in(pf_rd16(th + 2), t->dpts, t->invflags & TCP_INV_DSTPT))
		return false;
	if (((th[13] & t->flg_mask) == t->flg_cmp) == !!(t->invflags & TCP_INV_FLAGS))
		return false;
	if (t->option) {
		size_t doff = (size_t)(th[12] >> 4) * 4;
		if (doff < 20) {
			ev->hotdrop = true;
			return false;
		}
		if (!tcp_has_option(ev, p->l4_off + 20u, doff - 20, t->option,
				    t->invflags & TCP_INV_OPTION))
			return false;
	}
	return true;
}

/* The hashed matcher's view (ext.h): the port ranges when not inverted. With -p tcp the
 * header is whole on the packets the index is used for, so the ports reject before the flags;
 * --tcp-option may hotdrop after them. Ports alone are all the match looks at. */
static int tcp_index(const void *data, const struct pf_rule *rule, struct pf_index_key *k)
{
	const struct tcp_info *t = data;
	if (rule->ip.proto != 6 || (rule->ip.invflags & PF_INV_PROTO))
		return -1;
	pf_port_range_index(k, t->spts, t->invflags & TCP_INV_SRCPT, t->dpts,
			    t->invflags & TCP_INV_DSTPT);
	if (t->option)
		k->flags |= PF_INDEX_IMPURE;
	else if (!t->invflags && !t->flg_mask && t->spts[0] <= t->spts[1] &&
		 t->dpts[0] <= t->dpts[1])
		k->flags |= PF_INDEX_EXACT; /* ports only */
	return 0;
}

const struct pf_ext pf_match_tcp = {
    .name = "tcp",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct tcp_info),
    .options = tcp_opts,
    .proto = 6,
    .init = tcp_init,
    .parse = tcp_parse,
    .save = tcp_save,
    .print = tcp_print,
    .match = tcp_match,
    .index_fields = tcp_index,
};
