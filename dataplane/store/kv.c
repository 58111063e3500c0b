/*
 * Entries: accessors, and the 24-bit access field used by eviction.
 *
 * The field means what the current policy says, as in Redis: under an LRU
 * (or the random and ttl) policies it is a clock in seconds modulo 2^24
 * (194 days); under an LFU policy it is 16 bits of minutes modulo 2^16 (the
 * last decrement) and an 8-bit logarithmic access counter.
 */
#include <assert.h>

#include "store/store_int.h"
#include "base/util.h"

#define LRU_MAX      KV_LRU_MASK
#define LFU_INIT_VAL 5

void skey_init(struct skey *k, const char *ptr, size_t len)
{
    k->ptr = ptr;
    k->len = len;
    k->hash = util_hash(ptr, len);
}

const char *kv_key(const struct kv *e, size_t *len)
{
    *len = kv_klen(e);
    return (const char *)e->body + kv_key_off(e);
}

char *kv_val(struct kv *e, size_t *len)
{
    size_t klen = kv_klen(e);
    *len = kv_vlen(e);
    return (char *)e->body + kv_key_off(e) + klen;
}

void *kv_big(const struct kv *e)
{
    void *obj;
    memcpy(&obj, e->body + kv_key_off(e) + kv_klen(e), sizeof(obj));
    return obj;
}

enum kv_type kv_type(const struct kv *e)
{
    return (enum kv_type)((kv_bits_get(e) & KV_TYPE_MASK) >> KV_TYPE_SHIFT);
}

enum kv_enc kv_enc(const struct kv *e)
{
    return (enum kv_enc)((kv_bits_get(e) & KV_ENC_MASK) >> KV_ENC_SHIFT);
}

void kv_set_enc(struct kv *e, enum kv_enc enc)
{
    assert(!kv_is_bare(e) || enc == KV_ENC_RAW);
    kv_bits_put(e,
                (kv_bits_get(e) & ~KV_ENC_MASK) | (((uint32_t)enc << KV_ENC_SHIFT) & KV_ENC_MASK));
}

void kv_set_type(struct kv *e, enum kv_type type)
{
    assert(!kv_is_bare(e) || type == KV_STRING);
    kv_bits_put(e, (kv_bits_get(e) & ~KV_TYPE_MASK) |
                       (((uint32_t)type << KV_TYPE_SHIFT) & KV_TYPE_MASK));
}

int64_t kv_expire(const struct kv *e)
{
    return kv_has_expire(e) ? kv_expire_raw(e) : -1;
}

static uint32_t lru_clock(int64_t now_ms)
{
    return (uint32_t)((uint64_t)now_ms / 1000) & LRU_MAX;
}

static uint32_t lfu_minutes(int64_t now_ms)
{
    return (uint32_t)((uint64_t)now_ms / 60000) & 0xffff;
}

bool store_policy_is_lfu(const struct store *s)
{
    long long p = s->params->maxmemory_policy;
    return p == POLICY_VOLATILE_LFU || p == POLICY_ALLKEYS_LFU;
}

/* The access field of an entry created now. */
uint32_t store_lru_now(const struct store *s)
{
    if (store_policy_is_lfu(s))
        return (lfu_minutes(s->clock_ms) << 8) | LFU_INIT_VAL;
    return lru_clock(s->clock_ms);
}

/* Milliseconds since the entry's last access, to the clock's one-second resolution. */
uint64_t store_idle_ms(uint32_t lru, int64_t now_ms)
{
    return (uint64_t)((lru_clock(now_ms) - lru) & LRU_MAX) * 1000;
}

/* The LFU counter after one decrement per lfu-decay-time minutes since the last one. */
unsigned store_lfu_decayed(const struct store *s, uint32_t lru, int64_t now_ms)
{
    unsigned counter = lru & 0xff;
    unsigned elapsed = (lfu_minutes(now_ms) - (lru >> 8)) & 0xffff;
    long long decay = s->params->lfu_decay_time;
    unsigned long long periods =
        decay > 0 ? (unsigned long long)elapsed / (unsigned long long)decay : 0;
    return periods >= counter ? 0 : counter - (unsigned)periods;
}

/*
 * Count an access: the counter grows with probability 1 / ((c - 5) *
 * lfu-log-factor + 1), so it climbs roughly with the logarithm of the
 * number of accesses and saturates at 255.
 */
static unsigned lfu_incr(const struct store *s, unsigned counter)
{
    if (counter == 255)
        return 255;
    double r = (double)(util_rand64() >> 11) * 0x1.0p-53;
    double base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
    double p = 1.0 / (base * (double)s->params->lfu_log_factor + 1.0);
    return r < p ? counter + 1 : counter;
}

void store_touch(const struct store *s, struct kv *e, int64_t now_ms)
{
    if (kv_is_bare(e))
        return;
    uint32_t v, bits = kv_bits_get(e);
    if (store_policy_is_lfu(s)) {
        unsigned c = lfu_incr(s, store_lfu_decayed(s, bits & KV_LRU_MASK, now_ms));
        v = (lfu_minutes(now_ms) << 8) | c;
    } else {
        v = lru_clock(now_ms);
    }
    if ((bits & KV_LRU_MASK) != v)
        kv_bits_put(e, (bits & ~KV_LRU_MASK) | v);
}

void store_set_access(const struct store *s, struct kv *e, long long idle_s, int lfu_freq,
                      int64_t now_ms)
{
    uint32_t v;
    if (store_policy_is_lfu(s)) {
        if (lfu_freq < 0)
            return;
        v = (lfu_minutes(now_ms) << 8) | (uint32_t)(lfu_freq > 255 ? 255 : lfu_freq);
    } else {
        if (idle_s < 0)
            return;
        v = (lru_clock(now_ms) - (uint32_t)((unsigned long long)idle_s % (LRU_MAX + 1ull))) &
            LRU_MAX;
    }
    kv_bits_put(e, (kv_bits_get(e) & ~KV_LRU_MASK) | v);
}

long long store_idle_seconds(const struct store *s, const struct kv *e, int64_t now_ms)
{
    (void)s;
    return (long long)(store_idle_ms(kv_bits_get(e) & KV_LRU_MASK, now_ms) / 1000);
}

int store_lfu_freq(const struct store *s, const struct kv *e, int64_t now_ms)
{
    return (int)store_lfu_decayed(s, kv_bits_get(e) & KV_LRU_MASK, now_ms);
}
