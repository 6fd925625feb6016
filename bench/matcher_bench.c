/*
 * matcher_bench.c - the linear and the hashed matcher side by side on one rule set: packets per
 * second per core (CPU time of this thread, median of runs), their ratio, the hashed one also
 * through pf_engine_eval_batch in batches of 32, engine build time, single-rule insert and
 * delete times in the largest chain (median), index bytes per rule, and a differential check
 * (identical verdicts, packet bytes and per-rule counters from both matchers, and from the
 * hashed one in batches, over the same packets). One TSV line on stdout (header with
 * --header).
 *
 *   matcher_bench --name N --rules FILE [--trace FILE]   ClassBench set with its trace
 *   matcher_bench --name N --rules FILE --synthetic       enterprise set (eps_*): packets made
 *                                                         up from the 192.168.10.0/24 plan
 *   matcher_bench --name N --kube SERVICES                kube-proxy-like set (issue 4's form:
 *                                                         -d VIP/32 -p tcp --dport P -j SVC-i,
 *                                                         SVC-i accepts), generated
 *   matcher_bench --name N --kube-nat SERVICES            kube-proxy's own nat rules (iptables
 *                                                         mode: comments, statistic, DNAT,
 *                                                         KUBE-MARK-MASQ), generated
 *   options: --linear-packets N (linear timing sample), --check-packets N, --runs N,
 *            --updates N (insert/delete pairs timed), --hot N (kube: traffic to N services
 *            only), --hashed-only (profiling), --latency (one cache miss, in ns)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "pktfilt/engine.h"
#include "pktfilt/pktfilt.h"

struct pkt {
	uint8_t b[64];
	uint16_t len;
	uint8_t ct; /* PF_CT_* */
};

static struct {
	const char *name, *rules, *trace;
	unsigned kube, hot;
	bool kube_nat, synthetic, hashed_only;
	size_t linear_packets, check_packets, runs, updates;
	enum pf_nf_hook hook;
	const char *table, *chain; /* the chain updates are timed in */
} o = {.linear_packets = 20000, .check_packets = 20000, .runs = 5, .updates = 2000};

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "matcher_bench: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

/* ---- packets ---- */

