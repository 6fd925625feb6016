/*
 * words.c - split a command line into words as iptables-restore does (quotes, escapes).
 */
#include "language/command.h"

#include <stdlib.h>
#include <string.h>

int pf_split_words(const char *line, const char *prog, char ***argvp)
{
	size_t len = strlen(line);
	size_t maxwords = len / 2 + 2;
	size_t size = (maxwords + 1) * sizeof(char *) + len + strlen(prog) + 2 + maxwords;
	char **argv = malloc(size);
	if (!argv)
		return -1;
	char *buf = (char *)(argv + maxwords + 1);
	int argc = 0;
	strcpy(buf, prog);
	argv[argc++] = buf;
	buf += strlen(prog) + 1;
	const char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		argv[argc++] = buf;
		char quote = 0;
		while (*p) {
			if (quote) {
				if (*p == '\\' && quote == '"' && p[1]) {
					p++;
					*buf++ = *p++;
				} else if (*p == quote) {
					quote = 0;
					p++;
				} else {
					*buf++ = *p++;
				}
			} else if (*p == '"' || *p == '\'') {
				quote = *p++;
			} else if (*p == '\\' && p[1]) {
				p++;
				*buf++ = *p++;
			} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
				break;
			} else {
				*buf++ = *p++;
			}
		}
		*buf++ = '\0';
		if (quote) {
			free(argv);
			return -1;
		}
	}
	argv[argc] = NULL;
	*argvp = argv;
	return argc;
}
