/* RESP replies to Lua values and Lua values to RESP replies, as Redis converts them. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/luabox.h"
#include "lua/lualibs.h"
#include "resp/reply.h"

/* Deeper nesting than this is cut off (a table that holds itself would never end). */
#define MAX_DEPTH 256

/* The line at p (up to CR LF): its length, or -1 when there is no whole line in n bytes. */
static long line_len(const char *p, size_t n)
{
    const char *cr = memchr(p, '\r', n);
    if (cr == NULL || (size_t)(cr - p) + 1 >= n || cr[1] != '\n')
        return -1;
    return (long)(cr - p);
}

static bool parse_ll(const char *p, long len, long long *v)
{
    char buf[32];
    if (len <= 0 || len >= (long)sizeof(buf))
        return false;
    memcpy(buf, p, (size_t)len);
    buf[len] = '\0';
    char *end;
    *v = strtoll(buf, &end, 10);
    return *end == '\0';
}

/* {name = <value pushed by the caller>} */
static void wrap_field(lua_State *L, const char *name)
{
    lua_newtable(L);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
}

static size_t push_value(lua_State *L, const char *p, size_t n, int depth);

/* An aggregate of `count` elements (pairs when `pairs`) after its header of `head` bytes. */
static size_t push_aggregate(lua_State *L, const char *p, size_t n, size_t head, long long count,
                             char type, int depth)
{
    if (count < 0 || !lua_checkstack(L, 4) || depth >= MAX_DEPTH)
        return 0;
    size_t used = head;
    lua_createtable(L, type == '*' ? (int)(count < 1024 ? count : 1024) : 0,
                    type == '*' ? 0 : (int)(count < 1024 ? count : 1024));
    for (long long i = 0; i < count; i++) {
        size_t u = push_value(L, p + used, n - used, depth + 1);
        if (u == 0) {
            lua_pop(L, 1);
            return 0;
        }
        used += u;
        if (type == '*') {
            lua_rawseti(L, -2, (int)(i + 1));
        } else if (type == '~') {
            lua_pushboolean(L, 1);
            lua_rawset(L, -3);
        } else {
            size_t v = push_value(L, p + used, n - used, depth + 1);
            if (v == 0) {
                lua_pop(L, 2);
                return 0;
            }
            used += v;
            lua_rawset(L, -3);
        }
    }
    if (type == '%')
        wrap_field(L, "map");
    else if (type == '~')
        wrap_field(L, "set");
    return used;
}

static size_t push_value(lua_State *L, const char *p, size_t n, int depth)
{
    if (n < 3)
        return 0;
    long len = line_len(p + 1, n - 1);
    if (len < 0)
        return 0;
    size_t head = (size_t)len + 3;
    long long v;
    switch (p[0]) {
    case '+':
        lua_pushlstring(L, p + 1, (size_t)len);
        wrap_field(L, "ok");
        return head;
    case '-':
        lua_pushlstring(L, p + 1, (size_t)len);
        wrap_field(L, "err");
        return head;
    case ':':
        if (!parse_ll(p + 1, len, &v))
            return 0;
        lua_pushnumber(L, (lua_Number)v);
        return head;
    case '_':
        lua_pushnil(L);
        return head;
    case '#':
        lua_pushboolean(L, len == 1 && p[1] == 't');
        return head;
    case ',': {
        char buf[64];
        if (len >= (long)sizeof(buf))
            return 0;
        memcpy(buf, p + 1, (size_t)len);
        buf[len] = '\0';
        lua_pushnumber(L, strtod(buf, NULL));
        wrap_field(L, "double");
        return head;
    }
    case '(':
        lua_pushlstring(L, p + 1, (size_t)len);
        wrap_field(L, "big_number");
        return head;
    case '$':
    case '=':
        if (!parse_ll(p + 1, len, &v))
            return 0;
        if (v < 0) {
            lua_pushboolean(L, 0);
            return head;
        }
        if ((unsigned long long)v + 2 > n - head)
            return 0;
        if (p[0] == '=' && v >= 4) {
            lua_newtable(L);
            lua_pushlstring(L, p + head, 3);
            lua_setfield(L, -2, "format");
            lua_pushlstring(L, p + head + 4, (size_t)v - 4);
            lua_setfield(L, -2, "string");
            wrap_field(L, "verbatim_string");
        } else {
            lua_pushlstring(L, p + head, (size_t)v);
        }
        return head + (size_t)v + 2;
    case '*':
    case '%':
    case '~':
    case '>':
        if (!parse_ll(p + 1, len, &v))
            return 0;
        if (v < 0) {
            lua_pushboolean(L, 0);
            return head;
        }
        return push_aggregate(L, p, n, head, v, p[0] == '>' ? '*' : p[0], depth);
    default:
        return 0;
    }
}

