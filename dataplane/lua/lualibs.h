/* The Lua libraries that Redis scripts expect and Debian does not package: struct and cmsgpack. */
#ifndef POLLUX_LUALIBS_H
#define POLLUX_LUALIBS_H

#include <lua.h>

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
