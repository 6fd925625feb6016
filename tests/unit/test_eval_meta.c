/*
 * test_eval_meta.c - evaluation of the matches that read the caller's metadata or the host's
 * view (docs/evaluation.md, "Metadata matches"): mac, pkttype, comment, addrtype, mark,
 * connmark, conntrack, state, owner, physdev, set, rpfilter, time. Each case follows the
 * kernel module's match function (xt_mac.c, xt_pkttype.c, xt_addrtype.c, xt_mark.c,
 * xt_connmark.c, xt_conntrack.c, xt_owner.c, xt_physdev.c, xt_set.c, ipt_rpfilter.c,
 * xt_time.c), including their quirks (no socket, no bridge, no conntrack entry, raw table,
 * daytime ranges across midnight, --contiguous).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>

#include "helpers.h"

static struct pf_engine_config cfg;

static enum pf_matcher_kind matcher;

static void setup(void)
{
	fixture_setup();
	memset(&cfg, 0, sizeof(cfg));
	cfg.matcher = matcher;
}

static void setup_linear(void)
{
	matcher = PF_MATCHER_LINEAR;
	setup();
}

static void setup_hashed(void)
{
	matcher = PF_MATCHER_HASHED;
	setup();
}

static void compile(void)
{
	compile_with(&cfg);
}

/* Expect rules 1..n of table/chain to have counted want[0..n). */
static void expect_hits(const char *table, const char *chain, const uint64_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t got = hits(table, chain, i + 1);
		ck_assert_msg(got == want[i], "%s/%s rule %zu: %llu packets, expected %llu", table,
			      chain, i + 1, (unsigned long long)got, (unsigned long long)want[i]);
	}
}
#define EXPECT(table, chain, ...)                                                                  \
	do {                                                                                       \
		const uint64_t w_[] = {__VA_ARGS__};                                               \
		expect_hits(table, chain, w_, sizeof(w_) / sizeof(w_[0]));                         \
	} while (0)

/* ---- packets ---- */

/* IPv4 header (20 bytes) + l4len bytes of transport header (zeroed), TTL 64. */
static size_t ip_hdr(uint8_t *b, uint8_t proto, const char *src, const char *dst, size_t l4len)
{
	memset(b, 0, 20 + l4len);
	struct ip4 h = {.src = src, .dst = dst, .proto = proto, .ttl = 64};
	size_t n = ip4_header(b, l4len, &h);
	fix_ip(b);
	return n;
}

/* TCP (6) or UDP (17) with ports. */
static size_t l4pkt(uint8_t *b, uint8_t proto, const char *src, const char *dst, uint16_t sport,
		    uint16_t dport)
{
	size_t n = ip_hdr(b, proto, src, dst, proto == 6 ? 20 : 8);
	if (proto == 6) {
		struct tcp4 t = {
		    .sport = sport, .dport = dport, .doff = 5, .flags = 0x02 /* SYN */};
		tcp_header(b + 20, &t);
	} else {
		udp_header(b + 20, sport, dport, 8);
	}
	return n;
}

static uint8_t pkt[256];
static size_t pktlen;

static enum pf_nf_verdict eval_at(enum pf_nf_hook hook, const struct pf_packet_meta *m)
{
	uint8_t copy[256];
	memcpy(copy, pkt, pktlen);
	return eval_pkt(hook, copy, pktlen, sizeof(copy), m);
}

static struct pf_packet_meta in_meta(void)
{
	struct pf_packet_meta m = {.in_iface = "in0"};
	return m;
}

/* ---- mark / MARK ---- */

START_TEST(mark_match)
{
	cmd("-A INPUT -m mark --mark 0x5/0xf");
	cmd("-A INPUT -m mark ! --mark 0x5/0xf");
	cmd("-A INPUT -m mark --mark 0x15");
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.1", 1000, 53);
	struct pf_packet_meta m = in_meta();
	m.mark = 0x15;
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 1, 0, 1);
	m.mark = 0x16;
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 1, 1, 1);
	m.mark = 0x5;
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 2, 1, 1);
}
END_TEST

START_TEST(mark_sees_earlier_MARK)
{
	/* MARK in mangle INPUT, then -m mark in a later rule and in filter INPUT (same hook). */
	cmd("-t mangle -A INPUT -m mark --mark 0x7");
	cmd("-t mangle -A INPUT -j MARK --set-mark 0x7");
	cmd("-t mangle -A INPUT -m mark --mark 0x7");
	cmd("-t mangle -A INPUT -j MARK --or-mark 0x100");
	cmd("-A INPUT -m mark --mark 0x107 -j DROP");
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.1", 1000, 53);
	struct pf_packet_meta m = in_meta();
	ck_assert_int_eq(eval_at(PF_NF_LOCAL_IN, &m), PF_NF_DROP);
	EXPECT("mangle", "INPUT", 0, 1, 1, 1);
	EXPECT("filter", "INPUT", 1);
	ck_assert_uint_eq(res.mark, 0x107);
}
END_TEST

