/*
 * pktfilt.h - public API of libpktfilt, an iptables-compatible rule engine in user space.
 *
 * A pf_ruleset holds the tables (raw, mangle, nat, filter, security), their built-in and user
 * chains, rules and counters, exactly as iptables-legacy models them. It is changed with
 * iptables commands (as argv or as one string), restored from and saved to iptables-save text,
 * and walked with the iteration functions below.
 *
 * Errors: every call that can fail returns 0 on success and -1 on failure, and fills the
 * caller's struct pf_error with a code (the exit status iptables would use) and the message
 * in iptables' own wording.
 *
 * Thread safety: a pf_ruleset is not internally locked. Calls on distinct rule sets may run
 * concurrently; calls on one rule set must be serialised by the caller, except that any
 * number of read-only calls (save, list, iteration) may run together when no call changes it.
 * The library keeps no global mutable state.
 */
#ifndef PKTFILT_H
#define PKTFILT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PF_API __attribute__((visibility("default")))
#else
#define PF_API
#endif

#define PF_VERSION "0.1.0"

/* Error codes: the exit status iptables uses for the same failure. */
enum pf_error_code {
	PF_OK = 0,
	PF_ERR_OTHER = 1,    /* the operation failed (no such rule, chain in use, ...) */
	PF_ERR_PARAM = 2,    /* bad command line or rule text */
	PF_ERR_VERSION = 3,  /* incompatible version */
	PF_ERR_RESOURCE = 4, /* out of memory, lock held, I/O */
};

/* How a front-end should print the message (iptables prints three shapes). */
enum pf_error_style {
	PF_STYLE_PARAM,	    /* "PROG vVER (legacy): MSG\nTry `PROG -h' or 'PROG --help' ..." */
	PF_STYLE_PLAIN,	    /* "PROG vVER (legacy): MSG" */
	PF_STYLE_TABLE,	    /* "PROG: MSG." (libiptc's messages) */
	PF_STYLE_RAW,	    /* MSG as is */
	PF_STYLE_HINT_ONLY, /* "MSG\nTry `PROG -h' or 'PROG --help' ..." */
};

struct pf_error {
	int code; /* enum pf_error_code */
	enum pf_error_style style;
	int line; /* restore: the line that failed (1-based), else 0 */
	char message[1024];
	/* Warnings iptables prints on stderr while it parses (the command may still succeed),
	 * each ending with a newline, in order; truncated when full. pf_error_print() prints
	 * them before the error. */
	char warnings[1024];
};

typedef struct pf_ruleset pf_ruleset;
typedef struct pf_table pf_table;
typedef struct pf_chain pf_chain;
typedef struct pf_rule pf_rule;

/* Create an empty rule set: every table with its built-in chains, policies ACCEPT. */
PF_API pf_ruleset *pf_ruleset_new(void);
PF_API void pf_ruleset_free(pf_ruleset *rs);
/* Deep copy (used to make a change aside and commit it only when it succeeds). */
PF_API pf_ruleset *pf_ruleset_clone(const pf_ruleset *rs);

/*
 * Run one iptables command, argv[0] being the program name (ignored), e.g.
 * {"iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE"}.
 * Listing commands (-L, -S) write to out. On failure the rule set is unchanged.
 */
PF_API int pf_ruleset_command(pf_ruleset *rs, int argc, char *const argv[], FILE *out,
			      struct pf_error *err);
/* A number that grows with every successful change (command or restore): callers persist or
 * republish the rule set when it moved. */
PF_API uint64_t pf_ruleset_generation(const pf_ruleset *rs);
/* The same, with the command as one string split as a shell would (quotes, backslashes). */
PF_API int pf_ruleset_command_string(pf_ruleset *rs, const char *command, FILE *out,
				     struct pf_error *err);

/*
 * What a command changed, for callers that keep something in step with a rule set (pktfiltd
 * applies each change to its compiled engines: engine.h, pf_engine_insert_rule() and the
 * rest). The changes come in the order they were made; applying them in that order to a copy
 * of the rule set as it was before the command gives the rule set as it is after.
 */
enum pf_change_op {
	PF_CHANGE_TABLE = 1,	   /* the table was used for the first time (instantiated) */
	PF_CHANGE_INSERT,	   /* a rule went in at pos of chain (later rules move down) */
	PF_CHANGE_DELETE,	   /* the rule at pos of chain was removed */
	PF_CHANGE_REPLACE,	   /* the rule at pos of chain was replaced */
	PF_CHANGE_FLUSH,	   /* every rule of chain was removed (count of them) */
	PF_CHANGE_NEW_CHAIN,	   /* user chain `chain' was created, empty */
	PF_CHANGE_DELETE_CHAIN,	   /* user chain `chain' (empty, unreferenced) was deleted */
	PF_CHANGE_RENAME_CHAIN,	   /* user chain `chain' is now called new_name */
	PF_CHANGE_POLICY,	   /* built-in chain `chain' has the policy `policy' */
	PF_CHANGE_ZERO,		   /* counters zeroed: of the rule at pos of chain (has_pos), of
				      chain's rules and policy, or with chain "" of every chain */
	PF_CHANGE_POLICY_COUNTERS, /* every built-in chain's policy counters in the table were
				      reset, as iptables-legacy's commit does after any change,
				      except those of `chain' when -P gave it counters */
};

