/*
 * test_eval_l4.c - evaluation of the packet-content matches: tcp, udp, sctp, icmp, multiport,
 * iprange, length, ttl, tos, dscp, tcpmss, u32, string (bm, kmp, fsm).
 *
 * Every case loads rules without targets into filter FORWARD, judges one packet and compares
 * the packet counter of each rule and of the policy: a rule counts when it matches, and a
 * hotdrop leaves that rule, the later rules and the policy at zero with the verdict DROP.
 *
 * Every expected count below was observed on Linux 6.18.44 with iptables-legacy 1.8.9: the
 * same rules in the FORWARD chain of a router built from network namespaces, the same packet
 * injected with a packet socket on the router's input side (its TTL one higher: FORWARD sees
 * it decremented), the counters read back with iptables-legacy-save -c. The cases were dumped
 * with PF_L4_DUMP=FILE (see check_rules) and replayed on the kernel: all 80 agreed (the TTL
 * 255 one, which no forwarded packet has, was run in mangle PREROUTING instead). The
 * refused rules were refused by that kernel ("Invalid argument"). Comments marked "kernel:"
 * point out what was learnt there rather than read in the sources.
 */
#include "helpers.h"

/* ---- packets ---- */

struct pkt {
	uint8_t b[1600];
	size_t n;
};

/* IPv4 header options for ip(): fragment field (flags and offset in 8-byte units), TTL, TOS. */
struct ipo {
	uint16_t frag;
	uint8_t ttl, tos;
};
#define MF 0x2000

/* 198.18.0.2 -> 198.19.0.2, protocol proto, transport bytes l4[0..l4n). */
static struct pkt ip(uint8_t proto, const uint8_t *l4, size_t l4n, struct ipo o)
{
	struct pkt p;
	memset(&p, 0, sizeof(p));
	struct ip4 h = {.src = "198.18.0.2",
			.dst = "198.19.0.2",
			.proto = proto,
			.ttl = o.ttl ? o.ttl : 63,
			.tos = o.tos,
			.id = 0x1234,
			.frag = o.frag};
	p.n = ip4_header(p.b, l4n, &h);
	fix_ip(p.b);
	if (l4n)
		memcpy(p.b + 20, l4, l4n);
	return p;
}

/* The same with the transport bytes in hex. */
static struct pkt iph(uint8_t proto, const char *l4hex, struct ipo o)
{
	uint8_t l4[1500];
	size_t n = hex(l4, l4hex);
	return ip(proto, l4, n, o);
}

/* TCP header: ports, flags, data offset in words (0: 5 + options), options (hex), payload. */
static size_t tcp(uint8_t *b, unsigned sport, unsigned dport, uint8_t flags, unsigned doff,
		  const char *opts, const char *payload)
{
	size_t n = 20 + hex(b + 20, opts);
	struct tcp4 t = {.sport = (uint16_t)sport,
			 .dport = (uint16_t)dport,
			 .seq = 1,
			 .doff = (uint8_t)(doff ? doff : n / 4),
			 .flags = flags,
			 .win = 1000};
	tcp_header(b, &t);
	return n + hex(b + n, payload);
}

static struct pkt tcpp(unsigned sport, unsigned dport, uint8_t flags, unsigned doff,
		       const char *opts, struct ipo o)
{
	uint8_t l4[100];
	size_t n = tcp(l4, sport, dport, flags, doff, opts, "");
	return ip(6, l4, n, o);
}

static struct pkt udpp(unsigned sport, unsigned dport, const char *payload, struct ipo o)
{
	uint8_t l4[1500];
	size_t n = 8 + hex(l4 + 8, payload);
	udp_header(l4, sport, dport, n);
	return ip(17, l4, n, o);
}

/* SCTP: common header (ports, tag 0, checksum 0) and chunks given in hex. */
static struct pkt sctpp(unsigned sport, unsigned dport, const char *chunks, struct ipo o)
{
	uint8_t l4[1500];
	memset(l4, 0, 12);
	put16(l4, sport);
	put16(l4 + 2, dport);
	size_t n = 12 + hex(l4 + 12, chunks);
	return ip(132, l4, n, o);
}

static const struct ipo O = {0, 0, 0};

/* ---- running ---- */

/*
 * Load the rules (each after "-A FORWARD "), judge p at FORWARD and compare the packet
 * counters of the rules and then of the policy with want ("1 0 1"). The policy counting 0
 * means a hotdrop: the verdict must be DROP (ACCEPT otherwise).
 */