/* ---- connmark / CONNMARK ---- */

START_TEST(connmark_match)
{
	cmd("-t mangle -A PREROUTING -m connmark --mark 0x9");
	cmd("-t mangle -A PREROUTING -j CONNMARK --set-mark 0x9");
	cmd("-t mangle -A PREROUTING -m connmark --mark 0x9");
	cmd("-t mangle -A PREROUTING -m connmark ! --mark 0x1");
	cmd("-t mangle -A PREROUTING -m connmark --mark 0x8/0x8");
	compile();
	pktlen = l4pkt(pkt, 6, "198.18.0.2", "198.19.0.2", 1000, 80);
	struct pf_packet_meta m = in_meta();
	m.ct_state = PF_CT_NEW;
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 0, 1, 1, 1, 1);
	ck_assert_uint_eq(res.ctmark, 0x9);
	/* An established connection with mark 9 from the start. */
	m.ct_state = PF_CT_ESTABLISHED | PF_CT_REPLY;
	m.ctmark = 0x9;
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 1, 2, 2, 2, 2);
	/* No conntrack entry (invalid, or unknown state): never, even inverted. */
	m.ct_state = PF_CT_INVALID;
	eval_at(PF_NF_PRE_ROUTING, &m);
	m.ct_state = 0;
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 1, 4, 2, 2, 2);
}
END_TEST

/* ---- CT --notrack, state, conntrack ---- */

START_TEST(notrack_untracked)
{
	cmd("-t raw -A PREROUTING -m state --state INVALID");
	cmd("-t raw -A PREROUTING -m state --state NEW");
	cmd("-t raw -A PREROUTING -j CT --notrack");
	cmd("-t raw -A PREROUTING -m state --state UNTRACKED");
	cmd("-t mangle -A PREROUTING -m state --state UNTRACKED");
	cmd("-t mangle -A PREROUTING -m conntrack --ctstate UNTRACKED");
	cmd("-t mangle -A PREROUTING -m conntrack --ctstate NEW,INVALID");
	cmd("-t mangle -A PREROUTING -m state ! --state UNTRACKED");
	cmd("-t mangle -A PREROUTING -m connmark ! --mark 0x1");
	cmd("-t mangle -A PREROUTING -m conntrack --ctproto tcp");
	cmd("-t mangle -A PREROUTING -m conntrack ! --ctproto udp");
	cmd("-t mangle -A PREROUTING -m conntrack --ctstate UNTRACKED --ctproto udp");
	compile();
	pktlen = l4pkt(pkt, 6, "198.18.0.2", "198.19.0.2", 1000, 80);
	struct pf_packet_meta m = in_meta();
	m.ct_state = PF_CT_NEW;
	eval_at(PF_NF_PRE_ROUTING, &m);
	/* raw runs before conntrack: INVALID there, UNTRACKED after CT --notrack. */
	EXPECT("raw", "PREROUTING", 1, 0, 1, 1);
	/* Untracked: no entry, so only the state test is made ("--ctproto udp" too: true). */
	EXPECT("mangle", "PREROUTING", 1, 1, 0, 0, 0, 0, 0, 1);
}
END_TEST

START_TEST(state_match)
{
	cmd("-A FORWARD -m state --state NEW");
	cmd("-A FORWARD -m state --state ESTABLISHED,RELATED");
	cmd("-A FORWARD -m state --state INVALID");
	cmd("-A FORWARD -m state ! --state NEW");
	cmd("-A FORWARD -m state --state UNTRACKED");
	compile();
	pktlen = l4pkt(pkt, 6, "198.18.0.2", "198.19.0.2", 1000, 80);
	struct pf_packet_meta m = {.in_iface = "in0", .out_iface = "out0"};
	m.ct_state = PF_CT_NEW;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 0, 0, 0, 0);
	m.ct_state = PF_CT_ESTABLISHED | PF_CT_REPLY;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 1, 0, 1, 0);
	m.ct_state = PF_CT_RELATED;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 2, 0, 2, 0);
	m.ct_state = PF_CT_INVALID;
	eval_at(PF_NF_FORWARD, &m);
	m.ct_state = 0; /* unknown: no entry */
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 2, 2, 4, 0);
	m.ct_state = PF_CT_UNTRACKED;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 2, 2, 5, 1);
}
END_TEST

