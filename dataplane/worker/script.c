/* EVAL, EVALSHA, SCRIPT and the engine scripts and functions share; see script.h. */
#include "worker/script.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <openssl/evp.h>

#include "acl/acl.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "cmd/node.h"
#include "lua/luabox.h"
#include "replication/repl.h"
#include "worker/cmd_server.h"
#include "worker/conn.h"
#include "worker/dispatch.h"
#include "worker/process.h"
#include "worker/worker.h"

struct script_busy script_busy_state = { .worker = -1 };

/* What runs past the threshold, for FUNCTION STATS (copied when it becomes busy). */
static struct {
    pthread_mutex_t lock;
    char name[128];
    struct strbuf command; /* its arguments, each as length + bytes */
    int argc;
} busy_info = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Instructions between two looks at the clock (Redis's count hook does the same). */
#define HOOK_COUNT 100000

struct script_engine {
    lua_State *L;
    struct worker *w;
    uint64_t gen; /* the cache generation its compiled scripts belong to */
    /* the running script */
    struct cmd_ctx *ctx; /* the EVAL or FCALL */
    uint64_t held;       /* the shards it may touch */
    int db;              /* SELECT inside a script is the script's own */
    int resp;            /* redis.setresp */
    bool readonly, wrote, running, busy, killed, function;
    bool effects;   /* it wrote or published: running it again is no longer possible */
    bool can_rerun; /* it may start again holding every shard (not in EXEC, not all held) */
    bool rerun;     /* ... and it will: it asked for a shard it does not hold */
    uint32_t flags;
    uint64_t start_ns;
    const char *name;
    size_t mem; /* the Lua state's bytes after the last script (INFO reads it holding the shard) */
};

/* ---------------------------------------------------------------------------
 * The node's script cache: sha1 -> body
 * ------------------------------------------------------------------------ */

struct script_body {
    struct script_body *next;
    char sha[41];
    size_t len;
    char body[];
};

static struct {
    pthread_mutex_t lock;
    struct script_body **tab;
    size_t cap, count, bytes;
    atomic_uint_fast64_t gen;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static EVP_MD *sha1_md;

void script_setup(void)
{
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
    strbuf_setup(&busy_info.command);
}

static void cache_clear(void)
{
    for (size_t i = 0; i < cache.cap; i++) {
        struct script_body *b = cache.tab[i];
        while (b != NULL) {
            struct script_body *next = b->next;
            mem_free(b);
            b = next;
        }
        cache.tab[i] = NULL;
    }
    cache.count = cache.bytes = 0;
}

void script_teardown(void)
{
    pthread_mutex_lock(&cache.lock);
    cache_clear();
    mem_free(cache.tab);
    cache.tab = NULL;
    cache.cap = 0;
    pthread_mutex_unlock(&cache.lock);
    EVP_MD_free(sha1_md);
    sha1_md = NULL;
    strbuf_deinit(&busy_info.command);
}

void script_sha1hex(char out[41], const void *p, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_Digest(p, n, md, &mdlen, sha1_md != NULL ? sha1_md : EVP_sha1(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[40] = '\0';
}

static size_t sha_slot(const char *sha, size_t cap)
{
    return util_hash(sha, 40) & (cap - 1);
}

/* Under the lock. */
static struct script_body *cache_find(const char *sha)
{
    if (cache.cap == 0)
        return NULL;
    for (struct script_body *b = cache.tab[sha_slot(sha, cache.cap)]; b != NULL; b = b->next)
        if (memcmp(b->sha, sha, 40) == 0)
            return b;
    return NULL;
}

static void cache_add(const char *sha, const char *body, size_t len)
{
    pthread_mutex_lock(&cache.lock);
    if (cache_find(sha) != NULL) {
        pthread_mutex_unlock(&cache.lock);
        return;
    }
    if (cache.count >= cache.cap) {
        size_t cap = cache.cap ? cache.cap * 2 : 64;
        struct script_body **tab = mem_calloc(cap * sizeof(*tab));
        for (size_t i = 0; i < cache.cap; i++) {
            struct script_body *b = cache.tab[i];
            while (b != NULL) {
                struct script_body *next = b->next;
                size_t s = sha_slot(b->sha, cap);
                b->next = tab[s];
                tab[s] = b;
                b = next;
            }
        }
        mem_free(cache.tab);
        cache.tab = tab;
        cache.cap = cap;
    }
    struct script_body *b = mem_alloc(sizeof(*b) + len + 1);
    memcpy(b->sha, sha, 41);
    b->len = len;
    memcpy(b->body, body, len);
    b->body[len] = '\0';
    size_t s = sha_slot(sha, cache.cap);
    b->next = cache.tab[s];
    cache.tab[s] = b;
    cache.count++;
    cache.bytes += len;
    pthread_mutex_unlock(&cache.lock);
}

/* A copy of the body of sha (mem_free it), or NULL. */
static char *cache_copy(const char *sha, size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&cache.lock);
    struct script_body *b = cache_find(sha);
    if (b != NULL) {
        copy = mem_alloc(b->len + 1);
        memcpy(copy, b->body, b->len + 1);
        *len = b->len;
    }
    pthread_mutex_unlock(&cache.lock);
    return copy;
}

/* ---------------------------------------------------------------------------
 * The redis table
 * ------------------------------------------------------------------------ */

static _Thread_local struct script_engine *running; /* this thread's script, if one runs */

static const char LASTERR_KEY[] = "pollux.lasterr";

/*
 * Raise msg (with its code: "ERR ...") from a redis.* function. Lua's pcall sees the plain
 * string, as in Redis; the error handler knows it for one of ours by the registry's copy
 * and adds no second code.
 */
static int raise_lstr(lua_State *L, const char *msg, size_t len)
{
    lua_pushlstring(L, msg, len);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, LASTERR_KEY);
    return lua_error(L);
}

/* msg raised (see raise_lstr), or returned as {err = msg} when !raise (redis.pcall). */
static int push_error(lua_State *L, const char *msg, bool raise)
{
    if (raise)
        return raise_lstr(L, msg, strlen(msg));
    lua_newtable(L);
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "err");
    return 1;
}

/* Is every key of the request on a shard the script holds. */
static bool keys_held(const struct script_engine *e, const struct cmd_def *d, int argc,
                      const struct resp_arg *argv)
{
    unsigned n = server.nworkers;
    uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
    if (n == 1 || (e->held & all) == all)
        return true;
    switch (d->route) {
    case ROUTE_ALL:
    case ROUTE_SCAN:
        return false;
    case ROUTE_SORT:
        if (cmd_sort_needs_all(argc, argv))
            return false;
        break;
    default:
        break;
    }
    int keys[256];
    int nk = cmd_get_keys(d, argc, argv, keys, (int)ARRAY_SIZE(keys));
    if (nk == (int)ARRAY_SIZE(keys))
        return false;
    for (int i = 0; i < nk; i++) {
        unsigned s = cmd_key_shard(argv[keys[i]].ptr, argv[keys[i]].len, n);
        if (!(e->held & (1ull << s)))
            return false;
    }
    return true;
}

/* The reply chain as one piece (its blocks copied when there are several). */
static const char *flat_reply(struct reply *r, struct strbuf *tmp, size_t *len)
{
    if (r->head == NULL) {
        *len = 0;
        return "";
    }
    if (r->head->next == NULL) {
        *len = r->head->len - r->head->start;
        return r->head->data + r->head->start;
    }
    strbuf_setup(tmp);
    for (struct rblock *b = r->head; b != NULL; b = b->next)
        strbuf_append(tmp, b->data + b->start, b->len - b->start);
    *len = tmp->len;
    return tmp->buf;
}

/* The command a script asked for, or NULL after pushing the error. */
static const struct cmd_def *script_command(int argc, const struct resp_arg *argv,
                                            const struct cmd_def **parent, const char **err)
{
    *parent = NULL;
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (d != NULL && d->subs != NULL && argc >= 2) {
        *parent = d;
        d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
    }
    if (d == NULL) {
        *err = "ERR Unknown Redis command called from script";
        return NULL;
    }
    if (!cmd_arity_ok(d, argc) || d->fn == NULL) {
        *err = "ERR Wrong number of args calling Redis command from script";
        return NULL;
    }
    if ((d->flags | (*parent ? (*parent)->flags : 0)) & CMD_NOSCRIPT) {
        *err = "ERR This Redis command is not allowed from script";
        return NULL;
    }
    return d;
}

/* The checks Redis makes before a script's command runs. @return NULL, or the error */
static const char *script_may_run(struct script_engine *e, const struct cmd_def *d,
                                  const struct cmd_def *parent, int argc,
                                  const struct resp_arg *argv)
{
    struct cmd_ctx *c = e->ctx;
    struct conn *cn = c->client;
    if (cn != NULL && cn->user != NULL && !cmd_acl_exempt(d, parent)) {
        int pos;
        enum acl_result res = acl_check_fast(acl_rules_of(cn->user), d, argc, argv, &pos);
        if (res != ACL_OK) {
            client_acl_log_denial(cn, res, d, parent,
                                  res == ACL_DENIED_KEY || res == ACL_DENIED_CHANNEL ? &argv[pos]
                                                                                     : NULL);
            return "ERR The user executing the script can't run this command or subcommand";
        }
    }
    if (d->flags & CMD_WRITE) {
        if (e->readonly)
            return "ERR Write commands are not allowed from read-only scripts.";
        if (cn != NULL && !(cn->flags & CONN_MASTER) &&
            repl_replica_refuses_writes(&e->w->params.repl))
            return "READONLY You can't write against a read only replica.";
    }
    if ((d->flags & CMD_DENYOOM) && !e->wrote && !(e->flags & SCRIPT_ALLOW_OOM) &&
        !dispatch_memory_ok(e->w, c))
        return "OOM command not allowed when used memory > 'maxmemory'.";
    if (!keys_held(e, d, argc, argv)) {
        if (e->can_rerun && !e->effects) {
            e->rerun = true; /* stopped here, run again holding every shard */
            return "ERR the script runs again holding every shard";
        }
        return "ERR Script attempted to access a key that is not declared in KEYS and lives "
               "on another shard after it wrote (declare every key the script uses)";
    }
    return NULL;
}

/* redis.call / redis.pcall */
static int redis_command(lua_State *L, bool raise)
{
    struct script_engine *e = running;
    int argc = lua_gettop(L);
    if (e == NULL)
        return push_error(L, "ERR redis.call is not allowed here", raise);
    if (argc == 0)
        return push_error(L, "ERR Please specify at least one argument for this redis lib call",
                          raise);
    struct resp_arg small[16];
    struct resp_arg *argv = argc <= 16 ? small : mem_alloc(sizeof(*argv) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        int t = lua_type(L, i + 1);
        if (t == LUA_TNUMBER) {
            /* numbers as Redis writes them (%.17g), kept on the stack as strings */
            char buf[64];
            int n = snprintf(buf, sizeof(buf), "%.17g", (double)lua_tonumber(L, i + 1));
            lua_pushlstring(L, buf, (size_t)n);
            lua_replace(L, i + 1);
        } else if (t != LUA_TSTRING) {
            if (argv != small)
                mem_free(argv);
            return push_error(L, "ERR Lua redis lib command arguments must be strings or integers",
                              raise);
        }
        size_t len;
        argv[i].ptr = (char *)lua_tolstring(L, i + 1, &len);
        argv[i].len = len;
    }
    const struct cmd_def *parent;
    const char *err = NULL;
    const struct cmd_def *d = script_command(argc, argv, &parent, &err);
    if (d != NULL)
        err = script_may_run(e, d, parent, argc, argv);
    if (err != NULL) {
        if (argv != small)
            mem_free(argv);
        return push_error(L, err, raise || e->rerun);
    }
    struct reply r;
    reply_init(&r, (uint8_t)e->resp);
    long long dirty = dispatch_run_script(e->ctx, d, parent, argc, argv, &r, &e->db);
    if (argv != small)
        mem_free(argv);
    if (dirty > 0 || (d->flags & (CMD_PUBSUB | CMD_WRITE)))
        e->effects = true;
    if (dirty > 0 && !e->wrote) {
        e->wrote = true;
        if (e->busy)
            atomic_store(&script_busy_state.wrote, true);
    }
    struct strbuf tmp = { 0 };
    size_t len;
    const char *p = flat_reply(&r, &tmp, &len);
    lua_settop(L, 0);
    bool is_error = len > 2 && p[0] == '-';
    size_t used = 0;
    if (is_error && raise)
        lua_pushlstring(L, p + 1, len - 3); /* its text, the line end left out */
    else
        used = luabox_push_resp(L, p, len);
    strbuf_deinit(&tmp);
    reply_deinit(&r);
    if (is_error && raise) {
        size_t n;
        const char *msg = lua_tolstring(L, -1, &n);
        return raise_lstr(L, msg, n);
    }
    if (used == 0)
        return push_error(L, "ERR the command's reply could not be read", raise);
    return 1;
}

static int l_call(lua_State *L)
{
    return redis_command(L, true);
}

static int l_pcall(lua_State *L)
{
    return redis_command(L, false);
}

/*
 * redis.error_reply(msg), as Redis reads it: the first word is the code when there is a
 * space after it ("MY bad", "-X y"), else the code is ERR ("bad" -> "ERR bad").
 */
static int l_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING)
        return push_error(L, "ERR wrong number or type of arguments", false);
    const char *msg = lua_tostring(L, 1);
    if (msg[0] == '-')
        msg++;
    lua_newtable(L);
    if (strchr(msg, ' ') != NULL)
        lua_pushstring(L, msg);
    else
        lua_pushfstring(L, "ERR %s", msg);
    lua_setfield(L, -2, "err");
    return 1;
}

