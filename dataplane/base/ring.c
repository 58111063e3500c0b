#include "base/ring.h"

#include <stdlib.h>

struct ring *ring_create(uint32_t capacity)
{
    if (capacity == 0 || capacity > (1u << 30))
        return NULL;
    uint32_t cap = 1;
    while (cap < capacity)
        cap <<= 1;
    struct ring *r = aligned_alloc(CACHE_LINE_SIZE, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->slots = calloc(cap, sizeof(void *));
    if (r->slots == NULL) {
        free(r);
        return NULL;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->head_cache = 0;
    r->tail_cache = 0;
    r->mask = cap - 1;
    return r;
}

void ring_destroy(struct ring *r)
{
    if (r == NULL)
        return;
    free(r->slots);
    free(r);
}
