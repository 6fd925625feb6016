/*
 * jiffies.h - the kernel's clock as the rate and state matches (limit, hashlimit, recent,
 * connlimit) see it.
 *
 * The kernel counts time in jiffies, HZ ticks a second; the reference kernel is built with
 * CONFIG_HZ=250, so a jiffy is 4 ms. Every computation of these matches is done in jiffies
 * and in the kernel's integer types, so the results depend on where the ticks fall. Here the
 * clock is the caller's meta->now_ns and jiffy n is [n * 4 ms, (n + 1) * 4 ms): a replay
 * with the same timestamps gives the same answers. The phase of the real kernel's ticks
 * relative to the packets is arbitrary (and so is its origin, INITIAL_JIFFIES); the
 * comparisons below are the kernel's wrap-safe ones, so the origin does not matter.
 */
#ifndef PF_EXT_JIFFIES_H
#define PF_EXT_JIFFIES_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/eval.h"

#define PF_HZ 250u
#define PF_NS_PER_JIFFY (1000000000ull / PF_HZ)
/* MAX_JIFFY_OFFSET: what msecs_to_jiffies gives for an argument with the top bit set. */
#define PF_MAX_JIFFY_OFFSET ((uint64_t)((INT64_MAX >> 1) - 1))

/* The kernel's "jiffies" (unsigned long) at this packet. */
static inline uint64_t pf_jiffies(const struct pf_eval *ev)
{
	return ev->meta->now_ns / PF_NS_PER_JIFFY;
}

/* msecs_to_jiffies() for HZ dividing 1000: round up; (int)m < 0 gives MAX_JIFFY_OFFSET. */
static inline uint64_t pf_msecs_to_jiffies(uint32_t m)
{
	if ((int32_t)m < 0)
		return PF_MAX_JIFFY_OFFSET;
	return ((uint64_t)m + (1000u / PF_HZ) - 1) / (1000u / PF_HZ);
}

/* time_after(a, b) and time_after_eq(a, b) on unsigned long. */
static inline bool pf_time_after(uint64_t a, uint64_t b)
{
	return (int64_t)(b - a) < 0;
}

static inline bool pf_time_after_eq(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) >= 0;
}

/*
 * A short key for pf_engine_shared(), whose keys are limited in length, from a table name
 * of up to 255 characters: the name itself when short, else its first 48 characters and a
 * 64-bit FNV-1a hash of the whole name (names that differ only after that prefix get
 * different keys unless their hashes collide).
 */
static inline void pf_shared_name_key(const char *name, char out[80])
{
	size_t n = 0;
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *p = name; *p; p++, n++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	if (n < 64) {
		for (size_t i = 0; i <= n; i++)
			out[i] = name[i];
		return;
	}
	static const char hexd[] = "0123456789abcdef";
	for (size_t i = 0; i < 48; i++)
		out[i] = name[i];
	out[48] = '#';
	for (int i = 0; i < 16; i++)
		out[49 + i] = hexd[(h >> (60 - 4 * i)) & 0xf];
	out[65] = '\0';
}

#endif
