/*
 * test_matcher_hashed.c - the hashed matcher against the linear one (the reference): random
 * rule sets and random packets (seeded), identical verdicts, marks, traces and per-rule
 * counters; single-rule insert/delete/replace on live engines against the same changes made
 * to a rule set and against a fresh build; relabelling under many inserts at one place; the
 * API's refusals; memory statistics.
 *
 * The rule sets mix what the index uses (prefixes, protocols, ports, interfaces, marks) with
 * what it must leave in rule order: inversions, fragments, non-terminal MARK (the packet
 * changes between lookups), jumps/gotos/RETURN, statistic nth/random counters, recent
 * --set/--rcheck (state shared between rules), limit token buckets, tcp options (hotdrop on
 * cut options), multiport lists, and packets the transport matches hotdrop (cut headers,
 * offset-8 fragments).
 */
#include "helpers.h"

/* ---- rule text ---- */

static const char *const chains[] = {"FORWARD", "U1", "U2", "U3"};
#define NCHAINS 4

static void addr(char *b, size_t n)
{
	static const unsigned lens[] = {0, 8, 16, 22, 24, 24, 28, 31, 32, 32, 32};
	unsigned len = lens[pick(sizeof(lens) / sizeof(lens[0]))];
	snprintf(b, n, "10.%u.%u.%u/%u", pick(3), pick(3), pick(6), len);
}

static void port(char *b, size_t n)
{
	static const unsigned pool[] = {22, 53, 80, 443, 1024, 8080};
	unsigned a = pool[pick(6)];
	switch (pick(4)) {
	case 0:
		snprintf(b, n, "%u:%u", a, a + pick(3000));
		break;
	case 1:
		snprintf(b, n, "%u:%u", a & ~63u, (a & ~63u) + 63);
		break;
	default:
		snprintf(b, n, "%u", a);
		break;
	}
}

/* A random rule body for a chain of the mangle table (everything but -A CHAIN). */
static void rule_text(char *r, size_t n, int chain)
{
	char b[64];
	r[0] = '\0';
	if (pick(3)) {
		addr(b, sizeof(b));
		cat(r, n, "%s-s %s ", pick(8) ? "" : "! ", b);
	}
	if (pick(3)) {
		addr(b, sizeof(b));
		cat(r, n, "%s-d %s ", pick(8) ? "" : "! ", b);
	}
	if (!pick(6))
		cat(r, n, "%s-i %s ", pick(6) ? "" : "! ",
		    pick(2)   ? "eth0"
		    : pick(2) ? "eth+"
			      : "veth1");
	if (!pick(8))
		cat(r, n, "-o %s ", pick(2) ? "eth1" : "e+");
	if (!pick(15))
		cat(r, n, "%s-f ", pick(3) ? "" : "! ");
	unsigned proto = pick(10);
	if (proto < 4) {
		cat(r, n, "-p tcp ");
		if (pick(3)) {
			port(b, sizeof(b));
			cat(r, n, "%s--dport %s ", pick(8) ? "" : "! ", b);
		}
		if (!pick(3)) {
			port(b, sizeof(b));
			cat(r, n, "--sport %s ", b);
		}
		if (!pick(8))
			cat(r, n, "--syn ");
		if (!pick(12))
			cat(r, n, "--tcp-option 2 ");
	} else if (proto < 7) {
		cat(r, n, "-p udp ");
		if (pick(3)) {
			port(b, sizeof(b));
			cat(r, n, "%s--dport %s ", pick(8) ? "" : "! ", b);
		}
	} else if (proto == 7) {
		cat(r, n, "%s-p icmp ", pick(5) ? "" : "! ");
	}
	if (proto < 7 && !pick(5)) {
		/* multiport: one port or range (exact), lists with holes, inverted, either side */
		static const char *const opt[] = {"--dports", "--dports", "--sports", "--ports"};
		static const unsigned pool[] = {22, 53, 80, 443, 1024, 8080};
		cat(r, n, "-m multiport %s%s ", pick(6) ? "" : "! ", opt[pick(4)]);
		for (unsigned e = 1 + pick(3), k = 0; k < e; k++) {
			unsigned a = pool[pick(6)];
			if (pick(3))
				cat(r, n, "%s%u", k ? "," : "", a);
			else /* a range: its ends must differ */
				cat(r, n, "%s%u:%u", k ? "," : "", a, a + 1 + pick(3000));
		}
		cat(r, n, " ");
	}
	if (!pick(6))
		cat(r, n, "-m mark %s--mark 0x%x/0x%x ", pick(5) ? "" : "! ", pick(4),
		    pick(2) ? 3 : 1);
	switch (pick(14)) {
	case 0:
		cat(r, n, "-m statistic --mode nth --every %u --packet %u ", 2 + pick(3), pick(2));
		break;
	case 1:
		cat(r, n, "-m statistic --mode random --probability 0.5 ");
		break;
	case 2:
		cat(r, n, "-m recent --name L%u --set ", pick(2));
		break;
	case 3:
		cat(r, n, "-m recent --name L%u --rcheck ", pick(2));
		break;
	case 4:
		cat(r, n, "-m limit --limit 2/sec --limit-burst 3 ");
		break;
	case 5:
		cat(r, n, "-m comment --comment c%u ", pick(9));
		break;
	default:
		break;
	}
	/* Target: chains only jump forward (U1 -> U2 -> U3), so there is no loop. */
	unsigned t = pick(12);
	if (t < 2 && chain < NCHAINS - 1)
		cat(r, n, "-%c %s", pick(4) ? 'j' : 'g',
		    chains[chain + 1 + pick(NCHAINS - 1 - chain)]);
	else if (t < 4)
		cat(r, n, "-j MARK --set-xmark 0x%x/0x3", pick(4));
	else if (t < 6)
		cat(r, n, "-j ACCEPT");
	else if (t < 8)
		cat(r, n, "-j DROP");
	else if (t < 9 && chain > 0)
		cat(r, n, "-j RETURN");
	/* else: no target, a counting rule */
}

