/*
 * xtutil.c - number, port, address, protocol and mark parsing/formatting with libxtables'
 * accepted syntax and wording. Uses only reentrant libc calls (no global state).
 */
#include "language/xtutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

bool pf_strtoui_end(const char *s, char **end, uint64_t min, uint64_t max, uint64_t *out)
{
	char *e;
	if (!s)
		return false;
	/* strtoull accepts a leading '-' and wraps: refuse it as xtables does. */
	const char *p = s;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 0);
	if (e == s || errno == ERANGE)
		return false;
	if (end)
		*end = e;
	else if (*e != '\0')
		return false;
	if (v < min || v > max)
		return false;
	if (out)
		*out = v;
	return true;
}

bool pf_strtoui(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	return pf_strtoui_end(s, NULL, min, max, out);
}

int pf_service_to_port(const char *name, const char *proto)
{
	uint64_t v;
	if (pf_strtoui(name, 0, 65535, &v))
		return (int)v;
	struct servent se, *res = NULL;
	char buf[1024];
	if (getservbyname_r(name, proto, &se, buf, sizeof(buf), &res) == 0 && res)
		return ntohs((uint16_t)res->s_port);
	return -1;
}

int pf_parse_port(const char *s, const char *proto, uint16_t *out, struct pf_error *err)
{
	int p = pf_service_to_port(s, proto);
	if (p < 0)
		return pf_err_param(err, "invalid port/service `%s' specified", s);
	*out = (uint16_t)p;
	return 0;
}

int pf_parse_port_range(const char *s, const char *proto, uint16_t ports[2],
			struct pf_error *err)
{
	const char *colon = strchr(s, ':');
	if (!colon) {
		if (pf_parse_port(s, proto, &ports[0], err))
			return -1;
		ports[1] = ports[0];
		return 0;
	}
	char first[256];
	size_t n = (size_t)(colon - s);
	if (n >= sizeof(first))
		return pf_err_param(err, "invalid port/service `%s' specified", s);
	memcpy(first, s, n);
	first[n] = '\0';
	ports[0] = 0;
	ports[1] = 65535;
	if (first[0] && pf_parse_port(first, proto, &ports[0], err))
		return -1;
	if (colon[1] && pf_parse_port(colon + 1, proto, &ports[1], err))
		return -1;
	if (ports[0] > ports[1])
		return pf_err_param(err, "invalid portrange (min > max)");
	return 0;
}

const char *pf_port_to_service(uint16_t port, const char *proto, char *buf, size_t len)
{
	struct servent se, *res = NULL;
	char tmp[1024];
	if (getservbyport_r(htons(port), proto, &se, tmp, sizeof(tmp), &res) == 0 && res) {
		snprintf(buf, len, "%s", res->s_name);
		return buf;
	}
	return NULL;
}

bool pf_parse_ipv4_numeric(const char *s, uint32_t *addr_nbo)
{
	/* xtables' __numeric_to_ipaddr: up to four dot-separated parts, each parsed like
	 * strtoul(base 0) into 0..255; missing trailing parts are zero. */
	unsigned char b[4] = {0, 0, 0, 0};
	const char *p = s;
	int i;
	if (!*s || strlen(s) > 255)
		return false;
	for (i = 0; i < 4; i++) {
		char *end;
		uint64_t v;
		if (!pf_strtoui_end(p, &end, 0, 255, &v))
			return false;
		b[i] = (unsigned char)v;
		if (*end == '\0')
			break;
		if (*end != '.' || i == 3)
			return false;
		p = end + 1;
	}
	memcpy(addr_nbo, b, 4);
	return true;
}

bool pf_parse_ipv4_mask(const char *s, uint32_t *mask_nbo)
{
	uint64_t bits;
	if (!s || !*s)
		return false;
	if (strchr(s, '.'))
		return pf_parse_ipv4_numeric(s, mask_nbo);
	if (!pf_strtoui(s, 0, 32, &bits))
		return false;
	*mask_nbo = bits == 0 ? 0 : htonl(0xffffffffu << (32 - bits));
	return true;
}