static int l_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING)
        return push_error(L, "ERR wrong number or type of arguments", false);
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int l_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return push_error(L, "ERR wrong number of arguments", true);
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    script_sha1hex(hex, s != NULL ? s : "", s != NULL ? len : 0);
    lua_pushstring(L, hex);
    return 1;
}

static int l_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return push_error(L, "ERR redis.log() requires two arguments or more.", true);
    if (!lua_isnumber(L, 1))
        return push_error(L, "ERR First argument must be a number (log level).", true);
    int level = (int)lua_tonumber(L, 1);
    if (level < 0 || level > 3)
        return push_error(L, "ERR Invalid debug level.", true);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (s == NULL)
            continue;
        if (i > 2)
            luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    static const int levels[] = { LOG_DEBUG, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };
    log_write(levels[level], "%s", lua_tostring(L, -1));
    return 0;
}

static int l_setresp(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return push_error(L, "ERR redis.setresp() requires one argument.", true);
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return push_error(L, "ERR RESP version must be 2 or 3.", true);
    if (running != NULL)
        running->resp = resp;
    return 0;
}

static int l_set_repl(lua_State *L)
{
    if (lua_gettop(L) != 1)
        return push_error(L, "ERR redis.set_repl() requires two arguments.", true);
    int flags = (int)lua_tonumber(L, 1);
    if (flags & ~3)
        return push_error(L,
                          "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or "
                          "REPL_NONE.",
                          true);
    /* Effects always reach replicas as they run here (there is no AOF to leave out). */
    return 0;
}

