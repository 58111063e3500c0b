#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <strings.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

bool util_str2ll(const char *s, size_t len, long long *out)
{
    const char *p = s;
    size_t plen = 0;
    bool neg = false;
    unsigned long long v;

    if (len == 0 || len > 20)
        return false;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    if (p[0] == '-') {
        neg = true;
        p++;
        plen++;
        if (plen == len)
            return false;
    }
    if (p[0] < '1' || p[0] > '9')
        return false;
    v = (unsigned long long)(p[0] - '0');
    p++;
    plen++;
    while (plen < len) {
        if (p[0] < '0' || p[0] > '9')
            return false;
        if (v > (~0ull) / 10)
            return false;
        v *= 10;
        unsigned long long d = (unsigned long long)(p[0] - '0');
        if (v > (~0ull) - d)
            return false;
        v += d;
        p++;
        plen++;
    }
    if (neg) {
        if (v > (unsigned long long)(-(LLONG_MIN + 1)) + 1)
            return false;
        *out = v == (unsigned long long)(-(LLONG_MIN + 1)) + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

bool util_str2ull(const char *s, size_t len, unsigned long long *out)
{
    if (len == 0 || len > 20)
        return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] < '1' || s[0] > '9')
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned long long d = (unsigned long long)(s[i] - '0');
        if (v > (~0ull - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool util_str2ld(const char *s, size_t len, long double *out)
{
    char buf[5120];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *eptr;
    errno = 0;
    long double v = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr != buf + len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return false;
    *out = v;
    return true;
}

bool util_str2d(const char *s, size_t len, double *out)
{
    char buf[5120];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *eptr;
    errno = 0;
    double v = strtod(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || eptr != buf + len ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return false;
    *out = v;
    return true;
}

size_t util_ull2str(char *buf, unsigned long long v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

size_t util_ll2str(char *buf, long long v)
{
    if (v < 0) {
        buf[0] = '-';
        return 1 + util_ull2str(buf + 1, (unsigned long long)(-(v + 1)) + 1);
    }
    return util_ull2str(buf, (unsigned long long)v);
}

size_t util_ld2str(char *buf, long double v)
{
    if (isinf(v) || isnan(v))
        return 0;
    int n = snprintf(buf, UTIL_LD_BUF, "%.17Lf", v);
    if (n <= 0 || n >= UTIL_LD_BUF)
        return 0;
    if (strchr(buf, '.') != NULL) {
        char *p = buf + n - 1;
        while (*p == '0') {
            p--;
            n--;
        }
        if (*p == '.')
            n--;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        n = 1;
    }
    return (size_t)n;
}

size_t util_d2str(char *buf, size_t cap, double v)
{
    int n;
    if (isnan(v))
        n = snprintf(buf, cap, "nan");
    else if (isinf(v))
        n = snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else
        n = snprintf(buf, cap, "%.17g", v);
    return n < 0 ? 0 : (size_t)n;
}

bool util_memtoull(const char *s, unsigned long long *out)
{
    size_t len = strlen(s);
    size_t digits = 0;
    unsigned long long mul = 1;
    while (digits < len && (isdigit((unsigned char)s[digits]) || (digits == 0 && s[0] == '-')))
        digits++;
    const char *u = s + digits;
    if (*u == '\0' || strcasecmp(u, "b") == 0)
        mul = 1;
    else if (strcasecmp(u, "k") == 0)
        mul = 1000;
    else if (strcasecmp(u, "kb") == 0)
        mul = 1024;
    else if (strcasecmp(u, "m") == 0)
        mul = 1000ull * 1000;
    else if (strcasecmp(u, "mb") == 0)
        mul = 1024ull * 1024;
    else if (strcasecmp(u, "g") == 0)
        mul = 1000ull * 1000 * 1000;
    else if (strcasecmp(u, "gb") == 0)
        mul = 1024ull * 1024 * 1024;
    else
        return false;
    unsigned long long v;
    if (!util_str2ull(s, digits, &v))
        return false;
    if (mul != 1 && v > ~0ull / mul)
        return false;
    *out = v * mul;
    return true;
}

static inline int fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/*
 * Iterative glob matcher with single-star backtracking: O(len(p) * len(s))
 * worst case, no recursion, so a hostile pattern cannot exhaust the stack.
 */
bool util_glob_match(const char *p, size_t plen, const char *s, size_t slen, bool nocase)
{
    size_t pi = 0, si = 0;
    size_t star_p = (size_t)-1, star_s = 0;

    while (si < slen) {
        if (pi < plen) {
            char c = p[pi];
            if (c == '*') {
                while (pi < plen && p[pi] == '*')
                    pi++;
                if (pi == plen)
                    return true;
                star_p = pi;
                star_s = si;
                continue;
            }
            if (c == '?') {
                pi++;
                si++;
                continue;
            }
            if (c == '[') {
                size_t q = pi + 1;
                bool negate = false, match = false;
                if (q < plen && p[q] == '^') {
                    negate = true;
                    q++;
                }
                for (;;) {
                    if (q >= plen) {
                        q = plen;
                        break;
                    }
                    if (p[q] == ']')
                        break;
                    if (p[q] == '\\' && q + 1 < plen) {
                        q++;
                        if (fold((unsigned char)p[q], nocase) == fold((unsigned char)s[si], nocase))
                            match = true;
                        q++;
                    } else if (q + 2 < plen && p[q + 1] == '-') {
                        int lo = fold((unsigned char)p[q], nocase);
                        int hi = fold((unsigned char)p[q + 2], nocase);
                        int ch = fold((unsigned char)s[si], nocase);
                        if (lo > hi) {
                            int t = lo;
                            lo = hi;
                            hi = t;
                        }
                        if (ch >= lo && ch <= hi)
                            match = true;
                        q += 3;
                    } else {
                        if (fold((unsigned char)p[q], nocase) == fold((unsigned char)s[si], nocase))
                            match = true;
                        q++;
                    }
                }
                if (negate)
                    match = !match;
                if (match) {
                    pi = q < plen ? q + 1 : q;
                    si++;
                    continue;
                }
            } else {
                if (c == '\\' && pi + 1 < plen) {
                    pi++;
                    c = p[pi];
                }
                if (fold((unsigned char)c, nocase) == fold((unsigned char)s[si], nocase)) {
                    pi++;
                    si++;
                    continue;
                }
            }
        }
        if (star_p == (size_t)-1)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

static const uint16_t crc16_table[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b,
    0xc18c, 0xd1ad, 0xe1ce, 0xf1ef, 0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
    0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de, 0x2462, 0x3443, 0x0420, 0x1401,
    0x64e6, 0x74c7, 0x44a4, 0x5485, 0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4, 0xb75b, 0xa77a, 0x9719, 0x8738,
    0xf7df, 0xe7fe, 0xd79d, 0xc7bc, 0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b, 0x5af5, 0x4ad4, 0x7ab7, 0x6a96,
    0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
    0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41, 0xedae, 0xfd8f, 0xcdec, 0xddcd,
    0xad2a, 0xbd0b, 0x8d68, 0x9d49, 0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
    0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78, 0x9188, 0x81a9, 0xb1ca, 0xa1eb,
    0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290, 0x22f3, 0x32d2,
    0x4235, 0x5214, 0x6277, 0x7256, 0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
    0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405, 0xa7db, 0xb7fa, 0x8799, 0x97b8,
    0xe75f, 0xf77e, 0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827,
    0x18c0, 0x08e1, 0x3882, 0x28a3, 0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
    0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92, 0xfd2e, 0xed0f, 0xdd6c, 0xcd4d,
    0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
    0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74,
    0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

uint16_t util_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ (uint8_t)buf[i]) & 0xff]);
    return crc;
}

unsigned util_key_slot(const char *key, size_t len)
{
    size_t s, e;
    for (s = 0; s < len; s++)
        if (key[s] == '{')
            break;
    if (s == len)
        return util_crc16(key, len) & (UTIL_SLOTS - 1);
    for (e = s + 1; e < len; e++)
        if (key[e] == '}')
            break;
    if (e == len || e == s + 1)
        return util_crc16(key, len) & (UTIL_SLOTS - 1);
    return util_crc16(key + s + 1, e - s - 1) & (UTIL_SLOTS - 1);
}

/*
 * The table hash: XXH3 (libxxhash, inlined here so the hot path makes no call
 * into a shared library; it picks NEON on ARM64 and SSE2/AVX2 on x86-64 by
 * itself). Seeded per process so that keys chosen by a client cannot be aimed
 * at one bucket. The store takes its bucket index from the low bits and its
 * tag byte from the top 7 bits, so both ends of the word must be well mixed;
 * tests/unit/test_base_hash.c checks that, and docs/design.md has the numbers
 * against the hash this replaced.
 *
 * Keys shorter than 240 bytes use the seed directly; longer ones use a secret
 * derived from the same seed once here (the _withSeed variant would derive it
 * on every call), which gives exactly XXH3_64bits_withSeed's values.
 */
static uint64_t hash_seed;
static _Alignas(64) unsigned char hash_secret_buf[XXH3_SECRET_DEFAULT_SIZE];
static const void *hash_secret = XXH3_kSecret; /* seed 0's secret until setup */

void util_hash_setup(uint64_t seed)
{
    XXH3_generateSecret_fromSeed(hash_secret_buf, seed);
    hash_secret = hash_secret_buf;
    hash_seed = seed;
}

uint64_t util_hash(const void *data, size_t len)
{
    return XXH3_64bits_withSecretandSeed(data, len, hash_secret, XXH3_SECRET_DEFAULT_SIZE,
                                         hash_seed);
}

bool util_strcaseeq(const char *s, size_t len, const char *cstr)
{
    size_t clen = strlen(cstr);
    return len == clen && strncasecmp(s, cstr, len) == 0;
}

static _Thread_local uint64_t rand_state = 0x9e3779b97f4a7c15ull;

void util_rand_seed(uint64_t seed)
{
    rand_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t util_rand64(void)
{
    uint64_t x = rand_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rand_state = x;
    return x * 0x2545f4914f6cdd1dull;
}
