/*
 * worker.c - one thread per NFQUEUE queue: batched receive (recvmmsg), judgement by the
 * worker's own engine of the live generation in batches (pf_engine_eval_batch over each run of
 * consecutive packets at the same hook, in the order received), batched verdicts (one sendmsg
 * per batch, runs of plain identical verdicts as one NFQNL_MSG_VERDICT_BATCH).
 *
 * RCU (QSBR): a worker is offline while it blocks in recvmmsg and online while it judges a
 * batch; the generation it read at the start of a batch stays valid until it goes offline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <urcu/urcu-qsbr.h>

#include "pktfiltd.h"

/* Attributes newer than libnetfilter_queue 1.0.5's copy of the kernel header. */
#define PFD_NFQA_PRIORITY 21
#define PFD_NFQA_MAXATTR 32

#define SLOT_SIZE (65536 + 8192)
#define SEND_CAP (4 * 65536 + 65536)
#define CFG_FLAGS_MANAGED                                                                          \
	(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID)

enum { IP_CT_EST = 0, IP_CT_REL = 1, IP_CT_NEW_ = 2, IP_CT_REPLY_BASE = 3, IP_CT_UNTR = 7 };

struct ifc {
	uint32_t idx;
	uint64_t stamp;
	char name[IF_NAMESIZE];
	uint32_t addr; /* network order, 0 = none */
	uint16_t mtu;
	uint8_t mac[6];
	bool has_mac;
};

/* This host's addresses, for the addrtype match (what the kernel's local table says). */
#define MAX_LOCAL 256
struct local_addr {
	uint32_t addr; /* network order */
	uint8_t type;  /* PF_RTN_LOCAL or PF_RTN_BROADCAST */
	char dev[IF_NAMESIZE];
};

struct pend {
	uint32_t id;
	uint32_t verdict;
	bool plain; /* no mark, no payload: can join a batch verdict */
	bool set_mark, set_ctmark;
	uint32_t mark, ctmark;
	const uint8_t *pkt; /* payload to send back, or NULL */
	uint32_t len;
};

/* A packet the engine judges: its metadata (with copies of the interface names: the cache
 * entry an index shares with another may be refilled before the batch is judged) and what its
 * verdict needs besides the engine's result. */
struct job {
	struct pf_packet_meta m;
	uint8_t *buf;
	size_t len, room;
	unsigned pend; /* its entry in w->pend */
	uint8_t hook;
	bool truncated; /* only the first caplen bytes were copied to us */
	bool has_ct;	/* the kernel gave the conntrack attributes (a ctmark can be set) */
	char in[IF_NAMESIZE], out[IF_NAMESIZE], pin[IF_NAMESIZE], pout[IF_NAMESIZE];
};

/* Packets judged by one pf_engine_eval_batch() call at most (the engine looks ahead 32 at a
 * time): bounds the results kept, each of which is large (trace and reply arrays). */
#define JOBS_MAX 64

struct worker {
	unsigned idx;
	uint16_t qnum;
	struct mnl_socket *nl;
	int fd;
	pthread_t th;
	bool started;
	struct wstats *st;
	unsigned batch;
	char *rbuf;
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_nl *names;
	char *sbuf;
	size_t slen;
	struct pend *pend;
	unsigned npend;
	/* packets prepared and not judged yet, judged in order by judge_jobs() */
	struct job *jobs;
	struct pf_batch_item *items;
	struct pf_eval_result *res;
	unsigned njobs, jobs_max;
	struct qcfg applied;
	uint32_t cfg_seq;
	unsigned cfg_failures;
	uint64_t reconf_until;
	int rawfd, ioctlfd;
	struct ifc ifc[256];
	struct local_addr local[MAX_LOCAL];
	unsigned nlocal;
	uint64_t local_stamp;
	uint64_t now_mono; /* the batch's time, for the caches */
	/* single-rule changes (change.c): applied by this worker to its own engine */
	struct qcfg q;	     /* what the rule set needs from the queue now */
	uint64_t gen_id;     /* the generation q came from */
	uint64_t acked;	     /* last post applied (read by the control thread) */
	uint64_t failed_seq; /* a post this worker could not apply in full */
};

/* ---- interface names and addresses, cached per worker ---- */

