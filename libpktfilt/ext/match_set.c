/*
 * match_set.c - the set match (--match-set NAME src,dst and its flags), as libxt_set
 * revision 4. IP sets live in the kernel (ipset): as iptables does, a --match-set asks the
 * kernel of the current network namespace whether the set exists and refuses it otherwise
 * ("Set NAME doesn't exist."). Membership is the caller's: pf_engine_config.set_test.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"
#include "model/model.h"

#define SET_MAXNAMELEN 32 /* IPSET_MAXNAMELEN */
#define SET_DIM_MAX 6

/* match_flags */
#define SET_INV_MATCH 0x01
/* flags (IPSET_FLAG_*) */
#define SET_RETURN_NOMATCH 0x80
#define SET_SKIP_COUNTER_UPDATE 0x100
#define SET_SKIP_SUBCOUNTER_UPDATE 0x200

enum set_counter_op { OP_NONE, OP_EQ, OP_NE, OP_LT, OP_GT };

/* struct xt_set_info_match_v4, with the set's name in place of its kernel index. */
struct set_info {
	char name[SET_MAXNAMELEN];
	uint8_t dim;
	uint8_t match_flags;
	uint8_t dirs; /* bit i (1..dim): dimension i is "src" */
	uint8_t packets_op, bytes_op;
	uint32_t flags;
	uint64_t packets, bytes;
};

enum {
	O_MATCH_SET,
	O_SET,
	O_RETURN_NOMATCH,
	O_UPDATE_COUNTERS,
	O_PACKETS_EQ,
	O_PACKETS_LT,
	O_PACKETS_GT,
	O_BYTES_EQ,
	O_BYTES_LT,
	O_BYTES_GT,
	O_UPDATE_SUBCOUNTERS,
};

/* libxt_set parses with the old interface: it checks "!" and repetitions itself. */
static const struct pf_ext_option set_opts[] = {
    {"match-set", O_MATCH_SET, PF_ARG_TWO, PF_OPT_NOCHECK},
    {"set", O_SET, PF_ARG_TWO, PF_OPT_NOCHECK},
    {"return-nomatch", O_RETURN_NOMATCH, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"update-counters", O_UPDATE_COUNTERS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {"packets-eq", O_PACKETS_EQ, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"packets-lt", O_PACKETS_LT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"packets-gt", O_PACKETS_GT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"bytes-eq", O_BYTES_EQ, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"bytes-lt", O_BYTES_LT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"bytes-gt", O_BYTES_GT, PF_ARG_REQUIRED, PF_OPT_NOCHECK},
    {"update-subcounters", O_UPDATE_SUBCOUNTERS, PF_ARG_NONE, PF_OPT_NOCHECK},
    {.name = NULL},
};

static int parse_counter(struct pf_parse_ctx *ctx, uint8_t *op, uint64_t *value, const char *what)
{
	static const char *const kind[] = {"eq", "lt", "gt"};
	int k = (ctx->id - O_PACKETS_EQ) % 3;
	if (*op != OP_NONE)
		return pf_err_param(ctx->err, "only one of the --%s-[eq|lt|gt] is allowed", what);
	if (ctx->invert && k != 0)
		return pf_err_param(ctx->err, "--%s-%s option cannot be inverted", what, kind[k]);
	*op = k == 1 ? OP_LT : k == 2 ? OP_GT : ctx->invert ? OP_NE : OP_EQ;
	if (!pf_strtoui(ctx->arg, 0, UINT64_MAX, value))
		return pf_err_param(ctx->err, "Cannot parse %s as a counter value", ctx->arg);
	return 0;
}

/* libxt_set's get_set_byname (revision 4): ask the kernel's ipset for the set by name, with
 * its wording for each failure. Returns 0 when the set exists for IPv4. */
static int kernel_set_exists(const char *name, struct pf_error *err)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_PLAIN, "Can't open socket to ipset.\n");
	struct ip_set_req_version ver = {.op = IP_SET_OP_VERSION};
	socklen_t size = sizeof(ver);
	if (getsockopt(fd, IPPROTO_IP, SO_IP_SET, &ver, &size) != 0) {
		close(fd);
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_PLAIN,
				  "Kernel module xt_set is not loaded in.\n");
	}
	struct ip_set_req_get_set_family req = {.op = IP_SET_OP_GET_FNAME,
						.version = ver.version};
	snprintf(req.set.name, sizeof(req.set.name), "%s", name);
	size = sizeof(req);
	int rc = getsockopt(fd, IPPROTO_IP, SO_IP_SET, &req, &size);
	int saved = errno;
	close(fd);
	if (rc != 0)
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_PLAIN,
				  "Problem when communicating with ipset, errno=%d.\n", saved);
	if (size != sizeof(req))
		return pf_err_set(err, PF_ERR_OTHER, PF_STYLE_PLAIN,
				  "Incorrect return size from kernel during ipset lookup, (want "
				  "%zu, got %zu)\n",
				  sizeof(req), (size_t)size);
	if (req.set.index == IPSET_INVALID_ID)
		return pf_err_param(err, "Set %s doesn't exist.\n", name);
	if (req.family != NFPROTO_IPV4 && req.family != NFPROTO_UNSPEC)
		return pf_err_param(err,
				    "The protocol family of set %s is %s, which is not applicable.\n",
				    name, req.family == NFPROTO_IPV6 ? "IPv6" : "unknown");
	return 0;
}

