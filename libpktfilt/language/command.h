/*
 * command.h - one iptables command line against a rule set.
 */
#ifndef PF_COMMAND_H
#define PF_COMMAND_H

#include <stdio.h>

#include "model/model.h"

#define PF_CMD_HELP 0x1	   /* -h given: the front-end prints help */
#define PF_CMD_VERSION 0x2 /* -V given */

/* One change a command made in place, with what it takes to take it back. */
struct pf_cmd_rec {
	struct pf_change ch; /* the public description (ch.rule: the rule now in place) */
	struct pf_table *t;
	struct pf_chain *c;	/* INSERT, DELETE, REPLACE, FLUSH, NEW_CHAIN */
	struct pf_rule *old;	/* DELETE, REPLACE: the rule taken out (freed with the log) */
	struct pf_rule **saved; /* FLUSH: the chain's rules array (freed with the log) */
	size_t nsaved, capsaved;
};

/* The changes of one command, in the order they were made (pf_ruleset_command_ex). */
struct pf_cmd_log {
	struct pf_cmd_rec *v;
	size_t n, cap;
};

/* Take back the changes of the log, last first: rules inserted, deleted, replaced or flushed
 * and chains created. (Nothing can fail after the other changes: zero, rename, policy,
 * chain deletion.) The log is then empty. */
void pf_cmd_log_undo(struct pf_cmd_log *log);
/* Free the log and what it kept (rules taken out). */
void pf_cmd_log_free(struct pf_cmd_log *log);

/* Parse and run argv (argv[0] ignored) on rs, in place. forced_table: restore's current table
 * (then -t is refused). log: NULL, or where every change is recorded, so that a failing command
 * can be taken back (pf_cmd_log_undo); without a log, on failure the table may be partly
 * changed (restore runs it on a copy of the table). */
int pf_cmd_run(struct pf_ruleset *rs, struct pf_table *forced_table, int argc, char *const argv[],
	       FILE *out, struct pf_error *err, unsigned *flags_out, struct pf_cmd_log *log);

/* Split a line into words as a shell would for iptables-restore (quotes "..." and '...',
 * backslash escapes). Returns argc (with argv[0] = prog) or -1 on an unterminated quote.
 * *argv and the strings live in one allocation: free(*argv). */
int pf_split_words(const char *line, const char *prog, char ***argv);

#endif
