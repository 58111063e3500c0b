/*
 * The connection group: PING, ECHO, AUTH, HELLO, SELECT, QUIT, RESET and
 * CLIENT. What they change of the connection goes through cmd/client.h.
 */
#include <stdlib.h>
#include <string.h>

#include "acl/acl.h"
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "base/mem.h"
#include "cmd/node.h"
#include "base/strbuf.h"
#include "base/util.h"

void cmd_ping(struct cmd_ctx *c)
{
    if (c->argc > 2) {
        cmd_reply_arity(c);
        return;
    }
    struct cmd_client *cl = cmd_client(c);
    if (cl != NULL && client_proto(cl) == 2 && client_pubsub_count(cl) > 0) {
        /* RESP2's subscribed mode: ["pong", the argument or ""] */
        reply_array(c->reply, 2);
        reply_bulk_cstr(c->reply, "pong");
        reply_bulk(c->reply, c->argc == 2 ? c->argv[1].ptr : "", c->argc == 2 ? c->argv[1].len : 0);
    } else if (c->argc == 2) {
        reply_bulk(c->reply, c->argv[1].ptr, c->argv[1].len);
    } else {
        reply_status(c->reply, "PONG");
    }
}

void cmd_echo(struct cmd_ctx *c)
{
    reply_bulk(c->reply, c->argv[1].ptr, c->argv[1].len);
}

/*
 * Check a username/password pair (no username: the default user) and make the
 * connection that user. A failure is logged in ACL LOG (reason auth).
 * @return true when it matches.
 */
