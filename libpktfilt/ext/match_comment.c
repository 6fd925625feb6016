/*
 * match_comment.c - "-m comment --comment TEXT": a comment attached to a rule, matching
 * every packet (libxt_comment; at most 255 bytes are kept, longer text is cut).
 */
#include <string.h>

#include "ext/ext.h"
#include "language/xtutil.h"

#define COMMENT_MAX 256 /* XT_MAX_COMMENT_LEN, with the terminating NUL */

enum { O_COMMENT = 0 };

struct comment_data {
	char comment[COMMENT_MAX];
};

static const struct pf_ext_option comment_opts[] = {
    {.name = "comment", .id = O_COMMENT, .arg = PF_ARG_REQUIRED, .flags = PF_OPT_NOCHECK},
    {.name = NULL},
};

static int comment_parse(struct pf_parse_ctx *ctx)
{
	struct comment_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "comment", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, false))
		return -1;
	size_t n = strlen(ctx->arg);
	if (n > COMMENT_MAX - 1)
		n = COMMENT_MAX - 1;
	memset(d->comment, 0, sizeof(d->comment));
	memcpy(d->comment, ctx->arg, n);
	return 0;
}

static int comment_final_check(struct pf_parse_ctx *ctx)
{
	if (!(ctx->seen & (1ull << O_COMMENT)))
		return pf_err_param(ctx->err, "comment: option \"--comment\" must be specified\n");
	return 0;
}

static void comment_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct comment_data *d = ctx->data;
	char buf[COMMENT_MAX];
	memcpy(buf, d->comment, sizeof(buf));
	buf[COMMENT_MAX - 1] = '\0';
	pf_sb_puts(out, " --comment");
	pf_sb_save_string(out, buf);
}

static void comment_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct comment_data *d = ctx->data;
	pf_sb_printf(out, " /* %.*s */", COMMENT_MAX - 1, d->comment);
}

/* comment_mt: every packet. */
static bool comment_match(struct pf_eval *ev, const void *data, void *state)
{
	(void)ev;
	(void)data;
	(void)state;
	return true;
}

/* The hashed matcher's view (ext.h): every packet, without side effects. */
static int comment_index(const void *data, const struct pf_rule *rule, struct pf_index_key *k)
{
	(void)data;
	(void)rule;
	k->flags |= PF_INDEX_EXACT;
	return 0;
}

const struct pf_ext pf_match_comment = {
    .name = "comment",
    .kind = PF_EXT_MATCH,
    .revision = 0,
    .data_size = sizeof(struct comment_data),
    .options = comment_opts,
    .parse = comment_parse,
    .final_check = comment_final_check,
    .save = comment_save,
    .print = comment_print,
    .match = comment_match,
    .index_fields = comment_index,
};
