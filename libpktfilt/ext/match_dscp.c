/*
 * match_dscp.c - the dscp match: the DSCP bits of the IP TOS field, by value (--dscp 46)
 * or by class (--dscp-class EF), as libxt_dscp and the kernel's xt_dscp.
 */
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_dscp_info. */
struct dscp_info {
	uint8_t dscp;
	uint8_t invert;
};

enum { O_DSCP, O_DSCP_CLASS };

static const struct pf_ext_option dscp_opts[] = {
    {"dscp", O_DSCP, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"dscp-class", O_DSCP_CLASS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const char *const canon[] = {"dscp", "dscp-class"};

static const struct {
	const char *name;
	uint8_t dscp;
} ds_classes[] = {
    {"CS0", 0x00},  {"CS1", 0x08},  {"CS2", 0x10},  {"CS3", 0x18},  {"CS4", 0x20},  {"CS5", 0x28},
    {"CS6", 0x30},  {"CS7", 0x38},  {"BE", 0x00},   {"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
    {"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16}, {"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
    {"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26}, {"EF", 0x2e},
};
#define N_CLASSES (sizeof(ds_classes) / sizeof(ds_classes[0]))

static int dscp_parse(struct pf_parse_ctx *ctx)
{
	struct dscp_info *d = ctx->data;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "dscp", canon[ctx->id], ctx->seen & (1u << ctx->id),
			    ctx->invert, true))
		return -1;
	if (ctx->id == O_DSCP) {
		if (pf_xt_parse_uint(ctx->arg, "dscp", "dscp", 0, 63, &v, ctx->err))
			return -1;
		d->dscp = (uint8_t)v;
	} else {
		/* iptables compares only the class name's length: "EFx" is EF. */
		size_t i;
		for (i = 0; i < N_CLASSES; i++)
			if (strncasecmp(ctx->arg, ds_classes[i].name, strlen(ds_classes[i].name)) ==
			    0)
				break;
		if (i == N_CLASSES)
			return pf_err_param(ctx->err, "Invalid DSCP value `%s'", ctx->arg);
		d->dscp = ds_classes[i].dscp;
	}
	if (ctx->invert)
		d->invert = 1;
	return 0;
}

static int dscp_final(struct pf_parse_ctx *ctx)
{
	if ((ctx->seen & 3u) == 3u)
		return pf_err_param(ctx->err, "dscp: option \"--dscp\" cannot be used together "
					      "with \"--dscp-class\".\n");
	if (!ctx->seen)
		return pf_err_param(ctx->err, "DSCP match: Parameter --dscp is required");
	return 0;
}

static void dscp_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct dscp_info *d = ctx->data;
	pf_sb_printf(out, "%s --dscp 0x%02x", d->invert ? " !" : "", d->dscp);
}

static void dscp_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct dscp_info *d = ctx->data;
	pf_sb_printf(out, " DSCP match %s0x%02x", d->invert ? "!" : "", d->dscp);
}

/* ---- evaluation (xt_dscp's dscp_mt) ---- */

static bool dscp_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct dscp_info *d = data;
	(void)state;
	return ((ev->pkt->data[1] >> 2) == d->dscp) != !!d->invert;
}

const struct pf_ext pf_match_dscp = {
    .name = "dscp",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct dscp_info),
    .options = dscp_opts,
    .parse = dscp_parse,
    .final_check = dscp_final,
    .save = dscp_save,
    .print = dscp_print,
    .match = dscp_match,
};
