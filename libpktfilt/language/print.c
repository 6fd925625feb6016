/*
 * print.c - canonical text of rules and chains: the -S / iptables-save form and the -L table,
 * byte for byte as iptables-legacy 1.8.9 prints them.
 */
#include "language/print.h"

#include <string.h>

#include "language/xtutil.h"

static const char *verdict_name(enum pf_verdict v)
{
	switch (v) {
	case PF_VERDICT_ACCEPT:
		return "ACCEPT";
	case PF_VERDICT_DROP:
		return "DROP";
	case PF_VERDICT_RETURN:
		return "RETURN";
	case PF_VERDICT_QUEUE:
		return "QUEUE";
	default:
		return "";
	}
}

const char *pf_rule_target_name(const struct pf_rule *r)
{
	switch (r->tkind) {
	case PF_TARGET_VERDICT:
		return verdict_name(r->verdict);
	case PF_TARGET_CHAIN:
		return r->jump->name;
	case PF_TARGET_EXT:
		return r->target.ext->name;
	default:
		return "";
	}
}

const char *pf_policy_name(enum pf_verdict v)
{
	return verdict_name(v);
}

static void save_addr(struct pf_strbuf *sb, char flag, uint32_t addr, uint32_t mask, bool inv)
{
	if (mask == 0 && !inv)
		return;
	pf_sb_puts(sb, inv ? " ! -" : " -");
	pf_sb_putc(sb, flag);
	pf_sb_putc(sb, ' ');
	pf_sb_addr_mask(sb, addr, mask);
}

static void save_iface(struct pf_strbuf *sb, char flag, const char *name, bool inv,
		       bool reparseable)
{
	if (name[0] == '\0' || (strcmp(name, "+") == 0 && !reparseable)) /* an empty mask */
		return;
	pf_sb_printf(sb, "%s -%c ", inv ? " !" : "", flag);
	pf_sb_put_word(sb, name, reparseable);
}

void pf_rule_save_spec(struct pf_strbuf *sb, const struct pf_rule *r, const struct pf_counters *cnt,
		       bool reparseable)
{
	const struct pf_ipt_ip *ip = &r->ip;
	save_addr(sb, 's', ip->src, ip->smsk, ip->invflags & PF_INV_SRCIP);
	save_addr(sb, 'd', ip->dst, ip->dmsk, ip->invflags & PF_INV_DSTIP);
	save_iface(sb, 'i', ip->iniface, ip->invflags & PF_INV_VIA_IN, reparseable);
	save_iface(sb, 'o', ip->outiface, ip->invflags & PF_INV_VIA_OUT, reparseable);
	if (ip->proto || (ip->invflags & PF_INV_PROTO)) {
		char buf[64];
		const char *name = pf_proto_name(ip->proto, buf, sizeof(buf));
		pf_sb_printf(sb, "%s -p ", (ip->invflags & PF_INV_PROTO) ? " !" : "");
		if (name)
			pf_sb_puts(sb, name);
		else
			pf_sb_printf(sb, "%u", ip->proto);
	}
	if (ip->flags & PF_F_FRAG)
		pf_sb_printf(sb, "%s -f", (ip->invflags & PF_INV_FRAG) ? " !" : "");
	for (unsigned i = 0; i < r->nmatches; i++) {
		const struct pf_ext_inst *m = &r->matches[i];
		pf_sb_puts(sb, " -m ");
		pf_sb_puts(sb, m->ext->name);
		if (m->ext->save) {
			struct pf_print_ctx pc = {m->data, r, true, reparseable};
			m->ext->save(&pc, sb);
		}
	}
	if (cnt)
		pf_sb_printf(sb, " -c %llu %llu", (unsigned long long)cnt->pkts,
			     (unsigned long long)cnt->bytes);
	if (r->tkind == PF_TARGET_NONE)
		return;
	pf_sb_puts(sb, (ip->flags & PF_F_GOTO) ? " -g " : " -j ");
	pf_sb_puts(sb, pf_rule_target_name(r));
	if (r->tkind == PF_TARGET_EXT && r->target.ext->save) {
		struct pf_print_ctx pc = {r->target.data, r, true, reparseable};
		r->target.ext->save(&pc, sb);
	}
}

