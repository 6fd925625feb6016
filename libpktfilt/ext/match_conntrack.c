/*
 * match_conntrack.c - "-m conntrack": match connection tracking state, status, protocol,
 * original/reply addresses and ports, remaining lifetime and direction (libxt_conntrack,
 * revision 3, the one iptables-legacy 1.8.9 uses).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "engine/eval.h"
#include "ext/ct_view.h"
#include "ext/ext.h"
#include "language/xtutil.h"

/* match_flags / invert_flags (XT_CONNTRACK_*) */
#define CT_STATE 0x0001
#define CT_PROTO 0x0002
#define CT_ORIGSRC 0x0004
#define CT_ORIGDST 0x0008
#define CT_REPLSRC 0x0010
#define CT_REPLDST 0x0020
#define CT_STATUS 0x0040
#define CT_EXPIRES 0x0080
#define CT_ORIGSRC_PORT 0x0100
#define CT_ORIGDST_PORT 0x0200
#define CT_REPLSRC_PORT 0x0400
#define CT_REPLDST_PORT 0x0800
#define CT_DIRECTION 0x1000
/* XT_INV_PROTO: what libxt_conntrack tests for "rule would never match protocol" (the same
 * bit as CT_STATUS, a quirk kept as iptables has it). */
#define CT_INV_PROTO 0x40

/* state_mask bits (XT_CONNTRACK_STATE_*) */
#define CT_ST_INVALID 0x001
#define CT_ST_ESTABLISHED 0x002
#define CT_ST_RELATED 0x004
#define CT_ST_NEW 0x008
#define CT_ST_SNAT 0x040
#define CT_ST_DNAT 0x080
#define CT_ST_UNTRACKED 0x100

/* status_mask bits (IPS_*) */
#define CT_IPS_EXPECTED 0x1
#define CT_IPS_SEEN_REPLY 0x2
#define CT_IPS_ASSURED 0x4
#define CT_IPS_CONFIRMED 0x8

enum {
	O_CTSTATE = 0,
	O_CTPROTO,
	O_CTORIGSRC,
	O_CTORIGDST,
	O_CTREPLSRC,
	O_CTREPLDST,
	O_CTORIGSRCPORT,
	O_CTORIGDSTPORT,
	O_CTREPLSRCPORT,
	O_CTREPLDSTPORT,
	O_CTSTATUS,
	O_CTEXPIRE,
	O_CTDIR,
};

/* xt_conntrack_mtinfo3 for IPv4: addresses and masks in network byte order, ports in host
 * byte order. Indexes of addr/mask: 0 origsrc, 1 origdst, 2 replsrc, 3 repldst; of
 * port/port_high: 0 origsrc, 1 origdst, 2 replsrc, 3 repldst. */
struct conntrack_data {
	uint32_t addr[4], mask[4];
	uint32_t expires_min, expires_max;
	uint16_t l4proto;
	uint16_t port[4], port_high[4];
	uint16_t match_flags, invert_flags;
	uint16_t state_mask, status_mask;
	uint16_t pad;
};

#define CT_OPT(n, i, f)                                                                            \
	{                                                                                          \
		.name = n, .id = i, .arg = PF_ARG_REQUIRED, .flags = (f) | PF_OPT_NOCHECK          \
	}

static const struct pf_ext_option conntrack_opts[] = {
    CT_OPT("ctstate", O_CTSTATE, PF_OPT_INVERT),
    CT_OPT("ctproto", O_CTPROTO, PF_OPT_INVERT),
    CT_OPT("ctorigsrc", O_CTORIGSRC, PF_OPT_INVERT),
    CT_OPT("ctorigdst", O_CTORIGDST, PF_OPT_INVERT),
    CT_OPT("ctreplsrc", O_CTREPLSRC, PF_OPT_INVERT),
    CT_OPT("ctrepldst", O_CTREPLDST, PF_OPT_INVERT),
    CT_OPT("ctstatus", O_CTSTATUS, PF_OPT_INVERT),
    CT_OPT("ctexpire", O_CTEXPIRE, PF_OPT_INVERT),
    CT_OPT("ctorigsrcport", O_CTORIGSRCPORT, PF_OPT_INVERT),
    CT_OPT("ctorigdstport", O_CTORIGDSTPORT, PF_OPT_INVERT),
    CT_OPT("ctreplsrcport", O_CTREPLSRCPORT, PF_OPT_INVERT),
    CT_OPT("ctrepldstport", O_CTREPLDSTPORT, PF_OPT_INVERT),
    CT_OPT("ctdir", O_CTDIR, 0),
    {.name = NULL},
};

