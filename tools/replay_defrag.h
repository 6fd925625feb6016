/*
 * replay_defrag.h - IPv4 reassembly for pktfilt-replay (see replay_defrag.c).
 */
#ifndef PF_REPLAY_DEFRAG_H
#define PF_REPLAY_DEFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replay_defrag;

enum {
	REPLAY_DEFRAG_WHOLE, /* not a fragment: judge it as it is */
	REPLAY_DEFRAG_HELD,  /* a fragment was kept (or dropped): nothing to judge now */
	REPLAY_DEFRAG_DONE,  /* the datagram is complete: pkt/len now hold it */
};

struct replay_defrag *replay_defrag_new(void);
void replay_defrag_free(struct replay_defrag *d);
/* Feed one valid IPv4 packet of *len bytes in a buffer of cap bytes. */
int replay_defrag_add(struct replay_defrag *d, uint8_t *pkt, size_t *len, size_t cap);
/*
 * The same, with the packet's metadata (meta_len bytes at meta, at most
 * REPLAY_DEFRAG_META_MAX): the kernel's reassembled skb takes the first fragment's (skb_morph
 * of the head: mark, MAC header, pkt_type...), so the metadata given with the fragment at
 * offset 0 is kept and, on REPLAY_DEFRAG_DONE, copied back into meta.
 */
#define REPLAY_DEFRAG_META_MAX 512
int replay_defrag_add_meta(struct replay_defrag *d, uint8_t *pkt, size_t *len, size_t cap,
			   void *meta, size_t meta_len);

#endif
