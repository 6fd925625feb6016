/*
 * test_command_ex.c - pf_ruleset_command_ex(): the description of what a command changed, the
 * in-place run that takes a failing command back (every expanded pair, the commit checks,
 * -X of every chain), the engine kept in step with a rule set through the descriptions
 * (pf_engine_insert_rule and the rest, as pktfiltd does), and the counter accessors.
 */
#include "helpers.h"

static struct pf_changes ch;

static void setup(void)
{
	fixture_setup();
	memset(&ch, 0, sizeof(ch));
}

static void teardown(void)
{
	pf_changes_free(&ch);
	fixture_teardown();
}

/* Run a command through pf_ruleset_command_ex; returns its exit code. */
static int run_ex(const char *cmd)
{
	char *full = NULL;
	if (asprintf(&full, "iptables %s", cmd) < 0)
		ck_abort();
	/* split on blanks (no quoting needed in these tests) */
	char *argv[64];
	int argc = 0;
	for (char *w = strtok(full, " "); w && argc < 63; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	pf_changes_free(&ch);
	FILE *out = fopen("/dev/null", "w");
	int rc = pf_ruleset_command_ex(rs, argc, argv, out, &err, &ch);
	fclose(out);
	free(full);
	return rc ? (err.code ? err.code : 1) : 0;
}

static void ok_ex(const char *cmd)
{
	int code = run_ex(cmd);
	ck_assert_msg(code == 0, "'%s' failed: %s", cmd, err.message);
}

static void expect(size_t i, enum pf_change_op op, const char *table, const char *chain)
{
	ck_assert_msg(i < ch.n, "change %zu missing (%zu changes)", i, ch.n);
	ck_assert_int_eq(ch.v[i].op, op);
	ck_assert_str_eq(ch.v[i].table, table);
	ck_assert_str_eq(ch.v[i].chain, chain);
}

static void expect_rule(size_t i, size_t pos, const char *text)
{
	ck_assert_uint_eq(ch.v[i].pos, pos);
	ck_assert_ptr_nonnull(ch.v[i].rule);
	char *s = pf_rule_format(ch.v[i].rule);
	ck_assert_str_eq(s, text);
	free(s);
}

START_TEST(rule_changes_described)
{
	ok_ex("-A INPUT -s 198.18.0.1 -j ACCEPT");
	ck_assert_uint_eq(ch.n, 3);
	expect(0, PF_CHANGE_TABLE, "filter", "");
	expect(1, PF_CHANGE_INSERT, "filter", "INPUT");
	expect_rule(1, 0, "-s 198.18.0.1/32 -j ACCEPT");
	expect(2, PF_CHANGE_POLICY_COUNTERS, "filter", "");

	/* several sources: one rule each, in order; -I puts each at the same place */
	ok_ex("-A INPUT -s 198.18.0.2,198.18.0.3 -j DROP");
	ck_assert_uint_eq(ch.n, 3);
	expect(0, PF_CHANGE_INSERT, "filter", "INPUT");
	expect_rule(0, 1, "-s 198.18.0.2/32 -j DROP");
	expect(1, PF_CHANGE_INSERT, "filter", "INPUT");
	expect_rule(1, 2, "-s 198.18.0.3/32 -j DROP");
	ok_ex("-I INPUT 2 -d 198.18.1.1,198.18.1.2 -j ACCEPT");
	expect_rule(0, 1, "-d 198.18.1.1/32 -j ACCEPT");
	expect_rule(1, 1, "-d 198.18.1.2/32 -j ACCEPT");

	ok_ex("-D INPUT -s 198.18.0.3 -j DROP");
	ck_assert_uint_eq(ch.n, 2);
	expect(0, PF_CHANGE_DELETE, "filter", "INPUT");
	ck_assert_uint_eq(ch.v[0].pos, 4);
	ck_assert_ptr_null(ch.v[0].rule);
	ok_ex("-D INPUT 1");
	expect(0, PF_CHANGE_DELETE, "filter", "INPUT");
	ck_assert_uint_eq(ch.v[0].pos, 0);
	ok_ex("-R INPUT 1 -p tcp --dport 22 -j ACCEPT -c 5 300");
	expect(0, PF_CHANGE_REPLACE, "filter", "INPUT");
	expect_rule(0, 0, "-p tcp -m tcp --dport 22 -j ACCEPT");
	uint64_t p, b;
	pf_rule_counters(ch.v[0].rule, &p, &b);
	ck_assert_uint_eq(p, 5);
	ck_assert_uint_eq(b, 300);

	/* listings and checks change nothing */
	ok_ex("-L -n -v");
	ck_assert_uint_eq(ch.n, 0);
	ok_ex("-S INPUT");
	ck_assert_uint_eq(ch.n, 0);
	ok_ex("-C INPUT -p tcp --dport 22 -j ACCEPT");
	ck_assert_uint_eq(ch.n, 0);
	/* ... but a listing instantiates a table the first time */
	ok_ex("-t raw -L");
	ck_assert_uint_eq(ch.n, 1);
	expect(0, PF_CHANGE_TABLE, "raw", "");
}
END_TEST

START_TEST(chain_changes_described)
{
	ok_ex("-N web");
	expect(1, PF_CHANGE_NEW_CHAIN, "filter", "web");
	ok_ex("-A web -j ACCEPT");
	ok_ex("-A web -j DROP");
	ok_ex("-F web");
	expect(0, PF_CHANGE_FLUSH, "filter", "web");
	ck_assert_uint_eq(ch.v[0].count, 2);
	ok_ex("-E web www");
	expect(0, PF_CHANGE_RENAME_CHAIN, "filter", "web");
	ck_assert_str_eq(ch.v[0].new_name, "www");
	ok_ex("-P FORWARD DROP");
	expect(0, PF_CHANGE_POLICY, "filter", "FORWARD");
	ck_assert_str_eq(ch.v[0].policy, "DROP");
	expect(1, PF_CHANGE_POLICY_COUNTERS, "filter", "");
	ok_ex("-P INPUT ACCEPT -c 3 4");
	expect(1, PF_CHANGE_POLICY_COUNTERS, "filter", "INPUT"); /* kept: given by -c */
	ok_ex("-Z INPUT");
	expect(0, PF_CHANGE_ZERO, "filter", "INPUT");
	ck_assert_int_eq(ch.v[0].has_pos, 0);
	ok_ex("-A INPUT -j ACCEPT");
	ok_ex("-Z INPUT 1");
	expect(0, PF_CHANGE_ZERO, "filter", "INPUT");
	ck_assert_int_eq(ch.v[0].has_pos, 1);
	ck_assert_uint_eq(ch.v[0].pos, 0);
	ok_ex("-Z");
	expect(0, PF_CHANGE_ZERO, "filter", "");
	ok_ex("-N a");
	ok_ex("-X");
	ck_assert_uint_eq(ch.n, 3);
	expect(0, PF_CHANGE_DELETE_CHAIN, "filter", "a");
	expect(1, PF_CHANGE_DELETE_CHAIN, "filter", "www");
	ok_ex("-F");
	expect(0, PF_CHANGE_FLUSH, "filter", "INPUT");
	ck_assert_uint_eq(ch.v[0].count, 1);
	expect(1, PF_CHANGE_FLUSH, "filter", "FORWARD");
	expect(2, PF_CHANGE_FLUSH, "filter", "OUTPUT");
}
END_TEST

/* A failing command leaves the rule set exactly as it was. */
static void fails_unchanged(const char *cmd, int code, const char *msg)
{
	char *before = ruleset_text(rs, NULL, PF_SAVE_COUNTERS);
	uint64_t gen = pf_ruleset_generation(rs);
	int c = run_ex(cmd);
	ck_assert_msg(c == code, "'%s': code %d, expected %d (%s)", cmd, c, code, err.message);
	ck_assert_str_eq(err.message, msg);
	ck_assert_uint_eq(ch.n, 0);
	char *after = ruleset_text(rs, NULL, PF_SAVE_COUNTERS);
	ck_assert_str_eq(after, before);
	ck_assert_uint_eq(pf_ruleset_generation(rs), gen);
	free(before);
	free(after);
}

START_TEST(failures_taken_back)
{
	ok_ex("-A INPUT -s 198.18.0.1 -j ACCEPT -c 7 70");
	ok_ex("-A INPUT -s 198.18.0.2 -j ACCEPT");
	ok_ex("-N a");
	ok_ex("-N b");
	ok_ex("-A a -j b");
	ok_ex("-A FORWARD -j a");
	/* the first pair is deleted, the second is not there */
	fails_unchanged("-D INPUT -s 198.18.0.1,198.18.0.9 -j ACCEPT", 1,
			"Bad rule (does a matching rule exist in that chain?)");
	/* a loop found by the commit check after the insert */
	fails_unchanged("-I b -j a", 1, "Too many levels of symbolic links");
	/* an extension refused at this hook */
	fails_unchanged("-A INPUT -m owner --uid-owner 0 -j ACCEPT", 1,
			"Invalid argument. Run `dmesg' for more information");
	/* after an unconditional verdict the rule is not reached: accepted; taking that verdict
	 * away would let the walk reach it from INPUT: refused */
	ok_ex("-I INPUT -j ACCEPT");
	ok_ex("-A INPUT -m owner --uid-owner 0 -j ACCEPT");
	fails_unchanged("-D INPUT 1", 1, "Invalid argument. Run `dmesg' for more information");
	fails_unchanged("-R INPUT 1 -s 198.18.0.5 -j ACCEPT", 1,
			"Invalid argument. Run `dmesg' for more information");
	/* -X of every chain: one cannot go, none goes */
	ok_ex("-N empty");
	fails_unchanged("-X", 1, "Too many links");
	/* a failed table operation keeps the table it instantiated, and says so */
	ck_assert_int_eq(run_ex("-t mangle -D PREROUTING 1"), 1);
	ck_assert_uint_eq(ch.n, 1);
	expect(0, PF_CHANGE_TABLE, "mangle", "");
	/* a parameter problem does not instantiate it */
	ck_assert_int_eq(run_ex("-t nat -A PREROUTING --bogus"), 2);
	ck_assert_uint_eq(ch.n, 0);
	char *s = ruleset_text(rs, NULL, 0);
	ck_assert_ptr_null(strstr(s, "*nat"));
	ck_assert_ptr_nonnull(strstr(s, "*mangle"));
	free(s);
}
END_TEST

/* Apply a command's changes to an engine, as pktfiltd's workers do. */
static void apply(pf_engine *e)
{
	for (size_t i = 0; i < ch.n; i++) {
		const struct pf_change *c = &ch.v[i];
		struct pf_error e2;
		int rc = 0;
		switch (c->op) {
		case PF_CHANGE_INSERT:
			rc = pf_engine_insert_rule(e, c->table, c->chain, c->pos, c->rule, &e2);
			break;
		case PF_CHANGE_DELETE:
			rc = pf_engine_delete_rule(e, c->table, c->chain, c->pos, &e2);
			break;
		case PF_CHANGE_REPLACE:
			rc = pf_engine_replace_rule(e, c->table, c->chain, c->pos, c->rule, &e2);
			break;
		case PF_CHANGE_FLUSH:
			rc = pf_engine_flush_chain(e, c->table, c->chain, &e2);
			break;
		case PF_CHANGE_NEW_CHAIN:
			rc = pf_engine_create_chain(e, c->table, c->chain, &e2);
			break;
		case PF_CHANGE_DELETE_CHAIN:
			rc = pf_engine_delete_chain(e, c->table, c->chain, &e2);
			break;
		case PF_CHANGE_RENAME_CHAIN:
			rc = pf_engine_rename_chain(e, c->table, c->chain, c->new_name, &e2);
			break;
		case PF_CHANGE_POLICY:
			rc = pf_engine_set_policy(e, c->table, c->chain, c->policy, &e2);
			break;
		default:
			break;
		}
		ck_assert_msg(rc == 0, "change %zu (op %d %s) refused: %s", i, c->op, c->chain,
			      e2.message);
	}
}

/* The rule set's text without the tables' order and counters: what an engine must hold. */
static void same_rules(const pf_engine *e)
{
	char *a = ruleset_text(rs, NULL, 0), *b = engine_text(e, 0);
	/* the engine instantiates every table; compare the rule set's tables only */
	for (char *t = a; (t = strchr(t, '*'));) {
		char *end = strstr(t, "COMMIT\n");
		ck_assert_ptr_nonnull(end);
		end += 7;
		char save_c = *end;
		*end = '\0';
		ck_assert_msg(strstr(b, t), "engine lacks\n%s\nengine:\n%s", t, b);
		*end = save_c;
		t = end;
	}
	free(a);
	free(b);
}

static void engine_follows(enum pf_matcher_kind kind)
{
	static const char *const cmds[] = {
	    "-N web",
	    "-N ssh",
	    "-A INPUT -p tcp --dport 80 -j web",
	    "-A INPUT -p tcp --dport 22 -j ssh",
	    "-A web -s 198.18.0.0/24,198.18.1.0/24 -j ACCEPT",
	    "-I web 1 -s 198.18.2.1,198.18.2.2 -j DROP",
	    "-A ssh -m limit --limit 3/min -j ACCEPT",
	    "-A ssh -j DROP",
	    "-R web 2 -s 198.18.2.3 -j DROP",
	    "-D web -s 198.18.2.3 -j DROP",
	    "-D web 1",
	    "-P INPUT DROP",
	    "-E ssh secure",
	    "-A FORWARD -j secure",
	    "-D FORWARD 1",
	    "-F secure",
	    "-D INPUT 2",
	    "-X secure",
	    "-t nat -A POSTROUTING -o eth0 -j MASQUERADE",
	    "-t mangle -A PREROUTING -j MARK --set-mark 1",
	    "-Z",
	    "-F",
	    "-X",
	    "-A OUTPUT -d 198.18.3.0/24 -j REJECT",
	};
	pf_ruleset *start = pf_ruleset_clone(rs);
	struct pf_engine_config cfg = {.matcher = kind};
	pf_engine *e = pf_engine_new(start, &cfg, &err);
	ck_assert_ptr_nonnull(e);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		ok_ex(cmds[i]);
		apply(e);
		same_rules(e);
	}
	pf_engine_free(e);
	pf_ruleset_free(start);
}

