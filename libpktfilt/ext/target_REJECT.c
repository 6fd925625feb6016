/*
 * target_REJECT.c - -j REJECT [--reject-with TYPE]: drop and answer with an ICMP error or a
 * TCP reset (filter table, INPUT/FORWARD/OUTPUT; tcp-reset needs -p tcp).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

enum { O_REJECT_WITH = 0 };

/* ipt_reject_with, the kernel's numbering. */
enum {
	REJ_NET_UNREACH = 0,
	REJ_HOST_UNREACH,
	REJ_PROTO_UNREACH,
	REJ_PORT_UNREACH,
	REJ_ECHOREPLY, /* no longer accepted */
	REJ_NET_PROHIB,
	REJ_HOST_PROHIB,
	REJ_TCP_RESET,
	REJ_ADMIN_PROHIB,
	REJ_COUNT,
};

struct reject_data {
	uint32_t with;
};

static const struct {
	const char *name, *alias;
} reject_types[REJ_COUNT] = {
    [REJ_NET_UNREACH] = {"icmp-net-unreachable", "net-unreach"},
    [REJ_HOST_UNREACH] = {"icmp-host-unreachable", "host-unreach"},
    [REJ_PROTO_UNREACH] = {"icmp-proto-unreachable", "proto-unreach"},
    [REJ_PORT_UNREACH] = {"icmp-port-unreachable", "port-unreach"},
    [REJ_NET_PROHIB] = {"icmp-net-prohibited", "net-prohib"},
    [REJ_HOST_PROHIB] = {"icmp-host-prohibited", "host-prohib"},
    [REJ_TCP_RESET] = {"tcp-reset", "tcp-rst"},
    [REJ_ADMIN_PROHIB] = {"icmp-admin-prohibited", "admin-prohib"},
};

static const struct pf_ext_option reject_opts[] = {
    {"reject-with", O_REJECT_WITH, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static void reject_init(void *data)
{
	struct reject_data *d = data;
	d->with = REJ_PORT_UNREACH;
}

static int reject_parse(struct pf_parse_ctx *ctx)
{
	struct reject_data *d = ctx->data;
	const char *arg = ctx->arg;
	size_t len = strlen(arg);
	if (pf_xt_opt_check(ctx->err, "REJECT", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	/* iptables takes the first type whose name or alias starts with the argument. */
	for (unsigned i = 0; i < REJ_COUNT; i++) {
		if (!reject_types[i].name)
			continue;
		if (strncasecmp(reject_types[i].name, arg, len) == 0 ||
		    strncasecmp(reject_types[i].alias, arg, len) == 0) {
			d->with = i;
			return 0;
		}
	}
	if (strncasecmp("echo-reply", arg, len) == 0 || strncasecmp("echoreply", arg, len) == 0)
		pf_err_warn(ctx->err, "--reject-with echo-reply no longer supported");
	return pf_err_param(ctx->err, "unknown reject type \"%s\"", arg);
}

static const char *reject_name(uint32_t with)
{
	if (with < REJ_COUNT && reject_types[with].name)
		return reject_types[with].name;
	return "(null)";
}

static void reject_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct reject_data *d = ctx->data;
	pf_sb_printf(out, " --reject-with %s", reject_name(d->with));
}

static void reject_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct reject_data *d = ctx->data;
	pf_sb_printf(out, " reject-with %s", reject_name(d->with));
}

static int reject_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			      unsigned hooks)
{
	const struct reject_data *d = data;
	(void)table;
	(void)hooks;
	if (d->with == REJ_ECHOREPLY)
		return EINVAL;
	if (d->with == REJ_TCP_RESET && (rule->ip.proto != 6 || (rule->ip.invflags & PF_INV_PROTO)))
		return EINVAL;
	return 0;
}

static const char *const reject_tables[] = {"filter", NULL};

const struct pf_ext pf_target_REJECT = {
    .name = "REJECT",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct reject_data),
    .options = reject_opts,
    .tables = reject_tables,
    .hooks = (1u << PF_HOOK_LOCAL_IN) | (1u << PF_HOOK_FORWARD) | (1u << PF_HOOK_LOCAL_OUT),
    .init = reject_init,
    .parse = reject_parse,
    .save = reject_save,
    .print = reject_print,
    .check_entry = reject_check_entry,
};
