/*
 * match_hashlimit.c - the hashlimit match: token buckets per group of packets (by addresses
 * and/or ports), in packets or bytes per time unit, as libxt_hashlimit revision 3 (the one
 * iptables 1.8.9 uses with current kernels) and the kernel's xt_hashlimit.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "engine/eval.h"
#include "engine/state_domain.h"
#include "ext/ext.h"
#include "ext/jiffies.h"
#include "language/xtutil.h"
#include "model/model.h"

#define HL_NAME_MAX 255	    /* NAME_MAX: the size of the name in xt_hashlimit_mtinfo3 */
#define HL_SCALE 1000000ull /* XT_HASHLIMIT_SCALE_v2 */
#define HL_BURST 5
#define HL_BURST_MAX 1000000
#define HL_GCINTERVAL 1000
#define HL_BYTE_SHIFT 4
#define HL_BYTE_EXPIRE 15
#define HL_BYTE_EXPIRE_BURST 60
#define HL_MAX_SIZE 1048576 /* the kernel truncates htable-size and htable-max to this */
/* Kernel constants for HZ 250 (the same for HZ 1000): HZ * CREDITS_PER_JIFFY / scale, and
 * HZ * CREDITS_PER_JIFFY_BYTES. */
#define HL_CREDITS_FACTOR 137438953ull
#define HL_BYTES_FACTOR 4194304000ull

/* mode bits (XT_HASHLIMIT_*) */
#define HL_HASH_DIP 0x01
#define HL_HASH_DPT 0x02
#define HL_HASH_SIP 0x04
#define HL_HASH_SPT 0x08
#define HL_INVERT 0x10
#define HL_BYTES 0x20
#define HL_RATE_MATCH 0x40
#define HL_HASH_ANY (HL_HASH_DIP | HL_HASH_DPT | HL_HASH_SIP | HL_HASH_SPT)

/* The kernel's struct xt_hashlimit_mtinfo3 (without its internal pointer), then the unit
 * multiplier the rate was given in (libxt_hashlimit's udata, not compared). */
struct hashlimit_info {
	char name[HL_NAME_MAX];
	uint64_t avg;
	uint64_t burst;
	uint32_t mode;
	uint32_t size, max, gc_interval, expire;
	uint32_t interval;
	uint8_t srcmask, dstmask;
	uint32_t mult; /* parse-time only */
};

enum {
	O_UPTO = 0,
	O_ABOVE,
	O_LIMIT,
	O_MODE,
	O_SRCMASK,
	O_DSTMASK,
	O_NAME,
	O_BURST,
	O_HTABLE_SIZE,
	O_HTABLE_MAX,
	O_HTABLE_GCINT,
	O_HTABLE_EXPIRE,
	O_RATEMATCH,
	O_INTERVAL,
};
#define F(o) (1ull << (o))

