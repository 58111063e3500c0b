/* The scripts' sandbox and the RESP <-> Lua conversions (lua/luabox.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>

#include "lua/luabox.h"
#include "resp/reply.h"

static int setup(void **state)
{
    lua_State *L = luabox_new(NULL, NULL);
    assert_non_null(L);
    *state = L;
    return 0;
}

static int teardown(void **state)
{
    luabox_close(*state);
    return 0;
}

/* Run code; @return NULL when it ran, else its error message (valid until the next run). */
static const char *run(lua_State *L, const char *code)
{
    lua_settop(L, 0);
    if (luaL_loadbuffer(L, code, strlen(code), "@user_script") != 0 || lua_pcall(L, 0, 1, 0) != 0)
        return lua_tostring(L, -1);
    return NULL;
}

/* Run code that must succeed and return a string; @return it. */
static const char *run_str(lua_State *L, const char *code)
{
    const char *err = run(L, code);
    if (err != NULL)
        fail_msg("%s: %s", code, err);
    assert_int_equal(lua_type(L, -1), LUA_TSTRING);
    return lua_tostring(L, -1);
}

static void test_missing_globals_are_errors(void **state)
{
    lua_State *L = *state;
    const char *err = run(L, "return nosuch");
    assert_non_null(err);
    assert_string_equal(err,
                        "user_script:1: Script attempted to access nonexistent global variable "
                        "'nosuch'");
    static const char *const gone[] = { "print",   "dofile",   "loadfile", "setfenv",
                                        "getfenv", "newproxy", "require",  "module",
                                        "package", "os",       "io",       "debug" };
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
        char code[64];
        snprintf(code, sizeof(code), "return %s", gone[i]);
        assert_non_null(run(L, code));
    }
    assert_string_equal(run_str(L, "return type(cjson) .. type(bit) .. type(struct) .. "
                                   "type(cmsgpack) .. type(string) .. type(loadstring)"),
                        "tabletabletabletabletablefunction");
}

static void test_globals_and_libraries_are_read_only(void **state)
{
    lua_State *L = *state;
    static const char *const writes[] = {
        "x = 1",
        "string.rep = nil",
        "table.x = 1",
        "cjson.encode = nil",
        "_G.print = 1",
        "getmetatable('').__index = {}",
        "getmetatable('').__index.upper = function() return 'x' end",
    };
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        const char *err = run(L, writes[i]);
        assert_non_null(err);
        assert_string_equal(err, "user_script:1: Attempt to modify a readonly table");
    }
    /* the functions that bypass metatables: refused without a position, as Redis */
    static const char *const raw[] = { "rawset(_G, 'x', 1)", "setmetatable(_G, nil)",
                                       "table.insert(string, 1)", "table.remove(math)",
                                       "table.sort(cjson)" };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        const char *err = run(L, raw[i]);
        assert_non_null(err);
        assert_string_equal(err, "Attempt to modify a readonly table");
    }
    /* nothing was left behind for the next script */
    assert_string_equal(run_str(L, "return type(rawget(_G, 'x')) .. type(string[1])"), "nilnil");
    assert_string_equal(run_str(L, "return ('ab'):upper() .. string.rep('c', 2)"), "ABcc");
}

static void test_proxies_still_read(void **state)
{
    lua_State *L = *state;
    /* pairs, next, ipairs and rawget see the real tables */
    assert_string_equal(run_str(L, "local n = 0 for k, v in pairs(string) do n = n + 1 end "
                                   "return tostring(n > 10)"),
                        "true");
    assert_string_equal(run_str(L, "return type(next(math))"), "string");
    assert_string_equal(run_str(L, "return type(rawget(string, 'len'))"), "function");
    assert_string_equal(run_str(L, "local t = {} for i, v in ipairs({'a', 'b'}) do "
                                   "t[#t + 1] = v end return table.concat(t)"),
                        "ab");
    /* a global set by the host (KEYS, ARGV) */
    lua_pushstring(L, "hello");
    luabox_set_global(L, "GREETING");
    assert_string_equal(run_str(L, "return GREETING"), "hello");
}

