/*
 * model.c - tables, chains and rules: creation, ordering, reference counts, equality, and the
 * commit-time checks the kernel makes (loops, hooks and tables allowed per extension).
 */
#include "model/model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define H(x) (1u << (x))

const struct pf_table_def pf_table_defs[PF_NTABLES] = {
    {"raw", H(PF_HOOK_PRE_ROUTING) | H(PF_HOOK_LOCAL_OUT)},
    {"mangle", H(PF_HOOK_PRE_ROUTING) | H(PF_HOOK_LOCAL_IN) | H(PF_HOOK_FORWARD) |
		   H(PF_HOOK_LOCAL_OUT) | H(PF_HOOK_POST_ROUTING)},
    {"nat",
     H(PF_HOOK_PRE_ROUTING) | H(PF_HOOK_LOCAL_IN) | H(PF_HOOK_LOCAL_OUT) | H(PF_HOOK_POST_ROUTING)},
    {"filter", H(PF_HOOK_LOCAL_IN) | H(PF_HOOK_FORWARD) | H(PF_HOOK_LOCAL_OUT)},
    {"security", H(PF_HOOK_LOCAL_IN) | H(PF_HOOK_FORWARD) | H(PF_HOOK_LOCAL_OUT)},
};

const char *const pf_hook_names[PF_HOOK_COUNT] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT",
						  "POSTROUTING"};

struct pf_table *pf_table_get(struct pf_ruleset *rs, const char *name)
{
	for (int i = 0; i < PF_NTABLES; i++)
		if (strcmp(rs->tables[i].def->name, name) == 0)
			return &rs->tables[i];
	return NULL;
}

void pf_table_touch(struct pf_ruleset *rs, struct pf_table *t)
{
	/* The kernel lists tables most recently instantiated first; a table is instantiated
	 * in a namespace the first time it is used, and stays. */
	if (t->touch_seq == 0)
		t->touch_seq = ++rs->touch_counter;
}

struct pf_chain *pf_chain_find(struct pf_table *t, const char *name)
{
	struct pf_chain *c = NULL;
	HASH_FIND_STR(t->by_name, name, c);
	return c;
}

static int chains_reserve(struct pf_table *t)
{
	if (t->nchains < t->cap)
		return 0;
	size_t cap = t->cap ? t->cap * 2 : 16;
	struct pf_chain **n = realloc(t->chains, cap * sizeof(*n));
	if (!n)
		return -1;
	t->chains = n;
	t->cap = cap;
	return 0;
}