static const struct pf_ext_option hashlimit_opts[] = {
    {"hashlimit-upto", O_UPTO, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-above", O_ABOVE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit", O_UPTO, PF_ARG_REQUIRED, PF_OPT_NOCHECK}, /* old name */
    {"hashlimit-srcmask", O_SRCMASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-dstmask", O_DSTMASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-burst", O_BURST, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-htable-size", O_HTABLE_SIZE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-htable-max", O_HTABLE_MAX, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-htable-gcinterval", O_HTABLE_GCINT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-htable-expire", O_HTABLE_EXPIRE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-mode", O_MODE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-name", O_NAME, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"hashlimit-rate-match", O_RATEMATCH, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"hashlimit-rate-interval", O_INTERVAL, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

/* Constraints as libxt_hashlimit declares them (first entry per id). */
static const struct pf_xt_optspec hashlimit_specs[] = {
    {"hashlimit-upto", O_UPTO, F(O_ABOVE), 0, false},
    {"hashlimit-above", O_ABOVE, F(O_UPTO), 0, false},
    {"hashlimit-srcmask", O_SRCMASK, 0, 0, false},
    {"hashlimit-dstmask", O_DSTMASK, 0, 0, false},
    {"hashlimit-burst", O_BURST, 0, 0, false},
    {"hashlimit-htable-size", O_HTABLE_SIZE, 0, 0, false},
    {"hashlimit-htable-max", O_HTABLE_MAX, 0, 0, false},
    {"hashlimit-htable-gcinterval", O_HTABLE_GCINT, 0, 0, false},
    {"hashlimit-htable-expire", O_HTABLE_EXPIRE, 0, 0, false},
    {"hashlimit-mode", O_MODE, 0, 0, false},
    {"hashlimit-name", O_NAME, 0, 0, true},
    {"hashlimit-rate-match", O_RATEMATCH, 0, 0, false},
    {"hashlimit-rate-interval", O_INTERVAL, 0, 0, false},
    {.name = NULL},
};

static const char *first_name(int id)
{
	for (const struct pf_xt_optspec *s = hashlimit_specs; s->name; s++)
		if ((int)s->id == id)
			return s->name;
	return "";
}

static void hashlimit_init(void *data)
{
	struct hashlimit_info *info = data;
	info->burst = HL_BURST;
	info->gc_interval = HL_GCINTERVAL;
	info->srcmask = 32;
	info->dstmask = 32;
}

static uint64_t cost_to_bytes(uint64_t cost)
{
	uint64_t r = cost ? UINT32_MAX / cost : UINT32_MAX;
	return (r - 1) << HL_BYTE_SHIFT;
}

static uint64_t bytes_to_cost(uint64_t bytes)
{
	uint32_t r = (uint32_t)(bytes >> HL_BYTE_SHIFT);
	if (r == UINT32_MAX) /* iptables divides by zero here */
		return 0;
	return UINT32_MAX / (r + 1);
}

static uint32_t get_factor(char c)
{
	return c == 'm' ? 1024 * 1024 : c == 'k' ? 1024 : 1;
}

static int burst_error(struct pf_error *err)
{
	return pf_err_param(err,
			    "bad value for option \"--hashlimit-burst\", or out of range "
			    "(1-%u).",
			    HL_BURST_MAX);
}

/* "N[k|m]b/s": 1 when it is a byte rate (info->avg set), 0 when not, -1 on error. */
static int parse_bytes(struct hashlimit_info *info, const char *rate, struct pf_error *err)
{
	const char *mode = strstr(rate, "b/s");
	if (!mode || mode == rate)
		return 0;
	uint64_t r = (uint64_t)strtoll(rate, NULL, 10);
	if (r == 0)
		return 0;
	uint64_t cost = bytes_to_cost(r * get_factor(mode[-1]));
	if (cost == 0)
		return pf_err_param(err, "Rate too high \"%s\"", rate);
	info->mult = HL_BYTE_EXPIRE;
	info->avg = cost;
	return 1;
}

/* "N[/second|minute|hour|day]": 1 ok, 0 not a rate, -1 error. */
static int parse_rate(struct hashlimit_info *info, const char *rate, struct pf_error *err)
{
	uint64_t mult = 1;
	const char *delim = strchr(rate, '/');
	info->mult = 1;
	if (delim) {
		const char *u = delim + 1;
		size_t n = strlen(u);
		if (n == 0)
			return 0;
		if (strncasecmp(u, "second", n) == 0)
			mult = 1;
		else if (strncasecmp(u, "minute", n) == 0)
			mult = 60;
		else if (strncasecmp(u, "hour", n) == 0)
			mult = 60 * 60;
		else if (strncasecmp(u, "day", n) == 0)
			mult = 24 * 60 * 60;
		else
			return 0;
		info->mult = (uint32_t)mult;
	}
	uint64_t r = (uint64_t)strtoll(rate, NULL, 10);
	if (r == 0)
		return 0;
	uint64_t tmp = HL_SCALE * mult / r;
	if (tmp == 0)
		return pf_err_param(err, "Rate too fast \"%s\"", rate);
	info->avg = tmp;
	return 1;
}

static int parse_mode(uint32_t *mode, const char *arg)
{
	char buf[1024];
	if (strlen(arg) >= sizeof(buf))
		return -1;
	strcpy(buf, arg);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",|", &save); tok; tok = strtok_r(NULL, ",|", &save)) {
		if (strcmp(tok, "dstip") == 0)
			*mode |= HL_HASH_DIP;
		else if (strcmp(tok, "srcip") == 0)
			*mode |= HL_HASH_SIP;
		else if (strcmp(tok, "srcport") == 0)
			*mode |= HL_HASH_SPT;
		else if (strcmp(tok, "dstport") == 0)
			*mode |= HL_HASH_DPT;
		else
			return -1;
	}
	return 0;
}

/* XTTYPE_PLEN for IPv4: 0..32, or a dotted mask (a mask that is no prefix gives 255, which
 * the kernel refuses). */
static int parse_plen(const char *arg, const char *opt, uint8_t *out, struct pf_error *err)
{
	uint64_t v;
	if (pf_strtoui(arg, 0, 32, &v)) {
		*out = (uint8_t)v;
		return 0;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(arg, NULL, &hints, &res) == 0 && res) {
		uint32_t m = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
		freeaddrinfo(res);
		int c = pf_mask_to_cidr(m);
		*out = c < 0 ? 255 : (uint8_t)c;
		return 0;
	}
	return pf_err_param(err,
			    "hashlimit: bad value for option \"--%s\", neither a valid network "
			    "mask nor valid CIDR (0-32).\n",
			    opt);
}