START_TEST(conntrack_tuples_and_direction)
{
	cmd("-A FORWARD -m conntrack --ctorigsrc 198.18.0.2 --ctorigdst 198.19.0.0/16");
	cmd("-A FORWARD -m conntrack --ctreplsrc 198.19.0.2 --ctrepldst 198.18.0.2");
	cmd("-A FORWARD -m conntrack --ctproto tcp --ctorigsrcport 1000 --ctorigdstport 80");
	cmd("-A FORWARD -m conntrack --ctreplsrcport 80 --ctrepldstport 900:1100");
	cmd("-A FORWARD -m conntrack --ctdir ORIGINAL");
	cmd("-A FORWARD -m conntrack --ctdir REPLY");
	cmd("-A FORWARD -m conntrack ! --ctorigsrc 198.18.0.2");
	cmd("-A FORWARD -m conntrack ! --ctorigdstport 81");
	cmd("-A FORWARD -m conntrack --ctstate ESTABLISHED --ctproto udp");
	compile();
	struct pf_packet_meta m = {.in_iface = "in0", .out_iface = "out0"};
	/* Original direction: 198.18.0.2:1000 -> 198.19.0.2:80. */
	pktlen = l4pkt(pkt, 6, "198.18.0.2", "198.19.0.2", 1000, 80);
	m.ct_state = PF_CT_NEW;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 1, 1, 1, 1, 0, 0, 1, 0);
	/* The reply: the same connection seen from the other side. */
	pktlen = l4pkt(pkt, 6, "198.19.0.2", "198.18.0.2", 80, 1000);
	m.ct_state = PF_CT_ESTABLISHED | PF_CT_REPLY;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 2, 2, 2, 2, 1, 1, 0, 2, 0);
	/* Another connection, original direction. */
	pktlen = l4pkt(pkt, 17, "198.18.0.3", "198.19.0.2", 5000, 81);
	m.ct_state = PF_CT_ESTABLISHED;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 2, 2, 2, 2, 2, 1, 1, 2, 1);
}
END_TEST

START_TEST(conntrack_icmp)
{
	cmd("-A FORWARD -m conntrack --ctproto icmp --ctorigsrcport 16962 --ctorigdstport 2048");
	cmd("-A FORWARD -m conntrack --ctrepldstport 0 --ctreplsrc 198.19.0.2");
	cmd("-A FORWARD -m conntrack --ctstate RELATED --ctproto udp --ctorigsrc 198.18.0.2 "
	    "--ctorigdstport 53 --ctdir REPLY");
	cmd("-A FORWARD -m conntrack --ctstatus CONFIRMED");
	compile();
	struct pf_packet_meta m = {.in_iface = "in0", .out_iface = "out0"};
	/* Echo request id 0x4242 (original); its reply (reply direction). */
	pktlen = ip_hdr(pkt, 1, "198.18.0.2", "198.19.0.2", 8);
	pkt[20] = 8;
	pkt[24] = pkt[25] = 0x42;
	m.ct_state = PF_CT_NEW;
	eval_at(PF_NF_FORWARD, &m);
	pktlen = ip_hdr(pkt, 1, "198.19.0.2", "198.18.0.2", 8);
	pkt[20] = 0;
	pkt[24] = pkt[25] = 0x42;
	m.ct_state = PF_CT_ESTABLISHED | PF_CT_REPLY;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 2, 2, 0, 1);
	/* Port unreachable from 198.19.0.2 quoting 198.18.0.2:5000 -> 198.19.0.2:53 (UDP):
	 * RELATED to that connection, in its reply direction. */
	pktlen = ip_hdr(pkt, 1, "198.19.0.2", "198.18.0.2", 8 + 28);
	pkt[20] = 3;
	pkt[21] = 3;
	ip_hdr(pkt + 28, 17, "198.18.0.2", "198.19.0.2", 8);
	pkt[28 + 20] = 0x13;
	pkt[28 + 21] = 0x88;
	pkt[28 + 23] = 53;
	pkt[28 + 25] = 8;
	m.ct_state = PF_CT_RELATED | PF_CT_REPLY;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 2, 2, 1, 2);
}
END_TEST

