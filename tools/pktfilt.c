/*
 * pktfilt.c - the drop-in CLI: `pktfilt` (as iptables), `pktfilt-save` (as iptables-save) and
 * `pktfilt-restore` (as iptables-restore), one binary chosen by the name it is called by
 * (or by its first argument: `pktfilt save ...`, `pktfilt restore ...`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pktfilt/pktfilt.h"
#include "store.h"
#include "store_daemon.h"

static void print_help(const char *prog)
{
	printf("%s v%s (legacy)\n\n"
	       "Usage: %s -[ACD] chain rule-specification [options]\n"
	       "       %s -I chain [rulenum] rule-specification [options]\n"
	       "       %s -R chain rulenum rule-specification [options]\n"
	       "       %s -D chain rulenum [options]\n"
	       "       %s -[LS] [chain [rulenum]] [options]\n"
	       "       %s -[FZ] [chain] [options]\n"
	       "       %s -[NX] chain\n"
	       "       %s -E old-chain-name new-chain-name\n"
	       "       %s -P chain target [options]\n"
	       "       %s -h (print this help information)\n\n"
	       "State: the rule set is kept in $PKTFILT_STATE (default %s),\n"
	       "or the file given with --state FILE (before every other argument);\n"
	       "without either, the live rule set of pktfiltd when it answers on\n"
	       "$PKTFILT_SOCKET (default " PF_DEFAULT_SOCKET "). --stats: pktfiltd's statistics.\n",
	       prog, PF_VERSION, prog, prog, prog, prog, prog, prog, prog, prog, prog, prog,
	       PF_DEFAULT_STATE);
}

/* Remove our own option (--state FILE, only before every iptables argument, so that
 * "-m state --state NEW" keeps its meaning) and note -w/--wait [N]; returns new argc. */
static int take_own_options(int argc, char **argv, const char **state, int *wait)
{
	int out = 1;
	bool leading = true;
	*wait = -1;
	for (int i = 1; i < argc; i++) {
		if (leading && !strcmp(argv[i], "--state") && i + 1 < argc) {
			*state = argv[++i];
			continue;
		}
		if (leading && !strncmp(argv[i], "--state=", 8)) {
			*state = argv[i] + 8;
			continue;
		}
		leading = false;
		if (!strcmp(argv[i], "-w") || !strcmp(argv[i], "--wait")) {
			*wait = 0;
			if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				*wait = atoi(argv[i + 1]);
		} else if (!strncmp(argv[i], "--wait=", 7)) {
			*wait = atoi(argv[i] + 7);
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}

static bool has_flag(int argc, char **argv, const char *s, const char *l)
{
	for (int i = 1; i < argc; i++)
		if ((s && !strcmp(argv[i], s)) || (l && !strcmp(argv[i], l)))
			return true;
	return false;
}

static int main_iptables(int argc, char **argv)
{
	const char *prog = "pktfilt";
	const char *state = NULL;
	int wait;
	argc = take_own_options(argc, argv, &state, &wait);
	if (has_flag(argc, argv, "-h", "--help")) {
		print_help(prog);
		return 0;
	}
	if (has_flag(argc, argv, "-V", "--version")) {
		printf("%s v%s (legacy)\n", prog, PF_VERSION);
		return 0;
	}
	if (has_flag(argc, argv, NULL, "--stats")) /* pktfiltd's statistics */
		return pf_daemon_stats(prog, stdout);
	struct pf_store store;
	pf_store_pick(&store, state);
	if (pf_store_is_daemon(&store)) {
		/* the daemon runs the command on its live rule set: nothing to transfer */
		int status = pf_daemon_command(&store, prog, argc, argv, wait);
		store.ops->close(&store);
		return status;
	}
	struct pf_error err;
	pf_ruleset *rs = NULL;
	if (store.ops->open(&store, wait, &rs, &err)) {
		pf_error_print(&err, prog, stderr);
		return err.code ? err.code : 1;
	}
	uint64_t generation = pf_ruleset_generation(rs);
	char *out_buf = NULL;
	size_t out_len = 0;
	FILE *out = open_memstream(&out_buf, &out_len);
	int rc = pf_ruleset_command(rs, argc, argv, out, &err);
	fclose(out);
	if (out_len)
		fwrite(out_buf, 1, out_len, stdout);
	free(out_buf);
	int status = 0;
	fflush(stdout);
	pf_error_print(&err, prog, stderr); /* warnings, then the error if any */
	if (rc)
		status = err.code ? err.code : 1;
	/* A failed table operation may still have instantiated a table: that is kept. */
	if (pf_ruleset_generation(rs) != generation) {
		struct pf_error cerr;
		if (store.ops->commit(&store, rs, &cerr)) {
			pf_error_print(&cerr, prog, stderr);
			status = PF_ERR_RESOURCE;
		}
	}
	store.ops->close(&store);
	pf_ruleset_free(rs);
	return status;
}

/* The tables a restore without --noflush replaces: its "*table" lines (only the -T one). */
static void note_replaced_tables(struct pf_store *store, const char *text, size_t len,
				 const char *only)
{
	static const char *const names[] = {"raw", "mangle", "nat", "filter", "security"};
	char *out = store->replaced;
	out[0] = '\0';
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		if (text[pos] == '*') {
			size_t n = strcspn(text + pos + 1, " \t\r\n");
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				char key[16];
				snprintf(key, sizeof(key), " %s ", names[i]);
				if (strlen(names[i]) == n && !strncmp(text + pos + 1, names[i], n) &&
				    (!only || !strcmp(only, names[i])) && !strstr(store->replaced, key))
					snprintf(out + strlen(out), sizeof(store->replaced) - strlen(out),
						 "%s", key + (out[0] ? 1 : 0));
			}
		}
		pos = end;
	}
}