static void check_rules(const char *const *rules, const struct pkt *p, const char *want,
			const char *where)
{
	struct pf_error err;
	char c[600];
	pf_ruleset_free(rs);
	rs = pf_ruleset_new();
	size_t nr = 0;
	for (; rules[nr]; nr++) {
		snprintf(c, sizeof(c), "-A FORWARD %s", rules[nr]);
		ck_assert_msg(pf_ruleset_command_string(rs, c, NULL, &err) == 0, "%s: %s: %s",
			      where, c, err.message);
	}
	/* PF_L4_DUMP=FILE: append the case (where, expected counts, packet, rules;
	 * tab-separated) for a replay on the kernel */
	const char *dump = getenv("PF_L4_DUMP");
	FILE *f = dump ? fopen(dump, "a") : NULL;
	if (f) {
		fprintf(f, "%s\t%s\t", where, want);
		for (size_t i = 0; i < p->n; i++)
			fprintf(f, "%02x", p->b[i]);
		for (size_t i = 0; i < nr; i++)
			fprintf(f, "\t%s", rules[i]);
		fputc('\n', f);
		fclose(f);
	}
	/* both matchers must give the kernel's answer */
	static const enum pf_matcher_kind kinds[] = {PF_MATCHER_LINEAR, PF_MATCHER_HASHED};
	for (size_t k = 0; k < 2; k++) {
		struct pf_engine_config cfg = {.matcher = kinds[k]};
		compile_with(&cfg);
		uint8_t buf[1600];
		memcpy(buf, p->b, p->n);
		struct pf_packet_meta m = {.in_iface = "in0", .out_iface = "out0"};
		eval_pkt(PF_NF_FORWARD, buf, p->n, sizeof(buf), &m);

		pf_ruleset *copy = counted_copy();
		const pf_chain *ch = pf_table_chain(pf_ruleset_table(copy, "filter"), "FORWARD");
		char got[200] = "";
		size_t len = 0;
		uint64_t policy = 0;
		for (size_t i = 0; i <= nr; i++) {
			uint64_t pk, by;
			if (i < nr)
				pf_rule_counters(pf_chain_rule_at(ch, i), &pk, &by);
			else
				pf_chain_policy_counters(ch, &pk, &by);
			ck_assert_msg(by == pk * p->n, "%s: rule %zu bytes %llu", where, i + 1,
				      (unsigned long long)by);
			len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%llu",
						i ? " " : "", (unsigned long long)pk);
			policy = pk;
		}
		pf_ruleset_free(copy);
		ck_assert_msg(strcmp(got, want) == 0,
			      "%s (%s matcher): counters [%s], expected [%s]", where,
			      k ? "hashed" : "linear", got, want);
		ck_assert_msg(res.verdict == (policy ? PF_NF_ACCEPT : PF_NF_DROP), "%s: verdict %d",
			      where, res.verdict);
	}
}

#define CHECK(p, want, ...)                                                                        \
	do {                                                                                       \
		static const char *const rules_[] = {__VA_ARGS__, NULL};                           \
		struct pkt p_ = (p);                                                               \
		check_rules(rules_, &p_, want, __FILE__ ":" PF_STR(__LINE__));                     \
	} while (0)
#define PF_STR2(x) #x
#define PF_STR(x) PF_STR2(x)

/* A rule that the commit refuses, with the message's start. */
static void refused(const char *rule, const char *msg)
{
	struct pf_error err;
	char c[600];
	snprintf(c, sizeof(c), "-A FORWARD %s", rule);
	ck_assert_msg(pf_ruleset_command_string(rs, c, NULL, &err) != 0, "%s accepted", rule);
	ck_assert_msg(strstr(err.message, msg) != NULL, "%s: %s", rule, err.message);
}

/* ---- tcp ---- */

START_TEST(tcp_ports_flags)
{
	struct pkt syn = tcpp(1000, 80, 0x02, 0, "", O);
	CHECK(syn, "1 0 1 1 0 1 1", "-p tcp --dport 80", "-p tcp --dport 81", "-p tcp ! --dport 81",
	      "-p tcp --sport 999:1000 --dport 80:80", "-p tcp --sport 1001:65535",
	      "-p tcp ! --sport 1001:65535");
	CHECK(syn, "1 0 1 0 1 1", "-p tcp --syn", "-p tcp ! --syn",
	      "-p tcp --tcp-flags SYN,ACK SYN", "-p tcp --tcp-flags ALL NONE",
	      "-p tcp ! --tcp-flags ALL NONE");
	struct pkt ack = tcpp(0, 65535, 0x10, 0, "", O);
	CHECK(ack, "0 1 1 1 0 1", "-p tcp --syn", "-p tcp ! --syn",
	      "-p tcp --sport 0 --dport 65535", "-p tcp --tcp-flags ACK ACK",
	      "-p tcp --dport 0:65534");
	/* every test must hold: the ports pass, the flags fail */
	CHECK(ack, "0 1", "-p tcp --dport 65535 --syn");
}
END_TEST

/* kernel: the option walk (EOL/NOP one byte, a zero length steps one byte, a kind in the last
 * byte is still seen); data offset below 5 or options cut by the end of the packet hotdrop,
 * but only when the option test is reached. */