START_TEST(conntrack_status_expire_nat)
{
	cmd("-A FORWARD -m conntrack --ctstatus SEEN_REPLY");
	cmd("-A FORWARD -m conntrack ! --ctstatus CONFIRMED");
	cmd("-A FORWARD -m conntrack --ctstatus ASSURED");
	cmd("-A FORWARD -m conntrack --ctstatus NONE");
	cmd("-A FORWARD -m conntrack --ctexpire 0");
	cmd("-A FORWARD -m conntrack --ctexpire 100:200");
	cmd("-A FORWARD -m conntrack ! --ctexpire 100:200");
	cmd("-A FORWARD -m conntrack --ctstate DNAT");
	cmd("-A FORWARD -m conntrack --ctstate SNAT,DNAT");
	compile();
	pktlen = l4pkt(pkt, 6, "198.18.0.2", "198.19.0.2", 1000, 80);
	struct pf_packet_meta m = {.in_iface = "in0", .out_iface = "out0"};
	/* NEW, status unknown: not confirmed yet, expires 0. */
	m.ct_state = PF_CT_NEW;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 0, 1, 0, 0, 1, 0, 1, 0, 0);
	/* ESTABLISHED, status unknown: SEEN_REPLY|CONFIRMED. */
	m.ct_state = PF_CT_ESTABLISHED;
	m.ct_expire = 150;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 1, 0, 0, 1, 1, 1, 0, 0);
	/* Given status: assured, DNAT. */
	m.has_ct_status = true;
	m.ct_status = PF_IPS_ASSURED | PF_IPS_CONFIRMED | PF_IPS_SEEN_REPLY | PF_IPS_DST_NAT;
	m.ct_expire = 300;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 2, 1, 1, 0, 1, 1, 2, 1, 1);
}
END_TEST

/* ---- mac, pkttype, comment ---- */

START_TEST(mac_match)
{
	cmd("-A INPUT -m mac --mac-source 02:00:00:00:00:02");
	cmd("-A INPUT -m mac ! --mac-source 02:00:00:00:00:03");
	cmd("-A INPUT -m mac ! --mac-source 02:00:00:00:00:02");
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.1", 1000, 53);
	struct pf_packet_meta m = in_meta();
	m.has_mac = true;
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
	memcpy(m.src_mac, mac, 6);
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 1, 1, 0);
	/* No Ethernet header: false, inverted or not. */
	m.has_mac = false;
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 1, 1, 0);
}
END_TEST

START_TEST(pkttype_match)
{
	cmd("-A INPUT -m pkttype --pkt-type unicast");
	cmd("-A INPUT -m pkttype --pkt-type broadcast");
	cmd("-A INPUT -m pkttype --pkt-type multicast");
	cmd("-A INPUT -m pkttype ! --pkt-type unicast");
	cmd("-A INPUT -m comment --comment \"every packet\"");
	compile();
	struct pf_packet_meta m = in_meta();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.1", 1000, 53);
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 1, 0, 0, 0, 1);
	m.pkt_type = PF_PKT_BROADCAST;
	eval_at(PF_NF_LOCAL_IN, &m);
	m.pkt_type = PF_PKT_OTHERHOST;
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 1, 1, 0, 2, 3);
	/* Looped back: multicast by the destination address, broadcast otherwise. */
	m.pkt_type = PF_PKT_LOOPBACK;
	pktlen = l4pkt(pkt, 17, "198.18.0.1", "224.0.0.251", 5353, 5353);
	eval_at(PF_NF_LOCAL_IN, &m);
	pktlen = l4pkt(pkt, 17, "198.18.0.1", "198.18.0.1", 5353, 5353);
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 1, 2, 1, 4, 5);
}
END_TEST

/* ---- addrtype ---- */

static unsigned test_addr_type(void *opaque, uint32_t addr, const char *dev)
{
	(void)opaque;
	unsigned t = PF_RTN_UNICAST;
	const char *on = NULL;
	if (addr == inet_addr("198.18.0.1")) {
		t = PF_RTN_LOCAL;
		on = "in0";
	} else if (addr == inet_addr("198.18.0.255")) {
		t = PF_RTN_BROADCAST;
		on = "in0";
	} else if (addr == inet_addr("192.0.2.7")) {
		t = PF_RTN_BLACKHOLE;
		on = "out0";
	}
	if (on && dev && strcmp(dev, on) != 0)
		return PF_RTN_UNICAST;
	return t;
}

