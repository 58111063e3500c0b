#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define PREFIX   "pbkdf2-sha256$"

enum ctl_access ctl_auth_role_parse(const char *s)
{
    if (s && strcmp(s, "admin") == 0)
        return CTL_ACCESS_ADMIN;
    if (s && strcmp(s, "readonly") == 0)
        return CTL_ACCESS_READONLY;
    return CTL_ACCESS_NONE;
}

const char *ctl_auth_role_name(enum ctl_access a)
{
    return a == CTL_ACCESS_ADMIN ? "admin" : a == CTL_ACCESS_READONLY ? "readonly" : "none";
}

bool ctl_auth_user_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= CTL_AUTH_USER_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Exactly 2n lowercase hex digits from s, ending at `end` ('$' or NUL). */
static bool from_hex(const char *s, char end, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(s[2 * i]), lo = hi < 0 ? -1 : hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return s[2 * n] == end;
}

static int derive(const char *pass, size_t len, const unsigned char *salt, int iterations,
                  unsigned char out[HASH_LEN])
{
    return PKCS5_PBKDF2_HMAC(pass, (int)len, salt, SALT_LEN, iterations, EVP_sha256(), HASH_LEN,
                             out) == 1
               ? 0
               : -EIO;
}

int ctl_auth_hash(const char *pass, size_t len, char *out, size_t cap)
{
    if (len == 0 || len >= CTL_AUTH_PASS_MAX || cap < CTL_AUTH_HASH_MAX)
        return -EINVAL;
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    if (RAND_bytes(salt, SALT_LEN) != 1 || derive(pass, len, salt, CTL_AUTH_ITERATIONS, hash) != 0)
        return -EIO;
    char salt_hex[2 * SALT_LEN + 1], hash_hex[2 * HASH_LEN + 1];
    to_hex(salt, SALT_LEN, salt_hex);
    to_hex(hash, HASH_LEN, hash_hex);
    snprintf(out, cap, PREFIX "%d$%s$%s", CTL_AUTH_ITERATIONS, salt_hex, hash_hex);
    OPENSSL_cleanse(hash, sizeof(hash));
    return 0;
}

bool ctl_auth_verify(const char *stored, const char *pass, size_t len)
{
    if (strncmp(stored, PREFIX, strlen(PREFIX)) != 0 || len >= CTL_AUTH_PASS_MAX)
        return false;
    const char *p = stored + strlen(PREFIX);
    char *end;
    long it = strtol(p, &end, 10);
    if (end == p || *end != '$' || it < 1 || it > 10000000)
        return false;
    unsigned char salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
    const char *s = end + 1;
    if (!from_hex(s, '$', salt, SALT_LEN) || !from_hex(s + 2 * SALT_LEN + 1, '\0', want, HASH_LEN))
        return false;
    if (derive(pass, len, salt, (int)it, got) != 0)
        return false;
    bool ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

/* ---- credentials file --------------------------------------------------------------------- */

static const char *trim(const char *s, const char *e, size_t *len)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    *len = (size_t)(e - s);
    return s;
}

static bool set_value(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap)
        return false;
    memcpy(dst, v, n);
    dst[n] = '\0';
    return true;
}

int ctl_auth_profile_value(const char *text, const char *profile, const char *key, char *out,
                           size_t cap, char *err, size_t errcap)
{
    bool in_profile = false, have = false;
    int lineno = 0;
    size_t keylen = strlen(key);
    out[0] = '\0';
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
        lineno++;
        size_t n;
        const char *l = trim(line, end, &n);
        line = nl ? nl + 1 : end;
        if (n == 0 || l[0] == '#' || l[0] == ';')
            continue;
        if (l[0] == '[') {
            if (l[n - 1] != ']') {
                snprintf(err, errcap, "line %d: a section header ends with ']'", lineno);
                return -EINVAL;
            }
            size_t sn;
            const char *sname = trim(l + 1, l + n - 1, &sn);
            in_profile = sn == strlen(profile) && memcmp(sname, profile, sn) == 0;
            continue;
        }
        const char *eq = memchr(l, '=', n);
        if (eq == NULL) {
            snprintf(err, errcap, "line %d: expected 'name = value' or '[profile]'", lineno);
            return -EINVAL;
        }
        size_t kn, vn;
        const char *k = trim(l, eq, &kn), *v = trim(eq + 1, l + n, &vn);
        if (!in_profile || kn != keylen || memcmp(k, key, kn) != 0)
            continue;
        if (!set_value(out, cap, v, vn)) {
            snprintf(err, errcap, "line %d: value too long", lineno);
            return -EINVAL;
        }
        have = vn > 0;
    }
    return have ? 0 : -ENOENT;
}

int ctl_auth_credentials_parse(const char *text, const char *profile, char *user, size_t ucap,
                               char *pass, size_t pcap, char *err, size_t errcap)
{
    int ru = ctl_auth_profile_value(text, profile, "user", user, ucap, err, errcap);
    if (ru == -EINVAL)
        return ru;
    int rp = ctl_auth_profile_value(text, profile, "password", pass, pcap, err, errcap);
    if (rp == -EINVAL)
        return rp;
    return ru == 0 && rp == 0 ? 0 : -ENOENT;
}
