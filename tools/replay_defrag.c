/*
 * replay_defrag.c - IPv4 reassembly for pktfilt-replay, as the kernel's ip_defrag() does it
 * before conntrack (raw PREROUTING) and before local delivery: fragments of one datagram are
 * keyed by (source, destination, id, protocol); the datagram is handed on, once, when every
 * byte up to the last fragment has arrived; an overlapping fragment discards the whole
 * datagram (Linux since 4.19); an incomplete datagram is never handed on. The reassembled
 * packet keeps the first fragment's header (options included) with the fragment field
 * cleared, tot_len set and the checksum recomputed.
 */
#include "replay_defrag.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DATAGRAM 65535
#define MAX_PENDING 64 /* datagrams being reassembled at once; the oldest is dropped */

struct frag_queue {
	bool used;
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	uint64_t age;
	uint8_t hdr[60]; /* the first fragment's header */
	size_t hdr_len;	 /* 0 until the first fragment arrived */
	size_t total;	 /* payload length, known once the last fragment arrived (else 0) */
	size_t have;	 /* payload bytes received */
	bool bad;	 /* overlap seen: discard */
	uint8_t data[MAX_DATAGRAM];
	uint8_t seen[MAX_DATAGRAM / 8 + 1]; /* one bit per 8-byte block received */
};

struct replay_defrag {
	struct frag_queue q[MAX_PENDING];
	uint64_t clock;
};

struct replay_defrag *replay_defrag_new(void)
{
	return calloc(1, sizeof(struct replay_defrag));
}

void replay_defrag_free(struct replay_defrag *d)
{
	free(d);
}

static uint16_t header_checksum(const uint8_t *h, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)((h[i] << 8) | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static struct frag_queue *find_queue(struct replay_defrag *d, const uint8_t *ip)
{
	uint32_t s, a;
	memcpy(&s, ip + 12, 4);
	memcpy(&a, ip + 16, 4);
	uint16_t id = (uint16_t)((ip[4] << 8) | ip[5]);
	struct frag_queue *free_q = NULL, *oldest = NULL;
	for (int i = 0; i < MAX_PENDING; i++) {
		struct frag_queue *q = &d->q[i];
		if (!q->used) {
			if (!free_q)
				free_q = q;
			continue;
		}
		if (q->saddr == s && q->daddr == a && q->id == id && q->proto == ip[9])
			return q;
		if (!oldest || q->age < oldest->age)
			oldest = q;
	}
	struct frag_queue *q = free_q ? free_q : oldest;
	q->used = true;
	q->saddr = s;
	q->daddr = a;
	q->id = id;
	q->proto = ip[9];
	q->age = d->clock;
	q->hdr_len = q->total = q->have = 0;
	q->bad = false;
	memset(q->seen, 0, sizeof(q->seen));
	return q;
}

int replay_defrag_add(struct replay_defrag *d, uint8_t *pkt, size_t *len, size_t cap)
{
	uint16_t frag = (uint16_t)((pkt[6] << 8) | pkt[7]);
	size_t off = (size_t)(frag & 0x1fff) * 8;
	bool more = frag & 0x2000;
	if (!more && off == 0)
		return REPLAY_DEFRAG_WHOLE;
	d->clock++;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t plen = *len - ihl;
	struct frag_queue *q = find_queue(d, pkt);
	if (off + plen > MAX_DATAGRAM || (more && (plen % 8) != 0)) {
		q->bad = true; /* the kernel refuses it, and with it the datagram */
		return REPLAY_DEFRAG_HELD;
	}
	for (size_t b = off / 8; b < (off + plen + 7) / 8; b++) {
		if (q->seen[b / 8] & (1u << (b % 8)))
			q->bad = true; /* overlap */
		q->seen[b / 8] |= (uint8_t)(1u << (b % 8));
	}
	if (q->bad)
		return REPLAY_DEFRAG_HELD;
	memcpy(q->data + off, pkt + ihl, plen);
	q->have += plen;
	if (off == 0) {
		memcpy(q->hdr, pkt, ihl);
		q->hdr_len = ihl;
	}
	if (!more)
		q->total = off + plen;
	if (!q->hdr_len || !q->total || q->have != q->total)
		return REPLAY_DEFRAG_HELD;
	size_t n = q->hdr_len + q->total;
	q->used = false;
	if (n > cap || n > 65535)
		return REPLAY_DEFRAG_HELD;
	memcpy(pkt, q->hdr, q->hdr_len);
	memcpy(pkt + q->hdr_len, q->data, q->total);
	pkt[2] = (uint8_t)(n >> 8);
	pkt[3] = (uint8_t)n;
	pkt[6] &= 0x40; /* keep DF, clear MF and the offset */
	pkt[7] = 0;
	pkt[10] = pkt[11] = 0;
	uint16_t c = header_checksum(pkt, q->hdr_len);
	pkt[10] = (uint8_t)(c >> 8);
	pkt[11] = (uint8_t)c;
	*len = n;
	return REPLAY_DEFRAG_DONE;
}