static void stamp(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(buf, len, "%a %b %e %H:%M:%S %Y", &tm);
}

static int main_save(int argc, char **argv)
{
	const char *prog = "pktfilt-save";
	const char *state = NULL;
	const char *table = NULL;
	const char *file = NULL;
	int wait;
	unsigned flags = 0;
	argc = take_own_options(argc, argv, &state, &wait);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c") || !strcmp(a, "--counters")) {
			flags |= PF_SAVE_COUNTERS;
		} else if ((!strcmp(a, "-t") || !strcmp(a, "--table")) && i + 1 < argc) {
			table = argv[++i];
		} else if (!strncmp(a, "--table=", 8)) {
			table = a + 8;
		} else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && i + 1 < argc) {
			file = argv[++i];
		} else if ((!strcmp(a, "-M") || !strcmp(a, "--modprobe")) && i + 1 < argc) {
			i++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("Usage: %s [-c] [-t table] [-f file] [--state FILE]\n", prog);
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("%s v%s (legacy)\n", prog, PF_VERSION);
			return 0;
		} else {
			fprintf(stderr, "Unknown arguments found on commandline\n");
			return 1;
		}
	}
	struct pf_store store;
	pf_store_pick(&store, state);
	struct pf_error err;
	pf_ruleset *rs = NULL;
	if (store.ops->open(&store, wait, &rs, &err)) {
		pf_error_print(&err, prog, stderr);
		return err.code ? err.code : 1;
	}
	FILE *out = stdout;
	if (file && !(out = fopen(file, "w"))) {
		perror(file);
		store.ops->close(&store);
		pf_ruleset_free(rs);
		return 1;
	}
	if (table && !pf_ruleset_table(rs, table)) {
		fprintf(stderr, "%s v%s (legacy): Cannot initialize: Table does not exist (do you "
				"need to insmod?)\n\n", prog, PF_VERSION);
		store.ops->close(&store);
		pf_ruleset_free(rs);
		return 1;
	}
	/* One block per table with the comment lines iptables-save writes. */
	for (size_t i = 0;; i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *mf = open_memstream(&buf, &len);
		pf_ruleset_save(rs, table, flags, mf, &err);
		fclose(mf);
		char ts[64];
		stamp(ts, sizeof(ts));
		char *p = buf;
		while (p && *p) {
			char *end = strstr(p, "COMMIT\n");
			if (!end)
				break;
			end += 7;
			fprintf(out, "# Generated by %s v%s on %s\n", prog, PF_VERSION, ts);
			fwrite(p, 1, (size_t)(end - p), out);
			fprintf(out, "# Completed on %s\n", ts);
			p = end;
		}
		free(buf);
		(void)i;
		break;
	}
	if (out != stdout)
		fclose(out);
	store.ops->close(&store);
	pf_ruleset_free(rs);
	return 0;
}