static const struct ifc *ifc_get(struct worker *w, uint32_t idx, uint64_t now)
{
	struct ifc *e = &w->ifc[idx & 255];
	if (e->idx == idx && now - e->stamp < 1000000000ULL)
		return e;
	memset(e, 0, sizeof(*e));
	e->idx = idx;
	e->stamp = now;
	if (!if_indextoname(idx, e->name)) {
		e->name[0] = '\0';
		return e;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", e->name);
	if (ioctl(w->ioctlfd, SIOCGIFADDR, &ifr) == 0)
		e->addr = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
	if (ioctl(w->ioctlfd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0 && ifr.ifr_mtu < 65536)
		e->mtu = (uint16_t)ifr.ifr_mtu;
	if (ioctl(w->ioctlfd, SIOCGIFHWADDR, &ifr) == 0) {
		memcpy(e->mac, ifr.ifr_hwaddr.sa_data, 6);
		e->has_mac = true;
	}
	return e;
}

static void local_refresh(struct worker *w)
{
	struct ifaddrs *ifa0;
	w->nlocal = 0;
	w->local_stamp = w->now_mono;
	if (getifaddrs(&ifa0))
		return;
	for (struct ifaddrs *ifa = ifa0; ifa && w->nlocal + 2 <= MAX_LOCAL; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET)
			continue;
		struct local_addr *l = &w->local[w->nlocal++];
		l->addr = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr;
		l->type = PF_RTN_LOCAL;
		snprintf(l->dev, sizeof(l->dev), "%s", ifa->ifa_name);
		if ((ifa->ifa_flags & IFF_BROADCAST) && ifa->ifa_broadaddr &&
		    ifa->ifa_broadaddr->sa_family == AF_INET) {
			struct local_addr *bc = &w->local[w->nlocal++];
			bc->addr = ((struct sockaddr_in *)ifa->ifa_broadaddr)->sin_addr.s_addr;
			bc->type = PF_RTN_BROADCAST;
			snprintf(bc->dev, sizeof(bc->dev), "%s", ifa->ifa_name);
			if (bc->addr == l->addr) /* a /32 or /31 has no broadcast route */
				w->nlocal--;
		}
	}
	freeifaddrs(ifa0);
}

/* The engine's addrtype callback: inet_dev_addr_type() over the local routing table. */
static unsigned addr_type_cb(void *opaque, uint32_t addr, const char *dev)
{
	struct worker *w = opaque;
	if ((ntohl(addr) >> 24) == 127)
		return (!dev || !strcmp(dev, "lo")) ? PF_RTN_LOCAL : PF_RTN_UNICAST;
	if (w->now_mono - w->local_stamp > 1000000000ULL || !w->local_stamp)
		local_refresh(w);
	for (unsigned i = 0; i < w->nlocal; i++)
		if (w->local[i].addr == addr) {
			if (dev && strcmp(dev, w->local[i].dev))
				continue;
			return w->local[i].type;
		}
	return PF_RTN_UNICAST;
}

/* ---- netlink ---- */

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	unsigned t = mnl_attr_get_type(a);
	if (t < PFD_NFQA_MAXATTR)
		tb[t] = a;
	return MNL_CB_OK;
}

static int ct_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	unsigned t = mnl_attr_get_type(a);
	if (t <= CTA_MAX)
		tb[t] = a;
	return MNL_CB_OK;
}

static struct nlmsghdr *config_msg(struct worker *w, char *buf, const struct qcfg *q, bool bind,
				   uint32_t seq)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, w->qnum);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (bind)
		nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)q->range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, D.queue_maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(q->flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(CFG_FLAGS_MANAGED));
	return nlh;
}

static void send_verdict_now(struct worker *w, uint32_t id, uint32_t verdict)
{
	char buf[256];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, w->qnum);
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0)
		STAT_ADD(w->st, send_errors, 1);
}

/* Bind the queue and configure it, waiting for the kernel's answer. Packets that arrive
 * meanwhile are sent back through the hook (NF_REPEAT) to come again configured. */
static int worker_setup(struct worker *w, const struct qcfg *q)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	for (int attempt = 0; attempt < 3; attempt++) {
		uint32_t seq = ++w->cfg_seq;
		struct nlmsghdr *nlh = config_msg(w, buf, q, attempt == 0, seq);
		if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0)
			return -1;
		for (;;) {
			ssize_t n = mnl_socket_recvfrom(w->nl, buf, sizeof(buf));
			if (n < 0) {
				if (errno == ENOBUFS || errno == EINTR)
					continue;
				return -1;
			}
			int err = 0;
			bool done = false;
			for (struct nlmsghdr *m = (struct nlmsghdr *)buf; mnl_nlmsg_ok(m, (int)n);
			     m = mnl_nlmsg_next(m, (int *)&n)) {
				if (m->nlmsg_type == NLMSG_ERROR && m->nlmsg_seq == seq) {
					const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
					err = -e->error;
					done = true;
				} else if ((m->nlmsg_type & 0xff) == NFQNL_MSG_PACKET) {
					const struct nlattr *tb[PFD_NFQA_MAXATTR] = {0};
					mnl_attr_parse(m, sizeof(struct nfgenmsg), attr_cb, tb);
					if (tb[NFQA_PACKET_HDR]) {
						const struct nfqnl_msg_packet_hdr *ph =
						    mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
						send_verdict_now(w, ntohl(ph->packet_id),
								 NF_REPEAT);
					}
				}
			}
			if (!done)
				continue;
			if (err == 0) {
				w->applied = *q;
				return 0;
			}
			if (err == EAGAIN) /* the kernel loaded conntrack's netlink glue: again */
				break;
			errno = err;
			return -1;
		}
	}
	errno = EAGAIN;
	return -1;
}

/* ---- judging ---- */

/* With NFQA_SKB_CSUMNOTREADY the transport checksum holds only the pseudo-header sum (the
 * kernel would compute it on output): complete it, so that REJECT's checksum check and the
 * mangling targets' incremental updates see what the wire will carry. */