START_TEST(addrtype_default_host)
{
	cmd("-A INPUT -m addrtype --dst-type LOCAL");
	cmd("-A INPUT -m addrtype --dst-type BROADCAST");
	cmd("-A INPUT -m addrtype --dst-type MULTICAST");
	cmd("-A INPUT -m addrtype ! --dst-type UNICAST");
	cmd("-A INPUT -m addrtype --src-type UNICAST --dst-type UNICAST");
	compile();
	struct pf_packet_meta m = in_meta();
	const char *dsts[] = {"127.0.0.1", "255.255.255.255", "0.1.2.3", "224.0.0.1", "198.18.0.1"};
	for (size_t i = 0; i < 5; i++) {
		pktlen = l4pkt(pkt, 17, "198.18.0.2", dsts[i], 1, 2);
		eval_at(PF_NF_LOCAL_IN, &m);
	}
	EXPECT("filter", "INPUT", 1, 2, 1, 4, 1);
}
END_TEST

START_TEST(addrtype_host_callback)
{
	cfg.addr_type = test_addr_type;
	cmd("-A INPUT -m addrtype --dst-type LOCAL");
	cmd("-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in");
	cmd("-A INPUT -m addrtype --dst-type BROADCAST --limit-iface-in");
	cmd("-A INPUT -m addrtype --src-type LOCAL --dst-type LOCAL");
	cmd("-A INPUT -m addrtype ! --src-type LOCAL --dst-type LOCAL,BROADCAST");
	cmd("-A OUTPUT -m addrtype --dst-type BLACKHOLE --limit-iface-out");
	cmd("-A OUTPUT -m addrtype --src-type LOCAL");
	compile();
	struct pf_packet_meta m = in_meta();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.1", 1, 2);
	eval_at(PF_NF_LOCAL_IN, &m);
	m.in_iface = "in1"; /* the local entry is on in0: UNICAST as seen on in1 */
	eval_at(PF_NF_LOCAL_IN, &m);
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.255", 1, 2);
	m.in_iface = "in0";
	eval_at(PF_NF_LOCAL_IN, &m);
	EXPECT("filter", "INPUT", 2, 1, 1, 0, 3);
	struct pf_packet_meta o = {.out_iface = "out0"};
	pktlen = l4pkt(pkt, 17, "198.18.0.1", "192.0.2.7", 1, 2);
	eval_at(PF_NF_LOCAL_OUT, &o);
	o.out_iface = "out1";
	eval_at(PF_NF_LOCAL_OUT, &o);
	EXPECT("filter", "OUTPUT", 1, 2);
}
END_TEST

/* ---- rpfilter ---- */

static int rp_answer_type;
static bool rp_answer_dev;
static uint32_t rp_seen_mark, rp_seen_saddr;

static int test_rp_route(void *opaque, uint32_t addr, uint32_t saddr, uint32_t mark, uint8_t tos,
			 const char *dev, bool *uses_dev)
{
	(void)opaque;
	(void)addr;
	(void)tos;
	(void)dev;
	rp_seen_mark = mark;
	rp_seen_saddr = saddr;
	*uses_dev = rp_answer_dev;
	return rp_answer_type;
}

START_TEST(rpfilter_default_host)
{
	cmd("-t raw -A PREROUTING -m rpfilter");
	cmd("-t raw -A PREROUTING -m rpfilter --invert");
	cmd("-t raw -A PREROUTING -m rpfilter --accept-local");
	compile();
	struct pf_packet_meta m = in_meta();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.19.0.2", 1, 2);
	eval_at(PF_NF_PRE_ROUTING, &m);
	/* A loopback source is LOCAL (refused without --accept-local; not on in0 either). */
	pktlen = l4pkt(pkt, 17, "127.0.0.5", "198.19.0.2", 1, 2);
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("raw", "PREROUTING", 1, 1, 1);
	/* Came in on lo: passes whatever the route. */
	m.in_iface = "lo";
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("raw", "PREROUTING", 2, 1, 2);
}
END_TEST

START_TEST(rpfilter_default_route_with_addr_type)
{
	/* No rp_route: the local table of addr_type decides LOCAL and BROADCAST sources. */
	cfg.addr_type = test_addr_type;
	cmd("-t raw -A PREROUTING -m rpfilter");
	cmd("-t raw -A PREROUTING -m rpfilter --accept-local");
	cmd("-t raw -A PREROUTING -m rpfilter --accept-local --loose");
	compile();
	struct pf_packet_meta m = in_meta();
	const char *srcs[] = {"198.18.0.255", "198.18.0.1", "198.18.0.2"};
	for (size_t i = 0; i < 3; i++) {
		pktlen = l4pkt(pkt, 17, srcs[i], "198.19.0.2", 1, 2);
		eval_at(PF_NF_PRE_ROUTING, &m);
	}
	EXPECT("raw", "PREROUTING", 1, 1, 2);
}
END_TEST