static int l_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int l_acl_check_cmd(lua_State *L)
{
    struct script_engine *e = running;
    int argc = lua_gettop(L);
    if (argc == 0)
        return push_error(L, "ERR Please specify at least one argument for this redis lib call",
                          true);
    struct resp_arg argv[64];
    if (argc > 64)
        argc = 64;
    for (int i = 0; i < argc; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i + 1, &len);
        if (s == NULL)
            return push_error(L, "ERR Lua redis lib command arguments must be strings or integers",
                              true);
        argv[i].ptr = (char *)s;
        argv[i].len = len;
    }
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len), *parent = NULL;
    if (d != NULL && d->subs != NULL && argc >= 2) {
        parent = d;
        d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
    }
    if (d == NULL)
        return push_error(L, "ERR Invalid command passed to redis.acl_check_cmd()", true);
    bool ok = true;
    if (e != NULL && e->ctx->client != NULL && e->ctx->client->user != NULL &&
        !cmd_acl_exempt(d, parent)) {
        int pos;
        ok = acl_check_fast(acl_rules_of(e->ctx->client->user), d, argc, argv, &pos) == ACL_OK;
    }
    lua_pushboolean(L, ok);
    return 1;
}

static int l_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int l_debug(lua_State *L)
{
    (void)L;
    return 0;
}

