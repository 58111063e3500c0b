/* The sandboxed Lua state scripts run in; see luabox.h. */
#include "lua/luabox.h"

#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include <lua-bitop.h>
#include <lua-cjson.h>

#include "lua/lualibs.h"

/* Registry keys: proxy -> real table (weak keys), and the real globals table. */
static const char RO_KEY[] = "pollux.readonly";
static const char GLOBALS_KEY[] = "pollux.globals";
static const char READONLY_ERR[] = "Attempt to modify a readonly table";

/* Push the real table behind the proxy at idx and return true; push nothing, false. */
static bool real_of(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE)
        return false;
    lua_getfield(L, LUA_REGISTRYINDEX, RO_KEY);
    lua_pushvalue(L, idx < 0 && idx > LUA_REGISTRYINDEX ? idx - 1 : idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return false;
    }
    return true;
}

bool luabox_readonly(lua_State *L, int idx)
{
    if (!real_of(L, idx))
        return false;
    lua_pop(L, 1);
    return true;
}

/* __newindex of a proxy: the script's own line in front, as Redis's message has it. */
int luabox_readonly_error(lua_State *L)
{
    return luaL_error(L, READONLY_ERR);
}

/* The same refusal from a library function (rawset, table.insert ...): no position. */
static int ro_refuse(lua_State *L)
{
    lua_pushstring(L, READONLY_ERR);
    return lua_error(L);
}

void luabox_protect(lua_State *L, int idx)
{
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    lua_newtable(L); /* the proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, luabox_readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable"); /* getmetatable and setmetatable see no table */
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, RO_KEY);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void luabox_protect_strict(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, luabox_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    luabox_protect(L, -1);
    lua_remove(L, -2);
}

void luabox_set_global(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, GLOBALS_KEY);
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

/* ---------------------------------------------------------------------------
 * Library functions that bypass metatables, made to see proxies for what they are
 * ------------------------------------------------------------------------ */

static int l_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (luabox_readonly(L, 1))
        return ro_refuse(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int l_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    if (real_of(L, 1))
        lua_replace(L, 1);
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

static int l_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (real_of(L, 1))
        lua_replace(L, 1);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int l_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int ipairs_step(lua_State *L)
{
    int i = luaL_checkint(L, 2) + 1;
    if (real_of(L, 1))
        lua_replace(L, 1);
    lua_pushinteger(L, i);
    lua_rawgeti(L, 1, i);
    return lua_isnil(L, -1) ? 0 : 2;
}

static int l_ipairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

/* Call upvalue 1 (the library's own function) with the arguments as they are. */
static int call_original(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* setmetatable, table.insert, table.remove, table.sort: refuse a proxy, else the original. */
static int l_write_guarded(lua_State *L)
{
    if (luabox_readonly(L, 1))
        return ro_refuse(L);
    return call_original(L);
}

/* getmetatable: upvalue 1 is the original, upvalue 2 the strings' metatable's proxy. */
static int l_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_type(L, 1) == LUA_TSTRING) {
        lua_pushvalue(L, lua_upvalueindex(2));
        return 1;
    }
    return call_original(L);
}

/* loadstring(s [, name]) with source only (a precompiled chunk could corrupt the VM). */
static int l_loadstring(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, s);
    if (!luabox_is_source(s, n)) {
        lua_pushnil(L);
        lua_pushstring(L, "precompiled chunks are not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, n, name) == 0)
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* load(f [, name]): the pieces f returns, gathered, then as loadstring. */
static int l_load(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *name = luaL_optstring(L, 2, "=(load)");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1))
            return luaL_error(L, "reader function must return a string");
        if (lua_objlen(L, -1) == 0) {
            lua_pop(L, 1);
            break;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_pushcfunction(L, l_loadstring);
    lua_insert(L, -2);
    lua_pushstring(L, name);
    lua_call(L, 2, 2);
    return lua_isnil(L, -2) ? 2 : 1;
}

/* __index of the real globals: a name nobody defined is an error (Redis's text). */
int luabox_missing_global(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name != NULL ? name : "?");
}