START_TEST(rpfilter_host_callback)
{
	cfg.rp_route = test_rp_route;
	cmd("-t mangle -A PREROUTING -m rpfilter");
	cmd("-t mangle -A PREROUTING -m rpfilter --loose");
	cmd("-t mangle -A PREROUTING -m rpfilter --accept-local");
	cmd("-t mangle -A PREROUTING -m rpfilter --invert");
	cmd("-t mangle -A PREROUTING -m rpfilter --validmark --loose --accept-local");
	compile();
	struct pf_packet_meta m = in_meta();
	m.mark = 0x42;
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.19.0.2", 1, 2);
	/* No route back. */
	rp_answer_type = -1;
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 0, 0, 0, 1, 0);
	ck_assert_uint_eq(rp_seen_mark, 0x42); /* the last rule asked with --validmark */
	ck_assert_uint_eq(rp_seen_saddr, inet_addr("198.19.0.2"));
	/* Unicast through another interface: only --loose. */
	rp_answer_type = PF_RTN_UNICAST;
	rp_answer_dev = false;
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 0, 1, 0, 2, 1);
	/* Local through the input interface: only with --accept-local. */
	rp_answer_type = PF_RTN_LOCAL;
	rp_answer_dev = true;
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 0, 1, 1, 3, 2);
	/* Blackhole: never. */
	rp_answer_type = PF_RTN_BLACKHOLE;
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 0, 1, 1, 4, 2);
	/* 0.0.0.0 to 255.255.255.255 (DHCP): passes without a lookup; multicast destination:
	 * looked up without a source. */
	pktlen = l4pkt(pkt, 17, "0.0.0.0", "255.255.255.255", 68, 67);
	eval_at(PF_NF_PRE_ROUTING, &m);
	EXPECT("mangle", "PREROUTING", 1, 2, 2, 4, 3);
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "239.1.2.3", 1, 2);
	eval_at(PF_NF_PRE_ROUTING, &m);
	ck_assert_uint_eq(rp_seen_saddr, 0);
}
END_TEST

/* ---- owner ---- */

START_TEST(owner_socket)
{
	cmd("-A OUTPUT -m owner --uid-owner 1000");
	cmd("-A OUTPUT -m owner --uid-owner 0-999");
	cmd("-A OUTPUT -m owner ! --uid-owner 0");
	cmd("-A OUTPUT -m owner --gid-owner 200");
	cmd("-A OUTPUT -m owner --gid-owner 200 --suppl-groups");
	cmd("-A OUTPUT -m owner --socket-exists");
	cmd("-A OUTPUT -m owner ! --socket-exists");
	cmd("-A OUTPUT -m owner --uid-owner 1000 ! --gid-owner 100");
	compile();
	pktlen = l4pkt(pkt, 6, "198.18.0.1", "198.19.0.2", 40000, 80);
	static const uint32_t groups[] = {10, 200};
	struct pf_packet_meta m = {.out_iface = "out0", .has_uid = true, .uid = 1000, .gid = 100};
	m.groups = groups;
	m.ngroups = 2;
	eval_at(PF_NF_LOCAL_OUT, &m);
	EXPECT("filter", "OUTPUT", 1, 0, 1, 0, 1, 1, 0, 0);
	/* POSTROUTING too. */
	cmd("-t mangle -A POSTROUTING -m owner --uid-owner 1000");
	compile();
	eval_at(PF_NF_POST_ROUTING, &m);
	EXPECT("mangle", "POSTROUTING", 1);
}
END_TEST

START_TEST(owner_without_socket)
{
	cmd("-A OUTPUT -m owner --uid-owner 1000");
	cmd("-A OUTPUT -m owner ! --uid-owner 1000");
	cmd("-A OUTPUT -m owner --socket-exists");
	cmd("-A OUTPUT -m owner ! --socket-exists");
	cmd("-A OUTPUT -m owner ! --uid-owner 1 ! --gid-owner 2");
	cmd("-A OUTPUT -m owner ! --uid-owner 1 --gid-owner 2");
	cmd("-A OUTPUT -m owner ! --gid-owner 2 --suppl-groups");
	compile();
	pktlen = l4pkt(pkt, 6, "198.18.0.1", "198.19.0.2", 40000, 80);
	/* No socket at all: only the rules whose options are all inverted match. */
	struct pf_packet_meta m = {.out_iface = "out0"};
	eval_at(PF_NF_LOCAL_OUT, &m);
	EXPECT("filter", "OUTPUT", 0, 1, 0, 1, 1, 0, 0);
	/* A socket without a file: it exists; uid/gid options hold only when inverted. */
	m.sock_without_file = true;
	eval_at(PF_NF_LOCAL_OUT, &m);
	EXPECT("filter", "OUTPUT", 0, 2, 1, 1, 2, 0, 1);
}
END_TEST