void pf_rule_save_line(struct pf_strbuf *sb, const struct pf_chain *c, const struct pf_rule *r,
		       bool counters_prefix, bool counters_inline, bool reparseable)
{
	if (counters_prefix) {
		pf_sb_putc(sb, '[');
		pf_sb_put_u64(sb, r->cnt.pkts);
		pf_sb_putc(sb, ':');
		pf_sb_put_u64(sb, r->cnt.bytes);
		pf_sb_puts(sb, "] ");
	}
	pf_sb_puts(sb, "-A ");
	pf_sb_puts(sb, c->name);
	pf_rule_save_spec(sb, r, counters_inline ? &r->cnt : NULL, reparseable);
	pf_sb_putc(sb, '\n');
}

/* ---- -L ---- */

static void print_num(struct pf_strbuf *sb, uint64_t n, unsigned fmt)
{
	bool table = !(fmt & PF_FMT_NOTABLE);
	if (!(fmt & PF_FMT_KILOMEGAGIGA)) {
		pf_sb_printf(sb, table ? "%8llu " : "%llu ", (unsigned long long)n);
		return;
	}
	if (n <= 99999) {
		pf_sb_printf(sb, table ? "%5llu " : "%llu ", (unsigned long long)n);
		return;
	}
	static const char units[] = "KMGT";
	for (int u = 0;; u++) {
		n = (n + 500) / 1000;
		if (n <= 9999 || u == 3) {
			pf_sb_printf(sb, table ? "%4llu%c " : "%llu%c ", (unsigned long long)n,
				     units[u]);
			return;
		}
	}
}

void pf_list_header(struct pf_strbuf *sb, const struct pf_chain *c, unsigned fmt)
{
	pf_sb_printf(sb, "Chain %s", c->name);
	if (c->builtin) {
		pf_sb_printf(sb, " (policy %s", verdict_name(c->policy));
		if (!(fmt & PF_FMT_NOCOUNTS)) {
			pf_sb_putc(sb, ' ');
			print_num(sb, c->pcnt.pkts, fmt | PF_FMT_NOTABLE);
			pf_sb_puts(sb, "packets, ");
			print_num(sb, c->pcnt.bytes, fmt | PF_FMT_NOTABLE);
			pf_sb_puts(sb, "bytes");
		}
		pf_sb_puts(sb, ")\n");
	} else {
		pf_sb_printf(sb, " (%u references)\n", c->refcount);
	}
	if (fmt & PF_FMT_LINENUMBERS)
		pf_sb_printf(sb, "%-4s ", "num");
	if (!(fmt & PF_FMT_NOCOUNTS)) {
		if (fmt & PF_FMT_KILOMEGAGIGA)
			pf_sb_printf(sb, "%5s %5s ", "pkts", "bytes");
		else
			pf_sb_printf(sb, "%8s %10s ", "pkts", "bytes");
	}
	pf_sb_printf(sb, "%-9s ", "target");
	pf_sb_puts(sb, " prot ");
	pf_sb_puts(sb, "opt");
	if (fmt & PF_FMT_VIA)
		pf_sb_printf(sb, " %-6s %-6s ", "in", "out");
	pf_sb_printf(sb, " %-19s ", "source");
	pf_sb_printf(sb, " %-19s ", "destination");
	pf_sb_putc(sb, '\n');
}

static void list_iface(struct pf_strbuf *sb, const char *name, bool inv, unsigned fmt,
		       const char *pad)
{
	char buf[PF_IFNAMSIZ + 8];
	snprintf(buf, sizeof(buf), "%s%s", inv ? "!" : "",
		 name[0] ? name : ((fmt & PF_FMT_NUMERIC) ? "*" : "any"));
	pf_sb_printf(sb, pad, buf);
}

static void list_addr(struct pf_strbuf *sb, uint32_t addr, uint32_t mask, bool inv, unsigned fmt,
		      const char *pad)
{
	struct pf_strbuf tmp;
	pf_sb_init(&tmp);
	pf_sb_putc(sb, inv ? '!' : ' ');
	if (mask == 0 && !(fmt & PF_FMT_NUMERIC)) {
		pf_sb_puts(&tmp, "anywhere");
	} else {
		char a[256];
		if ((fmt & PF_FMT_NUMERIC) || !pf_ipv4_to_name(addr, a, sizeof(a)))
			pf_fmt_ipv4(addr, a);
		pf_sb_puts(&tmp, a);
		int cidr = pf_mask_to_cidr(mask);
		if (cidr >= 0 && cidr != 32) {
			pf_sb_printf(&tmp, "/%d", cidr);
		} else if (cidr < 0) {
			char m[16];
			pf_fmt_ipv4(mask, m);
			pf_sb_printf(&tmp, "/%s", m);
		}
	}
	pf_sb_printf(sb, pad, pf_sb_str(&tmp));
	pf_sb_free(&tmp);
}