/* "7.0.15" as Redis's number: 0x00MMmmpp */
static int redis_version_num(const char *v)
{
    int major = 0, minor = 0, patch = 0;
    sscanf(v, "%d.%d.%d", &major, &minor, &patch);
    return (major << 16) | (minor << 8) | patch;
}

static void set_int(lua_State *L, const char *name, int v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, name);
}

static void setup_redis(lua_State *L, void *arg)
{
    (void)arg;
    static const luaL_Reg fns[] = {
        { "call", l_call },
        { "pcall", l_pcall },
        { "error_reply", l_error_reply },
        { "status_reply", l_status_reply },
        { "sha1hex", l_sha1hex },
        { "log", l_log },
        { "setresp", l_setresp },
        { "set_repl", l_set_repl },
        { "replicate_commands", l_replicate_commands },
        { "acl_check_cmd", l_acl_check_cmd },
        { "breakpoint", l_breakpoint },
        { "debug", l_debug },
        { NULL, NULL },
    };
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name != NULL; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    set_int(L, "LOG_DEBUG", 0);
    set_int(L, "LOG_VERBOSE", 1);
    set_int(L, "LOG_NOTICE", 2);
    set_int(L, "LOG_WARNING", 3);
    set_int(L, "REPL_NONE", 0);
    set_int(L, "REPL_AOF", 1);
    set_int(L, "REPL_SLAVE", 2);
    set_int(L, "REPL_REPLICA", 2);
    set_int(L, "REPL_ALL", 3);
    lua_pushstring(L, SERVER_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_int(L, "REDIS_VERSION_NUM", redis_version_num(SERVER_REDIS_VERSION));
    lua_setglobal(L, "redis");
}

/* ---------------------------------------------------------------------------
 * The engine
 * ------------------------------------------------------------------------ */

struct script_engine *script_engine(struct cmd_ctx *c)
{
    struct worker *w = c->worker;
    if (w->scripts != NULL)
        return w->scripts;
    lua_State *L = luabox_new(setup_redis, NULL);
    if (L == NULL) {
        reply_error(c->reply, "ERR the scripting engine could not start (out of memory)");
        return NULL;
    }
    struct script_engine *e = mem_calloc(sizeof(*e));
    e->L = L;
    e->w = w;
    e->gen = atomic_load(&cache.gen);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "pollux.scripts");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "pollux.flags");
    w->scripts = e;
    return e;
}

