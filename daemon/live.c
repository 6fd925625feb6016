/*
 * live.c - the live rule set: building a generation (one engine per worker) from
 * iptables-save text, publishing it with RCU, carrying counters over, persisting.
 *
 * Counters: the engines of a generation are compiled from the rule set with its counters
 * (one restore, no second copy without them), so each starts from the same values; the live
 * counters are the generation's base (what it inherited) plus what each engine added to its
 * start (read while the workers run: each 64-bit counter is read
 * whole, a rule's packets and bytes may be one packet apart). When a generation replaces
 * another, the old one is read only after urcu_qsbr_synchronize_rcu(), when no worker uses it, so
 * no packet is lost from the counters.
 */
#include <errno.h>
#include <fcntl.h>
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

static void analyse(const pf_ruleset *rs, const struct ctext *canon, struct qcfg *q)
{
	memset(q, 0, sizeof(*q));
	for (size_t t = 0; t < pf_ruleset_table_count(rs); t++) {
		const pf_table *tb = pf_ruleset_table_at(rs, t);
		for (size_t c = 0; c < pf_table_chain_count(tb); c++) {
			const pf_chain *ch = pf_table_chain_at(tb, c);
			for (size_t r = 0; r < pf_chain_rule_count(ch); r++) {
				char *s = pf_rule_format(pf_chain_rule_at(ch, r));
				if (!s) {
					q->full = q->mangles = true;
					continue;
				}
				/* Blank-separated words; a quoted comment may split oddly, which
				 * can only make us copy more than needed. */
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
					} else if (prevn == 2 && (!strncmp(prev, "-j", 2) ||
								  !strncmp(prev, "-g", 2))) {
						char name[64];
						snprintf(name, sizeof(name), "%.*s",
							 (int)(n < 63 ? n : 63), w);
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
		}
	}
	for (size_t i = 0; i < canon->n; i++) {
		const struct centry *e = &canon->e[i];
		if (canon->text[e->key_off] == ':')
			q->hooks |= hook_of(canon->text + e->key_off + 1, e->key_len - 1);
	}
	if (q->mangles)
		q->csum = true;
	q->range = q->full ? 0xffff : PFD_HDR_COPY;
	/* GSO packets come whole (no segmentation) unless we may change their bytes: the
	 * kernel takes a changed packet as CHECKSUM_NONE, which a GSO packet cannot be. */
	if (!q->mangles)
		q->flags |= NFQA_CFG_F_GSO;
	if (q->conntrack)
		q->flags |= NFQA_CFG_F_CONNTRACK;
	if (D.fail_open)
		q->flags |= NFQA_CFG_F_FAIL_OPEN;
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
	free(g->start);
	free(g->base);
	free(g);
}

static char *save_text(const pf_ruleset *rs, const pf_engine *e, size_t *len, struct pf_error *err)
{
	char *buf = NULL;
	*len = 0;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	int rc = e ? pf_engine_save(e, PF_SAVE_COUNTERS | PF_SAVE_REPARSEABLE, f, err)
		   : pf_ruleset_save(rs, NULL, PF_SAVE_COUNTERS | PF_SAVE_REPARSEABLE, f, err);
	fclose(f);
	if (rc) {
		free(buf);
		return NULL;
	}
	return buf;
}

struct gen *gen_build(const char *text, size_t len, struct ctext *canon, struct pf_error *err)
{
	memset(err, 0, sizeof(*err));
	memset(canon, 0, sizeof(*canon));
	struct gen *g = calloc(1, sizeof(*g));
	pf_ruleset *rs = pf_ruleset_new();
	if (!g || !rs)
		goto nomem;
	if (pf_ruleset_restore(rs, text, len, PF_RESTORE_COUNTERS | PF_RESTORE_LISTED_ORDER, NULL,
			       err))
		goto fail;
	size_t clen;
	char *ctxt = save_text(rs, NULL, &clen, err);
	if (!ctxt || ctext_parse(canon, ctxt, clen))
		goto nomem;
	g->start = malloc((canon->n ? canon->n : 1) * sizeof(*g->start));
	if (!g->start)
		goto nomem;
	g->nbase = canon->n;
	for (size_t j = 0; j < canon->n; j++) {
		g->start[j][0] = canon->e[j].pkts;
		g->start[j][1] = canon->e[j].bytes;
	}
	analyse(rs, canon, &g->q);
	g->nq = D.qlast - D.qfirst + 1;
	g->eng = calloc(g->nq, sizeof(*g->eng));
	if (!g->eng)
		goto nomem;
	for (unsigned i = 0; i < g->nq; i++) {
		struct pf_engine_config cfg = {
		    .matcher = D.matcher,
		    .random_seed = (D.gen_seq + 1) * 7919 + i,
		    .log_sink = log_sink,
		    .addr_type = D.addr_type,
		    .host_opaque = D.host_opaque ? D.host_opaque[i] : NULL,
		};
		g->eng[i] = pf_engine_new(rs, &cfg, err);
		if (!g->eng[i])
			goto fail;
	}
	if (!g->q.conntrack && pf_engine_uses_conntrack(g->eng[0])) {
		g->q.conntrack = true;
		g->q.flags |= NFQA_CFG_F_CONNTRACK;
	}
	g->seq = ++D.gen_seq;
	pf_ruleset_free(rs);
	return g;
nomem:
	err->code = PF_ERR_RESOURCE;
	err->style = PF_STYLE_RAW;
	snprintf(err->message, sizeof(err->message), "pktfiltd: out of memory\n");
fail:
	ctext_free(canon);
	pf_ruleset_free(rs);
	gen_free(g);
	return NULL;
}

int gen_live(const struct gen *g, struct ctext *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < g->nq; i++) {
		struct pf_error err;
		size_t len;
		char *t = save_text(NULL, g->eng[i], &len, &err);
		struct ctext c;
		if (!t || ctext_parse(&c, t, len)) {
			ctext_free(out);
			return -1;
		}
		if (i == 0) {
			*out = c;
			continue;
		}
		if (!ctext_same_shape(out, &c)) {
			ctext_free(&c);
			ctext_free(out);
			return -1;
		}
		for (size_t k = 0; k < c.n; k++) {
			out->e[k].pkts += c.e[k].pkts;
			out->e[k].bytes += c.e[k].bytes;
		}
		ctext_free(&c);
	}
	/* base + sum of (engine - start), in wrapping arithmetic (each term is exact) */
	if (out->n != g->nbase) { /* not the rule set we compiled: cannot happen */
		ctext_free(out);
		return -1;
	}
	for (size_t k = 0; k < out->n; k++) {
		out->e[k].pkts -= g->nq * g->start[k][0];
		out->e[k].bytes -= g->nq * g->start[k][1];
		if (g->base) {
			out->e[k].pkts += g->base[k][0];
			out->e[k].bytes += g->base[k][1];
		}
	}
	return 0;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int gen_swap(struct gen *g, struct ctext *canon, enum carry mode, const struct ctext *snap)
{
	struct gen *old = D.cur;
	rcu_assign_pointer(D.cur, g);
	urcu_qsbr_synchronize_rcu(); /* no worker uses old from here on */
	g->base = calloc(canon->n ? canon->n : 1, sizeof(*g->base));
	if (!g->base) {
		gen_free(old);
		return -1;
	}
	for (size_t j = 0; j < canon->n; j++) {
		g->base[j][0] = canon->e[j].pkts;
		g->base[j][1] = canon->e[j].bytes;
	}
	struct ctext live;
	if (old && mode != CARRY_NONE && gen_live(old, &live) == 0) {
		long *map = malloc((canon->n + 1) * sizeof(long));
		bool by_snap = mode == CARRY_CLIENT && snap && ctext_same_shape(snap, &live);
		if (map && ctext_match(by_snap ? snap : &live, canon, map) == 0) {
			for (size_t j = 0; j < canon->n; j++) {
				long m = map[j];
				if (m < 0)
					continue;
				if (by_snap) {
					/* what the client wrote, plus what came since it read */
					g->base[j][0] = canon->e[j].pkts +
							sub_sat(live.e[m].pkts, snap->e[m].pkts);
					g->base[j][1] = canon->e[j].bytes +
							sub_sat(live.e[m].bytes, snap->e[m].bytes);
				} else if (mode == CARRY_LIVE) {
					g->base[j][0] = live.e[m].pkts;
					g->base[j][1] = live.e[m].bytes;
				}
			}
		}
		free(map);
		ctext_free(&live);
	}
	gen_free(old);
	return 0;
}

/* ---- persistence ---- */

int persist_text(const char *text, size_t len)
{
	char tmp[4200], lockp[4200], dir[4096];
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
	int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	int rc = -1;
	if (fd >= 0) {
		size_t off = 0;
		while (off < len) {
			ssize_t n = write(fd, text + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		if (off == len && fsync(fd) == 0 && close(fd) == 0) {
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
	struct ctext live;
	if (!D.cur || gen_live(D.cur, &live))
		return -1;
	size_t len;
	char *t = ctext_render(&live, &len);
	ctext_free(&live);
	if (!t)
		return -1;
	int rc = persist_text(t, len);
	free(t);
	return rc;
}

/* Build, publish and persist: the common path of every change. */
static int apply(const char *text, size_t len, enum carry mode, const struct ctext *snap,
		 struct pf_error *err)
{
	struct ctext canon;
	struct gen *g = gen_build(text, len, &canon, err);
	if (!g)
		return -1;
	/* (at startup the hooks come after the queues are bound: see main) */
	if (D.install_hooks && D.workers &&
	    ((g->q.hooks & ~D.hooks_installed) || (g->q.conntrack && !D.ct_trigger_installed)))
		hooks_install(g->q.hooks | D.hooks_installed, g->q.conntrack);
	if (gen_swap(g, &canon, mode, snap)) {
		ctext_free(&canon);
		err->code = PF_ERR_RESOURCE;
		err->style = PF_STYLE_RAW;
		snprintf(err->message, sizeof(err->message), "pktfiltd: out of memory\n");
		return -1;
	}
	for (size_t j = 0; j < canon.n; j++) {
		canon.e[j].pkts = g->base[j][0];
		canon.e[j].bytes = g->base[j][1];
	}
	size_t olen;
	char *out = ctext_render(&canon, &olen);
	ctext_free(&canon);
	int rc = out ? persist_text(out, olen) : -1;
	free(out);
	if (rc) {
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

int commit_text(const char *text, size_t len, const struct ctext *snap, struct pf_error *err)
{
	return apply(text, len, snap ? CARRY_CLIENT : CARRY_NONE, snap, err);
}

int reload_file(struct pf_error *err)
{
	memset(err, 0, sizeof(*err));
	FILE *f = fopen(D.rules_path, "r");
	char *text = NULL;
	size_t len = 0;
	if (f) {
		size_t cap = 0, n;
		char buf[65536];
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			if (len + n + 1 > cap) {
				cap = (len + n + 1) * 2;
				char *t = realloc(text, cap);
				if (!t) {
					free(text);
					fclose(f);
					return -1;
				}
				text = t;
			}
			memcpy(text + len, buf, n);
			len += n;
		}
		fclose(f);
	} else if (errno != ENOENT) {
		err->code = PF_ERR_RESOURCE;
		err->style = PF_STYLE_RAW;
		snprintf(err->message, sizeof(err->message), "pktfiltd: cannot read %.900s: %s\n",
			 D.rules_path, strerror(errno));
		return -1;
	}
	int rc = apply(text ? text : "", len, D.cur ? CARRY_LIVE : CARRY_NONE, NULL, err);
	free(text);
	return rc;
}
