/*
 * model.h - the rule model: tables, chains, rules, counters, as iptables-legacy has them.
 *
 * Plain data with no knowledge of packets. A rule is the kernel's ipt_ip part (addresses,
 * interfaces, protocol, fragment flag, inversions), a list of match instances and one target
 * (a standard verdict, a jump/goto to a user chain, or an extension target).
 */
#ifndef PF_MODEL_H
#define PF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "pktfilt/pktfilt.h"
#include "ext/ext.h"
#include "uthash.h"

#define PF_IFNAMSIZ 16
#define PF_CHAIN_MAXNAMELEN 31 /* the kernel's label: XT_TABLE_MAXNAMELEN - 1 (-E allows it) */
/* What iptables' parser and iptables-restore allow in a chain or target name:
 * XT_EXTENSION_MAXNAMELEN - 1. */
#define PF_CHAIN_USER_MAXNAMELEN 28

/* ipt_ip.invflags */
#define PF_INV_VIA_IN 0x01
#define PF_INV_VIA_OUT 0x02
#define PF_INV_SRCIP 0x08
#define PF_INV_DSTIP 0x10
#define PF_INV_FRAG 0x20
#define PF_INV_PROTO 0x40
/* ipt_ip.flags */
#define PF_F_FRAG 0x01
#define PF_F_GOTO 0x02

struct pf_ipt_ip {
	uint32_t src, smsk, dst, dmsk; /* network byte order */
	char iniface[PF_IFNAMSIZ], outiface[PF_IFNAMSIZ];
	uint8_t iniface_plus, outiface_plus; /* name ends with '+': prefix match */
	uint16_t proto;			     /* 0: all */
	uint8_t flags, invflags;
};

struct pf_counters {
	uint64_t pkts, bytes;
};

/* One match or extension target instance: descriptor + private flat data. */
struct pf_ext_inst {
	const struct pf_ext *ext;
	void *data;
	void *state; /* runtime state, owned by the engine that compiled the rule (else NULL) */
};

enum pf_verdict {
	PF_VERDICT_NONE = 0, /* no target: the rule only counts */
	PF_VERDICT_ACCEPT,
	PF_VERDICT_DROP,
	PF_VERDICT_RETURN,
	PF_VERDICT_QUEUE,
};

enum pf_target_kind {
	PF_TARGET_NONE,	   /* no -j: a counting rule */
	PF_TARGET_VERDICT, /* ACCEPT, DROP, RETURN, QUEUE */
	PF_TARGET_CHAIN,   /* -j CHAIN or -g CHAIN (ip.flags & PF_F_GOTO) */
	PF_TARGET_EXT,	   /* an extension target */
};

struct pf_chain;

struct pf_rule {
	struct pf_ipt_ip ip;
	unsigned nmatches;
	/* One allocation with its matches array and the matches' and target's data, laid out
	 * one after the other (pf_rule_clone_packed: an engine's copy, read by pf_rule_matches
	 * in a few adjacent lines): no match can be added or target set on it. */
	bool packed;
	struct pf_ext_inst *matches;
	enum pf_target_kind tkind;
	enum pf_verdict verdict;   /* PF_TARGET_VERDICT */
	struct pf_chain *jump;	   /* PF_TARGET_CHAIN */
	struct pf_ext_inst target; /* PF_TARGET_EXT */
	struct pf_counters cnt;
};

struct pf_table;

struct pf_chain {
	char name[PF_CHAIN_MAXNAMELEN + 1];
	bool builtin;
	uint8_t hook;		 /* built-in chains: enum pf_hook */
	enum pf_verdict policy;	 /* built-in chains */
	struct pf_counters pcnt; /* policy counters */
	unsigned refcount;	 /* rules jumping here */
	struct pf_rule **rules;
	size_t nrules, cap;
	UT_hash_handle hh;
};

struct pf_table_def {
	const char *name;
	unsigned hooks; /* mask of built-in chains' hooks */
};

struct pf_table {
	const struct pf_table_def *def;
	struct pf_chain **chains; /* built-ins in hook order, then user chains sorted */
	size_t nchains, cap;
	size_t nbuiltin;
	struct pf_chain *by_name; /* uthash */
	unsigned touch_seq;	  /* 0: never used; larger: used more recently */
};

#define PF_NTABLES 5

struct pf_ruleset {
	struct pf_table tables[PF_NTABLES]; /* raw, mangle, nat, filter, security */
	unsigned touch_counter;
	uint64_t generation; /* incremented by every change that succeeded */
};

extern const struct pf_table_def pf_table_defs[PF_NTABLES];
extern const char *const pf_hook_names[PF_HOOK_COUNT];

/* Tables and chains. */
struct pf_table *pf_table_get(struct pf_ruleset *rs, const char *name);
void pf_table_touch(struct pf_ruleset *rs, struct pf_table *t);
struct pf_chain *pf_chain_find(struct pf_table *t, const char *name);
struct pf_chain *pf_chain_create(struct pf_table *t, const char *name); /* user chain */
void pf_chain_destroy(struct pf_table *t, struct pf_chain *c);		/* must be empty */
int pf_chain_rename(struct pf_table *t, struct pf_chain *c, const char *newname);
void pf_chain_flush(struct pf_chain *c);
void pf_table_reset(struct pf_table *t);	/* flush all, delete user chains, policies ACCEPT */
void pf_table_free_content(struct pf_table *t); /* free chains and rules; t becomes zeroed */

/* Rules. */
struct pf_rule *pf_rule_new(void);
void pf_rule_free(struct pf_rule *r);
struct pf_rule *pf_rule_clone(const struct pf_rule *r);	       /* same jump pointer, counters */
struct pf_rule *pf_rule_clone_packed(const struct pf_rule *r); /* the same, in one block */
/* pf_ruleset_clone with packed rules (an engine's private copy). */
pf_ruleset *pf_ruleset_clone_packed(const pf_ruleset *rs);
/* Add a match instance with zeroed+init()ed data; returns it or NULL (no memory). */
struct pf_ext_inst *pf_rule_add_match(struct pf_rule *r, const struct pf_ext *ext);
int pf_rule_set_target_ext(struct pf_rule *r, const struct pf_ext *ext);
/* iptables' rule equality for -D/-C: same ip part, same matches and target data. */
bool pf_rule_equal(const struct pf_rule *a, const struct pf_rule *b);
/* Insert at position pos (0-based, pos <= nrules); takes ownership; maintains refcount. */
int pf_chain_insert_rule(struct pf_chain *c, size_t pos, struct pf_rule *r);
/* Remove and free rule at pos; maintains refcount. */
void pf_chain_delete_rule(struct pf_chain *c, size_t pos);
/* Replace rule at pos; frees the old one. */
void pf_chain_replace_rule(struct pf_chain *c, size_t pos, struct pf_rule *r);

/* Commit-time checks as the kernel's translate_table does: loops (ELOOP) and the hooks and
 * tables each extension is allowed in (EINVAL). Fills err with libiptc's wording. */
int pf_table_check(struct pf_table *t, struct pf_error *err);
/* After single-rule changes to a table that passed pf_table_check(): a rule that ends the
 * walk (an unconditional standard verdict) taken out, or a jump put in, calls for the whole
 * check again; otherwise checking each rule put in is enough (pf_table_check_rule). */
bool pf_rule_ends_walk(const struct pf_rule *r);
int pf_table_check_rule(struct pf_table *t, struct pf_chain *c, const struct pf_rule *r,
			struct pf_error *err);
/* libiptc's message for an errno value (without the final '.'). */
const char *pf_table_strerror(int errnum);

#endif
