/*
 * test_engine.c - traversal semantics of the engine (ipt_do_table): first match, counters,
 * policies, jump/goto/RETURN, falling off user chains, fragments and the ip part of rules,
 * table order at a hook, malformed packets dropped before any hook.
 */
#include "helpers.h"

static void compile(void)
{
	struct pf_engine_config cfg = {.matcher = PF_MATCHER_LINEAR, .trace = true};
	compile_with(&cfg);
}

/* Build an IPv4 packet: proto, addresses, ports, fragment field, total length (IP checksum
 * left 0). */
static size_t build(uint8_t *b, uint8_t proto, const char *src, const char *dst, uint16_t sport,
		    uint16_t dport, uint16_t frag, size_t len)
{
	memset(b, 0, len);
	struct ip4 h = {.src = src, .dst = dst, .proto = proto, .ttl = 64, .frag = frag};
	ip4_header(b, len - 20, &h);
	if (len >= 24) {
		put16(b + 20, sport);
		put16(b + 22, dport);
	}
	if (proto == 6 && len >= 40)
		b[32] = 0x50;
	return len;
}

static enum pf_nf_verdict judge(int hook, const char *in, const char *out, uint8_t *b, size_t len)
{
	struct pf_packet_meta meta = {.in_iface = in, .out_iface = out};
	return eval_pkt(hook, b, len, len, &meta);
}

START_TEST(first_match_and_policy)
{
	cmd("-P FORWARD DROP");
	cmd("-A FORWARD -s 198.18.0.0/24 -j ACCEPT");
	cmd("-A FORWARD -d 198.19.0.1");
	cmd("-A FORWARD -d 198.19.0.1 -j ACCEPT");
	compile();
	uint8_t b[64];
	size_t n = build(b, 17, "198.18.0.5", "198.19.0.1", 1, 2, 0, 40);
	ck_assert_int_eq(judge(2, "in0", "out0", b, n), PF_NF_ACCEPT);
	n = build(b, 17, "198.20.0.5", "198.19.0.1", 1, 2, 0, 48);
	ck_assert_int_eq(judge(2, "in0", "out0", b, n), PF_NF_ACCEPT);
	n = build(b, 17, "198.20.0.5", "198.19.0.2", 1, 2, 0, 30);
	ck_assert_int_eq(judge(2, "in0", "out0", b, n), PF_NF_DROP);
	expect_counters("filter", "FORWARD", 1, 1, 40);
	expect_counters("filter", "FORWARD", 2, 1, 48);
	expect_counters("filter", "FORWARD", 3, 1, 48);
	expect_counters("filter", "FORWARD", 0, 1, 30);
}
END_TEST

START_TEST(jump_goto_return)
{
	/* FORWARD: -j A, then a counting rule. A: -g B. B: RETURN. The RETURN in B goes back
	 * after the -j A (the goto pushed nothing), never to the rule after the -g. */
	cmd("-N A");
	cmd("-N B");
	cmd("-A FORWARD -j A");
	cmd("-A FORWARD -s 198.18.0.1");
	cmd("-A A -g B");
	cmd("-A A -s 198.18.0.1");
	cmd("-A B -j RETURN");
	compile();
	uint8_t b[64];
	size_t n = build(b, 17, "198.18.0.1", "198.19.0.1", 1, 2, 0, 28);
	ck_assert_int_eq(judge(2, "in0", "out0", b, n), PF_NF_ACCEPT);
	expect_counters("filter", "FORWARD", 1, 1, 28);
	expect_counters("filter", "FORWARD", 2, 1, 28);
	expect_counters("filter", "A", 1, 1, 28);
	expect_counters("filter", "A", 2, 0, 0);
	expect_counters("filter", "B", 1, 1, 28);
	expect_counters("filter", "FORWARD", 0, 1, 28);
	ck_assert_uint_eq(res.ntrace, 5);
	ck_assert_str_eq(res.trace[2].chain, "B");
}
END_TEST

START_TEST(goto_from_builtin_falls_to_policy)
{
	cmd("-P FORWARD DROP");
	cmd("-N U");
	cmd("-A FORWARD -g U");
	cmd("-A FORWARD -j ACCEPT");
	cmd("-A U -s 10.0.0.0/8");
	compile();
	uint8_t b[64];
	size_t n = build(b, 17, "198.18.0.1", "198.19.0.1", 1, 2, 0, 28);
	ck_assert_int_eq(judge(2, "in0", "out0", b, n), PF_NF_DROP);
	expect_counters("filter", "FORWARD", 2, 0, 0);
	expect_counters("filter", "FORWARD", 0, 1, 28);
}
END_TEST

