/*
 * match_statistic.c - the statistic match: random sampling (--mode random --probability p)
 * or every n-th packet (--mode nth --every n --packet p), as libxt_statistic and the
 * kernel's xt_statistic.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eval.h"
#include "engine/state_domain.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define ST_MODE_RANDOM 0
#define ST_MODE_NTH 1
#define ST_INVERT 0x1

/* The kernel's struct xt_statistic_info without its internal pointer; count is the
 * kernel's running counter (not compared). */
struct statistic_info {
	uint16_t mode;
	uint16_t flags;
	union {
		uint32_t probability; /* random: p * 2^31 */
		uint32_t every;	      /* nth: n - 1 */
	} u;
	uint32_t packet;
	uint32_t count;
};

enum { O_MODE, O_PROBABILITY, O_EVERY, O_PACKET };
#define F(o) (1ull << (o))

static const struct pf_ext_option statistic_opts[] = {
    {"mode", O_MODE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"probability", O_PROBABILITY, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"every", O_EVERY, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"packet", O_PACKET, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec statistic_specs[] = {
    {"mode", O_MODE, 0, 0, true},
    {"probability", O_PROBABILITY, F(O_EVERY) | F(O_PACKET), 0, false},
    {"every", O_EVERY, F(O_PROBABILITY), F(O_PACKET), false},
    {"packet", O_PACKET, F(O_PROBABILITY), F(O_EVERY), false},
    {.name = NULL},
};

/* lround(0x80000000 * p) for p in [0, 1], without libm; NaN gives 0 as lround's LONG_MIN
 * truncated to 32 bits does on x86. */
static uint32_t round_prob(double p)
{
	if (isnan(p))
		return 0;
	double x = 0x80000000 * p;
	uint64_t i = (uint64_t)x;
	if (x - (double)i >= 0.5)
		i++;
	return (uint32_t)i;
}

static int statistic_parse(struct pf_parse_ctx *ctx)
{
	struct statistic_info *info = ctx->data;
	const char *opt = statistic_specs[ctx->id].name;
	bool invertible = ctx->id == O_PROBABILITY || ctx->id == O_EVERY;
	uint64_t v;
	/* libxt_statistic notes the inversion before the generic checks. */
	if (ctx->invert)
		info->flags |= ST_INVERT;
	if (pf_xt_opt_check(ctx->err, "statistic", opt, ctx->seen & F(ctx->id), ctx->invert,
			    invertible))
		return -1;
	switch (ctx->id) {
	case O_MODE:
		if (strcmp(ctx->arg, "random") == 0)
			info->mode = ST_MODE_RANDOM;
		else if (strcmp(ctx->arg, "nth") == 0)
			info->mode = ST_MODE_NTH;
		else
			return pf_err_param(ctx->err, "Bad mode \"%s\"", ctx->arg);
		return 0;
	case O_PROBABILITY: {
		char *end;
		double d = strtod(ctx->arg, &end);
		if (end == ctx->arg || *end != '\0' || d < 0 || d > 1)
			return pf_err_param(ctx->err,
					    "statistic: bad value for option "
					    "\"--probability\", or out of range (0-1).\n");
		info->u.probability = round_prob(d);
		return 0;
	}
	case O_EVERY:
		if (pf_xt_parse_uint(ctx->arg, "statistic", opt, 1, UINT32_MAX, &v, ctx->err))
			return -1;
		info->u.every = (uint32_t)(v - 1);
		return 0;
	case O_PACKET:
		if (pf_xt_parse_uint(ctx->arg, "statistic", opt, 0, UINT32_MAX, &v, ctx->err))
			return -1;
		info->packet = (uint32_t)v;
		return 0;
	}
	return 0;
}

static int statistic_final(struct pf_parse_ctx *ctx)
{
	struct statistic_info *info = ctx->data;
	if (info->mode == ST_MODE_RANDOM && !(ctx->seen & F(O_PROBABILITY)))
		return pf_err_param(ctx->err,
				    "--probability must be specified when using random mode");
	if (info->mode == ST_MODE_NTH && !(ctx->seen & (F(O_EVERY) | F(O_PACKET))))
		return pf_err_param(ctx->err,
				    "--every and --packet must be specified when using nth mode");
	if (info->packet > info->u.every)
		return pf_err_param(ctx->err, "the --packet p must be 0 <= p <= n-1");
	info->count = info->u.every - info->packet;
	return pf_xt_options_fcheck("statistic", statistic_specs, ctx->seen, ctx->err);
}

static void put_match(struct pf_strbuf *out, const struct statistic_info *info, const char *prefix)
{
	const char *inv = (info->flags & ST_INVERT) ? " !" : "";
	switch (info->mode) {
	case ST_MODE_RANDOM:
		pf_sb_printf(out, " %smode random%s %sprobability %.11f", prefix, inv, prefix,
			     1.0 * info->u.probability / 0x80000000);
		break;
	case ST_MODE_NTH:
		pf_sb_printf(out, " %smode nth%s %severy %u", prefix, inv, prefix,
			     info->u.every + 1);
		if (info->packet || *prefix)
			pf_sb_printf(out, " %spacket %u", prefix, info->packet);
		break;
	}
}

static void statistic_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_sb_puts(out, " statistic");
	put_match(out, ctx->data, "");
}

static void statistic_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	put_match(out, ctx->data, "--");
}

/*
 * Evaluation, as xt_statistic: random mode matches when the low 31 bits of a 32-bit random
 * number are below probability (p * 2^31); the kernel draws get_random_u32(), we draw
 * pf_eval_random() (the engine's generator, deterministic for the configured seed). Nth
 * mode keeps one counter per rule, started at every - packet when the rule is inserted
 * (when the engine is compiled): each packet advances it (every wraps to 0) and the packet
 * matches when it becomes 0, so --every n --packet p matches packets p+1, p+1+n, ... The
 * kernel's counter is an atomic shared by all CPUs; here the engines of a state domain
 * share it (pf_state_lock), an engine without one has its own. "!" inverts both modes.
 */
struct statistic_state {
	uint32_t count;
};

static int statistic_state_init(struct pf_engine *e, const void *data, void *state)
{
	const struct statistic_info *info = data;
	struct statistic_state *st = state;
	(void)e;
	st->count = info->count;
	return 0;
}

static bool statistic_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct statistic_info *info = data;
	struct statistic_state *st = state;
	bool ret = (info->flags & ST_INVERT) != 0;
	switch (info->mode) {
	case ST_MODE_RANDOM:
		if ((pf_eval_random(ev) & 0x7FFFFFFFu) < info->u.probability)
			ret = !ret;
		break;
	case ST_MODE_NTH: {
		pf_state_lock(st);
		uint32_t count = st->count == info->u.every ? 0 : st->count + 1;
		st->count = count;
		pf_state_unlock(st);
		if (count == 0)
			ret = !ret;
		break;
	}
	}
	return ret;
}

const struct pf_ext pf_match_statistic = {
    .name = "statistic",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct statistic_info),
    .cmp_size = offsetof(struct statistic_info, count),
    .options = statistic_opts,
    .parse = statistic_parse,
    .final_check = statistic_final,
    .save = statistic_save,
    .print = statistic_print,
    .match = statistic_match,
    .state_size = sizeof(struct statistic_state),
    .state_init = statistic_state_init,
    .state_shared = true,
};
