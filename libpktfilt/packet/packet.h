/*
 * packet.h - a parsed, bounds-checked view of one IPv4 packet, built once per packet.
 *
 * Matches read this view, never raw offsets. The view records what the kernel knows when a
 * packet reaches a netfilter hook: the IP header fields, the fragment offset, where the
 * transport header starts and whether it is complete. A non-first fragment has no transport
 * header (ports never match it); a first fragment too short for its transport header makes
 * the kernel's tcp/udp/icmp matches "hotdrop" the packet: l4_truncated says so.
 * IPv6 will get its own parser filling the same view (family field).
 */
#ifndef PF_PACKET_H
#define PF_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pf_packet_status {
	PF_PKT_OK = 0,
	PF_PKT_TRUNCATED,  /* shorter than the IP header or than tot_len */
	PF_PKT_BAD_HEADER, /* version != 4, ihl < 5, tot_len < ihl*4 */
};

struct pf_packet {
	uint8_t *data;	/* the IP header; the caller's buffer, changed by mangling targets */
	size_t len;	/* bytes of the packet: tot_len (bytes beyond it are trimmed) */
	uint8_t family; /* 4 */

	/* IPv4 header */
	uint8_t ihl_bytes;
	uint8_t tos;
	uint8_t ttl;
	uint8_t proto;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_field;   /* flags + offset, host order */
	uint16_t fragoff;      /* offset in 8-byte units, as the kernel's par->fragoff */
	uint32_t saddr, daddr; /* network byte order */

	/* Transport: valid only when fragoff == 0 */
	uint16_t l4_off;       /* offset of the transport header in data */
	uint16_t l4_len;       /* bytes from l4_off to the end of the packet */
	bool l4_truncated;     /* first fragment shorter than the minimal header of proto */
	uint16_t sport, dport; /* tcp/udp/udplite/sctp/dccp, host order */
	uint8_t tcp_flags;
	uint8_t tcp_doff_bytes;
	uint8_t icmp_type, icmp_code;
};

/*
 * Parse an IPv4 packet starting at its IP header. The view points into buf (not copied).
 * Returns PF_PKT_OK, or why the kernel would drop it before PREROUTING (then the packet must
 * not be evaluated). Never reads outside buf[0..buflen).
 */
enum pf_packet_status pf_packet_parse(struct pf_packet *p, uint8_t *buf, size_t buflen);

/* Recompute the transport fields after a target changed the packet. */
void pf_packet_reparse_l4(struct pf_packet *p);

/* Bytes [off, off+n) of the packet, or NULL when outside it. */
static inline const uint8_t *pf_packet_bytes(const struct pf_packet *p, size_t off, size_t n)
{
	if (off > p->len || n > p->len - off)
		return NULL;
	return p->data + off;
}

/* Internet checksum of the IP header (0 when valid). */
uint16_t pf_ip_header_checksum(const uint8_t *hdr, size_t len);
/* Recompute the IPv4 header checksum in place. */
void pf_packet_fix_ip_checksum(struct pf_packet *p);

/* One's complement sum helpers (values in host order), for targets that mangle packets. */
/* Add n bytes (big-endian 16-bit words, odd tail padded) to a 32-bit partial sum. */
uint32_t pf_csum_add_bytes(uint32_t sum, const uint8_t *b, size_t n);
/* Fold a partial sum to 16 bits and complement it: the checksum field value. */
uint16_t pf_csum_fold(uint32_t sum);
/* Incremental update of a checksum field when a 16-bit word changes from old to new
 * (RFC 1624, as the kernel's csum_replace2). */
uint16_t pf_csum_replace2(uint16_t check, uint16_t old, uint16_t new_);
/* Same for a 32-bit word (an address), as csum_replace4. */
uint16_t pf_csum_replace4(uint16_t check, uint32_t old, uint32_t new_);
/* The TCP/UDP checksum of the transport part [l4_off, len) with the IPv4 pseudo-header, the
 * checksum field (at l4_off + csum_off) counted as zero. */
uint16_t pf_packet_l4_checksum(const struct pf_packet *p, size_t csum_off);
/*
 * NAT of one packet in place, as nf_nat_manip_pkt does it for the first packet of a
 * connection: set the source (src) or destination address to addr (network byte order) and,
 * when port >= 0, the source/destination port of TCP, UDP and UDP-Lite (the echo id of an
 * ICMP echo request or reply); the IP checksum and the transport checksum (pseudo-header and
 * port; a UDP checksum of 0 stays 0) are updated incrementally. Ports of SCTP and DCCP are
 * not changed (their checksums are not updated). The view is refreshed. Returns whether a
 * byte changed.
 */
bool pf_packet_nat(struct pf_packet *p, bool src, uint32_t addr, int port);
/* The port (host order) pf_packet_nat would change for src/dst, or -1 when none. */
int pf_packet_nat_port(const struct pf_packet *p, bool src);

/*
 * The port a NAT range gives the first packet of a connection (nf_nat_get_unique_tuple and
 * nf_nat_l4proto_unique_tuple, assuming no other connection uses the tuple): -1 (unchanged)
 * without a port range; with one, the packet's own port when it lies in [minp, maxp] (and
 * neither offset nor random is asked), the shifted port minp + (port - base) % size with an
 * offset map, else minp (the kernel starts from minp for DNAT and from a random offset for
 * SNAT and --random: we take minp).
 */
int pf_packet_nat_pick_port(const struct pf_packet *p, bool src, bool specified, uint16_t minp,
			    uint16_t maxp, bool offset, uint16_t base, bool random);

/* Read/write a big-endian 16-bit word of the packet (offset must be inside it). */
static inline uint16_t pf_rd16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}
static inline void pf_wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

#endif
