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
	uint32_t range; /* copy range: 0xffff (whole packet) or PFD_HDR_COPY */
	uint32_t flags; /* NFQA_CFG_F_* */
	bool full;	/* some rule reads the payload, verifies a checksum or mangles */
	bool mangles;	/* some target changes the packet bytes */
	bool csum;	/* the transport checksum must be complete (REJECT checks it; the
			   mangling targets update it) */
	bool conntrack; /* some rule needs the conntrack state or mark */
	unsigned hooks; /* mask of 1 << PF_NF_*: built-in chains of instantiated tables */
};

/* ---- statistics (one per worker, written by that worker only) ---- */

struct wstats {
	alignas(64) uint64_t packets, bytes;
	uint64_t accept, drop, reject, queue, repeat, other;
	uint64_t mark_set, payload_set, malformed, non_ipv4;
	uint64_t enobufs, recv_errors, send_errors, verdict_errors;
	uint64_t batches, verdict_msgs, batch_verdicts, sendmsgs;
	uint64_t batch_hist[PFD_BATCH_BUCKETS];
	uint64_t lat_hist[PFD_LAT_BUCKETS];
	uint64_t reconfigs;
};

/* Single writer: plain read-add-store, relaxed atomics so readers see whole values. */
#define STAT_ADD(s, field, n)                                                                      \
	__atomic_store_n(&(s)->field, __atomic_load_n(&(s)->field, __ATOMIC_RELAXED) + (n),        \
			 __ATOMIC_RELAXED)
#define STAT_GET(s, field) __atomic_load_n(&(s)->field, __ATOMIC_RELAXED)

/* ---- a generation of the live rule set ---- */

struct gen {
	unsigned nq;
	pf_engine **eng;      /* one per worker, all compiled from the same rule set */
	uint64_t (*start)[2]; /* counters each engine started from, per ctext entry */
	uint64_t (*base)[2];  /* counters before this generation, per ctext entry (control only) */
	size_t nbase;
	struct qcfg q;
	uint64_t seq;
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

	/* the host's view the engines ask for (set by workers_prepare) */
	unsigned (*addr_type)(void *opaque, uint32_t addr, const char *dev);
	void **host_opaque; /* per worker */

	/* state */
	struct gen *cur; /* RCU-protected: workers rcu_dereference() it */
	uint64_t gen_seq;
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
/* Compile text into a generation (not yet published). On failure err says why (with the
 * restore line). canon: the rule set's own text with its counters, parsed. */
struct gen *gen_build(const char *text, size_t len, struct ctext *canon, struct pf_error *err);
void gen_free(struct gen *g);
/* Live counters of a generation: its base plus every engine's counters, as parsed text. */
int gen_live(const struct gen *g, struct ctext *out);
/* Publish g (RCU), wait for the workers to leave the old one, and set g's base counters
 * from the old generation: mode CARRY_CLIENT (snap = what the client was given),
 * CARRY_LIVE (unchanged rules keep their live counters) or CARRY_NONE (the text's). */
enum carry { CARRY_NONE, CARRY_LIVE, CARRY_CLIENT };
int gen_swap(struct gen *g, struct ctext *canon, enum carry mode, const struct ctext *snap);
/* Write the live rule set with live counters to the rules file, atomically. */
int persist_live(void);
int persist_text(const char *text, size_t len);
/* Load the rules file (startup and SIGHUP/RELOAD). Returns 0, or -1 with err. */
int reload_file(struct pf_error *err);
/* Commit text from a client. */
int commit_text(const char *text, size_t len, const struct ctext *snap, struct pf_error *err);

/* worker.c */
struct worker;
/* Allocate the workers (before the first generation is built: engines point at them). */
int workers_prepare(void);
int workers_start(void);
void workers_stop(void);
void stats_text(char **out, size_t *len);

/* hooks.c */
int hooks_install(unsigned mask, bool conntrack);
void hooks_remove(void);

#endif