struct pf_change {
	enum pf_change_op op;
	const char *table; /* "raw", "mangle", "nat", "filter" or "security" (static) */
	char chain[32];
	char new_name[32]; /* RENAME_CHAIN */
	char policy[8];	   /* POLICY: "ACCEPT" or "DROP" */
	size_t pos;	   /* INSERT, DELETE, REPLACE, ZERO with has_pos: 0-based position */
	int has_pos;
	size_t count; /* FLUSH: the rules removed */
	/* INSERT, REPLACE: the rule put in place, as it is in the rule set (its counters are
	 * those the command gave it). Valid until the rule set changes again. */
	const pf_rule *rule;
};

struct pf_changes {
	size_t n;
	struct pf_change *v;
};

/*
 * pf_ruleset_command() that also says what changed: on success *changes (when not NULL)
 * holds the changes in order (none for a listing or a check, or for a command that failed);
 * free it with pf_changes_free(). Same validation, output, errors and exit codes as
 * pf_ruleset_command(); both run in place (a single-rule change costs no copy of the rule set)
 * and take back their changes when a command fails.
 */
PF_API int pf_ruleset_command_ex(pf_ruleset *rs, int argc, char *const argv[], FILE *out,
				 struct pf_error *err, struct pf_changes *changes);
PF_API void pf_changes_free(struct pf_changes *changes);

/* Restore flags. */
#define PF_RESTORE_NOFLUSH 0x1	/* --noflush: keep what is not in the input */
#define PF_RESTORE_COUNTERS 0x2 /* --counters: take [pkts:bytes] from the input */
#define PF_RESTORE_TEST 0x4	/* --test: parse and check only, change nothing */
/* Tables take the order of the input for later saves (first listed = listed first), as when
 * reloading a rule set saved by pf_ruleset_save(). */
#define PF_RESTORE_LISTED_ORDER 0x8

/*
 * Restore from iptables-save text. Each table block (*table ... COMMIT) is all or nothing,
 * as with iptables-restore: on an error the failing table is unchanged (tables committed
 * earlier in the input stay committed) and err->line names the failing line.
 * only_table: NULL, or restore just that table (--table).
 */
PF_API int pf_ruleset_restore(pf_ruleset *rs, const char *text, size_t len, unsigned flags,
			      const char *only_table, struct pf_error *err);

/* Save flags. */
#define PF_SAVE_COUNTERS 0x1 /* -c: [pkts:bytes] before each rule */
/* Quote the few words iptables-save prints bare although it could not read them back (an
 * interface name with a space): for pktfilt's own state, never for iptables' output. */
#define PF_SAVE_REPARSEABLE 0x2

/* Write iptables-save text (without the "# Generated" comment lines) for one table or all
 * tables that iptables-legacy-save would print (NULL). */
PF_API int pf_ruleset_save(const pf_ruleset *rs, const char *table, unsigned flags, FILE *out,
			   struct pf_error *err);

/* Iteration. Tables in the order iptables-legacy-save prints them. */
PF_API size_t pf_ruleset_table_count(const pf_ruleset *rs);
PF_API const pf_table *pf_ruleset_table_at(const pf_ruleset *rs, size_t i);
PF_API const pf_table *pf_ruleset_table(const pf_ruleset *rs, const char *name);
PF_API const char *pf_table_name(const pf_table *t);
/* Chains: built-in ones in hook order, then user chains sorted by name. */
PF_API size_t pf_table_chain_count(const pf_table *t);
PF_API const pf_chain *pf_table_chain_at(const pf_table *t, size_t i);
PF_API const pf_chain *pf_table_chain(const pf_table *t, const char *name);
PF_API const char *pf_chain_name(const pf_chain *c);
PF_API int pf_chain_is_builtin(const pf_chain *c);
/* "ACCEPT" or "DROP" for built-in chains, NULL for user chains. */
PF_API const char *pf_chain_policy(const pf_chain *c);
PF_API void pf_chain_policy_counters(const pf_chain *c, uint64_t *pkts, uint64_t *bytes);
/* Number of rules that jump or go to this user chain. */
PF_API unsigned pf_chain_references(const pf_chain *c);
PF_API size_t pf_chain_rule_count(const pf_chain *c);
PF_API const pf_rule *pf_chain_rule_at(const pf_chain *c, size_t i);
PF_API void pf_rule_counters(const pf_rule *r, uint64_t *pkts, uint64_t *bytes);
/* Set counters without a command, for callers that count elsewhere and show the totals
 * through the rule set (pktfiltd): rule r of rs (from pf_chain_rule_at() on rs), and a
 * built-in chain's policy (returns -1 when rs has no such built-in chain). */
PF_API void pf_rule_set_counters(pf_ruleset *rs, const pf_rule *r, uint64_t pkts, uint64_t bytes);
PF_API int pf_chain_set_policy_counters(pf_ruleset *rs, const char *table, const char *chain,
					uint64_t pkts, uint64_t bytes);
/* The rule as iptables -S prints it after "-A CHAIN" (e.g. "-p tcp -m tcp --dport 22 -j
 * ACCEPT"); returns a malloc()ed string the caller frees, or NULL when out of memory. */
PF_API char *pf_rule_format(const pf_rule *r);

/* Print an error as iptables would, for a program called prog, to stream f. */
PF_API void pf_error_print(const struct pf_error *err, const char *prog, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
