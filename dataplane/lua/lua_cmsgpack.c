/*
 * The `cmsgpack` library of Redis scripts: Lua values to MessagePack and back, with the
 * behaviour (encodings chosen, nesting limit, stack limits and error messages) of the cmsgpack
 * library that Redis 7.0 ships. Multi-byte fields are read and written byte by byte, big-endian
 * as MessagePack says, whatever the host.
 */
#include "lua/lualibs.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#define MP_MAX_NESTING 16 /* a table this deep is encoded as nil, as Redis does */

#define MP_OK     0
#define MP_EOF    1 /* input ended inside a value */
#define MP_BADFMT 2 /* a type byte this library does not read */

/*
 * Output of one pack call. The bytes live in a userdata kept at stack slot `slot`, replaced by a
 * bigger one as they grow, so that an error thrown halfway leaves nothing to free.
 */
typedef struct mp_buf {
    lua_State *L;
    int slot;
    unsigned char *b;
    size_t len, cap;
    /*
     * Redis keeps one string per packed argument on the stack where this keeps the buffer:
     * `slack` is what to add to our stack height to get Redis's, so that its stack limits are
     * hit at the same place.
     */
    int slack;
} mp_buf;

/* Input of one unpack call. */
typedef struct mp_cur {
    const unsigned char *p;
    size_t left;
    int err;
} mp_cur;

/* luaL_checkstack for n slots, failing where Redis's stack (see mp_buf.slack) would. */
static void mp_checkstack(mp_buf *buf, int n, const char *what)
{
    if (lua_gettop(buf->L) + buf->slack + n > LUAI_MAXCSTACK)
        luaL_error(buf->L, "stack overflow (%s)", what);
    luaL_checkstack(buf->L, n, what);
}

static void mp_append(mp_buf *buf, const void *p, size_t n)
{
    if (buf->cap - buf->len < n) {
        size_t cap = buf->cap ? buf->cap : 64;
        while (cap - buf->len < n) {
            if (cap > SIZE_MAX / 2)
                luaL_error(buf->L, "not enough memory");
            cap *= 2;
        }
        luaL_checkstack(buf->L, 1, "in function mp_append");
        unsigned char *nb = lua_newuserdata(buf->L, cap);
        if (buf->len)
            memcpy(nb, buf->b, buf->len);
        lua_replace(buf->L, buf->slot);
        buf->b = nb;
        buf->cap = cap;
    }
    memcpy(buf->b + buf->len, p, n);
    buf->len += n;
}

/* A type byte followed by the low `size` bytes of v, big-endian. */
static void mp_append_be(mp_buf *buf, unsigned char type, uint64_t v, int size)
{
    unsigned char out[9];
    out[0] = type;
    for (int i = 0; i < size; i++)
        out[1 + i] = (unsigned char)(v >> (8 * (size - 1 - i)));
    mp_append(buf, out, (size_t)size + 1);
}

/* The smallest MessagePack integer that holds n. */
static void mp_encode_int(mp_buf *buf, int64_t n)
{
    if (n >= 0) {
        if (n <= 127)
            mp_append_be(buf, (unsigned char)n, 0, 0);
        else if (n <= 0xff)
            mp_append_be(buf, 0xcc, (uint64_t)n, 1);
        else if (n <= 0xffff)
            mp_append_be(buf, 0xcd, (uint64_t)n, 2);
        else if (n <= 0xffffffffLL)
            mp_append_be(buf, 0xce, (uint64_t)n, 4);
        else
            mp_append_be(buf, 0xcf, (uint64_t)n, 8);
    } else {
        if (n >= -32)
            mp_append_be(buf, (unsigned char)(0x100 + n), 0, 0);
        else if (n >= -128)
            mp_append_be(buf, 0xd0, (uint64_t)n, 1);
        else if (n >= -32768)
            mp_append_be(buf, 0xd1, (uint64_t)n, 2);
        else if (n >= -2147483648LL)
            mp_append_be(buf, 0xd2, (uint64_t)n, 4);
        else
            mp_append_be(buf, 0xd3, (uint64_t)n, 8);
    }
}

/* A float32 when it holds d exactly, else a float64 (NaN always takes the float64). */
static void mp_encode_double(mp_buf *buf, double d)
{
    float f = (float)d;
    if (d == (double)f) {
        uint32_t bits;
        memcpy(&bits, &f, sizeof(bits));
        mp_append_be(buf, 0xca, bits, 4);
    } else {
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        mp_append_be(buf, 0xcb, bits, 8);
    }
}

