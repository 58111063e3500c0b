/*
 * The client API of cmd/client.h over the worker's connections: a
 * struct cmd_client is a struct conn seen from the commands, converted only
 * here. Also the ACL LOG entries for a connection (dispatch's refusals, a
 * failed AUTH), which carry its CLIENT LIST line.
 */
#include "cmd/client.h"

#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "worker/cmd_server.h"
#include "worker/conn.h"
#include "worker/dispatch.h"
#include "base/mem.h"
#include "worker/multi.h"
#include "worker/process.h"
#include "worker/watch.h"
#include "sock/sock.h"
#include "base/strbuf.h"
#include "worker/worker.h"

static struct conn *conn_of(struct cmd_client *cl)
{
    return (struct conn *)(void *)cl;
}

static const struct conn *cconn_of(const struct cmd_client *cl)
{
    return (const struct conn *)(const void *)cl;
}

static struct cmd_client *client_of(struct conn *c)
{
    return (struct cmd_client *)(void *)c;
}

struct cmd_client *cmd_client(const struct cmd_ctx *c)
{
    return c->client != NULL ? client_of(c->client) : NULL;
}

uint64_t client_id(const struct cmd_client *cl)
{
    return cconn_of(cl)->id;
}

const char *client_name(const struct cmd_client *cl)
{
    return cconn_of(cl)->name;
}

static void set_string(char **field, const char *v, size_t len)
{
    mem_free(*field);
    *field = len ? mem_strndup(v, len) : NULL;
}

void client_set_name(struct cmd_client *cl, const char *name, size_t len)
{
    set_string(&conn_of(cl)->name, name, len);
}

void client_set_lib(struct cmd_client *cl, enum client_lib which, const char *v, size_t len)
{
    struct conn *c = conn_of(cl);
    set_string(which == CLIENT_LIB_NAME ? &c->lib_name : &c->lib_ver, v, len);
}

int client_proto(const struct cmd_client *cl)
{
    return cconn_of(cl)->proto;
}

void client_set_proto(struct cmd_client *cl, struct cmd_ctx *c, int proto)
{
    conn_of(cl)->proto = (uint8_t)proto;
    c->reply->proto = (uint8_t)proto;
}

void client_set_no_evict(struct cmd_client *cl, bool on)
{
    if (on)
        conn_of(cl)->flags |= CONN_NO_EVICT;
    else
        conn_of(cl)->flags &= ~CONN_NO_EVICT;
}

bool client_authenticated(const struct cmd_client *cl)
{
    return cconn_of(cl)->authenticated;
}

const char *client_user_name(const struct cmd_client *cl)
{
    const struct conn *c = cconn_of(cl);
    return c->user != NULL ? c->user->name : "default";
}

bool client_reads_all_keys(const struct cmd_client *cl)
{
    const struct conn *c = cconn_of(cl);
    return c->user == NULL || acl_reads_all_keys(acl_rules_of(c->user));
}

void client_login(struct cmd_client *cl, struct acl_user *u)
{
    struct conn *c = conn_of(cl);
    acl_user_put(c->user);
    c->user = u;
    c->authenticated = true;
    c->parser.auth_required = false;
}

void client_login_default(struct cmd_client *cl)
{
    struct conn *c = conn_of(cl);
    if (c->user == NULL)
        return; /* unrestricted (the primary's link) stays so */
    acl_user_put(c->user);
    c->user = acl_default_get();
    c->authenticated = c->user == NULL || acl_rules_nopass(acl_rules_of(c->user));
    c->parser.auth_required = !c->authenticated;
}

const char *client_peer(const struct cmd_client *cl)
{
    return cconn_of(cl)->peer;
}

const char *client_local(const struct cmd_client *cl)
{
    return cconn_of(cl)->local;
}

bool client_is_local(const struct cmd_client *cl)
{
    return sock_peer_is_local(cconn_of(cl)->peer);
}

enum client_type client_type(const struct cmd_client *cl)
{
    const struct conn *c = cconn_of(cl);
    if (c->flags & CONN_MASTER)
        return CLIENT_MASTER;
    if (c->replica != NULL)
        return CLIENT_REPLICA;
    return pubsub_count(c) > 0 ? CLIENT_PUBSUB : CLIENT_NORMAL;
}