static void test_no_precompiled_chunks(void **state)
{
    lua_State *L = *state;
    assert_false(luabox_is_source("\033Lua", 4));
    assert_true(luabox_is_source("return 1", 8));
    assert_string_equal(run_str(L, "local f, e = loadstring(string.dump(function() return 1 "
                                   "end)) return tostring(f) .. ' ' .. e"),
                        "nil precompiled chunks are not allowed");
    assert_string_equal(run_str(L, "local s = string.dump(function() end) local done = false "
                                   "local f, e = load(function() if done then return nil end "
                                   "done = true return s end) return e"),
                        "precompiled chunks are not allowed");
    assert_string_equal(run_str(L, "return loadstring('return 7')() .. ''"), "7");
}

/* ---- RESP -> Lua ---- */

/* Push the RESP value s, then describe it with a Lua expression over `v`. */
static const char *describe(lua_State *L, const char *resp, const char *expr)
{
    lua_settop(L, 0);
    size_t used = luabox_push_resp(L, resp, strlen(resp));
    assert_int_equal(used, strlen(resp));
    luabox_set_global(L, "v");
    return run_str(L, expr);
}

static void test_resp_to_lua(void **state)
{
    lua_State *L = *state;
    assert_string_equal(describe(L, ":-42\r\n", "return type(v) .. v"), "number-42");
    assert_string_equal(describe(L, "$3\r\nabc\r\n", "return #v .. ''"), "3");
    assert_string_equal(describe(L, "$-1\r\n", "return tostring(v)"), "false");
    assert_string_equal(describe(L, "*-1\r\n", "return tostring(v)"), "false");
    assert_string_equal(describe(L, "+OK\r\n", "return v.ok"), "OK");
    assert_string_equal(describe(L, "-ERR bad\r\n", "return v.err"), "ERR bad");
    assert_string_equal(
        describe(L, "*3\r\n:1\r\n$1\r\nx\r\n*1\r\n+y\r\n", "return v[1] .. v[2] .. v[3][1].ok"),
        "1xy");
    assert_string_equal(describe(L, "%1\r\n$1\r\nk\r\n:5\r\n", "return v.map.k .. ''"), "5");
    assert_string_equal(
        describe(L, "~2\r\n$1\r\na\r\n$1\r\nb\r\n", "return tostring(v.set.a and v.set.b)"),
        "true");
    assert_string_equal(describe(L, ",1.5\r\n", "return v.double .. ''"), "1.5");
    assert_string_equal(describe(L, "#t\r\n", "return tostring(v)"), "true");
    assert_string_equal(describe(L, "_\r\n", "return tostring(rawget(_G, 'v'))"), "nil");
    assert_string_equal(describe(L, "(12345678901234567890\r\n", "return v.big_number"),
                        "12345678901234567890");
    assert_string_equal(describe(L, "=7\r\ntxt:abc\r\n",
                                 "return v.verbatim_string.format .. v.verbatim_string.string"),
                        "txtabc");
}

static void test_resp_to_lua_refuses_bad_input(void **state)
{
    lua_State *L = *state;
    static const char *const bad[] = {
        "",
        ":1",
        ":x\r\n",
        "$5\r\nab\r\n",
        "$3\r\nabc",
        "*2\r\n:1\r\n",
        "*99999999999999999999\r\n",
        "?1\r\n",
        "%1\r\n:1\r\n",
        "$-5x\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lua_settop(L, 0);
        assert_int_equal(luabox_push_resp(L, bad[i], strlen(bad[i])), 0);
        assert_int_equal(lua_gettop(L), 0); /* nothing left half-built */
    }
    /* deep nesting stops instead of exhausting the C stack */
    static char deep[4 * 100000 + 8];
    size_t n = 0;
    for (int i = 0; i < 100000; i++)
        n += (size_t)sprintf(deep + n, "*1\r\n");
    n += (size_t)sprintf(deep + n, ":1\r\n");
    lua_settop(L, 0);
    assert_int_equal(luabox_push_resp(L, deep, n), 0);
}

