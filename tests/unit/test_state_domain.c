/*
 * test_state_domain.c - engines sharing a state domain (pf_state_domain, docs/shared-state.md):
 * the packets of one sequence spread over several engines of one domain give the verdicts and
 * the summed counters of one engine judging them all, as the kernel's CPUs share a rule's
 * state; single-rule changes that reach the engines at different times; generations (epochs)
 * of one domain, as pktfiltd's full reloads: new per-rule state, named objects taken over;
 * threads.
 */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktfilt/engine.h"
#include "pktfilt/pktfilt.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define NENG 3
#define MAXRULES 16
#define MAXSTEPS 2000

static pf_ruleset *rs;
static pf_engine *eng[NENG];
static unsigned neng;

static void free_engines(void)
{
	for (unsigned i = 0; i < NENG; i++) {
		pf_engine_free(eng[i]);
		eng[i] = NULL;
	}
	neng = 0;
}

static void setup(void)
{
	rs = pf_ruleset_new();
	neng = 0;
}

static void teardown(void)
{
	free_engines();
	pf_ruleset_free(rs);
}

static void cmd(const char *c)
{
	struct pf_error err;
	ck_assert_msg(pf_ruleset_command_string(rs, c, NULL, &err) == 0, "%s: %s", c, err.message);
}

/* n engines of rs, sharing one domain when shared (the domain's creator lets it go at once:
 * the engines keep it). */
static void compile(unsigned n, bool shared)
{
	free_engines();
	pf_state_domain *d = shared ? pf_state_domain_new() : NULL;
	ck_assert(!shared || d);
	for (unsigned i = 0; i < n; i++) {
		struct pf_error err;
		struct pf_engine_config cfg = {
		    .matcher = i % 2 ? PF_MATCHER_LINEAR : PF_MATCHER_HASHED,
		    .random_seed = i,
		    .state_domain = d,
		};
		eng[i] = pf_engine_new(rs, &cfg, &err);
		ck_assert_msg(eng[i] != NULL, "compile: %s", err.message);
	}
	pf_state_domain_free(d);
	neng = n;
}

/* Packet counter of rule n (1-based) of table/chain in engine e, or summed over all. */
static uint64_t pk1(unsigned e, const char *table, const char *chain, size_t n)
{
	uint64_t c[MAXRULES][2];
	long k = pf_engine_chain_counters(eng[e], table, chain, NULL, c, MAXRULES);
	ck_assert_int_ge(k, (long)n);
	return c[n - 1][0];
}

static uint64_t pk(const char *table, const char *chain, size_t n)
{
	uint64_t s = 0;
	for (unsigned e = 0; e < neng; e++)
		s += pk1(e, table, chain, n);
	return s;
}

/* ---- packets ---- */

struct pkt {
	uint8_t b[128];
	size_t len;
};