static pf_ruleset *random_ruleset(unsigned nrules)
{
	pf_ruleset *rs = pf_ruleset_new();
	for (int c = 1; c < NCHAINS; c++)
		ck_assert_int_eq(try_cmdf(rs, "-t mangle -N %s", chains[c]), 0);
	try_cmdf(rs, "-t mangle -P FORWARD %s", pick(2) ? "ACCEPT" : "DROP");
	for (unsigned i = 0; i < nrules; i++) {
		int c = pick(3) ? 0 : 1 + (int)pick(NCHAINS - 1);
		char r[512];
		rule_text(r, sizeof(r), c);
		ck_assert_msg(try_cmdf(rs, "-t mangle -A %s %s", chains[c], r) == 0, "%s", r);
	}
	/* And a little of the filter table after mangle at the same hook. */
	try_cmdf(rs, "-A FORWARD -p tcp --dport 22 -j DROP");
	try_cmdf(rs, "-A FORWARD -m mark --mark 0x1/0x3 -j DROP");
	return rs;
}

/* ---- packets ---- */

static size_t random_packet(uint8_t *b, size_t cap, const char **in, const char **out,
			    uint32_t *mark)
{
	static const uint8_t protos[] = {6, 6, 6, 17, 17, 1, 47};
	static const uint16_t ports[] = {22, 53, 80, 443, 1024, 1100, 8080, 8090, 60000};
	static const char *const ifs[] = {"eth0", "eth1", "veth1", "ethx", "e", "lo"};
	uint8_t proto = protos[pick(sizeof(protos))];
	size_t len = proto == 6 ? 40 + (pick(3) ? 0 : 4) : 28 + pick(20);
	if (!pick(25))
		len = 20 + pick(12); /* transport header cut short */
	if (len > cap)
		len = cap;
	memset(b, 0, len);
	b[0] = 0x45;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	unsigned frag = pick(20);
	uint16_t ff = frag == 0	  ? 1
		      : frag == 1 ? (uint16_t)(2 + pick(100))
		      : frag == 2 ? 0x2000
				  : 0;
	b[6] = (uint8_t)(ff >> 8);
	b[7] = (uint8_t)ff;
	b[8] = 64;
	b[9] = proto;
	b[12] = 10;
	b[13] = (uint8_t)pick(3);
	b[14] = (uint8_t)pick(3);
	b[15] = (uint8_t)pick(8);
	b[16] = 10;
	b[17] = (uint8_t)pick(3);
	b[18] = (uint8_t)pick(3);
	b[19] = (uint8_t)pick(8);
	if (len >= 24) {
		uint16_t sp = ports[pick(9)], dp = ports[pick(9)];
		if (!pick(4))
			dp = (uint16_t)(dp + pick(200));
		b[20] = (uint8_t)(sp >> 8);
		b[21] = (uint8_t)sp;
		b[22] = (uint8_t)(dp >> 8);
		b[23] = (uint8_t)dp;
	}
	if (proto == 6 && len >= 40) {
		b[32] = len > 40 ? 0x60 : 0x50;
		b[33] = (uint8_t)(pick(2) ? 0x02 : pick(64));
		if (len > 40) {
			b[40] = pick(2) ? 2 : 1; /* MSS or NOP */
			b[41] = 4;
		}
	}
	*in = ifs[pick(6)];
	*out = ifs[pick(6)];
	*mark = pick(3) ? 0 : pick(4);
	return len;
}

