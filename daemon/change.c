/*
 * change.c - one iptables command on the live rule set (the CLI's CMD request): run it on
 * the master rule set with pf_ruleset_command_ex(), then have every worker apply the
 * single-rule changes it made to its own engine (the engines' incremental updates), and
 * write the command to the journal.
 *
 * Workers and changes: an engine is changed only by its own worker, between two batches, so
 * evaluation never runs concurrently with a change and no worker waits for anything. The
 * control thread publishes a post (D.post, then D.post_seq with release), wakes the workers
 * that sleep in recvmmsg with a datagram to their netlink socket, writes the journal
 * meanwhile, and waits for every worker's acknowledgement (eventfd D.ack_fd) before it
 * answers the CLI, at most ACK_WAIT_MS: past that it answers anyway (the change is in the
 * master and the journal) and waits before it touches the master or the engines again
 * (changes_settle()). The master's rules the workers copy stay untouched until then.
 *
 * Counters (struct gen): before the command the engines' sums are added to the master's
 * bases for the policies (cheap) and, when the command may read or zero counters (listings,
 * -Z), for every rule; after it they are taken back out, so that what the command set (zero,
 * -c, a policy reset by the commit) becomes the live value. A rule the command put in starts
 * at W in every engine: its base becomes W - nq * W once the workers have copied it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <urcu/urcu-qsbr.h>

#include "pktfiltd.h"

#define ACK_WAIT_MS 1000	      /* longest wait for the workers before answering */
#define COMPACT_RECORDS 10000	      /* journal records that call for a compaction */
#define COMPACT_BYTES (4u << 20)      /* journal bytes that call for a compaction */
#define COMPACT_IDLE_NS 1000000000ULL /* compaction after this long without a change */
#define COMPACT_NOW_RULES 2000	      /* rule sets this small are written at every change */

static struct change_op *ops; /* the last post's (kept until settled) */
static size_t nops, capops;
static bool unsettled;
static bool fds_ready;

static int fds_init(void)
{
	if (fds_ready)
		return 0;
	D.ack_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	D.wake_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (D.ack_fd < 0 || D.wake_fd < 0) {
		if (D.ack_fd >= 0)
			close(D.ack_fd);
		if (D.wake_fd >= 0)
			close(D.wake_fd);
		return -1;
	}
	fds_ready = true;
	return 0;
}

/* ---- the workers' side ---- */

int change_apply(pf_engine *e, const struct change_op *v, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		const struct change_op *o = &v[i];
		struct pf_error err;
		int r = 0;
		switch (o->op) {
		case PF_CHANGE_INSERT:
			r = pf_engine_insert_rule(e, o->table, o->chain, o->pos, o->rule, &err);
			break;
		case PF_CHANGE_DELETE:
			r = pf_engine_delete_rule(e, o->table, o->chain, o->pos, &err);
			break;
		case PF_CHANGE_REPLACE:
			r = pf_engine_replace_rule(e, o->table, o->chain, o->pos, o->rule, &err);
			break;
		case PF_CHANGE_FLUSH:
			r = pf_engine_flush_chain(e, o->table, o->chain, &err);
			break;
		case PF_CHANGE_NEW_CHAIN:
			r = pf_engine_create_chain(e, o->table, o->chain, &err);
			break;
		case PF_CHANGE_DELETE_CHAIN:
			r = pf_engine_delete_chain(e, o->table, o->chain, &err);
			break;
		case PF_CHANGE_RENAME_CHAIN:
			r = pf_engine_rename_chain(e, o->table, o->chain, o->new_name, &err);
			break;
		case PF_CHANGE_POLICY:
			r = pf_engine_set_policy(e, o->table, o->chain, o->policy, &err);
			break;
		default:
			break;
		}
		if (r) {
			pfd_log(LOG_ERR, "pktfiltd: a worker could not apply a change to %s %s: %s",
				o->table, o->chain, err.message);
			rc = -1;
		}
	}
	return rc;
}

