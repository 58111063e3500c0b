/* Connection commands: HELLO, AUTH, SELECT, QUIT, RESET, CLIENT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cmd_server.h"
#include "commands.h"
#include "conn.h"
#include "mem.h"
#include "multi.h"
#include "server.h"
#include "strbuf.h"
#include "util.h"
#include "worker.h"
#include "errors.h"

static struct conn *client_of(struct cmd_ctx *c)
{
    return c->client;
}

static struct worker *worker_of(struct cmd_ctx *c)
{
    return c->worker;
}

/*
 * Check a username/password pair (no username: the default user) and make the
 * connection that user. A failure is logged in ACL LOG (reason auth).
 * @return true when it matches.
 */
static bool check_auth(struct cmd_ctx *c, const struct resp_arg *user, const struct resp_arg *pass)
{
    struct conn *cl = client_of(c);
    struct acl_user *u =
        acl_authenticate(user ? user->ptr : NULL, user ? user->len : 0, pass->ptr, pass->len);
    if (u == NULL) {
        cmd_acl_log_auth(cl, user ? user->ptr : "default", user ? user->len : 7);
        return false;
    }
    acl_user_put(cl->user);
    cl->user = u;
    cl->authenticated = true;
    cl->parser.auth_required = false;
    return true;
}

/* The default user needs no password (AUTH <password> is then an error, as in Redis). */
static bool default_nopass(void)
{
    struct acl_user *def = acl_default_get();
    bool nopass = def != NULL && (acl_rules_of(def)->flags & ACL_NOPASS);
    acl_user_put(def);
    return nopass;
}

void cmd_auth(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    if (c->argc == 2 && default_nopass()) {
        reply_error(c->reply, ERR_AUTH_NOPASS);
        return;
    }
    const struct resp_arg *user = c->argc == 3 ? &c->argv[1] : NULL;
    const struct resp_arg *pass = &c->argv[c->argc - 1];
    if (!check_auth(c, user, pass)) {
        reply_error(c->reply, ERR_WRONGPASS);
        return;
    }
    reply_ok(c->reply);
}

/* Client names: printable ASCII without spaces, as Redis requires. */
static bool valid_client_name(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '!' || p[i] > '~')
            return false;
    return true;
}

static void set_name(struct conn *cl, const struct resp_arg *a)
{
    mem_free(cl->name);
    cl->name = a->len ? mem_strndup(a->ptr, a->len) : NULL;
}

static void reply_hello(struct cmd_ctx *c, struct conn *cl)
{
    struct reply *r = c->reply;
    reply_map(r, 7);
    reply_bulk_cstr(r, "server");
    reply_bulk_cstr(r, "redis");
    reply_bulk_cstr(r, "version");
    reply_bulk_cstr(r, SERVER_REDIS_VERSION);
    reply_bulk_cstr(r, "proto");
    reply_int(r, cl->proto);
    reply_bulk_cstr(r, "id");
    reply_int(r, (long long)cl->id);
    reply_bulk_cstr(r, "mode");
    reply_bulk_cstr(r, "standalone");
    reply_bulk_cstr(r, "role");
    reply_bulk_cstr(r, "master");
    reply_bulk_cstr(r, "modules");
    reply_empty_array(r);
}

void cmd_hello(struct cmd_ctx *c)
{
    struct conn *cl = client_of(c);
    long long ver = 0;
    int i = 2;
    if (c->argc >= 2) {
        if (!util_str2ll(c->argv[1].ptr, c->argv[1].len, &ver)) {
            reply_error(c->reply, ERR_PROTO_VERSION);
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(c->reply, ERR_NOPROTO);
            return;
        }
    }
    const struct resp_arg *user = NULL, *pass = NULL, *name = NULL;
    for (; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (cmd_arg_is(c, i, "AUTH") && more >= 2) {
            user = &c->argv[i + 1];
            pass = &c->argv[i + 2];
            i += 2;
        } else if (cmd_arg_is(c, i, "SETNAME") && more >= 1) {
            name = &c->argv[i + 1];
            if (!valid_client_name(name->ptr, name->len)) {
                reply_error(c->reply, ERR_CLIENT_NAME);
                return;
            }
            i++;
        } else {
            reply_errorf(c->reply, ERRF_HELLO_OPTION, (int)MIN(c->argv[i].len, 128),
                         c->argv[i].ptr);
            return;
        }
    }
    if (user != NULL) {
        if (!check_auth(c, user, pass)) {
            reply_error(c->reply, ERR_WRONGPASS);
            return;
        }
    }
    if (!cl->authenticated) {
        reply_error(c->reply, ERR_HELLO_NOAUTH);
        return;
    }
    if (name != NULL)
        set_name(cl, name);
    if (ver != 0) {
        cl->proto = (uint8_t)ver;
        c->reply->proto = (uint8_t)ver;
    }
    reply_hello(c, cl);
}

