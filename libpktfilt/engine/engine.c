/*
 * engine.c - compile a rule set and judge packets as the kernel's ip_tables does: tables in
 * netfilter priority order at each hook, and within a table the traversal of ipt_do_table
 * (first matching rule, counters, standard verdicts, jump with a return stack, goto without,
 * RETURN, falling off a user chain, the built-in chain's policy, hotdrop).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/eval.h"
#include "util/error.h"

#define PF_MAX_DEPTH 1024 /* the kernel's stack is the number of jumps; ours is bounded */

struct shared_obj {
	char key[96];
	void (*destroy)(void *obj);
	struct shared_obj *next;
	/* object bytes follow */
};

struct chain_index {
	struct pf_chain *chain;
	void *mstate;
};

struct pf_engine {
	pf_ruleset *rs; /* private copy; rule counters live in it */
	struct pf_engine_config cfg;
	const struct pf_matcher_ops *matcher;
	struct chain_index *chains; /* every chain of every table */
	size_t nchains;
	bool conntrack; /* some rule needs connection tracking */
	uint64_t rng;
	struct shared_obj *shared;
};

/* Table order at each hook: the kernel's priorities (raw -300, mangle -150, nat dst -100,
 * filter 0, security 50, nat src 100). Indexes into pf_table_defs. */
enum { T_RAW, T_MANGLE, T_NAT, T_FILTER, T_SECURITY };
static const int hook_tables[PF_HOOK_COUNT][6] = {
	[PF_HOOK_PRE_ROUTING] = {T_RAW, T_MANGLE, T_NAT, -1},
	[PF_HOOK_LOCAL_IN] = {T_MANGLE, T_FILTER, T_SECURITY, T_NAT, -1},
	[PF_HOOK_FORWARD] = {T_MANGLE, T_FILTER, T_SECURITY, -1},
	[PF_HOOK_LOCAL_OUT] = {T_RAW, T_MANGLE, T_NAT, T_FILTER, T_SECURITY, -1},
	[PF_HOOK_POST_ROUTING] = {T_MANGLE, T_NAT, -1},
};

uint32_t pf_eval_random(struct pf_eval *ev)
{
	/* xorshift64*: deterministic for a seed. */
	uint64_t x = ev->engine->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ev->engine->rng = x;
	return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

void *pf_engine_shared(struct pf_engine *e, const char *kind, const char *name, size_t size,
		       void (*destroy)(void *obj))
{
	char key[96];
	snprintf(key, sizeof(key), "%s/%s", kind, name);
	for (struct shared_obj *o = e->shared; o; o = o->next)
		if (strcmp(o->key, key) == 0)
			return o + 1;
	struct shared_obj *o = calloc(1, sizeof(*o) + size);
	if (!o)
		return NULL;
	snprintf(o->key, sizeof(o->key), "%s", key);
	o->destroy = destroy;
	o->next = e->shared;
	e->shared = o;
	return o + 1;
}

void pf_eval_log(struct pf_eval *ev, int level, const char *prefix, const char *line)
{
	if (ev->engine->cfg.log_sink)
		ev->engine->cfg.log_sink(ev->engine->cfg.log_opaque, level, prefix, line);
}

/* ---- matching the ipt_ip part ---- */

static bool iface_differs(const char *rule, uint8_t plus, const char *dev)
{
	if (rule[0] == '\0')
		return false; /* no name: every interface */
	size_t n = strlen(rule);
	if (plus)
		return strncmp(rule, dev, n - 1) != 0;
	return strcmp(rule, dev) != 0;
}

#define FWINV(cond, flag) ((bool)(cond) ^ !!(ip->invflags & (flag)))

static bool ip_matches(const struct pf_ipt_ip *ip, const struct pf_eval *ev)
{
	const struct pf_packet *p = ev->pkt;
	if (FWINV((p->saddr & ip->smsk) != ip->src, PF_INV_SRCIP) ||
	    FWINV((p->daddr & ip->dmsk) != ip->dst, PF_INV_DSTIP))
		return false;
	if (FWINV(iface_differs(ip->iniface, ip->iniface_plus, ev->in), PF_INV_VIA_IN))
		return false;
	if (FWINV(iface_differs(ip->outiface, ip->outiface_plus, ev->out), PF_INV_VIA_OUT))
		return false;
	if (ip->proto && FWINV(p->proto != ip->proto, PF_INV_PROTO))
		return false;
	if (FWINV((ip->flags & PF_F_FRAG) && p->fragoff == 0, PF_INV_FRAG))
		return false;
	return true;
}

bool pf_rule_matches(const struct pf_rule *r, struct pf_eval *ev)
{
	if (!ip_matches(&r->ip, ev))
		return false;
	ev->rule = r;
	for (unsigned i = 0; i < r->nmatches; i++) {
		const struct pf_ext_inst *m = &r->matches[i];
		if (!m->ext->match || !m->ext->match(ev, m->data, m->state))
			return false;
	}
	return true;
}

/* ---- the linear matcher ---- */

static int linear_build(struct pf_engine *e, struct pf_chain *c, void **state)
{
	(void)e;
	(void)c;
	*state = NULL;
	return 0;
}

static void linear_destroy(void *state)
{
	(void)state;
}

static size_t linear_next(void *state, const struct pf_chain *c, size_t pos, struct pf_eval *ev)
{
	(void)state;
	for (; pos < c->nrules; pos++) {
		if (pf_rule_matches(c->rules[pos], ev))
			return pos;
		if (ev->hotdrop)
			return c->nrules;
	}
	return c->nrules;
}

const struct pf_matcher_ops pf_matcher_linear = {"linear", linear_build, linear_destroy,
						 linear_next};

/* ---- compile ---- */

static int init_inst(struct pf_engine *e, struct pf_ext_inst *inst, struct pf_error *err)
{
	if (inst->ext->needs_conntrack)
		e->conntrack = true;
	if (!inst->ext->state_size)
		return 0;
	inst->state = calloc(1, inst->ext->state_size);
	if (!inst->state)
		return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "Memory allocation problem");
	if (inst->ext->state_init && inst->ext->state_init(e, inst->data, inst->state)) {
		free(inst->state);
		inst->state = NULL;
		return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
				  "cannot initialise %s state", inst->ext->name);
	}
	return 0;
}

