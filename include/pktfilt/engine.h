/*
 * engine.h - public API of libpktfilt's packet evaluation: compile a rule set into an engine,
 * then judge packets at netfilter hooks exactly as the kernel's ip_tables would (tables in hook
 * order, jump stack, goto, RETURN, policies, counters).
 *
 * Thread safety: an engine holds the counters and the runtime state of its rules (token
 * buckets, recent lists), and pf_engine_eval() updates them: calls on one engine must not run
 * concurrently, nor with reading its counters. Engines share nothing, so threads may each
 * evaluate on their own engine compiled from the same rule set (per-thread counters, summed
 * on read). pf_engine_eval() allocates nothing. Engines given the same state domain
 * (pf_state_domain, below) share the state of their rules instead, as the kernel's CPUs do.
 */
#ifndef PKTFILT_ENGINE_H
#define PKTFILT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pktfilt/pktfilt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_engine pf_engine;

/* Netfilter hooks. */
enum pf_nf_hook {
	PF_NF_PRE_ROUTING = 0,
	PF_NF_LOCAL_IN = 1,
	PF_NF_FORWARD = 2,
	PF_NF_LOCAL_OUT = 3,
	PF_NF_POST_ROUTING = 4,
};

/* Verdicts. */
enum pf_nf_verdict {
	PF_NF_DROP = 0,
	PF_NF_ACCEPT = 1,
	PF_NF_QUEUE = 3, /* queue number in pf_eval_result.queue_num */
};

/* Which matcher answers "first rule at or after p that matches" (docs/matcher.md). Both give
 * the same verdicts, counters and side effects; the hashed one answers from hash tables with
 * a cost per packet that does not grow with the number of rules, and applies single-rule
 * changes without a rebuild. A zeroed configuration gets the default: hashed. */
enum pf_matcher_kind {
	PF_MATCHER_DEFAULT = 0, /* hashed */
	PF_MATCHER_LINEAR = 1,
	PF_MATCHER_HASHED = 2,
};

/* Connection tracking state of a packet, as conntrack would see it (supplied by the caller
 * until pktfilt tracks connections itself). */
#define PF_CT_INVALID 0x01
#define PF_CT_NEW 0x02
#define PF_CT_ESTABLISHED 0x04
#define PF_CT_RELATED 0x08
#define PF_CT_UNTRACKED 0x10
#define PF_CT_REPLY 0x20 /* direction: packet is in the reply direction */
/*
 * How the conntrack, state and connmark matches read ct_state (see docs/evaluation.md):
 * UNTRACKED (or CT --notrack / NOTRACK earlier in the raw table) is an untracked packet; INVALID,
 * and 0 (unknown), is a packet without a conntrack entry, as the kernel sees one it could not
 * track; otherwise RELATED, ESTABLISHED, NEW (first bit set, in that order) with PF_CT_REPLY for
 * the direction. In the raw table conntrack has not run yet: every packet is INVALID there
 * (UNTRACKED after CT --notrack), as in the kernel.
 */

/* skb->pkt_type values (meta->pkt_type), as <linux/if_packet.h>. */
#define PF_PKT_HOST 0
#define PF_PKT_BROADCAST 1
#define PF_PKT_MULTICAST 2
#define PF_PKT_OTHERHOST 3
#define PF_PKT_OUTGOING 4
#define PF_PKT_LOOPBACK 5 /* pkttype derives multicast/broadcast from the destination */

/* Route types (RTN_* of <linux/rtnetlink.h>): addrtype and rpfilter host callbacks. */
#define PF_RTN_UNSPEC 0
#define PF_RTN_UNICAST 1
#define PF_RTN_LOCAL 2
#define PF_RTN_BROADCAST 3
#define PF_RTN_ANYCAST 4
#define PF_RTN_MULTICAST 5
#define PF_RTN_BLACKHOLE 6
#define PF_RTN_UNREACHABLE 7
#define PF_RTN_PROHIBIT 8

/* Connection status bits (IPS_* of <linux/netfilter/nf_conntrack_common.h>): meta->ct_status. */
#define PF_IPS_EXPECTED 0x01
#define PF_IPS_SEEN_REPLY 0x02
#define PF_IPS_ASSURED 0x04
#define PF_IPS_CONFIRMED 0x08
#define PF_IPS_SRC_NAT 0x10
#define PF_IPS_DST_NAT 0x20

