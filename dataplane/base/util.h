/* String and number helpers with Redis's exact acceptance rules, hashing, glob matching. */
#ifndef POLLUX_UTIL_H
#define POLLUX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse a signed 64-bit decimal the way Redis's string2ll does: no spaces, no
 * '+', no leading zeros ("0" alone is fine, "-0" is not).
 * @return true and *out on success.
 */
bool util_str2ll(const char *s, size_t len, long long *out);
/* Same for unsigned values. */
bool util_str2ull(const char *s, size_t len, unsigned long long *out);
/* Parse a long double like Redis's string2ld: no spaces, no NaN; "inf" accepted. */
bool util_str2ld(const char *s, size_t len, long double *out);
/* Parse a double like Redis's string2d (used by arguments such as INCRBYFLOAT's increment). */
bool util_str2d(const char *s, size_t len, double *out);

/* Write v in decimal into buf (>= 21 bytes); returns the length, no terminator needed. */
size_t util_ll2str(char *buf, long long v);
size_t util_ull2str(char *buf, unsigned long long v);
/*
 * Format a long double the way INCRBYFLOAT stores it ("%.17Lf" with trailing
 * zeros and a trailing dot removed). buf must hold 5 * 1024 bytes; returns the
 * length, or 0 when the value cannot be represented (infinite or NaN).
 */
#define UTIL_LD_BUF 5120
size_t util_ld2str(char *buf, long double v);
/* Format a double for RESP3 ',' replies and human output (%.17g, "inf", "-inf", "nan"). */
size_t util_d2str(char *buf, size_t cap, double v);

/*
 * Parse a memory amount like "1gb", "64mb", "100", "4k" (k/m/g are 1000-based,
 * kb/mb/gb 1024-based, case-insensitive), as in redis.conf.
 * @return true and *out on success.
 */
bool util_memtoull(const char *s, unsigned long long *out);

/* Glob-style match ('*', '?', '[a-z]', '[^x]', '\\' escapes), like Redis's KEYS patterns. */
bool util_glob_match(const char *pat, size_t patlen, const char *s, size_t slen, bool nocase);

/* CRC16 (XMODEM), and the Redis Cluster slot of a key (honours {hash tags}). */
uint16_t util_crc16(const char *buf, size_t len);
unsigned util_key_slot(const char *key, size_t len);
#define UTIL_SLOTS 16384

/*
 * Seeded 64-bit hash for hash tables: XXH3_64bits_withSeed(data, len, seed).
 * util_hash_setup() sets the seed (polluxd passes a random one; 0 until called)
 * and is not thread-safe: call it before the workers start.
 */
void util_hash_setup(uint64_t seed);
uint64_t util_hash(const void *data, size_t len);

/* Case-insensitive comparison of a counted string with a C string. */
bool util_strcaseeq(const char *s, size_t len, const char *cstr);

/* Random 64-bit number from a per-thread xorshift state (not cryptographic). */
uint64_t util_rand64(void);
void util_rand_seed(uint64_t seed);

#endif
