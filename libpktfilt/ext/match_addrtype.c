/*
 * match_addrtype.c - "-m addrtype": match the routing type of the source and/or destination
 * address (LOCAL, UNICAST, BROADCAST, ...), optionally limited to the packet's incoming or
 * outgoing interface (libxt_addrtype, revision 1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

/* xt_addrtype_info_v1.flags */
#define AT_INVERT_SOURCE 0x1
#define AT_INVERT_DEST 0x2
#define AT_LIMIT_IFACE_IN 0x4
#define AT_LIMIT_IFACE_OUT 0x8

enum { O_SRC_TYPE = 0, O_DST_TYPE, O_LIMIT_IFACE_IN, O_LIMIT_IFACE_OUT };

struct addrtype_data {
	uint16_t source, dest; /* bit (1 << RTN_*) per type */
	uint32_t flags;
};

static const struct pf_ext_option addrtype_opts[] = {
    {.name = "src-type",
     .id = O_SRC_TYPE,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "dst-type",
     .id = O_DST_TYPE,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "limit-iface-in", .id = O_LIMIT_IFACE_IN, .arg = PF_ARG_NONE, .flags = PF_OPT_NOCHECK},
    {.name = "limit-iface-out",
     .id = O_LIMIT_IFACE_OUT,
     .arg = PF_ARG_NONE,
     .flags = PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec addrtype_specs[] = {
    {.name = "src-type", .id = O_SRC_TYPE},
    {.name = "dst-type", .id = O_DST_TYPE},
    {.name = "limit-iface-in", .id = O_LIMIT_IFACE_IN, .excl = 1ull << O_LIMIT_IFACE_OUT},
    {.name = "limit-iface-out", .id = O_LIMIT_IFACE_OUT, .excl = 1ull << O_LIMIT_IFACE_IN},
    {.name = NULL},
};

/* Indexed by RTN_* (the bit number). */
static const char *const rtn_names[] = {
    "UNSPEC",	 "UNICAST",	"LOCAL",    "BROADCAST", "ANYCAST", "MULTICAST",
    "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW",	 "NAT",	    "XRESOLVE",
};
#define NRTN (sizeof(rtn_names) / sizeof(rtn_names[0]))

/* One element, abbreviations allowed: the first type it abbreviates. */
static bool addrtype_lookup(const char *s, size_t len, uint16_t *mask)
{
	for (size_t i = 0; i < NRTN; i++) {
		if (strncasecmp(s, rtn_names[i], len) == 0) {
			*mask |= (uint16_t)(1u << i);
			return true;
		}
	}
	return false;
}

static int addrtype_parse_types(const char *arg, uint16_t *mask, struct pf_error *err)
{
	const char *comma;
	while ((comma = strchr(arg, ',')) != NULL) {
		if (comma == arg || !addrtype_lookup(arg, (size_t)(comma - arg), mask))
			return pf_err_param(err, "addrtype: bad type `%s'", arg);
		arg = comma + 1;
	}
	if (*arg == '\0' || !addrtype_lookup(arg, strlen(arg), mask))
		return pf_err_param(err, "addrtype: bad type \"%s\"", arg);
	return 0;
}

static int addrtype_parse(struct pf_parse_ctx *ctx)
{
	struct addrtype_data *d = ctx->data;
	bool invertible = ctx->id == O_SRC_TYPE || ctx->id == O_DST_TYPE;
	if (pf_xt_opt_check(ctx->err, "addrtype", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, invertible))
		return -1;
	switch (ctx->id) {
	case O_SRC_TYPE:
		if (addrtype_parse_types(ctx->arg, &d->source, ctx->err))
			return -1;
		if (ctx->invert)
			d->flags |= AT_INVERT_SOURCE;
		break;
	case O_DST_TYPE:
		if (addrtype_parse_types(ctx->arg, &d->dest, ctx->err))
			return -1;
		if (ctx->invert)
			d->flags |= AT_INVERT_DEST;
		break;
	case O_LIMIT_IFACE_IN:
		d->flags |= AT_LIMIT_IFACE_IN;
		break;
	case O_LIMIT_IFACE_OUT:
		d->flags |= AT_LIMIT_IFACE_OUT;
		break;
	}
	return 0;
}

static int addrtype_final_check(struct pf_parse_ctx *ctx)
{
	/* libxtables runs the extension's own check first, then the option table's. */
	if (!(ctx->seen & ((1ull << O_SRC_TYPE) | (1ull << O_DST_TYPE))))
		return pf_err_param(ctx->err,
				    "addrtype: you must specify --src-type or --dst-type");
	return pf_xt_options_fcheck("addrtype", addrtype_specs, ctx->seen, ctx->err);
}

static void addrtype_types(struct pf_strbuf *out, uint16_t mask)
{
	const char *sep = "";
	for (size_t i = 0; i < NRTN; i++) {
		if (mask & (1u << i)) {
			pf_sb_printf(out, "%s%s", sep, rtn_names[i]);
			sep = ",";
		}
	}
}

static void addrtype_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct addrtype_data *d = ctx->data;
	if (d->source) {
		if (d->flags & AT_INVERT_SOURCE)
			pf_sb_puts(out, " !");
		pf_sb_puts(out, " --src-type ");
		addrtype_types(out, d->source);
	}
	if (d->dest) {
		if (d->flags & AT_INVERT_DEST)
			pf_sb_puts(out, " !");
		pf_sb_puts(out, " --dst-type ");
		addrtype_types(out, d->dest);
	}
	if (d->flags & AT_LIMIT_IFACE_IN)
		pf_sb_puts(out, " --limit-iface-in");
	if (d->flags & AT_LIMIT_IFACE_OUT)
		pf_sb_puts(out, " --limit-iface-out");
}

static void addrtype_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct addrtype_data *d = ctx->data;
	pf_sb_puts(out, " ADDRTYPE match");
	if (d->source) {
		pf_sb_puts(out, " src-type ");
		if (d->flags & AT_INVERT_SOURCE)
			pf_sb_puts(out, "!");
		addrtype_types(out, d->source);
	}
	if (d->dest) {
		pf_sb_puts(out, " dst-type ");
		if (d->flags & AT_INVERT_DEST)
			pf_sb_puts(out, "!");
		addrtype_types(out, d->dest);
	}
	if (d->flags & AT_LIMIT_IFACE_IN)
		pf_sb_puts(out, " limit-in");
	if (d->flags & AT_LIMIT_IFACE_OUT)
		pf_sb_puts(out, " limit-out");
}

