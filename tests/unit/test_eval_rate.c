/*
 * test_eval_rate.c - evaluation of the rate and stateful matches: limit, hashlimit, recent,
 * statistic and connlimit, with the caller's clock (meta->now_ns).
 *
 * The "kernel:" values were observed on Linux 6.18 (CONFIG_HZ=250) with iptables-legacy
 * 1.8.9, by tests/tools/kernel_rate_probe.py SCENARIO: the same packets at the same times
 * (to about 0.1 ms) sent through a router namespace, counters read with
 * iptables-legacy-save -c. The kernel's jiffies have a random phase relative to the
 * packets; the scenarios keep away from boundaries where that phase would matter, and each
 * was run at least twice with the same result.
 */
#include "helpers.h"

#define MS 1000000ull
#define SEC 1000000000ull

static uint64_t seed;

static void setup(void)
{
	fixture_setup();
	seed = 0;
}

static void compile(void)
{
	struct pf_engine_config cfg = {.matcher = PF_MATCHER_LINEAR, .random_seed = seed};
	compile_with(&cfg);
}

/* ---- packets ---- */

static uint8_t pkt[1600];
static size_t pktlen;

/* IPv4 header + l4 (already in pkt + 20), l4 checksum at csum_off (or -1). */
static void finish(const char *src, const char *dst, uint8_t proto, size_t l4len, uint8_t ttl,
		   int csum_off)
{
	struct ip4 h = {
	    .src = src, .dst = dst, .proto = proto, .ttl = ttl, .id = 0x1234, .frag = 0x4000};
	pktlen = ip4_header(pkt, l4len, &h);
	fix_ip(pkt);
	if (csum_off >= 0)
		fix_l4(pkt, (size_t)csum_off);
}

/* UDP with `payload` bytes of data: tot_len = 28 + payload. */
static void mk_udp(const char *src, const char *dst, uint16_t sport, uint16_t dport, size_t payload,
		   uint8_t ttl)
{
	uint8_t *u = pkt + 20;
	memset(u, 'x', 8 + payload);
	udp_header(u, sport, dport, 8 + payload);
	finish(src, dst, 17, 8 + payload, ttl, 6);
}

static void mk_tcp(const char *src, const char *dst, uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct tcp4 t = {
	    .sport = sport, .dport = dport, .seq = 100, .doff = 5, .flags = flags, .win = 65535};
	tcp_header(pkt + 20, &t);
	finish(src, dst, 6, 20, 64, 16);
}

static struct pf_packet_meta meta(uint64_t now, unsigned ct)
{
	struct pf_packet_meta m = {.in_iface = "r0", .now_ns = now, .ct_state = ct};
	return m;
}

/* Evaluate the current packet (a copy) at a hook. */
static enum pf_nf_verdict at(enum pf_nf_hook hook, const struct pf_packet_meta *m)
{
	uint8_t b[1600];
	memcpy(b, pkt, pktlen);
	return eval_pkt(hook, b, pktlen, sizeof(b), m);
}

static enum pf_nf_verdict pre(uint64_t now)
{
	struct pf_packet_meta m = meta(now, 0);
	return at(PF_NF_PRE_ROUTING, &m);
}

/* ---- limit ---- */

/* 3/second burst 5: credit_cap = user2credits(3333 * 5) = 53328, cost = 10665, 128 credits
 * a jiffy. 1000 packets every 10 ms: 5 at once, then one every 10665/128 = 83.3 jiffies.
 * kernel (scenario limit, 3 runs): [34:952] */
START_TEST(limit_burst_then_rate)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m limit --limit 3/second --limit-burst 5 "
	    "-j DROP");
	cmd("-t raw -A PREROUTING -p udp --dport 9");
	compile();
	mk_udp("198.18.3.2", "198.19.3.2", 1000, 9, 0, 64);
	int first[8], nfirst = 0;
	for (int i = 0; i < 1000; i++)
		if (pre((uint64_t)i * 10 * MS) == PF_NF_DROP && nfirst < 8)
			first[nfirst++] = i;
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 34);
	ck_assert_uint_eq(hit_bytes("raw", "PREROUTING", 1), 34 * 28);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 1000 - 34);
	/* packets 0-4 (53328 - 5 * 10665 = 3 left), then the k-th more at the first packet in a
	 * jiffy j with 3 + 128 * j >= k * 10665: j >= 84 (336 ms: the packet at 340 ms, 34),
	 * j >= 167 (670 ms, 67), j >= 250 (1000 ms, 100). */
	ck_assert_int_eq(first[0], 0);
	ck_assert_int_eq(first[4], 4);
	ck_assert_int_eq(first[5], 34);
	ck_assert_int_eq(first[6], 67);
	ck_assert_int_eq(first[7], 100);

	/* A new engine starts a full bucket again; same clock, same answer. */
	compile();
	for (int i = 0; i < 1000; i++)
		pre(5 * SEC + (uint64_t)i * 10 * MS);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 34);
}
END_TEST