/* iptables' FMT(table, notable) */
#define FMT(tab, notab) ((fmt & PF_FMT_NOTABLE) ? (notab) : (tab))

void pf_list_rule(struct pf_strbuf *sb, const struct pf_rule *r, unsigned num, unsigned fmt)
{
	const struct pf_ipt_ip *ip = &r->ip;
	bool numeric = fmt & PF_FMT_NUMERIC;
	if (fmt & PF_FMT_LINENUMBERS)
		pf_sb_printf(sb, FMT("%-4u ", "%u "), num);
	if (!(fmt & PF_FMT_NOCOUNTS)) {
		print_num(sb, r->cnt.pkts, fmt);
		print_num(sb, r->cnt.bytes, fmt);
	}
	const char *tname = r->tkind == PF_TARGET_EXT && r->target.ext->real_name
				    ? r->target.ext->real_name
				    : pf_rule_target_name(r);
	pf_sb_printf(sb, FMT("%-9s ", "%s "), tname);
	pf_sb_putc(sb, (ip->invflags & PF_INV_PROTO) ? '!' : ' ');
	char pbuf[64];
	const char *pname = NULL;
	if (fmt & PF_FMT_NOTABLE) /* -v with -A/-I/...: xtables' table of names first */
		pname = pf_proto_table_name(ip->proto);
	if (!pname && !numeric)
		pname = pf_proto_name(ip->proto, pbuf, sizeof(pbuf));
	if (pname)
		pf_sb_printf(sb, FMT("%-4s ", "%s "), pname);
	else
		pf_sb_printf(sb, FMT("%-4u ", "%u "), ip->proto);
	if (fmt & PF_FMT_NOTABLE)
		pf_sb_puts(sb, "opt ");
	pf_sb_putc(sb, (ip->invflags & PF_INV_FRAG) ? '!' : '-');
	pf_sb_putc(sb, (ip->flags & PF_F_FRAG) ? 'f' : '-');
	pf_sb_putc(sb, ' ');
	if (fmt & PF_FMT_VIA) {
		list_iface(sb, ip->iniface, ip->invflags & PF_INV_VIA_IN, fmt, FMT(" %-6s ", "in %s "));
		list_iface(sb, ip->outiface, ip->invflags & PF_INV_VIA_OUT, fmt,
			   FMT("%-6s ", "out %s "));
	}
	list_addr(sb, ip->src, ip->smsk, ip->invflags & PF_INV_SRCIP, fmt, FMT("%-19s ", "%s "));
	list_addr(sb, ip->dst, ip->dmsk, ip->invflags & PF_INV_DSTIP, fmt,
		  FMT("%-19s ", "-> %s  "));
	if (ip->flags & PF_F_GOTO)
		pf_sb_puts(sb, "[goto] ");
	for (unsigned i = 0; i < r->nmatches; i++) {
		const struct pf_ext_inst *m = &r->matches[i];
		struct pf_print_ctx pc = {m->data, r, numeric, false};
		if (m->ext->print)
			m->ext->print(&pc, sb);
		else
			pf_sb_printf(sb, "%s ", m->ext->name);
	}
	if (r->tkind == PF_TARGET_EXT && r->target.ext->print) {
		struct pf_print_ctx pc = {r->target.data, r, numeric, false};
		r->target.ext->print(&pc, sb);
	}
	pf_sb_putc(sb, '\n');
}

char *pf_rule_format(const pf_rule *r)
{
	struct pf_strbuf sb;
	pf_sb_init(&sb);
	pf_rule_save_spec(&sb, r, NULL, false);
	if (sb.failed) {
		pf_sb_free(&sb);
		return NULL;
	}
	if (!sb.buf)
		return strdup("");
	/* Drop the leading space of the first element. */
	if (sb.buf[0] == ' ')
		memmove(sb.buf, sb.buf + 1, sb.len);
	return sb.buf;
}
