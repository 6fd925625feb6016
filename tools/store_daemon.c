/*
 * store_daemon.c - the daemon backend of the CLI's store: open() takes the live rule set with
 * its live counters from pktfiltd (GET), commit() hands the changed rule set back (COMMIT);
 * pktfiltd compiles it, swaps it in and persists it. Holding the connection is holding the
 * lock: the daemon serves one client at a time.
 */
#include "store_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_proto.h"

static void set_err(struct pf_error *err, int code, const char *fmt, const char *a)
{
	err->code = code;
	err->style = PF_STYLE_RAW;
	snprintf(err->message, sizeof(err->message), fmt, a);
}

/* Send a request and read the answer; returns 0 with *body on OK, -1 with err filled. */
static int request(struct pf_store *st, const char *verb, const char *body, size_t len, char **out,
		   size_t *outlen, struct pf_error *err)
{
	char head[PF_CTL_HEAD_MAX];
	if (pf_ctl_send(st->lock_fd, verb, body, len) ||
	    pf_ctl_recv(st->lock_fd, head, sizeof(head), out, outlen)) {
		set_err(err, PF_ERR_RESOURCE, "pktfilt: lost the connection to pktfiltd (%.900s)\n",
			st->path);
		return -1;
	}
	if (!strcmp(head, "OK"))
		return 0;
	int code = PF_ERR_OTHER, line = 0;
	if (sscanf(head, "ERR %d %d", &code, &line) < 1)
		code = PF_ERR_OTHER;
	err->code = code ? code : PF_ERR_OTHER;
	err->style = PF_STYLE_RAW;
	err->line = line;
	snprintf(err->message, sizeof(err->message), "%s",
		 *out ? *out : "pktfilt: pktfiltd refused\n");
	free(*out);
	*out = NULL;
	return -1;
}

static int daemon_open(struct pf_store *st, int wait_seconds, pf_ruleset **rsp,
		       struct pf_error *err)
{
	(void)wait_seconds; /* the daemon queues clients: there is no lock to fail on */
	memset(err, 0, sizeof(*err));
	char *text = NULL;
	size_t len = 0;
	if (request(st, "GET", NULL, 0, &text, &len, err))
		return -1;
	pf_ruleset *rs = pf_ruleset_new();
	if (!rs) {
		free(text);
		set_err(err, PF_ERR_RESOURCE, "%s", "pktfilt: out of memory\n");
		return -1;
	}
	if (pf_ruleset_restore(rs, text ? text : "", len,
			       PF_RESTORE_COUNTERS | PF_RESTORE_LISTED_ORDER, NULL, err)) {
		char inner[sizeof(err->message)];
		snprintf(inner, sizeof(inner), "%s", err->message);
		err->code = PF_ERR_OTHER;
		err->style = PF_STYLE_RAW;
		snprintf(err->message, sizeof(err->message),
			 "pktfilt: pktfiltd sent a rule set we cannot read (line %d): %.900s\n",
			 err->line, inner);
		free(text);
		pf_ruleset_free(rs);
		return -1;
	}
	free(text);
	*rsp = rs;
	return 0;
}

static int daemon_commit(struct pf_store *st, const pf_ruleset *rs, struct pf_error *err)
{
	memset(err, 0, sizeof(*err));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		set_err(err, PF_ERR_RESOURCE, "%s", "pktfilt: out of memory\n");
		return -1;
	}
	int rc = pf_ruleset_save(rs, NULL, PF_SAVE_COUNTERS | PF_SAVE_REPARSEABLE, f, err);
	fclose(f);
	if (rc) {
		free(text);
		return -1;
	}
	char *answer = NULL;
	size_t alen = 0;
	rc = request(st, "COMMIT", text, len, &answer, &alen, err);
	free(text);
	free(answer);
	return rc;
}

static void daemon_close(struct pf_store *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}

static const struct pf_store_ops daemon_ops = {daemon_open, daemon_commit, daemon_close};

bool pf_store_is_daemon(const struct pf_store *st)
{
	return st->ops == &daemon_ops;
}