START_TEST(engine_follows_hashed)
{
	engine_follows(PF_MATCHER_HASHED);
}
END_TEST

START_TEST(engine_follows_linear)
{
	engine_follows(PF_MATCHER_LINEAR);
}
END_TEST

/* A hundred rules inserted and deleted at random places: the hashed engine judges as a fresh
 * one compiled from the same rules, and says the rules' order the same way. */
START_TEST(engine_follows_random)
{
	struct pf_engine_config cfg = {.matcher = PF_MATCHER_HASHED};
	ok_ex("-N chk");
	ok_ex("-A INPUT -j chk");
	pf_engine *e = pf_engine_new(rs, &cfg, &err);
	ck_assert_ptr_nonnull(e);
	unsigned seed = 12345;
	size_t n = 0;
	for (int i = 0; i < 400; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		char cmd[160];
		if (n && (r % 3) == 0) {
			snprintf(cmd, sizeof(cmd), "-D chk %zu", (size_t)(r / 3) % n + 1);
			n--;
		} else {
			snprintf(cmd, sizeof(cmd),
				 "-I chk %zu -s 198.18.%u.%u -p tcp --dport %u -j %s",
				 n ? (size_t)(r / 7) % (n + 1) + 1 : 1, (r >> 4) & 255, r & 255,
				 1000 + (r % 50), (r & 1) ? "ACCEPT" : "DROP");
			n++;
		}
		ok_ex(cmd);
		apply(e);
	}
	same_rules(e);
	ck_assert_uint_eq(pf_engine_rule_count(e, "filter", "chk"), n);
	pf_engine *fresh = pf_engine_new(rs, &cfg, &err);
	/* every rule's source and port, judged by both */
	for (size_t k = 0; k < n; k++) {
		const pf_rule *rule =
		    pf_chain_rule_at(pf_table_chain(pf_ruleset_table(rs, "filter"), "chk"), k);
		char *s = pf_rule_format(rule);
		unsigned a, b2, port;
		ck_assert_int_eq(
		    sscanf(s, "-s 198.18.%u.%u/32 -p tcp -m tcp --dport %u", &a, &b2, &port), 3);
		free(s);
		uint8_t pkt[40] = {0x45,
				   0,
				   0,
				   40,
				   0,
				   0,
				   0,
				   0,
				   64,
				   6,
				   0,
				   0,
				   198,
				   18,
				   (uint8_t)a,
				   (uint8_t)b2,
				   198,
				   19,
				   0,
				   1,
				   0x30,
				   0x39,
				   (uint8_t)(port >> 8),
				   (uint8_t)port,
				   0,
				   0,
				   0,
				   0,
				   0,
				   0,
				   0,
				   0,
				   0x50,
				   0x02,
				   0x20,
				   0};
		struct pf_packet_meta m = {.in_iface = "eth0", .out_iface = ""};
		struct pf_eval_result r1, r2;
		uint8_t p1[40], p2[40];
		memcpy(p1, pkt, 40);
		memcpy(p2, pkt, 40);
		ck_assert_int_eq(pf_engine_eval(e, PF_NF_LOCAL_IN, p1, 40, 40, &m, &r1), 0);
		ck_assert_int_eq(pf_engine_eval(fresh, PF_NF_LOCAL_IN, p2, 40, 40, &m, &r2), 0);
		ck_assert_int_eq(r1.verdict, r2.verdict);
	}
	/* the same counters, rule by rule */
	uint64_t(*c1)[2] = calloc(n + 1, sizeof(*c1)), (*c2)[2] = calloc(n + 1, sizeof(*c2));
	ck_assert_int_eq(pf_engine_chain_counters(e, "filter", "chk", NULL, c1, n), (long)n);
	ck_assert_int_eq(pf_engine_chain_counters(fresh, "filter", "chk", NULL, c2, n), (long)n);
	ck_assert_int_eq(memcmp(c1, c2, n * sizeof(*c1)), 0);
	free(c1);
	free(c2);
	pf_engine_free(fresh);
	pf_engine_free(e);
}
END_TEST

