/*
 * replay_defrag.c - IPv4 reassembly for pktfilt-replay, as the kernel's ip_defrag() does it
 * (net/ipv4/ip_fragment.c, inet_fragment.c) before conntrack (raw PREROUTING) and before local
 * delivery. Fragments of one datagram are keyed by (source, destination, id, protocol).
 *
 * Per fragment, in the kernel's order:
 * - the last fragment (no MF) fixes the datagram's length: one ending before data already
 *   received, or a second last fragment with another end, discards the datagram;
 * - a fragment with MF is cut down to a multiple of 8 bytes; one reaching past the known end
 *   discards the datagram; an empty fragment discards it;
 * - received data is kept as runs (fragments that arrived one after the other, each starting
 *   where the previous ended, at the end of the data): a fragment that lies within one run is a
 *   duplicate, dropped alone; one that overlaps any run otherwise discards the datagram (Linux
 *   since 4.19);
 * - when the first and the last fragment are in and every byte between, the datagram is handed
 *   on, once: the first fragment's header (options included), tot_len set, the ECN bits of the
 *   fragments combined (CE with ECT gives CE; Not-ECT mixed with ECT or CE discards the
 *   datagram), DF set when the largest fragment had DF, else the fragment field cleared, the
 *   checksum recomputed. A datagram longer than 65,535 bytes is discarded.
 * A discarded datagram is forgotten: later fragments with its key start a new one. The
 * reassembled packet carries the first fragment's metadata (replay_defrag_add_meta).
 * Not modelled: the 30 s timeout and ipfrag_max_dist (a queue overtaken by more than 64
 * fragments from the same source starts over); the memory limit is replaced by a fixed number
 * of datagrams in progress, the oldest dropped.
 */
#include "replay_defrag.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DATAGRAM 65535
#define MAX_PENDING 64 /* datagrams being reassembled at once; the oldest is dropped */
#define MAX_RUNS 256

struct run {
	size_t start, end;
};

struct frag_queue {
	bool used;
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	uint64_t age;
	bool first_in, last_in;
	size_t len;  /* the datagram's payload length as known so far (q.len) */
	size_t meat; /* payload bytes received */
	uint8_t ecn; /* bit per ECN codepoint seen */
	size_t max_size, max_df_size;
	uint8_t hdr[60]; /* the first fragment's header */
	size_t hdr_len;
	uint8_t meta[REPLAY_DEFRAG_META_MAX]; /* and its metadata */
	struct run runs[MAX_RUNS];	      /* sorted by start, disjoint */
	unsigned nruns;
	size_t last_end; /* end of the last run created or extended at the end of the data */
	uint8_t data[MAX_DATAGRAM];
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
	q->first_in = q->last_in = false;
	q->len = q->meat = q->max_size = q->max_df_size = 0;
	q->ecn = 0;
	q->hdr_len = 0;
	q->nruns = 0;
	q->last_end = 0;
	return q;
}

enum insert_result { INSERT_OK, INSERT_DUP, INSERT_OVERLAP };

/* inet_frag_queue_insert */
static enum insert_result insert_run(struct frag_queue *q, size_t off, size_t end)
{
	if (q->nruns && q->last_end < end) {
		/* The common case: the fragment goes at the end. */
		if (off < q->last_end)
			return INSERT_OVERLAP;
		if (off == q->last_end) {
			q->runs[q->nruns - 1].end = end; /* the last run is the highest */
		} else {
			if (q->nruns == MAX_RUNS)
				return INSERT_OVERLAP;
			q->runs[q->nruns].start = off;
			q->runs[q->nruns].end = end;
			q->nruns++;
		}
		q->last_end = end;
		return INSERT_OK;
	}
	if (!q->nruns) {
		q->runs[0].start = off;
		q->runs[0].end = end;
		q->nruns = 1;
		q->last_end = end;
		return INSERT_OK;
	}
	/* Before the end of the data: a run of its own, unless it meets one. */
	unsigned at = 0;
	for (unsigned i = 0; i < q->nruns; i++) {
		const struct run *r = &q->runs[i];
		if (end <= r->start)
			break;
		if (off >= r->end) {
			at = i + 1;
			continue;
		}
		return off >= r->start && end <= r->end ? INSERT_DUP : INSERT_OVERLAP;
	}
	if (q->nruns == MAX_RUNS)
		return INSERT_OVERLAP;
	memmove(&q->runs[at + 1], &q->runs[at], (q->nruns - at) * sizeof(q->runs[0]));
	q->runs[at].start = off;
	q->runs[at].end = end;
	q->nruns++;
	return INSERT_OK;
}

