/*
 * test_core.c - unit tests of the core language and model: commands, canonical -S/-L output,
 * error messages and codes, user chains and references, save/restore and their atomicity.
 * Expected strings were taken from iptables-legacy 1.8.9.
 */
#include "helpers.h"

/* pf_ruleset_save of rs (in outbuf). */
static const char *save_text(const char *table, unsigned flags)
{
	char *buf = ruleset_text(rs, table, flags);
	snprintf(outbuf, sizeof(outbuf), "%s", buf);
	free(buf);
	return outbuf;
}

START_TEST(empty_filter_listing)
{
	ck_assert_str_eq(run("-S", NULL), "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n");
	ck_assert_str_eq(run("-t nat -S", NULL), "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n"
						 "-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n");
	ck_assert_str_eq(run("-t raw -S", NULL), "-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n");
	ck_assert_str_eq(run("-t mangle -S", NULL),
			 "-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n"
			 "-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n");
	ck_assert_str_eq(run("-t security -S", NULL),
			 "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n");
	int code;
	run("-t foo -S", &code);
	ck_assert_int_eq(code, 3);
}
END_TEST

START_TEST(addresses_are_canonical)
{
	ok("-A INPUT -s 1.2.3.4/255.255.0.255 -d 10 -j DROP");
	ok("-A INPUT ! -s 0x0a.1.2.3 -d 010.1.2.3/8");
	ok("-A INPUT -s 1.2.3.4/0");
	ok("-A INPUT ! -d 1.2.3.4/0");
	ck_assert_str_eq(run("-S INPUT", NULL),
			 "-P INPUT ACCEPT\n"
			 "-A INPUT -s 1.2.0.4/255.255.0.255 -d 10.0.0.0/32 -j DROP\n"
			 "-A INPUT ! -s 10.1.2.3/32 -d 8.0.0.0/8\n"
			 "-A INPUT\n"
			 "-A INPUT ! -d 0.0.0.0/0\n");
	fails("-A INPUT -s 1.2.3.4/33", 2, "invalid mask `33' specified");
	fails("-A INPUT -s 1.2.3.400", 2, "host/network `1.2.3.400' not found");
	fails("-A INPUT ! -s 1.2.3.4,5.6.7.8", 2,
	      "! not allowed with multiple source or destination IP addresses");
}
END_TEST

START_TEST(multiple_addresses_expand)
{
	ok("-A INPUT -s 1.2.3.4,5.6.7.8/16 -d 9.9.9.9,8.8.8.8 -j ACCEPT");
	ck_assert_str_eq(run("-S INPUT", NULL),
			 "-P INPUT ACCEPT\n"
			 "-A INPUT -s 1.2.3.4/32 -d 9.9.9.9/32 -j ACCEPT\n"
			 "-A INPUT -s 1.2.3.4/32 -d 8.8.8.8/32 -j ACCEPT\n"
			 "-A INPUT -s 5.6.0.0/16 -d 9.9.9.9/32 -j ACCEPT\n"
			 "-A INPUT -s 5.6.0.0/16 -d 8.8.8.8/32 -j ACCEPT\n");
	/* -D with the same list removes all of them. */
	ok("-D INPUT -s 1.2.3.4,5.6.7.8/16 -d 9.9.9.9,8.8.8.8 -j ACCEPT");
	ck_assert_str_eq(run("-S INPUT", NULL), "-P INPUT ACCEPT\n");
}
END_TEST

START_TEST(protocols_and_interfaces)
{
	ok("-A FORWARD -p 115 ! -i eth+ -o veth0 -f");
	ok("-A FORWARD -p TCP");
	ok("-A FORWARD ! -p 17 ! -f");
	ok("-A FORWARD -p 0 -i +");
	ck_assert_str_eq(run("-S FORWARD", NULL),
			 "-P FORWARD ACCEPT\n"
			 "-A FORWARD ! -i eth+ -o veth0 -p l2tp -f\n"
			 "-A FORWARD -p tcp\n"
			 "-A FORWARD ! -p udp ! -f\n"
			 "-A FORWARD\n");
	fails("-A INPUT -p foo", 2, "unknown protocol \"foo\" specified");
	fails("-A INPUT -p 256", 2, "unknown protocol \"256\" specified");
	fails("-A INPUT -i thisinterfaceistoolong0", 2,
	      "interface name `thisinterfaceistoolong0' must be shorter than IFNAMSIZ (15)");
	fails("-A INPUT -o eth0", 2, "Can't use -o with INPUT\n");
	fails("-A OUTPUT -i eth0", 2, "Can't use -i with OUTPUT\n");
}
END_TEST