size_t luabox_push_resp(lua_State *L, const char *p, size_t n)
{
    return push_value(L, p, n, 0);
}

/* ---------------------------------------------------------------------------
 * Lua → RESP
 * ------------------------------------------------------------------------ */

/* The string field `name` of the table at idx, or NULL (nothing left on the stack). */
static const char *string_field(lua_State *L, int idx, const char *name, size_t *len)
{
    lua_getfield(L, idx, name);
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        return NULL;
    }
    const char *s = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* the table still refers to it */
    return s;
}

static void reply_value(lua_State *L, int idx, struct reply *r, int resp, int depth);

/* {map=...} / {set=...}: the table at the top, popped. */
static void reply_pairs(lua_State *L, struct reply *r, int resp, bool map, int depth)
{
    long long n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    if (map)
        reply_map(r, n);
    else
        reply_set(r, n);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        reply_value(L, -2, r, resp, depth + 1);
        if (map)
            reply_value(L, -1, r, resp, depth + 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void reply_table(lua_State *L, int idx, struct reply *r, int resp, int depth)
{
    size_t len;
    const char *s;
    if ((s = string_field(L, idx, "err", &len)) != NULL) {
        /* the text as it is, its code included (Redis adds none) */
        reply_errorf(r, "%.*s", (int)len, s);
        return;
    }
    if ((s = string_field(L, idx, "ok", &len)) != NULL) {
        reply_status_len(r, s, len);
        return;
    }
    lua_getfield(L, idx, "double");
    if (lua_type(L, -1) == LUA_TNUMBER) {
        reply_double(r, (double)lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if ((s = string_field(L, idx, "big_number", &len)) != NULL) {
        if (r->proto >= 3) {
            reply_raw(r, "(", 1);
            reply_raw(r, s, len);
            reply_raw(r, "\r\n", 2);
        } else {
            reply_bulk(r, s, len);
        }
        return;
    }
    lua_getfield(L, idx, "map");
    if (lua_type(L, -1) == LUA_TTABLE) {
        reply_pairs(L, r, resp, true, depth);
        return;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "set");
    if (lua_type(L, -1) == LUA_TTABLE) {
        reply_pairs(L, r, resp, false, depth);
        return;
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "verbatim_string");
    if (lua_type(L, -1) == LUA_TTABLE) {
        size_t flen, slen;
        const char *fmt = string_field(L, -1, "format", &flen);
        const char *str = string_field(L, -1, "string", &slen);
        if (fmt != NULL && str != NULL && flen == 3) {
            char f[4] = { fmt[0], fmt[1], fmt[2], '\0' };
            reply_verbatim(r, str, slen, f);
            lua_pop(L, 1);
            return;
        }
    }
    lua_pop(L, 1);
    /* an array: elements 1, 2 ... up to the first nil */
    int n = 0;
    for (;;) {
        lua_rawgeti(L, idx, n + 1);
        bool end = lua_isnil(L, -1);
        lua_pop(L, 1);
        if (end)
            break;
        n++;
    }
    reply_array(r, n);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        reply_value(L, -1, r, resp, depth + 1);
        lua_pop(L, 1);
    }
}

static void reply_value(lua_State *L, int idx, struct reply *r, int resp, int depth)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        reply_bulk(r, s, len);
        return;
    }
    case LUA_TBOOLEAN:
        if (resp == 2) {
            if (lua_toboolean(L, idx))
                reply_int(r, 1);
            else
                reply_null(r);
        } else {
            reply_bool(r, lua_toboolean(L, idx));
        }
        return;
    case LUA_TNUMBER:
        reply_int(r, (long long)lualibs_d2i64((double)lua_tonumber(L, idx))); /* as x86-64 */
        return;
    case LUA_TTABLE:
        if (depth >= MAX_DEPTH || !lua_checkstack(L, 8)) {
            reply_error(r, "ERR reached lua stack limit");
            return;
        }
        reply_table(L, idx, r, resp, depth);
        return;
    default:
        reply_null(r);
        return;
    }
}

void luabox_reply(lua_State *L, int idx, struct reply *r, int resp)
{
    reply_value(L, idx, r, resp, 0);
}
