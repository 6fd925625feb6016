/*
 * engine.c - compile a rule set and judge packets as the kernel's ip_tables does: tables in
 * netfilter priority order at each hook, and within a table the traversal of ipt_do_table
 * (first matching rule, counters, standard verdicts, jump with a return stack, goto without,
 * RETURN, falling off a user chain, the built-in chain's policy, hotdrop).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/eval.h"
#include "engine/state_domain.h"
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

/* A chain's matcher state, found by the chain's address at every jump. */
struct chain_ref {
	const struct pf_chain *chain;
	void *mstate;
};

struct pf_engine {
	pf_ruleset *rs; /* private copy; rule counters live in it (rule order: see sync_all) */
	struct pf_engine_config cfg;
	const struct pf_matcher_ops *matcher;
	struct chain_index *chains; /* every chain of every table */
	size_t nchains, chains_cap;
	struct chain_ref *chain_map; /* open addressing on the chain pointer (NULL: free) */
	size_t map_cap;
	uint32_t chains_gen; /* changes whenever a chain's matcher state does (pf_eval) */
	uint64_t scans;	     /* pf_eval.scans of every packet (statistics) */
	/* pf_engine_eval_batch: whether looking ahead pays, measured (moving averages of the
	 * wall time per packet, in ns/16, without [0] and with [1] it; 0: not measured yet). */
	uint32_t la_calls;
	uint32_t la_cost[2];
	bool conntrack;	   /* some rule needs connection tracking */
	size_t nconntrack; /* instances that need it */
	uint64_t rng;
	struct shared_obj *shared;
	uint64_t inst_serial; /* init_inst() calls so far: an instance's number (state domain) */
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

static void shared_put(void *ref)
{
	pf_sd_named_put(*(void **)ref);
}

void *pf_engine_shared(struct pf_engine *e, const char *kind, const char *name, size_t size,
		       void (*destroy)(void *obj))
{
	/* The engine's entry holds a reference to the object (state_domain.c: shared by the
	 * engines of the domain, if any, and locked by pf_state_lock), dropped when the engine
	 * is freed. */
	char key[96];
	snprintf(key, sizeof(key), "%s/%s", kind, name);
	for (struct shared_obj *o = e->shared; o; o = o->next)
		if (strcmp(o->key, key) == 0)
			return *(void **)(o + 1);
	struct shared_obj *o = calloc(1, sizeof(*o) + sizeof(void *));
	void *obj = o ? pf_sd_named_get(e->cfg.state_domain, key, size, destroy) : NULL;
	if (!obj) {
		free(o);
		return NULL;
	}
	*(void **)(o + 1) = obj;
	snprintf(o->key, sizeof(o->key), "%s", key);
	o->destroy = shared_put;
	o->next = e->shared;
	e->shared = o;
	return obj;
}

const struct pf_engine_config *pf_eval_config(const struct pf_eval *ev)
{
	return &ev->engine->cfg;
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

/* Cursors are positions. */
static struct pf_rule *linear_next(void *state, const struct pf_chain *c, uint64_t *cur,
				   struct pf_eval *ev)
{
	(void)state;
	for (size_t pos = (size_t)*cur; pos < c->nrules; pos++) {
		if (pf_rule_matches(c->rules[pos], ev)) {
			*cur = pos + 1;
			return c->rules[pos];
		}
		if (ev->hotdrop)
			return NULL;
	}
	*cur = c->nrules;
	return NULL;
}

static unsigned linear_rulenum(void *state, const struct pf_chain *c, uint64_t cur)
{
	(void)state;
	(void)c;
	return (unsigned)cur;
}

/* The order is c->rules itself (as pf_chain_insert_rule, without reference counts). */
static int linear_insert(void *state, struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	(void)state;
	if (pos > c->nrules)
		return -1;
	if (c->nrules == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct pf_rule **v = realloc(c->rules, cap * sizeof(*v));
		if (!v)
			return -1;
		c->rules = v;
		c->cap = cap;
	}
	memmove(&c->rules[pos + 1], &c->rules[pos], (c->nrules - pos) * sizeof(*c->rules));
	c->rules[pos] = r;
	c->nrules++;
	return 0;
}

static struct pf_rule *linear_remove(void *state, struct pf_chain *c, size_t pos)
{
	(void)state;
	if (pos >= c->nrules)
		return NULL;
	struct pf_rule *r = c->rules[pos];
	memmove(&c->rules[pos], &c->rules[pos + 1], (c->nrules - pos - 1) * sizeof(*c->rules));
	c->nrules--;
	return r;
}

static struct pf_rule *linear_replace(void *state, struct pf_chain *c, size_t pos,
				      struct pf_rule *r)
{
	(void)state;
	if (pos >= c->nrules)
		return NULL;
	struct pf_rule *old = c->rules[pos];
	c->rules[pos] = r;
	return old;
}

static size_t linear_count(const void *state, const struct pf_chain *c)
{
	(void)state;
	return c->nrules;
}

static struct pf_rule *linear_rule_at(const void *state, const struct pf_chain *c, size_t pos)
{
	(void)state;
	return pos < c->nrules ? c->rules[pos] : NULL;
}

static int linear_sync(void *state, struct pf_chain *c)
{
	(void)state;
	(void)c;
	return 0;
}

static size_t linear_memory(const void *state, size_t *ntables, struct pf_matcher_counts *st)
{
	(void)state;
	(void)ntables;
	(void)st;
	return 0;
}

const struct pf_matcher_ops pf_matcher_linear = {
    .name = "linear",
    .build = linear_build,
    .destroy = linear_destroy,
    .next = linear_next,
    .rulenum = linear_rulenum,
    .insert = linear_insert,
    .remove = linear_remove,
    .replace = linear_replace,
    .count = linear_count,
    .rule_at = linear_rule_at,
    .sync = linear_sync,
    .memory = linear_memory,
};

/* ---- compile ---- */

static int init_inst(struct pf_engine *e, struct pf_ext_inst *inst, struct pf_error *err)
{
	/* Every instance gets a number, whatever its extension: engines compiled from one rule
	 * set and given the same changes number the same rule the same way (state domain). */
	uint64_t serial = e->inst_serial++;
	if (inst->ext->needs_conntrack) {
		e->nconntrack++;
		e->conntrack = true;
	}
	if (!inst->ext->state_size)
		return 0;
	if (inst->ext->state_shared) {
		int rc = pf_sd_rule_state_get(e->cfg.state_domain, e->cfg.state_epoch, serial,
					      inst->ext, inst->data, e, &inst->state);
		if (rc == 0)
			return 0;
		inst->state = NULL;
		if (rc == -2)
			return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
					  "cannot initialise %s state", inst->ext->name);
		return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
				  "Memory allocation problem");
	}
	inst->state = calloc(1, inst->ext->state_size);
	if (!inst->state)
		return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
				  "Memory allocation problem");
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
	if (inst->ext->state_shared) {
		pf_sd_rule_state_put(inst->ext, e, inst->state); /* the last reference frees it */
	} else {
		if (inst->ext->state_free)
			inst->ext->state_free(e, inst->state);
		free(inst->state);
	}
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

