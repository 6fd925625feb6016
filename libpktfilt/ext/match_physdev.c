/*
 * match_physdev.c - "-m physdev": match the bridge ports a bridged packet came in on or goes
 * out of (--physdev-in, --physdev-out, --physdev-is-in, --physdev-is-out,
 * --physdev-is-bridged), as libxt_physdev.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

#define PHYS_IFNAMSIZ 16

/* xt_physdev_info.bitmask / .invert */
#define PD_IN 0x01
#define PD_OUT 0x02
#define PD_BRIDGED 0x04
#define PD_ISIN 0x08
#define PD_ISOUT 0x10

enum { O_IN = 0, O_OUT, O_IS_IN, O_IS_OUT, O_BRIDGED };

struct physdev_data {
	char physindev[PHYS_IFNAMSIZ];
	unsigned char in_mask[PHYS_IFNAMSIZ];
	char physoutdev[PHYS_IFNAMSIZ];
	unsigned char out_mask[PHYS_IFNAMSIZ];
	uint8_t invert;
	uint8_t bitmask;
};

static const struct pf_ext_option physdev_opts[] = {
    {.name = "physdev-in",
     .id = O_IN,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "physdev-out",
     .id = O_OUT,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "physdev-is-in",
     .id = O_IS_IN,
     .arg = PF_ARG_NONE,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "physdev-is-out",
     .id = O_IS_OUT,
     .arg = PF_ARG_NONE,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "physdev-is-bridged",
     .id = O_BRIDGED,
     .arg = PF_ARG_NONE,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = NULL},
};

/* xtables_parse_interface: a name shorter than IFNAMSIZ; a final '+' matches any suffix
 * (the mask then covers the characters before it), otherwise the mask includes the NUL.
 * A '/' or ' ' is accepted with iptables' warning. */
static int physdev_iface(const char *arg, char *name, unsigned char *mask, struct pf_error *err)
{
	size_t len = strlen(arg);
	memset(name, 0, PHYS_IFNAMSIZ);
	memset(mask, 0, PHYS_IFNAMSIZ);
	if (len + 1 > PHYS_IFNAMSIZ)
		return pf_err_param(err, "interface name `%s' must be shorter than IFNAMSIZ (%i)",
				    arg, PHYS_IFNAMSIZ - 1);
	memcpy(name, arg, len);
	if (len == 0)
		return 0;
	if (strpbrk(arg, "/ "))
		pf_err_warn(err,
			    "Warning: weird character in interface `%s' ('/' and ' ' are not "
			    "allowed by the kernel).",
			    arg);
	if (name[len - 1] == '+')
		memset(mask, 0xff, len - 1);
	else
		memset(mask, 0xff, len + 1);
	return 0;
}

static int physdev_parse(struct pf_parse_ctx *ctx)
{
	struct physdev_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "physdev", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, true))
		return -1;
	uint8_t bit = 0;
	switch (ctx->id) {
	case O_IN:
		if (physdev_iface(ctx->arg, d->physindev, d->in_mask, ctx->err))
			return -1;
		bit = PD_IN;
		break;
	case O_OUT:
		if (physdev_iface(ctx->arg, d->physoutdev, d->out_mask, ctx->err))
			return -1;
		bit = PD_OUT;
		break;
	case O_IS_IN:
		bit = PD_ISIN;
		break;
	case O_IS_OUT:
		bit = PD_ISOUT;
		break;
	case O_BRIDGED:
		bit = PD_BRIDGED;
		break;
	}
	d->bitmask |= bit;
	if (ctx->invert)
		d->invert |= bit;
	return 0;
}

static int physdev_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "PHYSDEV: no physdev option specified");
	return 0;
}

