/*
 * match_mac.c - "-m mac --mac-source XX:XX:XX:XX:XX:XX": match the source Ethernet address
 * (libxt_mac; the kernel allows it in PREROUTING, INPUT and FORWARD only).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

enum { O_MAC = 0 };

struct mac_data {
	uint8_t srcaddr[6];
	uint8_t pad[2];
	int32_t invert;
};

static const struct pf_ext_option mac_opts[] = {
    {.name = "mac-source",
     .id = O_MAC,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = NULL},
};

/* XTTYPE_ETHERMAC: six strtoul(base 16) fields of at most two characters, ':'-separated. */
static bool mac_parse_addr(const char *arg, uint8_t mac[6])
{
	char *end;
	for (int i = 0; i < 6; i++) {
		mac[i] = (uint8_t)strtoul(arg, &end, 16);
		if (end - arg > 2)
			return false;
		if (i < 5 ? *end != ':' : *end != '\0')
			return false;
		arg = end + 1;
	}
	return true;
}

static int mac_parse(struct pf_parse_ctx *ctx)
{
	struct mac_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "mac", ctx->name, ctx->seen & (1ull << ctx->id), ctx->invert,
			    true))
		return -1;
	if (!mac_parse_addr(ctx->arg, d->srcaddr))
		return pf_err_param(ctx->err, "Invalid MAC address specified.");
	d->invert = ctx->invert ? 1 : 0;
	return 0;
}

static int mac_final_check(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (1ull << O_MAC)))
		return pf_err_param(ctx->err, "mac: option \"--mac-source\" must be specified\n");
	return 0;
}

static void mac_addr(struct pf_strbuf *out, const uint8_t *m)
{
	pf_sb_printf(out, " %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void mac_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct mac_data *d = ctx->data;
	if (d->invert)
		pf_sb_puts(out, " !");
	pf_sb_puts(out, " --mac-source");
	mac_addr(out, d->srcaddr);
}

static void mac_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct mac_data *d = ctx->data;
	pf_sb_puts(out, " MAC");
	if (d->invert)
		pf_sb_puts(out, " !");
	mac_addr(out, d->srcaddr);
}

/* mac_mt (xt_mac.c): without an Ethernet header (meta->has_mac false) the match fails,
 * inverted or not; else the source address is compared, then inverted. */
static bool mac_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct mac_data *d = data;
	(void)state;
	if (!ev->meta->has_mac)
		return false;
	return (memcmp(ev->meta->src_mac, d->srcaddr, 6) == 0) ^ (d->invert != 0);
}

const struct pf_ext pf_match_mac = {
    .name = "mac",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct mac_data),
    .options = mac_opts,
    .hooks = (1u << PF_HOOK_PRE_ROUTING) | (1u << PF_HOOK_LOCAL_IN) | (1u << PF_HOOK_FORWARD),
    .parse = mac_parse,
    .final_check = mac_final_check,
    .save = mac_save,
    .print = mac_print,
    .match = mac_match,
};
