/*
 * match_tos.c - the tos match (revision 1): the IP TOS field under a mask, by value
 * (--tos 0x10[/0x3f]) or by name (Minimize-Delay, ...), as libxt_tos and the kernel's xt_tos.
 */
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct xt_tos_match_info. */
struct tos_info {
	uint8_t tos_mask;
	uint8_t tos_value;
	uint8_t invert;
};

enum { O_TOS };

static const struct pf_ext_option tos_opts[] = {
    {"tos", O_TOS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct {
	uint8_t value;
	const char *name;
} tos_names[] = {
    {0x10, "Minimize-Delay"}, {0x08, "Maximize-Throughput"}, {0x04, "Maximize-Reliability"},
    {0x02, "Minimize-Cost"},  {0x00, "Normal-Service"},
};
#define N_TOS (sizeof(tos_names) / sizeof(tos_names[0]))

/* XTTYPE_TOSMASK: "value[/mask]" (mask 0xff by default) or a symbolic name (mask 0x3f). */
static int parse_tosmask(const char *arg, struct tos_info *t, struct pf_error *err)
{
	char *end;
	uint64_t v, m = 0xFF;
	if (pf_strtoui_end(arg, &end, 0, 255, &v)) {
		if (*end == '/') {
			if (!pf_strtoui(end + 1, 0, 255, &m))
				return pf_err_param(err, "Illegal value: \"%s\"", arg);
		} else if (*end != '\0') {
			return pf_err_param(err, "Illegal value: \"%s\"", arg);
		}
		t->tos_value = (uint8_t)v;
		t->tos_mask = (uint8_t)m;
		return 0;
	}
	for (size_t i = 0; i < N_TOS; i++) {
		if (strcasecmp(arg, tos_names[i].name) == 0) {
			t->tos_value = tos_names[i].value;
			t->tos_mask = 0x3F;
			return 0;
		}
	}
	return pf_err_param(err, "Symbolic name \"%s\" is unknown", arg);
}

static int tos_parse(struct pf_parse_ctx *ctx)
{
	struct tos_info *t = ctx->data;
	if (pf_xt_opt_check(ctx->err, "tos", "tos", ctx->seen & 1u, ctx->invert, true))
		return -1;
	if (parse_tosmask(ctx->arg, t, ctx->err))
		return -1;
	if (ctx->invert)
		t->invert = 1;
	return 0;
}

static int tos_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & 1u))
		return pf_err_param(ctx->err, "tos: option \"--tos\" must be specified\n");
	return 0;
}

static void tos_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tos_info *t = ctx->data;
	pf_sb_printf(out, "%s --tos 0x%02x/0x%02x", t->invert ? " !" : "", t->tos_value,
		     t->tos_mask);
}

static void tos_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tos_info *t = ctx->data;
	pf_sb_puts(out, " tos match");
	if (t->invert)
		pf_sb_putc(out, '!');
	if (!ctx->numeric && t->tos_mask == 0x3F) {
		for (size_t i = 0; i < N_TOS; i++) {
			if (tos_names[i].value == t->tos_value) {
				pf_sb_printf(out, " %s", tos_names[i].name);
				return;
			}
		}
	}
	pf_sb_printf(out, "0x%02x/0x%02x", t->tos_value, t->tos_mask);
}

/* ---- evaluation (xt_dscp's tos_mt) ---- */

static bool tos_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct tos_info *t = data;
	(void)state;
	return ((ev->pkt->data[1] & t->tos_mask) == t->tos_value) != !!t->invert;
}

const struct pf_ext pf_match_tos = {
    .name = "tos",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct tos_info),
    .options = tos_opts,
    .parse = tos_parse,
    .final_check = tos_final,
    .save = tos_save,
    .print = tos_print,
    .match = tos_match,
};
