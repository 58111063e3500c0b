#include "control/state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <sqlite3.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "control/param_group.h"

/*
 * Bump with every schema change. A file of an older version that MIGRATIONS can bring up to
 * date is migrated when opened; any other version is refused, not guessed at.
 */
#define SCHEMA_VERSION 7

struct ctl_state {
    sqlite3 *db;
    uint64_t generation;
    bool in_tx;
    char actor[CTL_AUTH_USER_MAX]; /* the user whose request is being run ("" for none) */
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS nodes ("
    " id TEXT PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL, az TEXT NOT NULL,"
    " node_type TEXT NOT NULL, group_id TEXT NOT NULL DEFAULT '', role INTEGER NOT NULL DEFAULT 0,"
    " pending_reboot INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
    " run_id TEXT NOT NULL DEFAULT '', apply_failed TEXT NOT NULL DEFAULT '',"
    " auth_token TEXT NOT NULL DEFAULT '', auth_token_prev TEXT NOT NULL DEFAULT '',"
    " UNIQUE (host, port));"
    "CREATE TABLE IF NOT EXISTS param_groups ("
    " name TEXT PRIMARY KEY, family TEXT NOT NULL, description TEXT NOT NULL,"
    " is_default INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS param_values ("
    " pg TEXT NOT NULL REFERENCES param_groups(name) ON DELETE CASCADE, name TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (pg, name));"
    "CREATE TABLE IF NOT EXISTS repl_groups ("
    " id TEXT PRIMARY KEY, description TEXT NOT NULL, pg TEXT NOT NULL, port INTEGER NOT NULL,"
    " multi_az INTEGER NOT NULL, auto_failover INTEGER NOT NULL, status TEXT NOT NULL,"
    " primary_id TEXT NOT NULL, epoch INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " failover_from TEXT NOT NULL DEFAULT '', failover_kind TEXT NOT NULL DEFAULT '',"
    " auth_token TEXT NOT NULL DEFAULT '', auth_token_old TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, source_type TEXT NOT NULL,"
    " source_id TEXT NOT NULL, message TEXT NOT NULL, user TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS users ("
    " name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS node_users (name TEXT PRIMARY KEY, password TEXT NOT NULL);";

/* MIGRATIONS[v - 1] brings a version-v file to version v + 1. */
static const char *const MIGRATIONS[SCHEMA_VERSION - 1] = {
    "ALTER TABLE nodes ADD COLUMN run_id TEXT NOT NULL DEFAULT '';",
    "ALTER TABLE nodes ADD COLUMN apply_failed TEXT NOT NULL DEFAULT '';",
    /* Events get the user who asked; the users table itself is created by SCHEMA. */
    "CREATE TABLE IF NOT EXISTS events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, source_type TEXT NOT NULL,"
    " source_id TEXT NOT NULL, message TEXT NOT NULL);"
    "ALTER TABLE events ADD COLUMN user TEXT NOT NULL DEFAULT '';",
    /* Node passwords (auth tokens); repl_groups as version 4 had it, for a file without. */
    "ALTER TABLE nodes ADD COLUMN auth_token TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE nodes ADD COLUMN auth_token_prev TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE IF NOT EXISTS repl_groups ("
    " id TEXT PRIMARY KEY, description TEXT NOT NULL, pg TEXT NOT NULL, port INTEGER NOT NULL,"
    " multi_az INTEGER NOT NULL, auto_failover INTEGER NOT NULL, status TEXT NOT NULL,"
    " primary_id TEXT NOT NULL, epoch INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
    " failover_from TEXT NOT NULL DEFAULT '', failover_kind TEXT NOT NULL DEFAULT '');"
    "ALTER TABLE repl_groups ADD COLUMN auth_token TEXT NOT NULL DEFAULT '';",
    /* pollux-control's ACL users on its nodes: the table is created by SCHEMA. */
    "SELECT 1;",
    /* ROTATE: the token the members still accept besides auth_token. */
    "ALTER TABLE repl_groups ADD COLUMN auth_token_old TEXT NOT NULL DEFAULT '';",
};

static int fail(struct ctl_state *st, const char *what)
{
    log_warn("state: %s: %s", what, sqlite3_errmsg(st->db));
    return -EIO;
}

static void copy(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* Prepare `sql` and bind the arguments described by `types` ('s' text, 'i' int64). */
static sqlite3_stmt *prep(struct ctl_state *st, const char *sql, const char *types, ...)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        fail(st, sql);
        return NULL;
    }
    va_list ap;
    va_start(ap, types);
    for (int i = 0; types[i]; i++) {
        int rc;
        if (types[i] == 's') {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(s, i + 1);
        } else {
            rc = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
        }
        if (rc != SQLITE_OK) {
            va_end(ap);
            fail(st, "bind");
            sqlite3_finalize(s);
            return NULL;
        }
    }
    va_end(ap);
    return s;
}

/* Run a statement that returns no rows. -EEXIST on a constraint violation. */
static int run(struct ctl_state *st, sqlite3_stmt *s, int *changes)
{
    if (s == NULL)
        return -EIO;
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_CONSTRAINT) {
        int ext = sqlite3_extended_errcode(st->db);
        ret = (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE) ? -EEXIST
                                                                                       : -EINVAL;
    } else if (rc != SQLITE_DONE)
        ret = fail(st, sqlite3_sql(s));
    if (changes)
        *changes = sqlite3_changes(st->db);
    sqlite3_finalize(s);
    if (ret == 0 && !st->in_tx)
        st->generation++;
    return ret;
}

