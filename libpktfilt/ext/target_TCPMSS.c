/*
 * target_TCPMSS.c - -j TCPMSS --set-mss N | --clamp-mss-to-pmtu: rewrite the MSS option of
 * TCP SYN packets. The kernel wants -p tcp and a tcp match on SYN (--syn or --tcp-flags
 * with SYN set, not inverted); clamping only in FORWARD, OUTPUT and POSTROUTING.
 */
#include <errno.h>
#include <string.h>

#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

enum { O_SET_MSS = 0, O_CLAMP_MSS };

#define TCPMSS_CLAMP_PMTU 0xffff

/* struct xt_tcpmss_info */
struct tcpmss_data {
	uint16_t mss;
};

static const struct pf_ext_option tcpmss_opts[] = {
    {"set-mss", O_SET_MSS, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"clamp-mss-to-pmtu", O_CLAMP_MSS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int tcpmss_parse(struct pf_parse_ctx *ctx)
{
	struct tcpmss_data *d = ctx->data;
	uint64_t v;
	if (pf_xt_opt_check(ctx->err, "TCPMSS", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	if (ctx->id == O_CLAMP_MSS) {
		d->mss = TCPMSS_CLAMP_PMTU;
		return 0;
	}
	/* at most 65535 less the IPv4 header */
	if (pf_xt_parse_uint(ctx->arg, "TCPMSS", ctx->name, 0, 65535 - 20, &v, ctx->err))
		return -1;
	d->mss = (uint16_t)v;
	return 0;
}

static int tcpmss_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "TCPMSS target: At least one parameter is required");
	return 0;
}

static void tcpmss_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcpmss_data *d = ctx->data;
	if (d->mss == TCPMSS_CLAMP_PMTU)
		pf_sb_puts(out, " --clamp-mss-to-pmtu");
	else
		pf_sb_printf(out, " --set-mss %u", d->mss);
}

static void tcpmss_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct tcpmss_data *d = ctx->data;
	if (d->mss == TCPMSS_CLAMP_PMTU)
		pf_sb_puts(out, " TCPMSS clamp to PMTU");
	else
		pf_sb_printf(out, " TCPMSS set %u", d->mss);
}

/* Whether a tcp match instance compares SYN set (the kernel's find_syn_match). The tcp
 * match's data belongs to its own file: read its canonical text instead,
 * " [! ]--tcp-flags MASK CMP". */
static bool tcp_match_on_syn(const struct pf_rule *rule, const struct pf_ext_inst *m)
{
	struct pf_print_ctx pc = {m->data, rule, true, false};
	struct pf_strbuf sb;
	bool syn = false;
	if (!m->ext->save)
		return false;
	pf_sb_init(&sb);
	m->ext->save(&pc, &sb);
	const char *s = pf_sb_str(&sb);
	const char *f = strstr(s, "--tcp-flags ");
	if (f && !(f - s >= 2 && f[-2] == '!' && f[-1] == ' ')) {
		const char *cmp = strchr(f + strlen("--tcp-flags "), ' ');
		if (cmp) {
			cmp++;
			size_t len = strcspn(cmp, " ");
			const char *p = cmp;
			while (p < cmp + len) {
				size_t tl = strcspn(p, ", ");
				if ((tl == 3 && strncmp(p, "SYN", 3) == 0) ||
				    (tl == 3 && strncmp(p, "ALL", 3) == 0))
					syn = true;
				p += tl;
				if (*p == ',')
					p++;
			}
		}
	}
	pf_sb_free(&sb);
	return syn;
}

static int tcpmss_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			      unsigned hooks)
{
	const struct tcpmss_data *d = data;
	(void)table;
	if (d->mss == TCPMSS_CLAMP_PMTU &&
	    (hooks &
	     ~((1u << PF_HOOK_FORWARD) | (1u << PF_HOOK_LOCAL_OUT) | (1u << PF_HOOK_POST_ROUTING))))
		return EINVAL;
	for (unsigned i = 0; i < rule->nmatches; i++)
		if (strcmp(rule->matches[i].ext->name, "tcp") == 0 &&
		    tcp_match_on_syn(rule, &rule->matches[i]))
			return 0;
	return EINVAL;
}

const struct pf_ext pf_target_TCPMSS = {
    .name = "TCPMSS",
    .kind = PF_EXT_TARGET,
    .revision = 0,
    .data_size = sizeof(struct tcpmss_data),
    .options = tcpmss_opts,
    .proto = 6,
    .parse = tcpmss_parse,
    .final_check = tcpmss_final_check,
    .save = tcpmss_save,
    .print = tcpmss_print,
    .check_entry = tcpmss_check_entry,
};