/* 1/minute burst 2: avg 600000 is above 0xFFFFFFFF / 32000, so user2credits divides first:
 * cost 1920000, cap 3840000; at 1 packet/s for 131 s: t=0, 1, then t=60 (32000 + 59 *
 * 32000 = cost) and t=120. kernel (scenario limit_slow): [4:112] */
START_TEST(limit_slow_divide_first)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m limit --limit 1/minute --limit-burst 2");
	compile();
	mk_udp("198.18.3.2", "198.19.3.2", 1000, 9, 0, 64);
	for (int i = 0; i <= 130; i++) {
		uint64_t before = hits("raw", "PREROUTING", 1);
		pre(7 * SEC + (uint64_t)i * SEC);
		uint64_t after = hits("raw", "PREROUTING", 1);
		bool want = i == 0 || i == 1 || i == 60 || i == 120;
		ck_assert_msg((after > before) == want, "packet at %d s", i);
	}
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 4);
}
END_TEST

/* ---- hashlimit ---- */

/* Per source: upto 4/sec burst 3; .10 at 20/s, .11 at 2/s, .12 at 5/s for 5 s.
 * kernel (scenario hashlimit): see the counts asserted below. */
START_TEST(hashlimit_per_srcip)
{
	cmd("-t raw -N HL");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 4/sec "
	    "--hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name h3a -j HL");
	cmd("-t raw -A HL -s 198.18.5.10");
	cmd("-t raw -A HL -s 198.18.5.11");
	cmd("-t raw -A HL -s 198.18.5.12");
	compile();
	/* the kernel's send order: by time */
	struct ev {
		uint64_t t;
		const char *src;
	} evs[135];
	int n = 0;
	for (int i = 0; i < 100; i++)
		evs[n++] = (struct ev){(uint64_t)i * 50 * MS, "198.18.5.10"};
	for (int i = 0; i < 10; i++)
		evs[n++] = (struct ev){(uint64_t)i * 500 * MS + 13 * MS, "198.18.5.11"};
	for (int i = 0; i < 25; i++)
		evs[n++] = (struct ev){(uint64_t)i * 200 * MS + 27 * MS, "198.18.5.12"};
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && evs[j].t < evs[j - 1].t; j--) {
			struct ev x = evs[j];
			evs[j] = evs[j - 1];
			evs[j - 1] = x;
		}
	for (int i = 0; i < n; i++) {
		mk_udp(evs[i].src, "198.19.3.2", 1000, 9, 0, 64);
		pre(evs[i].t);
	}
	/* .10: 3 + one per 250 ms over 4.95 s = 3 + 19; .11 and .12 are under the rate. */
	ck_assert_uint_eq(hits("raw", "HL", 1), 22);
	ck_assert_uint_eq(hits("raw", "HL", 2), 10);
	ck_assert_uint_eq(hits("raw", "HL", 3), 22);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 54); /* kernel: [54:1512] */
}
END_TEST

/* Bytes: 10kb/s burst 20kb; tot_len 500 (32 chunks of 16 bytes), 50 packets/s for 5 s:
 * the bucket holds 20 such packets and refills 20 a second; --hashlimit-burst 20kb is 3
 * refills (20480 / 10224 rounded up). kernel (scenarios hashlimit_bytes and
 * hashlimit_bytes_noburst): [158:79000] and [119:59500]. */
START_TEST(hashlimit_bytes)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 10kb/s "
	    "--hashlimit-burst 20kb --hashlimit-mode srcip,dstport --hashlimit-name h3b");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 10kb/s "
	    "--hashlimit-mode srcip --hashlimit-name h3c");
	compile();
	mk_udp("198.18.5.10", "198.19.3.2", 1000, 9, 472, 64);
	ck_assert_uint_eq(pktlen, 500);
	for (int i = 0; i < 250; i++)
		pre((uint64_t)i * 20 * MS);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 158);
	ck_assert_uint_eq(hit_bytes("raw", "PREROUTING", 1), 79000);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 119);
}
END_TEST

