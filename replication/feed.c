/* Shard feeds and their merge; see feed.h. */
#include "replication/feed.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "base/common.h"
#include "base/mem.h"

int repl_feed_init(struct repl_feed *f)
{
    memset(f, 0, sizeof(*f));
    f->q = ring_create(FEED_RING_SIZE);
    f->back = ring_create(FEED_RING_SIZE);
    if (f->q == NULL || f->back == NULL) {
        ring_destroy(f->q);
        ring_destroy(f->back);
        return -1;
    }
    atomic_init(&f->queued, 0);
    atomic_init(&f->records, 0);
    return 0;
}

void repl_feed_deinit(struct repl_feed *f)
{
    struct feed_chunk *c;
    if (f->q == NULL)
        return;
    while ((c = ring_dequeue(f->q)) != NULL)
        mem_free(c);
    while ((c = ring_dequeue(f->back)) != NULL)
        mem_free(c);
    while ((c = f->pend_head) != NULL) {
        f->pend_head = c->next;
        mem_free(c);
    }
    mem_free(f->cur);
    ring_destroy(f->q);
    ring_destroy(f->back);
    memset(f, 0, sizeof(*f));
}

/* Records are padded to 8 bytes so that every header is aligned. */
static size_t rec_size(size_t len)
{
    return sizeof(struct feed_rec) + ((len + 7) & ~(size_t)7);
}

static struct feed_chunk *chunk_get(struct repl_feed *f, size_t need)
{
    struct feed_chunk *c = NULL;
    if (need <= FEED_CHUNK_SIZE)
        c = ring_dequeue(f->back);
    if (c == NULL) {
        size_t cap = need > FEED_CHUNK_SIZE ? need : FEED_CHUNK_SIZE;
        c = mem_alloc(sizeof(*c) + cap);
        c->cap = (uint32_t)cap;
    }
    c->next = NULL;
    c->len = 0;
    return c;
}

static void pend(struct repl_feed *f, struct feed_chunk *c)
{
    c->next = NULL;
    if (f->pend_tail)
        f->pend_tail->next = c;
    else
        f->pend_head = c;
    f->pend_tail = c;
}

void *repl_feed_reserve(struct repl_feed *f, enum feed_kind kind, int db, size_t len)
{
    size_t need = rec_size(len);
    struct feed_chunk *c = f->cur;
    if (c != NULL && c->cap - c->len < need) {
        pend(f, c);
        c = f->cur = NULL;
    }
    if (c == NULL)
        c = f->cur = chunk_get(f, need);
    struct feed_rec *h = (struct feed_rec *)(void *)(c->data + c->len);
    *h = (struct feed_rec){ .len = (uint32_t)len, .kind = (uint8_t)kind, .db = db };
    f->last = h;
    c->len += (uint32_t)need;
    atomic_store_explicit(&f->records, atomic_load_explicit(&f->records, memory_order_relaxed) + 1,
                          memory_order_release);
    return h + 1;
}

size_t repl_feed_headroom(void)
{
    return offsetof(struct feed_chunk, data) + sizeof(struct feed_rec);
}

void repl_feed_adopt(struct repl_feed *f, enum feed_kind kind, int db, void *block, size_t len)
{
    if (f->cur != NULL && f->cur->len > 0) { /* what came before stays before */
        pend(f, f->cur);
        f->cur = NULL;
    }
    struct feed_chunk *c = block;
    size_t need = rec_size(len);
    c->next = NULL;
    c->len = c->cap = (uint32_t)need; /* not FEED_CHUNK_SIZE: freed once read, not reused */
    struct feed_rec *h = (struct feed_rec *)(void *)c->data;
    *h = (struct feed_rec){ .len = (uint32_t)len, .kind = (uint8_t)kind, .db = db };
    f->last = h;
    atomic_store_explicit(&f->records, atomic_load_explicit(&f->records, memory_order_relaxed) + 1,
                          memory_order_release);
    pend(f, c);
}

struct feed_rec *repl_feed_last(struct repl_feed *f)
{
    return f->last;
}

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