static uint16_t csum(const uint8_t *b, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put_addr(uint8_t *b, uint32_t a)
{
	b[0] = (uint8_t)(a >> 24);
	b[1] = (uint8_t)(a >> 16);
	b[2] = (uint8_t)(a >> 8);
	b[3] = (uint8_t)a;
}

/* IPv4 header before the l4len bytes at b + 20 (src, dst in host order), l4 checksum at
 * csum_off. */
static void finish(struct pkt *p, uint32_t src, uint32_t dst, uint8_t proto, size_t l4len,
		   int csum_off)
{
	uint8_t *h = p->b;
	p->len = 20 + l4len;
	memset(h, 0, 20);
	h[0] = 0x45;
	put16(h + 2, (uint16_t)p->len);
	put16(h + 4, 0x1234);
	put16(h + 6, 0x4000);
	h[8] = 64;
	h[9] = proto;
	put_addr(h + 12, src);
	put_addr(h + 16, dst);
	put16(h + 10, csum(h, 20, 0));
	uint32_t s =
	    (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (uint32_t)l4len;
	put16(p->b + 20 + csum_off, csum(p->b + 20, l4len, s));
}

static uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

static void mk_udp(struct pkt *p, uint32_t src, uint16_t sport, uint16_t dport)
{
	uint8_t *u = p->b + 20;
	memset(u, 'x', 12);
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, 12);
	put16(u + 6, 0);
	finish(p, src, ip(198, 19, 3, 2), 17, 12, 6);
}

static void mk_tcp(struct pkt *p, uint32_t src, uint16_t sport, uint16_t dport, uint8_t flags)
{
	uint8_t *t = p->b + 20;
	memset(t, 0, 20);
	put16(t, sport);
	put16(t + 2, dport);
	t[7] = 100;
	t[12] = 0x50;
	t[13] = flags;
	put16(t + 14, 65535);
	finish(p, src, ip(198, 19, 3, 2), 6, 20, 16);
}

/* Judge p on engine e at PREROUTING at time now with conntrack state ct. */
static enum pf_nf_verdict judge_on(pf_engine *e, const struct pkt *p, uint64_t now, unsigned ct)
{
	uint8_t b[256];
	struct pf_eval_result res;
	struct pf_packet_meta m = {.in_iface = "r0", .now_ns = now, .ct_state = ct};
	memcpy(b, p->b, p->len);
	ck_assert_int_eq(pf_engine_eval(e, PF_NF_PRE_ROUTING, b, p->len, sizeof(b), &m, &res), 0);
	return res.verdict;
}

static enum pf_nf_verdict judge(unsigned e, const struct pkt *p, uint64_t now, unsigned ct)
{
	return judge_on(eng[e], p, now, ct);
}

/* ---- one sequence over one engine, over several ---- */

/* Step i of a scenario: its packet, time and conntrack state. */
typedef void (*step_fn)(unsigned i, struct pkt *p, uint64_t *now, unsigned *ct);

struct outcome {
	enum pf_nf_verdict v[MAXSTEPS];
	uint64_t raw[MAXRULES], mangle[MAXRULES]; /* summed rule counters */
	size_t nraw, nmangle;
};

/* Which engine judges step i: alternated, or in an irregular order. */
static unsigned pick(unsigned i, unsigned n, bool irregular)
{
	return irregular ? (i * i + i / 3) % n : i % n;
}

static void run(unsigned n, bool shared, bool irregular, step_fn step, unsigned nsteps,
		struct outcome *o)
{
	ck_assert_uint_le(nsteps, MAXSTEPS);
	memset(o, 0, sizeof(*o));
	compile(n, shared);
	for (unsigned i = 0; i < nsteps; i++) {
		struct pkt p;
		uint64_t now;
		unsigned ct;
		step(i, &p, &now, &ct);
		o->v[i] = judge(pick(i, n, irregular), &p, now, ct);
	}
	o->nraw = pf_engine_rule_count(eng[0], "raw", "PREROUTING");
	o->nmangle = pf_engine_rule_count(eng[0], "mangle", "PREROUTING");
	for (size_t r = 1; r <= o->nraw; r++)
		o->raw[r - 1] = pk("raw", "PREROUTING", r);
	for (size_t r = 1; r <= o->nmangle; r++)
		o->mangle[r - 1] = pk("mangle", "PREROUTING", r);
}

static bool same(const struct outcome *a, const struct outcome *b, unsigned nsteps)
{
	return memcmp(a->v, b->v, nsteps * sizeof(a->v[0])) == 0 &&
	       memcmp(a->raw, b->raw, sizeof(a->raw)) == 0 &&
	       memcmp(a->mangle, b->mangle, sizeof(a->mangle)) == 0;
}

static void assert_same(const struct outcome *ref, const struct outcome *o, unsigned nsteps,
			const char *what)
{
	for (unsigned i = 0; i < nsteps; i++)
		ck_assert_msg(ref->v[i] == o->v[i], "%s: step %u: verdict %d, one engine %d", what,
			      i, o->v[i], ref->v[i]);
	for (size_t r = 0; r < ref->nraw; r++)
		ck_assert_msg(ref->raw[r] == o->raw[r], "%s: raw rule %zu: %llu, one engine %llu",
			      what, r + 1, (unsigned long long)o->raw[r],
			      (unsigned long long)ref->raw[r]);
	for (size_t r = 0; r < ref->nmangle; r++)
		ck_assert_msg(ref->mangle[r] == o->mangle[r],
			      "%s: mangle rule %zu: %llu, one engine %llu", what, r + 1,
			      (unsigned long long)o->mangle[r], (unsigned long long)ref->mangle[r]);
}

/* The scenario on one engine without a domain (the reference), one with a domain, two and
 * three sharing one (alternated and irregular): all the same. Engines that do not share
 * differ (the scenario does test the sharing). Returns the reference's summed counter of raw
 * rule 1 for further checks. */
static struct outcome ref, got;
static void check_shared(step_fn step, unsigned nsteps)
{
	run(1, false, false, step, nsteps, &ref);
	run(1, true, false, step, nsteps, &got);
	assert_same(&ref, &got, nsteps, "one engine with a domain");
	run(2, true, false, step, nsteps, &got);
	assert_same(&ref, &got, nsteps, "two engines");
	run(3, true, false, step, nsteps, &got);
	assert_same(&ref, &got, nsteps, "three engines");
	run(3, true, true, step, nsteps, &got);
	assert_same(&ref, &got, nsteps, "three engines, irregular");
	run(3, false, false, step, nsteps, &got);
	ck_assert_msg(!same(&ref, &got, nsteps), "engines without a domain behave as one");
}

/* ---- limit ---- */

static void limit_step(unsigned i, struct pkt *p, uint64_t *now, unsigned *ct)
{
	mk_udp(p, ip(198, 18, 3, 2), 1000, 9);
	*now = (uint64_t)i * 10 * MS;
	*ct = 0;
}

/* 3/second burst 5, 1000 packets every 10 ms: 34 match on one engine (test_eval_rate, as the
 * kernel); on three sharing the bucket, the same 34. */
START_TEST(limit_shared)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m limit --limit 3/second --limit-burst 5 "
	    "-j DROP");
	cmd("-t raw -A PREROUTING -p udp --dport 9");
	check_shared(limit_step, 1000);
	ck_assert_uint_eq(ref.raw[0], 34);
	ck_assert_uint_eq(ref.raw[1], 1000 - 34);
	/* without sharing, three buckets: three bursts at least */
	ck_assert_uint_ge(got.raw[0], 3 * 5 + 30);
}
END_TEST