static void physdev_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct physdev_data *d = ctx->data;
	if (d->bitmask & PD_ISIN)
		pf_sb_printf(out, "%s --physdev-is-in", (d->invert & PD_ISIN) ? " !" : "");
	if (d->bitmask & PD_IN) {
		pf_sb_printf(out, "%s --physdev-in ", (d->invert & PD_IN) ? " !" : "");
		pf_sb_put_word(out, d->physindev, ctx->reparseable);
	}
	if (d->bitmask & PD_ISOUT)
		pf_sb_printf(out, "%s --physdev-is-out", (d->invert & PD_ISOUT) ? " !" : "");
	if (d->bitmask & PD_OUT) {
		pf_sb_printf(out, "%s --physdev-out ", (d->invert & PD_OUT) ? " !" : "");
		pf_sb_put_word(out, d->physoutdev, ctx->reparseable);
	}
	if (d->bitmask & PD_BRIDGED)
		pf_sb_printf(out, "%s --physdev-is-bridged", (d->invert & PD_BRIDGED) ? " !" : "");
}

static void physdev_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	pf_sb_puts(out, " PHYSDEV match");
	physdev_save(ctx, out);
}

/* xt_physdev's checkentry: an output port test needs bridged traffic when the rule is
 * reachable from OUTPUT. */
static int physdev_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			       unsigned hooks)
{
	const struct physdev_data *d = data;
	(void)rule;
	(void)table;
	if ((d->bitmask & (PD_OUT | PD_ISOUT)) &&
	    (!(d->bitmask & PD_BRIDGED) || (d->invert & PD_BRIDGED)) &&
	    (hooks & (1u << PF_HOOK_LOCAL_OUT)))
		return EINVAL;
	return 0;
}

/* ifname_compare_aligned: the device name, zero-padded to IFNAMSIZ, against the rule's name
 * under its mask ("+" wildcards mask the rest). */
static bool physdev_name_differs(const char *dev, const char *name, const unsigned char *mask)
{
	char buf[PHYS_IFNAMSIZ] = {0};
	size_t n = strlen(dev);
	memcpy(buf, dev, n < PHYS_IFNAMSIZ - 1 ? n : PHYS_IFNAMSIZ - 1);
	unsigned char diff = 0;
	for (int i = 0; i < PHYS_IFNAMSIZ; i++)
		diff |= (unsigned char)((buf[i] ^ name[i]) & mask[i]);
	return diff != 0;
}

/* physdev_mt (xt_physdev.c). A packet that did not cross a bridge (neither meta->physdev_in
 * nor physdev_out) matches only when every option given is inverted. Else: --physdev-is-
 * bridged tests for a bridge output port, --physdev-is-in/--physdev-is-out for the ports;
 * --physdev-in is skipped when there is no input port (a kernel quirk kept); --physdev-out
 * fails without an output port, inverted or not. */
static bool physdev_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct physdev_data *d = data;
	(void)state;
	const char *indev = ev->meta->physdev_in, *outdev = ev->meta->physdev_out;
	if (indev && !indev[0])
		indev = NULL;
	if (outdev && !outdev[0])
		outdev = NULL;
	if (!indev && !outdev) {
		static const uint8_t ops[] = {PD_BRIDGED, PD_ISIN, PD_ISOUT, PD_IN, PD_OUT};
		for (size_t i = 0; i < sizeof(ops); i++)
			if ((d->bitmask & ops[i]) && !(d->invert & ops[i]))
				return false;
		return true;
	}
	if ((d->bitmask & PD_BRIDGED) && (outdev != NULL) == ((d->invert & PD_BRIDGED) != 0))
		return false;
	if ((d->bitmask & PD_ISIN) && (indev == NULL) != ((d->invert & PD_ISIN) != 0))
		return false;
	if ((d->bitmask & PD_ISOUT) && (outdev == NULL) != ((d->invert & PD_ISOUT) != 0))
		return false;
	if ((d->bitmask & PD_IN) && indev &&
	    !physdev_name_differs(indev, d->physindev, d->in_mask) == ((d->invert & PD_IN) != 0))
		return false;
	if (!(d->bitmask & PD_OUT))
		return true;
	if (!outdev)
		return false;
	return physdev_name_differs(outdev, d->physoutdev, d->out_mask) ==
	       ((d->invert & PD_OUT) != 0);
}

const struct pf_ext pf_match_physdev = {
    .name = "physdev",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct physdev_data),
    .options = physdev_opts,
    .parse = physdev_parse,
    .final_check = physdev_final_check,
    .save = physdev_save,
    .print = physdev_print,
    .check_entry = physdev_check_entry,
    .match = physdev_match,
};
