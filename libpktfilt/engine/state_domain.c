/*
 * state_domain.c - runtime state shared by the engines of a state domain (state_domain.h,
 * docs/shared-state.md).
 *
 * Locks: the domain has one lock for its per-rule states (their table and reference counts)
 * and one for its named objects; each shared object has its own lock, which pf_state_lock()
 * takes around every use of the object. A per-rule state is created (state_init) under the
 * per-rule lock, so two engines adding the same rule at the same time find one state; the
 * order is per-rule lock, then named lock (a state_init may look up a named object), then an
 * object's lock. Nothing here runs per packet.
 *
 * A per-rule state is found by (epoch, serial, extension, compared data): the epoch is the
 * engine's state_epoch (pf_engine_config), so that engines compiled for another rule-set
 * generation never find it, as the kernel gives a replaced table's rules new state. Named
 * objects are found by their key alone, whatever the epoch: they outlive a generation when
 * the next one names them (the extensions' rule counts inside the object decide what the
 * object holds, docs/shared-state.md, "Generations").
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/state_domain.h"
#include "ext/ext.h"

#define SD_KEY_MAX 96

struct pf_sd_obj {
	pthread_mutex_t lock;	   /* the object's lock (shared objects only) */
	struct pf_state_domain *d; /* NULL: a named object of one engine */
	struct pf_sd_obj *next;	   /* in the domain's bucket or named list */
	unsigned long refs;	   /* under the domain's lock */
	/* named objects */
	void (*destroy)(void *obj);
	char key[SD_KEY_MAX];
	/* per-rule states: the instance's number, extension and compared data (a copy, after
	 * the state: the engine that made the state may drop its rule before the others) */
	uint64_t epoch, serial;
	const struct pf_ext *ext;
	const void *data;
	size_t cmp;
	struct pf_state_hdr hdr; /* last: the object follows it */
};

_Static_assert(offsetof(struct pf_sd_obj, hdr) + sizeof(struct pf_state_hdr) ==
		   sizeof(struct pf_sd_obj),
	       "the header must end the object's descriptor");

struct pf_state_domain {
	pthread_mutex_t rule_lock;  /* rules[], nrules, per-rule refs */
	pthread_mutex_t named_lock; /* named, named refs */
	atomic_ulong refs;	    /* the creator's, and one per object */
	struct pf_sd_obj **rules;   /* per-rule states, chained on serial */
	size_t nbuckets, nrules;
	struct pf_sd_obj *named;
};

static void *obj_of(struct pf_sd_obj *o)
{
	return &o->hdr + 1;
}

pf_state_domain *pf_state_domain_new(void)
{
	struct pf_state_domain *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (pthread_mutex_init(&d->rule_lock, NULL)) {
		free(d);
		return NULL;
	}
	if (pthread_mutex_init(&d->named_lock, NULL)) {
		pthread_mutex_destroy(&d->rule_lock);
		free(d);
		return NULL;
	}
	atomic_init(&d->refs, 1);
	return d;
}

static void domain_unref(struct pf_state_domain *d)
{
	if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&d->rule_lock);
	pthread_mutex_destroy(&d->named_lock);
	free(d->rules);
	free(d);
}

void pf_state_domain_free(pf_state_domain *d)
{
	if (d)
		domain_unref(d);
}