START_TEST(tcp_options)
{
	struct pkt p = tcpp(1000, 80, 0x02, 0, "01010204", O);
	CHECK(p, "1 0 0 1 1", "-p tcp --tcp-option 2", "-p tcp ! --tcp-option 2",
	      "-p tcp --tcp-option 4", "-p tcp ! --tcp-option 4");
	p = tcpp(1000, 80, 0x02, 0, "05000903", O);
	CHECK(p, "1 1 1", "-p tcp --tcp-option 9", "-p tcp --tcp-option 5");
	p = tcpp(1000, 80, 0x02, 0, "03030007", O);
	CHECK(p, "1 1 1", "-p tcp --tcp-option 7", "-p tcp --tcp-option 3");
	/* no options at all: only the inverted test matches */
	p = tcpp(1000, 80, 0x02, 0, "", O);
	CHECK(p, "0 1 1", "-p tcp --tcp-option 2", "-p tcp ! --tcp-option 2");
	/* data offset 4 */
	p = tcpp(1000, 80, 0x02, 4, "", O);
	CHECK(p, "1 0 0 0", "-p tcp --dport 80", "-p tcp --tcp-option 2", "-p tcp");
	CHECK(p, "0 1 1", "-p tcp --dport 81 --tcp-option 2", "-p tcp");
	/* data offset 8 with 4 bytes of options in the packet */
	p = tcpp(1000, 80, 0x02, 8, "020405b4", O);
	CHECK(p, "1 0 0 0", "-p tcp --sport 1000", "-p tcp ! --tcp-option 2", "-p tcp");
}
END_TEST

/* kernel: fragments. */
START_TEST(tcp_fragments)
{
	static const uint8_t zero[16];
	/* offset 8 bytes: hotdrop (also inverted); the rule without tcp match counts */
	struct pkt f1 = ip(6, zero, 16, (struct ipo){1, 0, 0});
	CHECK(f1, "1 0 0 0", "-p tcp", "-p tcp ! --dport 5", "-p tcp");
	/* multiport does not drop it */
	CHECK(f1, "0 1 1", "-p tcp -m multiport ! --dports 5", "-p tcp");
	/* offset 16 bytes: never matches, even inverted */
	struct pkt f2 = ip(6, zero, 16, (struct ipo){2, 0, 0});
	CHECK(f2, "1 0 0 1 1", "-p tcp", "-p tcp ! --dport 5", "-p tcp ! --syn", "-p tcp");
	/* first fragment with 8 bytes of TCP: multiport reads the ports, tcp drops */
	uint8_t t[40];
	tcp(t, 1000, 80, 0x02, 0, "", "");
	struct pkt s8 = ip(6, t, 8, (struct ipo){MF, 0, 0});
	CHECK(s8, "1 0 0 0", "-p tcp -m multiport --dports 80", "-p tcp --dport 80", "-p tcp");
	struct pkt s19 = ip(6, t, 19, (struct ipo){MF, 0, 0});
	CHECK(s19, "0 0 0", "-p tcp ! --dport 80", "-p tcp");
	struct pkt s3 = ip(6, t, 3, (struct ipo){MF, 0, 0});
	CHECK(s3, "0 0 0", "-p tcp -m multiport --ports 80", "-p tcp");
}
END_TEST

/* ---- udp ---- */

START_TEST(udp_match)
{
	struct pkt p = udpp(5000, 53, "", O);
	CHECK(p, "1 0 1 1 0 1 1", "-p udp --dport 53", "-p udp --dport 54", "-p udp ! --dport 54",
	      "-p udp --sport 5000:5000 --dport 0:53", "-p udp ! --sport 5000", "-p udp");
	/* kernel: a first fragment with 7 bytes of UDP hotdrops, a later fragment never
	 * matches */
	uint8_t u[8] = {0x13, 0x88, 0, 53, 0, 8, 0, 0};
	struct pkt u7 = ip(17, u, 7, (struct ipo){MF, 0, 0});
	CHECK(u7, "1 0 0 0", "-p udp", "-p udp ! --dport 1", "-p udp");
	struct pkt u8 = ip(17, u, 8, (struct ipo){MF, 0, 0});
	CHECK(u8, "1 1", "-p udp --dport 53");
	static const uint8_t zero[8];
	struct pkt uf = ip(17, zero, 8, (struct ipo){5, 0, 0});
	CHECK(uf, "0 0 1 1", "-p udp ! --dport 1", "-p udp -m multiport ! --dports 1", "-p udp");
	/* udplite: iptables has no udplite match, multiport reads its ports */
	struct pkt ul = iph(136, "1388003500080000", O);
	CHECK(ul, "1 0 1", "-p udplite -m multiport --dports 53",
	      "-p udplite -m multiport ! --dports 53");
}
END_TEST

/* ---- icmp ---- */

