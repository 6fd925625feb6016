/*
 * pktfiltd.h - internals of the NFQUEUE verdict daemon shared by its source files.
 *
 * Threads: the main thread is the control thread (control socket, signals, reloads, hooks);
 * one worker thread per queue receives packets, judges them with its own engine and sends
 * verdicts. The rule set the workers use is a "generation" (one engine per worker, compiled
 * from the same rule set) published with RCU (liburcu, QSBR flavour): a reload builds the
 * next generation aside, swaps the pointer and frees the old one after a grace period. No
 * worker ever waits for a reload; the control thread waits for the workers' quiescence.
 */
#ifndef PKTFILTD_H
#define PKTFILTD_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pktfilt/engine.h"
#include "pktfilt/pktfilt.h"

#define PFD_MAX_QUEUES 64
#define PFD_LAT_BUCKETS 24  /* latency histogram: [0,1us), [1,2us), [2,4us) ... */
#define PFD_BATCH_BUCKETS 8 /* batch sizes: 1, 2-3, 4-7, ..., 64-127, 128+ */
#define PFD_HDR_COPY 256    /* copy range when the rule set only reads headers */

/* ---- counter text (ctext.c): iptables-save -c text with its counters picked out ---- */

struct centry {
	size_t line;	/* offset of the line in the text */
	size_t cnt_off; /* offset of "[p:b]" */
	size_t cnt_len; /* its length */
	size_t key_off; /* the identity of the line: ":CHAIN" or "-A CHAIN rule..." */
	size_t key_len;
	size_t table_off; /* the table name (after '*') */
	size_t table_len;
	uint64_t hash;
	uint64_t pkts, bytes;
};

struct ctext {
	char *text; /* owned */
	size_t len;
	struct centry *e;
	size_t n;
};

/* Parse iptables-save -c text (takes ownership of text). Returns 0 or -1. */
int ctext_parse(struct ctext *ct, char *text, size_t len);
void ctext_free(struct ctext *ct);
/* The text with counters[i] in place of entry i's counters (malloc()ed, NUL-terminated). */
char *ctext_render(const struct ctext *ct, size_t *len);
/* For every entry j of to: the entry of from with the same table and key (the k-th
 * occurrence of a key matches the k-th), or -1. map has to->n slots. Returns 0 or -1. */
int ctext_match(const struct ctext *from, const struct ctext *to, long *map);
/* Do a and b have the same entries (keys) in the same order? */
bool ctext_same_shape(const struct ctext *a, const struct ctext *b);

/* ---- what a rule set needs from the kernel (live.c) ---- */

struct qcfg {
	uint32_t range;	       /* copy range: 0xffff (whole packet) or PFD_HDR_COPY */
	uint32_t flags;	       /* NFQA_CFG_F_* */
	bool full;	       /* some rule reads the payload, verifies a checksum or mangles */
	bool mangles;	       /* some target changes the packet bytes */
	bool csum;	       /* the transport checksum must be complete (REJECT checks it; the
				  mangling targets update it) */
	bool conntrack;	       /* some rule needs the conntrack state or mark */
	bool conntrack_engine; /* the engine says so (an extension the lists do not know) */
	unsigned hooks;	       /* mask of 1 << PF_NF_*: built-in chains of instantiated tables */
};

/* ---- statistics (one per worker, written by that worker only) ---- */

struct wstats {
	alignas(64) uint64_t packets, bytes;
	uint64_t accept, drop, reject, queue, repeat, other;
	uint64_t mark_set, payload_set, malformed, non_ipv4;
	uint64_t enobufs, recv_errors, send_errors, verdict_errors;
	uint64_t batches, verdict_msgs, batch_verdicts, sendmsgs;
	uint64_t batch_pkts; /* packets judged in batches (the batch-size histogram's sum) */
	uint64_t batch_hist[PFD_BATCH_BUCKETS];
	uint64_t lat_hist[PFD_LAT_BUCKETS];
	uint64_t lat_sum_ns; /* sum over packets of their receive-to-verdict time */
	uint64_t reconfigs;
};

/* Single writer: plain read-add-store, relaxed atomics so readers see whole values. */
#define STAT_ADD(s, field, n)                                                                      \
	__atomic_store_n(&(s)->field, __atomic_load_n(&(s)->field, __ATOMIC_RELAXED) + (n),        \
			 __ATOMIC_RELAXED)
