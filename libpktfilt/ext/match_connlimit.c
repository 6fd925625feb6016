/*
 * match_connlimit.c - the connlimit match: the number of connections of a source (or
 * destination) group, as libxt_connlimit revision 1 and the kernel's xt_connlimit.
 */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "engine/eval.h"
#include "engine/state_domain.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define CL_INVERT 0x1 /* XT_CONNLIMIT_INVERT: match up to the limit */
#define CL_DADDR 0x2  /* XT_CONNLIMIT_DADDR: group by destination */

/* The kernel's struct xt_connlimit_info without its internal pointer. The mask is the
 * 16-byte union nf_inet_addr; IPv4 uses its first word (network byte order). */
struct connlimit_info {
	uint32_t mask[4];
	uint32_t limit;
	uint32_t flags;
};

enum { O_UPTO, O_ABOVE, O_MASK, O_SADDR, O_DADDR };
#define F(o) (1ull << (o))

static const struct pf_ext_option connlimit_opts[] = {
    {"connlimit-upto", O_UPTO, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"connlimit-above", O_ABOVE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"connlimit-mask", O_MASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"connlimit-saddr", O_SADDR, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"connlimit-daddr", O_DADDR, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec connlimit_specs[] = {
    {"connlimit-upto", O_UPTO, F(O_ABOVE), 0, false},
    {"connlimit-above", O_ABOVE, F(O_UPTO), 0, false},
    {"connlimit-mask", O_MASK, 0, 0, false},
    {"connlimit-saddr", O_SADDR, F(O_DADDR), 0, false},
    {"connlimit-daddr", O_DADDR, F(O_SADDR), 0, false},
    {.name = NULL},
};

static void connlimit_init(void *data)
{
	struct connlimit_info *info = data;
	memset(info->mask, 0xFF, sizeof(info->mask));
}

/* XTTYPE_PLENMASK as iptables 1.8.9 does it for IPv4: a prefix length 0..32 gives that
 * mask (other words zero); any other numeric address is taken as a mask that is no prefix,
 * which 1.8.9 turns into all ones. */
static int parse_plenmask(const char *arg, uint32_t mask[4], struct pf_error *err)
{
	uint64_t len;
	if (!pf_strtoui(arg, 0, 32, &len)) {
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET;
		hints.ai_flags = AI_NUMERICHOST;
		if (getaddrinfo(arg, NULL, &hints, &res) != 0 || !res)
			return pf_err_param(
			    err, "connlimit: bad value for option \"--connlimit-mask\", "
				 "neither a valid network mask nor valid CIDR (0-32).\n");
		uint32_t m = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
		freeaddrinfo(res);
		int c = pf_mask_to_cidr(m);
		if (c < 0) {
			memset(mask, 0xFF, 4 * sizeof(uint32_t));
			return 0;
		}
		len = (uint64_t)c;
	}
	mask[0] = len == 0 ? 0 : htonl(0xFFFFFFFFu << (32 - len));
	mask[1] = mask[2] = mask[3] = 0;
	return 0;
}

static int connlimit_parse(struct pf_parse_ctx *ctx)
{
	struct connlimit_info *info = ctx->data;
	const char *opt = connlimit_specs[ctx->id].name;
	bool invertible = ctx->id == O_UPTO || ctx->id == O_ABOVE;
	if (pf_xt_opt_check(ctx->err, "connlimit", opt, ctx->seen & F(ctx->id), ctx->invert,
			    invertible))
		return -1;
	switch (ctx->id) {
	case O_UPTO:
	case O_ABOVE: {
		uint64_t v;
		if (pf_xt_parse_uint(ctx->arg, "connlimit", opt, 0, UINT32_MAX, &v, ctx->err))
			return -1;
		info->limit = (uint32_t)v;
		if (ctx->invert == (ctx->id == O_ABOVE))
			info->flags |= CL_INVERT;
		return 0;
	}
	case O_MASK:
		return parse_plenmask(ctx->arg, info->mask, ctx->err);
	case O_SADDR:
		info->flags &= ~CL_DADDR;
		return 0;
	case O_DADDR:
		info->flags |= CL_DADDR;
		return 0;
	}
	return 0;
}

static int connlimit_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (F(O_UPTO) | F(O_ABOVE))))
		return pf_err_param(
		    ctx->err, "You must specify \"--connlimit-above\" or \"--connlimit-upto\".");
	return pf_xt_options_fcheck("connlimit", connlimit_specs, ctx->seen, ctx->err);
}

