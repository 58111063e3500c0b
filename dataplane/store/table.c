/*
 * Per-database hash tables: bucket chains, sizing, incremental rehash, the
 * SCAN cursor, random picks and eviction samples.
 */
#include "store/store_int.h"
#include "base/util.h"

/*
 * Sizing, in keys per bucket (a bucket has seven slots). Grow past 7, every
 * slot full on average, to twice the size: beyond that child buckets cost
 * about what fewer head buckets save, while lookups keep getting dearer.
 * Shrink below 1 (one slot in seven used) to the size that puts the fill
 * back near 3.5, halfway. See NOTES.md for the measurements.
 */
#define MIN_BUCKETS     4
#define GROW_FILL       7
#define SHRINK_FILL     1
#define TARGET_FILL     3.5
#define HARD_FILL       (2 * GROW_FILL) /* grow even when maxmemory argues against it */
#define REHASH_EMPTY    64              /* empty buckets skipped per bucket moved */
#define REHASH_CATCH_UP 16              /* buckets moved per write when the target is overfull */

static struct bucket *bucket_new(struct store *s)
{
    struct bucket *c = mem_calloc(sizeof(struct bucket));
    store_mem_add(s, mem_size_class(sizeof(struct bucket)));
    return c;
}

static void bucket_free(struct store *s, struct bucket *c)
{
    store_mem_sub(s, mem_size_class(sizeof(struct bucket)));
    mem_free(c);
}

/*
 * Allocate a zeroed table of n buckets on a cache-line boundary. The
 * allocator already aligns power-of-two sizes from 64 bytes up (jemalloc);
 * otherwise ask for one line more and round up.
 */
static void table_init(struct store *s, struct table *t, size_t n)
{
    size_t bytes = n * sizeof(struct bucket);
    void *raw = mem_calloc(bytes);
    if (((uintptr_t)raw & (CACHE_LINE_SIZE - 1)) != 0) {
        mem_free(raw);
        bytes += CACHE_LINE_SIZE;
        raw = mem_calloc(bytes);
    }
    uintptr_t a = ((uintptr_t)raw + CACHE_LINE_SIZE - 1) & ~(uintptr_t)(CACHE_LINE_SIZE - 1);
    t->raw = raw;
    t->b = (struct bucket *)a;
    t->mask = n - 1;
    t->bytes = mem_size_class(bytes);
    store_mem_add(s, t->bytes);
}

/* Free the child buckets of the chain at head (and every entry of the chain, when asked).
 * @return the entries freed. */
static size_t chain_free(struct store *s, struct bucket *head, bool free_entries)
{
    size_t n = 0;
    for (struct bucket *b = head; b != NULL;) {
        struct bucket *next = bucket_next(b);
        if (free_entries) {
            unsigned m = bucket_present(b);
            while (m != 0) {
                store_entry_free(s, b->slot[__builtin_ctz(m)]);
                m &= m - 1;
                n++;
            }
        }
        if (b != head)
            bucket_free(s, b);
        b = next;
    }
    return n;
}

static void table_release(struct store *s, struct table *t)
{
    if (t->b == NULL)
        return;
    store_mem_sub(s, t->bytes);
    mem_free(t->raw);
    memset(t, 0, sizeof(*t));
}

/* Free every child bucket of the table's chains, then the table. */
static void table_free(struct store *s, struct table *t, bool free_entries)
{
    for (size_t i = 0; i < table_buckets(t); i++)
        chain_free(s, &t->b[i], free_entries);
    table_release(s, t);
}

bool store_db_drain(struct store *s, struct db *d, size_t *budget, size_t *entries)
{
    /* d->drain walks t[0] then t[1]: a drained database is nobody's keyspace any more,
     * so nothing looks into it or rehashes it meanwhile (the owner's idle step included) */
    store_rehash_track(s, true);
    size_t n0 = table_buckets(&d->t[0]), n = n0 + table_buckets(&d->t[1]);
    while (*budget > 0 && d->drain < n) {
        uint64_t i = d->drain++;
        struct bucket *head = i < n0 ? &d->t[0].b[i] : &d->t[1].b[i - n0];
        size_t k = chain_free(s, head, true);
        *entries += k;
        *budget -= MIN(*budget, k + 1);
    }
    if (d->drain < n)
        return false;
    table_release(s, &d->t[0]);
    table_release(s, &d->t[1]);
    memset(d, 0, sizeof(*d));
    return true;
}