/* libxt_set's parse_dirs: "src|dst[,src|dst]..." (each word only checked by its start). */
static int parse_dirs(const char *arg, struct set_info *info, struct pf_error *err)
{
	const char *p = arg;
	while (info->dim < SET_DIM_MAX && p) {
		info->dim++;
		const char *comma = strchr(p, ',');
		if (strncmp(p, "src", 3) == 0)
			info->dirs |= (uint8_t)(1u << info->dim);
		else if (strncmp(p, "dst", 3) != 0)
			return pf_err_param(err, "You must spefify (the comma separated list of) "
						 "'src' or 'dst'.");
		p = comma ? comma + 1 : NULL;
	}
	if (p)
		return pf_err_param(err, "Can't be more src/dst options than %i.", SET_DIM_MAX);
	return 0;
}

static int set_parse(struct pf_parse_ctx *ctx)
{
	struct set_info *info = ctx->data;
	switch (ctx->id) {
	case O_RETURN_NOMATCH:
		if (ctx->invert)
			return pf_err_param(ctx->err, "--return-nomatch flag cannot be inverted");
		info->flags |= SET_RETURN_NOMATCH;
		return 0;
	case O_UPDATE_COUNTERS:
		if (ctx->invert)
			info->flags |= SET_SKIP_COUNTER_UPDATE;
		return 0;
	case O_UPDATE_SUBCOUNTERS:
		if (ctx->invert)
			info->flags |= SET_SKIP_SUBCOUNTER_UPDATE;
		return 0;
	case O_PACKETS_EQ:
	case O_PACKETS_LT:
	case O_PACKETS_GT:
		return parse_counter(ctx, &info->packets_op, &info->packets, "packets");
	case O_BYTES_EQ:
	case O_BYTES_LT:
	case O_BYTES_GT:
		return parse_counter(ctx, &info->bytes_op, &info->bytes, "bytes");
	case O_SET: /* deprecated name of --match-set */
	case O_MATCH_SET:
		if (info->dim)
			return pf_err_param(ctx->err, "--match-set can be specified only once");
		if (ctx->invert)
			info->match_flags |= SET_INV_MATCH;
		if (!ctx->arg2)
			return pf_err_param(ctx->err, "--match-set requires two args.");
		if (strlen(ctx->arg) > SET_MAXNAMELEN - 1)
			return pf_err_param(ctx->err, "setname `%s' too long, max %d characters.",
					    ctx->arg, SET_MAXNAMELEN - 1);
		if (kernel_set_exists(ctx->arg, ctx->err))
			return -1;
		snprintf(info->name, sizeof(info->name), "%s", ctx->arg);
		return parse_dirs(ctx->arg2, info, ctx->err);
	}
	return 0;
}

static int set_final(struct pf_parse_ctx *ctx)
{
	const struct set_info *info = ctx->data;
	if (!info->dim)
		return pf_err_param(ctx->err,
				    "You must specify `--match-set' with proper arguments");
	return 0;
}

static void put_counter(struct pf_strbuf *out, uint8_t op, uint64_t value, const char *name,
			const char *sep)
{
	static const char *const fmt[] = {NULL, " %s%s-eq %llu", " ! %s%s-eq %llu", " %s%s-lt %llu",
					  " %s%s-gt %llu"};
	if (op != OP_NONE && op <= OP_GT)
		pf_sb_printf(out, fmt[op], sep, name, (unsigned long long)value);
}

static void put_info(struct pf_strbuf *out, const struct set_info *info, const char *opt,
		     const char *sep)
{
	pf_sb_printf(out, "%s %s %s", (info->match_flags & SET_INV_MATCH) ? " !" : "", opt,
		     info->name);
	for (int i = 1; i <= info->dim && i <= SET_DIM_MAX; i++)
		pf_sb_printf(out, "%s%s", i == 1 ? " " : ",",
			     (info->dirs & (1u << i)) ? "src" : "dst");
	if (info->flags & SET_RETURN_NOMATCH)
		pf_sb_printf(out, " %sreturn-nomatch", sep);
	if (info->flags & SET_SKIP_COUNTER_UPDATE)
		pf_sb_printf(out, " ! %supdate-counters", sep);
	if (info->flags & SET_SKIP_SUBCOUNTER_UPDATE)
		pf_sb_printf(out, " ! %supdate-subcounters", sep);
	put_counter(out, info->packets_op, info->packets, "packets", sep);
	put_counter(out, info->bytes_op, info->bytes, "bytes", sep);
}

static void set_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	put_info(out, ctx->data, "match-set", "");
}

static void set_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	put_info(out, ctx->data, "--match-set", "--");
}

/* set_match_v4 (xt_set.c): the set's test (ipset's ip_set_test, which compares the counters
 * and applies --return-nomatch) answered by the caller's set_test, then inverted with "!".
 * Without a set_test callback pktfilt holds no sets: the match is false, inverted or not. */
static bool set_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct set_info *info = data;
	(void)state;
	const struct pf_engine_config *cfg = pf_eval_config(ev);
	if (!cfg->set_test)
		return false;
	struct pf_set_query q = {
	    .name = info->name,
	    .dim = info->dim,
	    .dirs = info->dirs,
	    .flags = info->flags,
	    .packets_op = info->packets_op,
	    .bytes_op = info->bytes_op,
	    .packets = info->packets,
	    .bytes = info->bytes,
	    .pkt = ev->pkt->data,
	    .len = ev->pkt->len,
	    .in = ev->in,
	    .out = ev->out,
	    .mark = ev->mark,
	    .meta = ev->meta,
	};
	bool hit = cfg->set_test(cfg->set_opaque, &q) > 0;
	return hit ^ ((info->match_flags & SET_INV_MATCH) != 0);
}

const struct pf_ext pf_match_set = {
    .name = "set",
    .kind = PF_EXT_MATCH,
    .revision = 4,
    .data_size = sizeof(struct set_info),
    .options = set_opts,
    .parse = set_parse,
    .final_check = set_final,
    .save = set_save,
    .print = set_print,
    .match = set_match,
};
