/*
 * replay_host.h - the host pktfilt-replay pretends to be, for the matches that ask the host's
 * routing view (addrtype, rpfilter): its addresses and interfaces, its local routing table
 * and its routes, answering pf_engine_config.addr_type and .rp_route as Linux would.
 *
 * The local table holds 127.0.0.0/8 on "lo" (LOCAL, and 127.255.255.255 BROADCAST), each
 * --addr IFACE=A/LEN (A LOCAL on IFACE, the subnet broadcast BROADCAST when LEN < 31) and each
 * --local address (LOCAL on any interface). The main table holds the connected subnet of each
 * --addr and each --route NET/LEN=IFACE. A host given no --addr and no --route routes every
 * source back through the interface the packet came in on (reverse path always valid).
 */
#ifndef REPLAY_HOST_H
#define REPLAY_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct replay_host;

struct replay_host *replay_host_new(void);
void replay_host_free(struct replay_host *h);

/* "IFACE=ADDR/LEN" (ip addr add ADDR/LEN dev IFACE). Returns 0, or -1 when malformed. */
int replay_host_add_addr(struct replay_host *h, const char *spec);
/* "NET/LEN=IFACE" (ip route add NET/LEN dev IFACE; 0.0.0.0/0 is the default route). */
int replay_host_add_route(struct replay_host *h, const char *spec);
/* An address of this host on no particular interface (--local). */
int replay_host_add_local(struct replay_host *h, uint32_t addr);
/* The address given with replay_host_add_addr, network byte order, via *addr: for the
 * replay's own list of local addresses. Returns false past the last one. */
bool replay_host_addr_at(const struct replay_host *h, unsigned i, uint32_t *addr);

/* pf_engine_config.addr_type and .rp_route (opaque: the struct replay_host). */
unsigned replay_host_addr_type(void *opaque, uint32_t addr, const char *dev);
int replay_host_rp_route(void *opaque, uint32_t addr, uint32_t saddr, uint32_t mark, uint8_t tos,
			 const char *dev, bool *uses_dev);

#endif
