/*
 * target_TCPMSS.c - -j TCPMSS --set-mss N | --clamp-mss-to-pmtu: rewrite the MSS option of
 * TCP SYN packets. The kernel wants -p tcp and a tcp match on SYN (--syn or --tcp-flags
 * with SYN set, not inverted); clamping only in FORWARD, OUTPUT and POSTROUTING.
 */
#include <errno.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

enum { O_SET_MSS = 0, O_CLAMP_MSS };

#define TCPMSS_CLAMP_PMTU 0xffff

/* struct xt_tcpmss_info */
struct tcpmss_data {
	uint16_t mss;
};

static const struct pf_ext_option tcpmss_opts[] = {
    {"set-mss", O_SET_MSS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"clamp-mss-to-pmtu", O_CLAMP_MSS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int tcpmss_parse(struct pf_parse_ctx *ctx)
{
	struct tcpmss_data *d = ctx->data;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "TCPMSS", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	if (ctx->id == O_CLAMP_MSS) {
		d->mss = TCPMSS_CLAMP_PMTU;
		return 0;
	}
	/* at most 65535 less the IPv4 header */
	if (pf_xt_parse_uint(ctx->arg, "TCPMSS", ctx->name, 0, 65535 - 20, &v, ctx->err))
		return -1;
	d->mss = (uint16_t)v;
	return 0;
}

static int tcpmss_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "TCPMSS target: At least one parameter is required");
	return 0;
}

static void tcpmss_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcpmss_data *d = ctx->data;
	if (d->mss == TCPMSS_CLAMP_PMTU)
		pf_sb_puts(out, " --clamp-mss-to-pmtu");
	else
		pf_sb_printf(out, " --set-mss %u", d->mss);
}

static void tcpmss_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcpmss_data *d = ctx->data;
	if (d->mss == TCPMSS_CLAMP_PMTU)
		pf_sb_puts(out, " TCPMSS clamp to PMTU");
	else
		pf_sb_printf(out, " TCPMSS set %u", d->mss);
}

/* Whether a tcp match instance compares SYN set (the kernel's find_syn_match). The tcp
 * match's data belongs to its own file: read its canonical text instead,
 * " [! ]--tcp-flags MASK CMP". */
static bool tcp_match_on_syn(const struct pf_rule *rule, const struct pf_ext_inst *m)
{
	struct pf_print_ctx pc = {m->data, rule, true, false};
	struct pf_strbuf sb;
	bool syn = false;
	if (!m->ext->save)
		return false;
	pf_sb_init(&sb);
	m->ext->save(&pc, &sb);
	const char *s = pf_sb_str(&sb);
	const char *f = strstr(s, "--tcp-flags ");
	if (f && !(f - s >= 2 && f[-2] == '!' && f[-1] == ' ')) {
		const char *cmp = strchr(f + strlen("--tcp-flags "), ' ');
		if (cmp) {
			cmp++;
			size_t len = strcspn(cmp, " ");
			const char *p = cmp;
			while (p < cmp + len) {
				size_t tl = strcspn(p, ", ");
				if ((tl == 3 && strncmp(p, "SYN", 3) == 0) ||
				    (tl == 3 && strncmp(p, "ALL", 3) == 0))
					syn = true;
				p += tl;
				if (*p == ',')
					p++;
			}
		}
	}
	pf_sb_free(&sb);
	return syn;
}

static int tcpmss_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			      unsigned hooks)
{
	const struct tcpmss_data *d = data;
	(void)table;
	if (d->mss == TCPMSS_CLAMP_PMTU &&
	    (hooks &
	     ~((1u << PF_HOOK_FORWARD) | (1u << PF_HOOK_LOCAL_OUT) | (1u << PF_HOOK_POST_ROUTING))))
		return EINVAL;
	for (unsigned i = 0; i < rule->nmatches; i++)
		if (strcmp(rule->matches[i].ext->name, "tcp") == 0 &&
		    tcp_match_on_syn(rule, &rule->matches[i]))
			return 0;
	return EINVAL;
}

/* Length of the TCP option at i, as xt_TCPMSS's optlen(). */
static unsigned tcp_optlen(const uint8_t *opt, unsigned i)
{
	if (opt[i] <= 1 || opt[i + 1] == 0) /* EOL, NOP, or a zero length */
		return 1;
	return opt[i + 1];
}

