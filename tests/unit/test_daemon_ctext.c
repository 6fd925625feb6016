/*
 * test_daemon_ctext.c - pktfiltd's counter text (daemon/ctext.c): the counters of
 * iptables-save -c text picked out, summed, written back, and matched from one rule set to
 * the next so that the counters of unchanged rules carry over. The texts are the library's
 * own save output, as the daemon uses them.
 */
#include "../../daemon/ctext.c"
#include "helpers.h"

/* The save -c text of a rule set built from commands. */
static char *saved(const char *const *cmds, size_t *len)
{
	pf_ruleset *rs = pf_ruleset_new();
	struct pf_error err;
	for (; *cmds; cmds++)
		ck_assert_msg(pf_ruleset_command_string(rs, *cmds, NULL, &err) == 0, "%s: %s",
			      *cmds, err.message);
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	ck_assert_int_eq(pf_ruleset_save(rs, NULL, PF_SAVE_COUNTERS | PF_SAVE_REPARSEABLE, f, &err),
			 0);
	fclose(f);
	pf_ruleset_free(rs);
	return buf;
}

static void parse(struct ctext *ct, const char *text)
{
	char *t = strdup(text);
	ck_assert_int_eq(ctext_parse(ct, t, strlen(t)), 0);
}

static const char *key(const struct ctext *ct, size_t i)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "%.*s|%.*s", (int)ct->e[i].table_len,
		 ct->text + ct->e[i].table_off, (int)ct->e[i].key_len, ct->text + ct->e[i].key_off);
	return buf;
}

START_TEST(parse_entries)
{
	struct ctext ct;
	parse(&ct, "*mangle\n:PREROUTING ACCEPT [5:500]\n:INPUT ACCEPT [0:0]\n"
		   "[7:700] -A PREROUTING -j MARK --set-xmark 0x3/0xffffffff\nCOMMIT\n"
		   "*filter\n:INPUT ACCEPT [1:2]\n:FORWARD DROP [3:4]\n:X - [0:0]\n"
		   "[10:1000] -A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT\n"
		   "[0:0] -A X -j LOG --log-prefix \"a [1:2] b\"\nCOMMIT\n");
	/* policies of built-in chains and rules; not the user chain's line */
	ck_assert_uint_eq(ct.n, 7);
	ck_assert_str_eq(key(&ct, 0), "mangle|:PREROUTING");
	ck_assert_uint_eq(ct.e[0].pkts, 5);
	ck_assert_uint_eq(ct.e[0].bytes, 500);
	ck_assert_str_eq(key(&ct, 2), "mangle|-A PREROUTING -j MARK --set-xmark 0x3/0xffffffff");
	ck_assert_uint_eq(ct.e[2].pkts, 7);
	ck_assert_str_eq(key(&ct, 4), "filter|:FORWARD");
	ck_assert_uint_eq(ct.e[4].bytes, 4);
	ck_assert_str_eq(key(&ct, 5), "filter|-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT");
	ck_assert_uint_eq(ct.e[5].pkts, 10);
	ck_assert_str_eq(key(&ct, 6), "filter|-A X -j LOG --log-prefix \"a [1:2] b\"");
	ctext_free(&ct);
}
END_TEST

START_TEST(render_replaces_counters_only)
{
	const char *text = "*filter\n:INPUT ACCEPT [1:2]\n:X - [0:0]\n"
			   "[10:1000] -A INPUT -m comment --comment \"[9:9]\" -j X\nCOMMIT\n";
	struct ctext ct;
	parse(&ct, text);
	ck_assert_uint_eq(ct.n, 2);
	ct.e[0].pkts = 12345678901234ULL;
	ct.e[0].bytes = 0;
	ct.e[1].pkts = 3;
	ct.e[1].bytes = 18446744073709551615ULL;
	size_t len;
	char *out = ctext_render(&ct, &len);
	ck_assert_str_eq(out,
			 "*filter\n:INPUT ACCEPT [12345678901234:0]\n:X - [0:0]\n"
			 "[3:18446744073709551615] -A INPUT -m comment --comment \"[9:9]\" -j X\n"
			 "COMMIT\n");
	ck_assert_uint_eq(len, strlen(out));
	/* and it reads back the same */
	struct ctext again;
	parse(&again, out);
	ck_assert(ctext_same_shape(&ct, &again));
	ck_assert_uint_eq(again.e[1].bytes, 18446744073709551615ULL);
	free(out);
	ctext_free(&again);
	ctext_free(&ct);
}
END_TEST

