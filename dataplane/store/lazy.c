/*
 * Lazy free: big values and flushed databases dropped from the keyspace at once and freed a
 * budget at a time by the owner's loop (store_lazy_step), so that a DEL of a million-member
 * set or a FLUSHALL ASYNC of a full node costs the worker no more than a slice per pass.
 *
 * Freed in the owning thread, not by a helper thread: the store's byte count has one writer,
 * the allocator's thread caches stay warm, and nothing needs a lock. The cost is that the
 * memory comes back as fast as the worker's passes allow (about a million elements per 30 ms
 * on an idle worker), which eviction takes into account (store_evict waits for it).
 */
#include "store/store_int.h"

#include "base/mem.h"

enum { LAZY_DB = -1 };
/* s->drop while a flushed database is freed: its big values queue behind it, already counted */
enum { DROP_IN_FLUSHED = 100 };

struct lazy_item {
    struct lazy_item *next;
    int type;     /* enum kv_type of a big value, or LAZY_DB */
    bool counted; /* in lazy_pending (a value met in a flushed database counted as its key) */
    void *obj;
    struct db db; /* LAZY_DB: the tables taken from the keyspace */
};

bool store_lazy_now(const struct store *s, int why)
{
    const struct store_params *p = s->params;
    switch (why) {
    case STORE_DROP_SERVER:
        return p->lazyfree_lazy_server_del;
    case STORE_DROP_USER:
        return p->lazyfree_lazy_user_del;
    case STORE_DROP_LAZY:
    case DROP_IN_FLUSHED:
        return true;
    case STORE_DROP_EXPIRE:
        return p->lazyfree_lazy_expire;
    case STORE_DROP_EVICT:
        return p->lazyfree_lazy_eviction;
    default:
        return false;
    }
}

static struct lazy_item *put(struct store *s, int type)
{
    struct lazy_item *it = mem_calloc(sizeof(*it));
    store_mem_add(s, mem_size_class(sizeof(*it)));
    it->type = type;
    if (s->lazy_head == NULL)
        s->lazy_tail = &s->lazy_head;
    *s->lazy_tail = it;
    s->lazy_tail = &it->next;
    return it;
}

/* The owner thread is the only writer; other threads read (INFO). */
static void pending_add(struct store *s, size_t n)
{
    atomic_store_explicit(&s->lazy_pending,
                          atomic_load_explicit(&s->lazy_pending, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void store_lazy_put_big(struct store *s, int type, void *obj)
{
    struct lazy_item *it = put(s, type);
    it->obj = obj;
    it->counted = s->drop != DROP_IN_FLUSHED;
    if (it->counted)
        pending_add(s, 1);
}

void store_lazy_put_db(struct store *s, struct db *d)
{
    struct lazy_item *it = put(s, LAZY_DB);
    it->db.t[0] = d->t[0];
    it->db.t[1] = d->t[1];
    it->db.count = d->count;
    pending_add(s, d->count);
    memset(d->t, 0, sizeof(d->t));
}

size_t store_lazy_pending(const struct store *s)
{
    return atomic_load_explicit(&s->lazy_pending, memory_order_relaxed);
}

uint64_t store_lazy_freed(const struct store *s)
{
    return atomic_load_explicit(&s->lazy_freed, memory_order_relaxed);
}

size_t store_lazy_step(struct store *s, size_t budget)
{
    size_t start = budget;
    int drop = s->drop;
    s->drop = DROP_IN_FLUSHED;
    while (s->lazy_head != NULL && budget > 0) {
        struct lazy_item *it = s->lazy_head;
        bool done;
        size_t freed = 0;
        if (it->type == LAZY_DB) {
            done = store_db_drain(s, &it->db, &budget, &freed);
        } else {
            done = store_big_step(s, it->type, it->obj, &budget);
            freed = done && it->counted;
        }
        pending_add(s, -freed);
        atomic_store_explicit(&s->lazy_freed,
                              atomic_load_explicit(&s->lazy_freed, memory_order_relaxed) + freed,
                              memory_order_relaxed);
        if (!done)
            break;
        s->lazy_head = it->next;
        store_mem_sub(s, mem_size_class(sizeof(*it)));
        mem_free(it);
    }
    s->drop = drop;
    return start - budget;
}

void store_lazy_finish(struct store *s)
{
    while (s->lazy_head != NULL)
        store_lazy_step(s, SIZE_MAX);
}