/* ---- physdev ---- */

START_TEST(physdev_match)
{
	cmd("-A FORWARD -m physdev --physdev-in eth+");
	cmd("-A FORWARD -m physdev ! --physdev-in eth0");
	cmd("-A FORWARD -m physdev --physdev-out eth1 --physdev-is-bridged");
	cmd("-A FORWARD -m physdev ! --physdev-is-bridged");
	cmd("-A FORWARD -m physdev --physdev-is-in ! --physdev-is-out");
	cmd("-A FORWARD -m physdev ! --physdev-out eth1");
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.3", 1, 2);
	/* Not bridged: only the all-inverted rules match. */
	struct pf_packet_meta m = {.in_iface = "br0", .out_iface = "out0"};
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 0, 1, 0, 1, 0, 1);
	/* Bridged from eth0 to eth1. */
	m.out_iface = "br0";
	m.physdev_in = "eth0";
	m.physdev_out = "eth1";
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 1, 1, 1, 0, 1);
	/* Bridged in, routed out (no output port): not "bridged"; --physdev-out never. */
	m.physdev_out = NULL;
	m.out_iface = "out0";
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 2, 1, 1, 2, 1, 1);
}
END_TEST

START_TEST(physdev_in_skipped_without_port)
{
	/* --physdev-in is not tested when the packet has no input port (kernel quirk). */
	cmd("-t mangle -A POSTROUTING -m physdev --physdev-in eth0");
	cmd("-t mangle -A POSTROUTING -m physdev ! --physdev-in eth0");
	cmd("-t mangle -A POSTROUTING -m physdev --physdev-out eth1");
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.1", "198.18.0.3", 1, 2);
	struct pf_packet_meta m = {.out_iface = "br0", .physdev_out = "eth1"};
	eval_at(PF_NF_POST_ROUTING, &m);
	EXPECT("mangle", "POSTROUTING", 1, 1, 1);
}
END_TEST

/* ---- set ---- */

static struct pf_set_query seen_q;
static int set_answer;
static int set_calls;

static int test_set(void *opaque, const struct pf_set_query *q)
{
	ck_assert_ptr_eq(opaque, &set_calls);
	seen_q = *q;
	set_calls++;
	return set_answer;
}

/* A network namespace of our own holding set pf_h2set (the parser asks the kernel's ipset);
 * false when that is not possible here (not root). */
static bool own_netns_with_set(void)
{
	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "test_eval_meta: unshare: %s: set cases skipped\n",
			strerror(errno));
		return false;
	}
	ck_assert_int_eq(system("ipset create pf_h2set hash:ip,port 2>/dev/null"), 0);
	return true;
}

START_TEST(set_match)
{
	if (!own_netns_with_set())
		return;
	cmd("-A FORWARD -m set --match-set pf_h2set src,dst");
	cmd("-A FORWARD -m set ! --match-set pf_h2set dst --return-nomatch ! --update-counters "
	    "--packets-gt 5");
	cfg.set_test = test_set;
	cfg.set_opaque = &set_calls;
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.19.0.2", 1000, 53);
	struct pf_packet_meta m = {.in_iface = "in0", .out_iface = "out0", .mark = 3};
	set_answer = 1;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 0);
	ck_assert_int_eq(set_calls, 2);
	ck_assert_str_eq(seen_q.name, "pf_h2set");
	ck_assert_uint_eq(seen_q.dim, 1);
	ck_assert_uint_eq(seen_q.dirs, 0);
	ck_assert_uint_eq(seen_q.flags, 0x80 | 0x100);
	ck_assert_uint_eq(seen_q.packets_op, 4);
	ck_assert_uint_eq(seen_q.packets, 5);
	ck_assert_uint_eq(seen_q.len, pktlen);
	ck_assert_str_eq(seen_q.out, "out0");
	ck_assert_uint_eq(seen_q.mark, 3);
	set_answer = 0;
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 1, 1);
	/* Without a callback: false, inverted or not. */
	cfg.set_test = NULL;
	compile();
	eval_at(PF_NF_FORWARD, &m);
	EXPECT("filter", "FORWARD", 0, 0);
}
END_TEST

/* ---- time ---- */

#define T_FRI_2330 1710545400ull /* 2024-03-15 23:30:00 UTC, a Friday */
#define T_SAT_0100 1710550800ull /* 2024-03-16 01:00:00 */
#define T_FRI_1200 1710504000ull /* 2024-03-15 12:00:00 */
#define T_LEAP_DAY 1709208000ull /* 2024-02-29 12:00:00, a Thursday */