static void conn_line(struct strbuf *s, const struct conn *cl, int64_t now_ms)
{
    size_t qbuf = cl->rlen - cl->rpos;
    size_t omem = conn_output_bytes(cl);
    char cmd[96], flags[16];
    size_t nf = 0;
    /* Redis's letters, in its order */
    if (cl->flags & CONN_MONITOR)
        flags[nf++] = 'O';
    else if (cl->replica != NULL)
        flags[nf++] = 'S';
    if (cl->flags & CONN_MASTER)
        flags[nf++] = 'M';
    if (pubsub_count(cl) > 0)
        flags[nf++] = 'P';
    if (cl->multi != NULL)
        flags[nf++] = 'x';
    if (cl->flags & (CONN_KEY_WAIT | CONN_WAITING))
        flags[nf++] = 'b';
    nf += tracking_list_flags(cl, flags + nf);
    if (watch_touched(cl))
        flags[nf++] = 'd';
    if (cl->flags & CONN_CLOSE_AFTER_REPLY)
        flags[nf++] = 'c';
    if (cl->flags & CONN_CLOSE_ASAP)
        flags[nf++] = 'A';
    if (cl->flags & CONN_NO_EVICT)
        flags[nf++] = 'e';
    if (nf == 0)
        flags[nf++] = 'N';
    flags[nf] = '\0';
    if (cl->last_cmd == NULL)
        snprintf(cmd, sizeof(cmd), "NULL");
    else if (cl->last_parent != NULL)
        snprintf(cmd, sizeof(cmd), "%s|%s", cl->last_parent->name, cl->last_cmd->name);
    else
        snprintf(cmd, sizeof(cmd), "%s", cl->last_cmd->name);
    strbuf_printf(s,
                  "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
                  "sub=%u psub=%u ssub=%u multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=%zu "
                  "rbs=%zu rbp=%zu obl=0 oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s "
                  "user=%s redir=%lld resp=%d lib-name=%s lib-ver=%s\n",
                  (unsigned long long)cl->id, cl->peer, cl->local,
                  cl->io != NULL ? cl->io->fd(cl->sock) : -1, cl->name ? cl->name : "",
                  (long long)((now_ms - cl->ctime_ms) / 1000),
                  (long long)((now_ms - cl->last_ms) / 1000), flags, cl->db,
                  cl->ps ? cl->ps->count[PS_CHANNEL] : 0, cl->ps ? cl->ps->count[PS_PATTERN] : 0,
                  cl->ps ? cl->ps->count[PS_SHARD] : 0, cl->multi ? (int)cl->multi->count : -1,
                  qbuf, cl->rcap - cl->rlen, cl->multi ? cl->multi->bytes : 0, cl->rcap, cl->rcap,
                  omem, cl->rcap + omem + sizeof(*cl), omem ? "w" : "", cmd,
                  cl->user != NULL ? cl->user->name : "default", tracking_redir(cl), cl->proto,
                  cl->lib_name ? cl->lib_name : "", cl->lib_ver ? cl->lib_ver : "");
}

void client_line(struct strbuf *s, const struct cmd_client *cl, int64_t now_ms)
{
    conn_line(s, cconn_of(cl), now_ms);
}

struct cmd_client *client_next(struct cmd_client *prev)
{
    struct conn *c = prev != NULL ? conn_of(prev)->next : NULL;
    unsigned wi = prev != NULL ? conn_of(prev)->w->id + 1 : 0;
    for (; c == NULL && wi < server.nworkers; wi++)
        c = server.workers[wi]->conns;
    return c != NULL ? client_of(c) : NULL;
}

bool client_closing(const struct cmd_client *cl)
{
    return (cconn_of(cl)->flags & (CONN_CLOSE_ASAP | CONN_ZOMBIE)) != 0;
}

void client_kill(struct cmd_client *cl, const struct cmd_client *me)
{
    struct conn *c = conn_of(cl);
    if (cl == me) {
        c->flags |= CONN_CLOSE_AFTER_REPLY;
        return;
    }
    c->flags |= CONN_CLOSE_ASAP;
    conn_want_flush(c);
}