/* ---- statistic ---- */

static void nth_step(unsigned i, struct pkt *p, uint64_t *now, unsigned *ct)
{
	mk_udp(p, ip(198, 18, 3, 2), 1000, 9);
	*now = (uint64_t)i * MS;
	*ct = 0;
}

START_TEST(statistic_nth_shared)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m statistic --mode nth --every 3 --packet 1");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m statistic --mode nth --every 4 --packet 0 "
	    "-j DROP");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m statistic --mode nth ! --every 2 "
	    "--packet 0");
	check_shared(nth_step, 100);
	ck_assert_uint_eq(ref.raw[0], 33);
	ck_assert_uint_eq(ref.raw[1], 25);
	ck_assert_uint_eq(ref.raw[2], 37);
	for (unsigned i = 0; i < 100; i++)
		ck_assert_int_eq(ref.v[i], i % 4 == 0 ? PF_NF_DROP : PF_NF_ACCEPT);
}
END_TEST

/* ---- hashlimit ---- */

static void hashlimit_step(unsigned i, struct pkt *p, uint64_t *now, unsigned *ct)
{
	/* four sources at different rates, two rules on one table */
	unsigned s = i % 7 < 4 ? 10 : i % 7 < 6 ? 11 : 12 + i % 2;
	mk_udp(p, ip(10, 0, 0, s), (uint16_t)(1000 + i % 5), (uint16_t)(1 + i % 2));
	*now = (uint64_t)i * 7 * MS;
	*ct = 0;
}

START_TEST(hashlimit_shared)
{
	cmd("-t raw -A PREROUTING -p udp --dport 1 -m hashlimit --hashlimit-upto 4/sec "
	    "--hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name hs -j DROP");
	cmd("-t raw -A PREROUTING -p udp --dport 2 -m hashlimit --hashlimit-above 2/sec "
	    "--hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name hs2 "
	    "--hashlimit-htable-expire 300 --hashlimit-htable-gcinterval 100");
	cmd("-t raw -A PREROUTING -p udp -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 1 "
	    "--hashlimit-mode srcip,srcport --hashlimit-name hs");
	check_shared(hashlimit_step, 1500);
	ck_assert_uint_gt(ref.raw[0], 0);
	ck_assert_uint_gt(ref.raw[1], 0);
	ck_assert_uint_gt(ref.raw[2], 0);
}
END_TEST

/* ---- recent ---- */

static void recent_step(unsigned i, struct pkt *p, uint64_t *now, unsigned *ct)
{
	/* five sources set (dport 7), checked (8), updated with reaping or removed (9) */
	unsigned s = (i * 7) % 5;
	uint16_t dport = (uint16_t)(i % 3 == 0 ? 7 : i % 3 == 1 ? 8 : 9);
	mk_udp(p, ip(10, 0, 1, s), 1, dport);
	*now = (uint64_t)i * 40 * MS;
	*ct = 0;
}

START_TEST(recent_shared)
{
	cmd("-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name rs");
	cmd("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --seconds 2 --hitcount 2 "
	    "--name rs -j DROP");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m recent --update --seconds 1 --reap "
	    "--name rs");
	cmd("-t raw -A PREROUTING -s 10.0.1.4 -p udp --dport 9 -m recent --remove --name rs");
	check_shared(recent_step, 1200);
	ck_assert_uint_gt(ref.raw[1], 0);
	ck_assert_uint_gt(ref.raw[2], 0);
	ck_assert_uint_gt(ref.raw[3], 0);
}
END_TEST

/* ---- connlimit ---- */