/* ---- chains and their matcher state ---- */

static size_t chain_hash(const struct pf_chain *c, size_t cap)
{
	uint64_t x = (uint64_t)(uintptr_t)c * 0x9E3779B97F4A7C15ULL;
	return (size_t)(x >> 20) & (cap - 1);
}

static void map_put(struct pf_engine *e, const struct pf_chain *c, void *ms)
{
	size_t m = e->map_cap - 1, i = chain_hash(c, e->map_cap);
	while (e->chain_map[i].chain && e->chain_map[i].chain != c)
		i = (i + 1) & m;
	e->chain_map[i].chain = c;
	e->chain_map[i].mstate = ms;
}

static int map_rebuild(struct pf_engine *e, size_t cap)
{
	struct chain_ref *m = calloc(cap, sizeof(*m));
	if (!m)
		return -1;
	free(e->chain_map);
	e->chain_map = m;
	e->map_cap = cap;
	for (size_t i = 0; i < e->nchains; i++)
		map_put(e, e->chains[i].chain, e->chains[i].mstate);
	return 0;
}

/* A chain's matcher state is about to change: what matchers keep of other chains' states
 * (pf_eval.jump_state) is stale from now on. */
static void bump_gen(struct pf_engine *e)
{
	if (++e->chains_gen == 0) {
		/* wrapped: a stale generation could look current again */
		e->chains_gen = 1;
		for (size_t i = 0; i < e->nchains; i++)
			if (e->matcher->forget && e->chains[i].mstate)
				e->matcher->forget(e->chains[i].mstate);
	}
}

/* Add chain c and build its matcher state. */
static int chain_register(struct pf_engine *e, struct pf_chain *c)
{
	if (e->nchains == e->chains_cap) {
		size_t cap = e->chains_cap ? e->chains_cap * 2 : 16;
		struct chain_index *v = realloc(e->chains, cap * sizeof(*v));
		if (!v)
			return -1;
		e->chains = v;
		e->chains_cap = cap;
	}
	if ((e->nchains + 1) * 2 > e->map_cap && map_rebuild(e, e->map_cap ? e->map_cap * 2 : 32))
		return -1;
	bump_gen(e);
	struct chain_index *ci = &e->chains[e->nchains++];
	ci->chain = c;
	ci->mstate = NULL;
	int rc = e->matcher->build(e, c, &ci->mstate);
	map_put(e, c, ci->mstate);
	return rc;
}