/* ---- comparison ---- */

/* Only the rule lines ("-A ..."): policy counters are printed even without -c. */
static char *rules_only(char *t)
{
	char *w = t;
	for (char *l = t; *l;) {
		char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) + 1 : strlen(l);
		if (l[0] == '-') {
			memmove(w, l, n);
			w += n;
		}
		l += n;
	}
	*w = '\0';
	return t;
}

static char *rs_text(const pf_ruleset *r)
{
	return rules_only(ruleset_text(r, NULL, 0));
}

static struct pf_eval_result ra, rb;

/* One random packet through engines a and b; everything they report must agree. */
static void judge_both(pf_engine *a, pf_engine *b, uint64_t now, bool traces)
{
	uint8_t pa[64], pb[64];
	const char *in, *out;
	uint32_t mark;
	size_t len = random_packet(pa, sizeof(pa), &in, &out, &mark);
	memcpy(pb, pa, sizeof(pa));
	struct pf_packet_meta meta = {
	    .in_iface = in, .out_iface = out, .mark = mark, .now_ns = now};
	int xa = pf_engine_eval(a, PF_NF_FORWARD, pa, len, sizeof(pa), &meta, &ra);
	int xb = pf_engine_eval(b, PF_NF_FORWARD, pb, len, sizeof(pb), &meta, &rb);
	ck_assert_int_eq(xa, xb);
	ck_assert_int_eq(ra.verdict, rb.verdict);
	ck_assert_uint_eq(ra.mark, rb.mark);
	ck_assert_int_eq(memcmp(pa, pb, len), 0);
	if (!traces)
		return;
	ck_assert_uint_eq(ra.ntrace, rb.ntrace);
	for (unsigned i = 0; i < ra.ntrace; i++) {
		ck_assert_str_eq(ra.trace[i].chain, rb.trace[i].chain);
		ck_assert_uint_eq(ra.trace[i].rulenum, rb.trace[i].rulenum);
	}
}

/* Texts must be equal; on a difference, say where (the whole texts are too long for Check). */
static void same_text(const char *what, const char *ta, const char *tb)
{
	if (strcmp(ta, tb) == 0)
		return;
	size_t i = 0, line = 1;
	while (ta[i] == tb[i]) {
		if (ta[i] == '\n')
			line++;
		i++;
	}
	size_t s = i;
	while (s > 0 && ta[s - 1] != '\n')
		s--;
	ck_abort_msg("%s differ at line %zu:\n  %.160s\n  %.160s", what, line, ta + s, tb + s);
}

static void same_counters(pf_engine *a, pf_engine *b)
{
	char *ta = engine_text(a, PF_SAVE_COUNTERS), *tb = engine_text(b, PF_SAVE_COUNTERS);
	same_text("counters", ta, tb);
	free(ta);
	free(tb);
}

