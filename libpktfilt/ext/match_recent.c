/*
 * match_recent.c - the recent match: lists of recently seen addresses (--set, --rcheck,
 * --update, --remove, with --seconds, --hitcount, --rttl, --name, --rsource/--rdest,
 * --mask, --reap), as libxt_recent revision 1 and the kernel's xt_recent.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "engine/eval.h"
#include "engine/state_domain.h"
#include "ext/ext.h"
#include "ext/jiffies.h"
#include "language/xtutil.h"
#include "model/model.h"

#define RECENT_NAME_LEN 200 /* XT_RECENT_NAME_LEN */
#define RECENT_MAX_HITCOUNT 65535
/* check_set bits (XT_RECENT_*) */
#define RC_CHECK 0x01
#define RC_SET 0x02
#define RC_UPDATE 0x04
#define RC_REMOVE 0x08
#define RC_TTL 0x10
#define RC_REAP 0x20
#define RC_SOURCE 0
#define RC_DEST 1

/* The kernel's struct xt_recent_mtinfo_v1 (mask: the 16-byte union nf_inet_addr). */
struct recent_info {
	uint32_t seconds;
	uint32_t hit_count;
	uint8_t check_set;
	uint8_t invert;
	char name[RECENT_NAME_LEN];
	uint8_t side;
	uint32_t mask[4];
};

enum {
	O_SET,
	O_RCHECK,
	O_UPDATE,
	O_REMOVE,
	O_SECONDS,
	O_REAP,
	O_HITCOUNT,
	O_RTTL,
	O_NAME,
	O_RSOURCE,
	O_RDEST,
	O_MASK,
};
#define F(o) (1ull << (o))
#define F_ANY_OP (F(O_SET) | F(O_RCHECK) | F(O_UPDATE) | F(O_REMOVE))

static const struct pf_ext_option recent_opts[] = {
    {"set", O_SET, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"rcheck", O_RCHECK, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"update", O_UPDATE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"remove", O_REMOVE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"seconds", O_SECONDS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"reap", O_REAP, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"hitcount", O_HITCOUNT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"rttl", O_RTTL, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"name", O_NAME, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"rsource", O_RSOURCE, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"rdest", O_RDEST, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"mask", O_MASK, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct pf_xt_optspec recent_specs[] = {
    {"set", O_SET, F_ANY_OP, 0, false},
    {"rcheck", O_RCHECK, F_ANY_OP, 0, false},
    {"update", O_UPDATE, F_ANY_OP, 0, false},
    {"remove", O_REMOVE, F_ANY_OP, 0, false},
    {"seconds", O_SECONDS, 0, 0, false},
    {"reap", O_REAP, 0, F(O_SECONDS), false},
    {"hitcount", O_HITCOUNT, 0, 0, false},
    {"rttl", O_RTTL, F(O_SET) | F(O_REMOVE), 0, false},
    {"name", O_NAME, 0, 0, false},
    {"rsource", O_RSOURCE, 0, 0, false},
    {"rdest", O_RDEST, 0, 0, false},
    {"mask", O_MASK, 0, 0, false},
    {.name = NULL},
};

static void recent_init(void *data)
{
	struct recent_info *info = data;
	strcpy(info->name, "DEFAULT");
	info->side = RC_SOURCE;
	memset(info->mask, 0xFF, sizeof(info->mask));
}

/* XTTYPE_HOST: one IPv4 address, a host name allowed (it must not resolve to several). */
static int parse_host(const char *arg, uint32_t out[4], struct pf_error *err)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	int rc = getaddrinfo(arg, NULL, &hints, &res);
	if (rc != 0)
		return pf_err_param(err, "getaddrinfo: %s\n", gai_strerror(rc));
	uint32_t addr = 0;
	bool have = false;
	for (struct addrinfo *p = res; p; p = p->ai_next) {
		uint32_t a = ((struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr;
		if (!have) {
			addr = a;
			have = true;
		} else if (a != addr) {
			freeaddrinfo(res);
			return pf_err_param(err, "%s resolves to more than one address\n", arg);
		}
	}
	freeaddrinfo(res);
	out[0] = addr;
	out[1] = out[2] = out[3] = 0;
	return 0;
}

static int recent_parse(struct pf_parse_ctx *ctx)
{
	struct recent_info *info = ctx->data;
	const char *opt = recent_opts[ctx->id].name;
	bool invertible = (F(ctx->id) & F_ANY_OP) != 0;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "recent", opt, ctx->seen & F(ctx->id), ctx->invert,
			    invertible))
		return -1;
	switch (ctx->id) {
	case O_SET:
	case O_RCHECK:
	case O_UPDATE:
	case O_REMOVE: {
		static const uint8_t bits[] = {RC_SET, RC_CHECK, RC_UPDATE, RC_REMOVE};
		info->check_set |= bits[ctx->id];
		if (ctx->invert)
			info->invert = 1;
		return 0;
	}
	case O_SECONDS:
		if (pf_xt_parse_uint(ctx->arg, "recent", opt, 1, UINT32_MAX, &v, ctx->err))
			return -1;
		info->seconds = (uint32_t)v;
		return 0;
	case O_HITCOUNT:
		if (pf_xt_parse_uint(ctx->arg, "recent", opt, 0, UINT32_MAX, &v, ctx->err))
			return -1;
		info->hit_count = (uint32_t)v;
		return 0;
	case O_REAP:
		info->check_set |= RC_REAP;
		return 0;
	case O_RTTL:
		info->check_set |= RC_TTL;
		return 0;
	case O_NAME:
		memset(info->name, 0, sizeof(info->name));
		strncpy(info->name, ctx->arg, RECENT_NAME_LEN - 1);
		return 0;
	case O_RSOURCE:
		info->side = RC_SOURCE;
		return 0;
	case O_RDEST:
		info->side = RC_DEST;
		return 0;
	case O_MASK:
		return parse_host(ctx->arg, info->mask, ctx->err);
	}
	return 0;
}

static int recent_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & F_ANY_OP))
		return pf_err_param(ctx->err, "recent: you must specify one of `--set', `--rcheck' "
					      "`--update' or `--remove'");
	return pf_xt_options_fcheck("recent", recent_specs, ctx->seen, ctx->err);
}