void cmd_select(struct cmd_ctx *c)
{
    int db;
    if (!cmd_arg_int(c, 1, &db))
        return;
    if (db < 0 || db >= worker_of(c)->params.store.databases) {
        reply_error(c->reply, ERR_DB_RANGE);
        return;
    }
    c->select_db = (int)db;
    reply_ok(c->reply);
}

void cmd_quit(struct cmd_ctx *c)
{
    reply_ok(c->reply);
    c->close_after = true;
}

void cmd_reset(struct cmd_ctx *c)
{
    struct conn *cl = client_of(c);
    c->select_db = 0;
    multi_discard(cl);
    cl->proto = 2;
    c->reply->proto = 2;
    mem_free(cl->name);
    cl->name = NULL;
    cl->flags &= ~CONN_NO_EVICT;
    if (cl->user != NULL) {
        /* back to the default user, authenticated only if it needs no password (Redis's) */
        acl_user_put(cl->user);
        cl->user = acl_default_get();
        cl->authenticated = cl->user == NULL || acl_rules_nopass(acl_rules_of(cl->user));
        cl->parser.auth_required = !cl->authenticated;
    }
    reply_status(c->reply, "RESET");
}

/* ---------------------------------------------------------------------------
 * CLIENT
 * ------------------------------------------------------------------------ */

/* One line of CLIENT LIST / CLIENT INFO, in Redis's field order. */
void conn_client_line(struct strbuf *s, struct conn *cl, int64_t now_ms)
{
    size_t qbuf = cl->rlen - cl->rpos;
    size_t omem = conn_output_bytes(cl);
    char cmd[96], flags[8];
    size_t nf = 0;
    if (cl->flags & CONN_CLOSE_AFTER_REPLY)
        flags[nf++] = 'c';
    if (cl->flags & CONN_CLOSE_ASAP)
        flags[nf++] = 'A';
    if (cl->flags & CONN_NO_EVICT)
        flags[nf++] = 'e';
    if (cl->flags & CONN_MASTER)
        flags[nf++] = 'M';
    if (cl->replica != NULL)
        flags[nf++] = 'S';
    if (cl->multi != NULL)
        flags[nf++] = 'x';
    if (nf == 0)
        flags[nf++] = 'N';
    flags[nf] = '\0';
    if (cl->last_cmd == NULL)
        snprintf(cmd, sizeof(cmd), "NULL");
    else if (cl->last_parent != NULL)
        snprintf(cmd, sizeof(cmd), "%s|%s", cl->last_parent->name, cl->last_cmd->name);
    else
        snprintf(cmd, sizeof(cmd), "%s", cl->last_cmd->name);
    strbuf_printf(
        s,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
        "sub=0 psub=0 ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=%zu "
        "rbs=%zu rbp=%zu obl=0 oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s "
        "user=%s redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
        (unsigned long long)cl->id, cl->peer, cl->local, cl->io != NULL ? cl->io->fd(cl->sock) : -1,
        cl->name ? cl->name : "", (long long)((now_ms - cl->ctime_ms) / 1000),
        (long long)((now_ms - cl->last_ms) / 1000), flags, cl->db,
        cl->multi ? (int)cl->multi->count : -1, qbuf, cl->rcap - cl->rlen,
        cl->multi ? cl->multi->bytes : 0, cl->rcap, cl->rcap, omem, cl->rcap + omem + sizeof(*cl),
        omem ? "w" : "", cmd, cl->user != NULL ? cl->user->name : "default", cl->proto,
        cl->lib_name ? cl->lib_name : "", cl->lib_ver ? cl->lib_ver : "");
}

void cmd_client_id(struct cmd_ctx *c)
{
    reply_int(c->reply, (long long)client_of(c)->id);
}

void cmd_client_getname(struct cmd_ctx *c)
{
    struct conn *cl = client_of(c);
    if (cl->name)
        reply_bulk_cstr(c->reply, cl->name);
    else
        reply_null(c->reply);
}