/* ---- tests ---- */

/* Random rule sets, random packets: the same verdict, mark, packet bytes, trace and counters.
 * Sizes cross the threshold below which a chain is scanned. */
START_TEST(differential_random)
{
	for (unsigned seed = 1; seed <= 60; seed++) {
		rng = 0x9E3779B97F4A7C15ULL * seed;
		pf_ruleset *rs = random_ruleset(10 + pick(150));
		pf_engine *lin = new_engine(rs, PF_MATCHER_LINEAR, seed);
		pf_engine *hash = new_engine(rs, PF_MATCHER_HASHED, seed);
		for (unsigned i = 0; i < 600; i++)
			judge_both(lin, hash, (uint64_t)i * 100000000ull, true);
		same_counters(lin, hash);
		pf_engine_free(lin);
		pf_engine_free(hash);
		pf_ruleset_free(rs);
	}
}
END_TEST

/* The default (zeroed configuration) is the hashed matcher. */
START_TEST(default_is_hashed)
{
	pf_ruleset *rs = pf_ruleset_new();
	ck_assert_int_eq(try_cmdf(rs, "-A FORWARD -j ACCEPT"), 0);
	struct pf_engine_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	pf_engine *e = pf_engine_new(rs, &cfg, NULL);
	struct pf_engine_stats st;
	pf_engine_stats(e, &st);
	ck_assert_str_eq(st.matcher, "hashed");
	pf_engine_free(e);
	e = pf_engine_new(rs, NULL, NULL);
	pf_engine_stats(e, &st);
	ck_assert_str_eq(st.matcher, "hashed");
	pf_engine_free(e);
	pf_ruleset_free(rs);
}
END_TEST

static const pf_chain *rs_chain(pf_ruleset *rs, const char *table, const char *chain)
{
	return pf_table_chain(pf_ruleset_table(rs, table), chain);
}

/* One random change to rs, mirrored into each engine. */
static void random_change(pf_ruleset *rs, pf_engine **engines, int ne)
{
	int c = pick(2) ? 0 : 1 + (int)pick(NCHAINS - 1);
	const char *cn = chains[c];
	size_t n = pf_chain_rule_count(rs_chain(rs, "mangle", cn));
	char r[512];
	struct pf_error err;
	unsigned op = pick(10);
	if (op < 4 || n == 0) {
		size_t pos = pick(4) ? pick((unsigned)n + 1) : (pick(2) ? 0 : n);
		rule_text(r, sizeof(r), c);
		ck_assert_msg(try_cmdf(rs, "-t mangle -I %s %zu %s", cn, pos + 1, r) == 0, "%s", r);
		const pf_rule *rule = pf_chain_rule_at(rs_chain(rs, "mangle", cn), pos);
		for (int i = 0; i < ne; i++)
			ck_assert_msg(
			    pf_engine_insert_rule(engines[i], "mangle", cn, pos, rule, &err) == 0,
			    "%s", err.message);
	} else if (op < 7) {
		size_t pos = pick((unsigned)n);
		ck_assert_int_eq(try_cmdf(rs, "-t mangle -D %s %zu", cn, pos + 1), 0);
		for (int i = 0; i < ne; i++)
			ck_assert_int_eq(pf_engine_delete_rule(engines[i], "mangle", cn, pos, &err),
					 0);
	} else if (op < 9) {
		size_t pos = pick((unsigned)n);
		rule_text(r, sizeof(r), c);
		ck_assert_msg(try_cmdf(rs, "-t mangle -R %s %zu %s", cn, pos + 1, r) == 0, "%s", r);
		const pf_rule *rule = pf_chain_rule_at(rs_chain(rs, "mangle", cn), pos);
		for (int i = 0; i < ne; i++)
			ck_assert_int_eq(
			    pf_engine_replace_rule(engines[i], "mangle", cn, pos, rule, &err), 0);
	} else {
		rule_text(r, sizeof(r), c);
		ck_assert_msg(try_cmdf(rs, "-t mangle -A %s %s", cn, r) == 0, "%s", r);
		const pf_rule *rule = pf_chain_rule_at(rs_chain(rs, "mangle", cn), n);
		for (int i = 0; i < ne; i++)
			ck_assert_int_eq(
			    pf_engine_insert_rule(engines[i], "mangle", cn, n, rule, &err), 0);
	}
	for (int i = 0; i < ne; i++)
		ck_assert_uint_eq(pf_engine_rule_count(engines[i], "mangle", cn),
				  pf_chain_rule_count(rs_chain(rs, "mangle", cn)));
}

