/*
 * packet.c - IPv4 packet view: header validation as ip_rcv does it, fragment offset, and the
 * transport header fields matches need, every read bounds-checked.
 */
#include "packet/packet.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint16_t pf_ip_header_checksum(const uint8_t *hdr, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += rd16(hdr + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void pf_packet_fix_ip_checksum(struct pf_packet *p)
{
	p->data[10] = p->data[11] = 0;
	uint16_t c = pf_ip_header_checksum(p->data, p->ihl_bytes);
	p->data[10] = (uint8_t)(c >> 8);
	p->data[11] = (uint8_t)c;
}

uint32_t pf_csum_add_bytes(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2) {
		sum += rd16(b + i);
		if (sum & 0x80000000u)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (i < n)
		sum += (uint32_t)b[i] << 8;
	return sum;
}

uint16_t pf_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t pf_csum_replace2(uint16_t check, uint16_t old, uint16_t new_)
{
	uint32_t sum = (uint16_t)~check;
	sum += (uint16_t)~old;
	sum += new_;
	return pf_csum_fold(sum);
}

uint16_t pf_csum_replace4(uint16_t check, uint32_t old, uint32_t new_)
{
	uint32_t sum = (uint16_t)~check;
	sum += (uint16_t) ~(old >> 16);
	sum += (uint16_t)~old;
	sum += new_ >> 16;
	sum += new_ & 0xffff;
	return pf_csum_fold(sum);
}

uint16_t pf_packet_l4_checksum(const struct pf_packet *p, size_t csum_off)
{
	size_t l4len = p->len - p->l4_off;
	uint32_t sum = 0;
	sum = pf_csum_add_bytes(sum, p->data + 12, 8); /* saddr, daddr */
	sum += p->proto;
	sum += (uint32_t)l4len;
	sum = pf_csum_add_bytes(sum, p->data + p->l4_off, l4len);
	if (csum_off + 2 <= l4len)
		sum += (uint16_t)~rd16(p->data + p->l4_off + csum_off); /* count the field as 0 */
	return pf_csum_fold(sum);
}

/* Offset of the transport checksum field, or 0 when the protocol has none we update. */
static size_t l4_csum_off(const struct pf_packet *p)
{
	switch (p->proto) {
	case 6:
		return 16;
	case 17:
	case 136:
		return 6;
	case 1:
		return 2;
	default:
		return 0;
	}
}

int pf_packet_nat_port(const struct pf_packet *p, bool src)
{
	if (p->fragoff != 0)
		return -1;
	switch (p->proto) {
	case 6:
	case 17:
	case 136:
		if (p->l4_len < 4)
			return -1;
		return rd16(p->data + p->l4_off + (src ? 0 : 2));
	case 1:
		if (p->l4_len < 8 || (p->data[p->l4_off] != 8 && p->data[p->l4_off] != 0))
			return -1;
		return rd16(p->data + p->l4_off + 4);
	default:
		return -1;
	}
}

static void wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

bool pf_packet_nat(struct pf_packet *p, bool src, uint32_t addr, int port)
{
	bool changed = false;
	uint8_t *a = p->data + (src ? 12 : 16);
	uint32_t oldaddr = (uint32_t)rd16(a) << 16 | rd16(a + 2);
	uint8_t nb[4];
	memcpy(nb, &addr, 4);
	uint32_t newaddr =
	    (uint32_t)nb[0] << 24 | (uint32_t)nb[1] << 16 | (uint32_t)nb[2] << 8 | nb[3];
	size_t coff = l4_csum_off(p);
	uint8_t *cf = NULL;
	if (p->fragoff == 0 && coff && p->l4_len >= coff + 2)
		cf = p->data + p->l4_off + coff;
	/* UDP without a checksum keeps none. */
	bool udp_nocsum = cf && p->proto == 17 && rd16(cf) == 0;
	if (oldaddr != newaddr) {
		wr16(p->data + 10, pf_csum_replace4(rd16(p->data + 10), oldaddr, newaddr));
		memcpy(a, nb, 4);
		if (cf && p->proto != 1 && !udp_nocsum)
			wr16(cf, pf_csum_replace4(rd16(cf), oldaddr, newaddr));
		changed = true;
	}
	int oldport = pf_packet_nat_port(p, src);
	if (port >= 0 && oldport >= 0 && oldport != port) {
		uint8_t *pp = p->data + p->l4_off + (p->proto == 1 ? 4 : (src ? 0 : 2));
		wr16(pp, (uint16_t)port);
		if (cf && !udp_nocsum)
			wr16(cf, pf_csum_replace2(rd16(cf), (uint16_t)oldport, (uint16_t)port));
		changed = true;
	}
	if (cf && p->proto == 17 && !udp_nocsum && rd16(cf) == 0)
		wr16(cf, 0xffff); /* CSUM_MANGLED_0 */
	memcpy(src ? &p->saddr : &p->daddr, nb, 4);
	pf_packet_reparse_l4(p);
	return changed;
}

