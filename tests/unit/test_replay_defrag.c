/*
 * test_replay_defrag.c - pktfilt-replay's IPv4 reassembly (tools/replay_defrag.c) against what
 * Linux 6.18's ip_defrag() does, as the differential test (tests/integration/differential.sh,
 * --profile fragments) observed it: duplicates are dropped alone, overlaps discard the
 * datagram and later fragments start a new one, MF fragments are cut to a multiple of 8, the
 * reassembled packet has the first fragment's header and metadata, ECN bits are combined and
 * DF is kept only when the largest fragment had it.
 */
#include "../../tools/replay_defrag.c"
#include "helpers.h"

static uint8_t buf[70000];

/* A fragment of datagram `id` from 198.18.5.5 to 198.18.0.1: payload bytes off..off+plen of a
 * datagram whose byte i is (uint8_t)i, with MF, DF and TOS as given. Returns its length. */
static size_t frag(uint16_t id, unsigned off, unsigned plen, bool more, bool df, uint8_t tos)
{
	struct ip4 h = {.src = "198.18.5.5",
			.dst = "198.18.0.1",
			.proto = 17,
			.ttl = 64,
			.tos = tos,
			.id = id,
			.frag = (uint16_t)(off / 8 | (more ? 0x2000 : 0) | (df ? 0x4000 : 0))};
	ip4_header(buf, plen, &h);
	for (unsigned i = 0; i < plen; i++)
		buf[20 + i] = (uint8_t)(off + i);
	return 20 + plen;
}

static int add(struct replay_defrag *d, size_t *n)
{
	return replay_defrag_add(d, buf, n, sizeof(buf));
}

static void check_whole(size_t n, unsigned plen)
{
	ck_assert_uint_eq(n, 20 + plen);
	ck_assert_uint_eq((size_t)((buf[2] << 8) | buf[3]), 20 + plen);
	ck_assert_uint_eq(header_checksum(buf, 20), 0);
	for (unsigned i = 0; i < plen; i++)
		ck_assert_uint_eq(buf[20 + i], (uint8_t)i);
}

START_TEST(in_order_and_not)
{
	struct replay_defrag *d = replay_defrag_new();
	size_t n = frag(1, 0, 16, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 16, 10, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_DONE);
	check_whole(n, 26);
	ck_assert_uint_eq(buf[6], 0);
	ck_assert_uint_eq(buf[7], 0);
	/* last first, then the middle, then the first */
	n = frag(2, 24, 8, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 8, 16, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 0, 8, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_DONE);
	check_whole(n, 32);
	/* not a fragment */
	n = frag(3, 0, 8, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_WHOLE);
	replay_defrag_free(d);
}
END_TEST

START_TEST(duplicate_is_dropped_alone)
{
	struct replay_defrag *d = replay_defrag_new();
	size_t n = frag(1, 0, 16, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 0, 16, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 0, 8, true, false, 0); /* inside the run: a duplicate too */
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 16, 8, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_DONE);
	check_whole(n, 24);
	replay_defrag_free(d);
}
END_TEST

START_TEST(overlap_discards_the_datagram)
{
	struct replay_defrag *d = replay_defrag_new();
	size_t n = frag(1, 0, 16, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 8, 16, true, false, 0); /* overlaps the end of the first */
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 16, 8, false, false, 0); /* a new queue: no first fragment */
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 0, 16, true, false, 0); /* ...until it comes again */
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_DONE);
	check_whole(n, 24);
	/* Runs [16,24) and [0,8): a fragment [0,16) meets [0,8) without lying inside it, an
	 * overlap, though the bytes it brings are new but for those. */
	n = frag(2, 16, 8, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 0, 8, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 0, 16, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 8, 8, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 24, 8, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD); /* the datagram was discarded */
	replay_defrag_free(d);
}
END_TEST

START_TEST(ends_and_lengths)
{
	struct replay_defrag *d = replay_defrag_new();
	/* An MF fragment of 13 bytes counts as 8. */
	size_t n = frag(1, 0, 13, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 8, 4, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_DONE);
	check_whole(n, 12);
	/* A second last fragment with another end discards the datagram. */
	n = frag(2, 8, 8, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 8, 16, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(2, 0, 8, true, false, 0); /* starts a new queue */
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	/* An MF fragment of fewer than 8 bytes is empty: the datagram is discarded. */
	n = frag(3, 0, 8, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(3, 8, 5, true, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(3, 8, 8, false, false, 0);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	replay_defrag_free(d);
}
END_TEST

START_TEST(header_ecn_df_and_metadata)
{
	struct replay_defrag *d = replay_defrag_new();
	int meta;
	/* ECT(0) and CE: CE; DF on the largest fragment: DF; metadata of the first. */
	size_t n = frag(1, 16, 8, false, false, 0x03);
	meta = 2;
	ck_assert_int_eq(replay_defrag_add_meta(d, buf, &n, sizeof(buf), &meta, sizeof(meta)),
			 REPLAY_DEFRAG_HELD);
	n = frag(1, 0, 16, true, true, 0x12);
	meta = 1;
	ck_assert_int_eq(replay_defrag_add_meta(d, buf, &n, sizeof(buf), &meta, sizeof(meta)),
			 REPLAY_DEFRAG_DONE);
	meta = 3;
	n = frag(9, 0, 8, false, false, 0); /* whole: the metadata is left alone */
	ck_assert_int_eq(replay_defrag_add_meta(d, buf, &n, sizeof(buf), &meta, sizeof(meta)),
			 REPLAY_DEFRAG_WHOLE);
	ck_assert_int_eq(meta, 3);
	n = frag(2, 8, 8, false, false, 0x02);
	meta = 2;
	ck_assert_int_eq(replay_defrag_add_meta(d, buf, &n, sizeof(buf), &meta, sizeof(meta)),
			 REPLAY_DEFRAG_HELD);
	n = frag(2, 0, 8, true, false, 0x12);
	meta = 1;
	ck_assert_int_eq(replay_defrag_add_meta(d, buf, &n, sizeof(buf), &meta, sizeof(meta)),
			 REPLAY_DEFRAG_DONE);
	ck_assert_int_eq(meta, 1);
	ck_assert_uint_eq(buf[1], 0x12);
	ck_assert_uint_eq(buf[6], 0);
	/* the first datagram again, to look at its header */
	n = frag(1, 16, 8, false, false, 0x03);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(1, 0, 16, true, true, 0x12);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_DONE);
	ck_assert_uint_eq(buf[1], 0x13);
	ck_assert_uint_eq(buf[6], 0x40);
	check_whole(n, 24);
	/* Not-ECT with ECT: the datagram is discarded. */
	n = frag(3, 0, 8, true, false, 0x00);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	n = frag(3, 8, 8, false, false, 0x02);
	ck_assert_int_eq(add(d, &n), REPLAY_DEFRAG_HELD);
	replay_defrag_free(d);
}
END_TEST

static Suite *defrag_suite(void)
{
	Suite *s = suite_create("replay_defrag");
	TCase *tc = tcase_create("defrag");
	tcase_add_test(tc, in_order_and_not);
	tcase_add_test(tc, duplicate_is_dropped_alone);
	tcase_add_test(tc, overlap_discards_the_datagram);
	tcase_add_test(tc, ends_and_lengths);
	tcase_add_test(tc, header_ecn_df_and_metadata);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(defrag_suite());
}
