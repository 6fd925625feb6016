/*
 * target_DSCP.c - -j DSCP --set-dscp N | --set-dscp-class CLASS: rewrite the DSCP field
 * (mangle table only).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum { O_SET_DSCP = 0, O_SET_DSCP_CLASS };
#define F(o) (1ull << (o))
#define DSCP_MAX 0x3f

/* struct xt_DSCP_info */
struct dscp_data {
	uint8_t dscp;
};

static const struct pf_ext_option dscp_opts[] = {
    {"set-dscp", O_SET_DSCP, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"set-dscp-class", O_SET_DSCP_CLASS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec dscp_specs[] = {
    {"set-dscp", O_SET_DSCP, F(O_SET_DSCP_CLASS), 0, false},
    {"set-dscp-class", O_SET_DSCP_CLASS, F(O_SET_DSCP), 0, false},
    {.name = NULL},
};

/* DiffServ class names, in the order iptables tries them. */
static const struct {
	const char *name;
	uint8_t dscp;
} ds_classes[] = {
    {"CS0", 0x00},  {"CS1", 0x08},  {"CS2", 0x10},  {"CS3", 0x18},  {"CS4", 0x20},  {"CS5", 0x28},
    {"CS6", 0x30},  {"CS7", 0x38},  {"BE", 0x00},   {"AF11", 0x0a}, {"AF12", 0x0c}, {"AF13", 0x0e},
    {"AF21", 0x12}, {"AF22", 0x14}, {"AF23", 0x16}, {"AF31", 0x1a}, {"AF32", 0x1c}, {"AF33", 0x1e},
    {"AF41", 0x22}, {"AF42", 0x24}, {"AF43", 0x26}, {"EF", 0x2e},
};

static int dscp_parse(struct pf_parse_ctx *ctx)
{
	struct dscp_data *d = ctx->data;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "DSCP", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    false))
		return -1;
	if (ctx->id == O_SET_DSCP) {
		if (pf_xt_parse_uint(ctx->arg, "DSCP", ctx->name, 0, DSCP_MAX, &v, ctx->err))
			return -1;
		d->dscp = (uint8_t)v;
		return 0;
	}
	/* The argument must start with a class name (case-insensitive). */
	for (size_t i = 0; i < sizeof(ds_classes) / sizeof(ds_classes[0]); i++) {
		if (strncasecmp(ctx->arg, ds_classes[i].name, strlen(ds_classes[i].name)) == 0) {
			d->dscp = ds_classes[i].dscp;
			return 0;
		}
	}
	return pf_err_param(ctx->err, "Invalid DSCP value `%s'", ctx->arg);
}

static int dscp_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "DSCP target: Parameter --set-dscp is required");
	return pf_xt_options_fcheck("DSCP", dscp_specs, ctx->seen, ctx->err);
}

static void dscp_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct dscp_data *d = ctx->data;
	pf_sb_printf(out, " --set-dscp 0x%02x", d->dscp);
}

static void dscp_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct dscp_data *d = ctx->data;
	pf_sb_printf(out, " DSCP set 0x%02x", d->dscp);
}

static int dscp_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			    unsigned hooks)
{
	const struct dscp_data *d = data;
	(void)rule;
	(void)table;
	(void)hooks;
	return d->dscp > DSCP_MAX ? EDOM : 0;
}

/*
 * dscp_tg (xt_DSCP.c): when the DSCP differs, ipv4_change_dsfield() keeps the ECN bits and
 * updates the IP checksum with its own incremental formula (reproduced here, so the bytes are
 * the kernel's even in the 0x0000/0xffff corner).
 */
static unsigned dscp_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct dscp_data *d = data;
	struct pf_packet *p = ev->pkt;
	uint8_t tos = p->data[1];
	(void)state;
	if ((tos >> 2) == d->dscp)
		return PF_XT_CONTINUE;
	uint8_t dsfield = (uint8_t)((tos & 0x03) | (d->dscp << 2));
	uint32_t check = pf_rd16(p->data + 10);
	check += tos;
	if ((check + 1) >> 16)
		check = (check + 1) & 0xffff;
	check -= dsfield;
	check += check >> 16;
	pf_wr16(p->data + 10, (uint16_t)check);
	p->data[1] = dsfield;
	p->tos = dsfield;
	ev->res->packet_changed = true;
	return PF_XT_CONTINUE;
}

static const char *const dscp_tables[] = {"mangle", NULL};

const struct pf_ext pf_target_DSCP = {
    .name = "DSCP",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct dscp_data),
    .options = dscp_opts,
    .tables = dscp_tables,
    .parse = dscp_parse,
    .final_check = dscp_final_check,
    .save = dscp_save,
    .print = dscp_print,
    .check_entry = dscp_check_entry,
    .target = dscp_target,
};