static void at_time(uint64_t secs)
{
	struct pf_packet_meta m = in_meta();
	m.now_ns = secs * 1000000000ull + 999999999ull;
	eval_at(PF_NF_LOCAL_IN, &m);
}

START_TEST(time_daytime_across_midnight)
{
	cmd("-A INPUT -m time --timestart 22:00 --timestop 02:00");
	cmd("-A INPUT -m time --timestart 08:00 --timestop 17:00");
	cmd("-A INPUT -m time --timestart 22:00 --timestop 02:00 --weekdays Fr");
	cmd("-A INPUT -m time --timestart 22:00 --timestop 02:00 --weekdays Fr --contiguous");
	cmd("-A INPUT -m time --timestart 10:00 --timestop 10:00");
	cmd("-A INPUT -m time --timestart 23:30 --timestop 23:30:00");
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.1", 1, 2);
	at_time(T_FRI_2330);
	EXPECT("filter", "INPUT", 1, 0, 1, 1, 1, 1);
	/* Saturday 01:00: in the night range, but a Saturday (unless --contiguous). */
	at_time(T_SAT_0100);
	EXPECT("filter", "INPUT", 2, 0, 1, 2, 2, 2);
	at_time(T_FRI_1200);
	EXPECT("filter", "INPUT", 2, 1, 1, 2, 3, 3);
}
END_TEST

START_TEST(time_days_and_dates)
{
	cmd("-A INPUT -m time --weekdays Mon,Tue,Wed,Thu,Fri");
	cmd("-A INPUT -m time ! --weekdays Sa,Su");
	cmd("-A INPUT -m time --monthdays 15,29");
	cmd("-A INPUT -m time ! --monthdays 15");
	cmd("-A INPUT -m time --monthdays 15 --timestart 22:00 --timestop 02:00 --contiguous");
	cmd("-A INPUT -m time --datestart 2024-03-01 --datestop 2024-03-15T23:59:59");
	cmd("-A INPUT -m time --weekdays Sa --kerneltz");
	cmd("-A INPUT -m time --weekdays Sa");
	cfg.tz_minuteswest = -60; /* the kernel's timezone is UTC+1 */
	compile();
	pktlen = l4pkt(pkt, 17, "198.18.0.2", "198.18.0.1", 1, 2);
	at_time(T_FRI_2330); /* Saturday 00:30 in the kernel's timezone */
	EXPECT("filter", "INPUT", 1, 1, 1, 0, 1, 1, 1, 0);
	at_time(T_SAT_0100); /* the 16th; with --contiguous still the 15th */
	EXPECT("filter", "INPUT", 1, 1, 1, 1, 2, 1, 2, 1);
	at_time(T_LEAP_DAY);
	EXPECT("filter", "INPUT", 2, 2, 2, 2, 2, 1, 2, 1);
}
END_TEST

/* Every case with each matcher: the matches must not depend on how rules are found. */
static TCase *meta_tcase(const char *name, void (*fixture)(void))
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, fixture, fixture_teardown);
	tcase_add_test(tc, mark_match);
	tcase_add_test(tc, mark_sees_earlier_MARK);
	tcase_add_test(tc, connmark_match);
	tcase_add_test(tc, notrack_untracked);
	tcase_add_test(tc, state_match);
	tcase_add_test(tc, conntrack_tuples_and_direction);
	tcase_add_test(tc, conntrack_icmp);
	tcase_add_test(tc, conntrack_status_expire_nat);
	tcase_add_test(tc, mac_match);
	tcase_add_test(tc, pkttype_match);
	tcase_add_test(tc, addrtype_default_host);
	tcase_add_test(tc, addrtype_host_callback);
	tcase_add_test(tc, rpfilter_default_host);
	tcase_add_test(tc, rpfilter_default_route_with_addr_type);
	tcase_add_test(tc, rpfilter_host_callback);
	tcase_add_test(tc, owner_socket);
	tcase_add_test(tc, owner_without_socket);
	tcase_add_test(tc, physdev_match);
	tcase_add_test(tc, physdev_in_skipped_without_port);
	tcase_add_test(tc, set_match);
	tcase_add_test(tc, time_daytime_across_midnight);
	tcase_add_test(tc, time_days_and_dates);
	return tc;
}

static Suite *meta_suite(void)
{
	Suite *s = suite_create("eval_meta");
	suite_add_tcase(s, meta_tcase("linear", setup_linear));
	suite_add_tcase(s, meta_tcase("hashed", setup_hashed));
	return s;
}

int main(void)
{
	return run_suite(meta_suite());
}