#define STAT_GET(s, field) __atomic_load_n(&(s)->field, __ATOMIC_RELAXED)

/* ---- a generation of the live rule set ---- */

/*
 * A generation: one engine per worker, compiled from the master rule set, and what the kernel
 * must be asked for. Single-rule changes are applied to its engines in place by the workers
 * (change.c); a new generation is built only for a whole new rule set (restore, SIGHUP).
 *
 * Counters: the master rule set (D.master) holds, for every rule and policy, a base B; the
 * live value is B + the sum of the engines' counters, in wrapping 64-bit arithmetic. An
 * engine that starts a rule at W (the rule's counters when it was compiled or inserted)
 * gets B = W - nq * W, so that the live value starts at W.
 */
struct gen {
	unsigned nq;
	pf_engine **eng; /* one per worker */
	struct qcfg q;	 /* as built (workers follow later changes through change posts) */
	uint64_t id;	 /* identity, never changes */
	uint64_t seq;	 /* grows at every change of the rule set (read by the statistics) */
};

/* ---- single-rule changes, applied by each worker to its own engine (change.c) ---- */

struct change_op {
	enum pf_change_op op; /* INSERT DELETE REPLACE FLUSH NEW_CHAIN DELETE_CHAIN RENAME POLICY */
	const char *table;
	char chain[32];
	char new_name[32];
	char policy[8];
	size_t pos;
	const pf_rule *rule; /* INSERT, REPLACE: the master's rule (unchanged until acknowledged) */
};

/* What the control thread asks the workers to do; written before D.post_seq moves. */
struct change_post {
	const struct change_op *ops;
	size_t n;
	struct qcfg q; /* what each worker asks its queue for from then on */
};

/* ---- daemon-wide configuration and state ---- */

struct daemon {
	/* options */
	unsigned qfirst, qlast;
	const char *rules_path;
	const char *socket_path;
	const char *iptables;
	bool install_hooks;
	bool fail_open;
	bool use_syslog;
	int verbose;
	unsigned batch;
	uint32_t queue_maxlen;
	int rcvbuf;
	enum pf_matcher_kind matcher;
	const char *metrics_listen; /* --metrics-listen ADDR:PORT, or NULL */
	int cpus[PFD_MAX_QUEUES];   /* --cpus: worker i runs on cpus[i % ncpus] */
	unsigned ncpus;

	/* the host's view the engines ask for (set by workers_prepare) */
	unsigned (*addr_type)(void *opaque, uint32_t addr, const char *dev);
	void **host_opaque; /* per worker */

	/* state */
	struct gen *cur; /* RCU-protected: workers rcu_dereference() it */
	uint64_t gen_seq;
	/* the rule state every generation's engines share (epoch: the generation's id) */
	pf_state_domain *state_domain;
	pf_ruleset *master;	 /* the live rule set, control thread only; counters: bases */
	struct change_post post; /* the change being applied by the workers */
	uint64_t post_seq;	 /* moves (release) when post is ready; workers acknowledge it */
	int ack_fd;		 /* eventfd: a worker acknowledged a post */
	int wake_fd;		 /* netlink socket: wakes a worker blocked in recvmmsg */
	struct qcfg want;	 /* what the kernel is asked for now (control thread) */
	uint64_t journal_seq;	 /* last command written to the journal */
	uint64_t journal_base;	 /* the rules file holds every command up to this one */
	size_t journal_records;	 /* commands in the journal (not yet in the rules file) */
	size_t journal_bytes;
	uint64_t last_change_ns; /* for the compaction of the journal when idle */
	struct worker *workers;
	volatile int stop;
	unsigned hooks_installed; /* hook mask put in the kernel */
	bool ct_trigger_installed;
	struct wstats *stats; /* nq of them */
	uint64_t reloads, reload_failures;
	uint64_t started_ns;
};

extern struct daemon D;

/* Logging (stderr or syslog). level: syslog's. */
void pfd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t pfd_now_ns(void);

/* live.c */
/* Compile a rule set into a generation (not yet published); rs stays the caller's. On
 * failure err says why. canon: the rule set's own text with its counters, parsed. */
struct gen *gen_build_rs(const pf_ruleset *rs, struct ctext *canon, struct pf_error *err);
void gen_free(struct gen *g);
/* What a rule of table tb needs from the kernel, added to q; then the copy range and flags
 * that follow (qcfg_finish). */