/* Position of a user chain name in the sorted part of the chain array. */
static size_t user_chain_slot(const struct pf_table *t, const char *name)
{
	size_t lo = t->nbuiltin, hi = t->nchains;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(t->chains[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct pf_chain *chain_alloc(const char *name)
{
	struct pf_chain *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	strncpy(c->name, name, PF_CHAIN_MAXNAMELEN);
	return c;
}

struct pf_chain *pf_chain_create(struct pf_table *t, const char *name)
{
	if (chains_reserve(t))
		return NULL;
	struct pf_chain *c = chain_alloc(name);
	if (!c)
		return NULL;
	size_t pos = user_chain_slot(t, name);
	memmove(&t->chains[pos + 1], &t->chains[pos], (t->nchains - pos) * sizeof(*t->chains));
	t->chains[pos] = c;
	t->nchains++;
	HASH_ADD_STR(t->by_name, name, c);
	return c;
}

static void chain_unlink(struct pf_table *t, struct pf_chain *c)
{
	for (size_t i = t->nbuiltin; i < t->nchains; i++) {
		if (t->chains[i] == c) {
			memmove(&t->chains[i], &t->chains[i + 1],
				(t->nchains - i - 1) * sizeof(*t->chains));
			t->nchains--;
			break;
		}
	}
	HASH_DEL(t->by_name, c);
}

void pf_chain_destroy(struct pf_table *t, struct pf_chain *c)
{
	pf_chain_flush(c);
	chain_unlink(t, c);
	free(c->rules);
	free(c);
}

int pf_chain_rename(struct pf_table *t, struct pf_chain *c, const char *newname)
{
	chain_unlink(t, c);
	memset(c->name, 0, sizeof(c->name));
	strncpy(c->name, newname, PF_CHAIN_MAXNAMELEN);
	size_t pos = user_chain_slot(t, c->name);
	memmove(&t->chains[pos + 1], &t->chains[pos], (t->nchains - pos) * sizeof(*t->chains));
	t->chains[pos] = c;
	t->nchains++;
	HASH_ADD_STR(t->by_name, name, c);
	return 0;
}

void pf_chain_flush(struct pf_chain *c)
{
	for (size_t i = 0; i < c->nrules; i++) {
		struct pf_rule *r = c->rules[i];
		if (r->tkind == PF_TARGET_CHAIN && r->jump)
			r->jump->refcount--;
		pf_rule_free(r);
	}
	c->nrules = 0;
}

static void table_free_chains(struct pf_table *t)
{
	for (size_t i = 0; i < t->nchains; i++)
		pf_chain_flush(t->chains[i]);
	HASH_CLEAR(hh, t->by_name); /* before the chains that hold the hash table go */
	for (size_t i = 0; i < t->nchains; i++) {
		free(t->chains[i]->rules);
		free(t->chains[i]);
	}
	free(t->chains);
	t->chains = NULL;
	t->nchains = t->cap = t->nbuiltin = 0;
}

void pf_table_free_content(struct pf_table *t)
{
	if (t->def)
		table_free_chains(t);
	memset(t, 0, sizeof(*t));
}

static int table_init(struct pf_table *t, const struct pf_table_def *def)
{
	memset(t, 0, sizeof(*t));
	t->def = def;
	for (int h = 0; h < PF_HOOK_COUNT; h++) {
		if (!(def->hooks & H(h)))
			continue;
		if (chains_reserve(t))
			return -1;
		struct pf_chain *c = chain_alloc(pf_hook_names[h]);
		if (!c)
			return -1;
		c->builtin = true;
		c->hook = (uint8_t)h;
		c->policy = PF_VERDICT_ACCEPT;
		t->chains[t->nchains++] = c;
		t->nbuiltin++;
		HASH_ADD_STR(t->by_name, name, c);
	}
	return 0;
}

void pf_table_reset(struct pf_table *t)
{
	const struct pf_table_def *def = t->def;
	unsigned seq = t->touch_seq;
	table_free_chains(t);
	if (table_init(t, def) == 0)
		t->touch_seq = seq;
}

pf_ruleset *pf_ruleset_new(void)
{
	pf_ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return NULL;
	for (int i = 0; i < PF_NTABLES; i++) {
		if (table_init(&rs->tables[i], &pf_table_defs[i])) {
			pf_ruleset_free(rs);
			return NULL;
		}
	}
	return rs;
}

void pf_ruleset_free(pf_ruleset *rs)
{
	if (!rs)
		return;
	for (int i = 0; i < PF_NTABLES; i++)
		if (rs->tables[i].def)
			table_free_chains(&rs->tables[i]);
	free(rs);
}

static pf_ruleset *ruleset_clone(const pf_ruleset *src, bool packed)
{
	pf_ruleset *rs = pf_ruleset_new();
	if (!rs)
		return NULL;
	rs->touch_counter = src->touch_counter;
	rs->generation = src->generation;
	for (int i = 0; i < PF_NTABLES; i++) {
		const struct pf_table *st = &src->tables[i];
		struct pf_table *t = &rs->tables[i];
		t->touch_seq = st->touch_seq;
		/* Chains first (so jumps can be resolved), then rules. */
		for (size_t k = 0; k < st->nchains; k++) {
			const struct pf_chain *sc = st->chains[k];
			struct pf_chain *c =
			    sc->builtin ? pf_chain_find(t, sc->name) : pf_chain_create(t, sc->name);
			if (!c)
				goto fail;
			c->policy = sc->policy;
			c->pcnt = sc->pcnt;
		}
		for (size_t k = 0; k < st->nchains; k++) {
			const struct pf_chain *sc = st->chains[k];
			struct pf_chain *c = pf_chain_find(t, sc->name);
			for (size_t j = 0; j < sc->nrules; j++) {
				struct pf_rule *r = packed ? pf_rule_clone_packed(sc->rules[j])
							   : pf_rule_clone(sc->rules[j]);
				if (!r)
					goto fail;
				if (r->tkind == PF_TARGET_CHAIN)
					r->jump = pf_chain_find(t, sc->rules[j]->jump->name);
				if (pf_chain_insert_rule(c, c->nrules, r)) {
					pf_rule_free(r);
					goto fail;
				}
			}
		}
	}
	return rs;
fail:
	pf_ruleset_free(rs);
	return NULL;
}

pf_ruleset *pf_ruleset_clone(const pf_ruleset *src)
{
	return ruleset_clone(src, false);
}

pf_ruleset *pf_ruleset_clone_packed(const pf_ruleset *src)
{
	return ruleset_clone(src, true);
}

/* ---- rules ---- */

struct pf_rule *pf_rule_new(void)
{
	return calloc(1, sizeof(struct pf_rule));
}

void pf_rule_free(struct pf_rule *r)
{
	if (!r)
		return;
	if (r->packed) {
		free(r); /* matches and data are in the same block */
		return;
	}
	for (unsigned i = 0; i < r->nmatches; i++)
		free(r->matches[i].data);
	free(r->matches);
	free(r->target.data);
	free(r);
}

/* Bytes of an instance's data (at least one: every instance has a data pointer). */
static size_t data_bytes(const struct pf_ext *ext)
{
	return ext->data_size ? ext->data_size : 1;
}

static void *ext_data_new(const struct pf_ext *ext)
{
	void *d = calloc(1, data_bytes(ext));
	if (d && ext->init)
		ext->init(d);
	return d;
}

struct pf_ext_inst *pf_rule_add_match(struct pf_rule *r, const struct pf_ext *ext)
{
	if (r->packed)
		return NULL;
	struct pf_ext_inst *m = realloc(r->matches, (r->nmatches + 1) * sizeof(*m));
	if (!m)
		return NULL;
	r->matches = m;
	void *d = ext_data_new(ext);
	if (!d)
		return NULL;
	m[r->nmatches].ext = ext;
	m[r->nmatches].data = d;
	m[r->nmatches].state = NULL;
	return &m[r->nmatches++];
}

int pf_rule_set_target_ext(struct pf_rule *r, const struct pf_ext *ext)
{
	if (r->packed)
		return -1;
	void *d = ext_data_new(ext);
	if (!d)
		return -1;
	free(r->target.data);
	r->tkind = PF_TARGET_EXT;
	r->target.ext = ext;
	r->target.data = d;
	r->target.state = NULL;
	return 0;
}

static void *dup_data(const struct pf_ext *ext, const void *data)
{
	size_t n = data_bytes(ext);
	void *d = malloc(n);
	if (d)
		memcpy(d, data, n);
	return d;
}

struct pf_rule *pf_rule_clone(const struct pf_rule *src)
{
	struct pf_rule *r = pf_rule_new();
	if (!r)
		return NULL;
	*r = *src;
	r->packed = false;
	r->matches = NULL;
	r->nmatches = 0;
	r->target.data = NULL;
	r->target.state = NULL;
	if (src->nmatches) {
		r->matches = calloc(src->nmatches, sizeof(*r->matches));
		if (!r->matches)
			goto fail;
		for (unsigned i = 0; i < src->nmatches; i++) {
			r->matches[i].ext = src->matches[i].ext;
			r->matches[i].data = dup_data(src->matches[i].ext, src->matches[i].data);
			r->nmatches++;
			if (!r->matches[i].data)
				goto fail;
		}
	}
	if (src->tkind == PF_TARGET_EXT) {
		r->target.data = dup_data(src->target.ext, src->target.data);
		if (!r->target.data)
			goto fail;
	}
	return r;
fail:
	pf_rule_free(r);
	return NULL;
}

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

struct pf_rule *pf_rule_clone_packed(const struct pf_rule *src)
{
	size_t size = round16(sizeof(*src)) + round16(src->nmatches * sizeof(*src->matches));
	for (unsigned i = 0; i < src->nmatches; i++)
		size += round16(data_bytes(src->matches[i].ext));
	if (src->tkind == PF_TARGET_EXT)
		size += round16(data_bytes(src->target.ext));
	char *block = malloc(size);
	if (!block)
		return NULL;
	struct pf_rule *r = (struct pf_rule *)block;
	*r = *src;
	r->packed = true;
	size_t off = round16(sizeof(*r));
	r->matches = src->nmatches ? (struct pf_ext_inst *)(block + off) : NULL;
	off += round16(src->nmatches * sizeof(*src->matches));
	for (unsigned i = 0; i < src->nmatches; i++) {
		size_t n = data_bytes(src->matches[i].ext);
		r->matches[i].ext = src->matches[i].ext;
		r->matches[i].data = block + off;
		r->matches[i].state = NULL;
		memcpy(block + off, src->matches[i].data, n);
		off += round16(n);
	}
	r->target.data = NULL;
	r->target.state = NULL;
	if (src->tkind == PF_TARGET_EXT) {
		size_t n = data_bytes(src->target.ext);
		r->target.data = block + off;
		memcpy(block + off, src->target.data, n);
	}
	return r;
}

static bool inst_equal(const struct pf_ext_inst *a, const struct pf_ext_inst *b)
{
	if (a->ext != b->ext)
		return false;
	size_t n = a->ext->cmp_size ? a->ext->cmp_size : a->ext->data_size;
	return memcmp(a->data, b->data, n) == 0;
}

bool pf_rule_equal(const struct pf_rule *a, const struct pf_rule *b)
{
	/* the addresses first: -D and -C compare a rule with every rule of a chain */
	if (a->ip.src != b->ip.src || a->ip.dst != b->ip.dst ||
	    memcmp(&a->ip, &b->ip, sizeof(a->ip)) != 0)
		return false;
	if (a->nmatches != b->nmatches || a->tkind != b->tkind)
		return false;
	for (unsigned i = 0; i < a->nmatches; i++)
		if (!inst_equal(&a->matches[i], &b->matches[i]))
			return false;
	switch (a->tkind) {
	case PF_TARGET_NONE:
		return true;
	case PF_TARGET_VERDICT:
		return a->verdict == b->verdict;
	case PF_TARGET_CHAIN:
		return a->jump == b->jump;
	case PF_TARGET_EXT:
		return inst_equal(&a->target, &b->target);
	}
	return false;
}

int pf_chain_insert_rule(struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	if (c->nrules == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct pf_rule **n = realloc(c->rules, cap * sizeof(*n));
		if (!n)
			return -1;
		c->rules = n;
		c->cap = cap;
	}
	memmove(&c->rules[pos + 1], &c->rules[pos], (c->nrules - pos) * sizeof(*c->rules));
	c->rules[pos] = r;
	c->nrules++;
	if (r->tkind == PF_TARGET_CHAIN && r->jump)
		r->jump->refcount++;
	return 0;
}

void pf_chain_delete_rule(struct pf_chain *c, size_t pos)
{
	struct pf_rule *r = c->rules[pos];
	if (r->tkind == PF_TARGET_CHAIN && r->jump)
		r->jump->refcount--;
	pf_rule_free(r);
	memmove(&c->rules[pos], &c->rules[pos + 1], (c->nrules - pos - 1) * sizeof(*c->rules));
	c->nrules--;
}

void pf_chain_replace_rule(struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	struct pf_rule *old = c->rules[pos];
	if (r->tkind == PF_TARGET_CHAIN && r->jump)
		r->jump->refcount++;
	if (old->tkind == PF_TARGET_CHAIN && old->jump)
		old->jump->refcount--;
	pf_rule_free(old);
	c->rules[pos] = r;
}

/* ---- commit checks ---- */

enum { MARK_NONE = 0, MARK_ON_STACK = 1, MARK_DONE = 2 };

struct walk {
	struct pf_table *t;
	unsigned char *state; /* per chain index */
	unsigned *hooks;      /* per chain index: hooks it is reachable from */
};

/* The kernel's unconditional(): no address, interface, protocol or flag, and no match. */
static bool rule_unconditional(const struct pf_rule *r)
{
	static const struct pf_ipt_ip none;
	return r->nmatches == 0 && memcmp(&r->ip, &none, sizeof(none)) == 0;
}

/* Rules of c the kernel's walk reaches: it stops at the first unconditional rule with a
 * standard verdict (ACCEPT, DROP, QUEUE, RETURN), as it backtracks there. */
static size_t reached_rules(const struct pf_chain *c)
{
	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i]->tkind == PF_TARGET_VERDICT && rule_unconditional(c->rules[i]))
			return i + 1;
	return c->nrules;
}

static int walk_chain(struct walk *w, size_t idx, unsigned hooks)
{
	/* mark_source_chains: depth-first over the jumps and gotos of the rules a hook
	 * reaches; a chain on the current path reached again is a loop. */
	if (w->state[idx] == MARK_ON_STACK)
		return -1;
	if ((w->hooks[idx] | hooks) == w->hooks[idx] && w->state[idx] == MARK_DONE)
		return 0;
	w->hooks[idx] |= hooks;
	w->state[idx] = MARK_ON_STACK;
	struct pf_chain *c = w->t->chains[idx];
	size_t n = reached_rules(c);
	for (size_t i = 0; i < n; i++) {
		struct pf_rule *r = c->rules[i];
		if (r->tkind != PF_TARGET_CHAIN)
			continue;
		size_t j = user_chain_slot(w->t, r->jump->name);
		if (walk_chain(w, j, w->hooks[idx]))
			return -1;
	}
	w->state[idx] = MARK_DONE;
	return 0;
}

static bool name_in(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

/* 0 when the kernel would accept this instance here, else an errno value. */
static int ext_allowed(const struct pf_ext_inst *inst, const struct pf_rule *r, const char *table,
		       unsigned hooks)
{
	const struct pf_ext *e = inst->ext;
	if (e->tables && !name_in(e->tables, table))
		return EINVAL;
	if (e->hooks && (hooks & ~e->hooks))
		return EINVAL;
	if (e->proto && (r->ip.proto != e->proto || (r->ip.invflags & PF_INV_PROTO)))
		return EINVAL;
	if (e->check_entry)
		return e->check_entry(r, inst->data, table, hooks);
	return 0;
}

const char *pf_table_strerror(int errnum)
{
	switch (errnum) {
	case EINVAL:
		return "Invalid argument. Run `dmesg' for more information";
	case ENOENT:
		return "No chain/target/match by that name";
	default:
		return strerror(errnum);
	}
}

int pf_table_check(struct pf_table *t, struct pf_error *err)
{
	size_t n = t->nchains;
	struct walk w = {t, calloc(n ? n : 1, 1), calloc(n ? n : 1, sizeof(unsigned))};
	int rc = 0;
	if (!w.state || !w.hooks) {
		rc = pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_TABLE, "Memory allocation problem");
		goto out;
	}
	for (size_t i = 0; i < t->nbuiltin; i++) {
		memset(w.state, 0, n);
		if (walk_chain(&w, i, H(t->chains[i]->hook))) {
			rc = pf_err_table(err, "Too many levels of symbolic links");
			goto out;
		}
	}
	/* Like the kernel's mark_source_chains, only what a hook reaches is walked: a loop
	 * among unreachable user chains is accepted (until a built-in chain jumps into it). */
	for (size_t i = 0; i < n; i++) {
		struct pf_chain *c = t->chains[i];
		size_t reached = reached_rules(c);
		for (size_t k = 0; k < c->nrules; k++) {
			struct pf_rule *r = c->rules[k];
			/* A rule the walk never reaches is checked as from no hook. */
			unsigned hooks = k < reached ? w.hooks[i] : 0;
			int e = 0;
			for (unsigned m = 0; m < r->nmatches && !e; m++)
				e = ext_allowed(&r->matches[m], r, t->def->name, hooks);
			if (!e && r->tkind == PF_TARGET_EXT)
				e = ext_allowed(&r->target, r, t->def->name, hooks);
			if (e) {
				rc = pf_err_table(err, pf_table_strerror(e));
				goto out;
			}
		}
	}
out:
	free(w.state);
	free(w.hooks);
	return rc;
}

/* An unconditional standard verdict: where the kernel's walk of a chain stops. */
bool pf_rule_ends_walk(const struct pf_rule *r)
{
	return r->tkind == PF_TARGET_VERDICT && rule_unconditional(r);
}

/* Hooks from which chain c is reached (the table has no loop). */
static int chain_hooks(struct pf_table *t, const struct pf_chain *c, unsigned *hooks)
{
	if (c->builtin) {
		*hooks = H(c->hook);
		return 0;
	}
	size_t n = t->nchains;
	struct walk w = {t, calloc(n, 1), calloc(n, sizeof(unsigned))};
	int rc = -1;
	if (w.state && w.hooks) {
		rc = 0;
		for (size_t i = 0; i < t->nbuiltin && !rc; i++) {
			memset(w.state, 0, n);
			rc = walk_chain(&w, i, H(t->chains[i]->hook));
		}
		*hooks = w.hooks[user_chain_slot(t, c->name)];
	}
	free(w.state);
	free(w.hooks);
	return rc;
}

int pf_table_check_rule(struct pf_table *t, struct pf_chain *c, const struct pf_rule *r,
			struct pf_error *err)
{
	bool need_hooks = false;
	for (unsigned m = 0; m < r->nmatches; m++)
		if (r->matches[m].ext->hooks || r->matches[m].ext->check_entry)
			need_hooks = true;
	if (r->tkind == PF_TARGET_EXT && (r->target.ext->hooks || r->target.ext->check_entry))
		need_hooks = true;
	unsigned hooks = 0;
	if (need_hooks) {
		/* A rule after an unconditional verdict is never reached: checked from no hook. */
		bool reached = true;
		for (size_t k = 0; k < c->nrules && c->rules[k] != r; k++)
			if (pf_rule_ends_walk(c->rules[k])) {
				reached = false;
				break;
			}
		if (reached && chain_hooks(t, c, &hooks))
			return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_TABLE,
					  "Memory allocation problem");
	}
	int e = 0;
	for (unsigned m = 0; m < r->nmatches && !e; m++)
		e = ext_allowed(&r->matches[m], r, t->def->name, hooks);
	if (!e && r->tkind == PF_TARGET_EXT)
		e = ext_allowed(&r->target, r, t->def->name, hooks);
	return e ? pf_err_table(err, pf_table_strerror(e)) : 0;
}