/* Remove chain c (its rules already gone) and its matcher state. */
static int chain_unregister(struct pf_engine *e, struct pf_chain *c)
{
	for (size_t k = 0; k < e->nchains; k++) {
		if (e->chains[k].chain != c)
			continue;
		bump_gen(e);
		if (e->chains[k].mstate)
			e->matcher->destroy(e->chains[k].mstate);
		e->chains[k] = e->chains[e->nchains - 1];
		e->nchains--;
		return map_rebuild(e, e->map_cap);
	}
	return 0;
}

static void *mstate_of(const struct pf_engine *e, const struct pf_chain *c)
{
	if (e->matcher == &pf_matcher_linear || !e->map_cap)
		return NULL; /* the linear matcher has no state at all */
	size_t m = e->map_cap - 1, i = chain_hash(c, e->map_cap);
	while (e->chain_map[i].chain) {
		if (e->chain_map[i].chain == c)
			return e->chain_map[i].mstate;
		i = (i + 1) & m;
	}
	return NULL;
}

void *pf_engine_chain_state(struct pf_engine *e, const struct pf_chain *c)
{
	return mstate_of(e, c);
}

/* Write every chain's current order back to its rules array (the hashed matcher keeps its own
 * and lets c->rules lag behind single-rule changes). */
static int sync_all(struct pf_engine *e)
{
	int rc = 0;
	for (size_t i = 0; i < e->nchains; i++)
		if (e->matcher->sync(e->chains[i].mstate, e->chains[i].chain))
			rc = -1;
	return rc;
}

/* Write the counters the matcher keeps next to its index back to the rules (logically const:
 * the counters only move to where a reader looks). */
static void counters_all(struct pf_engine *e)
{
	if (!e->matcher->counters)
		return;
	for (size_t i = 0; i < e->nchains; i++)
		e->matcher->counters(e->chains[i].mstate, e->chains[i].chain);
}

