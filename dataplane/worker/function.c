/*
 * FUNCTION and FCALL: libraries of Lua functions, Redis 7.0's; see script.h.
 *
 * The libraries are the node's (code, and what FUNCTION LIST shows) behind a mutex with a
 * generation. A worker loads every library into its own Lua state when it first calls a
 * function after the generation moved, so each worker has its own copy of a library's
 * local variables (docs/scripting.md).
 */
#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "base/mem.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "lua/luabox.h"
#include "replication/rdb.h"
#include "worker/process.h"
#include "worker/script.h"
#include "worker/worker.h"

/* A registered function, as FUNCTION LIST shows it. */
struct fn_def {
    char *name;
    char *desc; /* NULL: none */
    uint32_t flags;
};

struct fn_lib {
    struct fn_lib *next;
    char *name;
    char *code;
    size_t len;
    struct fn_def *fns;
    unsigned nfns;
};

static struct {
    pthread_mutex_t lock;
    struct fn_lib *libs; /* in load order */
    atomic_uint_fast64_t gen;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const char FUNCS_KEY[] = "pollux.functions"; /* lower-case name -> {cb, flags, name} */
static const char LOADING_KEY[] = "pollux.loading"; /* the library being loaded: its functions */
static const char LOADENV_KEY[] = "pollux.loadenv"; /* globals while a library loads */
static const char FGEN_KEY[] = "pollux.fgen";

static void lib_free(struct fn_lib *l)
{
    for (unsigned i = 0; i < l->nfns; i++) {
        mem_free(l->fns[i].name);
        mem_free(l->fns[i].desc);
    }
    mem_free(l->fns);
    mem_free(l->name);
    mem_free(l->code);
    mem_free(l);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = mem_alloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---------------------------------------------------------------------------
 * Loading a library into a Lua state
 * ------------------------------------------------------------------------ */

/* Letters, digits and underscores, at least one. */
static bool valid_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

static const char NAME_RULE[] = "ERR Library names can only contain letters, numbers, or "
                                "underscores(_) and must be at least one character long";

/* Raise msg as redis.* errors are raised (script.c): the string, known by its registry copy. */
static int raise_msg(lua_State *L, const char *msg)
{
    lua_pushstring(L, msg);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "pollux.lasterr");
    return lua_error(L);
}

/* Record one function of the library being loaded (name at 1 stays on the stack). */
static int add_function(lua_State *L, int name, int cb, uint32_t flags, int desc)
{
    size_t n;
    const char *s = lua_tolstring(L, name, &n);
    if (!valid_name(s, n))
        return raise_msg(L, NAME_RULE);
    lua_getfield(L, LUA_REGISTRYINDEX, LOADING_KEY);
    char lower[256];
    size_t ln = n < sizeof(lower) - 1 ? n : sizeof(lower) - 1;
    for (size_t i = 0; i < ln; i++)
        lower[i] = (char)tolower((unsigned char)s[i]);
    lower[ln] = '\0';
    lua_getfield(L, -1, lower);
    if (!lua_isnil(L, -1))
        return raise_msg(L, "ERR Function already exists in the library");
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, cb);
    lua_setfield(L, -2, "cb");
    lua_pushinteger(L, (lua_Integer)flags);
    lua_setfield(L, -2, "flags");
    lua_pushvalue(L, name);
    lua_setfield(L, -2, "name");
    if (desc != 0) {
        lua_pushvalue(L, desc);
        lua_setfield(L, -2, "desc");
    }
    lua_setfield(L, -2, lower);
    lua_pop(L, 1);
    return 0;
}

