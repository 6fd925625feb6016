/*
 * live.c - the live rule set: the master rule set and its generation (one engine per worker),
 * what the kernel must be asked for, live counters, whole-rule-set changes (restore, SIGHUP,
 * start) with their counters carried over, and the rules file.
 *
 * Counters (see struct gen): the master holds a base per rule and policy; the live value is
 * the base plus the sum of the engines' counters. The engines are read while the workers run
 * (each 64-bit counter is read whole; a rule's packets and bytes may be one packet apart), and
 * only when no change is being applied (changes_settle()). When a generation replaces another,
 * the old one is read after urcu_qsbr_synchronize_rcu(), when no worker uses it, so no packet
 * is lost from the counters.
 *
 * The rules file (iptables-save -c format) starts with a comment "# pktfiltd journal N": it
 * holds every command of the journal (journal.c) up to N. Writing it (temporary file, fsync,
 * rename, fsync of the directory) is the compaction of the journal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <urcu/urcu-qsbr.h>

#include "pktfiltd.h"

/* ---- what the rule set needs ---- */

/* Matches that read only the IP and transport headers (the first PFD_HDR_COPY bytes), or
 * the metadata: a rule set using only these gets a header-only copy of each packet. */
static const char *const header_matches[] = {
    "tcp",   "udp",	  "icmp",     "multiport", "iprange",	"mark",	  "connmark", "conntrack",
    "state", "comment",	  "addrtype", "limit",	   "hashlimit", "recent", "length",   "ttl",
    "tos",   "dscp",	  "pkttype",  "mac",	   "physdev",	"owner",  "time",     "statistic",
    "set",   "connlimit", "rpfilter", "tcpmss",	   NULL};
/* Targets that never change the packet's bytes. REJECT reads the whole packet (it checks the
 * transport checksum as the kernel does) but changes nothing. */
static const char *const plain_targets[] = {"ACCEPT",  "DROP",	 "RETURN",   "QUEUE",	 "NFQUEUE",
					    "LOG",     "MARK",	 "CONNMARK", "CLASSIFY", "CT",
					    "NOTRACK", "REJECT", NULL};
/* Extensions that need the kernel's conntrack state or conntrack mark. */
static const char *const ct_exts[] = {"conntrack", "state", "connmark",	  "CONNMARK", "connlimit",
				      "SNAT",	   "DNAT",  "MASQUERADE", "REDIRECT", NULL};

static bool in_list(const char *const *list, const char *s, size_t n)
{
	for (; *list; list++)
		if (strlen(*list) == n && !strncmp(*list, s, n))
			return true;
	return false;
}

static unsigned hook_of(const char *chain, size_t n)
{
	static const char *const names[] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT",
					    "POSTROUTING"};
	for (unsigned h = 0; h < 5; h++)
		if (strlen(names[h]) == n && !strncmp(names[h], chain, n))
			return 1u << h;
	return 0;
}

void analyse_rule(const pf_table *tb, const pf_rule *r, struct qcfg *q)
{
	char *s = pf_rule_format(r);
	if (!s) {
		q->full = q->mangles = true;
		return;
	}
	/* Blank-separated words; a quoted comment may split oddly, which can only make us copy
	 * more than needed. */
	const char *prev = "";
	size_t prevn = 0;
	for (char *w = s; *w;) {
		while (*w == ' ')
			w++;
		size_t n = strcspn(w, " ");
		if (!n)
			break;
		if (prevn == 2 && !strncmp(prev, "-m", 2)) {
			if (!in_list(header_matches, w, n))
				q->full = true;
			if (in_list(ct_exts, w, n))
				q->conntrack = true;
			if (n == 5 && !strncmp(w, "owner", 5))
				q->flags |= NFQA_CFG_F_UID_GID;
		} else if (prevn == 2 && (!strncmp(prev, "-j", 2) || !strncmp(prev, "-g", 2))) {
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), w);
			if (!pf_table_chain(tb, name)) {
				if (!in_list(plain_targets, w, n))
					q->full = q->mangles = true;
				if (n == 6 && !strncmp(w, "REJECT", 6))
					q->full = q->csum = true;
				if (in_list(ct_exts, w, n))
					q->conntrack = true;
			}
		}
		prev = w;
		prevn = n;
		w += n;
	}
	free(s);
}

