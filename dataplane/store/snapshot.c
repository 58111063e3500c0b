/*
 * Snapshots without fork (store.h, store_snap_begin).
 *
 * A snapshot freezes each database's chain layout: no resize starts or
 * advances while it runs, so "chain number p" (the old table's unmoved
 * chains, then the new table's, as chain_at() numbers them) names the same
 * chain from start to end, and an entry never leaves its chain except by
 * being removed. One bit per chain says whether it has been saved. Every
 * operation that changes a chain — insert, overwrite, in-place update,
 * expiry change, removal by a command, by expiry or by eviction — first
 * saves the chain if its bit is clear; the stepper saves the rest in order.
 * So each entry present at the start is saved exactly once, before its
 * first change, and the dataset is never copied: the extra memory is one
 * bit per chain plus whatever the consumer buffers.
 *
 * Emptying a database (FLUSHDB/FLUSHALL) saves whatever is left of it first.
 */
#include "store/store_int.h"
#include "base/util.h"

struct db_snap {
    uint64_t *seen;
    uint64_t span; /* chains frozen at the start */
    uint64_t next; /* stepper position */
    int label;     /* database index at the start */
};

static uint64_t span_of(const struct db *d)
{
    if (d->t[0].b == NULL)
        return 0;
    if (!d->rehashing)
        return table_buckets(&d->t[0]);
    return table_buckets(&d->t[0]) - d->rehash_idx + table_buckets(&d->t[1]);
}

static struct bucket *chain_at_pos(struct db *d, uint64_t pos)
{
    if (!d->rehashing)
        return &d->t[0].b[pos];
    uint64_t old_left = table_buckets(&d->t[0]) - d->rehash_idx;
    if (pos < old_left)
        return &d->t[0].b[d->rehash_idx + pos];
    return &d->t[1].b[pos - old_left];
}

/* The chain number of a head bucket (the inverse of chain_at_pos). */
static uint64_t pos_of_head(const struct db *d, const struct bucket *head)
{
    const struct table *t0 = &d->t[0];
    if (head >= t0->b && head <= t0->b + t0->mask) {
        uint64_t i = (uint64_t)(head - t0->b);
        return d->rehashing ? i - d->rehash_idx : i;
    }
    const struct table *t1 = &d->t[1];
    return table_buckets(t0) - d->rehash_idx + (uint64_t)(head - t1->b);
}

static void db_done(struct store *s, struct db *d)
{
    mem_free(d->snap->seen);
    mem_free(d->snap);
    d->snap = NULL;
    if (--s->snap_active == 0 && s->snap_end != NULL) {
        void (*end)(void *) = s->snap_end;
        s->snap_end = NULL;
        end(s->snap_arg);
    }
}

static size_t save_pos(struct store *s, struct db *d, uint64_t pos)
{
    struct db_snap *sn = d->snap;
    uint64_t bit = 1ull << (pos & 63);
    if (sn->seen[pos >> 6] & bit)
        return 0;
    sn->seen[pos >> 6] |= bit;
    size_t n = 0;
    for (struct bucket *b = chain_at_pos(d, pos); b != NULL; b = bucket_next(b)) {
        for (unsigned m = bucket_present(b); m != 0; m &= m - 1) {
            s->snap_fn(s->snap_arg, sn->label, b->slot[__builtin_ctz(m)]);
            n++;
        }
    }
    return n;
}

void store_snap_save_head(struct store *s, struct db *d, struct bucket *head)
{
    save_pos(s, d, pos_of_head(d, head));
}

void store_snap_save_db(struct store *s, struct db *d)
{
    if (d->snap == NULL)
        return;
    for (uint64_t p = 0; p < d->snap->span; p++)
        save_pos(s, d, p);
    db_done(s, d);
}

void store_snap_begin(struct store *s, store_snap_fn fn, void *arg)
{
    store_snap_abort(s);
    s->snap_fn = fn;
    s->snap_arg = arg;
    s->snap_db = 0;
    for (int i = 0; i < s->ndb; i++) {
        struct db *d = &s->db[i];
        uint64_t span = span_of(d);
        if (span == 0 || d->count == 0)
            continue;
        struct db_snap *sn = mem_alloc(sizeof(*sn));
        sn->span = span;
        sn->next = 0;
        sn->label = i;
        sn->seen = mem_calloc(((span + 63) / 64) * sizeof(uint64_t));
        d->snap = sn;
        s->snap_active++;
    }
}

size_t store_snap_step(struct store *s, size_t max_entries)
{
    size_t n = 0;
    while (s->snap_active > 0 && n < max_entries) {
        struct db *d = &s->db[s->snap_db];
        if (d->snap == NULL) {
            s->snap_db = (s->snap_db + 1) % s->ndb;
            continue;
        }
        struct db_snap *sn = d->snap;
        /* Empty chains cost a bitmap test and a metadata word each. */
        size_t budget = 4096;
        while (sn->next < sn->span && n < max_entries && budget-- > 0)
            n += save_pos(s, d, sn->next++);
        if (sn->next >= sn->span)
            db_done(s, d);
        else if (budget == (size_t)-1)
            break; /* a long run of empty chains: continue next time */
    }
    return n;
}

bool store_snap_active(const struct store *s)
{
    return s->snap_active > 0;
}

void store_snap_on_end(struct store *s, void (*end)(void *arg))
{
    s->snap_end = end;
}

void store_snap_finish(struct store *s)
{
    while (s->snap_active > 0)
        store_snap_step(s, SIZE_MAX);
}

void store_snap_abort(struct store *s)
{
    s->snap_end = NULL;
    for (int i = 0; i < s->ndb && s->snap_active > 0; i++)
        if (s->db[i].snap != NULL)
            db_done(s, &s->db[i]);
    s->snap_active = 0;
}

void store_snap_touch(struct store *s, int db, const char *key, size_t len)
{
    if (db < 0) {
        for (int i = 0; i < s->ndb; i++)
            store_snap_touch(s, i, key, len);
        return;
    }
    struct db *d = &s->db[db];
    if (d->snap != NULL)
        snap_before_write(s, d, util_hash(key, len));
}