/* redis.register_function(name, callback) / redis.register_function{...} */
static int l_register_function(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, LOADING_KEY), lua_isnil(L, -1))
        return raise_msg(L, "ERR redis.register_function can only be called on FUNCTION LOAD "
                            "command");
    lua_pop(L, 1);
    int argc = lua_gettop(L);
    if (argc == 2) {
        if (lua_type(L, 1) != LUA_TSTRING)
            return raise_msg(L, "ERR first argument to redis.register_function must be a string");
        if (lua_type(L, 2) != LUA_TFUNCTION)
            return raise_msg(L, "ERR second argument to redis.register_function must be a "
                                "function");
        return add_function(L, 1, 2, 0, 0);
    }
    if (argc != 1)
        return raise_msg(L, "ERR wrong number of arguments to redis.register_function");
    if (lua_type(L, 1) != LUA_TTABLE)
        return raise_msg(L, "ERR calling redis.register_function with a single argument is only "
                            "applicable to Lua table (representing named arguments).");
    /* Redis's checks, one key at a time, then the fields */
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (strcmp(k, "flags") == 0 && lua_type(L, -1) != LUA_TTABLE)
            return raise_msg(L, "ERR flags argument to redis.register_function must be a table "
                                "representing function flags");
        if (strcmp(k, "function_name") != 0 && strcmp(k, "callback") != 0 &&
            strcmp(k, "description") != 0 && strcmp(k, "flags") != 0)
            return raise_msg(L, "ERR unknown argument given to redis.register_function");
        lua_pop(L, 1);
    }
    uint32_t flags = 0;
    lua_getfield(L, 1, "flags");
    if (lua_istable(L, -1)) {
        for (int i = 1;; i++) {
            lua_rawgeti(L, -1, i);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            size_t fl;
            const char *f = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &fl) : NULL;
            int bit = f != NULL ? script_flag_bit(f, fl) : -1;
            if (bit < 0)
                return raise_msg(L, "ERR unknown flag given");
            flags |= (uint32_t)bit;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "function_name"); /* 2 */
    lua_getfield(L, 1, "callback");      /* 3 */
    lua_getfield(L, 1, "description");   /* 4 */
    int name = lua_type(L, 2) == LUA_TSTRING ? 2 : 0;
    int cb = lua_type(L, 3) == LUA_TFUNCTION ? 3 : 0;
    int desc = lua_type(L, 4) == LUA_TSTRING ? 4 : 0;
    if (name == 0)
        return raise_msg(L, "ERR redis.register_function must get a function name argument");
    if (cb == 0)
        return raise_msg(L, "ERR redis.register_function must get a callback argument");
    return add_function(L, name, cb, flags, desc);
}

/* The globals a library sees while it loads: a reduced redis, nothing else (Redis 7.0's). */
static void make_load_env(lua_State *L)
{
    lua_newtable(L); /* the real load globals */
    lua_newtable(L); /* redis, reduced */
    lua_pushcfunction(L, l_register_function);
    lua_setfield(L, -2, "register_function");
    lua_getfield(L, LUA_GLOBALSINDEX, "redis");
    static const char *const copied[] = {
        "log",         "LOG_DEBUG",     "LOG_VERBOSE",      "LOG_NOTICE",
        "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"
    };
    for (size_t i = 0; i < ARRAY_SIZE(copied); i++) {
        lua_getfield(L, -1, copied[i]);
        lua_setfield(L, -3, copied[i]);
    }
    lua_pop(L, 1);
    /* a field it lacks is an error, as a missing global */
    luabox_protect_strict(L);
    lua_setfield(L, -2, "redis");
    luabox_protect_strict(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADENV_KEY);
}

/*
 * Compile and run a library's code (its first line already parsed) in L. On success its
 * functions are left in a table at the top of the stack (lower-case name -> {cb, flags,
 * name, desc}); else err holds Redis's message.
 */