void cmd_client_setname(struct cmd_ctx *c)
{
    if (!valid_client_name(c->argv[2].ptr, c->argv[2].len)) {
        reply_error(c->reply, ERR_CLIENT_NAME);
        return;
    }
    set_name(client_of(c), &c->argv[2]);
    reply_ok(c->reply);
}

void cmd_client_setinfo(struct cmd_ctx *c)
{
    struct conn *cl = client_of(c);
    const struct resp_arg *v = &c->argv[3];
    char **field;
    if (cmd_arg_is(c, 2, "LIB-NAME"))
        field = &cl->lib_name;
    else if (cmd_arg_is(c, 2, "LIB-VER"))
        field = &cl->lib_ver;
    else {
        reply_errorf(c->reply, ERRF_UNRECOGNIZED_OPTION, (int)MIN(c->argv[2].len, 128),
                     c->argv[2].ptr);
        return;
    }
    if (!valid_client_name(v->ptr, v->len)) {
        reply_errorf(c->reply, ERRF_NAME_CHARS, (int)c->argv[2].len, c->argv[2].ptr);
        return;
    }
    mem_free(*field);
    *field = v->len ? mem_strndup(v->ptr, v->len) : NULL;
    reply_ok(c->reply);
}

void cmd_client_info(struct cmd_ctx *c)
{
    struct strbuf s;
    strbuf_init(&s);
    conn_client_line(&s, client_of(c), c->now_ms);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}

void cmd_client_no_evict(struct cmd_ctx *c)
{
    struct conn *cl = client_of(c);
    if (cmd_arg_is(c, 2, "ON"))
        cl->flags |= CONN_NO_EVICT;
    else if (cmd_arg_is(c, 2, "OFF"))
        cl->flags &= ~CONN_NO_EVICT;
    else {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    reply_ok(c->reply);
}

/* A client's type as CLIENT LIST/KILL TYPE name it. */
enum client_type { CT_NORMAL = 0, CT_MASTER, CT_REPLICA, CT_PUBSUB, CT_BAD };

static enum client_type client_type_of(const struct conn *cl)
{
    if (cl->flags & CONN_MASTER)
        return CT_MASTER;
    if (cl->replica != NULL)
        return CT_REPLICA;
    return CT_NORMAL;
}

static enum client_type parse_type(const struct resp_arg *v)
{
    if (util_strcaseeq(v->ptr, v->len, "normal"))
        return CT_NORMAL;
    if (util_strcaseeq(v->ptr, v->len, "master"))
        return CT_MASTER;
    if (util_strcaseeq(v->ptr, v->len, "replica") || util_strcaseeq(v->ptr, v->len, "slave"))
        return CT_REPLICA;
    if (util_strcaseeq(v->ptr, v->len, "pubsub"))
        return CT_PUBSUB;
    return CT_BAD;
}

/* CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]: every shard is held. */
static int conn_by_id(const void *a, const void *b)
{
    uint64_t x = (*(struct conn *const *)a)->id, y = (*(struct conn *const *)b)->id;
    return x < y ? -1 : x > y;
}

void cmd_client_list(struct cmd_ctx *c)
{
    uint64_t ids[64];
    int nids = 0;
    int want_type = -1;
    for (int i = 2; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "TYPE") && i + 1 < c->argc) {
            i++;
            want_type = (int)parse_type(&c->argv[i]);
            if (want_type != CT_BAD)
                continue;
            reply_errorf(c->reply, ERRF_CLIENT_TYPE, (int)c->argv[i].len, c->argv[i].ptr);
            return;
        } else if (cmd_arg_is(c, i, "ID") && i + 1 < c->argc) {
            for (i++; i < c->argc && nids < 64; i++) {
                long long id;
                if (!util_str2ll(c->argv[i].ptr, c->argv[i].len, &id) || id <= 0) {
                    reply_error(c->reply, ERR_CLIENT_ID);
                    return;
                }
                ids[nids++] = (uint64_t)id;
            }
            break;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    /* Every shard is held: gather all workers' clients and list them by id, as Redis does. */
    size_t n = 0, cap = 0;
    struct conn **all = NULL;
    for (unsigned wi = 0; wi < server.nworkers; wi++) {
        for (struct conn *cl = server.workers[wi]->conns; cl != NULL; cl = cl->next) {
            if (want_type >= 0 && (int)client_type_of(cl) != want_type)
                continue;
            bool match = nids == 0;
            for (int k = 0; k < nids && !match; k++)
                match = ids[k] == cl->id;
            if (!match)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                all = mem_realloc(all, cap * sizeof(*all));
            }
            all[n++] = cl;
        }
    }
    if (n > 1)
        qsort(all, n, sizeof(*all), conn_by_id);
    struct strbuf s;
    strbuf_init(&s);
    for (size_t i = 0; i < n; i++)
        conn_client_line(&s, all[i], c->now_ms);
    mem_free(all);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}