static size_t pow2_at_least(double n)
{
    size_t v = MIN_BUCKETS;
    while ((double)v < n)
        v <<= 1;
    return v;
}

struct kv *store_chain_find(struct bucket *head, const struct skey *k, struct loc *loc)
{
    uint8_t t = tag_of(k->hash);
    for (struct bucket *b = head; b != NULL; b = bucket_next(b)) {
        unsigned m = bucket_match(b, t);
        while (m != 0) {
            unsigned i = (unsigned)__builtin_ctz(m);
            struct kv *e = b->slot[i];
            if (kv_key_eq(e, k->ptr, k->len)) {
                loc->head = head;
                loc->b = b;
                loc->i = i;
                return e;
            }
            m &= m - 1;
        }
    }
    return NULL;
}

bool store_chain_find_addr(struct bucket *head, uintptr_t addr, struct loc *loc)
{
    for (struct bucket *b = head; b != NULL; b = bucket_next(b)) {
        unsigned m = bucket_present(b);
        while (m != 0) {
            unsigned i = (unsigned)__builtin_ctz(m);
            if ((uintptr_t)b->slot[i] == addr) {
                loc->head = head;
                loc->b = b;
                loc->i = i;
                return true;
            }
            m &= m - 1;
        }
    }
    return false;
}

bool store_db_locate(const struct db *d, const struct kv *e, uintptr_t addr, struct loc *loc)
{
    size_t klen;
    const char *key = kv_key(e, &klen);
    struct bucket *head = db_chain(d, util_hash(key, klen));
    return head != NULL && store_chain_find_addr(head, addr, loc);
}

/*
 * Put an entry in the first free slot of the chain. When every bucket is
 * full, the last one becomes chained: its last entry and the new one go to a
 * fresh child, and its last slot points there.
 */
void store_chain_add(struct store *s, struct bucket *b, uint8_t tag, struct kv *e)
{
    for (;;) {
        unsigned avail = bucket_usable(b) & ~bucket_present(b);
        if (avail != 0) {
            bucket_put(b, (unsigned)__builtin_ctz(avail), tag, e);
            return;
        }
        if (!bucket_chained(b))
            break;
        b = b->slot[CHILD_SLOT];
    }
    struct bucket *c = bucket_new(s);
    bucket_put(c, 0, bucket_tag(b, CHILD_SLOT), b->slot[CHILD_SLOT]);
    bucket_put(c, 1, tag, e);
    bucket_clear(b, CHILD_SLOT);
    b->meta |= META_CHAINED;
    b->slot[CHILD_SLOT] = c;
}

/*
 * After removals: splice out empty children, and fold a last child back into
 * its parent when its entries fit in the parent's free slots without using
 * the parent's last slot, so that the next insert does not chain again at
 * once.
 */
void store_chain_tidy(struct store *s, struct bucket *b)
{
    while (bucket_chained(b)) {
        struct bucket *c = b->slot[CHILD_SLOT];
        unsigned cp = bucket_present(c);
        if (cp == 0) {
            b->slot[CHILD_SLOT] = bucket_chained(c) ? c->slot[CHILD_SLOT] : NULL;
            if (!bucket_chained(c))
                b->meta &= ~META_CHAINED;
            bucket_free(s, c);
            continue;
        }
        unsigned avail = SLOTS_CHAINED & ~bucket_present(b);
        if (!bucket_chained(c) && __builtin_popcount(cp) <= __builtin_popcount(avail)) {
            b->meta &= ~META_CHAINED;
            b->slot[CHILD_SLOT] = NULL;
            while (cp != 0) {
                unsigned i = (unsigned)__builtin_ctz(cp);
                unsigned j = (unsigned)__builtin_ctz(avail);
                bucket_put(b, j, bucket_tag(c, i), c->slot[i]);
                cp &= cp - 1;
                avail &= avail - 1;
            }
            bucket_free(s, c);
            return;
        }
        b = c;
    }
}

