/*
 * The `struct` library of Redis scripts: binary records packed and unpacked from a format
 * string, with the behaviour (results, quirks and error messages) of the struct library that
 * Redis 7.0 ships on x86-64. Every byte order and float conversion is done byte by byte, so the
 * output is the same on any host.
 */
#include "lua/lualibs.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#define ST_BIG        0
#define ST_LITTLE     1
#define ST_MAXINTSIZE 32 /* widest i/I integer, in bytes */
#define ST_MAXALIGN   8  /* what '!' alone means (Redis's value on 64-bit hosts) */

/* Byte order and alignment in force while a format is walked. */
typedef struct st_header {
    int endian;
    size_t align;
} st_header;

static int st_native_endian(void)
{
    const uint16_t probe = 1;
    unsigned char first;
    memcpy(&first, &probe, 1);
    return first ? ST_LITTLE : ST_BIG;
}

static void st_header_init(st_header *h)
{
    h->endian = st_native_endian();
    h->align = 1;
}

static int st_isdigit(int c)
{
    return c >= '0' && c <= '9';
}

static int st_isalnum(int c)
{
    return st_isdigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * A double converted to an unsigned 64-bit integer as GCC does it on x86-64: below 2^63 (and
 * NaN) through the signed conversion, from 2^63 on by subtracting 2^63 first, so 2^64 and
 * above come out as 0.
 */
static uint64_t st_d2u64(double d)
{
    if (!(d >= 9223372036854775808.0))
        return (uint64_t)lualibs_d2i64(d);
    return (uint64_t)lualibs_d2i64(d - 9223372036854775808.0) ^ UINT64_C(0x8000000000000000);
}

/* Read the decimal number at *fmt (moving past it), or return def when there is none. */
static int st_getnum(lua_State *L, const char **fmt, int def)
{
    if (!st_isdigit((unsigned char)**fmt))
        return def;
    int a = 0;
    do {
        int digit = **fmt - '0';
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - digit)
            luaL_error(L, "integral size overflow");
        a = a * 10 + digit;
        (*fmt)++;
    } while (st_isdigit((unsigned char)**fmt));
    return a;
}

