/*
 * keygen.h - random numbers and key choice (sequential, uniform, Zipf).
 *
 * A keygen draws key numbers from one slice of the keyspace: {first + k * stride}, so that
 * with --verify each thread owns the keys congruent to its index and every key has exactly
 * one writer.  Zipf uses rejection-inversion sampling (Hörmann & Derflinger, 1996), which
 * needs no table and works for any skew > 0, so a keyspace of 10^9 costs nothing to set up.
 */
#ifndef POLLUX_BENCH_KEYGEN_H
#define POLLUX_BENCH_KEYGEN_H

#include <stdint.h>

enum keygen_pattern {
    KEYGEN_SEQ,
    KEYGEN_UNIFORM,
    KEYGEN_ZIPF,
};

struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform in [0, 1). */
double rng_double(struct rng *r);

struct keygen {
    enum keygen_pattern pattern;
    uint64_t n; /* keys in this slice */
    uint64_t first, stride;
    uint64_t next_seq;
    /* Zipf constants */
    double s, h_x1, h_n, cut;
};

void keygen_init(struct keygen *g, enum keygen_pattern pattern, uint64_t n, uint64_t first,
                 uint64_t stride, double skew);
uint64_t keygen_next(struct keygen *g, struct rng *r);

#endif