/* libxt_connlimit's count_bits4: 32 minus the position of the highest zero bit. */
static unsigned count_bits(uint32_t mask_nbo)
{
	unsigned bits = 0;
	for (uint32_t m = ~ntohl(mask_nbo); m != 0; m >>= 1)
		++bits;
	return 32 - bits;
}

static void connlimit_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connlimit_info *info = ctx->data;
	pf_sb_printf(out, " #conn %s/%u %s %u", (info->flags & CL_DADDR) ? "dst" : "src",
		     count_bits(info->mask[0]), (info->flags & CL_INVERT) ? "<=" : ">",
		     info->limit);
}

static void connlimit_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct connlimit_info *info = ctx->data;
	pf_sb_printf(out, " --connlimit-%s %u --connlimit-mask %u --connlimit-%s",
		     (info->flags & CL_INVERT) ? "upto" : "above", info->limit,
		     count_bits(info->mask[0]), (info->flags & CL_DADDR) ? "daddr" : "saddr");
}

/*
 * Evaluation: a model of xt_connlimit over nf_conncount, without a connection tracker.
 *
 * The kernel keeps, per rule, lists of connection tuples per group (the packet's source, or
 * destination with --connlimit-daddr, masked). For each packet it takes the tuple of the
 * packet's connection in its original direction (or, for a packet conntrack did not track,
 * the packet's own tuple), walks the group's list in insertion order removing the
 * connections conntrack no longer knows and the TCP ones already closed (TIME_WAIT or
 * CLOSE), stops at the first tuple equal to the packet's (already counted), or after
 * removing more than 8, and otherwise appends the packet's tuple. The count includes the
 * packet's own connection; the match is (count > limit), inverted by --connlimit-upto.
 *
 * pktfilt has no connection tracker yet, so this model uses what the caller says about the
 * packet (meta->ct_state) and what the rule itself sees:
 *  - the connection's original tuple is the packet's (protocol, addresses, ports; ICMP
 *    queries: id and request type) with source and destination swapped when ct_state has
 *    PF_CT_REPLY; for a RELATED ICMP error it is the quoted packet's (swapped when the error
 *    is not PF_CT_REPLY);
 *  - a packet INVALID, UNTRACKED, after CT --notrack, or with ct_state 0 (unknown) has no
 *    connection: its own tuple is counted once and, as in the kernel (conntrack does not
 *    find it), removed by the next count of the group that walks past it;
 *  - in the raw table, whose hooks run before conntrack's, a packet has no entry yet: its
 *    own tuple is counted (not the original direction's), and it stays as long as conntrack
 *    then tracks the packet (ct_state NEW, ESTABLISHED or RELATED), as on the kernel;
 *  - without an entry, a non-first fragment, or a transport header too short for the ports
 *    (ICMP: 8 bytes), is dropped (hotdrop), as nf_ct_get_tuplepr fails;
 *  - a connection "closes" (TCP) when a packet of it that reaches this match carries RST,
 *    or when FINs of both directions have reached it; a new SYN (ct NEW) reopens it.
 * Different from the kernel: connections that end, or time out, without this rule seeing
 * the RST/FINs (the usual case for "-p tcp --syn -m connlimit") are never forgotten, nor
 * are UDP and other connections (conntrack's timeouts are not modelled), so counts only
 * decrease through RST/FIN seen here. The kernel also removes dead entries of other groups
 * it meets while walking its tree (and in a worker); here a group is only cleaned when it
 * is counted, at most 9 removals per packet as in __nf_conncount_add.
 * Capacity: CL_MAX_ENTRIES remembered connections per rule, allocated when the engine is
 * compiled; a packet that needs one more is dropped (hotdrop), as the kernel does when its
 * allocation fails. The lists are the rule's: the engines of a state domain share them (under
 * their lock), as the kernel's CPUs share the rule's nf_conncount data.
 */
