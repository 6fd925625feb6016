/*
 * ctl_proto.h - the framing of pktfiltd's control socket, shared by the daemon and the CLI.
 *
 * A UNIX stream socket; every message is one header line of ASCII words separated by single
 * blanks, the last word being the length of the body in bytes, then the body:
 *
 *   request  "GET 0"            the live rule set, iptables-save -c text with live counters
 *            "COMMIT <len>"     replace the live rule set by this iptables-save -c text
 *            "CMD <wait> <len>" run one iptables command on the live rule set: body = its
 *                               words (argv[1..]), each ended by a NUL byte; wait = -w's
 *                               seconds (-1: none), informative (clients are served in turn)
 *            "STATS 0"          per-queue statistics, as text
 *            "RELOAD 0"         re-read the rules file (as SIGHUP)
 *   response "OK <len>"         body: the answer (may be empty)
 *            "ERR <code> <line> <len>"   body: the message (exit code and restore line)
 *            "DONE <status> <outlen> <len>"  CMD's answer: its exit status; body = the
 *                               output (outlen bytes) then the warnings and error text
 *
 * The daemon serves one connection at a time: a client holds the rule set from its GET to
 * its COMMIT and closes, so commands are serialised as with the xtables lock. `pktfilt` sends
 * CMD (no transfer of the rule set); pktfilt-save and pktfilt-restore use GET and COMMIT.
 */
#ifndef PF_TOOLS_CTL_PROTO_H
#define PF_TOOLS_CTL_PROTO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define PF_DEFAULT_SOCKET "/run/pktfilt/pktfiltd.sock"
#define PF_CTL_HEAD_MAX 128
#define PF_CTL_BODY_MAX ((size_t)1 << 30)

static inline int pf_ctl_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send "head <len>\n" then the body. */
static inline int pf_ctl_send(int fd, const char *head, const void *body, size_t len)
{
	char line[PF_CTL_HEAD_MAX];
	int n = snprintf(line, sizeof(line), "%s %zu\n", head, len);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	if (pf_ctl_write_all(fd, line, (size_t)n))
		return -1;
	return len ? pf_ctl_write_all(fd, body, len) : 0;
}

/*
 * Receive one message: the header line (without the length word) into head, the body into a
 * malloc()ed, NUL-terminated buffer (*body, may be NULL when len is 0). Returns 0, or -1 on
 * EOF, error or a malformed header.
 */
static inline int pf_ctl_recv(int fd, char *head, size_t headcap, char **body, size_t *len)
{
	char line[PF_CTL_HEAD_MAX];
	size_t n = 0;
	*body = NULL;
	*len = 0;
	for (;;) {
		char c;
		ssize_t r = recv(fd, &c, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 >= sizeof(line))
			return -1;
		line[n++] = c;
	}
	line[n] = '\0';
	char *sp = strrchr(line, ' ');
	if (!sp)
		return -1;
	char *end;
	unsigned long long l = strtoull(sp + 1, &end, 10);
	if (*end || end == sp + 1 || l > PF_CTL_BODY_MAX)
		return -1;
	*sp = '\0';
	snprintf(head, headcap, "%s", line);
	char *b = malloc((size_t)l + 1);
	if (!b)
		return -1;
	for (size_t got = 0; got < l;) {
		ssize_t r = recv(fd, b + got, (size_t)l - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b);
			return -1;
		}
		got += (size_t)r;
	}
	b[l] = '\0';
	*body = b;
	*len = (size_t)l;
	return 0;
}

#endif