/* Live changes: a linear and a hashed engine take the same single-rule changes, interleaved
 * with packets (counters and state of the other rules carry on): they agree throughout; the
 * result has the rule set's rules, and judges like a fresh build. */
START_TEST(incremental_against_fresh)
{
	for (unsigned seed = 1; seed <= 25; seed++) {
		rng = 0xD1B54A32D192ED03ULL * seed;
		pf_ruleset *rs = random_ruleset(pick(60));
		pf_engine *eng[2] = {new_engine(rs, PF_MATCHER_LINEAR, seed),
				     new_engine(rs, PF_MATCHER_HASHED, seed)};
		uint64_t now = 0;
		for (unsigned step = 0; step < 300; step++) {
			random_change(rs, eng, 2);
			for (unsigned k = 0; k < 3; k++)
				judge_both(eng[0], eng[1], now += 50000000ull, true);
		}
		same_counters(eng[0], eng[1]);
		/* Same rules as the rule set. */
		char *want = rs_text(rs), *got = rules_only(engine_text(eng[1], 0));
		same_text("rules", want, got);
		free(want);
		free(got);
		/* A fresh hashed build and the live one: same answers from here on (their
		 * rate/recent state differs, so only rules without state are compared: the
		 * verdicts of the fresh linear and hashed builds must agree too). */
		pf_engine *fresh_h = new_engine(rs, PF_MATCHER_HASHED, seed + 1000);
		pf_engine *fresh_l = new_engine(rs, PF_MATCHER_LINEAR, seed + 1000);
		for (unsigned k = 0; k < 300; k++)
			judge_both(fresh_l, fresh_h, now += 50000000ull, true);
		same_counters(fresh_l, fresh_h);
		pf_engine_free(fresh_h);
		pf_engine_free(fresh_l);
		pf_engine_free(eng[0]);
		pf_engine_free(eng[1]);
		pf_ruleset_free(rs);
	}
}
END_TEST

/* Thousands of inserts at one place use up the gaps between labels: the order survives the
 * relabelling, at the head, in the middle and before the last rule. */
START_TEST(relabel_under_inserts)
{
	static const char *const where[] = {"head", "middle", "tail-1"};
	for (int w = 0; w < 3; w++) {
		rng = 77 + (uint64_t)w;
		pf_ruleset *rs = pf_ruleset_new();
		for (int i = 0; i < 40; i++)
			ck_assert_int_eq(
			    try_cmdf(rs, "-A FORWARD -s 10.0.%d.0/24 -j ACCEPT", i % 3), 0);
		pf_engine *eng[2] = {new_engine(rs, PF_MATCHER_LINEAR, 1),
				     new_engine(rs, PF_MATCHER_HASHED, 1)};
		struct pf_error err;
		for (int i = 0; i < 3000; i++) {
			size_t n = pf_chain_rule_count(rs_chain(rs, "filter", "FORWARD"));
			size_t pos = w == 0 ? 0 : w == 1 ? 20 : n - 1;
			ck_assert_int_eq(
			    try_cmdf(rs, "-I FORWARD %zu -p %s -d 10.%u.%u.%u/%u -j %s", pos + 1,
				     pick(2) ? "tcp" : "udp", pick(3), pick(3), pick(8),
				     24 + pick(9), pick(2) ? "ACCEPT" : "DROP"),
			    0);
			const pf_rule *r = pf_chain_rule_at(rs_chain(rs, "filter", "FORWARD"), pos);
			for (int k = 0; k < 2; k++)
				ck_assert_msg(pf_engine_insert_rule(eng[k], "filter", "FORWARD",
								    pos, r, &err) == 0,
					      "%s: %s", where[w], err.message);
			if (i % 50 == 0)
				judge_both(eng[0], eng[1], 0, true);
		}
		for (int k = 0; k < 2000; k++)
			judge_both(eng[0], eng[1], 0, true);
		same_counters(eng[0], eng[1]);
		char *want = rs_text(rs), *got = rules_only(engine_text(eng[1], 0));
		same_text("rules", want, got);
		free(want);
		free(got);
		pf_engine_free(eng[0]);
		pf_engine_free(eng[1]);
		pf_ruleset_free(rs);
	}
}
END_TEST