START_TEST(icmp_match)
{
	struct pkt echo = iph(1, "0800f7ff00000000", O);
	CHECK(echo, "1 1 0 1 0 1 1", "-p icmp --icmp-type any", "-p icmp --icmp-type echo-request",
	      "-p icmp --icmp-type echo-reply", "-p icmp --icmp-type 8/0",
	      "-p icmp --icmp-type 8/1", "-p icmp ! --icmp-type 0");
	struct pkt unr = iph(1, "030d000000000000", O);
	CHECK(unr, "1 0 1 1 0 1", "-p icmp --icmp-type 3/13",
	      "-p icmp --icmp-type port-unreachable", "-p icmp --icmp-type 3/10:13",
	      "-p icmp --icmp-type 3/13:255", "-p icmp ! --icmp-type 3");
	/* kernel: the kernel reads a whole struct icmphdr: 6 bytes hotdrop, 8 do not */
	struct pkt i6 = iph(1, "080000000000", (struct ipo){MF, 0, 0});
	CHECK(i6, "0 0 0", "-p icmp --icmp-type any", "-p icmp");
	struct pkt i8 = iph(1, "0800000000000000", (struct ipo){MF, 0, 0});
	CHECK(i8, "1 1 1", "-p icmp --icmp-type any", "-p icmp");
	/* kernel: later fragments never match, even inverted or "any" */
	struct pkt f = iph(1, "0000000000000000", (struct ipo){5, 0, 0});
	CHECK(f, "0 0 1 1", "-p icmp ! --icmp-type 8", "-p icmp --icmp-type any", "-p icmp");
}
END_TEST

/* ---- sctp ---- */

#define DATA_03 "00030008 61626364" /* DATA, flags B and E, 4 bytes */
#define ABORT_T "06010004"	    /* ABORT, flag T */
#define INIT_8 "01000008 78787878"

START_TEST(sctp_ports_chunks)
{
	struct pkt p = sctpp(1000, 2000, DATA_03, O);
	CHECK(p, "1 0 1 1 0 1 1", "-p sctp --dport 2000", "-p sctp --dport 2001",
	      "-p sctp ! --sport 1", "-p sctp --sport 0:1000 --dport 2000:65535",
	      "-p sctp ! --dport 2000", "-p sctp");
	/* kernel: chunk lists (ALL: the kernel's 64-word map never clears for "all ALL") */
	p = sctpp(1000, 2000, DATA_03 INIT_8, O);
	CHECK(p, "0 1 1 1 0 1 0 0 1", "-p sctp --chunk-types all ALL",
	      "-p sctp ! --chunk-types all ALL", "-p sctp --chunk-types all DATA,INIT",
	      "-p sctp --chunk-types only DATA,INIT", "-p sctp --chunk-types only DATA",
	      "-p sctp --chunk-types all NONE", "-p sctp --chunk-types any NONE",
	      "-p sctp --chunk-types only NONE");
	CHECK(p, "1 1 0 0 1", "-p sctp --chunk-types any ALL", "-p sctp --chunk-types any INIT",
	      "-p sctp --chunk-types any ABORT", "-p sctp ! --chunk-types any INIT");
	/* kernel: even a packet with every one of the 256 chunk types leaves "all ALL" unmet */
	static char every[256 * 8 + 1];
	for (unsigned t = 0; t < 256; t++)
		snprintf(every + 8 * t, 9, "%02x000004", t);
	p = sctpp(1000, 2000, every, O);
	CHECK(p, "0 1 1 1 1", "-p sctp --chunk-types all ALL", "-p sctp ! --chunk-types all ALL",
	      "-p sctp --chunk-types only ALL", "-p sctp --chunk-types all DATA,INIT,ABORT,I_DATA");
}
END_TEST

/* kernel: chunk flags (upper case: set, lower case: clear); a flag entry is found by the table
 * index iptables stores, so I_DATA's (index 18) never applies to I_DATA (type 64). */
START_TEST(sctp_flags)
{
	struct pkt p = sctpp(1000, 2000, DATA_03 ABORT_T, O);
	CHECK(p, "1 0 1 0 1 0 0 1 1", "-p sctp --chunk-types any DATA:B",
	      "-p sctp --chunk-types any DATA:b", "-p sctp --chunk-types any DATA:BE",
	      "-p sctp --chunk-types any DATA:U", "-p sctp --chunk-types only DATA:B,ABORT:T",
	      "-p sctp --chunk-types only DATA:B,ABORT:t",
	      "-p sctp --chunk-types all DATA:Be,ABORT", "-p sctp --chunk-types all DATA:BE,ABORT");
	p = sctpp(1000, 2000, "40000008 61626364", O);
	CHECK(p, "1 1 1", "-p sctp --chunk-types any I_DATA:B", "-p sctp");
}
END_TEST

/* kernel: the chunk walk: a length below 4 still moves 4 bytes, a length past the end ends
 * the walk, a length of 0 or a chunk header cut off hotdrops (once the walk reaches it). */
START_TEST(sctp_walk)
{
	struct pkt p = sctpp(1000, 2000, "01000001 00000006 7a7a0000", O);
	CHECK(p, "1 0 1", "-p sctp --chunk-types all INIT,DATA", "-p sctp --chunk-types only INIT");
	p = sctpp(1000, 2000, "010000c8 7a7a7a7a", O);
	CHECK(p, "1 1 1", "-p sctp --chunk-types only INIT", "-p sctp");
	p = sctpp(1000, 2000, INIT_8 "00000000", O);
	CHECK(p, "1 0 0 0", "-p sctp --chunk-types any INIT", "-p sctp --chunk-types all INIT",
	      "-p sctp");
	/* the ports are tested first: no walk, no drop */
	CHECK(p, "0 1 1", "-p sctp --dport 1 --chunk-types all INIT", "-p sctp");
	/* a chunk header cut to 2 bytes: hotdrop; inverted, the kernel still counts the rule
	 * (the match says yes with the drop set) and then drops */
	p = sctpp(1000, 2000, "0000", O);
	CHECK(p, "0 0 0", "-p sctp --chunk-types any DATA", "-p sctp");
	CHECK(p, "1 0 0", "-p sctp ! --chunk-types any DATA", "-p sctp");
	/* no chunk at all */
	p = sctpp(1000, 2000, "", O);
	CHECK(p, "0 0 0", "-p sctp --chunk-types any DATA", "-p sctp");
	CHECK(p, "1 1", "-p sctp --dport 2000");
}
END_TEST

