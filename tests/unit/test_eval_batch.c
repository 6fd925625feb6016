/*
 * test_eval_batch.c - pf_engine_eval_batch against pf_engine_eval called once per packet, in
 * order: two engines compiled from the same rule set with the same seed, one judging packets
 * one by one and the other in batches of random sizes (across the 32-packet look-ahead
 * window), must give the same rc, verdict, mark, packet bytes, trace, REJECT reply and, at
 * the end, the same per-rule counters. The rule sets carry the stateful matches whose result
 * depends on the order of the packets (statistic nth and random, limit, hashlimit, recent
 * --set/--rcheck/--update), non-terminal MARK and TTL targets (a packet changes between
 * lookups), jumps, gotos and RETURN, and a chain large enough for the hashed matcher to look
 * the batch ahead. Deterministic cases show the order itself (nth counters and recent lists
 * seen packet after packet within one batch), malformed packets in a batch and NULL meta.
 */
#include "helpers.h"

/* ---- random rule sets ---- */

static const char *const uchains[] = {"U1", "U2", "U3"};

/* A rule body (without -A CHAIN) for chain level lvl (0: a built-in chain; user chains only
 * jump to later ones, so there is no loop). mangle: targets of the mangle table too. */
static void rule_text(char *r, size_t n, int lvl, bool mangle)
{
	r[0] = '\0';
	if (pick(3))
		cat(r, n, "%s-s 10.%u.%u.0/%u ", pick(10) ? "" : "! ", pick(2), pick(4),
		    16 + 8 * pick(2));
	if (pick(3))
		cat(r, n, "-d 10.%u.%u.%u/%u ", pick(2), pick(4), pick(4), 24 + 8 * pick(2));
	if (!pick(8))
		cat(r, n, "-i %s ", pick(2) ? "eth0" : "eth+");
	unsigned proto = pick(8);
	if (proto < 3) {
		cat(r, n, "-p tcp ");
		if (pick(2))
			cat(r, n, "--dport %u%s ", 20 + pick(5), pick(4) ? "" : ":80");
		if (!pick(6))
			cat(r, n, "--syn ");
	} else if (proto < 5) {
		cat(r, n, "-p udp ");
		if (pick(2))
			cat(r, n, "%s--dport %u ", pick(6) ? "" : "! ", 50 + pick(6));
	} else if (proto == 5) {
		cat(r, n, "-p icmp ");
	}
	if (!pick(6))
		cat(r, n, "-m mark --mark 0x%x/0x3 ", pick(4));
	switch (pick(12)) {
	case 0:
		cat(r, n, "-m statistic --mode nth --every %u --packet %u ", 2 + pick(3), pick(2));
		break;
	case 1:
		cat(r, n, "-m statistic --mode random --probability 0.%u ", 2 + pick(7));
		break;
	case 2:
		cat(r, n, "-m recent --name R%u --set ", pick(2));
		break;
	case 3:
		cat(r, n, "-m recent --name R%u --rcheck --seconds 5 ", pick(2));
		break;
	case 4:
		cat(r, n, "-m recent --name R%u --update --hitcount 2 ", pick(2));
		break;
	case 5:
		cat(r, n, "-m limit --limit %u/sec --limit-burst %u ", 1 + pick(5), 1 + pick(4));
		break;
	case 6:
		cat(r, n,
		    "-m hashlimit --hashlimit-upto %u/sec --hashlimit-burst 2 --hashlimit-mode "
		    "srcip --hashlimit-name H%u ",
		    1 + pick(4), pick(2));
		break;
	default:
		break;
	}
	unsigned t = pick(14);
	if (t < 3 && lvl < 3)
		cat(r, n, "-%c %s", pick(4) ? 'j' : 'g', uchains[lvl + pick(3 - (unsigned)lvl)]);
	else if (t < 5 && mangle)
		cat(r, n, "-j MARK --set-xmark 0x%x/0x3", pick(4));
	else if (t == 5 && mangle)
		cat(r, n, "-j TTL --ttl-dec 1");
	else if (t < 7)
		cat(r, n, "-j ACCEPT");
	else if (t < 9)
		cat(r, n, "-j DROP");
	else if (t == 9 && !mangle)
		cat(r, n, "-j REJECT");
	else if (t == 10 && lvl > 0)
		cat(r, n, "-j RETURN");
	/* else a counting rule */
}

