/*
 * match_icmp.c - the icmp match (-p icmp / -m icmp): ICMP type and code by name or number
 * (--icmp-type echo-request, 3/4, any), as libipt_icmp and the kernel's ip_tables icmp match.
 */
#include <string.h>
#include <strings.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

/* The kernel's struct ipt_icmp. */
struct icmp_info {
	uint8_t type;
	uint8_t code[2];
	uint8_t invflags;
};

#define ICMP_INV 0x01

enum { O_ICMP_TYPE };

static const struct pf_ext_option icmp_opts[] = {
    {"icmp-type", O_ICMP_TYPE, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {.name = NULL},
};

static const struct {
	const char *name;
	uint8_t type, code_min, code_max;
} icmp_codes[] = {
    {"any", 0xFF, 0, 0xFF},
    {"echo-reply", 0, 0, 0xFF},
    {"pong", 0, 0, 0xFF},
    {"destination-unreachable", 3, 0, 0xFF},
    {"network-unreachable", 3, 0, 0},
    {"host-unreachable", 3, 1, 1},
    {"protocol-unreachable", 3, 2, 2},
    {"port-unreachable", 3, 3, 3},
    {"fragmentation-needed", 3, 4, 4},
    {"source-route-failed", 3, 5, 5},
    {"network-unknown", 3, 6, 6},
    {"host-unknown", 3, 7, 7},
    {"network-prohibited", 3, 9, 9},
    {"host-prohibited", 3, 10, 10},
    {"TOS-network-unreachable", 3, 11, 11},
    {"TOS-host-unreachable", 3, 12, 12},
    {"communication-prohibited", 3, 13, 13},
    {"host-precedence-violation", 3, 14, 14},
    {"precedence-cutoff", 3, 15, 15},
    {"source-quench", 4, 0, 0xFF},
    {"redirect", 5, 0, 0xFF},
    {"network-redirect", 5, 0, 0},
    {"host-redirect", 5, 1, 1},
    {"TOS-network-redirect", 5, 2, 2},
    {"TOS-host-redirect", 5, 3, 3},
    {"echo-request", 8, 0, 0xFF},
    {"ping", 8, 0, 0xFF},
    {"router-advertisement", 9, 0, 0xFF},
    {"router-solicitation", 10, 0, 0xFF},
    {"time-exceeded", 11, 0, 0xFF},
    {"ttl-exceeded", 11, 0, 0xFF},
    {"ttl-zero-during-transit", 11, 0, 0},
    {"ttl-zero-during-reassembly", 11, 1, 1},
    {"parameter-problem", 12, 0, 0xFF},
    {"ip-header-bad", 12, 0, 0},
    {"required-option-missing", 12, 1, 1},
    {"timestamp-request", 13, 0, 0xFF},
    {"timestamp-reply", 14, 0, 0xFF},
    {"address-mask-request", 17, 0, 0xFF},
    {"address-mask-reply", 18, 0, 0xFF},
};
#define N_CODES (sizeof(icmp_codes) / sizeof(icmp_codes[0]))

static void icmp_init(void *data)
{
	struct icmp_info *i = data;
	i->type = 0xFF;
	i->code[1] = 0xFF;
}

static int parse_icmp(const char *s, struct icmp_info *info, struct pf_error *err)
{
	size_t len = strlen(s), match = N_CODES;
	for (size_t i = 0; i < N_CODES; i++) {
		if (strncasecmp(icmp_codes[i].name, s, len) != 0)
			continue;
		if (match != N_CODES)
			return pf_err_param(err, "Ambiguous ICMP type `%s': `%s' or `%s'?", s,
					    icmp_codes[match].name, icmp_codes[i].name);
		match = i;
	}
	if (match != N_CODES) {
		info->type = icmp_codes[match].type;
		info->code[0] = icmp_codes[match].code_min;
		info->code[1] = icmp_codes[match].code_max;
		return 0;
	}
	char *end;
	uint64_t v;
	if (!pf_strtoui_end(s, &end, 0, 255, &v))
		return pf_err_param(err, "Unknown ICMP type `%s'", s);
	info->type = (uint8_t)v;
	info->code[0] = 0;
	info->code[1] = 0xFF;
	if (*end == '/') {
		if (!pf_strtoui_end(end + 1, &end, 0, 255, &v))
			return pf_err_param(err, "Unknown ICMP code `%s'", s);
		info->code[0] = info->code[1] = (uint8_t)v;
		if (*end == ':') { /* a code range, min:max (not reordered) */
			if (!pf_strtoui_end(end + 1, &end, 0, 255, &v))
				return pf_err_param(err, "Unknown ICMP code `%s'", s);
			info->code[1] = (uint8_t)v;
		}
	}
	if (*end != '\0')
		return pf_err_param(err, "unknown character %c", *end);
	return 0;
}

static int icmp_parse(struct pf_parse_ctx *ctx)
{
	struct icmp_info *i = ctx->data;
	if (pf_xt_opt_check(ctx->err, "icmp", "icmp-type", ctx->seen & 1u, ctx->invert, true))
		return -1;
	if (parse_icmp(ctx->arg, i, ctx->err))
		return -1;
	if (ctx->invert)
		i->invflags |= ICMP_INV;
	return 0;
}

static int icmp_final(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & 1u))
		return pf_err_param(ctx->err, "icmp: option \"--icmp-type\" must be specified\n");
	return 0;
}