struct ct_name {
	const char *name;
	uint16_t bit;
};

/* Parse order (a prefix picks the first name it abbreviates) and print order. */
static const struct ct_name ct_states_parse[] = {
    {"INVALID", CT_ST_INVALID},
    {"NEW", CT_ST_NEW},
    {"ESTABLISHED", CT_ST_ESTABLISHED},
    {"RELATED", CT_ST_RELATED},
    {"UNTRACKED", CT_ST_UNTRACKED},
    {"SNAT", CT_ST_SNAT},
    {"DNAT", CT_ST_DNAT},
    {NULL, 0},
};
static const struct ct_name ct_states_print[] = {
    {"INVALID", CT_ST_INVALID},	    {"NEW", CT_ST_NEW},
    {"RELATED", CT_ST_RELATED},	    {"ESTABLISHED", CT_ST_ESTABLISHED},
    {"UNTRACKED", CT_ST_UNTRACKED}, {"SNAT", CT_ST_SNAT},
    {"DNAT", CT_ST_DNAT},	    {NULL, 0},
};
static const struct ct_name ct_status_names[] = {
    {"NONE", 0},
    {"EXPECTED", CT_IPS_EXPECTED},
    {"SEEN_REPLY", CT_IPS_SEEN_REPLY},
    {"ASSURED", CT_IPS_ASSURED},
    {"CONFIRMED", CT_IPS_CONFIRMED},
    {NULL, 0},
};

/* One list element: strncasecmp over the element's length, as iptables compares. */
static bool ct_lookup(const struct ct_name *names, const char *s, size_t len, uint16_t *mask)
{
	for (; names->name; names++) {
		if (strncasecmp(s, names->name, len) == 0) {
			*mask |= names->bit;
			return true;
		}
	}
	return false;
}

/* "A,B,C": a bad element is reported with the rest of the list from it. */
static int ct_parse_list(const struct ct_name *names, const char *what, const char *arg,
			 uint16_t *mask, struct pf_error *err)
{
	const char *comma;
	while ((comma = strchr(arg, ',')) != NULL) {
		if (comma == arg || !ct_lookup(names, arg, (size_t)(comma - arg), mask))
			return pf_err_param(err, "Bad %s \"%s\"", what, arg);
		arg = comma + 1;
	}
	if (*arg == '\0' || !ct_lookup(names, arg, strlen(arg), mask))
		return pf_err_param(err, "Bad %s \"%s\"", what, arg);
	return 0;
}

/* xtables_parse_protocol: number, "all", /etc/protocols (case as given), xtables' own
 * table of names (lower case only). */
static int ct_parse_proto(const char *s, uint16_t *out, struct pf_error *err)
{
	uint64_t v;
	if (pf_strtoui(s, 0, 255, &v)) {
		*out = (uint16_t)v;
		return 0;
	}
	bool lower = true;
	for (const char *p = s; *p; p++)
		if (isupper((unsigned char)*p))
			lower = false;
	int p = -1;
	if (lower) {
		/* pf_parse_proto lower-cases, which changes nothing here. */
		p = pf_parse_proto(s);
	} else {
		struct protoent pe, *res = NULL;
		char buf[1024];
		if (getprotobyname_r(s, &pe, buf, sizeof(buf), &res) == 0 && res)
			p = res->p_proto;
	}
	if (p < 0)
		return pf_err_param(err, "unknown protocol \"%s\" specified", s);
	*out = (uint16_t)p;
	return 0;
}

