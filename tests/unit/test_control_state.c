#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "control/state.h"

struct fixture {
    char dir[64];
    char path[96];
    struct ctl_state *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/pollux-state-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/state.db", f->dir);
    f->st = ctl_state_create(f->path);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ctl_state_destroy(f->st);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct ctl_node make_node(const char *id, int port, const char *az)
{
    struct ctl_node n;
    memset(&n, 0, sizeof(n));
    snprintf(n.id, sizeof(n.id), "%s", id);
    snprintf(n.host, sizeof(n.host), "127.0.0.1");
    n.port = port;
    snprintf(n.az, sizeof(n.az), "%s", az);
    snprintf(n.type, sizeof(n.type), "cache.t3.micro");
    return n;
}

static void count_pg(void *ctx, const struct ctl_pgroup *pg)
{
    (void)pg;
    (*(int *)ctx)++;
}

static void default_groups_are_created_once(void **state)
{
    struct fixture *f = *state;
    struct ctl_pgroup pg;
    assert_int_equal(ctl_state_pg_get(f->st, "default.redis7", &pg), 0);
    assert_true(pg.is_default);
    assert_string_equal(pg.family, "redis7");
    assert_int_equal(ctl_state_pg_get(f->st, "default.redis6.x", &pg), 0);
    assert_int_equal(ctl_state_pg_get(f->st, "default.pollux7", &pg), 0);
    assert_string_equal(pg.family, "pollux7");
    int n = 0;
    assert_int_equal(ctl_state_pg_each(f->st, count_pg, &n), 0);
    assert_int_equal(n, 3);
    /* Reopening does not duplicate them. */
    ctl_state_destroy(f->st);
    f->st = ctl_state_create(f->path);
    assert_non_null(f->st);
    n = 0;
    ctl_state_pg_each(f->st, count_pg, &n);
    assert_int_equal(n, 3);
}

static void nodes_round_trip_and_are_unique(void **state)
{
    struct fixture *f = *state;
    struct ctl_node a = make_node("n1", 7001, "az-a");
    assert_int_equal(ctl_state_node_add(f->st, &a), 0);
    assert_int_equal(ctl_state_node_add(f->st, &a), -EEXIST);
    struct ctl_node same_addr = make_node("n2", 7001, "az-b");
    assert_int_equal(ctl_state_node_add(f->st, &same_addr), -EEXIST);
    struct ctl_node got;
    assert_int_equal(ctl_state_node_get(f->st, "n1", &got), 0);
    assert_string_equal(got.az, "az-a");
    assert_int_equal(got.port, 7001);
    assert_int_equal(got.role, CTL_ROLE_NONE);
    assert_true(got.created_ms > 0);
    assert_int_equal(ctl_state_node_find_addr(f->st, "127.0.0.1", 7001, &got), 0);
    assert_string_equal(got.id, "n1");
    assert_int_equal(ctl_state_node_get(f->st, "nope", &got), -ENOENT);
    assert_int_equal(ctl_state_node_set_group(f->st, "n1", "rg", CTL_ROLE_PRIMARY), 0);
    assert_int_equal(ctl_state_node_set_pending_reboot(f->st, "n1", true), 0);
    assert_int_equal(ctl_state_node_get(f->st, "n1", &got), 0);
    assert_string_equal(got.group, "rg");
    assert_int_equal(got.role, CTL_ROLE_PRIMARY);
    assert_true(got.pending_reboot);
    assert_int_equal(ctl_state_node_set_group(f->st, "nope", "rg", CTL_ROLE_PRIMARY), -ENOENT);
    assert_int_equal(ctl_state_node_delete(f->st, "n1"), 0);
    assert_int_equal(ctl_state_node_delete(f->st, "n1"), -ENOENT);
}

static void parameter_values(void **state)
{
    struct fixture *f = *state;
    struct ctl_pgroup pg = { .name = "pg1", .family = "redis7", .desc = "mine" };
    assert_int_equal(ctl_state_pg_add(f->st, &pg), 0);
    assert_int_equal(ctl_state_pg_add(f->st, &pg), -EEXIST);
    char buf[64];
    assert_int_equal(ctl_state_pg_value_get(f->st, "pg1", "timeout", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(ctl_state_pg_value_set(f->st, "pg1", "timeout", "30"), 0);
    assert_int_equal(ctl_state_pg_value_set(f->st, "pg1", "timeout", "40"), 0);
    assert_int_equal(ctl_state_pg_value_set(f->st, "pg1", "hz", "20"), 0);
    assert_int_equal(ctl_state_pg_value_get(f->st, "pg1", "timeout", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "40");
    assert_int_equal(ctl_state_pg_value_reset(f->st, "pg1", "timeout"), 0);
    assert_int_equal(ctl_state_pg_value_get(f->st, "pg1", "timeout", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(ctl_state_pg_value_get(f->st, "pg1", "hz", buf, sizeof(buf)), 0);
    assert_int_equal(ctl_state_pg_value_reset(f->st, "pg1", NULL), 0);
    assert_int_equal(ctl_state_pg_value_get(f->st, "pg1", "hz", buf, sizeof(buf)), -ENOENT);
    /* Values go with their group. */
    assert_int_equal(ctl_state_pg_value_set(f->st, "pg1", "hz", "20"), 0);
    assert_int_equal(ctl_state_pg_delete(f->st, "pg1"), 0);
    assert_int_equal(ctl_state_pg_value_get(f->st, "pg1", "hz", buf, sizeof(buf)), -ENOENT);
    /* A value for a group that does not exist is refused by the foreign key. */
    assert_true(ctl_state_pg_value_set(f->st, "ghost", "hz", "20") < 0);
}

static void groups_and_members(void **state)
{
    struct fixture *f = *state;
    struct ctl_node a = make_node("n1", 7001, "az-a"), b = make_node("n2", 7002, "az-b");
    ctl_state_node_add(f->st, &a);
    ctl_state_node_add(f->st, &b);
    struct ctl_group g;
    memset(&g, 0, sizeof(g));
    snprintf(g.id, sizeof(g.id), "rg1");
    snprintf(g.pg, sizeof(g.pg), "default.redis7");
    snprintf(g.status, sizeof(g.status), "creating");
    snprintf(g.primary, sizeof(g.primary), "n1");
    g.multi_az = g.auto_failover = true;
    assert_int_equal(ctl_state_begin(f->st), 0);
    assert_int_equal(ctl_state_group_add(f->st, &g), 0);
    assert_int_equal(ctl_state_node_set_group(f->st, "n1", "rg1", CTL_ROLE_PRIMARY), 0);
    assert_int_equal(ctl_state_node_set_group(f->st, "n2", "rg1", CTL_ROLE_REPLICA), 0);
    uint64_t gen = ctl_state_generation(f->st);
    assert_int_equal(ctl_state_commit(f->st), 0);
    assert_true(ctl_state_generation(f->st) > gen);
    struct ctl_group got;
    assert_int_equal(ctl_state_group_get(f->st, "rg1", &got), 0);
    assert_string_equal(got.primary, "n1");
    assert_int_equal(got.nreplicas, 1);
    assert_string_equal(got.replicas[0], "n2");
    assert_true(got.multi_az);
    int users = -1;
    assert_int_equal(ctl_state_pg_users(f->st, "default.redis7", &users), 0);
    assert_int_equal(users, 1);
    snprintf(got.status, sizeof(got.status), "available");
    got.epoch = 3;
    assert_int_equal(ctl_state_group_update(f->st, &got), 0);
    assert_int_equal(ctl_state_group_get(f->st, "rg1", &g), 0);
    assert_string_equal(g.status, "available");
    assert_int_equal(g.epoch, 3);
    struct ctl_group ghost = got;
    snprintf(ghost.id, sizeof(ghost.id), "ghost");
    assert_int_equal(ctl_state_group_update(f->st, &ghost), -ENOENT);
}

static void rollback_changes_nothing(void **state)
{
    struct fixture *f = *state;
    struct ctl_node a = make_node("n1", 7001, "az-a");
    assert_int_equal(ctl_state_begin(f->st), 0);
    assert_int_equal(ctl_state_node_add(f->st, &a), 0);
    ctl_state_rollback(f->st);
    struct ctl_node got;
    assert_int_equal(ctl_state_node_get(f->st, "n1", &got), -ENOENT);
}

static void state_survives_reopen(void **state)
{
    struct fixture *f = *state;
    struct ctl_node a = make_node("n1", 7001, "az-a");
    assert_int_equal(ctl_state_node_add(f->st, &a), 0);
    assert_int_equal(ctl_state_event_add(f->st, 0, "cache-node", "n1", "registered"), 0);
    ctl_state_destroy(f->st);
    f->st = ctl_state_create(f->path);
    assert_non_null(f->st);
    struct ctl_node got;
    assert_int_equal(ctl_state_node_get(f->st, "n1", &got), 0);
}

static void collect_event(void *ctx, const struct ctl_event *e)
{
    char *out = ctx;
    strcat(out, e->message);
    strcat(out, ";");
}

static void events_filter_and_limit(void **state)
{
    struct fixture *f = *state;
    ctl_state_event_add(f->st, 1000, "cache-node", "n1", "a");
    ctl_state_event_add(f->st, 2000, "replication-group", "rg1", "b%d", 2);
    ctl_state_event_add(f->st, 3000, "cache-node", "n1", "c");
    ctl_state_event_add(f->st, 4000, "cache-node", "n2", "d");
    char out[256] = "";
    assert_int_equal(ctl_state_event_each(f->st, NULL, NULL, 0, 0, collect_event, out), 0);
    assert_string_equal(out, "a;b2;c;d;");
    out[0] = 0;
    ctl_state_event_each(f->st, "cache-node", "n1", 0, 0, collect_event, out);
    assert_string_equal(out, "a;c;");
    out[0] = 0;
    ctl_state_event_each(f->st, NULL, NULL, 0, 2, collect_event, out);
    assert_string_equal(out, "c;d;");
    out[0] = 0;
    ctl_state_event_each(f->st, NULL, NULL, 2500, 0, collect_event, out);
    assert_string_equal(out, "c;d;");
}

static void refuses_a_foreign_file(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/junk", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("this is not a database, it is only text, long enough to have a header page.......", fp);
    fclose(fp);
    assert_null(ctl_state_create(path));
}

static void write_file(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The nodes table of an older schema (with `more` columns), and one node in it. */
#define OLD_NODES(more)                                                                            \
    "CREATE TABLE nodes (id TEXT PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL, az "      \
    "TEXT NOT NULL, node_type TEXT NOT NULL, group_id TEXT NOT NULL DEFAULT '', role INTEGER NOT " \
    "NULL DEFAULT 0, pending_reboot INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT "           \
    "NULL" more ", UNIQUE (host, port));"
#define OLD_NODE                                                                                   \
    "INSERT INTO nodes(id, host, port, az, node_type, created_ms) VALUES ('old', '127.0.0.1', "    \
    "7000, 'az-a', 'cache.t3.micro', 1);"

static void run_ids_and_schema_migration(void **state)
{
    struct fixture *f = *state;
    /* A node's run_id round-trips and can be updated. */
    struct ctl_node n = make_node("n1", 7001, "az-a"), out;
    snprintf(n.run_id, sizeof(n.run_id), "%s", "3fb7715507ca52a035696f7e46fe014ffd437c43");
    assert_int_equal(ctl_state_node_add(f->st, &n), 0);
    assert_int_equal(ctl_state_node_get(f->st, "n1", &out), 0);
    assert_string_equal(out.run_id, n.run_id);
    assert_int_equal(ctl_state_node_set_run_id(f->st, "n1", "x"), 0);
    assert_int_equal(ctl_state_node_get(f->st, "n1", &out), 0);
    assert_string_equal(out.run_id, "x");
    assert_int_equal(ctl_state_node_set_run_id(f->st, "nope", "x"), -ENOENT);

    /* A file written by the first schema (no run_id) is migrated and keeps its rows. */
    char path[128];
    snprintf(path, sizeof(path), "%s/v1.db", f->dir);
    write_file(path, OLD_NODES("") OLD_NODE "PRAGMA user_version = 1;");
    struct ctl_state *st = ctl_state_create(path);
    assert_non_null(st);
    assert_int_equal(ctl_state_node_get(st, "old", &out), 0);
    assert_int_equal(out.port, 7000);
    assert_string_equal(out.run_id, "");
    assert_int_equal(ctl_state_node_set_run_id(st, "old", "r1"), 0);
    ctl_state_destroy(st);
    st = ctl_state_create(path); /* now current: opened as is */
    assert_non_null(st);
    assert_int_equal(ctl_state_node_get(st, "old", &out), 0);
    assert_string_equal(out.run_id, "r1");
    ctl_state_destroy(st);

    /* A newer schema than this build knows is refused. */
    snprintf(path, sizeof(path), "%s/v99.db", f->dir);
    write_file(path, "CREATE TABLE t (x); PRAGMA user_version = 99;");
    assert_null(ctl_state_create(path));
}

static void last_event(void *ctx, const struct ctl_event *e)
{
    *(struct ctl_event *)ctx = *e;
}

static void users_and_event_users(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(ctl_state_user_count(f->st, NULL), 0);
    struct ctl_user u = { .name = "alice", .role = CTL_ACCESS_ADMIN, .hash = "h1" }, out;
    assert_int_equal(ctl_state_user_add(f->st, &u), 0);
    assert_int_equal(ctl_state_user_add(f->st, &u), -EEXIST);
    struct ctl_user ro = { .name = "bob", .role = CTL_ACCESS_READONLY, .hash = "h2" };
    assert_int_equal(ctl_state_user_add(f->st, &ro), 0);
    assert_int_equal(ctl_state_user_count(f->st, NULL), 2);
    assert_int_equal(ctl_state_user_count(f->st, "admin"), 1);
    assert_int_equal(ctl_state_user_get(f->st, "bob", &out), 0);
    assert_int_equal(out.role, CTL_ACCESS_READONLY);
    assert_string_equal(out.hash, "h2");
    assert_true(out.created_ms > 0);
    out.role = CTL_ACCESS_ADMIN;
    assert_int_equal(ctl_state_user_update(f->st, &out), 0);
    assert_int_equal(ctl_state_user_count(f->st, "admin"), 2);
    assert_int_equal(ctl_state_user_delete(f->st, "bob"), 0);
    assert_int_equal(ctl_state_user_delete(f->st, "bob"), -ENOENT);
    assert_int_equal(ctl_state_user_get(f->st, "bob", &out), -ENOENT);

    /* Events carry the actor set at the time, and none after it is cleared. */
    struct ctl_event e;
    ctl_state_set_actor(f->st, "alice");
    assert_int_equal(ctl_state_event_add(f->st, 0, "cache-node", "n1", "by alice"), 0);
    ctl_state_event_each(f->st, NULL, NULL, 0, 0, last_event, &e);
    assert_string_equal(e.user, "alice");
    ctl_state_set_actor(f->st, NULL);
    assert_int_equal(ctl_state_event_add(f->st, 0, "cache-node", "n1", "by itself"), 0);
    ctl_state_event_each(f->st, NULL, NULL, 0, 0, last_event, &e);
    assert_string_equal(e.user, "");
}

static void version_3_file_gets_users(void **state)
{
    struct fixture *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/v3.db", f->dir);
    write_file(path, "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER "
                     "NOT NULL, source_type TEXT NOT NULL, source_id TEXT NOT NULL, message TEXT "
                     "NOT NULL);"
                     "INSERT INTO events(ts_ms, source_type, source_id, message) VALUES "
                     "(5, 'cache-node', 'n1', 'old event');"
                     "CREATE TABLE nodes (id TEXT PRIMARY KEY, host TEXT NOT NULL, port INTEGER "
                     "NOT NULL, az TEXT NOT NULL, node_type TEXT NOT NULL, group_id TEXT NOT "
                     "NULL DEFAULT '', role INTEGER NOT NULL DEFAULT 0, pending_reboot INTEGER "
                     "NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, run_id TEXT NOT NULL "
                     "DEFAULT '', apply_failed TEXT NOT NULL DEFAULT '', UNIQUE (host, port));"
                     "PRAGMA user_version = 3;");
    struct ctl_state *st = ctl_state_create(path);
    assert_non_null(st);
    struct ctl_event e = { 0 };
    ctl_state_event_each(st, NULL, NULL, 0, 0, last_event, &e);
    assert_string_equal(e.message, "old event");
    assert_string_equal(e.user, "");
    assert_int_equal(ctl_state_user_count(st, NULL), 0);
    struct ctl_user u = { .name = "admin", .role = CTL_ACCESS_ADMIN, .hash = "h" };
    assert_int_equal(ctl_state_user_add(st, &u), 0);
    ctl_state_destroy(st);
    st = ctl_state_create(path);
    assert_non_null(st);
    assert_int_equal(ctl_state_user_count(st, "admin"), 1);
    ctl_state_destroy(st);
}

/* Node passwords: stored, kept apart from group updates, and the file is its owner's only. */
static void auth_tokens_and_file_mode(void **state)
{
    struct fixture *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    struct ctl_node a = make_node("n1", 7001, "az-a"), out;
    assert_int_equal(ctl_state_node_add(f->st, &a), 0);
    assert_int_equal(ctl_state_node_set_auth(f->st, "n1", "new-token-0123456789", "old"), 0);
    assert_int_equal(ctl_state_node_get(f->st, "n1", &out), 0);
    assert_string_equal(out.auth_token, "new-token-0123456789");
    assert_string_equal(out.auth_token_prev, "old");
    assert_int_equal(ctl_state_node_set_auth(f->st, "n1", "third", NULL), 0); /* prev kept */
    assert_int_equal(ctl_state_node_get(f->st, "n1", &out), 0);
    assert_string_equal(out.auth_token_prev, "old");
    assert_int_equal(ctl_state_node_set_auth(f->st, "nope", "x", ""), -ENOENT);
    struct ctl_group g;
    memset(&g, 0, sizeof(g));
    snprintf(g.id, sizeof(g.id), "rg1");
    snprintf(g.primary, sizeof(g.primary), "n1");
    snprintf(g.auth_token, sizeof(g.auth_token), "group-token-0123456789");
    assert_int_equal(ctl_state_group_add(f->st, &g), 0);
    struct ctl_group got;
    assert_int_equal(ctl_state_group_get(f->st, "rg1", &got), 0);
    assert_string_equal(got.auth_token, "group-token-0123456789");
    /* A group update (the health engine's, with a stale copy) leaves the token alone. */
    got.auth_token[0] = '\0';
    assert_int_equal(ctl_state_group_update(f->st, &got), 0);
    assert_int_equal(ctl_state_group_get(f->st, "rg1", &got), 0);
    assert_string_equal(got.auth_token, "group-token-0123456789");
    assert_int_equal(ctl_state_group_set_auth_token(f->st, "rg1", "", NULL), 0);
    assert_int_equal(ctl_state_group_get(f->st, "rg1", &got), 0);
    assert_string_equal(got.auth_token, "");

    /* An existing file readable by others is brought down to 0600 when opened. */
    ctl_state_destroy(f->st);
    assert_int_equal(chmod(f->path, 0644), 0);
    f->st = ctl_state_create(f->path);
    assert_non_null(f->st);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* A version-4 file (no auth columns) is migrated and keeps its rows. */
    char path[128];
    snprintf(path, sizeof(path), "%s/v4.db", f->dir);
    write_file(path, OLD_NODES(", run_id TEXT NOT NULL DEFAULT '', apply_failed TEXT NOT NULL "
                               "DEFAULT ''") OLD_NODE "PRAGMA user_version = 4;");
    struct ctl_state *st = ctl_state_create(path);
    assert_non_null(st);
    assert_int_equal(ctl_state_node_get(st, "old", &out), 0);
    assert_string_equal(out.auth_token, "");
    ctl_state_destroy(st);
}

/* pollux-control's node users: a random password each, generated once and kept. */
static void node_user_passwords_are_kept(void **state)
{
    struct fixture *f = *state;
    char a[CTL_NODE_USER_PASS_LEN + 1], b[CTL_NODE_USER_PASS_LEN + 1];
    char a2[CTL_NODE_USER_PASS_LEN + 1];
    assert_int_equal(ctl_state_node_user_password(f->st, CTL_NODE_USER, a), 0);
    assert_int_equal(ctl_state_node_user_password(f->st, CTL_REPL_USER, b), 0);
    assert_int_equal(strlen(a), CTL_NODE_USER_PASS_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), CTL_NODE_USER_PASS_LEN);
    assert_string_not_equal(a, b);
    ctl_state_destroy(f->st);
    f->st = ctl_state_create(f->path);
    assert_non_null(f->st);
    assert_int_equal(ctl_state_node_user_password(f->st, CTL_NODE_USER, a2), 0);
    assert_string_equal(a, a2);
}

static void long_events_are_cut_at_a_word(void **state)
{
    struct fixture *f = *state;
    char text[2000] = "";
    for (int i = 0; strlen(text) < 1500; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%sparameter-%d", i ? ", " : "",
                 i);
    assert_int_equal(ctl_state_event_add(f->st, 0, "cache-node", "n1", "Failed: %s", text), 0);
    struct ctl_event e;
    assert_int_equal(ctl_state_event_each(f->st, NULL, "n1", 0, 1, last_event, &e), 0);
    size_t n = strlen(e.message);
    assert_true(n < sizeof(e.message));
    assert_string_equal(e.message + n - 3, "...");
    /* What precedes "..." is a whole name: the text up to there is a prefix of the original
     * followed by a separator in it. */
    char full[2100];
    snprintf(full, sizeof(full), "Failed: %s", text);
    assert_memory_equal(e.message, full, n - 3);
    assert_true(full[n - 3] == ' ');
    assert_memory_equal(e.message + n - 4, ",", 1);

    /* The node's list of refused settings round-trips. */
    struct ctl_node node = make_node("n1", 7001, "az-a"), out;
    assert_int_equal(ctl_state_node_add(f->st, &node), 0);
    assert_int_equal(ctl_state_node_set_apply_failed(f->st, "n1", "hz, timeout"), 0);
    assert_int_equal(ctl_state_node_get(f->st, "n1", &out), 0);
    assert_string_equal(out.apply_failed, "hz, timeout");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(default_groups_are_created_once, setup, teardown),
        cmocka_unit_test_setup_teardown(nodes_round_trip_and_are_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(parameter_values, setup, teardown),
        cmocka_unit_test_setup_teardown(groups_and_members, setup, teardown),
        cmocka_unit_test_setup_teardown(rollback_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(state_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(events_filter_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_a_foreign_file, setup, teardown),
        cmocka_unit_test_setup_teardown(run_ids_and_schema_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(long_events_are_cut_at_a_word, setup, teardown),
        cmocka_unit_test_setup_teardown(users_and_event_users, setup, teardown),
        cmocka_unit_test_setup_teardown(version_3_file_gets_users, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_tokens_and_file_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(node_user_passwords_are_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