/* run() that must change one row: -ENOENT otherwise. */
static int run_one(struct ctl_state *st, sqlite3_stmt *s)
{
    int changes = 0;
    int rc = run(st, s, &changes);
    if (rc == 0 && changes == 0)
        return -ENOENT;
    return rc;
}

static int exec(struct ctl_state *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_warn("state: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static int add_default_groups(struct ctl_state *st)
{
    for (size_t i = 0; i < ctl_family_count; i++) {
        const struct ctl_family *f = &ctl_families[i];
        char desc[CTL_TEXT_MAX];
        snprintf(desc, sizeof(desc), "Default parameter group for %s", f->name);
        int rc = run(st,
                     prep(st,
                          "INSERT OR IGNORE INTO param_groups(name, family, description, "
                          "is_default) VALUES (?, ?, ?, 1)",
                          "sss", f->default_group, f->name, desc),
                     NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * The state holds the nodes' passwords in clear: the file is created mode 0600, and an
 * existing one (and its -wal and -shm files, which SQLite creates with the mode of the
 * database file) is brought down to it.
 */
static int restrict_mode(const char *path)
{
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        log_warn("state: cannot create %s with mode 0600: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    close(fd);
    static const char *const side[] = { "-wal", "-shm" };
    for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
        char p[4096];
        snprintf(p, sizeof(p), "%s%s", path, side[i]);
        if (chmod(p, 0600) != 0 && errno != ENOENT)
            log_warn("state: cannot make %s mode 0600: %s", p, strerror(errno));
    }
    return 0;
}

struct ctl_state *ctl_state_create(const char *path)
{
    if (restrict_mode(path) != 0)
        return NULL;
    struct ctl_state *st = mem_calloc(sizeof(*st));
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        log_warn("state: cannot open %s: %s", path, st->db ? sqlite3_errmsg(st->db) : "");
        ctl_state_destroy(st);
        return NULL;
    }
    sqlite3_busy_timeout(st->db, 2000);
    /* WAL keeps a commit to one fsync of the log; FULL makes each commit durable. */
    if (exec(st, "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; "
                 "PRAGMA synchronous = FULL;") != 0)
        goto bad;
    sqlite3_stmt *s = prep(st, "PRAGMA user_version", "");
    if (s == NULL || sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        goto bad;
    }
    int version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 0 || version > SCHEMA_VERSION) {
        log_warn("state: %s has schema version %d, this build reads %d", path, version,
                 SCHEMA_VERSION);
        goto bad;
    }
    char pragma[64];
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (exec(st, "BEGIN") != 0)
        goto bad;
    for (int v = version ? version : SCHEMA_VERSION; v < SCHEMA_VERSION; v++) {
        if (exec(st, MIGRATIONS[v - 1]) != 0) {
            exec(st, "ROLLBACK");
            goto bad;
        }
        log_notice("state: %s migrated from schema version %d to %d", path, v, v + 1);
    }
    if (exec(st, SCHEMA) != 0 || exec(st, pragma) != 0 || add_default_groups(st) != 0 ||
        exec(st, "COMMIT") != 0) {
        exec(st, "ROLLBACK");
        goto bad;
    }
    return st;
bad:
    ctl_state_destroy(st);
    return NULL;
}

void ctl_state_destroy(struct ctl_state *st)
{
    if (st == NULL)
        return;
    sqlite3_close(st->db);
    mem_free(st);
}

int ctl_state_begin(struct ctl_state *st)
{
    int rc = exec(st, "BEGIN IMMEDIATE");
    if (rc == 0)
        st->in_tx = true;
    return rc;
}

int ctl_state_commit(struct ctl_state *st)
{
    int rc = exec(st, "COMMIT");
    if (rc != 0) {
        ctl_state_rollback(st);
        return rc;
    }
    st->in_tx = false;
    st->generation++;
    return 0;
}

void ctl_state_rollback(struct ctl_state *st)
{
    if (sqlite3_get_autocommit(st->db) == 0)
        exec(st, "ROLLBACK");
    st->in_tx = false;
}

uint64_t ctl_state_generation(const struct ctl_state *st)
{
    return st->generation;
}

/* ---- nodes ---------------------------------------------------------------------------- */

#define NODE_COLS                                                                                  \
    "id, host, port, az, node_type, group_id, role, pending_reboot, created_ms, run_id, "          \
    "apply_failed, auth_token, auth_token_prev"

static void node_row(sqlite3_stmt *s, struct ctl_node *n)
{
    copy(n->id, sizeof(n->id), sqlite3_column_text(s, 0));
    copy(n->host, sizeof(n->host), sqlite3_column_text(s, 1));
    n->port = sqlite3_column_int(s, 2);
    copy(n->az, sizeof(n->az), sqlite3_column_text(s, 3));
    copy(n->type, sizeof(n->type), sqlite3_column_text(s, 4));
    copy(n->group, sizeof(n->group), sqlite3_column_text(s, 5));
    n->role = (enum ctl_role)sqlite3_column_int(s, 6);
    n->pending_reboot = sqlite3_column_int(s, 7) != 0;
    n->created_ms = sqlite3_column_int64(s, 8);
    copy(n->run_id, sizeof(n->run_id), sqlite3_column_text(s, 9));
    copy(n->apply_failed, sizeof(n->apply_failed), sqlite3_column_text(s, 10));
    copy(n->auth_token, sizeof(n->auth_token), sqlite3_column_text(s, 11));
    copy(n->auth_token_prev, sizeof(n->auth_token_prev), sqlite3_column_text(s, 12));
}

/* Step a one-row query into `out` via `row`; -ENOENT when it returns nothing. */
static int get_one(struct ctl_state *st, sqlite3_stmt *s, void (*row)(sqlite3_stmt *, void *),
                   void *out)
{
    if (s == NULL)
        return -EIO;
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW)
        row(s, out);
    else if (rc == SQLITE_DONE)
        ret = -ENOENT;
    else
        ret = fail(st, sqlite3_sql(s));
    sqlite3_finalize(s);
    return ret;
}

static void node_row_v(sqlite3_stmt *s, void *out)
{
    node_row(s, out);
}

static void password_row(sqlite3_stmt *s, void *out)
{
    copy(out, CTL_NODE_USER_PASS_LEN + 1, sqlite3_column_text(s, 0));
}

int ctl_state_node_user_password(struct ctl_state *st, const char *user,
                                 char out[CTL_NODE_USER_PASS_LEN + 1])
{
    int rc = get_one(st, prep(st, "SELECT password FROM node_users WHERE name = ?", "s", user),
                     password_row, out);
    if (rc != -ENOENT)
        return rc;
    if (ctl_auth_random_password(out, CTL_NODE_USER_PASS_LEN + 1) != 0)
        return -EIO;
    return run_one(
        st, prep(st, "INSERT INTO node_users (name, password) VALUES (?, ?)", "ss", user, out));
}

int ctl_state_node_add(struct ctl_state *st, const struct ctl_node *n)
{
    int64_t created = n->created_ms ? n->created_ms : clock_real_ms();
    return run(
        st,
        prep(st, "INSERT INTO nodes(" NODE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             "ssisssiiiss"
             "ss",
             n->id, n->host, (int64_t)n->port, n->az, n->type, n->group, (int64_t)n->role,
             (int64_t)n->pending_reboot, created, n->run_id, n->apply_failed, n->auth_token,
             n->auth_token_prev),
        NULL);
}

int ctl_state_node_get(struct ctl_state *st, const char *id, struct ctl_node *out)
{
    return get_one(st, prep(st, "SELECT " NODE_COLS " FROM nodes WHERE id = ?", "s", id),
                   node_row_v, out);
}

int ctl_state_node_find_addr(struct ctl_state *st, const char *host, int port, struct ctl_node *out)
{
    return get_one(st,
                   prep(st, "SELECT " NODE_COLS " FROM nodes WHERE host = ? AND port = ?", "si",
                        host, (int64_t)port),
                   node_row_v, out);
}

int ctl_state_node_delete(struct ctl_state *st, const char *id)
{
    return run_one(st, prep(st, "DELETE FROM nodes WHERE id = ?", "s", id));
}

int ctl_state_node_set_group(struct ctl_state *st, const char *id, const char *group,
                             enum ctl_role role)
{
    return run_one(st, prep(st, "UPDATE nodes SET group_id = ?, role = ? WHERE id = ?", "sis",
                            group, (int64_t)role, id));
}

int ctl_state_node_set_pending_reboot(struct ctl_state *st, const char *id, bool pending)
{
    return run_one(st, prep(st, "UPDATE nodes SET pending_reboot = ? WHERE id = ?", "is",
                            (int64_t)pending, id));
}

int ctl_state_node_set_run_id(struct ctl_state *st, const char *id, const char *run_id)
{
    return run_one(st, prep(st, "UPDATE nodes SET run_id = ? WHERE id = ?", "ss", run_id, id));
}

int ctl_state_node_set_apply_failed(struct ctl_state *st, const char *id, const char *names)
{
    return run_one(st, prep(st, "UPDATE nodes SET apply_failed = ? WHERE id = ?", "ss", names, id));
}

int ctl_state_node_set_auth(struct ctl_state *st, const char *id, const char *token,
                            const char *prev)
{
    if (prev == NULL)
        return run_one(st,
                       prep(st, "UPDATE nodes SET auth_token = ? WHERE id = ?", "ss", token, id));
    return run_one(st, prep(st, "UPDATE nodes SET auth_token = ?, auth_token_prev = ? WHERE id = ?",
                            "sss", token, prev, id));
}

int ctl_state_node_each(struct ctl_state *st, const char *group, ctl_state_node_fn fn, void *ctx)
{
    sqlite3_stmt *s =
        group
            ? prep(st, "SELECT " NODE_COLS " FROM nodes WHERE group_id = ? ORDER BY id", "s", group)
            : prep(st, "SELECT " NODE_COLS " FROM nodes ORDER BY id", "");
    if (s == NULL)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct ctl_node n;
        node_row(s, &n);
        fn(ctx, &n);
    }
    int ret = rc == SQLITE_DONE ? 0 : fail(st, "nodes");
    sqlite3_finalize(s);
    return ret;
}

/* ---- parameter groups ----------------------------------------------------------------- */

static void pg_row(sqlite3_stmt *s, void *out)
{
    struct ctl_pgroup *pg = out;
    copy(pg->name, sizeof(pg->name), sqlite3_column_text(s, 0));
    copy(pg->family, sizeof(pg->family), sqlite3_column_text(s, 1));
    copy(pg->desc, sizeof(pg->desc), sqlite3_column_text(s, 2));
    pg->is_default = sqlite3_column_int(s, 3) != 0;
}

int ctl_state_pg_add(struct ctl_state *st, const struct ctl_pgroup *pg)
{
    return run(st,
               prep(st,
                    "INSERT INTO param_groups(name, family, description, is_default) "
                    "VALUES (?, ?, ?, ?)",
                    "sssi", pg->name, pg->family, pg->desc, (int64_t)pg->is_default),
               NULL);
}

int ctl_state_pg_get(struct ctl_state *st, const char *name, struct ctl_pgroup *out)
{
    return get_one(st,
                   prep(st,
                        "SELECT name, family, description, is_default FROM param_groups "
                        "WHERE name = ?",
                        "s", name),
                   pg_row, out);
}

int ctl_state_pg_delete(struct ctl_state *st, const char *name)
{
    return run_one(st, prep(st, "DELETE FROM param_groups WHERE name = ?", "s", name));
}

int ctl_state_pg_each(struct ctl_state *st, ctl_state_pg_fn fn, void *ctx)
{
    sqlite3_stmt *s = prep(st,
                           "SELECT name, family, description, is_default FROM param_groups "
                           "ORDER BY is_default DESC, name",
                           "");
    if (s == NULL)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct ctl_pgroup pg;
        pg_row(s, &pg);
        fn(ctx, &pg);
    }
    int ret = rc == SQLITE_DONE ? 0 : fail(st, "param_groups");
    sqlite3_finalize(s);
    return ret;
}

