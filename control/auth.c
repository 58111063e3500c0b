#include "control/auth.h"

#include "base/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

int ctl_auth_random_password(char *out, size_t cap)
{
    unsigned char raw[CTL_NODE_USER_PASS_LEN / 2];
    if (cap < sizeof(raw) * 2 + 1 || RAND_bytes(raw, sizeof(raw)) != 1)
        return -EIO;
    to_hex(raw, sizeof(raw), out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
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

/* ---- throttling of failed attempts -------------------------------------------------------- */

uint64_t ctl_auth_backoff_left_ms(const struct ctl_auth_backoff *b, uint64_t now_ns)
{
    if (b->until_ns <= now_ns)
        return 0;
    return (b->until_ns - now_ns + 999999) / 1000000;
}

uint64_t ctl_auth_backoff_fail(struct ctl_auth_backoff *b, unsigned free, uint64_t now_ns)
{
    if (b->fails > 0 && now_ns - b->last_ns >= (uint64_t)CTL_AUTH_FORGET_MS * 1000000)
        b->fails = 0;
    if (b->fails < UINT32_MAX)
        b->fails++;
    b->last_ns = now_ns;
    if (b->fails < free)
        return 0;
    uint64_t ms = CTL_AUTH_BACKOFF_MS;
    for (uint32_t i = free; i < b->fails && ms < CTL_AUTH_BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > CTL_AUTH_BACKOFF_MAX_MS)
        ms = CTL_AUTH_BACKOFF_MAX_MS;
    b->until_ns = now_ns + ms * 1000000;
    return ms;
}

void ctl_auth_backoff_clear(struct ctl_auth_backoff *b)
{
    memset(b, 0, sizeof(*b));
}

void ctl_auth_source_key(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            memcpy(key, a, 16);
        else
            memcpy(key, a, 8);
    }
}

struct ctl_auth_sources {
    struct source {
        uint8_t key[16];
        char user[CTL_AUTH_USER_MAX];
        bool used;
        struct ctl_auth_backoff b;
    } s[CTL_AUTH_SOURCES];
};

struct ctl_auth_sources *ctl_auth_sources_create(void)
{
    return mem_calloc(sizeof(struct ctl_auth_sources));
}

void ctl_auth_sources_destroy(struct ctl_auth_sources *t)
{
    mem_free(t);
}

/*
 * A linear scan: it runs once per AUTH, which already costs a password check, and a fixed
 * table keeps an attacker with many addresses from growing pollux-control's memory.
 */
struct ctl_auth_backoff *ctl_auth_sources_get(struct ctl_auth_sources *t, const uint8_t key[16],
                                              const char *user, bool create)
{
    char name[CTL_AUTH_USER_MAX];
    snprintf(name, sizeof(name), "%s", user);
    struct source *oldest = NULL;
    for (size_t i = 0; i < CTL_AUTH_SOURCES; i++) {
        struct source *e = &t->s[i];
        if (e->used && memcmp(e->key, key, 16) == 0 && strcmp(e->user, name) == 0)
            return &e->b;
        /* the first free entry, else the one whose last failure is the oldest */
        if (!e->used) {
            if (oldest == NULL || oldest->used)
                oldest = e;
        } else if (oldest == NULL || (oldest->used && e->b.last_ns < oldest->b.last_ns)) {
            oldest = e;
        }
    }
    if (!create)
        return NULL;
    memcpy(oldest->key, key, 16);
    memcpy(oldest->user, name, sizeof(name));
    oldest->used = true;
    ctl_auth_backoff_clear(&oldest->b);
    return &oldest->b;
}
