/*
 * acl_bench_rte.c - the outside reference of bench/matcher_bench.sh: DPDK's rte_acl on the same
 * ClassBench rules and trace as matcher_bench (issue 4). The rules of chain CB (source and
 * destination prefix, protocol, source and destination port ranges, ACCEPT or DROP) become
 * rte_acl rules with priority in rule order (the first match wins, as in iptables); each trace
 * line is one 5-tuple lookup (rte_acl_classify over bursts). Prints one TSV line: build time
 * (rte_acl_add_rules + rte_acl_build), lookups per second on one core (CPU time of the thread,
 * median of runs), the memory rte_acl took, and a check: the verdict of the rule rte_acl finds
 * (DROP, the FORWARD policy, when none) against pktfilt's hashed engine judging the same
 * packets through the same rule set.
 *
 *   acl_bench_rte --name N --rules FILE --trace FILE [--runs N] [--burst N]
 *                 [--alg default|scalar|sse|avx2|avx512x16|avx512x32] [--header]
 *
 * The EAL runs without huge pages, devices or shared files (--no-huge --no-pci --no-shconf;
 * --in-memory is refused with --no-huge): rte_acl only needs rte_malloc. Built by
 * bench/CMakeLists.txt only where pkg-config finds libdpdk.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_acl.h>
#include <rte_eal.h>
#include <rte_malloc.h>

#include "bench_util.h"
#include "pktfilt/engine.h"
#include "pktfilt/pktfilt.h"

/* What a lookup reads: the protocol first (one byte, rte_acl's rule), then 4-byte groups. In
 * network byte order, as in a packet. */
struct key {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src, dst;
	uint16_t sport, dport;
};

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, NFIELDS };

static const struct rte_acl_field_def defs[NFIELDS] = {
    {.type = RTE_ACL_FIELD_TYPE_BITMASK,
     .size = sizeof(uint8_t),
     .field_index = F_PROTO,
     .input_index = 0,
     .offset = offsetof(struct key, proto)},
    {.type = RTE_ACL_FIELD_TYPE_MASK,
     .size = sizeof(uint32_t),
     .field_index = F_SRC,
     .input_index = 1,
     .offset = offsetof(struct key, src)},
    {.type = RTE_ACL_FIELD_TYPE_MASK,
     .size = sizeof(uint32_t),
     .field_index = F_DST,
     .input_index = 2,
     .offset = offsetof(struct key, dst)},
    {.type = RTE_ACL_FIELD_TYPE_RANGE,
     .size = sizeof(uint16_t),
     .field_index = F_SPORT,
     .input_index = 3,
     .offset = offsetof(struct key, sport)},
    {.type = RTE_ACL_FIELD_TYPE_RANGE,
     .size = sizeof(uint16_t),
     .field_index = F_DPORT,
     .input_index = 3,
     .offset = offsetof(struct key, dport)},
};

RTE_ACL_RULE_DEF(acl_rule, NFIELDS);

/* A rule as the rule file gives it (host order). */
struct rule {
	uint8_t proto, proto_mask;
	uint32_t src, dst;
	uint8_t slen, dlen;
	uint16_t sp[2], dp[2];
	bool accept;
};

struct pkt {
	uint32_t src, dst; /* host order */
	uint16_t sport, dport;
	uint8_t proto;
};

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "acl_bench_rte: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

static uint32_t parse_ip(const char *s)
{
	unsigned a, b, c, d;
	if (sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
		die("bad address", s);
	return a << 24 | b << 16 | c << 8 | d;
}

static void parse_prefix(const char *s, uint32_t *addr, uint8_t *len)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	unsigned l = 32;
	if (slash) {
		*slash = '\0';
		l = (unsigned)atoi(slash + 1);
	}
	*addr = parse_ip(buf) & (l ? 0xffffffffu << (32 - l) : 0);
	*len = (uint8_t)l;
}

static void parse_ports(const char *s, uint16_t p[2])
{
	unsigned lo, hi;
	int n = sscanf(s, "%u:%u", &lo, &hi);
	if (n < 1)
		die("bad port", s);
	p[0] = (uint16_t)lo;
	p[1] = (uint16_t)(n == 2 ? hi : lo);
}