static void recent_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct recent_info *info = ctx->data;
	char m[16];
	if (info->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " recent:");
	if (info->check_set & RC_SET)
		pf_sb_puts(out, " SET");
	if (info->check_set & RC_CHECK)
		pf_sb_puts(out, " CHECK");
	if (info->check_set & RC_UPDATE)
		pf_sb_puts(out, " UPDATE");
	if (info->check_set & RC_REMOVE)
		pf_sb_puts(out, " REMOVE");
	if (info->seconds)
		pf_sb_printf(out, " seconds: %d", (int)info->seconds);
	if (info->check_set & RC_REAP)
		pf_sb_puts(out, " reap");
	if (info->hit_count)
		pf_sb_printf(out, " hit_count: %u", info->hit_count);
	if (info->check_set & RC_TTL)
		pf_sb_puts(out, " TTL-Match");
	pf_sb_printf(out, " name: %s", info->name);
	if (info->side == RC_SOURCE)
		pf_sb_puts(out, " side: source");
	if (info->side == RC_DEST)
		pf_sb_puts(out, " side: dest");
	pf_fmt_ipv4(info->mask[0], m);
	pf_sb_printf(out, " mask: %s", m);
}

static void recent_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct recent_info *info = ctx->data;
	char m[16];
	if (info->invert)
		pf_sb_puts(out, " !");
	if (info->check_set & RC_SET)
		pf_sb_puts(out, " --set");
	if (info->check_set & RC_CHECK)
		pf_sb_puts(out, " --rcheck");
	if (info->check_set & RC_UPDATE)
		pf_sb_puts(out, " --update");
	if (info->check_set & RC_REMOVE)
		pf_sb_puts(out, " --remove");
	if (info->seconds)
		pf_sb_printf(out, " --seconds %d", (int)info->seconds);
	if (info->check_set & RC_REAP)
		pf_sb_puts(out, " --reap");
	if (info->hit_count)
		pf_sb_printf(out, " --hitcount %u", info->hit_count);
	if (info->check_set & RC_TTL)
		pf_sb_puts(out, " --rttl");
	pf_sb_printf(out, " --name %s", info->name);
	pf_fmt_ipv4(info->mask[0], m);
	pf_sb_printf(out, " --mask %s", m);
	if (info->side == RC_SOURCE)
		pf_sb_puts(out, " --rsource");
	if (info->side == RC_DEST)
		pf_sb_puts(out, " --rdest");
}