static int bad_value(struct pf_error *err, const char *opt, const char *arg)
{
	return pf_err_param(err, "hashlimit: Bad value for \"--%s\" option: \"%s\"", opt, arg);
}

static int hashlimit_parse(struct pf_parse_ctx *ctx)
{
	struct hashlimit_info *info = ctx->data;
	const char *opt = first_name(ctx->id);
	bool invertible = ctx->id == O_UPTO || ctx->id == O_ABOVE;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "hashlimit", opt, ctx->seen & F(ctx->id), ctx->invert,
			    invertible))
		return -1;
	switch (ctx->id) {
	case O_UPTO:
	case O_ABOVE: {
		if (ctx->invert == (ctx->id == O_UPTO))
			info->mode |= HL_INVERT;
		int rc = parse_bytes(info, ctx->arg, ctx->err);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			info->mode |= HL_BYTES;
			return 0;
		}
		rc = parse_rate(info, ctx->arg, ctx->err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return bad_value(ctx->err, opt, ctx->arg);
		return 0;
	}
	case O_MODE:
		if (parse_mode(&info->mode, ctx->arg) < 0)
			return bad_value(ctx->err, opt, ctx->arg);
		return 0;
	case O_SRCMASK:
		return parse_plen(ctx->arg, opt, &info->srcmask, ctx->err);
	case O_DSTMASK:
		return parse_plen(ctx->arg, opt, &info->dstmask, ctx->err);
	case O_NAME:
		if (strlen(ctx->arg) < 1)
			return pf_err_param(
			    ctx->err, "Argument must have a minimum length of 1 characters\n");
		strncpy(info->name, ctx->arg, HL_NAME_MAX - 1);
		info->name[HL_NAME_MAX - 1] = '\0';
		return 0;
	case O_BURST: {
		char *end;
		if (!pf_strtoui_end(ctx->arg, &end, 1, UINT64_MAX, &v) ||
		    (*end == '\0' && v > HL_BURST_MAX))
			return burst_error(ctx->err);
		info->burst = v * get_factor(*end);
		return 0;
	}
	case O_HTABLE_SIZE:
	case O_HTABLE_MAX:
	case O_HTABLE_GCINT:
	case O_HTABLE_EXPIRE:
		if (pf_xt_parse_uint(ctx->arg, "hashlimit", opt, 0, UINT32_MAX, &v, ctx->err))
			return -1;
		if (ctx->id == O_HTABLE_SIZE)
			info->size = (uint32_t)v;
		else if (ctx->id == O_HTABLE_MAX)
			info->max = (uint32_t)v;
		else if (ctx->id == O_HTABLE_GCINT)
			info->gc_interval = (uint32_t)v;
		else
			info->expire = (uint32_t)v;
		return 0;
	case O_RATEMATCH:
		info->mode |= HL_RATE_MATCH;
		return 0;
	case O_INTERVAL: {
		int r = (int)strtol(ctx->arg, NULL, 10);
		if (r <= 0)
			return bad_value(ctx->err, opt, ctx->arg);
		info->interval = (uint32_t)r;
		return 0;
	}
	}
	return 0;
}

static int hashlimit_final(struct pf_parse_ctx *ctx)
{
	struct hashlimit_info *info = ctx->data;
	if (!(ctx->seen & (F(O_UPTO) | F(O_ABOVE))))
		return pf_err_param(ctx->err, "You have to specify --hashlimit");
	if (!(ctx->seen & F(O_HTABLE_EXPIRE)))
		info->expire = info->mult * 1000;
	if (info->mode & HL_BYTES) {
		uint32_t burst = 0;
		if (ctx->seen & F(O_BURST)) {
			uint64_t unit = cost_to_bytes(info->avg);
			if (info->burst < unit)
				return pf_err_param(ctx->err, "burst cannot be smaller than %llub",
						    (unsigned long long)unit);
			burst = (uint32_t)(info->burst / unit);
			if (info->burst % unit)
				burst++;
			if (!(ctx->seen & F(O_HTABLE_EXPIRE)))
				info->expire = HL_BYTE_EXPIRE_BURST * 1000;
		}
		info->burst = burst;
	} else if (info->burst > HL_BURST_MAX) {
		return burst_error(ctx->err);
	}
	if (ctx->seen & F(O_RATEMATCH)) {
		if (!(info->mode & HL_BYTES))
			info->avg /= info->mult;
		if (info->interval == 0)
			info->interval = (info->mode & HL_BYTES) ? 1 : info->mult;
	}
	if (pf_xt_options_fcheck("hashlimit", hashlimit_specs, ctx->seen, ctx->err))
		return -1;
	/* The kernel truncates oversized tables when it checks the rule. */
	if (info->size > HL_MAX_SIZE)
		info->size = HL_MAX_SIZE;
	if (info->max > HL_MAX_SIZE)
		info->max = HL_MAX_SIZE;
	return 0;
}