static bool check_auth(struct cmd_ctx *c, const struct resp_arg *user, const struct resp_arg *pass)
{
    struct cmd_client *cl = cmd_client(c);
    struct acl_user *u =
        acl_authenticate(user ? user->ptr : NULL, user ? user->len : 0, pass->ptr, pass->len);
    if (u == NULL) {
        client_log_auth_failure(cl, user ? user->ptr : "default", user ? user->len : 7);
        return false;
    }
    client_login(cl, u);
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

static void reply_hello(struct cmd_ctx *c, const struct cmd_client *cl)
{
    struct reply *r = c->reply;
    reply_map(r, 7);
    reply_bulk_cstr(r, "server");
    reply_bulk_cstr(r, "redis");
    reply_bulk_cstr(r, "version");
    reply_bulk_cstr(r, SERVER_REDIS_VERSION);
    reply_bulk_cstr(r, "proto");
    reply_int(r, client_proto(cl));
    reply_bulk_cstr(r, "id");
    reply_int(r, (long long)client_id(cl));
    reply_bulk_cstr(r, "mode");
    reply_bulk_cstr(r, "standalone");
    reply_bulk_cstr(r, "role");
    reply_bulk_cstr(r, "master");
    reply_bulk_cstr(r, "modules");
    reply_empty_array(r);
}

void cmd_hello(struct cmd_ctx *c)
{
    struct cmd_client *cl = cmd_client(c);
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
    if (!client_authenticated(cl)) {
        reply_error(c->reply, ERR_HELLO_NOAUTH);
        return;
    }
    if (name != NULL)
        client_set_name(cl, name->ptr, name->len);
    if (ver != 0)
        client_set_proto(cl, c, (int)ver);
    reply_hello(c, cl);
}

void cmd_select(struct cmd_ctx *c)
{
    int db;
    if (!cmd_arg_int(c, 1, &db))
        return;
    if (db < 0 || db >= node_databases(c)) {
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
    struct cmd_client *cl = cmd_client(c);
    c->select_db = 0;
    client_multi_discard(cl);
    client_unwatch(c);
    client_pubsub_reset(cl);
    client_monitor_stop(cl);
    client_tracking_off(cl);
    client_set_proto(cl, c, 2);
    client_set_name(cl, NULL, 0);
    client_set_no_evict(cl, false);
    client_login_default(cl);
    reply_status(c->reply, "RESET");
}

/* ---------------------------------------------------------------------------
 * CLIENT
 * ------------------------------------------------------------------------ */

void cmd_client_id(struct cmd_ctx *c)
{
    reply_int(c->reply, (long long)client_id(cmd_client(c)));
}

void cmd_client_getname(struct cmd_ctx *c)
{
    const char *name = client_name(cmd_client(c));
    if (name != NULL)
        reply_bulk_cstr(c->reply, name);
    else
        reply_null(c->reply);
}

void cmd_client_setname(struct cmd_ctx *c)
{
    if (!valid_client_name(c->argv[2].ptr, c->argv[2].len)) {
        reply_error(c->reply, ERR_CLIENT_NAME);
        return;
    }
    client_set_name(cmd_client(c), c->argv[2].ptr, c->argv[2].len);
    reply_ok(c->reply);
}

void cmd_client_setinfo(struct cmd_ctx *c)
{
    const struct resp_arg *v = &c->argv[3];
    enum client_lib which;
    if (cmd_arg_is(c, 2, "LIB-NAME"))
        which = CLIENT_LIB_NAME;
    else if (cmd_arg_is(c, 2, "LIB-VER"))
        which = CLIENT_LIB_VER;
    else {
        reply_errorf(c->reply, ERRF_UNRECOGNIZED_OPTION, (int)MIN(c->argv[2].len, 128),
                     c->argv[2].ptr);
        return;
    }
    if (!valid_client_name(v->ptr, v->len)) {
        reply_errorf(c->reply, ERRF_NAME_CHARS, (int)c->argv[2].len, c->argv[2].ptr);
        return;
    }
    client_set_lib(cmd_client(c), which, v->ptr, v->len);
    reply_ok(c->reply);
}

void cmd_client_info(struct cmd_ctx *c)
{
    struct strbuf s;
    strbuf_setup(&s);
    client_line(&s, cmd_client(c), c->now_ms);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}

void cmd_client_no_evict(struct cmd_ctx *c)
{
    if (cmd_arg_is(c, 2, "ON"))
        client_set_no_evict(cmd_client(c), true);
    else if (cmd_arg_is(c, 2, "OFF"))
        client_set_no_evict(cmd_client(c), false);
    else {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    reply_ok(c->reply);
}

/* CLIENT PAUSE timeout [WRITE|ALL] (milliseconds, ALL by default). */
void cmd_client_pause(struct cmd_ctx *c)
{
    long long ms;
    if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &ms)) {
        reply_error(c->reply, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        reply_error(c->reply, "ERR timeout is negative");
        return;
    }
    bool all = true;
    if (c->argc == 4) {
        if (cmd_arg_is(c, 3, "WRITE")) {
            all = false;
        } else if (!cmd_arg_is(c, 3, "ALL")) {
            reply_error(c->reply, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    } else if (c->argc > 4) {
        reply_errorf(c->reply,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "CLIENT HELP.",
                     (int)c->argv[1].len, c->argv[1].ptr);
        return;
    }
    int64_t end = ms > INT64_MAX - c->now_ms ? INT64_MAX : c->now_ms + ms;
    node_client_pause(c->now_ms, end, all);
    reply_ok(c->reply);
}

void cmd_client_unpause(struct cmd_ctx *c)
{
    node_client_unpause();
    reply_ok(c->reply);
}

/* CLIENT REPLY ON answers OK; OFF and SKIP answer nothing (the connection drops it). */
void cmd_client_reply(struct cmd_ctx *c)
{
    struct cmd_client *cl = cmd_client(c);
    if (cmd_arg_is(c, 2, "ON")) {
        client_set_reply_mode(cl, CLIENT_REPLY_ON);
        reply_ok(c->reply);
    } else if (cmd_arg_is(c, 2, "OFF")) {
        client_set_reply_mode(cl, CLIENT_REPLY_OFF);
    } else if (cmd_arg_is(c, 2, "SKIP")) {
        client_set_reply_mode(cl, CLIENT_REPLY_SKIP);
    } else {
        reply_error(c->reply, ERR_SYNTAX);
    }
}

/* TYPE's argument, or -1 when it names no type. */
static int parse_type(const struct resp_arg *v)
{
    if (util_strcaseeq(v->ptr, v->len, "normal"))
        return CLIENT_NORMAL;
    if (util_strcaseeq(v->ptr, v->len, "master"))
        return CLIENT_MASTER;
    if (util_strcaseeq(v->ptr, v->len, "replica") || util_strcaseeq(v->ptr, v->len, "slave"))
        return CLIENT_REPLICA;
    if (util_strcaseeq(v->ptr, v->len, "pubsub"))
        return CLIENT_PUBSUB;
    return -1;
}

static int client_by_id(const void *a, const void *b)
{
    uint64_t x = client_id(*(struct cmd_client *const *)a);
    uint64_t y = client_id(*(struct cmd_client *const *)b);
    return x < y ? -1 : x > y;
}

/* CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]: every shard is held. */
void cmd_client_list(struct cmd_ctx *c)
{
    uint64_t ids[64];
    int nids = 0;
    int want_type = -1;
    for (int i = 2; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "TYPE") && i + 1 < c->argc) {
            i++;
            want_type = parse_type(&c->argv[i]);
            if (want_type >= 0)
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
    struct cmd_client **all = NULL;
    for (struct cmd_client *cl = client_next(NULL); cl != NULL; cl = client_next(cl)) {
        if (want_type >= 0 && (int)client_type(cl) != want_type)
            continue;
        bool match = nids == 0;
        for (int k = 0; k < nids && !match; k++)
            match = ids[k] == client_id(cl);
        if (!match)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            all = mem_realloc(all, cap * sizeof(*all));
        }
        all[n++] = cl;
    }
    if (n > 1)
        qsort(all, n, sizeof(*all), client_by_id);
    struct strbuf s;
    strbuf_setup(&s);
    for (size_t i = 0; i < n; i++)
        client_line(&s, all[i], c->now_ms);
    mem_free(all);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}

static bool same_addr(const char *have, const char *want, size_t len)
{
    return strlen(have) == len && memcmp(have, want, len) == 0;
}

/*
 * CLIENT KILL ip:port (old form: OK or an error) or filters ID, ADDR, LADDR,
 * USER, SKIPME, TYPE (new form: the number killed). Every shard is held, so
 * other workers' connections are only marked; their owners close them.
 */
void cmd_client_kill(struct cmd_ctx *c)
{
    struct cmd_client *me = cmd_client(c);
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
                want_type = parse_type(v);
                if (want_type < 0) {
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
    for (struct cmd_client *cl = client_next(NULL); cl != NULL; cl = client_next(cl)) {
        if (want_type >= 0 && (int)client_type(cl) != want_type)
            continue;
        if (id && client_id(cl) != (uint64_t)id)
            continue;
        if (addr && !same_addr(client_peer(cl), addr, addrl))
            continue;
        if (laddr && !same_addr(client_local(cl), laddr, laddrl))
            continue;
        if (skipme && cl == me)
            continue;
        if (client_closing(cl))
            continue;
        client_kill(cl, me);
        killed++;
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

/* CLIENT UNBLOCK id [TIMEOUT|ERROR]: every shard is held, so the waiter is anyone's. */
void cmd_client_unblock(struct cmd_ctx *c)
{
    long long id;
    bool error = false;
    if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &id)) {
        reply_error(c->reply, ERR_NOT_INTEGER);
        return;
    }
    if (c->argc == 4) {
        if (cmd_arg_is(c, 3, "error")) {
            error = true;
        } else if (!cmd_arg_is(c, 3, "timeout")) {
            reply_error(c->reply, ERR_UNBLOCK_REASON);
            return;
        }
    } else if (c->argc > 4) {
        reply_errorf(c->reply, ERRF_UNBLOCK_ARGS, (int)c->argv[1].len, c->argv[1].ptr);
        return;
    }
    for (struct cmd_client *cl = client_next(NULL); cl != NULL; cl = client_next(cl)) {
        if (client_id(cl) == (uint64_t)id) {
            reply_int(c->reply, client_unblock(cl, error) ? 1 : 0);
            return;
        }
    }
    reply_int(c->reply, 0);
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
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client meta attr. Options are:",
        "HELP",
        "    Print this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}
