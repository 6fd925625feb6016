/*
 * ext.h - the extension descriptor: what every match and target module exports.
 *
 * Each match (`-m NAME`) and target (`-j NAME`) lives in one file under ext/ and defines one
 * `const struct pf_ext`. The descriptor carries the option table, the parser, the final check,
 * the canonical printer for -S/save, the -L summary printer and the placement rules the kernel
 * would enforce (tables and hooks). The core never switches on an extension's name: it only
 * calls through this descriptor. All extension data is flat (no pointers), so rules can be
 * copied with memcpy and compared with memcmp, as iptables compares rules for -D and -C.
 */
#ifndef PF_EXT_H
#define PF_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"
#include "util/error.h"

struct pf_rule;
struct pf_ext;
struct pf_eval;	  /* engine/eval.h: one packet being judged */
struct pf_engine; /* engine/eval.h: the compiled rule set */

/* Target results: a verdict for the packet, or continue with the next rule. */
#define PF_XT_CONTINUE 0xffffffffu
#define PF_XT_VERDICT(v) ((unsigned)(v)) /* PF_NF_ACCEPT, ... */
#define PF_XT_QUEUE(num, bypass) (3u | ((unsigned)(num) << 16) | ((bypass) ? 0x8000u : 0u))

enum pf_ext_kind { PF_EXT_MATCH, PF_EXT_TARGET };

enum pf_ext_arg {
	PF_ARG_NONE,	 /* --flag */
	PF_ARG_REQUIRED, /* --opt VALUE (the next argv word, whatever it starts with) */
	PF_ARG_OPTIONAL, /* --opt [VALUE]: taken only when the next word does not start with '-' */
	PF_ARG_TWO,	 /* --opt A B: A as for PF_ARG_REQUIRED (ctx->arg); B (ctx->arg2) is the
			    following word when there is one that starts with neither '-' nor '!'
			    (it is then consumed), else NULL and the extension reports the error
			    (iptables' old-style parsers reading argv[optind]) */
};
#define PF_EXT_ARG2 1 /* PF_ARG_TWO and pf_parse_ctx.arg2 exist */

/* Option flags. */
#define PF_OPT_INVERT 0x1  /* "! --opt" is allowed */
#define PF_OPT_MULTI 0x2   /* may be given more than once */
#define PF_OPT_NOCHECK 0x4 /* the extension checks ! and repetition itself */

struct pf_ext_option {
	const char *name; /* long name without the leading "--" */
	int id;		  /* passed to parse(); also the bit number in pf_parse_ctx.seen */
	enum pf_ext_arg arg;
	unsigned flags;
};

/* What parse() and final_check() are given. */
struct pf_parse_ctx {
	const struct pf_ext *ext;
	void *data;		    /* the extension's private, zeroed then init()ed data */
	int id;			    /* option id (parse only) */
	const char *name;	    /* option name as declared (parse only) */
	const char *arg;	    /* argument or NULL */
	const char *arg2;	    /* PF_ARG_TWO: the second word or NULL */
	bool invert;		    /* "!" was given before the option */
	uint64_t seen;		    /* bit per option id already parsed (before this one) */
	const struct pf_rule *rule; /* the rule being built: core fields (ip.proto, ...) */
	const char *table;	    /* table name */
	struct pf_error *err;
};

/* Context for printing one instance. */
struct pf_print_ctx {
	const void *data;
	const struct pf_rule *rule;
	bool numeric;	  /* -n: no service names, no "anywhere" */
	bool reparseable; /* save: quote what iptables prints bare but cannot read back
			     (pf_sb_put_word) */
};

/* What a match instance tells the hashed matcher (index_fields below). Ranges are inclusive,
 * in host order; a field left as initialised says nothing. */
struct pf_index_key {
	uint16_t sport[2], dport[2]; /* transport ports the match can accept ({0, 65535}: any) */
	uint32_t mark, mark_mask;    /* (ev->mark & mark_mask) == mark for accepted packets */
	unsigned flags;		     /* PF_INDEX_* */
};
#define PF_INDEX_IMPURE                                                                            \
	0x1 /* the fields reject early, but .match may have side effects or                        \
	       hotdrop on packets inside them (evaluated in rule order) */
#define PF_INDEX_EXACT                                                                             \
	0x2 /* on packets with fragoff == 0 and a whole transport header,                          \
	       .match accepts exactly the packets inside the fields */

struct pf_ext {
	const char *name;      /* as written after -m / -j */
	const char *real_name; /* the kernel's name when name is an alias (NOTRACK is CT):
				  what -L shows in its target column. NULL: name */
	enum pf_ext_kind kind;
	uint8_t revision;
	size_t data_size;		     /* size of the private data; flat, memcpy-able */
	size_t cmp_size;		     /* bytes compared for -D/-C (0: all of data_size) */
	const struct pf_ext_option *options; /* terminated by { .name = NULL } */

