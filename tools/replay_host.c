/*
 * replay_host.c - the replayed host's addresses and routes (replay_host.h).
 */
#include "replay_host.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktfilt/engine.h"

#define HOST_IFNAMSIZ 16

struct host_route {
	uint32_t net, mask; /* network byte order */
	unsigned plen;
	unsigned type;		 /* PF_RTN_* */
	char dev[HOST_IFNAMSIZ]; /* "" for any interface */
};

struct route_table {
	struct host_route *r;
	size_t n, cap;
};

struct replay_host {
	struct route_table local, main;
	uint32_t addrs[256]; /* --addr addresses, for replay_host_addr_at */
	unsigned naddrs;
};

static int table_add(struct route_table *t, uint32_t net, unsigned plen, unsigned type,
		     const char *dev)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct host_route *r = realloc(t->r, cap * sizeof(*r));
		if (!r)
			return -1;
		t->r = r;
		t->cap = cap;
	}
	struct host_route *e = &t->r[t->n++];
	memset(e, 0, sizeof(*e));
	e->mask = plen ? htonl(0xffffffffu << (32 - plen)) : 0;
	e->net = net & e->mask;
	e->plen = plen;
	e->type = type;
	if (dev)
		snprintf(e->dev, sizeof(e->dev), "%s", dev);
	return 0;
}

/* Longest prefix match, the first entry among equals. */
static const struct host_route *table_lookup(const struct route_table *t, uint32_t addr)
{
	const struct host_route *best = NULL;
	for (size_t i = 0; i < t->n; i++)
		if ((addr & t->r[i].mask) == t->r[i].net && (!best || t->r[i].plen > best->plen))
			best = &t->r[i];
	return best;
}

struct replay_host *replay_host_new(void)
{
	struct replay_host *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	/* What the kernel puts in the local table for lo. */
	if (table_add(&h->local, htonl(0x7f000000u), 8, PF_RTN_LOCAL, "lo") ||
	    table_add(&h->local, htonl(0x7fffffffu), 32, PF_RTN_BROADCAST, "lo")) {
		replay_host_free(h);
		return NULL;
	}
	return h;
}

void replay_host_free(struct replay_host *h)
{
	if (!h)
		return;
	free(h->local.r);
	free(h->main.r);
	free(h);
}

/* "A.B.C.D/LEN" */
static int parse_prefix(const char *s, size_t n, uint32_t *addr, unsigned *plen)
{
	char buf[64];
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *slash = strchr(buf, '/');
	*plen = 32;
	if (slash) {
		char *end;
		unsigned long l = strtoul(slash + 1, &end, 10);
		if (*end || slash[1] == '\0' || l > 32)
			return -1;
		*plen = (unsigned)l;
		*slash = '\0';
	}
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	*addr = a.s_addr;
	return 0;
}

int replay_host_add_addr(struct replay_host *h, const char *spec)
{
	const char *eq = strchr(spec, '=');
	uint32_t a;
	unsigned plen;
	if (!eq || eq == spec || (size_t)(eq - spec) >= HOST_IFNAMSIZ ||
	    parse_prefix(eq + 1, strlen(eq + 1), &a, &plen))
		return -1;
	char dev[HOST_IFNAMSIZ];
	memcpy(dev, spec, (size_t)(eq - spec));
	dev[eq - spec] = '\0';
	if (h->naddrs < sizeof(h->addrs) / sizeof(h->addrs[0]))
		h->addrs[h->naddrs++] = a;
	if (table_add(&h->local, a, 32, PF_RTN_LOCAL, dev))
		return -1;
	uint32_t mask = plen ? htonl(0xffffffffu << (32 - plen)) : 0;
	if (plen < 31 && table_add(&h->local, a | ~mask, 32, PF_RTN_BROADCAST, dev))
		return -1;
	return table_add(&h->main, a, plen, PF_RTN_UNICAST, dev);
}

int replay_host_add_route(struct replay_host *h, const char *spec)
{
	const char *eq = strchr(spec, '=');
	uint32_t a;
	unsigned plen;
	if (!eq || eq[1] == '\0' || strlen(eq + 1) >= HOST_IFNAMSIZ ||
	    parse_prefix(spec, (size_t)(eq - spec), &a, &plen))
		return -1;
	return table_add(&h->main, a, plen, PF_RTN_UNICAST, eq + 1);
}

int replay_host_add_local(struct replay_host *h, uint32_t addr)
{
	return table_add(&h->local, addr, 32, PF_RTN_LOCAL, NULL);
}

bool replay_host_addr_at(const struct replay_host *h, unsigned i, uint32_t *addr)
{
	if (i >= h->naddrs)
		return false;
	*addr = h->addrs[i];
	return true;
}

static bool dev_is(const struct host_route *r, const char *dev)
{
	return r->dev[0] == '\0' || (dev && strcmp(r->dev, dev) == 0);
}

unsigned replay_host_addr_type(void *opaque, uint32_t addr, const char *dev)
{
	const struct replay_host *h = opaque;
	const struct host_route *r = table_lookup(&h->local, addr);
	if (!r)
		return PF_RTN_UNICAST;
	if (dev && !dev_is(r, dev))
		return PF_RTN_UNICAST; /* an entry on another device */
	return r->type;
}

int replay_host_rp_route(void *opaque, uint32_t addr, uint32_t saddr, uint32_t mark, uint8_t tos,
			 const char *dev, bool *uses_dev)
{
	const struct replay_host *h = opaque;
	(void)saddr;
	(void)mark;
	(void)tos;
	/* The local table first (rule 0), then the main table. */
	const struct host_route *r = table_lookup(&h->local, addr);
	if (!r)
		r = table_lookup(&h->main, addr);
	if (!r) {
		if (h->main.n)
			return -1; /* routes given, none toward addr */
		*uses_dev = true;  /* no routes given: symmetric routing */
		return PF_RTN_UNICAST;
	}
	*uses_dev = dev_is(r, dev);
	return (int)r->type;
}
