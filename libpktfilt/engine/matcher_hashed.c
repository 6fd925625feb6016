/*
 * matcher_hashed.c - the hashed matcher: "the first rule of chain C at or after cursor p that
 * matches packet P", answered from hash tables instead of a scan (docs/matcher.md).
 *
 * Design (tuple space search with merged tuples, as TupleMerge; priorities as labels):
 *
 * - Every rule gets a label, a 64-bit number that orders the chain (rule i before rule j iff
 *   label(i) < label(j)). Labels are handed out with gaps (2^32 apart at build), so an insert
 *   takes the midpoint of its neighbours; when a gap is used up, a window around the insert is
 *   spread evenly again (list labelling, amortised O(log n)). Nothing is renumbered on a
 *   delete. The traversal's cursor is a label: next() looks for the smallest matching label
 *   >= cursor and hands back label + 1 as the continuation.
 *
 * - The order itself (positions, for -I/-D/-R by number and for traces) is a blocked list of
 *   (label, rule) entries: blocks of at most HM_BLOCK, so an insert or delete moves at most one
 *   block's entries, never the whole chain. Short chains are scanned through it directly.
 *
 * - Each rule is reduced to its filter: the fields of the ipt_ip part that are not inverted
 *   (source/destination prefix, exact protocol, in/out interface name or name prefix) plus what
 *   the leading matches with an index_fields callback (ext.h) say: port ranges, mark/mask. The
 *   ip part is evaluated before any match, and the leading described matches are pure up to
 *   the one that describes, so a packet outside the filter is a rule the linear matcher would
 *   reject with no side effect at all. A packet inside it is a candidate.
 *
 * - A tuple is the shape of a filter: prefix lengths of the two addresses, the protocol or
 *   none, prefix lengths of the two port ranges (the leading bits a range's ends share), the
 *   number of interface name bytes, the mark mask. A subtable hashes rules on a tuple T: the
 *   rule's values masked to T. A rule may live in any subtable whose tuple is no more specific
 *   than its own (merged tuples, TupleMerge: far fewer subtables than distinct tuples, hence
 *   fewer probes per packet); a bucket holds the rules of one hash in label order, each node
 *   carrying its rule's own filter so that most false candidates are turned away without
 *   touching the rule. A new rule goes to the most specific compatible subtable whose bucket
 *   has fewer than HM_BUCKET_LIMIT rules, else to a new subtable with its tuple relaxed
 *   (address prefixes rounded down to /16 or /0, port ranges to exact ports or none), else to
 *   one with its exact tuple. Only the 64-bit hash of the masked key is stored: two keys with
 *   the same hash share a bucket, which only costs a check.
 *
 * - Lookup: the packet's key is masked and hashed per subtable, subtables taken in order of
 *   the smallest label they hold (a lower bound) and skipped once that is no better than the
 *   best match found; subtables of another protocol are skipped unprobed. Every candidate is
 *   verified with pf_rule_matches, so the answer is the linear matcher's. Rules whose matches
 *   are all described and pure are verified as they are found (out of order: they have no side
 *   effects). The others (statistic, recent, limit, anything that can hotdrop or count) are
 *   collected and evaluated afterwards in label order, only those before the best pure match:
 *   exactly the ones linear evaluates, in its order, each reached past its described part only
 *   when linear reaches it too.
 *
 * - Packets for which the filters' promises do not hold (a fragment at offset 1, a transport
 *   header cut short: the kernel's tcp/udp matches hotdrop them) and chains shorter than
 *   HM_SMALL are scanned in label order, as the linear matcher does.
 *
 * - Cache misses: a node keeps the state of the chain its rule jumps to (handed to the
 *   traversal in pf_eval.jump_state: no lookup in the engine's chain map), a short chain's
 *   state is read in one cache line, and a batch of packets (pf_engine_eval_batch) is looked
 *   ahead level by level (hm_lookahead) so that the misses of its packets overlap.
 *
 * Not thread-safe: one engine per thread (engine.h); next() allocates nothing.
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eval.h"

#ifndef HM_SMALL
#define HM_SMALL 8 /* chains shorter than this are scanned (tests build with 1) */
#endif
#define HM_BLOCK 256	   /* entries per block of the order list, at most */
#define HM_INLINE 4	   /* entries of a chain's first block allocated with the chain */
#define HM_BUCKET_LIMIT 32 /* rules per bucket before a finer subtable is used */
#define HM_MAX_IMPURE 64   /* impure candidates per lookup before falling back to a scan */
#ifndef HM_AHEAD
#define HM_AHEAD 2 /* subtables hashed and prefetched ahead in a lookup */
#endif
#define HM_GAP (1ull << 32)	      /* label spacing at build */
#define HM_LABEL_END (UINT64_MAX - 1) /* labels are < this; cursor label + 1 fits */
#define HM_MIN_SPREAD (1ull << 20)    /* gap wanted after spreading a window */

struct hm_tuple {
	uint8_t sl, dl;	   /* address prefix lengths, 0..32 */
	uint8_t proto;	   /* the protocol every rule of the subtable has, 0: any */
	uint8_t spl, dpl;  /* port prefix lengths, 0..16 */
	uint8_t inl, outl; /* interface name bytes compared, 0..16 */
	uint8_t pad;
	uint32_t markmask;
};

struct hm_table;

#define HM_PURE 0x1  /* every match described and pure */
#define HM_EXACT 0x2 /* the filter is the rule (fragoff 0): no need to ask it */

/* A rule in a subtable. The first 64 bytes are what a lookup reads; the second line holds what
 * the traversal reads of a rule it takes (its counters and target: the rule itself is not read
 * when its filter is exact). Nodes come from the chain's pool, aligned to cache lines. */
struct hm_node {
	uint64_t label;
	struct hm_node *bnext; /* next in its bucket, by label */
	struct pf_rule *rule;
	/* The matcher state of the chain the rule jumps to, when jgen is the engine's chain
	 * generation (pf_eval.jump_state): entering that chain takes no lookup. */
	void *jms;
	/* The rule's filter (host order): a packet outside it cannot match. */
	uint32_t src, dst;
	uint16_t sp[2], dp[2];
	uint32_t mark, markmask;
	uint32_t jgen;
	uint8_t sl, dl; /* address prefix lengths */
	uint8_t proto;	/* 0: any */
	uint8_t flags;	/* HM_PURE, HM_EXACT */
	/* Second line: the rule's counters and target (pf_eval.hit), then cold fields. */
	struct pf_hit hit;
	uint64_t h; /* hash of its key in tbl */
	struct hm_table *tbl;
	struct hm_tuple tup; /* the rule's own (finest) tuple */
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct hm_node, hit) == 64 && sizeof(struct hm_node) == 128,
	       "a lookup reads one line of a node, taking its rule one more");

/* A chunk of nodes (the chain's pool); nodes follow the header. */
struct hm_chunk {
	struct hm_chunk *next;
	size_t bytes;
} __attribute__((aligned(64)));

struct hm_slot {
	uint64_t h;
	struct hm_node *head;
};

struct hm_table {
	uint64_t minlabel; /* lower bound of its labels */
	uint32_t smask, dmask, markmask;
	uint16_t spmask, dpmask;
	uint8_t proto;
	bool ifaces;
	size_t mask;   /* cap - 1 */
	uint8_t shift; /* 64 - log2(cap): a hash's slot is its top bits */
	struct hm_slot *slots;
	uint64_t inm[2], outm[2];
	struct hm_tuple tup;
	size_t nnodes, nkeys;
};

#define HM_ALWAYS 0x1 /* hm_ent.hit.mflags: the kernel's unconditional rule, never asked */

struct hm_ent {
	struct pf_hit hit; /* the rule's counters and target while node is NULL; mflags */
	uint64_t label;
	struct pf_rule *rule;
	struct hm_node *node; /* NULL while the chain is not indexed */
};

static inline bool ent_always(const struct hm_ent *e)
{
	return e->hit.mflags & HM_ALWAYS;
}

/* Where the counters of entry e's rule are. */
static inline struct pf_hit *ent_hit(struct hm_ent *e)
{
	return e->node ? &e->node->hit : &e->hit;
}

struct hm_block {
	uint32_t n;
	uint16_t cap;
	uint8_t cflags; /* in the chain's inline block only: the chain's HC_* flags */
	uint8_t pad;
	struct hm_ent v[];
};

