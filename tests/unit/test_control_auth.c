/*
 * control/auth.c: password hashing and verification, roles, the credentials file parser, the
 * throttling of failed attempts (on a fake clock).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "control/auth.h"

static void hash_and_verify(void **state)
{
    (void)state;
    char h1[CTL_AUTH_HASH_MAX], h2[CTL_AUTH_HASH_MAX];
    assert_int_equal(ctl_auth_hash("s3cret", 6, h1, sizeof(h1)), 0);
    assert_int_equal(ctl_auth_hash("s3cret", 6, h2, sizeof(h2)), 0);
    assert_non_null(strstr(h1, "pbkdf2-sha256$"));
    assert_null(strstr(h1, "s3cret"));
    /* A fresh salt each time: the same password gives two different strings. */
    assert_string_not_equal(h1, h2);
    assert_true(ctl_auth_verify(h1, "s3cret", 6));
    assert_true(ctl_auth_verify(h2, "s3cret", 6));
    assert_false(ctl_auth_verify(h1, "s3cres", 6));
    assert_false(ctl_auth_verify(h1, "s3cret", 5)); /* a prefix is not the password */
    assert_false(ctl_auth_verify(h1, "s3cret!", 7));
    assert_false(ctl_auth_verify(h1, "", 0));
    /* Binary passwords (a NUL inside) are compared whole. */
    char bin[CTL_AUTH_HASH_MAX];
    assert_int_equal(ctl_auth_hash("a\0b", 3, bin, sizeof(bin)), 0);
    assert_true(ctl_auth_verify(bin, "a\0b", 3));
    assert_false(ctl_auth_verify(bin, "a\0c", 3));
    assert_false(ctl_auth_verify(bin, "a", 1));
    /* Refused: empty and too long passwords, too small an output. */
    char big[CTL_AUTH_PASS_MAX + 1];
    memset(big, 'x', sizeof(big));
    assert_int_equal(ctl_auth_hash("", 0, h2, sizeof(h2)), -EINVAL);
    assert_int_equal(ctl_auth_hash(big, sizeof(big), h2, sizeof(h2)), -EINVAL);
    assert_int_equal(ctl_auth_hash("x", 1, h2, 10), -EINVAL);
}

static void malformed_hashes_never_verify(void **state)
{
    (void)state;
    char h[CTL_AUTH_HASH_MAX];
    assert_int_equal(ctl_auth_hash("pw", 2, h, sizeof(h)), 0);
    /* Every truncation of a good hash, and every single-character change, is refused. */
    for (size_t n = 0; n < strlen(h); n++) {
        char cut[CTL_AUTH_HASH_MAX];
        memcpy(cut, h, n);
        cut[n] = '\0';
        assert_false(ctl_auth_verify(cut, "pw", 2));
        char changed[CTL_AUTH_HASH_MAX];
        strcpy(changed, h);
        changed[n] = changed[n] == '0' ? '1' : '0';
        assert_false(ctl_auth_verify(changed, "pw", 2));
    }
    assert_false(ctl_auth_verify("", "pw", 2));
    assert_false(ctl_auth_verify("pw", "pw", 2)); /* a plain-text password is not a hash */
    assert_false(ctl_auth_verify("pbkdf2-sha256$0$00$00", "pw", 2));
    assert_false(ctl_auth_verify("pbkdf2-sha256$-5$00$00", "pw", 2));
}

/* A known answer: PBKDF2-HMAC-SHA-256("password", salt 00..0f, 4096 rounds), checked with
 * Python's hashlib.pbkdf2_hmac. */
static void known_answer(void **state)
{
    (void)state;
    const char *stored = "pbkdf2-sha256$4096$000102030405060708090a0b0c0d0e0f$"
                         "91700e3c494e10071700866601efd486e43765fa8b42b9a129203386a5ca509b";
    assert_true(ctl_auth_verify(stored, "password", 8));
    assert_false(ctl_auth_verify(stored, "Password", 8));
}

static void roles_and_names(void **state)
{
    (void)state;
    assert_int_equal(ctl_auth_role_parse("admin"), CTL_ACCESS_ADMIN);
    assert_int_equal(ctl_auth_role_parse("readonly"), CTL_ACCESS_READONLY);
    assert_int_equal(ctl_auth_role_parse("Admin"), CTL_ACCESS_NONE);
    assert_int_equal(ctl_auth_role_parse(""), CTL_ACCESS_NONE);
    assert_int_equal(ctl_auth_role_parse(NULL), CTL_ACCESS_NONE);
    assert_string_equal(ctl_auth_role_name(CTL_ACCESS_READONLY), "readonly");
    assert_true(ctl_auth_user_valid("ops.viewer@site-1_a"));
    assert_false(ctl_auth_user_valid(""));
    assert_false(ctl_auth_user_valid("a b"));
    assert_false(ctl_auth_user_valid("a\nb"));
    char longname[CTL_AUTH_USER_MAX + 1];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(ctl_auth_user_valid(longname));
    longname[CTL_AUTH_USER_MAX - 1] = '\0';
    assert_true(ctl_auth_user_valid(longname));
}