START_TEST(sctp_fragments)
{
	/* kernel: later fragments never match; a first fragment without the 12-byte header
	 * hotdrops (multiport only needs the ports) */
	static const uint8_t zero[16];
	struct pkt f = ip(132, zero, 16, (struct ipo){5, 0, 0});
	CHECK(f, "0 0 1 1", "-p sctp ! --dport 1", "-p sctp ! --chunk-types any DATA", "-p sctp");
	struct pkt s = sctpp(1000, 2000, "", (struct ipo){MF, 0, 0});
	s.n = 30;
	s.b[3] = 30;
	fix_ip(s.b);
	CHECK(s, "1 0 0 0", "-p sctp -m multiport --ports 2000", "-p sctp --dport 2000", "-p sctp");
}
END_TEST

/* ---- multiport ---- */

START_TEST(multiport_match)
{
	struct pkt p = tcpp(1000, 80, 0x02, 0, "", O);
	CHECK(p, "1 0 1 1 0 1 0 1", "-p tcp -m multiport --dports 22,80,443",
	      "-p tcp -m multiport --sports 22,80,443", "-p tcp -m multiport --ports 22,80,443",
	      "-p tcp -m multiport --ports 999:1001", "-p tcp -m multiport ! --ports 80",
	      "-p tcp -m multiport ! --dports 81:65535",
	      "-p tcp -m multiport --dports 1:79,81:65535");
	CHECK(p, "1 1 0 1", "-p tcp -m multiport --dports 79:80",
	      "-p tcp -m multiport --dports 80:81", "-p tcp -m multiport --dports 81:82");
	/* fifteen slots: the last port counts */
	CHECK(p, "1 1", "-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,80");
	struct pkt u = udpp(5000, 53, "", O);
	CHECK(u, "1 0 1", "-p udp -m multiport --sports 5000 -m multiport --dports 53",
	      "-p udp -m multiport --dports 5000");
	struct pkt s = sctpp(1000, 2000, DATA_03, O);
	CHECK(s, "1 1", "-p sctp -m multiport --ports 2000");
}
END_TEST

/* ---- iprange, length, ttl, tos, dscp ---- */

START_TEST(iprange_match)
{
	struct pkt p = udpp(5000, 53, "", O); /* 198.18.0.2 -> 198.19.0.2 */
	CHECK(p, "1 1 0 0 1 1 0 1", "-m iprange --src-range 198.18.0.2-198.18.0.2",
	      "-m iprange --src-range 198.18.0.0-198.18.0.2 --dst-range 198.19.0.2-198.19.0.255",
	      "-m iprange --src-range 198.18.0.3-198.18.0.255",
	      "-m iprange ! --src-range 198.18.0.2",
	      "-m iprange ! --dst-range 198.19.0.3-255.0.0.0",
	      "-m iprange --src-range 0.0.0.0-255.255.255.255",
	      "-m iprange --src-range 198.18.0.3-198.18.0.1"); /* reversed: never matches */
	CHECK(p, "0 1", "-m iprange --src-range 198.18.0.1-198.18.0.3 ! --dst-range 198.19.0.2");
}
END_TEST

START_TEST(length_match)
{
	struct pkt p = udpp(5000, 53, "3031", O); /* 30 bytes */
	CHECK(p, "1 1 1 0 0 1 0 1", "-m length --length 30", "-m length --length 30:65535",
	      "-m length --length 0:30", "-m length --length 31:65535", "-m length --length 0:29",
	      "-m length ! --length 31", "-m length ! --length 30");
	/* bytes after the IP total length are not part of the packet */
	p.n = 40;
	uint8_t buf[1600];
	memcpy(buf, p.b, 40);
	struct pf_error err;
	pf_ruleset_free(rs);
	rs = pf_ruleset_new();
	ck_assert_int_eq(
	    pf_ruleset_command_string(rs, "-A FORWARD -m length --length 30", NULL, &err), 0);
	struct pf_engine_config cfg = {.matcher = PF_MATCHER_LINEAR};
	pf_engine_free(eng);
	eng = pf_engine_new(rs, &cfg, &err);
	ck_assert_ptr_nonnull(eng);
	struct pf_packet_meta m = {.in_iface = "in0", .out_iface = "out0"};
	ck_assert_int_eq(pf_engine_eval(eng, PF_NF_FORWARD, buf, 40, sizeof(buf), &m, &res), 0);
	uint64_t pk, by;
	pf_ruleset *copy = pf_ruleset_clone(rs);
	pf_engine_counters_to_ruleset(eng, copy);
	pf_rule_counters(
	    pf_chain_rule_at(pf_table_chain(pf_ruleset_table(copy, "filter"), "FORWARD"), 0), &pk,
	    &by);
	pf_ruleset_free(copy);
	ck_assert(pk == 1 && by == 30);
}
END_TEST