	/* Table and hook restrictions enforced at commit, as the kernel's checkentry does.
	 * table_names: NULL for any, else a NULL-terminated list. hooks: 0 for any, else
	 * a mask of (1 << PF_HOOK_*). proto: 0 for any, else the required -p (not inverted). */
	const char *const *tables;
	unsigned hooks;
	uint16_t proto;

	/* Set defaults in zeroed data. May be NULL. */
	void (*init)(void *data);
	/* Parse one option. Return 0, or -1 with ctx->err set. */
	int (*parse)(struct pf_parse_ctx *ctx);
	/* Called after the whole command line is parsed (ctx->seen holds all options).
	 * Return 0, or -1 with ctx->err set. May be NULL. */
	int (*final_check)(struct pf_parse_ctx *ctx);
	/* Append the options as iptables-save prints them, each with a leading space
	 * (e.g. " --dport 22"). "-m NAME" / "-j NAME" is printed by the core. */
	void (*save)(const struct pf_print_ctx *ctx, struct pf_strbuf *out);
	/* Append the -L summary (e.g. "tcp dpt:22 " ... as iptables' print()), each part with
	 * its leading space as iptables prints it. May be NULL (prints nothing). */
	void (*print)(const struct pf_print_ctx *ctx, struct pf_strbuf *out);
	/* Further checks the kernel's checkentry makes when the table is committed, given the
	 * rule, this instance's data, the table name and the mask of hooks the rule's chain is
	 * reachable from. Return 0, or an errno value (EINVAL: "Invalid argument. Run `dmesg'
	 * for more information", ENOENT: "No chain/target/match by that name", ...).
	 * May be NULL. */
	int (*check_entry)(const struct pf_rule *rule, const void *data, const char *table,
			   unsigned hooks);
	/* Optional: does this instance need connection tracking (used later by the engine). */
	bool needs_conntrack;

	/* ---- evaluation (engine) ---- */
	/* Matches: true when the packet matches. May set ev->hotdrop (the kernel drops the packet
	 * at once, counting nothing more). */
	bool (*match)(struct pf_eval *ev, const void *data, void *state);
	/* Targets: PF_XT_CONTINUE or a verdict (PF_XT_VERDICT / PF_XT_QUEUE). */
	unsigned (*target)(struct pf_eval *ev, const void *data, void *state);
	/* Runtime state of one instance in a compiled rule set (token buckets, counters, lists):
	 * state_size bytes, zeroed, then state_init(). May be 0/NULL. */
	size_t state_size;
	int (*state_init)(struct pf_engine *engine, const void *data, void *state);
	void (*state_free)(struct pf_engine *engine, void *state);
	/* The state is the rule's, not the engine's: engines of one state domain (engine.h,
	 * engine/state_domain.h) share one per rule, as the kernel has one for all CPUs. Then
	 * .match takes pf_state_lock(state) around its use; state_init runs once per state and
	 * state_free once, maybe through another engine than state_init's (neither keeps the
	 * engine). Objects of pf_engine_shared are shared by name and locked the same way,
	 * whatever this flag. */
	bool state_shared;

	/* ---- indexing (engine/matcher_hashed.c, docs/matcher.md) ---- */
	/* Optional: describe, for the hashed matcher, a superset of the packets this instance can
	 * accept, by narrowing *k (which comes set to "every packet"). Returns 0, or -1 when the
	 * instance cannot be described (it is then treated like a match without this callback).
	 * Providing it is a promise, for every packet whose transport header is whole
	 * (ev->pkt->l4_truncated false) and whose fragment offset is not 1:
	 *  - a packet outside *k makes .match return false with no side effect and no hotdrop
	 *    (ports are the first two 16-bit words at l4_off, compared only when fragoff == 0;
	 *    on other fragments a port-narrowing match must return false, without side effect);
	 *  - unless k->flags has PF_INDEX_IMPURE, .match has no side effect at all, never sets
	 *    ev->hotdrop, and depends only on the packet, ev->mark, ev->in/out and its own data
	 *    (not on state other rules change), so it may be evaluated out of rule order. */
	int (*index_fields)(const void *data, const struct pf_rule *rule, struct pf_index_key *k);
};

/* The registry: all known extensions. */
const struct pf_ext *pf_ext_find(const char *name, enum pf_ext_kind kind);
/* All registered extensions, NULL-terminated. */
extern const struct pf_ext *const pf_ext_registry[];

/* Netfilter hooks (same numbering as the kernel's NF_INET_*). */
enum pf_hook {
	PF_HOOK_PRE_ROUTING = 0,
	PF_HOOK_LOCAL_IN = 1,
	PF_HOOK_FORWARD = 2,
	PF_HOOK_LOCAL_OUT = 3,
	PF_HOOK_POST_ROUTING = 4,
	PF_HOOK_COUNT = 5,
};

#endif