static bool load_code(lua_State *L, const char *code, size_t len, char *err, size_t errcap)
{
    int base = lua_gettop(L);
    char *body = dup_n(code, len);
    body[0] = body[1] = '-'; /* the shebang line: a comment, line numbers stay */
    int rc = luabox_is_source(body, len) ? luaL_loadbuffer(L, body, len, "@user_function") : -1;
    mem_free(body);
    if (rc != 0) {
        snprintf(err, errcap, "ERR Error compiling function: %s",
                 rc == -1 ? "precompiled chunks are not allowed" : lua_tostring(L, -1));
        lua_settop(L, base);
        return false;
    }
    /* the library's own globals: read-only, reading the load globals, then everything */
    lua_newtable(L);
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LOADENV_KEY);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        make_load_env(L);
        lua_getfield(L, LUA_REGISTRYINDEX, LOADENV_KEY);
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luabox_readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushvalue(L, -1);
    lua_insert(L, -4); /* the metatable, kept below the chunk */
    lua_setmetatable(L, -2);
    lua_setfenv(L, -2);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADING_KEY);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "pollux.lasterr");
    rc = lua_pcall(L, 0, 0, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, LOADING_KEY);
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADING_KEY);
    if (rc != 0) {
        lua_getfield(L, LUA_REGISTRYINDEX, "pollux.lasterr");
        bool ours = lua_rawequal(L, -1, -3);
        lua_pop(L, 1);
        const char *m = lua_tostring(L, -2);
        snprintf(err, errcap, "ERR Error registering functions: %s%s", ours ? "" : "ERR ",
                 m != NULL ? m : "unknown error");
        lua_settop(L, base);
        return false;
    }
    lua_pushnil(L);
    if (!lua_next(L, -2)) {
        snprintf(err, errcap, "ERR No functions registered");
        lua_settop(L, base);
        return false;
    }
    lua_pop(L, 2);
    /* from now on the functions see every global */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_setfield(L, -3, "__index");
    lua_remove(L, -2);
    return true;
}

/*
 * The first line: "#!<engine> name=<library>". @return false with Redis's message in err
 */
static bool parse_metadata(const char *code, size_t len, const char **name, size_t *nlen, char *err,
                           size_t errcap)
{
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errcap, "ERR Missing library metadata");
        return false;
    }
    const char *nl = memchr(code, '\n', len);
    size_t end = nl != NULL ? (size_t)(nl - code) : len;
    size_t i = 2, s = 2;
    while (i < end && code[i] != ' ')
        i++;
    if (i - s != 3 || strncasecmp(code + s, "lua", 3) != 0) {
        snprintf(err, errcap, "ERR Engine '%.*s' not found", (int)(i - s), code + s);
        return false;
    }
    *name = NULL;
    while (i < end) {
        while (i < end && code[i] == ' ')
            i++;
        s = i;
        while (i < end && code[i] != ' ')
            i++;
        if (i == s)
            break;
        if (i - s >= 5 && strncasecmp(code + s, "name=", 5) == 0) {
            if (*name != NULL) {
                snprintf(err, errcap,
                         "ERR Invalid metadata value, name argument was given multiple times");
                return false;
            }
            *name = code + s + 5;
            *nlen = i - s - 5;
        } else {
            snprintf(err, errcap, "ERR Invalid metadata value given: %.*s", (int)(i - s), code + s);
            return false;
        }
    }
    if (*name == NULL) {
        snprintf(err, errcap, "ERR Library name was not given");
        return false;
    }
    if (!valid_name(*name, *nlen)) {
        snprintf(err, errcap, "%s", NAME_RULE);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------
 * The registry
 * ------------------------------------------------------------------------ */

/* Under the lock. */
static struct fn_lib *lib_find(const char *name, size_t n)
{
    for (struct fn_lib *l = reg.libs; l != NULL; l = l->next)
        if (strlen(l->name) == n && memcmp(l->name, name, n) == 0)
            return l;
    return NULL;
}

/* Under the lock: a function of another library than `except` named like one of new's. */
static const char *clash(const struct fn_lib *new, const struct fn_lib *except,
                         const struct fn_lib *among)
{
    for (unsigned i = 0; i < new->nfns; i++)
        for (const struct fn_lib *l = among; l != NULL; l = l->next)
            if (l != except && strcmp(l->name, new->name) != 0)
                for (unsigned k = 0; k < l->nfns; k++)
                    if (strcasecmp(l->fns[k].name, new->fns[i].name) == 0)
                        return new->fns[i].name;
    return NULL;
}

/*
 * Validate a library in this worker's state and build its record.
 * @return the record, or NULL with the error in err
 */
static struct fn_lib *lib_build(struct script_engine *e, const char *code, size_t len, char *err,
                                size_t errcap)
{
    const char *name;
    size_t nlen;
    if (!parse_metadata(code, len, &name, &nlen, err, errcap))
        return NULL;
    lua_State *L = script_lua(e);
    lua_settop(L, 0);
    if (!load_code(L, code, len, err, errcap))
        return NULL;
    struct fn_lib *l = mem_calloc(sizeof(*l));
    l->name = dup_n(name, nlen);
    l->code = dup_n(code, len);
    l->len = len;
    unsigned n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    l->fns = mem_calloc(sizeof(*l->fns) * n);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        struct fn_def *f = &l->fns[l->nfns++];
        lua_getfield(L, -1, "name");
        f->name = dup_n(lua_tostring(L, -1), lua_objlen(L, -1));
        lua_getfield(L, -2, "flags");
        f->flags = (uint32_t)lua_tointeger(L, -1);
        lua_getfield(L, -3, "desc");
        if (lua_type(L, -1) == LUA_TSTRING)
            f->desc = dup_n(lua_tostring(L, -1), lua_objlen(L, -1));
        lua_pop(L, 4);
    }
    lua_settop(L, 0);
    return l;
}

