/*
 * eval.h - what extensions see while a packet is judged, and the matcher interface.
 *
 * The traversal (engine.c) asks the matcher one question: the first rule of chain C at or
 * after place p (a cursor, below) that matches packet P. Targets and the jump stack stay in
 * the traversal, so a second matcher (matcher_hashed.c) only has to answer that question the
 * same way, side effects of the matches included.
 */
#ifndef PF_EVAL_H
#define PF_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "packet/packet.h"
#include "pktfilt/engine.h"

/*
 * What the traversal reads of the rule next() returned: its counters and its target's kind.
 * A matcher may keep this next to its index and hand it over in pf_eval.hit, so that taking a
 * rule that needs no evaluation (an exact filter, an unconditional jump) does not read the rule
 * at all (kube-proxy-like sets at 100k rules: two cache misses fewer per packet,
 * docs/matcher.md). The counters are then the matcher's: the rule's own cnt is stale until
 * pf_matcher_ops.counters writes them back.
 */
struct pf_hit {
	struct pf_counters cnt;
	struct pf_chain *jump; /* PF_TARGET_CHAIN */
	uint8_t tkind;	       /* enum pf_target_kind */
	uint8_t verdict;       /* enum pf_verdict */
	bool go_to;	       /* -g: no return */
	uint8_t mflags;	       /* the matcher's own bits */
};

/* The target part of rule r's hit (counters left as they are; mflags cleared). */
static inline void pf_hit_target(struct pf_hit *h, const struct pf_rule *r)
{
	h->jump = r->jump;
	h->tkind = (uint8_t)r->tkind;
	h->verdict = (uint8_t)r->verdict;
	h->go_to = (r->ip.flags & PF_F_GOTO) != 0;
	h->mflags = 0;
}

/* The hit of rule r as it is now, counters included. */
static inline void pf_hit_init(struct pf_hit *h, const struct pf_rule *r)
{
	pf_hit_target(h, r);
	h->cnt = r->cnt;
}

struct pf_eval {
	struct pf_packet *pkt;
	size_t buflen; /* capacity of pkt->data, for targets that grow the packet */
	const struct pf_packet_meta *meta;
	struct pf_eval_result *res;
	struct pf_engine *engine;
	unsigned hook; /* enum pf_nf_hook */
	const char *table;
	const char *in, *out; /* interface names, never NULL ("" when none) */
	uint32_t mark, ctmark;
	bool hotdrop;
	bool untracked; /* CT --notrack / NOTRACK ran: no connection tracking for this packet */
	const struct pf_rule *rule; /* the rule being evaluated */
	/* Set by a matcher's next() (the engine clears it before each call): the matcher state
	 * of the chain the returned rule jumps to, when the matcher keeps it at hand (NULL: the
	 * engine looks it up). Valid while the engine's chains_gen is the one below. */
	void *jump_state;
	/* Set by next() with jump_state (NULL: the engine reads the rule): see struct pf_hit. */
	struct pf_hit *hit;
	uint32_t scans;	     /* next() calls answered by a walk of the chain (statistics) */
	uint32_t chains_gen; /* pf_engine's chain generation when the packet came in */
};

/* What the hashed matcher did since it was built (pf_engine_stats). */
struct pf_matcher_counts {
	uint64_t lookups;    /* next() answered from the index */
	uint64_t scans;	     /* next() answered by walking the chain (short chains, packets
				without a whole transport header) */
	uint64_t probes;     /* subtables probed */
	uint64_t nodes;	     /* bucket entries looked at */
	uint64_t candidates; /* entries whose filter the packet passed */
	uint64_t evaluated;  /* of those, rules asked (pf_rule_matches) */
};

/*
 * Batch look-ahead (pf_engine_eval_batch): a guess, made before a batch is judged, at the
 * path each packet will take, only to prefetch what its evaluation will read, one memory level
 * per step so that the cache misses of many packets overlap. It has no effect on anything the
 * evaluation sees: no counter, no rule state, no rule evaluated.
 */
struct pf_lookahead {
	void *ms;	/* matcher state of the chain looked at (set by the engine to start) */
	unsigned phase; /* the matcher's own progress; 0 to start in ms */
	unsigned hops;	/* chains entered so far */
	bool sync;	/* going on without waiting (data in the caches) */
	unsigned n;	/* the matcher's scratch below */
	uint32_t key[4];
	uint64_t h[4];
	const void *p[4];
};