/* Rules in mangle and filter FORWARD and their user chains; with big, a long filter chain
 * of exact /32 rules in front (the hashed matcher looks ahead only in large chains). */
static pf_ruleset *random_ruleset(unsigned nrules, bool big)
{
	pf_ruleset *rs = pf_ruleset_new();
	for (int t = 0; t < 2; t++) {
		const char *tb = t ? "filter" : "mangle";
		for (int c = 0; c < 3; c++)
			cmdf(rs, "-t %s -N %s", tb, uchains[c]);
		if (pick(2))
			cmdf(rs, "-t %s -P FORWARD DROP", tb);
	}
	if (big) {
		cmdf(rs, "-N BIG");
		cmdf(rs, "-A FORWARD -j BIG");
		for (unsigned i = 0; i < 3000; i++)
			cmdf(rs, "-A BIG -d 10.%u.%u.%u/32 -p %s --dport %u -j %s", i / 1000,
			     (i / 4) % 4, i % 250, i % 3 ? "tcp" : "udp", 20 + i % 40,
			     i % 5 == 0 ? "DROP" : uchains[i % 3]);
	}
	for (unsigned i = 0; i < nrules; i++) {
		bool mangle = pick(3) == 0;
		int lvl = pick(2) ? 0 : 1 + (int)pick(3);
		char r[512];
		rule_text(r, sizeof(r), lvl, mangle);
		cmdf(rs, "-t %s -A %s %s", mangle ? "mangle" : "filter",
		     lvl ? uchains[lvl - 1] : "FORWARD", r);
	}
	return rs;
}

/* ---- packets ---- */

struct pkt {
	uint8_t b[64];
	size_t len;
	struct pf_packet_meta meta;
	bool nometa;
};

static void random_packet(struct pkt *p, uint64_t now)
{
	static const uint8_t protos[] = {6, 6, 6, 17, 17, 1};
	static const char *const ifs[] = {"eth0", "eth1", "veth1"};
	uint8_t proto = protos[pick(sizeof(protos))];
	size_t len = proto == 6 ? 40 : 28 + pick(8);
	memset(p, 0, sizeof(*p));
	uint8_t *b = p->b;
	b[0] = 0x45;
	b[8] = (uint8_t)(1 + pick(64));
	b[9] = proto;
	b[12] = 10;
	b[13] = (uint8_t)pick(2);
	b[14] = (uint8_t)pick(4);
	b[15] = (uint8_t)pick(4);
	b[16] = 10;
	b[17] = (uint8_t)pick(3);
	b[18] = (uint8_t)pick(4);
	b[19] = (uint8_t)pick(250);
	uint16_t sp = (uint16_t)(1000 + pick(4)),
		 dp = (uint16_t)(pick(2) ? 20 + pick(40) : 50 + pick(6));
	b[20] = (uint8_t)(sp >> 8);
	b[21] = (uint8_t)sp;
	b[22] = (uint8_t)(dp >> 8);
	b[23] = (uint8_t)dp;
	if (pick(2)) {
		/* to a rule of the large chain (random_ruleset with big) */
		unsigned i = pick(3000);
		proto = i % 3 ? 6 : 17;
		len = proto == 6 ? 40 : 28;
		b[9] = proto;
		b[17] = (uint8_t)(i / 1000);
		b[18] = (uint8_t)((i / 4) % 4);
		b[19] = (uint8_t)(i % 250);
		b[22] = 0;
		b[23] = (uint8_t)(20 + i % 40);
	}
	if (proto == 6) {
		b[32] = 0x50;
		b[33] = pick(2) ? 0x02 : 0x10;
	} else if (proto == 17) {
		b[24] = 0;
		b[25] = (uint8_t)(len - 20);
	} else {
		b[20] = 8; /* echo request */
	}
	if (!pick(30)) {
		b[6] = 0x00;
		b[7] = (uint8_t)(1 + pick(3)); /* a later fragment */
	}
	if (!pick(40))
		len = 20 + pick(4); /* transport header cut short */
	if (!pick(50))
		b[0] = 0x44; /* malformed: ihl 4, dropped before any hook */
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	p->len = len;
	p->nometa = !pick(20);
	p->meta = (struct pf_packet_meta){.in_iface = ifs[pick(3)],
					  .out_iface = "eth1",
					  .mark = pick(3) ? 0 : pick(4),
					  .now_ns = now};
}