static void free_inst(struct pf_engine *e, struct pf_ext_inst *inst)
{
	if (!inst->state)
		return;
	if (inst->ext->state_free)
		inst->ext->state_free(e, inst->state);
	free(inst->state);
	inst->state = NULL;
}

static void for_each_inst(struct pf_engine *e, void (*fn)(struct pf_engine *, struct pf_ext_inst *))
{
	for (int t = 0; t < PF_NTABLES; t++) {
		struct pf_table *tb = &e->rs->tables[t];
		for (size_t c = 0; c < tb->nchains; c++) {
			struct pf_chain *ch = tb->chains[c];
			for (size_t k = 0; k < ch->nrules; k++) {
				struct pf_rule *r = ch->rules[k];
				for (unsigned m = 0; m < r->nmatches; m++)
					fn(e, &r->matches[m]);
				if (r->tkind == PF_TARGET_EXT)
					fn(e, &r->target);
			}
		}
	}
}

void pf_engine_free(pf_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nchains; i++)
		if (e->matcher && e->chains[i].mstate)
			e->matcher->destroy(e->chains[i].mstate);
	free(e->chains);
	if (e->rs)
		for_each_inst(e, free_inst);
	while (e->shared) {
		struct shared_obj *o = e->shared;
		e->shared = o->next;
		if (o->destroy)
			o->destroy(o + 1);
		free(o);
	}
	pf_ruleset_free(e->rs);
	free(e);
}

static const struct pf_matcher_ops *matcher_for(enum pf_matcher_kind kind)
{
	switch (kind) {
	case PF_MATCHER_LINEAR:
	default:
		return &pf_matcher_linear;
	}
}

