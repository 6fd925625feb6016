/*
 * helpers.h - what the Check unit tests share: the fixture (a rule set, an engine compiled
 * from it, the last result), commands and their output, engines and their counters, packets
 * (IPv4, TCP, UDP headers, checksums, hex), a seeded random generator and the runner.
 *
 * Header only: every function is static inline (a test uses what it needs, the rest costs
 * nothing and draws no warning); the fixture's variables are file-static in each test program.
 * The fixture state is what the helpers below act on: `rs' (the rule set of the test), `eng'
 * (NULL until compiled), `res' (the last evaluation), `err' and `outbuf' (the last command's
 * error and output). Check runs every test in a child process, so each starts from zero.
 */
#ifndef PF_TEST_HELPERS_H
#define PF_TEST_HELPERS_H

#include <arpa/inet.h>
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktfilt/engine.h"
#include "pktfilt/pktfilt.h"

#define PF_TEST_UNUSED __attribute__((unused))

/* The message of EINVAL from the kernel's commit checks, as iptables prints it. */
#define INVAL "Invalid argument. Run `dmesg' for more information"

/* ---- the fixture ---- */

static pf_ruleset *rs PF_TEST_UNUSED;
static pf_engine *eng PF_TEST_UNUSED;
static struct pf_eval_result res PF_TEST_UNUSED;
static struct pf_error err PF_TEST_UNUSED;
static char outbuf[65536] PF_TEST_UNUSED;

/* A new empty rule set, no engine. */
static inline void fixture_setup(void)
{
	rs = pf_ruleset_new();
	ck_assert_ptr_nonnull(rs);
	eng = NULL;
}

static inline void fixture_teardown(void)
{
	pf_engine_free(eng);
	pf_ruleset_free(rs);
}

/* Run the test suite; the program's exit status. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- commands and their output ---- */

/* A command on rs that must succeed. */
static inline void cmd(const char *c)
{
	struct pf_error e;
	ck_assert_msg(pf_ruleset_command_string(rs, c, NULL, &e) == 0, "%s: %s", c, e.message);
}

/* A command run by cmdf/try_cmdf: its text, result and error. */
struct cmd_run {
	char text[1024];
	int rc;
	struct pf_error err;
};

static inline struct cmd_run vcmdf(pf_ruleset *r, const char *fmt, va_list ap)
{
	struct cmd_run x;
	vsnprintf(x.text, sizeof(x.text), fmt, ap);
	x.rc = pf_ruleset_command_string(r, x.text, NULL, &x.err);
	return x;
}

/* A command on r, printf-style, that must succeed. */
static inline __attribute__((format(printf, 2, 3))) void cmdf(pf_ruleset *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct cmd_run x = vcmdf(r, fmt, ap);
	va_end(ap);
	ck_assert_msg(x.rc == 0, "%s: %s", x.text, x.err.message);
}

/* A command on r, printf-style: pf_ruleset_command_string's result. */
static inline __attribute__((format(printf, 2, 3))) int try_cmdf(pf_ruleset *r, const char *fmt,
								 ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct cmd_run x = vcmdf(r, fmt, ap);
	va_end(ap);
	return x.rc;
}

/* Run a command on rs; return its output (outbuf) and fill *code (0 on success), its error in
 * err. */
static inline const char *run(const char *c, int *code)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	memset(&err, 0, sizeof(err));
	int rc = pf_ruleset_command_string(rs, c, f, &err);
	fclose(f);
	snprintf(outbuf, sizeof(outbuf), "%s", buf ? buf : "");
	free(buf);
	if (code)
		*code = rc ? err.code : 0;
	return outbuf;
}

static inline void ok(const char *c)
{
	int code;
	run(c, &code);
	ck_assert_msg(code == 0, "command '%s' failed: %s", c, err.message);
}

/* The command fails with this exit code and message. */
static inline void fails(const char *c, int code, const char *msg)
{
	int got;
	run(c, &got);
	ck_assert_msg(got == code, "command '%s': code %d, expected %d (%s)", c, got, code,
		      err.message);
	ck_assert_str_eq(err.message, msg);
}

/* The match part of the -L line of the only rule in the filter chain after running c (which
 * appends it to the flushed chain): what follows the destination column, after
 * 10 + 6 + 3 + 21 + 21 characters. */
