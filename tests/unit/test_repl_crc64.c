/*
 * CRC-64 of the RDB trailer: the check value, and crc64_update (ISA-L under
 * a register inversion) against a bit-at-a-time reference written from the
 * definition (reflected Jones polynomial, init 0, no final xor) over every
 * length 0..300 at every alignment, long inputs, split at every offset, and
 * combined from pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replication/crc64.h"

/* One bit at a time, straight from the definition. */
static uint64_t crc_ref(uint64_t crc, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ull : crc >> 1;
    }
    return crc;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (unsigned char)(seed >> 56);
    }
}

static void check_value(void **state)
{
    (void)state;
    assert_true(crc64_update(0, "123456789", 9) == 0xe9c6d914c4b8d9caull);
    assert_true(crc_ref(0, (const unsigned char *)"123456789", 9) == 0xe9c6d914c4b8d9caull);
    assert_true(crc64_update(0, NULL, 0) == 0);
    assert_true(crc64_update(0x1234, "", 0) == 0x1234);
    /* Not the CRC-64/ECMA or /XZ variants: a wrong polynomial or xor shows here. */
    assert_true(crc64_update(0, "a", 1) == crc_ref(0, (const unsigned char *)"a", 1));
    assert_true(crc64_update(0, "a", 1) != 0);
}

/* Every length 0..300 at every alignment 0..15 of the start. */
static void lengths_and_alignments(void **state)
{
    (void)state;
    unsigned char data[300];
    fill(data, sizeof(data), 1);
    for (size_t align = 0; align < 16; align++) {
        for (size_t n = 0; n <= sizeof(data); n++) {
            /* An exact-size heap copy: a read past the end is an ASan error. */
            unsigned char *buf = malloc(align + n + 1);
            assert_non_null(buf);
            memcpy(buf + align, data, n);
            assert_true(crc64_update(0, buf + align, n) == crc_ref(0, data, n));
            assert_true(crc64_update(0xdeadbeefcafef00dull, buf + align, n) ==
                        crc_ref(0xdeadbeefcafef00dull, data, n));
            free(buf);
        }
    }
}

/* Long inputs (the library's folding loops work in blocks): lengths around
 * powers of two and block multiples, at several alignments. */
static void long_inputs(void **state)
{
    (void)state;
    static const size_t lens[] = {
        6143, 6144, 6145, 6151, 6152, 12287, 12288, 12296, 20000, 100003
    };
    enum { MAXN = 100003 };
    unsigned char *data = malloc(MAXN);
    assert_non_null(data);
    fill(data, MAXN, 4);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint64_t want = crc_ref(0, data, lens[i]);
        for (size_t align = 0; align < 9; align++) {
            unsigned char *buf = malloc(align + lens[i]);
            assert_non_null(buf);
            memcpy(buf + align, data, lens[i]);
            assert_true(crc64_update(0, buf + align, lens[i]) == want);
            free(buf);
        }
        /* split in the middle of a block, and a non-zero start */
        uint64_t c = crc64_update(0, data, lens[i] / 3);
        assert_true(crc64_update(c, data + lens[i] / 3, lens[i] - lens[i] / 3) == want);
        assert_true(crc64_update(7, data, lens[i]) == crc_ref(7, data, lens[i]));
    }
    free(data);
}

/* Incremental updates over any split equal the one-shot CRC. */
static void incremental(void **state)
{
    (void)state;
    unsigned char data[300];
    fill(data, sizeof(data), 2);
    uint64_t whole = crc64_update(0, data, sizeof(data));
    for (size_t cut = 0; cut <= sizeof(data); cut++) {
        uint64_t c = crc64_update(0, data, cut);
        assert_true(crc64_update(c, data + cut, sizeof(data) - cut) == whole);
    }
    for (size_t a = 0; a <= 40; a++)
        for (size_t b = a; b <= 80; b += 3) {
            uint64_t c = crc64_update(0, data, a);
            c = crc64_update(c, data + a, b - a);
            c = crc64_update(c, data + b, sizeof(data) - b);
            assert_true(c == whole);
        }
    uint64_t c = 0;
    for (size_t i = 0; i < sizeof(data); i++)
        c = crc64_update(c, data + i, 1);
    assert_true(c == whole);
}

/* crc64_combine gives the CRC of a concatenation from the CRCs of its parts. */
static void combine(void **state)
{
    (void)state;
    enum { N = 5000 };
    unsigned char *data = malloc(N);
    assert_non_null(data);
    fill(data, N, 3);
    uint64_t whole = crc64_update(0, data, N);
    static const size_t cuts[] = { 0, 1, 2, 7, 8, 9, 63, 64, 255, 256, 1000, 4095, 4999, 5000 };
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        size_t cut = cuts[i];
        uint64_t a = crc64_update(0, data, cut);
        uint64_t b = crc64_update(0, data + cut, N - cut);
        assert_true(crc64_combine(a, b, N - cut) == whole);
    }
    /* Three pieces, as shards would make them. */
    uint64_t a = crc64_update(0, data, 100), b = crc64_update(0, data + 100, 1900);
    uint64_t c = crc64_update(0, data + 2000, 3000);
    assert_true(crc64_combine(crc64_combine(a, b, 1900), c, 3000) == whole);
    /* A long run of zero bytes, against the direct computation. */
    size_t zn = 3u << 20;
    unsigned char *z = calloc(1, zn);
    assert_non_null(z);
    uint64_t direct = crc64_update(crc64_update(0, data, 10), z, zn);
    assert_true(crc64_combine(crc64_update(0, data, 10), 0, zn) == direct);
    free(z);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_value), cmocka_unit_test(lengths_and_alignments),
        cmocka_unit_test(long_inputs), cmocka_unit_test(incremental),
        cmocka_unit_test(combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
