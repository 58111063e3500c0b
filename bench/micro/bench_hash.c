/*
 * The table hash: util_hash (XXH3, dataplane/base/util.c) against the
 * multiply-fold hash it replaced (kept here, verbatim, as `hash_v1`, only to be
 * measured), on keys of 8, 16, 32, 64 and 256 bytes.
 *
 * Each iteration hashes the next of 1024 distinct random keys of that length
 * (64 KiB of keys at 64 bytes: L1/L2-resident, so this is the hash, not the
 * memory) and folds the result into an accumulator, so the calls cannot be
 * hoisted or merged. `_chain` variants feed each hash into the next key's
 * first bytes: one iteration is then the hash's latency, which is what a
 * lookup waits for before it can touch its bucket.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bench/micro/microbench.h"
#include "base/util.h"

#define NKEYS   1024
#define MAX_LEN 256

/* ---- the previous table hash (dataplane/base/util.c before XXH3) ------- */

#define HK0 0xa0761d6478bd642full
#define HK1 0xe7037ed1a0b428dbull
#define HK2 0x8ebc6af09c88c6e3ull

static const uint64_t v1_seed = 0x243f6a8885a308d3ull ^ HK0;

static inline uint64_t v1_mix(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t v1_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t v1_load_tail(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

static __attribute__((noinline)) uint64_t hash_v1(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = v1_seed ^ v1_mix(len ^ HK1, HK0);
    while (len >= 16) {
        h = v1_mix(v1_load64(p) ^ HK1, v1_load64(p + 8) ^ h);
        p += 16;
        len -= 16;
    }
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        a = v1_load64(p);
        if (len > 8)
            b = v1_load_tail(p + 8, len - 8);
    } else if (len > 0) {
        a = v1_load_tail(p, len);
    }
    h = v1_mix(a ^ HK2 ^ h, b ^ HK1);
    return v1_mix(h ^ HK0, HK2 ^ (uint64_t)len);
}

/* ---- the benchmarks ----------------------------------------------------- */

typedef uint64_t (*hash_fn)(const void *data, size_t len);

static uint8_t keys[NKEYS][MAX_LEN];

static void keys_fill(void)
{
    util_rand_seed(42);
    for (size_t i = 0; i < NKEYS; i++)
        for (size_t j = 0; j < MAX_LEN; j += 8) {
            uint64_t r = util_rand64();
            memcpy(&keys[i][j], &r, 8);
        }
}

/* chain: xor each hash into the next key's first bytes, so the calls cannot overlap */
static void run(struct bench_state *st, hash_fn fn, bool chain)
{
    size_t len = (size_t)bench_arg(st, 0);
    keys_fill();
    uint64_t h = 0, acc = 0;
    unsigned i = 0;
    while (bench_keep_running(st)) {
        uint8_t *k = keys[i];
        if (chain) {
            uint64_t first;
            memcpy(&first, k, 8);
            first ^= h;
            memcpy(k, &first, 8);
        }
        h = fn(k, len);
        acc += h;
        i = (i + 1) & (NKEYS - 1);
    }
    BENCH_KEEP(acc);
    bench_set_items(st, bench_iterations(st));
    if (!chain)
        bench_set_bytes(st, bench_iterations(st) * len);
}

#define KEY_LENS BENCH_ARGLIST(8, 16, 32, 64, 256), .arg_name = "key_bytes"

BENCH_DEFINE(hash_xxh3, KEY_LENS)
{
    run(st, util_hash, false);
}

BENCH_DEFINE(hash_v1, KEY_LENS)
{
    run(st, hash_v1, false);
}

BENCH_DEFINE(hash_xxh3_chain, KEY_LENS)
{
    run(st, util_hash, true);
}

BENCH_DEFINE(hash_v1_chain, KEY_LENS)
{
    run(st, hash_v1, true);
}