static inline const char *listed(const char *chain, const char *c, bool numeric)
{
	static char line[4096];
	char l[256];
	snprintf(l, sizeof(l), "-F %s", chain);
	ok(l);
	ok(c);
	snprintf(l, sizeof(l), "-L %s%s", chain, numeric ? " -n" : "");
	const char *out = run(l, NULL);
	const char *p = strchr(out, '\n');
	ck_assert_ptr_nonnull(p);
	p = strchr(p + 1, '\n');
	ck_assert_ptr_nonnull(p);
	p++;
	const char *end = strchr(p, '\n');
	size_t n = end ? (size_t)(end - p) : strlen(p);
	ck_assert_uint_ge(n, 61);
	snprintf(line, sizeof(line), "%.*s", (int)(n - 61), p + 61);
	return line;
}

/* pf_ruleset_save of r (table NULL: every table), malloc'd. */
static inline char *ruleset_text(const pf_ruleset *r, const char *table, unsigned flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct pf_error e;
	ck_assert_int_eq(pf_ruleset_save(r, table, flags, f, &e), 0);
	fclose(f);
	return buf;
}

/* pf_engine_save of e, malloc'd. */
static inline char *engine_text(const pf_engine *e, unsigned flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct pf_error er;
	ck_assert_int_eq(pf_engine_save(e, flags, f, &er), 0);
	fclose(f);
	return buf;
}

/* ---- engines ---- */

/* An engine for r that must compile. */
static inline pf_engine *engine_for(const pf_ruleset *r, const struct pf_engine_config *cfg)
{
	struct pf_error e;
	pf_engine *x = pf_engine_new(r, cfg, &e);
	ck_assert_msg(x != NULL, "compile: %s", e.message);
	return x;
}

/* An engine for r with this matcher and random seed, tracing. */
static inline pf_engine *new_engine(const pf_ruleset *r, enum pf_matcher_kind m, uint64_t seed)
{
	struct pf_engine_config cfg = {.matcher = m, .trace = true, .random_seed = seed};
	return engine_for(r, &cfg);
}

/* (Re)compile eng from rs. */
static inline void compile_with(const struct pf_engine_config *cfg)
{
	pf_engine_free(eng);
	eng = NULL;
	eng = engine_for(rs, cfg);
}

/* Evaluate b (len bytes in a buffer of cap) at a hook with eng; the result is in res. */
static inline enum pf_nf_verdict eval_pkt(enum pf_nf_hook hook, uint8_t *b, size_t len, size_t cap,
					  const struct pf_packet_meta *m)
{
	ck_assert_int_eq(pf_engine_eval(eng, hook, b, len, cap, m, &res), 0);
	return res.verdict;
}

/* A copy of rs with the counters eng has counted (to free). */
static inline pf_ruleset *counted_copy(void)
{
	pf_ruleset *copy = pf_ruleset_clone(rs);
	ck_assert_int_eq(pf_engine_counters_to_ruleset(eng, copy), 0);
	return copy;
}

/* Counters of rule n (1-based; 0: the policy) of table/chain, as eng counted them. */
static inline void counters(const char *table, const char *chain, size_t n, uint64_t *pkts,
			    uint64_t *bytes)
{
	pf_ruleset *copy = counted_copy();
	const pf_chain *c = pf_table_chain(pf_ruleset_table(copy, table), chain);
	ck_assert_ptr_nonnull(c);
	if (n == 0)
		pf_chain_policy_counters(c, pkts, bytes);
	else
		pf_rule_counters(pf_chain_rule_at(c, n - 1), pkts, bytes);
	pf_ruleset_free(copy);
}

/* Packets counted by rule n (1-based) of table/chain so far. */
static inline uint64_t hits(const char *table, const char *chain, size_t n)
{
	uint64_t p, b;
	counters(table, chain, n, &p, &b);
	return p;
}

/* Bytes counted by rule n (1-based) of table/chain so far. */
static inline uint64_t hit_bytes(const char *table, const char *chain, size_t n)
{
	uint64_t p, b;
	counters(table, chain, n, &p, &b);
	return b;
}

/* Rule `rule' (1-based; 0: the policy) of table/chain counted pkts packets and bytes bytes. */
static inline void expect_counters(const char *table, const char *chain, size_t rule, uint64_t pkts,
				   uint64_t bytes)
{
	uint64_t p, by;
	counters(table, chain, rule, &p, &by);
	ck_assert_msg(p == pkts && by == bytes, "%s/%s rule %zu: [%llu:%llu], expected [%llu:%llu]",
		      table, chain, rule, (unsigned long long)p, (unsigned long long)by,
		      (unsigned long long)pkts, (unsigned long long)bytes);
}

/* ---- packets ---- */