size_t repl_resp_size(int argc, const struct resp_arg *argv)
{
    size_t n = 3 + digits((size_t)argc);
    for (int i = 0; i < argc; i++)
        n += 5 + digits(argv[i].len) + argv[i].len;
    return n;
}

static char *put_num(char *p, char type, size_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    *p++ = type;
    while (n > 0)
        *p++ = tmp[--n];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

char *repl_resp_write(char *p, int argc, const struct resp_arg *argv)
{
    p = put_num(p, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        p = put_num(p, '$', argv[i].len);
        memcpy(p, argv[i].ptr, argv[i].len);
        p += argv[i].len;
        *p++ = '\r';
        *p++ = '\n';
    }
    return p;
}

void repl_feed_command(struct repl_feed *f, int db, int argc, const struct resp_arg *argv)
{
    size_t n = repl_resp_size(argc, argv);
    char *p = repl_feed_reserve(f, FEED_CMD, db, n);
    char *end = repl_resp_write(p, argc, argv);
    assert((size_t)(end - p) == n);
    (void)end;
}

/*
 * Once ring_enqueue succeeds the chunk is the merge thread's, which may give it back and
 * free it at once: everything the producer needs of it (its successor, its length) is
 * read before, and the bytes are counted as queued before the merge can subtract them.
 */
void repl_feed_flush(struct repl_feed *f)
{
    if (f->cur != NULL && f->cur->len > 0) {
        pend(f, f->cur);
        f->cur = NULL;
    }
    while (f->pend_head != NULL) {
        struct feed_chunk *c = f->pend_head;
        struct feed_chunk *next = c->next;
        size_t len = c->len;
        atomic_fetch_add_explicit(&f->queued, len, memory_order_relaxed);
        if (!ring_enqueue(f->q, c)) {
            atomic_fetch_sub_explicit(&f->queued, len, memory_order_relaxed);
            break; /* the merge is behind: try again next pass */
        }
        f->pend_head = next;
        if (next == NULL)
            f->pend_tail = NULL;
    }
}

struct feed_chunk *repl_feed_take(struct repl_feed *f)
{
    struct feed_chunk *c = ring_dequeue(f->q);
    if (c != NULL)
        atomic_fetch_sub_explicit(&f->queued, c->len, memory_order_relaxed);
    return c;
}

void repl_feed_give_back(struct repl_feed *f, struct feed_chunk *c)
{
    if (c->cap != FEED_CHUNK_SIZE || !ring_enqueue(f->back, c))
        mem_free(c);
}

/* ---------------------------------------------------------------------------
 * The merge
 * ------------------------------------------------------------------------ */

void repl_merge_init(struct repl_merge *m, struct repl_feed *const *feeds, unsigned n,
                     const struct repl_merge_ops *ops, void *arg)
{
    memset(m, 0, sizeof(*m));
    assert(n <= ARRAY_SIZE(m->pos));
    m->n = n;
    m->feeds = feeds;
    m->ops = ops;
    m->arg = arg;
    m->db = -1;
}

void repl_merge_deinit(struct repl_merge *m)
{
    for (unsigned i = 0; i < m->n; i++) {
        if (m->pos[i].chunk != NULL)
            repl_feed_give_back(m->feeds[i], m->pos[i].chunk);
        m->pos[i].chunk = NULL;
    }
}

/* The record at the head of feed i, or NULL when it has none yet. */
static const struct feed_rec *head(struct repl_merge *m, unsigned i, struct feed_rec *h)
{
    struct repl_merge_pos *p = &m->pos[i];
    while (p->chunk == NULL || p->off >= p->chunk->len) {
        if (p->chunk != NULL)
            repl_feed_give_back(m->feeds[i], p->chunk);
        p->chunk = repl_feed_take(m->feeds[i]);
        p->off = 0;
        if (p->chunk == NULL)
            return NULL;
    }
    *h = *(const struct feed_rec *)(const void *)(p->chunk->data + p->off);
    return h;
}

static const char *payload(struct repl_merge *m, unsigned i)
{
    return m->pos[i].chunk->data + m->pos[i].off + sizeof(struct feed_rec);
}

static void pop(struct repl_merge *m, unsigned i, const struct feed_rec *h)
{
    m->pos[i].off += rec_size(h->len);
    m->consumed[i]++;
}

static void emit_select(struct repl_merge *m, int db)
{
    if (db == m->db)
        return;
    char num[16];
    int n = snprintf(num, sizeof(num), "%d", db);
    char buf[48];
    int len = snprintf(buf, sizeof(buf), "*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n", n, num);
    m->ops->emit(m->arg, buf, (size_t)len);
    m->db = db;
}

static void emit_cmd(struct repl_merge *m, int db, const char *p, size_t n)
{
    if (m->discard)
        return;
    emit_select(m, db);
    m->ops->emit(m->arg, p, n);
}

static void emit_multi(struct repl_merge *m, const struct feed_rec *h, const char *p)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n", exec[] = "*1\r\n$4\r\nEXEC\r\n";
    if (m->discard || h->len == 0)
        return;
    bool wrap = (h->flags & FEED_WRAP) != 0;
    size_t off = 0;
    bool first = true;
    while (off < h->len) {
        struct feed_sub sub;
        memcpy(&sub, p + off, sizeof(sub));
        off += sizeof(sub);
        if (first && wrap) {
            /* SELECT goes before MULTI, as Redis writes it */
            emit_select(m, sub.db);
            m->ops->emit(m->arg, multi, sizeof(multi) - 1);
        }
        first = false;
        emit_cmd(m, sub.db, p + off, sub.len);
        off += sub.len;
    }
    if (wrap && !first)
        m->ops->emit(m->arg, exec, sizeof(exec) - 1);
}

