/*
 * A small harness for the command-family tests: three stores, a reply
 * chain, and a context built the way the dispatcher builds it, either for
 * one shard (store set) or for a transaction over all three (store NULL).
 * run() resolves the row (and subcommand), checks arity like the
 * dispatcher, calls the handler and returns the reply bytes.
 */
#ifndef POLLUX_TEST_CMD_H
#define POLLUX_TEST_CMD_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cmd/cmd.h"
#include "cmd/coll.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"

#define NSHARDS 3
#define T0      1700000000000LL /* the fake clock's start, unix ms */

struct fx {
    struct store_params params;
    struct coll_params coll; /* the collections' thresholds (defaults; a test may lower them) */
    struct store *st[NSHARDS];
    struct reply r;
    struct cmd_ctx c;
    char *out; /* last reply, NUL-terminated copy */
    size_t outlen;
    long long dirty; /* c.dirty of the last command */
};

/* A top-level row of the command table, by name. */
static inline const struct cmd_def *find_row(const char *name, size_t len)
{
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++)
        if (util_strcaseeq(name, len, d->name))
            return d;
    return NULL;
}

static inline void fx_context(struct fx *f, bool multi)
{
    memset(&f->c, 0, sizeof(f->c));
    f->c.reply = &f->r;
    f->c.now_ms = T0;
    f->c.stores = f->st;
    f->c.nshards = multi ? NSHARDS : 1;
    f->c.store = multi ? NULL : f->st[0];
    f->c.shard = 0;
    f->c.max_bulk_len = 512ll * 1024 * 1024;
    f->c.coll = &f->coll;
    f->c.select_db = -1;
}

static inline int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    param_defaults(store_param_defs, &f->params);
    f->coll = coll_params_default;
    coll_init();
    for (int i = 0; i < NSHARDS; i++)
        f->st[i] = store_create(&f->params);
    reply_init(&f->r, 2);
    fx_context(f, false);
    *state = f;
    return 0;
}

static inline int fx_setup_multi(void **state)
{
    fx_setup(state);
    fx_context(*state, true);
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;
    reply_deinit(&f->r);
    for (int i = 0; i < NSHARDS; i++)
        store_destroy(f->st[i]);
    free(f->out);
    free(f);
    return 0;
}

/* Gather the chain into f->out and empty it. */
static inline void fx_collect(struct fx *f)
{
    free(f->out);
    f->out = malloc(f->r.bytes + 1);
    size_t n = 0;
    for (struct rblock *b = f->r.head; b != NULL; b = b->next) {
        memcpy(f->out + n, b->data + b->start, b->len - b->start);
        n += b->len - b->start;
    }
    f->out[n] = '\0';
    f->outlen = n;
    uint8_t proto = f->r.proto;
    reply_deinit(&f->r);
    reply_init(&f->r, proto);
}

/* Run argv[0..argc) with explicit lengths (binary-safe); returns the reply. */
static inline const char *fx_runv(struct fx *f, int argc, const char **argv, const size_t *lens)
{
    struct resp_arg args[64];
    char *bufs[64];
    assert_true(argc <= 64);
    for (int i = 0; i < argc; i++) {
        size_t len = lens != NULL ? lens[i] : strlen(argv[i]);
        bufs[i] = malloc(len + 1);
        memcpy(bufs[i], argv[i], len);
        bufs[i][len] = '\0';
        args[i].ptr = bufs[i];
        args[i].len = len;
    }
    const struct cmd_def *d = find_row(argv[0], args[0].len), *parent = NULL;
    assert_non_null(d);
    if (d->subs != NULL && argc >= 2) {
        parent = d;
        d = NULL;
        for (const struct cmd_def *s = parent->subs; s->name != NULL; s++)
            if (util_strcaseeq(args[1].ptr, args[1].len, s->name))
                d = s;
        assert_non_null(d);
    }
    f->c.argc = argc;
    f->c.argv = args;
    f->c.cmd = d;
    f->c.parent = parent;
    f->c.dirty = 0;
    if ((d->arity > 0 && argc != d->arity) || (d->arity < 0 && argc < -d->arity))
        cmd_reply_arity(&f->c);
    else
        d->fn(&f->c);
    f->dirty = f->c.dirty;
    for (int i = 0; i < argc; i++)
        free(bufs[i]);
    fx_collect(f);
    return f->out;
}

#define RUN(f, ...)                                                                                \
    fx_runv((f), (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *)),            \
            (const char *[]){ __VA_ARGS__ }, NULL)

/* Run and compare the reply with `want` exactly. */
#define EXPECT(f, want, ...) assert_string_equal(RUN(f, __VA_ARGS__), (want))

/* The store that owns a key in the current context. */
static inline struct store *fx_store_of(struct fx *f, const char *key)
{
    return cmd_store(&f->c, key, strlen(key));
}

/* Total keys of a database over every shard. */
static inline size_t fx_count(struct fx *f, int db)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++)
        n += store_count(f->st[i], db);
    return n;
}

/* Three keys that live on three different shards (slot % 3 = 0, 1, 2). */
static inline void fx_keys_per_shard(char keys[NSHARDS][16])
{
    bool have[NSHARDS] = { false };
    int found = 0;
    for (int i = 0; found < NSHARDS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key:%d", i);
        unsigned sh = cmd_key_shard(k, strlen(k), NSHARDS);
        if (!have[sh]) {
            have[sh] = true;
            memcpy(keys[sh], k, sizeof(k));
            found++;
        }
    }
}

/*
 * Fixtures for the collection tests: the thresholds in `params`, which a test changes between
 * commands (the context reads them), reset to Redis's defaults for each test.
 */
static struct coll_params params;

static inline int fx_setup_coll(void **state)
{
    fx_setup(state);
    struct fx *f = *state;
    params = coll_params_default;
    f->c.coll = &params;
    return 0;
}

static inline int fx_setup_coll_multi(void **state)
{
    fx_setup_multi(state);
    struct fx *f = *state;
    params = coll_params_default;
    f->c.coll = &params;
    return 0;
}

/* A xorshift for seeded random runs: fixed seeds give the same run on every machine. */
static uint64_t fx_rng;

static inline uint64_t fx_rand(void)
{
    fx_rng ^= fx_rng << 13;
    fx_rng ^= fx_rng >> 7;
    fx_rng ^= fx_rng << 17;
    return fx_rng;
}

/* Uniform enough below n (> 0), and true percent times in a hundred. */
static inline int fx_below(int n)
{
    return (int)(fx_rand() % (uint64_t)n);
}

static inline bool fx_chance(int percent)
{
    return fx_below(100) < percent;
}

#endif