int ctl_state_pg_value_get(struct ctl_state *st, const char *pg, const char *param, char *buf,
                           size_t len)
{
    sqlite3_stmt *s =
        prep(st, "SELECT value FROM param_values WHERE pg = ? AND name = ?", "ss", pg, param);
    if (s == NULL)
        return -EIO;
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW)
        copy(buf, len, sqlite3_column_text(s, 0));
    else if (rc == SQLITE_DONE)
        ret = -ENOENT;
    else
        ret = fail(st, "param_values");
    sqlite3_finalize(s);
    return ret;
}

int ctl_state_pg_value_set(struct ctl_state *st, const char *pg, const char *param,
                           const char *value)
{
    return run(st,
               prep(st,
                    "INSERT INTO param_values(pg, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT(pg, name) DO UPDATE SET value = excluded.value",
                    "sss", pg, param, value),
               NULL);
}

int ctl_state_pg_value_reset(struct ctl_state *st, const char *pg, const char *param)
{
    if (param == NULL)
        return run(st, prep(st, "DELETE FROM param_values WHERE pg = ?", "s", pg), NULL);
    return run(st, prep(st, "DELETE FROM param_values WHERE pg = ? AND name = ?", "ss", pg, param),
               NULL);
}

int ctl_state_pg_users(struct ctl_state *st, const char *pg, int *count)
{
    sqlite3_stmt *s = prep(st, "SELECT COUNT(*) FROM repl_groups WHERE pg = ?", "s", pg);
    if (s == NULL)
        return -EIO;
    int ret = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        *count = sqlite3_column_int(s, 0);
    else
        ret = fail(st, "groups");
    sqlite3_finalize(s);
    return ret;
}

