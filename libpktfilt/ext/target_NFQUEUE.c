/*
 * target_NFQUEUE.c - -j NFQUEUE: hand packets to a user-space queue (revision 3:
 * --queue-num, --queue-balance FIRST:LAST, --queue-bypass, --queue-cpu-fanout). Any table.
 */
#include <errno.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum {
	O_QUEUE_NUM = 0,
	O_QUEUE_BALANCE,
	O_QUEUE_BYPASS,
	O_QUEUE_CPU_FANOUT,
};
#define F(o) (1ull << (o))

#define NFQ_FLAG_BYPASS 0x01
#define NFQ_FLAG_CPU_FANOUT 0x02

/* struct xt_NFQ_info_v3 */
struct nfq_data {
	uint16_t queuenum;
	uint16_t queues_total;
	uint16_t flags;
};

static const struct pf_ext_option nfq_opts[] = {
    {"queue-num", O_QUEUE_NUM, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"queue-balance", O_QUEUE_BALANCE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"queue-bypass", O_QUEUE_BYPASS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"queue-cpu-fanout", O_QUEUE_CPU_FANOUT, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec nfq_specs[] = {
    {"queue-num", O_QUEUE_NUM, F(O_QUEUE_BALANCE), 0, false},
    {"queue-balance", O_QUEUE_BALANCE, F(O_QUEUE_NUM), 0, false},
    {"queue-bypass", O_QUEUE_BYPASS, 0, 0, false},
    {"queue-cpu-fanout", O_QUEUE_CPU_FANOUT, 0, F(O_QUEUE_BALANCE), false},
    {.name = NULL},
};

static void nfq_init(void *data)
{
	struct nfq_data *d = data;
	d->queues_total = 1;
}

static int nfq_parse(struct pf_parse_ctx *ctx)
{
	struct nfq_data *d = ctx->data;
	uint64_t v, r[2];
	unsigned n;
	if (pf_xt_opt_check(ctx->err, "NFQUEUE", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	switch (ctx->id) {
	case O_QUEUE_NUM:
		if (pf_xt_parse_uint(ctx->arg, "NFQUEUE", ctx->name, 0, 65535, &v, ctx->err))
			return -1;
		d->queuenum = (uint16_t)v;
		break;
	case O_QUEUE_BALANCE:
		if (pf_xt_parse_mint(ctx->arg, "NFQUEUE", ctx->name, 65535, 2, r, &n, ctx->err))
			return -1;
		if (n != 2)
			return pf_err_param(ctx->err, "Bad range \"%s\"", ctx->arg);
		if (r[0] >= r[1])
			return pf_err_param(ctx->err, "%u should be less than %u", (unsigned)r[0],
					    (unsigned)r[1]);
		d->queuenum = (uint16_t)r[0];
		d->queues_total = (uint16_t)(r[1] - r[0] + 1);
		break;
	case O_QUEUE_BYPASS:
		d->flags |= NFQ_FLAG_BYPASS;
		break;
	case O_QUEUE_CPU_FANOUT:
		d->flags |= NFQ_FLAG_CPU_FANOUT;
		break;
	}
	return 0;
}

static int nfq_final_check(struct pf_parse_ctx *ctx)
{
	return pf_xt_options_fcheck("NFQUEUE", nfq_specs, ctx->seen, ctx->err);
}

static void nfq_out(const struct nfq_data *d, struct pf_strbuf *out, bool save)
{
	unsigned last = d->queues_total;
	if (last > 1) {
		last += d->queuenum - 1u;
		pf_sb_printf(out, save ? " --queue-balance %u:%u" : " NFQUEUE balance %u:%u",
			     d->queuenum, last);
	} else {
		pf_sb_printf(out, save ? " --queue-num %u" : " NFQUEUE num %u", d->queuenum);
	}
	if (d->flags & NFQ_FLAG_BYPASS)
		pf_sb_puts(out, save ? " --queue-bypass" : " bypass");
	if (d->flags & NFQ_FLAG_CPU_FANOUT)
		pf_sb_puts(out, save ? " --queue-cpu-fanout" : " cpu-fanout");
}

static void nfq_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	nfq_out(ctx->data, out, true);
}

static void nfq_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	nfq_out(ctx->data, out, false);
}

static int nfq_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			   unsigned hooks)
{
	const struct nfq_data *d = data;
	(void)rule;
	(void)table;
	(void)hooks;
	if (d->queues_total == 0)
		return EINVAL;
	if ((uint32_t)d->queuenum + d->queues_total - 1 > 0xffff)
		return ERANGE;
	if (d->flags & ~(NFQ_FLAG_BYPASS | NFQ_FLAG_CPU_FANOUT))
		return EINVAL;
	return 0;
}

static uint32_t rol32(uint32_t w, unsigned s)
{
	return (w << s) | (w >> (32 - s));
}

/* jhash_3words() of include/linux/jhash.h (Bob Jenkins' lookup3 final mix). */
static uint32_t jhash_3words(uint32_t a, uint32_t b, uint32_t c, uint32_t initval)
{
	uint32_t iv = initval + 0xdeadbeefu + (3u << 2);
	a += iv;
	b += iv;
	c += iv;
	c ^= b;
	c -= rol32(b, 14);
	a ^= c;
	a -= rol32(c, 11);
	b ^= a;
	b -= rol32(a, 25);
	c ^= b;
	c -= rol32(b, 16);
	a ^= c;
	a -= rol32(c, 4);
	b ^= a;
	b -= rol32(a, 14);
	c ^= b;
	c -= rol32(b, 24);
	return c;
}

/*
 * The hash the kernel uses for the initial value. The kernel draws it at random when the
 * first NFQUEUE rule with a balance range is loaded, so the queue a flow lands on differs
 * from boot to boot: we use 0, which gives the same spreading properties (both directions of
 * a flow on one queue, queues chosen by address pair and protocol) but not the same numbers.
 */
#define NFQ_JHASH_INITVAL 0u

/* nfqueue_tg_v3 with nfqueue_hash()/hash_v4(): the addresses are compared and hashed as the
 * kernel reads them (the raw big-endian words loaded as host integers). --queue-cpu-fanout
 * takes the CPU number: we run on "CPU 0", so it picks the first queue of the range. */
static unsigned nfq_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct nfq_data *d = data;
	uint32_t queue = d->queuenum;
	(void)state;
	if (d->queues_total > 1) {
		if (d->flags & NFQ_FLAG_CPU_FANOUT) {
			queue = d->queuenum + 0u % d->queues_total;
		} else {
			uint32_t s = ev->pkt->saddr, t = ev->pkt->daddr, h;
			if (s < t)
				h = jhash_3words(s, t, ev->pkt->proto, NFQ_JHASH_INITVAL);
			else
				h = jhash_3words(t, s, ev->pkt->proto, NFQ_JHASH_INITVAL);
			queue += (uint32_t)(((uint64_t)h * d->queues_total) >> 32);
		}
	}
	return PF_XT_QUEUE(queue & 0xffff, (d->flags & NFQ_FLAG_BYPASS) != 0);
}

const struct pf_ext pf_target_NFQUEUE = {
    .name = "NFQUEUE",
    .kind = PF_EXT_TARGET,
    .revision = 3,
    .data_size = sizeof(struct nfq_data),
    .options = nfq_opts,
    .init = nfq_init,
    .parse = nfq_parse,
    .final_check = nfq_final_check,
    .save = nfq_save,
    .print = nfq_print,
    .check_entry = nfq_check_entry,
    .target = nfq_target,
};