START_TEST(ttl_match)
{
	struct pkt p = udpp(5000, 53, "", (struct ipo){0, 63, 0});
	CHECK(p, "1 0 0 1 1 0 0 1 1", "-m ttl --ttl-eq 63", "-m ttl ! --ttl-eq 63",
	      "-m ttl --ttl-lt 63", "-m ttl --ttl-lt 64", "-m ttl --ttl-gt 62",
	      "-m ttl --ttl-gt 63", "-m ttl --ttl-eq 64", "-m ttl ! --ttl-eq 64");
	p = udpp(5000, 53, "", (struct ipo){0, 255, 0});
	CHECK(p, "1 0 1 1", "-m ttl --ttl-gt 254", "-m ttl --ttl-lt 255", "-m ttl --ttl 255");
}
END_TEST

START_TEST(tos_dscp_match)
{
	struct pkt p = udpp(5000, 53, "", (struct ipo){0, 0, 0xb9}); /* DSCP 46 (EF), ECN 1 */
	CHECK(p, "0 1 1 0 1 0 0 0 1", "-m tos --tos 0xb8", "-m tos --tos 0xb9",
	      "-m tos --tos 0xb8/0xfc", "-m tos --tos 0x18/0x3f", "-m tos ! --tos 0x18/0x3f",
	      "-m tos --tos 0x19/0x0f", /* value outside the mask: never */
	      "-m tos --tos Minimize-Delay", "-m tos ! --tos 0x10/0x10");
	CHECK(p, "1 1 0 1 0 1", "-m dscp --dscp 46", "-m dscp --dscp-class EF",
	      "-m dscp --dscp 0x2f", "-m dscp ! --dscp 0", "-m dscp ! --dscp 46");
	p = udpp(5000, 53, "", (struct ipo){0, 0, 0x03});
	CHECK(p, "1 1 0 1", "-m dscp --dscp 0", "-m dscp --dscp-class BE", "-m tos --tos 0");
}
END_TEST

/* ---- tcpmss ---- */

/* kernel: the MSS option of any TCP packet; none: only the inverted test matches; options cut
 * off or a data offset below 5 hotdrop; no fragment test at all: a later fragment is read as
 * a TCP header, and one shorter than 20 bytes hotdrops. */
START_TEST(tcpmss_match)
{
	struct pkt p = tcpp(1000, 80, 0x02, 0, "020405b4", O);
	CHECK(p, "1 0 0 1 1 1", "-p tcp -m tcpmss --mss 1460", "-p tcp -m tcpmss ! --mss 1460",
	      "-p tcp -m tcpmss --mss 1:1459", "-p tcp -m tcpmss --mss 1460:65535",
	      "-p tcp -m tcpmss ! --mss 0:1459");
	/* an MSS option cut by the end of the options (data offset 9: 16 bytes) */
	p = tcpp(1000, 80, 0x10, 0, "0101080a000000010000000201010204ffff", O);
	CHECK(p, "0 1 1", "-p tcp -m tcpmss --mss 0:65535", "-p tcp -m tcpmss ! --mss 0:65535");
	/* the walk steps by the lengths: a kind-3 option of length 3 */
	p = tcpp(1000, 80, 0x02, 0, "01030301 020405b4", O);
	CHECK(p, "1 1", "-p tcp -m tcpmss --mss 1460");
	p = tcpp(1000, 80, 0x02, 0, "01010303 020405b4", O);
	CHECK(p, "0 1 1", "-p tcp -m tcpmss --mss 1460", "-p tcp -m tcpmss ! --mss 1460");
	/* an MSS option with a wrong length is skipped */
	p = tcpp(1000, 80, 0x02, 0, "02030500 020405b4", O);
	CHECK(p, "1 1", "-p tcp -m tcpmss --mss 1460");
	p = tcpp(1000, 80, 0x02, 0, "", O);
	CHECK(p, "0 1 1", "-p tcp -m tcpmss --mss 1460", "-p tcp -m tcpmss ! --mss 1460");
	p = tcpp(1000, 80, 0x02, 8, "020405b4", O);
	CHECK(p, "0 0 0", "-p tcp -m tcpmss --mss 1000:2000", "-p tcp");
	p = tcpp(1000, 80, 0x02, 3, "", O);
	CHECK(p, "0 0", "-p tcp -m tcpmss ! --mss 1");
	/* a later fragment */
	uint8_t f[24];
	memset(f, 0, sizeof(f));
	f[12] = 0x60;
	f[13] = 0x02;
	hex(f + 20, "020405b4");
	struct pkt fr = ip(6, f, 24, (struct ipo){3, 0, 0});
	CHECK(fr, "1 0 1 1", "-p tcp -m tcpmss --mss 1460", "-p tcp -m tcpmss ! --mss 1460",
	      "-p tcp");
	fr = ip(6, f, 12, (struct ipo){3, 0, 0});
	CHECK(fr, "0 0 0", "-p tcp -m tcpmss --mss 1460", "-p tcp");
}
END_TEST