void pf_engine_free(pf_engine *e)
{
	if (!e)
		return;
	if (e->matcher)
		sync_all(e);
	for (size_t i = 0; i < e->nchains; i++)
		if (e->matcher && e->chains[i].mstate)
			e->matcher->destroy(e->chains[i].mstate);
	free(e->chains);
	free(e->chain_map);
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
		return &pf_matcher_linear;
	case PF_MATCHER_HASHED:
	case PF_MATCHER_DEFAULT:
	default:
		return &pf_matcher_hashed;
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
	/* A state domain lives while an engine uses it: the engines hold a named object of it. */
	if (e->cfg.state_domain && !pf_engine_shared(e, "pf-domain", "engines", 1, NULL)) {
		pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "Memory allocation problem");
		goto fail;
	}
	e->rs = pf_ruleset_clone_packed(rs); /* each rule in one block */
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
			if (chain_register(e, ch)) {
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

/* The trace entry of the rule next() returned with cursor cur. */
static void trace_rule(struct pf_eval *ev, const char *table, const struct pf_chain *c, void *ms,
		       uint64_t cur)
{
	if (ev->engine->cfg.trace)
		trace_add(ev, table, c, ev->engine->matcher->rulenum(ms, c, cur));
}

/* One table at one hook: ipt_do_table. Returns the verdict (PF_XT_* encoding). */
static unsigned do_table(struct pf_eval *ev, struct pf_table *t, struct pf_chain *builtin)
{
	struct {
		const struct pf_chain *chain;
		void *ms;
		uint64_t cur;
	} stack[PF_MAX_DEPTH];
	unsigned sp = 0;
	const struct pf_matcher_ops *mops = ev->engine->matcher;
	const struct pf_chain *c = builtin;
	void *ms = mstate_of(ev->engine, c);
	uint64_t cur = 0; /* the matcher's cursor: where the search goes on in c */
	ev->table = t->def->name;
	for (;;) {
		ev->jump_state = NULL;
		ev->hit = NULL;
		struct pf_rule *r = mops->next(ms, c, &cur, ev);
		/* What is read of r: the matcher's copy when it keeps one (no miss on r), else
		 * the rule's own target and counters. */
		struct pf_hit own;
		struct pf_hit *h = ev->hit;
		struct pf_counters *cnt = h ? &h->cnt : NULL;
		if (r && !h) {
			pf_hit_target(&own, r); /* (own.cnt unused: the rule's own counts) */
			h = &own;
			cnt = &r->cnt;
		}
		if (ev->hotdrop) {
			/* A match may demand the drop and still say yes (sctp's inverted
			 * --chunk-types over a cut chunk): ipt_do_table then counts the rule and
			 * runs its target before it drops. */
			if (r) {
				cnt->pkts++;
				cnt->bytes += ev->pkt->len;
				trace_rule(ev, t->def->name, c, ms, cur);
				if (h->tkind == PF_TARGET_EXT && r->target.ext->target) {
					ev->rule = r;
					r->target.ext->target(ev, r->target.data, r->target.state);
				}
			}
			return PF_NF_DROP;
		}
		if (!r) {
			/* End of chain: a built-in chain's policy; a user chain returns. */
			if (sp == 0) {
				builtin->pcnt.pkts++;
				builtin->pcnt.bytes += ev->pkt->len;
				trace_add(ev, t->def->name, builtin, 0);
				return builtin->policy == PF_VERDICT_DROP ? PF_NF_DROP
									  : PF_NF_ACCEPT;
			}
			sp--;
			c = stack[sp].chain;
			ms = stack[sp].ms;
			cur = stack[sp].cur;
			continue;
		}
		cnt->pkts++;
		cnt->bytes += ev->pkt->len; /* skb->len now: a target may have grown it */
		trace_rule(ev, t->def->name, c, ms, cur);
		switch (h->tkind) {
		case PF_TARGET_NONE:
			break; /* cur is past r already */
		case PF_TARGET_VERDICT:
			switch (h->verdict) {
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
				ms = stack[sp].ms;
				cur = stack[sp].cur;
				break;
			}
			break;
		case PF_TARGET_CHAIN:
			if (!h->go_to) {
				if (sp >= PF_MAX_DEPTH)
					return PF_NF_DROP;
				stack[sp].chain = c;
				stack[sp].ms = ms;
				stack[sp].cur = cur;
				sp++;
			}
			c = h->jump;
			/* the matcher may have the target's state at hand (no lookup, no miss) */
			ms = ev->jump_state ? ev->jump_state : mstate_of(ev->engine, c);
			cur = 0;
			break;
		case PF_TARGET_EXT: {
			ev->rule = r;
			unsigned v =
			    r->target.ext->target
				? r->target.ext->target(ev, r->target.data, r->target.state)
				: PF_XT_CONTINUE;
			if (ev->hotdrop)
				return PF_NF_DROP;
			if (v != PF_XT_CONTINUE)
				return v;
			break;
		}
		}
	}
}

static const struct pf_packet_meta nometa;

/* What pf_engine_eval says before judging: nothing yet. */
static void result_init(struct pf_eval_result *res, const struct pf_packet_meta *meta)
{
	res->verdict = PF_NF_DROP;
	res->queue_num = 0;
	res->queue_bypass = false;
	res->ntrace = 0;
	res->trace_truncated = false;
	res->reply_len = 0;
	res->mark_changed = false;
	res->packet_changed = false;
	res->priority = meta->classify;
}

static void eval_init(struct pf_eval *ev, pf_engine *e, enum pf_nf_hook hook, struct pf_packet *pkt,
		      size_t buflen, const struct pf_packet_meta *meta, struct pf_eval_result *res)
{
	memset(ev, 0, sizeof(*ev)); /* (a compound literal costs a rep stos here) */
	ev->pkt = pkt;
	ev->buflen = buflen;
	ev->meta = meta;
	ev->res = res;
	ev->engine = e;
	ev->hook = hook;
	ev->in = meta->in_iface ? meta->in_iface : "";
	ev->out = meta->out_iface ? meta->out_iface : "";
	ev->mark = meta->mark;
	ev->ctmark = meta->ctmark;
	ev->chains_gen = e->chains_gen;
}

/* Does table ti see the packet at all (ev->untracked as it is now)? */
static bool table_sees(const pf_engine *e, int ti, const struct pf_table *t,
		       const struct pf_eval *ev)
{
	/* A table nobody used is not instantiated in the kernel: it sees nothing. */
	if (!t->touch_seq)
		return false;
	/* Without connection tracking the nat hooks see nothing; with it, only the first packet
	 * of a connection. */
	return ti != T_NAT || (e->conntrack && !ev->untracked && (ev->meta->ct_state & PF_CT_NEW));
}

static struct pf_chain *builtin_of(const struct pf_table *t, enum pf_nf_hook hook)
{
	struct pf_chain *builtin = NULL;
	for (size_t c = 0; c < t->nbuiltin; c++)
		if (t->chains[c]->hook == hook)
			builtin = t->chains[c];
	return builtin;
}

/* Every table at the hook, in order, for a parsed packet (res initialised). builtins: the
 * built-in chain at the hook of each table in hook_tables[hook] (NULL: none or unused), when
 * the caller has them; NULL: found here. */
static void eval_tables(pf_engine *e, struct pf_eval *ev, struct pf_chain *const *builtins)
{
	const struct pf_packet_meta *meta = ev->meta;
	struct pf_eval_result *res = ev->res;
	unsigned hook = ev->hook;
	unsigned v = PF_NF_ACCEPT;
	for (int k = 0; hook_tables[hook][k] >= 0; k++) {
		int ti = hook_tables[hook][k];
		struct pf_table *t = &e->rs->tables[ti];
		if (builtins ? !builtins[k] : !table_sees(e, ti, t, ev))
			continue;
		if (builtins && ti == T_NAT && !table_sees(e, ti, t, ev))
			continue;
		struct pf_chain *builtin =
		    builtins ? builtins[k] : builtin_of(t, (enum pf_nf_hook)hook);
		if (!builtin)
			continue;
		v = do_table(ev, t, builtin);
		if ((v & 0xff) != PF_NF_ACCEPT)
			break;
	}
	res->verdict = (enum pf_nf_verdict)(v & 0xff);
	if (res->verdict == PF_NF_QUEUE) {
		res->queue_num = (uint16_t)(v >> 16);
		res->queue_bypass = (v & 0x8000u) != 0;
	}
	res->mark_changed = ev->mark != meta->mark || ev->ctmark != meta->ctmark;
	res->mark = ev->mark;
	res->ctmark = ev->ctmark;
	res->len = ev->pkt->len;
	e->scans += ev->scans;
}

int pf_engine_eval(pf_engine *e, enum pf_nf_hook hook, uint8_t *buf, size_t len, size_t buflen,
		   const struct pf_packet_meta *meta, struct pf_eval_result *res)
{
	struct pf_packet pkt;
	if (!meta)
		meta = &nometa;
	result_init(res, meta);
	if ((unsigned)hook >= PF_HOOK_COUNT || pf_packet_parse(&pkt, buf, len) != PF_PKT_OK) {
		res->len = len;
		return -1;
	}
	struct pf_eval ev;
	eval_init(&ev, e, hook, &pkt, buflen, meta, res);
	eval_tables(e, &ev, NULL);
	return 0;
}

#ifndef PF_BATCH
#define PF_BATCH 32 /* packets looked ahead together */
#endif
#define PF_LOOKAHEAD_STEPS 10 /* passes over them, one memory level each */

/* The matcher state where the lookups of the packet in the k-th table at its hook or a later
 * one start (the built-in chain of the first such table that sees it); *k is moved to that
 * table. NULL when none is left. states: those of builtins (eval_tables). */
static void *table_state(pf_engine *e, const struct pf_eval *ev, void *const *states, int *k)
{
	for (; hook_tables[ev->hook][*k] >= 0; ++*k) {
		int ti = hook_tables[ev->hook][*k];
		if (states[*k] && (ti != T_NAT || table_sees(e, ti, &e->rs->tables[ti], ev)))
			return states[*k];
	}
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Look ahead in this call? It pays when the rule set's index and rules do not fit in the
 * caches, and costs a second lookup's work when they do: the engine measures both ways (in
 * turns over its first 16 batches) and keeps the cheaper, trying the other on one batch in 16
 * (in 128 when it is a quarter worse or more), so that it follows the rule set and the
 * traffic as they change. Batches under 8 packets follow the choice and are not measured. */
static bool la_choose(const pf_engine *e, size_t n)
{
	if (!e->matcher->lookahead)
		return false;
	if (e->la_calls < 16)
		return n >= 8 && (e->la_calls & 1);
	bool best = e->la_cost[1] < e->la_cost[0];
	uint32_t lo = best ? e->la_cost[1] : e->la_cost[0],
		 hi = best ? e->la_cost[0] : e->la_cost[1];
	uint32_t every = hi - lo > lo / 4 ? 127 : 15;
	return n >= 8 && (e->la_calls & every) == every ? !best : best;
}

static void la_account(pf_engine *e, bool used, size_t n, uint64_t ns)
{
	bool explored = e->la_calls < 16 || (e->la_cost[1] < e->la_cost[0]) != used;
	e->la_calls++;
	if (n < 8)
		return;
	uint64_t c = ns * 16 / n;
	uint32_t *avg = &e->la_cost[used];
	if (*avg && c > 4ull * *avg)
		c = 4ull * *avg; /* preempted in the middle, most likely */
	if (c > UINT32_MAX / 2)
		c = UINT32_MAX / 2;
	if (!*avg)
		*avg = (uint32_t)(c ? c : 1);
	else if (explored) /* few samples: each counts more */
		*avg = (uint32_t)((*avg + c) / 2);
	else
		*avg = (uint32_t)(*avg - *avg / 8 + c / 8);
}

static inline void la_start(struct pf_lookahead *la, void *ms)
{
	la->ms = ms;
	la->phase = 0;
	la->hops = 0;
	la->sync = false;
	la->n = 0;
}

int pf_engine_eval_batch(pf_engine *e, enum pf_nf_hook hook, struct pf_batch_item *items, size_t n)
{
	struct pf_packet pkt[PF_BATCH];
	struct pf_eval ev[PF_BATCH];
	struct pf_lookahead la[PF_BATCH];
	int tk[PF_BATCH]; /* the table looked at, in hook_tables[hook] */
	bool ok[PF_BATCH];
	int rc = 0;
	bool look = la_choose(e, n);
	uint64_t t0 = n >= 8 ? now_ns() : 0;
	/* The built-in chains at the hook and their states: the same for every packet. */
	struct pf_chain *builtins[6] = {NULL};
	void *states[6] = {NULL};
	if ((unsigned)hook < PF_HOOK_COUNT)
		for (int k = 0; hook_tables[hook][k] >= 0; k++) {
			struct pf_table *t = &e->rs->tables[hook_tables[hook][k]];
			builtins[k] = t->touch_seq ? builtin_of(t, hook) : NULL;
			states[k] = builtins[k] ? mstate_of(e, builtins[k]) : NULL;
		}
	for (size_t base = 0; base < n; base += PF_BATCH) {
		size_t m = n - base < PF_BATCH ? n - base : PF_BATCH;
		struct pf_batch_item *it = items + base;
		/* Parse every packet and find where its lookups start. Nothing of the results is
		 * written yet: the calls in order do that below. */
		uint64_t active = 0;
		for (size_t i = 0; i < m; i++) {
			const struct pf_packet_meta *meta = it[i].meta ? it[i].meta : &nometa;
			ok[i] = (unsigned)hook < PF_HOOK_COUNT &&
				pf_packet_parse(&pkt[i], it[i].buf, it[i].len) == PF_PKT_OK;
			if (!ok[i])
				continue;
			eval_init(&ev[i], e, hook, &pkt[i], it[i].buflen, meta, it[i].res);
			if (!look)
				continue;
			tk[i] = 0;
			la_start(&la[i], table_state(e, &ev[i], states, &tk[i]));
			if (la[i].ms)
				active |= 1ull << i;
		}
		/* Look ahead, one level of the index per pass: the prefetches of one pass have
		 * arrived by the next. When the guess ends in one table, it goes on in the next
		 * (most packets go through every table at the hook). */
		for (unsigned step = 0; step < PF_LOOKAHEAD_STEPS && active; step++)
			for (uint64_t a = active; a; a &= a - 1) {
				unsigned i = (unsigned)__builtin_ctzll(a);
				if (e->matcher->lookahead(&la[i], &ev[i]))
					continue;
				tk[i]++;
				la_start(&la[i], table_state(e, &ev[i], states, &tk[i]));
				if (!la[i].ms)
					active &= ~(1ull << i);
			}
		/* Judge them in order, as pf_engine_eval would one after the other. */
		for (size_t i = 0; i < m; i++) {
			const struct pf_packet_meta *meta = it[i].meta ? it[i].meta : &nometa;
			result_init(it[i].res, meta);
			if (!ok[i]) {
				it[i].res->len = it[i].len;
				it[i].rc = rc = -1;
				continue;
			}
			eval_tables(e, &ev[i], builtins);
			it[i].rc = 0;
		}
	}
	if (e->matcher->lookahead)
		la_account(e, look, n, n >= 8 ? now_ns() - t0 : 0);
	return rc;
}

bool pf_engine_uses_conntrack(const pf_engine *e)
{
	return e->conntrack;
}

int pf_engine_counters_to_ruleset(const pf_engine *e, pf_ruleset *rs)
{
	if (sync_all((pf_engine *)e)) /* the rule order as it is now (logically const) */
		return -1;
	counters_all((pf_engine *)e);
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
	if (sync_all((pf_engine *)e))
		return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
				  "Memory allocation problem");
	counters_all((pf_engine *)e);
	return pf_ruleset_save(e->rs, NULL, flags, out, err);
}

