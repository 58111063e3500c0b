/*
 * Scripting: EVAL, EVALSHA, their _RO forms and SCRIPT (script.c), FUNCTION and FCALL
 * (function.c). Design notes: docs/scripting.md.
 *
 * Each worker has its own Lua state (lua/luabox.h), made when it first runs a script.
 * The script cache and the function libraries are the node's: bodies in one table behind
 * a mutex, with a generation each worker compares before it runs one, so a worker
 * compiles a script the first time it meets it and forgets its compiled copies when the
 * generation moves (SCRIPT FLUSH, FUNCTION LOAD ...). Nothing on the request path takes
 * the mutex once a script is compiled here.
 *
 * A script runs on its client's worker, holding the shards of its declared keys (route
 * `hold`, as WATCH, or a transaction over several); redis.call runs a command there
 * through the dispatcher (dispatch_run_script), refusing keys of shards it does not hold.
 *
 * A script past busy-reply-threshold makes the node busy: every worker answers BUSY to
 * what is not allowed then (script_busy()), and the script's worker keeps serving its
 * connections from the Lua hook until the script ends or SCRIPT KILL / FUNCTION KILL
 * stops it.
 */
#ifndef POLLUX_SCRIPT_H
#define POLLUX_SCRIPT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

struct cmd_ctx;
struct reply;
struct strbuf;
struct worker;

/* Script flags (Redis 7's shebang flags and function flags). */
enum {
    SCRIPT_NO_WRITES = 1u << 0,
    SCRIPT_ALLOW_OOM = 1u << 1,
    SCRIPT_ALLOW_STALE = 1u << 2,
    SCRIPT_NO_CLUSTER = 1u << 3,
    SCRIPT_ALLOW_CROSS_SLOT = 1u << 4,
    SCRIPT_EVAL_COMPAT = 1u << 5, /* an EVAL script without a shebang */
};

/* The node-wide state of a script running long (what every worker reads). */
struct script_busy {
    atomic_int worker;    /* the worker running a script past the threshold, -1: none */
    atomic_bool kill;     /* SCRIPT KILL / FUNCTION KILL asked it to stop */
    atomic_bool wrote;    /* it changed the dataset: it cannot be killed */
    atomic_bool function; /* a function (FUNCTION KILL), else a script (SCRIPT KILL) */
    atomic_int_fast64_t start_ms;
};
extern struct script_busy script_busy_state;

static inline bool script_busy(void)
{
    return atomic_load_explicit(&script_busy_state.worker, memory_order_relaxed) >= 0;
}
/* BUSY, naming the command that stops what runs. */
void script_reply_busy(struct reply *r);

/* The process: the registries. */
void script_setup(void);
void script_teardown(void);
/* Every library gone (FUNCTION FLUSH, a full sync, the end). */
void function_flush(void);
/* The libraries as FUNCTION2 records (DUMP payloads, RDB files). */
struct rdb_buf;
void function_dump(struct rdb_buf *b);
/* An RDB's library (rdb_callbacks.function), checked when a worker first loads it. */
int function_load_rdb(void *arg, const char *code, size_t len);
/* A worker's Lua state, freed at its end. */
void script_worker_free(struct worker *w);

/*
 * INFO memory (every shard held): the workers' Lua states in bytes, the cached scripts and
 * the bytes of their bodies.
 */
void script_memory(size_t *lua, size_t *cached, size_t *bytes);

/* ---- shared by script.c and function.c ------------------------------------------------- */

/* The worker's engine, made on first use. NULL when Lua is out of memory (reply written). */
struct script_engine *script_engine(struct cmd_ctx *c);
lua_State *script_lua(struct script_engine *e);
/*
 * Run the function at the top of the stack with `nargs` arguments below it for the
 * command in c (KEYS / ARGV were set by the caller), write its result or error to the
 * reply. `name` is what errors name (the script's sha, or the function's name).
 */
void script_run(struct script_engine *e, struct cmd_ctx *c, int nargs, uint32_t flags,
                bool readonly, bool function, const char *name);
/* Parse the shebang flags `flags=a,b` list (FUNCTION flags use the same names). */
int script_flag_bit(const char *name, size_t len);
/* numkeys at argv[2] of EVAL and FCALL: Redis's checks. @return false when refused (replied) */
bool script_numkeys(struct cmd_ctx *c, long long *nk);
/* SCRIPT KILL (function false) and FUNCTION KILL. */
void script_kill(struct cmd_ctx *c, bool function);
/* FUNCTION STATS' running_script: what runs past the threshold, or null. */
void script_reply_running(struct reply *r);
/* sha1 of p in 40 lower-case hex digits and a terminator. */
void script_sha1hex(char out[41], const void *p, size_t n);

#endif
