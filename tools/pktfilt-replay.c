/*
 * pktfilt-replay.c - replay a capture (pcap or pcapng, Ethernet or raw IPv4) through a rule set
 * as a Linux host would judge it: header validation before PREROUTING, PREROUTING, the routing
 * decision (local delivery, forwarding, or the drops the kernel makes there), the TTL decrement
 * before FORWARD, then FORWARD/INPUT and POSTROUTING; or OUTPUT then POSTROUTING for locally
 * generated traffic. Prints the rule set with its counters as `iptables-save -c` does (stdout)
 * and a verdict summary (stderr); --trace prints the rules each packet matched.
 * Fragments are reassembled where the kernel does it: before raw PREROUTING when some rule
 * needs connection tracking, and before INPUT always.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktfilt/engine.h"
#include "pktfilt/pktfilt.h"
#include "replay_defrag.h"
#include "replay_host.h"

_Static_assert(sizeof(struct pf_packet_meta) <= REPLAY_DEFRAG_META_MAX, "replay_defrag meta");

enum path { PATH_FORWARD, PATH_INPUT, PATH_OUTPUT };

struct options {
	enum path path;
	const char *in, *out;
	const char *rules, *pcap;
	uint32_t local[64];
	unsigned nlocal;
	unsigned nlocal_addr; /* of them, given with --addr */
	bool trace;
	enum pf_matcher_kind matcher;
	unsigned mtu;
	uint64_t seed;
	struct replay_host *host; /* addresses and routes: addrtype, rpfilter */
	bool has_in_mac;	  /* --in-mac: frames to other unicast MACs are PACKET_OTHERHOST */
	uint8_t in_mac[6];
	struct {
		char dev[16];
		uint32_t addr;
	} ifaddr[64]; /* --addr, for meta.in_addr and meta.out_addr */
	unsigned nifaddr;
	uint32_t in_addr, out_addr;
	uint32_t uid, gid; /* --uid: the socket of locally generated packets (--path output) */
};