START_TEST(list_formats)
{
	ok("-N FOO");
	ok("-A INPUT -s 1.2.0.4/255.255.0.255 -j FOO");
	ok("-A INPUT ! -s 1.2.3.0/24 ! -p udp ! -f -g FOO");
	ck_assert_str_eq(run("-L INPUT", NULL),
			 "Chain INPUT (policy ACCEPT)\n"
			 "target     prot opt source               destination         \n"
			 "FOO        all  --  1.2.0.4/255.255.0.255  anywhere            \n"
			 "FOO       !udp  !f !1.2.3.0/24           anywhere            [goto] \n");
	ck_assert_str_eq(
		run("-L INPUT -n -v --line-numbers", NULL),
		"Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n"
		"num   pkts bytes target     prot opt in     out     source               "
		"destination         \n"
		"1        0     0 FOO        0    --  *      *       1.2.0.4/255.255.0.255  "
		"0.0.0.0/0           \n"
		"2        0     0 FOO       !17   !f  *      *      !1.2.3.0/24           "
		"0.0.0.0/0           [goto] \n");
	ck_assert_str_eq(run("-L FOO -v -x", NULL),
			 "Chain FOO (2 references)\n"
			 "    pkts      bytes target     prot opt in     out     source          "
			 "     destination         \n");
}
END_TEST

START_TEST(counters_and_kmg)
{
	ok("-A INPUT -c 123456 98765432 -j ACCEPT");
	ok("-P INPUT DROP -c 5 7");
	ck_assert_str_eq(run("-S INPUT -v", NULL),
			 "-P INPUT DROP -c 5 7\n-A INPUT -c 123456 98765432 -j ACCEPT\n");
	ck_assert_str_eq(run("-L INPUT -v", NULL),
			 "Chain INPUT (policy DROP 5 packets, 7 bytes)\n"
			 " pkts bytes target     prot opt in     out     source               "
			 "destination         \n"
			 " 123K   99M ACCEPT     all  --  any    any     anywhere             "
			 "anywhere            \n");
	ok("-Z INPUT");
	ck_assert_str_eq(run("-S INPUT -v", NULL),
			 "-P INPUT DROP -c 0 0\n-A INPUT -c 0 0 -j ACCEPT\n");
}
END_TEST

START_TEST(user_chains_and_references)
{
	ok("-N B");
	ok("-N A");
	ok("-A INPUT -j B");
	ck_assert_str_eq(run("-S", NULL), "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
					  "-N A\n-N B\n-A INPUT -j B\n");
	fails("-N A", 1, "Chain already exists");
	fails("-X B", 1, "Too many links");
	fails("-A B -j B", 1, "Too many levels of symbolic links");
	ok("-N L1");
	ok("-N L2");
	ok("-A L1 -j L2");
	ok("-A L2 -g L1"); /* a loop no hook reaches: the kernel accepts it */
	fails("-I INPUT -j L2", 1, "Too many levels of symbolic links");
	ok("-I L2 -j DROP"); /* the kernel's walk stops at an unconditional verdict... */
	ok("-I INPUT -j L1"); /* ...so the loop behind it is not seen */
	ok("-A L2 -j L1");
	fails("-I L2 -j L1", 1, "Too many levels of symbolic links");
	ok("-D INPUT -j L1");
	ok("-F L2");
	ok("-F L1");
	ok("-X L2");
	ok("-X L1");
	ok("-A B -j A");
	fails("-A A -j B", 1, "Too many levels of symbolic links");
	fails("-A A -j INPUT", 1, "Invalid argument. Run `dmesg' for more information");
	fails("-A A -j NOPE", 2, "Couldn't load target `NOPE':No such file or directory\n");
	fails("-A A -g NOPE", 2, "goto 'NOPE' is not a chain");
	fails("-N ACCEPT", 2, "chain name may not clash with target name");
	fails("-N -x", 2, "chain name not allowed to start with `-'");
	fails("-N 'a b'", 2, "Invalid chain name `a b'");
	fails("-N 12345678901234567890123456789", 2,
	      "chain name `12345678901234567890123456789' too long (must be under 29 chars)");
	ok("-E A C");
	ck_assert_str_eq(run("-S B", NULL), "-N B\n-A B -j C\n");
	const pf_table *t = pf_ruleset_table(rs, "filter");
	ck_assert_uint_eq(pf_chain_references(pf_table_chain(t, "C")), 1);
	ok("-F B");
	ok("-X C");
	ok("-D INPUT 1");
	ok("-X");
	ck_assert_str_eq(run("-S", NULL), "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n");
}
END_TEST

