/*
 * target_LOG.c - -j LOG: kernel logging of matching packets (--log-level, --log-prefix and
 * the --log-* flags), any table and chain.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/eval.h"
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

/* ---- evaluation: the line nf_log_syslog.c (nf_log_ip_packet) writes ---- */

struct logbuf {
	char s[1024]; /* the kernel's nf_log_buf is 1024 bytes too */
	size_t n;
};

static void lb_add(struct logbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->n >= sizeof(b->s) - 1)
		return;
	va_start(ap, fmt);
	int r = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		b->n += (size_t)r < sizeof(b->s) - b->n ? (size_t)r : sizeof(b->s) - 1 - b->n;
}

static void lb_ip(struct logbuf *b, const char *name, const uint8_t *a)
{
	lb_add(b, "%s=%u.%u.%u.%u ", name, a[0], a[1], a[2], a[3]);
}

static void lb_hex(struct logbuf *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lb_add(b, "%02X", p[i]);
}

/* nf_log_dump_tcp_header: returns true when the dump stops the line (truncation). */
static bool log_tcp(struct logbuf *b, const struct pf_packet *p, bool fragment, uint32_t off,
		    unsigned flags)
{
	lb_add(b, "PROTO=TCP ");
	if (fragment)
		return false;
	const uint8_t *th = pf_packet_bytes(p, off, 20);
	if (!th) {
		lb_add(b, "INCOMPLETE [%u bytes] ", (uint32_t)p->len - off);
		return true;
	}
	lb_add(b, "SPT=%u DPT=%u ", pf_rd16(th), pf_rd16(th + 2));
	if (flags & LOG_TCPSEQ)
		lb_add(b, "SEQ=%u ACK=%u ", (unsigned)pf_rd16(th + 4) << 16 | pf_rd16(th + 6),
		       (unsigned)pf_rd16(th + 8) << 16 | pf_rd16(th + 10));
	lb_add(b, "WINDOW=%u ", pf_rd16(th + 14));
	/* TCP_RESERVED_BITS is 0x0E000000 since the AE flag took the lowest reserved bit */
	lb_add(b, "RES=0x%02x ", (unsigned)((th[12] & 0x0e) << 2));
	static const char *const names[] = {"FIN ", "SYN ", "RST ", "PSH ",
					    "ACK ", "URG ", "ECE ", "CWR "};
	if (th[12] & 0x01)
		lb_add(b, "AE ");
	for (int i = 7; i >= 0; i--)
		if (th[13] & (1u << i))
			lb_add(b, "%s", names[i]);
	lb_add(b, "URGP=%u ", pf_rd16(th + 18));
	unsigned doff = (unsigned)(th[12] >> 4) * 4;
	if ((flags & LOG_TCPOPT) && doff > 20) {
		const uint8_t *op = pf_packet_bytes(p, off + 20, doff - 20);
		if (!op) {
			lb_add(b, "OPT (TRUNCATED)");
			return true;
		}
		lb_add(b, "OPT (");
		lb_hex(b, op, doff - 20);
		lb_add(b, ") ");
	}
	return false;
}

static bool log_udp(struct logbuf *b, const struct pf_packet *p, uint8_t proto, bool fragment,
		    uint32_t off)
{
	lb_add(b, proto == 17 ? "PROTO=UDP " : "PROTO=UDPLITE ");
	if (fragment)
		return false;
	const uint8_t *uh = pf_packet_bytes(p, off, 8);
	if (!uh) {
		lb_add(b, "INCOMPLETE [%u bytes] ", (uint32_t)p->len - off);
		return true;
	}
	lb_add(b, "SPT=%u DPT=%u LEN=%u ", pf_rd16(uh), pf_rd16(uh + 2), pf_rd16(uh + 4));
	return false;
}

