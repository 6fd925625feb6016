/*
 * match_iprange.c - "-m iprange": match a source and/or destination IPv4 address range
 * (--src-range / --dst-range FROM[-TO]), as iptables' libxt_iprange revision 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

#define IPRANGE_SRC 0x01
#define IPRANGE_DST 0x02
#define IPRANGE_SRC_INV 0x10
#define IPRANGE_DST_INV 0x20

enum { O_SRC_RANGE = 0, O_DST_RANGE = 1 };

struct iprange_data {
	uint32_t src_min, src_max; /* network byte order */
	uint32_t dst_min, dst_max;
	uint8_t flags;
};

static const struct pf_ext_option iprange_opts[] = {
    {.name = "src-range",
     .id = O_SRC_RANGE,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "dst-range",
     .id = O_DST_RANGE,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = NULL},
};

/* xtables_numeric_to_ipaddr: dotted quad (missing trailing parts are zero) read from at most
 * the first 19 characters of the text. */
static bool iprange_addr(const char *s, uint32_t *addr)
{
	char buf[20];
	size_t n = strlen(s);
	if (n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return pf_parse_ipv4_numeric(buf, addr);
}

static int iprange_parse(struct pf_parse_ctx *ctx)
{
	struct iprange_data *d = ctx->data;
	const char *optname = ctx->id == O_SRC_RANGE ? "--src-range" : "--dst-range";
	if (pf_xt_opt_check(ctx->err, "iprange", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, true))
		return -1;
	char *copy = strdup(ctx->arg);
	if (!copy)
		return pf_err_set(ctx->err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "out of memory");
	const char *spec[2];
	char *dash = strchr(copy, '-');
	spec[0] = copy;
	spec[1] = copy;
	if (dash) {
		*dash = '\0';
		spec[1] = dash + 1;
	}
	uint32_t range[2];
	for (int i = 0; i < 2; i++) {
		if (!iprange_addr(spec[i], &range[i])) {
			pf_err_param(ctx->err, "iprange: Bad value for \"%s\" option: \"%s\"",
				     optname, spec[i]);
			free(copy);
			return -1;
		}
	}
	/* A reversed range is accepted, with iptables' warning. */
	if (ntohl(range[1]) < ntohl(range[0]))
		pf_err_warn(ctx->err, "xt_iprange: range %s-%s is reversed and will never match",
			    spec[0], spec[1]);
	free(copy);
	if (ctx->id == O_SRC_RANGE) {
		d->src_min = range[0];
		d->src_max = range[1];
		d->flags |= IPRANGE_SRC;
		if (ctx->invert)
			d->flags |= IPRANGE_SRC_INV;
	} else {
		d->dst_min = range[0];
		d->dst_max = range[1];
		d->flags |= IPRANGE_DST;
		if (ctx->invert)
			d->flags |= IPRANGE_DST_INV;
	}
	return 0;
}

static int iprange_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(
		    ctx->err, "iprange match: You must specify `--src-range' or `--dst-range'");
	return 0;
}

static void put_range(struct pf_strbuf *out, uint32_t lo, uint32_t hi)
{
	char a[16], b[16];
	pf_fmt_ipv4(lo, a);
	pf_fmt_ipv4(hi, b);
	pf_sb_printf(out, " %s-%s", a, b);
}

static void iprange_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct iprange_data *d = ctx->data;
	if (d->flags & IPRANGE_SRC) {
		if (d->flags & IPRANGE_SRC_INV)
			pf_sb_puts(out, " !");
		pf_sb_puts(out, " --src-range");
		put_range(out, d->src_min, d->src_max);
	}
	if (d->flags & IPRANGE_DST) {
		if (d->flags & IPRANGE_DST_INV)
			pf_sb_puts(out, " !");
		pf_sb_puts(out, " --dst-range");
		put_range(out, d->dst_min, d->dst_max);
	}
}

static void iprange_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct iprange_data *d = ctx->data;
	if (d->flags & IPRANGE_SRC) {
		pf_sb_puts(out, " source IP range");
		if (d->flags & IPRANGE_SRC_INV)
			pf_sb_puts(out, " !");
		put_range(out, d->src_min, d->src_max);
	}
	if (d->flags & IPRANGE_DST) {
		pf_sb_puts(out, " destination IP range");
		if (d->flags & IPRANGE_DST_INV)
			pf_sb_puts(out, " !");
		put_range(out, d->dst_min, d->dst_max);
	}
}

/* ---- evaluation (xt_iprange's iprange_mt4) ---- */

static bool addr_in(const uint8_t *a, uint32_t min, uint32_t max)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	return v >= ntohl(min) && v <= ntohl(max);
}

static bool iprange_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct iprange_data *d = data;
	const uint8_t *ip = ev->pkt->data; /* the IP header is always there */
	(void)state;
	if ((d->flags & IPRANGE_SRC) &&
	    addr_in(ip + 12, d->src_min, d->src_max) == !!(d->flags & IPRANGE_SRC_INV))
		return false;
	if ((d->flags & IPRANGE_DST) &&
	    addr_in(ip + 16, d->dst_min, d->dst_max) == !!(d->flags & IPRANGE_DST_INV))
		return false;
	return true;
}

const struct pf_ext pf_match_iprange = {
    .name = "iprange",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct iprange_data),
    .options = iprange_opts,
    .parse = iprange_parse,
    .final_check = iprange_final_check,
    .save = iprange_save,
    .print = iprange_print,
    .match = iprange_match,
};