START_TEST(counter_accessors)
{
	ok_ex("-A INPUT -p udp -j ACCEPT");
	ok_ex("-A INPUT -p tcp -j DROP");
	struct pf_engine_config cfg = {0};
	pf_engine *e = pf_engine_new(rs, &cfg, &err);
	ck_assert_ptr_nonnull(e);
	uint8_t pkt[28] = {0x45, 0, 0,	 28, 0, 0, 0, 0,  64, 17, 0, 0, 198, 18,
			   0,	 1, 198, 18, 0, 2, 0, 53, 0,  53, 0, 8, 0,   0};
	struct pf_packet_meta m = {.in_iface = "eth0"};
	struct pf_eval_result res;
	ck_assert_int_eq(pf_engine_eval(e, PF_NF_LOCAL_IN, pkt, 28, 28, &m, &res), 0);
	pkt[9] = 1; /* ICMP: falls through to the policy */
	ck_assert_int_eq(pf_engine_eval(e, PF_NF_LOCAL_IN, pkt, 28, 28, &m, &res), 0);
	uint64_t pol[2], rules[2][2];
	ck_assert_int_eq(pf_engine_chain_counters(e, "filter", "INPUT", pol, rules, 2), 2);
	ck_assert_uint_eq(pol[0], 1);
	ck_assert_uint_eq(pol[1], 28);
	ck_assert_uint_eq(rules[0][0], 1);
	ck_assert_uint_eq(rules[1][0], 0);
	ck_assert_int_eq(pf_engine_chain_counters(e, "filter", "nope", NULL, NULL, 0), -1);
	pf_engine_free(e);

	const pf_chain *in = pf_table_chain(pf_ruleset_table(rs, "filter"), "INPUT");
	pf_rule_set_counters(rs, pf_chain_rule_at(in, 1), 9, 900);
	ck_assert_int_eq(pf_chain_set_policy_counters(rs, "filter", "INPUT", 4, 40), 0);
	ck_assert_int_eq(pf_chain_set_policy_counters(rs, "filter", "nope", 4, 40), -1);
	char *s = ruleset_text(rs, NULL, PF_SAVE_COUNTERS);
	ck_assert_ptr_nonnull(strstr(s, ":INPUT ACCEPT [4:40]"));
	ck_assert_ptr_nonnull(strstr(s, "[9:900] -A INPUT -p tcp -j DROP"));
	free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("command_ex");
	TCase *tc = tcase_create("all");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rule_changes_described);
	tcase_add_test(tc, chain_changes_described);
	tcase_add_test(tc, failures_taken_back);
	tcase_add_test(tc, engine_follows_hashed);
	tcase_add_test(tc, engine_follows_linear);
	tcase_add_test(tc, engine_follows_random);
	tcase_add_test(tc, counter_accessors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