static int creds(const char *text, const char *profile, char *user, char *pass)
{
    char err[128] = "";
    int rc = ctl_auth_credentials_parse(text, profile, user, CTL_AUTH_USER_MAX, pass,
                                        CTL_AUTH_PASS_MAX, err, sizeof(err));
    if (rc == -EINVAL)
        assert_true(strlen(err) > 0);
    return rc;
}

static void credentials_file(void **state)
{
    (void)state;
    char user[CTL_AUTH_USER_MAX], pass[CTL_AUTH_PASS_MAX];
    const char *text = "# pollux credentials\n"
                       "[default]\n"
                       "user = admin\n"
                       "password = s3cret = with equals \n"
                       "\n"
                       "; another profile\r\n"
                       "[ ops ]\r\n"
                       "\tuser=viewer\r\n"
                       "password=v#not-a-comment\r\n"
                       "[empty]\n"
                       "user = nobody\n";
    assert_int_equal(creds(text, "default", user, pass), 0);
    assert_string_equal(user, "admin");
    assert_string_equal(pass, "s3cret = with equals");
    assert_int_equal(creds(text, "ops", user, pass), 0);
    assert_string_equal(user, "viewer");
    assert_string_equal(pass, "v#not-a-comment");
    assert_int_equal(creds(text, "empty", user, pass), -ENOENT); /* no password */
    assert_int_equal(creds(text, "missing", user, pass), -ENOENT);
    assert_int_equal(creds("", "default", user, pass), -ENOENT);
    /* The last line needs no newline; a later value wins. */
    assert_int_equal(creds("[p]\nuser=a\npassword=1\npassword=2", "p", user, pass), 0);
    assert_string_equal(pass, "2");
    /* Malformed: a header without ']', a line without '=', an overlong value. */
    assert_int_equal(creds("[default\nuser=a\npassword=b\n", "default", user, pass), -EINVAL);
    assert_int_equal(creds("[default]\njunk\n", "default", user, pass), -EINVAL);
    char big[CTL_AUTH_USER_MAX + 40];
    snprintf(big, sizeof(big), "[d]\nuser=%0*d\npassword=x\n", CTL_AUTH_USER_MAX + 2, 0);
    assert_int_equal(creds(big, "d", user, pass), -EINVAL);
    /* Every prefix of a good file parses without overrunning (missing or found). */
    const char *good = "[default]\nuser = u\npassword = p\n";
    for (size_t n = 0; n <= strlen(good); n++) {
        char cut[64];
        memcpy(cut, good, n);
        cut[n] = '\0';
        int rc = creds(cut, "default", user, pass);
        assert_true(rc == 0 || rc == -ENOENT || rc == -EINVAL);
        if (n == strlen(good) || n == strlen(good) - 1)
            assert_int_equal(rc, 0);
    }
}

#define MS 1000000ull

/* Free failures, then a back-off that doubles up to its cap; refused time is not counted. */
static void backoff_doubles(void **state)
{
    (void)state;
    struct ctl_auth_backoff b = { 0 };
    uint64_t t = 1000 * MS;
    assert_int_equal(ctl_auth_backoff_left_ms(&b, t), 0);
    assert_int_equal(ctl_auth_backoff_fail(&b, 3, t), 0);
    assert_int_equal(ctl_auth_backoff_fail(&b, 3, t), 0);
    assert_int_equal(ctl_auth_backoff_left_ms(&b, t), 0);
    assert_int_equal(ctl_auth_backoff_fail(&b, 3, t), CTL_AUTH_BACKOFF_MS);
    assert_int_equal(ctl_auth_backoff_left_ms(&b, t), CTL_AUTH_BACKOFF_MS);
    assert_int_equal(ctl_auth_backoff_left_ms(&b, t + 1), CTL_AUTH_BACKOFF_MS); /* rounded up */
    assert_int_equal(ctl_auth_backoff_left_ms(&b, t + CTL_AUTH_BACKOFF_MS * MS), 0);
    t += CTL_AUTH_BACKOFF_MS * MS;
    assert_int_equal(ctl_auth_backoff_fail(&b, 3, t), 2 * CTL_AUTH_BACKOFF_MS);
    t += 2 * CTL_AUTH_BACKOFF_MS * MS;
    assert_int_equal(ctl_auth_backoff_fail(&b, 3, t), 4 * CTL_AUTH_BACKOFF_MS);
    for (int i = 0; i < 40; i++)
        ctl_auth_backoff_fail(&b, 3, t);
    assert_int_equal(ctl_auth_backoff_fail(&b, 3, t), CTL_AUTH_BACKOFF_MAX_MS);
    /* forgotten after a quiet period: free failures again */
    t += (uint64_t)CTL_AUTH_FORGET_MS * MS;
    assert_int_equal(ctl_auth_backoff_fail(&b, 3, t), 0);
    assert_int_equal(b.fails, 1);
    ctl_auth_backoff_clear(&b);
    assert_int_equal(b.fails, 0);
    assert_int_equal(ctl_auth_backoff_left_ms(&b, t), 0);
}