/* ---- replication groups --------------------------------------------------------------- */

#define GROUP_COLS                                                                                 \
    "id, description, pg, port, multi_az, auto_failover, status, primary_id, epoch, "              \
    "created_ms, failover_from, failover_kind, auth_token"
/* Read only: auth_token_old is written by _group_set_auth_token alone. */
#define GROUP_READ_COLS GROUP_COLS ", auth_token_old"

static void group_row(sqlite3_stmt *s, void *out)
{
    struct ctl_group *g = out;
    memset(g, 0, sizeof(*g));
    copy(g->id, sizeof(g->id), sqlite3_column_text(s, 0));
    copy(g->desc, sizeof(g->desc), sqlite3_column_text(s, 1));
    copy(g->pg, sizeof(g->pg), sqlite3_column_text(s, 2));
    g->port = sqlite3_column_int(s, 3);
    g->multi_az = sqlite3_column_int(s, 4) != 0;
    g->auto_failover = sqlite3_column_int(s, 5) != 0;
    copy(g->status, sizeof(g->status), sqlite3_column_text(s, 6));
    copy(g->primary, sizeof(g->primary), sqlite3_column_text(s, 7));
    g->epoch = sqlite3_column_int64(s, 8);
    g->created_ms = sqlite3_column_int64(s, 9);
    copy(g->failover_from, sizeof(g->failover_from), sqlite3_column_text(s, 10));
    copy(g->failover_kind, sizeof(g->failover_kind), sqlite3_column_text(s, 11));
    copy(g->auth_token, sizeof(g->auth_token), sqlite3_column_text(s, 12));
    copy(g->auth_token_old, sizeof(g->auth_token_old), sqlite3_column_text(s, 13));
}

