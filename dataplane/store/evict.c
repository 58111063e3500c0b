/*
 * Eviction. The LRU, LFU and TTL policies approximate the ideal victim the
 * way Redis does: each round samples maxmemory-samples entries per database
 * (only volatile ones under volatile-*, found from the tag bytes without
 * dereferencing persistent entries), scores them, and merges them into a
 * small pool of the best candidates seen so far, which survives across
 * rounds and calls; the best pool entry that still exists is evicted.
 *
 * The pool keeps an entry's address and hash, not a copy of its key. Before
 * use, the address is looked for among the slot pointers of the chain the
 * hash selects, so a deleted or moved entry is never dereferenced. If the
 * address was freed and reused by another key of the same chain, that key
 * is evicted with a stale score: rare, and harmless for an approximation.
 */
#include <errno.h>

#include "store/store_int.h"
#include "base/util.h"

#define MAX_SAMPLES 64

static bool policy_volatile(long long policy)
{
    return policy == POLICY_VOLATILE_LRU || policy == POLICY_VOLATILE_LFU ||
           policy == POLICY_VOLATILE_RANDOM || policy == POLICY_VOLATILE_TTL;
}

/* How good a victim e is under policy: higher is better. */
static uint64_t victim_score(const struct store *s, long long policy, const struct kv *e,
                             int64_t now_ms)
{
    uint32_t lru = kv_bits_get(e) & KV_LRU_MASK;
    switch (policy) {
    case POLICY_VOLATILE_LFU:
    case POLICY_ALLKEYS_LFU:
        return 255 - store_lfu_decayed(s, lru, now_ms);
    case POLICY_VOLATILE_TTL:
        return UINT64_MAX - (uint64_t)kv_expire_raw(e);
    default:
        return store_idle_ms(lru, now_ms);
    }
}

/* Merge a candidate into the pool, kept in ascending score order. */
static void pool_insert(struct store *s, uint64_t score, struct kv *e, int db)
{
    struct pool_slot *p = s->pool;
    int n = s->pool_n;
    for (int k = 0; k < n; k++) {
        if (p[k].addr == (uintptr_t)e && p[k].db == db)
            return;
    }
    if (n == POOL_SIZE && score <= p[0].score)
        return;
    int k = 0;
    while (k < n && p[k].score < score)
        k++;
    if (n < POOL_SIZE) {
        memmove(&p[k + 1], &p[k], sizeof(*p) * (size_t)(n - k));
        s->pool_n++;
    } else {
        /* Full: drop the worst (first) candidate. */
        k--;
        memmove(&p[0], &p[1], sizeof(*p) * (size_t)k);
    }
    size_t klen;
    const char *key = kv_key(e, &klen);
    p[k] = (struct pool_slot){
        .score = score, .hash = util_hash(key, klen), .addr = (uintptr_t)e, .db = db
    };
}

static bool pool_pick(struct store *s, long long policy, int64_t now_ms, struct loc *loc, int *db)
{
    bool vol = policy_volatile(policy);
    size_t want = (size_t)s->params->maxmemory_samples;
    if (want > MAX_SAMPLES)
        want = MAX_SAMPLES;
    if (s->pool_policy != policy) {
        s->pool_n = 0;
        s->pool_policy = (int)policy;
    }
    for (;;) {
        bool any = false;
        for (int i = 0; i < s->ndb; i++) {
            struct kv *sample[MAX_SAMPLES];
            size_t n = store_db_sample(&s->db[i], vol, sample, want);
            any |= n > 0;
            for (size_t j = 0; j < n; j++)
                pool_insert(s, victim_score(s, policy, sample[j], now_ms), sample[j], i);
        }
        if (!any)
            return false;
        while (s->pool_n > 0) {
            struct pool_slot p = s->pool[--s->pool_n];
            struct bucket *head = db_chain(&s->db[p.db], p.hash);
            if (head == NULL || !store_chain_find_addr(head, p.addr, loc))
                continue;
            if (vol && !(bucket_tag(loc->b, loc->i) & TAG_VOLATILE))
                continue;
            *db = p.db;
            return true;
        }
    }
}

static bool random_pick(struct store *s, bool vol, struct loc *loc, int *db)
{
    for (int n = 0; n < s->ndb; n++) {
        int i = (s->evict_db + n) % s->ndb;
        if (store_db_random(&s->db[i], vol, loc) != NULL) {
            s->evict_db = (i + 1) % s->ndb;
            *db = i;
            return true;
        }
    }
    return false;
}

int store_evict(struct store *s, size_t limit, int64_t now_ms)
{
    s->clock_ms = now_ms;
    while (store_used(s) > limit) {
        long long policy = s->params->maxmemory_policy;
        /* Values freed in steps are memory on its way back: wait for it, as evicting more
         * meanwhile would empty the cache for bytes that are already leaving. */
        if (s->lazy_head != NULL)
            return 0;
        struct loc loc;
        int db = 0;
        bool found;
        if (policy == POLICY_NOEVICTION)
            return -ENOMEM;
        if (policy == POLICY_VOLATILE_RANDOM || policy == POLICY_ALLKEYS_RANDOM)
            found = random_pick(s, policy == POLICY_VOLATILE_RANDOM, &loc, &db);
        else
            found = pool_pick(s, policy, now_ms, &loc, &db);
        if (!found)
            return -ENOMEM;
        store_remove_own(s, db, &loc, true);
        store_db_after_remove(s, &s->db[db]);
    }
    return 0;
}