/* ---- the control thread's side ---- */

static unsigned nworkers(void)
{
	return D.cur ? D.cur->nq : 0;
}

/* Wait until every worker acknowledged post seq, at most timeout_ms (< 0: as long as it
 * takes). Returns 0 when they all did. */
static int wait_acks(uint64_t seq, int timeout_ms, bool *failed)
{
	uint64_t start = pfd_now_ns(), warned = start;
	unsigned nq = nworkers();
	for (;;) {
		if (workers_acked(seq, failed) >= nq)
			return 0;
		uint64_t now = pfd_now_ns();
		int left = 100;
		if (timeout_ms >= 0) {
			uint64_t spent = (now - start) / 1000000;
			if (spent >= (uint64_t)timeout_ms)
				return -1;
			left = timeout_ms - (int)spent;
			if (left > 100)
				left = 100;
		} else if (now - warned > 5000000000ULL) {
			warned = now;
			pfd_log(LOG_WARNING,
				"pktfiltd: still waiting for a worker to apply a change");
		}
		struct pollfd p = {D.ack_fd, POLLIN, 0};
		if (poll(&p, 1, left) > 0) {
			uint64_t v;
			if (read(D.ack_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return -1;
		} else {
			workers_wake(); /* a datagram lost to a full socket: again */
		}
	}
}

/* Build a new generation from the master (a worker's engine no longer matches it). */
static void rebuild(void)
{
	pfd_log(LOG_ERR, "pktfiltd: rebuilding every engine from the rule set");
	size_t len;
	char *t = live_text(&len);
	struct pf_error err;
	if (!t || commit_text(t, len, NULL, &err))
		pfd_log(LOG_ERR, "pktfiltd: the rebuild failed: %s", t ? err.message : "no memory");
	free(t);
}

static void post(const struct qcfg *q)
{
	D.post.ops = ops;
	D.post.n = nops;
	D.post.q = *q;
	D.want = *q;
	if (D.cur) { /* what the statistics show (workers follow the post) */
		__atomic_store_n(&D.cur->q.range, q->range, __ATOMIC_RELAXED);
		__atomic_store_n(&D.cur->q.flags, q->flags, __ATOMIC_RELAXED);
		__atomic_store_n(&D.cur->q.hooks, q->hooks, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&D.post_seq, D.post_seq + 1, __ATOMIC_SEQ_CST);
	unsettled = true;
	workers_wake();
}

/* Every worker has the post: the new rules' bases, and whatever comes after. */
static void finish_post(bool failed)
{
	unsigned nq = nworkers();
	unsettled = false;
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].op != PF_CHANGE_INSERT && ops[i].op != PF_CHANGE_REPLACE)
			continue;
		uint64_t pk, by;
		pf_rule_counters(ops[i].rule, &pk, &by);
		pf_rule_set_counters(D.master, ops[i].rule, pk - nq * pk, by - nq * by);
	}
	nops = 0;
	if (failed) {
		rebuild();
		return;
	}
	/* an extension the name lists do not know may still need conntrack */
	if (!D.want.conntrack && D.cur && pf_engine_uses_conntrack(D.cur->eng[0])) {
		struct qcfg q = D.want;
		q.conntrack = q.conntrack_engine = true;
		qcfg_finish(&q);
		if (D.install_hooks)
			hooks_install(q.hooks | D.hooks_installed, true);
		post(&q);
		bool f = false;
		wait_acks(D.post_seq, -1, &f);
		unsettled = false;
	}
}

void changes_settle(void)
{
	if (!unsettled)
		return;
	bool failed = false;
	wait_acks(D.post_seq, -1, &failed);
	finish_post(failed);
}

