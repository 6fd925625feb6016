/*
 * match_recent.c - the recent match: lists of recently seen addresses (--set, --rcheck,
 * --update, --remove, with --seconds, --hitcount, --rttl, --name, --rsource/--rdest,
 * --mask, --reap), as libxt_recent revision 1 and the kernel's xt_recent.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define RECENT_NAME_LEN 200 /* XT_RECENT_NAME_LEN */
#define RECENT_MAX_HITCOUNT 65535
/* check_set bits (XT_RECENT_*) */
#define RC_CHECK 0x01
#define RC_SET 0x02
#define RC_UPDATE 0x04
#define RC_REMOVE 0x08
#define RC_TTL 0x10
#define RC_REAP 0x20
#define RC_SOURCE 0
#define RC_DEST 1

/* The kernel's struct xt_recent_mtinfo_v1 (mask: the 16-byte union nf_inet_addr). */
struct recent_info {
	uint32_t seconds;
	uint32_t hit_count;
	uint8_t check_set;
	uint8_t invert;
	char name[RECENT_NAME_LEN];
	uint8_t side;
	uint32_t mask[4];
};

enum {
	O_SET,
	O_RCHECK,
	O_UPDATE,
	O_REMOVE,
	O_SECONDS,
	O_REAP,
	O_HITCOUNT,
	O_RTTL,
	O_NAME,
	O_RSOURCE,
	O_RDEST,
	O_MASK,
};
#define F(o) (1ull << (o))
#define F_ANY_OP (F(O_SET) | F(O_RCHECK) | F(O_UPDATE) | F(O_REMOVE))

static const struct pf_ext_option recent_opts[] = {
    {"set", O_SET, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"rcheck", O_RCHECK, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"update", O_UPDATE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"remove", O_REMOVE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"seconds", O_SECONDS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"reap", O_REAP, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"hitcount", O_HITCOUNT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"rttl", O_RTTL, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"name", O_NAME, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"rsource", O_RSOURCE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"rdest", O_RDEST, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"mask", O_MASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec recent_specs[] = {
    {"set", O_SET, F_ANY_OP, 0, false},
    {"rcheck", O_RCHECK, F_ANY_OP, 0, false},
    {"update", O_UPDATE, F_ANY_OP, 0, false},
    {"remove", O_REMOVE, F_ANY_OP, 0, false},
    {"seconds", O_SECONDS, 0, 0, false},
    {"reap", O_REAP, 0, F(O_SECONDS), false},
    {"hitcount", O_HITCOUNT, 0, 0, false},
    {"rttl", O_RTTL, F(O_SET) | F(O_REMOVE), 0, false},
    {"name", O_NAME, 0, 0, false},
    {"rsource", O_RSOURCE, 0, 0, false},
    {"rdest", O_RDEST, 0, 0, false},
    {"mask", O_MASK, 0, 0, false},
    {.name = NULL},
};

static void recent_init(void *data)
{
	struct recent_info *info = data;
	strcpy(info->name, "DEFAULT");
	info->side = RC_SOURCE;
	memset(info->mask, 0xFF, sizeof(info->mask));
}

/* XTTYPE_HOST: one IPv4 address, a host name allowed (it must not resolve to several). */
static int parse_host(const char *arg, uint32_t out[4], struct pf_error *err)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	int rc = getaddrinfo(arg, NULL, &hints, &res);
	if (rc != 0)
		return pf_err_param(err, "getaddrinfo: %s\n", gai_strerror(rc));
	uint32_t addr = 0;
	bool have = false;
	for (struct addrinfo *p = res; p; p = p->ai_next) {
		uint32_t a = ((struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr;
		if (!have) {
			addr = a;
			have = true;
		} else if (a != addr) {
			freeaddrinfo(res);
			return pf_err_param(err, "%s resolves to more than one address\n", arg);
		}
	}
	freeaddrinfo(res);
	out[0] = addr;
	out[1] = out[2] = out[3] = 0;
	return 0;
}

static int recent_parse(struct pf_parse_ctx *ctx)
{
	struct recent_info *info = ctx->data;
	const char *opt = recent_opts[ctx->id].name;
	bool invertible = (F(ctx->id) & F_ANY_OP) != 0;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "recent", opt, ctx->seen & F(ctx->id), ctx->invert,
			    invertible))
		return -1;
	switch (ctx->id) {
	case O_SET:
	case O_RCHECK:
	case O_UPDATE:
	case O_REMOVE: {
		static const uint8_t bits[] = {RC_SET, RC_CHECK, RC_UPDATE, RC_REMOVE};
		info->check_set |= bits[ctx->id];
		if (ctx->invert)
			info->invert = 1;
		return 0;
	}
	case O_SECONDS:
		if (pf_xt_parse_uint(ctx->arg, "recent", opt, 1, UINT32_MAX, &v, ctx->err))
			return -1;
		info->seconds = (uint32_t)v;
		return 0;
	case O_HITCOUNT:
		if (pf_xt_parse_uint(ctx->arg, "recent", opt, 0, UINT32_MAX, &v, ctx->err))
			return -1;
		info->hit_count = (uint32_t)v;
		return 0;
	case O_REAP:
		info->check_set |= RC_REAP;
		return 0;
	case O_RTTL:
		info->check_set |= RC_TTL;
		return 0;
	case O_NAME:
		memset(info->name, 0, sizeof(info->name));
		strncpy(info->name, ctx->arg, RECENT_NAME_LEN - 1);
		return 0;
	case O_RSOURCE:
		info->side = RC_SOURCE;
		return 0;
	case O_RDEST:
		info->side = RC_DEST;
		return 0;
	case O_MASK:
		return parse_host(ctx->arg, info->mask, ctx->err);
	}
	return 0;
}

static int recent_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & F_ANY_OP))
		return pf_err_param(ctx->err, "recent: you must specify one of `--set', `--rcheck' "
					      "`--update' or `--remove'");
	return pf_xt_options_fcheck("recent", recent_specs, ctx->seen, ctx->err);
}