void store_rehash_track(struct store *s, bool force_out)
{
    if (s->owner == NULL && s->rehash_pprev == NULL)
        return; /* a keyspace, or a store nobody owns: never listed */
    bool rehashing = false;
    for (int i = 0; i < s->ndb && !force_out; i++)
        rehashing |= s->db[i].rehashing;
    bool listed = s->rehash_pprev != NULL;
    if (listed && (force_out || !rehashing)) {
        *s->rehash_pprev = s->rehash_next;
        if (s->rehash_next != NULL)
            s->rehash_next->rehash_pprev = s->rehash_pprev;
        s->rehash_next = NULL;
        s->rehash_pprev = NULL;
    } else if (!listed && rehashing && s->owner != NULL) {
        s->rehash_next = s->owner->rehash_head;
        if (s->rehash_next != NULL)
            s->rehash_next->rehash_pprev = &s->rehash_next;
        s->owner->rehash_head = s;
        s->rehash_pprev = &s->owner->rehash_head;
    }
}

static void rehash_start(struct store *s, struct db *d, size_t n)
{
    table_init(s, &d->t[1], n);
    d->rehashing = true;
    d->rehash_idx = 0;
    store_rehash_track(s, false);
}

static void rehash_finish(struct store *s, struct db *d)
{
    table_free(s, &d->t[0], false);
    d->t[0] = d->t[1];
    memset(&d->t[1], 0, sizeof(d->t[1]));
    d->rehashing = false;
    d->rehash_idx = 0;
    store_rehash_track(s, false);
}

/* Move the chain at t[0][rehash_idx] to t[1]. */
static void rehash_chain(struct store *s, struct db *d)
{
    struct table *from = &d->t[0], *to = &d->t[1];
    struct bucket *head = &from->b[d->rehash_idx];
    bool grow = to->mask > from->mask;
    struct bucket *b = head;
    while (b != NULL) {
        unsigned m = bucket_present(b);
        if (grow) {
            /* The new index needs the full hash: start every entry's load at once. */
            for (unsigned p = m; p != 0; p &= p - 1)
                __builtin_prefetch(b->slot[__builtin_ctz(p)]);
        }
        while (m != 0) {
            unsigned i = (unsigned)__builtin_ctz(m);
            struct kv *e = b->slot[i];
            uint64_t idx;
            if (grow) {
                size_t klen;
                const char *key = kv_key(e, &klen);
                idx = util_hash(key, klen) & to->mask;
            } else {
                idx = d->rehash_idx & to->mask;
            }
            store_chain_add(s, &to->b[idx], bucket_tag(b, i), e);
            m &= m - 1;
        }
        struct bucket *next = bucket_next(b);
        if (b != head)
            bucket_free(s, b);
        b = next;
    }
    memset(head, 0, sizeof(*head));
}

/*
 * Move up to `buckets` non-empty chains (and skip up to REHASH_EMPTY empty
 * buckets per chain) from the old table to the new one.
 * @return true while the rehash is still in progress.
 */
bool store_db_rehash(struct store *s, struct db *d, size_t buckets)
{
    if (!d->rehashing)
        return false;
    if (d->snap != NULL)
        return true; /* chain positions are frozen while a snapshot runs */
    size_t empty = buckets * REHASH_EMPTY;
    struct table *from = &d->t[0];
    while (buckets > 0 && d->rehash_idx <= from->mask) {
        if (chain_empty(&from->b[d->rehash_idx])) {
            d->rehash_idx++;
            if (--empty == 0)
                break;
            continue;
        }
        rehash_chain(s, d);
        d->rehash_idx++;
        buckets--;
    }
    if (d->rehash_idx > from->mask)
        rehash_finish(s, d);
    return d->rehashing;
}

static void maybe_shrink(struct store *s, struct db *d)
{
    size_t n = table_buckets(&d->t[0]);
    if (d->rehashing || d->snap != NULL || n <= MIN_BUCKETS || d->count >= n * SHRINK_FILL)
        return;
    size_t next = pow2_at_least((double)d->count / TARGET_FILL);
    if (next < n)
        rehash_start(s, d, next);
}

