/*
 * metrics.c - --metrics-listen ADDR:PORT: the workers' statistics in Prometheus' text
 * exposition format (version 0.0.4), over HTTP/1.0 on a TCP socket, served one request at a
 * time by a thread of its own. Off by default. The numbers are those of `pktfilt --stats`:
 * per-worker counters (single writer, read whole with relaxed atomics) summed by nobody —
 * each queue is its own series — plus the kernel's per-queue counters from
 * /proc/net/netfilter/nfnetlink_queue.
 *
 * The thread is an RCU (QSBR) reader only while it reads the live generation's number and
 * copy range; it never blocks a reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include <linux/netfilter/nfnetlink_queue.h>
#include <urcu/urcu-qsbr.h>

#include "pktfiltd.h"

static int lfd = -1;
static int wake[2] = {-1, -1};
static pthread_t th;
static bool running;

/* "ADDR:PORT", ":PORT" (every address) or "[V6ADDR]:PORT". */
static int listen_on(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || !colon[1] || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	char *h = host;
	if (h[0] == '[') {
		size_t n = strlen(h);
		if (n < 2 || h[n - 1] != ']')
			return -1;
		h[n - 1] = '\0';
		h++;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
	if (rc) {
		pfd_log(LOG_ERR, "pktfiltd: --metrics-listen %s: %s", spec, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 16) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		pfd_log(LOG_ERR, "pktfiltd: --metrics-listen %s: %s", spec, strerror(errno));
	return fd;
}

/* ---- the text ---- */

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define U(x) ((unsigned long long)(x))

/* One counter series per queue: field of struct wstats. */
#define PER_QUEUE(f, name, help, field)                                                            \
	do {                                                                                       \
		head(f, name, "counter", help);                                                    \
		for (unsigned i = 0; i < nq; i++)                                                  \
			fprintf(f, "%s{queue=\"%u\"} %llu\n", name, D.qfirst + i,                  \
				U(STAT_GET(&D.stats[i], field)));                                  \
	} while (0)

/* One value per queue from nfnetlink_queue's own view (queues it listed only). */
#define PER_KQUEUE(f, name, type, help, field)                                                     \
	do {                                                                                       \
		head(f, name, type, help);                                                         \
		for (unsigned i = 0; i < nq; i++)                                                  \
			if (kq[i].seen)                                                            \
				fprintf(f, "%s{queue=\"%u\"} %u\n", name, D.qfirst + i,            \
					kq[i].field);                                              \
	} while (0)

static void metrics_text(FILE *f)
{
	unsigned nq = D.qlast - D.qfirst + 1;
	struct kq kq[PFD_MAX_QUEUES];
	memset(kq, 0, sizeof(kq));
	kernel_queues(kq, nq);

	urcu_qsbr_thread_online();
	const struct gen *g = rcu_dereference(D.cur);
	unsigned long long seq = g ? g->seq : 0;
	unsigned range = g ? g->q.range : 0;
	urcu_qsbr_thread_offline();

	head(f, "pktfiltd_up_seconds", "gauge", "Seconds since the daemon started.");
	fprintf(f, "pktfiltd_up_seconds %.3f\n", (double)(pfd_now_ns() - D.started_ns) / 1e9);
	head(f, "pktfiltd_ruleset_generation", "gauge",
	     "Number of the live rule set version (one more at each change).");
	fprintf(f, "pktfiltd_ruleset_generation %llu\n", seq);
	head(f, "pktfiltd_reloads_total", "counter", "Rules file reloads (SIGHUP, RELOAD).");
	fprintf(f, "pktfiltd_reloads_total %llu\n",
		U(__atomic_load_n(&D.reloads, __ATOMIC_RELAXED)));
	head(f, "pktfiltd_reload_failures_total", "counter",
	     "Reloads refused (the file had an error; the running rules stayed).");
	fprintf(f, "pktfiltd_reload_failures_total %llu\n",
		U(__atomic_load_n(&D.reload_failures, __ATOMIC_RELAXED)));
	head(f, "pktfiltd_copy_range_bytes", "gauge",
	     "Bytes of each packet the kernel copies to the daemon.");
	fprintf(f, "pktfiltd_copy_range_bytes %u\n", range);

	PER_QUEUE(f, "pktfiltd_packets_total", "Packets judged, per queue.", packets);
	PER_QUEUE(f, "pktfiltd_bytes_total", "Bytes of the packets judged, per queue.", bytes);

	head(f, "pktfiltd_verdicts_total", "counter",
	     "Verdicts by kind, per queue (reject: dropped with a reply; queue: to another "
	     "NFQUEUE queue; repeat: sent through the hook again after a reconfiguration; "
	     "selfqueue: NFQUEUE to one of our own queues, dropped).");
	static const char *const kinds[] = {"accept", "drop",	"reject",
					    "queue",  "repeat", "selfqueue"};
	for (unsigned i = 0; i < nq; i++) {
		const struct wstats *s = &D.stats[i];
		const uint64_t v[] = {STAT_GET(s, accept), STAT_GET(s, drop),	STAT_GET(s, reject),
				      STAT_GET(s, queue),  STAT_GET(s, repeat), STAT_GET(s, other)};
		for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			fprintf(f, "pktfiltd_verdicts_total{queue=\"%u\",verdict=\"%s\"} %llu\n",
				D.qfirst + i, kinds[k], U(v[k]));
	}
	PER_QUEUE(f, "pktfiltd_malformed_total",
		  "Packets the kernel would drop before any hook (dropped; part of the drop "
		  "verdicts).",
		  malformed);
	PER_QUEUE(f, "pktfiltd_non_ipv4_total", "Packets that are not IPv4 (accepted).", non_ipv4);
	PER_QUEUE(f, "pktfiltd_marks_set_total", "Verdicts that carried a new (conntrack) mark.",
		  mark_set);
	PER_QUEUE(f, "pktfiltd_packets_changed_total", "Verdicts that carried a changed packet.",
		  payload_set);
	PER_QUEUE(f, "pktfiltd_enobufs_total",
		  "Receive overflows: the socket buffer was full and the kernel said ENOBUFS "
		  "(its packets were dropped, or accepted with fail-open).",
		  enobufs);
	PER_QUEUE(f, "pktfiltd_receive_errors_total", "Other receive errors.", recv_errors);
	PER_QUEUE(f, "pktfiltd_send_errors_total", "Verdict sends that failed.", send_errors);
	PER_QUEUE(f, "pktfiltd_verdict_errors_total", "Verdicts the kernel refused.",
		  verdict_errors);
	PER_QUEUE(f, "pktfiltd_verdict_messages_total",
		  "Verdict messages sent (a batch verdict answers a run of packets).",
		  verdict_msgs);
	PER_QUEUE(f, "pktfiltd_batch_verdicts_total", "Batch verdict messages sent.",
		  batch_verdicts);
	PER_QUEUE(f, "pktfiltd_verdict_sends_total", "sendmsg calls carrying verdicts.", sendmsgs);
	PER_QUEUE(f, "pktfiltd_queue_reconfigurations_total",
		  "Queue reconfigurations (copy range or flags changed with the rule set).",
		  reconfigs);

	PER_KQUEUE(f, "pktfiltd_kernel_queue_dropped_total", "counter",
		   "Packets the kernel dropped (or accepted with fail-open) because the queue was "
		   "full (nfnetlink_queue's queue_dropped).",
		   dropped);
	PER_KQUEUE(f, "pktfiltd_kernel_queue_user_dropped_total", "counter",
		   "Packets the kernel could not deliver to the daemon's socket (nfnetlink_queue's "
		   "queue_user_dropped).",
		   user_dropped);
	PER_KQUEUE(f, "pktfiltd_kernel_queue_waiting", "gauge",
		   "Packets waiting in the kernel's queue for a verdict.", waiting);

	/* batch sizes: bucket b holds [2^b, 2^(b+1)), the last one everything above */
	head(f, "pktfiltd_batch_size", "histogram", "Packets judged per receive batch.");
	for (unsigned i = 0; i < nq; i++) {
		const struct wstats *s = &D.stats[i];
		uint64_t cum = 0;
		for (unsigned b = 0; b < PFD_BATCH_BUCKETS; b++) {
			cum += STAT_GET(s, batch_hist[b]);
			if (b + 1 < PFD_BATCH_BUCKETS)
				fprintf(f,
					"pktfiltd_batch_size_bucket{queue=\"%u\",le=\"%u\"} %llu\n",
					D.qfirst + i, (2u << b) - 1, U(cum));
			else
				fprintf(
				    f,
				    "pktfiltd_batch_size_bucket{queue=\"%u\",le=\"+Inf\"} %llu\n",
				    D.qfirst + i, U(cum));
		}
		fprintf(f, "pktfiltd_batch_size_sum{queue=\"%u\"} %llu\n", D.qfirst + i,
			U(STAT_GET(s, batch_pkts)));
		fprintf(f, "pktfiltd_batch_size_count{queue=\"%u\"} %llu\n", D.qfirst + i, U(cum));
	}
	/* latency: bucket 0 is [0, 1us), bucket b [2^(b-1), 2^b) us, the last one the rest */
	head(f, "pktfiltd_latency_seconds", "histogram",
	     "Time from a packet's receive to its verdict's send (that of its batch).");
	for (unsigned i = 0; i < nq; i++) {
		const struct wstats *s = &D.stats[i];
		uint64_t cum = 0;
		for (unsigned b = 0; b < PFD_LAT_BUCKETS; b++) {
			cum += STAT_GET(s, lat_hist[b]);
			if (b + 1 < PFD_LAT_BUCKETS)
				fprintf(f,
					"pktfiltd_latency_seconds_bucket{queue=\"%u\",le=\"%g\"} "
					"%llu\n",
					D.qfirst + i, (double)(1ULL << b) * 1e-6, U(cum));
			else
				fprintf(f,
					"pktfiltd_latency_seconds_bucket{queue=\"%u\",le=\"+Inf\"} "
					"%llu\n",
					D.qfirst + i, U(cum));
		}
		fprintf(f, "pktfiltd_latency_seconds_sum{queue=\"%u\"} %.9f\n", D.qfirst + i,
			(double)STAT_GET(s, lat_sum_ns) / 1e9);
		fprintf(f, "pktfiltd_latency_seconds_count{queue=\"%u\"} %llu\n", D.qfirst + i,
			U(cum));
	}
}

/* ---- HTTP ---- */

/* Send the head and, unless head_only, the body. */
static void reply_ex(int fd, const char *status, const char *type, const char *body, size_t len,
		     bool head_only)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, len);
	struct iovec iov[2] = {{hdr, (size_t)n}, {(void *)body, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	if (head_only)
		mh.msg_iovlen = 1;
	size_t total = (size_t)n + (head_only ? 0 : len), done = 0;
	while (done < total) {
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		done += (size_t)w;
		while (w > 0 && mh.msg_iovlen) { /* advance past what was sent */
			if ((size_t)w >= mh.msg_iov->iov_len) {
				w -= (ssize_t)mh.msg_iov->iov_len;
				mh.msg_iov++;
				mh.msg_iovlen--;
			} else {
				mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + w;
				mh.msg_iov->iov_len -= (size_t)w;
				w = 0;
			}
		}
	}
}

static void reply(int fd, const char *status, const char *type, const char *body, size_t len)
{
	reply_ex(fd, status, type, body, len, false);
}

static void serve_one(int fd)
{
	char req[2048];
	size_t len = 0;
	/* the request head, within a second */
	while (len < sizeof(req) - 1) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 1000) != 1)
			return;
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	char method[8], path[256];
	if (sscanf(req, "%7s %255s", method, path) != 2) {
		reply(fd, "400 Bad Request", "text/plain", "bad request\n", 12);
		return;
	}
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	bool get = !strcmp(method, "GET"), headonly = !strcmp(method, "HEAD");
	if (!get && !headonly) {
		reply(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
		return;
	}
	if (strcmp(path, "/metrics") && strcmp(path, "/")) {
		reply(fd, "404 Not Found", "text/plain", "try /metrics\n", 13);
		return;
	}
	char *body = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&body, &blen);
	if (!f) {
		reply(fd, "500 Internal Server Error", "text/plain", "out of memory\n", 14);
		return;
	}
	metrics_text(f);
	fclose(f);
	reply_ex(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, blen, headonly);
	free(body);
}