/* ---- single-rule changes to a live engine ---- */

static int nomem(struct pf_error *err)
{
	return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "Memory allocation problem");
}

static struct pf_chain *live_chain(pf_engine *e, const char *table, const char *chain,
				   struct pf_table **tp, struct pf_error *err)
{
	struct pf_table *t = table ? pf_table_get(e->rs, table) : NULL;
	if (!t) {
		pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE,
			   "can't initialize iptables table `%s'", table ? table : "");
		return NULL;
	}
	struct pf_chain *c = chain ? pf_chain_find(t, chain) : NULL;
	if (!c) {
		pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "No chain/target/match by that name");
		return NULL;
	}
	*tp = t;
	return c;
}

static void inst_fini(struct pf_engine *e, struct pf_ext_inst *inst)
{
	if (inst->ext->needs_conntrack && e->nconntrack > 0)
		e->nconntrack--;
	free_inst(e, inst);
}

/* Free a rule taken out of a live engine: its runtime state, its reference to a chain. */
static void rule_fini(struct pf_engine *e, struct pf_rule *r)
{
	for (unsigned m = 0; m < r->nmatches; m++)
		inst_fini(e, &r->matches[m]);
	if (r->tkind == PF_TARGET_EXT)
		inst_fini(e, &r->target);
	if (r->tkind == PF_TARGET_CHAIN && r->jump)
		r->jump->refcount--;
	e->conntrack = e->nconntrack > 0;
	pf_rule_free(r);
}