START_TEST(match_after_insert_delete_policy)
{
	static const char *const before[] = {"-P FORWARD DROP",
					     "-A FORWARD -p icmp -j ACCEPT",
					     "-A FORWARD -p tcp --dport 80 -j ACCEPT",
					     "-A FORWARD -p udp --dport 53 -j REJECT",
					     "-A FORWARD -p tcp --dport 80 -j ACCEPT",
					     NULL};
	static const char *const after[] = {
	    "-P FORWARD ACCEPT", /* policy changed: its counters still carry */
	    "-A FORWARD -p tcp --dport 8080 -j ACCEPT", /* new, first */
	    "-A FORWARD -p icmp -j ACCEPT", "-A FORWARD -p tcp --dport 80 -j ACCEPT",
	    /* the REJECT rule was deleted */
	    "-A FORWARD -p tcp --dport 80 -j ACCEPT", "-t nat -A POSTROUTING -j MASQUERADE", NULL};
	size_t l1, l2;
	char *t1 = saved(before, &l1), *t2 = saved(after, &l2);
	struct ctext a, b;
	ck_assert_int_eq(ctext_parse(&a, t1, l1), 0);
	ck_assert_int_eq(ctext_parse(&b, t2, l2), 0);
	ck_assert(!ctext_same_shape(&a, &b));
	long map[64];
	ck_assert_uint_lt(b.n, 64);
	ck_assert_int_eq(ctext_match(&a, &b, map), 0);
	for (size_t j = 0; j < b.n; j++) {
		const char *k = key(&b, j);
		long m = map[j];
		if (strstr(k, "8080") || strstr(k, "nat|"))
			ck_assert_msg(m == -1, "%s should be new, got %ld", k, m);
		else
			ck_assert_msg(m >= 0 && !strcmp(key(&a, (size_t)m), k), "%s unmatched", k);
	}
	/* duplicate rules match in order: the first copy to the first, the second to the second */
	long first = -1, second = -1;
	for (size_t j = 0; j < b.n; j++)
		if (strstr(key(&b, j), "--dport 80 ")) {
			if (first < 0)
				first = map[j];
			else
				second = map[j];
		}
	ck_assert_int_ge(first, 0);
	ck_assert_int_gt(second, first);
	ctext_free(&a);
	ctext_free(&b);
}
END_TEST

START_TEST(match_same_text_is_identity)
{
	static const char *const cmds[] = {"-N A",
					   "-A INPUT -j A",
					   "-A A -s 198.18.0.1 -j DROP",
					   "-A A -s 198.18.0.1 -j DROP",
					   "-A OUTPUT -j ACCEPT",
					   NULL};
	size_t len;
	char *t = saved(cmds, &len);
	struct ctext a, b;
	char *t2 = strdup(t);
	ck_assert_int_eq(ctext_parse(&a, t, len), 0);
	ck_assert_int_eq(ctext_parse(&b, t2, len), 0);
	ck_assert(ctext_same_shape(&a, &b));
	long map[32];
	ck_assert_int_eq(ctext_match(&a, &b, map), 0);
	for (size_t j = 0; j < b.n; j++)
		ck_assert_int_eq(map[j], (long)j);
	ctext_free(&a);
	ctext_free(&b);
}
END_TEST

START_TEST(tables_are_part_of_the_identity)
{
	struct ctext a, b;
	parse(&a, "*mangle\n[1:1] -A FORWARD -j ACCEPT\nCOMMIT\n");
	parse(&b, "*filter\n[0:0] -A FORWARD -j ACCEPT\nCOMMIT\n");
	long map[2];
	ck_assert_int_eq(ctext_match(&a, &b, map), 0);
	ck_assert_int_eq(map[0], -1);
	ctext_free(&a);
	ctext_free(&b);
}
END_TEST

static Suite *ctext_suite(void)
{
	Suite *s = suite_create("daemon_ctext");
	TCase *tc = tcase_create("ctext");
	tcase_add_test(tc, parse_entries);
	tcase_add_test(tc, render_replaces_counters_only);
	tcase_add_test(tc, match_after_insert_delete_policy);
	tcase_add_test(tc, match_same_text_is_identity);
	tcase_add_test(tc, tables_are_part_of_the_identity);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(ctext_suite());
}
