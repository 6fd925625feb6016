/*
 * match_limit.c - the limit match: a token bucket shared by all packets of the rule
 * (--limit rate[/unit], --limit-burst n), as libxt_limit and the kernel's xt_limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "engine/state_domain.h"
#include "ext/ext.h"
#include "ext/jiffies.h"
#include "language/xtutil.h"
#include "model/model.h"

#define LIMIT_SCALE 10000u /* XT_LIMIT_SCALE */
#define LIMIT_BURST 5
/* The kernel's HZ * CREDITS_PER_JIFFY (HZ 250 or 1000 both give 32000). */
#define LIMIT_HZ_CPJ 32000u
/* CREDITS_PER_JIFFY for HZ 250: the power of two below 0xFFFFFFFF / (HZ * 86400) = 198. */
#define LIMIT_CPJ (LIMIT_HZ_CPJ / PF_HZ)

/* The kernel's struct xt_rateinfo: avg and burst are the user's; the rest is the kernel's
 * running state, not part of rule comparison. */
struct limit_info {
	uint32_t avg;	/* period between packets, in 1/LIMIT_SCALE seconds */
	uint32_t burst; /* bucket size */
	uint64_t prev;	/* kernel state from here on */
	uint32_t credit;
	uint32_t credit_cap, cost;
};

enum { O_LIMIT, O_BURST };

static const struct pf_ext_option limit_opts[] = {
    {"limit", O_LIMIT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"limit-burst", O_BURST, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

/* libxt_limit's parse_rate: "N[/second|minute|hour|day]" (unit by any prefix, any case,
 * N as atoi reads it). 0: not a rate; 1: ok; -1: the rate maps to infinity. */
static int parse_rate(const char *rate, uint32_t *val)
{
	uint32_t mult = 1;
	const char *delim = strchr(rate, '/');
	if (delim) {
		const char *u = delim + 1;
		size_t n = strlen(u);
		if (n == 0)
			return 0;
		if (strncasecmp(u, "second", n) == 0)
			mult = 1;
		else if (strncasecmp(u, "minute", n) == 0)
			mult = 60;
		else if (strncasecmp(u, "hour", n) == 0)
			mult = 60 * 60;
		else if (strncasecmp(u, "day", n) == 0)
			mult = 24 * 60 * 60;
		else
			return 0;
	}
	uint32_t r = (uint32_t)(int)strtol(rate, NULL, 10);
	if (r == 0)
		return 0;
	*val = LIMIT_SCALE * mult / r;
	return *val == 0 ? -1 : 1;
}

static void limit_init(void *data)
{
	struct limit_info *r = data;
	parse_rate("3/hour", &r->avg);
	r->burst = LIMIT_BURST;
}

static int limit_parse(struct pf_parse_ctx *ctx)
{
	struct limit_info *r = ctx->data;
	const char *name = ctx->id == O_LIMIT ? "limit" : "limit-burst";
	if (pf_xt_opt_check(ctx->err, "limit", name, ctx->seen & (1u << ctx->id), ctx->invert,
			    false))
		return -1;
	if (ctx->id == O_BURST) {
		uint64_t v;
		if (pf_xt_parse_uint(ctx->arg, "limit", "limit-burst", 0, 10000, &v, ctx->err))
			return -1;
		r->burst = (uint32_t)v;
		return 0;
	}
	int rc = parse_rate(ctx->arg, &r->avg);
	if (rc == 0)
		return pf_err_param(ctx->err, "bad rate \"%s\"'", ctx->arg);
	if (rc < 0)
		return pf_err_param(ctx->err, "Rate too fast \"%s\"", ctx->arg);
	return 0;
}

static const struct {
	const char *name;
	uint32_t mult;
} rates[] = {{"day", LIMIT_SCALE * 24 * 60 * 60},
	     {"hour", LIMIT_SCALE * 60 * 60},
	     {"min", LIMIT_SCALE * 60},
	     {"sec", LIMIT_SCALE}};

static void put_rate(struct pf_strbuf *out, uint32_t period)
{
	unsigned i;
	if (period == 0) {
		pf_sb_puts(out, " inf");
		return;
	}
	for (i = 1; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (period > rates[i].mult || rates[i].mult / period < rates[i].mult % period)
			break;
	pf_sb_printf(out, " %u/%s", rates[i - 1].mult / period, rates[i - 1].name);
}

static void limit_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct limit_info *r = ctx->data;
	pf_sb_puts(out, " --limit");
	put_rate(out, r->avg);
	if (r->burst != LIMIT_BURST)
		pf_sb_printf(out, " --limit-burst %u", r->burst);
}

static void limit_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct limit_info *r = ctx->data;
	pf_sb_puts(out, " limit: avg");
	put_rate(out, r->avg);
	pf_sb_printf(out, " burst %u", r->burst);
}

/* The kernel's user2credits (32-bit arithmetic). */
static uint32_t user2credits(uint32_t user)
{
	if (user > 0xFFFFFFFFu / LIMIT_HZ_CPJ)
		return (user / LIMIT_SCALE) * LIMIT_HZ_CPJ;
	return (user * LIMIT_HZ_CPJ) / LIMIT_SCALE;
}

/* xt_limit's checkentry: a zero burst, or avg * burst overflowing, is ERANGE. */
static int limit_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			     unsigned hooks)
{
	const struct limit_info *r = data;
	(void)rule;
	(void)table;
	(void)hooks;
	if (r->burst == 0 || user2credits(r->avg * r->burst) < user2credits(r->avg))
		return ERANGE;
	return 0;
}