/* ---- public iteration ---- */

size_t pf_ruleset_table_count(const pf_ruleset *rs)
{
	(void)rs;
	return PF_NTABLES;
}

const pf_table *pf_ruleset_table_at(const pf_ruleset *rs, size_t i)
{
	return i < PF_NTABLES ? &rs->tables[i] : NULL;
}

const pf_table *pf_ruleset_table(const pf_ruleset *rs, const char *name)
{
	return pf_table_get((pf_ruleset *)rs, name);
}

const char *pf_table_name(const pf_table *t)
{
	return t->def->name;
}

size_t pf_table_chain_count(const pf_table *t)
{
	return t->nchains;
}

const pf_chain *pf_table_chain_at(const pf_table *t, size_t i)
{
	return i < t->nchains ? t->chains[i] : NULL;
}

const pf_chain *pf_table_chain(const pf_table *t, const char *name)
{
	return pf_chain_find((struct pf_table *)t, name);
}

const char *pf_chain_name(const pf_chain *c)
{
	return c->name;
}

int pf_chain_is_builtin(const pf_chain *c)
{
	return c->builtin;
}

const char *pf_chain_policy(const pf_chain *c)
{
	if (!c->builtin)
		return NULL;
	return c->policy == PF_VERDICT_DROP ? "DROP" : "ACCEPT";
}