/* ---- u32 ---- */

/* kernel: a read past the packet makes the test false (not a drop), so the inverted match
 * true; "@" moves the base; a base that wraps is false. */
START_TEST(u32_match)
{
	struct pkt p = tcpp(1000, 80, 0x02, 0, "", O); /* 40 bytes */
	CHECK(p, "1 0 0 1 1 0 1 0 1 1", "-m u32 --u32 \"6&0xFF=6&&0>>22&0x3C@0>>16=1000\"",
	      "-m u32 --u32 \"6&0xFF=6&&0>>22&0x3C@0>>16=80\"", "-m u32 --u32 \"37=0\"",
	      "-m u32 ! --u32 \"37=0\"", "-m u32 --u32 \"36=0:0xffffffff\"",
	      "-m u32 --u32 \"0>>22&0x3C@17=0:0xffffffff\"",
	      "-m u32 --u32 \"0>>22&0x3C@16=0:0xffffffff\"",
	      "-m u32 --u32 \"0&0xffffffff@0=0:0xffffffff\"", "-p tcp");
	CHECK(p, "1 1 1 0 1", "-m u32 --u32 \"0>>22&0x3C@0&0xFFFF=80\"", "-m u32 --u32 \"0>>31=0\"",
	      "-m u32 --u32 \"0<<31=0\"",
	      "-m u32 --u32 \"0>>28=4 && 6&0xFF=1,6,17 && 0>>22&0x3C@12>>26&0x3C@0=0:0xffffffff\"");
	/* the payload word: IP header length, then TCP data offset, twice "@" */
	uint8_t t[40];
	size_t tn = tcp(t, 1000, 80, 0x18, 0, "01010101", "41424344");
	struct pkt d = ip(6, t, tn, O);
	CHECK(d, "1 0 1 1",
	      "-m u32 --u32 \"0>>28=4 && 6&0xFF=1,6,17 && 0>>22&0x3C@12>>26&0x3C@0=0x41424344\"",
	      "-m u32 --u32 \"0>>22&0x3C@12>>26&0x3C@1=0:0xffffffff\"",
	      "-m u32 ! --u32 \"0>>22&0x3C@12>>26&0x3C@1=0:0xffffffff\"");
	/* the value list: ranges and single values, any one */
	CHECK(p, "1 0 1", "-m u32 --u32 \"0>>24=0x40:0x44,0x45\"",
	      "-m u32 --u32 \"0>>24=0x40:0x44,0x46\"");
	/* kernel (6.18.40 and later): shifts of 32 or more are refused */
	refused("-m u32 --u32 \"0>>32=0\"", "Invalid argument");
	refused("-m u32 --u32 \"0<<40=0\"", "Invalid argument");
}
END_TEST

/* ---- string ---- */

/* kernel: the text is searched from --from; a match counts when the pattern ends by --to
 * (offsets from the IP header). Payload "xABy" at 28..31, "AB" at 29..30. */
START_TEST(string_offsets)
{
	struct pkt p = udpp(1000, 53, "78414279", O);
	CHECK(p, "1 0 1 0 0 0 0 1", "-m string --algo bm --string AB --from 0 --to 31",
	      "-m string --algo bm --string AB --from 0 --to 30",
	      "-m string --algo bm --string AB --from 29 --to 31",
	      "-m string --algo bm --string AB --from 30 --to 65535",
	      "-m string --algo bm --string AB --from 29 --to 29",
	      "-m string --algo bm --string AB --from 0 --to 28",
	      "-m string --algo bm --string AB --from 32 --to 40");
	CHECK(p, "1 0 1 0 0 0 0 1", "-m string --algo kmp --string AB --from 0 --to 31",
	      "-m string --algo kmp --string AB --from 0 --to 30",
	      "-m string --algo kmp --string AB --from 29 --to 31",
	      "-m string --algo kmp --string AB --from 30 --to 65535",
	      "-m string --algo kmp --string AB --from 29 --to 29",
	      "-m string --algo kmp --string AB --from 0 --to 28",
	      "-m string --algo kmp --string AB --from 32 --to 40");
	CHECK(p, "1 1 1 1 1 0 1 1", "-m string --algo bm --string ab --icase",
	      "-m string --algo kmp --string ab --icase", "-m string --algo bm --string AB",
	      "-m string --algo bm --string xABy",
	      "-m string --algo kmp --hex-string \"|c6130002|\"",
	      "-m string --algo bm --hex-string \"|c6130002|\" --to 19",
	      "-m string --algo bm --hex-string \"|c6130002|\" --to 20");
	CHECK(p, "0 0 1 0 1 1", "-m string --algo bm --string ab",
	      "-m string --algo kmp --string ab", "-m string --algo kmp ! --string ab",
	      "-m string --algo kmp ! --string AB",
	      "-m string --algo bm --string xABy --from 28 --to 32");
	/* the pattern longer than what is left */
	CHECK(p, "0 1 1", "-m string --algo bm --string xAByz",
	      "-m string --algo kmp ! --string xAByz");
}
END_TEST

