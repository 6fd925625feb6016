/*
 * match_sctp.c - the sctp match (-p sctp / -m sctp): port ranges and chunk types with chunk
 * flags (--chunk-types all|any|only LIST), as libxt_sctp and the kernel's xt_sctp.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "ext/port_range.h"
#include "language/xtutil.h"
#include "model/model.h"

#define SCTP_NUM_FLAGS 4

/* The kernel's struct xt_sctp_info. */
struct sctp_info {
	uint16_t dpts[2];
	uint16_t spts[2];
	uint32_t chunkmap[256 / 32];
	uint32_t chunk_match_type;
	struct {
		uint8_t chunktype;
		uint8_t flag;
		uint8_t flag_mask;
	} flag_info[SCTP_NUM_FLAGS];
	int32_t flag_count;
	uint32_t flags;
	uint32_t invflags;
};

#define SCTP_SRC_PORTS 0x01
#define SCTP_DEST_PORTS 0x02
#define SCTP_CHUNK_TYPES 0x04

#define MATCH_ANY 0x01
#define MATCH_ALL 0x02
#define MATCH_ONLY 0x04

enum { O_SPORT, O_DPORT, O_CHUNKS };

/* Two-word options (--chunk-types TYPE LIST) need the core's PF_ARG_TWO / ctx->arg2. */
#ifdef PF_EXT_ARG2
#define SCTP_ARG_CHUNKS PF_ARG_TWO
#define SCTP_ARG2(ctx) ((ctx)->arg2)
#else
#define SCTP_ARG_CHUNKS PF_ARG_REQUIRED
#define SCTP_ARG2(ctx) ((void)(ctx), (const char *)NULL)
#endif

