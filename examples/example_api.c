/*
 * example_api.c - build a small rule set with libpktfilt, list it, save it, restore it.
 * Build: cc example_api.c $(pkg-config --cflags --libs libpktfilt)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktfilt/pktfilt.h>

int main(void)
{
	struct pf_error err;
	pf_ruleset *rs = pf_ruleset_new();
	if (!rs)
		return 1;
	const char *commands[] = {
		"-N WEB",
		"-A INPUT -p tcp --dport 80 -j WEB",
		"-A WEB -s 198.18.0.0/24 -j ACCEPT",
		"-P INPUT DROP",
	};
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (pf_ruleset_command_string(rs, commands[i], stdout, &err)) {
			pf_error_print(&err, "example", stderr);
			pf_ruleset_free(rs);
			return 1;
		}
	}
	/* A mistake is reported in iptables' words and changes nothing. */
	if (pf_ruleset_command_string(rs, "-A INPUT -j NOSUCHCHAIN", stdout, &err))
		pf_error_print(&err, "example", stderr);

	/* Walk the rules of filter/INPUT with their counters. */
	const pf_table *filter = pf_ruleset_table(rs, "filter");
	const pf_chain *input = pf_table_chain(filter, "INPUT");
	for (size_t i = 0; i < pf_chain_rule_count(input); i++) {
		uint64_t pkts, bytes;
		const pf_rule *r = pf_chain_rule_at(input, i);
		char *text = pf_rule_format(r);
		pf_rule_counters(r, &pkts, &bytes);
		printf("INPUT rule %zu: %s [%llu:%llu]\n", i + 1, text ? text : "?",
		       (unsigned long long)pkts, (unsigned long long)bytes);
		free(text);
	}

	/* Save to text and restore into a second rule set. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	pf_ruleset_save(rs, "filter", 0, f, &err);
	fclose(f);
	fputs(text, stdout);
	pf_ruleset *copy = pf_ruleset_new();
	if (pf_ruleset_restore(copy, text, len, 0, NULL, &err))
		pf_error_print(&err, "example", stderr);
	free(text);
	pf_ruleset_free(copy);
	pf_ruleset_free(rs);
	return 0;
}