static void connlimit_step(unsigned i, struct pkt *p, uint64_t *now, unsigned *ct)
{
	uint8_t flags = i % 11 == 5 ? 0x04 : i % 13 == 7 ? 0x11 : 0x02;
	mk_tcp(p, ip(198, 18, 5, 10 + i % 3), (uint16_t)(2000 + (i * 5) % 17), 80, flags);
	*now = (uint64_t)i * 50 * MS;
	*ct = flags == 0x02 ? PF_CT_NEW : PF_CT_ESTABLISHED;
}

START_TEST(connlimit_shared)
{
	cmd("-t mangle -A PREROUTING -p tcp --syn -m connlimit --connlimit-above 2 "
	    "--connlimit-mask 24 -j DROP");
	cmd("-t mangle -A PREROUTING -p tcp -m connlimit --connlimit-upto 4 --connlimit-mask 32");
	check_shared(connlimit_step, 400);
	ck_assert_uint_gt(ref.mangle[0], 0);
	ck_assert_uint_gt(ref.mangle[1], 0);
}
END_TEST

/* ---- single-rule changes reaching the engines at different times ---- */

/* The master's rule at 1-based position n of raw PREROUTING. */
static const pf_rule *master_rule(size_t n)
{
	return pf_chain_rule_at(pf_table_chain(pf_ruleset_table(rs, "raw"), "PREROUTING"), n - 1);
}

static void apply_insert(unsigned e, size_t n)
{
	struct pf_error err;
	ck_assert_int_eq(
	    pf_engine_insert_rule(eng[e], "raw", "PREROUTING", n - 1, master_rule(n), &err), 0);
}

static void apply_delete(unsigned e, size_t n)
{
	struct pf_error err;
	ck_assert_int_eq(pf_engine_delete_rule(eng[e], "raw", "PREROUTING", n - 1, &err), 0);
}

static void apply_replace(unsigned e, size_t n)
{
	struct pf_error err;
	ck_assert_int_eq(
	    pf_engine_replace_rule(eng[e], "raw", "PREROUTING", n - 1, master_rule(n), &err), 0);
}

/* Packets sent on engine e: how many matched rule 1 (its counter grew). */
static unsigned hits(unsigned e, unsigned npackets)
{
	struct pkt p;
	mk_udp(&p, ip(198, 18, 3, 2), 1000, 9);
	unsigned h = 0;
	for (unsigned i = 0; i < npackets; i++) {
		uint64_t b = pk1(e, "raw", "PREROUTING", 1);
		judge(e, &p, 0, 0);
		h += pk1(e, "raw", "PREROUTING", 1) > b;
	}
	return h;
}

START_TEST(changes_with_lag)
{
#define LIMIT4 "-m limit --limit 1/hour --limit-burst 4"
	cmd("-t raw -A PREROUTING -p udp --dport 9 " LIMIT4);
	compile(2, true);
	ck_assert_uint_eq(hits(0, 2), 2);
	ck_assert_uint_eq(hits(1, 1), 1); /* one bucket: 1 credit left */

	/* The rule deleted and the same rule appended: the master's new rule may well sit at the
	 * old one's address; engine 0 applies it, engine 1 lags behind. */
	cmd("-t raw -D PREROUTING 1");
	cmd("-t raw -A PREROUTING -p udp --dport 9 " LIMIT4);
	apply_delete(0, 1);
	apply_insert(0, 1);
	ck_assert_uint_eq(hits(1, 2), 1); /* the old rule, in engine 1 only: its last credit */
	ck_assert_uint_eq(hits(0, 3), 3); /* the new rule: a new, full bucket */
	apply_delete(1, 1);
	apply_insert(1, 1);
	ck_assert_uint_eq(hits(1, 3), 1); /* engine 1 now shares the new bucket */
	ck_assert_uint_eq(hits(0, 1), 0);

	/* -R: a new rule, a new bucket, shared once both engines have it */
	cmd("-t raw -R PREROUTING 1 -p udp --dport 9 " LIMIT4);
	apply_replace(1, 1);
	ck_assert_uint_eq(hits(1, 3), 3);
	ck_assert_uint_eq(hits(0, 1), 0); /* engine 0 still has the old, empty one */
	apply_replace(0, 1);
	ck_assert_uint_eq(hits(0, 3), 1);

	/* A rule inserted before it: the other rules keep their state, shared. */
	cmd("-t raw -I PREROUTING 1 -p udp --dport 10");
	apply_insert(0, 1);
	apply_insert(1, 1);
	cmd("-t raw -D PREROUTING 1");
	apply_delete(1, 1);
	apply_delete(0, 1);
	ck_assert_uint_eq(hits(0, 2), 0);
	ck_assert_uint_eq(hits(1, 2), 0);
#undef LIMIT4
}
END_TEST

