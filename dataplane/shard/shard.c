#include "shard/shard.h"

#include <string.h>

#include "base/mem.h"

#define SHARD_POOL_MAX 1024 /* idle messages kept per worker (~1.3 KB each) */

int shard_mesh_init(struct shard_mesh *m, unsigned n)
{
    memset(m, 0, sizeof(*m));
    m->n = n;
    for (unsigned s = 0; s < n; s++) {
        for (unsigned d = 0; d < n; d++) {
            if (s == d)
                continue;
            m->ring[s][d] = ring_create(SHARD_RING_SIZE);
            if (m->ring[s][d] == NULL)
                return -1;
        }
    }
    return 0;
}

void shard_mesh_deinit(struct shard_mesh *m, void (*drop)(struct shard_msg *))
{
    for (unsigned s = 0; s < m->n; s++) {
        for (unsigned d = 0; d < m->n; d++) {
            struct ring *r = m->ring[s][d];
            if (r == NULL)
                continue;
            void *obj;
            while ((obj = ring_dequeue(r)) != NULL)
                drop(obj);
            ring_destroy(r);
            m->ring[s][d] = NULL;
        }
    }
}

void shard_port_init(struct shard_port *p, struct shard_mesh *m, unsigned id)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->n = m->n;
    p->mesh = m;
}

void shard_msg_free(struct shard_msg *m)
{
    reply_deinit(&m->reply);
    if (m->abuf != NULL && m->abuf != m->abuf_inline)
        mem_traffic_free(m->abuf);
    if (m->argv != NULL && m->argv != m->argv_inline)
        mem_traffic_free(m->argv);
    mem_traffic_free(m);
}

void shard_port_deinit(struct shard_port *p)
{
    while (p->pool != NULL) {
        struct shard_msg *m = p->pool;
        p->pool = m->next;
        shard_msg_free(m);
    }
    for (unsigned d = 0; d < p->n; d++) {
        while (p->outbox_head[d] != NULL) {
            struct shard_msg *m = p->outbox_head[d];
            p->outbox_head[d] = m->next;
            shard_msg_free(m);
        }
    }
    p->pool_len = 0;
}

struct shard_msg *shard_msg_get(struct shard_port *p)
{
    struct shard_msg *m = p->pool;
    if (m != NULL) {
        p->pool = m->next;
        p->pool_len--;
    } else {
        m = mem_traffic_alloc(sizeof(*m));
        m->abuf = NULL;
        m->argv = NULL;
        reply_init(&m->reply, 2);
    }
    m->next = NULL;
    m->type = 0;
    m->src = (uint8_t)p->id;
    m->conn = NULL;
    m->waiter = NULL;
    m->cmd = NULL;
    m->parent = NULL;
    m->argc = 0;
    return m;
}

void shard_msg_put(struct shard_port *p, struct shard_msg *m)
{
    reply_deinit(&m->reply);
    if (m->abuf != NULL && m->abuf != m->abuf_inline) {
        mem_traffic_free(m->abuf);
        m->abuf = NULL;
    }
    if (m->argv != NULL && m->argv != m->argv_inline) {
        mem_traffic_free(m->argv);
        m->argv = NULL;
    }
    if (p->pool_len >= SHARD_POOL_MAX) {
        shard_msg_free(m);
        return;
    }
    m->next = p->pool;
    p->pool = m;
    p->pool_len++;
}

void shard_msg_set_args(struct shard_msg *m, int argc, const struct resp_arg *argv)
{
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += argv[i].len + 1;
    if (argc <= SHARD_ARGV_INLINE)
        m->argv = m->argv_inline;
    else
        m->argv = mem_traffic_alloc(sizeof(struct resp_arg) * (size_t)argc);
    if (total <= SHARD_ARGS_INLINE) {
        m->abuf = m->abuf_inline;
        m->abuf_cap = SHARD_ARGS_INLINE;
    } else {
        m->abuf = mem_traffic_alloc(total);
        m->abuf_cap = total;
    }
    char *p = m->abuf;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        p[argv[i].len] = '\0';
        m->argv[i].ptr = p;
        m->argv[i].len = argv[i].len;
        p += argv[i].len + 1;
    }
    m->argc = argc;
}

void shard_msg_reply_init(struct shard_msg *m)
{
    reply_init(&m->reply, m->proto);
    m->embed.next = NULL;
    m->embed.len = 0;
    m->embed.start = 0;
    m->embed.cap = SHARD_REPLY_INLINE;
    m->embed.kind = RBLOCK_EMBED;
    m->embed.owner = m;
    m->embed.data = m->reply_buf;
    reply_append_block(&m->reply, &m->embed);
}

static void outbox_push(struct shard_port *p, unsigned dst, struct shard_msg *m)
{
    m->next = NULL;
    if (p->outbox_tail[dst])
        p->outbox_tail[dst]->next = m;
    else
        p->outbox_head[dst] = m;
    p->outbox_tail[dst] = m;
    p->outbox_len++;
}

void shard_send(struct shard_port *p, unsigned dst, struct shard_msg *m)
{
    m->dst = (uint8_t)dst;
    if (p->outbox_head[dst] == NULL && ring_enqueue(p->mesh->ring[p->id][dst], m)) {
        if (p->notify)
            p->notify(p->notify_arg, dst);
        return;
    }
    outbox_push(p, dst, m);
}

unsigned shard_flush(struct shard_port *p)
{
    if (p->outbox_len == 0)
        return 0;
    for (unsigned d = 0; d < p->n; d++) {
        bool sent = false;
        while (p->outbox_head[d] != NULL) {
            /*
             * Read the link before the enqueue: once m is on the ring it belongs to
             * worker d, which may already have answered it (its own outbox or
             * deferred queue rewrites m->next).
             */
            struct shard_msg *m = p->outbox_head[d], *next = m->next;
            if (!ring_enqueue(p->mesh->ring[p->id][d], m))
                break;
            p->outbox_head[d] = next;
            if (next == NULL)
                p->outbox_tail[d] = NULL;
            p->outbox_len--;
            sent = true;
        }
        if (sent && p->notify)
            p->notify(p->notify_arg, d);
    }
    return p->outbox_len;
}

unsigned shard_poll(struct shard_port *p, struct shard_msg **out, unsigned max)
{
    unsigned got = 0;
    for (unsigned k = 0; k < p->n && got < max; k++) {
        unsigned s = (p->poll_next + k) % p->n;
        if (s == p->id)
            continue;
        got += ring_dequeue_burst(p->mesh->ring[s][p->id], (void **)(out + got), max - got);
    }
    p->poll_next = (p->poll_next + 1) % p->n;
    return got;
}
