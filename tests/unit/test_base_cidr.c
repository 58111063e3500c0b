/* Source allowlists: the CIDR list parser and matcher (base/cidr.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/cidr.h"

/* An address in text, as the 16 bytes the matcher takes (IPv4 mapped). */
static void addr_of(const char *text, uint8_t out[16])
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, text, &a4) == 1) {
        cidr_addr_from_v4(ntohl(a4.s_addr), out);
        return;
    }
    assert_int_equal(inet_pton(AF_INET6, text, &a6), 1);
    memcpy(out, a6.s6_addr, 16);
}

static bool matches(const struct cidr_list *l, const char *text)
{
    uint8_t a[16];
    addr_of(text, a);
    return cidr_list_match(l, a);
}

static struct cidr_list *parse_ok(const char *text)
{
    struct cidr_list *l = (struct cidr_list *)1;
    char err[256] = "";
    if (cidr_list_parse(text, &l, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", text, err);
    return l;
}

static void empty_means_everyone(void **state)
{
    (void)state;
    assert_null(parse_ok(""));
    assert_null(parse_ok("   "));
    assert_null(parse_ok(" , "));
    assert_true(matches(NULL, "192.0.2.1"));
    assert_true(matches(NULL, "2001:db8::1"));
    assert_null(cidr_list_check(""));
}

static void ipv4_prefixes(void **state)
{
    (void)state;
    struct cidr_list *l = parse_ok("10.0.0.0/8 192.168.1.0/24,127.0.0.2/32");
    assert_int_equal(l->n, 3);
    assert_true(matches(l, "10.0.0.0"));
    assert_true(matches(l, "10.255.255.255"));
    assert_false(matches(l, "11.0.0.0"));
    assert_false(matches(l, "9.255.255.255"));
    assert_true(matches(l, "192.168.1.77"));
    assert_false(matches(l, "192.168.2.1"));
    assert_true(matches(l, "127.0.0.2"));
    assert_false(matches(l, "127.0.0.1"));
    assert_false(matches(l, "127.0.0.3"));
    /* an IPv4-mapped IPv6 peer is the IPv4 peer */
    assert_true(matches(l, "::ffff:10.1.2.3"));
    assert_false(matches(l, "::ffff:11.1.2.3"));
    /* an IPv6 peer never matches an IPv4 entry, whatever its low bits */
    assert_false(matches(l, "::a01:203"));
    assert_false(matches(l, "2001:db8::a01:203"));
    cidr_list_destroy(l);
}

static void ipv6_prefixes(void **state)
{
    (void)state;
    struct cidr_list *l = parse_ok("::1/128 2001:db8:1::/48 fe80::/10");
    assert_true(matches(l, "::1"));
    assert_false(matches(l, "::2"));
    assert_true(matches(l, "2001:db8:1:ffff::1"));
    assert_false(matches(l, "2001:db8:2::1"));
    assert_true(matches(l, "fe80::1"));
    assert_true(matches(l, "febf::1"));
    assert_false(matches(l, "fec0::1"));
    assert_false(matches(l, "127.0.0.1"));
    cidr_list_destroy(l);
}

static void edges(void **state)
{
    (void)state;
    /* /0 of each family: every IPv4 peer; every peer */
    struct cidr_list *l = parse_ok("0.0.0.0/0");
    assert_true(matches(l, "1.2.3.4"));
    assert_true(matches(l, "255.255.255.255"));
    assert_false(matches(l, "2001:db8::1"));
    cidr_list_destroy(l);
    l = parse_ok("::/0");
    assert_true(matches(l, "1.2.3.4"));
    assert_true(matches(l, "2001:db8::1"));
    cidr_list_destroy(l);
    /* an address alone is one host */
    l = parse_ok("192.0.2.7 2001:db8::7");
    assert_true(matches(l, "192.0.2.7"));
    assert_false(matches(l, "192.0.2.6"));
    assert_true(matches(l, "2001:db8::7"));
    assert_false(matches(l, "2001:db8::6"));
    cidr_list_destroy(l);
    /* prefix lengths that are not byte multiples, both sides of the boundary */
    l = parse_ok("172.16.0.0/12 2001:db8:8000::/33");
    assert_true(matches(l, "172.31.255.255"));
    assert_false(matches(l, "172.32.0.0"));
    assert_false(matches(l, "172.15.255.255"));
    assert_true(matches(l, "2001:db8:ffff::1"));
    assert_false(matches(l, "2001:db8:7fff::1"));
    cidr_list_destroy(l);
}

static void refuse(const char *text, const char *why)
{
    struct cidr_list *l = (struct cidr_list *)1;
    char err[256] = "";
    assert_int_equal(cidr_list_parse(text, &l, err, sizeof(err)), -EINVAL);
    assert_null(l);
    if (strstr(err, why) == NULL)
        fail_msg("'%s': error '%s' does not say '%s'", text, err, why);
    const char *check = cidr_list_check(text);
    assert_non_null(check);
    assert_string_equal(check, err);
}

static void bad_lists(void **state)
{
    (void)state;
    refuse("10.0.0.0/33",
           "invalid CIDR '10.0.0.0/33': the prefix length of an IPv4 address must be 0 to 32");
    refuse("::/129", "must be 0 to 128");
    refuse("10.0.0.0/", "the prefix length must be a number");
    refuse("10.0.0.0/-1", "the prefix length must be a number");
    refuse("10.0.0.0/8x", "the prefix length must be a number");
    refuse("10.0.0.0/0008", "the prefix length must be a number");
    refuse("10.0.0.1/8",
           "invalid CIDR '10.0.0.1/8': it has address bits set past its prefix length");
    refuse("2001:db8::1/32", "bits set past its prefix length");
    refuse("10.0.0/8", "invalid CIDR '10.0.0/8': not an IPv4 or IPv6 address");
    refuse("localhost", "invalid CIDR 'localhost'");
    refuse("256.0.0.0/8", "not an IPv4 or IPv6 address");
    refuse("::1/128 10.0.0.0/8 bogus", "invalid CIDR 'bogus'");
    refuse("1.2.3.4/32/1", "the prefix length must be a number");
    char big[CIDR_MAX_ENTRIES * 12 + 16];
    size_t n = 0;
    for (int i = 0; i <= CIDR_MAX_ENTRIES; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "10.0.%d.%d ", i / 256, i % 256);
    refuse(big, "too many entries (257, at most 256)");
}

/* Every cut of a valid entry into two words parses differently or fails cleanly: no crash,
 * no match the whole entry would not give. */
static void every_cut(void **state)
{
    (void)state;
    const char *text = "2001:db8:1::/48";
    char buf[64];
    for (size_t cut = 1; cut < strlen(text); cut++) {
        snprintf(buf, sizeof(buf), "%.*s %s", (int)cut, text, text + cut);
        struct cidr_list *l = NULL;
        char err[256];
        if (cidr_list_parse(buf, &l, err, sizeof(err)) == 0) {
            assert_non_null(l);
            assert_int_equal(l->n, 2);
            cidr_list_destroy(l);
        } else {
            assert_null(l);
            assert_non_null(strstr(err, "invalid CIDR"));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_means_everyone),
        cmocka_unit_test(ipv4_prefixes),
        cmocka_unit_test(ipv6_prefixes),
        cmocka_unit_test(edges),
        cmocka_unit_test(bad_lists),
        cmocka_unit_test(every_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