/* The size in bytes of option opt, reading its count from *fmt where it takes one. */
static size_t st_optsize(lua_State *L, int opt, const char **fmt)
{
    switch (opt) {
    case 'B':
    case 'b':
    case 'x':
        return 1;
    case 'H':
    case 'h':
        return 2;
    case 'L':
    case 'l':
    case 'T':
    case 'd':
        return 8;
    case 'f':
        return 4;
    case 'c':
        return (size_t)st_getnum(L, fmt, 1);
    case 'i':
    case 'I': {
        int sz = st_getnum(L, fmt, 4);
        if (sz > ST_MAXINTSIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", sz, ST_MAXINTSIZE);
        return (size_t)sz;
    }
    default:
        return 0;
    }
}

/* Padding needed before an item of the given size that starts at offset len. */
static size_t st_toalign(size_t len, const st_header *h, int opt, size_t size)
{
    if (size == 0 || opt == 'c')
        return 0;
    if (size > h->align)
        size = h->align;
    return (size - (len & (size - 1))) & (size - 1);
}

/* The options that change the header (and the space); anything else is an error. */
static void st_control(lua_State *L, int opt, const char **fmt, st_header *h)
{
    switch (opt) {
    case ' ':
        return;
    case '>':
        h->endian = ST_BIG;
        return;
    case '<':
        h->endian = ST_LITTLE;
        return;
    case '!': {
        int a = st_getnum(L, fmt, ST_MAXALIGN);
        if (a <= 0 || (a & (a - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = (size_t)a;
        return;
    }
    default: {
        const char *msg = lua_pushfstring(L, "invalid format option '%c'", opt);
        luaL_argerror(L, 1, msg);
    }
    }
}

/* Write the low size bytes of v (zeros past the eighth) in the given order into out. */
static void st_put_bytes(unsigned char *out, uint64_t v, int endian, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned char byte = i < 8 ? (unsigned char)(v >> (8 * i)) : 0;
        out[endian == ST_LITTLE ? i : size - 1 - i] = byte;
    }
}

/* Read size bytes in the given order; past eight bytes the oldest ones fall off the top. */
static uint64_t st_get_bits(const unsigned char *in, int endian, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++) {
        v <<= 8;
        v |= in[endian == ST_BIG ? i : size - 1 - i];
    }
    return v;
}

/* An integer of size bytes; the sign mask's shift count is taken modulo 64 as x86-64 does. */
static lua_Number st_get_integer(const unsigned char *in, int endian, int issigned, size_t size)
{
    uint64_t v = st_get_bits(in, endian, size);
    if (!issigned)
        return (lua_Number)v;
    uint64_t mask = ~(uint64_t)0 << ((size * 8 - 1) & 63);
    if (v & mask)
        v |= mask;
    return (lua_Number)(int64_t)v;
}

/* Append the number at argument arg as an integer of size bytes. */
static void st_put_integer(lua_State *L, luaL_Buffer *b, int arg, int endian, size_t size)
{
    lua_Number n = luaL_checknumber(L, arg);
    uint64_t v = n < 0 ? (uint64_t)lualibs_d2i64(n) : st_d2u64(n);
    unsigned char out[ST_MAXINTSIZE];
    st_put_bytes(out, v, endian, size);
    luaL_addlstring(b, (const char *)out, size);
}

/* struct.pack(fmt, ...): the values packed into a string. */
static int st_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    st_header h;
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    st_header_init(&h);
    lua_pushnil(L); /* keeps the buffer's pieces apart from the arguments */
    luaL_buffinit(L, &b);
    while (*fmt != '\0') {
        int opt = (unsigned char)*fmt++;
        size_t size = st_optsize(L, opt, &fmt);
        size_t pad = st_toalign(total, &h, opt, size);
        total += pad;
        while (pad-- > 0)
            luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I':
            st_put_integer(L, &b, arg++, h.endian, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            uint32_t bits;
            unsigned char out[4];
            memcpy(&bits, &f, sizeof(bits));
            st_put_bytes(out, bits, h.endian, 4);
            luaL_addlstring(&b, (const char *)out, 4);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            uint64_t bits;
            unsigned char out[8];
            memcpy(&bits, &d, sizeof(bits));
            st_put_bytes(out, bits, h.endian, 8);
            luaL_addlstring(&b, (const char *)out, 8);
            break;
        }
        case 'c':
        case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0)
                size = l;
            /* Redis names the argument after the string: kept as it is */
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            st_control(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

/* struct.unpack(fmt, s [, pos]): the values read from s, then the position after them. */
static int st_unpack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &ld);
    /* as in Redis only 0 is refused: a negative position wraps and fails on the data */
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    int n = 0;
    st_header h;
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    st_header_init(&h);
    while (*fmt != '\0') {
        int opt = (unsigned char)*fmt++;
        size_t size = st_optsize(L, opt, &fmt);
        pos += st_toalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I': {
            int issigned = opt >= 'a' && opt <= 'z';
            lua_pushnumber(L, st_get_integer(data + pos, h.endian, issigned, size));
            n++;
            break;
        }
        case 'x':
            break;
        case 'f': {
            uint32_t bits = (uint32_t)st_get_bits(data + pos, h.endian, 4);
            float f;
            memcpy(&f, &bits, sizeof(f));
            lua_pushnumber(L, (lua_Number)f);
            n++;
            break;
        }
        case 'd': {
            uint64_t bits = st_get_bits(data + pos, h.endian, 8);
            double d;
            memcpy(&d, &bits, sizeof(d));
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                /* c0: the length is the value read just before, which it replaces */
                if (n == 0 || !lua_isnumber(L, -1))
                    luaL_error(L, "format 'c0' needs a previous size");
                uint64_t want = st_d2u64(lua_tonumber(L, -1));
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, want <= ld && pos <= ld - want, 2, "data string too short");
                size = (size_t)want;
            }
            lua_pushlstring(L, (const char *)data + pos, size);
            n++;
            break;
        case 's': {
            const unsigned char *end = memchr(data + pos, '\0', ld - pos);
            if (end == NULL)
                luaL_error(L, "unfinished string in data");
            size = (size_t)(end - (data + pos)) + 1;
            lua_pushlstring(L, (const char *)data + pos, size - 1);
            n++;
            break;
        }
        default:
            st_control(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)(pos + 1));
    return n + 1;
}

/* struct.size(fmt): the bytes a format packs into; s and c0 have no fixed size. */
static int st_size(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    st_header h;
    st_header_init(&h);
    while (*fmt != '\0') {
        int opt = (unsigned char)*fmt++;
        size_t size = st_optsize(L, opt, &fmt);
        pos += st_toalign(pos, &h, opt, size);
        if (opt == 's')
            luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        /* letters and digits that are no option are skipped silently, as in Redis */
        if (!st_isalnum(opt))
            st_control(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

static const luaL_Reg st_funcs[] = {
    { "pack", st_pack },
    { "unpack", st_unpack },
    { "size", st_size },
    { NULL, NULL },
};

int lualibs_open_struct(lua_State *L)
{
    luaL_register(L, "struct", st_funcs);
    return 1;
}