static void add_replica(void *ctx, const struct ctl_node *n)
{
    struct ctl_group *g = ctx;
    if (n->role == CTL_ROLE_REPLICA && g->nreplicas < CTL_MAX_REPLICAS)
        snprintf(g->replicas[g->nreplicas++], CTL_ID_MAX, "%s", n->id);
}

static int group_members(struct ctl_state *st, struct ctl_group *g)
{
    g->nreplicas = 0;
    return ctl_state_node_each(st, g->id, add_replica, g);
}

int ctl_state_group_add(struct ctl_state *st, const struct ctl_group *g)
{
    int64_t created = g->created_ms ? g->created_ms : clock_real_ms();
    return run(st,
               prep(st,
                    "INSERT INTO repl_groups(" GROUP_COLS
                    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    "sssiiissiiss"
                    "s",
                    g->id, g->desc, g->pg, (int64_t)g->port, (int64_t)g->multi_az,
                    (int64_t)g->auto_failover, g->status, g->primary, g->epoch, created,
                    g->failover_from, g->failover_kind, g->auth_token),
               NULL);
}

int ctl_state_group_get(struct ctl_state *st, const char *id, struct ctl_group *out)
{
    int rc =
        get_one(st, prep(st, "SELECT " GROUP_READ_COLS " FROM repl_groups WHERE id = ?", "s", id),
                group_row, out);
    return rc ? rc : group_members(st, out);
}