static const struct {
	const char *name;
	uint64_t mult;
} rates[] = {{"day", HL_SCALE * 24 * 60 * 60},
	     {"hour", HL_SCALE * 60 * 60},
	     {"min", HL_SCALE * 60},
	     {"sec", HL_SCALE}};

/* Prints " N/unit"; returns the unit in milliseconds (iptables' "quantum"). */
static uint32_t put_rate(struct pf_strbuf *out, uint64_t period)
{
	unsigned i;
	if (period == 0) {
		pf_sb_puts(out, " inf");
		return 0;
	}
	for (i = 1; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (period > rates[i].mult || rates[i].mult / period < rates[i].mult % period)
			break;
	pf_sb_printf(out, " %llu/%s", (unsigned long long)(rates[i - 1].mult / period),
		     rates[i - 1].name);
	return (uint32_t)(rates[i - 1].mult / HL_SCALE * 1000);
}

static const struct {
	const char *name;
	uint32_t thresh;
} units[] = {{"m", 1024 * 1024}, {"k", 1024}, {"", 1}};

static uint32_t put_bytes(struct pf_strbuf *out, uint64_t avg, uint64_t burst, const char *prefix)
{
	unsigned i;
	unsigned long long r = cost_to_bytes(avg);
	for (i = 0; i < 2; i++)
		if (r >= units[i].thresh && bytes_to_cost(r & ~(units[i].thresh - 1ull)) == avg)
			break;
	pf_sb_printf(out, " %llu%sb/s", r / units[i].thresh, units[i].name);
	if (burst == 0)
		return HL_BYTE_EXPIRE * 1000;
	r *= burst;
	pf_sb_printf(out, " %s", prefix);
	for (i = 0; i < 2; i++)
		if (r >= units[i].thresh)
			break;
	pf_sb_printf(out, "burst %llu%sb", r / units[i].thresh, units[i].name);
	return HL_BYTE_EXPIRE_BURST * 1000;
}

static void put_mode(struct pf_strbuf *out, uint32_t mode, char sep)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {{HL_HASH_SIP, "srcip"},
		     {HL_HASH_SPT, "srcport"},
		     {HL_HASH_DIP, "dstip"},
		     {HL_HASH_DPT, "dstport"}};
	bool prev = false;
	pf_sb_putc(out, ' ');
	for (unsigned i = 0; i < 4; i++) {
		if (!(mode & names[i].bit))
			continue;
		if (prev)
			pf_sb_putc(out, sep);
		pf_sb_puts(out, names[i].name);
		prev = true;
	}
}

static void hashlimit_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct hashlimit_info *c = ctx->data;
	uint32_t quantum;
	pf_sb_puts(out, (c->mode & HL_INVERT) ? " limit: above" : " limit: up to");
	if (c->mode & HL_BYTES) {
		quantum = put_bytes(out, c->avg, c->burst, "");
	} else {
		uint64_t period = c->avg;
		if (c->interval != 0)
			period *= c->interval;
		quantum = put_rate(out, period);
		pf_sb_printf(out, " burst %llu", (unsigned long long)c->burst);
	}
	if (c->mode & HL_HASH_ANY) {
		pf_sb_puts(out, " mode");
		put_mode(out, c->mode, '-');
	}
	if (c->size != 0)
		pf_sb_printf(out, " htable-size %u", c->size);
	if (c->max != 0)
		pf_sb_printf(out, " htable-max %u", c->max);
	if (c->gc_interval != HL_GCINTERVAL)
		pf_sb_printf(out, " htable-gcinterval %u", c->gc_interval);
	if (c->expire != quantum)
		pf_sb_printf(out, " htable-expire %u", c->expire);
	if (c->srcmask != 32)
		pf_sb_printf(out, " srcmask %u", c->srcmask);
	if (c->dstmask != 32)
		pf_sb_printf(out, " dstmask %u", c->dstmask);
	if (c->mode & HL_RATE_MATCH) {
		pf_sb_puts(out, " rate-match");
		if (c->interval != 1)
			pf_sb_printf(out, " rate-interval %u", c->interval);
	}
}

