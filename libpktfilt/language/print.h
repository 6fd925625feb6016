/*
 * print.h - canonical printing of rules (-S, save) and the -L table.
 */
#ifndef PF_PRINT_H
#define PF_PRINT_H

#include <stdbool.h>

#include "model/model.h"
#include "util/strbuf.h"

/* -L format flags, as iptables' FMT_* */
#define PF_FMT_NUMERIC 0x0001
#define PF_FMT_NOCOUNTS 0x0002
#define PF_FMT_KILOMEGAGIGA 0x0004
#define PF_FMT_OPTIONS 0x0008
#define PF_FMT_NOTABLE 0x0010
#define PF_FMT_VIA 0x0040
#define PF_FMT_LINENUMBERS 0x0100

const char *pf_rule_target_name(const struct pf_rule *r);
const char *pf_policy_name(enum pf_verdict v);
/* " -s ... -j TARGET ..." (every element with a leading space); cnt: " -c P B" before -j. */
void pf_rule_save_spec(struct pf_strbuf *sb, const struct pf_rule *r, const struct pf_counters *cnt,
		       bool reparseable);
/* "[p:b] -A CHAIN spec\n" */
void pf_rule_save_line(struct pf_strbuf *sb, const struct pf_chain *c, const struct pf_rule *r,
		       bool counters_prefix, bool counters_inline, bool reparseable);
void pf_list_header(struct pf_strbuf *sb, const struct pf_chain *c, unsigned fmt);
void pf_list_rule(struct pf_strbuf *sb, const struct pf_rule *r, unsigned num, unsigned fmt);

#endif