/* Integral numbers in [-2^63, 2^63) are integers, the rest doubles. */
static void mp_encode_number(mp_buf *buf, lua_Number n)
{
    if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && (lua_Number)(int64_t)n == n)
        mp_encode_int(buf, (int64_t)n);
    else
        mp_encode_double(buf, (double)n);
}

static void mp_encode_string(mp_buf *buf, const char *s, size_t len)
{
    if (len < 32)
        mp_append_be(buf, (unsigned char)(0xa0 | len), 0, 0);
    else if (len <= 0xff)
        mp_append_be(buf, 0xd9, len, 1);
    else if (len <= 0xffff)
        mp_append_be(buf, 0xda, len, 2);
    else
        mp_append_be(buf, 0xdb, len, 4);
    mp_append(buf, s, len);
}

static void mp_encode_header(mp_buf *buf, unsigned char fix, unsigned char t16, size_t n)
{
    if (n <= 15)
        mp_append_be(buf, (unsigned char)(fix | n), 0, 0);
    else if (n <= 0xffff)
        mp_append_be(buf, t16, n, 2);
    else
        mp_append_be(buf, (unsigned char)(t16 + 1), n, 4);
}

/*
 * Whether the table on top is a sequence: every key a number in [1, INT_MAX] without a
 * fraction, as many keys as the largest one. The empty table is one.
 */
static int mp_table_is_array(mp_buf *buf)
{
    lua_State *L = buf->L;
    int top = lua_gettop(L);
    int count = 0, max = 0;
    mp_checkstack(buf, 2, "in function table_is_an_array");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_Number n;
        if (lua_type(L, -1) != LUA_TNUMBER || (n = lua_tonumber(L, -1)) <= 0 ||
            n > (lua_Number)INT_MAX || (lua_Number)(int)n != n) {
            lua_settop(L, top);
            return 0;
        }
        if (n > max)
            max = (int)n;
        count++;
    }
    lua_settop(L, top);
    return max == count;
}

static void mp_encode_value(mp_buf *buf, int level);

static void mp_encode_table(mp_buf *buf, int level)
{
    lua_State *L = buf->L;
    if (mp_table_is_array(buf)) {
        size_t len = lua_objlen(L, -1);
        mp_encode_header(buf, 0x90, 0xdc, len);
        mp_checkstack(buf, 1, "in function mp_encode_lua_table_as_array");
        for (size_t i = 1; i <= len; i++) {
            lua_pushnumber(L, (lua_Number)i);
            lua_gettable(L, -2);
            mp_encode_value(buf, level + 1);
        }
        return;
    }
    size_t len = 0;
    mp_checkstack(buf, 3, "in function mp_encode_lua_table_as_map");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        len++;
    }
    mp_encode_header(buf, 0x80, 0xde, len);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        mp_encode_value(buf, level + 1); /* the key */
        mp_encode_value(buf, level + 1); /* the value */
    }
}

/* Encode the value on top of the stack and pop it. */
static void mp_encode_value(mp_buf *buf, int level)
{
    lua_State *L = buf->L;
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level == MP_MAX_NESTING)
        t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        mp_encode_string(buf, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        mp_append_be(buf, lua_toboolean(L, -1) ? 0xc3 : 0xc2, 0, 0);
        break;
    case LUA_TNUMBER:
        mp_encode_number(buf, lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        mp_encode_table(buf, level);
        break;
    default:
        mp_append_be(buf, 0xc0, 0, 0);
        break;
    }
    lua_pop(L, 1);
}

/* cmsgpack.pack(...): every argument packed, one after the other. */
static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, nargs))
        return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    mp_buf buf = { .L = L, .slot = nargs + 1, .b = NULL, .len = 0, .cap = 0, .slack = -1 };
    lua_pushnil(L); /* the buffer's slot */
    for (int i = 1; i <= nargs; i++) {
        mp_checkstack(&buf, 1, "in function mp_check");
        lua_pushvalue(L, i);
        mp_encode_value(&buf, 0);
        buf.slack++; /* Redis has pushed this argument's string */
    }
    lua_pushlstring(L, (const char *)buf.b, buf.len);
    return 1;
}

static uint64_t mp_read_be(const unsigned char *p, int size)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Whether n more bytes are there; if not, the cursor records the end of input. */
static int mp_need(mp_cur *c, size_t n)
{
    if (c->left < n) {
        c->err = MP_EOF;
        return 0;
    }
    return 1;
}