/* Rules chain `to' reaches through jumps and gotos include one in chain c? */
static bool reaches(struct pf_engine *e, struct pf_chain *to, const struct pf_chain *c)
{
	if (to == c)
		return true;
	size_t n = 0, cap = 16;
	struct pf_chain **stack = malloc(cap * sizeof(*stack));
	struct pf_chain **seen = NULL;
	size_t nseen = 0;
	bool found = false;
	if (!stack)
		return true; /* cannot tell: refuse */
	stack[n++] = to;
	while (n && !found) {
		struct pf_chain *x = stack[--n];
		bool dup = false;
		for (size_t i = 0; i < nseen && !dup; i++)
			dup = seen[i] == x;
		if (dup)
			continue;
		struct pf_chain **sv = realloc(seen, (nseen + 1) * sizeof(*sv));
		if (!sv) {
			found = true;
			break;
		}
		seen = sv;
		seen[nseen++] = x;
		void *ms = mstate_of(e, x);
		size_t cnt = e->matcher->count(ms, x);
		if (cnt && e->matcher->sync(ms, x)) {
			found = true;
			break;
		}
		for (size_t k = 0; k < cnt && !found; k++) {
			struct pf_rule *r = x->rules[k];
			if (r->tkind != PF_TARGET_CHAIN || !r->jump)
				continue;
			if (r->jump == c) {
				found = true;
				break;
			}
			if (n == cap) {
				struct pf_chain **v = realloc(stack, cap * 2 * sizeof(*v));
				if (!v) {
					found = true;
					break;
				}
				stack = v;
				cap *= 2;
			}
			stack[n++] = r->jump;
		}
	}
	free(stack);
	free(seen);
	return found;
}