static void source_keys(void **state)
{
    (void)state;
    uint8_t k1[16], k2[16];
    struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(1) };
    inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
    ctl_auth_source_key((struct sockaddr *)&a4, k1);
    /* the same address as IPv4-mapped IPv6 (a dual-stack listener) is the same source */
    struct sockaddr_in6 m6 = { .sin6_family = AF_INET6, .sin6_port = htons(2) };
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &m6.sin6_addr);
    ctl_auth_source_key((struct sockaddr *)&m6, k2);
    assert_memory_equal(k1, k2, 16);
    a4.sin_addr.s_addr ^= htonl(1);
    ctl_auth_source_key((struct sockaddr *)&a4, k2);
    assert_memory_not_equal(k1, k2, 16);
    /* IPv6: one /64 is one source */
    struct sockaddr_in6 b6 = { .sin6_family = AF_INET6 };
    inet_pton(AF_INET6, "2001:db8:1:2::1", &b6.sin6_addr);
    ctl_auth_source_key((struct sockaddr *)&b6, k1);
    inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &b6.sin6_addr);
    ctl_auth_source_key((struct sockaddr *)&b6, k2);
    assert_memory_equal(k1, k2, 16);
    inet_pton(AF_INET6, "2001:db8:1:3::1", &b6.sin6_addr);
    ctl_auth_source_key((struct sockaddr *)&b6, k2);
    assert_memory_not_equal(k1, k2, 16);
}

/* A fixed table: found again by source and user; when full, the least recent failure makes room. */
static void source_table(void **state)
{
    (void)state;
    struct ctl_auth_sources *t = ctl_auth_sources_create();
    uint8_t key[16] = { 0 };
    assert_null(ctl_auth_sources_get(t, key, "u", false));
    for (unsigned i = 0; i < CTL_AUTH_SOURCES; i++) {
        memcpy(key, &i, sizeof(i));
        struct ctl_auth_backoff *b = ctl_auth_sources_get(t, key, "u", true);
        assert_non_null(b);
        ctl_auth_backoff_fail(b, 1, (uint64_t)(i + 1) * MS);
    }
    unsigned first = 0, second = 1;
    memcpy(key, &first, sizeof(first));
    struct ctl_auth_backoff *b0 = ctl_auth_sources_get(t, key, "u", false);
    assert_non_null(b0);
    assert_int_equal(b0->fails, 1);
    ctl_auth_backoff_fail(b0, 1, 10000 * MS); /* source 0 is now the most recent */
    unsigned fresh = CTL_AUTH_SOURCES;
    memcpy(key, &fresh, sizeof(fresh));
    struct ctl_auth_backoff *nb = ctl_auth_sources_get(t, key, "u", true);
    assert_int_equal(nb->fails, 0);
    memcpy(key, &second, sizeof(second)); /* the oldest one went */
    assert_null(ctl_auth_sources_get(t, key, "u", false));
    memcpy(key, &first, sizeof(first));
    assert_non_null(ctl_auth_sources_get(t, key, "u", false));
    /* the same source for another user is another entry */
    assert_null(ctl_auth_sources_get(t, key, "v", false));
    struct ctl_auth_backoff *v = ctl_auth_sources_get(t, key, "v", true);
    assert_ptr_not_equal(v, ctl_auth_sources_get(t, key, "u", false));
    assert_ptr_equal(v, ctl_auth_sources_get(t, key, "v", false));
    ctl_auth_sources_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_and_verify),  cmocka_unit_test(malformed_hashes_never_verify),
        cmocka_unit_test(known_answer),     cmocka_unit_test(roles_and_names),
        cmocka_unit_test(credentials_file), cmocka_unit_test(backoff_doubles),
        cmocka_unit_test(source_keys),      cmocka_unit_test(source_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
