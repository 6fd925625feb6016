/*
 * pktfiltd.c - the NFQUEUE verdict daemon: options, the control socket, signals, start and
 * stop. See pktfiltd(8) and docs/daemon.md.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "ctl_proto.h"
#include "pktfiltd.h"

#define DEFAULT_RULES "/var/lib/pktfilt/rules.v4"

struct daemon D;

uint64_t pfd_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void pfd_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (D.use_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		char line[2048];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "%s\n", line);
	}
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pktfiltd [options]\n"
		"  -q, --queues A[-B]      NFQUEUE queues to serve, one worker thread each (0)\n"
		"  -r, --rules FILE        rules file, iptables-save -c format (%s)\n"
		"  -s, --socket PATH       control socket (%s)\n"
		"  -i, --install-hooks     add the kernel's NFQUEUE rules (chain PKTFILTD), remove "
		"them on exit\n"
		"      --iptables PROG     iptables program for --install-hooks (iptables-legacy)\n"
		"      --no-fail-open      drop, rather than accept, packets when a queue is full\n"
		"      --batch N           packets received per system call (64)\n"
		"      --queue-maxlen N    kernel queue length (8192)\n"
		"      --rcvbuf BYTES      socket receive buffer (67108864)\n"
		"      --matcher KIND      hashed (the library's default) or linear\n"
		"      --cpus LIST         run worker i on the i-th CPU of LIST (0,2-3), cycling\n"
		"      --metrics-listen ADDR:PORT\n"
		"                          serve Prometheus metrics on http://ADDR:PORT/metrics\n"
		"      --syslog            log to syslog rather than stderr\n"
		"  -v, --verbose           say more (twice: the iptables commands too)\n"
		"  -h, --help, -V, --version\n",
		DEFAULT_RULES, PF_DEFAULT_SOCKET);
}

static int parse_queues(const char *s)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10), b = a;
	if (end == s)
		return -1;
	if (*end == '-' || *end == ':') {
		const char *t = end + 1;
		b = strtoul(t, &end, 10);
		if (end == t)
			return -1;
	}
	if (*end || a > 65535 || b > 65535 || b < a || b - a + 1 > PFD_MAX_QUEUES)
		return -1;
	D.qfirst = (unsigned)a;
	D.qlast = (unsigned)b;
	return 0;
}

/* --cpus: a list of CPUs ("0,2-3") this process may run on. */
static int parse_cpus(const char *s)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		CPU_ZERO(&allowed);
	D.ncpus = 0;
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s)
			return -1;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		for (unsigned long c = a; c <= b; c++) {
			if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed) ||
			    D.ncpus >= PFD_MAX_QUEUES)
				return -1;
			D.cpus[D.ncpus++] = (int)c;
		}
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		s = end;
	}
	return D.ncpus ? 0 : -1;
}

/* ---- control socket ---- */

static int listen_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(D.socket_path) >= sizeof(sa.sun_path)) {
		pfd_log(LOG_ERR, "pktfiltd: socket path too long: %s", D.socket_path);
		return -1;
	}
	memcpy(sa.sun_path, D.socket_path, strlen(D.socket_path) + 1);
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", D.socket_path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(dir, 0755);
				*p = '/';
			}
		mkdir(dir, 0755);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* another daemon answering there? */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		pfd_log(LOG_ERR, "pktfiltd: another pktfiltd answers on %s", D.socket_path);
		close(fd);
		return -1;
	}
	close(fd);
	unlink(D.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc || chmod(D.socket_path, 0600) || listen(fd, 64)) {
		pfd_log(LOG_ERR, "pktfiltd: cannot listen on %s: %s", D.socket_path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void send_err(int fd, const struct pf_error *err)
{
	char *msg = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&msg, &len);
	if (f) {
		pf_error_print(err, "pktfiltd", f);
		fclose(f);
	}
	char head[64];
	snprintf(head, sizeof(head), "ERR %d %d", err->code ? err->code : 1, err->line);
	pf_ctl_send(fd, head, msg ? msg : "", msg ? len : 0);
	free(msg);
}

static void log_reload_error(const struct pf_error *err)
{
	char msg[sizeof(err->message)];
	snprintf(msg, sizeof(msg), "%s", err->message);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (err->line)
		pfd_log(LOG_ERR, "pktfiltd: %s: line %d: %s; the running rules stay", D.rules_path,
			err->line, msg);
	else
		pfd_log(LOG_ERR, "pktfiltd: %s: %s; the running rules stay", D.rules_path, msg);
}

static void do_reload(void)
{
	struct pf_error err;
	D.reloads++;
	if (load_rules(false, &err)) {
		D.reload_failures++;
		log_reload_error(&err);
	} else if (D.verbose) {
		pfd_log(LOG_INFO, "pktfiltd: reloaded %s", D.rules_path);
	}
}

/* Handle signals; returns true when asked to stop. */
static bool take_signals(int sfd, bool *hup)
{
	struct signalfd_siginfo si;
	bool stop = false;
	while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			*hup = true;
		else
			stop = true;
	}
	return stop;
}

