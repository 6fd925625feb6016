/*
 * match_owner.c - "-m owner": match the local socket owning a packet (--uid-owner,
 * --gid-owner as numbers, ranges or names, --socket-exists, --suppl-groups); libxt_owner
 * revision 1, allowed by the kernel in OUTPUT and POSTROUTING only.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/eval.h"
#include "ext/ext.h"
#include "language/xtutil.h"

/* xt_owner_match_info.match / .invert */
#define OW_UID 0x01
#define OW_GID 0x02
#define OW_SOCKET 0x04
#define OW_SUPPL_GROUPS 0x08

enum { O_USER = 0, O_GROUP, O_SOCK_EXISTS, O_SUPPL_GROUPS };

struct owner_data {
	uint32_t uid_min, uid_max;
	uint32_t gid_min, gid_max;
	uint8_t match, invert;
	uint8_t pad[2];
};

static const struct pf_ext_option owner_opts[] = {
    {.name = "uid-owner",
     .id = O_USER,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "gid-owner",
     .id = O_GROUP,
     .arg = PF_ARG_REQUIRED,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "socket-exists",
     .id = O_SOCK_EXISTS,
     .arg = PF_ARG_NONE,
     .flags = PF_OPT_INVERT | PF_OPT_NOCHECK},
    {.name = "suppl-groups", .id = O_SUPPL_GROUPS, .arg = PF_ARG_NONE, .flags = PF_OPT_NOCHECK},
    {.name = NULL},
};

/* "N", "N-M" or "N:M", each in [0, 2^32-2] (-1 is the kernel's invalid id). */
static int owner_parse_range(const char *s, uint32_t *from, uint32_t *to, const char *opt,
			     struct pf_error *err)
{
	char *end;
	uint64_t a, b;
	if (!pf_strtoui_end(s, &end, 0, 0xfffffffeu, &a))
		goto bad;
	b = a;
	if ((*end == '-' || *end == ':') && !pf_strtoui_end(end + 1, &end, 0, 0xfffffffeu, &b))
		goto bad;
	if (*end != '\0')
		goto bad;
	*from = (uint32_t)a;
	*to = (uint32_t)b;
	return 0;
bad:
	return pf_err_param(err, "owner: Bad value for \"%s\" option: \"%s\"", opt, s);
}

static bool owner_user_id(const char *name, uint32_t *id)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 && res) {
		*id = (uint32_t)res->pw_uid;
		return true;
	}
	return false;
}

static bool owner_group_id(const char *name, uint32_t *id)
{
	struct group gr, *res = NULL;
	char buf[4096];
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*id = (uint32_t)res->gr_gid;
		return true;
	}
	return false;
}

static int owner_parse(struct pf_parse_ctx *ctx)
{
	struct owner_data *d = ctx->data;
	if (pf_xt_opt_check(ctx->err, "owner", ctx->name, ctx->seen & (1ull << ctx->id),
			    ctx->invert, ctx->id != O_SUPPL_GROUPS))
		return -1;
	uint32_t from, to;
	switch (ctx->id) {
	case O_USER:
		if (owner_user_id(ctx->arg, &from))
			to = from;
		else if (owner_parse_range(ctx->arg, &from, &to, "--uid-owner", ctx->err))
			return -1;
		if (ctx->invert)
			d->invert |= OW_UID;
		d->match |= OW_UID;
		d->uid_min = from;
		d->uid_max = to;
		break;
	case O_GROUP:
		if (owner_group_id(ctx->arg, &from))
			to = from;
		else if (owner_parse_range(ctx->arg, &from, &to, "--gid-owner", ctx->err))
			return -1;
		if (ctx->invert)
			d->invert |= OW_GID;
		d->match |= OW_GID;
		d->gid_min = from;
		d->gid_max = to;
		break;
	case O_SOCK_EXISTS:
		if (ctx->invert)
			d->invert |= OW_SOCKET;
		d->match |= OW_SOCKET;
		break;
	case O_SUPPL_GROUPS:
		if (!(d->match & OW_GID))
			return pf_err_param(ctx->err,
					    "owner: Bad value for \"--suppl-groups\" option: \"you "
					    "need to use --gid-owner first\"");
		d->match |= OW_SUPPL_GROUPS;
		break;
	}
	return 0;
}

static int owner_final_check(struct pf_parse_ctx *ctx)
{
	if (ctx->seen == 0)
		return pf_err_param(ctx->err, "owner: At least one of --uid-owner, --gid-owner or "
					      "--socket-exists is required");
	return 0;
}