#define CL_MAX_ENTRIES 65536u
#define CL_HASH 65536u
#define CL_GC_MAX_NODES 8 /* CONNCOUNT_GC_MAX_NODES */

#define CLF_DEAD 0x1 /* no conntrack entry */
#define CLF_FIN_ORIG 0x2
#define CLF_FIN_REPLY 0x4
#define CLF_CLOSED 0x8 /* TCP CLOSE or TIME_WAIT */

struct cl_tuple {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
};

struct cl_entry {
	struct cl_tuple t;
	uint8_t flags;
	uint32_t next;	/* group list, index + 1 */
	uint32_t tnext; /* tuple hash chain, index + 1 (free list when unused) */
};

struct cl_group {
	uint32_t key;
	uint32_t head, tail, count;
	uint32_t hnext; /* hash chain, index + 1 (free list when unused) */
};

struct cl_state {
	uint32_t *ghash, *thash;
	struct cl_group *groups;
	struct cl_entry *ent;
	uint32_t ent_hwm, ent_free, grp_hwm, grp_free;
};

static void connlimit_state_free(struct pf_engine *e, void *state)
{
	struct cl_state *st = state;
	(void)e;
	free(st->ghash);
	free(st->thash);
	free(st->groups);
	free(st->ent);
	memset(st, 0, sizeof(*st));
}

static int connlimit_state_init(struct pf_engine *e, const void *data, void *state)
{
	struct cl_state *st = state;
	(void)e;
	(void)data;
	st->ghash = calloc(CL_HASH, sizeof(*st->ghash));
	st->thash = calloc(CL_HASH, sizeof(*st->thash));
	st->groups = calloc(CL_MAX_ENTRIES, sizeof(*st->groups));
	st->ent = calloc(CL_MAX_ENTRIES, sizeof(*st->ent));
	if (!st->ghash || !st->thash || !st->groups || !st->ent) {
		connlimit_state_free(e, state);
		return -1;
	}
	return 0;
}