static size_t bucket_of(uint64_t epoch, uint64_t serial, size_t nbuckets)
{
	uint64_t h = (serial ^ (epoch * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 24) & (nbuckets - 1);
}

/* Make room for one more per-rule state (rule_lock held). -1 when there is no table at all. */
static int rules_grow(struct pf_state_domain *d)
{
	if (d->nrules < d->nbuckets)
		return 0;
	size_t n = d->nbuckets ? d->nbuckets * 2 : 64;
	struct pf_sd_obj **v = calloc(n, sizeof(*v));
	if (!v)
		return d->nbuckets ? 0 : -1; /* longer chains */
	for (size_t i = 0; i < d->nbuckets; i++)
		while (d->rules[i]) {
			struct pf_sd_obj *o = d->rules[i];
			d->rules[i] = o->next;
			size_t b = bucket_of(o->epoch, o->serial, n);
			o->next = v[b];
			v[b] = o;
		}
	free(d->rules);
	d->rules = v;
	d->nbuckets = n;
	return 0;
}

int pf_sd_rule_state_get(pf_state_domain *d, uint64_t epoch, uint64_t serial,
			 const struct pf_ext *ext, const void *data, struct pf_engine *e,
			 void **state)
{
	size_t cmp = ext->cmp_size ? ext->cmp_size : ext->data_size;
	if (!d) {
		struct pf_state_hdr *h = calloc(1, sizeof(*h) + ext->state_size);
		if (!h)
			return -1;
		if (ext->state_init && ext->state_init(e, data, h + 1)) {
			free(h);
			return -2;
		}
		*state = h + 1;
		return 0;
	}
	pthread_mutex_lock(&d->rule_lock);
	struct pf_sd_obj *chain =
	    d->nbuckets ? d->rules[bucket_of(epoch, serial, d->nbuckets)] : NULL;
	for (struct pf_sd_obj *o = chain; o; o = o->next)
		if (o->serial == serial && o->epoch == epoch && o->ext == ext && o->cmp == cmp &&
		    memcmp(o->data, data, cmp) == 0) {
			o->refs++;
			pthread_mutex_unlock(&d->rule_lock);
			*state = obj_of(o);
			return 0;
		}
	int rc = -1;
	size_t ssz = (ext->state_size + 15) & ~(size_t)15;
	struct pf_sd_obj *o = NULL;
	if (rules_grow(d) || !(o = calloc(1, sizeof(*o) + ssz + cmp)))
		goto out;
	if (pthread_mutex_init(&o->lock, NULL)) {
		free(o);
		goto out;
	}
	o->d = d;
	o->refs = 1;
	o->epoch = epoch;
	o->serial = serial;
	o->ext = ext;
	o->cmp = cmp;
	o->data = (const char *)obj_of(o) + ssz;
	memcpy((char *)obj_of(o) + ssz, data, cmp);
	o->hdr.lock = &o->lock;
	o->hdr.owner = o;
	if (ext->state_init && ext->state_init(e, data, obj_of(o))) {
		pthread_mutex_destroy(&o->lock);
		free(o);
		rc = -2;
		goto out;
	}
	size_t b = bucket_of(epoch, serial, d->nbuckets);
	o->next = d->rules[b];
	d->rules[b] = o;
	d->nrules++;
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	*state = obj_of(o);
	rc = 0;
out:
	pthread_mutex_unlock(&d->rule_lock);
	return rc;
}

void pf_sd_rule_state_put(const struct pf_ext *ext, struct pf_engine *e, void *state)
{
	struct pf_state_hdr *h = pf_state_hdr_of(state);
	struct pf_sd_obj *o = h->owner;
	if (!o) {
		if (ext->state_free)
			ext->state_free(e, state);
		free(h);
		return;
	}
	struct pf_state_domain *d = o->d;
	pthread_mutex_lock(&d->rule_lock);
	if (--o->refs > 0) {
		pthread_mutex_unlock(&d->rule_lock);
		return;
	}
	struct pf_sd_obj **pp = &d->rules[bucket_of(o->epoch, o->serial, d->nbuckets)];
	while (*pp != o)
		pp = &(*pp)->next;
	*pp = o->next;
	d->nrules--;
	pthread_mutex_unlock(&d->rule_lock);
	if (ext->state_free)
		ext->state_free(e, state);
	pthread_mutex_destroy(&o->lock);
	free(o);
	domain_unref(d);
}

void *pf_sd_named_get(pf_state_domain *d, const char *key, size_t size, void (*destroy)(void *obj))
{
	struct pf_sd_obj *o;
	if (d) {
		pthread_mutex_lock(&d->named_lock);
		for (o = d->named; o; o = o->next)
			if (strcmp(o->key, key) == 0) {
				o->refs++;
				pthread_mutex_unlock(&d->named_lock);
				return obj_of(o);
			}
	}
	size_t sz = (size + 15) & ~(size_t)15;
	o = calloc(1, sizeof(*o) + sz);
	if (o && d && pthread_mutex_init(&o->lock, NULL)) {
		free(o);
		o = NULL;
	}
	if (o) {
		snprintf(o->key, sizeof(o->key), "%s", key);
		o->destroy = destroy;
		o->refs = 1;
		o->hdr.owner = o;
		if (d) {
			o->d = d;
			o->hdr.lock = &o->lock;
			o->next = d->named;
			d->named = o;
			atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
		}
	}
	if (d)
		pthread_mutex_unlock(&d->named_lock);
	return o ? obj_of(o) : NULL;
}

void pf_sd_named_put(void *obj)
{
	struct pf_sd_obj *o = pf_state_hdr_of(obj)->owner;
	struct pf_state_domain *d = o->d;
	if (d) {
		pthread_mutex_lock(&d->named_lock);
		if (--o->refs > 0) {
			pthread_mutex_unlock(&d->named_lock);
			return;
		}
		struct pf_sd_obj **pp = &d->named;
		while (*pp != o)
			pp = &(*pp)->next;
		*pp = o->next;
		pthread_mutex_unlock(&d->named_lock);
	}
	if (o->destroy)
		o->destroy(obj);
	if (d) {
		pthread_mutex_destroy(&o->lock);
		free(o);
		domain_unref(d);
	} else {
		free(o);
	}
}
