/*
 * match_rpfilter.c - the rpfilter match: reverse path filtering by a route lookup of the
 * source address, as libxt_rpfilter and the kernel's xt_rpfilter (raw and mangle
 * PREROUTING only).
 */
#include <arpa/inet.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_rpfilter_info. */
struct rpfilter_info {
	uint8_t flags;
};

/* Option ids equal the bit numbers of XT_RPFILTER_LOOSE, _VALID_MARK, _ACCEPT_LOCAL and
 * _INVERT. */
enum { O_LOOSE, O_VALIDMARK, O_ACCEPT_LOCAL, O_INVERT, O_COUNT };

static const struct pf_ext_option rpfilter_opts[] = {
    {"loose", O_LOOSE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"validmark", O_VALIDMARK, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"accept-local", O_ACCEPT_LOCAL, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"invert", O_INVERT, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int rpfilter_parse(struct pf_parse_ctx *ctx)
{
	struct rpfilter_info *info = ctx->data;
	if (pf_xt_opt_check(ctx->err, "rpfilter", rpfilter_opts[ctx->id].name,
			    ctx->seen & (1ull << ctx->id), ctx->invert, false))
		return -1;
	info->flags |= (uint8_t)(1u << ctx->id);
	return 0;
}

static void put_flags(struct pf_strbuf *out, const struct rpfilter_info *info, const char *prefix)
{
	for (int i = 0; i < O_COUNT; i++)
		if (info->flags & (1u << i))
			pf_sb_printf(out, " %s%s", prefix, rpfilter_opts[i].name);
}

static void rpfilter_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_sb_puts(out, " rpfilter");
	put_flags(out, ctx->data, "");
}

static void rpfilter_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	put_flags(out, ctx->data, "--");
}

/* The route lookup of rpfilter_lookup_reverse: the host's rp_route callback, or the default
 * host: every source routed back through the interface it came in on (UNICAST), except the
 * addresses of the local table (addr_type, or 127.0.0.0/8): LOCAL or BROADCAST, not through
 * the input interface. */
static int rpfilter_route(const struct pf_eval *ev, uint32_t addr, uint32_t saddr, uint32_t mark,
			  uint8_t tos, bool *uses_dev)
{
	const struct pf_engine_config *cfg = pf_eval_config(ev);
	*uses_dev = false;
	if (cfg->rp_route)
		return cfg->rp_route(cfg->host_opaque, addr, saddr, mark, tos, ev->in, uses_dev);
	uint32_t h = ntohl(addr);
	unsigned t;
	if ((h >> 24) == 0 || h == 0xffffffffu || (h >> 28) == 14)
		t = PF_RTN_UNICAST; /* no local entry: the default route */
	else if (cfg->addr_type)
		t = cfg->addr_type(cfg->host_opaque, addr, NULL);
	else
		t = (h >> 24) == 127 ? PF_RTN_LOCAL : PF_RTN_UNICAST;
	/* A local entry (LOCAL, or BROADCAST for a subnet broadcast) is not on the input
	 * interface as far as this host knows; a unicast route is. */
	*uses_dev = t == PF_RTN_UNICAST;
	return (int)t;
}

/* rpfilter_mt (ipt_rpfilter.c): a looped-back packet (pkt_type LOOPBACK, or in on "lo")
 * passes; a source 0.0.0.0/8 to 255.255.255.255 or 224.0.0.0/24 passes; else the reverse
 * route must exist, be UNICAST (or LOCAL with --accept-local) and go out through the input
 * interface (any interface with --loose). --invert inverts the result. */
static bool rpfilter_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct rpfilter_info *info = data;
	(void)state;
	bool invert = (info->flags & (1u << O_INVERT)) != 0;
	if (ev->meta->pkt_type == PF_PKT_LOOPBACK || strcmp(ev->in, "lo") == 0)
		return true ^ invert;
	uint32_t s = ntohl(ev->pkt->saddr), d = ntohl(ev->pkt->daddr);
	if ((s >> 24) == 0 && (d == 0xffffffffu || (d >> 8) == 0xe00000))
		return true ^ invert;
	/* rpfilter_get_saddr: no source for the lookup from multicast, broadcast, 0/8. */
	uint32_t saddr = ev->pkt->daddr;
	if ((d >> 28) == 14 || d == 0xffffffffu || (d >> 24) == 0)
		saddr = 0;
	uint32_t mark = (info->flags & (1u << O_VALIDMARK)) ? ev->mark : 0;
	bool uses_dev;
	int type = rpfilter_route(ev, ev->pkt->saddr, saddr, mark, ev->pkt->tos, &uses_dev);
	bool ok;
	if (type < 0)
		ok = false;
	else if (type != PF_RTN_UNICAST &&
		 (type != PF_RTN_LOCAL || !(info->flags & (1u << O_ACCEPT_LOCAL))))
		ok = false;
	else
		ok = uses_dev || (info->flags & (1u << O_LOOSE));
	return ok ^ invert;
}

static const char *const rpfilter_tables[] = {"raw", "mangle", NULL};

const struct pf_ext pf_match_rpfilter = {
    .name = "rpfilter",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct rpfilter_info),
    .options = rpfilter_opts,
    .tables = rpfilter_tables,
    .hooks = 1u << PF_HOOK_PRE_ROUTING,
    .parse = rpfilter_parse,
    .save = rpfilter_save,
    .print = rpfilter_print,
    .match = rpfilter_match,
};
