/*
 * target_CONNMARK.c - -j CONNMARK: set the connection's mark, or copy it to/from the packet
 * mark (revision 2: --set-xmark/--set-mark/--and/--or/--xor-mark, --save-mark and
 * --restore-mark with --nfmask/--ctmask/--mask, --left/--right-shift-mark). Any table.
 */
#include <errno.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "pktfilt/engine.h"
#include "language/xtutil.h"

enum {
	O_SET_MARK = 0,
	O_SAVE_MARK,
	O_RESTORE_MARK,
	O_AND_MARK,
	O_OR_MARK,
	O_XOR_MARK,
	O_LEFT_SHIFT_MARK,
	O_RIGHT_SHIFT_MARK,
	O_SET_XMARK,
	O_CTMASK,
	O_NFMASK,
	O_MASK,
};
#define F(o) (1ull << (o))
#define F_OP_ANY                                                                                   \
	(F(O_SET_MARK) | F(O_SAVE_MARK) | F(O_RESTORE_MARK) | F(O_AND_MARK) | F(O_OR_MARK) |       \
	 F(O_XOR_MARK) | F(O_SET_XMARK))

enum { MODE_SET = 0, MODE_SAVE, MODE_RESTORE };
enum { SHIFT_LEFT = 0, SHIFT_RIGHT };

/* struct xt_connmark_tginfo2 */
struct connmark_data {
	uint32_t ctmark, ctmask, nfmask;
	uint8_t shift_dir, shift_bits, mode, pad;
};

static const struct pf_ext_option connmark_opts[] = {
    {"set-xmark", O_SET_XMARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"set-mark", O_SET_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"and-mark", O_AND_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"or-mark", O_OR_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"xor-mark", O_XOR_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"save-mark", O_SAVE_MARK, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"restore-mark", O_RESTORE_MARK, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"left-shift-mark", O_LEFT_SHIFT_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"right-shift-mark", O_RIGHT_SHIFT_MARK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ctmask", O_CTMASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"nfmask", O_NFMASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"mask", O_MASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec connmark_specs[] = {
    {"set-xmark", O_SET_XMARK, F_OP_ANY, 0, false},
    {"set-mark", O_SET_MARK, F_OP_ANY, 0, false},
    {"and-mark", O_AND_MARK, F_OP_ANY, 0, false},
    {"or-mark", O_OR_MARK, F_OP_ANY, 0, false},
    {"xor-mark", O_XOR_MARK, F_OP_ANY, 0, false},
    {"save-mark", O_SAVE_MARK, F_OP_ANY, 0, false},
    {"restore-mark", O_RESTORE_MARK, F_OP_ANY, 0, false},
    {"left-shift-mark", O_LEFT_SHIFT_MARK, 0, 0, false},
    {"right-shift-mark", O_RIGHT_SHIFT_MARK, 0, 0, false},
    {"ctmask", O_CTMASK, F(O_MASK), 0, false},
    {"nfmask", O_NFMASK, F(O_MASK), 0, false},
    {"mask", O_MASK, F(O_CTMASK) | F(O_NFMASK), 0, false},
    {.name = NULL},
};

static void connmark_init(void *data)
{
	struct connmark_data *d = data;
	d->ctmask = 0xffffffffu;
	d->nfmask = 0xffffffffu;
	d->shift_dir = SHIFT_LEFT;
}

static int connmark_parse(struct pf_parse_ctx *ctx)
{
	struct connmark_data *d = ctx->data;
	uint32_t value, mask;
	uint64_t v = 0;
	if (pf_xt_opt_check(ctx->err, "CONNMARK", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	switch (ctx->id) {
	case O_SET_XMARK:
	case O_SET_MARK:
		if (pf_xt_parse_markmask(ctx->arg, "CONNMARK", ctx->name, &value, &mask, ctx->err))
			return -1;
		d->mode = MODE_SET;
		d->ctmark = value;
		d->ctmask = ctx->id == O_SET_MARK ? (value | mask) : mask;
		return 0;
	case O_SAVE_MARK:
		d->mode = MODE_SAVE;
		return 0;
	case O_RESTORE_MARK:
		d->mode = MODE_RESTORE;
		return 0;
	case O_LEFT_SHIFT_MARK:
	case O_RIGHT_SHIFT_MARK:
		if (pf_xt_parse_uint(ctx->arg, "CONNMARK", ctx->name, 0, 32, &v, ctx->err))
			return -1;
		d->shift_dir = ctx->id == O_LEFT_SHIFT_MARK ? SHIFT_LEFT : SHIFT_RIGHT;
		d->shift_bits = (uint8_t)v;
		return 0;
	default:
		break;
	}
	if (pf_xt_parse_uint(ctx->arg, "CONNMARK", ctx->name, 0, 0xffffffffu, &v, ctx->err))
		return -1;
	switch (ctx->id) {
	case O_AND_MARK:
		d->mode = MODE_SET;
		d->ctmark = 0;
		d->ctmask = ~(uint32_t)v;
		break;
	case O_OR_MARK:
		d->mode = MODE_SET;
		d->ctmark = d->ctmask = (uint32_t)v;
		break;
	case O_XOR_MARK:
		d->mode = MODE_SET;
		d->ctmark = (uint32_t)v;
		d->ctmask = 0;
		break;
	case O_CTMASK:
		d->ctmask = (uint32_t)v;
		break;
	case O_NFMASK:
		d->nfmask = (uint32_t)v;
		break;
	case O_MASK:
		d->nfmask = d->ctmask = (uint32_t)v;
		break;
	}
	return 0;
}

static int connmark_final_check(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & F_OP_ANY))
		return pf_err_param(ctx->err, "CONNMARK target: No operation specified");
	return pf_xt_options_fcheck("CONNMARK", connmark_specs, ctx->seen, ctx->err);
}

static const char *shift_name(uint8_t dir)
{
	return dir == SHIFT_RIGHT ? "right-shift-mark" : "left-shift-mark";
}

static void connmark_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connmark_data *d = ctx->data;
	switch (d->mode) {
	case MODE_SET:
		pf_sb_printf(out, " --set-xmark 0x%x/0x%x", d->ctmark, d->ctmask);
		break;
	case MODE_SAVE:
		pf_sb_printf(out, " --save-mark --nfmask 0x%x --ctmask 0x%x", d->nfmask, d->ctmask);
		break;
	case MODE_RESTORE:
		pf_sb_printf(out, " --restore-mark --nfmask 0x%x --ctmask 0x%x", d->nfmask,
			     d->ctmask);
		break;
	default:
		pf_sb_puts(out, " ERROR: UNKNOWN CONNMARK MODE");
		break;
	}
	if (d->mode <= MODE_RESTORE && d->shift_bits != 0)
		pf_sb_printf(out, " --%s %u", shift_name(d->shift_dir), d->shift_bits);
}

