/*
 * target_CHECKSUM.c - -j CHECKSUM --checksum-fill: compute the checksum of packets that lack
 * one (mangle table only).
 */
#include <errno.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum { O_CHECKSUM_FILL = 0 };
#define CHECKSUM_OP_FILL 0x01

/* struct xt_CHECKSUM_info */
struct checksum_data {
	uint8_t operation;
};

static const struct pf_ext_option checksum_opts[] = {
    {"checksum-fill", O_CHECKSUM_FILL, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec checksum_specs[] = {
    {"checksum-fill", O_CHECKSUM_FILL, 0, 0, true},
    {.name = NULL},
};

static int checksum_parse(struct pf_parse_ctx *ctx)
{
	struct checksum_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "CHECKSUM", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	d->operation = CHECKSUM_OP_FILL;
	return 0;
}

static int checksum_final_check(struct pf_parse_ctx *ctx)
{
	return pf_xt_options_fcheck("CHECKSUM", checksum_specs, ctx->seen, ctx->err);
}

static void checksum_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct checksum_data *d = ctx->data;
	if (d->operation & CHECKSUM_OP_FILL)
		pf_sb_puts(out, " --checksum-fill");
}

static void checksum_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct checksum_data *d = ctx->data;
	pf_sb_puts(out, " CHECKSUM");
	if (d->operation & CHECKSUM_OP_FILL)
		pf_sb_puts(out, " fill");
}

static int checksum_check_entry(const struct pf_rule *rule, const void *data, const char *table,
				unsigned hooks)
{
	const struct checksum_data *d = data;
	(void)rule;
	(void)table;
	(void)hooks;
	if (d->operation == 0 || (d->operation & ~CHECKSUM_OP_FILL))
		return EINVAL;
	return 0;
}

/*
 * checksum_tg (xt_CHECKSUM.c) calls skb_checksum_help() on CHECKSUM_PARTIAL packets: the
 * transport checksum is computed from the transport header to the end and stored, a zero
 * result written as 0xffff (CSUM_MANGLED_0). A packet judged here has no such state (it is
 * the packet as an NFQUEUE reader or the wire would see it), so the fill is done for every
 * complete, unfragmented TCP or UDP packet: the TCP/UDP checksum with the pseudo-header is
 * recomputed in place. A packet whose checksum was already right is left as it was.
 */
static unsigned checksum_target(struct pf_eval *ev, const void *data, void *state)
{
	struct pf_packet *p = ev->pkt;
	size_t off;
	(void)data;
	(void)state;
	if (p->fragoff != 0 || (p->frag_field & 0x2000) || p->l4_truncated)
		return PF_XT_CONTINUE;
	if (p->proto == 6)
		off = 16;
	else if (p->proto == 17)
		off = 6;
	else
		return PF_XT_CONTINUE;
	if (p->l4_len < off + 2)
		return PF_XT_CONTINUE;
	uint16_t c = pf_packet_l4_checksum(p, off);
	if (c == 0)
		c = 0xffff;
	uint8_t *f = p->data + p->l4_off + off;
	if (pf_rd16(f) != c) {
		pf_wr16(f, c);
		ev->res->packet_changed = true;
	}
	return PF_XT_CONTINUE;
}

static const char *const checksum_tables[] = {"mangle", NULL};

const struct pf_ext pf_target_CHECKSUM = {
    .name = "CHECKSUM",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct checksum_data),
    .options = checksum_opts,
    .tables = checksum_tables,
    .parse = checksum_parse,
    .final_check = checksum_final_check,
    .save = checksum_save,
    .print = checksum_print,
    .check_entry = checksum_check_entry,
    .target = checksum_target,
};