/*
 * The bit of table work a write does: move one chain, or more when inserts
 * made during a shrink have overfilled the smaller table; or start the
 * shrink that a removal on a lookup path (which must not allocate) left for
 * later.
 */
void store_db_write_step(struct store *s, struct db *d)
{
    if (!d->rehashing) {
        maybe_shrink(s, d);
        return;
    }
    size_t n1 = table_buckets(&d->t[1]);
    store_db_rehash(s, d, d->count > n1 * HARD_FILL ? REHASH_CATCH_UP : 1);
}

/*
 * Called before a new key is added: create the first table, or start growing
 * when the key would push the fill past GROW_FILL. Growth waits while the new
 * table would take the store over maxmemory, as long as chains stay tolerable
 * (HARD_FILL); an eviction run would otherwise follow every resize.
 */
void store_db_prepare_insert(struct store *s, struct db *d)
{
    if (d->t[0].b == NULL) {
        table_init(s, &d->t[0], MIN_BUCKETS);
        return;
    }
    if (d->rehashing || d->snap != NULL)
        return;
    size_t n = table_buckets(&d->t[0]);
    size_t want = d->count + 1;
    if (want <= n * GROW_FILL)
        return;
    size_t next = n * 2;
    long long maxmem = s->params->maxmemory;
    if (maxmem > 0 && want <= n * HARD_FILL &&
        store_used(s) + next * sizeof(struct bucket) > (unsigned long long)maxmem)
        return;
    rehash_start(s, d, next);
}

/* After a removal: free the tables of an empty database, or start shrinking a sparse one. */
void store_db_after_remove(struct store *s, struct db *d)
{
    if (d->count == 0)
        store_db_release(s, d);
    else
        maybe_shrink(s, d);
}

/* Drop both tables; the caller has freed or moved every entry. */
void store_db_release(struct store *s, struct db *d)
{
    store_snap_save_db(s, d); /* only empty chains are left to mark */
    table_free(s, &d->t[0], false);
    table_free(s, &d->t[1], false);
    d->rehashing = false;
    d->rehash_idx = 0;
    d->expire_cursor = 0;
    store_rehash_track(s, false);
}

