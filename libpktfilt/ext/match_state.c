/*
 * match_state.c - "-m state --state LIST": the connection tracking state match (iptables'
 * state alias of the conntrack match: "state" in -S and -L).
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ct_view.h"
#include "ext/ext.h"
#include "language/xtutil.h"

/* XT_CONNTRACK_STATE_* bits */
#define ST_INVALID 0x001
#define ST_ESTABLISHED 0x002
#define ST_RELATED 0x004
#define ST_NEW 0x008
#define ST_UNTRACKED 0x100

enum { O_STATE = 0 };

struct state_data {
	uint16_t state_mask;
	uint8_t invert;
	uint8_t pad;
};

static const struct pf_ext_option state_opts[] = {
    {.name = "state",
     .id = O_STATE,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct {
	const char *name;
	uint16_t bit;
} state_names[] = {
    {"INVALID", ST_INVALID},	     {"NEW", ST_NEW},
    {"ESTABLISHED", ST_ESTABLISHED}, {"RELATED", ST_RELATED},
    {"UNTRACKED", ST_UNTRACKED},
};
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

/* One element, abbreviations allowed (strncasecmp over its length); 0 when unknown. */
static uint16_t state_lookup(const char *s, size_t len)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (strncasecmp(s, state_names[i].name, len) == 0)
			return state_names[i].bit;
	return 0;
}

static int state_parse(struct pf_parse_ctx *ctx)
{
	struct state_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "state", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, true))
		return -1;
	const char *arg = ctx->arg, *comma;
	uint16_t mask = 0, bit;
	while ((comma = strchr(arg, ',')) != NULL) {
		if (comma == arg || (bit = state_lookup(arg, (size_t)(comma - arg))) == 0)
			return pf_err_param(ctx->err, "Bad state \"%s\"", arg);
		mask |= bit;
		arg = comma + 1;
	}
	if (*arg == '\0')
		return pf_err_param(ctx->err, "\"--state\" requires a list of states with no "
					      "spaces, e.g. ESTABLISHED,RELATED");
	if ((bit = state_lookup(arg, strlen(arg))) == 0)
		return pf_err_param(ctx->err, "Bad state \"%s\"", arg);
	mask |= bit;
	d->state_mask = mask;
	d->invert = ctx->invert ? 1 : 0;
	return 0;
}

static int state_final_check(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (1ull << O_STATE)))
		return pf_err_param(ctx->err, "state: option \"--state\" must be specified\n");
	return 0;
}

/* Print order: INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED. */
static void state_list(struct pf_strbuf *out, uint16_t mask)
{
	static const uint16_t order[] = {ST_INVALID, ST_NEW, ST_RELATED, ST_ESTABLISHED,
					 ST_UNTRACKED};
	const char *sep = " ";
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(mask & order[i]))
			continue;
		for (size_t k = 0; k < NSTATES; k++)
			if (state_names[k].bit == order[i])
				pf_sb_printf(out, "%s%s", sep, state_names[k].name);
		sep = ",";
	}
}

static void state_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct state_data *d = ctx->data;
	if (d->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " --state");
	state_list(out, d->state_mask);
}

static void state_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct state_data *d = ctx->data;
	if (d->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " state");
	state_list(out, d->state_mask);
}

/* iptables sends -m state as the conntrack match (revision 3) with only its state test:
 * conntrack_mt (xt_conntrack.c) then matches when the packet's state bit is in the mask,
 * inverted by "!". The state is ct_view.h's: UNTRACKED, INVALID (no entry, raw table), or
 * the entry's NEW/ESTABLISHED/RELATED whatever the direction. */
static bool state_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct state_data *d = data;
	(void)state;
	struct pf_ct_view v = pf_ct_view_get(ev);
	return ((d->state_mask & v.statebit) != 0) ^ (d->invert != 0);
}

const struct pf_ext pf_match_state = {
    .name = "state",
    .kind = PF_EXT_MATCH,
    .revision = 3,
    .data_size = sizeof(struct state_data),
    .options = state_opts,
    .parse = state_parse,
    .final_check = state_final_check,
    .save = state_save,
    .print = state_print,
    .match = state_match,
    .needs_conntrack = true,
};