/* A private copy of src for chain c of table t: jump resolved by name, runtime state made. */
static struct pf_rule *rule_import(struct pf_engine *e, struct pf_table *t,
				   const struct pf_chain *c, const struct pf_rule *src,
				   struct pf_error *err)
{
	if (!src) {
		pf_err_set(err, PF_ERR_PARAM, PF_STYLE_PLAIN, "no rule given");
		return NULL;
	}
	struct pf_chain *jump = NULL;
	if (src->tkind == PF_TARGET_CHAIN) {
		jump = src->jump ? pf_chain_find(t, src->jump->name) : NULL;
		if (!jump || jump->builtin) {
			pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE,
				   "No chain/target/match by that name");
			return NULL;
		}
		if (reaches(e, jump, c)) {
			pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "Too many levels of links");
			return NULL;
		}
	}
	struct pf_rule *r = pf_rule_clone_packed(src);
	if (!r) {
		nomem(err);
		return NULL;
	}
	r->jump = jump;
	unsigned ninst = r->nmatches + (r->tkind == PF_TARGET_EXT);
	for (unsigned i = 0; i < ninst; i++) {
		struct pf_ext_inst *inst = i < r->nmatches ? &r->matches[i] : &r->target;
		if (init_inst(e, inst, err)) {
			for (unsigned k = 0; k <= i; k++)
				inst_fini(e, k < r->nmatches ? &r->matches[k] : &r->target);
			e->conntrack = e->nconntrack > 0;
			r->jump = NULL;
			pf_rule_free(r);
			return NULL;
		}
	}
	if (jump)
		jump->refcount++;
	return r;
}

int pf_engine_insert_rule(pf_engine *e, const char *table, const char *chain, size_t pos,
			  const pf_rule *rule, struct pf_error *err)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain(e, table, chain, &t, err);
	if (!c)
		return -1;
	void *ms = mstate_of(e, c);
	if (pos > e->matcher->count(ms, c))
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "Index of insertion too big");
	struct pf_rule *r = rule_import(e, t, c, rule, err);
	if (!r)
		return -1;
	if (e->matcher->insert(ms, c, pos, r)) {
		rule_fini(e, r);
		return nomem(err);
	}
	pf_table_touch(e->rs, t);
	return 0;
}

int pf_engine_delete_rule(pf_engine *e, const char *table, const char *chain, size_t pos,
			  struct pf_error *err)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain(e, table, chain, &t, err);
	if (!c)
		return -1;
	struct pf_rule *r = e->matcher->remove(mstate_of(e, c), c, pos);
	if (!r)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "Index of deletion too big");
	rule_fini(e, r);
	return 0;
}

int pf_engine_replace_rule(pf_engine *e, const char *table, const char *chain, size_t pos,
			   const pf_rule *rule, struct pf_error *err)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain(e, table, chain, &t, err);
	if (!c)
		return -1;
	void *ms = mstate_of(e, c);
	if (pos >= e->matcher->count(ms, c))
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE,
				  "Index of replacement too big");
	struct pf_rule *r = rule_import(e, t, c, rule, err);
	if (!r)
		return -1;
	rule_fini(e, e->matcher->replace(ms, c, pos, r));
	return 0;
}

int pf_engine_create_chain(pf_engine *e, const char *table, const char *chain, struct pf_error *err)
{
	struct pf_table *t = table ? pf_table_get(e->rs, table) : NULL;
	if (!t)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE,
				  "can't initialize iptables table `%s'", table ? table : "");
	if (!chain || pf_chain_find(t, chain))
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "Chain already exists");
	struct pf_chain *c = pf_chain_create(t, chain);
	if (!c)
		return nomem(err);
	if (chain_register(e, c)) {
		chain_unregister(e, c);
		pf_chain_destroy(t, c);
		return nomem(err);
	}
	pf_table_touch(e->rs, t);
	return 0;
}