void analyse_rule(const pf_table *tb, const pf_rule *r, struct qcfg *q);
void qcfg_finish(struct qcfg *q);
/* The needs of every rule of the master, kept up to date through its changes: apply one
 * change (after it was made to the master), compute the needs (booleans and flags, hooks
 * untouched), and count the rules. */
void needs_change(const struct pf_change *c);
void needs_q(struct qcfg *q);
size_t needs_rules(void);
#define PF_MAX_POLICIES 32 /* built-in chains of every table */
/* Hooks of the built-in chains of a table (mask of 1 << PF_NF_*). */
unsigned table_hooks(const pf_ruleset *rs, const char *table);
/* Live counters, as the master's rule set with the sums of the engines of g added to its
 * bases (csnap_take with rules: every rule too; else the policies only), then taken back. */
struct csnap;
struct csnap *csnap_take(const struct gen *g, bool rules);
void csnap_apply(struct csnap *s);   /* master counters := base + engines (live) */
void csnap_restore(struct csnap *s); /* master counters := what they are - engines (bases) */
void csnap_free(struct csnap *s);
/* The live rule set with live counters, as iptables-save -c text (malloc()ed). */
char *live_text(size_t *len);
int live_ctext(struct ctext *out);
enum carry { CARRY_NONE, CARRY_LIVE, CARRY_CLIENT };
/* Write the live rule set with live counters to the rules file, atomically, and empty the
 * journal (compaction). */
int persist_live(void);
/* Load the rules file, then the journal (startup), or the rules file alone (SIGHUP/RELOAD:
 * the file as it is now; if it is our own last write, the journal is written into it first).
 * Returns 0, or -1 with err (the running rules stay). */
int load_rules(bool startup, struct pf_error *err);
/* Commit text from a client. */
int commit_text(const char *text, size_t len, const struct ctext *snap, struct pf_error *err);

/* change.c */
/* Run one iptables command on the live rule set (the CLI's CMD): output and error text as
 * pktfilt would print them; returns its exit status. */
int cmd_run(int argc, char **argv, char **out, size_t *outlen, char **errs, size_t *errlen);
/* Wait until every worker has applied the last change (before touching master or engines). */
void changes_settle(void);
/* Apply the change ops of a post in a worker: 0, or -1 when the engine refused one. */
int change_apply(pf_engine *e, const struct change_op *ops, size_t n);
/* Compaction wanted now (journal large) or when idle (ms until then, -1: none). */
bool compaction_due(uint64_t now, int *wait_ms);

/* journal.c: the commands applied since the rules file was written. */
int journal_open(void);
void journal_close(void);
/* Append one command (argv[1..]) and sync it. In two steps: journal_begin writes the record
 * and starts its write-back (before the command runs), journal_commit syncs it and makes it
 * part of the journal (the command changed the rule set), journal_discard takes it back. */
int journal_append(int argc, char *const argv[]);
int journal_begin(int argc, char *const argv[]);
int journal_commit(void);
void journal_discard(void);
/* Apply the records after base_seq to rs (startup); a torn last record is cut off. */
int journal_replay(pf_ruleset *rs, uint64_t base_seq);
/* Empty the journal (its commands are in the rules file now). */
int journal_reset(void);

/* worker.c */
struct worker;
/* Allocate the workers (before the first generation is built: engines point at them). */
int workers_prepare(void);
int workers_start(void);
void workers_stop(void);
void stats_text(char **out, size_t *len);
/* Wake every worker (a datagram to its netlink socket) so that it applies a post. */
void workers_wake(void);
/* Workers that acknowledged post seq; *failed set when one could not apply it. */
unsigned workers_acked(uint64_t seq, bool *failed);
/* The kernel's view of our queues (/proc/net/netfilter/nfnetlink_queue), per worker. */
struct kq {
	unsigned waiting, dropped, user_dropped;
	bool seen;
};
void kernel_queues(struct kq *kq, unsigned nq);

/* metrics.c: the Prometheus text endpoint (--metrics-listen), its own thread. */
int metrics_start(const char *spec);
void metrics_stop(void);

/* hooks.c */
int hooks_install(unsigned mask, bool conntrack);
void hooks_remove(void);

#endif