static uint32_t mix32(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t tuple_hash(const struct cl_tuple *t)
{
	return mix32(((uint64_t)t->src << 32 | t->dst) ^
		     ((uint64_t)t->sport << 24 | (uint64_t)t->dport << 8 | t->proto) *
			 0x9E3779B97F4A7C15ull) %
	       CL_HASH;
}

static bool tuple_eq(const struct cl_tuple *a, const struct cl_tuple *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

/* Ports of a tuple from the transport header at off (len bytes there): -1 when too short. */
static int l4_ports(const struct pf_packet *p, size_t off, uint8_t proto, bool reply,
		    struct cl_tuple *t)
{
	const uint8_t *b;
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		if (!(b = pf_packet_bytes(p, off, 4)))
			return -1;
		t->sport = pf_rd16(b);
		t->dport = pf_rd16(b + 2);
		return 0;
	case IPPROTO_ICMP: {
		if (!(b = pf_packet_bytes(p, off, 8)))
			return -1;
		uint8_t type = b[0];
		/* queries: the connection's original tuple has the request type */
		if (reply && (type == 0 || type == 14 || type == 16 || type == 18))
			type = type == 0 ? 8 : (uint8_t)(type - 1);
		t->sport = pf_rd16(b + 4); /* id */
		t->dport = (uint16_t)(type << 8 | b[1]);
		return 0;
	}
	default:
		return 0;
	}
}

static void tuple_swap(struct cl_tuple *t)
{
	uint32_t a = t->src;
	t->src = t->dst;
	t->dst = a;
	if (t->proto != IPPROTO_ICMP) {
		uint16_t x = t->sport;
		t->sport = t->dport;
		t->dport = x;
	}
}

/* The tuple the kernel counts: with a conntrack entry, the original tuple of the packet's
 * connection; without one, the packet's own (nf_ct_get_tuplepr), -1 when it cannot be had
 * (hotdrop). */
static int packet_tuple(struct pf_eval *ev, bool has_entry, struct cl_tuple *t)
{
	const struct pf_packet *p = ev->pkt;
	unsigned ct = ev->meta->ct_state;
	bool reply = (ct & PF_CT_REPLY) != 0;
	memset(t, 0, sizeof(*t));
	t->src = p->saddr;
	t->dst = p->daddr;
	t->proto = p->proto;
	if (!has_entry) {
		if (p->fragoff)
			return -1;
		return l4_ports(p, p->ihl_bytes, p->proto, false, t);
	}
	if (p->fragoff)
		return 0; /* conntrack reassembles: not reached with a real tracker */
	const uint8_t *icmp = p->proto == IPPROTO_ICMP ? pf_packet_bytes(p, p->l4_off, 8) : NULL;
	if ((ct & PF_CT_RELATED) && icmp &&
	    (icmp[0] == 3 || icmp[0] == 4 || icmp[0] == 5 || icmp[0] == 11 || icmp[0] == 12)) {
		/* the quoted packet, sent in the direction opposite to the error */
		size_t in = (size_t)p->l4_off + 8;
		const uint8_t *ih = pf_packet_bytes(p, in, 20);
		if (ih && (ih[0] >> 4) == 4 && (ih[0] & 15) >= 5) {
			struct cl_tuple q = {0};
			memcpy(&q.src, ih + 12, 4);
			memcpy(&q.dst, ih + 16, 4);
			q.proto = ih[9];
			if (l4_ports(p, in + (size_t)(ih[0] & 15) * 4, q.proto, false, &q) == 0) {
				*t = q;
				if (!reply)
					tuple_swap(t);
				return 0;
			}
		}
	}
	l4_ports(p, p->l4_off, p->proto, reply, t);
	if (reply)
		tuple_swap(t);
	return 0;
}

static uint32_t entry_alloc(struct cl_state *st)
{
	if (st->ent_free) {
		uint32_t i = st->ent_free;
		st->ent_free = st->ent[i - 1].tnext;
		return i;
	}
	if (st->ent_hwm >= CL_MAX_ENTRIES)
		return 0;
	return ++st->ent_hwm;
}

/* Unlink entry i (1-based) from the tuple chain and free it. */
static void entry_free(struct cl_state *st, uint32_t i)
{
	uint32_t *pp = &st->thash[tuple_hash(&st->ent[i - 1].t)];
	while (*pp != i)
		pp = &st->ent[*pp - 1].tnext;
	*pp = st->ent[i - 1].tnext;
	st->ent[i - 1].tnext = st->ent_free;
	st->ent_free = i;
}

/* Update what is known of the connection (every entry holding its tuple); returns the flags
 * an entry for it starts with. */
static uint8_t note_packet(struct cl_state *st, const struct cl_tuple *t, bool tracked,
			   const struct pf_packet *p, unsigned ct)
{
	uint8_t set = 0, clear = 0;
	bool known = false;
	uint8_t flags = 0;
	if (tracked) {
		clear |= CLF_DEAD;
		if (p->proto == IPPROTO_TCP && p->fragoff == 0 && !p->l4_truncated) {
			uint8_t f = p->tcp_flags;
			if ((f & 0x02) && !(f & 0x10) && (ct & PF_CT_NEW))
				clear |= CLF_FIN_ORIG | CLF_FIN_REPLY | CLF_CLOSED; /* reopened */
			if (f & 0x04)
				set |= CLF_CLOSED;
			if (f & 0x01)
				set |= (ct & PF_CT_REPLY) ? CLF_FIN_REPLY : CLF_FIN_ORIG;
		}
	}
	for (uint32_t i = st->thash[tuple_hash(t)]; i; i = st->ent[i - 1].tnext) {
		struct cl_entry *e = &st->ent[i - 1];
		if (!tuple_eq(&e->t, t))
			continue;
		e->flags = (uint8_t)((e->flags & ~clear) | set);
		if ((e->flags & (CLF_FIN_ORIG | CLF_FIN_REPLY)) == (CLF_FIN_ORIG | CLF_FIN_REPLY))
			e->flags |= CLF_CLOSED;
		flags = e->flags;
		known = true;
	}
	if (!known) {
		flags = (uint8_t)(((tracked ? 0 : CLF_DEAD) & ~clear) | set);
		if ((flags & (CLF_FIN_ORIG | CLF_FIN_REPLY)) == (CLF_FIN_ORIG | CLF_FIN_REPLY))
			flags |= CLF_CLOSED;
	}
	return flags;
}

/* nf_conncount_count for one group: the number of connections, 0 when out of memory. */
static uint32_t count_group(struct cl_state *st, uint32_t key, const struct cl_tuple *t,
			    uint8_t flags)
{
	uint32_t *gp = &st->ghash[mix32(key) % CL_HASH];
	uint32_t gi = *gp;
	while (gi && st->groups[gi - 1].key != key)
		gi = st->groups[gi - 1].hnext;
	struct cl_group *g = gi ? &st->groups[gi - 1] : NULL;
	if (g) {
		unsigned collect = 0;
		uint32_t prev = 0;
		for (uint32_t i = g->head; i;) {
			struct cl_entry *e = &st->ent[i - 1];
			uint32_t next = e->next;
			if (collect > CL_GC_MAX_NODES)
				break;
			bool evict = (e->flags & CLF_DEAD) != 0;
			if (!evict && tuple_eq(&e->t, t))
				return g->count; /* already counted */
			if (!evict && e->t.proto == IPPROTO_TCP && (e->flags & CLF_CLOSED))
				evict = true;
			if (evict) {
				if (prev)
					st->ent[prev - 1].next = next;
				else
					g->head = next;
				if (g->tail == i)
					g->tail = prev;
				entry_free(st, i);
				g->count--;
				collect++;
			} else {
				prev = i;
			}
			i = next;
		}
	}
	uint32_t ni = entry_alloc(st);
	if (!ni)
		return 0;
	if (!g) {
		if (st->grp_free) {
			gi = st->grp_free;
			st->grp_free = st->groups[gi - 1].hnext;
		} else if (st->grp_hwm < CL_MAX_ENTRIES) {
			gi = ++st->grp_hwm;
		} else {
			st->ent[ni - 1].tnext = st->ent_free;
			st->ent_free = ni;
			return 0;
		}
		g = &st->groups[gi - 1];
		memset(g, 0, sizeof(*g));
		g->key = key;
		g->hnext = *gp;
		*gp = gi;
	}
	struct cl_entry *e = &st->ent[ni - 1];
	e->t = *t;
	e->flags = flags;
	e->next = 0;
	uint32_t *tp = &st->thash[tuple_hash(t)];
	e->tnext = *tp;
	*tp = ni;
	if (g->tail)
		st->ent[g->tail - 1].next = ni;
	else
		g->head = ni;
	g->tail = ni;
	return ++g->count;
}

static bool connlimit_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct connlimit_info *info = data;
	struct cl_state *st = state;
	const struct pf_packet *p = ev->pkt;
	unsigned ct = ev->meta->ct_state;
	/* Conntrack tracks the packet (now, or right after the raw table, whose hooks run
	 * before conntrack's) unless it is untracked, invalid or of unknown state (0). */
	bool tracked = !ev->untracked && !(ct & (PF_CT_INVALID | PF_CT_UNTRACKED)) &&
		       (ct & (PF_CT_NEW | PF_CT_ESTABLISHED | PF_CT_RELATED));
	/* nf_ct_get(): the packet has an entry only when tracked and past the raw table */
	bool has_entry = tracked && !(ev->table && strcmp(ev->table, "raw") == 0);
	struct cl_tuple t;
	if (packet_tuple(ev, has_entry, &t) < 0) {
		ev->hotdrop = true;
		return false;
	}
	uint32_t key = ((info->flags & CL_DADDR) ? p->daddr : p->saddr) & info->mask[0];
	pf_state_lock(st);
	uint8_t flags = note_packet(st, &t, tracked, p, ct);
	uint32_t n = count_group(st, key, &t, flags);
	pf_state_unlock(st);
	if (n == 0) {
		ev->hotdrop = true;
		return false;
	}
	return (n > info->limit) ^ ((info->flags & CL_INVERT) != 0);
}

const struct pf_ext pf_match_connlimit = {
    .name = "connlimit",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct connlimit_info),
    .options = connlimit_opts,
    .init = connlimit_init,
    .parse = connlimit_parse,
    .final_check = connlimit_final,
    .save = connlimit_save,
    .print = connlimit_print,
    .needs_conntrack = true,
    .match = connlimit_match,
    .state_size = sizeof(struct cl_state),
    .state_init = connlimit_state_init,
    .state_free = connlimit_state_free,
    .state_shared = true,
};