/* htable-max 4: a fifth key is dropped at once (hotdrop: nothing more is counted). Entries
 * expire 500 ms after their last packet, and the collector (every 1000 ms from the first
 * packet) removes them: at 2.5 s four new keys fit again. kernel (scenario hashlimit_max,
 * where the table, hence its collector, starts a few ms before the first packet):
 * [9:252] for both rules, twice. */
START_TEST(hashlimit_max_and_gc)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 100/sec "
	    "--hashlimit-mode srcip --hashlimit-name h3d --hashlimit-htable-size 4 "
	    "--hashlimit-htable-max 4 --hashlimit-htable-expire 500 "
	    "--hashlimit-htable-gcinterval 1000");
	cmd("-t raw -A PREROUTING -p udp --dport 9");
	compile();
	char a[32];
	for (int i = 0; i < 6; i++) {
		snprintf(a, sizeof(a), "198.18.5.%d", 10 + i);
		mk_udp(a, "198.19.3.2", 1000, 9, 0, 64);
		ck_assert_int_eq(pre((uint64_t)i * 10 * MS), i < 4 ? PF_NF_ACCEPT : PF_NF_DROP);
	}
	/* still there (the collector has not run): the old keys are found, new ones are not */
	mk_udp("198.18.5.10", "198.19.3.2", 1000, 9, 0, 64);
	ck_assert_int_eq(pre(900 * MS), PF_NF_ACCEPT);
	mk_udp("198.18.5.30", "198.19.3.2", 1000, 9, 0, 64);
	ck_assert_int_eq(pre(910 * MS), PF_NF_DROP);
	for (int i = 0; i < 6; i++) {
		snprintf(a, sizeof(a), "198.18.5.%d", 20 + i);
		mk_udp(a, "198.19.3.2", 1000, 9, 0, 64);
		ck_assert_int_eq(pre(2500 * MS + (uint64_t)i * 10 * MS),
				 i < 4 ? PF_NF_ACCEPT : PF_NF_DROP);
	}
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 9);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 9);
}
END_TEST

/* --hashlimit-rate-match: 10/sec, windows of 1 s, at most burst 5 + rate 10 = 15 packets a
 * window, and none in a window after one over the rate (17 * 250 > delta * 10). Packets
 * every 60 ms for 2 s: 15, then 0; every 220 ms from 2.1 s: 0 (the previous window was
 * over), then 5 and 4. kernel (scenario hashlimit_ratematch, twice): [24:672]. */
START_TEST(hashlimit_rate_match)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 10/sec "
	    "--hashlimit-mode srcip --hashlimit-name h3r --hashlimit-rate-match");
	compile();
	mk_udp("198.18.5.10", "198.19.3.2", 1000, 9, 0, 64);
	for (int i = 0; i < 34; i++)
		pre((uint64_t)i * 60 * MS);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 15);
	for (int i = 0; i < 14; i++)
		pre(2100 * MS + (uint64_t)i * 220 * MS);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 24);
}
END_TEST

/* Masks and ports: srcmask 24 groups 10.1.1.x; dstport separates keys; above inverts; a
 * first fragment too short for the ports is dropped (hotdrop). kernel (scenario
 * hashlimit_masks): [6:162], [1:28], [4:112], policy [4:112]. */
