/*
 * api.c - the public entry points for commands, save and restore, and error printing.
 */
#include <stdlib.h>
#include <string.h>

#include "language/command.h"
#include "language/print.h"
#include "util/error.h"

static void table_swap(struct pf_table *a, struct pf_table *b)
{
	struct pf_table tmp = *a;
	*a = *b;
	*b = tmp;
}

int pf_ruleset_command_ex(pf_ruleset *rs, int argc, char *const argv[], FILE *out,
			  struct pf_error *err, struct pf_changes *changes)
{
	struct pf_error local;
	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (changes)
		memset(changes, 0, sizeof(*changes));
	/* Run in place with every change logged: a failing command is taken back. */
	unsigned seq[PF_NTABLES];
	for (int i = 0; i < PF_NTABLES; i++)
		seq[i] = rs->tables[i].touch_seq;
	unsigned touch_counter = rs->touch_counter;
	uint64_t generation = rs->generation;
	struct pf_cmd_log log = {0};
	unsigned flags = 0;
	int rc = pf_cmd_run(rs, NULL, argc, argv, out, err, &flags, &log);
	if (rc == 0 && flags) {
		/* -h / -V: the library has nothing to do; front-ends print. */
		pf_cmd_log_free(&log);
		return pf_err_set(err, PF_OK, PF_STYLE_RAW, "%s",
				  (flags & PF_CMD_HELP) ? "help" : "version");
	}
	if (rc) {
		pf_cmd_log_undo(&log);
		/* The table operation failed, but iptables had opened the table by then: the
		 * kernel instantiated it, and it stays (only that). */
		rs->touch_counter = touch_counter;
		rs->generation = generation;
		for (int i = 0; i < PF_NTABLES; i++) {
			if (seq[i] || !rs->tables[i].touch_seq)
				continue;
			if (err->code != PF_ERR_OTHER) {
				rs->tables[i].touch_seq = 0;
				continue;
			}
			rs->touch_counter = rs->tables[i].touch_seq;
			rs->generation++;
			if (changes && !changes->v &&
			    (changes->v = calloc(1, sizeof(*changes->v)))) {
				changes->n = 1;
				changes->v[0].op = PF_CHANGE_TABLE;
				changes->v[0].table = rs->tables[i].def->name;
			}
		}
	} else if (changes && log.n) {
		/* The descriptions move down into the log's own array (a record is larger than
		 * its description), which becomes the caller's: nothing to allocate. */
		size_t n = log.n;
		for (size_t i = 0; i < n; i++) {
			pf_rule_free(log.v[i].old);
			log.v[i].old = NULL;
			for (size_t k = 0; k < log.v[i].nsaved; k++)
				pf_rule_free(log.v[i].saved[k]);
			free(log.v[i].saved);
			log.v[i].saved = NULL;
			log.v[i].nsaved = 0;
		}
		char *base = (char *)log.v;
		for (size_t i = 0; i < n; i++) {
			struct pf_change ch = log.v[i].ch;
			memcpy(base + i * sizeof(ch), &ch, sizeof(ch));
		}
		struct pf_change *v = (struct pf_change *)(void *)base;
		changes->v = v;
		changes->n = n;
		return rc;
	}
	pf_cmd_log_free(&log);
	return rc;
}

void pf_changes_free(struct pf_changes *changes)
{
	if (!changes)
		return;
	free(changes->v);
	changes->v = NULL;
	changes->n = 0;
}

int pf_ruleset_command(pf_ruleset *rs, int argc, char *const argv[], FILE *out,
		       struct pf_error *err)
{
	return pf_ruleset_command_ex(rs, argc, argv, out, err, NULL);
}

uint64_t pf_ruleset_generation(const pf_ruleset *rs)
{
	return rs->generation;
}

int pf_ruleset_command_string(pf_ruleset *rs, const char *command, FILE *out,
			      struct pf_error *err)
{
	char **argv;
	int argc = pf_split_words(command, "iptables", &argv);
	if (argc < 0) {
		struct pf_error local;
		return pf_err_param(err ? err : &local, "unterminated quote in command");
	}
	int rc = pf_ruleset_command(rs, argc, argv, out, err);
	free(argv);
	return rc;
}

/* ---- save ---- */