static void same_result(const struct pf_eval_result *a, const struct pf_eval_result *b, size_t i)
{
	ck_assert_msg(a->verdict == b->verdict, "packet %zu: verdict %d / %d", i, a->verdict,
		      b->verdict);
	ck_assert_uint_eq(a->mark, b->mark);
	ck_assert_uint_eq(a->ctmark, b->ctmark);
	ck_assert_int_eq(a->mark_changed, b->mark_changed);
	ck_assert_int_eq(a->packet_changed, b->packet_changed);
	ck_assert_uint_eq(a->queue_num, b->queue_num);
	ck_assert_uint_eq(a->priority, b->priority);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert_uint_eq(a->reply_len, b->reply_len);
	ck_assert_int_eq(memcmp(a->reply, b->reply, a->reply_len), 0);
	ck_assert_uint_eq(a->ntrace, b->ntrace);
	for (unsigned k = 0; k < a->ntrace; k++) {
		ck_assert_str_eq(a->trace[k].table, b->trace[k].table);
		ck_assert_str_eq(a->trace[k].chain, b->trace[k].chain);
		ck_assert_uint_eq(a->trace[k].rulenum, b->trace[k].rulenum);
	}
}

#define MAXB 80

/* n packets through `single' one call each and through `batched' in batches of random sizes
 * (1..MAXB): everything must agree, packet by packet and in the counters. */
static void run_both(pf_engine *single, pf_engine *batched, unsigned n, uint64_t *now)
{
	static struct pkt p[MAXB], q[MAXB];
	static struct pf_eval_result rs[MAXB], rb[MAXB];
	struct pf_batch_item items[MAXB];
	for (unsigned done = 0; done < n;) {
		unsigned m = 1 + pick(MAXB);
		if (m > n - done)
			m = n - done;
		for (unsigned i = 0; i < m; i++) {
			*now += pick(3) ? 20000000ull : 400000000ull;
			random_packet(&p[i], *now);
			q[i] = p[i];
			items[i] = (struct pf_batch_item){
			    .buf = q[i].b,
			    .len = q[i].len,
			    .buflen = sizeof(q[i].b),
			    .meta = q[i].nometa ? NULL : &q[i].meta,
			    .res = &rb[i],
			    .rc = 12345,
			};
		}
		int brc = pf_engine_eval_batch(batched, PF_NF_FORWARD, items, m);
		bool anybad = false;
		for (unsigned i = 0; i < m; i++) {
			int rc =
			    pf_engine_eval(single, PF_NF_FORWARD, p[i].b, p[i].len, sizeof(p[i].b),
					   p[i].nometa ? NULL : &p[i].meta, &rs[i]);
			ck_assert_int_eq(items[i].rc, rc);
			anybad |= rc != 0;
			same_result(&rs[i], &rb[i], done + i);
			ck_assert_int_eq(memcmp(p[i].b, q[i].b, sizeof(p[i].b)), 0);
		}
		ck_assert_int_eq(brc, anybad ? -1 : 0);
		done += m;
	}
	char *ta = engine_text(single, PF_SAVE_COUNTERS),
	     *tb = engine_text(batched, PF_SAVE_COUNTERS);
	if (strcmp(ta, tb)) {
		/* the first line that differs (the whole texts are too long for Check) */
		size_t i = 0, line = 1;
		while (ta[i] == tb[i])
			line += ta[i++] == '\n';
		while (i > 0 && ta[i - 1] != '\n')
			i--;
		ck_abort_msg("counters differ at line %zu:\n  %.160s\n  %.160s", line, ta + i,
			     tb + i);
	}
	free(ta);
	free(tb);
}