#define HC_INDEXED 0x1	/* the chain has subtables */
#define HC_INL_ONLY 0x2 /* its one block is the inline one */

struct hm_chain {
	struct hm_table **tables; /* by minlabel */
	size_t ntables, tcap;
	size_t bcap;
	struct hm_block *inl; /* room for a block, allocated with the chain (never freed alone;
				 used while the chain has one short block) */
	bool stale;	      /* the chain's rules array lags behind */
	bool ifaces;	      /* some subtable hashes interface names */
	struct pf_matcher_counts st; /* st.scans: in scans below */
	size_t nb, n;
	struct hm_block **b; /* &b1 while there is one block */
	struct hm_block *b1;
	/* The node pool: chunks, the free list (through bnext), what is left of the newest. */
	struct hm_chunk *chunks;
	struct hm_node *nfree;
	struct hm_node *carve;
	uint32_t ncarve, nalloc;
	/* Then, from a cache line boundary (the state is allocated aligned), the inline block
	 * (hc->inl, room for 1 to HM_INLINE entries): its header holds the chain's flags, so
	 * that a lookup of a short chain reads one line, the first entry's hit included. */
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct hm_chain) % 64 == 0 &&
		   sizeof(struct hm_block) + sizeof(struct hm_ent) <= 64,
	       "a short chain's lookup reads one cache line");

/* The chain's flags (HC_*), in its inline block's header. */
static inline uint8_t *hc_flags(struct hm_chain *hc)
{
	return &((struct hm_block *)(hc + 1))->cflags;
}

static inline uint8_t hc_flags_of(const struct hm_chain *hc)
{
	return ((const struct hm_block *)(hc + 1))->cflags;
}

/* Keep inl_only true to the blocks. */
static void note_blocks(struct hm_chain *hc)
{
	if (hc->nb == 1 && hc->b[0] == hc->inl)
		*hc_flags(hc) |= HC_INL_ONLY;
	else
		*hc_flags(hc) &= (uint8_t)~HC_INL_ONLY;
}

/* The kernel's unconditional(): no address, interface, protocol or flag, and no match. */
static bool unconditional(const struct pf_rule *r)
{
	static const struct pf_ipt_ip none;
	return r->nmatches == 0 && memcmp(&r->ip, &none, sizeof(none)) == 0;
}

/* What a rule's filter holds: values for its finest tuple. */
struct hm_rinfo {
	struct hm_tuple t;
	uint32_t src, dst, mark;
	uint16_t sp[2], dp[2];
	uint64_t in[2], out[2];
	bool pure, exact;
};

/* ---- hashing ---- */

/* The protocol is not hashed: a subtable holds one protocol (or any). */
static inline uint64_t hm_hash(const struct hm_table *t, uint32_t src, uint32_t dst, uint16_t sport,
			       uint16_t dport, uint32_t mark, const uint64_t in[2],
			       const uint64_t out[2])
{
	uint64_t a = ((uint64_t)(src & t->smask) << 32) | (dst & t->dmask);
	uint64_t b = ((uint64_t)(mark & t->markmask) << 32) |
		     ((uint64_t)(sport & t->spmask) << 16) | (dport & t->dpmask);
	uint64_t h = a * 0x9E3779B97F4A7C15ULL ^ b * 0xC2B2AE3D27D4EB4FULL;
	if (t->ifaces)
		h ^= ((in[0] & t->inm[0]) * 0x165667B19E3779F9ULL) ^
		     ((in[1] & t->inm[1]) * 0x27D4EB2F165667C5ULL) ^
		     ((out[0] & t->outm[0]) * 0x94D049BB133111EBULL) ^
		     ((out[1] & t->outm[1]) * 0xBF58476D1CE4E5B9ULL);
	/* No finalizer: a slot is chosen by the top bits (slot_of), which the products mix
	 * from every key bit (multiplicative hashing); two multiplications in parallel are the
	 * whole cost of a probe's hash. */
	return h;
}

static uint32_t prefix_mask32(unsigned len)
{
	return len ? (uint32_t)(0xffffffffu << (32 - len)) : 0;
}

/* The same without a branch (len <= 32), for lookups. */
static inline uint32_t pmask(unsigned len)
{
	return (uint32_t)(~0ull << (32 - len));
}

/* Is the packet's key inside node n's filter (the first line of the node only)? */
static inline bool node_admits(const struct hm_node *n, uint32_t src, uint32_t dst, uint8_t proto,
			       uint16_t sport, uint16_t dport, uint32_t mark)
{
	return !((src ^ n->src) & pmask(n->sl)) && !((dst ^ n->dst) & pmask(n->dl)) &&
	       (!n->proto || n->proto == proto) && sport >= n->sp[0] && sport <= n->sp[1] &&
	       dport >= n->dp[0] && dport <= n->dp[1] && !((mark ^ n->mark) & n->markmask);
}

static uint16_t prefix_mask16(unsigned len)
{
	return len ? (uint16_t)(0xffffu << (16 - len)) : 0;
}

/* Leading one bits of a mask in network byte order (a non-prefix mask: its prefix part). */
static uint8_t leading_ones(uint32_t nmask)
{
	uint32_t m = ntohl(nmask);
	uint8_t n = 0;
	while (n < 32 && (m & (0x80000000u >> n)))
		n++;
	return n;
}

/* Leading bits lo and hi share: the prefix that covers [lo, hi]. */
static uint8_t range_prefix(uint16_t lo, uint16_t hi)
{
	uint8_t n = 0;
	while (n < 16 && ((lo ^ hi) & (0x8000u >> n)) == 0)
		n++;
	return n;
}

static void name_words(const char *name, size_t len, uint64_t w[2])
{
	uint8_t b[16] = {0};
	memcpy(b, name, len > 16 ? 16 : len);
	memcpy(w, b, 16);
}

static void name_mask(unsigned len, uint64_t m[2])
{
	uint8_t b[16] = {0};
	memset(b, 0xff, len > 16 ? 16 : len);
	memcpy(m, b, 16);
}

/* ---- what a rule can be indexed by ---- */

static uint8_t iface_len(const char *name, uint8_t plus, bool inverted)
{
	if (inverted || name[0] == '\0')
		return 0;
	size_t n = strnlen(name, PF_IFNAMSIZ);
	if (plus)
		return (uint8_t)(n - 1);	       /* "eth+": "eth" */
	return (uint8_t)(n < PF_IFNAMSIZ ? n + 1 : n); /* "eth0": "eth0\0" */
}

static void analyse(const struct pf_rule *r, struct hm_rinfo *ri)
{
	const struct pf_ipt_ip *ip = &r->ip;
	memset(ri, 0, sizeof(*ri));
	if (!(ip->invflags & PF_INV_SRCIP)) {
		ri->t.sl = leading_ones(ip->smsk);
		ri->src = ntohl(ip->src) & prefix_mask32(ri->t.sl);
	}
	if (!(ip->invflags & PF_INV_DSTIP)) {
		ri->t.dl = leading_ones(ip->dmsk);
		ri->dst = ntohl(ip->dst) & prefix_mask32(ri->t.dl);
	}
	if (ip->proto && ip->proto < 256 && !(ip->invflags & PF_INV_PROTO))
		ri->t.proto = (uint8_t)ip->proto;
	ri->t.inl = iface_len(ip->iniface, ip->iniface_plus, ip->invflags & PF_INV_VIA_IN);
	ri->t.outl = iface_len(ip->outiface, ip->outiface_plus, ip->invflags & PF_INV_VIA_OUT);
	name_words(ip->iniface, ri->t.inl, ri->in);
	name_words(ip->outiface, ri->t.outl, ri->out);

	/* Is the filter all of the ip part? No inversion, fragment flag or interface; prefix
	 * masks, and no address bits outside them (the kernel never matches those). */
	uint32_t sm = ntohl(ip->smsk), dm = ntohl(ip->dmsk);
	ri->exact = !ip->invflags && !(ip->flags & PF_F_FRAG) && !ip->iniface[0] &&
		    !ip->outiface[0] && ip->proto < 256 &&
		    (unsigned)__builtin_popcount(sm) == ri->t.sl &&
		    (unsigned)__builtin_popcount(dm) == ri->t.dl && !(ntohl(ip->src) & ~sm) &&
		    !(ntohl(ip->dst) & ~dm);

	/* The leading matches that describe themselves, up to the first impure one. */
	ri->sp[1] = ri->dp[1] = 0xffff;
	ri->pure = true;
	for (unsigned i = 0; i < r->nmatches && ri->pure; i++) {
		const struct pf_ext *x = r->matches[i].ext;
		struct pf_index_key k = {{0, 0xffff}, {0, 0xffff}, 0, 0, 0};
		if (!x->index_fields || x->index_fields(r->matches[i].data, r, &k) != 0) {
			ri->pure = false;
			break;
		}
		if (!(k.flags & PF_INDEX_EXACT) || (k.mark_mask && ri->t.markmask))
			ri->exact = false;
		/* Intersections of what each says (any superset would do). */
		if (k.sport[0] > ri->sp[0])
			ri->sp[0] = k.sport[0];
		if (k.sport[1] < ri->sp[1])
			ri->sp[1] = k.sport[1];
		if (k.dport[0] > ri->dp[0])
			ri->dp[0] = k.dport[0];
		if (k.dport[1] < ri->dp[1])
			ri->dp[1] = k.dport[1];
		if (k.mark_mask && !ri->t.markmask) {
			ri->mark = k.mark & k.mark_mask;
			ri->t.markmask = k.mark_mask;
		}
		if (k.flags & PF_INDEX_IMPURE)
			ri->pure = false;
	}
	if (!ri->pure)
		ri->exact = false;
	/* An empty range (the rule never matches) is indexed as any port. */
	if (ri->sp[0] > ri->sp[1]) {
		ri->sp[0] = 0;
		ri->sp[1] = 0xffff;
		ri->exact = false;
	}
	if (ri->dp[0] > ri->dp[1]) {
		ri->dp[0] = 0;
		ri->dp[1] = 0xffff;
		ri->exact = false;
	}
	ri->t.spl = range_prefix(ri->sp[0], ri->sp[1]);
	ri->t.dpl = range_prefix(ri->dp[0], ri->dp[1]);
}