/* A list lives while a rule of some engine of the domain names it. */
START_TEST(recent_list_across_engines)
{
	cmd("-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name L");
	cmd("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name L");
	compile(2, true);
	struct pkt set, check;
	mk_udp(&set, ip(10, 0, 0, 1), 1, 7);
	mk_udp(&check, ip(10, 0, 0, 1), 1, 8);
	judge(0, &set, 0, 0);
	judge(1, &check, 1 * MS, 0); /* set through engine 0, seen through engine 1 */
	ck_assert_uint_eq(pk1(1, "raw", "PREROUTING", 2), 1);

	cmd("-t raw -D PREROUTING 2");
	cmd("-t raw -D PREROUTING 1");
	apply_delete(0, 2);
	apply_delete(0, 1);
	judge(1, &check, 2 * MS, 0); /* engine 1 still names the list: kept */
	ck_assert_uint_eq(pk1(1, "raw", "PREROUTING", 2), 2);
	apply_delete(1, 2);
	apply_delete(1, 1);
	cmd("-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name L");
	apply_insert(0, 1);
	apply_insert(1, 1);
	judge(0, &check, 3 * MS, 0); /* a new, empty list */
	judge(1, &check, 3 * MS, 0);
	ck_assert_uint_eq(pk("raw", "PREROUTING", 1), 0);
}
END_TEST

/* ---- threads ---- */

#define TPACKETS 20000u

struct worker {
	unsigned id;
	int failed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pkt p;
	for (unsigned i = 0; i < TPACKETS; i++) {
		uint8_t b[256];
		struct pf_eval_result res;
		struct pf_packet_meta m = {.in_iface = "r0", .now_ns = 5 * SEC, .ct_state = 0};
		switch (i % 3) {
		case 0: /* limit, statistic, hashlimit, recent --set of this worker's sources */
			mk_udp(&p, ip(10, 2, w->id, i % 16), 1000, 9);
			break;
		case 1: /* connlimit: 300 new connections of this worker's, then nothing */
			if (i / 3 < 300) {
				mk_tcp(&p, ip(198, 18, 5, 10),
				       (uint16_t)(10000 + w->id * 1000 + i / 3), 80, 0x02);
				m.ct_state = PF_CT_NEW;
			} else {
				mk_udp(&p, ip(10, 3, 0, 1), 1000, 13);
			}
			break;
		default: /* recent --update of the source the packet before set */
			mk_udp(&p, ip(10, 2, w->id, (i - 2) % 16), 1000, 11);
			break;
		}
		memcpy(b, p.b, p.len);
		if (pf_engine_eval(eng[w->id], PF_NF_PRE_ROUTING, b, p.len, sizeof(b), &m, &res))
			w->failed = 1;
	}
	return NULL;
}

START_TEST(threads)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m limit --limit 10/minute --limit-burst 2000");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m statistic --mode nth --every 7 --packet 3");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 1/min "
	    "--hashlimit-burst 100 --hashlimit-mode dstip --hashlimit-name th");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m recent --set --name tr");
	cmd("-t raw -A PREROUTING -p udp --dport 11 -m recent --update --name tr");
	cmd("-t raw -A PREROUTING -p udp --dport 12 -m recent --rcheck --name tr");
	cmd("-t mangle -A PREROUTING -p tcp -m connlimit --connlimit-upto 500 "
	    "--connlimit-mask 0");
	compile(NENG, true);
	pthread_t t[NENG];
	struct worker w[NENG];
	for (unsigned i = 0; i < NENG; i++) {
		w[i] = (struct worker){.id = i};
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < NENG; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].failed, 0);
	}
	unsigned udp9 = NENG * ((TPACKETS + 2) / 3);
	/* one bucket of 2000 at a time that does not move */
	ck_assert_uint_eq(pk("raw", "PREROUTING", 1), 2000);
	/* one counter: every 7th packet of all, whatever their order */
	ck_assert_uint_eq(pk("raw", "PREROUTING", 2), (udp9 + 3) / 7);
	/* one table, one destination: 100 */
	ck_assert_uint_eq(pk("raw", "PREROUTING", 3), 100);
	ck_assert_uint_eq(pk("raw", "PREROUTING", 4), udp9);
	/* --update: every source was set before its first dport-11 packet (same worker) */
	ck_assert_uint_eq(pk("raw", "PREROUTING", 5), NENG * (TPACKETS / 3));
	/* one group: the first 500 connections of 900 are up to the limit */
	ck_assert_uint_eq(pk("mangle", "PREROUTING", 1), 500);
	/* one list: engine 0 finds the sources the other workers set */
	struct pkt p;
	unsigned found = 0;
	for (unsigned k = 0; k < NENG; k++)
		for (unsigned s = 0; s < 16; s++) {
			uint64_t b = pk1(0, "raw", "PREROUTING", 6);
			mk_udp(&p, ip(10, 2, k, s), 1000, 12);
			judge(0, &p, 6 * SEC, 0);
			found += pk1(0, "raw", "PREROUTING", 6) > b;
		}
	ck_assert_uint_eq(found, NENG * 16);
}
END_TEST

