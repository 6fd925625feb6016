/*
 * nat_common.h - what the NAT targets (target_DNAT.c, target_SNAT.c, target_MASQUERADE.c,
 * target_REDIRECT.c) share: their option ids, the parse of their options and the rewrite of
 * the packet. The ranges themselves are parsed and printed by language/xtutil.c
 * (pf_nat_parse_to, pf_nat_parse_ports, pf_nat_print), as libxt_NAT does.
 */
#ifndef PF_EXT_NAT_COMMON_H
#define PF_EXT_NAT_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

/* libxt_NAT's option ids, one numbering for every NAT target (each declares its own). */
enum {
	NAT_O_TO_DEST = 0,
	NAT_O_TO_SRC,
	NAT_O_TO_PORTS,
	NAT_O_RANDOM,
	NAT_O_RANDOM_FULLY,
	NAT_O_PERSISTENT,
};

/*
 * The parse of a NAT target's options into its struct pf_nat_range (ctx->data): each at most
 * once and never inverted (messages named after ctx->ext); --to-destination and --to-source
 * take "[ip[-ip]][:port[-port[/port]]]", --to-ports "port[-port]" (ports only with a -p that
 * has them); --random, --random-fully and --persistent set their flag. base0: accept a base
 * port 0 (see pf_nat_parse_ports). keep_base: the target's revision has room for the base
 * port of a shifted map (DNAT revision 2); otherwise it is dropped.
 */
int pf_nat_target_parse(struct pf_parse_ctx *ctx, bool base0, bool keep_base);

/*
 * The rewrite of the first packet of a connection, in place (nf_nat_setup_info): the source
 * (src) or destination address becomes addr and the port is chosen in r's port range by
 * pf_packet_nat_pick_port() (shifted: r's base port with a /base map, for DNAT and SNAT);
 * checksums are fixed. Returns the NAT targets' verdict, ACCEPT.
 */
unsigned pf_nat_rewrite(struct pf_eval *ev, const struct pf_nat_range *r, bool src, uint32_t addr,
			bool shifted);

#endif