/* Can this command read or zero counters (-L, -S, -Z and their long forms)? A superset. */
static bool reads_counters(int argc, char *const argv[])
{
	static const char *const longs[] = {"list", "list-rules", "zero"};
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		if (w[0] != '-' || !w[1])
			continue;
		if (w[1] == '-') {
			size_t n = strcspn(w + 2, "=");
			for (size_t k = 0; k < sizeof(longs) / sizeof(longs[0]); k++)
				if (n && !strncmp(longs[k], w + 2, n) && n <= strlen(longs[k]))
					return true;
		} else if (strpbrk(w + 1, "LSZ")) {
			return true;
		}
	}
	return false;
}

/* A zero the command made without the rules' live counters in the master: the zeroed rules'
 * bases become minus what the engines counted, so that they read 0 now. */
static void zero_bases(const struct pf_change *c)
{
	const pf_table *tb = pf_ruleset_table(D.master, c->table);
	for (size_t i = 0; tb && i < pf_table_chain_count(tb); i++) {
		const pf_chain *ch = pf_table_chain_at(tb, i);
		if (c->chain[0] && strcmp(c->chain, pf_chain_name(ch)))
			continue;
		size_t n = pf_chain_rule_count(ch);
		if (c->has_pos)
			n = c->pos + 1 <= n ? c->pos + 1 : 0;
		if (!n)
			continue;
		uint64_t(*sum)[2] = calloc(n, sizeof(*sum)), (*tmp)[2] = malloc(n * sizeof(*tmp));
		for (unsigned e = 0; sum && tmp && e < nworkers(); e++)
			if (pf_engine_chain_counters(D.cur->eng[e], c->table, pf_chain_name(ch),
						     NULL, tmp, n) >= (long)n)
				for (size_t k = 0; k < n; k++) {
					sum[k][0] += tmp[k][0];
					sum[k][1] += tmp[k][1];
				}
		for (size_t k = c->has_pos ? c->pos : 0; sum && tmp && k < n; k++)
			pf_rule_set_counters(D.master, pf_chain_rule_at(ch, k), -sum[k][0],
					     -sum[k][1]);
		free(sum);
		free(tmp);
	}
}

static int add_op(const struct pf_change *c)
{
	if (nops == capops) {
		size_t cap = capops ? capops * 2 : 16;
		struct change_op *v = realloc(ops, cap * sizeof(*v));
		if (!v)
			return -1;
		ops = v;
		capops = cap;
	}
	struct change_op *o = &ops[nops++];
	memset(o, 0, sizeof(*o));
	o->op = c->op;
	o->table = c->table;
	snprintf(o->chain, sizeof(o->chain), "%s", c->chain);
	snprintf(o->new_name, sizeof(o->new_name), "%s", c->new_name);
	snprintf(o->policy, sizeof(o->policy), "%s", c->policy);
	o->pos = c->pos;
	o->rule = c->rule;
	return 0;
}