/* The key of a node (its filter set) in subtable t. */
static uint64_t node_hash(const struct hm_table *t, const struct hm_node *n)
{
	uint64_t in[2] = {0, 0}, out[2] = {0, 0};
	if (t->ifaces) {
		name_words(n->rule->ip.iniface, n->tup.inl, in);
		name_words(n->rule->ip.outiface, n->tup.outl, out);
	}
	return hm_hash(t, n->src, n->dst, n->sp[0], n->dp[0], n->mark, in, out);
}

/* Is a (a subtable's tuple) no more specific than b (a rule's) in every field? */
static bool tuple_covers(const struct hm_tuple *a, const struct hm_tuple *b)
{
	return a->sl <= b->sl && a->dl <= b->dl && (!a->proto || a->proto == b->proto) &&
	       a->spl <= b->spl && a->dpl <= b->dpl && a->inl <= b->inl && a->outl <= b->outl &&
	       (a->markmask & ~b->markmask) == 0;
}

static bool tuple_eq(const struct hm_tuple *a, const struct hm_tuple *b)
{
	return a->sl == b->sl && a->dl == b->dl && a->proto == b->proto && a->spl == b->spl &&
	       a->dpl == b->dpl && a->inl == b->inl && a->outl == b->outl &&
	       a->markmask == b->markmask;
}

/* The most specific tuple no more specific than a and b. */
static struct hm_tuple tuple_meet(const struct hm_tuple *a, const struct hm_tuple *b)
{
	struct hm_tuple m = {0};
	m.sl = a->sl < b->sl ? a->sl : b->sl;
	m.dl = a->dl < b->dl ? a->dl : b->dl;
	m.proto = a->proto == b->proto ? a->proto : 0;
	m.spl = a->spl < b->spl ? a->spl : b->spl;
	m.dpl = a->dpl < b->dpl ? a->dpl : b->dpl;
	m.inl = a->inl < b->inl ? a->inl : b->inl;
	m.outl = a->outl < b->outl ? a->outl : b->outl;
	m.markmask = a->markmask & b->markmask;
	return m;
}

static unsigned tuple_bits(const struct hm_tuple *t)
{
	return t->sl + t->dl + (t->proto ? 8u : 0u) + t->spl + t->dpl + 8u * (t->inl + t->outl) +
	       (unsigned)__builtin_popcount(t->markmask);
}

/* The tuple of a new subtable for a rule: coarser, so that neighbours share it (measured on
 * the ClassBench sets: /16 steps and exact ports give the fewest probes, docs/matcher.md). */
static struct hm_tuple tuple_relax(const struct hm_tuple *t)
{
	struct hm_tuple r = *t;
	r.sl = t->sl < 16 ? 0 : 16;
	r.dl = t->dl < 16 ? 0 : 16;
	r.spl = t->spl == 16 ? 16 : 0;
	r.dpl = t->dpl == 16 ? 16 : 0;
	return r;
}

/* ---- subtables ---- */