START_TEST(return_in_builtin_is_policy)
{
	cmd("-P INPUT DROP");
	cmd("-A INPUT -j RETURN");
	cmd("-A INPUT -j ACCEPT");
	compile();
	uint8_t b[64];
	size_t n = build(b, 1, "198.18.0.1", "198.19.0.1", 0, 0, 0, 28);
	ck_assert_int_eq(judge(1, "in0", NULL, b, n), PF_NF_DROP);
	expect_counters("filter", "INPUT", 1, 1, 28);
	expect_counters("filter", "INPUT", 2, 0, 0);
	expect_counters("filter", "INPUT", 0, 1, 28);
}
END_TEST

START_TEST(ip_part)
{
	cmd("-A FORWARD -i eth+ -o veth0 -p udp");
	cmd("-A FORWARD ! -i eth+");
	cmd("-A FORWARD -f");
	cmd("-A FORWARD ! -f");
	cmd("-A FORWARD ! -p udp");
	cmd("-A FORWARD ! -s 198.18.0.0/15");
	compile();
	uint8_t b[64];
	size_t n = build(b, 17, "198.18.0.1", "198.19.0.1", 1, 2, 0, 28);
	judge(2, "eth3", "veth0", b, n);
	n = build(b, 6, "198.18.0.1", "198.19.0.1", 1, 2, 0x0003, 28); /* non-first fragment */
	judge(2, "lo", "veth0", b, n);
	expect_counters("filter", "FORWARD", 1, 1, 28);
	expect_counters("filter", "FORWARD", 2, 1, 28);
	expect_counters("filter", "FORWARD", 3, 1, 28);
	expect_counters("filter", "FORWARD", 4, 1, 28);
	expect_counters("filter", "FORWARD", 5, 1, 28);
	expect_counters("filter", "FORWARD", 6, 0, 0);
}
END_TEST

START_TEST(tables_in_hook_order)
{
	cmd("-t raw -A PREROUTING -j ACCEPT");
	cmd("-t mangle -A PREROUTING -j DROP");
	cmd("-t mangle -A FORWARD -j ACCEPT");
	cmd("-A FORWARD -j DROP");
	cmd("-t security -A FORWARD -j ACCEPT");
	compile();
	uint8_t b[64];
	size_t n = build(b, 17, "198.18.0.1", "198.19.0.1", 1, 2, 0, 28);
	ck_assert_int_eq(judge(0, "in0", NULL, b, n), PF_NF_DROP);
	ck_assert_int_eq(judge(2, "in0", "out0", b, n), PF_NF_DROP);
	expect_counters("raw", "PREROUTING", 1, 1, 28);
	expect_counters("mangle", "PREROUTING", 1, 1, 28);
	expect_counters("mangle", "FORWARD", 1, 1, 28);
	expect_counters("filter", "FORWARD", 1, 1, 28);
	expect_counters("security", "FORWARD", 1, 0, 0);
}
END_TEST

START_TEST(malformed_dropped_before_hooks)
{
	cmd("-A FORWARD");
	compile();
	uint8_t b[64] = {0}; /* bytes past the packet are read (len 40): defined */
	size_t n = build(b, 17, "198.18.0.1", "198.19.0.1", 1, 2, 0, 28);
	struct pf_packet_meta meta = {0};
	b[0] = 0x44; /* ihl 4 */
	ck_assert_int_eq(pf_engine_eval(eng, 2, b, n, n, &meta, &res), -1);
	b[0] = 0x45;
	b[3] = 60; /* tot_len beyond the buffer */
	ck_assert_int_eq(pf_engine_eval(eng, 2, b, n, n, &meta, &res), -1);
	ck_assert_int_eq(pf_engine_eval(eng, 2, b, 10, 10, &meta, &res), -1);
	expect_counters("filter", "FORWARD", 1, 0, 0);
	/* Bytes after tot_len are not counted. */
	b[3] = 28;
	ck_assert_int_eq(pf_engine_eval(eng, 2, b, 40, 64, &meta, &res), 0);
	expect_counters("filter", "FORWARD", 1, 1, 28);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("traversal");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, first_match_and_policy);
	tcase_add_test(tc, jump_goto_return);
	tcase_add_test(tc, goto_from_builtin_falls_to_policy);
	tcase_add_test(tc, return_in_builtin_is_policy);
	tcase_add_test(tc, ip_part);
	tcase_add_test(tc, tables_in_hook_order);
	tcase_add_test(tc, malformed_dropped_before_hooks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(engine_suite());
}