/* XTTYPE_HOST: getaddrinfo, one address only. */
static int ct_parse_host(const char *s, uint32_t *addr, struct pf_error *err)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	int ret = getaddrinfo(s, NULL, &hints, &res);
	if (ret != 0)
		return pf_err_param(err, "getaddrinfo: %s\n", gai_strerror(ret));
	bool first = true;
	for (struct addrinfo *p = res; p; p = p->ai_next) {
		uint32_t a = ((const struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr;
		if (first) {
			*addr = a;
			first = false;
		} else if (a != *addr) {
			freeaddrinfo(res);
			return pf_err_param(err, "%s resolves to more than one address\n", s);
		}
	}
	freeaddrinfo(res);
	return 0;
}

/* XTTYPE_HOSTMASK: "host[/len|/dotted-mask]". A dotted mask that is not a prefix leaves
 * all 32 bits (xtopt_parse_plenmask with an unconvertible length). The address is kept
 * as given (not masked). */
static int ct_parse_hostmask(const char *optname, const char *arg, uint32_t *addr, uint32_t *mask,
			     struct pf_error *err)
{
	const char *slash = strchr(arg, '/');
	if (!slash) {
		*mask = 0xffffffffu;
		return ct_parse_host(arg, addr, err);
	}
	size_t n = (size_t)(slash - arg);
	char *host = malloc(n + 1);
	if (!host)
		return pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN, "out of memory");
	memcpy(host, arg, n);
	host[n] = '\0';
	int rc = ct_parse_host(host, addr, err);
	free(host);
	if (rc)
		return rc;

	const char *m = slash + 1;
	uint64_t len;
	if (!pf_strtoui(m, 0, 32, &len)) {
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET;
		hints.ai_flags = AI_NUMERICHOST;
		if (getaddrinfo(m, NULL, &hints, &res) != 0)
			return pf_err_param(err,
					    "conntrack: bad value for option \"--%s\", neither a "
					    "valid network mask nor valid CIDR (0-32).\n",
					    optname);
		uint32_t dotted = ((const struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
		freeaddrinfo(res);
		int cidr = pf_mask_to_cidr(dotted);
		len = cidr < 0 ? 32 : (uint64_t)cidr;
	}
	*mask = len == 0 ? 0 : htonl(0xffffffffu << (32 - len));
	return 0;
}

static int conntrack_parse(struct pf_parse_ctx *ctx)
{
	struct conntrack_data *d = ctx->data;
	const struct pf_ext_option *o = &conntrack_opts[0];
	while (o->name && o->id != ctx->id)
		o++;
	if (pf_xt_opt_check(ctx->err, "conntrack", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, o->flags & PF_OPT_INVERT))
		return -1;

	uint16_t flag = 0;
	switch (ctx->id) {
	case O_CTSTATE:
		if (ct_parse_list(ct_states_parse, "ctstate", ctx->arg, &d->state_mask, ctx->err))
			return -1;
		flag = CT_STATE;
		break;
	case O_CTPROTO:
		if (ct_parse_proto(ctx->arg, &d->l4proto, ctx->err))
			return -1;
		if (d->l4proto == 0 && (d->invert_flags & CT_INV_PROTO))
			return pf_err_param(ctx->err, "conntrack: rule would never match protocol");
		flag = CT_PROTO;
		break;
	case O_CTORIGSRC:
	case O_CTORIGDST:
	case O_CTREPLSRC:
	case O_CTREPLDST: {
		int i = ctx->id - O_CTORIGSRC;
		if (ct_parse_hostmask(ctx->name, ctx->arg, &d->addr[i], &d->mask[i], ctx->err))
			return -1;
		flag = (uint16_t)(CT_ORIGSRC << i);
		break;
	}
	case O_CTORIGSRCPORT:
	case O_CTORIGDSTPORT:
	case O_CTREPLSRCPORT:
	case O_CTREPLDSTPORT: {
		int i = ctx->id - O_CTORIGSRCPORT;
		uint16_t r[2];
		if (pf_xt_parse_portrc(ctx->arg, "conntrack", ctx->name, r, ctx->err))
			return -1;
		d->port[i] = r[0];
		d->port_high[i] = r[1];
		flag = (uint16_t)(CT_ORIGSRC_PORT << i);
		break;
	}
	case O_CTSTATUS:
		if (ct_parse_list(ct_status_names, "ctstatus", ctx->arg, &d->status_mask, ctx->err))
			return -1;
		flag = CT_STATUS;
		break;
	case O_CTEXPIRE: {
		uint64_t v[2];
		unsigned n;
		if (pf_xt_parse_mint(ctx->arg, "conntrack", ctx->name, 0xffffffffu, 2, v, &n,
				     ctx->err))
			return -1;
		d->expires_min = (uint32_t)v[0];
		d->expires_max = (uint32_t)(n >= 2 ? v[1] : v[0]);
		flag = CT_EXPIRES;
		break;
	}
	case O_CTDIR:
		if (strcasecmp(ctx->arg, "ORIGINAL") == 0) {
			d->match_flags |= CT_DIRECTION;
			d->invert_flags &= (uint16_t)~CT_DIRECTION;
		} else if (strcasecmp(ctx->arg, "REPLY") == 0) {
			d->match_flags |= CT_DIRECTION;
			d->invert_flags |= CT_DIRECTION;
		} else {
			return pf_err_param(ctx->err,
					    "conntrack: Bad value for \"--ctdir\" option: \"%s\"",
					    ctx->arg);
		}
		return 0;
	default:
		return 0;
	}
	d->match_flags |= flag;
	if (ctx->invert)
		d->invert_flags |= flag;
	return 0;
}

static int conntrack_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "conntrack: At least one option is required");
	return 0;
}