START_TEST(hashlimit_masks_ports_above)
{
	cmd("-t raw -A PREROUTING -p udp");
	cmd("-t raw -A PREROUTING -p udp -m hashlimit --hashlimit-above 1/hour --hashlimit-burst 2 "
	    "--hashlimit-mode srcip,dstport --hashlimit-srcmask 24 --hashlimit-name h3e -j DROP");
	cmd("-t raw -A PREROUTING -p udp");
	compile();
	mk_udp("10.1.1.1", "10.9.9.9", 1, 53, 0, 64);
	ck_assert_int_eq(pre(0), PF_NF_ACCEPT);
	mk_udp("10.1.1.2", "10.9.9.9", 2, 53, 0, 64);
	ck_assert_int_eq(pre(1 * MS), PF_NF_ACCEPT);
	mk_udp("10.1.1.3", "10.9.9.9", 3, 53, 0, 64); /* same /24 and port: third, above */
	ck_assert_int_eq(pre(2 * MS), PF_NF_DROP);
	mk_udp("10.1.1.3", "10.9.9.9", 3, 54, 0, 64); /* other port: its own bucket */
	ck_assert_int_eq(pre(3 * MS), PF_NF_ACCEPT);
	mk_udp("10.1.2.3", "10.9.9.9", 3, 53, 0, 64); /* other /24 */
	ck_assert_int_eq(pre(4 * MS), PF_NF_ACCEPT);
	mk_udp("10.1.3.3", "10.9.9.9", 3, 53, 0, 64);
	put16(pkt + 6, 0x2000); /* MF */
	put16(pkt + 2, 22);	/* tot_len 22: 2 bytes of UDP */
	pktlen = 22;
	put16(pkt + 10, 0);
	put16(pkt + 10, csum(pkt, 20, 0));
	ck_assert_int_eq(pre(5 * MS), PF_NF_DROP);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 6);
	ck_assert_uint_eq(hit_bytes("raw", "PREROUTING", 1), 162);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 1);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 3), 4);
}
END_TEST

/* Two rules naming one table share its entries (the first rule's configuration: keyed by
 * srcip, burst 2). kernel (scenario hashlimit_shared): [1:28] and [1:28]. */
START_TEST(hashlimit_shared_table)
{
	cmd("-t raw -A PREROUTING -p udp --dport 1 -m hashlimit --hashlimit-upto 1/hour "
	    "--hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name h3f");
	cmd("-t raw -A PREROUTING -p udp --dport 2 -m hashlimit --hashlimit-upto 1/hour "
	    "--hashlimit-burst 5 --hashlimit-mode dstip --hashlimit-name h3f");
	compile();
	mk_udp("10.1.1.1", "10.9.9.9", 1, 1, 0, 64);
	pre(0);
	mk_udp("10.1.1.1", "10.9.9.8", 1, 2, 0, 64); /* keyed by srcip too: same bucket */
	pre(1 * MS);
	pre(2 * MS); /* third of burst 2 */
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 1);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 1);
}
END_TEST

/* ---- recent ---- */

/* One list, five rules. kernel (scenario recent): [3] set, [1] rcheck seconds 2 hitcount
 * 2, [2] update seconds 1, [1] rcheck, [1] remove. */
START_TEST(recent_set_check_update_remove)
{
	cmd("-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name r3");
	cmd("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --seconds 2 --hitcount 2 "
	    "--name r3");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m recent --update --seconds 1 --name r3");
	cmd("-t raw -A PREROUTING -p udp --dport 10 -m recent --rcheck --name r3");
	cmd("-t raw -A PREROUTING -p udp --dport 11 -m recent --remove --name r3");
	compile();
	static const struct {
		unsigned ms, port;
		int rule; /* the rule that matches, 0: none */
	} seq[] = {
	    {0, 8, 0},	  {100, 7, 1},	{200, 8, 0},   {300, 7, 1},   {400, 8, 2},
	    {2250, 8, 0}, {2350, 9, 0}, {2400, 10, 4}, {2500, 7, 1},  {3000, 9, 3},
	    {3900, 9, 3}, {5000, 9, 0}, {5100, 11, 5}, {5200, 10, 0}, {5300, 11, 0},
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint64_t before[6];
		for (int r = 1; r <= 5; r++)
			before[r] = hits("raw", "PREROUTING", (size_t)r);
		mk_udp("198.18.5.10", "198.19.3.2", 1, (uint16_t)seq[i].port, 0, 64);
		pre((uint64_t)seq[i].ms * MS);
		for (int r = 1; r <= 5; r++)
			ck_assert_msg((hits("raw", "PREROUTING", (size_t)r) > before[r]) ==
					  (r == seq[i].rule),
				      "step %zu (t=%u ms, port %u): rule %d", i, seq[i].ms,
				      seq[i].port, r);
	}
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 3);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 1);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 3), 2);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 4), 1);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 5), 1);
}
END_TEST

/* 100 addresses per list: the 101st drops the least recently seen. kernel (scenario
 * recent_lru): rcheck of the first address [0], of the second [1]. */