START_TEST(rule_positions)
{
	ok("-A INPUT -s 1.1.1.1");
	ok("-I INPUT -s 2.2.2.2");
	ok("-I INPUT 3 -s 3.3.3.3");
	ok("-R INPUT 1 -s 4.4.4.4");
	ck_assert_str_eq(run("-S INPUT", NULL),
			 "-P INPUT ACCEPT\n-A INPUT -s 4.4.4.4/32\n-A INPUT -s 1.1.1.1/32\n"
			 "-A INPUT -s 3.3.3.3/32\n");
	ck_assert_str_eq(run("-S INPUT 2", NULL), "-A INPUT -s 1.1.1.1/32\n");
	fails("-I INPUT 5 -j ACCEPT", 1, "Index of insertion too big");
	fails("-R INPUT 4 -j ACCEPT", 1, "Index of replacement too big");
	fails("-D INPUT 4", 1, "Index of deletion too big");
	fails("-D INPUT -s 9.9.9.9", 1, "Bad rule (does a matching rule exist in that chain?)");
	fails("-C INPUT -s 9.9.9.9", 1, "Bad rule (does a matching rule exist in that chain?)");
	ok("-C INPUT -s 1.1.1.1");
	fails("-D INPUT 0", 2, "Invalid rule number `0'");
	fails("-L NOPE", 1, "No chain/target/match by that name");
}
END_TEST

START_TEST(option_errors)
{
	fails("-A INPUT --foo", 2, "unknown option \"--foo\"");
	fails("-A INPUT -s 1.1.1.1 -s 2.2.2.2", 2, "multiple -s flags not allowed");
	fails("-A INPUT -D INPUT", 2, "Cannot use -D with -A");
	fails("-L -s 1.1.1.1", 2, "Illegal option `-s' with this command");
	fails("-A INPUT ! -j ACCEPT", 2, "cannot have ! before -j");
	fails("-A INPUT extra", 2, "Bad argument `extra'");
	fails("-t nat -A INPUT -j DROP", 2,
	      "\nThe \"nat\" table is not intended for filtering, the use of DROP is therefore "
	      "inhibited.\n\n");
	fails("-P INPUT FOO", 1, "Bad policy name. Run `dmesg' for more information");
	fails("-P FOO DROP", 1, "Bad built-in chain name");
	fails("", 2, "no command specified");
}
END_TEST

START_TEST(failed_command_changes_nothing)
{
	ok("-N A");
	ok("-A INPUT -s 1.2.3.4,5.6.7.8 -j A");
	const char *before = strdup(save_text(NULL, PF_SAVE_COUNTERS));
	/* Expands to two rules, the loop is found at commit: nothing may stay. */
	int code;
	run("-A A -s 1.1.1.1,2.2.2.2 -j A", &code);
	ck_assert_int_eq(code, 1);
	ck_assert_str_eq(save_text(NULL, PF_SAVE_COUNTERS), before);
	free((void *)before);
}
END_TEST