static void hashlimit_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct hashlimit_info *c = ctx->data;
	uint32_t quantum;
	pf_sb_puts(out, (c->mode & HL_INVERT) ? " --hashlimit-above" : " --hashlimit-upto");
	if (c->mode & HL_BYTES) {
		quantum = put_bytes(out, c->avg, c->burst, "--hashlimit-");
	} else {
		quantum = put_rate(out, c->avg);
		pf_sb_printf(out, " --hashlimit-burst %llu", (unsigned long long)c->burst);
	}
	if (c->mode & HL_HASH_ANY) {
		pf_sb_puts(out, " --hashlimit-mode");
		put_mode(out, c->mode, ',');
	}
	pf_sb_printf(out, " --hashlimit-name %s", c->name);
	if (c->size != 0)
		pf_sb_printf(out, " --hashlimit-htable-size %u", c->size);
	if (c->max != 0)
		pf_sb_printf(out, " --hashlimit-htable-max %u", c->max);
	if (c->gc_interval != HL_GCINTERVAL)
		pf_sb_printf(out, " --hashlimit-htable-gcinterval %u", c->gc_interval);
	if (c->expire != quantum)
		pf_sb_printf(out, " --hashlimit-htable-expire %u", c->expire);
	if (c->srcmask != 32)
		pf_sb_printf(out, " --hashlimit-srcmask %u", c->srcmask);
	if (c->dstmask != 32)
		pf_sb_printf(out, " --hashlimit-dstmask %u", c->dstmask);
	if (c->mode & HL_RATE_MATCH) {
		pf_sb_puts(out, " --hashlimit-rate-match");
		if (c->interval != 1)
			pf_sb_printf(out, " --hashlimit-rate-interval %u", c->interval);
	}
}

/* xt_hashlimit's checkentry (revision 3, IPv4). */
static int hashlimit_check_entry(const struct pf_rule *rule, const void *data, const char *table,
				 unsigned hooks)
{
	const struct hashlimit_info *c = data;
	(void)rule;
	(void)table;
	(void)hooks;
	/* xt_check_proc_name */
	if (c->name[0] == '\0' || strcmp(c->name, ".") == 0 || strcmp(c->name, "..") == 0 ||
	    strchr(c->name, '/'))
		return EINVAL;
	if (c->gc_interval == 0 || c->expire == 0)
		return EINVAL;
	if (c->srcmask > 32 || c->dstmask > 32)
		return EINVAL;
	if (c->mode & HL_RATE_MATCH) {
		if (c->avg == 0 || c->avg > UINT32_MAX)
			return ERANGE;
		if (c->interval == 0)
			return EINVAL;
	} else if (c->mode & HL_BYTES) {
		if ((((uint64_t)(uint32_t)c->avg * HL_BYTES_FACTOR) >> 32) == 0)
			return EINVAL;
	} else if (c->burst == 0 ||
		   c->avg * c->burst * HL_CREDITS_FACTOR < c->avg * HL_CREDITS_FACTOR) {
		return ERANGE;
	}
	return 0;
}

/*
 * Evaluation, as xt_hashlimit revision 3 (the one iptables 1.8.9 uses).
 *
 * Tables are shared by name: every rule naming a table uses the one created by the first of
 * them in the engine's order (tables raw, mangle, nat, filter, security; chains and rules in
 * order), with THAT rule's configuration (mode and masks, which make the key; rate, burst,
 * expiry, size, max, gc interval), as the kernel keeps the configuration of the rule that
 * created the table; each rule keeps its own --hashlimit-upto/above sense, and its own choice
 * of rate-match and of byte cost, as the kernel's match function reads those from the rule.
 * The table lives while some rule of the engine names it. Engines of a state domain
 * (pktfiltd's workers) share their tables by name, as they share their rules: the table is
 * then locked around each packet's use of it (the kernel locks its entry), and lives while a
 * rule of any of them names it, so that a new generation of engines in the domain (a replaced
 * rule set) takes over the tables it names, as the kernel's new table does.
 *
 * Entries are keyed by the masked source and/or destination address and the source and/or
 * destination port (read, as the kernel does, 4 bytes at the end of the IP header plus 0 for
 * TCP, UDP, UDP-Lite, SCTP, DCCP and ESP, plus 4 for AH, even in a non-first fragment; other
 * protocols have ports 0; a packet too short for them is dropped: hotdrop). A table has
 * --hashlimit-htable-max entries at most (0: 8 * size; less than size: size), size being
 * --hashlimit-htable-size or, when 0, 8192 (the kernel's choice on machines with more than
 * 1 GiB of memory): a new key when the table is full makes the kernel drop the packet
 * (hotdrop), as here. Each packet sets its entry's expiry to now + htable-expire. Expired
 * entries are not removed on lookup: only the garbage collector removes them, every
 * --hashlimit-htable-gcinterval ms after the table is created; here the table is created at
 * the first packet that reaches one of its rules, and the collector runs at the exact
 * multiples of the interval since then (the kernel's deferrable work can run late), before
 * the packet of that jiffy is looked up.
 *
 * The buckets are the kernel's, in its 64-bit arithmetic with HZ = 250:
 *   packets: credit and credit_cap start at user2credits(avg * burst), cost user2credits(avg)
 *     with user2credits(x) = x * 137438953 (HZ * 2^39 / 10^6); each jiffy adds 2^39, capped;
 *     a packet matching "upto" costs `cost`.
 *   bytes: credit starts at 2^24 * HZ, the cost of a packet is ((len >> 4) + 1) * cost
 *     (cost = (avg * 2^24 * HZ) >> 32, at most 2^24 * HZ); when the credit is short and
 *     credit_cap (the burst, in units of the rate) is not 0, the bucket is refilled once and
 *     credit_cap decremented (never restored while the entry lives); each jiffy adds 2^24,
 *     capped at 2^24 * HZ.
 *   rate-match: packets (or bytes) are counted in windows of --hashlimit-rate-interval
 *     seconds; the packet matches "upto" while the count stays within burst + rate (bytes:
 *     burst * rate) and the previous window was not over the rate.
 * All memory is allocated when the engine is compiled; the entries are touched only when used.
 */
