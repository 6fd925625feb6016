/*
 * match_pkttype.c - "-m pkttype --pkt-type TYPE": match the link-layer packet type
 * (unicast, broadcast, multicast, otherhost) as libxt_pkttype does.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

/* PACKET_* from <linux/if_packet.h> */
#define PKT_HOST 0
#define PKT_BROADCAST 1
#define PKT_MULTICAST 2
#define PKT_OTHERHOST 3
#define PKT_LOOPBACK 5

enum { O_PKTTYPE = 0 };

struct pkttype_data {
	int32_t pkttype;
	int32_t invert;
};

static const struct pf_ext_option pkttype_opts[] = {
    {.name = "pkt-type",
     .id = O_PKTTYPE,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = NULL},
};

/* The first name of a type is the one printed; the last three are aliases. */
static const struct {
	const char *name;
	int32_t type;
} pkttypes[] = {
    {"unicast", PKT_HOST},	  {"broadcast", PKT_BROADCAST}, {"multicast", PKT_MULTICAST},
    {"otherhost", PKT_OTHERHOST}, {"bcast", PKT_BROADCAST},	{"mcast", PKT_MULTICAST},
    {"host", PKT_HOST},
};
#define NPKTTYPES (sizeof(pkttypes) / sizeof(pkttypes[0]))

static int pkttype_parse(struct pf_parse_ctx *ctx)
{
	struct pkttype_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "pkttype", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, true))
		return -1;
	for (size_t i = 0; i < NPKTTYPES; i++) {
		if (strcasecmp(ctx->arg, pkttypes[i].name) == 0) {
			d->pkttype = pkttypes[i].type;
			d->invert = ctx->invert ? 1 : 0;
			return 0;
		}
	}
	return pf_err_param(ctx->err, "Bad packet type '%s'", ctx->arg);
}

static int pkttype_final_check(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (1ull << O_PKTTYPE)))
		return pf_err_param(ctx->err, "pkttype: option \"--pkt-type\" must be specified\n");
	return 0;
}

static void pkttype_name(struct pf_strbuf *out, int32_t type)
{
	for (size_t i = 0; i < NPKTTYPES; i++) {
		if (pkttypes[i].type == type) {
			pf_sb_puts(out, pkttypes[i].name);
			return;
		}
	}
	pf_sb_printf(out, "%d", (int)type);
}

static void pkttype_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct pkttype_data *d = ctx->data;
	pf_sb_puts(out, d->invert ? " ! --pkt-type " : " --pkt-type ");
	pkttype_name(out, d->pkttype);
}

static void pkttype_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct pkttype_data *d = ctx->data;
	pf_sb_puts(out, d->invert ? " PKTTYPE != " : " PKTTYPE = ");
	pkttype_name(out, d->pkttype);
}

/* pkttype_mt (xt_pkttype.c): skb->pkt_type (meta->pkt_type), except that a looped-back
 * packet is multicast when its destination is 224.0.0.0/4 and broadcast otherwise. */
static bool pkttype_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct pkttype_data *d = data;
	(void)state;
	int32_t type = ev->meta->pkt_type;
	if (type == PKT_LOOPBACK)
		type = (ntohl(ev->pkt->daddr) >> 28) == 14 ? PKT_MULTICAST : PKT_BROADCAST;
	return (type == d->pkttype) ^ (d->invert != 0);
}

const struct pf_ext pf_match_pkttype = {
    .name = "pkttype",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct pkttype_data),
    .options = pkttype_opts,
    .parse = pkttype_parse,
    .final_check = pkttype_final_check,
    .save = pkttype_save,
    .print = pkttype_print,
    .match = pkttype_match,
};
