/*
 * store.h - where the CLI keeps the rule set between commands. An interface with one backend
 * today (a state file in iptables-save -c format, guarded by a lock like the xtables lock);
 * the daemon's control socket will be a second backend.
 */
#ifndef PF_TOOLS_STORE_H
#define PF_TOOLS_STORE_H

#include <stdbool.h>

#include "pktfilt/pktfilt.h"

struct pf_store;

struct pf_store_ops {
	/* Take the lock (wait_seconds < 0: do not wait) and load the rule set. */
	int (*open)(struct pf_store *st, int wait_seconds, pf_ruleset **rs, struct pf_error *err);
	/* Persist rs atomically. */
	int (*commit)(struct pf_store *st, const pf_ruleset *rs, struct pf_error *err);
	/* Release the lock. */
	void (*close)(struct pf_store *st);
};

struct pf_store {
	const struct pf_store_ops *ops;
	char path[4096];
	char lock_path[4096];
	int lock_fd;
	bool wait_given;
	/* Hint for open(): tables the caller replaces wholesale (restore without --noflush), as
	 * " filter nat " (blank-separated, blank-surrounded): their rules need not be loaded,
	 * only their place in the table order and their policies. Empty: load everything. */
	char replaced[64];
};

/* The state file backend: path from --state, else $PKTFILT_STATE, else the default. */
void pf_store_file_init(struct pf_store *st, const char *path_or_null);

#define PF_DEFAULT_STATE "/var/lib/pktfilt/rules.v4"

#endif
