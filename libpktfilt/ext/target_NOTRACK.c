/*
 * target_NOTRACK.c - -j NOTRACK: do not track matching packets (raw table). The kernel
 * target is CT with the notrack and alias flags: -S prints "-j NOTRACK", -L prints "CT" in
 * the target column and "NOTRACK" after the addresses.
 */
#include "engine/eval.h"
#include "ext/ext.h"

#define CT_NOTRACK 0x01
#define CT_NOTRACK_ALIAS 0x02

/* Same layout as target_CT.c's data (struct xt_ct_target_info_v1). */
struct notrack_data {
	uint16_t flags;
	uint16_t zone;
	uint32_t ct_events;
	uint32_t exp_events;
	char helper[16];
	char timeout[32];
};

static const struct pf_ext_option notrack_opts[] = {
    {.name = NULL},
};

static void notrack_init(void *data)
{
	struct notrack_data *d = data;
	d->flags = CT_NOTRACK | CT_NOTRACK_ALIAS;
}

static void notrack_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	(void)ctx;
	pf_sb_puts(out, " NOTRACK");
}

/* CT --notrack: the packet is untracked; continue. */
static unsigned notrack_target(struct pf_eval *ev, const void *data, void *state)
{
	(void)data;
	(void)state;
	ev->untracked = true;
	return PF_XT_CONTINUE;
}

static const char *const notrack_tables[] = {"raw", NULL};

const struct pf_ext pf_target_NOTRACK = {
    .name = "NOTRACK",
    .real_name = "CT",
    .kind = PF_EXT_TARGET,
    .revision = 2,
    .data_size = sizeof(struct notrack_data),
    .options = notrack_opts,
    .tables = notrack_tables,
    .init = notrack_init,
    .print = notrack_print,
    .needs_conntrack = true,
    .target = notrack_target,
};