/* xt_addrtype's checkentry for revision 1. */
static int addrtype_check_entry(const struct pf_rule *rule, const void *data, const char *table,
				unsigned hooks)
{
	const struct addrtype_data *d = data;
	(void)rule;
	(void)table;
	if ((d->flags & AT_LIMIT_IFACE_IN) && (d->flags & AT_LIMIT_IFACE_OUT))
		return EINVAL;
	if ((hooks & ((1u << PF_HOOK_PRE_ROUTING) | (1u << PF_HOOK_LOCAL_IN))) &&
	    (d->flags & AT_LIMIT_IFACE_OUT))
		return EINVAL;
	if ((hooks & ((1u << PF_HOOK_POST_ROUTING) | (1u << PF_HOOK_LOCAL_OUT))) &&
	    (d->flags & AT_LIMIT_IFACE_IN))
		return EINVAL;
	return 0;
}

/* inet_dev_addr_type: 0.0.0.0/8 and 255.255.255.255 are BROADCAST, 224.0.0.0/4 MULTICAST,
 * the rest what the local routing table says (the host's addr_type callback; by default
 * 127.0.0.0/8 is LOCAL on "lo" and everything else UNICAST). */
static unsigned addrtype_of(const struct pf_eval *ev, uint32_t addr, const char *dev)
{
	uint32_t h = ntohl(addr);
	if ((h >> 24) == 0 || h == 0xffffffffu)
		return PF_RTN_BROADCAST;
	if ((h >> 28) == 14)
		return PF_RTN_MULTICAST;
	const struct pf_engine_config *cfg = pf_eval_config(ev);
	if (cfg->addr_type)
		return cfg->addr_type(cfg->host_opaque, addr, dev);
	if ((h >> 24) == 127 && (!dev || strcmp(dev, "lo") == 0))
		return PF_RTN_LOCAL;
	return PF_RTN_UNICAST;
}

static bool addrtype_type_in(const struct pf_eval *ev, uint32_t addr, const char *dev,
			     uint16_t mask)
{
	unsigned t = addrtype_of(ev, addr, dev);
	return t < 16 && (mask & (1u << t)) != 0;
}

/* addrtype_mt_v1 (xt_addrtype.c): the source test, then (only while still matching) the
 * destination test, each inverted by its flag; --limit-iface-in/out look the address up as if
 * only the input/output interface existed. */
static bool addrtype_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct addrtype_data *d = data;
	(void)state;
	const char *dev = NULL;
	if (d->flags & AT_LIMIT_IFACE_IN)
		dev = ev->in[0] ? ev->in : NULL;
	else if (d->flags & AT_LIMIT_IFACE_OUT)
		dev = ev->out[0] ? ev->out : NULL;
	bool ret = true;
	if (d->source)
		ret = addrtype_type_in(ev, ev->pkt->saddr, dev, d->source) ^
		      ((d->flags & AT_INVERT_SOURCE) != 0);
	if (ret && d->dest)
		ret = addrtype_type_in(ev, ev->pkt->daddr, dev, d->dest) ^
		      ((d->flags & AT_INVERT_DEST) != 0);
	return ret;
}

const struct pf_ext pf_match_addrtype = {
    .name = "addrtype",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct addrtype_data),
    .options = addrtype_opts,
    .parse = addrtype_parse,
    .final_check = addrtype_final_check,
    .save = addrtype_save,
    .print = addrtype_print,
    .check_entry = addrtype_check_entry,
    .match = addrtype_match,
};
