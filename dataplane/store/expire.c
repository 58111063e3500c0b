/*
 * Active expiry: walk each database's chains in SCAN order from a cursor
 * kept across cycles, looking only at the slots whose tag byte says the entry
 * has an expiry, and remove what has expired.
 *
 * Work is counted in checks: one per volatile entry examined, plus one per
 * sixteen chains visited (reading a bucket's metadata costs a cache line
 * but no entry dereference). A loop samples about 20 volatile entries (more
 * at higher active-expire-effort, as in Redis) and another loop follows
 * while the expired fraction of the sample stays above 10% (1% at effort
 * 10), so the work tracks how much is actually stale.
 */
#include "store/store_int.h"

struct expire_ctx {
    struct store *s;
    struct db *d;
    int db;
    int64_t now_ms;
    size_t sampled;
    size_t expired;
    size_t chains;
    int64_t ttl_sum; /* of the sampled entries that live on, for avg_ttl */
    size_t ttl_count;
};

static void expire_chain(void *arg, struct bucket *head)
{
    struct expire_ctx *c = arg;
    struct store *s = c->s;
    size_t before = c->expired;
    c->chains++;
    for (struct bucket *b = head; b != NULL; b = bucket_next(b)) {
        unsigned m = bucket_volatile(b);
        for (unsigned p = m; p != 0; p &= p - 1)
            __builtin_prefetch(b->slot[__builtin_ctz(p)]);
        while (m != 0) {
            unsigned i = (unsigned)__builtin_ctz(m);
            struct kv *e = b->slot[i];
            m &= m - 1;
            c->sampled++;
            if (c->now_ms <= kv_expire_raw(e)) {
                c->ttl_sum += kv_expire_raw(e) - c->now_ms;
                c->ttl_count++;
                continue;
            }
            snap_before_head(s, c->d, head);
            if (s->removed != NULL)
                s->removed(s->removed_arg, c->db, e, false);
            s->stats.expired_keys++;
            store_slot_remove(s, c->d, b, i, STORE_DROP_EXPIRE);
            c->expired++;
        }
    }
    if (c->expired != before)
        store_chain_tidy(s, head);
}

size_t store_expire_cycle(struct store *s, int64_t now_ms, size_t max_checks)
{
    long long effort = s->params->active_expire_effort - 1; /* 0..9 */
    if (effort < 0)
        effort = 0;
    size_t per_loop = (size_t)(20 + 5 * effort);
    size_t acceptable = (size_t)(10 - effort); /* percent */
    size_t checks = 0, sampled = 0, expired = 0;
    s->clock_ms = now_ms;
    for (int n = 0; n < s->ndb; n++) {
        int dbi = s->expire_db;
        struct db *d = &s->db[dbi];
        bool stale = false;
        while (d->nvolatile > 0 && checks < max_checks) {
            struct expire_ctx c = { .s = s, .d = d, .db = dbi, .now_ms = now_ms };
            do {
                d->expire_cursor = store_db_scan(d, d->expire_cursor, expire_chain, &c);
                if (c.expired > 0)
                    store_db_after_remove(s, d);
            } while (c.sampled < per_loop && c.chains < per_loop * 20 && d->expire_cursor != 0 &&
                     d->nvolatile > 0 && checks + c.sampled + c.chains / 16 < max_checks);
            if (c.ttl_count > 0) {
                /*
                 * Like Redis: a running average, each sample weighing 2%. Redis
                 * writes it avg_ttl / 50 * 49 + avg / 50, whose two truncations
                 * pull the average down by up to a second; stepping by the
                 * difference stays within 50 ms of the true mean.
                 */
                int64_t avg = c.ttl_sum / (int64_t)c.ttl_count;
                d->avg_ttl = d->avg_ttl == 0 ? avg : d->avg_ttl + (avg - d->avg_ttl) / 50;
            }
            checks += MAX(c.sampled + c.chains / 16, 1);
            sampled += c.sampled;
            expired += c.expired;
            stale = c.sampled > 0 && c.expired * 100 > acceptable * c.sampled;
            if (!stale)
                break;
        }
        if (checks >= max_checks) {
            /* Out of budget: the next cycle resumes with this database. */
            if (stale)
                s->stats.expired_time_cap_reached_count++;
            break;
        }
        s->expire_db = (dbi + 1) % s->ndb;
    }
    s->stats.expired_stale_perc = sampled > 0 ? expired * 100 / sampled : 0;
    return expired;
}