static struct hm_table *table_new(const struct hm_tuple *tup)
{
	struct hm_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tup = *tup;
	t->smask = prefix_mask32(tup->sl);
	t->dmask = prefix_mask32(tup->dl);
	t->proto = tup->proto;
	t->spmask = prefix_mask16(tup->spl);
	t->dpmask = prefix_mask16(tup->dpl);
	t->markmask = tup->markmask;
	name_mask(tup->inl, t->inm);
	name_mask(tup->outl, t->outm);
	t->ifaces = tup->inl || tup->outl;
	t->minlabel = UINT64_MAX;
	t->mask = 7;
	t->shift = 61;
	t->slots = calloc(t->mask + 1, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

static void table_free(struct hm_table *t)
{
	if (t) {
		free(t->slots);
		free(t);
	}
}

/* Home slot of hash h. */
static inline size_t slot_of(const struct hm_table *t, uint64_t h)
{
	return (size_t)(h >> t->shift);
}

static inline struct hm_slot *table_slot(const struct hm_table *t, uint64_t h)
{
	size_t i = slot_of(t, h);
	while (t->slots[i].head && t->slots[i].h != h)
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

static int table_grow(struct hm_table *t)
{
	size_t ocap = t->mask + 1;
	struct hm_slot *old = t->slots;
	struct hm_slot *s = calloc(ocap * 2, sizeof(*s));
	if (!s)
		return -1;
	t->slots = s;
	t->mask = ocap * 2 - 1;
	t->shift--;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].head)
			*table_slot(t, old[i].h) = old[i];
	free(old);
	return 0;
}

static size_t bucket_len(const struct hm_table *t, uint64_t h, size_t limit)
{
	size_t n = 0;
	for (const struct hm_node *x = table_slot(t, h)->head; x && n < limit; x = x->bnext)
		n++;
	return n;
}

static int table_add(struct hm_table *t, struct hm_node *n)
{
	if ((t->nkeys + 1) * 2 > t->mask + 1 && table_grow(t))
		return -1;
	struct hm_slot *s = table_slot(t, n->h);
	if (!s->head) {
		s->h = n->h;
		t->nkeys++;
	}
	struct hm_node **pp = &s->head;
	while (*pp && (*pp)->label < n->label)
		pp = &(*pp)->bnext;
	n->bnext = *pp;
	*pp = n;
	n->tbl = t;
	t->nnodes++;
	if (n->label < t->minlabel)
		t->minlabel = n->label;
	return 0;
}

static void table_del(struct hm_table *t, struct hm_node *n)
{
	size_t m = t->mask, i = slot_of(t, n->h);
	while (t->slots[i].head && t->slots[i].h != n->h)
		i = (i + 1) & m;
	struct hm_node **pp = &t->slots[i].head;
	while (*pp && *pp != n)
		pp = &(*pp)->bnext;
	if (*pp)
		*pp = n->bnext;
	n->bnext = NULL;
	n->tbl = NULL;
	t->nnodes--;
	if (t->slots[i].head)
		return;
	/* Bucket empty: backward-shift deletion keeps the probe sequences whole. */
	t->nkeys--;
	size_t j = i;
	for (;;) {
		j = (j + 1) & m;
		if (!t->slots[j].head)
			break;
		size_t home = slot_of(t, t->slots[j].h);
		/* The entry at j may fill the hole at i unless its home lies in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].head = NULL;
	t->slots[i].h = 0;
}

/* Keep hc->tables sorted by minlabel (few subtables: insertion sort). */
static void tables_sort(struct hm_chain *hc)
{
	for (size_t i = 1; i < hc->ntables; i++) {
		struct hm_table *t = hc->tables[i];
		size_t j = i;
		while (j > 0 && hc->tables[j - 1]->minlabel > t->minlabel) {
			hc->tables[j] = hc->tables[j - 1];
			j--;
		}
		hc->tables[j] = t;
	}
}

static struct hm_table *tables_add(struct hm_chain *hc, const struct hm_tuple *tup)
{
	if (hc->ntables == hc->tcap) {
		size_t cap = hc->tcap ? hc->tcap * 2 : 4;
		struct hm_table **v = realloc(hc->tables, cap * sizeof(*v));
		if (!v)
			return NULL;
		hc->tables = v;
		hc->tcap = cap;
	}
	struct hm_table *t = table_new(tup);
	if (!t)
		return NULL;
	hc->tables[hc->ntables++] = t;
	if (t->ifaces)
		hc->ifaces = true;
	return t;
}

static void tables_drop(struct hm_chain *hc, struct hm_table *t)
{
	for (size_t i = 0; i < hc->ntables; i++)
		if (hc->tables[i] == t) {
			memmove(&hc->tables[i], &hc->tables[i + 1],
				(hc->ntables - i - 1) * sizeof(*hc->tables));
			hc->ntables--;
			break;
		}
	table_free(t);
	hc->ifaces = false;
	for (size_t i = 0; i < hc->ntables; i++)
		if (hc->tables[i]->ifaces)
			hc->ifaces = true;
}

static struct hm_table *tables_find(struct hm_chain *hc, const struct hm_tuple *tup)
{
	for (size_t i = 0; i < hc->ntables; i++)
		if (tuple_eq(&hc->tables[i]->tup, tup))
			return hc->tables[i];
	return NULL;
}

/* Move the nodes of bucket h of subtable from that subtable to can hold, to it. */
static int move_bucket(struct hm_chain *hc, struct hm_table *from, uint64_t h, struct hm_table *to)
{
	for (;;) {
		struct hm_node *x = table_slot(from, h)->head; /* deletes may move the slot */
		while (x && !tuple_covers(&to->tup, &x->tup))
			x = x->bnext;
		if (!x)
			break;
		table_del(from, x);
		x->h = node_hash(to, x);
		if (table_add(to, x))
			return -1;
	}
	if (from->nnodes == 0)
		tables_drop(hc, from);
	return 0;
}

/* Put a node (label and rule set) in a subtable. */
static int place(struct hm_chain *hc, struct hm_node *n)
{
	struct hm_rinfo ri;
	analyse(n->rule, &ri);
	n->tup = ri.t;
	n->src = ri.src;
	n->sl = ri.t.sl;
	n->dst = ri.dst;
	n->dl = ri.t.dl;
	n->sp[0] = ri.sp[0];
	n->sp[1] = ri.sp[1];
	n->dp[0] = ri.dp[0];
	n->dp[1] = ri.dp[1];
	n->mark = ri.mark;
	n->markmask = ri.t.markmask;
	n->proto = ri.t.proto;
	n->flags = (ri.pure ? HM_PURE : 0) | (ri.exact ? HM_EXACT : 0);

	/* The most specific subtable that can hold the rule and has room in its bucket. The
	 * coarser ones whose bucket is full are remembered: their buckets move to it. */
	const size_t limit = HM_BUCKET_LIMIT;
	struct hm_table *best = NULL;
	unsigned best_bits = 0;
	size_t nfull = 0;
	struct hm_table **full = calloc(hc->ntables + 1, sizeof(*full));
	if (!full)
		return -1;
	for (size_t i = 0; i < hc->ntables; i++) {
		struct hm_table *t = hc->tables[i];
		if (!tuple_covers(&t->tup, &ri.t))
			continue;
		if (bucket_len(t, node_hash(t, n), limit) >= limit) {
			full[nfull++] = t;
			continue;
		}
		unsigned bits = tuple_bits(&t->tup);
		if (best && (bits < best_bits || (bits == best_bits && t->nnodes <= best->nnodes)))
			continue;
		best = t;
		best_bits = bits;
	}
	int rc = -1;
	if (!best) {
		struct hm_tuple rt = tuple_relax(&ri.t);
		struct hm_table *rtab = tables_find(hc, &rt);
		if (!rtab) {
			best = tables_add(hc, &rt);
		} else {
			/* The relaxed subtable's bucket is full: split it (TupleMerge). Its rules
			 * and this one move to the most specific subtable that holds them all, when
			 * that is finer; else this rule goes to one with its own tuple. */
			uint64_t h = node_hash(rtab, n);
			struct hm_tuple f = ri.t;
			for (struct hm_node *x = table_slot(rtab, h)->head; x; x = x->bnext)
				f = tuple_meet(&f, &x->tup);
			if (tuple_covers(&rtab->tup, &f) && !tuple_eq(&rtab->tup, &f)) {
				best = tables_find(hc, &f);
				if (!best)
					best = tables_add(hc, &f);
				if (best && move_bucket(hc, rtab, h, best))
					goto out;
			} else {
				best = tables_find(hc, &ri.t);
				if (!best)
					best = tables_add(hc, &ri.t);
			}
		}
		if (!best)
			goto out;
		best_bits = tuple_bits(&best->tup);
	}
	n->h = node_hash(best, n);
	if (table_add(best, n))
		goto out;
	/* Drain the full buckets of coarser subtables into this finer one. */
	for (size_t i = 0; i < nfull; i++) {
		bool alive = false;
		for (size_t k = 0; k < hc->ntables; k++)
			alive |= hc->tables[k] == full[i];
		if (alive && full[i] != best && tuple_bits(&full[i]->tup) < best_bits &&
		    move_bucket(hc, full[i], node_hash(full[i], n), best))
			goto out;
	}
	rc = 0;
out:
	free(full);
	tables_sort(hc);
	return rc;
}

static void unplace(struct hm_chain *hc, struct hm_node *n)
{
	struct hm_table *t = n->tbl;
	if (!t)
		return;
	table_del(t, n);
	if (t->nnodes == 0)
		tables_drop(hc, t);
}

/* ---- the order: a blocked list of entries ---- */

static struct hm_block *block_new(uint32_t cap)
{
	struct hm_block *b = malloc(sizeof(*b) + cap * sizeof(b->v[0]));
	if (b) {
		b->n = 0;
		b->cap = (uint16_t)cap;
		b->cflags = 0;
		b->pad = 0;
	}
	return b;
}

static void block_free(struct hm_chain *hc, struct hm_block *b)
{
	if (b != hc->inl)
		free(b);
}

/* A bigger copy of block b (cap entries). */
static struct hm_block *block_grow(struct hm_chain *hc, struct hm_block *b, uint32_t cap)
{
	if (b != hc->inl) {
		struct hm_block *g = realloc(b, sizeof(*b) + cap * sizeof(b->v[0]));
		if (g)
			g->cap = (uint16_t)cap;
		return g;
	}
	struct hm_block *g = block_new(cap);
	if (g) {
		memcpy(g->v, b->v, b->n * sizeof(b->v[0]));
		g->n = b->n;
	}
	return g;
}

/* Block and offset of rank pos (pos == n: the end of the last block). */
static size_t seq_find(const struct hm_chain *hc, size_t pos, size_t *off)
{
	size_t bi = 0;
	while (bi + 1 < hc->nb && pos >= hc->b[bi]->n) {
		pos -= hc->b[bi]->n;
		bi++;
	}
	*off = pos;
	return bi;
}

static struct hm_ent *seq_at(const struct hm_chain *hc, size_t pos)
{
	size_t off, bi = seq_find(hc, pos, &off);
	return &hc->b[bi]->v[off];
}

/* First block whose last label is >= label (binary search), or nb. */
static size_t seq_block_for_label(const struct hm_chain *hc, uint64_t label)
{
	size_t lo = 0, hi = hc->nb;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct hm_block *b = hc->b[mid];
		if (b->v[b->n - 1].label < label)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t block_offset_for_label(const struct hm_block *b, uint64_t label)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (b->v[mid].label < label)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int blocks_insert(struct hm_chain *hc, size_t at, struct hm_block *nbk)
{
	if (hc->nb == hc->bcap) {
		size_t cap = hc->bcap ? hc->bcap * 2 : 1;
		struct hm_block **v;
		if (cap == 1) {
			v = &hc->b1; /* one block: no array of its own */
		} else {
			v = malloc(cap * sizeof(*v));
			if (!v)
				return -1;
			memcpy(v, hc->b, hc->nb * sizeof(*v));
			if (hc->b != &hc->b1)
				free(hc->b);
		}
		hc->b = v;
		hc->bcap = cap;
	}
	memmove(&hc->b[at + 1], &hc->b[at], (hc->nb - at) * sizeof(*hc->b));
	hc->b[at] = nbk;
	hc->nb++;
	note_blocks(hc);
	return 0;
}

/* Insert an entry at rank pos. */
static int seq_insert(struct hm_chain *hc, size_t pos, const struct hm_ent *e)
{
	if (hc->nb == 0) {
		hc->inl->n = 0; /* no block in use: the inline one is free */
		if (blocks_insert(hc, 0, hc->inl))
			return -1;
	}
	size_t off, bi = seq_find(hc, pos, &off);
	struct hm_block *b = hc->b[bi];
	if (b->n >= HM_BLOCK) {
		/* Split in two halves. */
		struct hm_block *nb = block_new(HM_BLOCK);
		if (!nb || blocks_insert(hc, bi + 1, nb)) {
			free(nb);
			return -1;
		}
		uint32_t half = b->n / 2;
		memcpy(nb->v, &b->v[half], (b->n - half) * sizeof(b->v[0]));
		nb->n = b->n - half;
		b->n = half;
		if (off > half) {
			off -= half;
			b = nb;
			bi++;
		}
	}
	if (b->n == b->cap) {
		uint32_t cap = b->cap * 2 > HM_BLOCK ? HM_BLOCK : b->cap * 2;
		struct hm_block *g = block_grow(hc, b, cap);
		if (!g)
			return -1;
		hc->b[bi] = g;
		b = g;
		note_blocks(hc);
	}
	memmove(&b->v[off + 1], &b->v[off], (b->n - off) * sizeof(b->v[0]));
	b->v[off] = *e;
	b->n++;
	hc->n++;
	return 0;
}

static struct hm_ent seq_remove(struct hm_chain *hc, size_t pos)
{
	size_t off, bi = seq_find(hc, pos, &off);
	struct hm_block *b = hc->b[bi];
	struct hm_ent e = b->v[off];
	memmove(&b->v[off], &b->v[off + 1], (b->n - off - 1) * sizeof(b->v[0]));
	b->n--;
	hc->n--;
	if (b->n == 0) {
		block_free(hc, b);
		memmove(&hc->b[bi], &hc->b[bi + 1], (hc->nb - bi - 1) * sizeof(*hc->b));
		hc->nb--;
		note_blocks(hc);
	}
	return e;
}

/* ---- labels ---- */

static void set_label(struct hm_ent *e, uint64_t label, bool *resort)
{
	e->label = label;
	if (!e->node)
		return;
	e->node->label = label;
	if (e->node->tbl && label < e->node->tbl->minlabel) {
		e->node->tbl->minlabel = label;
		*resort = true;
	}
}

/* Give the entry at rank pos a label between its neighbours, spreading the labels of a window
 * around it when they are adjacent. */
static void assign_label(struct hm_chain *hc, size_t pos)
{
	struct hm_ent *e = seq_at(hc, pos);
	uint64_t lo = pos > 0 ? seq_at(hc, pos - 1)->label : 0;
	uint64_t hi = pos + 1 < hc->n ? seq_at(hc, pos + 1)->label : HM_LABEL_END;
	bool resort = false;
	if (hi - lo >= 2) {
		if (pos + 1 == hc->n && hi - lo > 2 * HM_GAP)
			set_label(e, lo + HM_GAP, &resort); /* appending: the usual spacing */
		else
			set_label(e, lo + (hi - lo) / 2, &resort);
		return;
	}
	/* Spread a window [l, r] of ranks: grow it until its labels have room. */
	size_t w = 8;
	size_t l, r;
	for (;;) {
		l = pos > w ? pos - w : 0;
		r = pos + w < hc->n - 1 ? pos + w : hc->n - 1;
		lo = l > 0 ? seq_at(hc, l - 1)->label : 0;
		hi = r + 1 < hc->n ? seq_at(hc, r + 1)->label : HM_LABEL_END;
		if ((hi - lo) / (r - l + 2) >= HM_MIN_SPREAD || (l == 0 && r == hc->n - 1))
			break;
		w *= 4;
	}
	uint64_t step = (hi - lo) / (r - l + 2);
	size_t off, bi = seq_find(hc, l, &off);
	for (size_t k = 0; k <= r - l; k++) {
		set_label(&hc->b[bi]->v[off], lo + step * (k + 1), &resort);
		if (++off == hc->b[bi]->n) {
			bi++;
			off = 0;
		}
	}
	if (resort)
		tables_sort(hc);
}

/* ---- building ---- */

/* ---- the node pool ---- */

/* A zeroed node, aligned to a cache line: from the free list, else carved from the newest
 * chunk; chunks grow with the chain (at most 4096 nodes, 512 KiB). */
static struct hm_node *node_alloc(struct hm_chain *hc)
{
	struct hm_node *n = hc->nfree;
	if (n) {
		hc->nfree = n->bnext;
	} else {
		if (!hc->ncarve) {
			size_t k = hc->nalloc < 8 ? 8 : hc->nalloc > 4096 ? 4096 : hc->nalloc;
			size_t bytes = sizeof(struct hm_chunk) + k * sizeof(struct hm_node);
			struct hm_chunk *ck;
			if (posix_memalign((void **)&ck, 64, bytes))
				return NULL;
			ck->next = hc->chunks;
			ck->bytes = bytes;
			hc->chunks = ck;
			hc->carve = (struct hm_node *)(ck + 1);
			hc->ncarve = (uint32_t)k;
		}
		n = hc->carve++;
		hc->ncarve--;
	}
	hc->nalloc++;
	memset(n, 0, sizeof(*n));
	return n;
}

static void node_free(struct hm_chain *hc, struct hm_node *n)
{
	n->bnext = hc->nfree;
	hc->nfree = n;
	hc->nalloc--;
}

static void pool_free(struct hm_chain *hc)
{
	while (hc->chunks) {
		struct hm_chunk *ck = hc->chunks;
		hc->chunks = ck->next;
		free(ck);
	}
	hc->nfree = hc->carve = NULL;
	hc->ncarve = hc->nalloc = 0;
}

/* Forget the subtables and nodes (out of memory while indexing: scanning stays right). */
static void drop_index(struct hm_chain *hc)
{
	for (size_t bi = 0; bi < hc->nb; bi++)
		for (uint32_t k = 0; k < hc->b[bi]->n; k++) {
			struct hm_ent *e = &hc->b[bi]->v[k];
			if (e->node)
				e->hit = e->node->hit; /* the counters go back to the entry */
			e->node = NULL;
		}
	pool_free(hc);
	for (size_t i = 0; i < hc->ntables; i++)
		table_free(hc->tables[i]);
	hc->ntables = 0;
	*hc_flags(hc) &= (uint8_t)~HC_INDEXED;
	hc->ifaces = false;
}

static int index_ent(struct hm_chain *hc, struct hm_ent *e)
{
	struct hm_node *n = node_alloc(hc);
	if (!n)
		return -1;
	n->label = e->label;
	n->rule = e->rule;
	n->hit = e->hit;
	e->node = n;
	return place(hc, n);
}

/*
 * Lay the nodes out again bucket after bucket, each bucket's nodes one after the other in
 * label order: a lookup walking a bucket then finds the next node at the next address and
 * fetches it ahead (hm_next) instead of waiting for each bnext in turn. Done once the index is
 * built (nodes were made in rule order); later inserts take nodes from the pool as they come.
 * Out of memory: the nodes stay where they are.
 */
static void compact_buckets(struct hm_chain *hc)
{
	size_t count = hc->nalloc, inbuckets = 0;
	if (count < 2)
		return;
	for (size_t i = 0; i < hc->ntables; i++)
		inbuckets += hc->tables[i]->nnodes;
	if (inbuckets != count)
		return; /* a node outside the subtables: leave them all where they are */
	size_t bytes = sizeof(struct hm_chunk) + count * sizeof(struct hm_node);
	struct hm_chunk *ck;
	if (posix_memalign((void **)&ck, 64, bytes))
		return;
	ck->next = NULL;
	ck->bytes = bytes;
	struct hm_node *v = (struct hm_node *)(ck + 1);
	size_t used = 0;
	/* New places, bucket by bucket; an old node keeps its new address in jms (nodes made
	 * by index_all have answered nothing yet: jms is NULL). */
	for (size_t i = 0; i < hc->ntables; i++) {
		struct hm_table *t = hc->tables[i];
		for (size_t k = 0; k <= t->mask; k++) {
			struct hm_node *prev = NULL;
			for (struct hm_node *n = t->slots[k].head; n; n = n->bnext) {
				struct hm_node *m = &v[used++];
				*m = *n;
				n->jms = m;
				if (prev)
					prev->bnext = m;
				else
					t->slots[k].head = m;
				prev = m;
			}
			if (prev)
				prev->bnext = NULL;
		}
	}
	for (size_t bi = 0; bi < hc->nb; bi++)
		for (uint32_t k = 0; k < hc->b[bi]->n; k++) {
			struct hm_ent *e = &hc->b[bi]->v[k];
			if (e->node)
				e->node = e->node->jms;
		}
	for (size_t i = 0; i < used; i++)
		v[i].jms = NULL;
	size_t nalloc = hc->nalloc;
	pool_free(hc);
	hc->chunks = ck;
	hc->nalloc = (uint32_t)nalloc;
}

static void index_all(struct hm_chain *hc)
{
	*hc_flags(hc) |= HC_INDEXED;
	for (size_t bi = 0; bi < hc->nb; bi++)
		for (uint32_t k = 0; k < hc->b[bi]->n; k++)
			if (index_ent(hc, &hc->b[bi]->v[k])) {
				drop_index(hc);
				return;
			}
	compact_buckets(hc);
}

static void chain_free(struct hm_chain *hc)
{
	if (!hc)
		return;
	drop_index(hc);
	for (size_t i = 0; i < hc->nb; i++)
		block_free(hc, hc->b[i]);
	if (hc->b != &hc->b1)
		free(hc->b);
	free(hc->tables);
	free(hc);
}

static int hm_build(struct pf_engine *e, struct pf_chain *c, void **state)
{
	(void)e;
	/* Short chains (most user chains) come in one allocation with their entries, aligned so
	 * that a lookup in them reads one cache line (hm_chain.scans). */
	struct hm_chain *hc = NULL;
	size_t icap = c->nrules < 1 ? 1 : c->nrules > HM_INLINE ? HM_INLINE : c->nrules;
	size_t sz = sizeof(*hc) + sizeof(struct hm_block) + icap * sizeof(struct hm_ent);
	if (posix_memalign((void **)&hc, 64, sz))
		return -1;
	memset(hc, 0, sz);
	*state = hc;
	hc->inl = (struct hm_block *)(hc + 1);
	hc->inl->cap = (uint16_t)icap;
	if (c->nrules == 0)
		return 0;
	if (c->nrules <= HM_INLINE) {
		if (blocks_insert(hc, 0, hc->inl))
			return -1;
		for (size_t i = 0; i < c->nrules; i++) {
			hc->inl->v[i].label = (uint64_t)(i + 1) * HM_GAP;
			hc->inl->v[i].rule = c->rules[i];
			hc->inl->v[i].node = NULL;
			pf_hit_init(&hc->inl->v[i].hit, c->rules[i]);
			hc->inl->v[i].hit.mflags = unconditional(c->rules[i]) ? HM_ALWAYS : 0;
		}
		hc->inl->n = (uint32_t)c->nrules;
		hc->n = c->nrules;
		return 0;
	}
	uint64_t gap = HM_GAP;
	if (c->nrules >= (HM_LABEL_END / HM_GAP) - 1)
		gap = HM_LABEL_END / (c->nrules + 1);
	for (size_t i = 0; i < c->nrules;) {
		/* Blocks three quarters full, so that inserts rarely split them. */
		size_t cnt = c->nrules - i <= HM_BLOCK ? c->nrules - i : (HM_BLOCK * 3) / 4;
		uint32_t cap = c->nrules - i <= HM_BLOCK ? (uint32_t)(cnt < 2 ? 2 : cnt) : HM_BLOCK;
		struct hm_block *b = block_new(cap);
		if (!b || blocks_insert(hc, hc->nb, b)) {
			free(b);
			return -1;
		}
		for (size_t k = 0; k < cnt; k++, i++) {
			b->v[b->n].label = (uint64_t)(i + 1) * gap;
			b->v[b->n].rule = c->rules[i];
			b->v[b->n].node = NULL;
			pf_hit_init(&b->v[b->n].hit, c->rules[i]);
			b->v[b->n].hit.mflags = unconditional(c->rules[i]) ? HM_ALWAYS : 0;
			b->n++;
			hc->n++;
		}
	}
	if (hc->n >= HM_SMALL)
		index_all(hc);
	return 0;
}

static void hm_destroy(void *state)
{
	chain_free(state);
}

/* ---- lookup ---- */

/* What pf_rule_matches reads of a rule (an engine's rules are packed: the ip part, then the
 * matches array and their data in the lines that follow), fetched before it is asked. */
static inline void prefetch_rule(const struct pf_rule *r)
{
	__builtin_prefetch(r);
	__builtin_prefetch((const char *)r + 64);
	__builtin_prefetch((const char *)r + 128);
}

/* The linear walk, over labels from *cur. */
static struct pf_rule *scan(struct hm_chain *hc, uint64_t *cur, struct pf_eval *ev)
{
	/* A short chain's entries follow its state in memory: read them at that fixed address,
	 * so that they come in with the state rather than one cache miss later. */
	struct hm_block *inl = (struct hm_block *)(hc + 1);
	if (hc_flags_of(hc) & HC_INL_ONLY) {
		uint32_t k = 0;
		while (k < inl->n && inl->v[k].label < *cur)
			k++;
		/* the rules the walk may ask, all at once */
		for (uint32_t j = k; j < inl->n; j++)
			if (!ent_always(&inl->v[j]))
				prefetch_rule(inl->v[j].rule);
		for (; k < inl->n; k++) {
			if (ent_always(&inl->v[k]) || pf_rule_matches(inl->v[k].rule, ev)) {
				*cur = inl->v[k].label + 1;
				ev->hit = ent_hit(&inl->v[k]);
				return inl->v[k].rule;
			}
			if (ev->hotdrop)
				return NULL;
		}
		*cur = HM_LABEL_END;
		return NULL;
	}
	size_t bi = 0, off = 0;
	if (*cur) {
		bi = seq_block_for_label(hc, *cur);
		if (bi < hc->nb)
			off = block_offset_for_label(hc->b[bi], *cur);
	}
	for (; bi < hc->nb; bi++, off = 0) {
		struct hm_block *b = hc->b[bi];
		for (; off < b->n; off++) {
			if (off + 1 < b->n)
				prefetch_rule(b->v[off + 1].rule);
			if (ent_always(&b->v[off]) || pf_rule_matches(b->v[off].rule, ev)) {
				*cur = b->v[off].label + 1;
				ev->hit = ent_hit(&b->v[off]);
				return b->v[off].rule;
			}
			if (ev->hotdrop)
				return NULL;
		}
	}
	*cur = HM_LABEL_END;
	return NULL;
}

/* Node n's rule is the answer: hand the engine the state of the chain it jumps to (kept in the
 * node: entering that chain then costs no lookup in the engine's chain map). */
static inline struct pf_rule *answer(struct hm_node *n, uint64_t *cur, struct pf_eval *ev)
{
	if (n->jgen != ev->chains_gen) {
		n->jms = n->hit.tkind == PF_TARGET_CHAIN && n->hit.jump
			     ? pf_engine_chain_state(ev->engine, n->hit.jump)
			     : NULL;
		n->jgen = ev->chains_gen;
	}
	/* What comes next, in parallel: the hit (the engine counts there) and the state of the
	 * chain it jumps to (its next lookup). */
	__builtin_prefetch(&n->hit, 1);
	if (n->jms) {
		const struct hm_chain *next = n->jms;
		__builtin_prefetch(next + 1);
	}
	ev->jump_state = n->jms;
	ev->hit = &n->hit;
	*cur = n->label + 1;
	return n->rule;
}

static struct pf_rule *hm_next(void *state, const struct pf_chain *c, uint64_t *cur,
			       struct pf_eval *ev)
{
	struct hm_chain *hc = state;
	const struct pf_packet *p = ev->pkt;
	(void)c;
	if (!(hc_flags_of(hc) & HC_INDEXED) || p->fragoff == 1 || p->l4_truncated) {
		ev->scans++;
		return scan(hc, cur, ev);
	}

	/* The packet's key: what the filters are about. */
	const uint32_t src = ntohl(p->saddr), dst = ntohl(p->daddr), mark = ev->mark;
	uint16_t sport = 0, dport = 0;
	if (p->fragoff == 0) {
		const uint8_t *l4 = pf_packet_bytes(p, p->l4_off, 4);
		if (l4) {
			sport = pf_rd16(l4);
			dport = pf_rd16(l4 + 2);
		}
	}
	uint64_t in[2] = {0, 0}, out[2] = {0, 0};
	if (hc->ifaces) {
		name_words(ev->in, strnlen(ev->in, 16), in);
		name_words(ev->out, strnlen(ev->out, 16), out);
	}

	const uint64_t start = *cur;
	hc->st.lookups++;
	uint64_t best = UINT64_MAX;
	struct hm_node *bestn = NULL;
	struct hm_node *imp[HM_MAX_IMPURE];
	size_t nimp = 0;
	/* The hashes of the next HM_AHEAD subtables are computed ahead and their slots
	 * prefetched, so that the cache misses of large subtables overlap. */
	uint64_t ahead[HM_AHEAD];
	const size_t nt = hc->ntables;
	/* A subtable of another protocol, or whose labels are all past the best match, is never
	 * probed (the best only gets better), so its hash is not needed. */
	for (size_t j = 0; j < HM_AHEAD && j < nt; j++) {
		const struct hm_table *t = hc->tables[j];
		if (t->proto && t->proto != p->proto)
			continue;
		ahead[j] = hm_hash(t, src, dst, sport, dport, mark, in, out);
		__builtin_prefetch(&t->slots[slot_of(t, ahead[j])]);
	}
	for (size_t i = 0; i < nt; i++) {
		const struct hm_table *t = hc->tables[i];
		if (t->minlabel >= best)
			break;
		uint64_t h = ahead[i % HM_AHEAD];
		if (i + HM_AHEAD < nt) {
			const struct hm_table *u = hc->tables[i + HM_AHEAD];
			if (u->minlabel < best && (!u->proto || u->proto == p->proto)) {
				uint64_t hu = hm_hash(u, src, dst, sport, dport, mark, in, out);
				ahead[i % HM_AHEAD] = hu;
				__builtin_prefetch(&u->slots[slot_of(u, hu)]);
			}
		}
		if (t->proto && t->proto != p->proto)
			continue;
		hc->st.probes++;
		size_t k = slot_of(t, h);
		while (t->slots[k].head && t->slots[k].h != h)
			k = (k + 1) & t->mask;
		for (struct hm_node *n = t->slots[k].head; n; n = n->bnext) {
			/* the bucket's next nodes are likely the next ones in memory
			 * (compact_buckets): on their way while this one is checked */
			__builtin_prefetch(n + 1);
			__builtin_prefetch(n + 2);
			hc->st.nodes++;
			if (n->label < start)
				continue;
			if (n->label >= best)
				break;
			/* The node's own filter first: most false candidates end here. */
			if (!node_admits(n, src, dst, p->proto, sport, dport, mark))
				continue;
			hc->st.candidates++;
			if ((n->flags & HM_EXACT) && p->fragoff == 0) {
				best = n->label; /* what pf_rule_matches would say */
				bestn = n;
				break;
			}
			if (n->flags & HM_PURE) {
				bool m = pf_rule_matches(n->rule, ev);
				hc->st.evaluated++;
				if (ev->hotdrop) {
					/* A described match broke its promise: nothing with a side
					 * effect ran yet, so the walk gives the right answer. */
					ev->hotdrop = false;
					return scan(hc, cur, ev);
				}
				if (m) {
					best = n->label;
					bestn = n;
					break;
				}
			} else {
				if (nimp == HM_MAX_IMPURE)
					return scan(hc, cur, ev); /* nothing evaluated yet */
				imp[nimp++] = n;
			}
		}
	}
	if (nimp) {
		for (size_t i = 1; i < nimp; i++) {
			struct hm_node *x = imp[i];
			size_t j = i;
			while (j > 0 && imp[j - 1]->label > x->label) {
				imp[j] = imp[j - 1];
				j--;
			}
			imp[j] = x;
		}
		for (size_t i = 0; i < nimp && imp[i]->label < best; i++) {
			hc->st.evaluated++;
			if (pf_rule_matches(imp[i]->rule, ev))
				return answer(imp[i], cur, ev);
			if (ev->hotdrop)
				return NULL;
		}
	}
	if (bestn)
		return answer(bestn, cur, ev);
	*cur = HM_LABEL_END;
	return NULL;
}

/* ---- batch look-ahead (pf_engine_eval_batch) ---- */

enum { LA_ENTER = 0, LA_RULE, LA_SLOTS, LA_NODES };
#define LA_MAX_HOPS 4 /* chains followed per packet */
#ifndef HM_LA_TABLES
#define HM_LA_TABLES 4 /* subtables looked at per chain, at most */
#endif
#ifndef HM_LA_NODES
#define HM_LA_NODES 4 /* nodes of a bucket looked at */
#endif
#ifndef HM_LA_MIN
#define HM_LA_MIN 2048 /* indexed chains smaller than this stay in the caches: not looked at */
#endif

/* What a lookup of a short chain reads: the line of its inline block's header and first entry
 * (with its hit, what the engine reads of the rule it takes). */
static inline void prefetch_chain(const struct hm_chain *hc)
{
	__builtin_prefetch(hc + 1);
}

/*
 * One step of a guess at the rule next() will answer from the start of la->ms, and at the
 * chains it jumps to: only rules that need no evaluation (unconditional rules of short chains,
 * the first candidate whose filter the packet passes in an indexed one) are followed. A step
 * goes on until it has prefetched something it will need next time. Reads the index, writes
 * nothing but *la.
 */
static bool hm_lookahead(struct pf_lookahead *la, const struct pf_eval *ev)
{
	const struct pf_packet *p = ev->pkt;
	for (;;) {
		const struct hm_chain *hc = la->ms;
		switch (la->phase) {
		case LA_ENTER: {
			if (!(hc_flags_of(hc) & HC_INDEXED) || p->fragoff == 1 || p->l4_truncated) {
				const struct hm_block *b0 = (hc_flags_of(hc) & HC_INL_ONLY)
								? (const struct hm_block *)(hc + 1)
							    : hc->nb ? hc->b[0]
								     : NULL;
				if (!b0)
					return false;
				if (!ent_always(&b0->v[0])) {
					/* rules to ask: the guess ends here, with them on their way
					 */
					for (uint32_t j = 0; j < b0->n && j < HM_INLINE; j++)
						if (!ent_always(&b0->v[j]))
							prefetch_rule(b0->v[j].rule);
					return false;
				}
				const struct pf_hit *h =
				    b0->v[0].node ? &b0->v[0].node->hit : &b0->v[0].hit;
				la->p[0] = h;
				la->phase = LA_RULE;
				if (la->hops == 0) /* a built-in chain: the same for every packet */
					continue;
				__builtin_prefetch(h);
				return true;
			}
			/* A chain small enough to stay in the caches is not worth waiting for; but
			 * a built-in one is walked at once: it often only dispatches to the large
			 * chains (-j KUBE-SERVICES). */
			la->sync = hc->n < HM_LA_MIN;
			if (la->sync && la->hops > 0)
				return false;
			/* The packet's key, as hm_next reads it. */
			uint32_t src = ntohl(p->saddr), dst = ntohl(p->daddr), mark = ev->mark;
			uint32_t ports = 0;
			if (p->fragoff == 0) {
				const uint8_t *l4 = pf_packet_bytes(p, p->l4_off, 4);
				if (l4)
					ports = (uint32_t)pf_rd16(l4) << 16 | pf_rd16(l4 + 2);
			}
			uint64_t in[2] = {0, 0}, out[2] = {0, 0};
			if (hc->ifaces) {
				name_words(ev->in, strnlen(ev->in, 16), in);
				name_words(ev->out, strnlen(ev->out, 16), out);
			}
			la->key[0] = src;
			la->key[1] = dst;
			la->key[2] = ports;
			la->key[3] = mark;
			la->n = 0;
			for (size_t i = 0; i < hc->ntables && la->n < HM_LA_TABLES; i++) {
				const struct hm_table *t = hc->tables[i];
				if (t->proto && t->proto != p->proto)
					continue;
				uint64_t h = hm_hash(t, src, dst, (uint16_t)(ports >> 16),
						     (uint16_t)ports, mark, in, out);
				__builtin_prefetch(&t->slots[slot_of(t, h)]);
				la->h[la->n] = h;
				la->p[la->n++] = t;
			}
			la->phase = LA_SLOTS;
			if (la->n == 0)
				return false;
			if (la->sync)
				continue;
			return true;
		}
		case LA_RULE: {
			const struct pf_hit *h = la->p[0];
			if (h->tkind != PF_TARGET_CHAIN || !h->jump)
				return false;
			void *ms = pf_engine_chain_state(ev->engine, h->jump);
			if (!ms || ++la->hops >= LA_MAX_HOPS)
				return false;
			la->ms = ms;
			la->phase = LA_ENTER;
			if (la->hops == 1) /* from a built-in chain: the same for every packet */
				continue;
			prefetch_chain(ms);
			return true;
		}
		case LA_SLOTS:
			for (unsigned j = 0; j < la->n; j++) {
				const struct hm_table *t = la->p[j];
				const struct hm_node *head = table_slot(t, la->h[j])->head;
				la->p[j] = head;
				if (head) {
					__builtin_prefetch(head);
					__builtin_prefetch(&head->hit);
				}
			}
			la->phase = LA_NODES;
			if (la->sync)
				continue;
			return true;
		case LA_NODES: {
			const uint32_t src = la->key[0], dst = la->key[1], mark = la->key[3];
			const uint16_t sport = (uint16_t)(la->key[2] >> 16),
				       dport = (uint16_t)la->key[2];
			const struct hm_node *best = NULL;
			for (unsigned j = 0; j < la->n; j++) {
				unsigned seen = 0;
				for (const struct hm_node *n = la->p[j]; n && seen < HM_LA_NODES;
				     n = n->bnext, seen++) {
					if (best && n->label >= best->label)
						break;
					if (!node_admits(n, src, dst, p->proto, sport, dport, mark))
						continue;
					best = n;
					break;
				}
			}
			if (!best)
				return false;
			__builtin_prefetch(&best->hit);
			if (best->jgen != ev->chains_gen || !best->jms || ++la->hops >= LA_MAX_HOPS)
				return false;
			la->ms = best->jms;
			la->phase = LA_ENTER;
			prefetch_chain(la->ms);
			return true;
		}
		default:
			return false;
		}
	}
}

static void hm_forget(void *state)
{
	struct hm_chain *hc = state;
	for (size_t bi = 0; bi < hc->nb; bi++)
		for (uint32_t k = 0; k < hc->b[bi]->n; k++)
			if (hc->b[bi]->v[k].node)
				hc->b[bi]->v[k].node->jgen = 0;
}

static unsigned hm_rulenum(void *state, const struct pf_chain *c, uint64_t cur)
{
	const struct hm_chain *hc = state;
	(void)c;
	if (cur == 0)
		return 0;
	size_t bi = seq_block_for_label(hc, cur - 1);
	if (bi >= hc->nb)
		return 0;
	size_t rank = block_offset_for_label(hc->b[bi], cur - 1);
	for (size_t i = 0; i < bi; i++)
		rank += hc->b[i]->n;
	return (unsigned)rank + 1;
}

/* ---- single-rule changes ---- */

static int hm_insert(void *state, struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	struct hm_chain *hc = state;
	if (pos > hc->n)
		return -1;
	/* Room in the chain's array now, so that writing it back (sync) cannot fail. */
	if (c->cap < hc->n + 1) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct pf_rule **v = realloc(c->rules, cap * sizeof(*v));
		if (!v)
			return -1;
		c->rules = v;
		c->cap = cap;
	}
	struct hm_ent e = {.label = 0, .rule = r, .node = NULL};
	pf_hit_init(&e.hit, r);
	e.hit.mflags = unconditional(r) ? HM_ALWAYS : 0;
	if (seq_insert(hc, pos, &e))
		return -1;
	hc->stale = true;
	assign_label(hc, pos);
	if (hc_flags_of(hc) & HC_INDEXED) {
		if (index_ent(hc, seq_at(hc, pos)))
			drop_index(hc);
	} else if (hc->n >= HM_SMALL) {
		index_all(hc);
	}
	return 0;
}

static struct pf_rule *hm_remove(void *state, struct pf_chain *c, size_t pos)
{
	struct hm_chain *hc = state;
	(void)c;
	if (pos >= hc->n)
		return NULL;
	struct hm_ent e = seq_remove(hc, pos);
	e.rule->cnt = ent_hit(&e)->cnt;
	if (e.node) {
		unplace(hc, e.node);
		node_free(hc, e.node);
	}
	hc->stale = true;
	return e.rule;
}

static struct pf_rule *hm_replace(void *state, struct pf_chain *c, size_t pos, struct pf_rule *r)
{
	struct hm_chain *hc = state;
	(void)c;
	if (pos >= hc->n)
		return NULL;
	struct hm_ent *e = seq_at(hc, pos);
	struct pf_rule *old = e->rule;
	old->cnt = ent_hit(e)->cnt;
	e->rule = r;
	pf_hit_init(&e->hit, r);
	e->hit.mflags = unconditional(r) ? HM_ALWAYS : 0;
	hc->stale = true;
	if (e->node) {
		unplace(hc, e->node);
		e->node->rule = r;
		e->node->hit = e->hit;
		e->node->jgen = 0; /* its jump target is another chain's */
		if (place(hc, e->node))
			drop_index(hc);
	}
	return old;
}

static size_t hm_count(const void *state, const struct pf_chain *c)
{
	(void)c;
	return ((const struct hm_chain *)state)->n;
}

static struct pf_rule *hm_rule_at(const void *state, const struct pf_chain *c, size_t pos)
{
	const struct hm_chain *hc = state;
	(void)c;
	return pos < hc->n ? seq_at(hc, pos)->rule : NULL;
}

static int hm_sync(void *state, struct pf_chain *c)
{
	struct hm_chain *hc = state;
	if (!hc->stale)
		return 0;
	if (c->cap < hc->n) /* hm_insert made room: never */
		return -1;
	size_t i = 0;
	for (size_t bi = 0; bi < hc->nb; bi++)
		for (uint32_t k = 0; k < hc->b[bi]->n; k++)
			c->rules[i++] = hc->b[bi]->v[k].rule;
	c->nrules = hc->n;
	hc->stale = false;
	return 0;
}

static void hm_counters(void *state, struct pf_chain *c)
{
	struct hm_chain *hc = state;
	(void)c;
	for (size_t bi = 0; bi < hc->nb; bi++)
		for (uint32_t k = 0; k < hc->b[bi]->n; k++) {
			struct hm_ent *e = &hc->b[bi]->v[k];
			e->rule->cnt = ent_hit(e)->cnt;
		}
}

/* Heap bytes of one allocation, with glibc's chunk header. */
static size_t heap(const void *p)
{
	return p ? malloc_usable_size((void *)p) + sizeof(size_t) : 0;
}

static size_t hm_memory(const void *state, size_t *ntables, struct pf_matcher_counts *st)
{
	const struct hm_chain *hc = state;
	if (st) {
		st->lookups += hc->st.lookups;
		st->probes += hc->st.probes;
		st->nodes += hc->st.nodes;
		st->candidates += hc->st.candidates;
		st->evaluated += hc->st.evaluated;
	}
	size_t m = heap(hc) + (hc->b != &hc->b1 ? heap(hc->b) : 0) + heap(hc->tables);
	for (size_t bi = 0; bi < hc->nb; bi++) {
		if (hc->b[bi] != hc->inl)
			m += heap(hc->b[bi]);
	}
	for (const struct hm_chunk *ck = hc->chunks; ck; ck = ck->next)
		m += heap(ck);
	for (size_t i = 0; i < hc->ntables; i++)
		m += heap(hc->tables[i]) + heap(hc->tables[i]->slots);
	if (ntables)
		*ntables += hc->ntables;
	return m;
}

const struct pf_matcher_ops pf_matcher_hashed = {
    .name = "hashed",
    .build = hm_build,
    .destroy = hm_destroy,
    .next = hm_next,
    .rulenum = hm_rulenum,
    .insert = hm_insert,
    .remove = hm_remove,
    .replace = hm_replace,
    .count = hm_count,
    .rule_at = hm_rule_at,
    .sync = hm_sync,
    .counters = hm_counters,
    .memory = hm_memory,
    .lookahead = hm_lookahead,
    .forget = hm_forget,
};