/* ---- Lua -> RESP ---- */

/* The reply script code returns, in RESP `proto`, for a script that speaks `resp`. */
static const char *reply_of(lua_State *L, const char *code, int proto, int resp)
{
    static char out[4096];
    const char *err = run(L, code);
    if (err != NULL)
        fail_msg("%s: %s", code, err);
    struct reply r;
    reply_init(&r, (uint8_t)proto);
    luabox_reply(L, -1, &r, resp);
    size_t n = 0;
    for (struct rblock *b = r.head; b != NULL; b = b->next) {
        size_t len = b->len - b->start;
        assert_true(n + len < sizeof(out));
        memcpy(out + n, b->data + b->start, len);
        n += len;
    }
    out[n] = '\0';
    reply_deinit(&r);
    return out;
}

static void test_lua_to_resp(void **state)
{
    lua_State *L = *state;
    assert_string_equal(reply_of(L, "return 3.99", 2, 2), ":3\r\n");
    assert_string_equal(reply_of(L, "return -2.5", 2, 2), ":-2\r\n");
    /* out of range: what x86-64's conversion gives, on every CPU (Redis's reply) */
    assert_string_equal(reply_of(L, "return 1e20", 2, 2), ":-9223372036854775808\r\n");
    assert_string_equal(reply_of(L, "return 0/0", 2, 2), ":-9223372036854775808\r\n");
    assert_string_equal(reply_of(L, "return 'x'", 2, 2), "$1\r\nx\r\n");
    assert_string_equal(reply_of(L, "return true", 2, 2), ":1\r\n");
    assert_string_equal(reply_of(L, "return false", 2, 2), "$-1\r\n");
    assert_string_equal(reply_of(L, "return false", 3, 2), "_\r\n");
    assert_string_equal(reply_of(L, "return false", 3, 3), "#f\r\n");
    assert_string_equal(reply_of(L, "return false", 2, 3), ":0\r\n");
    assert_string_equal(reply_of(L, "return nil", 2, 2), "$-1\r\n");
    assert_string_equal(reply_of(L, "return {1, 'a', nil, 4}", 2, 2), "*2\r\n:1\r\n$1\r\na\r\n");
    assert_string_equal(reply_of(L, "return {err = 'MY bad'}", 2, 2), "-MY bad\r\n");
    assert_string_equal(reply_of(L, "return {ok = 'fine'}", 2, 2), "+fine\r\n");
    assert_string_equal(reply_of(L, "return {ok = 'x', err = 'y'}", 2, 2), "-y\r\n");
    assert_string_equal(reply_of(L, "return {double = 1.5}", 3, 3), ",1.5\r\n");
    assert_string_equal(reply_of(L, "return {double = 1.5}", 2, 3), "$3\r\n1.5\r\n");
    assert_string_equal(reply_of(L, "return {map = {k = 1}}", 3, 3), "%1\r\n$1\r\nk\r\n:1\r\n");
    assert_string_equal(reply_of(L, "return {map = {k = 1}}", 2, 3), "*2\r\n$1\r\nk\r\n:1\r\n");
    assert_string_equal(reply_of(L, "return {set = {a = true}}", 3, 3), "~1\r\n$1\r\na\r\n");
    assert_string_equal(reply_of(L, "return {big_number = '123'}", 3, 3), "(123\r\n");
    assert_string_equal(reply_of(L, "return {big_number = '123'}", 2, 3), "$3\r\n123\r\n");
    assert_string_equal(
        reply_of(L, "return {verbatim_string = {format = 'txt', string = 'hi'}}", 3, 3),
        "=6\r\ntxt:hi\r\n");
    /* a table that holds itself ends, with an error where the nesting was cut */
    const char *r = reply_of(L, "local t = {} t[1] = t return t", 2, 2);
    assert_non_null(strstr(r, "-ERR reached lua stack limit\r\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_globals_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globals_and_libraries_are_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxies_still_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_precompiled_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_to_lua, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resp_to_lua_refuses_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_to_resp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