static int resolve_host(const char *name, uint32_t *addr, struct pf_error *err)
{
	if (pf_parse_ipv4_numeric(name, addr))
		return 0;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_RAW;
	if (getaddrinfo(name, NULL, &hints, &res) != 0 || !res)
		return pf_err_param(err, "host/network `%s' not found", name);
	*addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
	freeaddrinfo(res);
	return 0;
}

int pf_parse_ipv4_one(const char *s, uint32_t *addr, uint32_t *mask, struct pf_error *err)
{
	char buf[256];
	if (strlen(s) >= sizeof(buf))
		return pf_err_param(err, "host/network `%s' not found", s);
	strcpy(buf, s);
	char *slash = strrchr(buf, '/');
	*mask = 0xffffffffu;
	if (slash) {
		*slash = '\0';
		if (!pf_parse_ipv4_mask(slash + 1, mask))
			return pf_err_param(err, "invalid mask `%s' specified", slash + 1);
	}
	if (resolve_host(buf, addr, err))
		return -1;
	*addr &= *mask;
	return 0;
}

int pf_parse_ipv4_list(const char *s, uint32_t **addrs, uint32_t **masks, unsigned *n,
		       struct pf_error *err)
{
	unsigned count = 1;
	for (const char *p = s; *p; p++)
		if (*p == ',')
			count++;
	*addrs = malloc(count * sizeof(uint32_t) * 2);
	*masks = *addrs ? *addrs + count : NULL;
	*n = 0;
	if (!*addrs || !*masks)
		goto fail;
	const char *p = s;
	for (unsigned i = 0; i < count; i++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char part[256];
		if (len >= sizeof(part)) {
			pf_err_param(err, "host/network `%s' not found", p);
			goto fail;
		}
		memcpy(part, p, len);
		part[len] = '\0';
		if (pf_parse_ipv4_one(part, &(*addrs)[i], &(*masks)[i], err))
			goto fail;
		p = comma ? comma + 1 : p + len;
	}
	/* iptables removes duplicates (same address and mask) keeping the first. */
	unsigned k = 0;
	for (unsigned i = 0; i < count; i++) {
		bool dup = false;
		for (unsigned j = 0; j < k; j++)
			if ((*addrs)[j] == (*addrs)[i] && (*masks)[j] == (*masks)[i])
				dup = true;
		if (!dup) {
			(*addrs)[k] = (*addrs)[i];
			(*masks)[k] = (*masks)[i];
			k++;
		}
	}
	*n = k;
	return 0;
fail:
	free(*addrs);
	*addrs = *masks = NULL;
	return -1;
}