static const struct pf_ext_option sctp_opts[] = {
    {"source-port", O_SPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"sport", O_SPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"destination-port", O_DPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"dport", O_DPORT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"chunk-types", O_CHUNKS, SCTP_ARG_CHUNKS, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct {
	const char *name;
	uint8_t type;
	const char *valid_flags;
} chunk_names[] = {
    {"DATA", 0, "----IUBE"},
    {"INIT", 1, "--------"},
    {"INIT_ACK", 2, "--------"},
    {"SACK", 3, "--------"},
    {"HEARTBEAT", 4, "--------"},
    {"HEARTBEAT_ACK", 5, "--------"},
    {"ABORT", 6, "-------T"},
    {"SHUTDOWN", 7, "--------"},
    {"SHUTDOWN_ACK", 8, "--------"},
    {"ERROR", 9, "--------"},
    {"COOKIE_ECHO", 10, "--------"},
    {"COOKIE_ACK", 11, "--------"},
    {"ECN_ECNE", 12, "--------"},
    {"ECN_CWR", 13, "--------"},
    {"SHUTDOWN_COMPLETE", 14, "-------T"},
    {"ASCONF", 193, "--------"},
    {"ASCONF_ACK", 128, "--------"},
    {"FORWARD_TSN", 192, "--------"},
    {"I_DATA", 64, "----IUBE"},
    {"RE_CONFIG", 130, "--------"},
    {"PAD", 132, "--------"},
    {"I_FORWARD_TSN", 194, "--------"},
};
#define N_CHUNKS (sizeof(chunk_names) / sizeof(chunk_names[0]))

static void sctp_init(void *data)
{
	struct sctp_info *s = data;
	for (int i = 0; i < SCTP_NUM_FLAGS; i++)
		s->flag_info[i].chunktype = 0xFF; /* -1 */
}

static bool map_isset(const uint32_t *map, unsigned i)
{
	return map[i / 32] & (1u << (i % 32));
}

static int save_flag(struct sctp_info *s, uint8_t chunktype, int bit, bool set,
		     struct pf_error *err)
{
	for (int i = 0; i < s->flag_count; i++) {
		if (s->flag_info[i].chunktype == chunktype) {
			s->flag_info[i].flag_mask |= (uint8_t)(1u << bit);
			if (set)
				s->flag_info[i].flag |= (uint8_t)(1u << bit);
			return 0;
		}
	}
	if (s->flag_count == SCTP_NUM_FLAGS)
		return pf_err_param(err,
				    "Number of chunk types with flags exceeds currently allowed "
				    "limit. Increasing this limit involves changing "
				    "IPT_NUM_SCTP_FLAGS and recompiling both the kernel space and "
				    "user space modules");
	int n = s->flag_count++;
	s->flag_info[n].chunktype = chunktype;
	s->flag_info[n].flag_mask |= (uint8_t)(1u << bit);
	if (set)
		s->flag_info[n].flag |= (uint8_t)(1u << bit);
	return 0;
}

static int parse_chunks(struct sctp_info *s, const char *type, const char *list,
			struct pf_error *err)
{
	if (strcasecmp(type, "ANY") == 0)
		s->chunk_match_type = MATCH_ANY;
	else if (strcasecmp(type, "ALL") == 0)
		s->chunk_match_type = MATCH_ALL;
	else if (strcasecmp(type, "ONLY") == 0)
		s->chunk_match_type = MATCH_ONLY;
	else
		return pf_err_param(err,
				    "Match type has to be one of \"ALL\", \"ANY\" or \"ONLY\"");
	memset(s->chunkmap, 0, sizeof(s->chunkmap));
	if (strcasecmp(list, "ALL") == 0) {
		memset(s->chunkmap, 0xFF, sizeof(s->chunkmap));
		return 0;
	}
	if (strcasecmp(list, "NONE") == 0)
		return 0;
	const char *p = list;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (len > 0) {
			char item[256];
			if (len >= sizeof(item))
				len = sizeof(item) - 1;
			memcpy(item, p, len);
			item[len] = '\0';
			char *fl = strchr(item, ':');
			if (fl)
				*fl++ = '\0';
			size_t i;
			for (i = 0; i < N_CHUNKS; i++)
				if (strcasecmp(chunk_names[i].name, item) == 0)
					break;
			if (i == N_CHUNKS)
				return pf_err_param(err, "Unknown sctp chunk `%s'", item);
			uint8_t t = chunk_names[i].type;
			s->chunkmap[t / 32] |= 1u << (t % 32);
			for (; fl && *fl; fl++) {
				const char *v =
				    strchr(chunk_names[i].valid_flags, toupper((unsigned char)*fl));
				if (!v)
					return pf_err_param(err, "Invalid flags for chunk type %d",
							    (int)i);
				int bit = 7 - (int)(v - chunk_names[i].valid_flags);
				/* iptables records the table index as the chunk type. */
				if (save_flag(s, (uint8_t)i, bit, isupper((unsigned char)*fl), err))
					return -1;
			}
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

static int sctp_parse(struct pf_parse_ctx *ctx)
{
	struct sctp_info *s = ctx->data;
	switch (ctx->id) {
	case O_SPORT:
		if (ctx->seen & (1u << O_SPORT))
			return pf_err_param(ctx->err, "Only one `--source-port' allowed");
		s->flags |= SCTP_SRC_PORTS;
		if (pf_parse_port_range(ctx->arg, "sctp", s->spts, ctx->err))
			return -1;
		if (ctx->invert)
			s->invflags |= SCTP_SRC_PORTS;
		return 0;
	case O_DPORT:
		if (ctx->seen & (1u << O_DPORT))
			return pf_err_param(ctx->err, "Only one `--destination-port' allowed");
		s->flags |= SCTP_DEST_PORTS;
		if (pf_parse_port_range(ctx->arg, "sctp", s->dpts, ctx->err))
			return -1;
		if (ctx->invert)
			s->invflags |= SCTP_DEST_PORTS;
		return 0;
	case O_CHUNKS: {
		if (ctx->seen & (1u << O_CHUNKS))
			return pf_err_param(ctx->err, "Only one `--chunk-types' allowed");
		const char *list = SCTP_ARG2(ctx);
		if (!list)
			return pf_err_param(ctx->err, "--chunk-types requires two args");
		s->flags |= SCTP_CHUNK_TYPES;
		if (parse_chunks(s, ctx->arg, list, ctx->err))
			return -1;
		if (ctx->invert)
			s->invflags |= SCTP_CHUNK_TYPES;
		return 0;
	}
	}
	return 0;
}

static void put_chunk_flags(struct pf_strbuf *out, unsigned type, uint8_t flag, uint8_t mask)
{
	if (mask)
		pf_sb_putc(out, ':');
	if (type >= N_CHUNKS)
		return; /* iptables indexes its name table by type: only types below N_CHUNKS have
			   flags */
	for (int i = 7; i >= 0; i--) {
		if (!(mask & (1u << i)))
			continue;
		char c = chunk_names[type].valid_flags[7 - i];
		pf_sb_putc(out, (flag & (1u << i)) ? c : (char)tolower((unsigned char)c));
	}
}

static void put_chunks(struct pf_strbuf *out, const struct sctp_info *s, bool numeric)
{
	switch (s->chunk_match_type) {
	case MATCH_ANY:
		pf_sb_puts(out, " any");
		break;
	case MATCH_ALL:
		pf_sb_puts(out, " all");
		break;
	case MATCH_ONLY:
		pf_sb_puts(out, " only");
		break;
	default:
		pf_sb_puts(out, "Never reach here\n");
		break;
	}
	bool clear = true, all = true;
	for (unsigned i = 0; i < 256 / 32; i++) {
		if (s->chunkmap[i])
			clear = false;
		if (s->chunkmap[i] != 0xFFFFFFFFu)
			all = false;
	}
	if (clear) {
		pf_sb_puts(out, " NONE");
		return;
	}
	if (all) {
		pf_sb_puts(out, " ALL");
		return;
	}
	bool first = true;
	for (unsigned i = 0; i < 256; i++) {
		if (!map_isset(s->chunkmap, i))
			continue;
		pf_sb_putc(out, first ? ' ' : ',');
		first = false;
		if (numeric) {
			pf_sb_printf(out, "0x%04X", i);
		} else {
			for (size_t k = 0; k < N_CHUNKS; k++)
				if (chunk_names[k].type == i)
					pf_sb_puts(out, chunk_names[k].name);
		}
		for (int j = 0; j < s->flag_count && j < SCTP_NUM_FLAGS; j++)
			if (s->flag_info[j].chunktype == i)
				put_chunk_flags(out, i, s->flag_info[j].flag,
						s->flag_info[j].flag_mask);
	}
}

static void sctp_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct sctp_info *s = ctx->data;
	if (s->flags & SCTP_SRC_PORTS)
		pf_port_range_save(out, "sport", s->spts, s->invflags & SCTP_SRC_PORTS, false);
	if (s->flags & SCTP_DEST_PORTS)
		pf_port_range_save(out, "dport", s->dpts, s->invflags & SCTP_DEST_PORTS, false);
	if (s->flags & SCTP_CHUNK_TYPES) {
		if (s->invflags & SCTP_CHUNK_TYPES)
			pf_sb_puts(out, " !");
		pf_sb_puts(out, " --chunk-types");
		put_chunks(out, s, false);
	}
}

static void sctp_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct sctp_info *s = ctx->data;
	pf_sb_puts(out, " sctp");
	if (s->flags & SCTP_SRC_PORTS)
		pf_port_range_print(out, "spt", s->spts, s->invflags & SCTP_SRC_PORTS, "sctp",
				    ctx->numeric);
	if (s->flags & SCTP_DEST_PORTS)
		pf_port_range_print(out, "dpt", s->dpts, s->invflags & SCTP_DEST_PORTS, "sctp",
				    ctx->numeric);
	if (s->flags & SCTP_CHUNK_TYPES) {
		if (s->invflags & SCTP_CHUNK_TYPES)
			pf_sb_puts(out, " !");
		put_chunks(out, s, ctx->numeric);
	}
}

/* ---- evaluation (xt_sctp's sctp_mt and match_packet) ---- */

/* The flags test of the first flag entry for this chunk type (none: any flags). The entry holds
 * what iptables stored: the index in its name table, which is not the type from I_DATA on. */
static bool chunk_flags_ok(const struct sctp_info *s, uint8_t type, uint8_t flags)
{
	int n = s->flag_count < SCTP_NUM_FLAGS ? s->flag_count : SCTP_NUM_FLAGS;
	for (int i = 0; i < n; i++)
		if (s->flag_info[i].chunktype == type)
			return (flags & s->flag_info[i].flag_mask) == s->flag_info[i].flag;
	return true;
}

/*
 * The chunk walk. The kernel's chunk map has 64 words (256 / sizeof(u32)), of which only the
 * first 8 name chunk types; iptables' "ALL" list sets all 64, so for "all ALL" the words past
 * the 8th stay set and the match never succeeds (seen on 6.18: not even with a packet holding
 * all 256 chunk types). We keep 8 words: a map whose 8 words are all ones came from "ALL"
 * (the named chunks cannot fill it) and has those phantom bits.
 */
static bool sctp_chunks(struct pf_eval *ev, const struct sctp_info *s, size_t off)
{
	const struct pf_packet *p = ev->pkt;
	uint32_t left[256 / 32];
	bool phantom = true;
	for (unsigned w = 0; w < 256 / 32; w++) {
		left[w] = s->chunkmap[w];
		if (s->chunkmap[w] != 0xFFFFFFFFu)
			phantom = false;
	}
	do {
		const uint8_t *ch = pf_packet_bytes(p, off, 4);
		if (!ch || pf_rd16(ch + 2) == 0) { /* chunk header cut off, or length 0 */
			ev->hotdrop = true;
			return false;
		}
		uint8_t type = ch[0], flags = ch[1];
		off += ((size_t)pf_rd16(ch + 2) + 3) & ~(size_t)3;
		if (map_isset(s->chunkmap, type)) {
			switch (s->chunk_match_type) {
			case MATCH_ANY:
				if (chunk_flags_ok(s, type, flags))
					return true;
				break;
			case MATCH_ALL:
				if (chunk_flags_ok(s, type, flags))
					left[type / 32] &= ~(1u << (type % 32));
				break;
			case MATCH_ONLY:
				if (!chunk_flags_ok(s, type, flags))
					return false;
				break;
			}
		} else if (s->chunk_match_type == MATCH_ONLY) {
			return false;
		}
	} while (off < p->len);
	switch (s->chunk_match_type) {
	case MATCH_ALL:
		if (phantom)
			return false;
		for (unsigned w = 0; w < 256 / 32; w++)
			if (left[w])
				return false;
		return true;
	case MATCH_ONLY:
		return true;
	default:
		return false;
	}
}

static bool sctp_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct sctp_info *s = data;
	const struct pf_packet *p = ev->pkt;
	(void)state;
	if (p->fragoff != 0)
		return false;
	const uint8_t *sh = pf_packet_bytes(p, p->l4_off, 12);
	if (!sh) { /* first fragment without the whole common header */
		ev->hotdrop = true;
		return false;
	}
	uint16_t sport = pf_rd16(sh), dport = pf_rd16(sh + 2);
	if ((s->flags & SCTP_SRC_PORTS) &&
	    !pf_port_in(sport, s->spts, s->invflags & SCTP_SRC_PORTS))
		return false;
	if ((s->flags & SCTP_DEST_PORTS) &&
	    !pf_port_in(dport, s->dpts, s->invflags & SCTP_DEST_PORTS))
		return false;
	if (s->flags & SCTP_CHUNK_TYPES) {
		/* a walk that sets hotdrop says no; inverted, the match then says yes (the
		 * kernel counts the rule, then drops) */
		if (sctp_chunks(ev, s, p->l4_off + 12u) == !!(s->invflags & SCTP_CHUNK_TYPES))
			return false;
	}
	return true;
}

const struct pf_ext pf_match_sctp = {
    .name = "sctp",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct sctp_info),
    .options = sctp_opts,
    .proto = 132,
    .init = sctp_init,
    .parse = sctp_parse,
    .save = sctp_save,
    .print = sctp_print,
    .match = sctp_match,
};
