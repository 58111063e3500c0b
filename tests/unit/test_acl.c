/*
 * ACL: the rule parser (every rule, its errors), the check (commands,
 * subcommands, categories, key patterns with read/write permissions against
 * the key specs' flags), ACL LIST's description, passwords, deletion and the
 * log's grouping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "acl/acl.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "base/common.h"
#include "base/strbuf.h"

#define ARGV(...) ((const struct resp_arg[]){ __VA_ARGS__ })
#define A(s)                                                                                       \
    {                                                                                              \
        .ptr = (char *)(s), .len = sizeof(s) - 1                                                   \
    }

static int setup(void **state)
{
    (void)state;
    cmd_table_setup();
    acl_setup();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    acl_teardown();
    cmd_table_teardown();
    return 0;
}

/* ACL SETUSER name rules... (space-separated); @return 0/-1, err into *err. */
static int setuser(const char *name, const char *rules, char *err, size_t cap)
{
    char copy[1024];
    const char *v[32];
    size_t l[32];
    int n = 0;
    snprintf(copy, sizeof(copy), "%s", rules);
    for (char *save, *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        v[n] = t;
        l[n++] = strlen(t);
    }
    return acl_setuser(name, strlen(name), n, v, l, err, cap);
}

static void ok(const char *name, const char *rules)
{
    char err[512] = "";
    assert_int_equal(setuser(name, rules, err, sizeof(err)), 0);
}

/* The ACL LIST line of a user. */
static void describe(const char *name, char *out, size_t cap)
{
    struct acl_user *u = acl_user_get(name, strlen(name));
    assert_non_null(u);
    struct strbuf s;
    strbuf_setup(&s);
    acl_describe(u, &s);
    snprintf(out, cap, "%.*s", (int)s.len, s.buf);
    strbuf_deinit(&s);
    acl_user_put(u);
}

/* ACL SETUSER name rules, then the user's ACL LIST line must be want. */
static void expect_line(const char *name, const char *rules, const char *want)
{
    char line[512];
    ok(name, rules);
    describe(name, line, sizeof(line));
    assert_string_equal(line, want);
}

static enum acl_result check(const char *user, int argc, const struct resp_arg *argv, int *pos)
{
    struct acl_user *u = acl_user_get(user, strlen(user));
    assert_non_null(u);
    const struct cmd_def *parent = NULL;
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (d->subs != NULL) {
        parent = d;
        d = cmd_lookup_sub(parent, argv[1].ptr, argv[1].len);
    }
    int p;
    enum acl_result r = acl_check_fast(acl_rules_of(u), d, argc, argv, pos ? pos : &p);
    acl_user_put(u);
    return r;
}

static void default_user(void **state)
{
    (void)state;
    char line[512];
    describe("default", line, sizeof(line));
    assert_string_equal(line, "user default on nopass ~* &* +@all");
    assert_int_equal(check("default", 2, ARGV(A("flushall"), A("sync")), NULL), ACL_OK);
    struct acl_user *u = acl_authenticate(NULL, 0, "anything", 8);
    assert_non_null(u);
    acl_user_put(u);
    /* requirepass is the default user's password */
    acl_set_default_password("s3cret");
    assert_null(acl_authenticate(NULL, 0, "anything", 8));
    u = acl_authenticate("default", 7, "s3cret", 6);
    assert_non_null(u);
    acl_user_put(u);
    /* of any length: a 5000-byte requirepass is that password, whole */
    static char longpass[5001];
    memset(longpass, 'p', 5000);
    acl_set_default_password(longpass);
    u = acl_authenticate("default", 7, longpass, 5000);
    assert_non_null(u);
    acl_user_put(u);
    assert_null(acl_authenticate("default", 7, longpass, 1022));
    acl_set_default_password("");
    describe("default", line, sizeof(line));
    assert_string_equal(line, "user default on nopass ~* &* +@all");
}