START_TEST(recent_list_size)
{
	cmd("-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name r3l");
	cmd("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name r3l");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m recent --rcheck --name r3l");
	compile();
	char a[32];
	for (int i = 1; i <= 101; i++) {
		snprintf(a, sizeof(a), "198.18.6.%d", i);
		mk_udp(a, "198.19.3.2", 1, 7, 0, 64);
		pre((uint64_t)i * MS);
	}
	mk_udp("198.18.6.1", "198.19.3.2", 1, 8, 0, 64);
	pre(200 * MS);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 0);
	mk_udp("198.18.6.2", "198.19.3.2", 1, 9, 0, 64);
	pre(210 * MS);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 3), 1);
}
END_TEST

/* --rdest, --mask (the list keeps the mask of the rule that created it), --rttl, "!", the
 * TTL as seen before forwarding, --reap. kernel (scenario recent_more, twice): every rule
 * [1] but the second --set [2], which the assertions below pin packet by packet. */
START_TEST(recent_dest_mask_ttl_reap_invert)
{
	cmd("-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name m --mask 255.255.255.0 "
	    "--rdest");
	cmd("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name m --rdest");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m recent --rcheck --name m --rttl --rdest");
	cmd("-t raw -A PREROUTING -p udp --dport 10 -m recent ! --rcheck --name m --rdest");
	cmd("-t raw -A PREROUTING -p udp --dport 18 -m recent --rcheck --rttl --name t");
	cmd("-t raw -A PREROUTING -p udp --dport 27 -m recent --set --name rp");
	cmd("-t raw -A PREROUTING -p udp --dport 28 -m recent --rcheck --seconds 1 --reap "
	    "--name rp");
	cmd("-t raw -A PREROUTING -p udp --dport 29 -m recent --rcheck --name rp");
	cmd("-A FORWARD -p udp --dport 17 -m recent --set --name t");
	cmd("-A FORWARD -p udp --dport 18 -m recent --rcheck --rttl --name t");
	compile();
	static const struct {
		unsigned us;
		const char *src, *dst;
		uint16_t port;
		uint8_t ttl;
		int raw_rule; /* the raw rule that matches, 0: none */
	} seq[] = {
	    {0, "10.0.0.1", "10.7.7.7", 7, 64, 1},
	    {1000, "10.0.0.2", "10.7.7.200", 8, 60, 2}, /* the list's /24 */
	    {2000, "10.0.0.2", "10.7.7.9", 9, 60, 0},	/* --rttl: 64 was recorded */
	    {3000, "10.0.0.2", "10.7.7.9", 9, 64, 3},
	    {4000, "10.0.0.2", "10.7.8.9", 10, 64, 4}, /* ! --rcheck, not listed */
	    {5000, "10.0.0.2", "10.7.7.9", 10, 64, 0},
	    {10000, "10.0.0.1", "198.19.3.2", 17, 64, 0}, /* FORWARD: --set, TTL 63 + 1 */
	    {11000, "10.0.0.1", "198.19.3.2", 18, 64, 5}, /* FORWARD and raw --rttl: 64 */
	    {100000, "10.0.0.1", "10.7.7.7", 27, 64, 6},
	    {1600000, "10.0.0.2", "10.7.7.7", 27, 64, 6},
	    {1700000, "10.0.0.2", "10.7.7.7", 28, 64, 7}, /* and .1 (1.6 s old) is reaped */
	    {1800000, "10.0.0.1", "10.7.7.7", 29, 64, 0},
	    {1810000, "10.0.0.2", "10.7.7.7", 29, 64, 8},
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint64_t b[9];
		for (int r = 1; r <= 8; r++)
			b[r] = hits("raw", "PREROUTING", (size_t)r);
		uint64_t f2 = hits("filter", "FORWARD", 2);
		mk_udp(seq[i].src, seq[i].dst, 1, seq[i].port, 0, seq[i].ttl);
		uint64_t now = (uint64_t)seq[i].us * 1000;
		pre(now);
		if (strcmp(seq[i].dst, "198.19.3.2") == 0) {
			/* forwarded: TTL decremented, out interface set */
			mk_udp(seq[i].src, seq[i].dst, 1, seq[i].port, 0,
			       (uint8_t)(seq[i].ttl - 1));
			struct pf_packet_meta m = meta(now, PF_CT_NEW);
			m.out_iface = "r1";
			at(PF_NF_FORWARD, &m);
		}
		for (int r = 1; r <= 8; r++)
			ck_assert_msg((hits("raw", "PREROUTING", (size_t)r) > b[r]) ==
					  (r == seq[i].raw_rule),
				      "step %zu: raw rule %d", i, r);
		ck_assert_int_eq(hits("filter", "FORWARD", 2) > f2, seq[i].port == 18);
	}
	ck_assert_uint_eq(hits("filter", "FORWARD", 1), 1);
}
END_TEST