/* xt_recent's checkentry. */
static int recent_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			      unsigned hooks)
{
	const struct recent_info *info = data;
	(void)rule;
	(void)table;
	(void)hooks;
	unsigned ops = info->check_set & (RC_SET | RC_REMOVE | RC_CHECK | RC_UPDATE);
	if (ops == 0 || (ops & (ops - 1)) != 0)
		return EINVAL;
	if ((info->check_set & (RC_SET | RC_REMOVE)) &&
	    (info->seconds || info->hit_count || (info->check_set & (RC_TTL | RC_REAP))))
		return EINVAL;
	if ((info->check_set & RC_REAP) && !info->seconds)
		return EINVAL;
	if (info->hit_count > RECENT_MAX_HITCOUNT)
		return EINVAL;
	/* xt_check_proc_name */
	if (info->name[0] == '\0' || strcmp(info->name, ".") == 0 ||
	    strcmp(info->name, "..") == 0 || strchr(info->name, '/'))
		return EINVAL;
	return 0;
}

/*
 * Evaluation, as xt_recent.
 *
 * Lists are shared by name by every rule of the engine (the kernel shares them by name in a
 * network namespace). A list is created by the first rule naming it, in the engine's order
 * (tables raw, mangle, nat, filter, security; chains and rules in order), and keeps that
 * rule's --mask, as the kernel keeps the mask of the rule that created the list. It holds
 * at most ip_list_tot = 100 addresses (the module's default): adding one more first drops
 * the least recently set/updated address. Each address remembers its last N packet times,
 * N = the power of two at or above the largest --hitcount of the rules using the list (32
 * without one), as the kernel sizes it (a ring; a rule with a larger hitcount flushes and
 * enlarges the list when it is inserted, before any packet here). Times are jiffies
 * (jiffies.h). All memory is allocated when the engine is compiled.
 *
 * Per packet: the address (source, or destination with --rdest) is masked with the list's
 * mask and looked up; with --rttl only an entry of the same TTL (or one recorded with TTL
 * 0) is found. The TTL is taken as seen before forwarding: +1 when the packet has an output
 * interface and no local socket (the kernel's xt_out && !skb->sk), i.e. in FORWARD and in
 * POSTROUTING for packets without meta->has_uid (locally generated packets should carry
 * has_uid there). Not found: --set adds the address (with the packet's time) and matches,
 * the others do not match. Found: --set matches and records the time; --remove deletes it
 * and matches; --rcheck/--update count the recorded times not older than --seconds
 * (time_after(now - seconds * HZ, stamp), the product in 32 bits as in the kernel) and
 * match at the first --hitcount-th (or the first at all); --reap then drops the least
 * recently updated address of the list if its newest time is older than --seconds (unless
 * it is the entry an --update is about to refresh); --update records the time when the
 * rule's result is true. "!" inverts the result (and so also which --update records).
 *
 * A list lives while some rule of the engine names it, as in the kernel (/proc/net/xt_recent
 * can also edit the kernel's). Engines of a state domain (pktfiltd's workers) share their
 * lists by name, as they share their rules: a list is then locked around each packet's use
 * of it (the kernel takes its recent_lock), and lives while a rule of any of them names it,
 * so that a new generation of engines in the domain (a replaced rule set) takes over the
 * lists it names, as the kernel's new table does (docs/shared-state.md).
 */
#define RECENT_LIST_TOT 100  /* ip_list_tot */
#define RECENT_HASH_SIZE 128 /* 1 << fls(ip_list_tot) */

struct recent_entry {
	uint32_t addr; /* masked, network order */
	uint8_t ttl;
	uint16_t index, nstamps; /* the kernel's u16 fields */
	int16_t hnext;		 /* hash chain, or the free list */
	int16_t lru_prev, lru_next;
};

struct recent_table {
	bool ready;
	uint32_t mask;
	uint16_t nstamps_mask; /* the kernel's nstamps_max_mask */
	unsigned entries, refcnt;
	int16_t lru_head, lru_tail; /* head: least recently used */
	int16_t free_head;
	int16_t hash[RECENT_HASH_SIZE];
	struct recent_entry ent[RECENT_LIST_TOT];
	uint64_t *stamps; /* RECENT_LIST_TOT rings of nstamps_mask + 1 jiffies */
};

struct recent_state {
	struct recent_table *t;
};

static unsigned recent_hash(uint32_t addr)
{
	return (unsigned)((addr * 0x9E3779B1u) >> 25) & (RECENT_HASH_SIZE - 1);
}

static uint64_t *recent_stamps(struct recent_table *t, int i)
{
	return t->stamps + (size_t)i * ((size_t)t->nstamps_mask + 1);
}