int ctl_state_group_update(struct ctl_state *st, const struct ctl_group *g)
{
    return run_one(st,
                   prep(st,
                        "UPDATE repl_groups SET description = ?, pg = ?, port = ?, multi_az = ?, "
                        "auto_failover = ?, status = ?, primary_id = ?, epoch = ?, "
                        "failover_from = ?, failover_kind = ? WHERE id = ?",
                        "ssiiississs", g->desc, g->pg, (int64_t)g->port, (int64_t)g->multi_az,
                        (int64_t)g->auto_failover, g->status, g->primary, g->epoch,
                        g->failover_from, g->failover_kind, g->id));
}

int ctl_state_group_delete(struct ctl_state *st, const char *id)
{
    return run_one(st, prep(st, "DELETE FROM repl_groups WHERE id = ?", "s", id));
}

int ctl_state_group_set_auth_token(struct ctl_state *st, const char *id, const char *token,
                                   const char *old)
{
    return run_one(
        st, prep(st, "UPDATE repl_groups SET auth_token = ?, auth_token_old = ? WHERE id = ?",
                 "sss", token, old ? old : "", id));
}

int ctl_state_group_each(struct ctl_state *st, ctl_state_group_fn fn, void *ctx)
{
    sqlite3_stmt *s = prep(st, "SELECT " GROUP_READ_COLS " FROM repl_groups ORDER BY id", "");
    if (s == NULL)
        return -EIO;
    int rc;
    int ret = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct ctl_group g;
        group_row(s, &g);
        if ((ret = group_members(st, &g)) != 0)
            break;
        fn(ctx, &g);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = fail(st, "groups");
    sqlite3_finalize(s);
    return ret;
}

/* ---- events --------------------------------------------------------------------------- */

int ctl_state_event_add(struct ctl_state *st, int64_t ts_ms, const char *source_type,
                        const char *source_id, const char *fmt, ...)
{
    char msg[sizeof(((struct ctl_event *)0)->message)];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(msg)) { /* cut at a word, and say so */
        size_t end = sizeof(msg) - 4;
        while (end > 0 && msg[end] != ' ')
            end--;
        memcpy(msg + end, "...", 4);
    }
    if (ts_ms <= 0)
        ts_ms = clock_real_ms();
    log_notice("event %s %s: %s%s%s", source_type, source_id, msg, st->actor[0] ? " by " : "",
               st->actor);
    return run(st,
               prep(st,
                    "INSERT INTO events(ts_ms, source_type, source_id, message, user) "
                    "VALUES (?, ?, ?, ?, ?)",
                    "issss", ts_ms, source_type, source_id, msg, st->actor),
               NULL);
}