lua_State *script_lua(struct script_engine *e)
{
    return e->L;
}

void script_worker_free(struct worker *w)
{
    if (w->scripts == NULL)
        return;
    luabox_close(w->scripts->L);
    mem_free(w->scripts);
    w->scripts = NULL;
}

/*
 * The error handler: an error becomes {err=..., source=..., line=...} with where the
 * script was (the function that raised it when that is Lua, else its caller).
 */
static int err_handler(lua_State *L)
{
    lua_Debug ar;
    bool have = lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar);
    if (have && strcmp(ar.what, "C") == 0)
        have = lua_getstack(L, 2, &ar) && lua_getinfo(L, "Sl", &ar);
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LASTERR_KEY);
    bool ours = lua_type(L, 1) == LUA_TSTRING && lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "err");
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushliteral(L, "ERR unknown error");
        }
    } else if (ours) {
        lua_pushvalue(L, 1); /* a redis.* error: its code is in it */
    } else {
        const char *s = lua_tostring(L, 1);
        lua_pushfstring(L, "ERR %s", s != NULL ? s : "unknown error");
    }
    lua_setfield(L, -2, "err");
    if (have && ar.currentline >= 0) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, -2, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, -2, "line");
    }
    return 1;
}

static void reply_run_error(lua_State *L, struct reply *r, const char *name)
{
    if (lua_type(L, -1) != LUA_TTABLE) {
        const char *s = lua_tostring(L, -1);
        reply_errorf(r, "ERR %s", s != NULL ? s : "unknown error");
        return;
    }
    lua_getfield(L, -1, "err");
    lua_getfield(L, -2, "source");
    lua_getfield(L, -3, "line");
    const char *err = lua_tostring(L, -3), *src = lua_tostring(L, -2);
    if (src != NULL && lua_isnumber(L, -1))
        reply_errorf(r, "%s script: %s, on %s:%d.", err ? err : "ERR", name, src,
                     (int)lua_tointeger(L, -1));
    else
        reply_errorf(r, "%s", err ? err : "ERR");
    lua_pop(L, 3);
}

static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct script_engine *e = running;
    if (e == NULL)
        return;
    struct worker *w = e->w;
    long long threshold = w->params.srv.busy_reply_threshold;
    if (!e->busy && threshold > 0 &&
        clock_mono_ns() - e->start_ns >= (uint64_t)threshold * 1000000ull) {
        int none = -1;
        if (atomic_compare_exchange_strong(&script_busy_state.worker, &none, (int)w->id)) {
            e->busy = true;
            atomic_store(&script_busy_state.kill, false);
            atomic_store(&script_busy_state.wrote, e->wrote);
            atomic_store(&script_busy_state.function, e->function);
            atomic_store(&script_busy_state.start_ms, clock_real_ms() - threshold);
            pthread_mutex_lock(&busy_info.lock);
            snprintf(busy_info.name, sizeof(busy_info.name), "%s", e->name);
            busy_info.command.len = 0;
            busy_info.argc = e->ctx->argc;
            for (int i = 0; i < e->ctx->argc; i++) {
                size_t n = e->ctx->argv[i].len;
                strbuf_append(&busy_info.command, (const char *)&n, sizeof(n));
                strbuf_append(&busy_info.command, e->ctx->argv[i].ptr, n);
            }
            pthread_mutex_unlock(&busy_info.lock);
            log_warn("Slow script detected: still in execution after %lld milliseconds. You can "
                     "try killing the script using the %s command. Script name is: %s.",
                     threshold, e->function ? "FUNCTION KILL" : "SCRIPT KILL", e->name);
        }
    }
    if (e->busy) {
        worker_busy_pass(w);
        if (atomic_load(&script_busy_state.kill))
            e->killed = true;
    }
    if (atomic_load_explicit(&w->stop, memory_order_relaxed))
        e->killed = true;
    if (e->killed || e->rerun) {
        /* raised again at every hook, so a pcall inside the script cannot swallow it */
        lua_sethook(L, hook, LUA_MASKLINE, 0);
        push_error(L, "ERR Script killed by user with SCRIPT KILL...", true); /* either kill */
    }
}