/* Empty the list (recent_table_flush). */
static void recent_flush(struct recent_table *t)
{
	t->entries = 0;
	t->lru_head = t->lru_tail = -1;
	for (unsigned i = 0; i < RECENT_HASH_SIZE; i++)
		t->hash[i] = -1;
	for (int i = 0; i < RECENT_LIST_TOT; i++)
		t->ent[i].hnext = (int16_t)(i + 1 < RECENT_LIST_TOT ? i + 1 : -1);
	t->free_head = 0;
}

static void recent_table_destroy(void *obj)
{
	struct recent_table *t = obj;
	free(t->stamps);
	t->stamps = NULL;
}

static void lru_unlink(struct recent_table *t, int i)
{
	struct recent_entry *e = &t->ent[i];
	if (e->lru_prev >= 0)
		t->ent[e->lru_prev].lru_next = e->lru_next;
	else
		t->lru_head = e->lru_next;
	if (e->lru_next >= 0)
		t->ent[e->lru_next].lru_prev = e->lru_prev;
	else
		t->lru_tail = e->lru_prev;
}

static void lru_append(struct recent_table *t, int i)
{
	struct recent_entry *e = &t->ent[i];
	e->lru_next = -1;
	e->lru_prev = t->lru_tail;
	if (t->lru_tail >= 0)
		t->ent[t->lru_tail].lru_next = (int16_t)i;
	else
		t->lru_head = (int16_t)i;
	t->lru_tail = (int16_t)i;
}

static int recent_lookup(const struct recent_table *t, uint32_t addr, uint8_t ttl)
{
	for (int i = t->hash[recent_hash(addr)]; i >= 0; i = t->ent[i].hnext) {
		const struct recent_entry *e = &t->ent[i];
		if (e->addr == addr && (ttl == e->ttl || ttl == 0 || e->ttl == 0))
			return i;
	}
	return -1;
}

static void recent_remove(struct recent_table *t, int i)
{
	int16_t *pp = &t->hash[recent_hash(t->ent[i].addr)];
	while (*pp != i)
		pp = &t->ent[*pp].hnext;
	*pp = t->ent[i].hnext;
	lru_unlink(t, i);
	t->ent[i].hnext = t->free_head;
	t->free_head = (int16_t)i;
	t->entries--;
}

/* recent_entry_init: the list is full: drop its oldest entry first. */
static int recent_add(struct recent_table *t, uint32_t addr, uint8_t ttl, uint64_t now)
{
	if (t->entries >= RECENT_LIST_TOT)
		recent_remove(t, t->lru_head);
	int i = t->free_head;
	struct recent_entry *e = &t->ent[i];
	t->free_head = e->hnext;
	e->addr = addr;
	e->ttl = ttl;
	e->index = 1;
	e->nstamps = 1;
	recent_stamps(t, i)[0] = now;
	unsigned h = recent_hash(addr);
	/* list_add_tail on the bucket: append */
	int16_t *pp = &t->hash[h];
	while (*pp >= 0)
		pp = &t->ent[*pp].hnext;
	*pp = (int16_t)i;
	e->hnext = -1;
	lru_append(t, i);
	t->entries++;
	return i;
}

static void recent_update(struct recent_table *t, int i, uint64_t now)
{
	struct recent_entry *e = &t->ent[i];
	e->index &= t->nstamps_mask;
	recent_stamps(t, i)[e->index++] = now; /* u16: 65536 wraps to 0, as in the kernel */
	if (e->index > e->nstamps)
		e->nstamps = e->index;
	lru_unlink(t, i);
	lru_append(t, i);
}

/* The newest time of entry i: stamps[index - 1]. When the u16 index has wrapped to 0 (a
 * ring of 65536), the kernel reads the word before the array: on x86-64 the entry's family
 * (2, IPv4), TTL, index and nstamps fields. */
static uint64_t recent_newest(struct recent_table *t, int i)
{
	const struct recent_entry *e = &t->ent[i];
	if (e->index == 0)
		return 2u | ((uint64_t)e->ttl << 16) | ((uint64_t)e->nstamps << 48);
	return recent_stamps(t, i)[e->index - 1];
}

