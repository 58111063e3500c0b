/* keygen.c - xoshiro256** generator and key distributions; see keygen.h. */
#include "bench/loadgen/keygen.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    /* Lemire's multiply-shift; the bias for n << 2^64 is negligible for a load generator. */
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

double rng_double(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* log1p(x)/x and expm1(x)/x, accurate near 0. */
static double helper1(double x)
{
    return fabs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x / 3.0);
}

static double helper2(double x)
{
    return fabs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0);
}

/* H(x): an antiderivative of h(x) = x^-s; Hinv its inverse. */
static double zipf_h_integral(double s, double x)
{
    double lx = log(x);
    return helper2((1.0 - s) * lx) * lx;
}

static double zipf_h(double s, double x)
{
    return exp(-s * log(x));
}

static double zipf_h_integral_inv(double s, double x)
{
    double t = x * (1.0 - s);
    if (t < -1.0)
        t = -1.0; /* guard rounding at the lower end */
    return exp(helper1(t) * x);
}

void keygen_init(struct keygen *g, enum keygen_pattern pattern, uint64_t n, uint64_t first,
                 uint64_t stride, double skew)
{
    g->pattern = pattern;
    g->n = n > 0 ? n : 1;
    g->first = first;
    g->stride = stride;
    g->next_seq = 0;
    g->s = skew;
    if (pattern == KEYGEN_ZIPF) {
        g->h_x1 = zipf_h_integral(skew, 1.5) - 1.0;
        g->h_n = zipf_h_integral(skew, (double)g->n + 0.5);
        g->cut = 2.0 - zipf_h_integral_inv(skew, zipf_h_integral(skew, 2.5) - zipf_h(skew, 2.0));
    }
}

/* Rank in [1, n] with P(k) proportional to k^-s. */
static uint64_t zipf_sample(struct keygen *g, struct rng *r)
{
    for (;;) {
        double u = g->h_n + rng_double(r) * (g->h_x1 - g->h_n);
        double x = zipf_h_integral_inv(g->s, u);
        double kd = floor(x + 0.5);
        if (kd < 1.0)
            kd = 1.0;
        else if (kd > (double)g->n)
            kd = (double)g->n;
        if (kd - x <= g->cut || u >= zipf_h_integral(g->s, kd + 0.5) - zipf_h(g->s, kd))
            return (uint64_t)kd;
    }
}

uint64_t keygen_next(struct keygen *g, struct rng *r)
{
    uint64_t k;
    switch (g->pattern) {
    case KEYGEN_SEQ:
        k = g->next_seq++;
        if (g->next_seq == g->n)
            g->next_seq = 0;
        break;
    case KEYGEN_UNIFORM:
        k = rng_below(r, g->n);
        break;
    default:
        k = zipf_sample(g, r) - 1;
        break;
    }
    return g->first + k * g->stride;
}