/* The same change to the rule set and to the live engine: append the rule given by the
 * command, or delete rule n (1-based). */
static void live_append(const char *c)
{
	struct pf_error err;
	cmd(c);
	const pf_chain *ch = pf_table_chain(pf_ruleset_table(rs, "raw"), "PREROUTING");
	size_t n = pf_engine_rule_count(eng, "raw", "PREROUTING");
	ck_assert_int_eq(
	    pf_engine_insert_rule(eng, "raw", "PREROUTING", n, pf_chain_rule_at(ch, n), &err), 0);
}

static void live_delete(size_t n)
{
	struct pf_error err;
	char c[64];
	snprintf(c, sizeof(c), "-t raw -D PREROUTING %zu", n);
	cmd(c);
	ck_assert_int_eq(pf_engine_delete_rule(eng, "raw", "PREROUTING", n - 1, &err), 0);
}

/* A list lives while some rule names it (rules deleted and inserted in a live engine). */
START_TEST(recent_list_lifetime)
{
	cmd("-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name L");
	cmd("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name L");
	compile();
	mk_udp("10.0.0.1", "10.7.7.7", 1, 7, 0, 64);
	pre(0);
	live_delete(2);
	live_append("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name L");
	mk_udp("10.0.0.1", "10.7.7.7", 1, 8, 0, 64);
	pre(1 * MS); /* the --set rule kept the list: listed */
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 1);
	live_delete(2);
	live_delete(1);
	live_append("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name L");
	pre(2 * MS); /* a new, empty list */
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 0);
}
END_TEST

/* ---- statistic ---- */

/* kernel (scenario statistic, 100 packets): [33] every 3 packet 1, [25] every 4. */
START_TEST(statistic_nth)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m statistic --mode nth --every 3 --packet 1");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m statistic --mode nth --every 4 --packet 0 "
	    "-j DROP");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m statistic --mode nth ! --every 2 "
	    "--packet 0");
	compile();
	mk_udp("198.18.3.2", "198.19.3.2", 1000, 9, 0, 64);
	for (int i = 0; i < 100; i++) {
		uint64_t b = hits("raw", "PREROUTING", 1);
		enum pf_nf_verdict v = pre((uint64_t)i * MS);
		ck_assert_msg((hits("raw", "PREROUTING", 1) > b) == (i % 3 == 1), "packet %d", i);
		ck_assert_int_eq(v, i % 4 == 0 ? PF_NF_DROP : PF_NF_ACCEPT);
	}
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 33);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 2), 25);
	/* the third rule sees the 75 not dropped (i % 4 != 0); "!" matches its odd ones */
	ck_assert_uint_eq(hits("raw", "PREROUTING", 3), 37);
}
END_TEST

START_TEST(statistic_random)
{
	cmd("-t raw -A PREROUTING -m statistic --mode random --probability 0.25");
	cmd("-t raw -A PREROUTING -m statistic --mode random ! --probability 0.9");
	cmd("-t raw -A PREROUTING -m statistic --mode random --probability 0");
	cmd("-t raw -A PREROUTING -m statistic --mode random --probability 1");
	seed = 42;
	compile();
	mk_udp("198.18.3.2", "198.19.3.2", 1000, 9, 0, 64);
	bool pattern[64];
	for (int i = 0; i < 100000; i++) {
		uint64_t b = i < 64 ? hits("raw", "PREROUTING", 1) : 0;
		pre((uint64_t)i * MS);
		if (i < 64)
			pattern[i] = hits("raw", "PREROUTING", 1) > b;
	}
	uint64_t n1 = hits("raw", "PREROUTING", 1), n2 = hits("raw", "PREROUTING", 2);
	ck_assert_msg(n1 > 24000 && n1 < 26000, "p=0.25: %llu", (unsigned long long)n1);
	ck_assert_msg(n2 > 9500 && n2 < 10500, "! p=0.9: %llu", (unsigned long long)n2);
	ck_assert_uint_eq(hits("raw", "PREROUTING", 3), 0);
	/* p = 1 is 0x80000000: every 31-bit draw is below it */
	ck_assert_uint_eq(hits("raw", "PREROUTING", 4), 100000);

	/* the same seed gives the same draws; another seed others */
	compile();
	for (int i = 0; i < 64; i++) {
		uint64_t b = hits("raw", "PREROUTING", 1);
		pre((uint64_t)i * MS);
		ck_assert_int_eq(hits("raw", "PREROUTING", 1) > b, pattern[i]);
	}
	seed = 43;
	compile();
	int same = 0;
	for (int i = 0; i < 64; i++) {
		uint64_t b = hits("raw", "PREROUTING", 1);
		pre((uint64_t)i * MS);
		same += (hits("raw", "PREROUTING", 1) > b) == pattern[i];
	}
	ck_assert_int_lt(same, 64);
}
END_TEST