static void connmark_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connmark_data *d = ctx->data;
	switch (d->mode) {
	case MODE_SET:
		if (d->ctmark == 0)
			pf_sb_printf(out, " CONNMARK and 0x%x", (uint32_t)~d->ctmask);
		else if (d->ctmark == d->ctmask)
			pf_sb_printf(out, " CONNMARK or 0x%x", d->ctmark);
		else if (d->ctmask == 0)
			pf_sb_printf(out, " CONNMARK xor 0x%x", d->ctmark);
		else if (d->ctmask == 0xffffffffu)
			pf_sb_printf(out, " CONNMARK set 0x%x", d->ctmark);
		else
			pf_sb_printf(out, " CONNMARK xset 0x%x/0x%x", d->ctmark, d->ctmask);
		break;
	case MODE_SAVE:
		if (d->nfmask == 0xffffffffu && d->ctmask == 0xffffffffu)
			pf_sb_puts(out, " CONNMARK save");
		else if (d->nfmask == d->ctmask)
			pf_sb_printf(out, " CONNMARK save mask 0x%x", d->nfmask);
		else
			pf_sb_printf(out, " CONNMARK save nfmask 0x%x ctmask ~0x%x", d->nfmask,
				     d->ctmask);
		break;
	case MODE_RESTORE:
		if (d->ctmask == 0xffffffffu && d->nfmask == 0xffffffffu)
			pf_sb_puts(out, " CONNMARK restore");
		else if (d->ctmask == d->nfmask)
			pf_sb_printf(out, " CONNMARK restore mask 0x%x", d->ctmask);
		else
			pf_sb_printf(out, " CONNMARK restore ctmask 0x%x nfmask ~0x%x", d->ctmask,
				     d->nfmask);
		break;
	default:
		pf_sb_puts(out, " ERROR: UNKNOWN CONNMARK MODE");
		break;
	}
	if (d->mode <= MODE_RESTORE && d->shift_bits != 0)
		pf_sb_printf(out, " %s %u", shift_name(d->shift_dir), d->shift_bits);
}

static int connmark_check_entry(const struct pf_rule *rule, const void *data, const char *table,
				unsigned hooks)
{
	const struct connmark_data *d = data;
	(void)rule;
	(void)table;
	(void)hooks;
	if (d->shift_bits > 31)
		return EINVAL;
	return 0;
}

static uint32_t shift_mark(uint32_t v, const struct connmark_data *d)
{
	/* shift_bits is at most 31 (check_entry) */
	return d->shift_dir == SHIFT_RIGHT ? v >> d->shift_bits : v << d->shift_bits;
}

/*
 * connmark_tg_shift (xt_connmark.c, revisions 1 and 2; revision 1 has no shift). Without a
 * connection (INVALID or untracked packets) nothing changes. ev->ctmark is the connection's
 * mark as the caller supplied it (meta->ctmark) and as earlier CONNMARK rules changed it.
 */
static unsigned connmark_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct connmark_data *d = data;
	(void)state;
	if (ev->untracked || (ev->meta->ct_state & (PF_CT_INVALID | PF_CT_UNTRACKED)))
		return PF_XT_CONTINUE;
	switch (d->mode) {
	case MODE_SET:
		ev->ctmark = shift_mark((ev->ctmark & ~d->ctmask) ^ d->ctmark, d);
		break;
	case MODE_SAVE:
		ev->ctmark = (ev->ctmark & ~d->ctmask) ^ shift_mark(ev->mark & d->nfmask, d);
		break;
	case MODE_RESTORE:
		ev->mark = (ev->mark & ~d->nfmask) ^ shift_mark(ev->ctmark & d->ctmask, d);
		break;
	default:
		break;
	}
	return PF_XT_CONTINUE;
}

const struct pf_ext pf_target_CONNMARK = {
    .name = "CONNMARK",
    .kind = PF_EXT_TARGET,
    .revision = 2,
    .data_size = sizeof(struct connmark_data),
    .options = connmark_opts,
    .init = connmark_init,
    .parse = connmark_parse,
    .final_check = connmark_final_check,
    .save = connmark_save,
    .print = connmark_print,
    .check_entry = connmark_check_entry,
    .needs_conntrack = true,
    .target = connmark_target,
};
