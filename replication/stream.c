/* The replication stream; see stream.h for the concurrency rules. */
#include "replication/stream.h"

#include <errno.h>
#include <string.h>

#include "base/common.h"
#include "base/mem.h"

/* Freed blocks kept for reuse: a stream that flows (a full sync's RDB, a busy primary)
 * recycles the same memory instead of leaving a trail of freed pages behind it. */
#define REPL_SPARE_MAX 64

static struct repl_block *block_new(struct repl_stream *s, uint64_t start)
{
    struct repl_block *b = NULL;
    if (atomic_load_explicit(&s->nspare, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&s->lock);
        b = s->spare;
        if (b != NULL) {
            s->spare = atomic_load_explicit(&b->next, memory_order_relaxed);
            atomic_fetch_sub_explicit(&s->nspare, 1, memory_order_relaxed);
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (b != NULL) {
        atomic_init(&b->next, NULL);
        atomic_init(&b->len, 0);
        b->start = start;
        return b;
    }
    b = mem_alloc(sizeof(*b) + REPL_BLOCK_SIZE);
    atomic_init(&b->next, NULL);
    atomic_init(&b->len, 0);
    b->start = start;
    b->cap = REPL_BLOCK_SIZE;
    atomic_fetch_add_explicit(&s->bytes, sizeof(*b) + REPL_BLOCK_SIZE, memory_order_relaxed);
    return b;
}

void repl_stream_init(struct repl_stream *s, uint64_t start, uint64_t window)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->head = s->tail = block_new(s, start);
    atomic_init(&s->end, start);
    atomic_init(&s->window_start, start);
    s->window = window;
}

/* With s->lock held: keep b for reuse, or free it. */
static void block_retire(struct repl_stream *s, struct repl_block *b)
{
    if (atomic_load_explicit(&s->nspare, memory_order_relaxed) < REPL_SPARE_MAX) {
        atomic_store_explicit(&b->next, s->spare, memory_order_relaxed);
        s->spare = b;
        atomic_fetch_add_explicit(&s->nspare, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_sub_explicit(&s->bytes, sizeof(*b) + b->cap, memory_order_relaxed);
    mem_free(b);
}

static void free_blocks(struct repl_stream *s)
{
    struct repl_block *b = s->head;
    while (b != NULL) {
        struct repl_block *next = atomic_load_explicit(&b->next, memory_order_relaxed);
        mem_free(b);
        b = next;
    }
    b = s->spare;
    while (b != NULL) {
        struct repl_block *next = atomic_load_explicit(&b->next, memory_order_relaxed);
        mem_free(b);
        b = next;
    }
    s->spare = NULL;
    atomic_store_explicit(&s->nspare, 0, memory_order_relaxed);
    s->head = s->tail = NULL;
    atomic_store_explicit(&s->bytes, 0, memory_order_relaxed);
}

void repl_stream_deinit(struct repl_stream *s)
{
    free_blocks(s);
    pthread_mutex_destroy(&s->lock);
}

void repl_stream_reset(struct repl_stream *s, uint64_t start)
{
    pthread_mutex_lock(&s->lock);
    free_blocks(s);
    s->head = s->tail = block_new(s, start);
    atomic_store_explicit(&s->end, start, memory_order_release);
    atomic_store_explicit(&s->window_start, start, memory_order_release);
    pthread_mutex_unlock(&s->lock);
}

void repl_stream_append(struct repl_stream *s, const void *p, size_t n)
{
    const char *src = p;
    struct repl_block *b = s->tail;
    uint32_t len = (uint32_t)atomic_load_explicit(&b->len, memory_order_relaxed);
    while (n > 0) {
        if (len == b->cap) {
            struct repl_block *nb = block_new(s, b->start + b->cap);
            atomic_store_explicit(&b->next, nb, memory_order_release);
            s->tail = b = nb;
            len = 0;
        }
        size_t k = MIN(n, (size_t)(b->cap - len));
        memcpy(b->data + len, src, k);
        len += (uint32_t)k;
        src += k;
        n -= k;
        /* end first: a reader that sees the new length also sees an end that covers it */
        atomic_fetch_add_explicit(&s->end, k, memory_order_release);
        atomic_store_explicit(&b->len, len, memory_order_release);
    }
}

void repl_stream_set_window(struct repl_stream *s, uint64_t window)
{
    pthread_mutex_lock(&s->lock);
    s->window = window;
    pthread_mutex_unlock(&s->lock);
}

void repl_stream_range(struct repl_stream *s, uint64_t *first, uint64_t *end)
{
    pthread_mutex_lock(&s->lock);
    *first = atomic_load_explicit(&s->window_start, memory_order_relaxed);
    *end = repl_stream_end(s);
    pthread_mutex_unlock(&s->lock);
}

uint64_t repl_stream_trim(struct repl_stream *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t end = repl_stream_end(s);
    uint64_t ws = atomic_load_explicit(&s->window_start, memory_order_relaxed);
    if (end - ws > s->window)
        ws = end - s->window;
    atomic_store_explicit(&s->window_start, ws, memory_order_release);
    uint64_t keep = ws, slowest = end;
    for (struct repl_cursor *c = s->cursors; c != NULL; c = c->next) {
        uint64_t p = atomic_load_explicit(&c->published, memory_order_acquire);
        if (p < keep)
            keep = p;
        if (p < slowest)
            slowest = p;
    }
    /* A block with a successor is full: it ends at start + cap. */
    for (;;) {
        struct repl_block *b = s->head;
        struct repl_block *next = atomic_load_explicit(&b->next, memory_order_acquire);
        if (next == NULL || b->start + b->cap > keep)
            break;
        s->head = next;
        block_retire(s, b);
    }
    pthread_mutex_unlock(&s->lock);
    return end - slowest;
}

int repl_cursor_attach(struct repl_stream *s, struct repl_cursor *c, uint64_t pos)
{
    pthread_mutex_lock(&s->lock);
    uint64_t ws = atomic_load_explicit(&s->window_start, memory_order_relaxed);
    if (pos < ws || pos > repl_stream_end(s)) {
        pthread_mutex_unlock(&s->lock);
        return -ERANGE;
    }
    struct repl_block *b = s->head;
    for (;;) {
        struct repl_block *next = atomic_load_explicit(&b->next, memory_order_acquire);
        if (next == NULL || pos < b->start + b->cap)
            break;
        b = next;
    }
    c->b = b;
    c->pos = pos;
    atomic_store_explicit(&c->published, b->start, memory_order_relaxed);
    c->prev = NULL;
    c->next = s->cursors;
    if (s->cursors)
        s->cursors->prev = c;
    s->cursors = c;
    c->registered = true;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void repl_cursor_detach(struct repl_stream *s, struct repl_cursor *c)
{
    if (!c->registered)
        return;
    pthread_mutex_lock(&s->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->cursors = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->registered = false;
    c->b = NULL;
    pthread_mutex_unlock(&s->lock);
}

int repl_cursor_peek(struct repl_cursor *c, struct iovec *iov, int max)
{
    int n = 0;
    struct repl_block *b = c->b;
    uint64_t pos = c->pos;
    while (b != NULL && n < max) {
        uint32_t len = (uint32_t)atomic_load_explicit(&b->len, memory_order_acquire);
        uint64_t off = pos - b->start;
        if (off < len) {
            iov[n].iov_base = b->data + off;
            iov[n].iov_len = len - off;
            n++;
            pos = b->start + len;
        }
        if (len < b->cap)
            break; /* the producer is still filling this block */
        b = atomic_load_explicit(&b->next, memory_order_acquire);
    }
    return n;
}

void repl_cursor_advance(struct repl_cursor *c, size_t n)
{
    c->pos += n;
    /* Move past full blocks the cursor has finished; the producer links a
     * block's successor only once the block is full. */
    for (;;) {
        struct repl_block *b = c->b;
        if (c->pos < b->start + b->cap)
            break;
        struct repl_block *next = atomic_load_explicit(&b->next, memory_order_acquire);
        if (next == NULL)
            break;
        c->b = next;
    }
    /* The start of the block still held, not pos: a finished block whose
     * successor is linked later must not be freed under the cursor. */
    atomic_store_explicit(&c->published, c->b->start, memory_order_release);
}

uint64_t repl_cursor_lag(const struct repl_stream *s, const struct repl_cursor *c)
{
    uint64_t end = repl_stream_end(s);
    return end > c->pos ? end - c->pos : 0;
}