#define HL_DEFAULT_SIZE 8192u
#define HL_CPJ (1ull << 39)		    /* CREDITS_PER_JIFFY (64-bit, revisions 2 and 3) */
#define HL_CPJ_BYTES (1ull << 24)	    /* CREDITS_PER_JIFFY_BYTES */
#define HL_BYTES_CAP (HL_CPJ_BYTES * PF_HZ) /* 4194304000 */

struct hl_key {
	uint32_t src, dst;     /* network order, masked */
	uint16_t sport, dport; /* network order */
};

/* The kernel's rateinfo union: token bucket, or rate-match counters. */
union hl_rate {
	struct {
		uint64_t credit, credit_cap, cost;
	} tb;
	struct {
		uint32_t interval, prev_window;
		uint64_t current_rate, rate;
		int64_t burst;
	} rm;
};

struct hl_entry {
	struct hl_key key;
	uint32_t next; /* hash chain or free list: index + 1, 0 = end */
	bool used;
	uint64_t expires, prev;
	union hl_rate r;
};

struct hl_table {
	bool ready, started;
	unsigned refcnt;
	struct hashlimit_info cfg; /* of the rule that created the table */
	uint32_t size, max, count;
	uint32_t hwm;	    /* entries [0, hwm) have been used at some time */
	uint32_t free_head; /* index + 1 */
	uint64_t next_gc, gc_jiffies;
	uint32_t *buckets; /* size heads: index + 1, 0 = empty */
	struct hl_entry *ent;
};

struct hl_state {
	struct hl_table *t;
};

static void hl_table_destroy(void *obj)
{
	struct hl_table *t = obj;
	free(t->buckets);
	free(t->ent);
	t->buckets = NULL;
	t->ent = NULL;
}

static int hashlimit_state_init(struct pf_engine *eng, const void *data, void *state)
{
	const struct hashlimit_info *info = data;
	struct hl_state *st = state;
	char key[80];
	pf_shared_name_key(info->name, key);
	struct hl_table *t =
	    pf_engine_shared(eng, "hashlimit", key, sizeof(struct hl_table), hl_table_destroy);
	if (!t)
		return -1;
	int rc = 0;
	pf_state_lock(t);
	if (!t->ready) {
		memset(t, 0, sizeof(*t));
		t->cfg = *info;
		t->size = info->size ? info->size : HL_DEFAULT_SIZE;
		t->max = info->max == 0 ? 8 * t->size : info->max < t->size ? t->size : info->max;
		t->gc_jiffies = pf_msecs_to_jiffies(info->gc_interval);
		t->buckets = calloc(t->size, sizeof(*t->buckets));
		t->ent = calloc(t->max, sizeof(*t->ent));
		if (!t->buckets || !t->ent) {
			hl_table_destroy(t);
			rc = -1;
		} else {
			t->ready = true;
		}
	}
	if (rc == 0) {
		t->refcnt++;
		st->t = t;
	}
	pf_state_unlock(t);
	return rc;
}

/* htable_put: the last rule using the table destroys it (a later rule creates a new one with
 * its own configuration). */
static void hashlimit_state_free(struct pf_engine *eng, void *state)
{
	struct hl_table *t = ((struct hl_state *)state)->t;
	(void)eng;
	if (!t)
		return;
	pf_state_lock(t);
	if (--t->refcnt == 0) {
		hl_table_destroy(t);
		t->ready = false;
	}
	pf_state_unlock(t);
}

static uint32_t hl_hash(const struct hl_table *t, const struct hl_key *k)
{
	uint64_t h = ((uint64_t)k->src << 32 | k->dst) * 0x9E3779B97F4A7C15ull;
	h ^= ((uint64_t)k->sport << 16 | k->dport) * 0xC2B2AE3D27D4EB4Full;
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 32;
	return (uint32_t)(((uint64_t)(uint32_t)h * t->size) >> 32);
}