static int recent_state_init(struct pf_engine *eng, const void *data, void *state)
{
	const struct recent_info *info = data;
	struct recent_state *st = state;
	char key[80];
	pf_shared_name_key(info->name, key);
	struct recent_table *t =
	    pf_engine_shared(eng, "recent", key, sizeof(struct recent_table), recent_table_destroy);
	if (!t)
		return -1;
	int rc = 0;
	pf_state_lock(t);
	/* recent_mt_check: the ring size (ip_pkt_list_tot is 0 by default). */
	uint32_t want = 31;
	if (info->hit_count) {
		want = 1;
		while (want < info->hit_count)
			want <<= 1;
		want -= 1;
	}
	if (!t->ready || want > t->nstamps_mask) {
		/* a new list, or a larger ring: the kernel flushes the list */
		uint64_t *stamps =
		    calloc((size_t)RECENT_LIST_TOT * ((size_t)want + 1), sizeof(*stamps));
		if (!stamps) {
			rc = -1;
			goto out;
		}
		free(t->stamps);
		t->stamps = stamps;
		if (!t->ready)
			t->mask = info->mask[0];
		t->nstamps_mask = (uint16_t)want;
		recent_flush(t);
		t->ready = true;
	}
	t->refcnt++;
	st->t = t;
out:
	pf_state_unlock(t);
	return rc;
}

/* recent_mt_destroy: the last rule naming the list deletes it (a later rule creates a new
 * one, with its own mask). */
static void recent_state_free(struct pf_engine *eng, void *state)
{
	struct recent_table *t = ((struct recent_state *)state)->t;
	(void)eng;
	if (!t)
		return;
	pf_state_lock(t);
	if (--t->refcnt == 0) {
		recent_table_destroy(t);
		t->ready = false;
	}
	pf_state_unlock(t);
}

/* The match, with the list locked. */
static bool recent_match_list(struct pf_eval *ev, const struct recent_info *info,
			      struct recent_table *t, uint8_t ttl)
{
	const struct pf_packet *p = ev->pkt;
	uint64_t now = pf_jiffies(ev);
	bool ret = info->invert != 0;
	uint32_t addr = (info->side == RC_DEST ? p->daddr : p->saddr) & t->mask;

	int i = recent_lookup(t, addr, (info->check_set & RC_TTL) ? ttl : 0);
	if (i < 0) {
		if (!(info->check_set & RC_SET))
			return ret;
		recent_add(t, addr, ttl, now);
		return !ret;
	}
	if (info->check_set & RC_SET) {
		ret = !ret;
	} else if (info->check_set & RC_REMOVE) {
		recent_remove(t, i);
		return !ret;
	} else if (info->check_set & (RC_CHECK | RC_UPDATE)) {
		uint64_t time = now - (uint32_t)(info->seconds * PF_HZ);
		const struct recent_entry *e = &t->ent[i];
		const uint64_t *stamps = recent_stamps(t, i);
		unsigned hits = 0;
		for (unsigned k = 0; k < e->nstamps; k++) {
			if (info->seconds && pf_time_after(time, stamps[k]))
				continue;
			if (!info->hit_count || ++hits >= info->hit_count) {
				ret = !ret;
				break;
			}
		}
		if (info->check_set & RC_REAP) {
			int old = t->lru_head;
			bool keep = old == i && (info->check_set & RC_UPDATE) && ret;
			if (!keep && pf_time_after(time, recent_newest(t, old))) {
				recent_remove(t, old);
				if (old == i)
					return ret; /* nothing left to update */
			}
		}
	}
	if ((info->check_set & RC_SET) || ((info->check_set & RC_UPDATE) && ret)) {
		recent_update(t, i, now);
		t->ent[i].ttl = ttl;
	}
	return ret;
}

static bool recent_match(struct pf_eval *ev, const void *data, void *state)
{
	struct recent_table *t = ((struct recent_state *)state)->t;
	const struct pf_packet *p = ev->pkt;
	const uint8_t *ttlp = pf_packet_bytes(p, 8, 1);
	uint8_t ttl = ttlp ? *ttlp : p->ttl;
	/* the TTL as seen before forwarding */
	if (ev->out[0] != '\0' && ev->hook != PF_NF_LOCAL_OUT && !ev->meta->has_uid)
		ttl++;
	pf_state_lock(t);
	bool ret = recent_match_list(ev, data, t, ttl);
	pf_state_unlock(t);
	return ret;
}

const struct pf_ext pf_match_recent = {
    .name = "recent",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct recent_info),
    .options = recent_opts,
    .init = recent_init,
    .parse = recent_parse,
    .final_check = recent_final,
    .save = recent_save,
    .print = recent_print,
    .check_entry = recent_check_entry,
    .match = recent_match,
    .state_size = sizeof(struct recent_state),
    .state_init = recent_state_init,
    .state_free = recent_state_free,
};