static void icmp_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct icmp_info *i = ctx->data;
	if (i->invflags & ICMP_INV)
		pf_sb_puts(out, " !");
	if (i->type == 0xFF) {
		pf_sb_puts(out, " --icmp-type any");
		return;
	}
	pf_sb_printf(out, " --icmp-type %u", i->type);
	if (i->code[0] != 0 || i->code[1] != 0xFF)
		pf_sb_printf(out, "/%u", i->code[0]);
}

static void icmp_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct icmp_info *i = ctx->data;
	bool inv = i->invflags & ICMP_INV;
	pf_sb_puts(out, " icmp");
	if (!ctx->numeric) {
		for (size_t k = 0; k < N_CODES; k++) {
			if (icmp_codes[k].type == i->type && icmp_codes[k].code_min == i->code[0] &&
			    icmp_codes[k].code_max == i->code[1]) {
				pf_sb_printf(out, " %s%s", inv ? "!" : "", icmp_codes[k].name);
				return;
			}
		}
	}
	if (inv)
		pf_sb_puts(out, " !");
	pf_sb_printf(out, "type %u", i->type);
	if (i->code[0] == i->code[1])
		pf_sb_printf(out, " code %u", i->code[0]);
	else if (i->code[0] != 0 || i->code[1] != 0xFF)
		pf_sb_printf(out, " codes %u-%u", i->code[0], i->code[1]);
}

/* ---- evaluation (xt_tcpudp's icmp_match) ---- */

static bool icmp_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct icmp_info *i = data;
	const struct pf_packet *p = ev->pkt;
	(void)state;
	if (p->fragoff != 0)
		return false;
	/* The kernel reads a whole struct icmphdr (8 bytes), though it looks at two. */
	const uint8_t *ic = pf_packet_bytes(p, p->l4_off, 8);
	if (!ic) {
		ev->hotdrop = true;
		return false;
	}
	bool in =
	    i->type == 0xFF || (ic[0] == i->type && ic[1] >= i->code[0] && ic[1] <= i->code[1]);
	return in != !!(i->invflags & ICMP_INV);
}

const struct pf_ext pf_match_icmp = {
    .name = "icmp",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct icmp_info),
    .options = icmp_opts,
    .proto = 1,
    .init = icmp_init,
    .parse = icmp_parse,
    .final_check = icmp_final,
    .save = icmp_save,
    .print = icmp_print,
    .match = icmp_match,
};