int pf_engine_delete_chain(pf_engine *e, const char *table, const char *chain, struct pf_error *err)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain(e, table, chain, &t, err);
	if (!c)
		return -1;
	void *ms = mstate_of(e, c);
	if (c->builtin || c->refcount)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "Too many links");
	if (e->matcher->count(ms, c))
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "Directory not empty");
	if (e->matcher->sync(ms, c))
		return nomem(err);
	chain_unregister(e, c);
	pf_chain_destroy(t, c);
	return 0;
}

size_t pf_engine_rule_count(const pf_engine *e, const char *table, const char *chain)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain((pf_engine *)e, table, chain, &t, NULL);
	return c ? e->matcher->count(mstate_of(e, c), c) : 0;
}

void pf_engine_stats(const pf_engine *e, struct pf_engine_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->matcher = e->matcher->name;
	st->chains = e->nchains;
	struct pf_matcher_counts mc = {0};
	for (size_t i = 0; i < e->nchains; i++) {
		st->rules += e->matcher->count(e->chains[i].mstate, e->chains[i].chain);
		st->index_bytes += e->matcher->memory(e->chains[i].mstate, &st->subtables, &mc);
	}
	st->lookups = mc.lookups;
	st->scans = mc.scans + e->scans;
	st->probes = mc.probes;
	st->candidates = mc.candidates;
	st->evaluated = mc.evaluated;
	st->index_bytes += e->chains_cap * sizeof(*e->chains) + e->map_cap * sizeof(*e->chain_map);
	st->bytes_per_rule = st->rules ? (double)st->index_bytes / (double)st->rules : 0;
}

/* ---- more changes to a live engine, and its counters (pktfiltd) ---- */

int pf_engine_flush_chain(pf_engine *e, const char *table, const char *chain, struct pf_error *err)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain(e, table, chain, &t, err);
	if (!c)
		return -1;
	void *ms = mstate_of(e, c);
	if (e->matcher->sync(ms, c))
		return nomem(err);
	/* The chain's index goes with its rules and is built again, empty: no rule-by-rule
	 * update of an index about to be empty. */
	if (chain_unregister(e, c))
		return nomem(err);
	for (size_t k = c->nrules; k > 0; k--)
		rule_fini(e, c->rules[k - 1]);
	c->nrules = 0;
	if (chain_register(e, c)) {
		/* no index for the chain: a hashed engine cannot judge through it */
		return nomem(err);
	}
	return 0;
}

int pf_engine_rename_chain(pf_engine *e, const char *table, const char *chain, const char *new_name,
			   struct pf_error *err)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain(e, table, chain, &t, err);
	if (!c)
		return -1;
	if (c->builtin)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE,
				  "No chain/target/match by that name");
	if (!new_name || !*new_name || strlen(new_name) > PF_CHAIN_MAXNAMELEN)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE,
				  "Invalid argument. Run `dmesg' for more information");
	if (pf_chain_find(t, new_name))
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "File exists");
	return pf_chain_rename(t, c, new_name);
}

int pf_engine_set_policy(pf_engine *e, const char *table, const char *chain, const char *policy,
			 struct pf_error *err)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain(e, table, chain, &t, err);
	if (!c)
		return -1;
	if (!c->builtin)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE, "Bad built-in chain name");
	if (!policy || (strcmp(policy, "ACCEPT") && strcmp(policy, "DROP")))
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_TABLE,
				  "Bad policy name. Run `dmesg' for more information");
	c->policy = strcmp(policy, "DROP") ? PF_VERDICT_ACCEPT : PF_VERDICT_DROP;
	return 0;
}

long pf_engine_chain_counters(const pf_engine *e, const char *table, const char *chain,
			      uint64_t policy[2], uint64_t (*rules)[2], size_t n)
{
	struct pf_table *t;
	struct pf_chain *c = live_chain((pf_engine *)e, table, chain, &t, NULL);
	if (!c)
		return -1;
	if (policy) {
		policy[0] = c->pcnt.pkts;
		policy[1] = c->pcnt.bytes;
	}
	void *ms = mstate_of(e, c);
	size_t count = e->matcher->count(ms, c);
	if (rules && n) {
		/* the rule order as it is now (logically const; writes only after a change) */
		if (e->matcher->sync(ms, c))
			return -1;
		if (e->matcher->counters)
			e->matcher->counters(ms, c);
		for (size_t k = 0; k < n && k < count; k++) {
			rules[k][0] = c->rules[k]->cnt.pkts;
			rules[k][1] = c->rules[k]->cnt.bytes;
		}
	}
	return (long)count;
}