void client_close_now(struct cmd_client *cl)
{
    conn_of(cl)->flags |= CONN_CLOSE_ASAP;
}

bool client_unblock(struct cmd_client *cl, bool error)
{
    return block_unblock(conn_of(cl), error);
}

bool client_in_multi(const struct cmd_client *cl)
{
    return cconn_of(cl)->multi != NULL;
}

void client_multi_start(struct cmd_client *cl)
{
    conn_of(cl)->multi = mem_calloc(sizeof(struct multi_state));
}

bool client_multi_aborted(const struct cmd_client *cl)
{
    return cconn_of(cl)->multi->aborted;
}

unsigned client_multi_count(const struct cmd_client *cl)
{
    return cconn_of(cl)->multi->count;
}

void client_multi_exec(struct cmd_ctx *c)
{
    for (const struct multi_cmd *q = c->client->multi->head; q != NULL; q = q->next)
        dispatch_run_queued(c, q);
}

void client_multi_discard(struct cmd_client *cl)
{
    multi_discard(conn_of(cl));
}

uint32_t client_pubsub_count(const struct cmd_client *cl)
{
    return pubsub_count(cconn_of(cl));
}

void client_set_reply_mode(struct cmd_client *cl, enum client_reply_mode mode)
{
    struct conn *c = conn_of(cl);
    if (mode == CLIENT_REPLY_ON)
        c->flags &= ~(CONN_REPLY_OFF | CONN_REPLY_SKIP | CONN_REPLY_SKIP_NEXT);
    else if (mode == CLIENT_REPLY_OFF)
        c->flags |= CONN_REPLY_OFF;
    else if (!(c->flags & CONN_REPLY_OFF))
        c->flags |= CONN_REPLY_SKIP_NEXT;
}

void client_monitor_stop(struct cmd_client *cl)
{
    monitor_remove(conn_of(cl));
}

void client_tracking_off(struct cmd_client *cl)
{
    tracking_off(conn_of(cl));
}

void client_pubsub_reset(struct cmd_client *cl)
{
    pubsub_conn_closed(conn_of(cl));
}

void client_watch(struct cmd_ctx *c, int first)
{
    for (int i = first; i < c->argc; i++)
        watch_key(c->client, c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms);
}

bool client_watch_dirty(struct cmd_ctx *c)
{
    return watch_dirty(c->client, c->now_ms);
}

void client_unwatch(struct cmd_ctx *c)
{
    struct worker *w = c->client->w;
    watch_release(c->client, w->tx.conn == c->client && w->tx.ready ? w->tx.have : 0);
}

/* ---------------------------------------------------------------------------
 * ACL LOG entries of a connection
 * ------------------------------------------------------------------------ */

static void log_add(struct conn *cl, enum acl_result why, const char *object, size_t olen,
                    const char *user, size_t ulen)
{
    struct strbuf info;
    strbuf_setup(&info);
    conn_line(&info, cl, cl->w->now_ms);
    if (info.len > 0 && info.buf[info.len - 1] == '\n')
        info.buf[--info.len] = '\0';
    acl_log_add(why, cl->multi != NULL, object, olen, user, ulen, info.buf ? info.buf : "",
                cl->w->now_ms);
    strbuf_deinit(&info);
}

void client_acl_log_denial(struct conn *cl, int why, const struct cmd_def *d,
                           const struct cmd_def *parent, const struct resp_arg *key)
{
    char full[160];
    if (key != NULL) {
        log_add(cl, (enum acl_result)why, key->ptr, key->len, cl->user->name,
                strlen(cl->user->name));
        return;
    }
    int n = parent != NULL ? snprintf(full, sizeof(full), "%s|%s", parent->name, d->name)
                           : snprintf(full, sizeof(full), "%s", d->name);
    log_add(cl, (enum acl_result)why, full, (size_t)n, cl->user->name, strlen(cl->user->name));
}

void client_log_auth_failure(struct cmd_client *cl, const char *user, size_t len)
{
    log_add(conn_of(cl), ACL_DENIED_AUTH, "AUTH", 4, user, len);
}