/* ---- connlimit ---- */

/* kernel (scenario connlimit, mangle PREROUTING after conntrack, SYNs forwarded to a silent
 * host): [4] above 2 mask 24, [1] upto 1 daddr, [0] above 2 mask 32 (all TCP: it sees the
 * RST that closes 198.18.5.10:2002, so the last SYN finds 2 connections, not 3). */
START_TEST(connlimit_above_upto_masks)
{
	cmd("-t mangle -A PREROUTING -p tcp --syn -m connlimit --connlimit-above 2 "
	    "--connlimit-mask 24");
	cmd("-t mangle -A PREROUTING -p tcp --syn -m connlimit --connlimit-upto 1 "
	    "--connlimit-daddr");
	cmd("-t mangle -A PREROUTING -p tcp -m connlimit --connlimit-above 2 --connlimit-mask 32");
	compile();
	static const struct {
		const char *src;
		uint16_t sport;
		uint8_t flags;
		bool m1, m2, m3;
	} seq[] = {
	    {"198.18.5.10", 2001, 0x02, false, true, false},
	    {"198.18.5.10", 2002, 0x02, false, false, false},
	    {"198.18.5.11", 2003, 0x02, true, false, false},
	    {"198.18.5.10", 2001, 0x02, true, false, false}, /* retransmission */
	    {"198.18.5.12", 2004, 0x02, true, false, false},
	    {"198.18.7.10", 2005, 0x02, false, false, false},
	    {"198.18.5.10", 2002, 0x04, false, false, false}, /* RST: 2002 closes */
	    {"198.18.5.10", 2006, 0x02, true, false, false},
	};
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint64_t b[4];
		for (int r = 1; r <= 3; r++)
			b[r] = hits("mangle", "PREROUTING", (size_t)r);
		mk_tcp(seq[i].src, "198.19.3.2", seq[i].sport, 80, seq[i].flags);
		struct pf_packet_meta m = meta((uint64_t)i * 50 * MS, PF_CT_NEW);
		at(PF_NF_PRE_ROUTING, &m);
		ck_assert_msg((hits("mangle", "PREROUTING", 1) > b[1]) == seq[i].m1, "step %zu r1",
			      i);
		ck_assert_msg((hits("mangle", "PREROUTING", 2) > b[2]) == seq[i].m2, "step %zu r2",
			      i);
		ck_assert_msg((hits("mangle", "PREROUTING", 3) > b[3]) == seq[i].m3, "step %zu r3",
			      i);
	}
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 1), 4);
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 2), 1);
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 3), 0);
}
END_TEST

/* Reply packets count the connection's original tuple in the group of their own source;
 * untracked packets are counted once and forgotten. */