/* CMD: one iptables command (its words, each ended by a NUL byte), run on the live rule set;
 * answered "DONE <exit status> <output length>" with the output then the error text. */
static void serve_cmd(int cfd, const char *body, size_t len)
{
	int argc = 1;
	for (size_t i = 0; i < len; i++)
		argc += body[i] == '\0';
	char **argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!argv || (len && body[len - 1] != '\0')) {
		const char *m = "pktfiltd: malformed command\n";
		pf_ctl_send(cfd, "ERR 2 0", m, strlen(m));
		free(argv);
		return;
	}
	argv[0] = "pktfilt";
	for (size_t i = 0, k = 1; i < len; k++) {
		argv[k] = (char *)body + i;
		i += strlen(body + i) + 1;
	}
	char *out, *errs;
	size_t outlen, errlen;
	int status = cmd_run(argc, argv, &out, &outlen, &errs, &errlen);
	free(argv);
	char *both = malloc(outlen + errlen + 1);
	char head[64];
	snprintf(head, sizeof(head), "DONE %d %zu", status, outlen);
	if (both) {
		if (outlen)
			memcpy(both, out, outlen);
		if (errlen)
			memcpy(both + outlen, errs, errlen);
		pf_ctl_send(cfd, head, both, outlen + errlen);
	} else {
		pf_ctl_send(cfd, "ERR 4 0", "pktfiltd: out of memory\n", 24);
	}
	free(both);
	free(out);
	free(errs);
}