void script_run(struct script_engine *e, struct cmd_ctx *c, int nargs, uint32_t flags,
                bool readonly, bool function, const char *name)
{
    lua_State *L = e->L;
    struct worker *w = e->w;
    if (e->running) {
        reply_error(c->reply, "ERR a script is already running here");
        lua_settop(L, 0);
        return;
    }
    int fn = lua_gettop(L) - nargs;
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LASTERR_KEY);
    lua_pushcfunction(L, err_handler);
    lua_insert(L, fn);
    e->ctx = c;
    e->held = c->store != NULL ? 1ull << c->shard : w->tx.have;
    e->db = c->db;
    e->resp = 2;
    e->readonly = readonly || (flags & SCRIPT_NO_WRITES);
    e->flags = flags;
    e->wrote = e->busy = e->killed = e->effects = e->rerun = false;
    {
        unsigned n = server.nworkers;
        uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
        struct conn *cl = c->client;
        e->can_rerun =
            (e->held & all) != all && cl != NULL && !(cl->flags & CONN_MASTER) && cl->multi == NULL;
    }
    e->function = function;
    e->name = name;
    e->start_ns = clock_mono_ns();
    e->running = true;
    struct conn *cn = c->client;
    if (cn != NULL)
        cn->flags |= CONN_IN_SCRIPT;
    struct script_engine *outer = running;
    running = e;
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_COUNT);
    int rc = lua_pcall(L, nargs, 1, fn);
    lua_sethook(L, NULL, 0, 0);
    running = outer;
    if (cn != NULL)
        cn->flags &= ~CONN_IN_SCRIPT;
    if (e->busy) {
        atomic_store(&script_busy_state.kill, false);
        atomic_store(&script_busy_state.worker, -1);
    }
    e->running = false;
    if (e->rerun)
        c->rerun_all = true; /* no reply: it runs again */
    else if (rc != 0)
        reply_run_error(L, c->reply, name);
    else
        luabox_reply(L, -1, c->reply, e->resp);
    lua_settop(L, 0);
    if (!function) {
        /* KEYS and ARGV belong to this script only (a function must not see them) */
        lua_pushnil(L);
        luabox_set_global(L, "KEYS");
        lua_pushnil(L);
        luabox_set_global(L, "ARGV");
    }
    e->mem = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

void script_reply_running(struct reply *r)
{
    if (!script_busy() || !atomic_load(&script_busy_state.function)) {
        reply_null(r);
        return;
    }
    pthread_mutex_lock(&busy_info.lock);
    reply_map(r, 3);
    reply_bulk_cstr(r, "name");
    reply_bulk_cstr(r, busy_info.name);
    reply_bulk_cstr(r, "command");
    reply_array(r, busy_info.argc);
    const char *p = busy_info.command.buf;
    for (int i = 0; i < busy_info.argc; i++) {
        size_t n;
        memcpy(&n, p, sizeof(n));
        reply_bulk(r, p + sizeof(n), n);
        p += sizeof(n) + n;
    }
    reply_bulk_cstr(r, "duration_ms");
    reply_int(r, clock_real_ms() - atomic_load(&script_busy_state.start_ms));
    pthread_mutex_unlock(&busy_info.lock);
}

void script_reply_busy(struct reply *r)
{
    reply_error(r, atomic_load(&script_busy_state.function)
                       ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL "
                         "or SHUTDOWN NOSAVE."
                       : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
                         "SHUTDOWN NOSAVE.");
}

/* ---------------------------------------------------------------------------
 * EVAL
 * ------------------------------------------------------------------------ */

int script_flag_bit(const char *name, size_t len)
{
    static const struct {
        const char *name;
        int bit;
    } names[] = {
        { "no-writes", SCRIPT_NO_WRITES },
        { "allow-oom", SCRIPT_ALLOW_OOM },
        { "allow-stale", SCRIPT_ALLOW_STALE },
        { "no-cluster", SCRIPT_NO_CLUSTER },
        { "allow-cross-slot-keys", SCRIPT_ALLOW_CROSS_SLOT },
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strlen(names[i].name) == len && memcmp(names[i].name, name, len) == 0)
            return names[i].bit;
    return -1;
}