static void complete_l4_checksum(uint8_t *p, size_t len)
{
	if (len < 20 || (p[0] >> 4) != 4)
		return;
	size_t ihl = (size_t)(p[0] & 15) * 4;
	if ((((p[6] << 8) | p[7]) & 0x3fff) || ihl < 20 || ihl >= len)
		return;
	size_t off;
	if (p[9] == IPPROTO_TCP)
		off = 16;
	else if (p[9] == IPPROTO_UDP)
		off = 6;
	else
		return;
	size_t l4 = len - ihl;
	if (l4 < off + 2)
		return;
	uint8_t *h = p + ihl;
	h[off] = h[off + 1] = 0;
	/* one's complement sum in big-endian 16-bit words, 4 bytes at a time */
	uint64_t sum = 0;
	for (int i = 12; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	sum += p[9];
	sum += (uint32_t)l4;
	size_t i = 0;
	for (; i + 4 <= l4; i += 4)
		sum += (uint32_t)h[i] << 24 | (uint32_t)h[i + 1] << 16 | (uint32_t)h[i + 2] << 8 |
		       h[i + 3];
	for (; i + 1 < l4; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	if (l4 & 1)
		sum += (uint32_t)h[l4 - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	if (p[9] == IPPROTO_UDP && c == 0)
		c = 0xffff;
	h[off] = (uint8_t)(c >> 8);
	h[off + 1] = (uint8_t)c;
}

static uint8_t pkt_type_of(const uint8_t *ip)
{
	if (ip[16] >= 224 && ip[16] <= 239)
		return 2;
	if (ip[16] == 255 && ip[17] == 255 && ip[18] == 255 && ip[19] == 255)
		return 1;
	return 0;
}

static void send_reply(struct worker *w, const uint8_t *reply, size_t len)
{
	if (len < 20)
		return;
	struct sockaddr_in dst = {.sin_family = AF_INET};
	memcpy(&dst.sin_addr, reply + 16, 4);
	if (sendto(w->rawfd, reply, len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		STAT_ADD(w->st, send_errors, 1);
}

/* Read one packet message: fills p, and either decides its verdict here (not IPv4, to come
 * again, not a hook the engine knows) or appends a job for the engine (judge_jobs) to finish
 * p. msg_end bounds the room the packet may grow into (the next message of the datagram, or
 * the slot's end): the packets of a batch must not overlap. */
static void prepare(struct worker *w, const struct nlattr *const *tb, const char *msg_end,
		    uint64_t now, uint64_t wall, bool may_be_stale, struct pend *p)
{
	const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	memset(p, 0, sizeof(*p));
	p->id = ntohl(ph->packet_id);
	p->verdict = NF_ACCEPT;
	p->plain = true;
	if (ntohs(ph->hw_protocol) != 0x0800 || !tb[NFQA_PAYLOAD]) {
		STAT_ADD(w->st, non_ipv4, 1);
		STAT_ADD(w->st, accept, 1);
		return;
	}
	uint8_t *buf = mnl_attr_get_payload(tb[NFQA_PAYLOAD]);
	size_t caplen = mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]);
	size_t len = tb[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(tb[NFQA_CAP_LEN])) : caplen;
	uint32_t skbinfo = tb[NFQA_SKB_INFO] ? ntohl(mnl_attr_get_u32(tb[NFQA_SKB_INFO])) : 0;
	size_t room = (size_t)(msg_end - (const char *)buf);
	bool truncated = len > caplen;
	/* A packet copied under an older, smaller range or without the conntrack information the
	 * rule set now needs goes through the hook once more, to come back complete. */
	if ((truncated && (w->q.full || len > room)) ||
	    (may_be_stale && w->q.conntrack && !tb[NFQA_CT_INFO])) {
		p->verdict = NF_REPEAT;
		STAT_ADD(w->st, repeat, 1);
		return;
	}
	unsigned hook = ph->hook;
	STAT_ADD(w->st, packets, 1);
	STAT_ADD(w->st, bytes, len);
	if (hook > PF_NF_POST_ROUTING) {
		p->verdict = NF_DROP;
		STAT_ADD(w->st, malformed, 1);
		STAT_ADD(w->st, drop, 1);
		return;
	}
	/* Header-only copy: the rule set reads nothing past PFD_HDR_COPY bytes; the engine is
	 * given the packet's real length over a buffer whose tail it never reads. */
	if (w->q.csum && (skbinfo & NFQA_SKB_CSUMNOTREADY))
		complete_l4_checksum(buf, caplen);

	struct job *j = &w->jobs[w->njobs++];
	j->buf = buf;
	j->len = len;
	j->room = room;
	j->pend = (unsigned)(p - w->pend);
	j->hook = (uint8_t)hook;
	j->truncated = truncated;
	j->has_ct = tb[NFQA_CT] != NULL;
	struct pf_packet_meta *m = &j->m;
	memset(m, 0, sizeof(*m));
	m->now_ns = wall;
	const struct ifc *in = NULL, *out = NULL, *pin = NULL, *pout = NULL;
	if (tb[NFQA_IFINDEX_INDEV])
		in = ifc_get(w, ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_INDEV])), now);
	if (tb[NFQA_IFINDEX_OUTDEV])
		out = ifc_get(w, ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_OUTDEV])), now);
	if (tb[NFQA_IFINDEX_PHYSINDEV])
		pin = ifc_get(w, ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_PHYSINDEV])), now);
	if (tb[NFQA_IFINDEX_PHYSOUTDEV])
		pout = ifc_get(w, ntohl(mnl_attr_get_u32(tb[NFQA_IFINDEX_PHYSOUTDEV])), now);
	/* (each ifc_get may refill the entry of an earlier one: its values are taken first) */
	j->in[0] = j->out[0] = '\0';
	if (in) {
		memcpy(j->in, in->name, IF_NAMESIZE);
		m->in_addr = in->addr;
	}
	m->in_iface = j->in;
	if (out) {
		memcpy(j->out, out->name, IF_NAMESIZE);
		m->out_addr = out->addr;
	}
	m->out_iface = j->out;
	if (pin) {
		memcpy(j->pin, pin->name, IF_NAMESIZE);
		m->physdev_in = j->pin;
	}
	if (pout) {
		memcpy(j->pout, pout->name, IF_NAMESIZE);
		m->physdev_out = j->pout;
	}
	if (in && out && in->mtu && out->mtu)
		m->out_mtu = in->mtu < out->mtu ? in->mtu : out->mtu;
	else if (out && out->mtu)
		m->out_mtu = out->mtu;
	if (tb[NFQA_MARK])
		m->mark = ntohl(mnl_attr_get_u32(tb[NFQA_MARK]));
	if (tb[NFQA_HWADDR]) {
		const struct nfqnl_msg_packet_hw *hw = mnl_attr_get_payload(tb[NFQA_HWADDR]);
		if (ntohs(hw->hw_addrlen) == 6) {
			m->has_mac = true;
			memcpy(m->src_mac, hw->hw_addr, 6);
			/* the frame came to this host: its destination was the input device */
			if (in && in->has_mac)
				memcpy(m->dst_mac, in->mac, 6);
		}
	}
	if (tb[NFQA_UID] && tb[NFQA_GID]) {
		m->has_uid = true;
		m->uid = ntohl(mnl_attr_get_u32(tb[NFQA_UID]));
		m->gid = ntohl(mnl_attr_get_u32(tb[NFQA_GID]));
	}
	if (tb[PFD_NFQA_PRIORITY])
		m->classify = ntohl(mnl_attr_get_u32(tb[PFD_NFQA_PRIORITY]));
	if (w->q.conntrack) {
		if (tb[NFQA_CT_INFO]) {
			uint32_t ci = ntohl(mnl_attr_get_u32(tb[NFQA_CT_INFO]));
			if (ci == IP_CT_UNTR) {
				m->ct_state = PF_CT_UNTRACKED;
			} else {
				static const unsigned st[3] = {PF_CT_ESTABLISHED, PF_CT_RELATED,
							       PF_CT_NEW};
				m->ct_state =
				    st[ci % 3] | (ci >= IP_CT_REPLY_BASE ? PF_CT_REPLY : 0);
			}
		} else {
			m->ct_state = PF_CT_INVALID; /* no conntrack entry */
		}
		if (tb[NFQA_CT]) {
			const struct nlattr *ct[CTA_MAX + 1] = {0};
			if (mnl_attr_parse_nested(tb[NFQA_CT], ct_attr_cb, ct) >= 0) {
				if (ct[CTA_MARK])
					m->ctmark = ntohl(mnl_attr_get_u32(ct[CTA_MARK]));
				if (ct[CTA_STATUS]) {
					m->has_ct_status = true;
					m->ct_status = ntohl(mnl_attr_get_u32(ct[CTA_STATUS]));
				}
				if (ct[CTA_TIMEOUT])
					m->ct_expire = ntohl(mnl_attr_get_u32(ct[CTA_TIMEOUT]));
			}
		}
	}
	if (caplen >= 20)
		m->pkt_type = pkt_type_of(buf);
}