/*
 * tcpmss_tg4 / tcpmss_mangle_packet (xt_TCPMSS.c). The rule's tcp match guarantees a SYN.
 * Non-first fragments are left alone; a packet too short for its TCP header is dropped.
 * An MSS option larger than the new value is lowered (never raised); without one, and when
 * the SYN carries no data and the header has room, a 4-byte MSS option (at most 536, the
 * RFC 1122 default) is inserted after the fixed header, growing the packet: tot_len, doff
 * and both checksums are updated incrementally, as the kernel does. Growing needs 4 more
 * bytes of buffer (ev->buflen): without them the packet is left unchanged (the kernel
 * reallocates instead). --clamp-mss-to-pmtu uses meta->out_mtu (the smaller of the MTUs of
 * the routes toward the destination and back), 1500 when unknown, less 40; an MTU of 40 or
 * less drops the packet as the kernel does.
 */
static unsigned tcpmss_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct tcpmss_data *d = data;
	struct pf_packet *p = ev->pkt;
	unsigned newmss;
	(void)state;
	if (p->fragoff != 0)
		return PF_XT_CONTINUE;
	size_t len = p->len - p->ihl_bytes;
	if (len < 20)
		return PF_XT_VERDICT(PF_NF_DROP);
	uint8_t *th = p->data + p->ihl_bytes;
	unsigned hlen = (unsigned)(th[12] >> 4) * 4;
	if (len < hlen || hlen < 20)
		return PF_XT_VERDICT(PF_NF_DROP);
	if (d->mss == TCPMSS_CLAMP_PMTU) {
		unsigned mtu = ev->meta->out_mtu ? ev->meta->out_mtu : 1500;
		if (mtu <= 40)
			return PF_XT_VERDICT(PF_NF_DROP);
		newmss = mtu - 40;
	} else {
		newmss = d->mss;
	}
	for (unsigned i = 20; i + 4 <= hlen; i += tcp_optlen(th, i)) {
		if (th[i] == 2 && th[i + 1] == 4) {
			unsigned oldmss = pf_rd16(th + i + 2);
			if (oldmss <= newmss)
				return PF_XT_CONTINUE;
			pf_wr16(th + i + 2, (uint16_t)newmss);
			pf_wr16(th + 16, pf_csum_replace2(pf_rd16(th + 16), (uint16_t)oldmss,
							  (uint16_t)newmss));
			ev->res->packet_changed = true;
			return PF_XT_CONTINUE;
		}
	}
	if (len > hlen || hlen >= 60)
		return PF_XT_CONTINUE;
	if (p->len + 4 > ev->buflen || p->len + 4 > 0xffff)
		return PF_XT_CONTINUE;
	if (newmss > 536)
		newmss = 536;
	/* No data after the header (len == hlen): the option goes at the end. */
	uint8_t *opt = th + 20;
	memmove(opt + 4, opt, len - 20);
	uint16_t check = pf_rd16(th + 16);
	check = pf_csum_replace2(check, (uint16_t)len, (uint16_t)(len + 4)); /* pseudo-header */
	opt[0] = 2;
	opt[1] = 4;
	pf_wr16(opt + 2, (uint16_t)newmss);
	check = pf_csum_replace4(check, 0, (uint32_t)pf_rd16(opt) << 16 | pf_rd16(opt + 2));
	uint16_t oldw = pf_rd16(th + 12);
	th[12] = (uint8_t)(th[12] + (1 << 4));
	check = pf_csum_replace2(check, oldw, pf_rd16(th + 12));
	pf_wr16(th + 16, check);
	/* IP: tot_len grows by 4, checksum updated incrementally. */
	uint16_t tot = pf_rd16(p->data + 2);
	pf_wr16(p->data + 10, pf_csum_replace2(pf_rd16(p->data + 10), tot, (uint16_t)(tot + 4)));
	pf_wr16(p->data + 2, (uint16_t)(tot + 4));
	p->tot_len = (uint16_t)(tot + 4);
	p->len += 4;
	pf_packet_reparse_l4(p);
	ev->res->packet_changed = true;
	return PF_XT_CONTINUE;
}

const struct pf_ext pf_target_TCPMSS = {
    .name = "TCPMSS",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct tcpmss_data),
    .options = tcpmss_opts,
    .proto = 6,
    .parse = tcpmss_parse,
    .final_check = tcpmss_final_check,
    .save = tcpmss_save,
    .print = tcpmss_print,
    .check_entry = tcpmss_check_entry,
    .target = tcpmss_target,
};