static int main_restore(int argc, char **argv)
{
	const char *prog = "pktfilt-restore";
	const char *state = NULL;
	const char *table = NULL;
	const char *file = NULL;
	int wait;
	unsigned flags = 0;
	argc = take_own_options(argc, argv, &state, &wait);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c") || !strcmp(a, "--counters")) {
			flags |= PF_RESTORE_COUNTERS;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--noflush")) {
			flags |= PF_RESTORE_NOFLUSH;
		} else if (!strcmp(a, "-t") || !strcmp(a, "--test")) {
			flags |= PF_RESTORE_TEST;
		} else if ((!strcmp(a, "-T") || !strcmp(a, "--table")) && i + 1 < argc) {
			table = argv[++i];
		} else if (!strncmp(a, "--table=", 8)) {
			table = a + 8;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose") || !strcmp(a, "-w") ||
			   !strcmp(a, "--wait")) {
			if ((!strcmp(a, "-w") || !strcmp(a, "--wait")) && i + 1 < argc &&
			    argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
				i++;
		} else if ((!strcmp(a, "-M") || !strcmp(a, "--modprobe") || !strcmp(a, "-W") ||
			    !strcmp(a, "--wait-interval")) &&
			   i + 1 < argc) {
			i++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf("Usage: %s [-c] [-v] [-V] [-t] [-h] [-n] [-w secs] [-T table] "
			       "[--state FILE] [file]\n",
			       prog);
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("%s v%s (legacy)\n", prog, PF_VERSION);
			return 0;
		} else if (a[0] != '-' && !file) {
			file = a;
		} else {
			fprintf(stderr, "Unknown arguments found on commandline\n");
			return 1;
		}
	}
	FILE *in = stdin;
	if (file && !(in = fopen(file, "r"))) {
		fprintf(stderr, "Can't open %s: %s\n", file, strerror(errno));
		return 1;
	}
	char *text = NULL;
	size_t len = 0, cap = 0;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (len + n > cap) {
			cap = (len + n) * 2;
			char *t = realloc(text, cap);
			if (!t) {
				free(text);
				return 4;
			}
			text = t;
		}
		memcpy(text + len, buf, n);
		len += n;
	}
	if (in != stdin)
		fclose(in);
	struct pf_store store;
	pf_store_pick(&store, state);
	if (!(flags & PF_RESTORE_NOFLUSH))
		note_replaced_tables(&store, text, len, table);
	struct pf_error err;
	pf_ruleset *rs = NULL;
	if (store.ops->open(&store, wait, &rs, &err)) {
		pf_error_print(&err, prog, stderr);
		free(text);
		return err.code ? err.code : 1;
	}
	int status = 0;
	bool keep = !(flags & PF_RESTORE_TEST);
	if (pf_ruleset_restore(rs, text ? text : "", len, flags, table, &err)) {
		status = err.code ? err.code : 1;
		if (store.replaced[0]) {
			/* Loaded without the rules of the tables being replaced, but a failed
			 * restore leaves the tables from the failing one on as they were: redo it on the whole
			 * state (it fails the same way). */
			struct pf_error again;
			pf_ruleset *full = NULL;
			store.replaced[0] = '\0';
			if (store.ops->open(&store, wait, &full, &again)) {
				pf_error_print(&again, prog, stderr);
				keep = false;
			} else {
				pf_ruleset_restore(full, text ? text : "", len, flags, table, &again);
				pf_ruleset_free(rs);
				rs = full;
			}
		}
	}
	/* Tables committed before a failing one stay, as with iptables-restore. */
	pf_error_print(&err, prog, stderr); /* warnings, then the error if any */
	if (keep) {
		struct pf_error cerr;
		if (store.ops->commit(&store, rs, &cerr)) {
			pf_error_print(&cerr, prog, stderr);
			status = PF_ERR_RESOURCE;
		}
	}
	free(text);
	store.ops->close(&store);
	pf_ruleset_free(rs);
	return status;
}

int main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strstr(base, "-save"))
		return main_save(argc, argv);
	if (strstr(base, "-restore"))
		return main_restore(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "save"))
		return main_save(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "restore"))
		return main_restore(argc - 1, argv + 1);
	return main_iptables(argc, argv);
}