/* The verdict of a judged packet (rc: what the engine returned for it). */
static void finish(struct worker *w, const struct job *j, const struct pf_eval_result *res, int rc)
{
	struct pend *p = &w->pend[j->pend];
	if (rc < 0) {
		p->verdict = NF_DROP;
		STAT_ADD(w->st, malformed, 1);
		STAT_ADD(w->st, drop, 1);
		return;
	}
	switch (res->verdict) {
	case PF_NF_ACCEPT:
		p->verdict = NF_ACCEPT;
		STAT_ADD(w->st, accept, 1);
		break;
	case PF_NF_QUEUE:
		if (res->queue_num >= D.qfirst && res->queue_num <= D.qlast) {
			/* to one of our own queues: it would come back here forever */
			p->verdict = NF_DROP;
			STAT_ADD(w->st, other, 1);
			break;
		}
		p->verdict = NF_QUEUE_NR(res->queue_num) |
			     (res->queue_bypass ? NF_VERDICT_FLAG_QUEUE_BYPASS : 0);
		STAT_ADD(w->st, queue, 1);
		break;
	case PF_NF_DROP:
	default:
		p->verdict = NF_DROP;
		if (res->reply_len) {
			send_reply(w, res->reply, res->reply_len);
			STAT_ADD(w->st, reject, 1);
		} else {
			STAT_ADD(w->st, drop, 1);
		}
		break;
	}
	if (res->mark_changed && p->verdict != NF_DROP) {
		if (res->mark != j->m.mark) {
			p->set_mark = true;
			p->mark = res->mark;
		}
		if (res->ctmark != j->m.ctmark && j->has_ct) {
			p->set_ctmark = true;
			p->ctmark = res->ctmark;
		}
		if (p->set_mark || p->set_ctmark) {
			p->plain = false;
			STAT_ADD(w->st, mark_set, 1);
		}
	}
	if (res->packet_changed && p->verdict != NF_DROP && !j->truncated) {
		p->pkt = j->buf;
		p->len = (uint32_t)res->len;
		p->plain = false;
		STAT_ADD(w->st, payload_set, 1);
	}
}

/* Judge the prepared packets, in the order received: each run of consecutive packets at the
 * same hook in one pf_engine_eval_batch() call (up to jobs_max), whose results are those of
 * pf_engine_eval() on each packet in turn. */