/* The copy range and flags that follow from what the rules need. */
void qcfg_finish(struct qcfg *q)
{
	if (q->mangles)
		q->csum = true;
	q->range = q->full ? 0xffff : PFD_HDR_COPY;
	q->flags &= NFQA_CFG_F_UID_GID;
	/* GSO packets come whole (no segmentation) unless we may change their bytes: the
	 * kernel takes a changed packet as CHECKSUM_NONE, which a GSO packet cannot be. */
	if (!q->mangles)
		q->flags |= NFQA_CFG_F_GSO;
	if (q->conntrack)
		q->flags |= NFQA_CFG_F_CONNTRACK;
	if (D.fail_open)
		q->flags |= NFQA_CFG_F_FAIL_OPEN;
}

unsigned table_hooks(const pf_ruleset *rs, const char *table)
{
	const pf_table *tb = pf_ruleset_table(rs, table);
	unsigned hooks = 0;
	for (size_t c = 0; tb && c < pf_table_chain_count(tb); c++) {
		const pf_chain *ch = pf_table_chain_at(tb, c);
		if (pf_chain_is_builtin(ch))
			hooks |= hook_of(pf_chain_name(ch), strlen(pf_chain_name(ch)));
	}
	return hooks;
}

/*
 * What each rule of the master needs, kept per chain (one byte a rule, in the chain's order)
 * and counted over the rule set, so that single-rule changes narrow the needs as exactly as
 * they widen them (a rule set that no longer uses REJECT gets a header-only copy again).
 */
enum { N_FULL = 1, N_MANGLES = 2, N_CSUM = 4, N_CT = 8, N_UIDGID = 16, N_KINDS = 5 };

struct nchain {
	const char *table;
	char name[32];
	uint8_t *f;
	size_t n, cap;
};

static struct nchain *nch;
static size_t nnch, capnch;
static size_t ncount[N_KINDS];
static size_t nrules;

static uint8_t needs_of(const pf_table *tb, const pf_rule *r)
{
	struct qcfg q = {0};
	analyse_rule(tb, r, &q);
	return (uint8_t)((q.full ? N_FULL : 0) | (q.mangles ? N_MANGLES : 0) |
			 (q.csum ? N_CSUM : 0) | (q.conntrack ? N_CT : 0) |
			 ((q.flags & NFQA_CFG_F_UID_GID) ? N_UIDGID : 0));
}

static void needs_count(uint8_t f, int sign)
{
	for (int k = 0; k < N_KINDS; k++)
		if (f & (1 << k))
			ncount[k] += (size_t)sign;
	nrules += (size_t)sign;
}

static struct nchain *needs_chain(const char *table, const char *name, bool add)
{
	for (size_t i = 0; i < nnch; i++)
		if (!strcmp(nch[i].table, table) && !strcmp(nch[i].name, name))
			return &nch[i];
	if (!add)
		return NULL;
	if (nnch == capnch) {
		size_t cap = capnch ? capnch * 2 : 16;
		struct nchain *v = realloc(nch, cap * sizeof(*v));
		if (!v)
			return NULL;
		nch = v;
		capnch = cap;
	}
	struct nchain *c = &nch[nnch++];
	memset(c, 0, sizeof(*c));
	c->table = table;
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}

static void needs_clear(void)
{
	for (size_t i = 0; i < nnch; i++)
		free(nch[i].f);
	nnch = nrules = 0;
	memset(ncount, 0, sizeof(ncount));
}

/* Analyse every rule of rs (a new master). */
static void needs_build(const pf_ruleset *rs)
{
	needs_clear();
	for (size_t t = 0; t < pf_ruleset_table_count(rs); t++) {
		const pf_table *tb = pf_ruleset_table_at(rs, t);
		for (size_t c = 0; c < pf_table_chain_count(tb); c++) {
			const pf_chain *ch = pf_table_chain_at(tb, c);
			struct nchain *nc = needs_chain(pf_table_name(tb), pf_chain_name(ch), true);
			size_t n = pf_chain_rule_count(ch);
			if (!nc || !n)
				continue;
			if (!(nc->f = malloc(n))) {
				nc->n = 0;
				continue;
			}
			nc->cap = nc->n = n;
			for (size_t r = 0; r < n; r++) {
				nc->f[r] = needs_of(tb, pf_chain_rule_at(ch, r));
				needs_count(nc->f[r], 1);
			}
		}
	}
}

