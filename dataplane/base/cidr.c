#include "base/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/common.h"
#include "base/mem.h"

void cidr_addr_from_v4(uint32_t ip, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    out[12] = (uint8_t)(ip >> 24);
    out[13] = (uint8_t)(ip >> 16);
    out[14] = (uint8_t)(ip >> 8);
    out[15] = (uint8_t)ip;
}

/* Whether the first `len` bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
    unsigned full = len / 8, rest = len % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return ((a[full] ^ b[full]) & mask) == 0;
}

bool cidr_list_match(const struct cidr_list *l, const uint8_t addr[16])
{
    if (l == NULL)
        return true;
    for (unsigned i = 0; i < l->n; i++)
        if (prefix_equal(l->e[i].addr, addr, l->e[i].len))
            return true;
    return false;
}

/* "addr[/len]" of `n` bytes into *p. @return NULL, or what is wrong with it. */
static const char *parse_one(const char *s, size_t n, struct cidr_prefix *p)
{
    char text[INET6_ADDRSTRLEN + 8];
    if (n >= sizeof(text))
        return "not an IPv4 or IPv6 address with an optional /prefix-length";
    memcpy(text, s, n);
    text[n] = '\0';
    char *slash = strchr(text, '/');
    long plen = -1;
    if (slash != NULL) {
        *slash = '\0';
        const char *d = slash + 1;
        if (*d == '\0' || strlen(d) > 3)
            return "the prefix length must be a number";
        plen = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return "the prefix length must be a number";
            plen = plen * 10 + (*d - '0');
        }
    }
    struct in_addr a4;
    struct in6_addr a6;
    unsigned base;
    if (inet_pton(AF_INET, text, &a4) == 1) {
        if (plen > 32)
            return "the prefix length of an IPv4 address must be 0 to 32";
        cidr_addr_from_v4(ntohl(a4.s_addr), p->addr);
        base = 96;
        p->len = (uint8_t)(base + (plen < 0 ? 32 : (unsigned)plen));
    } else if (inet_pton(AF_INET6, text, &a6) == 1) {
        if (plen > 128)
            return "the prefix length of an IPv6 address must be 0 to 128";
        memcpy(p->addr, a6.s6_addr, 16);
        p->len = (uint8_t)(plen < 0 ? 128 : plen);
    } else {
        return "not an IPv4 or IPv6 address with an optional /prefix-length";
    }
    for (unsigned bit = p->len; bit < 128; bit++)
        if (p->addr[bit / 8] & (0x80u >> (bit % 8)))
            return "it has address bits set past its prefix length";
    return NULL;
}

static bool is_sep(char c)
{
    return c == ' ' || c == ',' || c == '\t';
}

int cidr_list_parse(const char *text, struct cidr_list **out, char *err, size_t errcap)
{
    unsigned n = 0;
    for (const char *p = text; *p;) {
        while (is_sep(*p))
            p++;
        if (*p == '\0')
            break;
        n++;
        while (*p && !is_sep(*p))
            p++;
    }
    *out = NULL;
    if (n == 0)
        return 0;
    if (n > CIDR_MAX_ENTRIES) {
        snprintf(err, errcap, "too many entries (%u, at most %d)", n, CIDR_MAX_ENTRIES);
        return -EINVAL;
    }
    struct cidr_list *l = mem_alloc(sizeof(*l) + n * sizeof(l->e[0]));
    if (l == NULL)
        return -ENOMEM;
    l->n = 0;
    for (const char *p = text; *p;) {
        while (is_sep(*p))
            p++;
        if (*p == '\0')
            break;
        const char *s = p;
        while (*p && !is_sep(*p))
            p++;
        const char *why = parse_one(s, (size_t)(p - s), &l->e[l->n]);
        if (why != NULL) {
            snprintf(err, errcap, "invalid CIDR '%.*s': %s", (int)MIN(p - s, 64), s, why);
            mem_free(l);
            return -EINVAL;
        }
        l->n++;
    }
    *out = l;
    return 0;
}

void cidr_list_destroy(struct cidr_list *l)
{
    mem_free(l);
}

const char *cidr_list_check(const char *text)
{
    static _Thread_local char why[160];
    struct cidr_list *l;
    if (cidr_list_parse(text, &l, why, sizeof(why)) != 0)
        return why;
    cidr_list_destroy(l);
    return NULL;
}