static void judge_jobs(struct worker *w, pf_engine *e)
{
	for (unsigned i = 0; i < w->njobs;) {
		unsigned hook = w->jobs[i].hook, k = 0;
		for (; i + k < w->njobs && w->jobs[i + k].hook == hook; k++) {
			const struct job *j = &w->jobs[i + k];
			struct pf_batch_item *it = &w->items[k];
			it->buf = j->buf;
			it->len = j->len;
			it->buflen = j->room;
			it->meta = &j->m;
			it->res = &w->res[k];
		}
		pf_engine_eval_batch(e, (enum pf_nf_hook)hook, w->items, k);
		for (unsigned x = 0; x < k; x++)
			finish(w, &w->jobs[i + x], &w->res[x], w->items[x].rc);
		i += k;
	}
	w->njobs = 0;
}

/* ---- verdicts ---- */

static void flush_send(struct worker *w)
{
	if (!w->slen)
		return;
	if (mnl_socket_sendto(w->nl, w->sbuf, w->slen) < 0)
		STAT_ADD(w->st, send_errors, 1);
	STAT_ADD(w->st, sendmsgs, 1);
	w->slen = 0;
}

static struct nlmsghdr *put_msg(struct worker *w, int type, size_t need)
{
	if (w->slen + need + 256 > SEND_CAP)
		flush_send(w);
	struct nlmsghdr *nlh = nfq_nlmsg_put(w->sbuf + w->slen, type, w->qnum);
	return nlh;
}

static void emit_verdicts(struct worker *w)
{
	for (unsigned i = 0; i < w->npend;) {
		struct pend *p = &w->pend[i];
		unsigned j = i + 1;
		if (p->plain)
			while (j < w->npend && w->pend[j].plain && w->pend[j].verdict == p->verdict)
				j++;
		struct nlmsghdr *nlh;
		if (j - i > 1) {
			/* every queued packet up to this id, in order: they are exactly ours */
			nlh = put_msg(w, NFQNL_MSG_VERDICT_BATCH, 0);
			nfq_nlmsg_verdict_put(nlh, (int)w->pend[j - 1].id, (int)p->verdict);
			STAT_ADD(w->st, batch_verdicts, 1);
		} else {
			nlh = put_msg(w, NFQNL_MSG_VERDICT, p->pkt ? p->len : 0);
			nfq_nlmsg_verdict_put(nlh, (int)p->id, (int)p->verdict);
			if (p->set_mark)
				nfq_nlmsg_verdict_put_mark(nlh, p->mark);
			if (p->set_ctmark) {
				struct nlattr *nest = mnl_attr_nest_start(nlh, NFQA_CT);
				mnl_attr_put_u32(nlh, CTA_MARK, htonl(p->ctmark));
				mnl_attr_nest_end(nlh, nest);
			}
			if (p->pkt)
				nfq_nlmsg_verdict_put_pkt(nlh, p->pkt, p->len);
		}
		STAT_ADD(w->st, verdict_msgs, 1);
		w->slen += NLMSG_ALIGN(nlh->nlmsg_len);
		i = j;
	}
	flush_send(w);
	w->npend = 0;
}

static unsigned log2_bucket(uint64_t v, unsigned n)
{
	unsigned b = 0;
	while (v > 1 && b + 1 < n) {
		v >>= 1;
		b++;
	}
	return b;
}

static void reconfigure(struct worker *w, const struct qcfg *q, uint64_t now)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = config_msg(w, buf, q, false, ++w->cfg_seq);
	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0)
		STAT_ADD(w->st, send_errors, 1);
	w->applied = *q;
	w->reconf_until = now + 50 * 1000000ULL;
	STAT_ADD(w->st, reconfigs, 1);
}

/* Apply the control thread's post (single-rule changes) to this worker's engine, between
 * batches: nothing evaluates on the engine meanwhile. */