/* ip_frag_ecn_table: the ECN bits to add, or -1 to discard. Bits: Not-ECT 1, ECT(1) 2,
 * ECT(0) 4, CE 8. */
static int ecn_combined(uint8_t seen)
{
	if ((seen & 1) && (seen & 0x0e))
		return -1;
	if ((seen & 8) && (seen & 6))
		return 3;
	return 0;
}

int replay_defrag_add(struct replay_defrag *d, uint8_t *pkt, size_t *len, size_t cap)
{
	return replay_defrag_add_meta(d, pkt, len, cap, NULL, 0);
}

int replay_defrag_add_meta(struct replay_defrag *d, uint8_t *pkt, size_t *len, size_t cap,
			   void *meta, size_t meta_len)
{
	if (meta_len > REPLAY_DEFRAG_META_MAX)
		meta_len = REPLAY_DEFRAG_META_MAX;
	uint16_t frag = (uint16_t)((pkt[6] << 8) | pkt[7]);
	size_t off = (size_t)(frag & 0x1fff) * 8;
	bool more = frag & 0x2000;
	if (!more && off == 0)
		return REPLAY_DEFRAG_WHOLE;
	d->clock++;
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t end = off + (*len - ihl);
	struct frag_queue *q = find_queue(d, pkt);
	if (!more) {
		if (end < q->len || (q->last_in && end != q->len))
			goto discard;
		q->last_in = true;
		q->len = end;
	} else {
		end &= ~(size_t)7;
		if (end > q->len) {
			if (q->last_in)
				goto discard;
			q->len = end;
		}
	}
	if (end <= off)
		goto discard;
	switch (insert_run(q, off, end)) {
	case INSERT_DUP:
		return REPLAY_DEFRAG_HELD; /* the fragment alone is dropped */
	case INSERT_OVERLAP:
		goto discard;
	case INSERT_OK:
		break;
	}
	if (off < MAX_DATAGRAM)
		memcpy(q->data + off, pkt + ihl, (end < MAX_DATAGRAM ? end : MAX_DATAGRAM) - off);
	q->meat += end - off;
	q->ecn |= (uint8_t)(1u << (pkt[1] & 3));
	if (off == 0) {
		q->first_in = true;
		memcpy(q->hdr, pkt, ihl);
		q->hdr_len = ihl;
		if (meta_len)
			memcpy(q->meta, meta, meta_len);
	}
	size_t fragsize = end - off + ihl;
	if (fragsize > q->max_size)
		q->max_size = fragsize;
	if ((frag & 0x4000) && fragsize > q->max_df_size)
		q->max_df_size = fragsize;
	if (!q->first_in || !q->last_in || q->meat != q->len)
		return REPLAY_DEFRAG_HELD;
	/* ip_frag_reasm */
	q->used = false;
	int ecn = ecn_combined(q->ecn);
	size_t n = q->hdr_len + q->len;
	if (ecn < 0 || n > MAX_DATAGRAM || n > cap)
		return REPLAY_DEFRAG_HELD;
	memcpy(pkt, q->hdr, q->hdr_len);
	memcpy(pkt + q->hdr_len, q->data, q->len);
	pkt[1] |= (uint8_t)ecn;
	pkt[2] = (uint8_t)(n >> 8);
	pkt[3] = (uint8_t)n;
	pkt[6] = q->max_df_size == q->max_size ? 0x40 : 0;
	pkt[7] = 0;
	pkt[10] = pkt[11] = 0;
	uint16_t c = header_checksum(pkt, q->hdr_len);
	pkt[10] = (uint8_t)(c >> 8);
	pkt[11] = (uint8_t)c;
	*len = n;
	if (meta_len)
		memcpy(meta, q->meta, meta_len);
	return REPLAY_DEFRAG_DONE;
discard:
	q->used = false; /* inet_frag_kill: later fragments start a new queue */
	return REPLAY_DEFRAG_HELD;
}