/* ---- tests ---- */

/* Random rule sets with stateful matches, both matchers, small sets and one with a large
 * indexed chain: batches give what the calls in order give. */
START_TEST(batch_equals_single_calls)
{
	for (unsigned seed = 1; seed <= 24; seed++) {
		rng = 0x9E3779B97F4A7C15ULL * seed;
		bool big = seed % 3 == 0;
		pf_ruleset *rs = random_ruleset(20 + pick(120), big);
		enum pf_matcher_kind m = seed % 4 == 1 ? PF_MATCHER_LINEAR : PF_MATCHER_HASHED;
		pf_engine *a = new_engine(rs, m, seed), *b = new_engine(rs, m, seed);
		uint64_t now = 1000000000ull;
		run_both(a, b, big ? 3000 : 1500, &now);
		pf_engine_free(a);
		pf_engine_free(b);
		pf_ruleset_free(rs);
	}
}
END_TEST

/* The batch engine keeps agreeing after single-rule changes made to both between batches
 * (the look-ahead's knowledge of chains is renewed by a flush of a jump target). */
START_TEST(batch_after_changes)
{
	rng = 4242;
	pf_ruleset *rs = random_ruleset(60, true);
	pf_engine *a = new_engine(rs, PF_MATCHER_HASHED, 3),
		  *b = new_engine(rs, PF_MATCHER_HASHED, 3);
	uint64_t now = 1000000000ull;
	struct pf_error err;
	run_both(a, b, 500, &now);
	/* Empty U2 (a jump target of the large chain) and fill it again. */
	pf_engine *e[2] = {a, b};
	pf_ruleset *other = pf_ruleset_new();
	cmdf(other, "-N U2");
	cmdf(other, "-A U2 -p tcp -j DROP");
	cmdf(other, "-A U2 -m statistic --mode nth --every 2 --packet 0 -j REJECT");
	const pf_chain *u2 = pf_table_chain(pf_ruleset_table(other, "filter"), "U2");
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(pf_engine_flush_chain(e[k], "filter", "U2", &err), 0);
		ck_assert_int_eq(
		    pf_engine_insert_rule(e[k], "filter", "U2", 0, pf_chain_rule_at(u2, 0), &err),
		    0);
		ck_assert_int_eq(
		    pf_engine_insert_rule(e[k], "filter", "U2", 1, pf_chain_rule_at(u2, 1), &err),
		    0);
		ck_assert_int_eq(pf_engine_delete_rule(e[k], "filter", "BIG", 7, &err), 0);
	}
	run_both(a, b, 1500, &now);
	pf_ruleset_free(other);
	pf_engine_free(a);
	pf_engine_free(b);
	pf_ruleset_free(rs);
}
END_TEST

static size_t udp_packet(uint8_t *b, uint8_t src_last)
{
	static const uint8_t t[28] = {0x45, 0, 0,  28, 0, 0, 0,	   0,	 64, 17, 0, 0, 10, 0,
				      0,    1, 10, 1,  0, 2, 0x30, 0x39, 0,  53, 0, 8, 0,  0};
	memcpy(b, t, sizeof(t));
	b[15] = src_last;
	return sizeof(t);
}

/* Within one batch, every packet sees the state the ones before it left: the nth counter
 * advances packet by packet, a recent list entry set by one packet is found by the next. */
