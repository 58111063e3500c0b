/*
 * The pack encoding (dataplane/types/pack.h): the operations a small collection's commands
 * spend their time in.
 *
 * Elements are what a small hash or list holds: "field:N" / "value:N" strings (9-11
 * bytes each in the pack) or small integers. The buffer is a malloc'd block that doubles
 * when the pack outgrows it and never shrinks (a list node with slack); in the store the
 * entry is resized to the size class instead, which adds the allocator's cost to an edit
 * that changes the class.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/micro/microbench.h"
#include "types/pack.h"

#define BATCH 128 /* elements appended or popped between two resets */

struct slab {
    unsigned char *p;
    size_t cap;
};

static unsigned char *slab_resize(void *ctx, unsigned char *p, size_t n)
{
    struct slab *s = ctx;
    if (n <= s->cap)
        return p;
    size_t cap = s->cap * 2 > n ? s->cap * 2 : n;
    unsigned char *q = realloc(p, cap);
    if (q == NULL)
        return NULL;
    s->p = q;
    s->cap = cap;
    return q;
}

static void slab_init(struct slab *s)
{
    s->cap = 64;
    s->p = malloc(s->cap);
    pack_init(s->p);
}

/* "field:N" or "value:N" into buf, as a string element. */
static struct pack_elem name(char *buf, const char *prefix, int n)
{
    int len = snprintf(buf, 32, "%s%d", prefix, n);
    return (struct pack_elem){ .kind = PACK_STR, .s = (unsigned char *)buf, .len = (size_t)len };
}

static void append(struct slab *s, struct pack_elem e)
{
    if (pack_splice(&s->p, pack_bytes(s->p), 0, &e, 1, slab_resize, s, NULL) != 0)
        abort();
}

/* A pack of n fields and their values: field:0 value:0 field:1 value:1 ... */
static void fill_hash(struct slab *s, int n)
{
    char b[32];
    for (int i = 0; i < n; i++) {
        append(s, name(b, "field:", i));
        append(s, name(b, "value:", i));
    }
}

/* One iteration: append one element (RPUSH's pack work); the pack restarts every 128. */
static void run_append(struct bench_state *st, bool ints)
{
    struct slab s;
    slab_init(&s);
    struct pack_elem e[BATCH];
    char names[BATCH][32];
    for (int i = 0; i < BATCH; i++)
        e[i] = ints ? (struct pack_elem){ .kind = PACK_INT, .i = i * 37 % 1000 }
                    : name(names[i], "value:", i);
    while (bench_keep_running_batch(st, BATCH)) {
        pack_init(s.p);
        for (int i = 0; i < BATCH; i++)
            append(&s, e[i]);
        bench_do_not_optimize(s.p);
    }
    bench_set_items(st, bench_iterations(st));
    free(s.p);
}

BENCH(pack_append_str)
{
    run_append(st, false);
}

BENCH(pack_append_int)
{
    run_append(st, true);
}

/*
 * One iteration: read the last element and delete it (RPOP's pack work); every 128 pops
 * the 128-element pack is copied back from a pristine one (1.3 KB memcpy, timed).
 */
BENCH(pack_pop_tail)
{
    struct slab s, orig;
    slab_init(&orig);
    fill_hash(&orig, BATCH / 2);
    slab_init(&s);
    slab_resize(&s, s.p, pack_bytes(orig.p));
    uint64_t sum = 0;
    while (bench_keep_running_batch(st, BATCH)) {
        memcpy(s.p, orig.p, pack_bytes(orig.p));
        for (int i = 0; i < BATCH; i++) {
            uint32_t off = pack_last(s.p);
            struct pack_elem e;
            pack_get(s.p, off, &e);
            sum += e.len;
            if (pack_splice(&s.p, off, 1, NULL, 0, slab_resize, &s, NULL) != 0)
                abort();
        }
    }
    BENCH_KEEP(sum);
    bench_set_items(st, bench_iterations(st));
    free(s.p);
    free(orig.p);
}

/*
 * One iteration: HGET's lookup in a pack of n field/value pairs: prepare the needle, scan
 * the fields (step 2), read the value. Fields are visited in a stride of 37, so on average
 * half the fields are passed; `_miss` looks for a field that is not there (all are passed).
 */
static void run_find(struct bench_state *st, bool hit)
{
    int n = (int)bench_arg(st, 0);
    struct slab s;
    slab_init(&s);
    fill_hash(&s, n);
    char(*names)[32] = malloc((size_t)n * 32);
    struct pack_elem *keys = malloc((size_t)n * sizeof(*keys));
    for (int k = 0; k < n; k++)
        keys[k] = name(names[k], hit ? "field:" : "fieldx", k);
    int i = 0;
    uint64_t found = 0;
    while (bench_keep_running(st)) {
        const struct pack_elem *f = &keys[i];
        i = (i + 37) % n;
        struct pack_needle nd;
        pack_needle_str(&nd, f->s, f->len);
        uint32_t off = pack_find(s.p, pack_first(s.p), &nd, 2);
        if (off != 0) {
            struct pack_elem v;
            pack_get(s.p, pack_next(s.p, off), &v);
            found += v.len;
        }
    }
    BENCH_KEEP(found);
    bench_set_items(st, bench_iterations(st));
    free(keys);
    free(names);
    free(s.p);
}

BENCH_DEFINE(pack_find_hash, BENCH_ARGLIST(8, 32, 128), .arg_name = "pairs")
{
    run_find(st, true);
}

BENCH_DEFINE(pack_find_hash_miss, BENCH_ARGLIST(128), .arg_name = "pairs")
{
    run_find(st, false);
}

/* One iteration: decode every element of a 128-element pack (HGETALL's pack work). */
static void run_walk(struct bench_state *st, bool backward)
{
    struct slab s;
    slab_init(&s);
    fill_hash(&s, BATCH / 2);
    uint64_t sum = 0;
    while (bench_keep_running(st)) {
        uint32_t off = backward ? pack_last(s.p) : pack_first(s.p);
        while (off != 0) {
            struct pack_elem e;
            pack_get(s.p, off, &e);
            sum += e.len;
            off = backward ? pack_prev(s.p, off) : pack_next(s.p, off);
        }
    }
    BENCH_KEEP(sum);
    bench_set_items(st, bench_iterations(st) * BATCH);
    free(s.p);
}

BENCH(pack_walk)
{
    run_walk(st, false);
}

BENCH(pack_walk_reverse)
{
    run_walk(st, true);
}