/* Free every entry and both tables. */
void store_db_clear(struct store *s, struct db *d)
{
    table_free(s, &d->t[0], true);
    table_free(s, &d->t[1], true);
    d->rehashing = false;
    d->rehash_idx = 0;
    d->count = 0;
    d->nvolatile = 0;
    d->avg_ttl = 0;
    d->expire_cursor = 0;
    store_rehash_track(s, false);
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

/* Advance a cursor over the bits of mask, most significant bit first. */
static uint64_t cursor_next(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

/*
 * One SCAN step: hand fn the chain at the cursor and return the next cursor.
 * The cursor counts with its bits reversed, so the buckets a bucket splits
 * into (or merges from) when the table doubles (or halves) come right after
 * it in cursor order: a key present throughout is seen at least once however
 * the table is resized between steps. While rehashing, the chain of the
 * smaller table is visited together with every chain of the larger table
 * that maps onto it. fn may change the chain it is given, not the tables.
 */
uint64_t store_db_scan(struct db *d, uint64_t v, store_chain_fn fn, void *ctx)
{
    if (d->t[0].b == NULL)
        return 0;
    if (!d->rehashing) {
        uint64_t m = d->t[0].mask;
        fn(ctx, &d->t[0].b[v & m]);
        return cursor_next(v, m);
    }
    struct table *sm = &d->t[0], *lg = &d->t[1];
    if (sm->mask > lg->mask) {
        sm = &d->t[1];
        lg = &d->t[0];
    }
    uint64_t m0 = sm->mask, m1 = lg->mask;
    fn(ctx, &sm->b[v & m0]);
    do {
        fn(ctx, &lg->b[v & m1]);
        v = cursor_next(v, m1);
    } while ((v & (m0 ^ m1)) != 0);
    return v;
}

/* Slots of interest in b: every entry, or only those with an expiry. */
static inline unsigned chain_bits(const struct bucket *b, bool only_volatile)
{
    return only_volatile ? bucket_volatile(b) : bucket_present(b);
}

/* Pick one of the chain's entries uniformly; false when it has none of interest. */
static bool chain_pick(struct bucket *head, bool only_volatile, struct loc *loc)
{
    unsigned n = 0;
    for (struct bucket *b = head; b != NULL; b = bucket_next(b))
        n += (unsigned)__builtin_popcount(chain_bits(b, only_volatile));
    if (n == 0)
        return false;
    unsigned k = (unsigned)(util_rand64() % n);
    for (struct bucket *b = head; b != NULL; b = bucket_next(b)) {
        unsigned m = chain_bits(b, only_volatile);
        unsigned c = (unsigned)__builtin_popcount(m);
        if (k < c) {
            while (k-- > 0)
                m &= m - 1;
            loc->head = head;
            loc->b = b;
            loc->i = (unsigned)__builtin_ctz(m);
            return true;
        }
        k -= c;
    }
    return false;
}

/*
 * Chain number `pos` of the live index space: while rehashing, the old
 * table's unmoved buckets followed by the new table's buckets.
 */
static struct bucket *chain_at(struct db *d, uint64_t pos)
{
    if (!d->rehashing)
        return &d->t[0].b[pos];
    uint64_t old_left = table_buckets(&d->t[0]) - d->rehash_idx;
    if (pos < old_left)
        return &d->t[0].b[d->rehash_idx + pos];
    return &d->t[1].b[pos - old_left];
}

static uint64_t chain_span(const struct db *d)
{
    if (!d->rehashing)
        return table_buckets(&d->t[0]);
    return table_buckets(&d->t[0]) - d->rehash_idx + table_buckets(&d->t[1]);
}

#define RANDOM_PROBES 64

/*
 * A random entry (of interest), NULL when there is none. Probes random
 * chains first; a table made sparse by deletions (or a few volatile keys
 * among many persistent ones) falls back to walking chains from a random
 * start, which ends after at most one lap.
 */
struct kv *store_db_random(struct db *d, bool only_volatile, struct loc *loc)
{
    if ((only_volatile ? d->nvolatile : d->count) == 0)
        return NULL;
    uint64_t span = chain_span(d);
    for (int i = 0; i < RANDOM_PROBES; i++) {
        if (chain_pick(chain_at(d, util_rand64() % span), only_volatile, loc))
            return loc->b->slot[loc->i];
    }
    uint64_t start = util_rand64() % span;
    for (uint64_t i = 0; i < span; i++) {
        if (chain_pick(chain_at(d, (start + i) % span), only_volatile, loc))
            return loc->b->slot[loc->i];
    }
    return NULL;
}

/*
 * Up to `want` entries (of interest) from consecutive chains after a random
 * start, the way eviction samples: cheap, and random enough across calls.
 * Gives up after want * 10 chains, jumping elsewhere after runs of empty
 * ones, but returns at least one entry when the database has any.
 */
size_t store_db_sample(struct db *d, bool only_volatile, struct kv **out, size_t want)
{
    if ((only_volatile ? d->nvolatile : d->count) == 0 || want == 0)
        return 0;
    uint64_t span = chain_span(d);
    uint64_t pos = util_rand64() % span;
    size_t got = 0, steps = want * 10, empty_run = 0;
    for (uint64_t walked = 0; got < want; walked++) {
        if (walked >= steps && (got > 0 || walked >= steps + span))
            break;
        bool found = false;
        for (struct bucket *b = chain_at(d, pos); b != NULL && got < want; b = bucket_next(b)) {
            unsigned m = chain_bits(b, only_volatile);
            while (m != 0 && got < want) {
                out[got++] = b->slot[__builtin_ctz(m)];
                m &= m - 1;
                found = true;
            }
        }
        if (found) {
            empty_run = 0;
        } else if (++empty_run >= 5 && empty_run > want && walked < steps) {
            pos = util_rand64() % span;
            empty_run = 0;
            continue;
        }
        pos = (pos + 1) % span;
    }
    return got;
}