static void mp_consume(mp_cur *c, size_t n)
{
    c->p += n;
    c->left -= n;
}

static void mp_decode_value(lua_State *L, mp_cur *c);

/* A string whose length takes `lsize` bytes after the type byte (0 for fixstr). */
static void mp_decode_string(lua_State *L, mp_cur *c, int lsize)
{
    size_t head = 1 + (size_t)lsize;
    if (!mp_need(c, head))
        return;
    size_t len = lsize ? (size_t)mp_read_be(c->p + 1, lsize) : (size_t)(c->p[0] & 0x1f);
    if (c->left - head < len) {
        c->err = MP_EOF;
        return;
    }
    lua_pushlstring(L, (const char *)c->p + head, len);
    mp_consume(c, head + len);
}

/*
 * An array of len items; nothing is allocated ahead, so a huge count with little input behind it
 * only runs out of bytes.
 */
static void mp_decode_array(lua_State *L, mp_cur *c, uint32_t len)
{
    lua_Number index = 1;
    lua_newtable(L);
    luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
    while (len--) {
        lua_pushnumber(L, index++);
        mp_decode_value(L, c);
        if (c->err)
            return;
        lua_settable(L, -3);
    }
}

static void mp_decode_map(lua_State *L, mp_cur *c, uint32_t len)
{
    lua_newtable(L);
    while (len--) {
        mp_decode_value(L, c);
        if (c->err)
            return;
        mp_decode_value(L, c);
        if (c->err)
            return;
        lua_settable(L, -3);
    }
}

/* A fixed-size number: `size` bytes after the type byte. */
static void mp_decode_fixed(lua_State *L, mp_cur *c, unsigned char type, int size)
{
    if (!mp_need(c, 1 + (size_t)size))
        return;
    uint64_t v = mp_read_be(c->p + 1, size);
    lua_Number n;
    switch (type) {
    case 0xd0:
        n = (lua_Number)(int8_t)(uint8_t)v;
        break;
    case 0xd1:
        n = (lua_Number)(int16_t)(uint16_t)v;
        break;
    case 0xd2:
        n = (lua_Number)(int32_t)(uint32_t)v;
        break;
    case 0xd3:
        n = (lua_Number)(int64_t)v;
        break;
    case 0xca: {
        uint32_t bits = (uint32_t)v;
        float f;
        memcpy(&f, &bits, sizeof(f));
        n = (lua_Number)f;
        break;
    }
    case 0xcb: {
        double d;
        memcpy(&d, &v, sizeof(d));
        n = (lua_Number)d;
        break;
    }
    case 0xcf: /* pushed as a signed integer by Redis: 2^63 and up come out negative */
        n = (lua_Number)(v <= INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1);
        break;
    default: /* 0xcc to 0xce */
        n = (lua_Number)v;
        break;
    }
    lua_pushnumber(L, n);
    mp_consume(c, 1 + (size_t)size);
}

/* A container whose count takes `size` bytes after the type byte. */
static void mp_decode_container(lua_State *L, mp_cur *c, int size, int is_map)
{
    if (!mp_need(c, 1 + (size_t)size))
        return;
    uint32_t len = (uint32_t)mp_read_be(c->p + 1, size);
    mp_consume(c, 1 + (size_t)size);
    if (is_map)
        mp_decode_map(L, c, len);
    else
        mp_decode_array(L, c, len);
}