/* What the caller knows about a packet besides its bytes. */
struct pf_packet_meta {
	const char *in_iface;		      /* "" or NULL when none (OUTPUT) */
	const char *out_iface;		      /* "" or NULL when none (PREROUTING, INPUT) */
	const char *physdev_in, *physdev_out; /* bridge ports, or NULL */
	uint32_t mark;
	uint32_t ctmark;
	unsigned ct_state; /* PF_CT_* bits; 0 = unknown */
	bool has_uid;	   /* locally generated with a socket */
	uint32_t uid, gid;
	bool has_mac;
	uint8_t src_mac[6];
	uint8_t pkt_type;  /* PF_PKT_*: 0 host, 1 broadcast, 2 multicast, 3 otherhost, 5 loopback */
	uint64_t now_ns;   /* the clock rate-limiting matches use (caller controlled); -m time
			      reads it as the wall clock: nanoseconds since 1970-01-01 UTC */
	uint32_t classify; /* skb->priority */
	/* Route facts the targets need (0 = unknown). Addresses in network byte order. */
	uint16_t out_mtu;   /* TCPMSS --clamp-mss-to-pmtu: the smaller of the route MTUs toward
			       the destination and back toward the source; 0 = unknown (1500) */
	uint32_t in_addr;   /* this host's address on the input interface: REDIRECT's new
			       destination (PREROUTING), source of REJECT's ICMP errors for
			       forwarded packets (0: the packet's destination is used) */
	uint32_t out_addr;  /* this host's address on the output interface toward the next hop:
			       MASQUERADE's new source (0: MASQUERADE drops, as the kernel does
			       for an interface without an address) */
	uint8_t dst_mac[6]; /* with has_mac: the frame's destination MAC (LOG's MAC= field) */

	/* ---- Metadata matches (docs/evaluation.md, "Metadata matches"); all optional. ---- */
	/* conntrack --ctstatus: the connection's IPS_* bits (PF_IPS_*) when has_ct_status; else
	 * derived from the state: NEW 0 (the first packet: not confirmed yet), ESTABLISHED
	 * SEEN_REPLY|CONFIRMED, RELATED CONFIRMED for an ICMP error (the quoted connection) and
	 * EXPECTED otherwise. SRC_NAT/DST_NAT also give the conntrack states SNAT/DNAT. */
	bool has_ct_status;
	uint32_t ct_status;
	/* conntrack --ctexpire: seconds before the entry times out. 0 (unknown) is what the
	 * kernel reports for the first packet of a connection (its timer is not started). */
	uint32_t ct_expire;
	/* owner: a socket whose file is gone (kernel sockets, TCP time-wait replies): the socket
	 * exists but has no uid/gid (--socket-exists matches, --uid/--gid-owner do not). A socket
	 * with credentials is has_uid (uid, gid: the file's fsuid, fsgid). */
	bool sock_without_file;
	/* owner --suppl-groups: the supplementary groups of the socket's credentials. */
	const uint32_t *groups;
	unsigned ngroups;
};

#define PF_MAX_TRACE 256

struct pf_eval_result {
	enum pf_nf_verdict verdict;
	uint16_t queue_num;
	bool queue_bypass;
	uint32_t mark; /* the mark after MARK/CONNMARK */
	uint32_t ctmark;
	bool mark_changed;
	bool packet_changed; /* TTL, DSCP, TCPMSS... changed the bytes in place */
	uint32_t priority;   /* skb->priority: meta->classify, then as CLASSIFY set it */
	size_t len;	     /* packet length after changes */
	/* (What every packet writes comes first, in one cache line: the arrays below are written
	 * only when used. An array of results for a batch stays cheap.) */
	unsigned ntrace;      /* entries in trace[] */
	bool trace_truncated; /* more rules matched than trace[] holds */
	size_t reply_len;     /* bytes in reply[] */
	/* Optional trace: rules that matched, in order (table index, chain, rule position). */
	struct {
		const char *table;
		const char *chain;
		unsigned rulenum; /* 1-based; 0 = the chain's policy */
	} trace[PF_MAX_TRACE];
	/* REJECT: the reply the kernel would send (ICMP error or TCP RST), when any. */
	uint8_t reply[1600];
};

