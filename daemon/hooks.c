/*
 * hooks.c - --install-hooks: the kernel rules that send packets to pktfiltd's queues, put in
 * a dedicated chain with iptables-legacy (fork/exec) and removed on exit:
 *
 *   filter: -N PKTFILTD; -A PKTFILTD -j NFQUEUE --queue-balance A:B --queue-bypass
 *           -I INPUT 1 -j PKTFILTD; -I FORWARD 1 -j PKTFILTD; -I OUTPUT 1 -j PKTFILTD
 *   mangle: the same for PREROUTING and POSTROUTING, when an instantiated table of the rule
 *           set has a chain there (raw, mangle or nat rules)
 *
 * A hook is installed when the rule set first needs it and stays until exit. When the rule
 * set needs conntrack, a counting rule "-m conntrack --ctstate INVALID" in each PKTFILTD
 * chain makes the kernel track connections in this network namespace, so that queued packets
 * carry their conntrack state.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "pktfiltd.h"

#define CHAIN "PKTFILTD"

static const char *const hook_names[5] = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT",
					  "POSTROUTING"};
static const char *table_of_hook(unsigned h)
{
	return (h == PF_NF_PRE_ROUTING || h == PF_NF_POST_ROUTING) ? "mangle" : "filter";
}

static bool table_ready[2]; /* filter, mangle: chain created */

/* Run iptables with the words given (NULL-terminated); returns its exit status. */
static int ipt(bool quiet, ...)
{
	const char *argv[32];
	int n = 0;
	argv[n++] = D.iptables;
	argv[n++] = "-w";
	va_list ap;
	va_start(ap, quiet);
	const char *a;
	while (n < 31 && (a = va_arg(ap, const char *)))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	if (D.verbose > 1) {
		char line[512] = "";
		for (int i = 0; i < n; i++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), "%s%s",
				 i ? " " : "", argv[i]);
		pfd_log(LOG_DEBUG, "pktfiltd: %s", line);
	}
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup_table(const char *table, bool conntrack)
{
	char qspec[32];
	if (ipt(true, "-t", table, "-N", CHAIN, NULL) != 0 &&
	    ipt(false, "-t", table, "-F", CHAIN, NULL) != 0)
		return -1;
	if (conntrack)
		ipt(false, "-t", table, "-A", CHAIN, "-m", "conntrack", "--ctstate", "INVALID",
		    "-m", "comment", "--comment", "pktfiltd: track connections", NULL);
	int rc;
	if (D.qfirst == D.qlast) {
		snprintf(qspec, sizeof(qspec), "%u", D.qfirst);
		rc = ipt(false, "-t", table, "-A", CHAIN, "-j", "NFQUEUE", "--queue-num", qspec,
			 "--queue-bypass", NULL);
	} else {
		snprintf(qspec, sizeof(qspec), "%u:%u", D.qfirst, D.qlast);
		rc = ipt(false, "-t", table, "-A", CHAIN, "-j", "NFQUEUE", "--queue-balance", qspec,
			 "--queue-bypass", NULL);
	}
	return rc ? -1 : 0;
}

int hooks_install(unsigned mask, bool conntrack)
{
	int rc = 0;
	for (unsigned h = 0; h < 5; h++) {
		if (!(mask & (1u << h)) || (D.hooks_installed & (1u << h)))
			continue;
		const char *table = table_of_hook(h);
		int ti = !strcmp(table, "mangle");
		if (!table_ready[ti]) {
			if (setup_table(table, conntrack)) {
				pfd_log(LOG_ERR, "pktfiltd: cannot set up the %s chain in table %s",
					CHAIN, table);
				rc = -1;
				continue;
			}
			table_ready[ti] = true;
		}
		if (ipt(true, "-t", table, "-C", hook_names[h], "-j", CHAIN, NULL) != 0 &&
		    ipt(false, "-t", table, "-I", hook_names[h], "1", "-j", CHAIN, NULL) != 0) {
			rc = -1;
			continue;
		}
		D.hooks_installed |= 1u << h;
	}
	if (conntrack && !D.ct_trigger_installed) {
		for (int ti = 0; ti < 2; ti++)
			if (table_ready[ti] &&
			    ipt(true, "-t", ti ? "mangle" : "filter", "-C", CHAIN, "-m",
				"conntrack", "--ctstate", "INVALID", "-m", "comment", "--comment",
				"pktfiltd: track connections", NULL) != 0)
				ipt(false, "-t", ti ? "mangle" : "filter", "-I", CHAIN, "1", "-m",
				    "conntrack", "--ctstate", "INVALID", "-m", "comment",
				    "--comment", "pktfiltd: track connections", NULL);
		D.ct_trigger_installed = true;
	}
	if (D.verbose)
		pfd_log(LOG_INFO, "pktfiltd: kernel hooks installed: 0x%x", D.hooks_installed);
	return rc;
}

void hooks_remove(void)
{
	for (unsigned h = 0; h < 5; h++) {
		if (!(D.hooks_installed & (1u << h)))
			continue;
		for (int i = 0; i < 16; i++)
			if (ipt(true, "-t", table_of_hook(h), "-D", hook_names[h], "-j", CHAIN,
				NULL))
				break;
	}
	for (int ti = 0; ti < 2; ti++) {
		if (!table_ready[ti])
			continue;
		const char *table = ti ? "mangle" : "filter";
		ipt(true, "-t", table, "-F", CHAIN, NULL);
		ipt(true, "-t", table, "-X", CHAIN, NULL);
		table_ready[ti] = false;
	}
	D.hooks_installed = 0;
	D.ct_trigger_installed = false;
}
