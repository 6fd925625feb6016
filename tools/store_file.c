/*
 * store_file.c - the state file backend: an flock()ed lock file like /run/xtables.lock, a
 * state file in iptables-save -c format, written atomically (temporary file, fsync, rename,
 * fsync of the directory).
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdirs(const char *dir)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

static int ensure_parent(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	return mkdirs(dirname(buf));
}

static int take_lock(struct pf_store *st, int wait_seconds, struct pf_error *err)
{
	ensure_parent(st->lock_path);
	st->lock_fd = open(st->lock_path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		err->code = PF_ERR_RESOURCE;
		err->style = PF_STYLE_RAW;
		snprintf(err->message, sizeof(err->message), "Fatal: can't open lock file %.900s: %s\n",
			 st->lock_path, strerror(errno));
		return -1;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (wait_seconds < 0) {
		err->code = PF_ERR_RESOURCE;
		err->style = PF_STYLE_RAW;
		snprintf(err->message, sizeof(err->message),
			 "Another app is currently holding the xtables lock. Perhaps you want to "
			 "use the -w option?\n");
		return -1;
	}
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(st->lock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (wait_seconds > 0 && now.tv_sec - start.tv_sec >= wait_seconds) {
			err->code = PF_ERR_RESOURCE;
			err->style = PF_STYLE_RAW;
			snprintf(err->message, sizeof(err->message),
				 "Another app is currently holding the xtables lock. Stopped waiting "
				 "after %ds.\n",
				 wait_seconds);
			return -1;
		}
		usleep(1000 * 1000 / 100);
	}
}

/* Drop, in place, the user chains and rules of the tables named in st->replaced: what stays
 * of them is their "*table" line (their place in the order), the built-in chains' policy
 * lines and COMMIT. Returns the new length. */
static size_t drop_replaced(const struct pf_store *st, char *text, size_t len)
{
	size_t out = 0;
	bool dropping = false;
	for (size_t pos = 0; pos < len;) {
		char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		const char *line = text + pos;
		bool keep = true;
		if (line[0] == '*') {
			char name[40];
			size_t n = strcspn(line + 1, " \t\r\n");
			snprintf(name, sizeof(name), " %.*s ", (int)(n < 30 ? n : 30), line + 1);
			dropping = strstr(st->replaced, name) != NULL;
		} else if (dropping && line[0] == ':') {
			const char *sp = memchr(line, ' ', end - pos);
			keep = sp && sp[1] != '-'; /* a built-in chain: its policy */
		} else if (dropping) {
			keep = strncmp(line, "COMMIT", 6) == 0;
		}
		if (keep) {
			memmove(text + out, line, end - pos);
			out += end - pos;
		}
		pos = end;
	}
	return out;
}

static int file_open(struct pf_store *st, int wait_seconds, pf_ruleset **rsp, struct pf_error *err)
{
	memset(err, 0, sizeof(*err));
	if (st->lock_fd < 0 && take_lock(st, wait_seconds, err)) /* a second open reloads */
		return -1;
	pf_ruleset *rs = pf_ruleset_new();
	if (!rs)
		return -1;
	FILE *f = fopen(st->path, "r");
	if (f) {
		char *text = NULL;
		size_t cap = 0, len = 0;
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			if (len + n + 1 > cap) {
				cap = (len + n + 1) * 2;
				char *t = realloc(text, cap);
				if (!t) {
					free(text);
					fclose(f);
					pf_ruleset_free(rs);
					return -1;
				}
				text = t;
			}
			memcpy(text + len, buf, n);
			len += n;
		}
		fclose(f);
		if (text && st->replaced[0])
			len = drop_replaced(st, text, len);
		int rc = pf_ruleset_restore(rs, text ? text : "", len,
					    PF_RESTORE_COUNTERS | PF_RESTORE_LISTED_ORDER, NULL, err);
		free(text);
		if (rc) {
			char inner[sizeof(err->message)];
			snprintf(inner, sizeof(inner), "%s", err->message);
			err->code = PF_ERR_OTHER;
			err->style = PF_STYLE_RAW;
			snprintf(err->message, sizeof(err->message),
				 "pktfilt: state file %.500s is corrupt at line %d: %.400s\n", st->path,
				 err->line, inner);
			pf_ruleset_free(rs);
			return -1;
		}
	}
	*rsp = rs;
	return 0;
}

static int file_commit(struct pf_store *st, const pf_ruleset *rs, struct pf_error *err)
{
	char tmp[4200];
	if (ensure_parent(st->path))
		goto fail;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", st->path, (long)getpid());
	int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		goto fail;
	}
	if (pf_ruleset_save(rs, NULL, PF_SAVE_COUNTERS | PF_SAVE_REPARSEABLE, f, err) || fflush(f) || fsync(fd)) {
		fclose(f);
		unlink(tmp);
		goto fail;
	}
	if (fclose(f) || rename(tmp, st->path)) {
		unlink(tmp);
		goto fail;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", st->path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	err->code = PF_ERR_RESOURCE;
	err->style = PF_STYLE_RAW;
	snprintf(err->message, sizeof(err->message), "pktfilt: cannot write state file %.900s: %s\n",
		 st->path, strerror(errno));
	return -1;
}

static void file_close(struct pf_store *st)
{
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
}

static const struct pf_store_ops file_ops = {file_open, file_commit, file_close};

void pf_store_file_init(struct pf_store *st, const char *path)
{
	memset(st, 0, sizeof(*st));
	st->ops = &file_ops;
	st->lock_fd = -1;
	if (!path)
		path = getenv("PKTFILT_STATE");
	if (!path || !*path)
		path = PF_DEFAULT_STATE;
	snprintf(st->path, sizeof(st->path), "%s", path);
	const char *lock = getenv("PKTFILT_LOCK");
	if (lock && *lock)
		snprintf(st->lock_path, sizeof(st->lock_path), "%s", lock);
	else
		snprintf(st->lock_path, sizeof(st->lock_path), "%.4000s.lock", path);
}