/* Single-rule changes applied by each worker to its own engine while the others judge. */
struct changer {
	unsigned id;
	int failed;
};

static pf_ruleset *rs_b; /* the rule set with one more rule, which the workers add */

static void *changer_main(void *arg)
{
	struct changer *c = arg;
	const pf_chain *cb = pf_table_chain(pf_ruleset_table(rs_b, "raw"), "PREROUTING");
	struct pkt p;
	mk_udp(&p, ip(198, 18, 3, 2), 1000, 9);
	for (unsigned round = 0; round < 300; round++) {
		struct pf_error err;
		/* insert rule 1 of rs_b, judge, delete it again */
		if (pf_engine_insert_rule(eng[c->id], "raw", "PREROUTING", 0,
					  pf_chain_rule_at(cb, 0), &err))
			c->failed = 1;
		for (unsigned i = 0; i < 20; i++) {
			uint8_t b[256];
			struct pf_eval_result res;
			struct pf_packet_meta m = {.in_iface = "r0", .now_ns = 5 * SEC};
			memcpy(b, p.b, p.len);
			if (pf_engine_eval(eng[c->id], PF_NF_PRE_ROUTING, b, p.len, sizeof(b), &m,
					   &res))
				c->failed = 1;
		}
		if (pf_engine_delete_rule(eng[c->id], "raw", "PREROUTING", 0, &err))
			c->failed = 1;
	}
	return NULL;
}

/* Workers add and remove rules at their own pace while others judge: no race, no leak (run
 * under the sanitizers), and the rule they all keep has one bucket. */
START_TEST(threads_changing)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m limit --limit 10/minute --limit-burst 7000");
	rs_b = pf_ruleset_clone(rs);
	ck_assert_ptr_nonnull(rs_b);
	struct pf_error err;
	ck_assert_int_eq(
	    pf_ruleset_command_string(rs_b,
				      "-t raw -I PREROUTING 1 -p udp --dport 9 -m "
				      "connlimit --connlimit-above 1000 -m statistic "
				      "--mode nth --every 2 --packet 0 -m limit --limit 1/sec",
				      NULL, &err),
	    0);
	compile(NENG, true);
	pthread_t t[NENG];
	struct changer c[NENG];
	for (unsigned i = 0; i < NENG; i++) {
		c[i] = (struct changer){.id = i};
		ck_assert_int_eq(pthread_create(&t[i], NULL, changer_main, &c[i]), 0);
	}
	for (unsigned i = 0; i < NENG; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(c[i].failed, 0);
	}
	pf_ruleset_free(rs_b);
	/* 3 * 300 * 20 packets reached the kept rule (the added one has no target): 7000 matched
	 * its one bucket */
	ck_assert_uint_eq(pk("raw", "PREROUTING", 1), 7000);
}
END_TEST

/* ---- generations: one domain for several rule sets (pktfiltd's full reloads) ---- */

/* n engines of r in domain d with epoch ep (a rule-set generation). */
static void compile_gen(pf_engine **out, unsigned n, const pf_ruleset *r, pf_state_domain *d,
			uint64_t ep)
{
	for (unsigned i = 0; i < n; i++) {
		struct pf_error err;
		struct pf_engine_config cfg = {
		    .matcher = i % 2 ? PF_MATCHER_LINEAR : PF_MATCHER_HASHED,
		    .state_domain = d,
		    .state_epoch = ep,
		};
		out[i] = pf_engine_new(r, &cfg, &err);
		ck_assert_msg(out[i] != NULL, "compile: %s", err.message);
	}
}

static uint64_t pk_on(pf_engine *e, size_t n)
{
	uint64_t c[MAXRULES][2];
	long k = pf_engine_chain_counters(e, "raw", "PREROUTING", NULL, c, MAXRULES);
	ck_assert_int_ge(k, (long)n);
	return c[n - 1][0];
}

/* A packet from src to dport judged on e: did raw rule n match (its counter grew)? */
static bool hit_on(pf_engine *e, size_t n, uint32_t src, uint16_t dport)
{
	struct pkt p;
	mk_udp(&p, src, 1000, dport);
	uint64_t b = pk_on(e, n);
	judge_on(e, &p, 5 * SEC, 0);
	return pk_on(e, n) > b;
}