/* kernel: ts_bm with --icase upper-cases the text but takes its bad-character shift from the
 * raw byte, for which only the pattern's own bytes and their tolower() are set: a Latin-1
 * lower-case letter whose upper case is in the pattern (0xDF, 0xFF) shifts by the whole
 * pattern, so bm misses matches kmp finds. */
START_TEST(string_bm_icase_latin1)
{
	struct pkt p = udpp(1000, 53, "61dfffdf6161df41bf", O);
	CHECK(p, "0 1 1 1 1", "-m string --algo bm --hex-string \"|df61|\" --icase --to 33",
	      "-m string --algo kmp --hex-string \"|df61|\" --icase --to 33",
	      "-m string --algo bm --hex-string \"|df61|\" --icase",
	      "-m string --algo bm --hex-string \"|df61|\" --to 33");
	p = udpp(1000, 53, "bfbfbfffbf4161df41dfffbfbf61bf", O);
	CHECK(p, "0 1 1", "-m string --algo bm --hex-string \"|ffdf61|\" --icase",
	      "-m string --algo kmp --hex-string \"|ffdf61|\" --icase");
}
END_TEST

/* kernel: ts_fsm tokens {u16 type (little endian), u8 recurrence, u8 value}: a match must start
 * at --from (unless the first token is HEAD_IGNORE) and end at the end of the packet; the
 * HEAD_IGNORE recurrence only first and with more tokens, types up to 13 and recurrences up
 * to 4 are accepted. */
START_TEST(string_fsm)
{
	struct pkt p = udpp(1000, 53, "78414279", O);
	CHECK(p, "0 0 0 1 1 0 1", "-m string --algo fsm --hex-string \"|00000441 00000042|\"",
	      "-m string --algo fsm --hex-string \"|00000042|\"",
	      "-m string --algo fsm --hex-string \"|0d000020|\"",
	      "-m string --algo fsm --hex-string \"|01000400 00000042 00000079|\"",
	      "-m string --algo fsm --hex-string \"|01000400 00000041 00000042 00000079|\"",
	      "-m string --algo fsm --hex-string \"|00000078 01000200 00000079|\"");
	/* from the payload on: 'x', then anything, then 'y' at the end */
	CHECK(p, "1 1 0 1",
	      "-m string --algo fsm --hex-string \"|00000078 01000200 00000079|\" --from 28",
	      "-m string --algo fsm --hex-string \"|00000078 01000300 00000079|\" --from 28",
	      "-m string --algo fsm --hex-string \"|00000078 00000042|\" --from 28");
	/* kernel: skb_seq_read, asked again after it said "no more", hands out the packet from
	 * its start once more (unless --to stops it): a trailing optional token at the end of the
	 * data makes the final end-of-data test see that block, and the match fails; with --to
	 * at the end of the packet it succeeds (the token array, 12 bytes, fits 20..32). */
	CHECK(
	    p, "1 0 1 1 0 1",
	    "-m string --algo fsm --hex-string \"|01000300 00000079 0000017a|\" --from 20 --to 32",
	    "-m string --algo fsm --hex-string \"|01000300 00000079 0000017a|\" --from 20",
	    "-m string --algo fsm --hex-string \"|01000300 00000079|\" --from 20",
	    "-m string --algo fsm --hex-string \"|00000079|\" --from 31",
	    "-m string --algo fsm --hex-string \"|00000079 0000017a|\" --from 31");
	refused("-m string --algo fsm --hex-string \"|00000042 00000441|\"", "Invalid argument");
	refused("-m string --algo fsm --hex-string \"|00000441|\"", "Invalid argument");
	refused("-m string --algo fsm --hex-string \"|00000542|\"", "Invalid argument");
	refused("-m string --algo fsm --hex-string \"|0e000042|\"", "Invalid argument");
}
END_TEST

static Suite *l4_suite(void)
{
	Suite *s = suite_create("eval_l4");
	TCase *tc = tcase_create("l4");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, tcp_ports_flags);
	tcase_add_test(tc, tcp_options);
	tcase_add_test(tc, tcp_fragments);
	tcase_add_test(tc, udp_match);
	tcase_add_test(tc, icmp_match);
	tcase_add_test(tc, sctp_ports_chunks);
	tcase_add_test(tc, sctp_flags);
	tcase_add_test(tc, sctp_walk);
	tcase_add_test(tc, sctp_fragments);
	tcase_add_test(tc, multiport_match);
	tcase_add_test(tc, iprange_match);
	tcase_add_test(tc, length_match);
	tcase_add_test(tc, ttl_match);
	tcase_add_test(tc, tos_dscp_match);
	tcase_add_test(tc, tcpmss_match);
	tcase_add_test(tc, u32_match);
	tcase_add_test(tc, string_offsets);
	tcase_add_test(tc, string_bm_icase_latin1);
	tcase_add_test(tc, string_fsm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(l4_suite());
}