START_TEST(connlimit_reply_and_untracked)
{
	cmd("-t mangle -A PREROUTING -m connlimit --connlimit-above 2 --connlimit-mask 0");
	compile();
	mk_tcp("10.0.0.1", "10.0.0.2", 1000, 80, 0x02);
	struct pf_packet_meta m = meta(0, PF_CT_NEW);
	at(PF_NF_PRE_ROUTING, &m); /* 1 connection */
	mk_tcp("10.0.0.2", "10.0.0.1", 80, 1000, 0x12);
	m = meta(1 * MS, PF_CT_ESTABLISHED | PF_CT_REPLY);
	at(PF_NF_PRE_ROUTING, &m); /* the same connection: 1 */
	mk_udp("10.0.0.3", "10.0.0.2", 5, 5, 0, 64);
	m = meta(2 * MS, PF_CT_INVALID);
	at(PF_NF_PRE_ROUTING, &m); /* 2: counted */
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 1), 0);
	mk_tcp("10.0.0.1", "10.0.0.2", 1001, 80, 0x02);
	m = meta(3 * MS, PF_CT_NEW);
	at(PF_NF_PRE_ROUTING, &m); /* the invalid one is gone, a new one: 2 */
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 1), 0);
	mk_udp("10.0.0.3", "10.0.0.2", 5, 5, 0, 64);
	m = meta(4 * MS, PF_CT_INVALID);
	at(PF_NF_PRE_ROUTING, &m); /* 3 */
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 1), 1);
	/* an untracked non-first fragment has no tuple: hotdrop */
	mk_udp("10.0.0.3", "10.0.0.2", 5, 5, 0, 64);
	put16(pkt + 6, 0x0001);
	put16(pkt + 10, 0);
	put16(pkt + 10, csum(pkt, 20, 0));
	m = meta(5 * MS, PF_CT_UNTRACKED);
	ck_assert_int_eq(at(PF_NF_PRE_ROUTING, &m), PF_NF_DROP);
}
END_TEST

/* In the raw table conntrack has not run yet: the packet's own tuple is counted, and it
 * stays when conntrack then tracks the packet; an INVALID packet's is forgotten at the
 * next count. kernel (scenario connlimit_raw: three SYNs, a SYN+FIN, a SYN): [4] in raw
 * and [4] in mangle. */
START_TEST(connlimit_raw_table)
{
	cmd("-t raw -A PREROUTING -p tcp -m connlimit --connlimit-above 1 --connlimit-mask 0");
	cmd("-t mangle -A PREROUTING -p tcp -m connlimit --connlimit-above 1 --connlimit-mask 0");
	compile();
	for (int i = 0; i < 5; i++) {
		mk_tcp("198.18.5.10", "198.19.3.2", (uint16_t)(3000 + i), 80, i == 3 ? 0x03 : 0x02);
		struct pf_packet_meta m =
		    meta((uint64_t)i * 50 * MS, i == 3 ? PF_CT_INVALID : PF_CT_NEW);
		at(PF_NF_PRE_ROUTING, &m);
	}
	ck_assert_uint_eq(hits("raw", "PREROUTING", 1), 4);
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 1), 4);
	/* a non-first fragment has no tuple without an entry: hotdrop in raw */
	mk_tcp("198.18.5.10", "198.19.3.2", 3009, 80, 0x02);
	put16(pkt + 6, 0x0001);
	put16(pkt + 10, 0);
	put16(pkt + 10, csum(pkt, 20, 0));
	struct pf_packet_meta m = meta(SEC, PF_CT_NEW);
	ck_assert_int_eq(at(PF_NF_PRE_ROUTING, &m), PF_NF_DROP);
	ck_assert_uint_eq(hits("mangle", "PREROUTING", 1), 4);
}
END_TEST

static Suite *rate_suite(void)
{
	Suite *s = suite_create("eval_rate");
	TCase *tc = tcase_create("rate");
	tcase_add_checked_fixture(tc, setup, fixture_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, limit_burst_then_rate);
	tcase_add_test(tc, limit_slow_divide_first);
	tcase_add_test(tc, hashlimit_per_srcip);
	tcase_add_test(tc, hashlimit_bytes);
	tcase_add_test(tc, hashlimit_max_and_gc);
	tcase_add_test(tc, hashlimit_rate_match);
	tcase_add_test(tc, hashlimit_masks_ports_above);
	tcase_add_test(tc, hashlimit_shared_table);
	tcase_add_test(tc, recent_set_check_update_remove);
	tcase_add_test(tc, recent_list_size);
	tcase_add_test(tc, recent_dest_mask_ttl_reap_invert);
	tcase_add_test(tc, recent_list_lifetime);
	tcase_add_test(tc, statistic_nth);
	tcase_add_test(tc, statistic_random);
	tcase_add_test(tc, connlimit_above_upto_masks);
	tcase_add_test(tc, connlimit_reply_and_untracked);
	tcase_add_test(tc, connlimit_raw_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(rate_suite());
}
