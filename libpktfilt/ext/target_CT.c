/*
 * target_CT.c - -j CT: set up the connection tracking of matching packets (revision 2:
 * --notrack, --helper, --timeout, --ctevents, --expevents, --zone/--zone-orig/--zone-reply).
 * raw table only. -j NOTRACK is the same kernel target with an alias flag (target_NOTRACK.c).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

enum {
	O_NOTRACK = 0,
	O_HELPER,
	O_TIMEOUT,
	O_CTEVENTS,
	O_EXPEVENTS,
	O_ZONE,
	O_ZONE_ORIG,
	O_ZONE_REPLY,
};

#define CT_NOTRACK 0x01
#define CT_NOTRACK_ALIAS 0x02
#define CT_ZONE_DIR_ORIG 0x04
#define CT_ZONE_DIR_REPL 0x08
#define CT_ZONE_MARK 0x10

/* struct xt_ct_target_info_v1 without the kernel's pointer */
struct ct_data {
	uint16_t flags;
	uint16_t zone;
	uint32_t ct_events;
	uint32_t exp_events;
	char helper[16];
	char timeout[32];
};

static const struct pf_ext_option ct_opts[] = {
    {"notrack", O_NOTRACK, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"helper", O_HELPER, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"timeout", O_TIMEOUT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"ctevents", O_CTEVENTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"expevents", O_EXPEVENTS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"zone-orig", O_ZONE_ORIG, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"zone-reply", O_ZONE_REPLY, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"zone", O_ZONE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

struct event_name {
	const char *name;
	unsigned bit;
};

/* enum ip_conntrack_events / ip_conntrack_expect_events */
static const struct event_name ct_events[] = {
    {"new", 0},	      {"related", 1}, {"destroy", 2}, {"reply", 3},	 {"assured", 4},
    {"protoinfo", 5}, {"helper", 6},  {"mark", 7},    {"natseqinfo", 8}, {"secmark", 9},
};
static const struct event_name exp_events[] = {{"new", 0}};

/* Conntrack helpers the kernel has, by name and layer-4 protocol. */
static const struct {
	const char *name;
	uint8_t proto;
} ct_helpers[] = {
    {"ftp", 6},	    {"irc", 6},	       {"sip", 6},	   {"sip", 17}, {"tftp", 17},
    {"amanda", 17}, {"RAS", 17},       {"Q.931", 6},	   {"pptp", 6}, {"sane", 6},
    {"snmp", 17},   {"snmp_trap", 17}, {"netbios-ns", 17},
};

static int parse_events(const struct event_name *tbl, size_t n, const char *arg, uint32_t *mask,
			struct pf_error *err)
{
	const char *p = arg;
	*mask = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		size_t i;
		for (i = 0; i < n; i++)
			if (strlen(tbl[i].name) == len && strncmp(tbl[i].name, p, len) == 0)
				break;
		if (i == n)
			return pf_err_param(err, "Unknown event type \"%.*s\"", (int)len, p);
		*mask |= 1u << tbl[i].bit;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int parse_zone(struct ct_data *d, int id, const char *arg, struct pf_error *err)
{
	if (id == O_ZONE_ORIG)
		d->flags |= CT_ZONE_DIR_ORIG;
	if (id == O_ZONE_REPLY)
		d->flags |= CT_ZONE_DIR_REPL;
	d->zone = 0;
	if (strcasecmp(arg, "mark") == 0) {
		d->flags |= CT_ZONE_MARK;
	} else {
		uint64_t v;
		if (!pf_strtoui(arg, 0, 65535, &v))
			return pf_err_param(err, "Cannot parse %s as a zone ID", arg);
		d->zone = (uint16_t)v;
	}
	return 0;
}

static void copy_string(char *dst, size_t size, const char *src)
{
	size_t z = strlen(src);
	if (z >= size)
		z = size - 1;
	memcpy(dst, src, z);
	dst[z] = '\0';
}

static int ct_parse(struct pf_parse_ctx *ctx)
{
	struct ct_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "CT", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    false))
		return -1;
	switch (ctx->id) {
	case O_NOTRACK:
		d->flags |= CT_NOTRACK;
		break;
	case O_HELPER:
		copy_string(d->helper, sizeof(d->helper), ctx->arg);
		break;
	case O_TIMEOUT:
		copy_string(d->timeout, sizeof(d->timeout), ctx->arg);
		break;
	case O_CTEVENTS:
		return parse_events(ct_events, sizeof(ct_events) / sizeof(ct_events[0]), ctx->arg,
				    &d->ct_events, ctx->err);
	case O_EXPEVENTS:
		return parse_events(exp_events, sizeof(exp_events) / sizeof(exp_events[0]),
				    ctx->arg, &d->exp_events, ctx->err);
	default:
		return parse_zone(d, ctx->id, ctx->arg, ctx->err);
	}
	return 0;
}

static void print_events(struct pf_strbuf *out, const char *pfx, const struct event_name *tbl,
			 size_t n, uint32_t mask)
{
	const char *sep = "";
	pf_sb_printf(out, " %s ", pfx);
	for (size_t i = 0; i < n; i++) {
		if (mask & (1u << tbl[i].bit)) {
			pf_sb_printf(out, "%s%s", sep, tbl[i].name);
			sep = ",";
		}
	}
}

static void ct_out(const struct ct_data *d, struct pf_strbuf *out, bool save)
{
	const char *dd = save ? "--" : "";
	if (d->flags & CT_NOTRACK)
		pf_sb_printf(out, " %snotrack", dd);
	if (d->helper[0])
		pf_sb_printf(out, " %shelper %.*s", dd, (int)sizeof(d->helper), d->helper);
	if (d->timeout[0])
		pf_sb_printf(out, " %stimeout %.*s", dd, (int)sizeof(d->timeout), d->timeout);
	if (d->ct_events)
		print_events(out, save ? "--ctevents" : "ctevents", ct_events,
			     sizeof(ct_events) / sizeof(ct_events[0]), d->ct_events);
	if (d->exp_events)
		print_events(out, save ? "--expevents" : "expevents", exp_events,
			     sizeof(exp_events) / sizeof(exp_events[0]), d->exp_events);
	if ((d->flags & CT_ZONE_MARK) || d->zone) {
		unsigned dir = d->flags & (CT_ZONE_DIR_ORIG | CT_ZONE_DIR_REPL);
		pf_sb_printf(out, " %szone", dd);
		if (dir == CT_ZONE_DIR_ORIG)
			pf_sb_puts(out, "-orig");
		if (dir == CT_ZONE_DIR_REPL)
			pf_sb_puts(out, "-reply");
		if (d->flags & CT_ZONE_MARK)
			pf_sb_puts(out, " mark");
		else
			pf_sb_printf(out, " %u", d->zone);
	}
}

static void ct_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct ct_data *d = ctx->data;
	if (d->flags & CT_NOTRACK_ALIAS)
		return;
	ct_out(d, out, true);
}

