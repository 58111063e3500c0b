/* MONITOR; see monitor.h. */
#include "worker/monitor.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "shard/shard.h"
#include "worker/conn.h"
#include "worker/process.h"
#include "worker/worker.h"

atomic_uint monitor_total;

void monitor_add(struct conn *c)
{
    struct monitors *m = &c->w->monitors;
    if (c->flags & CONN_MONITOR)
        return;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->c = mem_realloc(m->c, sizeof(*m->c) * m->cap);
    }
    m->c[m->n++] = c;
    c->flags |= CONN_MONITOR;
    atomic_store_explicit(&m->count, m->n, memory_order_release);
    atomic_fetch_add(&monitor_total, 1);
}

void monitor_remove(struct conn *c)
{
    struct monitors *m = &c->w->monitors;
    if (!(c->flags & CONN_MONITOR))
        return;
    for (unsigned i = 0; i < m->n; i++) {
        if (m->c[i] == c) {
            m->c[i] = m->c[--m->n];
            break;
        }
    }
    c->flags &= ~CONN_MONITOR;
    atomic_store_explicit(&m->count, m->n, memory_order_release);
    atomic_fetch_sub(&monitor_total, 1);
}

void monitor_free(struct monitors *m)
{
    mem_free(m->c);
    m->c = NULL;
    m->n = m->cap = 0;
}

/* An argument as Redis quotes it: "...", with \\ \" \n \r \t \a \b and \xHH escapes. */
static void quote(struct strbuf *s, const char *p, size_t n)
{
    strbuf_append(s, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\':
            strbuf_append(s, "\\\\", 2);
            break;
        case '"':
            strbuf_append(s, "\\\"", 2);
            break;
        case '\n':
            strbuf_append(s, "\\n", 2);
            break;
        case '\r':
            strbuf_append(s, "\\r", 2);
            break;
        case '\t':
            strbuf_append(s, "\\t", 2);
            break;
        case '\a':
            strbuf_append(s, "\\a", 2);
            break;
        case '\b':
            strbuf_append(s, "\\b", 2);
            break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                strbuf_append(s, (const char *)&ch, 1);
            } else {
                char hex[5];
                snprintf(hex, sizeof(hex), "\\x%02x", ch);
                strbuf_append(s, hex, 4);
            }
        }
    }
    strbuf_append(s, "\"", 1);
}

/* Write the line to this worker's monitors (but the client it is about: Redis's rule). */
static void deliver(struct worker *w, const char *line, size_t n)
{
    for (unsigned i = 0; i < w->monitors.n; i++) {
        struct conn *c = w->monitors.c[i];
        if (c->flags & (CONN_CLOSE_ASAP | CONN_ZOMBIE))
            continue;
        reply_raw(&c->out, line, n);
        conn_want_flush(c);
    }
}

/* The arguments Redis hides: AUTH's, and HELLO's after AUTH (the user and the password). */
static int redacted_from(const struct cmd_def *d, int argc, const struct resp_arg *argv)
{
    if (d->id == CMD_ID_AUTH)
        return 1;
    if (d->id == CMD_ID_HELLO)
        for (int i = 1; i < argc; i++)
            if (argv[i].len == 4 && strncasecmp(argv[i].ptr, "auth", 4) == 0)
                return i + 1;
    return argc;
}

void monitor_feed(struct worker *w, const struct conn *c, const struct cmd_def *d, int db, int argc,
                  const struct resp_arg *argv)
{
    /* scripts are shown as they start (and their commands as they run), whatever the flag */
    bool script = d->route == ROUTE_HOLD && (d->acl & CMD_ACL_SCRIPTING);
    if ((d->flags & (CMD_SKIP_MONITOR | CMD_ADMIN)) && !script)
        return;
    int hide = redacted_from(d, argc, argv);
    int64_t us = clock_real_us();
    struct strbuf s;
    strbuf_setup(&s);
    strbuf_printf(&s, "+%lld.%06lld [%d %s] ", (long long)(us / 1000000), (long long)(us % 1000000),
                  db, c != NULL ? c->peer : "lua");
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            strbuf_append(&s, " ", 1);
        if (i >= hide && (d->id != CMD_ID_HELLO || i < hide + 2))
            strbuf_append(&s, "\"(redacted)\"", 12);
        else
            quote(&s, argv[i].ptr, argv[i].len);
    }
    strbuf_append(&s, "\r\n", 2);
    deliver(w, s.buf, s.len);
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *o = server.workers[i];
        if (o == w || atomic_load_explicit(&o->monitors.count, memory_order_acquire) == 0)
            continue;
        struct shard_msg *m = shard_msg_get(&w->port);
        m->type = SHARD_MONITOR;
        shard_msg_set_args(m, 1, (struct resp_arg[]){ { s.buf, s.len } });
        shard_send(&w->port, i, m);
    }
    strbuf_deinit(&s);
}

void monitor_on_line(struct worker *w, struct shard_msg *m)
{
    deliver(w, m->argv[0].ptr, m->argv[0].len);
    m->type = SHARD_MONITORED;
    shard_send(&w->port, m->src, m);
}

void cmd_monitor(struct cmd_ctx *c)
{
    struct conn *cn = c->client;
    if (cn->multi != NULL) {
        /* a client in MULTI expects one reply per command (Redis's text) */
        reply_error(c->reply, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (cn->replica != NULL || (cn->flags & CONN_MASTER))
        return;
    monitor_add(cn);
    reply_ok(c->reply);
}