static void make_packet(struct pkt *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			uint8_t proto, uint8_t ct)
{
	memset(p, 0, sizeof(*p));
	size_t l4 = proto == 6 ? 20 : 8;
	p->len = (uint16_t)(20 + l4);
	uint8_t *b = p->b;
	b[0] = 0x45;
	b[2] = (uint8_t)(p->len >> 8);
	b[3] = (uint8_t)p->len;
	b[8] = 64;
	b[9] = proto;
	for (int i = 0; i < 4; i++) {
		b[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		b[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	if (proto == 6) {
		b[32] = 0x50;
		b[33] = 0x02; /* SYN */
	} else if (proto == 17) {
		b[25] = 8;
	}
	p->ct = ct;
}

static uint32_t parse_ip(const char *s)
{
	unsigned a, b, c, d;
	if (sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
		return 0;
	return a << 24 | b << 16 | c << 8 | d;
}

static struct pkt *load_trace(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open %s", path);
	size_t cap = 1024;
	struct pkt *v = malloc(cap * sizeof(*v));
	char s[64], d[64];
	unsigned sp, dp, pr;
	*n = 0;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %63s %u %u %u", s, d, &sp, &dp, &pr) != 5)
			continue;
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		make_packet(&v[(*n)++], parse_ip(s), parse_ip(d), (uint16_t)sp, (uint16_t)dp,
			    (uint8_t)pr, PF_CT_NEW);
	}
	fclose(f);
	return v;
}

/* The enterprise sets' address plan: hosts 192.168.10.2-51, udp services 8080-8179, a third of
 * the traffic established. */
static struct pkt *synthetic_packets(size_t *n)
{
	*n = 100000;
	struct pkt *v = malloc(*n * sizeof(*v));
	for (size_t i = 0; i < *n; i++) {
		uint32_t src = 0xC0A80A00u | (2 + rnd() % 60), dst = 0xC0A80A00u | (2 + rnd() % 60);
		uint16_t dport = (uint16_t)(rnd() % 4 ? 8080 + rnd() % 110 : rnd() % 65536);
		make_packet(&v[i], src, dst, (uint16_t)(1024 + rnd() % 60000), dport,
			    rnd() % 5 ? 17 : 6, rnd() % 3 ? PF_CT_NEW : PF_CT_ESTABLISHED);
	}
	return v;
}

/* ---- kube-proxy-like rule set (nat table, as kube-proxy's iptables mode writes it) ---- */

static uint32_t vip(unsigned i)
{
	return 0x0A600000u + 1 + i; /* 10.96.0.0/12 cluster IPs */
}

static uint16_t svc_port(unsigned i)
{
	static const uint16_t ports[] = {80, 443, 8080, 9090, 53, 6379, 5432, 3306};
	return ports[i % 8];
}

static uint32_t pod(unsigned i, unsigned k)
{
	return 0x0AF40000u + (i * 2 + k) % 0xfffe + 1; /* 10.244.0.0/16 */
}

static char *ipstr(uint32_t a, char *buf)
{
	sprintf(buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

static void kube_rule_svc(char *out, size_t n, unsigned i)
{
	char v[20];
	snprintf(
	    out, n,
	    "-d %s/32 -p tcp -m comment --comment \"ns%u/svc%u:p cluster IP\" -m tcp --dport %u "
	    "-j KUBE-SVC-%u",
	    ipstr(vip(i), v), i % 50, i, svc_port(i), i);
}

/* The form issue 4 gives: one rule per service in KUBE-SERVICES (filter FORWARD), jumping to
 * the service's chain. */
static char *kube_filter_rules(unsigned nsvc, size_t *len)
{
	size_t cap = (size_t)nsvc * 160 + 4096, l = 0;
	char *t = malloc(cap);
	char v[20];
	l += (size_t)snprintf(t + l, cap - l,
			      "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT "
			      "[0:0]\n:KUBE-SERVICES - [0:0]\n");
	for (unsigned i = 0; i < nsvc; i++)
		l += (size_t)snprintf(t + l, cap - l, ":SVC-%u - [0:0]\n", i);
	l += (size_t)snprintf(t + l, cap - l, "-A FORWARD -j KUBE-SERVICES\n");
	for (unsigned i = 0; i < nsvc; i++)
		l += (size_t)snprintf(
		    t + l, cap - l,
		    "-A KUBE-SERVICES -d %s/32 -p tcp -m tcp --dport %u -j SVC-%u\n",
		    ipstr(vip(i), v), svc_port(i), i);
	for (unsigned i = 0; i < nsvc; i++)
		l += (size_t)snprintf(t + l, cap - l, "-A SVC-%u -j ACCEPT\n", i);
	l += (size_t)snprintf(t + l, cap - l, "COMMIT\n");
	*len = l;
	return t;
}

static char *kube_rules(unsigned nsvc, size_t *len)
{
	size_t cap = 1 << 16, l = 0;
	char *t = malloc(cap);
	char v[20], p[20], line[512];
	/* Append; grow first so that one line always fits. */
#define OUT(...)                                                                                   \
	do {                                                                                       \
		if (cap - l < 4096)                                                                \
			t = realloc(t, cap *= 2);                                                  \
		l += (size_t)snprintf(t + l, cap - l, __VA_ARGS__);                                \
	} while (0)
	OUT("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	    ":POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
	    ":KUBE-POSTROUTING - [0:0]\n:KUBE-NODEPORTS - [0:0]\n");
	for (unsigned i = 0; i < nsvc; i++)
		OUT(":KUBE-SVC-%u - [0:0]\n:KUBE-SEP-%ua - [0:0]\n:KUBE-SEP-%ub - [0:0]\n", i, i,
		    i);
	OUT("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	    "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
	    "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j "
	    "KUBE-POSTROUTING\n"
	    "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
	    "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
	    "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n"
	    "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring "
	    "SNAT\" "
	    "-j MASQUERADE\n");
	for (unsigned i = 0; i < nsvc; i++) {
		kube_rule_svc(line, sizeof(line), i);
		OUT("-A KUBE-SERVICES %s\n", line);
		OUT("-A KUBE-SVC-%u ! -s 10.244.0.0/16 -d %s/32 -p tcp -m comment --comment "
		    "\"ns/svc%u cluster IP\" -m tcp --dport %u -j KUBE-MARK-MASQ\n",
		    i, ipstr(vip(i), v), i, svc_port(i));
		OUT("-A KUBE-SVC-%u -m comment --comment \"ns/svc%u -> a\" -m statistic --mode "
		    "random "
		    "--probability 0.5 -j KUBE-SEP-%ua\n",
		    i, i, i);
		OUT("-A KUBE-SVC-%u -m comment --comment \"ns/svc%u -> b\" -j KUBE-SEP-%ub\n", i, i,
		    i);
		for (unsigned k = 0; k < 2; k++) {
			ipstr(pod(i, k), p);
			OUT("-A KUBE-SEP-%u%c -s %s/32 -m comment --comment ns/svc%u -j "
			    "KUBE-MARK-MASQ\n",
			    i, 'a' + k, p, i);
			OUT("-A KUBE-SEP-%u%c -p tcp -m comment --comment ns/svc%u -m tcp -j DNAT "
			    "--to-destination %s:8080\n",
			    i, 'a' + k, i, p);
		}
	}
	OUT("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports\" -m addrtype "
	    "--dst-type LOCAL -j KUBE-NODEPORTS\nCOMMIT\n");
#undef OUT
	*len = l;
	return t;
}

/* New connections to random services (to the first o.hot services only, with --hot: a
 * working set that stays in the caches); a few to nothing. */
static struct pkt *kube_packets(unsigned nsvc, size_t *n)
{
	*n = 100000;
	struct pkt *v = malloc(*n * sizeof(*v));
	unsigned spread = o.hot && o.hot < nsvc ? o.hot : nsvc;
	for (size_t i = 0; i < *n; i++) {
		unsigned s = rnd() % spread;
		uint32_t src = rnd() % 4 ? 0xC0A80000u + (rnd() & 0xffff) : pod(rnd() % nsvc, 0);
		bool miss = rnd() % 50 == 0;
		make_packet(&v[i], src, miss ? 0x0B000001u : vip(s),
			    (uint16_t)(1024 + rnd() % 60000), svc_port(s), 6, PF_CT_NEW);
	}
	return v;
}

/* ---- running ---- */

static pf_engine *compile(const pf_ruleset *rs, enum pf_matcher_kind m, double *ms)
{
	struct pf_error err;
	struct pf_engine_config cfg = {.matcher = m, .random_seed = 7};
	double t0 = now_wall();
	pf_engine *e = pf_engine_new(rs, &cfg, &err);
	*ms = (now_wall() - t0) / 1e6;
	if (!e)
		die("compile: %s", err.message);
	return e;
}

static inline void judge(pf_engine *e, const struct pkt *p, struct pf_eval_result *r, uint8_t *buf)
{
	struct pf_packet_meta meta = {.in_iface = "eth0", .out_iface = "eth1", .ct_state = p->ct};
	memcpy(buf, p->b, p->len);
	pf_engine_eval(e, o.hook, buf, p->len, 64, &meta, r);
}

#ifndef BATCH
#define BATCH 32 /* packets per pf_engine_eval_batch() call */
#endif

/* Batch i of BATCH packets from v (n packets, wrapping around) into items. */
static void batch_fill(struct pf_batch_item *items, struct pf_packet_meta *meta,
		       uint8_t (*bufs)[64], struct pf_eval_result *res, const struct pkt *v,
		       size_t n, size_t first, size_t cnt)
{
	for (size_t k = 0; k < cnt; k++) {
		const struct pkt *p = &v[(first + k) % n];
		/* (memset, not a compound literal: that costs a rep stos, more than judge()'s) */
		memset(&meta[k], 0, sizeof(meta[k]));
		meta[k].in_iface = "eth0";
		meta[k].out_iface = "eth1";
		meta[k].ct_state = p->ct;
		memcpy(bufs[k], p->b, p->len);
		items[k].buf = bufs[k];
		items[k].len = p->len;
		items[k].buflen = 64;
		items[k].meta = &meta[k];
		items[k].res = &res[k];
	}
}

/* CPU ns per packet judged in batches of BATCH (pf_engine_eval_batch), as time_packets. */
static double time_batches(pf_engine *e, const struct pkt *v, size_t n, double min_ns)
{
	static struct pf_eval_result r[BATCH];
	static uint8_t bufs[BATCH][64];
	struct pf_batch_item items[BATCH];
	struct pf_packet_meta meta[BATCH];
	double runs[16];
	size_t nr = o.runs < 16 ? o.runs : 16;
	for (size_t k = 0; k < nr; k++) {
		size_t done = 0;
		double t0 = now_cpu(), t;
		do {
			for (size_t i = 0; i < n; i += BATCH) {
				size_t cnt = n - i < BATCH ? n - i : BATCH;
				batch_fill(items, meta, bufs, r, v, n, i, cnt);
				pf_engine_eval_batch(e, o.hook, items, cnt);
			}
			done += n;
		} while ((t = now_cpu() - t0) < min_ns);
		runs[k] = t / (double)done;
	}
	return median(runs, nr);
}

/* CPU ns per packet over n packets (repeated to at least min_ns), median of runs. */
static double time_packets(pf_engine *e, const struct pkt *v, size_t n, double min_ns)
{
	static struct pf_eval_result r;
	uint8_t buf[64];
	double runs[16];
	size_t nr = o.runs < 16 ? o.runs : 16;
	for (size_t k = 0; k < nr; k++) {
		size_t done = 0;
		double t0 = now_cpu(), t;
		do {
			for (size_t i = 0; i < n; i++)
				judge(e, &v[i], &r, buf);
			done += n;
		} while ((t = now_cpu() - t0) < min_ns);
		runs[k] = t / (double)done;
	}
	return median(runs, nr);
}

static char *save_text(pf_engine *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct pf_error err;
	if (pf_engine_save(e, PF_SAVE_COUNTERS, f, &err))
		die("save: %s", err.message);
	fclose(f);
	return buf;
}

/* Both matchers on the same packets: verdicts, marks, bytes, counters. */
static bool check(const pf_ruleset *rs, const struct pkt *v, size_t n, size_t *matched)
{
	double ms;
	pf_engine *a = compile(rs, PF_MATCHER_LINEAR, &ms),
		  *b = compile(rs, PF_MATCHER_HASHED, &ms),
		  *c = compile(rs, PF_MATCHER_HASHED, &ms);
	static struct pf_eval_result ra, rb, rc[BATCH];
	static uint8_t bc[BATCH][64];
	struct pf_batch_item items[BATCH];
	struct pf_packet_meta meta[BATCH];
	uint8_t ba[64], bb[64];
	bool ok = true;
	*matched = 0;
	for (size_t i0 = 0; i0 < n && ok; i0 += BATCH) {
		/* c judges the same packets in batches (pf_engine_eval_batch) */
		size_t cnt = n - i0 < BATCH ? n - i0 : BATCH;
		batch_fill(items, meta, bc, rc, v, n, i0, cnt);
		pf_engine_eval_batch(c, o.hook, items, cnt);
		for (size_t k = 0; k < cnt; k++) {
			size_t i = i0 + k;
			judge(a, &v[i], &ra, ba);
			judge(b, &v[i], &rb, bb);
			if (ra.verdict != rb.verdict || ra.mark != rb.mark || ra.len != rb.len ||
			    memcmp(ba, bb, ra.len) || rc[k].verdict != ra.verdict ||
			    rc[k].mark != ra.mark || rc[k].len != ra.len ||
			    memcmp(ba, bc[k], ra.len)) {
				fprintf(
				    stderr,
				    "%s: packet %zu: linear %d/%#x, hashed %d/%#x, batch %d/%#x\n",
				    o.name, i, ra.verdict, ra.mark, rb.verdict, rb.mark,
				    rc[k].verdict, rc[k].mark);
				ok = false;
				break;
			}
			*matched += ra.verdict == PF_NF_ACCEPT;
		}
	}
	char *ta = save_text(a), *tb = save_text(b), *tc = save_text(c);
	if (ok && (strcmp(ta, tb) || strcmp(ta, tc))) {
		fprintf(stderr, "%s: counters differ\n", o.name);
		ok = false;
	}
	free(ta);
	free(tb);
	free(tc);
	pf_engine_free(a);
	pf_engine_free(b);
	pf_engine_free(c);
	return ok;
}

/* Insert a rule of the chain at a position and delete it again: median ns of each. pos < 0:
 * random positions. */
static void time_updates(pf_engine *e, const pf_chain *src, long pos, double *ins, double *del)
{
	size_t n = pf_chain_rule_count(src), nu = o.updates;
	double *ti = malloc(nu * sizeof(double)), *td = malloc(nu * sizeof(double));
	struct pf_error err;
	for (size_t k = 0; k < nu; k++) {
		const pf_rule *r = pf_chain_rule_at(src, rnd() % n);
		size_t p = pos < 0 ? rnd() % (n + 1) : (size_t)pos > n ? n : (size_t)pos;
		double t0 = now_wall();
		if (pf_engine_insert_rule(e, o.table, o.chain, p, r, &err))
			die("insert: %s", err.message);
		double t1 = now_wall();
		if (pf_engine_delete_rule(e, o.table, o.chain, p, &err))
			die("delete: %s", err.message);
		double t2 = now_wall();
		ti[k] = t1 - t0;
		td[k] = t2 - t1;
	}
	*ins = median(ti, nu) / 1e3;
	*del = median(td, nu) / 1e3;
	free(ti);
	free(td);
}

/* Latency of a dependent load that misses every cache (random cyclic walk over 256 MiB):
 * what one cache miss costs on this machine. */
static double memory_latency_ns(void)
{
	size_t n = (256u << 20) / sizeof(size_t);
	size_t *next = malloc(n * sizeof(*next));
	if (!next)
		return 0;
	for (size_t i = 0; i < n; i++)
		next[i] = i;
	for (size_t i = n - 1; i > 0; i--) { /* Sattolo: one cycle through everything */
		size_t j = ((size_t)rnd() << 21 ^ rnd()) % i;
		size_t t = next[i];
		next[i] = next[j];
		next[j] = t;
	}
	size_t x = 0, hops = 5000000;
	double t0 = now_cpu();
	for (size_t i = 0; i < hops; i++)
		x = next[x];
	double ns = (now_cpu() - t0) / (double)hops;
	free(next);
	return x == (size_t)-1 ? 0 : ns;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--header")) {
			printf("set\trules\tlinear_ns\thashed_ns\tlinear_mpps\thashed_mpps\tratio\t"
			       "linear_build_ms\thashed_build_ms\tins_us\tdel_us\tins_head_us\t"
			       "del_head_us\tlin_ins_us\tlin_del_us\tbytes_per_rule\tsubtables\t"
			       "probes\tcandidates\taccepted\tcheck\tbatch_ns\tbatch_mpps\n");
			return 0;
		} else if (!strcmp(a, "--latency")) {
			printf("%.1f\n", memory_latency_ns());
			return 0;
		} else if (!strcmp(a, "--synthetic")) {
			o.synthetic = true;
			continue;
		} else if (!strcmp(a, "--hashed-only")) {
			/* for profiling: time the hashed matcher only */
			o.hashed_only = true;
			continue;
		}
		if (!v)
			die("%s needs a value", a);
		i++;
		if (!strcmp(a, "--name"))
			o.name = v;
		else if (!strcmp(a, "--rules"))
			o.rules = v;
		else if (!strcmp(a, "--trace"))
			o.trace = v;
		else if (!strcmp(a, "--kube"))
			o.kube = (unsigned)atoi(v);
		else if (!strcmp(a, "--hot"))
			o.hot = (unsigned)atoi(v);
		else if (!strcmp(a, "--kube-nat")) {
			o.kube = (unsigned)atoi(v);
			o.kube_nat = true;
		} else if (!strcmp(a, "--linear-packets"))
			o.linear_packets = (size_t)atol(v);
		else if (!strcmp(a, "--check-packets"))
			o.check_packets = (size_t)atol(v);
		else if (!strcmp(a, "--runs"))
			o.runs = (size_t)atol(v);
		else if (!strcmp(a, "--updates"))
			o.updates = (size_t)atol(v);
		else
			die("unknown option %s", a);
	}
	if (!o.name)
		die("%s", "--name is required");

	/* The rule set. */
	char *text;
	size_t len;
	if (o.kube && o.kube_nat) {
		text = kube_rules(o.kube, &len);
		o.hook = PF_NF_PRE_ROUTING;
		o.table = "nat";
		o.chain = "KUBE-SERVICES";
	} else if (o.kube) {
		text = kube_filter_rules(o.kube, &len);
		o.hook = PF_NF_FORWARD;
		o.table = "filter";
		o.chain = "KUBE-SERVICES";
	} else {
		FILE *f = o.rules ? fopen(o.rules, "r") : NULL;
		if (!f)
			die("cannot open %s", o.rules ? o.rules : "(no --rules)");
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		rewind(f);
		text = malloc(len + 1);
		if (fread(text, 1, len, f) != len)
			die("cannot read %s", o.rules);
		text[len] = '\0';
		fclose(f);
		o.hook = PF_NF_FORWARD;
		o.table = "filter";
		o.chain = strstr(text, ":CB ") ? "CB" : "FORWARD";
	}
	pf_ruleset *rs = pf_ruleset_new();
	struct pf_error err;
	if (pf_ruleset_restore(rs, text, len, 0, NULL, &err))
		die("restore: %s", err.message);
	free(text);
	size_t nrules = 0;
	const pf_table *tb = pf_ruleset_table(rs, o.table);
	for (size_t c = 0; c < pf_table_chain_count(tb); c++)
		nrules += pf_chain_rule_count(pf_table_chain_at(tb, c));

	/* The packets. */
	size_t np;
	struct pkt *pk = o.kube	       ? kube_packets(o.kube, &np)
			 : o.trace     ? load_trace(o.trace, &np)
			 : o.synthetic ? synthetic_packets(&np)
				       : NULL;
	if (!pk || !np)
		die("%s", "no packets (--trace, --synthetic or --kube)");

	if (o.hashed_only) {
		double hb;
		pf_engine *h = compile(rs, PF_MATCHER_HASHED, &hb);
		double ns = time_packets(h, pk, np, 1e9);
		struct pf_engine_stats st;
		pf_engine_stats(h, &st);
		double bns = time_batches(h, pk, np, 1e9);
		double lk = st.lookups ? (double)st.lookups : 1;
		printf(
		    "%s\thashed %.1f ns/packet (batches of %d: %.1f), build %.1f ms, %zu "
		    "subtables, "
		    "%.0f B/rule; per "
		    "lookup: probes %.2f candidates %.2f evaluated %.2f; scans %.2f per lookup\n",
		    o.name, ns, BATCH, bns, hb, st.subtables, st.bytes_per_rule,
		    (double)st.probes / lk, (double)st.candidates / lk, (double)st.evaluated / lk,
		    (double)st.scans / lk);
		pf_engine_free(h);
		pf_ruleset_free(rs);
		free(pk);
		return 0;
	}

	/* Differential check first. */
	size_t accepted;
	bool ok = check(rs, pk, np < o.check_packets ? np : o.check_packets, &accepted);

	/* Timing. */
	double lb, hb;
	pf_engine *lin = compile(rs, PF_MATCHER_LINEAR, &lb);
	pf_engine *hash = compile(rs, PF_MATCHER_HASHED, &hb);
	size_t nl = np < o.linear_packets ? np : o.linear_packets;
	double lin_ns = time_packets(lin, pk, nl, 2e8);
	double hash_ns = time_packets(hash, pk, np, 3e8);
	struct pf_engine_stats st;
	pf_engine_stats(hash, &st);
	double batch_ns = time_batches(hash, pk, np, 3e8);

	/* Updates in the largest chain. */
	const pf_chain *src = pf_table_chain(tb, o.chain);
	double ins, del, insh, delh, lins, ldel;
	time_updates(hash, src, -1, &ins, &del);
	time_updates(hash, src, 0, &insh, &delh);
	size_t keep = o.updates;
	o.updates = keep > 200 ? 200 : keep;
	time_updates(lin, src, -1, &lins, &ldel);
	o.updates = keep;

	double lk = st.lookups ? (double)st.lookups : 1;
	printf("%s\t%zu\t%.1f\t%.1f\t%.3f\t%.3f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%."
	       "2f\t%.0f\t%zu\t%.2f\t%.2f\t%.3f\t%s\t%.1f\t%.3f\n",
	       o.name, nrules, lin_ns, hash_ns, 1e3 / lin_ns, 1e3 / hash_ns, lin_ns / hash_ns, lb,
	       hb, ins, del, insh, delh, lins, ldel, st.bytes_per_rule, st.subtables,
	       (double)st.probes / lk, (double)st.candidates / lk,
	       (double)accepted / (double)(np < o.check_packets ? np : o.check_packets),
	       ok ? "identical" : "DIFFERENT", batch_ns, 1e3 / batch_ns);
	pf_engine_free(lin);
	pf_engine_free(hash);
	pf_ruleset_free(rs);
	free(pk);
	return ok ? 0 : 2;
}