/* Decode one value at the cursor and push it; on failure c->err says why. */
static void mp_decode_value(lua_State *L, mp_cur *c)
{
    if (!mp_need(c, 1))
        return;
    luaL_checkstack(L, 1,
                    "too many return values at once; use unpack_one or unpack_limit instead.");
    unsigned char type = c->p[0];
    switch (type) {
    case 0xcc:
    case 0xd0:
        mp_decode_fixed(L, c, type, 1);
        break;
    case 0xcd:
    case 0xd1:
        mp_decode_fixed(L, c, type, 2);
        break;
    case 0xce:
    case 0xd2:
    case 0xca:
        mp_decode_fixed(L, c, type, 4);
        break;
    case 0xcf:
    case 0xd3:
    case 0xcb:
        mp_decode_fixed(L, c, type, 8);
        break;
    case 0xc0:
        lua_pushnil(L);
        mp_consume(c, 1);
        break;
    case 0xc2:
    case 0xc3:
        lua_pushboolean(L, type == 0xc3);
        mp_consume(c, 1);
        break;
    case 0xd9:
        mp_decode_string(L, c, 1);
        break;
    case 0xda:
        mp_decode_string(L, c, 2);
        break;
    case 0xdb:
        mp_decode_string(L, c, 4);
        break;
    case 0xdc:
        mp_decode_container(L, c, 2, 0);
        break;
    case 0xdd:
        mp_decode_container(L, c, 4, 0);
        break;
    case 0xde:
        mp_decode_container(L, c, 2, 1);
        break;
    case 0xdf:
        mp_decode_container(L, c, 4, 1);
        break;
    default:
        if ((type & 0x80) == 0) {
            lua_pushnumber(L, (lua_Number)type);
            mp_consume(c, 1);
        } else if ((type & 0xe0) == 0xe0) {
            lua_pushnumber(L, (lua_Number)((int)type - 0x100));
            mp_consume(c, 1);
        } else if ((type & 0xe0) == 0xa0) {
            mp_decode_string(L, c, 0);
        } else if ((type & 0xf0) == 0x90) {
            mp_consume(c, 1);
            mp_decode_array(L, c, type & 0x0f);
        } else if ((type & 0xf0) == 0x80) {
            mp_consume(c, 1);
            mp_decode_map(L, c, type & 0x0f);
        } else {
            c->err = MP_BADFMT; /* 0xc1, bin, ext */
        }
        break;
    }
}

/* The low 32 bits of v as an int: what a "%d" shows of a 64-bit argument on our targets. */
static int mp_low_int(uint64_t v)
{
    uint32_t low = (uint32_t)v;
    return low <= INT_MAX ? (int)low : (int)(low - 0x80000000u) + INT_MIN;
}

/*
 * Decode up to `limit` values of the string at slot 1 from byte `offset`. With neither a limit
 * nor an offset everything is decoded and only the values returned; otherwise the offset of what
 * is left (-1 when nothing is) comes first. The messages show the input's length where the limit
 * is announced, and 32 bits of each number, as Redis's do.
 */
static int mp_unpack_full(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int decode_all = limit == 0 && offset == 0;
    if (offset < 0 || limit < 0)
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.",
                          mp_low_int((uint64_t)offset), mp_low_int(len));
    if ((uint64_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.",
                          mp_low_int((uint64_t)offset), mp_low_int(len));
    if (decode_all)
        limit = INT_MAX;
    mp_cur c = { (const unsigned char *)s + offset, len - (size_t)offset, MP_OK };
    int cnt;
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        mp_decode_value(L, &c);
        if (c.err == MP_EOF)
            return luaL_error(L, "Missing bytes in input.");
        if (c.err == MP_BADFMT)
            return luaL_error(L, "Bad data format in input.");
    }
    if (decode_all)
        return cnt;
    luaL_checkstack(L, 1, "in function mp_unpack_full");
    lua_pushinteger(L, c.left == 0 ? -1 : mp_low_int(len - c.left));
    lua_insert(L, 2);
    return cnt + 1;
}

/* An optional integer argument (0 when absent), converted as Redis's Lua does on x86-64. */
static lua_Integer mp_optint(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    return (lua_Integer)lualibs_d2i64(luaL_checknumber(L, idx));
}

/* cmsgpack.unpack(s): every value in s. */
static int mp_unpack(lua_State *L)
{
    return mp_unpack_full(L, 0, 0);
}

/* cmsgpack.unpack_one(s [, offset]): the next offset, then one value. */
static int mp_unpack_one(lua_State *L)
{
    lua_Integer offset = mp_optint(L, 2);
    lua_pop(L, lua_gettop(L) - 1);
    return mp_unpack_full(L, 1, offset);
}

/* cmsgpack.unpack_limit(s, limit [, offset]): the next offset, then up to limit values. */
static int mp_unpack_limit(lua_State *L)
{
    lua_Integer limit = (lua_Integer)lualibs_d2i64(luaL_checknumber(L, 2));
    lua_Integer offset = mp_optint(L, 3);
    lua_pop(L, lua_gettop(L) - 1);
    return mp_unpack_full(L, limit, offset);
}

static const luaL_Reg mp_funcs[] = {
    { "pack", mp_pack },
    { "unpack", mp_unpack },
    { "unpack_one", mp_unpack_one },
    { "unpack_limit", mp_unpack_limit },
    { NULL, NULL },
};

int lualibs_open_cmsgpack(lua_State *L)
{
    luaL_register(L, "cmsgpack", mp_funcs);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