static unsigned hits_on(pf_engine *e, size_t n, uint32_t src, uint16_t dport, unsigned npackets)
{
	unsigned h = 0;
	for (unsigned i = 0; i < npackets; i++)
		h += hit_on(e, n, src, dport);
	return h;
}

static pf_ruleset *ruleset_of(const char *const *cmds)
{
	pf_ruleset *r = pf_ruleset_new();
	ck_assert_ptr_nonnull(r);
	for (; *cmds; cmds++) {
		struct pf_error err;
		ck_assert_msg(pf_ruleset_command_string(r, *cmds, NULL, &err) == 0, "%s: %s", *cmds,
			      err.message);
	}
	return r;
}

#define LIM3 "-t raw -A PREROUTING -p udp --dport 9 -m limit --limit 1/hour --limit-burst 3"
#define HL(burst)                                                                                  \
	"-t raw -A PREROUTING -p udp --dport 10 -m hashlimit --hashlimit-upto 1/hour "             \
	"--hashlimit-burst " burst " --hashlimit-mode srcip --hashlimit-name H"

/* As the kernel across a table replacement: a new generation (epoch) of engines of the same
 * domain starts new per-rule state, even for identical rules at the same place, and takes over
 * the recent lists and hashlimit tables it names, while the old generation still runs; those
 * it does not name go with the old generation. */
START_TEST(generations)
{
	const uint32_t a = ip(10, 0, 0, 1), b = ip(10, 0, 0, 2), c = ip(10, 0, 0, 3);
	static const char *const gen1[] = {
	    LIM3,
	    "-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name L",
	    "-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name L",
	    "-t raw -A PREROUTING -p udp --dport 7 -m recent --set --name M",
	    HL("2"),
	    NULL};
	static const char *const gen2[] = {
	    LIM3, "-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name L", HL("5"),
	    NULL};
	static const char *const gen3[] = {
	    "-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --name M",
	    "-t raw -A PREROUTING -p udp --dport 8 -m recent --rcheck --hitcount 64 --name L",
	    NULL};
	pf_state_domain *d = pf_state_domain_new();
	ck_assert_ptr_nonnull(d);
	pf_ruleset *r1 = ruleset_of(gen1), *r2 = ruleset_of(gen2), *r3 = ruleset_of(gen3);
	pf_engine *g1[2], *g2[2], *g3[1];

	compile_gen(g1, 2, r1, d, 1);
	ck_assert_uint_eq(hits_on(g1[0], 1, a, 9, 2) + hits_on(g1[1], 1, a, 9, 2), 3);
	ck_assert(!hit_on(g1[1], 3, a, 8)); /* L: a not set yet */
	ck_assert(hit_on(g1[0], 2, a, 7));  /* a in L and M */
	ck_assert(hit_on(g1[1], 3, a, 8));
	ck_assert_uint_eq(hits_on(g1[1], 5, a, 10, 3), 2); /* H: a's burst of 2 used */

	/* The next generation, compiled while the first still runs. */
	compile_gen(g2, 2, r2, d, 2);
	/* the same limit rule at the same place: a new, full bucket, shared by generation 2;
	 * generation 1 keeps its own, empty one */
	ck_assert_uint_eq(hits_on(g2[0], 1, a, 9, 2) + hits_on(g2[1], 1, a, 9, 2), 3);
	ck_assert_uint_eq(hits_on(g1[0], 1, a, 9, 1), 0);
	/* L taken over: a is in it; an address generation 1 adds now is seen by generation 2 */
	ck_assert(hit_on(g2[0], 2, a, 8));
	ck_assert(!hit_on(g2[1], 2, b, 8));
	ck_assert(hit_on(g1[1], 2, b, 7));
	ck_assert(hit_on(g2[1], 2, b, 8));
	/* H taken over with the creator's configuration (the kernel's htable_find_get looks at
	 * the name only): a's entry is still empty, c gets a burst of 2, not 5 */
	ck_assert_uint_eq(hits_on(g2[0], 3, a, 10, 2), 0);
	ck_assert_uint_eq(hits_on(g2[1], 3, c, 10, 4), 2);

	pf_engine_free(g1[0]);
	pf_engine_free(g1[1]);
	/* generation 1 gone: L and H live on in generation 2 */
	ck_assert(hit_on(g2[0], 2, a, 8));
	ck_assert(hit_on(g2[1], 2, b, 8));
	ck_assert_uint_eq(hits_on(g2[0], 3, c, 10, 1), 0);

	/* M was named by generation 1 only: gone with it, a new empty list for generation 3.
	 * A rule of generation 3 with a larger --hitcount flushes L, which generation 2 sees. */
	compile_gen(g3, 1, r3, d, 3);
	ck_assert(!hit_on(g3[0], 1, a, 8));
	ck_assert(!hit_on(g2[0], 2, a, 8));
	ck_assert(!hit_on(g2[1], 2, b, 8));

	pf_engine_free(g2[0]);
	pf_engine_free(g2[1]);
	pf_engine_free(g3[0]);
	pf_state_domain_free(d);
	pf_ruleset_free(r1);
	pf_ruleset_free(r2);
	pf_ruleset_free(r3);
}
END_TEST

