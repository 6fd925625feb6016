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