static void save_table(struct pf_strbuf *sb, const struct pf_table *t, unsigned flags, FILE *out)
{
	bool counters = flags & PF_SAVE_COUNTERS, reparseable = flags & PF_SAVE_REPARSEABLE;
	pf_sb_printf(sb, "*%s\n", t->def->name);
	for (size_t i = 0; i < t->nchains; i++) {
		const struct pf_chain *c = t->chains[i];
		if (c->builtin)
			pf_sb_printf(sb, ":%s %s [%llu:%llu]\n", c->name, pf_policy_name(c->policy),
				     (unsigned long long)c->pcnt.pkts,
				     (unsigned long long)c->pcnt.bytes);
		else
			pf_sb_printf(sb, ":%s - [0:0]\n", c->name);
	}
	for (size_t i = 0; i < t->nchains; i++) {
		const struct pf_chain *c = t->chains[i];
		for (size_t k = 0; k < c->nrules; k++) {
			pf_rule_save_line(sb, c, c->rules[k], counters, false, reparseable);
			if (out && sb->len >= 65536) {
				fwrite(sb->buf, 1, sb->len, out);
				pf_sb_reset(sb);
			}
		}
	}
	pf_sb_puts(sb, "COMMIT\n");
}

int pf_ruleset_save(const pf_ruleset *rs, const char *table, unsigned flags, FILE *out,
		    struct pf_error *err)
{
	struct pf_strbuf sb;
	pf_sb_init(&sb);
	if (table) {
		const struct pf_table *t = pf_table_get((pf_ruleset *)rs, table);
		if (!t)
			return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_RAW,
					  "Table does not exist (do you need to insmod?)");
		save_table(&sb, t, flags, out);
	} else {
		/* Tables in use, most recently instantiated first (the kernel's order). */
		const struct pf_table *order[PF_NTABLES];
		int n = 0;
		for (int i = 0; i < PF_NTABLES; i++)
			if (rs->tables[i].touch_seq)
				order[n++] = &rs->tables[i];
		for (int i = 1; i < n; i++)
			for (int j = i; j > 0 && order[j]->touch_seq > order[j - 1]->touch_seq; j--) {
				const struct pf_table *tmp = order[j];
				order[j] = order[j - 1];
				order[j - 1] = tmp;
			}
		for (int i = 0; i < n; i++) {
			save_table(&sb, order[i], flags, out);
			if (out && sb.len)
				fwrite(sb.buf, 1, sb.len, out);
			pf_sb_reset(&sb);
		}
	}
	int rc = 0;
	if (sb.failed)
		rc = pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_TABLE, "Memory allocation problem");
	else if (out && sb.len)
		fwrite(sb.buf, 1, sb.len, out);
	pf_sb_free(&sb);
	return rc;
}

/* ---- restore ---- */

struct restore_state {
	pf_ruleset *rs;
	unsigned flags;
	const char *only_table;
	struct pf_error *err;
	unsigned line;
	struct pf_table *live;	  /* the table being restored, in rs */
	struct pf_table work;	  /* its new content */
	bool in_table;
	bool skip_table;
	struct pf_table *committed[PF_NTABLES]; /* in commit order */
	int ncommitted;
};

static int restore_err(struct restore_state *st, const char *fmt, const char *a)
{
	pf_err_param(st->err, fmt, a);
	st->err->line = (int)st->line;
	return -1;
}

static bool parse_counters(const char *s, struct pf_counters *c)
{
	unsigned long long p, b;
	int used = 0;
	if (sscanf(s, "[%llu:%llu]%n", &p, &b, &used) != 2 || used == 0)
		return false;
	c->pkts = p;
	c->bytes = b;
	return true;
}

static int restore_begin_table(struct restore_state *st, const char *name)
{
	struct pf_table *t = pf_table_get(st->rs, name);
	if (!t) {
		pf_err_set(st->err, PF_ERR_OTHER, PF_STYLE_RAW,
			   "iptables-restore: unable to initialize table '%s'\n", name);
		st->err->line = (int)st->line;
		return -1;
	}
	st->in_table = true;
	st->skip_table = st->only_table && strcmp(st->only_table, name) != 0;
	/* iptables-restore opens the table here: the kernel instantiates it even if a later
	 * line fails. */
	if (!st->skip_table && !t->touch_seq) {
		pf_table_touch(st->rs, t);
		st->rs->generation++;
	}
	st->live = t;
	/* Work on a copy: the live table changes only at COMMIT. Without --noflush the copy
	 * starts empty, so nothing needs copying. */
	memset(&st->work, 0, sizeof(st->work));
	pf_ruleset *src = (st->flags & PF_RESTORE_NOFLUSH) ? pf_ruleset_clone(st->rs)
							   : pf_ruleset_new();
	if (!src)
		return pf_err_set(st->err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
				  "Memory allocation problem");
	size_t idx = (size_t)(t - st->rs->tables);
	table_swap(&st->work, &src->tables[idx]);
	pf_ruleset_free(src);
	if (!(st->flags & PF_RESTORE_NOFLUSH)) {
		/* Policies stay as they were until a chain line sets them. */
		for (size_t i = 0; i < t->nbuiltin; i++)
			st->work.chains[i]->policy = t->chains[i]->policy;
	} else {
		/* A commit keeps no policy counter that a chain line does not give again
		 * (libiptc, as iptables-legacy-restore --noflush shows). */
		for (size_t i = 0; i < t->nbuiltin; i++)
			st->work.chains[i]->pcnt = (struct pf_counters){0, 0};
	}
	return 0;
}