int pf_daemon_command(struct pf_store *st, const char *prog, int argc, char *const argv[],
		      int wait_seconds)
{
	/* the words, each ended by a NUL byte; the wait goes along (the daemon serves one
	 * client at a time: there is no lock to wait for) */
	size_t len = 0;
	for (int i = 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *body = malloc(len + 1);
	if (!body) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return PF_ERR_RESOURCE;
	}
	size_t off = 0;
	for (int i = 1; i < argc; i++) {
		size_t n = strlen(argv[i]) + 1;
		memcpy(body + off, argv[i], n);
		off += n;
	}
	char verb[32];
	snprintf(verb, sizeof(verb), "CMD %d", wait_seconds);
	char head[PF_CTL_HEAD_MAX];
	char *answer = NULL;
	size_t alen = 0;
	int rc = pf_ctl_send(st->lock_fd, verb, body, len) ||
		 pf_ctl_recv(st->lock_fd, head, sizeof(head), &answer, &alen);
	free(body);
	if (rc) {
		fprintf(stderr, "%s: lost the connection to pktfiltd (%s)\n", prog, st->path);
		return PF_ERR_RESOURCE;
	}
	int status = 1;
	size_t outlen = 0;
	if (sscanf(head, "DONE %d %zu", &status, &outlen) == 2 && outlen <= alen) {
		/* the command's output, then its warnings and error, as pktfilt prints them */
		if (outlen)
			fwrite(answer, 1, outlen, stdout);
		fflush(stdout);
		if (alen > outlen)
			fwrite(answer + outlen, 1, alen - outlen, stderr);
	} else {
		int code = PF_ERR_OTHER;
		if (sscanf(head, "ERR %d", &code) != 1 || !code)
			code = PF_ERR_OTHER;
		status = code;
		if (alen)
			fwrite(answer, 1, alen, stderr);
		else
			fprintf(stderr, "%s: pktfiltd refused the command\n", prog);
	}
	free(answer);
	return status;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static const char *socket_path(const char *sock)
{
	if (!sock || !*sock)
		sock = getenv("PKTFILT_SOCKET");
	if (!sock || !*sock)
		sock = PF_DEFAULT_SOCKET;
	return sock;
}

int pf_store_daemon_init(struct pf_store *st, const char *sock)
{
	sock = socket_path(sock);
	int fd = connect_to(sock);
	if (fd < 0)
		return -1;
	memset(st, 0, sizeof(*st));
	st->ops = &daemon_ops;
	st->lock_fd = fd;
	snprintf(st->path, sizeof(st->path), "%s", sock);
	return 0;
}

/* $PKTFILT_SOCKET named a daemon that does not answer: fail rather than fall back. */
static int absent_open(struct pf_store *st, int wait_seconds, pf_ruleset **rsp,
		       struct pf_error *err)
{
	(void)wait_seconds;
	(void)rsp;
	memset(err, 0, sizeof(*err));
	set_err(err, PF_ERR_RESOURCE, "pktfilt: pktfiltd does not answer on %.900s\n", st->path);
	return -1;
}

static int absent_commit(struct pf_store *st, const pf_ruleset *rs, struct pf_error *err)
{
	(void)rs;
	return absent_open(st, 0, NULL, err);
}

static void absent_close(struct pf_store *st)
{
	(void)st;
}

static const struct pf_store_ops absent_ops = {absent_open, absent_commit, absent_close};

void pf_store_pick(struct pf_store *st, const char *state)
{
	const char *env = getenv("PKTFILT_STATE");
	if (state || (env && *env)) {
		pf_store_file_init(st, state);
		return;
	}
	if (pf_store_daemon_init(st, NULL) == 0)
		return;
	const char *sock = getenv("PKTFILT_SOCKET");
	if (sock && *sock) {
		memset(st, 0, sizeof(*st));
		st->ops = &absent_ops;
		st->lock_fd = -1;
		snprintf(st->path, sizeof(st->path), "%s", sock);
		return;
	}
	pf_store_file_init(st, NULL);
}

int pf_daemon_stats(const char *prog, FILE *out)
{
	struct pf_store st;
	struct pf_error err;
	memset(&err, 0, sizeof(err));
	if (pf_store_daemon_init(&st, NULL)) {
		fprintf(stderr, "%s: pktfiltd does not answer on %s\n", prog, socket_path(NULL));
		return 1;
	}
	char *text = NULL;
	size_t len = 0;
	int rc = request(&st, "STATS", NULL, 0, &text, &len, &err);
	daemon_close(&st);
	if (rc) {
		pf_error_print(&err, prog, stderr);
		return err.code ? err.code : 1;
	}
	if (len)
		fwrite(text, 1, len, out);
	free(text);
	return 0;
}
