/*
 * engine.h - public API of libpktfilt's packet evaluation: compile a rule set into an engine,
 * then judge packets at netfilter hooks exactly as the kernel's ip_tables would (tables in hook
 * order, jump stack, goto, RETURN, policies, counters).
 *
 * Thread safety: an engine holds the counters and the runtime state of its rules (token
 * buckets, recent lists), and pf_engine_eval() updates them: calls on one engine must not run
 * concurrently, nor with reading its counters. Engines share nothing, so threads may each
 * evaluate on their own engine compiled from the same rule set (per-thread counters, summed
 * on read). pf_engine_eval() allocates nothing.
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

/* Which matcher answers "first rule at or after p that matches". */
enum pf_matcher_kind {
	PF_MATCHER_LINEAR = 0,
	PF_MATCHER_HASHED = 1,
};

/* Connection tracking state of a packet, as conntrack would see it (supplied by the caller
 * until pktfilt tracks connections itself). */
#define PF_CT_INVALID 0x01
#define PF_CT_NEW 0x02
#define PF_CT_ESTABLISHED 0x04
#define PF_CT_RELATED 0x08
#define PF_CT_UNTRACKED 0x10
#define PF_CT_REPLY 0x20 /* direction: packet is in the reply direction */

/* What the caller knows about a packet besides its bytes. */
struct pf_packet_meta {
	const char *in_iface;  /* "" or NULL when none (OUTPUT) */
	const char *out_iface; /* "" or NULL when none (PREROUTING, INPUT) */
	const char *physdev_in, *physdev_out; /* bridge ports, or NULL */
	uint32_t mark;
	uint32_t ctmark;
	unsigned ct_state; /* PF_CT_* bits; 0 = unknown */
	bool has_uid;	   /* locally generated with a socket */
	uint32_t uid, gid;
	bool has_mac;
	uint8_t src_mac[6];
	uint8_t pkt_type; /* 0 host, 1 broadcast, 2 multicast, 3 otherhost */
	uint64_t now_ns;  /* the clock rate-limiting matches use (caller controlled) */
	uint32_t classify; /* skb->priority */
	/* Route facts the targets need (0 = unknown). Addresses in network byte order. */
	uint16_t out_mtu;  /* TCPMSS --clamp-mss-to-pmtu: the smaller of the route MTUs toward
			      the destination and back toward the source; 0 = unknown (1500) */
	uint32_t in_addr;  /* this host's address on the input interface: REDIRECT's new
			      destination (PREROUTING), source of REJECT's ICMP errors for
			      forwarded packets (0: the packet's destination is used) */
	uint32_t out_addr; /* this host's address on the output interface toward the next hop:
			      MASQUERADE's new source (0: MASQUERADE drops, as the kernel does
			      for an interface without an address) */
	uint8_t dst_mac[6]; /* with has_mac: the frame's destination MAC (LOG's MAC= field) */
};

#define PF_MAX_TRACE 256

struct pf_eval_result {
	enum pf_nf_verdict verdict;
	uint16_t queue_num;
	bool queue_bypass;
	uint32_t mark;	  /* the mark after MARK/CONNMARK */
	uint32_t ctmark;
	bool mark_changed;
	bool packet_changed; /* TTL, DSCP, TCPMSS... changed the bytes in place */
	uint32_t priority;   /* skb->priority: meta->classify, then as CLASSIFY set it */
	size_t len;	  /* packet length after changes */
	/* Optional trace: rules that matched, in order (table index, chain, rule position). */
	unsigned ntrace;
	struct {
		const char *table;
		const char *chain;
		unsigned rulenum; /* 1-based; 0 = the chain's policy */
	} trace[PF_MAX_TRACE];
	bool trace_truncated;
	/* REJECT: the reply the kernel would send (ICMP error or TCP RST), when any. */
	size_t reply_len;
	uint8_t reply[1600];
};

struct pf_engine_config {
	enum pf_matcher_kind matcher;
	uint64_t random_seed; /* statistic --mode random, deterministic per seed */
	/* LOG: called with the kernel-format line (without newline); NULL: dropped. */
	void (*log_sink)(void *opaque, int level, const char *prefix, const char *line);
	void *log_opaque;
	bool trace; /* fill pf_eval_result.trace */
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

/* Whether some rule needs connection tracking (conntrack, state, connmark, NAT targets...):
 * the kernel then tracks every packet, and reassembles fragments before raw PREROUTING. */
PF_API bool pf_engine_uses_conntrack(const pf_engine *e);

/* Copy the engine's counters into rs (same rules, e.g. for save -c). */
PF_API int pf_engine_counters_to_ruleset(const pf_engine *e, pf_ruleset *rs);
/* The engine's rule set with its counters, as iptables-save -c text. */
PF_API int pf_engine_save(const pf_engine *e, unsigned flags, FILE *out, struct pf_error *err);

#ifdef __cplusplus
}
#endif

#endif