static uint8_t proto_number(const char *s)
{
	static const struct {
		const char *name;
		uint8_t num;
	} names[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"gre", 47}, {"esp", 50}, {"ah", 51}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name))
			return names[i].num;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 255)
		die("unknown protocol", s);
	return (uint8_t)v;
}

/* The rules of chain CB: -s, -d, -p, -m tcp|udp, --sport, --dport, -j ACCEPT|DROP. */
static struct rule *load_rules(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open", path);
	size_t cap = 1024;
	struct rule *v = malloc(cap * sizeof(*v));
	char line[1024];
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "-A CB ", 6))
			continue;
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		struct rule *r = &v[(*n)++];
		memset(r, 0, sizeof(*r));
		r->sp[1] = r->dp[1] = 0xffff;
		char *save, *tok = strtok_r(line + 6, " \n", &save);
		while (tok) {
			char *arg = strtok_r(NULL, " \n", &save);
			if (!arg)
				die("option without a value", tok);
			if (!strcmp(tok, "-s"))
				parse_prefix(arg, &r->src, &r->slen);
			else if (!strcmp(tok, "-d"))
				parse_prefix(arg, &r->dst, &r->dlen);
			else if (!strcmp(tok, "-p")) {
				r->proto = proto_number(arg);
				r->proto_mask = 0xff;
			} else if (!strcmp(tok, "--sport"))
				parse_ports(arg, r->sp);
			else if (!strcmp(tok, "--dport"))
				parse_ports(arg, r->dp);
			else if (!strcmp(tok, "-j"))
				r->accept = !strcmp(arg, "ACCEPT");
			else if (strcmp(tok, "-m"))
				die("unsupported option", tok);
			tok = strtok_r(NULL, " \n", &save);
		}
	}
	fclose(f);
	return v;
}

static struct pkt *load_trace(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open", path);
	size_t cap = 1024;
	struct pkt *v = malloc(cap * sizeof(*v));
	char s[64], d[64], line[256];
	unsigned sp, dp, pr;
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %63s %u %u %u", s, d, &sp, &dp, &pr) != 5)
			continue;
		if (*n == cap)
			v = realloc(v, (cap *= 2) * sizeof(*v));
		v[(*n)++] =
		    (struct pkt){parse_ip(s), parse_ip(d), (uint16_t)sp, (uint16_t)dp, (uint8_t)pr};
	}
	fclose(f);
	return v;
}

/* pktfilt's verdicts for the trace (hashed engine, FORWARD, the rule file as it is), as the
 * bench's packets: a 20-byte IP header and the ports (plus a TCP or UDP header). */
static uint8_t *pktfilt_verdicts(const char *path, const struct pkt *pk, size_t n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open", path);
	fseek(f, 0, SEEK_END);
	size_t len = (size_t)ftell(f);
	rewind(f);
	char *text = malloc(len + 1);
	if (fread(text, 1, len, f) != len)
		die("cannot read", path);
	fclose(f);
	pf_ruleset *rs = pf_ruleset_new();
	struct pf_error err;
	if (pf_ruleset_restore(rs, text, len, 0, NULL, &err))
		die("restore", err.message);
	free(text);
	pf_engine *e = pf_engine_new(rs, NULL, &err);
	if (!e)
		die("compile", err.message);
	uint8_t *out = malloc(n);
	static struct pf_eval_result res;
	for (size_t i = 0; i < n; i++) {
		uint8_t b[64] = {0};
		size_t l4 = pk[i].proto == 6 ? 20 : 8, plen = 20 + l4;
		b[0] = 0x45;
		b[3] = (uint8_t)plen;
		b[8] = 64;
		b[9] = pk[i].proto;
		for (int k = 0; k < 4; k++) {
			b[12 + k] = (uint8_t)(pk[i].src >> (24 - 8 * k));
			b[16 + k] = (uint8_t)(pk[i].dst >> (24 - 8 * k));
		}
		b[20] = (uint8_t)(pk[i].sport >> 8);
		b[21] = (uint8_t)pk[i].sport;
		b[22] = (uint8_t)(pk[i].dport >> 8);
		b[23] = (uint8_t)pk[i].dport;
		if (pk[i].proto == 6)
			b[32] = 0x50;
		else if (pk[i].proto == 17)
			b[25] = 8;
		pf_engine_eval(e, PF_NF_FORWARD, b, plen, sizeof(b), NULL, &res);
		out[i] = res.verdict == PF_NF_ACCEPT;
	}
	pf_engine_free(e);
	pf_ruleset_free(rs);
	return out;
}

