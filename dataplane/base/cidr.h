/*
 * Source allowlists: lists of IPv4 and IPv6 prefixes ("10.0.0.0/8 ::1/128")
 * and the test of one peer address against them.
 *
 * Every address is held as 16 bytes of IPv6: an IPv4 address a.b.c.d is the
 * IPv4-mapped ::ffff:a.b.c.d and an IPv4 prefix of length n is that prefix
 * of length 96 + n. So an IPv4 peer, whether it arrived on an IPv4 socket or
 * as a mapped address on a dual-stack one, matches the IPv4 entries, and one
 * comparison serves both families. (An IPv6 entry that covers ::ffff:0:0/96,
 * such as ::/0, therefore matches IPv4 peers too.)
 *
 * A list is immutable once parsed; whoever swaps lists decides when the old
 * one may be freed. Matching walks the entries in order: a list is meant for
 * a handful of security-group-like prefixes, checked once per connection.
 */
#ifndef POLLUX_CIDR_H
#define POLLUX_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIDR_MAX_ENTRIES 256

struct cidr_prefix {
    uint8_t addr[16]; /* host bits zero */
    uint8_t len;      /* 0..128, in IPv6 bits */
};

struct cidr_list {
    unsigned n;
    struct cidr_prefix e[];
};

/*
 * Parse a list of prefixes separated by spaces or commas: "a.b.c.d/n",
 * "x:y::z/n", or an address alone (one host). Host bits past the prefix
 * length are an error (10.0.0.1/8 is refused, as a likely typo).
 * @return 0 and *out (NULL for an empty list: everyone is allowed);
 *         -EINVAL with the reason, naming the bad entry, in err;
 *         -ENOMEM.
 */
int cidr_list_parse(const char *text, struct cidr_list **out, char *err, size_t errcap);
void cidr_list_destroy(struct cidr_list *l);

/*
 * A param_check_fn for a list-valued parameter.
 * @return NULL when text parses, else the reason (in a buffer of the calling thread).
 */
const char *cidr_list_check(const char *text);

/* Whether addr (16 bytes, IPv4 mapped) is in the list; a NULL list holds everyone. */
bool cidr_list_match(const struct cidr_list *l, const uint8_t addr[16]);

/* An IPv4 address (host byte order) as its IPv4-mapped IPv6 form. */
void cidr_addr_from_v4(uint32_t ip, uint8_t out[16]);

#endif