/* Every feed whose head is a part of h's id: if all parts are there, emit and pop them. */
static bool resolve(struct repl_merge *m, const struct feed_rec *h)
{
    unsigned have = 0;
    struct feed_rec x;
    for (unsigned i = 0; i < m->n; i++) {
        const struct feed_rec *o = head(m, i, &x);
        if (o != NULL && (o->kind == FEED_MULTI || o->kind == FEED_SNAP) && o->id == h->id)
            have++;
    }
    if (have < h->nparts)
        return false;
    for (unsigned i = 0; i < m->n; i++) {
        const struct feed_rec *o = head(m, i, &x);
        if (o == NULL || (o->kind != FEED_MULTI && o->kind != FEED_SNAP) || o->id != h->id)
            continue;
        if (o->kind == FEED_MULTI)
            emit_multi(m, o, payload(m, i));
        pop(m, i, o);
    }
    if (h->kind == FEED_SNAP) {
        m->db = -1; /* whoever starts reading here needs a SELECT first */
        if (m->ops->snap)
            m->ops->snap(m->arg, h->id);
    }
    return true;
}

size_t repl_merge_run(struct repl_merge *m)
{
    size_t done = 0;
    for (;;) {
        bool progress = false;
        for (unsigned i = 0; i < m->n; i++) {
            struct feed_rec x;
            const struct feed_rec *h;
            while ((h = head(m, i, &x)) != NULL) {
                if (h->kind == FEED_MULTI || h->kind == FEED_SNAP)
                    break;
                const char *p = payload(m, i);
                switch (h->kind) {
                case FEED_CMD:
                    emit_cmd(m, h->db, p, h->len);
                    break;
                case FEED_RDB:
                    if (m->ops->rdb)
                        m->ops->rdb(m->arg, i, h->db, p, h->len);
                    break;
                case FEED_RDB_END:
                    if (m->ops->rdb_end)
                        m->ops->rdb_end(m->arg, i);
                    break;
                default:
                    break;
                }
                pop(m, i, h);
                done++;
                progress = true;
            }
        }
        for (unsigned i = 0; i < m->n; i++) {
            struct feed_rec x;
            const struct feed_rec *h = head(m, i, &x);
            if (h != NULL && (h->kind == FEED_MULTI || h->kind == FEED_SNAP)) {
                struct feed_rec copy = *h;
                if (resolve(m, &copy)) {
                    done += copy.nparts;
                    progress = true;
                }
            }
        }
        if (!progress)
            return done;
    }
}
