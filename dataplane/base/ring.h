/*
 * Single-producer single-consumer ring of pointers, lock-free.
 *
 * The producer owns `tail`, the consumer owns `head`; each keeps a cached copy
 * of the other's index so that a burst costs one acquire load and one release
 * store, not one per element. Capacity is a power of two. Only the producer
 * thread may call ring_enqueue*, only the consumer thread ring_dequeue*.
 */
#ifndef POLLUX_RING_H
#define POLLUX_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/common.h"

struct ring {
    CACHE_ALIGNED atomic_uint_fast32_t tail; /* written by producer */
    uint32_t head_cache;                     /* producer's view of head */
    CACHE_ALIGNED atomic_uint_fast32_t head; /* written by consumer */
    uint32_t tail_cache;                     /* consumer's view of tail */
    CACHE_ALIGNED uint32_t mask;
    void **slots;
};

/*
 * Create a ring holding up to `capacity` pointers (rounded up to a power of two).
 * @return the ring, or NULL when out of memory or capacity is 0.
 */
struct ring *ring_create(uint32_t capacity);
void ring_destroy(struct ring *r);

/*
 * Enqueue up to n pointers.
 * @return the number enqueued (0..n); fewer than n when the ring is full.
 */
static inline uint32_t ring_enqueue_burst(struct ring *r, void *const *objs, uint32_t n)
{
    uint32_t tail = (uint32_t)atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t free_slots = r->mask + 1 - (tail - r->head_cache);
    if (free_slots < n) {
        r->head_cache = (uint32_t)atomic_load_explicit(&r->head, memory_order_acquire);
        free_slots = r->mask + 1 - (tail - r->head_cache);
        if (free_slots < n)
            n = free_slots;
    }
    for (uint32_t i = 0; i < n; i++)
        r->slots[(tail + i) & r->mask] = objs[i];
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

static inline bool ring_enqueue(struct ring *r, void *obj)
{
    return ring_enqueue_burst(r, &obj, 1) == 1;
}

/*
 * Dequeue up to n pointers into objs.
 * @return the number dequeued (0..n).
 */
static inline uint32_t ring_dequeue_burst(struct ring *r, void **objs, uint32_t n)
{
    uint32_t head = (uint32_t)atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t avail = r->tail_cache - head;
    if (avail < n) {
        r->tail_cache = (uint32_t)atomic_load_explicit(&r->tail, memory_order_acquire);
        avail = r->tail_cache - head;
        if (avail < n)
            n = avail;
    }
    for (uint32_t i = 0; i < n; i++)
        objs[i] = r->slots[(head + i) & r->mask];
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

static inline void *ring_dequeue(struct ring *r)
{
    void *obj = NULL;
    ring_dequeue_burst(r, &obj, 1);
    return obj;
}

/* Approximate count of queued pointers (exact when called by either side while the other is idle).
 */
static inline uint32_t ring_count(struct ring *r)
{
    return (uint32_t)atomic_load_explicit(&r->tail, memory_order_acquire) -
           (uint32_t)atomic_load_explicit(&r->head, memory_order_acquire);
}

#endif