static bool hl_key_eq(const struct hl_key *a, const struct hl_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport && a->dport == b->dport;
}

static void hl_free_entry(struct hl_table *t, uint32_t i)
{
	uint32_t *pp = &t->buckets[hl_hash(t, &t->ent[i].key)];
	while (*pp != i + 1)
		pp = &t->ent[*pp - 1].next;
	*pp = t->ent[i].next;
	t->ent[i].used = false;
	t->ent[i].next = t->free_head;
	t->free_head = i + 1;
	t->count--;
}

/* htable_gc at jiffy g: drop the entries with time_after_eq(g, expires). */
static void hl_gc(struct hl_table *t, uint64_t now)
{
	if (!t->started) {
		t->started = true;
		t->next_gc = now + t->gc_jiffies;
		return;
	}
	if (now < t->next_gc)
		return;
	uint64_t g = t->next_gc;
	if (t->gc_jiffies)
		g += (now - t->next_gc) / t->gc_jiffies * t->gc_jiffies;
	for (uint32_t i = 0; i < t->hwm; i++)
		if (t->ent[i].used && pf_time_after_eq(g, t->ent[i].expires))
			hl_free_entry(t, i);
	t->next_gc = g + (t->gc_jiffies ? t->gc_jiffies : 1);
}

static uint32_t maskl(uint32_t a, unsigned l)
{
	return l ? htonl(ntohl(a) & (0xFFFFFFFFu << (32 - l))) : 0;
}

/* hashlimit_init_dst: -1 when the ports cannot be read. */
static int hl_make_key(const struct hl_table *t, const struct pf_packet *p, struct hl_key *k)
{
	uint32_t mode = t->cfg.mode;
	memset(k, 0, sizeof(*k));
	if (mode & HL_HASH_DIP)
		k->dst = maskl(p->daddr, t->cfg.dstmask);
	if (mode & HL_HASH_SIP)
		k->src = maskl(p->saddr, t->cfg.srcmask);
	if (!(mode & (HL_HASH_DPT | HL_HASH_SPT)))
		return 0;
	int poff; /* proto_ports_offset */
	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
	case IPPROTO_ESP:
		poff = 0;
		break;
	case IPPROTO_AH:
		poff = 4;
		break;
	default:
		poff = -1;
	}
	uint16_t sport = 0, dport = 0;
	if (poff >= 0) {
		const uint8_t *b = pf_packet_bytes(p, (size_t)p->ihl_bytes + (size_t)poff, 4);
		if (!b)
			return -1;
		memcpy(&sport, b, 2);
		memcpy(&dport, b + 2, 2);
	}
	if (mode & HL_HASH_SPT)
		k->sport = sport;
	if (mode & HL_HASH_DPT)
		k->dport = dport;
	return 0;
}

static uint64_t user2credits(uint64_t user)
{
	return user * HL_CREDITS_FACTOR;
}

static uint32_t user2credits_byte(uint32_t user)
{
	return (uint32_t)(((uint64_t)user * HL_BYTES_CAP) >> 32);
}

static void rateinfo_init(struct hl_entry *dh, const struct hashlimit_info *cfg, uint64_t now)
{
	dh->prev = now;
	if (cfg->mode & HL_RATE_MATCH) {
		dh->r.rm.prev_window = 0;
		dh->r.rm.current_rate = 0;
		if (cfg->mode & HL_BYTES) {
			uint32_t avg = (uint32_t)cfg->avg;
			uint64_t r = avg ? UINT32_MAX / avg : UINT32_MAX;
			dh->r.rm.rate = (r - 1) << HL_BYTE_SHIFT;
			dh->r.rm.burst =
			    (int64_t)(cfg->burst ? cfg->burst * dh->r.rm.rate : dh->r.rm.rate);
		} else {
			dh->r.rm.rate = cfg->avg ? HL_SCALE / cfg->avg : 0;
			dh->r.rm.burst = (int64_t)(cfg->burst + dh->r.rm.rate);
		}
		dh->r.rm.interval = cfg->interval;
	} else if (cfg->mode & HL_BYTES) {
		dh->r.tb.credit = HL_BYTES_CAP;
		dh->r.tb.cost = user2credits_byte((uint32_t)cfg->avg);
		dh->r.tb.credit_cap = cfg->burst;
	} else {
		dh->r.tb.credit = user2credits(cfg->avg * cfg->burst);
		dh->r.tb.cost = user2credits(cfg->avg);
		dh->r.tb.credit_cap = dh->r.tb.credit;
	}
}

