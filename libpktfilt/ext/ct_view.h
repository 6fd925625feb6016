/*
 * ct_view.h - what the kernel's nf_ct_get() would return for the packet being judged, built
 * from the caller's metadata (meta->ct_state) and the evaluation (CT --notrack, the table):
 * shared by the conntrack, state and connmark matches.
 *
 *  - an untracked packet: CT --notrack / NOTRACK ran (ev->untracked), or the caller says
 *    PF_CT_UNTRACKED. nf_ct_get() gives no entry and ctinfo IP_CT_UNTRACKED.
 *  - no entry: in the raw table (its hooks run before conntrack's, so no packet carries an
 *    entry there yet), or the caller says PF_CT_INVALID, or says nothing (0). The kernel
 *    attaches no entry to a packet it could not track: state INVALID.
 *  - an entry: RELATED, ESTABLISHED or NEW (the first of these bits set, in that order), in
 *    the reply direction when PF_CT_REPLY is set.
 */
#ifndef PF_CT_VIEW_H
#define PF_CT_VIEW_H

#include <stdbool.h>
#include <string.h>

#include "engine/eval.h"

/* XT_CONNTRACK_STATE_* / XT_STATE_* bits */
#define PF_XT_ST_INVALID 0x001
#define PF_XT_ST_ESTABLISHED 0x002
#define PF_XT_ST_RELATED 0x004
#define PF_XT_ST_NEW 0x008
#define PF_XT_ST_SNAT 0x040
#define PF_XT_ST_DNAT 0x080
#define PF_XT_ST_UNTRACKED 0x100

enum pf_ct_kind { PF_CTV_NONE, PF_CTV_UNTRACKED, PF_CTV_ENTRY };

struct pf_ct_view {
	enum pf_ct_kind kind;
	unsigned statebit; /* XT_CONNTRACK_STATE_BIT(ctinfo), or INVALID / UNTRACKED */
	bool reply;	   /* CTINFO2DIR(ctinfo) == IP_CT_DIR_REPLY (entries only) */
};

static inline struct pf_ct_view pf_ct_view_get(const struct pf_eval *ev)
{
	struct pf_ct_view v = {PF_CTV_NONE, PF_XT_ST_INVALID, false};
	unsigned s = ev->meta->ct_state;
	bool raw = ev->table && strcmp(ev->table, "raw") == 0;
	if (ev->untracked || (!raw && (s & PF_CT_UNTRACKED))) {
		v.kind = PF_CTV_UNTRACKED;
		v.statebit = PF_XT_ST_UNTRACKED;
		return v;
	}
	if (raw || (s & PF_CT_INVALID))
		return v;
	if (s & PF_CT_RELATED)
		v.statebit = PF_XT_ST_RELATED;
	else if (s & PF_CT_ESTABLISHED)
		v.statebit = PF_XT_ST_ESTABLISHED;
	else if (s & PF_CT_NEW)
		v.statebit = PF_XT_ST_NEW;
	else
		return v; /* unknown: no entry */
	v.kind = PF_CTV_ENTRY;
	v.reply = (s & PF_CT_REPLY) != 0;
	return v;
}

#endif