static uint64_t rule_pkts(pf_engine *e, const char *chain, size_t pos)
{
	char *t = engine_text(e, PF_SAVE_COUNTERS);
	pf_ruleset *rs = pf_ruleset_new();
	struct pf_error err;
	ck_assert_int_eq(pf_ruleset_restore(rs, t, strlen(t), PF_RESTORE_COUNTERS, NULL, &err), 0);
	uint64_t p, b;
	pf_rule_counters(pf_chain_rule_at(rs_chain(rs, "filter", chain), pos), &p, &b);
	pf_ruleset_free(rs);
	free(t);
	return p;
}

static enum pf_nf_verdict udp53(pf_engine *e)
{
	uint8_t b[28] = {0x45, 0, 0,  28, 0, 0, 0,    0,    64, 17, 0, 0, 10, 0,
			 0,    1, 10, 0,  0, 2, 0x30, 0x39, 0,	53, 0, 8, 0,  0};
	struct pf_eval_result r;
	ck_assert_int_eq(pf_engine_eval(e, PF_NF_FORWARD, b, sizeof(b), sizeof(b), NULL, &r), 0);
	return r.verdict;
}

/* Chains created and deleted live; refusals leave the engine as it was; counters of the
 * rules a change does not touch carry on. */
START_TEST(live_chains_and_refusals)
{
	pf_ruleset *rs = pf_ruleset_new();
	ck_assert_int_eq(try_cmdf(rs, "-N A"), 0);
	ck_assert_int_eq(try_cmdf(rs, "-A FORWARD -j A"), 0);
	ck_assert_int_eq(try_cmdf(rs, "-A A -p udp --dport 53 -j DROP"), 0);
	pf_ruleset *other = pf_ruleset_new();
	ck_assert_int_eq(try_cmdf(other, "-N B"), 0);
	ck_assert_int_eq(try_cmdf(other, "-N A"), 0);
	ck_assert_int_eq(try_cmdf(other, "-A B -j A"), 0);
	ck_assert_int_eq(try_cmdf(other, "-A A -j B"), 0);
	ck_assert_int_eq(try_cmdf(other, "-A A -p tcp -j ACCEPT"), 0);
	const pf_rule *a_to_b = pf_chain_rule_at(rs_chain(other, "filter", "A"), 0);
	const pf_rule *b_to_a = pf_chain_rule_at(rs_chain(other, "filter", "B"), 0);
	const pf_rule *tcp = pf_chain_rule_at(rs_chain(other, "filter", "A"), 1);
	for (int m = 0; m < 2; m++) {
		pf_engine *e = new_engine(rs, m ? PF_MATCHER_HASHED : PF_MATCHER_LINEAR, 1);
		struct pf_error err;
		ck_assert_int_eq(udp53(e), PF_NF_DROP);
		/* No chain B in the engine yet. */
		ck_assert_int_eq(pf_engine_insert_rule(e, "filter", "A", 0, a_to_b, &err), -1);
		ck_assert_str_eq(err.message, "No chain/target/match by that name");
		ck_assert_int_eq(pf_engine_create_chain(e, "filter", "B", &err), 0);
		ck_assert_int_eq(pf_engine_create_chain(e, "filter", "B", &err), -1);
		ck_assert_int_eq(pf_engine_insert_rule(e, "filter", "A", 0, a_to_b, &err), 0);
		/* B -j A would close the loop A -> B -> A. */
		ck_assert_int_eq(pf_engine_insert_rule(e, "filter", "B", 0, b_to_a, &err), -1);
		ck_assert_str_eq(err.message, "Too many levels of links");
		ck_assert_uint_eq(pf_engine_rule_count(e, "filter", "B"), 0);
		/* Positions out of range, unknown chains and tables. */
		ck_assert_int_eq(pf_engine_insert_rule(e, "filter", "A", 3, tcp, &err), -1);
		ck_assert_int_eq(pf_engine_delete_rule(e, "filter", "A", 2, &err), -1);
		ck_assert_int_eq(pf_engine_replace_rule(e, "filter", "A", 2, tcp, &err), -1);
		ck_assert_int_eq(pf_engine_delete_rule(e, "filter", "NOPE", 0, &err), -1);
		ck_assert_int_eq(pf_engine_delete_rule(e, "nope", "A", 0, &err), -1);
		/* B is referenced, then not empty, then gone. */
		ck_assert_int_eq(pf_engine_delete_chain(e, "filter", "B", &err), -1);
		ck_assert_int_eq(udp53(e), PF_NF_DROP);
		ck_assert_uint_eq(rule_pkts(e, "A", 1), 2);
		ck_assert_int_eq(pf_engine_insert_rule(e, "filter", "A", 0, tcp, &err), 0);
		ck_assert_int_eq(pf_engine_delete_rule(e, "filter", "A", 1, &err), 0); /* -j B */
		ck_assert_int_eq(pf_engine_delete_chain(e, "filter", "B", &err), 0);
		ck_assert_int_eq(pf_engine_delete_chain(e, "filter", "FORWARD", &err), -1);
		/* The udp rule kept its counters through the changes around it. */
		ck_assert_uint_eq(pf_engine_rule_count(e, "filter", "A"), 2);
		ck_assert_int_eq(udp53(e), PF_NF_DROP);
		ck_assert_uint_eq(rule_pkts(e, "A", 1), 3);
		ck_assert_uint_eq(rule_pkts(e, "A", 0), 0);
		/* Replace: the new rule takes the given rule's counters (zero). */
		ck_assert_int_eq(pf_engine_replace_rule(e, "filter", "A", 1, tcp, &err), 0);
		ck_assert_int_eq(udp53(e), PF_NF_ACCEPT);
		ck_assert_uint_eq(rule_pkts(e, "A", 1), 0);
		struct pf_engine_stats st;
		pf_engine_stats(e, &st);
		ck_assert_uint_eq(st.rules, 3);
		ck_assert_str_eq(st.matcher, m ? "hashed" : "linear");
		if (m)
			ck_assert(st.index_bytes > 0);
		else
			ck_assert_uint_eq(st.subtables, 0);
		pf_engine_free(e);
	}
	pf_ruleset_free(other);
	pf_ruleset_free(rs);
}
END_TEST

/* Every rule of a large chain is indexed (one subtable per tuple shape here), and the memory
 * per rule stays within bounds. */
START_TEST(stats_memory)
{
	pf_ruleset *rs = pf_ruleset_new();
	for (int i = 0; i < 2000; i++)
		ck_assert_int_eq(try_cmdf(rs,
					  "-A FORWARD -d 10.%d.%d.%d/32 -p tcp --dport %d -j DROP",
					  i >> 16, (i >> 8) & 255, i & 255, 1000 + i % 7),
				 0);
	pf_engine *e = new_engine(rs, PF_MATCHER_HASHED, 1);
	struct pf_engine_stats st;
	pf_engine_stats(e, &st);
	ck_assert_uint_eq(st.rules, 2000);
	ck_assert_uint_eq(st.subtables, 1);
	ck_assert(st.bytes_per_rule > 16 && st.bytes_per_rule < 512);
	pf_engine_free(e);
	pf_ruleset_free(rs);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("matcher_hashed");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, differential_random);
	tcase_add_test(tc, default_is_hashed);
	tcase_add_test(tc, incremental_against_fresh);
	tcase_add_test(tc, relabel_under_inserts);
	tcase_add_test(tc, live_chains_and_refusals);
	tcase_add_test(tc, stats_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