pf_engine *pf_engine_new(const pf_ruleset *rs, const struct pf_engine_config *cfg,
			 struct pf_error *err)
{
	struct pf_error local;
	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	pf_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "Memory allocation problem");
		return NULL;
	}
	if (cfg)
		e->cfg = *cfg;
	e->rng = e->cfg.random_seed * 0x9E3779B97F4A7C15ULL + 0x1234567u;
	if (!e->rng)
		e->rng = 1;
	e->matcher = matcher_for(e->cfg.matcher);
	e->rs = pf_ruleset_clone(rs);
	if (!e->rs) {
		pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "Memory allocation problem");
		goto fail;
	}
	for (int t = 0; t < PF_NTABLES; t++) {
		struct pf_table *tb = &e->rs->tables[t];
		if (pf_table_check(tb, err))
			goto fail;
		for (size_t c = 0; c < tb->nchains; c++) {
			struct pf_chain *ch = tb->chains[c];
			for (size_t k = 0; k < ch->nrules; k++) {
				struct pf_rule *r = ch->rules[k];
				for (unsigned m = 0; m < r->nmatches; m++)
					if (init_inst(e, &r->matches[m], err))
						goto fail;
				if (r->tkind == PF_TARGET_EXT && init_inst(e, &r->target, err))
					goto fail;
			}
			struct chain_index *ci =
				realloc(e->chains, (e->nchains + 1) * sizeof(*e->chains));
			if (!ci) {
				pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
					   "Memory allocation problem");
				goto fail;
			}
			e->chains = ci;
			e->chains[e->nchains].chain = ch;
			e->chains[e->nchains].mstate = NULL;
			e->nchains++;
			if (e->matcher->build(e, ch, &e->chains[e->nchains - 1].mstate)) {
				pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
					   "Memory allocation problem");
				goto fail;
			}
		}
	}
	return e;
fail:
	pf_engine_free(e);
	return NULL;
}

/* ---- traversal ---- */

static void *mstate_of(const struct pf_engine *e, const struct pf_chain *c)
{
	/* Few chains per table in practice; the linear matcher has no state at all. */
	if (e->matcher == &pf_matcher_linear)
		return NULL;
	for (size_t i = 0; i < e->nchains; i++)
		if (e->chains[i].chain == c)
			return e->chains[i].mstate;
	return NULL;
}

static void trace_add(struct pf_eval *ev, const char *table, const struct pf_chain *c, size_t pos)
{
	struct pf_eval_result *res = ev->res;
	if (!ev->engine->cfg.trace)
		return;
	if (res->ntrace >= PF_MAX_TRACE) {
		res->trace_truncated = true;
		return;
	}
	res->trace[res->ntrace].table = table;
	res->trace[res->ntrace].chain = c->name;
	res->trace[res->ntrace].rulenum = (unsigned)pos;
	res->ntrace++;
}

/* One table at one hook: ipt_do_table. Returns the verdict (PF_XT_* encoding). */
static unsigned do_table(struct pf_eval *ev, struct pf_table *t, struct pf_chain *builtin)
{
	struct {
		const struct pf_chain *chain;
		size_t pos;
	} stack[PF_MAX_DEPTH];
	unsigned sp = 0;
	const struct pf_chain *c = builtin;
	size_t pos = 0;
	ev->table = t->def->name;
	for (;;) {
		size_t i = ev->engine->matcher->next(mstate_of(ev->engine, c), c, pos, ev);
		if (ev->hotdrop)
			return PF_NF_DROP;
		if (i >= c->nrules) {
			/* End of chain: a built-in chain's policy; a user chain returns. */
			if (sp == 0) {
				builtin->pcnt.pkts++;
				builtin->pcnt.bytes += ev->pkt->len;
				trace_add(ev, t->def->name, builtin, 0);
				return builtin->policy == PF_VERDICT_DROP ? PF_NF_DROP : PF_NF_ACCEPT;
			}
			sp--;
			c = stack[sp].chain;
			pos = stack[sp].pos;
			continue;
		}
		struct pf_rule *r = c->rules[i];
		r->cnt.pkts++;
		r->cnt.bytes += ev->pkt->len; /* skb->len now: a target may have grown it */
		trace_add(ev, t->def->name, c, i + 1);
		switch (r->tkind) {
		case PF_TARGET_NONE:
			pos = i + 1;
			break;
		case PF_TARGET_VERDICT:
			switch (r->verdict) {
			case PF_VERDICT_ACCEPT:
				return PF_NF_ACCEPT;
			case PF_VERDICT_DROP:
				return PF_NF_DROP;
			case PF_VERDICT_QUEUE:
				return PF_XT_QUEUE(0, false);
			case PF_VERDICT_RETURN:
			default:
				if (sp == 0) {
					/* RETURN at the top of a built-in chain: its policy. */
					builtin->pcnt.pkts++;
					builtin->pcnt.bytes += ev->pkt->len;
					trace_add(ev, t->def->name, builtin, 0);
					return builtin->policy == PF_VERDICT_DROP ? PF_NF_DROP
										  : PF_NF_ACCEPT;
				}
				sp--;
				c = stack[sp].chain;
				pos = stack[sp].pos;
				break;
			}
			break;
		case PF_TARGET_CHAIN:
			if (!(r->ip.flags & PF_F_GOTO)) {
				if (sp >= PF_MAX_DEPTH)
					return PF_NF_DROP;
				stack[sp].chain = c;
				stack[sp].pos = i + 1;
				sp++;
			}
			c = r->jump;
			pos = 0;
			break;
		case PF_TARGET_EXT: {
			ev->rule = r;
			unsigned v = r->target.ext->target
					     ? r->target.ext->target(ev, r->target.data, r->target.state)
					     : PF_XT_CONTINUE;
			if (ev->hotdrop)
				return PF_NF_DROP;
			if (v != PF_XT_CONTINUE)
				return v;
			pos = i + 1;
			break;
		}
		}
	}
}