int cmd_run(int argc, char **argv, char **out, size_t *outlen, char **errs, size_t *errlen)
{
	*out = *errs = NULL;
	*outlen = *errlen = 0;
	changes_settle();
	uint64_t t_start = pfd_now_ns();
	struct pf_error err;
	memset(&err, 0, sizeof(err));
	bool rules = reads_counters(argc, argv);
	struct csnap *snap = csnap_take(D.cur, rules);
	FILE *o = open_memstream(out, outlen);
	FILE *e = open_memstream(errs, errlen);
	if (!snap || !o || !e) {
		if (o)
			fclose(o);
		if (e) {
			fputs("pktfiltd: out of memory\n", e);
			fclose(e);
		}
		csnap_free(snap);
		return PF_ERR_RESOURCE;
	}
	csnap_apply(snap);
	/* the journal's record goes to the disk while the command runs (taken back if the
	 * command changes nothing) */
	bool journaled = !rules && journal_begin(argc, argv) == 0;
	struct pf_changes ch;
	int rc = pf_ruleset_command_ex(D.master, argc, argv, o, &err, &ch);
	uint64_t t_cmd = pfd_now_ns();
	fclose(o);
	csnap_restore(snap);
	csnap_free(snap);
	int status = rc ? (err.code ? err.code : 1) : 0;
	pf_error_print(&err, "pktfilt", e); /* warnings, then the error if any */
	if (!ch.n) {
		if (journaled)
			journal_discard();
		fclose(e);
		return status;
	}

	/* what the workers apply, and what the kernel must now be asked for */
	struct qcfg q = D.want;
	nops = 0;
	bool nomem = false;
	for (size_t i = 0; i < ch.n; i++) {
		const struct pf_change *c = &ch.v[i];
		needs_change(c);
		switch (c->op) {
		case PF_CHANGE_INSERT:
		case PF_CHANGE_REPLACE:
		case PF_CHANGE_DELETE:
		case PF_CHANGE_FLUSH:
		case PF_CHANGE_NEW_CHAIN:
		case PF_CHANGE_DELETE_CHAIN:
		case PF_CHANGE_RENAME_CHAIN:
		case PF_CHANGE_POLICY:
			if (add_op(c))
				nomem = true;
			break;
		case PF_CHANGE_TABLE:
			q.hooks |= table_hooks(D.master, c->table);
			break;
		case PF_CHANGE_ZERO:
			if (!rules)
				zero_bases(c);
			break;
		default:
			break;
		}
	}
	needs_q(&q);
	if (fds_init())
		nomem = true;
	if (D.install_hooks &&
	    ((q.hooks & ~D.hooks_installed) || (q.conntrack && !D.ct_trigger_installed)))
		hooks_install(q.hooks | D.hooks_installed, q.conntrack);
	if (nomem) {
		/* the master has the change, the engines cannot be told: build them again */
		nops = 0;
		pf_changes_free(&ch);
		rebuild();
	} else if (nops || memcmp(&q, &D.want, sizeof(q))) {
		post(&q);
	}
	if (D.cur)
		__atomic_store_n(&D.cur->seq, ++D.gen_seq, __ATOMIC_RELAXED);
	/* the journal is written while the workers apply the change */
	if (journaled ? journal_commit() : journal_append(argc, argv)) {
		fprintf(e,
			"pktfiltd: the change is live but could not be written to the journal "
			"of %s: %s\n",
			D.rules_path, strerror(errno));
		status = PF_ERR_RESOURCE;
	}
	fclose(e);
	if (unsettled) {
		bool failed = false;
		uint64_t t0 = pfd_now_ns();
		if (wait_acks(D.post_seq, ACK_WAIT_MS, &failed) == 0)
			finish_post(failed);
		else
			pfd_log(LOG_WARNING, "pktfiltd: a worker has not applied the change yet");
		if (D.verbose > 1)
			pfd_log(LOG_DEBUG,
				"pktfiltd: command %.0f us; %zu change(s) applied by the workers "
				"%.0f us after the journal was synced, %.0f us after the command",
				(double)(t_cmd - t_start) / 1e3, ch.n,
				(double)(pfd_now_ns() - t0) / 1e3,
				(double)(pfd_now_ns() - t_cmd) / 1e3);
	}
	pf_changes_free(&ch);
	D.last_change_ns = pfd_now_ns();
	/* a small rule set costs little to write whole: the rules file stays current */
	if (needs_rules() <= COMPACT_NOW_RULES && D.journal_records && persist_live())
		pfd_log(LOG_WARNING, "pktfiltd: the rules file could not be written (the journal "
				     "has the change)");
	return status;
}

bool compaction_due(uint64_t now, int *wait_ms)
{
	static uint64_t last_try;
	*wait_ms = -1;
	if (!D.journal_records)
		return false;
	if (last_try && now - last_try < 1000000000ULL) { /* the last one failed: not again yet */
		*wait_ms = 1000;
		return false;
	}
	bool due = D.journal_records >= COMPACT_RECORDS || D.journal_bytes >= COMPACT_BYTES ||
		   now - D.last_change_ns >= COMPACT_IDLE_NS;
	if (due) {
		last_try = now;
		return true;
	}
	*wait_ms = (int)((COMPACT_IDLE_NS - (now - D.last_change_ns)) / 1000000) + 1;
	return false;
}
