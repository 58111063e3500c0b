#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/util.h"

static void str2ll_accepts_what_redis_accepts(void **state)
{
    (void)state;
    long long v;
    assert_true(util_str2ll("0", 1, &v));
    assert_int_equal(v, 0);
    assert_true(util_str2ll("-1", 2, &v));
    assert_int_equal(v, -1);
    assert_true(util_str2ll("9223372036854775807", 19, &v));
    assert_true(v == 9223372036854775807LL);
    assert_true(util_str2ll("-9223372036854775808", 20, &v));
    assert_true(v == (-9223372036854775807LL - 1));
    assert_false(util_str2ll("9223372036854775808", 19, &v));
    assert_false(util_str2ll("-9223372036854775809", 20, &v));
    assert_false(util_str2ll("-0", 2, &v));
    assert_false(util_str2ll("01", 2, &v));
    assert_false(util_str2ll("+1", 2, &v));
    assert_false(util_str2ll(" 1", 2, &v));
    assert_false(util_str2ll("1 ", 2, &v));
    assert_false(util_str2ll("", 0, &v));
    assert_false(util_str2ll("-", 1, &v));
    assert_false(util_str2ll("12a", 3, &v));
}

static void ll2str_round_trips(void **state)
{
    (void)state;
    long long vals[] = {
        0, 1, -1, 10, 123456789, -987654321, 9223372036854775807LL, -9223372036854775807LL - 1
    };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char buf[32];
        size_t n = util_ll2str(buf, vals[i]);
        long long back;
        assert_true(util_str2ll(buf, n, &back));
        assert_true(back == vals[i]);
    }
}

static void ld2str_matches_incrbyfloat_format(void **state)
{
    (void)state;
    char buf[UTIL_LD_BUF];
    size_t n = util_ld2str(buf, 10.5L);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "10.5", 4);
    n = util_ld2str(buf, 3.0L);
    assert_int_equal(n, 1);
    assert_memory_equal(buf, "3", 1);
    n = util_ld2str(buf, 5.0e3L);
    assert_memory_equal(buf, "5000", n);
    long double v;
    assert_true(util_str2ld("10.5", 4, &v));
    assert_false(util_str2ld(" 1", 2, &v));
    assert_false(util_str2ld("nan", 3, &v));
    assert_false(util_str2ld("1x", 2, &v));
    assert_false(util_str2ld("1\0", 2, &v)); /* every byte must be part of the number */
    double d;
    assert_false(util_str2d("2\0"
                            "5",
                            3, &d));
    assert_true(util_str2d("2.5", 3, &d));
}

static void memtoull_units(void **state)
{
    (void)state;
    unsigned long long v;
    assert_true(util_memtoull("100", &v));
    assert_true(v == 100);
    assert_true(util_memtoull("1k", &v));
    assert_true(v == 1000);
    assert_true(util_memtoull("1kb", &v));
    assert_true(v == 1024);
    assert_true(util_memtoull("2GB", &v));
    assert_true(v == 2ull * 1024 * 1024 * 1024);
    assert_true(util_memtoull("3m", &v));
    assert_true(v == 3000000);
    assert_false(util_memtoull("1xb", &v));
    assert_false(util_memtoull("abc", &v));
    assert_false(util_memtoull("-1", &v));
}

static bool gm(const char *p, const char *s)
{
    return util_glob_match(p, strlen(p), s, strlen(s), false);
}

static void glob_patterns(void **state)
{
    (void)state;
    assert_true(gm("*", ""));
    assert_true(gm("*", "anything"));
    assert_true(gm("h?llo", "hello"));
    assert_false(gm("h?llo", "hllo"));
    assert_true(gm("h*llo", "heeeello"));
    assert_true(gm("h[ae]llo", "hallo"));
    assert_false(gm("h[ae]llo", "hillo"));
    assert_true(gm("h[^e]llo", "hallo"));
    assert_false(gm("h[^e]llo", "hello"));
    assert_true(gm("h[a-b]llo", "hbllo"));
    assert_true(gm("h[b-a]llo", "hallo"));
    assert_true(gm("a\\*b", "a*b"));
    assert_false(gm("a\\*b", "axb"));
    assert_true(gm("key:*:x", "key:12:x"));
    assert_false(gm("key:*:x", "key:12:y"));
    assert_true(gm("*a*b*c*", "xxaxxbxxcxx"));
    assert_true(util_glob_match("HELLO", 5, "hello", 5, true));
    assert_false(gm("abc", "abcd"));
    /* A pathological pattern finishes quickly (no exponential backtracking). */
    char s[200];
    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    assert_false(gm("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", s));
}

static void crc16_and_slots(void **state)
{
    (void)state;
    assert_int_equal(util_crc16("123456789", 9), 0x31c3);
    assert_int_equal(util_key_slot("foo", 3), 12182);
    assert_int_equal(util_key_slot("{user1000}.following", 20), util_key_slot("user1000", 8));
    assert_int_equal(util_key_slot("foo{}{bar}", 10), util_crc16("foo{}{bar}", 10) & 16383);
    assert_int_equal(util_key_slot("foo{{bar}}zap", 13), util_crc16("{bar", 4) & 16383);
}

static void hash_is_seeded_and_stable(void **state)
{
    (void)state;
    util_hash_setup(1);
    uint64_t a = util_hash("hello", 5);
    assert_true(a == util_hash("hello", 5));
    assert_true(a != util_hash("hellp", 5));
    assert_true(util_hash("", 0) != util_hash("\0", 1));
    util_hash_setup(2);
    assert_true(a != util_hash("hello", 5));
    /* Every length up to 40 hashes differently from its neighbours. */
    char buf[64] = { 0 };
    for (size_t n = 1; n < 40; n++)
        assert_true(util_hash(buf, n) != util_hash(buf, n - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(str2ll_accepts_what_redis_accepts),
        cmocka_unit_test(ll2str_round_trips),
        cmocka_unit_test(ld2str_matches_incrbyfloat_format),
        cmocka_unit_test(memtoull_units),
        cmocka_unit_test(glob_patterns),
        cmocka_unit_test(crc16_and_slots),
        cmocka_unit_test(hash_is_seeded_and_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