static void ct_print_names(struct pf_strbuf *out, const struct ct_name *names, uint16_t mask)
{
	const char *sep = " ";
	for (; names->name; names++) {
		if (names->bit && (mask & names->bit)) {
			pf_sb_printf(out, "%s%s", sep, names->name);
			sep = ",";
		}
	}
}

/* xtables_ipaddr_to_anyname: the host name (getnameinfo, which gives the number when there
 * is none), else the number. */
static void ct_anyname(struct pf_strbuf *out, uint32_t addr)
{
	struct sockaddr_in sin;
	char host[NI_MAXHOST];
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr;
	if (getnameinfo((const struct sockaddr *)&sin, sizeof(sin), host, sizeof(host) - 1, NULL, 0,
			0) == 0) {
		pf_sb_puts(out, host);
		return;
	}
	char a[16];
	pf_fmt_ipv4(addr, a);
	pf_sb_puts(out, a);
}

static void ct_print_addr(struct pf_strbuf *out, uint32_t addr, uint32_t mask, bool numeric)
{
	if (!numeric && addr == 0) {
		pf_sb_puts(out, " anywhere");
		return;
	}
	pf_sb_putc(out, ' ');
	if (numeric) {
		char a[16];
		pf_fmt_ipv4(addr, a);
		pf_sb_puts(out, a);
	} else {
		ct_anyname(out, addr);
	}
	/* xtables_ipmask_to_numeric */
	int cidr = pf_mask_to_cidr(mask);
	if (cidr == 32)
		return;
	if (cidr >= 0) {
		pf_sb_printf(out, "/%d", cidr);
	} else {
		char m[16];
		pf_fmt_ipv4(mask, m);
		pf_sb_printf(out, "/%s", m);
	}
}

static void conntrack_dump(const struct conntrack_data *d, const char *prefix, bool numeric,
			   struct pf_strbuf *out)
{
	static const char *const addr_opts[4] = {"ctorigsrc", "ctorigdst", "ctreplsrc",
						 "ctrepldst"};
	static const char *const port_opts[4] = {"ctorigsrcport", "ctorigdstport", "ctreplsrcport",
						 "ctrepldstport"};
	uint16_t mf = d->match_flags, inv = d->invert_flags;

	if (mf & CT_STATE) {
		if (inv & CT_STATE)
			pf_sb_puts(out, " !");
		pf_sb_printf(out, " %sctstate", prefix);
		ct_print_names(out, ct_states_print, d->state_mask);
	}
	if (mf & CT_PROTO) {
		if (inv & CT_PROTO)
			pf_sb_puts(out, " !");
		pf_sb_printf(out, " %sctproto %u", prefix, d->l4proto);
	}
	for (int i = 0; i < 4; i++) {
		uint16_t f = (uint16_t)(CT_ORIGSRC << i);
		if (!(mf & f))
			continue;
		if (inv & f)
			pf_sb_puts(out, " !");
		pf_sb_printf(out, " %s%s", prefix, addr_opts[i]);
		ct_print_addr(out, d->addr[i], d->mask[i], numeric);
	}
	for (int i = 0; i < 4; i++) {
		uint16_t f = (uint16_t)(CT_ORIGSRC_PORT << i);
		if (!(mf & f))
			continue;
		if (inv & f)
			pf_sb_puts(out, " !");
		if (d->port_high[i] == 0 || d->port[i] == d->port_high[i])
			pf_sb_printf(out, " %s%s %u", prefix, port_opts[i], d->port[i]);
		else
			pf_sb_printf(out, " %s%s %u:%u", prefix, port_opts[i], d->port[i],
				     d->port_high[i]);
	}
	if (mf & CT_STATUS) {
		if (inv & CT_STATUS)
			pf_sb_puts(out, " !");
		pf_sb_printf(out, " %sctstatus", prefix);
		if (d->status_mask == 0)
			pf_sb_puts(out, " NONE");
		else
			ct_print_names(out, ct_status_names, d->status_mask);
	}
	if (mf & CT_EXPIRES) {
		if (inv & CT_EXPIRES)
			pf_sb_puts(out, " !");
		if (d->expires_max == d->expires_min)
			pf_sb_printf(out, " %sctexpire %u", prefix, d->expires_min);
		else
			pf_sb_printf(out, " %sctexpire %u:%u", prefix, d->expires_min,
				     d->expires_max);
	}
	if (mf & CT_DIRECTION)
		pf_sb_printf(out, " %sctdir %s", prefix,
			     (inv & CT_DIRECTION) ? "REPLY" : "ORIGINAL");
}