static int restore_chain_line(struct restore_state *st, char *line)
{
	char *save;
	char *chain = strtok_r(line + 1, " \t\n", &save);
	if (!chain)
		return restore_err(st, "%s: line %u chain name invalid\n", "iptables-restore");
	_Static_assert(PF_CHAIN_USER_MAXNAMELEN == 28, "message below");
	if (strlen(chain) > PF_CHAIN_USER_MAXNAMELEN)
		return restore_err(st, "Invalid chain name `%s' (28 chars max)", chain);
	struct pf_chain *c = pf_chain_find(&st->work, chain);
	if (!c || !c->builtin) {
		if (c) {
			pf_chain_flush(c);
		} else if (!pf_chain_create(&st->work, chain)) {
			return restore_err(st, "error creating chain '%s'", chain);
		}
	}
	char *policy = strtok_r(NULL, " \t\n", &save);
	if (!policy)
		return restore_err(st, "%s: line %u policy invalid\n", "iptables-restore");
	if (strcmp(policy, "-") != 0) {
		struct pf_counters cnt = {0, 0};
		if (st->flags & PF_RESTORE_COUNTERS) {
			char *ctrs = strtok_r(NULL, " \t\n", &save);
			if (!ctrs || !parse_counters(ctrs, &cnt))
				return restore_err(st, "invalid policy counters for chain '%s'\n",
						   chain);
		}
		c = pf_chain_find(&st->work, chain);
		if (!c->builtin || (strcmp(policy, "ACCEPT") && strcmp(policy, "DROP"))) {
			pf_err_set(st->err, PF_ERR_OTHER, PF_STYLE_RAW,
				   "Can't set policy `%s' on `%s' line %u: %s\n", policy, chain,
				   st->line, c->builtin ? "Bad policy name" : "Bad built-in chain name");
			st->err->line = (int)st->line;
			return -1;
		}
		c->policy = !strcmp(policy, "ACCEPT") ? PF_VERDICT_ACCEPT : PF_VERDICT_DROP;
		c->pcnt = cnt;
	}
	return 0;
}

static int restore_rule_line(struct restore_state *st, char *line)
{
	struct pf_counters cnt;
	bool have_cnt = false;
	char *p = line;
	if (*p == '[') {
		char *end = strchr(p, ']');
		if (!end || !parse_counters(p, &cnt))
			return restore_err(st, "Bad counter format: %s", p);
		have_cnt = true;
		p = end + 1;
	}
	char **argv;
	int argc = pf_split_words(p, "iptables-restore", &argv);
	if (argc < 0)
		return restore_err(st, "%s", "unterminated quote");
	/* Append "-c P B" when counters are restored. */
	char pbuf[32], bbuf[32];
	char **full = argv;
	char **grown = NULL;
	if (have_cnt && (st->flags & PF_RESTORE_COUNTERS)) {
		grown = malloc((size_t)(argc + 4) * sizeof(char *));
		if (!grown) {
			free(argv);
			return restore_err(st, "%s", "Memory allocation problem");
		}
		memcpy(grown, argv, (size_t)argc * sizeof(char *));
		snprintf(pbuf, sizeof(pbuf), "%llu", (unsigned long long)cnt.pkts);
		snprintf(bbuf, sizeof(bbuf), "%llu", (unsigned long long)cnt.bytes);
		grown[argc] = "--set-counters";
		grown[argc + 1] = pbuf;
		grown[argc + 2] = bbuf;
		grown[argc + 3] = NULL;
		argc += 3;
		full = grown;
	}
	/* Run against a rule set whose only meaningful table is the work table. */
	pf_ruleset shell;
	memset(&shell, 0, sizeof(shell));
	shell.touch_counter = st->rs->touch_counter;
	size_t idx = (size_t)(st->live - st->rs->tables);
	table_swap(&shell.tables[idx], &st->work);
	int rc = pf_cmd_run(&shell, &shell.tables[idx], argc, full, NULL, st->err, NULL, NULL);
	table_swap(&shell.tables[idx], &st->work);
	free(grown);
	free(argv);
	if (rc) {
		st->err->line = (int)st->line;
		return -1;
	}
	return 0;
}

