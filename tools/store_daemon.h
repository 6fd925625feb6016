/*
 * store_daemon.h - the second backend of store.h: the live rule set of pktfiltd, through its
 * control socket (see ctl_proto.h).
 */
#ifndef PF_TOOLS_STORE_DAEMON_H
#define PF_TOOLS_STORE_DAEMON_H

#include <stdbool.h>
#include <stdio.h>

#include "ctl_proto.h"
#include "store.h"

/* Connect to the daemon (socket path: sock, else $PKTFILT_SOCKET, else PF_DEFAULT_SOCKET).
 * Returns 0 and makes st the daemon backend when it answers, else -1 (st untouched). */
int pf_store_daemon_init(struct pf_store *st, const char *sock_or_null);

/* The CLI's choice: --state FILE or $PKTFILT_STATE: that state file. Otherwise the daemon
 * when it answers; when it does not: an error if $PKTFILT_SOCKET names it, else the default
 * state file (the daemon's default rules file: what it loads when it starts). */
void pf_store_pick(struct pf_store *st, const char *state_or_null);

/* Is st the daemon backend? */
bool pf_store_is_daemon(const struct pf_store *st);

/* `pktfilt` on the daemon: send the command itself (argv[1..], CMD; ctl_proto.h), print its
 * output on stdout and its warnings and error on stderr, as the daemon ran it on its live rule
 * set; returns the exit status. */
int pf_daemon_command(struct pf_store *st, const char *prog, int argc, char *const argv[],
		      int wait_seconds);

/* `pktfilt --stats`: print the daemon's statistics to out. Returns the exit status. */
int pf_daemon_stats(const char *prog, FILE *out);

#endif