/*
 * Evaluation: xt_limit's token bucket, in the kernel's 32-bit arithmetic. The bucket holds
 * `credit`, at most credit_cap = user2credits(avg * burst); a jiffy adds CREDITS_PER_JIFFY
 * (128); a matching packet costs user2credits(avg). The increase is computed as
 * (now - prev) * 128 truncated to 32 bits and added with 32-bit wrap-around, as the kernel
 * does (so an idle time of 2^25 jiffies, 37 hours, wraps).
 *
 * The kernel fills the bucket and sets prev = jiffies when the rule is inserted; the engine
 * has no clock then, so the rule is taken to be inserted at the first packet that reaches
 * the match (the bucket is full at that moment either way). Like the kernel, which starts
 * a new bucket whenever the table is replaced, a newly compiled engine starts full buckets.
 *
 * The bucket is the rule's: the engines of a state domain (pktfiltd's workers) share it, as
 * the kernel's CPUs share the rule's under its spinlock (here the bucket's lock, taken only
 * when it is shared), so that --limit 5/s lets 5 packets a second through in all.
 */
struct limit_state {
	bool started;
	uint64_t prev; /* jiffies of the last update */
	uint32_t credit, credit_cap, cost;
};

static int limit_state_init(struct pf_engine *e, const void *data, void *state)
{
	const struct limit_info *r = data;
	struct limit_state *st = state;
	(void)e;
	st->credit_cap = user2credits(r->avg * r->burst);
	st->credit = st->credit_cap;
	st->cost = user2credits(r->avg);
	return 0;
}

static bool limit_match(struct pf_eval *ev, const void *data, void *state)
{
	struct limit_state *st = state;
	uint64_t now = pf_jiffies(ev);
	(void)data;
	pf_state_lock(st);
	if (!st->started) {
		st->started = true;
		st->prev = now;
	}
	uint32_t credit = st->credit + (uint32_t)((now - st->prev) * LIMIT_CPJ);
	st->prev = now;
	if (credit > st->credit_cap)
		credit = st->credit_cap;
	bool ok = credit >= st->cost;
	if (ok)
		credit -= st->cost;
	st->credit = credit;
	pf_state_unlock(st);
	return ok;
}

const struct pf_ext pf_match_limit = {
    .name = "limit",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct limit_info),
    .cmp_size = offsetof(struct limit_info, prev),
    .options = limit_opts,
    .init = limit_init,
    .parse = limit_parse,
    .save = limit_save,
    .print = limit_print,
    .check_entry = limit_check_entry,
    .match = limit_match,
    .state_size = sizeof(struct limit_state),
    .state_init = limit_state_init,
    .state_shared = true,
};