void pf_fmt_ipv4(uint32_t addr_nbo, char buf[16])
{
	const unsigned char *b = (const unsigned char *)&addr_nbo;
	snprintf(buf, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

bool pf_ipv4_to_name(uint32_t addr_nbo, char *buf, size_t len)
{
	/* xtables_ipaddr_to_anyname: a host name, else a network name (/etc/networks). */
	struct hostent he, *res = NULL;
	char tmp[2048];
	int herr;
	if (gethostbyaddr_r(&addr_nbo, sizeof(addr_nbo), AF_INET, &he, tmp, sizeof(tmp), &res,
			    &herr) == 0 &&
	    res && res->h_name) {
		snprintf(buf, len, "%s", res->h_name);
		return true;
	}
	struct netent ne, *nres = NULL;
	if (getnetbyaddr_r(ntohl(addr_nbo), AF_INET, &ne, tmp, sizeof(tmp), &nres, &herr) == 0 &&
	    nres && nres->n_name) {
		snprintf(buf, len, "%s", nres->n_name);
		return true;
	}
	return false;
}

int pf_mask_to_cidr(uint32_t mask_nbo)
{
	uint32_t m = ntohl(mask_nbo);
	int bits = 0;
	while (bits < 32 && (m & (0x80000000u >> bits)))
		bits++;
	if (bits < 32 && (m << bits) != 0)
		return -1;
	return bits;
}

static void sb_ipv4(struct pf_strbuf *sb, uint32_t addr_nbo)
{
	const unsigned char *b = (const unsigned char *)&addr_nbo;
	for (int i = 0; i < 4; i++) {
		if (i)
			pf_sb_putc(sb, '.');
		pf_sb_put_u64(sb, b[i]);
	}
}

void pf_sb_addr_mask(struct pf_strbuf *sb, uint32_t addr, uint32_t mask)
{
	sb_ipv4(sb, addr);
	pf_sb_putc(sb, '/');
	int cidr = pf_mask_to_cidr(mask);
	if (cidr >= 0)
		pf_sb_put_u64(sb, (unsigned)cidr);
	else
		sb_ipv4(sb, mask);
}

void pf_sb_list_addr(struct pf_strbuf *sb, uint32_t addr, uint32_t mask, bool numeric)
{
	/* iptables' print_firewall: mask 0 and address 0 → "anywhere" (or 0.0.0.0/0 with -n);
	 * otherwise the address (a host name lookup without -n is not done here: iptables
	 * tries reverse DNS; without network it falls back to the number) then the mask
	 * unless it is /32. */
	if (mask == 0 && addr == 0) {
		pf_sb_puts(sb, numeric ? "0.0.0.0/0" : "anywhere");
		return;
	}
	char a[16];
	pf_fmt_ipv4(addr, a);
	pf_sb_puts(sb, a);
	int cidr = pf_mask_to_cidr(mask);
	if (cidr == 32)
		return;
	if (cidr >= 0) {
		pf_sb_printf(sb, "/%d", cidr);
	} else {
		char m[16];
		pf_fmt_ipv4(mask, m);
		pf_sb_printf(sb, "/%s", m);
	}
}

static const struct {
	const char *name;
	uint8_t num;
} chain_protos[] = {
	/* libxtables' xtables_chain_protos (1.8.9): consulted before /etc/protocols, so the
	 * usual names cost no file lookup; the first name of a number is the one printed. */
	{"tcp", 6},	   {"sctp", 132},	 {"udp", 17},	  {"udplite", 136},
	{"icmp", 1},	   {"ipv6-icmp", 58},	 {"icmpv6", 58},  {"esp", 50},
	{"ah", 51},	   {"mobility-header", 135}, {"ipv6-mh", 135}, {"mh", 135},
	{"all", 0},
};

int pf_parse_proto(const char *s)
{
	uint64_t v;
	if (pf_strtoui(s, 0, 255, &v))
		return (int)v;
	char low[64];
	size_t n = strlen(s);
	if (n >= sizeof(low))
		return -1;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	for (size_t i = 0; i < sizeof(chain_protos) / sizeof(chain_protos[0]); i++)
		if (strcmp(chain_protos[i].name, low) == 0)
			return chain_protos[i].num;
	struct protoent pe, *res = NULL;
	char buf[1024];
	if (getprotobyname_r(low, &pe, buf, sizeof(buf), &res) == 0 && res)
		return res->p_proto;
	return -1;
}

const char *pf_proto_table_name(uint16_t proto)
{
	for (size_t i = 0; i < sizeof(chain_protos) / sizeof(chain_protos[0]); i++)
		if (chain_protos[i].num == proto)
			return chain_protos[i].name;
	return NULL;
}

const char *pf_proto_name(uint16_t proto, char *buf, size_t len)
{
	const char *known = pf_proto_table_name(proto);
	if (known)
		return known;
	struct protoent pe, *res = NULL;
	char tmp[1024];
	if (getprotobynumber_r(proto, &pe, tmp, sizeof(tmp), &res) == 0 && res) {
		snprintf(buf, len, "%s", res->p_name);
		return buf;
	}
	return NULL;
}

bool pf_parse_mark_mask(const char *s, uint32_t *value, uint32_t *mask)
{
	char *end;
	uint64_t v, m = 0xffffffffu;
	if (!pf_strtoui_end(s, &end, 0, 0xffffffffu, &v))
		return false;
	if (*end == '/') {
		if (!pf_strtoui(end + 1, 0, 0xffffffffu, &m))
			return false;
	} else if (*end != '\0') {
		return false;
	}
	*value = (uint32_t)v;
	*mask = (uint32_t)m;
	return true;
}

/* ---- guided-option parsers ---- */

int pf_xt_opt_check(struct pf_error *err, const char *ext, const char *opt, bool already_seen,
		    bool invert, bool invertible)
{
	if (already_seen)
		return pf_err_param(err, "%s: option \"--%s\" can only be used once.\n", ext, opt);
	if (invert && !invertible)
		return pf_err_param(err, "%s: option \"--%s\" cannot be inverted.\n", ext, opt);
	return 0;
}

int pf_xt_parse_uint(const char *arg, const char *ext, const char *opt, uint64_t lmin,
		     uint64_t lmax, uint64_t *out, struct pf_error *err)
{
	if (!pf_strtoui(arg, lmin, lmax, out))
		return pf_err_param(err,
				    "%s: bad value for option \"--%s\", or out of range "
				    "(%llu-%llu).\n",
				    ext, opt, (unsigned long long)lmin, (unsigned long long)lmax);
	return 0;
}

int pf_xt_parse_mint(const char *arg, const char *ext, const char *opt, uint64_t lmax,
		     unsigned maxiter, uint64_t *vals, unsigned *nvals, struct pf_error *err)
{
	const char *p = arg;
	*nvals = 0;
	for (;;) {
		uint64_t v;
		char *end;
		if (*nvals == maxiter)
			return pf_err_param(err,
					    "%s: Too many components for option \"--%s\" (max: "
					    "%u)\n",
					    ext, opt, maxiter);
		if (*p == '\0' || *p == ':') {
			end = (char *)p;
			v = *nvals == 1 ? lmax : 0;
		} else {
			if (!pf_strtoui_end(p, &end, 0, lmax, &v))
				return pf_err_param(err,
						    "%s: bad value for option \"--%s\" near "
						    "\"%s\", or out of range (0-%llu).\n",
						    ext, opt, p, (unsigned long long)lmax);
			if (*end != '\0' && *end != ':')
				return pf_err_param(err,
						    "%s: Argument to \"--%s\" has unexpected "
						    "characters near \"%s\".\n",
						    ext, opt, end);
		}
		vals[(*nvals)++] = v;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

int pf_xt_getportbyname(const char *name)
{
	struct addrinfo *res = NULL;
	int ret = -1;
	if (getaddrinfo(NULL, name, NULL, &res) != 0)
		return -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family == AF_INET6) {
			ret = ntohs(((const struct sockaddr_in6 *)a->ai_addr)->sin6_port);
			break;
		}
		if (a->ai_family == AF_INET) {
			ret = ntohs(((const struct sockaddr_in *)a->ai_addr)->sin_port);
			break;
		}
	}
	freeaddrinfo(res);
	return ret;
}

int pf_xt_parse_portrc(const char *arg, const char *ext, const char *opt, uint16_t out[2],
		       struct pf_error *err)
{
	uint16_t range[2] = {0, 65535};
	unsigned n = 0;
	const char *p = arg;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (n == 2)
			return pf_err_param(err,
					    "%s: Too many components for option \"--%s\" (max: "
					    "2)\n",
					    ext, opt);
		if (len > 0) {
			char buf[256];
			if (len >= sizeof(buf))
				len = sizeof(buf) - 1;
			memcpy(buf, p, len);
			buf[len] = '\0';
			int port = pf_xt_getportbyname(buf);
			if (port < 0)
				return pf_err_param(
				    err, "Port \"%s\" does not resolve to anything.\n", buf);
			range[n] = (uint16_t)port;
		}
		n++;
		if (!colon)
			break;
		p = colon + 1;
	}
	if (n == 1)
		range[1] = range[0];
	out[0] = range[0];
	out[1] = range[1];
	return 0;
}

/* ---- option constraints ---- */

static const struct pf_xt_optspec *optspec_by_id(const struct pf_xt_optspec *specs, unsigned id)
{
	for (; specs->name; specs++)
		if (specs->id == id)
			return specs;
	return NULL;
}

int pf_xt_options_fcheck(const char *ext, const struct pf_xt_optspec *specs, uint64_t seen,
			 struct pf_error *err)
{
	for (const struct pf_xt_optspec *e = specs; e->name; e++) {
		if (e->mand && !(seen & (1ull << e->id)))
			return pf_err_param(err, "%s: option \"--%s\" must be specified\n", ext,
					    e->name);
		if (!(seen & (1ull << e->id)))
			continue;
		for (unsigned i = 0; i < 64; i++) {
			if (i == e->id)
				continue;
			const struct pf_xt_optspec *o = optspec_by_id(specs, i);
			if (!o)
				continue;
			uint64_t of = 1ull << o->id;
			if ((e->also & of) && !(seen & of))
				return pf_err_param(err, "%s: option \"--%s\" also requires \"--%s\".\n",
						    ext, e->name, o->name);
			if ((e->excl & of) && (seen & of))
				return pf_err_param(err,
						    "%s: option \"--%s\" cannot be used together with "
						    "\"--%s\".\n",
						    ext, e->name, o->name);
		}
	}
	return 0;
}

int pf_xt_parse_markmask(const char *arg, const char *ext, const char *opt, uint32_t *value,
			 uint32_t *mask, struct pf_error *err)
{
	uint64_t v, m = 0xffffffffu;
	char *end;
	if (!pf_strtoui_end(arg, &end, 0, 0xffffffffu, &v) ||
	    (*end == '/' && !pf_strtoui_end(end + 1, &end, 0, 0xffffffffu, &m)))
		return pf_err_param(err,
				    "%s: bad integer value for option \"--%s\", or out of range.\n",
				    ext, opt);
	if (*end != '\0')
		return pf_err_param(err, "%s: trailing garbage after value for option \"--%s\".\n",
				    ext, opt);
	*value = (uint32_t)v;
	*mask = (uint32_t)m;
	return 0;
}

/* ---- NAT ranges ---- */

bool pf_nat_portok(uint16_t proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 33 || proto == 1;
}

/* A port number (xtables_strtoui semantics, stopping at *end) or, failing that, a service
 * name for the whole text. */
static bool nat_port(const char *arg, char **end, uint64_t min, uint64_t *port)
{
	if (pf_strtoui_end(arg, end, min, 65535, port))
		return true;
	/* xtables_service_to_port(arg, NULL): a service name of any protocol, no number */
	struct servent se, *res = NULL;
	char buf[1024];
	if (getservbyname_r(arg, NULL, &se, buf, sizeof(buf), &res) != 0 || !res)
		return false;
	*port = ntohs((uint16_t)res->s_port);
	*end = (char *)"";
	return true;
}

int pf_nat_parse_ports(const char *arg, bool portok, bool base0, struct pf_nat_range *r,
		       struct pf_error *err)
{
	uint64_t port, maxport, baseport;
	char *end = NULL;
	if (!portok)
		return pf_err_param(err, "Need TCP, UDP, SCTP or DCCP with port specification");
	r->flags |= PF_NAT_RANGE_PROTO_SPECIFIED;
	if (!nat_port(arg, &end, 0, &port))
		return pf_err_param(err, "Port `%s' not valid", arg);
	switch (*end) {
	case '\0':
		r->min_port = r->max_port = (uint16_t)port;
		return 0;
	case '-':
		arg = end + 1;
		break;
	case ':':
		return pf_err_param(err, "Invalid port:port syntax - use dash");
	default:
		return pf_err_param(err, "Garbage after port value: `%s'", end);
	}
	/* a range: no service names */
	if (!pf_strtoui_end(arg, &end, 0, 65535, &maxport))
		return pf_err_param(err, "Port `%s' not valid", arg);
	if (maxport < port)
		return pf_err_param(err, "Port range `%s' funky", arg);
	r->min_port = (uint16_t)port;
	r->max_port = (uint16_t)maxport;
	switch (*end) {
	case '\0':
		return 0;
	case '/':
		arg = end + 1;
		break;
	default:
		return pf_err_param(err, "Garbage after port range: `%s'", end);
	}
	if (!nat_port(arg, &end, base0 ? 0 : 1, &baseport))
		return pf_err_param(err, "Port `%s' not valid", arg);
	r->flags |= PF_NAT_RANGE_PROTO_OFFSET;
	r->base_port = (uint16_t)baseport;
	return 0;
}

int pf_nat_parse_to(const char *orig, bool portok, bool base0, struct pf_nat_range *r,
		    struct pf_error *err)
{
	char arg[512];
	if (strlen(orig) >= sizeof(arg))
		return pf_err_param(err, "Bad IP address \"%s\"", orig);
	strcpy(arg, orig);
	if (strchr(arg, '['))
		return pf_err_param(err, "Invalid address format");
	char *colon = strchr(arg, ':');
	if (colon && strchr(colon + 1, ':'))
		colon = NULL; /* iptables takes it for an IPv6 address */
	if (colon) {
		if (pf_nat_parse_ports(colon + 1, portok, base0, r, err))
			return -1;
		if (colon == arg || colon == arg + 2)
			return 0; /* no address, as iptables decides it */
		*colon = '\0';
	}
	r->flags |= PF_NAT_RANGE_MAP_IPS;
	char *dash = strchr(arg, '-');
	if (colon && dash && dash > colon)
		dash = NULL;
	if (dash)
		*dash = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, arg, &a) != 1)
		return pf_err_param(err, "Bad IP address \"%s\"", arg);
	r->min_ip = r->max_ip = a.s_addr;
	if (dash) {
		if (inet_pton(AF_INET, dash + 1, &a) != 1)
			return pf_err_param(err, "Bad IP address \"%s\"", dash + 1);
		r->max_ip = a.s_addr;
	}
	return 0;
}