enum restore_policy { POLICY_APPEND, POLICY_REPLACE, POLICY_FLUSH };

/*
 * Add libraries (a list) to the registry under the policy, all or nothing.
 * @return NULL, or the error (the libraries are then freed)
 */
static const char *lib_commit(struct fn_lib *add, enum restore_policy policy, bool quote, char *err,
                              size_t errcap)
{
    pthread_mutex_lock(&reg.lock);
    struct fn_lib *old = policy == POLICY_FLUSH ? NULL : reg.libs;
    for (struct fn_lib *l = add; l != NULL; l = l->next) {
        struct fn_lib *same = NULL;
        for (struct fn_lib *o = old; o != NULL; o = o->next)
            if (strcmp(o->name, l->name) == 0)
                same = o;
        if (same != NULL && policy == POLICY_APPEND) {
            /* LOAD quotes the name, RESTORE does not (Redis's two texts) */
            snprintf(err, errcap,
                     quote ? "ERR Library '%s' already exists" : "ERR Library %s already exists",
                     l->name);
            goto fail;
        }
        const char *f = clash(l, same, old);
        if (f == NULL)
            for (struct fn_lib *o = add; o != l && f == NULL; o = o->next)
                f = clash(l, NULL, o);
        if (f != NULL) {
            snprintf(err, errcap, "ERR Function %s already exists", f);
            goto fail;
        }
    }
    /* apply: drop what is replaced (or everything), append the new ones in order */
    struct fn_lib **pp = &reg.libs;
    while (*pp != NULL) {
        struct fn_lib *o = *pp;
        bool drop = policy == POLICY_FLUSH;
        for (struct fn_lib *l = add; l != NULL && !drop; l = l->next)
            drop = strcmp(o->name, l->name) == 0;
        if (drop) {
            *pp = o->next;
            lib_free(o);
        } else {
            pp = &o->next;
        }
    }
    *pp = add;
    atomic_fetch_add_explicit(&reg.gen, 1, memory_order_release);
    pthread_mutex_unlock(&reg.lock);
    return NULL;
fail:
    pthread_mutex_unlock(&reg.lock);
    while (add != NULL) {
        struct fn_lib *next = add->next;
        lib_free(add);
        add = next;
    }
    return err;
}

