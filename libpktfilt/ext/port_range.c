/*
 * port_range.c - port ranges of the transport matches: -L and save output, the hashed
 * matcher's view (see port_range.h).
 */
#include "ext/port_range.h"

#include "language/xtutil.h"

void pf_port_put(struct pf_strbuf *out, uint16_t port, const char *proto, bool numeric)
{
	char buf[64];
	const char *name =
	    numeric || !proto ? NULL : pf_port_to_service(port, proto, buf, sizeof(buf));
	if (name)
		pf_sb_puts(out, name);
	else
		pf_sb_printf(out, "%u", port);
}

void pf_port_range_save(struct pf_strbuf *out, const char *opt, const uint16_t p[2], bool inv,
			bool omit_any)
{
	if (omit_any && p[0] == 0 && p[1] == 0xFFFF)
		return;
	if (inv)
		pf_sb_puts(out, " !");
	if (p[0] != p[1])
		pf_sb_printf(out, " --%s %u:%u", opt, p[0], p[1]);
	else
		pf_sb_printf(out, " --%s %u", opt, p[0]);
}

void pf_port_range_print(struct pf_strbuf *out, const char *label, const uint16_t p[2], bool inv,
			 const char *proto, bool numeric)
{
	if (p[0] == 0 && p[1] == 0xFFFF && !inv)
		return;
	pf_sb_printf(out, " %s", label);
	if (p[0] == p[1]) {
		pf_sb_printf(out, ":%s", inv ? "!" : "");
		pf_port_put(out, p[0], proto, numeric);
	} else {
		pf_sb_printf(out, "s:%s", inv ? "!" : "");
		pf_port_put(out, p[0], proto, numeric);
		pf_sb_putc(out, ':');
		pf_port_put(out, p[1], proto, numeric);
	}
}

void pf_port_range_index(struct pf_index_key *k, const uint16_t spts[2], bool sinv,
			 const uint16_t dpts[2], bool dinv)
{
	if (!sinv) {
		k->sport[0] = spts[0];
		k->sport[1] = spts[1];
	}
	if (!dinv) {
		k->dport[0] = dpts[0];
		k->dport[1] = dpts[1];
	}
}