static void apply_post(struct worker *w, uint64_t seq)
{
	const struct gen *g = rcu_dereference(D.cur);
	if (change_apply(g->eng[w->idx], D.post.ops, D.post.n))
		__atomic_store_n(&w->failed_seq, seq, __ATOMIC_RELAXED);
	w->q = D.post.q;
	w->gen_id = g->id;
	__atomic_store_n(&w->acked, seq, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(D.ack_fd, &one, sizeof(one)) < 0)
		STAT_ADD(w->st, send_errors, 1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "pktfiltd-q%u", w->qnum);
	pthread_setname_np(pthread_self(), name);
	urcu_qsbr_register_thread();
	while (!D.stop) {
		urcu_qsbr_thread_offline();
		for (unsigned i = 0; i < w->batch; i++) {
			w->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_nl);
			w->msgs[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(w->fd, w->msgs, w->batch, MSG_WAITFORONE, NULL);
		urcu_qsbr_thread_online();
		uint64_t post = __atomic_load_n(&D.post_seq, __ATOMIC_ACQUIRE);
		if (post != w->acked)
			apply_post(w, post);
		if (n <= 0) {
			if (n < 0 && errno == ENOBUFS)
				STAT_ADD(w->st, enobufs, 1);
			else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				STAT_ADD(w->st, recv_errors, 1);
			continue;
		}
		uint64_t t0 = pfd_now_ns();
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt); /* -m time reads the wall clock */
		uint64_t wall = (uint64_t)rt.tv_sec * 1000000000ULL + (uint64_t)rt.tv_nsec;
		w->now_mono = t0;
		const struct gen *g = rcu_dereference(D.cur);
		if (g->id != w->gen_id) { /* a new generation: its needs */
			w->q = g->q;
			w->gen_id = g->id;
		}
		pf_engine *eng = g->eng[w->idx];
		bool stale = t0 < w->reconf_until;
		if (w->q.range != w->applied.range || w->q.flags != w->applied.flags) {
			reconfigure(w, &w->q, t0);
			stale = true;
		}
		unsigned npk = 0;
		for (int i = 0; i < n; i++) {
			if (w->names[i].nl_pid != 0)
				continue; /* not from the kernel */
			char *slot = w->rbuf + (size_t)i * SLOT_SIZE;
			int len = (int)w->msgs[i].msg_len;
			for (struct nlmsghdr *m = (struct nlmsghdr *)slot; mnl_nlmsg_ok(m, len);
			     m = mnl_nlmsg_next(m, &len)) {
				if (m->nlmsg_type == NLMSG_ERROR) {
					const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
					if (e->error && m->nlmsg_seq &&
					    m->nlmsg_seq == w->cfg_seq) {
						if (++w->cfg_failures <= 3) {
							pfd_log(LOG_WARNING,
								"pktfiltd: queue %u: configuration "
								"refused: %s",
								w->qnum, strerror(-e->error));
							w->applied.range = 0; /* try again */
						}
					} else if (e->error) {
						STAT_ADD(w->st, verdict_errors, 1);
					}
					continue;
				}
				if ((m->nlmsg_type & 0xff) != NFQNL_MSG_PACKET)
					continue;
				const struct nlattr *tb[PFD_NFQA_MAXATTR] = {0};
				if (mnl_attr_parse(m, sizeof(struct nfgenmsg), attr_cb, tb) < 0 ||
				    !tb[NFQA_PACKET_HDR])
					continue;
				if (w->npend == w->batch * 4) {
					judge_jobs(w, eng);
					emit_verdicts(w);
				}
				/* the packet may grow up to the next message, if any */
				int mlen = (int)NLMSG_ALIGN(m->nlmsg_len);
				const char *end =
				    len > mlen ? (const char *)m + mlen : slot + SLOT_SIZE;
				prepare(w, tb, end, t0, wall, stale, &w->pend[w->npend++]);
				if (w->njobs == w->jobs_max)
					judge_jobs(w, eng);
				npk++;
			}
		}
		judge_jobs(w, eng);
		emit_verdicts(w);
		uint64_t t1 = pfd_now_ns();
		STAT_ADD(w->st, batches, 1);
		STAT_ADD(w->st, batch_pkts, npk);
		if (npk) /* not a batch of acknowledgements only */
			STAT_ADD(w->st, batch_hist[log2_bucket(npk, PFD_BATCH_BUCKETS)], 1);
		STAT_ADD(w->st, lat_sum_ns, (t1 - t0) * npk);
		unsigned lb;
		if (t1 - t0 < 1000)
			lb = 0;
		else
			lb = log2_bucket((t1 - t0) / 1000, PFD_LAT_BUCKETS - 1) + 1;
		STAT_ADD(w->st, lat_hist[lb], npk);
	}
	urcu_qsbr_thread_offline();
	urcu_qsbr_unregister_thread();
	return NULL;
}

/* ---- start and stop ---- */

static int worker_open(struct worker *w, const struct qcfg *q)
{
	w->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!w->nl)
		return -1;
	if (mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	w->fd = mnl_socket_get_fd(w->nl);
	fcntl(w->fd, F_SETFD, FD_CLOEXEC); /* not into the iptables we run */
	int one = 1;
	/* queue overflows are reported (ENOBUFS), counted, and never fatal */
	setsockopt(w->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &(int){0}, sizeof(int));
	setsockopt(w->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVBUFFORCE, &D.rcvbuf, sizeof(D.rcvbuf)))
		setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &D.rcvbuf, sizeof(D.rcvbuf));
	int sndbuf = 4 << 20;
	if (setsockopt(w->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(w->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000}; /* to notice a stop request */
	setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	w->rawfd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	w->ioctlfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (w->rawfd < 0 || w->ioctlfd < 0)
		return -1;
	w->rbuf = malloc((size_t)w->batch * SLOT_SIZE);
	w->msgs = calloc(w->batch, sizeof(*w->msgs));
	w->iov = calloc(w->batch, sizeof(*w->iov));
	w->names = calloc(w->batch, sizeof(*w->names));
	w->pend = calloc(w->batch * 4, sizeof(*w->pend)); /* a datagram may hold several */
	w->jobs_max = w->batch * 4 < JOBS_MAX ? w->batch * 4 : JOBS_MAX;
	w->jobs = calloc(w->jobs_max, sizeof(*w->jobs));
	w->items = calloc(w->jobs_max, sizeof(*w->items));
	w->res = calloc(w->jobs_max, sizeof(*w->res));
	w->sbuf = malloc(SEND_CAP);
	if (!w->rbuf || !w->msgs || !w->iov || !w->names || !w->pend || !w->jobs || !w->items ||
	    !w->res || !w->sbuf)
		return -1;
	for (unsigned i = 0; i < w->batch; i++) {
		w->iov[i].iov_base = w->rbuf + (size_t)i * SLOT_SIZE;
		w->iov[i].iov_len = SLOT_SIZE;
		w->msgs[i].msg_hdr.msg_iov = &w->iov[i];
		w->msgs[i].msg_hdr.msg_iovlen = 1;
		w->msgs[i].msg_hdr.msg_name = &w->names[i];
		w->msgs[i].msg_hdr.msg_namelen = sizeof(w->names[i]);
	}
	return worker_setup(w, q);
}

static void worker_close(struct worker *w)
{
	if (w->nl)
		mnl_socket_close(w->nl);
	if (w->rawfd >= 0)
		close(w->rawfd);
	if (w->ioctlfd >= 0)
		close(w->ioctlfd);
	free(w->rbuf);
	free(w->msgs);
	free(w->iov);
	free(w->names);
	free(w->pend);
	free(w->jobs);
	free(w->items);
	free(w->res);
	free(w->sbuf);
}

int workers_prepare(void)
{
	unsigned nq = D.qlast - D.qfirst + 1;
	D.workers = calloc(nq, sizeof(struct worker));
	D.host_opaque = calloc(nq, sizeof(void *));
	D.stats = aligned_alloc(64, ((nq * sizeof(struct wstats) + 63) / 64) * 64);
	if (!D.workers || !D.stats || !D.host_opaque)
		return -1;
	memset(D.stats, 0, nq * sizeof(struct wstats));
	for (unsigned i = 0; i < nq; i++) {
		struct worker *w = &D.workers[i];
		w->idx = i;
		w->qnum = (uint16_t)(D.qfirst + i);
		w->st = &D.stats[i];
		w->batch = D.batch;
		w->rawfd = w->ioctlfd = -1;
		D.host_opaque[i] = w;
	}
	D.addr_type = addr_type_cb;
	return 0;
}

int workers_start(void)
{
	unsigned nq = D.qlast - D.qfirst + 1;
	for (unsigned i = 0; i < nq; i++) {
		struct worker *w = &D.workers[i];
		w->q = D.cur->q;
		w->gen_id = D.cur->id;
		w->acked = D.post_seq;
		if (worker_open(w, &D.cur->q)) {
			pfd_log(LOG_ERR, "pktfiltd: cannot bind NFQUEUE queue %u: %s", w->qnum,
				strerror(errno));
			return -1;
		}
	}
	for (unsigned i = 0; i < nq; i++) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		if (D.ncpus) { /* --cpus: worker i on the i-th CPU of the list, cycling */
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(D.cpus[i % D.ncpus], &set);
			pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		}
		int rc = pthread_create(&D.workers[i].th, &attr, worker_main, &D.workers[i]);
		pthread_attr_destroy(&attr);
		if (rc) {
			pfd_log(LOG_ERR, "pktfiltd: cannot start the worker of queue %u: %s",
				D.workers[i].qnum, strerror(rc));
			return -1;
		}
		D.workers[i].started = true;
	}
	return 0;
}