static inline void put16(uint8_t *b, unsigned v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* Bytes from hex ("4500 001c..."; blanks are skipped); the count. */
static inline size_t hex(uint8_t *b, const char *h)
{
	size_t n = 0;
	while (h[0] && h[1]) {
		if (h[0] == ' ') {
			h++;
			continue;
		}
		unsigned v;
		sscanf(h, "%2x", &v);
		b[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

/* Internet checksum: s plus the 16-bit words of b[0..n) (sum16), folded and inverted (fold),
 * both at once (csum). */
static inline uint32_t sum16(const uint8_t *b, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static inline uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline uint16_t csum(const uint8_t *b, size_t n, uint32_t s)
{
	return fold(sum16(b, n, s));
}

/* Recompute the IPv4 header checksum of the packet at b. */
static inline void fix_ip(uint8_t *b)
{
	size_t ihl = (size_t)(b[0] & 15) * 4;
	b[10] = b[11] = 0;
	put16(b + 10, csum(b, ihl, 0));
}

/* The IPv4 header checksum is right. */
static inline bool ip_ok(const uint8_t *b)
{
	return csum(b, (size_t)(b[0] & 15) * 4, 0) == 0;
}

/* The TCP/UDP pseudo-header sum of the IPv4 packet at b (addresses, protocol, length). */
static inline uint32_t l4_pseudo(const uint8_t *b)
{
	size_t ihl = (size_t)(b[0] & 15) * 4, tot = (size_t)(b[2] << 8 | b[3]);
	return sum16(b + 12, 8, 0) + b[9] + (uint32_t)(tot - ihl);
}

/* The TCP/UDP checksum (with pseudo-header) is right. */
static inline bool l4_ok(const uint8_t *b)
{
	size_t ihl = (size_t)(b[0] & 15) * 4, tot = (size_t)(b[2] << 8 | b[3]);
	return csum(b + ihl, tot - ihl, l4_pseudo(b)) == 0;
}

/* Compute the transport checksum of the IPv4 packet at b into the transport header at offset
 * off (6: UDP, 16: TCP); the field is 0 before. */
static inline void fix_l4(uint8_t *b, size_t off)
{
	size_t ihl = (size_t)(b[0] & 15) * 4, tot = (size_t)(b[2] << 8 | b[3]);
	put16(b + ihl + off, csum(b + ihl, tot - ihl, l4_pseudo(b)));
}

/* IPv4 header fields for ip4_header(): addresses as dotted quads, frag the flags and offset
 * field. */
struct ip4 {
	const char *src, *dst;
	uint8_t proto, ttl, tos;
	uint16_t id, frag;
};

/* A 20-byte IPv4 header at b for l4len bytes of transport data (which it leaves alone), its
 * checksum 0 (see fix_ip); the packet's length. */
static inline size_t ip4_header(uint8_t *b, size_t l4len, const struct ip4 *h)
{
	size_t n = 20 + l4len;
	memset(b, 0, 20);
	b[0] = 0x45;
	b[1] = h->tos;
	put16(b + 2, (unsigned)n);
	put16(b + 4, h->id);
	put16(b + 6, h->frag);
	b[8] = h->ttl;
	b[9] = h->proto;
	ck_assert_int_eq(inet_pton(AF_INET, h->src, b + 12), 1);
	ck_assert_int_eq(inet_pton(AF_INET, h->dst, b + 16), 1);
	return n;
}

/* TCP header fields for tcp_header(): doff in 32-bit words. */
struct tcp4 {
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t doff, flags;
	uint16_t win;
};

/* A 20-byte TCP header at t (options and data after it are left alone), checksum 0. */
static inline void tcp_header(uint8_t *t, const struct tcp4 *h)
{
	memset(t, 0, 20);
	put16(t, h->sport);
	put16(t + 2, h->dport);
	put16(t + 4, h->seq >> 16);
	put16(t + 6, h->seq & 0xffff);
	t[12] = (uint8_t)(h->doff << 4);
	t[13] = h->flags;
	put16(t + 14, h->win);
}

/* An 8-byte UDP header at u: ports, length (header and data), checksum 0. */
static inline void udp_header(uint8_t *u, unsigned sport, unsigned dport, size_t len)
{
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (unsigned)len);
	put16(u + 6, 0);
}

/* ---- deterministic randomness (xorshift; seed rng first) ---- */

static uint64_t rng PF_TEST_UNUSED;

static inline uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* 0 .. n-1 */
static inline unsigned pick(unsigned n)
{
	return rnd() % n;
}

/* Append to the string r (of size n), printf-style. */
static inline __attribute__((format(printf, 3, 4))) void cat(char *r, size_t n, const char *fmt,
							     ...)
{
	size_t l = strlen(r);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r + l, n - l, fmt, ap);
	va_end(ap);
}

#endif