int ctl_state_event_each(struct ctl_state *st, const char *source_type, const char *source_id,
                         int64_t since_ms, int max, ctl_state_event_fn fn, void *ctx)
{
    /* The newest `max` matching rows, returned oldest first. */
    sqlite3_stmt *s = prep(st,
                           "SELECT id, ts_ms, source_type, source_id, message, user FROM ("
                           " SELECT * FROM events WHERE (?1 IS NULL OR source_type = ?1)"
                           " AND (?2 IS NULL OR source_id = ?2) AND ts_ms >= ?3"
                           " ORDER BY id DESC LIMIT ?4) ORDER BY id",
                           "ssii", source_type, source_id, since_ms, (int64_t)(max > 0 ? max : -1));
    if (s == NULL)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct ctl_event e;
        e.id = sqlite3_column_int64(s, 0);
        e.ts_ms = sqlite3_column_int64(s, 1);
        copy(e.source_type, sizeof(e.source_type), sqlite3_column_text(s, 2));
        copy(e.source_id, sizeof(e.source_id), sqlite3_column_text(s, 3));
        copy(e.message, sizeof(e.message), sqlite3_column_text(s, 4));
        copy(e.user, sizeof(e.user), sqlite3_column_text(s, 5));
        fn(ctx, &e);
    }
    int ret = rc == SQLITE_DONE ? 0 : fail(st, "events");
    sqlite3_finalize(s);
    return ret;
}

void ctl_state_set_actor(struct ctl_state *st, const char *user)
{
    snprintf(st->actor, sizeof(st->actor), "%s", user ? user : "");
}

/* ---- users ------------------------------------------------------------------------------ */

static void user_row(sqlite3_stmt *s, struct ctl_user *u)
{
    char role[16];
    copy(u->name, sizeof(u->name), sqlite3_column_text(s, 0));
    copy(role, sizeof(role), sqlite3_column_text(s, 1));
    u->role = ctl_auth_role_parse(role);
    copy(u->hash, sizeof(u->hash), sqlite3_column_text(s, 2));
    u->created_ms = sqlite3_column_int64(s, 3);
}

int ctl_state_user_add(struct ctl_state *st, const struct ctl_user *u)
{
    return run(st,
               prep(st, "INSERT INTO users(name, role, hash, created_ms) VALUES (?, ?, ?, ?)",
                    "sssi", u->name, ctl_auth_role_name(u->role), u->hash,
                    u->created_ms ? u->created_ms : clock_real_ms()),
               NULL);
}

int ctl_state_user_get(struct ctl_state *st, const char *name, struct ctl_user *out)
{
    sqlite3_stmt *s =
        prep(st, "SELECT name, role, hash, created_ms FROM users WHERE name = ?", "s", name);
    if (s == NULL)
        return -EIO;
    int rc = sqlite3_step(s), ret = 0;
    if (rc == SQLITE_ROW)
        user_row(s, out);
    else
        ret = rc == SQLITE_DONE ? -ENOENT : fail(st, "user");
    sqlite3_finalize(s);
    return ret;
}

int ctl_state_user_update(struct ctl_state *st, const struct ctl_user *u)
{
    return run_one(st, prep(st, "UPDATE users SET role = ?, hash = ? WHERE name = ?", "sss",
                            ctl_auth_role_name(u->role), u->hash, u->name));
}

int ctl_state_user_delete(struct ctl_state *st, const char *name)
{
    return run_one(st, prep(st, "DELETE FROM users WHERE name = ?", "s", name));
}

int ctl_state_user_each(struct ctl_state *st, ctl_state_user_fn fn, void *ctx)
{
    sqlite3_stmt *s = prep(st, "SELECT name, role, hash, created_ms FROM users ORDER BY name", "");
    if (s == NULL)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct ctl_user u;
        user_row(s, &u);
        fn(ctx, &u);
    }
    int ret = rc == SQLITE_DONE ? 0 : fail(st, "users");
    sqlite3_finalize(s);
    return ret;
}

int ctl_state_user_count(struct ctl_state *st, const char *role)
{
    sqlite3_stmt *s =
        prep(st, "SELECT count(*) FROM users WHERE ?1 IS NULL OR role = ?1", "s", role);
    if (s == NULL)
        return -EIO;
    int ret = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : fail(st, "users");
    sqlite3_finalize(s);
    return ret;
}