/* This worker's functions, loaded again when the libraries changed. */
static void functions_refresh(struct script_engine *e)
{
    lua_State *L = script_lua(e);
    uint64_t gen = atomic_load_explicit(&reg.gen, memory_order_acquire);
    lua_getfield(L, LUA_REGISTRYINDEX, FGEN_KEY);
    bool current = lua_isnumber(L, -1) && (uint64_t)lua_tonumber(L, -1) == gen;
    lua_pop(L, 1);
    if (current)
        return;
    /* the libraries' code, copied under the lock */
    struct copy {
        char *code;
        size_t len;
    } *copies = NULL;
    size_t n = 0;
    pthread_mutex_lock(&reg.lock);
    gen = atomic_load(&reg.gen);
    for (struct fn_lib *l = reg.libs; l != NULL; l = l->next)
        n++;
    copies = mem_alloc(sizeof(*copies) * (n ? n : 1));
    n = 0;
    for (struct fn_lib *l = reg.libs; l != NULL; l = l->next) {
        copies[n].code = dup_n(l->code, l->len);
        copies[n++].len = l->len;
    }
    pthread_mutex_unlock(&reg.lock);
    lua_settop(L, 0);
    lua_newtable(L);
    int all = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        char err[512];
        if (load_code(L, copies[i].code, copies[i].len, err, sizeof(err))) {
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_settable(L, all);
            }
            lua_pop(L, 1);
        }
        mem_free(copies[i].code);
    }
    mem_free(copies);
    lua_setfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
    lua_pushnumber(L, (lua_Number)gen);
    lua_setfield(L, LUA_REGISTRYINDEX, FGEN_KEY);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
}

/* ---------------------------------------------------------------------------
 * FCALL
 * ------------------------------------------------------------------------ */