static void *metrics_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "pktfiltd-metric");
	urcu_qsbr_register_thread();
	urcu_qsbr_thread_offline();
	for (;;) {
		struct pollfd p[2] = {{lfd, POLLIN, 0}, {wake[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* a client that does not read does not hold the thread (nor the daemon's exit) */
		struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_one(fd);
		close(fd);
	}
	urcu_qsbr_unregister_thread();
	return NULL;
}

int metrics_start(const char *spec)
{
	lfd = listen_on(spec);
	if (lfd < 0)
		return -1;
	if (pipe2(wake, O_CLOEXEC)) {
		close(lfd);
		lfd = -1;
		return -1;
	}
	if (pthread_create(&th, NULL, metrics_main, NULL)) {
		close(lfd);
		close(wake[0]);
		close(wake[1]);
		lfd = wake[0] = wake[1] = -1;
		return -1;
	}
	running = true;
	if (D.verbose)
		pfd_log(LOG_INFO, "pktfiltd: metrics on http://%s/metrics", spec);
	return 0;
}

void metrics_stop(void)
{
	if (!running)
		return;
	if (write(wake[1], "x", 1) != 1)
		pfd_log(LOG_WARNING, "pktfiltd: cannot stop the metrics thread");
	else
		pthread_join(th, NULL);
	close(lfd);
	close(wake[0]);
	close(wake[1]);
	lfd = wake[0] = wake[1] = -1;
	running = false;
}