/* Replace a function field of the table at -1 by `fn` with the original as upvalue 1. */
static void wrap_field(lua_State *L, const char *field, lua_CFunction fn)
{
    lua_getfield(L, -1, field);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, field);
}

/* Open a library; the table it returns becomes the global `name` (cjson sets none itself). */
static void open_lib(lua_State *L, const char *name, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (name[0] != '\0' && lua_type(L, -1) == LUA_TTABLE)
        lua_setglobal(L, name);
    else
        lua_pop(L, 1);
}

lua_State *luabox_new(void (*setup)(lua_State *L, void *arg), void *arg)
{
    lua_State *L = luaL_newstate();
    if (L == NULL)
        return NULL;
    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, RO_KEY);

    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, "cjson", luaopen_cjson);
    open_lib(L, "bit", luaopen_bit);
    open_lib(L, "struct", lualibs_open_struct);
    open_lib(L, "cmsgpack", lualibs_open_cmsgpack);
    lua_settop(L, 0);
    /* cjson and bit set their tables as globals in Debian's build too; make sure */
    static const char *const removed[] = {
        "print",    "dofile", "loadfile", "setfenv", "getfenv",
        "newproxy", "module", "require",  "package", "cjson.safe"
    };
    for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    if (setup != NULL)
        setup(L, arg);

    lua_pushvalue(L, LUA_GLOBALSINDEX);
    int g = lua_gettop(L);
    lua_pushvalue(L, g);
    lua_setfield(L, LUA_REGISTRYINDEX, GLOBALS_KEY);

    /* next first: pairs hands it out */
    lua_pushcfunction(L, l_next);
    lua_pushvalue(L, -1);
    lua_setfield(L, g, "next");
    lua_pushcclosure(L, l_pairs, 1);
    lua_setfield(L, g, "pairs");
    lua_pushcfunction(L, ipairs_step);
    lua_pushcclosure(L, l_ipairs, 1);
    lua_setfield(L, g, "ipairs");
    lua_pushcfunction(L, l_rawset);
    lua_setfield(L, g, "rawset");
    lua_pushcfunction(L, l_rawget);
    lua_setfield(L, g, "rawget");
    lua_pushcfunction(L, l_loadstring);
    lua_setfield(L, g, "loadstring");
    lua_pushcfunction(L, l_load);
    lua_setfield(L, g, "load");
    lua_pushvalue(L, g);
    wrap_field(L, "setmetatable", l_write_guarded);
    lua_getfield(L, g, LUA_TABLIBNAME);
    wrap_field(L, "insert", l_write_guarded);
    wrap_field(L, "remove", l_write_guarded);
    wrap_field(L, "sort", l_write_guarded);
    lua_pop(L, 2);

    /* The strings' metatable reads the read-only string table. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    int smt = lua_gettop(L);
    lua_getfield(L, g, LUA_STRLIBNAME);
    luabox_protect(L, -1);
    lua_setfield(L, smt, "__index");
    lua_pop(L, 1);
    luabox_protect(L, smt);
    int smt_proxy = lua_gettop(L);
    lua_getfield(L, g, "getmetatable");
    lua_pushvalue(L, smt_proxy);
    lua_pushcclosure(L, l_getmetatable, 2);
    lua_setfield(L, g, "getmetatable");
    lua_settop(L, g);

    /* Every library table through a proxy. */
    lua_pushnil(L);
    while (lua_next(L, g)) {
        if (lua_type(L, -1) == LUA_TTABLE && !lua_rawequal(L, -1, g)) {
            lua_pushvalue(L, -2);
            luabox_protect(L, -2);
            lua_rawset(L, g); /* replacing an existing key's value is allowed in lua_next */
        }
        lua_pop(L, 1);
    }
    /* The loaded-modules table keeps the real ones: nothing reaches it from a script. */
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "_LOADED");

    /* The globals: missing names are errors, writes refused, through a proxy too. */
    lua_newtable(L);
    lua_pushcfunction(L, luabox_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, g);
    luabox_protect(L, g);
    lua_pushvalue(L, -1);
    lua_setfield(L, g, "_G");
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_settop(L, 0);
    return L;
}

void luabox_close(lua_State *L)
{
    if (L != NULL)
        lua_close(L);
}