static void fcall_generic(struct cmd_ctx *c, bool readonly)
{
    struct script_engine *e = script_engine(c);
    if (e == NULL)
        return;
    functions_refresh(e);
    lua_State *L = script_lua(e);
    const struct resp_arg *fname = &c->argv[1];
    char lower[256];
    bool found = false;
    if (fname->len < sizeof(lower)) {
        for (size_t i = 0; i < fname->len; i++)
            lower[i] = (char)tolower((unsigned char)fname->ptr[i]);
        lower[fname->len] = '\0';
        lua_getfield(L, LUA_REGISTRYINDEX, FUNCS_KEY);
        lua_getfield(L, -1, lower);
        found = lua_istable(L, -1);
    }
    if (!found) {
        lua_settop(L, 0);
        reply_error(c->reply, "ERR Function not found");
        return;
    }
    long long nk;
    if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &nk)) {
        lua_settop(L, 0);
        reply_error(c->reply, "ERR Bad number of keys provided");
        return;
    }
    if (!script_numkeys(c, &nk)) {
        lua_settop(L, 0);
        return;
    }
    lua_getfield(L, -1, "flags");
    uint32_t flags = (uint32_t)lua_tointeger(L, -1);
    lua_getfield(L, -2, "name");
    lua_getfield(L, -3, "cb");
    lua_remove(L, 1);
    lua_remove(L, 1);
    lua_remove(L, 1);
    /* stack: name, cb */
    if (readonly && !(flags & SCRIPT_NO_WRITES)) {
        lua_settop(L, 0);
        reply_error(c->reply, "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    char name[256];
    snprintf(name, sizeof(name), "%s", lua_tostring(L, 1));
    lua_remove(L, 1);
    lua_createtable(L, (int)nk, 0);
    for (int i = 0; i < nk; i++) {
        lua_pushlstring(L, c->argv[3 + i].ptr, c->argv[3 + i].len);
        lua_rawseti(L, -2, i + 1);
    }
    int nargs = c->argc - 3 - (int)nk;
    lua_createtable(L, nargs, 0);
    for (int i = 0; i < nargs; i++) {
        lua_pushlstring(L, c->argv[3 + nk + i].ptr, c->argv[3 + nk + i].len);
        lua_rawseti(L, -2, i + 1);
    }
    script_run(e, c, 2, flags, readonly, true, name);
}

void cmd_fcall(struct cmd_ctx *c)
{
    fcall_generic(c, false);
}

void cmd_fcall_ro(struct cmd_ctx *c)
{
    fcall_generic(c, true);
}

/* ---------------------------------------------------------------------------
 * FUNCTION
 * ------------------------------------------------------------------------ */

void cmd_function_load(struct cmd_ctx *c)
{
    bool replace = false;
    int i = 2;
    for (; i < c->argc - 1; i++) {
        if (cmd_arg_is(c, i, "replace")) {
            replace = true;
        } else {
            reply_errorf(c->reply, "ERR Unknown option given: %.*s", (int)c->argv[i].len,
                         c->argv[i].ptr);
            return;
        }
    }
    const struct resp_arg *code = &c->argv[c->argc - 1];
    char err[1024];
    const char *name;
    size_t nlen;
    if (!parse_metadata(code->ptr, code->len, &name, &nlen, err, sizeof(err))) {
        reply_error(c->reply, err);
        return;
    }
    if (!replace) {
        pthread_mutex_lock(&reg.lock);
        bool exists = lib_find(name, nlen) != NULL;
        pthread_mutex_unlock(&reg.lock);
        if (exists) {
            reply_errorf(c->reply, "ERR Library '%.*s' already exists", (int)nlen, name);
            return;
        }
    }
    struct script_engine *e = script_engine(c);
    if (e == NULL)
        return;
    struct fn_lib *l = lib_build(e, code->ptr, code->len, err, sizeof(err));
    if (l == NULL ||
        lib_commit(l, replace ? POLICY_REPLACE : POLICY_APPEND, true, err, sizeof(err))) {
        reply_error(c->reply, err);
        return;
    }
    reply_bulk(c->reply, name, nlen);
    c->dirty++;
}

void cmd_function_delete(struct cmd_ctx *c)
{
    const struct resp_arg *name = &c->argv[2];
    pthread_mutex_lock(&reg.lock);
    struct fn_lib **pp = &reg.libs;
    while (*pp != NULL &&
           !(strlen((*pp)->name) == name->len && memcmp((*pp)->name, name->ptr, name->len) == 0))
        pp = &(*pp)->next;
    struct fn_lib *l = *pp;
    if (l != NULL) {
        *pp = l->next;
        lib_free(l);
        atomic_fetch_add_explicit(&reg.gen, 1, memory_order_release);
    }
    pthread_mutex_unlock(&reg.lock);
    if (l == NULL) {
        reply_error(c->reply, "ERR Library not found");
        return;
    }
    reply_ok(c->reply);
    c->dirty++;
}

void function_flush(void)
{
    pthread_mutex_lock(&reg.lock);
    while (reg.libs != NULL) {
        struct fn_lib *next = reg.libs->next;
        lib_free(reg.libs);
        reg.libs = next;
    }
    atomic_fetch_add_explicit(&reg.gen, 1, memory_order_release);
    pthread_mutex_unlock(&reg.lock);
}

void cmd_function_flush(struct cmd_ctx *c)
{
    if (c->argc > 3) {
        reply_error(c->reply, "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. "
                              "Try FUNCTION HELP.");
        return;
    }
    if (c->argc == 3 && !cmd_arg_is(c, 2, "sync") && !cmd_arg_is(c, 2, "async")) {
        reply_error(c->reply, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    function_flush();
    reply_ok(c->reply);
    c->force_propagate = true;
}

/* One library's FUNCTION LIST entry. */
static void list_one(struct reply *r, const struct fn_lib *l, bool code)
{
    reply_map(r, code ? 4 : 3);
    reply_bulk_cstr(r, "library_name");
    reply_bulk_cstr(r, l->name);
    reply_bulk_cstr(r, "engine");
    reply_bulk_cstr(r, "LUA");
    reply_bulk_cstr(r, "functions");
    reply_array(r, l->nfns);
    static const uint32_t order[] = { SCRIPT_NO_WRITES, SCRIPT_ALLOW_OOM, SCRIPT_ALLOW_STALE,
                                      SCRIPT_NO_CLUSTER, SCRIPT_ALLOW_CROSS_SLOT };
    static const char *const names[] = { "no-writes", "allow-oom", "allow-stale", "no-cluster",
                                         "allow-cross-slot-keys" };
    for (unsigned i = 0; i < l->nfns; i++) {
        const struct fn_def *f = &l->fns[i];
        reply_map(r, 3);
        reply_bulk_cstr(r, "name");
        reply_bulk_cstr(r, f->name);
        reply_bulk_cstr(r, "description");
        if (f->desc != NULL)
            reply_bulk_cstr(r, f->desc);
        else
            reply_null(r);
        reply_bulk_cstr(r, "flags");
        reply_set(r, __builtin_popcount(f->flags));
        for (size_t k = 0; k < ARRAY_SIZE(order); k++)
            if (f->flags & order[k])
                reply_bulk_cstr(r, names[k]);
    }
    if (code) {
        reply_bulk_cstr(r, "library_code");
        reply_bulk(r, l->code, l->len);
    }
}

void cmd_function_list(struct cmd_ctx *c)
{
    bool code = false;
    const struct resp_arg *pattern = NULL;
    for (int i = 2; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "withcode") && !code) {
            code = true;
        } else if (cmd_arg_is(c, i, "libraryname") && pattern == NULL) {
            if (i + 1 >= c->argc) {
                reply_error(c->reply, "ERR library name argument was not given");
                return;
            }
            pattern = &c->argv[++i];
        } else {
            reply_errorf(c->reply, "ERR Unknown argument %.*s", (int)c->argv[i].len,
                         c->argv[i].ptr);
            return;
        }
    }
    pthread_mutex_lock(&reg.lock);
    long long n = 0;
    for (struct fn_lib *l = reg.libs; l != NULL; l = l->next)
        if (pattern == NULL ||
            util_glob_match(pattern->ptr, pattern->len, l->name, strlen(l->name), true))
            n++;
    reply_array(c->reply, n);
    for (struct fn_lib *l = reg.libs; l != NULL; l = l->next)
        if (pattern == NULL ||
            util_glob_match(pattern->ptr, pattern->len, l->name, strlen(l->name), true))
            list_one(c->reply, l, code);
    pthread_mutex_unlock(&reg.lock);
}

void cmd_function_stats(struct cmd_ctx *c)
{
    if (script_busy() && !atomic_load(&script_busy_state.function)) {
        script_reply_busy(c->reply);
        return;
    }
    reply_map(c->reply, 2);
    reply_bulk_cstr(c->reply, "running_script");
    script_reply_running(c->reply);
    reply_bulk_cstr(c->reply, "engines");
    reply_map(c->reply, 1);
    reply_bulk_cstr(c->reply, "LUA");
    long long libs = 0, fns = 0;
    pthread_mutex_lock(&reg.lock);
    for (struct fn_lib *l = reg.libs; l != NULL; l = l->next) {
        libs++;
        fns += l->nfns;
    }
    pthread_mutex_unlock(&reg.lock);
    reply_map(c->reply, 2);
    reply_bulk_cstr(c->reply, "libraries_count");
    reply_int(c->reply, libs);
    reply_bulk_cstr(c->reply, "functions_count");
    reply_int(c->reply, fns);
}

void cmd_function_kill(struct cmd_ctx *c)
{
    script_kill(c, true);
}

void function_dump(struct rdb_buf *b)
{
    pthread_mutex_lock(&reg.lock);
    for (struct fn_lib *l = reg.libs; l != NULL; l = l->next)
        rdb_encode_function(b, l->code, l->len, NULL);
    pthread_mutex_unlock(&reg.lock);
}

void cmd_function_dump(struct cmd_ctx *c)
{
    struct rdb_buf b;
    rdb_buf_init(&b);
    function_dump(&b);
    rdb_encode_dump_trailer(&b, 0);
    reply_bulk(c->reply, b.p, b.len);
    rdb_buf_deinit(&b);
}

/* Libraries read back from a payload or an RDB, validated, in a list. */
struct restore {
    struct script_engine *e;
    struct fn_lib *head, **tail;
    char err[1024];
};

static int restore_one(void *arg, const char *code, size_t len)
{
    struct restore *r = arg;
    struct fn_lib *l = lib_build(r->e, code, len, r->err, sizeof(r->err));
    if (l == NULL)
        return -1;
    *r->tail = l;
    r->tail = &l->next;
    return 0;
}

static void restore_free(struct restore *r)
{
    while (r->head != NULL) {
        struct fn_lib *next = r->head->next;
        lib_free(r->head);
        r->head = next;
    }
}

void cmd_function_restore(struct cmd_ctx *c)
{
    enum restore_policy policy = POLICY_APPEND;
    if (c->argc > 4) {
        reply_error(c->reply, "ERR unknown subcommand or wrong number of arguments for "
                              "'RESTORE'. Try FUNCTION HELP.");
        return;
    }
    if (c->argc == 4) {
        if (cmd_arg_is(c, 3, "flush"))
            policy = POLICY_FLUSH;
        else if (cmd_arg_is(c, 3, "append"))
            policy = POLICY_APPEND;
        else if (cmd_arg_is(c, 3, "replace"))
            policy = POLICY_REPLACE;
        else {
            reply_error(c->reply, "ERR Wrong restore policy given, value should be either "
                                  "FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    const struct resp_arg *payload = &c->argv[2];
    if (rdb_dump_check(payload->ptr, payload->len) < 0) {
        reply_error(c->reply, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    struct restore r = { .e = script_engine(c) };
    if (r.e == NULL)
        return;
    r.tail = &r.head;
    /* the records between a header and an EOF without checksum: a file for the parser */
    struct rdb_callbacks cb = { .function = restore_one };
    struct rdb_parser p;
    rdb_parser_init(&p, &cb, &r, NULL);
    static const char header[] = "REDIS0010";
    static const char eof[9] = { (char)0xFF };
    int rc = rdb_parser_feed(&p, header, 9, NULL);
    if (rc == RDB_OK)
        rc = rdb_parser_feed(&p, payload->ptr, payload->len - RDB_DUMP_TRAILER, NULL);
    if (rc == RDB_OK)
        rc = rdb_parser_feed(&p, eof, sizeof(eof), NULL);
    bool ok = rc == RDB_DONE && p.keys == 0;
    rdb_parser_deinit(&p);
    if (!ok) {
        restore_free(&r);
        if (rc == RDB_ECALLBACK)
            reply_error(c->reply, r.err);
        else
            reply_error(c->reply, p.keys != 0 ? "ERR given type is not a function"
                                              : "ERR payload is not a list of functions");
        return;
    }
    if (lib_commit(r.head, policy, false, r.err, sizeof(r.err)) != NULL) {
        reply_error(c->reply, r.err);
        return;
    }
    reply_ok(c->reply);
    c->force_propagate = true;
}

int function_load_rdb(void *arg, const char *code, size_t len)
{
    (void)arg;
    /* at start, before any worker: loaded by the worker's engine later; checked here */
    char err[1024];
    const char *name;
    size_t nlen;
    if (!parse_metadata(code, len, &name, &nlen, err, sizeof(err)))
        return -1;
    pthread_mutex_lock(&reg.lock);
    struct fn_lib **pp = &reg.libs;
    while (*pp != NULL)
        pp = &(*pp)->next;
    struct fn_lib *l = mem_calloc(sizeof(*l));
    l->name = dup_n(name, nlen);
    l->code = dup_n(code, len);
    l->len = len;
    *pp = l;
    atomic_fetch_add_explicit(&reg.gen, 1, memory_order_release);
    pthread_mutex_unlock(&reg.lock);
    return 0;
}

void cmd_function_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored "
        "using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
        "replace the old",
        "      libraries with the new libraries (notice that even on this option there is a "
        "chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}