/* Serve one client until it closes; returns true when a signal asked to stop. */
static bool serve(int cfd, int sfd, bool *hup)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.uid != 0) {
		const char *m = "pktfiltd: permission denied (you must be root)\n";
		pf_ctl_send(cfd, "ERR 4 0", m, strlen(m));
		/* Drain (a little of) the request: closing on unread data would reset the
		 * connection before the client reads why. */
		shutdown(cfd, SHUT_WR);
		char junk[4096];
		struct pollfd pf = {cfd, POLLIN, 0};
		for (int i = 0; i < 16 && poll(&pf, 1, 200) == 1; i++)
			if (recv(cfd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
				break;
		return false;
	}
	struct ctext snap = {0};
	bool have_snap = false, stop = false;
	for (;;) {
		struct pollfd pf[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
		int n = poll(pf, 2, 60000);
		if (n == 0)
			break; /* an idle client does not hold the rule set forever */
		if (n < 0 && errno == EINTR)
			continue;
		if (pf[1].revents & POLLIN && take_signals(sfd, hup)) {
			stop = true;
			break;
		}
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char head[PF_CTL_HEAD_MAX];
		char *body;
		size_t len;
		if (pf_ctl_recv(cfd, head, sizeof(head), &body, &len))
			break;
		if (!strcmp(head, "GET")) {
			if (have_snap)
				ctext_free(&snap);
			have_snap = live_ctext(&snap) == 0;
			size_t tl = 0;
			char *t = have_snap ? ctext_render(&snap, &tl) : NULL;
			if (t)
				pf_ctl_send(cfd, "OK", t, tl);
			else
				pf_ctl_send(cfd, "ERR 4 0", "pktfiltd: out of memory\n", 24);
			free(t);
		} else if (!strcmp(head, "COMMIT")) {
			struct pf_error err;
			if (commit_text(body ? body : "", len, have_snap ? &snap : NULL, &err))
				send_err(cfd, &err);
			else
				pf_ctl_send(cfd, "OK", NULL, 0);
			if (have_snap)
				ctext_free(&snap);
			have_snap = false;
		} else if (!strcmp(head, "STATS")) {
			char *t = NULL;
			size_t tl = 0;
			stats_text(&t, &tl);
			pf_ctl_send(cfd, "OK", t ? t : "", t ? tl : 0);
			free(t);
		} else if (!strncmp(head, "CMD", 3) && (!head[3] || head[3] == ' ')) {
			serve_cmd(cfd, body, len);
		} else if (!strcmp(head, "RELOAD")) {
			struct pf_error err;
			D.reloads++;
			if (load_rules(false, &err)) {
				D.reload_failures++;
				log_reload_error(&err);
				send_err(cfd, &err);
			} else {
				pf_ctl_send(cfd, "OK", NULL, 0);
			}
		} else {
			const char *m = "pktfiltd: unknown request\n";
			pf_ctl_send(cfd, "ERR 2 0", m, strlen(m));
		}
		free(body);
	}
	if (have_snap)
		ctext_free(&snap);
	return stop;
}

int main(int argc, char **argv)
{
	D.rules_path = DEFAULT_RULES;
	D.socket_path = getenv("PKTFILT_SOCKET") && *getenv("PKTFILT_SOCKET")
			    ? getenv("PKTFILT_SOCKET")
			    : PF_DEFAULT_SOCKET;
	D.iptables = "iptables-legacy";
	D.fail_open = true;
	D.batch = 64;
	D.queue_maxlen = 8192;
	D.rcvbuf = 64 << 20;
	D.matcher = PF_MATCHER_DEFAULT;
	enum {
		O_IPT = 256,
		O_NOFO,
		O_BATCH,
		O_QMAX,
		O_RCVBUF,
		O_MATCHER,
		O_SYSLOG,
		O_CPUS,
		O_METRICS
	};
	static const struct option opts[] = {{"queues", required_argument, 0, 'q'},
					     {"rules", required_argument, 0, 'r'},
					     {"socket", required_argument, 0, 's'},
					     {"install-hooks", no_argument, 0, 'i'},
					     {"iptables", required_argument, 0, O_IPT},
					     {"no-fail-open", no_argument, 0, O_NOFO},
					     {"batch", required_argument, 0, O_BATCH},
					     {"queue-maxlen", required_argument, 0, O_QMAX},
					     {"rcvbuf", required_argument, 0, O_RCVBUF},
					     {"matcher", required_argument, 0, O_MATCHER},
					     {"syslog", no_argument, 0, O_SYSLOG},
					     {"cpus", required_argument, 0, O_CPUS},
					     {"metrics-listen", required_argument, 0, O_METRICS},
					     {"verbose", no_argument, 0, 'v'},
					     {"help", no_argument, 0, 'h'},
					     {"version", no_argument, 0, 'V'},
					     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "q:r:s:ivhV", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if (parse_queues(optarg)) {
				fprintf(stderr,
					"pktfiltd: bad --queues %s (A or A-B, at most %d)\n",
					optarg, PFD_MAX_QUEUES);
				return 2;
			}
			break;
		case 'r':
			D.rules_path = optarg;
			break;
		case 's':
			D.socket_path = optarg;
			break;
		case 'i':
			D.install_hooks = true;
			break;
		case O_IPT:
			D.iptables = optarg;
			break;
		case O_NOFO:
			D.fail_open = false;
			break;
		case O_BATCH:
			D.batch = (unsigned)atoi(optarg);
			if (D.batch < 1 || D.batch > 1024) {
				fprintf(stderr, "pktfiltd: --batch takes 1 to 1024\n");
				return 2;
			}
			break;
		case O_QMAX:
			D.queue_maxlen = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case O_RCVBUF:
			D.rcvbuf = atoi(optarg);
			break;
		case O_MATCHER:
			if (!strcmp(optarg, "linear"))
				D.matcher = PF_MATCHER_LINEAR;
			else if (!strcmp(optarg, "hashed"))
				D.matcher = PF_MATCHER_HASHED;
			else {
				fprintf(stderr, "pktfiltd: --matcher linear or hashed\n");
				return 2;
			}
			break;
		case O_CPUS:
			if (parse_cpus(optarg)) {
				fprintf(stderr,
					"pktfiltd: bad --cpus %s (CPUs this process may use, as "
					"0,2-3; at most %d)\n",
					optarg, PFD_MAX_QUEUES);
				return 2;
			}
			break;
		case O_METRICS:
			D.metrics_listen = optarg;
			break;
		case O_SYSLOG:
			D.use_syslog = true;
			break;
		case 'v':
			D.verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pktfiltd v%s\n", PF_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (D.use_syslog)
		openlog("pktfiltd", LOG_PID, LOG_DAEMON);
	D.started_ns = pfd_now_ns();

	/* Signals go to the control thread's signalfd; worker threads inherit the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

	struct pf_error err;
	if (workers_prepare()) {
		pfd_log(LOG_ERR, "pktfiltd: out of memory");
		return 1;
	}
	if (load_rules(true, &err)) {
		log_reload_error(&err);
		return 1;
	}
	int status = 0, lfd = -1;
	if (workers_start()) {
		status = 1;
		goto out;
	}
	if (D.install_hooks && D.cur->q.hooks && hooks_install(D.cur->q.hooks, D.cur->q.conntrack))
		pfd_log(LOG_WARNING, "pktfiltd: some kernel hooks could not be installed");
	if (D.metrics_listen && metrics_start(D.metrics_listen)) {
		status = 1;
		goto out;
	}
	lfd = listen_socket();
	if (lfd < 0) {
		status = 1;
		goto out;
	}
	if (D.verbose)
		pfd_log(LOG_INFO, "pktfiltd: serving queues %u-%u, rules %s, control %s", D.qfirst,
			D.qlast, D.rules_path, D.socket_path);
	for (;;) {
		bool hup = false;
		struct pollfd pf[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
		int idle_ms;
		if (compaction_due(pfd_now_ns(), &idle_ms)) {
			persist_live(); /* the journal into the rules file */
			continue;
		}
		if (poll(pf, 2, idle_ms) < 0 && errno != EINTR)
			break;
		if ((pf[1].revents & POLLIN) && take_signals(sfd, &hup))
			break;
		if (pf[0].revents & POLLIN) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0) {
				bool stop = serve(cfd, sfd, &hup);
				close(cfd);
				if (stop)
					break;
			}
		}
		if (hup)
			do_reload();
	}
out:
	if (lfd >= 0) {
		close(lfd);
		unlink(D.socket_path);
	}
	if (D.install_hooks)
		hooks_remove();
	if (D.workers) {
		changes_settle(); /* the engines as the rule set says, for the final counters */
		usleep(100000);	  /* answer what was queued before the hooks went away */
		workers_stop();
	}
	free(D.workers); /* prepared but never started */
	D.workers = NULL;
	free(D.host_opaque);
	if (status == 0)
		persist_live();
	gen_free(D.cur);
	D.cur = NULL;
	pf_state_domain_free(D.state_domain); /* the daemon's reference */
	D.state_domain = NULL;
	metrics_stop(); /* before the statistics go */
	free(D.stats);
	if (D.verbose)
		pfd_log(LOG_INFO, "pktfiltd: stopped");
	return status;
}