/* What the set match asks the caller's ipset (pf_engine_config.set_test). */
struct pf_set_query {
	const char *name; /* the set's name */
	unsigned dim;	  /* dimensions given in the rule (1..6) */
	uint8_t dirs;	  /* bit i (1..dim): dimension i is "src", else "dst" */
	uint32_t flags;	  /* IPSET_FLAG_*: 0x80 --return-nomatch, 0x100 ! --update-counters,
			     0x200 ! --update-subcounters */
	uint8_t packets_op, bytes_op; /* IPSET_COUNTER_*: 0 none, 1 eq, 2 ne, 3 lt, 4 gt */
	uint64_t packets, bytes;
	const uint8_t *pkt; /* the packet (IP header first) as it is now, len bytes */
	size_t len;
	const char *in, *out;		   /* interface names ("" when none) */
	uint32_t mark;			   /* skb->mark now (hash:ip,mark) */
	const struct pf_packet_meta *meta; /* MAC address and the rest */
};

/*
 * A state domain: runtime state shared by several engines, for one rule set judged by several
 * threads (pktfiltd's workers, one engine each) that must behave as one kernel, where a rule has
 * one state for all CPUs. Engines compiled (pf_engine_new) from the same rule set with the same
 * domain in their configuration, and given the same single-rule changes in the same order (each
 * engine at its own pace), share:
 *  - the per-rule state of limit (token bucket), statistic --mode nth (counter) and connlimit
 *    (connection lists): one per rule, not one per engine;
 *  - the lists of recent and the tables of hashlimit, by name, as the kernel's in a namespace.
 * Counters stay per engine (summed on read), as statistic --mode random's generator does. The
 * shared objects are locked (one lock each, taken only by engines with a domain, around their
 * use by one packet: the kernel takes a spinlock per limit rule); an engine without a domain
 * takes no lock and shares nothing. Engines of one domain may run in different threads; each
 * engine keeps the threading rule of pf_engine_eval(). Changes that reach one engine before
 * another are fine: a deleted rule's state lives while one engine still has the rule, a rule
 * added gets a new state (docs/shared-state.md). pf_state_domain_free() drops the caller's
 * reference: the domain lives on while engines use it. NULL when out of memory.
 *
 * Generations (pf_engine_config.state_epoch): a domain may outlive a rule set, as the kernel's
 * network namespace outlives a table replaced with iptables-restore. Engines compiled with
 * another epoch share no per-rule state (the kernel's new rules start new buckets, counters
 * and connection lists) but do share the named objects: a recent list or hashlimit table
 * lives while a rule of an engine of any epoch names it, so that the next generation takes
 * over the lists and tables it names (with the kernel's rules for a same-named object: the
 * creator's mask and configuration stay; a recent rule with a larger --hitcount flushes the
 * list and enlarges it) and the others are freed with the last engine naming them. Engines
 * of different epochs may run concurrently (the old generation while the new one starts).
 */
typedef struct pf_state_domain pf_state_domain;
PF_API pf_state_domain *pf_state_domain_new(void);
PF_API void pf_state_domain_free(pf_state_domain *d);

struct pf_engine_config {
	enum pf_matcher_kind matcher;
	uint64_t random_seed; /* statistic --mode random, deterministic per seed */
	/* LOG: called with the kernel-format line (without newline); NULL: dropped. */
	void (*log_sink)(void *opaque, int level, const char *prefix, const char *line);
	void *log_opaque;
	bool trace; /* fill pf_eval_result.trace */