void workers_stop(void)
{
	if (!D.workers)
		return;
	D.stop = 1;
	unsigned nq = D.qlast - D.qfirst + 1;
	D.stop = 1;
	for (unsigned i = 0; i < nq; i++)
		if (D.workers[i].started)
			pthread_join(D.workers[i].th, NULL);
	for (unsigned i = 0; i < nq; i++)
		worker_close(&D.workers[i]);
	free(D.workers);
	D.workers = NULL;
	free(D.host_opaque);
	D.host_opaque = NULL;
}

void workers_wake(void)
{
	if (!D.workers)
		return;
	struct nlmsghdr h = {.nlmsg_len = sizeof(h), .nlmsg_type = NLMSG_NOOP};
	unsigned nq = D.qlast - D.qfirst + 1;
	for (unsigned i = 0; i < nq; i++) {
		struct worker *w = &D.workers[i];
		if (!w->started || !w->nl ||
		    __atomic_load_n(&w->acked, __ATOMIC_ACQUIRE) == D.post_seq)
			continue;
		/* it comes from a user port: the worker skips it, and has woken up */
		struct sockaddr_nl dst = {.nl_family = AF_NETLINK,
					  .nl_pid = mnl_socket_get_portid(w->nl)};
		sendto(D.wake_fd, &h, sizeof(h), MSG_DONTWAIT, (struct sockaddr *)&dst,
		       sizeof(dst));
	}
}

unsigned workers_acked(uint64_t seq, bool *failed)
{
	unsigned n = 0, nq = D.qlast - D.qfirst + 1;
	for (unsigned i = 0; D.workers && i < nq; i++) {
		struct worker *w = &D.workers[i];
		if (!w->started || __atomic_load_n(&w->acked, __ATOMIC_ACQUIRE) >= seq) {
			n++;
			if (__atomic_load_n(&w->failed_seq, __ATOMIC_RELAXED) == seq)
				*failed = true;
		}
	}
	return n;
}

/* ---- statistics text ---- */

/* /proc/net/netfilter/nfnetlink_queue: queue, portid, waiting, copy mode, copy range,
 * queue_dropped (queue full), queue_user_dropped (netlink delivery failed), last id, 1. */
void kernel_queues(struct kq *kq, unsigned nq)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	if (!f)
		return;
	unsigned q, portid, total, mode, range, dropped, udropped, idseq, one;
	while (fscanf(f, "%u %u %u %u %u %u %u %u %u", &q, &portid, &total, &mode, &range, &dropped,
		      &udropped, &idseq, &one) == 9) {
		if (q < D.qfirst || q > D.qlast || q - D.qfirst >= nq)
			continue;
		struct kq *k = &kq[q - D.qfirst];
		k->waiting = total;
		k->dropped = dropped;
		k->user_dropped = udropped;
		k->seen = true;
	}
	fclose(f);
}