START_TEST(batch_order_is_kept)
{
	pf_ruleset *rs = pf_ruleset_new();
	cmdf(rs, "-A FORWARD -p udp -m statistic --mode nth --every 3 --packet 1 -j DROP");
	cmdf(rs, "-A FORWARD -s 10.0.0.7 -m recent --name seen --rcheck -j REJECT");
	cmdf(rs, "-A FORWARD -s 10.0.0.7 -m recent --name seen --set -j ACCEPT");
	for (int m = 0; m < 2; m++) {
		pf_engine *e = new_engine(rs, m ? PF_MATCHER_HASHED : PF_MATCHER_LINEAR, 1);
		enum { N = 40 };
		static uint8_t bufs[N][64];
		static struct pf_eval_result res[N];
		struct pf_batch_item it[N];
		for (int i = 0; i < N; i++) {
			size_t len = udp_packet(bufs[i], i == 2 || i == 5 ? 7 : 1);
			if (i == 10)
				bufs[i][0] = 0x44; /* ihl 4: malformed */
			it[i] = (struct pf_batch_item){bufs[i], len, 64, NULL, &res[i], 99};
		}
		ck_assert_int_eq(pf_engine_eval_batch(e, PF_NF_FORWARD, it, N), -1);
		/* Packet 10 is dropped before any hook and not counted: the nth counter sees the
		 * others in order, 0 1 2 3... so packets 1, 4, 7, 11 (the 10th counted)... drop. */
		unsigned counted = 0;
		for (int i = 0; i < N; i++) {
			if (i == 10) {
				ck_assert_int_eq(it[i].rc, -1);
				ck_assert_int_eq(res[i].verdict, PF_NF_DROP);
				ck_assert_uint_eq(res[i].len, 28);
				continue;
			}
			ck_assert_int_eq(it[i].rc, 0);
			enum pf_nf_verdict want = counted % 3 == 1 ? PF_NF_DROP : PF_NF_ACCEPT;
			/* 10.0.0.7: packet 2 sets the list entry, packet 5 finds it (REJECT is a
			 * drop with a reply) */
			if (i == 5 && want == PF_NF_ACCEPT) {
				ck_assert_int_eq(res[i].verdict, PF_NF_DROP);
				ck_assert_uint_gt(res[i].reply_len, 0);
			} else {
				ck_assert_msg(res[i].verdict == want, "packet %d: %d", i,
					      res[i].verdict);
			}
			counted++;
		}
		pf_engine_free(e);
	}
	pf_ruleset_free(rs);
}
END_TEST

/* Empty batches and a hook out of range. */
START_TEST(batch_edges)
{
	pf_ruleset *rs = pf_ruleset_new();
	cmdf(rs, "-A FORWARD -j DROP");
	pf_engine *e = new_engine(rs, PF_MATCHER_HASHED, 1);
	ck_assert_int_eq(pf_engine_eval_batch(e, PF_NF_FORWARD, NULL, 0), 0);
	uint8_t b[64];
	struct pf_eval_result r;
	struct pf_batch_item it = {b, udp_packet(b, 1), sizeof(b), NULL, &r, 0};
	ck_assert_int_eq(pf_engine_eval_batch(e, (enum pf_nf_hook)9, &it, 1), -1);
	ck_assert_int_eq(it.rc, -1);
	ck_assert_int_eq(pf_engine_eval_batch(e, PF_NF_FORWARD, &it, 1), 0);
	ck_assert_int_eq(it.rc, 0);
	ck_assert_int_eq(r.verdict, PF_NF_DROP);
	/* One res for several items: each packet's result is written when it is judged, so the
	 * last one is what is left (a malformed first packet does not leak into it). */
	uint8_t b2[64], b3[64];
	struct pf_batch_item three[3] = {{b, udp_packet(b, 1), sizeof(b), NULL, &r, 0},
					 {b2, udp_packet(b2, 2), sizeof(b2), NULL, &r, 0},
					 {b3, udp_packet(b3, 3), sizeof(b3), NULL, &r, 0}};
	b[0] = 0x44;
	ck_assert_int_eq(pf_engine_eval_batch(e, PF_NF_FORWARD, three, 3), -1);
	ck_assert_int_eq(three[0].rc, -1);
	ck_assert_int_eq(three[2].rc, 0);
	ck_assert_int_eq(r.verdict, PF_NF_DROP);
	ck_assert_uint_eq(r.len, 28);
	ck_assert_uint_eq(r.ntrace, 1); /* the last packet's trace, not three */
	pf_engine_free(e);
	pf_ruleset_free(rs);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("eval_batch");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, batch_equals_single_calls);
	tcase_add_test(tc, batch_after_changes);
	tcase_add_test(tc, batch_order_is_kept);
	tcase_add_test(tc, batch_edges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