void needs_change(const struct pf_change *c)
{
	struct nchain *nc = needs_chain(c->table, c->chain,
					c->op == PF_CHANGE_NEW_CHAIN || c->op == PF_CHANGE_INSERT);
	if (!nc)
		return;
	const pf_table *tb = pf_ruleset_table(D.master, c->table);
	switch (c->op) {
	case PF_CHANGE_INSERT:
		if (nc->n == nc->cap) {
			size_t cap = nc->cap ? nc->cap * 2 : 16;
			uint8_t *f = realloc(nc->f, cap);
			if (!f)
				return;
			nc->f = f;
			nc->cap = cap;
		}
		if (c->pos > nc->n)
			return;
		memmove(nc->f + c->pos + 1, nc->f + c->pos, nc->n - c->pos);
		nc->f[c->pos] = needs_of(tb, c->rule);
		nc->n++;
		needs_count(nc->f[c->pos], 1);
		break;
	case PF_CHANGE_DELETE:
		if (c->pos >= nc->n)
			return;
		needs_count(nc->f[c->pos], -1);
		memmove(nc->f + c->pos, nc->f + c->pos + 1, nc->n - c->pos - 1);
		nc->n--;
		break;
	case PF_CHANGE_REPLACE:
		if (c->pos >= nc->n)
			return;
		needs_count(nc->f[c->pos], -1);
		nc->f[c->pos] = needs_of(tb, c->rule);
		needs_count(nc->f[c->pos], 1);
		break;
	case PF_CHANGE_FLUSH:
		for (size_t k = 0; k < nc->n; k++)
			needs_count(nc->f[k], -1);
		nc->n = 0;
		break;
	case PF_CHANGE_DELETE_CHAIN:
		free(nc->f);
		*nc = nch[--nnch];
		break;
	case PF_CHANGE_RENAME_CHAIN:
		snprintf(nc->name, sizeof(nc->name), "%s", c->new_name);
		break;
	default:
		break;
	}
}

void needs_q(struct qcfg *q)
{
	q->full = ncount[0] > 0;
	q->mangles = ncount[1] > 0;
	q->csum = ncount[2] > 0;
	q->conntrack = ncount[3] > 0 || q->conntrack_engine;
	q->flags = ncount[4] ? NFQA_CFG_F_UID_GID : 0;
	qcfg_finish(q);
}

size_t needs_rules(void)
{
	return nrules;
}

static void analyse(const pf_ruleset *rs, const struct ctext *canon, struct qcfg *q)
{
	memset(q, 0, sizeof(*q));
	needs_build(rs);
	needs_q(q);
	/* the built-in chains of the instantiated tables: those the text lists */
	for (size_t i = 0; i < canon->n; i++) {
		const struct centry *e = &canon->e[i];
		if (canon->text[e->key_off] == ':')
			q->hooks |= hook_of(canon->text + e->key_off + 1, e->key_len - 1);
	}
}

/* ---- generations ---- */

static void log_sink(void *opaque, int level, const char *prefix, const char *line)
{
	(void)opaque;
	pfd_log(level, "%s%s", prefix ? prefix : "", line);
}

void gen_free(struct gen *g)
{
	if (!g)
		return;
	for (unsigned i = 0; g->eng && i < g->nq; i++)
		pf_engine_free(g->eng[i]);
	free(g->eng);
	free(g);
}