struct stats {
	unsigned long packets, accepted, dropped, queued, invalid, routing_dropped, local, held;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pktfilt-replay --rules FILE --pcap FILE [options]\n"
		"  --path forward|input|output   the host path packets take (default forward)\n"
		"  -i IFACE, -o IFACE            input and output interface names (in0, out0)\n"
		"  --local ADDR[,ADDR...]        addresses of this host (packets to them go to INPUT)\n"
		"  --addr IFACE=ADDR/LEN         an address of this host on IFACE (local, its subnet)\n"
		"  --route NET/LEN=IFACE         a route (addrtype, rpfilter; none: symmetric)\n"
		"  --uid UID[:GID]               owner of the socket sending the packets of --path\n"
		"                                output (default 0:0)\n"
		"  --in-mac MAC                  the input interface's MAC: frames to other unicast\n"
		"                                MACs are dropped before PREROUTING (otherhost)\n"
		"  --mtu N                       MTU of the output interface (default 1500)\n"
		"  --matcher linear|hashed       the rule matcher (default hashed)\n"
		"  --seed N                      seed of statistic --mode random\n"
		"  --trace                       print the rules each packet matched\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"path", required_argument, NULL, 'P'},   {"rules", required_argument, NULL, 'r'},
		{"pcap", required_argument, NULL, 'c'},	  {"local", required_argument, NULL, 'l'},
		{"trace", no_argument, NULL, 'T'},	  {"matcher", required_argument, NULL, 'm'},
		{"mtu", required_argument, NULL, 'M'},	  {"seed", required_argument, NULL, 's'},
		{"addr", required_argument, NULL, 'A'},	  {"route", required_argument, NULL, 'R'},
		{"in-mac", required_argument, NULL, 'E'}, {"uid", required_argument, NULL, 'U'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->in = "in0";
	o->out = "out0";
	o->mtu = 1500;
	o->host = replay_host_new();
	if (!o->host)
		return -1;
	int c;
	while ((c = getopt_long(argc, argv, "i:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (!strcmp(optarg, "forward"))
				o->path = PATH_FORWARD;
			else if (!strcmp(optarg, "input"))
				o->path = PATH_INPUT;
			else if (!strcmp(optarg, "output"))
				o->path = PATH_OUTPUT;
			else {
				fprintf(stderr, "pktfilt-replay: unknown path `%s'\n", optarg);
				return -1;
			}
			break;
		case 'i':
			o->in = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'r':
			o->rules = optarg;
			break;
		case 'c':
			o->pcap = optarg;
			break;
		case 'T':
			o->trace = true;
			break;
		case 'M':
			o->mtu = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->seed = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			if (!strcmp(optarg, "linear"))
				o->matcher = PF_MATCHER_LINEAR;
			else if (!strcmp(optarg, "hashed"))
				o->matcher = PF_MATCHER_HASHED;
			else {
				fprintf(stderr, "pktfilt-replay: unknown matcher `%s'\n", optarg);
				return -1;
			}
			break;
		case 'l': {
			char *list = strdup(optarg), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				struct in_addr a;
				if (o->nlocal >= 64 || inet_pton(AF_INET, t, &a) != 1) {
					fprintf(stderr, "pktfilt-replay: bad --local address `%s'\n", t);
					free(list);
					return -1;
				}
				o->local[o->nlocal++] = a.s_addr;
			}
			free(list);
			break;
		}
		case 'A':
		case 'R':
			if ((c == 'A' ? replay_host_add_addr(o->host, optarg)
				      : replay_host_add_route(o->host, optarg)) ||
			    (c == 'A' && o->nlocal >= 64)) {
				fprintf(stderr, "pktfilt-replay: bad --%s `%s'\n",
					c == 'A' ? "addr" : "route", optarg);
				return -1;
			}
			if (c == 'A') {
				replay_host_addr_at(o->host, o->nlocal_addr++, &o->local[o->nlocal++]);
				const char *eq = strchr(optarg, '=');
				if (eq && o->nifaddr < 64 && (size_t)(eq - optarg) < 16) {
					memcpy(o->ifaddr[o->nifaddr].dev, optarg, (size_t)(eq - optarg));
					o->ifaddr[o->nifaddr].dev[eq - optarg] = '\0';
					o->ifaddr[o->nifaddr++].addr = o->local[o->nlocal - 1];
				}
			}
			break;
		case 'U': {
			char *end;
			o->uid = (uint32_t)strtoul(optarg, &end, 10);
			o->gid = *end == ':' ? (uint32_t)strtoul(end + 1, &end, 10) : 0;
			if (*end || end == optarg) {
				fprintf(stderr, "pktfilt-replay: bad --uid `%s'\n", optarg);
				return -1;
			}
			break;
		}
		case 'E': {
			unsigned m[6];
			char tail;
			if (sscanf(optarg, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4],
				   &m[5], &tail) != 6) {
				fprintf(stderr, "pktfilt-replay: bad --in-mac `%s'\n", optarg);
				return -1;
			}
			for (int i = 0; i < 6; i++)
				o->in_mac[i] = (uint8_t)m[i];
			o->has_in_mac = true;
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!o->rules || !o->pcap) {
		usage(stderr);
		return -1;
	}
	/* The first address on each interface: REJECT's source, MASQUERADE's, REDIRECT's. */
	for (unsigned i = o->nifaddr; i-- > 0;) {
		if (!strcmp(o->ifaddr[i].dev, o->in))
			o->in_addr = o->ifaddr[i].addr;
		if (!strcmp(o->ifaddr[i].dev, o->out))
			o->out_addr = o->ifaddr[i].addr;
	}
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		if (*len + 65536 > cap) {
			cap = (cap + 65536) * 2;
			char *n = realloc(buf, cap);
			if (!n) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = n;
		}
		size_t r = fread(buf + *len, 1, 65536, f);
		*len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	return buf;
}

static uint16_t csum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)((p[i] << 8) | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool is_local(const struct options *o, uint32_t a)
{
	if (a == 0xffffffffu)
		return true;
	for (unsigned i = 0; i < o->nlocal; i++)
		if (o->local[i] == a)
			return true;
	return false;
}

/* Where the kernel's routing sends a packet after PREROUTING. */
enum route { ROUTE_FORWARD, ROUTE_LOCAL, ROUTE_DROP };

static bool options_bad_or_source_routed(const uint8_t *ip, size_t ihl)
{
	/* ip_options_compile: walk the options; source routing is refused when forwarding
	 * without accept_source_route, malformed options drop the packet. */
	size_t i = 20;
	while (i < ihl) {
		uint8_t t = ip[i];
		if (t == 0)
			break; /* end of options */
		if (t == 1) {
			i++;
			continue;
		}
		if (i + 1 >= ihl)
			return true;
		uint8_t l = ip[i + 1];
		if (l < 2 || i + l > ihl)
			return true;
		if (t == 131 || t == 137) /* LSRR, SSRR */
			return true;
		i += l;
	}
	return false;
}

static enum route route(const struct options *o, const uint8_t *ip, size_t len, uint8_t pkt_type)
{
	uint32_t s, d;
	memcpy(&s, ip + 12, 4);
	memcpy(&d, ip + 16, 4);
	uint32_t hs = ntohl(s), hd = ntohl(d);
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
	bool local;
	if ((hd >> 28) == 14) {
		/* ip_route_input_rcu: a multicast destination goes on only for a group this host
		 * joined (every interface with an IPv4 address is in 224.0.0.1, all hosts), from a
		 * source that is neither multicast, broadcast nor loopback (ip_route_input_mc). */
		if (hd != 0xe0000001u || (hs >> 28) == 14 || hs == 0xffffffffu || (hs >> 24) == 127)
			return ROUTE_DROP;
		local = true;
	} else if ((hs >> 28) == 14 || hs == 0xffffffffu) {
		return ROUTE_DROP; /* ip_route_input_slow: martian source */
	} else if (hd == 0xffffffffu || (hs == 0 && hd == 0)) {
		local = true; /* limited broadcast (and 0.0.0.0 to 0.0.0.0): local input */
	} else if (hs == 0 || hd == 0 || (hs >> 24) == 127 || (hd >> 24) == 127) {
		return ROUTE_DROP; /* zero or loopback source or destination */
	} else {
		/* The local table: this host's addresses and its subnet broadcasts. */
		unsigned t = replay_host_addr_type(o->host, d, NULL);
		local = is_local(o, d) || t == PF_RTN_LOCAL || t == PF_RTN_BROADCAST;
	}
	if (ihl > 20 && options_bad_or_source_routed(ip, ihl))
		return ROUTE_DROP;
	if (local || o->path == PATH_INPUT)
		return ROUTE_LOCAL;
	/* ip_forward: only frames addressed to this host's MAC are forwarded. */
	if (pkt_type != PF_PKT_HOST)
		return ROUTE_DROP;
	if (ip[8] <= 1)
		return ROUTE_DROP;
	uint16_t frag = (uint16_t)((ip[6] << 8) | ip[7]);
	if ((frag & 0x4000) && len > o->mtu)
		return ROUTE_DROP;
	return ROUTE_FORWARD;
}

static void print_trace(unsigned long n, const struct pf_eval_result *r, const char *hook)
{
	for (unsigned i = 0; i < r->ntrace; i++) {
		if (r->trace[i].rulenum)
			printf("TRACE %lu %s:%s:%s:rule:%u\n", n, r->trace[i].table, r->trace[i].chain,
			       hook, r->trace[i].rulenum);
		else
			printf("TRACE %lu %s:%s:%s:policy\n", n, r->trace[i].table, r->trace[i].chain,
			       hook);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse_options(argc, argv, &o))
		return 2;
	size_t len;
	char *text = read_file(o.rules, &len);
	if (!text) {
		fprintf(stderr, "pktfilt-replay: cannot read %s: %s\n", o.rules, strerror(errno));
		return 1;
	}
	struct pf_error err;
	pf_ruleset *rs = pf_ruleset_new();
	if (!rs || pf_ruleset_restore(rs, text, len, PF_RESTORE_COUNTERS, NULL, &err)) {
		pf_error_print(&err, "pktfilt-replay", stderr);
		free(text);
		pf_ruleset_free(rs);
		return 1;
	}
	free(text);
	struct pf_engine_config cfg = {.matcher = o.matcher, .trace = o.trace, .random_seed = o.seed};
	for (unsigned i = 0; i < o.nlocal; i++)
		replay_host_add_local(o.host, o.local[i]);
	cfg.addr_type = replay_host_addr_type;
	cfg.rp_route = replay_host_rp_route;
	cfg.host_opaque = o.host;
	pf_engine *eng = pf_engine_new(rs, &cfg, &err);
	if (!eng) {
		pf_error_print(&err, "pktfilt-replay", stderr);
		pf_ruleset_free(rs);
		return 1;
	}
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(o.pcap, ebuf);
	if (!pc) {
		fprintf(stderr, "pktfilt-replay: %s\n", ebuf);
		pf_engine_free(eng);
		pf_ruleset_free(rs);
		return 1;
	}
	int dlt = pcap_datalink(pc);
	if (dlt != DLT_EN10MB && dlt != DLT_RAW && dlt != DLT_IPV4) {
		fprintf(stderr, "pktfilt-replay: unsupported link type %s\n",
			pcap_datalink_val_to_name(dlt));
		pcap_close(pc);
		pf_engine_free(eng);
		pf_ruleset_free(rs);
		return 1;
	}
	/* Conntrack reassembles before PREROUTING; local delivery reassembles before INPUT. */
	bool conntrack = pf_engine_uses_conntrack(eng);
	struct replay_defrag *defrag_ct = replay_defrag_new(), *defrag_local = replay_defrag_new();
	if (!defrag_ct || !defrag_local) {
		fprintf(stderr, "pktfilt-replay: out of memory\n");
		return 1;
	}
	static struct pf_eval_result res;
	static uint8_t buf[65536 + 64];
	struct stats st = {0};
	struct pcap_pkthdr *h;
	const u_char *frame;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &frame)) == 1) {
		st.packets++;
		struct pf_packet_meta meta = {0};
		size_t off = 0;
		if (dlt == DLT_EN10MB) {
			if (h->caplen < 14 || frame[12] != 0x08 || frame[13] != 0x00) {
				st.invalid++;
				continue;
			}
			meta.has_mac = true;
			memcpy(meta.src_mac, frame + 6, 6);
			memcpy(meta.dst_mac, frame, 6);
			/* eth_type_trans */
			static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
			if (frame[0] & 1)
				meta.pkt_type = memcmp(frame, bcast, 6) ? PF_PKT_MULTICAST
									: PF_PKT_BROADCAST;
			else if (o.has_in_mac && memcmp(frame, o.in_mac, 6))
				meta.pkt_type = PF_PKT_OTHERHOST;
			off = 14;
			/* ip_rcv_core: a frame for another host is dropped before any hook. */
			if (meta.pkt_type == PF_PKT_OTHERHOST && o.path != PATH_OUTPUT) {
				st.invalid++;
				continue;
			}
		}
		meta.in_addr = o.in_addr;
		meta.out_addr = o.out_addr;
		meta.out_mtu = (uint16_t)o.mtu;
		size_t n = h->caplen - off;
		if (n > sizeof(buf) - 64)
			n = sizeof(buf) - 64;
		memcpy(buf, frame + off, n);
		meta.now_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec * 1000ull;
		/* ip_rcv: header checks and checksum, before any hook. */
		if (n < 20 || (buf[0] >> 4) != 4 || (buf[0] & 0x0f) < 5 ||
		    (size_t)(buf[0] & 0x0f) * 4 > n || csum16(buf, (size_t)(buf[0] & 0x0f) * 4) != 0) {
			st.invalid++;
			continue;
		}
		size_t tot = (size_t)((buf[2] << 8) | buf[3]);
		if (tot > n || tot < (size_t)(buf[0] & 0x0f) * 4) {
			st.invalid++;
			continue;
		}
		n = tot;
		/* A reassembled packet has the first fragment's metadata (skb_morph), with the
		 * time of the last. */
		uint64_t now = meta.now_ns;
		if (conntrack && o.path != PATH_OUTPUT &&
		    replay_defrag_add_meta(defrag_ct, buf, &n, sizeof(buf), &meta, sizeof(meta)) ==
			REPLAY_DEFRAG_HELD) {
			st.held++;
			continue;
		}
		meta.now_ns = now;
		enum pf_nf_verdict v;
		if (o.path == PATH_OUTPUT) {
			/* Sent by a local socket: owner sees it, recent keeps the TTL as it is; no MAC
			 * header yet, PACKET_HOST. */
			meta.has_mac = false;
			meta.pkt_type = PF_PKT_HOST;
			meta.has_uid = true;
			meta.uid = o.uid;
			meta.gid = o.gid;
			meta.out_iface = o.out;
			pf_engine_eval(eng, PF_NF_LOCAL_OUT, buf, n, sizeof(buf), &meta, &res);
			if (o.trace)
				print_trace(st.packets, &res, "OUTPUT");
			v = res.verdict;
			meta.mark = res.mark;
			meta.ctmark = res.ctmark;
			n = res.len;
			if (v == PF_NF_ACCEPT) {
				pf_engine_eval(eng, PF_NF_POST_ROUTING, buf, n, sizeof(buf), &meta, &res);
				if (o.trace)
					print_trace(st.packets, &res, "POSTROUTING");
				v = res.verdict;
			}
		} else {
			meta.in_iface = o.in;
			pf_engine_eval(eng, PF_NF_PRE_ROUTING, buf, n, sizeof(buf), &meta, &res);
			if (o.trace)
				print_trace(st.packets, &res, "PREROUTING");
			v = res.verdict;
			meta.mark = res.mark;
			meta.ctmark = res.ctmark;
			n = res.len;
			if (v == PF_NF_ACCEPT) {
				enum route r = route(&o, buf, n, meta.pkt_type);
				if (r == ROUTE_DROP) {
					st.routing_dropped++;
					continue;
				}
				if (r == ROUTE_LOCAL) {
					if (replay_defrag_add_meta(defrag_local, buf, &n, sizeof(buf),
								   &meta, sizeof(meta)) ==
					    REPLAY_DEFRAG_HELD) {
						st.held++;
						continue;
					}
					meta.now_ns = now;
					st.local++;
					pf_engine_eval(eng, PF_NF_LOCAL_IN, buf, n, sizeof(buf), &meta,
						       &res);
					if (o.trace)
						print_trace(st.packets, &res, "INPUT");
					v = res.verdict;
				} else {
					/* ip_forward: TTL decrement (and checksum) before FORWARD. */
					buf[8]--;
					buf[10] = buf[11] = 0;
					uint16_t c = csum16(buf, (size_t)(buf[0] & 0x0f) * 4);
					buf[10] = (uint8_t)(c >> 8);
					buf[11] = (uint8_t)c;
					meta.out_iface = o.out;
					pf_engine_eval(eng, PF_NF_FORWARD, buf, n, sizeof(buf), &meta,
						       &res);
					if (o.trace)
						print_trace(st.packets, &res, "FORWARD");
					v = res.verdict;
					meta.mark = res.mark;
					meta.ctmark = res.ctmark;
					n = res.len;
					if (v == PF_NF_ACCEPT) {
						/* ip_output: the hook's indev is skb->dev, the
						 * input interface of a forwarded packet. */
						pf_engine_eval(eng, PF_NF_POST_ROUTING, buf, n,
							       sizeof(buf), &meta, &res);
						if (o.trace)
							print_trace(st.packets, &res,
								    "POSTROUTING");
						v = res.verdict;
					}
				}
			}
		}
		if (v == PF_NF_ACCEPT)
			st.accepted++;
		else if (v == PF_NF_QUEUE)
			st.queued++;
		else
			st.dropped++;
	}
	if (rc == -1)
		fprintf(stderr, "pktfilt-replay: %s\n", pcap_geterr(pc));
	pcap_close(pc);
	int status = 0;
	if (pf_engine_save(eng, PF_SAVE_COUNTERS, stdout, &err)) {
		pf_error_print(&err, "pktfilt-replay", stderr);
		status = 1;
	}
	fprintf(stderr,
		"packets %lu: accepted %lu, dropped %lu, queued %lu, invalid %lu (dropped before "
		"PREROUTING), routing drops %lu, delivered locally %lu, fragments held for "
		"reassembly %lu\n",
		st.packets, st.accepted, st.dropped, st.queued, st.invalid, st.routing_dropped,
		st.local, st.held);
	replay_defrag_free(defrag_ct);
	replay_defrag_free(defrag_local);
	pf_engine_free(eng);
	pf_ruleset_free(rs);
	replay_host_free(o.host);
	return status;
}