START_TEST(save_and_restore_round_trip)
{
	const char *text = "*nat\n:PREROUTING ACCEPT [1:2]\n:INPUT ACCEPT [0:0]\n"
			   ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:X - [0:0]\n"
			   "[3:4] -A PREROUTING -s 198.18.0.0/15 -j X\nCOMMIT\n"
			   "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
			   "-A INPUT -i lo -j ACCEPT\nCOMMIT\n";
	ck_assert_int_eq(pf_ruleset_restore(rs, text, strlen(text), PF_RESTORE_COUNTERS, NULL, &err),
			 0);
	/* The kernel lists the most recently instantiated table first. */
	ck_assert_str_eq(save_text(NULL, PF_SAVE_COUNTERS),
			 "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
			 "[0:0] -A INPUT -i lo -j ACCEPT\nCOMMIT\n"
			 "*nat\n:PREROUTING ACCEPT [1:2]\n:INPUT ACCEPT [0:0]\n"
			 ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:X - [0:0]\n"
			 "[3:4] -A PREROUTING -s 198.18.0.0/15 -j X\nCOMMIT\n");
	/* Without --counters, counters start at zero. */
	pf_ruleset *other = pf_ruleset_new();
	ck_assert_int_eq(pf_ruleset_restore(other, text, strlen(text), 0, NULL, &err), 0);
	pf_ruleset_free(other);
}
END_TEST

START_TEST(restore_failure_keeps_table)
{
	ok("-A INPUT -s 1.1.1.1 -j ACCEPT");
	const char *before = strdup(save_text("filter", 0));
	const char *bad = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n"
			  "-A INPUT -p tcp --nosuchoption 1\nCOMMIT\n";
	ck_assert_int_eq(pf_ruleset_restore(rs, bad, strlen(bad), 0, NULL, &err), -1);
	ck_assert_int_eq(err.line, 4);
	ck_assert_int_eq(err.code, 2);
	ck_assert_str_eq(save_text("filter", 0), before);
	const char *nocommit = "*filter\n-A INPUT -j DROP\n";
	ck_assert_int_eq(pf_ruleset_restore(rs, nocommit, strlen(nocommit), 0, NULL, &err), -1);
	ck_assert_str_eq(save_text("filter", 0), before);
	/* --test changes nothing even when valid. */
	const char *good = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
	ck_assert_int_eq(pf_ruleset_restore(rs, good, strlen(good), PF_RESTORE_TEST, NULL, &err), 0);
	ck_assert_str_eq(save_text("filter", 0), before);
	/* --noflush keeps existing rules. */
	const char *add = "*filter\n-A INPUT -s 2.2.2.2 -j DROP\nCOMMIT\n";
	ck_assert_int_eq(pf_ruleset_restore(rs, add, strlen(add), PF_RESTORE_NOFLUSH, NULL, &err), 0);
	ck_assert_str_eq(run("-S INPUT", NULL), "-P INPUT ACCEPT\n-A INPUT -s 1.1.1.1/32 -j ACCEPT\n"
						"-A INPUT -s 2.2.2.2/32 -j DROP\n");
	free((void *)before);
}
END_TEST

START_TEST(iteration_api)
{
	ok("-N USER");
	ok("-A USER -s 198.18.0.1 -j RETURN");
	const pf_table *t = pf_ruleset_table(rs, "filter");
	ck_assert_str_eq(pf_table_name(t), "filter");
	ck_assert_uint_eq(pf_table_chain_count(t), 4);
	const pf_chain *c = pf_table_chain_at(t, 3);
	ck_assert_str_eq(pf_chain_name(c), "USER");
	ck_assert_int_eq(pf_chain_is_builtin(c), 0);
	ck_assert_ptr_null(pf_chain_policy(c));
	ck_assert_str_eq(pf_chain_policy(pf_table_chain_at(t, 0)), "ACCEPT");
	ck_assert_uint_eq(pf_chain_rule_count(c), 1);
	char *s = pf_rule_format(pf_chain_rule_at(c, 0));
	ck_assert_str_eq(s, "-s 198.18.0.1/32 -j RETURN");
	free(s);
}
END_TEST

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("language");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, empty_filter_listing);
	tcase_add_test(tc, addresses_are_canonical);
	tcase_add_test(tc, multiple_addresses_expand);
	tcase_add_test(tc, protocols_and_interfaces);
	tcase_add_test(tc, list_formats);
	tcase_add_test(tc, counters_and_kmg);
	tcase_add_test(tc, user_chains_and_references);
	tcase_add_test(tc, rule_positions);
	tcase_add_test(tc, option_errors);
	tcase_add_test(tc, failed_command_changes_nothing);
	tcase_add_test(tc, save_and_restore_round_trip);
	tcase_add_test(tc, restore_failure_keeps_table);
	tcase_add_test(tc, iteration_api);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(core_suite());
}
