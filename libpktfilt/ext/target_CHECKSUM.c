/*
 * target_CHECKSUM.c - -j CHECKSUM --checksum-fill: compute the checksum of packets that lack
 * one (mangle table only).
 */
#include <errno.h>

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
};