static void owner_item(struct pf_strbuf *out, const struct owner_data *d, const char *label,
		       uint8_t flag, bool numeric)
{
	if (!(d->match & flag))
		return;
	if (d->invert & flag)
		pf_sb_puts(out, " !");
	pf_sb_printf(out, " %s", label);
	uint32_t lo, hi;
	if (flag == OW_UID) {
		lo = d->uid_min;
		hi = d->uid_max;
	} else if (flag == OW_GID) {
		lo = d->gid_min;
		hi = d->gid_max;
	} else {
		return;
	}
	if (lo != hi) {
		pf_sb_printf(out, " %u-%u", lo, hi);
		return;
	}
	if (!numeric) {
		char buf[4096];
		if (flag == OW_UID) {
			struct passwd pw, *res = NULL;
			if (getpwuid_r((uid_t)lo, &pw, buf, sizeof(buf), &res) == 0 && res &&
			    res->pw_name) {
				pf_sb_printf(out, " %s", res->pw_name);
				return;
			}
		} else {
			struct group gr, *res = NULL;
			if (getgrgid_r((gid_t)lo, &gr, buf, sizeof(buf), &res) == 0 && res &&
			    res->gr_name) {
				pf_sb_printf(out, " %s", res->gr_name);
				return;
			}
		}
	}
	pf_sb_printf(out, " %u", lo);
}

static void owner_save(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct owner_data *d = ctx->data;
	owner_item(out, d, "--socket-exists", OW_SOCKET, true);
	owner_item(out, d, "--uid-owner", OW_UID, true);
	owner_item(out, d, "--gid-owner", OW_GID, true);
	owner_item(out, d, "--suppl-groups", OW_SUPPL_GROUPS, true);
}

static void owner_print(const struct pf_print_ctx *ctx, struct pf_strbuf *out)
{
	const struct owner_data *d = ctx->data;
	owner_item(out, d, "owner socket exists", OW_SOCKET, ctx->numeric);
	owner_item(out, d, "owner UID match", OW_UID, ctx->numeric);
	owner_item(out, d, "owner GID match", OW_GID, ctx->numeric);
	owner_item(out, d, "incl. suppl. groups", OW_SUPPL_GROUPS, ctx->numeric);
}

/* xt_owner's checkentry: ranges must not be reversed. */
static int owner_check_entry(const struct pf_rule *rule, const void *data, const char *table,
			     unsigned hooks)
{
	const struct owner_data *d = data;
	(void)rule;
	(void)table;
	(void)hooks;
	if ((d->match & OW_UID) && d->uid_max < d->uid_min)
		return EINVAL;
	if ((d->match & OW_GID) && d->gid_max < d->gid_min)
		return EINVAL;
	return 0;
}

/* owner_mt (xt_owner.c). No socket (a forwarded packet, or meta says none): the match holds
 * only when every option given is inverted (match == invert; --suppl-groups is never
 * inverted, so it never holds). A socket: "! --socket-exists" fails. A socket without a file
 * (meta->sock_without_file): holds when the uid and gid options given are all inverted.
 * Else the file's fsuid must lie in [uid_min, uid_max], and the fsgid (or, with
 * --suppl-groups, one of the supplementary groups) in [gid_min, gid_max], each inverted by
 * its "!". */
static bool owner_match(struct pf_eval *ev, const void *data, void *state)
{
	const struct owner_data *d = data;
	const struct pf_packet_meta *m = ev->meta;
	(void)state;
	if (!m->has_uid && !m->sock_without_file)
		return (d->match ^ d->invert) == 0;
	if (d->match & d->invert & OW_SOCKET)
		return false;
	if (!m->has_uid)
		return ((d->match ^ d->invert) & (OW_UID | OW_GID)) == 0;
	if (d->match & OW_UID) {
		bool in = m->uid >= d->uid_min && m->uid <= d->uid_max;
		if (in == ((d->invert & OW_UID) != 0))
			return false;
	}
	if (d->match & OW_GID) {
		bool in = m->gid >= d->gid_min && m->gid <= d->gid_max;
		if (!in && (d->match & OW_SUPPL_GROUPS) && m->groups)
			for (unsigned i = 0; i < m->ngroups && !in; i++)
				in = m->groups[i] >= d->gid_min && m->groups[i] <= d->gid_max;
		if (in == ((d->invert & OW_GID) != 0))
			return false;
	}
	return true;
}

const struct pf_ext pf_match_owner = {
    .name = "owner",
    .kind = PF_EXT_MATCH,
    .revision = 1,
    .data_size = sizeof(struct owner_data),
    .options = owner_opts,
    .hooks = (1u << PF_HOOK_LOCAL_OUT) | (1u << PF_HOOK_POST_ROUTING),
    .parse = owner_parse,
    .final_check = owner_final_check,
    .save = owner_save,
    .print = owner_print,
    .check_entry = owner_check_entry,
    .match = owner_match,
};