	/* ---- The host's view, for the metadata matches (docs/evaluation.md). ---- */
	/* addrtype: the type the kernel's local routing table gives addr (network byte order),
	 * as inet_dev_addr_type() after its fixed classes (0.0.0.0/8 and 255.255.255.255 are
	 * BROADCAST, 224.0.0.0/4 MULTICAST: the match decides those itself): PF_RTN_LOCAL for
	 * this host's addresses, PF_RTN_BROADCAST for its subnet broadcasts, PF_RTN_UNICAST for
	 * the rest. dev: with --limit-iface-in/out the interface the entry must be on (the kernel
	 * answers UNICAST when the local entry is on another device); NULL: any device.
	 * NULL callback: 127.0.0.0/8 is LOCAL (on "lo"), everything else UNICAST. */
	unsigned (*addr_type)(void *opaque, uint32_t addr, const char *dev);
	/* rpfilter: the kernel's route lookup toward addr (the packet's source) from saddr (its
	 * destination, 0 when that is multicast, broadcast or 0.0.0.0/8), with mark (skb->mark
	 * with --validmark, else 0) and tos. Returns the route's PF_RTN_* type and sets *uses_dev
	 * when one of its next hops goes out through dev (the input interface), or -1 when there
	 * is no route. NULL callback: every source is routed back through the interface it came
	 * in on, as UNICAST, except the addresses addr_type (or its default) calls LOCAL. */
	int (*rp_route)(void *opaque, uint32_t addr, uint32_t saddr, uint32_t mark, uint8_t tos,
			const char *dev, bool *uses_dev);
	void *host_opaque; /* passed to addr_type and rp_route */
	/* set: ipset's ip_set_test() for the packet: > 0 when it matches (counters compared and
	 * --return-nomatch applied by the set, as the kernel's set types do), 0 when not. The
	 * match inverts the answer for "! --match-set". NULL: the set match never matches,
	 * inverted or not (pktfilt holds no sets). */
	int (*set_test)(void *opaque, const struct pf_set_query *q);
	void *set_opaque;
	/* time --kerneltz: the kernel's timezone (sys_tz.tz_minuteswest: minutes west of UTC).
	 * The kernel's is 0 (UTC) unless something set it at boot. Without --kerneltz the time
	 * match uses UTC, as the kernel does. meta->now_ns is the wall clock (UTC) it reads. */
	int32_t tz_minuteswest;
	/* Share rule state with the other engines of this domain (see pf_state_domain above);
	 * NULL: the engine's state is its own. The engine takes a reference. */
	pf_state_domain *state_domain;
	/* With a state domain: the rule-set generation the engine belongs to. Engines of one
	 * domain and the same epoch share per-rule state (limit, statistic nth, connlimit);
	 * engines of another epoch do not, but share the named objects (recent, hashlimit). Give
	 * a new epoch to each new rule set compiled (a full reload), the same one to all the
	 * engines compiled from it; single-rule changes keep the engine's epoch. 0 by default.
	 * Ignored without a domain. */
	uint64_t state_epoch;
};

/* Compile a rule set. The engine keeps its own copy; later changes to rs do not affect it. */
PF_API pf_engine *pf_engine_new(const pf_ruleset *rs, const struct pf_engine_config *cfg,
				struct pf_error *err);
PF_API void pf_engine_free(pf_engine *e);

/*
 * Judge one IPv4 packet (starting at its IP header) at a hook: every table registered at that
 * hook runs in the kernel's priority order. buf may be changed in place (mangling targets);
 * buflen is its capacity. Returns 0, or -1 when the packet is malformed in a way the kernel
 * drops before any hook (then nothing is counted and res->verdict is DROP).
 */
PF_API int pf_engine_eval(pf_engine *e, enum pf_nf_hook hook, uint8_t *buf, size_t len,
			  size_t buflen, const struct pf_packet_meta *meta,
			  struct pf_eval_result *res);

/*
 * Judge a batch of packets at one hook: the same results, counters and rule state as n calls of
 * pf_engine_eval() on the items in order (every packet sees the state the ones before it left:
 * statistic, limit, recent...), but faster on rule sets too large for the caches: before
 * judging, the batch is looked ahead (every packet parsed, the index entries, rules and chains
 * its lookups will probably read prefetched, one level per pass over the batch), so that the
 * cache misses of different packets overlap instead of following one another. Where that does
 * not pay (the rule set fits in the caches), the engine measures it and skips it. The buffers
 * of the items must not overlap; meta and res may be shared (a res is written when its packet
 * is judged, as by the calls in order). Each item's rc is what pf_engine_eval() would have
 * returned. Returns 0 when every rc is 0, else -1. Allocates
 * nothing; same threading rule as pf_engine_eval(). Packets are looked ahead 32 at a time.
 */
struct pf_batch_item {
	uint8_t *buf;			   /* the packet from its IP header; changed in place */
	size_t len;			   /* its length */
	size_t buflen;			   /* capacity of buf (targets may grow the packet) */
	const struct pf_packet_meta *meta; /* NULL: nothing known */
	struct pf_eval_result *res;	   /* out */
	int rc;				   /* out: 0, or -1 (malformed: dropped before any hook) */
};
PF_API int pf_engine_eval_batch(pf_engine *e, enum pf_nf_hook hook, struct pf_batch_item *items,
				size_t n);

/* Whether some rule needs connection tracking (conntrack, state, connmark, NAT targets...):
 * the kernel then tracks every packet, and reassembles fragments before raw PREROUTING. */
