/*
 * udp_blast.c - a UDP sender for the daemon bench: sendmmsg() batches of small datagrams from
 * one socket per source address (several flows, so that --queue-balance spreads them), as
 * fast as it can or at a given rate, for a given time. Prints what it sent.
 *
 * Usage: udp_blast -d DST[:PORT] [-s SRC[,SRC...]] [-t SECONDS] [-l PAYLOAD] [-b BATCH]
 *                  [-r PACKETS_PER_SECOND] [-c CPU] [-P SPORTS]
 *   -s: source addresses (one socket each, bound to them); default: the kernel's choice
 *   -P: source ports per address (default 1): each (address, port) is a flow
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS 256
#define MAX_BATCH 1024

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(void)
{
	fprintf(stderr, "usage: udp_blast -d DST[:PORT] [-s SRC[,SRC...]] [-t SECONDS] [-l PAYLOAD]"
			" [-b BATCH] [-r PPS] [-c CPU] [-P SPORTS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dst = NULL, *srcs = NULL;
	double seconds = 3;
	unsigned payload = 18, batch = 64, sports = 1;
	double rate = 0;
	int cpu = -1, c;
	while ((c = getopt(argc, argv, "d:s:t:l:b:r:c:P:")) != -1) {
		switch (c) {
		case 'd':
			dst = optarg;
			break;
		case 's':
			srcs = optarg;
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'l':
			payload = (unsigned)atoi(optarg);
			break;
		case 'b':
			batch = (unsigned)atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'P':
			sports = (unsigned)atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!dst || batch < 1 || batch > MAX_BATCH || payload > 1400 || sports < 1 || seconds <= 0)
		usage();
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			perror("udp_blast: sched_setaffinity");
	}
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	char host[64];
	snprintf(host, sizeof(host), "%s", dst);
	char *colon = strchr(host, ':');
	if (colon) {
		*colon = '\0';
		to.sin_port = htons((uint16_t)atoi(colon + 1));
	}
	if (inet_pton(AF_INET, host, &to.sin_addr) != 1)
		usage();

	int fds[MAX_FLOWS];
	unsigned nfd = 0;
	char list[1024];
	snprintf(list, sizeof(list), "%s", srcs ? srcs : "");
	char *save = NULL;
	char *tok = srcs ? strtok_r(list, ",", &save) : NULL;
	do {
		for (unsigned p = 0; p < sports && nfd < MAX_FLOWS; p++) {
			int fd = socket(AF_INET, SOCK_DGRAM, 0);
			if (fd < 0) {
				perror("udp_blast: socket");
				return 1;
			}
			int sndbuf = 4 << 20;
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
			if (tok) {
				struct sockaddr_in from = {.sin_family = AF_INET};
				if (inet_pton(AF_INET, tok, &from.sin_addr) != 1)
					usage();
				if (bind(fd, (struct sockaddr *)&from, sizeof(from))) {
					perror("udp_blast: bind");
					return 1;
				}
			}
			if (connect(fd, (struct sockaddr *)&to, sizeof(to))) {
				perror("udp_blast: connect");
				return 1;
			}
			fds[nfd++] = fd;
		}
		tok = srcs ? strtok_r(NULL, ",", &save) : NULL;
	} while (tok && nfd < MAX_FLOWS);

	static char data[MAX_BATCH][1500];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	for (unsigned i = 0; i < batch; i++) {
		memset(data[i], 'x', payload);
		iov[i].iov_base = data[i];
		iov[i].iov_len = payload;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	uint64_t sent = 0, errors = 0, t0 = now_ns();
	uint64_t end = t0 + (uint64_t)(seconds * 1e9);
	unsigned f = 0;
	for (uint64_t t = t0; t < end; t = now_ns()) {
		if (rate > 0) {
			/* packets due by now */
			uint64_t due = (uint64_t)((double)(t - t0) * rate / 1e9);
			if (sent >= due) {
				struct timespec ts = {0, 20000};
				nanosleep(&ts, NULL);
				continue;
			}
		}
		for (unsigned i = 0; i < batch; i++) /* a sequence number in each datagram */
			memcpy(data[i], &(uint64_t){sent + i}, payload >= 8 ? 8 : payload);
		int n = sendmmsg(fds[f], msgs, batch, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
			errors++;
		f = (f + 1) % nfd;
	}
	double el = (double)(now_ns() - t0) / 1e9;
	printf(
	    "udp_blast: sent %llu packets in %.2f s (%.0f packets/s) over %u flows, %llu errors\n",
	    (unsigned long long)sent, el, (double)sent / el, nfd, (unsigned long long)errors);
	return 0;
}