/* Minimal ICMP lengths (required_len[] of dump_ipv4_packet), types 0..18. */
static const uint8_t icmp_required[19] = {
    [0] = 4,   [3] = 28,  [4] = 28,  [5] = 28,	[8] = 4,   [11] = 28,
    [12] = 28, [13] = 20, [14] = 20, [17] = 12, [18] = 12,
};

/* dump_ipv4_packet: the IP header at iphoff (0, or the packet quoted by an ICMP error). */
static void log_ipv4(struct logbuf *b, struct pf_eval *ev, unsigned flags, uint32_t iphoff)
{
	const struct pf_packet *p = ev->pkt;
	const uint8_t *ih = pf_packet_bytes(p, iphoff, 20);
	if (!ih) {
		lb_add(b, "TRUNCATED");
		return;
	}
	uint32_t ihl = (uint32_t)(ih[0] & 0x0f) * 4;
	uint16_t frag = pf_rd16(ih + 6);
	bool fragment = (frag & 0x1fff) != 0;
	uint8_t proto = ih[9];
	lb_ip(b, "SRC", ih + 12);
	lb_ip(b, "DST", ih + 16);
	lb_add(b, "LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u ", pf_rd16(ih + 2), ih[1] & 0x1e,
	       ih[1] & 0xe0, ih[8], pf_rd16(ih + 4));
	if (frag & 0x8000)
		lb_add(b, "CE ");
	if (frag & 0x4000)
		lb_add(b, "DF ");
	if (frag & 0x2000)
		lb_add(b, "MF ");
	if (frag & 0x1fff)
		lb_add(b, "FRAG:%u ", frag & 0x1fff);
	if ((flags & LOG_IPOPT) && ihl > 20) {
		const uint8_t *op = pf_packet_bytes(p, iphoff + 20, ihl - 20);
		if (!op) {
			lb_add(b, "TRUNCATED");
			return;
		}
		lb_add(b, "OPT (");
		lb_hex(b, op, ihl - 20);
		lb_add(b, ") ");
	}
	uint32_t l4 = iphoff + ihl;
	uint32_t rest = (uint32_t)p->len - iphoff - ihl; /* unsigned, as the kernel computes it */
	switch (proto) {
	case 6:
		if (log_tcp(b, p, fragment, l4, flags))
			return;
		break;
	case 17:
	case 136:
		if (log_udp(b, p, proto, fragment, l4))
			return;
		break;
	case 1: {
		lb_add(b, "PROTO=ICMP ");
		if (fragment)
			break;
		const uint8_t *ic = pf_packet_bytes(p, l4, 8);
		if (!ic) {
			lb_add(b, "INCOMPLETE [%u bytes] ", rest);
			break;
		}
		lb_add(b, "TYPE=%u CODE=%u ", ic[0], ic[1]);
		if (ic[0] <= 18 && icmp_required[ic[0]] && rest < icmp_required[ic[0]]) {
			lb_add(b, "INCOMPLETE [%u bytes] ", rest);
			break;
		}
		switch (ic[0]) {
		case 0:
		case 8:
			lb_add(b, "ID=%u SEQ=%u ", pf_rd16(ic + 4), pf_rd16(ic + 6));
			break;
		case 12:
			lb_add(b, "PARAMETER=%u ", ic[4]);
			break;
		case 5:
			lb_ip(b, "GATEWAY", ic + 4);
			/* fall through */
		case 3:
		case 4:
		case 11:
			if (iphoff == 0) {
				lb_add(b, "[");
				log_ipv4(b, ev, flags, l4 + 8);
				lb_add(b, "] ");
			}
			if (ic[0] == 3 && ic[1] == 4)
				lb_add(b, "MTU=%u ", pf_rd16(ic + 6));
			break;
		default:
			break;
		}
		break;
	}
	case 51: {
		if (fragment)
			break;
		lb_add(b, "PROTO=AH ");
		const uint8_t *ah = pf_packet_bytes(p, l4, 12);
		if (!ah) {
			lb_add(b, "INCOMPLETE [%u bytes] ", rest);
			break;
		}
		lb_add(b, "SPI=0x%x ", (unsigned)pf_rd16(ah + 4) << 16 | pf_rd16(ah + 6));
		break;
	}
	case 50: {
		lb_add(b, "PROTO=ESP ");
		if (fragment)
			break;
		const uint8_t *eh = pf_packet_bytes(p, l4, 8);
		if (!eh) {
			lb_add(b, "INCOMPLETE [%u bytes] ", rest);
			break;
		}
		lb_add(b, "SPI=0x%x ", (unsigned)pf_rd16(eh) << 16 | pf_rd16(eh + 2));
		break;
	}
	default:
		lb_add(b, "PROTO=%u ", proto);
		break;
	}
	if (iphoff != 0)
		return;
	if ((flags & LOG_UID) && ev->meta->has_uid)
		lb_add(b, "UID=%u GID=%u ", ev->meta->uid, ev->meta->gid);
	if (ev->mark)
		lb_add(b, "MARK=0x%x ", ev->mark);
}