static char *save_text(const pf_ruleset *rs, size_t *len, struct pf_error *err)
{
	char *buf = NULL;
	*len = 0;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	int rc = pf_ruleset_save(rs, NULL, PF_SAVE_COUNTERS | PF_SAVE_REPARSEABLE, f, err);
	fclose(f);
	if (rc) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void set_nomem(struct pf_error *err)
{
	err->code = PF_ERR_RESOURCE;
	err->style = PF_STYLE_RAW;
	snprintf(err->message, sizeof(err->message), "pktfiltd: out of memory\n");
}

struct gen *gen_build_rs(const pf_ruleset *rs, struct ctext *canon, struct pf_error *err)
{
	memset(err, 0, sizeof(*err));
	memset(canon, 0, sizeof(*canon));
	struct gen *g = calloc(1, sizeof(*g));
	size_t clen;
	char *ctxt = g ? save_text(rs, &clen, err) : NULL;
	if (!ctxt || ctext_parse(canon, ctxt, clen))
		goto nomem;
	analyse(rs, canon, &g->q);
	g->nq = D.qlast - D.qfirst + 1;
	g->eng = calloc(g->nq, sizeof(*g->eng));
	if (!g->eng)
		goto nomem;
	/* The workers' engines share the state of their rules (limit buckets, nth counters,
	 * connlimit lists, recent lists, hashlimit tables), as the kernel's CPUs do: one state
	 * domain for the daemon's life, the generation's number as the engines' epoch. A new
	 * generation starts new per-rule state (the kernel's replaced table has new rules) and
	 * takes over the recent lists and hashlimit tables its rules name (the kernel keeps
	 * them by name in the namespace): its engines find them in the domain while the old
	 * generation's still hold them (it is freed after the swap). With one worker too: the
	 * old and new engines run concurrently during the swap (docs/shared-state.md, cost). */
	if (!D.state_domain && !(D.state_domain = pf_state_domain_new()))
		goto nomem;
	for (unsigned i = 0; i < g->nq; i++) {
		struct pf_engine_config cfg = {
		    .matcher = D.matcher,
		    .random_seed = (D.gen_seq + 1) * 7919 + i,
		    .log_sink = log_sink,
		    .addr_type = D.addr_type,
		    .host_opaque = D.host_opaque ? D.host_opaque[i] : NULL,
		    .state_domain = D.state_domain,
		    .state_epoch = D.gen_seq + 1, /* g->id */
		};
		g->eng[i] = pf_engine_new(rs, &cfg, err);
		if (!g->eng[i])
			goto fail;
	}
	if (!g->q.conntrack && pf_engine_uses_conntrack(g->eng[0])) {
		g->q.conntrack = g->q.conntrack_engine = true;
		qcfg_finish(&g->q);
	}
	g->id = g->seq = ++D.gen_seq;
	return g;
nomem:
	set_nomem(err);
fail:
	ctext_free(canon);
	gen_free(g);
	return NULL;
}

/* ---- live counters ---- */

struct csnap_pol {
	const char *table;
	char chain[32];
	uint64_t s[2];
};

struct csnap {
	const struct gen *g;
	struct csnap_pol pol[PF_MAX_POLICIES];
	size_t npol;
	/* rules: the master's rule pointers and the engines' sums, with a hash on the pointer */
	size_t n, cap;
	const pf_rule **key;
	uint64_t (*s)[2];
	size_t *slot; /* index + 1, 0: free */
	size_t nslot;
};

static size_t ptr_hash(const void *p, size_t nslot)
{
	uint64_t x = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL;
	return (size_t)(x >> 17) & (nslot - 1);
}

static int csnap_grow(struct csnap *s, size_t need)
{
	if (s->n + need <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 1024;
	while (cap < s->n + need)
		cap *= 2;
	const pf_rule **k = realloc(s->key, cap * sizeof(*k));
	if (!k)
		return -1;
	s->key = k;
	uint64_t(*v)[2] = realloc(s->s, cap * sizeof(*v));
	if (!v)
		return -1;
	s->s = v;
	s->cap = cap;
	return 0;
}

struct csnap *csnap_take(const struct gen *g, bool rules)
{
	struct csnap *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->g = g;
	const pf_ruleset *m = D.master;
	uint64_t(*tmp)[2] = NULL;
	size_t tmpcap = 0;
	for (size_t t = 0; t < pf_ruleset_table_count(m); t++) {
		const pf_table *tb = pf_ruleset_table_at(m, t);
		const char *tname = pf_table_name(tb);
		for (size_t c = 0; c < pf_table_chain_count(tb); c++) {
			const pf_chain *ch = pf_table_chain_at(tb, c);
			const char *cname = pf_chain_name(ch);
			size_t n = rules ? pf_chain_rule_count(ch) : 0;
			if (pf_chain_is_builtin(ch) && s->npol < PF_MAX_POLICIES) {
				struct csnap_pol *p = &s->pol[s->npol++];
				p->table = tname;
				snprintf(p->chain, sizeof(p->chain), "%s", cname);
				for (unsigned i = 0; g && i < g->nq; i++) {
					uint64_t pol[2] = {0, 0};
					pf_engine_chain_counters(g->eng[i], tname, cname, pol, NULL,
								 0);
					p->s[0] += pol[0];
					p->s[1] += pol[1];
				}
			}
			if (!n)
				continue;
			if (csnap_grow(s, n))
				goto nomem;
			if (n > tmpcap) {
				free(tmp);
				tmpcap = n;
				if (!(tmp = malloc(tmpcap * sizeof(*tmp))))
					goto nomem;
			}
			uint64_t(*sum)[2] = s->s + s->n;
			memset(sum, 0, n * sizeof(*sum));
			for (unsigned i = 0; g && i < g->nq; i++) {
				long got =
				    pf_engine_chain_counters(g->eng[i], tname, cname, NULL, tmp, n);
				if (got != (long)n) {
					pfd_log(
					    LOG_ERR,
					    "pktfiltd: engine %u has %ld rules in %s %s, not %zu",
					    i, got, tname, cname, n);
					memset(tmp, 0, n * sizeof(*tmp));
				}
				for (size_t k = 0; k < n; k++) {
					sum[k][0] += tmp[k][0];
					sum[k][1] += tmp[k][1];
				}
			}
			for (size_t k = 0; k < n; k++)
				s->key[s->n + k] = pf_chain_rule_at(ch, k);
			s->n += n;
		}
	}
	free(tmp);
	if (s->n) {
		s->nslot = 16;
		while (s->nslot < s->n * 2)
			s->nslot *= 2;
		if (!(s->slot = calloc(s->nslot, sizeof(*s->slot)))) {
			csnap_free(s);
			return NULL;
		}
		for (size_t i = 0; i < s->n; i++) {
			size_t h = ptr_hash(s->key[i], s->nslot);
			while (s->slot[h])
				h = (h + 1) & (s->nslot - 1);
			s->slot[h] = i + 1;
		}
	}
	return s;
nomem:
	free(tmp);
	csnap_free(s);
	return NULL;
}

void csnap_free(struct csnap *s)
{
	if (!s)
		return;
	free(s->key);
	free(s->s);
	free(s->slot);
	free(s);
}

static void pol_add(const struct csnap_pol *p, int sign)
{
	const pf_table *tb = pf_ruleset_table(D.master, p->table);
	const pf_chain *ch = tb ? pf_table_chain(tb, p->chain) : NULL;
	if (!ch)
		return;
	uint64_t pk, by;
	pf_chain_policy_counters(ch, &pk, &by);
	if (sign > 0) {
		pk += p->s[0];
		by += p->s[1];
	} else {
		pk -= p->s[0];
		by -= p->s[1];
	}
	pf_chain_set_policy_counters(D.master, p->table, p->chain, pk, by);
}

void csnap_apply(struct csnap *s)
{
	for (size_t i = 0; i < s->npol; i++)
		pol_add(&s->pol[i], 1);
	for (size_t i = 0; i < s->n; i++) {
		uint64_t pk, by;
		pf_rule_counters(s->key[i], &pk, &by);
		pf_rule_set_counters(D.master, s->key[i], pk + s->s[i][0], by + s->s[i][1]);
	}
}

void csnap_restore(struct csnap *s)
{
	for (size_t i = 0; i < s->npol; i++)
		pol_add(&s->pol[i], -1);
	if (!s->n)
		return;
	/* Walk the master as it is now: rules the command took out are not looked at. */
	const pf_ruleset *m = D.master;
	for (size_t t = 0; t < pf_ruleset_table_count(m); t++) {
		const pf_table *tb = pf_ruleset_table_at(m, t);
		for (size_t c = 0; c < pf_table_chain_count(tb); c++) {
			const pf_chain *ch = pf_table_chain_at(tb, c);
			for (size_t k = 0; k < pf_chain_rule_count(ch); k++) {
				const pf_rule *r = pf_chain_rule_at(ch, k);
				size_t h = ptr_hash(r, s->nslot);
				while (s->slot[h] && s->key[s->slot[h] - 1] != r)
					h = (h + 1) & (s->nslot - 1);
				if (!s->slot[h])
					continue; /* a new rule */
				size_t i = s->slot[h] - 1;
				uint64_t pk, by;
				pf_rule_counters(r, &pk, &by);
				pf_rule_set_counters(D.master, r, pk - s->s[i][0], by - s->s[i][1]);
			}
		}
	}
}

/* The master with g's counters, as text. */
static char *live_text_of(const struct gen *g, size_t *len)
{
	struct pf_error err;
	changes_settle();
	struct csnap *s = csnap_take(g, true);
	if (!s)
		return NULL;
	csnap_apply(s);
	char *t = save_text(D.master, len, &err);
	csnap_restore(s);
	csnap_free(s);
	return t;
}

char *live_text(size_t *len)
{
	return live_text_of(D.cur, len);
}

static int live_ctext_of(const struct gen *g, struct ctext *out)
{
	size_t len;
	char *t = live_text_of(g, &len);
	if (!t || ctext_parse(out, t, len)) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

int live_ctext(struct ctext *out)
{
	return live_ctext_of(D.cur, out);
}

/* ---- whole-rule-set changes ---- */

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* Give rs (g's rule set) its bases: entry j of canon is to show live[j] while g's engines
 * started it at canon's value, each of them. */
static void set_bases(pf_ruleset *rs, const struct ctext *canon, uint64_t (*live)[2], unsigned nq)
{
	char table[32] = "", chain[32] = "", prev[64] = "";
	size_t pos = 0;
	for (size_t j = 0; j < canon->n; j++) {
		const struct centry *e = &canon->e[j];
		snprintf(table, sizeof(table), "%.*s", (int)e->table_len,
			 canon->text + e->table_off);
		const char *key = canon->text + e->key_off;
		uint64_t bp = live[j][0] - nq * e->pkts, bb = live[j][1] - nq * e->bytes;
		if (key[0] == ':') {
			snprintf(chain, sizeof(chain), "%.*s", (int)(e->key_len - 1), key + 1);
			pf_chain_set_policy_counters(rs, table, chain, bp, bb);
			continue;
		}
		/* "-A CHAIN ...": the rules of a chain come together, in order */
		const char *c = key + 3;
		size_t cl = strcspn(c, " \n");
		snprintf(chain, sizeof(chain), "%.*s", (int)cl, c);
		char here[64];
		snprintf(here, sizeof(here), "%s %s", table, chain);
		pos = strcmp(here, prev) ? 0 : pos + 1;
		snprintf(prev, sizeof(prev), "%s", here);
		const pf_table *tb = pf_ruleset_table(rs, table);
		const pf_chain *ch = tb ? pf_table_chain(tb, chain) : NULL;
		const pf_rule *r = ch ? pf_chain_rule_at(ch, pos) : NULL;
		if (r)
			pf_rule_set_counters(rs, r, bp, bb);
	}
}

/*
 * Publish g (built from rs; canon its text), wait for the workers to leave the old generation,
 * and make rs the master with the counters: mode CARRY_CLIENT (snap = what the client was
 * given: what it wrote plus what was counted since it read), CARRY_LIVE (unchanged rules keep
 * their live counters) or CARRY_NONE (the text's).
 */
static int gen_swap(struct gen *g, pf_ruleset *rs, struct ctext *canon, enum carry mode,
		    const struct ctext *snap)
{
	struct gen *old = D.cur;
	/* (before g is published: a failure leaves the running generation and master as they
	 * are, and g and rs to the caller) */
	uint64_t(*live)[2] = calloc(canon->n ? canon->n : 1, sizeof(*live));
	if (!live)
		return -1;
	rcu_assign_pointer(D.cur, g);
	urcu_qsbr_synchronize_rcu(); /* no worker uses old from here on */
	for (size_t j = 0; j < canon->n; j++) {
		live[j][0] = canon->e[j].pkts;
		live[j][1] = canon->e[j].bytes;
	}
	struct ctext cur;
	if (old && D.master && mode != CARRY_NONE && live_ctext_of(old, &cur) == 0) {
		long *map = malloc((canon->n + 1) * sizeof(long));
		bool by_snap = mode == CARRY_CLIENT && snap && ctext_same_shape(snap, &cur);
		if (map && ctext_match(by_snap ? snap : &cur, canon, map) == 0) {
			for (size_t j = 0; j < canon->n; j++) {
				long m = map[j];
				if (m < 0)
					continue;
				if (by_snap) {
					live[j][0] += sub_sat(cur.e[m].pkts, snap->e[m].pkts);
					live[j][1] += sub_sat(cur.e[m].bytes, snap->e[m].bytes);
				} else if (mode == CARRY_LIVE) {
					live[j][0] = cur.e[m].pkts;
					live[j][1] = cur.e[m].bytes;
				}
			}
		}
		free(map);
		ctext_free(&cur);
	}
	set_bases(rs, canon, live, g->nq);
	free(live);
	pf_ruleset_free(D.master);
	D.master = rs;
	D.want = g->q;
	gen_free(old);
	return 0;
}

/* ---- the rules file ---- */

static struct stat written; /* the rules file as we last wrote it */

static int persist_text(const char *text, size_t len, uint64_t seq)
{
	char tmp[4200], lockp[4200], dir[4096], head[64];
	snprintf(dir, sizeof(dir), "%s", D.rules_path);
	char *d = dirname(dir);
	mkdir(d, 0755);
	/* the CLI's state-file lock, so that a CLI working on the file directly is not raced */
	const char *lenv = getenv("PKTFILT_LOCK");
	snprintf(lockp, sizeof(lockp), "%s", lenv && *lenv ? lenv : D.rules_path);
	if (!(lenv && *lenv))
		strncat(lockp, ".lock", sizeof(lockp) - strlen(lockp) - 1);
	int lfd = open(lockp, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	for (int i = 0; lfd >= 0 && i < 200 && flock(lfd, LOCK_EX | LOCK_NB); i++)
		usleep(10000);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", D.rules_path, (long)getpid());
	int hl = snprintf(head, sizeof(head), "# pktfiltd journal %" PRIu64 "\n", seq);
	int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	int rc = -1;
	if (fd >= 0) {
		bool ok = write(fd, head, (size_t)hl) == hl;
		size_t off = 0;
		while (ok && off < len) {
			ssize_t n = write(fd, text + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		if (ok && off == len && fsync(fd) == 0 && fstat(fd, &written) == 0 &&
		    close(fd) == 0) {
			fd = -1;
			if (rename(tmp, D.rules_path) == 0) {
				int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (dfd >= 0) {
					fsync(dfd);
					close(dfd);
				}
				rc = 0;
			}
		}
		if (fd >= 0)
			close(fd);
		if (rc)
			unlink(tmp);
	}
	if (lfd >= 0)
		close(lfd);
	if (rc)
		pfd_log(LOG_ERR, "pktfiltd: cannot write %s: %s", D.rules_path, strerror(errno));
	return rc;
}

int persist_live(void)
{
	if (!D.cur || !D.master)
		return -1;
	changes_settle();
	size_t len;
	char *t = live_text(&len);
	if (!t)
		return -1;
	uint64_t seq = D.journal_seq;
	int rc = persist_text(t, len, seq);
	free(t);
	if (rc == 0) {
		D.journal_base = seq;
		journal_reset();
	}
	return rc;
}

/* Is the rules file still what we last wrote? */
static bool file_is_ours(void)
{
	struct stat st;
	return written.st_ino && stat(D.rules_path, &st) == 0 && st.st_dev == written.st_dev &&
	       st.st_ino == written.st_ino && st.st_size == written.st_size &&
	       st.st_mtim.tv_sec == written.st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == written.st_mtim.tv_nsec;
}

/* Build rs into a generation, publish it, carry the counters and write the rules file. */
static int apply_rs(pf_ruleset *rs, enum carry mode, const struct ctext *snap, struct pf_error *err)
{
	struct ctext canon;
	struct gen *g = gen_build_rs(rs, &canon, err);
	if (!g) {
		pf_ruleset_free(rs);
		if (D.master)
			needs_build(D.master); /* the running rule set's, again */
		return -1;
	}
	/* (at startup the hooks come after the queues are bound: see main) */
	if (D.install_hooks && D.cur &&
	    ((g->q.hooks & ~D.hooks_installed) || (g->q.conntrack && !D.ct_trigger_installed)))
		hooks_install(g->q.hooks | D.hooks_installed, g->q.conntrack);
	if (gen_swap(g, rs, &canon, mode, snap)) {
		/* nothing was published: the running rules stay */
		ctext_free(&canon);
		gen_free(g);
		pf_ruleset_free(rs);
		if (D.master)
			needs_build(D.master);
		set_nomem(err);
		return -1;
	}
	ctext_free(&canon);
	if (persist_live()) {
		err->code = PF_ERR_RESOURCE;
		err->style = PF_STYLE_RAW;
		snprintf(err->message, sizeof(err->message),
			 "pktfiltd: the new rules are live but could not be written to %.900s\n",
			 D.rules_path);
		return -1;
	}
	if (D.verbose)
		pfd_log(LOG_INFO, "pktfiltd: rule set generation %llu live (copy range %u%s%s)",
			(unsigned long long)g->seq, g->q.range, g->q.conntrack ? ", conntrack" : "",
			(g->q.flags & NFQA_CFG_F_GSO) ? ", gso" : "");
	return 0;
}

static pf_ruleset *restore_text(const char *text, size_t len, struct pf_error *err)
{
	pf_ruleset *rs = pf_ruleset_new();
	if (!rs) {
		set_nomem(err);
		return NULL;
	}
	if (pf_ruleset_restore(rs, text, len, PF_RESTORE_COUNTERS | PF_RESTORE_LISTED_ORDER, NULL,
			       err)) {
		pf_ruleset_free(rs);
		return NULL;
	}
	return rs;
}

int commit_text(const char *text, size_t len, const struct ctext *snap, struct pf_error *err)
{
	memset(err, 0, sizeof(*err));
	changes_settle();
	pf_ruleset *rs = restore_text(text, len, err);
	if (!rs)
		return -1;
	return apply_rs(rs, snap ? CARRY_CLIENT : CARRY_NONE, snap, err);
}

static char *read_file(const char *path, size_t *len, struct pf_error *err)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0, n;
	*len = 0;
	if (!f) {
		if (errno == ENOENT)
			return strdup("");
		err->code = PF_ERR_RESOURCE;
		err->style = PF_STYLE_RAW;
		snprintf(err->message, sizeof(err->message), "pktfiltd: cannot read %.900s: %s\n",
			 path, strerror(errno));
		return NULL;
	}
	char buf[65536];
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (*len + n + 1 > cap) {
			cap = (*len + n + 1) * 2;
			char *t = realloc(text, cap);
			if (!t) {
				free(text);
				fclose(f);
				set_nomem(err);
				return NULL;
			}
			text = t;
		}
		memcpy(text + *len, buf, n);
		*len += n;
	}
	fclose(f);
	if (!text)
		return strdup("");
	text[*len] = '\0';
	return text;
}

int load_rules(bool startup, struct pf_error *err)
{
	memset(err, 0, sizeof(*err));
	if (!startup) {
		changes_settle();
		/* Our own file lacks the journal's commands: write them in first, so that
		 * re-reading it changes nothing the administrator did not write. */
		if (file_is_ours() && D.journal_records && persist_live())
			pfd_log(LOG_WARNING, "pktfiltd: could not write the journal into %s",
				D.rules_path);
	}
	size_t len;
	char *text = read_file(D.rules_path, &len, err);
	if (!text)
		return -1;
	uint64_t base = 0;
	if (sscanf(text, "# pktfiltd journal %" SCNu64, &base) != 1)
		base = 0;
	pf_ruleset *rs = restore_text(text, len, err);
	free(text);
	if (!rs)
		return -1;
	if (startup) {
		if (journal_open()) {
			err->code = PF_ERR_RESOURCE;
			err->style = PF_STYLE_RAW;
			snprintf(err->message, sizeof(err->message),
				 "pktfiltd: cannot open the journal of %.900s: %s\n", D.rules_path,
				 strerror(errno));
			pf_ruleset_free(rs);
			return -1;
		}
		D.journal_base = D.journal_seq = base;
		if (journal_replay(rs, base) < 0) {
			pf_ruleset_free(rs);
			set_nomem(err);
			return -1;
		}
	}
	return apply_rs(rs, D.cur ? CARRY_LIVE : CARRY_NONE, NULL, err);
}