void pf_chain_policy_counters(const pf_chain *c, uint64_t *pkts, uint64_t *bytes)
{
	if (pkts)
		*pkts = c->pcnt.pkts;
	if (bytes)
		*bytes = c->pcnt.bytes;
}

unsigned pf_chain_references(const pf_chain *c)
{
	return c->refcount;
}

size_t pf_chain_rule_count(const pf_chain *c)
{
	return c->nrules;
}

const pf_rule *pf_chain_rule_at(const pf_chain *c, size_t i)
{
	return i < c->nrules ? c->rules[i] : NULL;
}

void pf_rule_counters(const pf_rule *r, uint64_t *pkts, uint64_t *bytes)
{
	if (pkts)
		*pkts = r->cnt.pkts;
	if (bytes)
		*bytes = r->cnt.bytes;
}

void pf_rule_set_counters(pf_ruleset *rs, const pf_rule *r, uint64_t pkts, uint64_t bytes)
{
	(void)rs; /* r belongs to rs: the caller may change it */
	struct pf_rule *w = (struct pf_rule *)r;
	w->cnt.pkts = pkts;
	w->cnt.bytes = bytes;
}

int pf_chain_set_policy_counters(pf_ruleset *rs, const char *table, const char *chain,
				 uint64_t pkts, uint64_t bytes)
{
	struct pf_table *t = table ? pf_table_get(rs, table) : NULL;
	struct pf_chain *c = t && chain ? pf_chain_find(t, chain) : NULL;
	if (!c || !c->builtin)
		return -1;
	c->pcnt.pkts = pkts;
	c->pcnt.bytes = bytes;
	return 0;
}
