/*
 * command.h - one iptables command line against a rule set.
 */
#ifndef PF_COMMAND_H
#define PF_COMMAND_H

#include <stdio.h>

#include "model/model.h"

#define PF_CMD_HELP 0x1	   /* -h given: the front-end prints help */
#define PF_CMD_VERSION 0x2 /* -V given */

/* Parse and run argv (argv[0] ignored) on rs, in place. forced_table: restore's current table
 * (then -t is refused). On failure the table may be partly changed: callers that need
 * atomicity run it on a copy. */
int pf_cmd_run(struct pf_ruleset *rs, struct pf_table *forced_table, int argc, char *const argv[],
	       FILE *out, struct pf_error *err, unsigned *flags_out);

/* Split a line into words as a shell would for iptables-restore (quotes "..." and '...',
 * backslash escapes). Returns argc (with argv[0] = prog) or -1 on an unterminated quote.
 * *argv and the strings live in one allocation: free(*argv). */
int pf_split_words(const char *line, const char *prog, char ***argv);

#endif
