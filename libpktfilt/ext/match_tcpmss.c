/*
 * match_tcpmss.c - the tcpmss match: the MSS option of TCP packets in a range
 * (--mss value[:value]), as libxt_tcpmss and the kernel's xt_tcpmss (tcp only).
 */
#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_tcpmss_match_info. */
struct tcpmss_info {
	uint16_t mss_min, mss_max;
	uint8_t invert;
};

enum { O_MSS };

static const struct pf_ext_option tcpmss_opts[] = {
    {"mss", O_MSS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int tcpmss_parse(struct pf_parse_ctx *ctx)
{
	struct tcpmss_info *t = ctx->data;
	uint64_t v[2];
	unsigned n;
	if (pf_xt_opt_check(ctx->err, "tcpmss", "mss", ctx->seen & 1u, ctx->invert, true))
		return -1;
	if (pf_xt_parse_mint(ctx->arg, "tcpmss", "mss", 0xFFFF, 2, v, &n, ctx->err))
		return -1;
	t->mss_min = (uint16_t)v[0];
	t->mss_max = n == 2 ? (uint16_t)v[1] : t->mss_min;
	if (t->mss_min > t->mss_max)
		return pf_err_param(ctx->err, "tcpmss: invalid range given");
	if (ctx->invert)
		t->invert = 1;
	return 0;
}

static int tcpmss_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & 1u))
		return pf_err_param(ctx->err, "tcpmss: option \"--mss\" must be specified\n");
	return 0;
}

static void put_range(struct pf_strbuf *out, const struct tcpmss_info *t)
{
	if (t->mss_min == t->mss_max)
		pf_sb_printf(out, "%u", t->mss_min);
	else
		pf_sb_printf(out, "%u:%u", t->mss_min, t->mss_max);
}

static void tcpmss_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcpmss_info *t = ctx->data;
	pf_sb_printf(out, "%s --mss ", t->invert ? " !" : "");
	put_range(out, t);
}

static void tcpmss_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcpmss_info *t = ctx->data;
	pf_sb_printf(out, " tcpmss match %s", t->invert ? "!" : "");
	put_range(out, t);
}

/* ---- evaluation (xt_tcpmss's tcpmss_mt) ---- */

/*
 * The kernel reads the TCP header at the transport offset whatever the fragment offset (no
 * fragment test here), and drops the packet when the header or its options are cut off.
 */
static bool tcpmss_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct tcpmss_info *t = data;
	const struct pf_packet *p = ev->pkt;
	(void)state;
	const uint8_t *th = pf_packet_bytes(p, p->l4_off, 20);
	size_t doff = th ? (size_t)(th[12] >> 4) * 4 : 0;
	if (!th || doff < 20)
		goto drop;
	size_t optlen = doff - 20;
	if (optlen == 0)
		return t->invert;
	const uint8_t *op = pf_packet_bytes(p, p->l4_off + 20u, optlen);
	if (!op)
		goto drop;
	for (size_t i = 0; i < optlen;) {
		if (op[i] == 2 && optlen - i >= 4 && op[i + 1] == 4) {
			uint16_t mss = pf_rd16(op + i + 2);
			return (mss >= t->mss_min && mss <= t->mss_max) != !!t->invert;
		}
		if (op[i] < 2) {
			i++;
			continue;
		}
		/* the kernel reads the length byte just past the options here; any value
		 * ends the walk */
		if (i + 1 >= optlen)
			break;
		i += op[i + 1] ? op[i + 1] : 1;
	}
	return t->invert;
drop:
	ev->hotdrop = true;
	return false;
}

const struct pf_ext pf_match_tcpmss = {
    .name = "tcpmss",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct tcpmss_info),
    .options = tcpmss_opts,
    .proto = 6,
    .parse = tcpmss_parse,
    .final_check = tcpmss_final,
    .save = tcpmss_save,
    .print = tcpmss_print,
    .match = tcpmss_match,
};
