#include "replication/crc64.h"

#include <pthread.h>
#include <string.h>

#include <isa-l/crc64.h>

/* The Jones polynomial, bit-reversed for the reflected (LSB-first) form. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ull

/*
 * ISA-L's crc64_jones_refl is this CRC with the register inverted on the way
 * in and out (init and final xor of all ones). Inverting our register before
 * and its result after cancels both, for any starting value, so a running CRC
 * can be continued in any number of calls. ISA-L picks its fastest code at run
 * time (carry-less multiply on x86-64 and ARMv8, a table otherwise).
 */
uint64_t crc64_update(uint64_t crc, const void *p, size_t n)
{
    if (n == 0)
        return crc;
    return ~crc64_jones_refl(~crc, p, n);
}

/*
 * Combining. With init 0 and no final xor the CRC is linear over GF(2), so
 * CRC(A B) = CRC(A followed by |B| zero bytes) ^ CRC(B). Running the register
 * over zero bytes is a linear map on its 64 bits: a 64x64 bit matrix, stored
 * as the images of the 64 unit vectors. zeros[k] is the map for 2^k bytes,
 * made once by squaring; the bits of len_b pick which to apply.
 */
static uint64_t zeros[64][64];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

static uint64_t gf2_apply(const uint64_t m[64], uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; v != 0; i++, v >>= 1)
        if (v & 1)
            r ^= m[i];
    return r;
}

static void zeros_build(void)
{
    uint64_t bit[64], tmp[64];
    /* One zero bit: shift right, fold the polynomial in when bit 0 falls out. */
    bit[0] = CRC64_POLY_REFLECTED;
    for (int i = 1; i < 64; i++)
        bit[i] = 1ull << (i - 1);
    /* Three squarings: one zero byte. */
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 64; i++)
            tmp[i] = gf2_apply(bit, bit[i]);
        memcpy(bit, tmp, sizeof(bit));
    }
    memcpy(zeros[0], bit, sizeof(bit));
    for (int k = 1; k < 64; k++)
        for (int i = 0; i < 64; i++)
            zeros[k][i] = gf2_apply(zeros[k - 1], zeros[k - 1][i]);
}

uint64_t crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b)
{
    pthread_once(&zeros_once, zeros_build);
    for (int k = 0; len_b != 0; k++, len_b >>= 1)
        if (len_b & 1)
            crc_a = gf2_apply(zeros[k], crc_a);
    return crc_a ^ crc_b;
}