static void rule_errors(void **state)
{
    (void)state;
    char err[512];
    static const struct {
        const char *rule, *why;
    } cases[] = {
        { "bogus", "Syntax error" },
        { "+nosuchcmd", "Unknown command or category name in ACL" },
        { "-@nosuchcat", "Unknown command or category name in ACL" },
        { "#abc", "The password hash must be exactly 64 characters and contain only lowercase "
                  "hexadecimal characters" },
        { "<never-set", "The password you are trying to remove from the user does not exist" },
        { "%X~k*", "Syntax error" },
        { "%R", "Syntax error" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char want[512];
        snprintf(want, sizeof(want), "ERR Error in ACL SETUSER modifier '%s': %s", cases[i].rule,
                 cases[i].why);
        assert_int_equal(setuser("bob", cases[i].rule, err, sizeof(err)), -1);
        assert_string_equal(err, want);
    }
    /* a failed SETUSER changes nothing: the user was never created */
    assert_null(acl_user_get("bob", 3));
    ok("bob", "allkeys");
    assert_int_equal(setuser("bob", "~foo", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Try 'resetkeys'"));
    ok("bob", "allchannels");
    assert_int_equal(setuser("bob", "&foo", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Try 'resetchannels'"));
}

static void passwords(void **state)
{
    (void)state;
    char line[512], hex[65];
    ok("alice", "on >p1 >p2");
    struct acl_user *u = acl_authenticate("alice", 5, "p2", 2);
    assert_non_null(u);
    acl_user_put(u);
    ok("alice", "<p2");
    assert_null(acl_authenticate("alice", 5, "p2", 2));
    acl_hash_hex("p1", 2, hex);
    assert_string_equal(hex, "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a");
    describe("alice", line, sizeof(line));
    assert_string_equal(line, "user alice on #f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0"
                              "cbd7a69f68a resetchannels -@all");
    char rule[80];
    snprintf(rule, sizeof(rule), "!%s", hex);
    ok("alice", rule);
    assert_null(acl_authenticate("alice", 5, "p1", 2));
    snprintf(rule, sizeof(rule), "#%s", hex);
    ok("alice", rule);
    u = acl_authenticate("alice", 5, "p1", 2);
    assert_non_null(u);
    acl_user_put(u);
    ok("alice", "off");
    assert_null(acl_authenticate("alice", 5, "p1", 2)); /* disabled */
    ok("alice", "on nopass");
    u = acl_authenticate("alice", 5, "whatever", 8);
    assert_non_null(u);
    acl_user_put(u);
    ok("alice", "resetpass");
    assert_null(acl_authenticate("alice", 5, "whatever", 8));
    assert_null(acl_authenticate("nobody", 6, "x", 1));
}

static void commands(void **state)
{
    (void)state;
    char line[512];
    int pos;
    ok("u", "on nopass allkeys +@read -keys +config|get");
    assert_int_equal(check("u", 2, ARGV(A("get"), A("k")), NULL), ACL_OK);
    assert_int_equal(check("u", 3, ARGV(A("set"), A("k"), A("v")), NULL), ACL_DENIED_CMD);
    assert_int_equal(check("u", 2, ARGV(A("keys"), A("*")), NULL), ACL_DENIED_CMD);
    assert_int_equal(check("u", 3, ARGV(A("config"), A("get"), A("x")), NULL), ACL_OK);
    assert_int_equal(check("u", 4, ARGV(A("config"), A("set"), A("x"), A("y")), NULL),
                     ACL_DENIED_CMD);
    describe("u", line, sizeof(line));
    assert_non_null(strstr(line, "~* resetchannels -@all +@read "));
    assert_non_null(strstr(line, " -keys"));
    assert_non_null(strstr(line, " +config|get"));
    /* the dangerous commands of the issue, for a user without @dangerous */
    ok("v", "on nopass allkeys +@all -@dangerous -@admin");
    assert_int_equal(check("v", 4, ARGV(A("config"), A("set"), A("dir"), A("/")), NULL),
                     ACL_DENIED_CMD);
    assert_int_equal(check("v", 1, ARGV(A("shutdown")), NULL), ACL_DENIED_CMD);
    assert_int_equal(check("v", 3, ARGV(A("replicaof"), A("h"), A("1")), NULL), ACL_DENIED_CMD);
    assert_int_equal(check("v", 2, ARGV(A("keys"), A("*")), NULL), ACL_DENIED_CMD);
    assert_int_equal(check("v", 1, ARGV(A("flushall")), NULL), ACL_DENIED_CMD);
    assert_int_equal(check("v", 2, ARGV(A("get"), A("k")), &pos), ACL_OK);
    describe("v", line, sizeof(line));
    assert_string_equal(line, "user v on nopass ~* resetchannels +@all -@dangerous");
    /* +@all remembers itself (future commands), nocommands forgets */
    expect_line("w", "nocommands +set allcommands -get", "user w off resetchannels +@all -get");
    expect_line("w", "reset", "user w off sanitize-payload resetchannels -@all");
}

static void key_patterns(void **state)
{
    (void)state;
    char line[512];
    int pos = -1;
    expect_line("k", "on nopass +@all ~app:* %R~ro:* %W~wo:*",
                "user k on nopass ~app:* %R~ro:* %W~wo:* resetchannels +@all");
    assert_int_equal(check("k", 2, ARGV(A("get"), A("app:1")), NULL), ACL_OK);
    assert_int_equal(check("k", 3, ARGV(A("set"), A("app:1"), A("v")), NULL), ACL_OK);
    assert_int_equal(check("k", 2, ARGV(A("get"), A("other")), &pos), ACL_DENIED_KEY);
    assert_int_equal(pos, 1);
    /* %R~: reads, not writes */
    assert_int_equal(check("k", 2, ARGV(A("get"), A("ro:1")), NULL), ACL_OK);
    assert_int_equal(check("k", 3, ARGV(A("set"), A("ro:1"), A("v")), NULL), ACL_DENIED_KEY);
    /* %W~: writes, not reads; SET ... GET reads too */
    assert_int_equal(check("k", 3, ARGV(A("set"), A("wo:1"), A("v")), NULL), ACL_OK);
    assert_int_equal(check("k", 2, ARGV(A("get"), A("wo:1")), NULL), ACL_DENIED_KEY);
    assert_int_equal(check("k", 4, ARGV(A("set"), A("wo:1"), A("v"), A("GET")), NULL),
                     ACL_DENIED_KEY);
    /* a key spec that neither reads nor writes the value (EXISTS) needs no permission */
    assert_int_equal(check("k", 2, ARGV(A("exists"), A("wo:1")), NULL), ACL_OK);
    /* every key of a multi-key command: the second one is refused */
    assert_int_equal(check("k", 3, ARGV(A("mget"), A("app:1"), A("wo:2")), &pos), ACL_DENIED_KEY);
    assert_int_equal(pos, 2);
    /* the same pattern twice merges its permissions */
    ok("k", "%W~ro:*");
    describe("k", line, sizeof(line));
    assert_non_null(strstr(line, " ~ro:* "));
    ok("k", "resetkeys");
    assert_int_equal(check("k", 2, ARGV(A("get"), A("app:1")), NULL), ACL_DENIED_KEY);
    /* read and write on * is allkeys, so ACL LIST's "~*" reads back (found by fuzz_acl) */
    expect_line("k", "%R~* %W~*", "user k on nopass ~* resetchannels +@all");
    assert_true(check("k", 3, ARGV(A("set"), A("any"), A("v")), NULL) == ACL_OK);
    ok("k", "resetkeys");
    assert_int_equal(check("k", 1, ARGV(A("dbsize")), NULL), ACL_OK); /* no keys */
}

static void selectors(void **state)
{
    (void)state;
    char err[512];
    int pos;
    expect_line("s", "on nopass ~a* +get (~b* +set) (%R~c* &ch +@read)",
                "user s on nopass ~a* resetchannels -@all +get (~b* resetchannels "
                "-@all +set) (%R~c* resetchannels &ch -@all +@read)");
    assert_int_equal(check("s", 2, ARGV(A("get"), A("a1")), NULL), ACL_OK);
    assert_int_equal(check("s", 3, ARGV(A("set"), A("b1"), A("v")), NULL), ACL_OK);
    assert_int_equal(check("s", 2, ARGV(A("get"), A("c1")), NULL), ACL_OK);
    /* refused by all: the key refusal of the selector that allowed the command */
    assert_int_equal(check("s", 3, ARGV(A("set"), A("a1"), A("v")), &pos), ACL_DENIED_KEY);
    assert_int_equal(pos, 1);
    assert_int_equal(check("s", 2, ARGV(A("del"), A("a1")), NULL), ACL_DENIED_CMD);
    /* user rules are not selector rules; a selector may span words */
    assert_int_equal(setuser("s", "(on)", err, sizeof(err)), -1);
    assert_string_equal(err, "ERR Error in ACL SETUSER modifier '(on)': Syntax error");
    assert_int_equal(setuser("s", "(~x", err, sizeof(err)), -1);
    assert_string_equal(err, "ERR Unmatched parenthesis in acl selector starting at '(~x'.");
    expect_line("s", "clearselectors (~x +del)",
                "user s on nopass ~a* resetchannels -@all +get (~x resetchannels "
                "-@all +del)");
    expect_line("s", "reset", "user s off sanitize-payload resetchannels -@all");
}

/* "+select|0": first arguments of a command without subcommands, as Redis 7.0 */
static void first_args(void **state)
{
    (void)state;
    char err[512];
    expect_line("f", "on nopass allkeys +select|0 +select|1",
                "user f on nopass ~* resetchannels -@all +select|0 +select|1");
    assert_int_equal(check("f", 2, ARGV(A("select"), A("0")), NULL), ACL_OK);
    assert_int_equal(check("f", 2, ARGV(A("SELECT"), A("1")), NULL), ACL_OK);
    assert_int_equal(check("f", 2, ARGV(A("select"), A("2")), NULL), ACL_DENIED_CMD);
    assert_int_equal(setuser("f", "-select|2", err, sizeof(err)), -1);
    assert_int_equal(setuser("f", "+config|nosuch", err, sizeof(err)), -1);
    /* setting the command's bit either way drops them */
    expect_line("f", "-select +select|5", "user f on nopass ~* resetchannels -@all +select|5");
    expect_line("f", "-@all", "user f on nopass ~* resetchannels -@all");
}

static void deleted(void **state)
{
    (void)state;
    ok("gone", "on >pw +@all allkeys");
    struct acl_user *held = acl_user_get("gone", 4); /* a connection's reference */
    assert_int_equal(acl_deluser("gone", 4), 1);
    assert_int_equal(acl_deluser("gone", 4), 0);
    assert_null(acl_user_get("gone", 4));
    assert_null(acl_authenticate("gone", 4, "pw", 2));
    /* the connection still holding it sees the deletion at its next command */
    int pos;
    assert_true(acl_rules_of(held)->flags & ACL_DELETED);
    assert_int_not_equal(
        acl_check_fast(acl_rules_of(held), cmd_lookup("get", 3), 2, ARGV(A("get"), A("k")), &pos),
        ACL_OK);
    acl_user_put(held);
}

struct log_seen {
    long long n, first_count;
    char first_object[64];
};

static void log_start(void *arg, long long n)
{
    ((struct log_seen *)arg)->n = n;
}

static void log_entry(void *arg, const struct acl_log_entry *e)
{
    struct log_seen *s = arg;
    if (s->first_object[0] == '\0') {
        s->first_count = e->count;
        snprintf(s->first_object, sizeof(s->first_object), "%s", e->object);
    }
}

static void log_grouping(void **state)
{
    (void)state;
    acl_log_reset();
    acl_log_add(ACL_DENIED_CMD, false, "set", 3, "u", 1, "id=1", 1000);
    acl_log_add(ACL_DENIED_KEY, false, "k", 1, "u", 1, "id=1", 1001);
    acl_log_add(ACL_DENIED_CMD, false, "set", 3, "u", 1, "id=2", 2000); /* same: grouped, first */
    struct log_seen s = { 0 };
    acl_log_foreach(-1, log_start, log_entry, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.first_count, 2);
    assert_string_equal(s.first_object, "set");
    /* more than a minute later: a new entry */
    acl_log_add(ACL_DENIED_CMD, false, "set", 3, "u", 1, "id=2", 2000 + 60000);
    memset(&s, 0, sizeof(s));
    acl_log_foreach(-1, log_start, log_entry, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.first_count, 1);
    acl_log_set_max(1); /* applies at the next entry, as Redis */
    memset(&s, 0, sizeof(s));
    acl_log_foreach(-1, log_start, log_entry, &s);
    assert_int_equal(s.n, 3);
    acl_log_add(ACL_DENIED_KEY, false, "k2", 2, "u", 1, "id=3", 70000);
    memset(&s, 0, sizeof(s));
    acl_log_foreach(-1, log_start, log_entry, &s);
    assert_int_equal(s.n, 1);
    acl_log_set_max(128);
    acl_log_reset();
}

/* Snapshots replaced while a reader has not passed a quiescent point stay valid. */
static void snapshot_reclaim(void **state)
{
    (void)state;
    acl_set_readers(1);
    ok("r", "on nopass +get allkeys");
    struct acl_user *u = acl_user_get("r", 1);
    const struct acl_rules *before = acl_rules_of(u); /* the reader holds this */
    ok("r", "-get");
    ok("r", "+get");
    /* not freed yet: still readable (ASan would report a use after free) */
    assert_true(before->flags & ACL_ON);
    assert_true(acl_cmd_allowed(before, cmd_lookup("get", 3)));
    acl_quiescent(0);
    ok("r", "-get"); /* frees the retired snapshots */
    assert_false(acl_cmd_allowed(acl_rules_of(u), cmd_lookup("get", 3)));
    acl_user_put(u);
    acl_set_readers(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(default_user, setup, teardown),
        cmocka_unit_test_setup_teardown(rule_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(passwords, setup, teardown),
        cmocka_unit_test_setup_teardown(commands, setup, teardown),
        cmocka_unit_test_setup_teardown(key_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(selectors, setup, teardown),
        cmocka_unit_test_setup_teardown(first_args, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(log_grouping, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_reclaim, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