int pf_engine_eval(pf_engine *e, enum pf_nf_hook hook, uint8_t *buf, size_t len, size_t buflen,
		   const struct pf_packet_meta *meta, struct pf_eval_result *res)
{
	static const struct pf_packet_meta nometa;
	struct pf_packet pkt;
	res->verdict = PF_NF_DROP;
	res->queue_num = 0;
	res->queue_bypass = false;
	res->ntrace = 0;
	res->trace_truncated = false;
	res->reply_len = 0;
	res->mark_changed = false;
	res->packet_changed = false;
	if (!meta)
		meta = &nometa;
	res->priority = meta->classify;
	if ((unsigned)hook >= PF_HOOK_COUNT ||
	    pf_packet_parse(&pkt, buf, len) != PF_PKT_OK) {
		res->len = len;
		return -1;
	}
	struct pf_eval ev = {
		.pkt = &pkt,
		.buflen = buflen,
		.meta = meta,
		.res = res,
		.engine = e,
		.hook = hook,
		.in = meta->in_iface ? meta->in_iface : "",
		.out = meta->out_iface ? meta->out_iface : "",
		.mark = meta->mark,
		.ctmark = meta->ctmark,
	};
	unsigned v = PF_NF_ACCEPT;
	for (int k = 0; hook_tables[hook][k] >= 0; k++) {
		int ti = hook_tables[hook][k];
		struct pf_table *t = &e->rs->tables[ti];
		/* A table nobody used is not instantiated in the kernel: it sees nothing. */
		if (!t->touch_seq)
			continue;
		/* Without connection tracking the nat hooks see nothing; with it, only the first
		 * packet of a connection. */
		if (ti == T_NAT && (!e->conntrack || ev.untracked || !(meta->ct_state & PF_CT_NEW)))
			continue;
		struct pf_chain *builtin = NULL;
		for (size_t c = 0; c < t->nbuiltin; c++)
			if (t->chains[c]->hook == hook)
				builtin = t->chains[c];
		if (!builtin)
			continue;
		v = do_table(&ev, t, builtin);
		if ((v & 0xff) != PF_NF_ACCEPT)
			break;
	}
	res->verdict = (enum pf_nf_verdict)(v & 0xff);
	if (res->verdict == PF_NF_QUEUE) {
		res->queue_num = (uint16_t)(v >> 16);
		res->queue_bypass = (v & 0x8000u) != 0;
	}
	res->mark_changed = ev.mark != meta->mark || ev.ctmark != meta->ctmark;
	res->mark = ev.mark;
	res->ctmark = ev.ctmark;
	res->len = pkt.len;
	return 0;
}

bool pf_engine_uses_conntrack(const pf_engine *e)
{
	return e->conntrack;
}

int pf_engine_counters_to_ruleset(const pf_engine *e, pf_ruleset *rs)
{
	for (int t = 0; t < PF_NTABLES; t++) {
		struct pf_table *src = &e->rs->tables[t], *dst = &rs->tables[t];
		for (size_t c = 0; c < src->nchains; c++) {
			struct pf_chain *sc = src->chains[c];
			struct pf_chain *dc = pf_chain_find(dst, sc->name);
			if (!dc || dc->nrules != sc->nrules)
				return -1;
			dc->pcnt = sc->pcnt;
			for (size_t k = 0; k < sc->nrules; k++)
				dc->rules[k]->cnt = sc->rules[k]->cnt;
		}
	}
	return 0;
}

int pf_engine_save(const pf_engine *e, unsigned flags, FILE *out, struct pf_error *err)
{
	return pf_ruleset_save(e->rs, NULL, flags, out, err);
}