static void rateinfo_recalc(struct hl_entry *dh, uint64_t now, uint32_t mode)
{
	uint64_t delta = now - dh->prev, cap;
	if (delta == 0)
		return;
	if (mode & HL_RATE_MATCH) {
		uint64_t interval = (uint32_t)(dh->r.rm.interval * PF_HZ);
		if (delta < interval)
			return;
		dh->prev = now;
		dh->r.rm.prev_window = (dh->r.rm.current_rate * interval) > (delta * dh->r.rm.rate);
		dh->r.rm.current_rate = 0;
		return;
	}
	dh->prev = now;
	if (mode & HL_BYTES) {
		uint64_t tmp = dh->r.tb.credit;
		dh->r.tb.credit += HL_CPJ_BYTES * delta;
		cap = HL_BYTES_CAP;
		if (tmp >= dh->r.tb.credit) { /* overflow */
			dh->r.tb.credit = cap;
			return;
		}
	} else {
		dh->r.tb.credit += delta * HL_CPJ;
		cap = dh->r.tb.credit_cap;
	}
	if (dh->r.tb.credit > cap)
		dh->r.tb.credit = cap;
}

static uint32_t byte_cost(uint32_t len, struct hl_entry *dh)
{
	uint64_t tmp = (uint64_t)((len >> HL_BYTE_SHIFT) + 1) * dh->r.tb.cost;
	if (tmp > HL_BYTES_CAP)
		tmp = HL_BYTES_CAP;
	if (dh->r.tb.credit < tmp && dh->r.tb.credit_cap) {
		dh->r.tb.credit_cap--;
		dh->r.tb.credit = HL_BYTES_CAP;
	}
	return (uint32_t)tmp;
}

/* The match, with the table locked. */
static bool hl_match_table(struct pf_eval *ev, const struct hashlimit_info *cfg, struct hl_table *t,
			   uint64_t now)
{
	struct hl_key k;
	bool invert = (cfg->mode & HL_INVERT) != 0;

	hl_gc(t, now);
	if (hl_make_key(t, ev->pkt, &k) < 0) {
		ev->hotdrop = true;
		return false;
	}
	uint32_t *head = &t->buckets[hl_hash(t, &k)];
	struct hl_entry *dh = NULL;
	for (uint32_t i = *head; i; i = t->ent[i - 1].next)
		if (hl_key_eq(&t->ent[i - 1].key, &k)) {
			dh = &t->ent[i - 1];
			break;
		}
	if (dh) {
		dh->expires = now + pf_msecs_to_jiffies(t->cfg.expire);
		rateinfo_recalc(dh, now, t->cfg.mode);
	} else {
		if (t->count >= t->max) { /* "max count of %u reached" */
			ev->hotdrop = true;
			return false;
		}
		uint32_t i;
		if (t->free_head) {
			i = t->free_head - 1;
			t->free_head = t->ent[i].next;
		} else {
			i = t->hwm++;
		}
		dh = &t->ent[i];
		dh->key = k;
		dh->used = true;
		dh->next = *head;
		*head = i + 1;
		t->count++;
		dh->expires = now + pf_msecs_to_jiffies(t->cfg.expire);
		rateinfo_init(dh, &t->cfg, now);
	}

	uint64_t cost;
	if (cfg->mode & HL_RATE_MATCH) {
		cost = (cfg->mode & HL_BYTES) ? ev->pkt->len : 1;
		dh->r.rm.current_rate += cost;
		if (!dh->r.rm.prev_window && dh->r.rm.current_rate <= (uint64_t)dh->r.rm.burst)
			return !invert;
		return invert;
	}
	if (cfg->mode & HL_BYTES)
		cost = byte_cost((uint32_t)ev->pkt->len, dh);
	else
		cost = dh->r.tb.cost;
	if (dh->r.tb.credit >= cost) {
		dh->r.tb.credit -= cost;
		return !invert;
	}
	return invert;
}

static bool hashlimit_match(struct pf_eval *ev, const void *data, void *state)
{
	struct hl_table *t = ((struct hl_state *)state)->t;
	uint64_t now = pf_jiffies(ev);
	pf_state_lock(t);
	bool ret = hl_match_table(ev, data, t, now);
	pf_state_unlock(t);
	return ret;
}

const struct pf_ext pf_match_hashlimit = {
    .name = "hashlimit",
    .kind = PF_EXT_MATCH,
    .revision = 3,
    .data_size = sizeof(struct hashlimit_info),
    .cmp_size = offsetof(struct hashlimit_info, mult),
    .options = hashlimit_opts,
    .init = hashlimit_init,
    .parse = hashlimit_parse,
    .final_check = hashlimit_final,
    .save = hashlimit_save,
    .print = hashlimit_print,
    .check_entry = hashlimit_check_entry,
    .match = hashlimit_match,
    .state_size = sizeof(struct hl_state),
    .state_init = hashlimit_state_init,
    .state_free = hashlimit_state_free,
};