/*
 * One matcher implementation over one compiled chain. Where a search starts is a cursor, the
 * matcher's own number for a place in the chain (linear: the position; hashed: the rule's
 * label, docs/matcher.md): 0 is the chain's start, and next() moves it just past the rule it
 * returns, so that asking again continues after that rule (the traversal keeps cursors in its
 * jump stack). Cursors stay valid until the chain changes.
 */
struct pf_matcher_ops {
	const char *name;
	/* Build the index of a chain; NULL state is allowed (linear has none). */
	int (*build)(struct pf_engine *e, struct pf_chain *c, void **state);
	void (*destroy)(void *state);
	/* The first rule at or after *cur matching ev->pkt (and *cur moved past it), or NULL at
	 * the end of the chain. Sets ev->hotdrop when a match demands a drop: then the rule
	 * returned, if any, is the one whose matches said yes while demanding it (ipt_do_table
	 * counts it and runs its target before dropping). */
	struct pf_rule *(*next)(void *state, const struct pf_chain *c, uint64_t *cur,
				struct pf_eval *ev);
	/* 1-based position of the rule next() returned when it set the cursor to cur. */
	unsigned (*rulenum)(void *state, const struct pf_chain *c, uint64_t cur);
	/* Single-rule changes: the order of c's rules is the matcher's from build() on (linear:
	 * c->rules itself; hashed: its own, written back to c->rules by sync()). insert takes r
	 * at position pos (0-based, <= count); remove and replace return the rule taken out
	 * (NULL: no such position). Reference counts and rule state are the engine's business. */
	int (*insert)(void *state, struct pf_chain *c, size_t pos, struct pf_rule *r);
	struct pf_rule *(*remove)(void *state, struct pf_chain *c, size_t pos);
	struct pf_rule *(*replace)(void *state, struct pf_chain *c, size_t pos, struct pf_rule *r);
	size_t (*count)(const void *state, const struct pf_chain *c);
	struct pf_rule *(*rule_at)(const void *state, const struct pf_chain *c, size_t pos);
	/* Make c->rules / c->nrules show the current order. Returns 0 (insert made room in
	 * c->rules beforehand, so it does not fail), -1 on an inconsistency. */
	int (*sync)(void *state, struct pf_chain *c);
	/* Optional: write the counters the matcher keeps (struct pf_hit) back to c's rules. */
	void (*counters)(void *state, struct pf_chain *c);
	/* Heap bytes of the index; adds its subtables to *ntables and its lookup counts to
	 * *counts (either may be NULL). */
	size_t (*memory)(const void *state, size_t *ntables, struct pf_matcher_counts *counts);
	/* Optional: one step of the batch look-ahead from la->ms (see struct pf_lookahead): reads
	 * what the previous step prefetched, prefetches what the next will read. Returns false
	 * when there is nothing more to look at. Reads only (ev and the index stay as they are). */
	bool (*lookahead)(struct pf_lookahead *la, const struct pf_eval *ev);
	/* Optional: forget every other chain's state kept for jump_state (the engine's chain
	 * generation wrapped around). */
	void (*forget)(void *state);
};

extern const struct pf_matcher_ops pf_matcher_linear;
extern const struct pf_matcher_ops pf_matcher_hashed;

/* Does rule r match the packet (ip part, then every match in order)? */
bool pf_rule_matches(const struct pf_rule *r, struct pf_eval *ev);

/* Deterministic random number for statistic --mode random (per engine). */
uint32_t pf_eval_random(struct pf_eval *ev);

/*
 * Named state shared by rules of one engine (recent lists, hashlimit tables): created on
 * first use with size zeroed bytes, freed with the engine (destroy called first, if given).
 * Returns NULL when out of memory.
 */
void *pf_engine_shared(struct pf_engine *e, const char *kind, const char *name, size_t size,
		       void (*destroy)(void *obj));

/* The matcher state of chain c of engine e (NULL when none): what the engine uses when it
 * jumps to c. Changes only when the engine's chains_gen does (pf_eval.chains_gen). */
void *pf_engine_chain_state(struct pf_engine *e, const struct pf_chain *c);

/* The caller's configuration of the engine (host callbacks of the metadata matches). */
const struct pf_engine_config *pf_eval_config(const struct pf_eval *ev);

/* The LOG sink configured by the caller (may do nothing). */
void pf_eval_log(struct pf_eval *ev, int level, const char *prefix, const char *line);

#endif