int pf_packet_nat_pick_port(const struct pf_packet *p, bool src, bool specified, uint16_t minp,
			    uint16_t maxp, bool offset, uint16_t base, bool random)
{
	int key = pf_packet_nat_port(p, src);
	if (!specified || key < 0 || maxp < minp)
		return -1;
	if (!offset && !random && key >= minp && key <= maxp)
		return key;
	unsigned size = (unsigned)maxp - minp + 1;
	unsigned off = offset ? (uint16_t)(key - base) : 0;
	return (int)(minp + off % size);
}

/* Minimal transport header the kernel's matches read. */
static size_t l4_min(uint8_t proto)
{
	switch (proto) {
	case 6:
		return 20; /* tcp: struct tcphdr */
	case 17:
	case 136:
		return 8; /* udp, udplite */
	case 132:
		return 12; /* sctp common header */
	case 33:
		return 4; /* dccp: ports (the dccp match wants more; not supported) */
	case 1:
		return 2; /* icmp type and code; the icmp match reads 4 bytes (struct icmphdr
			     up to the checksum) */
	default:
		return 0;
	}
}

void pf_packet_reparse_l4(struct pf_packet *p)
{
	p->sport = p->dport = 0;
	p->tcp_flags = 0;
	p->tcp_doff_bytes = 0;
	p->icmp_type = p->icmp_code = 0;
	p->l4_off = p->ihl_bytes;
	p->l4_len = (uint16_t)(p->len - p->ihl_bytes);
	p->l4_truncated = false;
	if (p->fragoff != 0)
		return;
	size_t need = l4_min(p->proto);
	if (p->proto == 1)
		need = 4;
	if (p->l4_len < need) {
		p->l4_truncated = true;
		/* What there is may still be read field by field by callers via bytes(). */
		return;
	}
	const uint8_t *l4 = p->data + p->l4_off;
	switch (p->proto) {
	case 6:
		p->tcp_flags = l4[13];
		p->tcp_doff_bytes = (uint8_t)((l4[12] >> 4) * 4);
		/* fall through */
	case 17:
	case 136:
	case 132:
	case 33:
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		break;
	case 1:
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
		break;
	default:
		break;
	}
}

enum pf_packet_status pf_packet_parse(struct pf_packet *p, uint8_t *buf, size_t buflen)
{
	memset(p, 0, sizeof(*p));
	if (buflen < 20)
		return PF_PKT_TRUNCATED;
	if ((buf[0] >> 4) != 4)
		return PF_PKT_BAD_HEADER;
	size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
	if (ihl < 20)
		return PF_PKT_BAD_HEADER;
	if (buflen < ihl)
		return PF_PKT_TRUNCATED;
	uint16_t tot = rd16(buf + 2);
	if (tot > buflen)
		return PF_PKT_TRUNCATED;
	if (tot < ihl)
		return PF_PKT_BAD_HEADER;
	p->data = buf;
	p->len = tot;
	p->family = 4;
	p->ihl_bytes = (uint8_t)ihl;
	p->tos = buf[1];
	p->tot_len = tot;
	p->id = rd16(buf + 4);
	p->frag_field = rd16(buf + 6);
	p->fragoff = p->frag_field & 0x1fff;
	p->ttl = buf[8];
	p->proto = buf[9];
	memcpy(&p->saddr, buf + 12, 4);
	memcpy(&p->daddr, buf + 16, 4);
	pf_packet_reparse_l4(p);
	return PF_PKT_OK;
}