static void conntrack_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	conntrack_dump(ctx->data, "--", true, out);
}

static void conntrack_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	conntrack_dump(ctx->data, "", ctx->numeric, out);
}

/* ---- evaluation ---- */

/* One direction's tuple of a connection, as nf_conntrack_tuple holds it for IPv4: addresses
 * in network byte order; ports as ntohs(u.all): the ports of TCP, UDP, UDP-Lite, SCTP and
 * DCCP; for ICMP the echo id (source) and type << 8 | code (destination); 0 otherwise. */
struct ct_tuple {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
};

/* icmp's invmap: the reply type of a query type and back; -1 for the others. */
static int icmp_inverse_type(uint8_t type)
{
	switch (type) {
	case 8: /* echo */
		return 0;
	case 0:
		return 8;
	case 13: /* timestamp */
		return 14;
	case 14:
		return 13;
	case 15: /* information request */
		return 16;
	case 16:
		return 15;
	case 17: /* address mask */
		return 18;
	case 18:
		return 17;
	}
	return -1;
}

/* nf_ct_get_tuple for an IPv4 header at off of the packet whose transport header follows;
 * only the transport bytes present are read (ports stay 0 otherwise). */
static bool ct_tuple_at(const struct pf_packet *p, size_t off, struct ct_tuple *t)
{
	const uint8_t *ip = pf_packet_bytes(p, off, 20);
	memset(t, 0, sizeof(*t));
	if (!ip)
		return false;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	memcpy(&t->src, ip + 12, 4);
	memcpy(&t->dst, ip + 16, 4);
	t->proto = ip[9];
	if (ihl < 20 || ((ip[6] & 0x1f) | ip[7]) != 0)
		return true; /* a fragment: no transport header */
	const uint8_t *l4;
	switch (t->proto) {
	case 6:
	case 17:
	case 33:
	case 132:
	case 136:
		if ((l4 = pf_packet_bytes(p, off + ihl, 4)) != NULL) {
			t->sport = pf_rd16(l4);
			t->dport = pf_rd16(l4 + 2);
		}
		break;
	case 1:
		if ((l4 = pf_packet_bytes(p, off + ihl, 8)) != NULL) {
			t->sport = pf_rd16(l4 + 4);
			t->dport = (uint16_t)(l4[0] << 8 | l4[1]);
		}
		break;
	}
	return true;
}

/* nf_ct_invert_tuple: the other direction's tuple (no NAT: the same addresses and ports,
 * exchanged; an ICMP query becomes its reply, same id and code). */
static struct ct_tuple ct_invert(const struct ct_tuple *t)
{
	struct ct_tuple r = *t;
	r.src = t->dst;
	r.dst = t->src;
	if (t->proto == 1) {
		int inv = icmp_inverse_type((uint8_t)(t->dport >> 8));
		if (inv >= 0)
			r.dport = (uint16_t)(inv << 8 | (t->dport & 0xff));
	} else {
		r.sport = t->dport;
		r.dport = t->sport;
	}
	return r;
}

static bool icmp_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* The connection's original and reply tuples, from the packet and its direction. An ICMP
 * error that is RELATED belongs to the connection it quotes: the inverse of the quoted
 * tuple is that connection's tuple in the error's direction (nf_conntrack_inet_error). */
static void ct_tuples(const struct pf_eval *ev, const struct pf_ct_view *v, struct ct_tuple *orig,
		      struct ct_tuple *repl)
{
	const struct pf_packet *p = ev->pkt;
	struct ct_tuple t;
	ct_tuple_at(p, 0, &t);
	if (v->statebit == PF_XT_ST_RELATED && p->proto == 1 && p->fragoff == 0 &&
	    !p->l4_truncated && icmp_is_error(p->icmp_type)) {
		struct ct_tuple quoted;
		if (ct_tuple_at(p, (size_t)p->l4_off + 8, &quoted))
			t = ct_invert(&quoted);
	}
	if (v->reply) {
		*repl = t;
		*orig = ct_invert(&t);
	} else {
		*orig = t;
		*repl = ct_invert(&t);
	}
}