PF_API bool pf_engine_uses_conntrack(const pf_engine *e);

/*
 * Single-rule changes to a live engine, as iptables -I/-D/-R and -N/-X make them: only the
 * changed rule is touched (every other rule keeps its counters and runtime state, and the
 * hashed matcher updates its index in place: no rebuild). Positions are 0-based. The rule
 * comes from any rule set (pf_chain_rule_at() after pf_ruleset_command() applied the same
 * change there): it is copied, with its counters; a jump target is found by name in the
 * engine's table. The caller has validated the change on its own rule set (pf_ruleset_command
 * makes the kernel's commit checks); the engine itself only refuses jumps to unknown chains
 * and jumps that would close a loop. Same threading rule as pf_engine_eval(): not concurrently
 * with evaluation on this engine. Return 0, or -1 with err set.
 */
PF_API int pf_engine_insert_rule(pf_engine *e, const char *table, const char *chain, size_t pos,
				 const pf_rule *rule, struct pf_error *err);
PF_API int pf_engine_delete_rule(pf_engine *e, const char *table, const char *chain, size_t pos,
				 struct pf_error *err);
PF_API int pf_engine_replace_rule(pf_engine *e, const char *table, const char *chain, size_t pos,
				  const pf_rule *rule, struct pf_error *err);
/* A new empty user chain; deleting one requires it empty and unreferenced. */
PF_API int pf_engine_create_chain(pf_engine *e, const char *table, const char *chain,
				  struct pf_error *err);
PF_API int pf_engine_delete_chain(pf_engine *e, const char *table, const char *chain,
				  struct pf_error *err);
/* Rules in a chain of the engine (0 when there is no such chain). */
PF_API size_t pf_engine_rule_count(const pf_engine *e, const char *table, const char *chain);
/* iptables -F CHAIN, -E OLD NEW and -P CHAIN POLICY ("ACCEPT" or "DROP") on a live engine, under
 * the same rules as the single-rule changes above. A flush frees the chain's rules and
 * rebuilds its (then empty) index. */
PF_API int pf_engine_flush_chain(pf_engine *e, const char *table, const char *chain,
				 struct pf_error *err);
PF_API int pf_engine_rename_chain(pf_engine *e, const char *table, const char *chain,
				  const char *new_name, struct pf_error *err);
PF_API int pf_engine_set_policy(pf_engine *e, const char *table, const char *chain,
				const char *policy, struct pf_error *err);
/*
 * A chain's counters in the engine: a built-in chain's policy counters in policy[0] (packets)
 * and policy[1] (bytes) when policy is not NULL, and those of its first n rules in rules[k]
 * (k 0-based, in the chain's order). Returns the number of rules in the chain, or -1 when there
 * is no such chain. Reading the rules puts the engine's view of their order in shape after
 * single-rule changes (O(rules) once per change, then nothing): so it must not run while the
 * engine is changed. It may run while another thread evaluates on the engine, as pktfiltd
 * reads its workers' counters: each value is read whole; a rule's packets and bytes may then
 * be one packet apart.
 */
PF_API long pf_engine_chain_counters(const pf_engine *e, const char *table, const char *chain,
				     uint64_t policy[2], uint64_t (*rules)[2], size_t n);

/* Size of the compiled form. */
struct pf_engine_stats {
	const char *matcher; /* "linear" or "hashed" */
	size_t rules;	     /* rules in every chain */
	size_t chains;
	size_t index_bytes;    /* heap bytes of the matcher's index (0 for linear: none) */
	size_t subtables;      /* hashed: hash tables over all chains */
	double bytes_per_rule; /* index_bytes / rules */
	/* Hashed: what lookups did since the engine was built (per-packet work: divide by
	 * lookups). scans: searches done by walking a chain instead (short chains, packets
	 * without a whole transport header). */
	uint64_t lookups, scans, probes, candidates, evaluated;
};
PF_API void pf_engine_stats(const pf_engine *e, struct pf_engine_stats *st);

/* Copy the engine's counters into rs (same rules, e.g. for save -c). */
PF_API int pf_engine_counters_to_ruleset(const pf_engine *e, pf_ruleset *rs);
/* The engine's rule set with its counters, as iptables-save -c text. */
PF_API int pf_engine_save(const pf_engine *e, unsigned flags, FILE *out, struct pf_error *err);

#ifdef __cplusplus
}
#endif

#endif
