/*
 * eval.h - what extensions see while a packet is judged, and the matcher interface.
 *
 * The traversal (engine.c) asks the matcher one question: the first rule of chain C at or
 * after position p that matches packet P. Targets and the jump stack stay in the traversal,
 * so a second matcher only has to answer that question the same way.
 */
#ifndef PF_EVAL_H
#define PF_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "packet/packet.h"
#include "pktfilt/engine.h"

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
};

/* One matcher implementation over one compiled chain. */
struct pf_matcher_ops {
	const char *name;
	/* Build the index of a chain; NULL state is allowed (linear has none). */
	int (*build)(struct pf_engine *e, struct pf_chain *c, void **state);
	void (*destroy)(void *state);
	/* Index of the first rule at or after pos matching ev->pkt, or c->nrules. Sets
	 * ev->hotdrop (and returns c->nrules) when a match demands a drop. */
	size_t (*next)(void *state, const struct pf_chain *c, size_t pos, struct pf_eval *ev);
};

extern const struct pf_matcher_ops pf_matcher_linear;

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

/* The LOG sink configured by the caller (may do nothing). */
void pf_eval_log(struct pf_eval *ev, int level, const char *prefix, const char *line);

#endif