static void ct_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct ct_data *d = ctx->data;
	if (d->flags & CT_NOTRACK_ALIAS) {
		pf_sb_puts(out, " NOTRACK");
		return;
	}
	pf_sb_puts(out, " CT");
	ct_out(d, out, false);
}

static int ct_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			  unsigned hooks)
{
	const struct ct_data *d = data;
	(void)table;
	(void)hooks;
	if (d->flags & CT_NOTRACK)
		return 0;
	/* The layer-4 protocol the kernel sees: none when -p is inverted. */
	uint16_t proto = (rule->ip.invflags & PF_INV_PROTO) ? 0 : rule->ip.proto;
	if (d->helper[0]) {
		size_t i, n = sizeof(ct_helpers) / sizeof(ct_helpers[0]);
		if (proto == 0)
			return ENOENT;
		for (i = 0; i < n; i++)
			if (ct_helpers[i].proto == proto &&
			    strncmp(ct_helpers[i].name, d->helper, sizeof(d->helper)) == 0)
				break;
		if (i == n)
			return ENOENT;
	}
	if (d->timeout[0]) {
		/* No timeout policy can exist here (they are made with nfct). */
		return proto == 0 ? EINVAL : ENOENT;
	}
	return 0;
}

/*
 * xt_ct_target: attach a template (helper, zone, events, timeout: no effect on verdicts
 * here) or, with --notrack, mark the packet untracked: conntrack then leaves it alone
 * (its state is UNTRACKED, the nat table does not see it). Always continues.
 */
static unsigned ct_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct ct_data *d = data;
	(void)state;
	if (d->flags & CT_NOTRACK)
		ev->untracked = true;
	return PF_XT_CONTINUE;
}

static const char *const ct_tables[] = {"raw", NULL};

const struct pf_ext pf_target_CT = {
    .name = "CT",
    .kind = PF_EXT_TARGET,
    .revision = 2,
    .data_size = sizeof(struct ct_data),
    .options = ct_opts,
    .tables = ct_tables,
    .parse = ct_parse,
    .save = ct_save,
    .print = ct_print,
    .check_entry = ct_check_entry,
    .needs_conntrack = true,
    .target = ct_target,
};
