/* The Lua libraries that Redis scripts expect and Debian does not package: struct and cmsgpack. */
#ifndef POLLUX_LUALIBS_H
#define POLLUX_LUALIBS_H

#include <stdint.h>

#include <lua.h>

/*
 * A double converted to a signed 64-bit integer the way x86-64's truncating conversion does it
 * (Redis's Lua converts numbers to integers so, on the hardware Redis 7.0 ships on): out of
 * range and NaN give INT64_MIN. C leaves those cases undefined, and ARM64 saturates instead.
 */
static inline int64_t lualibs_d2i64(double d)
{
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return (int64_t)d;
    return INT64_MIN;
}

/*
 * Register the global table `struct` (pack, unpack, size) the way luaL_register does, leaving
 * it on the stack.
 * @return 1
 */
int lualibs_open_struct(lua_State *L);

/*
 * Register the global table `cmsgpack` (pack, unpack, unpack_one, unpack_limit) the way
 * luaL_register does, leaving it on the stack.
 * @return 1
 */
int lualibs_open_cmsgpack(lua_State *L);

#endif
