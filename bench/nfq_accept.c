/*
 * nfq_accept.c - the limit of the NFQUEUE path for the daemon bench: accepts every packet,
 * received and answered the way pktfiltd does it (libmnl, recvmmsg batches, one
 * NFQNL_MSG_VERDICT_BATCH per received batch, the same copy range and socket buffers), one
 * thread per queue. Runs until SIGINT/SIGTERM, then prints what it saw.
 *
 * Usage: nfq_accept [-q A[-B]] [-r COPY_RANGE] [-b BATCH] [-c CPU[,CPU...]] [-f]
 *   -r: bytes of each packet copied to user space (default 256, pktfiltd's header-only copy)
 *   -f: NFQA_CFG_F_FAIL_OPEN (accept when the queue is full; default: the kernel drops)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>

#define SLOT 4096
#define MAX_Q 64

static volatile sig_atomic_t stop;
static unsigned batch = 64, range = 256;
static bool fail_open;

struct q {
	uint16_t num;
	int cpu;
	pthread_t th;
	uint64_t packets, batches, enobufs;
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	if (mnl_attr_get_type(a) <= NFQA_MAX)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int configure(struct mnl_socket *nl, uint16_t qnum)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qnum);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 8192);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(fail_open ? NFQA_CFG_F_FAIL_OPEN : 0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return mnl_cb_run(buf, (size_t)n, 0, 0, NULL, NULL) < 0 ? -1 : 0;
}

static void *run(void *arg)
{
	struct q *q = arg;
	if (q->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(q->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nfq_accept: netlink");
		exit(1);
	}
	int fd = mnl_socket_get_fd(nl);
	int rcvbuf = 64 << 20, one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &(int){0}, sizeof(int));
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (configure(nl, q->num)) {
		fprintf(stderr, "nfq_accept: cannot bind queue %u: %s\n", q->num, strerror(errno));
		exit(1);
	}
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char *rbuf = malloc((size_t)batch * SLOT);
	struct mmsghdr *msgs = calloc(batch, sizeof(*msgs));
	struct iovec *iov = calloc(batch, sizeof(*iov));
	if (!rbuf || !msgs || !iov)
		exit(1);
	for (unsigned i = 0; i < batch; i++) {
		iov[i].iov_base = rbuf + (size_t)i * SLOT;
		iov[i].iov_len = SLOT;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	char sbuf[256];
	while (!stop) {
		int n = recvmmsg(fd, msgs, batch, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			if (n < 0 && errno == ENOBUFS)
				q->enobufs++;
			continue;
		}
		uint32_t last = 0;
		unsigned got = 0;
		for (int i = 0; i < n; i++) {
			int len = (int)msgs[i].msg_len;
			for (struct nlmsghdr *m = (struct nlmsghdr *)(rbuf + (size_t)i * SLOT);
			     mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
				if ((m->nlmsg_type & 0xff) != NFQNL_MSG_PACKET)
					continue;
				const struct nlattr *tb[NFQA_MAX + 1] = {0};
				if (mnl_attr_parse(m, sizeof(struct nfgenmsg), attr_cb, tb) < 0 ||
				    !tb[NFQA_PACKET_HDR])
					continue;
				const struct nfqnl_msg_packet_hdr *ph =
				    mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
				last = ntohl(ph->packet_id);
				got++;
			}
		}
		if (!got)
			continue;
		/* every packet queued up to the last id we saw: exactly the ones received */
		struct nlmsghdr *nlh = nfq_nlmsg_put(sbuf, NFQNL_MSG_VERDICT_BATCH, q->num);
		nfq_nlmsg_verdict_put(nlh, (int)last, NF_ACCEPT);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
			perror("nfq_accept: verdict");
		q->packets += got;
		q->batches++;
	}
	mnl_socket_close(nl);
	free(rbuf);
	free(msgs);
	free(iov);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned qa = 0, qb = 0;
	const char *cpus = NULL;
	int c;
	while ((c = getopt(argc, argv, "q:r:b:c:f")) != -1) {
		switch (c) {
		case 'q':
			if (sscanf(optarg, "%u-%u", &qa, &qb) != 2)
				qb = qa = (unsigned)atoi(optarg);
			break;
		case 'r':
			range = (unsigned)atoi(optarg);
			break;
		case 'b':
			batch = (unsigned)atoi(optarg);
			break;
		case 'c':
			cpus = optarg;
			break;
		case 'f':
			fail_open = true;
			break;
		default:
			fprintf(stderr, "usage: nfq_accept [-q A[-B]] [-r RANGE] [-b BATCH] "
					"[-c CPU[,CPU...]] [-f]\n");
			return 2;
		}
	}
	if (qb < qa || qb - qa >= MAX_Q || batch < 1 || batch > 1024 || range > 65535) {
		fprintf(stderr, "nfq_accept: bad arguments\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	static struct q qs[MAX_Q];
	unsigned nq = qb - qa + 1;
	int cpu_list[MAX_Q], ncpu = 0;
	if (cpus) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", cpus);
		char *save = NULL;
		for (char *t = strtok_r(tmp, ",", &save); t && ncpu < MAX_Q;
		     t = strtok_r(NULL, ",", &save))
			cpu_list[ncpu++] = atoi(t);
	}
	for (unsigned i = 0; i < nq; i++) {
		qs[i].num = (uint16_t)(qa + i);
		qs[i].cpu = ncpu ? cpu_list[i % (unsigned)ncpu] : -1;
		pthread_create(&qs[i].th, NULL, run, &qs[i]);
	}
	uint64_t tot = 0;
	for (unsigned i = 0; i < nq; i++) {
		pthread_join(qs[i].th, NULL);
		printf("nfq_accept: queue %u: %llu packets in %llu batches, %llu ENOBUFS\n",
		       qs[i].num, (unsigned long long)qs[i].packets,
		       (unsigned long long)qs[i].batches, (unsigned long long)qs[i].enobufs);
		tot += qs[i].packets;
	}
	printf("nfq_accept: %llu packets\n", (unsigned long long)tot);
	return 0;
}
