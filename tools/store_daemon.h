/*
 * store_daemon.h - the second backend of store.h: the live rule set of pktfiltd, through its
 * control socket (see ctl_proto.h).
 */
#ifndef PF_TOOLS_STORE_DAEMON_H
#define PF_TOOLS_STORE_DAEMON_H

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

/* `pktfilt --stats`: print the daemon's statistics to out. Returns the exit status. */
int pf_daemon_stats(const char *prog, FILE *out);

#endif