static int restore_commit(struct restore_state *st)
{
	if (pf_table_check(&st->work, st->err)) {
		st->err->line = (int)st->line;
		return -1;
	}
	if (!st->skip_table && !(st->flags & PF_RESTORE_TEST)) {
		pf_table_touch(st->rs, st->live);
		unsigned seq = st->live->touch_seq;
		table_swap(st->live, &st->work);
		st->live->touch_seq = seq;
		st->rs->generation++;
		if (st->ncommitted < PF_NTABLES)
			st->committed[st->ncommitted++] = st->live;
	}
	st->in_table = false;
	return 0;
}

static void work_free(struct restore_state *st)
{
	pf_table_free_content(&st->work);
}

int pf_ruleset_restore(pf_ruleset *rs, const char *text, size_t len, unsigned flags,
		       const char *only_table, struct pf_error *err)
{
	struct pf_error local;
	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	struct restore_state st;
	memset(&st, 0, sizeof(st));
	st.rs = rs;
	st.flags = flags;
	st.only_table = only_table;
	st.err = err;
	/* Lines are copied one at a time into a buffer that grows to the longest. */
	char *buf = NULL;
	size_t bufcap = 0;
	int rc = 0;
	const char *end = text + len;
	for (const char *next = text; next < end && rc == 0;) {
		const char *nl = memchr(next, '\n', (size_t)(end - next));
		size_t n = nl ? (size_t)(nl - next) : (size_t)(end - next);
		if (n + 1 > bufcap) {
			bufcap = (n + 1) * 2;
			char *nb = realloc(buf, bufcap);
			if (!nb) {
				rc = pf_err_set(err, PF_ERR_RESOURCE, PF_STYLE_PLAIN,
						"Memory allocation problem");
				break;
			}
			buf = nb;
		}
		memcpy(buf, next, n);
		buf[n] = '\0';
		next = nl ? nl + 1 : end;
		char *line = buf;
		st.line++;
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (!st.in_table) {
			if (*p == '*') {
				char *name = p + 1;
				char *end = name + strcspn(name, " \t\r");
				*end = '\0';
				if (restore_begin_table(&st, name))
					rc = -1;
				continue;
			}
			rc = pf_err_set(err, PF_ERR_PARAM, PF_STYLE_RAW,
					"iptables-restore: no command specified");
			err->line = (int)st.line;
			break;
		}
		if (strncmp(p, "COMMIT", 6) == 0 && (p[6] == '\0' || p[6] == ' ' || p[6] == '\r')) {
			rc = restore_commit(&st);
			work_free(&st);
			continue;
		}
		if (*p == ':') {
			rc = restore_chain_line(&st, p);
			continue;
		}
		if (*p == '*') {
			rc = pf_err_set(err, PF_ERR_PARAM, PF_STYLE_RAW, "%s",
					"iptables-restore: no COMMIT line before new table");
			err->line = (int)st.line;
			break;
		}
		rc = restore_rule_line(&st, p);
	}
	if (rc == 0 && st.in_table) {
		rc = pf_err_set(err, PF_ERR_OTHER, PF_STYLE_RAW,
				"iptables-restore: COMMIT expected at line %u\n", st.line + 1);
		err->line = (int)st.line + 1;
	}
	work_free(&st);
	free(buf);
	if (rc == 0 && (flags & PF_RESTORE_LISTED_ORDER)) {
		/* The input lists tables most recent first: give them that order. */
		for (int i = st.ncommitted - 1; i >= 0; i--)
			st.committed[i]->touch_seq = ++rs->touch_counter;
	}
	return rc;
}

/* ---- errors ---- */

void pf_error_print(const struct pf_error *err, const char *prog, FILE *f)
{
	fputs(err->warnings, f);
	if (!err->code)
		return;
	switch (err->style) {
	case PF_STYLE_PARAM:
		fprintf(f, "%s v%s (legacy): %s\n", prog, PF_VERSION, err->message);
		if (err->line > 0)
			fprintf(f, "Error occurred at line: %d\n", err->line);
		fprintf(f, "Try `%s -h' or '%s --help' for more information.\n", prog, prog);
		break;
	case PF_STYLE_PLAIN:
		fprintf(f, "%s v%s (legacy): %s\n", prog, PF_VERSION, err->message);
		break;
	case PF_STYLE_TABLE:
		if (err->line > 0)
			fprintf(f, "%s: line %d failed\n", prog, err->line);
		else
			fprintf(f, "%s: %s.\n", prog, err->message);
		break;
	case PF_STYLE_RAW:
		fprintf(f, "%s", err->message);
		break;
	case PF_STYLE_HINT_ONLY:
		if (err->message[0])
			fprintf(f, "%s\n", err->message);
		if (err->line > 0)
			fprintf(f, "Error occurred at line: %d\n", err->line);
		fprintf(f, "Try `%s -h' or '%s --help' for more information.\n", prog, prog);
		break;
	}
}