static size_t heap_bytes(void)
{
	struct rte_malloc_socket_stats st;
	size_t total = 0;
	for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			total += st.heap_allocsz_bytes;
	return total;
}

int main(int argc, char **argv)
{
	const char *name = NULL, *rules_path = NULL, *trace_path = NULL, *alg_name = "default";
	size_t runs = 5, burst = 64;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--header")) {
			printf("set\trules\trte_build_ms\trte_mlps\trte_ns\trte_bytes_per_rule\t"
			       "rte_alg\trte_check\n");
			return 0;
		}
		if (!v)
			die("option needs a value", a);
		i++;
		if (!strcmp(a, "--name"))
			name = v;
		else if (!strcmp(a, "--rules"))
			rules_path = v;
		else if (!strcmp(a, "--trace"))
			trace_path = v;
		else if (!strcmp(a, "--runs"))
			runs = (size_t)atol(v);
		else if (!strcmp(a, "--burst"))
			burst = (size_t)atol(v);
		else if (!strcmp(a, "--alg"))
			alg_name = v;
		else
			die("unknown option", a);
	}
	if (!name || !rules_path || !trace_path)
		die("--name, --rules and --trace are required", NULL);
	if (runs < 1 || runs > 16)
		runs = 5;
	if (burst < 1 || burst > 256)
		burst = 64;

	static const struct {
		const char *name;
		enum rte_acl_classify_alg alg;
	} algs[] = {{"default", RTE_ACL_CLASSIFY_DEFAULT},
		    {"scalar", RTE_ACL_CLASSIFY_SCALAR},
		    {"sse", RTE_ACL_CLASSIFY_SSE},
		    {"avx2", RTE_ACL_CLASSIFY_AVX2},
		    {"avx512x16", RTE_ACL_CLASSIFY_AVX512X16},
		    {"avx512x32", RTE_ACL_CLASSIFY_AVX512X32}};
	int alg = -1;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (!strcmp(alg_name, algs[i].name))
			alg = (int)i;
	if (alg < 0)
		die("unknown --alg", alg_name);

	/* The EAL, for rte_malloc only: no huge pages, no devices, no shared files. The 512-bit
	 * classify methods need the SIMD width raised. */
	char *eal[] = {"acl_bench_rte",
		       "--no-huge",
		       "--no-pci",
		       "--no-shconf",
		       "--no-telemetry",
		       "-m",
		       "2048",
		       "-l",
		       "0",
		       "--log-level=3",
		       "--force-max-simd-bitwidth=512",
		       NULL};
	int eargc = (int)(sizeof(eal) / sizeof(eal[0])) - 1;
	if (algs[alg].alg == RTE_ACL_CLASSIFY_DEFAULT)
		eargc--; /* the default: what the EAL picks for this CPU by itself */
	if (rte_eal_init(eargc, eal) < 0)
		die("rte_eal_init failed", NULL);

	size_t nrules, np;
	struct rule *rules = load_rules(rules_path, &nrules);
	struct pkt *pk = load_trace(trace_path, &np);
	if (!nrules || !np)
		die("no rules or no packets", name);

	/* Build. */
	size_t heap0 = heap_bytes();
	double t0 = now_wall();
	struct rte_acl_param prm = {.name = "bench",
				    .socket_id = SOCKET_ID_ANY,
				    .rule_size = RTE_ACL_RULE_SZ(NFIELDS),
				    .max_rule_num = (uint32_t)nrules};
	struct rte_acl_ctx *ctx = rte_acl_create(&prm);
	if (!ctx)
		die("rte_acl_create failed", NULL);
	struct acl_rule *ar = calloc(nrules, sizeof(*ar));
	for (size_t i = 0; i < nrules; i++) {
		const struct rule *r = &rules[i];
		struct acl_rule *a = &ar[i];
		a->data.category_mask = 1;
		a->data.priority = (int32_t)(RTE_ACL_MAX_PRIORITY - i); /* first match wins */
		a->data.userdata = (uint32_t)i + 1;			/* 0: no match */
		a->field[F_PROTO].value.u8 = r->proto;
		a->field[F_PROTO].mask_range.u8 = r->proto_mask;
		a->field[F_SRC].value.u32 = r->src;
		a->field[F_SRC].mask_range.u32 = r->slen;
		a->field[F_DST].value.u32 = r->dst;
		a->field[F_DST].mask_range.u32 = r->dlen;
		a->field[F_SPORT].value.u16 = r->sp[0];
		a->field[F_SPORT].mask_range.u16 = r->sp[1];
		a->field[F_DPORT].value.u16 = r->dp[0];
		a->field[F_DPORT].mask_range.u16 = r->dp[1];
	}
	if (rte_acl_add_rules(ctx, (const struct rte_acl_rule *)ar, (uint32_t)nrules))
		die("rte_acl_add_rules failed", NULL);
	struct rte_acl_config cfg = {.num_categories = 1, .num_fields = NFIELDS};
	memcpy(cfg.defs, defs, sizeof(defs));
	int brc = rte_acl_build(ctx, &cfg);
	if (brc)
		die("rte_acl_build failed", brc == -ENOMEM ? "out of memory" : "error");
	double build_ms = (now_wall() - t0) / 1e6;
	size_t heap1 = heap_bytes();
	free(ar);
	if (algs[alg].alg != RTE_ACL_CLASSIFY_DEFAULT &&
	    rte_acl_set_ctx_classify(ctx, algs[alg].alg))
		die("classify method not supported here", alg_name);

	/* The keys, and the lookups: bursts over the trace, repeated to 0.3 s, median. */
	struct key *keys = calloc(np, sizeof(*keys));
	const uint8_t **ptrs = malloc(np * sizeof(*ptrs));
	uint32_t *results = calloc(np, sizeof(*results));
	for (size_t i = 0; i < np; i++) {
		keys[i].proto = pk[i].proto;
		keys[i].src = htonl(pk[i].src);
		keys[i].dst = htonl(pk[i].dst);
		keys[i].sport = htons(pk[i].sport);
		keys[i].dport = htons(pk[i].dport);
		ptrs[i] = (const uint8_t *)&keys[i];
	}
	double per[16];
	for (size_t k = 0; k < runs; k++) {
		size_t done = 0;
		double s0 = now_cpu(), t;
		do {
			for (size_t i = 0; i < np; i += burst) {
				uint32_t m = (uint32_t)(np - i < burst ? np - i : burst);
				rte_acl_classify(ctx, ptrs + i, results + i, m, 1);
			}
			done += np;
		} while ((t = now_cpu() - s0) < 3e8);
		per[k] = t / (double)done;
	}
	double ns = median(per, runs);

	/* The same verdicts as pktfilt's? */
	uint8_t *want = pktfilt_verdicts(rules_path, pk, np);
	size_t bad = 0;
	for (size_t i = 0; i < np; i++) {
		bool accept = results[i] && rules[results[i] - 1].accept;
		bad += accept != want[i];
	}
	if (bad)
		fprintf(stderr, "%s: %zu of %zu verdicts differ from pktfilt's\n", name, bad, np);

	printf("%s\t%zu\t%.1f\t%.2f\t%.1f\t%.0f\t%s\t%s\n", name, nrules, build_ms, 1e3 / ns, ns,
	       (double)(heap1 - heap0) / (double)nrules, alg_name, bad ? "DIFFERENT" : "identical");
	free(want);
	free(keys);
	free(ptrs);
	free(results);
	free(rules);
	free(pk);
	rte_acl_free(ctx);
	rte_eal_cleanup();
	return bad ? 2 : 0;
}