/* The shebang of an EVAL body: its flags, or -1 after writing Redis's error. */
static int shebang_flags(const char *body, size_t len, struct reply *r)
{
    if (len < 2 || body[0] != '#' || body[1] != '!')
        return SCRIPT_EVAL_COMPAT;
    const char *nl = memchr(body, '\n', len);
    if (nl == NULL) {
        reply_error(r, "ERR Invalid script shebang");
        return -1;
    }
    size_t end = (size_t)(nl - body);
    size_t i = 0;
    size_t w = 0;
    while (w < end && body[w] != ' ')
        w++;
    if (w != 5 || memcmp(body, "#!lua", 5) != 0) {
        reply_errorf(r, "ERR Unexpected engine in script shebang: %.*s", (int)w, body);
        return -1;
    }
    int flags = 0;
    for (i = w; i < end;) {
        while (i < end && body[i] == ' ')
            i++;
        size_t s = i;
        while (i < end && body[i] != ' ')
            i++;
        if (s == i)
            break;
        if (i - s < 6 || memcmp(body + s, "flags=", 6) != 0) {
            reply_errorf(r, "ERR Unknown lua shebang option: %.*s", (int)(i - s), body + s);
            return -1;
        }
        for (size_t f = s + 6; f < i;) {
            size_t fe = f;
            while (fe < i && body[fe] != ',')
                fe++;
            if (fe > f) {
                int bit = script_flag_bit(body + f, fe - f);
                if (bit < 0) {
                    reply_errorf(r, "ERR Unexpected flag in script shebang: %.*s", (int)(fe - f),
                                 body + f);
                    return -1;
                }
                flags |= bit;
            }
            f = fe + 1;
        }
    }
    return flags;
}

/* A new generation (SCRIPT FLUSH): this worker's compiled scripts go. */
static void engine_refresh(struct script_engine *e)
{
    uint64_t gen = atomic_load_explicit(&cache.gen, memory_order_acquire);
    if (gen == e->gen)
        return;
    e->gen = gen;
    lua_newtable(e->L);
    lua_setfield(e->L, LUA_REGISTRYINDEX, "pollux.scripts");
    lua_newtable(e->L);
    lua_setfield(e->L, LUA_REGISTRYINDEX, "pollux.flags");
    lua_gc(e->L, LUA_GCCOLLECT, 0);
}

/*
 * Compile body as script sha into this worker's cache; leaves nothing on the stack.
 * @return its flags, or -1 after writing the error
 */
static int compile(struct script_engine *e, const char *sha, const char *body, size_t len,
                   struct reply *r)
{
    int flags = shebang_flags(body, len, r);
    if (flags < 0)
        return -1;
    lua_State *L = e->L;
    int rc;
    if (!luabox_is_source(body, len)) {
        reply_error(r, "ERR Error compiling script (new function): precompiled chunks are not "
                       "allowed");
        return -1;
    }
    if (flags & SCRIPT_EVAL_COMPAT) {
        rc = luaL_loadbuffer(L, body, len, "@user_script");
    } else {
        /* the shebang line becomes a comment: line numbers stay the body's */
        char *code = mem_alloc(len);
        memcpy(code, body, len);
        code[0] = code[1] = '-';
        rc = luaL_loadbuffer(L, code, len, "@user_script");
        mem_free(code);
    }
    if (rc != 0) {
        reply_errorf(r, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "pollux.scripts");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 2);
    lua_getfield(L, LUA_REGISTRYINDEX, "pollux.flags");
    lua_pushinteger(L, flags);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    return flags;
}

/* Push the compiled script sha (compiling body if needed). @return its flags, -1: error */
static int find_script(struct script_engine *e, const char *sha, const char *body, size_t len,
                       struct reply *r)
{
    lua_State *L = e->L;
    lua_getfield(L, LUA_REGISTRYINDEX, "pollux.flags");
    lua_getfield(L, -1, sha);
    if (lua_isnumber(L, -1)) {
        int flags = (int)lua_tointeger(L, -1);
        lua_pop(L, 2);
        lua_getfield(L, LUA_REGISTRYINDEX, "pollux.scripts");
        lua_getfield(L, -1, sha);
        lua_remove(L, -2);
        return flags;
    }
    lua_pop(L, 2);
    char *copy = NULL;
    if (body == NULL) {
        copy = cache_copy(sha, &len);
        if (copy == NULL) {
            reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
            return -1;
        }
        body = copy;
    }
    int flags = compile(e, sha, body, len, r);
    if (flags >= 0 && copy == NULL)
        cache_add(sha, body, len);
    mem_free(copy);
    if (flags < 0)
        return -1;
    return find_script(e, sha, NULL, 0, r);
}

static void set_array(lua_State *L, const char *name, const struct resp_arg *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].ptr, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
    luabox_set_global(L, name);
}

