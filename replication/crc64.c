#include "crc64.h"

#include <pthread.h>
#include <string.h>

/* The Jones polynomial, bit-reversed for the reflected (LSB-first) form. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ull

/*
 * table[k][b]: the CRC register after byte b followed by k zero bytes, starting
 * from 0. table[0] is the classic byte-at-a-time table; the other seven let one
 * step fold eight input bytes with eight independent lookups (16 KB in all).
 */
static uint64_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ ((c & 1) ? CRC64_POLY_REFLECTED : 0);
        table[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (unsigned b = 0; b < 256; b++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

/* Eight bytes as a little-endian number, from any alignment, on any host. */
static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint64_t crc64_update(uint64_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;

    pthread_once(&table_once, table_build);
    /* Byte steps up to an 8-byte boundary keep the wide loads aligned. */
    while (n > 0 && ((uintptr_t)s & 7) != 0) {
        crc = (crc >> 8) ^ table[0][(crc ^ *s++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint64_t w = crc ^ load_le64(s);
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        s += 8;
        n -= 8;
    }
    while (n > 0) {
        crc = (crc >> 8) ^ table[0][(crc ^ *s++) & 0xff];
        n--;
    }
    return crc;
}

/*
 * Combining. With init 0 and no final xor the CRC is linear over GF(2), so
 * CRC(A B) = CRC(A followed by |B| zero bytes) ^ CRC(B). Running the register
 * over zero bytes is a linear map on its 64 bits: a 64x64 bit matrix, stored
 * as the images of the 64 unit vectors. Squaring the one-byte map gives the
 * maps for 2, 4, 8 ... bytes; the bits of len_b pick which to apply.
 */
static uint64_t gf2_apply(const uint64_t m[64], uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; v != 0; i++, v >>= 1)
        if (v & 1)
            r ^= m[i];
    return r;
}

static void gf2_square(uint64_t out[64], const uint64_t m[64])
{
    for (int i = 0; i < 64; i++)
        out[i] = gf2_apply(m, m[i]);
}

uint64_t crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    uint64_t op[64], tmp[64];

    if (len_b == 0)
        return crc_a;
    /* One zero bit: shift right, fold the polynomial in when bit 0 falls out. */
    op[0] = CRC64_POLY_REFLECTED;
    for (int i = 1; i < 64; i++)
        op[i] = 1ull << (i - 1);
    /* Three squarings: one zero byte. */
    for (int s = 0; s < 3; s++) {
        gf2_square(tmp, op);
        memcpy(op, tmp, sizeof(op));
    }
    for (;;) {
        if (len_b & 1)
            crc_a = gf2_apply(op, crc_a);
        len_b >>= 1;
        if (len_b == 0)
            break;
        gf2_square(tmp, op);
        memcpy(op, tmp, sizeof(op));
    }
    return crc_a ^ crc_b;
}