static void recent_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct recent_info *info = ctx->data;
	char m[16];
	if (info->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " recent:");
	if (info->check_set & RC_SET)
		pf_sb_puts(out, " SET");
	if (info->check_set & RC_CHECK)
		pf_sb_puts(out, " CHECK");
	if (info->check_set & RC_UPDATE)
		pf_sb_puts(out, " UPDATE");
	if (info->check_set & RC_REMOVE)
		pf_sb_puts(out, " REMOVE");
	if (info->seconds)
		pf_sb_printf(out, " seconds: %d", (int)info->seconds);
	if (info->check_set & RC_REAP)
		pf_sb_puts(out, " reap");
	if (info->hit_count)
		pf_sb_printf(out, " hit_count: %u", info->hit_count);
	if (info->check_set & RC_TTL)
		pf_sb_puts(out, " TTL-Match");
	pf_sb_printf(out, " name: %s", info->name);
	if (info->side == RC_SOURCE)
		pf_sb_puts(out, " side: source");
	if (info->side == RC_DEST)
		pf_sb_puts(out, " side: dest");
	pf_fmt_ipv4(info->mask[0], m);
	pf_sb_printf(out, " mask: %s", m);
}

static void recent_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct recent_info *info = ctx->data;
	char m[16];
	if (info->invert)
		pf_sb_puts(out, " !");
	if (info->check_set & RC_SET)
		pf_sb_puts(out, " --set");
	if (info->check_set & RC_CHECK)
		pf_sb_puts(out, " --rcheck");
	if (info->check_set & RC_UPDATE)
		pf_sb_puts(out, " --update");
	if (info->check_set & RC_REMOVE)
		pf_sb_puts(out, " --remove");
	if (info->seconds)
		pf_sb_printf(out, " --seconds %d", (int)info->seconds);
	if (info->check_set & RC_REAP)
		pf_sb_puts(out, " --reap");
	if (info->hit_count)
		pf_sb_printf(out, " --hitcount %u", info->hit_count);
	if (info->check_set & RC_TTL)
		pf_sb_puts(out, " --rttl");
	pf_sb_printf(out, " --name %s", info->name);
	pf_fmt_ipv4(info->mask[0], m);
	pf_sb_printf(out, " --mask %s", m);
	if (info->side == RC_SOURCE)
		pf_sb_puts(out, " --rsource");
	if (info->side == RC_DEST)
		pf_sb_puts(out, " --rdest");
}

/* xt_recent's checkentry. */
static int recent_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			      unsigned hooks)
{
	const struct recent_info *info = data;
	(void)rule;
	(void)table;
	(void)hooks;
	unsigned ops = info->check_set & (RC_SET | RC_REMOVE | RC_CHECK | RC_UPDATE);
	if (ops == 0 || (ops & (ops - 1)) != 0)
		return EINVAL;
	if ((info->check_set & (RC_SET | RC_REMOVE)) &&
	    (info->seconds || info->hit_count || (info->check_set & (RC_TTL | RC_REAP))))
		return EINVAL;
	if ((info->check_set & RC_REAP) && !info->seconds)
		return EINVAL;
	if (info->hit_count > RECENT_MAX_HITCOUNT)
		return EINVAL;
	/* xt_check_proc_name */
	if (info->name[0] == '\0' || strcmp(info->name, ".") == 0 ||
	    strcmp(info->name, "..") == 0 || strchr(info->name, '/'))
		return EINVAL;
	return 0;
}

const struct pf_ext pf_match_recent = {
    .name = "recent",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct recent_info),
    .options = recent_opts,
    .init = recent_init,
    .parse = recent_parse,
    .final_check = recent_final,
    .save = recent_save,
    .print = recent_print,
    .check_entry = recent_check_entry,
};