void pf_nat_print(struct pf_strbuf *sb, const struct pf_nat_range *r, const char *rangeopt,
		  const char *flag_pfx, bool skip_colon)
{
	char buf[80] = "";
	size_t n = 0;
	if (r->flags & PF_NAT_RANGE_MAP_IPS) {
		char a[16];
		pf_fmt_ipv4(r->min_ip, a);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s", a);
		if (r->min_ip != r->max_ip) {
			pf_fmt_ipv4(r->max_ip, a);
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "-%s", a);
		}
	}
	if (r->flags & PF_NAT_RANGE_PROTO_SPECIFIED) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%u", r->min_port);
		if (r->max_port != r->min_port)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "-%u", r->max_port);
		if (r->flags & PF_NAT_RANGE_PROTO_OFFSET)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "/%u", r->base_port);
	}
	if (buf[0]) {
		const char *s = buf;
		if (s[0] == ':' && skip_colon)
			s++;
		pf_sb_printf(sb, " %s%s", rangeopt, s);
	}
	if (r->flags & PF_NAT_RANGE_PROTO_RANDOM)
		pf_sb_printf(sb, " %srandom", flag_pfx);
	if (r->flags & PF_NAT_RANGE_PROTO_RANDOM_FULLY)
		pf_sb_printf(sb, " %srandom-fully", flag_pfx);
	if (r->flags & PF_NAT_RANGE_PERSISTENT)
		pf_sb_printf(sb, " %spersistent", flag_pfx);
}
