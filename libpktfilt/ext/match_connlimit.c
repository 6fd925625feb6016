/*
 * match_connlimit.c - the connlimit match: the number of connections of a source (or
 * destination) group, as libxt_connlimit revision 1 and the kernel's xt_connlimit.
 */
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define CL_INVERT 0x1 /* XT_CONNLIMIT_INVERT: match up to the limit */
#define CL_DADDR 0x2  /* XT_CONNLIMIT_DADDR: group by destination */

/* The kernel's struct xt_connlimit_info without its internal pointer. The mask is the
 * 16-byte union nf_inet_addr; IPv4 uses its first word (network byte order). */
struct connlimit_info {
	uint32_t mask[4];
	uint32_t limit;
	uint32_t flags;
};

enum { O_UPTO, O_ABOVE, O_MASK, O_SADDR, O_DADDR };
#define F(o) (1ull << (o))

static const struct pf_ext_option connlimit_opts[] = {
    {"connlimit-upto", O_UPTO, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"connlimit-above", O_ABOVE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"connlimit-mask", O_MASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"connlimit-saddr", O_SADDR, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"connlimit-daddr", O_DADDR, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec connlimit_specs[] = {
    {"connlimit-upto", O_UPTO, F(O_ABOVE), 0, false},
    {"connlimit-above", O_ABOVE, F(O_UPTO), 0, false},
    {"connlimit-mask", O_MASK, 0, 0, false},
    {"connlimit-saddr", O_SADDR, F(O_DADDR), 0, false},
    {"connlimit-daddr", O_DADDR, F(O_SADDR), 0, false},
    {.name = NULL},
};

static void connlimit_init(void *data)
{
	struct connlimit_info *info = data;
	memset(info->mask, 0xFF, sizeof(info->mask));
}

/* XTTYPE_PLENMASK as iptables 1.8.9 does it for IPv4: a prefix length 0..32 gives that
 * mask (other words zero); any other numeric address is taken as a mask that is no prefix,
 * which 1.8.9 turns into all ones. */
static int parse_plenmask(const char *arg, uint32_t mask[4], struct pf_error *err)
{
	uint64_t len;
	if (!pf_strtoui(arg, 0, 32, &len)) {
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET;
		hints.ai_flags = AI_NUMERICHOST;
		if (getaddrinfo(arg, NULL, &hints, &res) != 0 || !res)
			return pf_err_param(
			    err, "connlimit: bad value for option \"--connlimit-mask\", "
				 "neither a valid network mask nor valid CIDR (0-32).\n");
		uint32_t m = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
		freeaddrinfo(res);
		int c = pf_mask_to_cidr(m);
		if (c < 0) {
			memset(mask, 0xFF, 4 * sizeof(uint32_t));
			return 0;
		}
		len = (uint64_t)c;
	}
	mask[0] = len == 0 ? 0 : htonl(0xFFFFFFFFu << (32 - len));
	mask[1] = mask[2] = mask[3] = 0;
	return 0;
}

static int connlimit_parse(struct pf_parse_ctx *ctx)
{
	struct connlimit_info *info = ctx->data;
	const char *opt = connlimit_specs[ctx->id].name;
	bool invertible = ctx->id == O_UPTO || ctx->id == O_ABOVE;
	if (pf_xt_opt_check(ctx->err, "connlimit", opt, ctx->seen & F(ctx->id), ctx->invert,
			    invertible))
		return -1;
	switch (ctx->id) {
	case O_UPTO:
	case O_ABOVE: {
		uint64_t v;
		if (pf_xt_parse_uint(ctx->arg, "connlimit", opt, 0, UINT32_MAX, &v, ctx->err))
			return -1;
		info->limit = (uint32_t)v;
		if (ctx->invert == (ctx->id == O_ABOVE))
			info->flags |= CL_INVERT;
		return 0;
	}
	case O_MASK:
		return parse_plenmask(ctx->arg, info->mask, ctx->err);
	case O_SADDR:
		info->flags &= ~CL_DADDR;
		return 0;
	case O_DADDR:
		info->flags |= CL_DADDR;
		return 0;
	}
	return 0;
}

static int connlimit_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (F(O_UPTO) | F(O_ABOVE))))
		return pf_err_param(
		    ctx->err, "You must specify \"--connlimit-above\" or \"--connlimit-upto\".");
	return pf_xt_options_fcheck("connlimit", connlimit_specs, ctx->seen, ctx->err);
}

/* libxt_connlimit's count_bits4: 32 minus the position of the highest zero bit. */
static unsigned count_bits(uint32_t mask_nbo)
{
	unsigned bits = 0;
	for (uint32_t m = ~ntohl(mask_nbo); m != 0; m >>= 1)
		++bits;
	return 32 - bits;
}

static void connlimit_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connlimit_info *info = ctx->data;
	pf_sb_printf(out, " #conn %s/%u %s %u", (info->flags & CL_DADDR) ? "dst" : "src",
		     count_bits(info->mask[0]), (info->flags & CL_INVERT) ? "<=" : ">",
		     info->limit);
}

static void connlimit_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connlimit_info *info = ctx->data;
	pf_sb_printf(out, " --connlimit-%s %u --connlimit-mask %u --connlimit-%s",
		     (info->flags & CL_INVERT) ? "upto" : "above", info->limit,
		     count_bits(info->mask[0]), (info->flags & CL_DADDR) ? "daddr" : "saddr");
}

const struct pf_ext pf_match_connlimit = {
    .name = "connlimit",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct connlimit_info),
    .options = connlimit_opts,
    .init = connlimit_init,
    .parse = connlimit_parse,
    .final_check = connlimit_final,
    .save = connlimit_save,
    .print = connlimit_print,
    .needs_conntrack = true,
};
