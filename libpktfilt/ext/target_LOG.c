/*
 * target_LOG.c - -j LOG: kernel logging of matching packets (--log-level, --log-prefix and
 * the --log-* flags), any table and chain.
 */
#include <string.h>

#include "ext/ext.h"
#include "language/xtutil.h"

/* Option ids are the XT_LOG_* bit positions for the flags, as iptables numbers them. */
enum {
	O_LOG_TCPSEQ = 0,
	O_LOG_TCPOPTS,
	O_LOG_IPOPTS,
	O_LOG_UID,
	O_LOG_NFLOG_UNUSED,
	O_LOG_MAC,
	O_LOG_LEVEL,
	O_LOG_PREFIX,
};

#define LOG_TCPSEQ 0x01
#define LOG_TCPOPT 0x02
#define LOG_IPOPT 0x04
#define LOG_UID 0x08
#define LOG_MACDECODE 0x20
#define LOG_MASK 0x2f
#define LOG_DEFAULT_LEVEL 4

/* struct xt_log_info */
struct log_data {
	uint8_t level;
	uint8_t logflags;
	char prefix[30];
};

static const struct pf_ext_option log_opts[] = {
    {"log-level", O_LOG_LEVEL, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"log-prefix", O_LOG_PREFIX, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"log-tcp-sequence", O_LOG_TCPSEQ, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"log-tcp-options", O_LOG_TCPOPTS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"log-ip-options", O_LOG_IPOPTS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"log-uid", O_LOG_UID, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"log-macdecode", O_LOG_MAC, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

/* libxtables' accepted level names (sorted, as it searches them). */
static const struct {
	const char *name;
	uint8_t level;
} level_names[] = {
    {"alert", 1}, {"crit", 2},	 {"debug", 7}, {"emerg", 0},   {"error", 3},
    {"info", 6},  {"notice", 5}, {"panic", 0}, {"warning", 4},
};

/* The -L names: the first entry of syslog.h's prioritynames for each level. */
static const char *const level_print_names[8] = {"emerg", "alert",  "crit", "err",
						 "warn",  "notice", "info", "debug"};

static void log_init(void *data)
{
	struct log_data *d = data;
	d->level = LOG_DEFAULT_LEVEL;
}

static int log_parse(struct pf_parse_ctx *ctx)
{
	struct log_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "LOG", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    false))
		return -1;
	switch (ctx->id) {
	case O_LOG_LEVEL: {
		uint64_t num;
		if (!pf_strtoui(ctx->arg, 0, 7, &num)) {
			size_t i, n = sizeof(level_names) / sizeof(level_names[0]);
			for (i = 0; i < n; i++)
				if (strcmp(level_names[i].name, ctx->arg) == 0)
					break;
			if (i == n)
				return pf_err_param(ctx->err, "log level \"%s\" unknown\n",
						    ctx->arg);
			num = level_names[i].level;
		}
		d->level = (uint8_t)num;
		break;
	}
	case O_LOG_PREFIX: {
		size_t z = strlen(ctx->arg);
		if (z < 1)
			return pf_err_param(
			    ctx->err, "Argument must have a minimum length of 1 characters\n");
		if (z >= sizeof(d->prefix))
			z = sizeof(d->prefix) - 1;
		memcpy(d->prefix, ctx->arg, z);
		d->prefix[z] = '\0';
		if (strchr(ctx->arg, '\n'))
			return pf_err_param(ctx->err, "Newlines not allowed in --log-prefix");
		break;
	}
	default:
		d->logflags |= (uint8_t)(1u << ctx->id);
		break;
	}
	return 0;
}

static void log_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct log_data *d = ctx->data;
	char prefix[sizeof(d->prefix) + 1];
	memcpy(prefix, d->prefix, sizeof(d->prefix));
	prefix[sizeof(d->prefix)] = '\0';
	if (prefix[0]) {
		pf_sb_puts(out, " --log-prefix");
		pf_sb_save_string(out, prefix);
	}
	if (d->level != LOG_DEFAULT_LEVEL)
		pf_sb_printf(out, " --log-level %d", d->level);
	if (d->logflags & LOG_TCPSEQ)
		pf_sb_puts(out, " --log-tcp-sequence");
	if (d->logflags & LOG_TCPOPT)
		pf_sb_puts(out, " --log-tcp-options");
	if (d->logflags & LOG_IPOPT)
		pf_sb_puts(out, " --log-ip-options");
	if (d->logflags & LOG_UID)
		pf_sb_puts(out, " --log-uid");
	if (d->logflags & LOG_MACDECODE)
		pf_sb_puts(out, " --log-macdecode");
}

static void log_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct log_data *d = ctx->data;
	pf_sb_puts(out, " LOG");
	if (ctx->numeric) {
		pf_sb_printf(out, " flags %u level %u", d->logflags, d->level);
	} else {
		if (d->level < 8)
			pf_sb_printf(out, " level %s", level_print_names[d->level]);
		else
			pf_sb_printf(out, " UNKNOWN level %u", d->level);
		if (d->logflags & LOG_TCPSEQ)
			pf_sb_puts(out, " tcp-sequence");
		if (d->logflags & LOG_TCPOPT)
			pf_sb_puts(out, " tcp-options");
		if (d->logflags & LOG_IPOPT)
			pf_sb_puts(out, " ip-options");
		if (d->logflags & LOG_UID)
			pf_sb_puts(out, " uid");
		if (d->logflags & LOG_MACDECODE)
			pf_sb_puts(out, " macdecode");
		if (d->logflags & ~LOG_MASK)
			pf_sb_puts(out, " unknown-flags");
	}
	if (d->prefix[0])
		pf_sb_printf(out, " prefix \"%.*s\"", (int)sizeof(d->prefix), d->prefix);
}

const struct pf_ext pf_target_LOG = {
    .name = "LOG",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct log_data),
    .options = log_opts,
    .init = log_init,
    .parse = log_parse,
    .save = log_save,
    .print = log_print,
};