/* Generations swapped while both run, as pktfiltd's RCU swap: the new generation's threads
 * start before the old ones stop, the old engines are freed while the new ones judge. */
#define GROUNDS 6
#define GENG 2
#define GPACKETS 3000u

struct gworker {
	pf_engine *e;
	unsigned id;
	int failed;
};

static void *gworker_main(void *arg)
{
	struct gworker *w = arg;
	for (unsigned i = 0; i < GPACKETS; i++) {
		struct pkt p;
		uint8_t b[256];
		struct pf_eval_result res;
		struct pf_packet_meta m = {.in_iface = "r0", .now_ns = 5 * SEC};
		if (i % 2 == 0) /* limit, recent --set, hashlimit */
			mk_udp(&p, ip(10, 2, w->id, i % 16), 1000, 9);
		else /* recent --update of the source the packet before set */
			mk_udp(&p, ip(10, 2, w->id, (i - 1) % 16), 1000, 11);
		memcpy(b, p.b, p.len);
		if (pf_engine_eval(w->e, PF_NF_PRE_ROUTING, b, p.len, sizeof(b), &m, &res))
			w->failed = 1;
	}
	return NULL;
}

START_TEST(threads_generations)
{
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m limit --limit 10/minute --limit-burst 500");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m recent --set --name T");
	cmd("-t raw -A PREROUTING -p udp --dport 9 -m hashlimit --hashlimit-upto 1/min "
	    "--hashlimit-burst 50 --hashlimit-mode dstip --hashlimit-name TH");
	cmd("-t raw -A PREROUTING -p udp --dport 11 -m recent --update --name T");
	pf_state_domain *d = pf_state_domain_new();
	ck_assert_ptr_nonnull(d);
	pf_engine *g[2][GENG] = {{NULL}};
	pthread_t t[2][GENG];
	struct gworker w[2][GENG];
	uint64_t hl = 0;
	for (unsigned round = 0; round <= GROUNDS; round++) {
		unsigned cur = round % 2, old = !cur;
		if (round < GROUNDS) { /* the next generation starts while the old one runs */
			compile_gen(g[cur], GENG, rs, d, round + 1);
			for (unsigned i = 0; i < GENG; i++) {
				w[cur][i] = (struct gworker){.e = g[cur][i], .id = i};
				ck_assert_int_eq(
				    pthread_create(&t[cur][i], NULL, gworker_main, &w[cur][i]), 0);
			}
		}
		if (round == 0)
			continue;
		uint64_t lim = 0, upd = 0;
		for (unsigned i = 0; i < GENG; i++) {
			pthread_join(t[old][i], NULL);
			ck_assert_int_eq(w[old][i].failed, 0);
			lim += pk_on(g[old][i], 1);
			hl += pk_on(g[old][i], 3);
			upd += pk_on(g[old][i], 4);
		}
		for (unsigned i = 0; i < GENG; i++) {
			pf_engine_free(g[old][i]); /* while the new generation judges */
			g[old][i] = NULL;
		}
		/* a bucket of 500 per generation, shared by its engines */
		ck_assert_uint_eq(lim, 500);
		/* one list through every generation: each --update finds its source */
		ck_assert_uint_eq(upd, GENG * (GPACKETS / 2));
	}
	/* one hashlimit table through every generation, one destination: 50 in all */
	ck_assert_uint_eq(hl, 50);
	pf_state_domain_free(d);
}
END_TEST

static Suite *domain_suite(void)
{
	Suite *s = suite_create("state_domain");
	TCase *tc = tcase_create("shared");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, limit_shared);
	tcase_add_test(tc, statistic_nth_shared);
	tcase_add_test(tc, hashlimit_shared);
	tcase_add_test(tc, recent_shared);
	tcase_add_test(tc, connlimit_shared);
	tcase_add_test(tc, changes_with_lag);
	tcase_add_test(tc, recent_list_across_engines);
	tcase_add_test(tc, threads);
	tcase_add_test(tc, threads_changing);
	tcase_add_test(tc, generations);
	tcase_add_test(tc, threads_generations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(domain_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
