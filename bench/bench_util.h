/*
 * bench_util.h - clocks and medians shared by the C benchmarks (matcher_bench, acl_bench_rte):
 * CPU time of the calling thread, wall time, and the median of a set of timings.
 */
#ifndef PF_BENCH_UTIL_H
#define PF_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* CPU time of the calling thread, ns. */
static inline double now_cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Monotonic wall time, ns. */
static inline double now_wall(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v (sorted in place); 0 for none. */
static inline double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[n / 2] : 0;
}

#endif