/* numkeys at argv[2]: Redis's checks and texts. @return false when refused */
bool script_numkeys(struct cmd_ctx *c, long long *nk)
{
    if (!cmd_arg_ll(c, 2, nk))
        return false;
    if (*nk > c->argc - 3) {
        reply_error(c->reply, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    if (*nk < 0) {
        reply_error(c->reply, "ERR Number of keys can't be negative");
        return false;
    }
    return true;
}

static void eval_generic(struct cmd_ctx *c, bool by_sha, bool readonly)
{
    long long nk;
    if (!script_numkeys(c, &nk))
        return;
    struct script_engine *e = script_engine(c);
    if (e == NULL)
        return;
    engine_refresh(e);
    char sha[41];
    const char *body = NULL;
    size_t len = 0;
    if (by_sha) {
        const struct resp_arg *a = &c->argv[1];
        if (a->len != 40) {
            reply_error(c->reply, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        for (int i = 0; i < 40; i++)
            sha[i] = (char)tolower((unsigned char)a->ptr[i]);
        sha[40] = '\0';
    } else {
        body = c->argv[1].ptr;
        len = c->argv[1].len;
        script_sha1hex(sha, body, len);
    }
    int flags = find_script(e, sha, body, len, c->reply);
    if (flags < 0)
        return;
    lua_State *L = e->L;
    if (readonly && !(flags & (SCRIPT_EVAL_COMPAT | SCRIPT_NO_WRITES))) {
        lua_settop(L, 0);
        reply_error(c->reply, "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    set_array(L, "KEYS", c->argv + 3, (int)nk);
    set_array(L, "ARGV", c->argv + 3 + nk, c->argc - 3 - (int)nk);
    script_run(e, c, 0, (uint32_t)flags, readonly, false, sha);
}

void cmd_eval(struct cmd_ctx *c)
{
    eval_generic(c, false, false);
}

void cmd_evalsha(struct cmd_ctx *c)
{
    eval_generic(c, true, false);
}

void cmd_eval_ro(struct cmd_ctx *c)
{
    eval_generic(c, false, true);
}

void cmd_evalsha_ro(struct cmd_ctx *c)
{
    eval_generic(c, true, true);
}

/* ---------------------------------------------------------------------------
 * SCRIPT
 * ------------------------------------------------------------------------ */

void cmd_script_load(struct cmd_ctx *c)
{
    struct script_engine *e = script_engine(c);
    if (e == NULL)
        return;
    engine_refresh(e);
    char sha[41];
    script_sha1hex(sha, c->argv[2].ptr, c->argv[2].len);
    if (find_script(e, sha, c->argv[2].ptr, c->argv[2].len, c->reply) < 0)
        return;
    lua_settop(e->L, 0);
    reply_bulk(c->reply, sha, 40);
}

void cmd_script_exists(struct cmd_ctx *c)
{
    reply_array(c->reply, c->argc - 2);
    pthread_mutex_lock(&cache.lock);
    for (int i = 2; i < c->argc; i++) {
        char sha[41];
        bool found = false;
        if (c->argv[i].len == 40) {
            for (int k = 0; k < 40; k++)
                sha[k] = (char)tolower((unsigned char)c->argv[i].ptr[k]);
            sha[40] = '\0';
            found = cache_find(sha) != NULL;
        }
        reply_int(c->reply, found);
    }
    pthread_mutex_unlock(&cache.lock);
}

void cmd_script_flush(struct cmd_ctx *c)
{
    if (c->argc > 3 || (c->argc == 3 && !cmd_arg_is(c, 2, "sync") && !cmd_arg_is(c, 2, "async"))) {
        reply_error(c->reply, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    pthread_mutex_lock(&cache.lock);
    cache_clear();
    atomic_fetch_add_explicit(&cache.gen, 1, memory_order_release);
    pthread_mutex_unlock(&cache.lock);
    if (c->worker->scripts != NULL)
        engine_refresh(c->worker->scripts);
    reply_ok(c->reply);
}

/* SCRIPT KILL and FUNCTION KILL. */
void script_kill(struct cmd_ctx *c, bool function)
{
    if (!script_busy()) {
        reply_error(c->reply, "NOTBUSY No scripts in execution right now.");
        return;
    }
    if (atomic_load(&script_busy_state.function) != function) {
        script_reply_busy(c->reply); /* the other kind runs: the command that stops it */
        return;
    }
    if (atomic_load(&script_busy_state.wrote)) {
        reply_error(c->reply, "UNKILLABLE Sorry the script already executed write commands "
                              "against the dataset. You can either wait the script termination "
                              "or kill the server in a hard way using the SHUTDOWN NOSAVE "
                              "command.");
        return;
    }
    atomic_store(&script_busy_state.kill, true);
    reply_ok(c->reply);
}

void cmd_script_kill(struct cmd_ctx *c)
{
    script_kill(c, false);
}

void cmd_script_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

void script_memory(size_t *lua, size_t *cached, size_t *bytes)
{
    *lua = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        const struct script_engine *e = server.workers[i]->scripts;
        if (e != NULL)
            *lua += e->mem;
    }
    pthread_mutex_lock(&cache.lock);
    *cached = cache.count;
    *bytes = cache.bytes;
    pthread_mutex_unlock(&cache.lock);
}