void stats_text(char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);
	if (!f)
		return;
	unsigned nq = D.qlast - D.qfirst + 1;
	struct kq kq[PFD_MAX_QUEUES];
	memset(kq, 0, sizeof(kq));
	kernel_queues(kq, nq);
	double up = (double)(pfd_now_ns() - D.started_ns) / 1e9;
	fprintf(f,
		"pktfiltd: %u queue%s (%u-%u), up %.0f s, rule set generation %llu, reloads "
		"%llu (%llu refused)\n",
		nq, nq > 1 ? "s" : "", D.qfirst, D.qlast, up,
		(unsigned long long)(D.cur ? D.cur->seq : 0), (unsigned long long)D.reloads,
		(unsigned long long)D.reload_failures);
	if (D.cur)
		fprintf(f, "copy range %u bytes, flags%s%s%s%s, hooks 0x%x\n", D.cur->q.range,
			(D.cur->q.flags & NFQA_CFG_F_FAIL_OPEN) ? " fail-open" : "",
			(D.cur->q.flags & NFQA_CFG_F_GSO) ? " gso" : "",
			(D.cur->q.flags & NFQA_CFG_F_CONNTRACK) ? " conntrack" : "",
			(D.cur->q.flags & NFQA_CFG_F_UID_GID) ? " uid-gid" : "", D.cur->q.hooks);
	struct wstats tot;
	memset(&tot, 0, sizeof(tot));
	fprintf(f, "%-6s %12s %14s %10s %10s %10s %8s %8s %8s %8s %10s %8s %8s\n", "queue",
		"packets", "bytes", "accept", "drop", "reject", "queue", "repeat", "malform",
		"enobufs", "batches", "qdrop", "udrop");
	for (unsigned i = 0; i < nq; i++) {
		struct wstats *s = &D.stats[i];
#define G(x) STAT_GET(s, x)
		fprintf(f,
			"%-6u %12llu %14llu %10llu %10llu %10llu %8llu %8llu %8llu %8llu %10llu "
			"%8u %8u\n",
			D.qfirst + i, (unsigned long long)G(packets), (unsigned long long)G(bytes),
			(unsigned long long)G(accept), (unsigned long long)G(drop),
			(unsigned long long)G(reject), (unsigned long long)G(queue),
			(unsigned long long)G(repeat), (unsigned long long)G(malformed),
			(unsigned long long)G(enobufs), (unsigned long long)G(batches),
			kq[i].dropped, kq[i].user_dropped);
		tot.packets += G(packets);
		tot.bytes += G(bytes);
		tot.accept += G(accept);
		tot.drop += G(drop);
		tot.reject += G(reject);
		tot.queue += G(queue);
		tot.repeat += G(repeat);
		tot.malformed += G(malformed);
		tot.enobufs += G(enobufs);
		tot.batches += G(batches);
		tot.mark_set += G(mark_set);
		tot.payload_set += G(payload_set);
		tot.non_ipv4 += G(non_ipv4);
		tot.other += G(other);
		tot.recv_errors += G(recv_errors);
		tot.send_errors += G(send_errors);
		tot.verdict_errors += G(verdict_errors);
		tot.verdict_msgs += G(verdict_msgs);
		tot.batch_verdicts += G(batch_verdicts);
		tot.sendmsgs += G(sendmsgs);
		tot.reconfigs += G(reconfigs);
		for (int b = 0; b < PFD_BATCH_BUCKETS; b++)
			tot.batch_hist[b] += G(batch_hist[b]);
		for (int b = 0; b < PFD_LAT_BUCKETS; b++)
			tot.lat_hist[b] += G(lat_hist[b]);
#undef G
	}
	fprintf(f, "%-6s %12llu %14llu %10llu %10llu %10llu %8llu %8llu %8llu %8llu %10llu\n",
		"all", (unsigned long long)tot.packets, (unsigned long long)tot.bytes,
		(unsigned long long)tot.accept, (unsigned long long)tot.drop,
		(unsigned long long)tot.reject, (unsigned long long)tot.queue,
		(unsigned long long)tot.repeat, (unsigned long long)tot.malformed,
		(unsigned long long)tot.enobufs, (unsigned long long)tot.batches);
	fprintf(
	    f,
	    "marks set %llu, packets changed %llu, not IPv4 %llu, NFQUEUE to our own queues "
	    "(dropped) %llu, receive errors %llu, send errors %llu, verdicts refused %llu, queue "
	    "reconfigurations %llu\n",
	    (unsigned long long)tot.mark_set, (unsigned long long)tot.payload_set,
	    (unsigned long long)tot.non_ipv4, (unsigned long long)tot.other,
	    (unsigned long long)tot.recv_errors, (unsigned long long)tot.send_errors,
	    (unsigned long long)tot.verdict_errors, (unsigned long long)tot.reconfigs);
	fprintf(f, "verdict messages %llu (%llu batch verdicts) in %llu sends\n",
		(unsigned long long)tot.verdict_msgs, (unsigned long long)tot.batch_verdicts,
		(unsigned long long)tot.sendmsgs);
	fprintf(f, "batch sizes:");
	for (int b = 0; b < PFD_BATCH_BUCKETS; b++)
		if (tot.batch_hist[b])
			fprintf(f, " %u+:%llu", 1u << b, (unsigned long long)tot.batch_hist[b]);
	fprintf(f, "\nlatency (receive to verdict, packets):");
	for (int b = 0; b < PFD_LAT_BUCKETS; b++)
		if (tot.lat_hist[b]) {
			if (b == 0)
				fprintf(f, " <1us:%llu", (unsigned long long)tot.lat_hist[b]);
			else
				fprintf(f, " <%lluus:%llu", 1ULL << b,
					(unsigned long long)tot.lat_hist[b]);
		}
	fprintf(f, "\nkernel: qdrop = dropped on a full queue, udrop = not delivered to us "
		   "(socket buffer full)\n");
	fclose(f);
}
