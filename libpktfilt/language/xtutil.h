/*
 * xtutil.h - parsing and formatting helpers shared by the core and the extensions, with
 * iptables' (libxtables') accepted syntax and error wording.
 */
#ifndef PF_XTUTIL_H
#define PF_XTUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "pktfilt/pktfilt.h"
#include "util/strbuf.h"

/* Unsigned integer as xtables_strtoul: base 0 (0x.., 0..), whole string, within [min,max]. */
bool pf_strtoui(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Same but stops at *end (may be NULL for whole-string). */
bool pf_strtoui_end(const char *s, char **end, uint64_t min, uint64_t max, uint64_t *out);

/* Port number or service name for proto ("tcp", "udp", ... or NULL). -1 when invalid. */
int pf_service_to_port(const char *name, const char *proto);
/* Port or service; on failure fills err with "invalid port/service `%s' specified". */
int pf_parse_port(const char *s, const char *proto, uint16_t *out, struct pf_error *err);
/* "a", "a:b", ":b", "a:", ":" as xtables' parse_ports (min defaults 0, max 65535).
 * Fails with iptables' wording. */
int pf_parse_port_range(const char *s, const char *proto, uint16_t ports[2],
			struct pf_error *err);
/* Service name for a port (for -L without -n), or NULL. Thread-safe. */
const char *pf_port_to_service(uint16_t port, const char *proto, char *buf, size_t len);

/* IPv4 text "a.b.c.d" with 1..4 parts (missing parts are zero, each part base 0 like strtoul). */
bool pf_parse_ipv4_numeric(const char *s, uint32_t *addr_nbo);
/* Mask "N" (0..32) or dotted; NULL or "" is an error. */
bool pf_parse_ipv4_mask(const char *s, uint32_t *mask_nbo);
/* "host[/mask]" possibly a comma-separated list (iptables' xtables_ipparse_multiple), with
 * duplicates removed and addresses masked. Returns 0 or -1 with err. *addrs is malloc()ed and
 * *masks points into the same block: free(*addrs) only. */
int pf_parse_ipv4_list(const char *s, uint32_t **addrs, uint32_t **masks, unsigned *n,
		       struct pf_error *err);
/* One "host[/mask]" (no commas): 0 or -1 with err. Hostnames via /etc/hosts and DNS. */
int pf_parse_ipv4_one(const char *s, uint32_t *addr, uint32_t *mask, struct pf_error *err);

/* Format: "1.2.3.4" */
void pf_fmt_ipv4(uint32_t addr_nbo, char buf[16]);
/* -L without -n: host name (reverse lookup) or network name of an address, as iptables. */
bool pf_ipv4_to_name(uint32_t addr_nbo, char *buf, size_t len);
/* Prefix length of a mask, or -1 when not contiguous. */
int pf_mask_to_cidr(uint32_t mask_nbo);
/* "1.2.3.4/24" or "1.2.3.4/255.0.255.0" as iptables-save prints (always with mask). */
void pf_sb_addr_mask(struct pf_strbuf *sb, uint32_t addr, uint32_t mask);
/* -L style: "anywhere" (unless numeric) for /0, "a.b.c.d" for /32 numeric... as iptables'
 * print_firewall (xtables_ipaddr_to_numeric / anyname). */
void pf_sb_list_addr(struct pf_strbuf *sb, uint32_t addr, uint32_t mask, bool numeric);

/* Protocol: name or number ("all" = 0). Returns -1 when unknown. */
int pf_parse_proto(const char *s);
/* Name from xtables' own short table (tcp, udp, icmp, all, ...) or NULL. */
const char *pf_proto_table_name(uint16_t proto);
/* Name for -S/save (xtables' table then /etc/protocols), or NULL for a bare number. */
const char *pf_proto_name(uint16_t proto, char *buf, size_t len);

/* Mark "value[/mask]" (mask defaults to 0xffffffff). */
bool pf_parse_mark_mask(const char *s, uint32_t *value, uint32_t *mask);

/* ---- libxtables' guided-option parsers (xtoptions.c), shared by several extensions ---- */

/* The checks xtables_option_parse makes before parsing a guided option, with its wording:
 * 'EXT: option "--OPT" can only be used once.' when already_seen, then 'EXT: option "--OPT"
 * cannot be inverted.' when invert and not invertible. opt: the option's first declared
 * name for its id (iptables names an option by its id, whatever alias was typed). */
int pf_xt_opt_check(struct pf_error *err, const char *ext, const char *opt, bool already_seen,
		    bool invert, bool invertible);
/* XTTYPE_UINT8/16/32/64: whole string, base 0, within [lmin, lmax]; else 'EXT: bad value
 * for option "--OPT", or out of range (LMIN-LMAX).' */
int pf_xt_parse_uint(const char *arg, const char *ext, const char *opt, uint64_t lmin,
		     uint64_t lmax, uint64_t *out, struct pf_error *err);
/* XTTYPE_UINT*RC: up to maxiter ':'-separated numbers in [0, lmax]; an empty component is
 * 0 (first) or lmax (second). Fills vals[0..*nvals-1] (vals has maxiter entries). */
int pf_xt_parse_mint(const char *arg, const char *ext, const char *opt, uint64_t lmax,
		     unsigned maxiter, uint64_t *vals, unsigned *nvals, struct pf_error *err);
/* xtables_getportbyname: a number (as getaddrinfo reads it, truncated to 16 bits) or a
 * service name of any protocol; -1 when it does not resolve. */
int pf_xt_getportbyname(const char *name);
/* XTTYPE_PORTRC: "port[:port]" with its quirks (an empty first component leaves 0, an
 * empty second leaves 65535, a single port gives [p, p]); no min <= max check. */
int pf_xt_parse_portrc(const char *arg, const char *ext, const char *opt, uint16_t out[2],
		       struct pf_error *err);

/* One option's constraints as libxtables' xt_option_entry declares them (id: the bit in the
 * extension's seen mask; excl/also: masks of ids; mand: XTOPT_MAND). */
struct pf_xt_optspec {
	const char *name;
	unsigned id;
	uint64_t excl;
	uint64_t also;
	bool mand;
};
/* xtables_options_fcheck: walks specs (terminated by name NULL) in declaration order and
 * fails with its wording: 'EXT: option "--OPT" must be specified', '... also requires
 * "--OTHER".', '... cannot be used together with "--OTHER".' (the other option being the
 * lowest id in conflict, as iptables finds it). */
int pf_xt_options_fcheck(const char *ext, const struct pf_xt_optspec *specs, uint64_t seen,
			 struct pf_error *err);

/* XTTYPE_MARKMASK32 "value[/mask]" (mask defaults to 0xffffffff) with libxtables' wording:
 * 'EXT: bad integer value for option "--OPT", or out of range.' and 'EXT: trailing garbage
 * after value for option "--OPT".' */
int pf_xt_parse_markmask(const char *arg, const char *ext, const char *opt, uint32_t *value,
			 uint32_t *mask, struct pf_error *err);

/* ---- NAT ranges (libxt_NAT.c): --to-destination, --to-source, --to-ports ---- */

#define PF_NAT_RANGE_MAP_IPS 0x01
#define PF_NAT_RANGE_PROTO_SPECIFIED 0x02
#define PF_NAT_RANGE_PROTO_RANDOM 0x04
#define PF_NAT_RANGE_PERSISTENT 0x08
#define PF_NAT_RANGE_PROTO_RANDOM_FULLY 0x10
#define PF_NAT_RANGE_PROTO_OFFSET 0x20

/* An IPv4 nf_nat_range2: addresses in network byte order, ports in host order. */
struct pf_nat_range {
	uint32_t flags;
	uint32_t min_ip, max_ip;
	uint16_t min_port, max_port, base_port;
	uint16_t pad;
};

/* Whether -p allows ports in a NAT range (tcp, udp, sctp, dccp, icmp; inversion ignored). */
bool pf_nat_portok(uint16_t proto);
/* "port[-port[/port]]" into r (sets PROTO_SPECIFIED, maybe PROTO_OFFSET). base0: accept a
 * base port 0 (iptables refuses it, but prints "/0" for SNAT and MASQUERADE, whose revision
 * drops the base: accepting it lets such a saved rule be read back). */
int pf_nat_parse_ports(const char *arg, bool portok, bool base0, struct pf_nat_range *r,
		       struct pf_error *err);
/* "[ip[-ip]][:port[-port[/port]]]" into r (sets MAP_IPS when an address is given). */
int pf_nat_parse_to(const char *arg, bool portok, bool base0, struct pf_nat_range *r,
		    struct pf_error *err);
/* libxt_NAT's print/save: " RANGEOPT<range>" then " FLAGPFXrandom" etc. skip_colon drops the
 * ':' of a port-only range (--to-ports, "masq ports: "). */
void pf_nat_print(struct pf_strbuf *sb, const struct pf_nat_range *r, const char *rangeopt,
		  const char *flag_pfx, bool skip_colon);

#endif