/*
 * log_tg (xt_LOG.c) -> nf_log_ip_packet (nf_log_syslog.c): the line the kernel writes after
 * "<level>PREFIX", here without the prefix (given to the sink separately; the kernel's
 * message is prefix + line) and with the kernel's trailing space. The MAC part comes from the
 * metadata: with an input interface, "MAC=" and, when the frame is known (meta->has_mac), its
 * 14-byte Ethernet header (destination meta->dst_mac, source meta->src_mac, type 0800);
 * --log-macdecode prints MACSRC/MACDST/MACPROTO instead (nothing without a frame). PHYSIN/
 * PHYSOUT come from the bridge ports, UID/GID from meta->has_uid, MARK from the current mark.
 * Continues.
 */
static unsigned log_target(struct pf_eval *ev, const void *data, void *state)
{
	const struct log_data *d = data;
	const struct pf_packet_meta *m = ev->meta;
	struct logbuf b;
	char prefix[sizeof(d->prefix) + 1];
	(void)state;
	b.n = 0;
	b.s[0] = '\0';
	memcpy(prefix, d->prefix, sizeof(d->prefix));
	prefix[sizeof(d->prefix)] = '\0';
	lb_add(&b, "IN=%s OUT=%s ", ev->in, ev->out);
	if (m->physdev_in && m->physdev_in[0] && strcmp(m->physdev_in, ev->in) != 0)
		lb_add(&b, "PHYSIN=%s ", m->physdev_in);
	if (m->physdev_out && m->physdev_out[0] && strcmp(m->physdev_out, ev->out) != 0)
		lb_add(&b, "PHYSOUT=%s ", m->physdev_out);
	if (ev->in[0]) {
		if (d->logflags & LOG_MACDECODE) {
			if (m->has_mac) {
				const uint8_t *s = m->src_mac, *t = m->dst_mac;
				lb_add(&b,
				       "MACSRC=%02x:%02x:%02x:%02x:%02x:%02x "
				       "MACDST=%02x:%02x:%02x:%02x:%02x:%02x MACPROTO=0800 ",
				       s[0], s[1], s[2], s[3], s[4], s[5], t[0], t[1], t[2], t[3],
				       t[4], t[5]);
			}
		} else {
			lb_add(&b, "MAC=");
			if (m->has_mac) {
				uint8_t hdr[14];
				memcpy(hdr, m->dst_mac, 6);
				memcpy(hdr + 6, m->src_mac, 6);
				hdr[12] = 0x08;
				hdr[13] = 0x00;
				for (int i = 0; i < 14; i++)
					lb_add(&b, i ? ":%02x" : "%02x", hdr[i]);
			}
			lb_add(&b, " ");
		}
	}
	log_ipv4(&b, ev, d->logflags, 0);
	pf_eval_log(ev, d->level, prefix, b.s);
	return PF_XT_CONTINUE;
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
    .target = log_target,
};
