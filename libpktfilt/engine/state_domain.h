/*
 * state_domain.h - runtime state shared by the engines of a state domain (pf_state_domain,
 * docs/shared-state.md).
 *
 * Two kinds of objects live in a domain:
 *  - named objects (pf_engine_shared: recent lists, hashlimit tables), one per key for every
 *    engine of the domain, as the kernel has one per name in a network namespace;
 *  - the per-rule state of extensions with ext->state_shared (limit buckets, statistic nth
 *    counters, connlimit tables): one per rule for every engine of the domain, as the kernel
 *    has one per rule for all CPUs. A rule is known by the number of its instance in the
 *    order the engine initialised instances (compile, then single-rule changes): engines
 *    compiled from the same rule set and given the same changes number the same rules the
 *    same way, whatever their lag behind one another. The extension and its data must match
 *    too, so that engines that diverged never share the state of different rules, and so must
 *    the engines' state_epoch: a new rule-set generation (a new epoch) gets new per-rule
 *    states, as a replaced kernel table does, while it shares the named objects of the
 *    generation before (the kernel keeps recent lists and hashlimit tables by name).
 *
 * Every object (shared or not) is preceded by a struct pf_state_hdr: pf_state_lock() takes
 * its object's lock when the object is shared, and costs a load and a branch when it is not
 * (an engine without a domain). The domain lives while its creator has not freed it and
 * while some engine or object uses it.
 */
#ifndef PF_STATE_DOMAIN_H
#define PF_STATE_DOMAIN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pktfilt/engine.h"

struct pf_ext;
struct pf_engine;

struct pf_state_hdr {
	_Alignas(16) pthread_mutex_t *lock; /* NULL: the object of one engine, no locking */
	struct pf_sd_obj *owner;	    /* NULL: a private per-rule state (no header more) */
};

static inline struct pf_state_hdr *pf_state_hdr_of(void *obj)
{
	return (struct pf_state_hdr *)obj - 1;
}

/* Take / release the lock of obj (a per-rule state of an extension with state_shared, or an
 * object of pf_engine_shared) when it is shared; nothing otherwise. Not recursive. */
static inline void pf_state_lock(void *obj)
{
	pthread_mutex_t *m = pf_state_hdr_of(obj)->lock;
	if (m)
		pthread_mutex_lock(m);
}

static inline void pf_state_unlock(void *obj)
{
	pthread_mutex_t *m = pf_state_hdr_of(obj)->lock;
	if (m)
		pthread_mutex_unlock(m);
}

/*
 * The per-rule state of an instance of ext (ext->state_shared) with data, numbered serial in
 * engine e of state_epoch epoch: with a domain d, the one of the other engines' instance of
 * the same number, ext and data in an engine of the same epoch (a reference more), else a
 * new one; without,
 * the engine's own. A new state is ext->state_size zeroed bytes, then ext->state_init(e, data,
 * state) (called once per state, under the domain's lock for per-rule states: it must not
 * keep e, nor call this function). Returns 0 with *state set, -1 when out of memory, -2 when
 * state_init failed.
 */
int pf_sd_rule_state_get(pf_state_domain *d, uint64_t epoch, uint64_t serial,
			 const struct pf_ext *ext, const void *data, struct pf_engine *e,
			 void **state);
/* Drop a reference taken by pf_sd_rule_state_get: the last one calls ext->state_free(e, ...)
 * (e: the engine dropping it, maybe not the one that created the state) and frees it. */
void pf_sd_rule_state_put(const struct pf_ext *ext, struct pf_engine *e, void *state);

/* The named object key of domain d (a reference more), created with size zeroed bytes when
 * there is none; d NULL: a new object of one engine. NULL when out of memory. */
void *pf_sd_named_get(pf_state_domain *d, const char *key, size_t size, void (*destroy)(void *obj));
/* Drop a reference: the last one calls destroy(obj) and frees it. */
void pf_sd_named_put(void *obj);

#endif
