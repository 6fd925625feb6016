/*
 * port_range.h - port ranges as the transport matches (match_tcp.c, match_udp.c,
 * match_sctp.c, match_multiport.c) print, save and test them, with the wording of libxt_tcp,
 * libxt_udp, libxt_sctp and libxt_multiport.
 */
#ifndef PF_EXT_PORT_RANGE_H
#define PF_EXT_PORT_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "ext/ext.h"
#include "util/strbuf.h"

/* One port for -L: its service name for proto ("tcp", ...; NULL: none) unless numeric, else
 * the number. */
void pf_port_put(struct pf_strbuf *out, uint16_t port, const char *proto, bool numeric);

/* The save of a range p[0]:p[1]: " [!] --OPT lo:hi", or " [!] --OPT lo" for one port.
 * omit_any: print nothing for 0:65535, inverted or not (tcp, udp). */
void pf_port_range_save(struct pf_strbuf *out, const char *opt, const uint16_t p[2], bool inv,
			bool omit_any);

/* The -L summary of a range: " LABEL:[!]port" or " LABELs:[!]lo:hi" ("spt", "dpt"), ports
 * as pf_port_put() gives them; nothing for 0:65535 not inverted. */
void pf_port_range_print(struct pf_strbuf *out, const char *label, const uint16_t p[2], bool inv,
			 const char *proto, bool numeric);

/* The hashed matcher's view of a source and a destination range: each one that is not
 * inverted goes into k. */
void pf_port_range_index(struct pf_index_key *k, const uint16_t spts[2], bool sinv,
			 const uint16_t dpts[2], bool dinv);

/* Whether port is in range[0]..range[1], or outside it when invert. */
static inline bool pf_port_in(uint16_t port, const uint16_t range[2], bool invert)
{
	return (port >= range[0] && port <= range[1]) != invert;
}

#endif