static void kill_conn(struct conn *cl, struct conn *me)
{
    if (cl == me) {
        cl->flags |= CONN_CLOSE_AFTER_REPLY;
        return;
    }
    cl->flags |= CONN_CLOSE_ASAP;
    conn_want_flush(cl);
}

/*
 * CLIENT KILL ip:port (old form: OK or an error) or filters ID, ADDR, LADDR,
 * USER, SKIPME, TYPE (new form: the number killed). Every shard is held, so
 * other workers' connections are only marked; their owners close them.
 */
void cmd_client_kill(struct cmd_ctx *c)
{
    struct conn *me = client_of(c);
    const char *addr = NULL, *laddr = NULL;
    size_t addrl = 0, laddrl = 0;
    long long id = 0;
    bool skipme = true;
    int want_type = -1;
    bool old_form = c->argc == 3;
    if (old_form) {
        addr = c->argv[2].ptr;
        addrl = c->argv[2].len;
        skipme = false;
    } else {
        if ((c->argc - 2) % 2 != 0) {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
        for (int i = 2; i < c->argc; i += 2) {
            const struct resp_arg *v = &c->argv[i + 1];
            if (cmd_arg_is(c, i, "ID")) {
                if (!util_str2ll(v->ptr, v->len, &id) || id <= 0) {
                    reply_error(c->reply, ERR_CLIENT_ID_ZERO);
                    return;
                }
            } else if (cmd_arg_is(c, i, "ADDR")) {
                addr = v->ptr;
                addrl = v->len;
            } else if (cmd_arg_is(c, i, "LADDR")) {
                laddr = v->ptr;
                laddrl = v->len;
            } else if (cmd_arg_is(c, i, "USER")) {
                if (!util_strcaseeq(v->ptr, v->len, "default")) {
                    reply_errorf(c->reply, ERRF_NO_SUCH_USER, (int)v->len, v->ptr);
                    return;
                }
            } else if (cmd_arg_is(c, i, "SKIPME")) {
                if (util_strcaseeq(v->ptr, v->len, "yes"))
                    skipme = true;
                else if (util_strcaseeq(v->ptr, v->len, "no"))
                    skipme = false;
                else {
                    reply_error(c->reply, ERR_SYNTAX);
                    return;
                }
            } else if (cmd_arg_is(c, i, "TYPE")) {
                want_type = (int)parse_type(v);
                if (want_type == CT_BAD) {
                    reply_errorf(c->reply, ERRF_CLIENT_TYPE, (int)v->len, v->ptr);
                    return;
                }
            } else {
                reply_error(c->reply, ERR_SYNTAX);
                return;
            }
        }
    }
    long long killed = 0;
    for (unsigned wi = 0; wi < server.nworkers; wi++) {
        for (struct conn *cl = server.workers[wi]->conns; cl != NULL; cl = cl->next) {
            if (want_type >= 0 && (int)client_type_of(cl) != want_type)
                continue;
            if (id && cl->id != (uint64_t)id)
                continue;
            if (addr && (strlen(cl->peer) != addrl || memcmp(cl->peer, addr, addrl) != 0))
                continue;
            if (laddr && (strlen(cl->local) != laddrl || memcmp(cl->local, laddr, laddrl) != 0))
                continue;
            if (skipme && cl == me)
                continue;
            if (cl->flags & (CONN_CLOSE_ASAP | CONN_ZOMBIE))
                continue;
            kill_conn(cl, me);
            killed++;
        }
    }
    if (old_form) {
        if (killed == 0)
            reply_error(c->reply, ERR_NO_SUCH_CLIENT);
        else
            reply_ok(c->reply);
    } else {
        reply_int(c->reply, killed);
    }
}

void cmd_client_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client meta attr. Options are:",
        "HELP",
        "    Print this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}