/* The connection's IPS_* bits: the caller's, or what the state implies (engine.h). */
static uint32_t ct_status(const struct pf_eval *ev, const struct pf_ct_view *v)
{
	const struct pf_packet *p = ev->pkt;
	if (ev->meta->has_ct_status)
		return ev->meta->ct_status;
	switch (v->statebit) {
	case PF_XT_ST_ESTABLISHED:
		return PF_IPS_SEEN_REPLY | PF_IPS_CONFIRMED;
	case PF_XT_ST_RELATED:
		if (p->proto == 1 && p->fragoff == 0 && !p->l4_truncated &&
		    icmp_is_error(p->icmp_type))
			return PF_IPS_CONFIRMED;
		return PF_IPS_EXPECTED;
	default:
		return 0;
	}
}

static bool ct_addr_eq(uint32_t kaddr, uint32_t uaddr, uint32_t umask)
{
	return ((kaddr ^ uaddr) & umask) == 0;
}

/* conntrack_mt (xt_conntrack.c) for revision 3. Each test fails the match when its result
 * equals its "!" flag. Without an entry only the state test is made: the match is then
 * true when the rule has a state test that passed (no state test: false). */
static bool conntrack_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct conntrack_data *d = data;
	uint16_t mf = d->match_flags, inv = d->invert_flags;
	(void)state;
	struct pf_ct_view v = pf_ct_view_get(ev);
	uint32_t status = v.kind == PF_CTV_ENTRY ? ct_status(ev, &v) : 0;

	if (mf & CT_STATE) {
		unsigned statebit = v.statebit;
		if (v.kind == PF_CTV_ENTRY) {
			if (status & PF_IPS_SRC_NAT)
				statebit |= CT_ST_SNAT;
			if (status & PF_IPS_DST_NAT)
				statebit |= CT_ST_DNAT;
		}
		if (((d->state_mask & statebit) != 0) == ((inv & CT_STATE) != 0))
			return false;
	}
	if (v.kind != PF_CTV_ENTRY)
		return (mf & CT_STATE) != 0;
	/* ORIGINAL is kept as a clear invert bit, REPLY as a set one. */
	if ((mf & CT_DIRECTION) && (!v.reply) == ((inv & CT_DIRECTION) != 0))
		return false;

	struct ct_tuple t[2]; /* original, reply */
	ct_tuples(ev, &v, &t[0], &t[1]);
	const uint32_t kaddr[4] = {t[0].src, t[0].dst, t[1].src, t[1].dst};
	for (int i = 0; i < 4; i++) {
		uint16_t f = (uint16_t)(CT_ORIGSRC << i);
		if ((mf & f) && ct_addr_eq(kaddr[i], d->addr[i], d->mask[i]) == ((inv & f) != 0))
			return false;
	}
	/* ct_proto_port_check_v3: the protocol of the original direction, then the ports. */
	if ((mf & CT_PROTO) && (t[0].proto == d->l4proto) == ((inv & CT_PROTO) != 0))
		return false;
	const uint16_t kport[4] = {t[0].sport, t[0].dport, t[1].sport, t[1].dport};
	for (int i = 0; i < 4; i++) {
		uint16_t f = (uint16_t)(CT_ORIGSRC_PORT << i);
		if (!(mf & f))
			continue;
		bool in = kport[i] >= d->port[i] && kport[i] <= d->port_high[i];
		if (in == ((inv & f) != 0))
			return false;
	}
	if ((mf & CT_STATUS) && ((d->status_mask & status) != 0) == ((inv & CT_STATUS) != 0))
		return false;
	if (mf & CT_EXPIRES) {
		uint32_t e = ev->meta->ct_expire;
		bool in = e >= d->expires_min && e <= d->expires_max;
		if (in == ((inv & CT_EXPIRES) != 0))
			return false;
	}
	return true;
}

const struct pf_ext pf_match_conntrack = {
    .name = "conntrack",
    .kind = PF_EXT_MATCH,
    .revision = 3,
    .data_size = sizeof(struct conntrack_data),
    .options = conntrack_opts,
    .parse = conntrack_parse,
    .final_check = conntrack_final_check,
    .save = conntrack_save,
    .print = conntrack_print,
    .match = conntrack_match,
    .needs_conntrack = true,
};
