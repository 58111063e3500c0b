/*
 * The Lua side of scripting, below the worker: a sandboxed Lua 5.1 state as
 * Redis 7 gives scripts, and the conversions between RESP and Lua values.
 *
 * The sandbox. Debian's liblua5.1 cannot flag a table read-only inside the
 * VM, so each library table (string, table, math, redis, cjson ...) and the
 * globals are reached through an empty proxy whose metatable reads the real
 * table and refuses writes. The functions that bypass metatables (rawset,
 * rawget, next, pairs, ipairs, setmetatable, getmetatable, table.insert,
 * table.remove, table.sort) see through or refuse proxies, and loadstring and
 * load refuse precompiled chunks. Reading a global that does not exist is an
 * error, as in Redis. See docs/scripting.md.
 */
#ifndef POLLUX_LUA_LUABOX_H
#define POLLUX_LUA_LUABOX_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

struct reply;

/*
 * A new state with Redis's libraries: base (less print, dofile, loadfile,
 * setfenv, getfenv, newproxy), coroutine, table, string, math, cjson, bit,
 * struct and cmsgpack. `setup` adds what the caller needs as globals (the
 * redis table) before everything is made read-only. NULL when out of memory.
 */
lua_State *luabox_new(void (*setup)(lua_State *L, void *arg), void *arg);
void luabox_close(lua_State *L);

/* Whether the value at idx is a read-only (proxied) table. */
bool luabox_readonly(lua_State *L, int idx);
/* Push a read-only proxy of the table at idx (the table itself stays writable). */
void luabox_protect(lua_State *L, int idx);
/* Metamethods: __newindex refusing a write ("Attempt to modify a readonly table"), and
 * __index of a table whose missing names are errors (Redis's nonexistent-global text). */
int luabox_readonly_error(lua_State *L);
int luabox_missing_global(lua_State *L);
/* The table at the top: missing names become errors, and it is replaced by its proxy. */
void luabox_protect_strict(lua_State *L);
/* Set a global of the real globals table (KEYS, ARGV): value at the top, popped. */
void luabox_set_global(lua_State *L, const char *name);
/* Whether a chunk is Lua source (a precompiled chunk is refused). */
static inline bool luabox_is_source(const char *p, size_t n)
{
    return n == 0 || p[0] != '\033';
}

/*
 * RESP → Lua, as redis.call hands a reply to a script: integer → number, bulk →
 * string, null → false (RESP2) or nil (RESP3 null), status → {ok=...}, error →
 * {err=...}, array → table; RESP3 map → {map={...}}, set → {set={...}}, double →
 * {double=n}, boolean, big number → {big_number="..."}, verbatim → {verbatim_string=
 * {format=..., string=...}}. Pushes one value.
 * @return the bytes it used, or 0 when p does not hold a whole value (nothing pushed)
 */
size_t luabox_push_resp(lua_State *L, const char *p, size_t n);

/*
 * Lua → RESP, as a script's return value reaches the client: number → integer
 * (truncated), string → bulk, true → 1 (or RESP3 true when the script speaks
 * RESP3), false and nil → null, {err=...} → error, {ok=...} → status, {double=},
 * {map=}, {set=}, {big_number=}, {verbatim_string=}, other tables → array up to
 * the first nil. `resp` is the protocol the script set with redis.setresp.
 */
void luabox_reply(lua_State *L, int idx, struct reply *r, int resp);

#endif
