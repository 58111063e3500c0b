/*
 * The control plane's desired state in an SQLite file: nodes, cache parameter groups and
 * their values, replication groups and their members, events.
 *
 * pollux-control writes every change here, inside a transaction, before it acts on a node,
 * so a restart (even one in the middle of a failover) resumes from what was decided. The
 * store holds no runtime observations (reachability, offsets): those live in the health
 * module and are rebuilt by probing.
 *
 * All functions return 0 or a negative errno: -ENOENT (no such row), -EEXIST (the key is
 * taken), -EIO (SQLite failed; the message is logged). Reads fill caller-owned structs.
 */
#ifndef POLLUX_CTL_STATE_H
#define POLLUX_CTL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/auth.h"

#define CTL_ID_MAX           64  /* node and replication group ids (ElastiCache allows 40) */
#define CTL_NAME_MAX         256 /* parameter group names (ElastiCache allows 255) */
#define CTL_HOST_MAX         256
#define CTL_TEXT_MAX         256
#define CTL_MAX_REPLICAS     5
#define CTL_APPLY_FAILED_MAX 1024
/* Node passwords (auth tokens): 16..128 printable ASCII characters, as ElastiCache's AuthToken. */
#define CTL_TOKEN_MIN 16
#define CTL_TOKEN_MAX 129

enum ctl_role { CTL_ROLE_NONE = 0, CTL_ROLE_PRIMARY = 1, CTL_ROLE_REPLICA = 2 };

struct ctl_node {
    char id[CTL_ID_MAX];
    char host[CTL_HOST_MAX];
    int port;
    char az[CTL_ID_MAX];
    char type[CTL_ID_MAX];
    char group[CTL_ID_MAX]; /* "" when in no replication group */
    enum ctl_role role;
    bool pending_reboot;
    int64_t created_ms;
    char run_id[48]; /* INFO server's run_id when last read ("" unknown); see register-node */
    /* The node settings it refused when parameter values were last applied ("a, b"). */
    char apply_failed[CTL_APPLY_FAILED_MAX];
    /*
     * The password pollux-control authenticates with ("" none): its group's auth token, kept
     * when it leaves the group (the node still requires it). auth_token_prev is the one it
     * required before, tried too until the node has been set to auth_token; then cleared.
     * Stored in clear: the node needs them, unlike the API users' hashed passwords.
     */
    char auth_token[CTL_TOKEN_MAX];
    char auth_token_prev[CTL_TOKEN_MAX];
};

struct ctl_pgroup {
    char name[CTL_NAME_MAX];
    char family[16];
    char desc[CTL_TEXT_MAX];
    bool is_default; /* default.* groups are read-only */
};

struct ctl_group {
    char id[CTL_ID_MAX];
    char desc[CTL_TEXT_MAX];
    char pg[CTL_NAME_MAX];
    int port; /* 0: nodes keep their own ports */
    bool multi_az;
    bool auto_failover;
    char status[24]; /* creating, available, modifying, failing-over */
    char primary[CTL_ID_MAX];
    int64_t epoch; /* increases with every change of primary */
    int64_t created_ms;
    /* A change of primary in progress: the old primary ("" when none) and its kind. */
    char failover_from[CTL_ID_MAX];
    char failover_kind[16]; /* "automatic" | "test" */
    /* The password every member requires ("" none); written only by _group_set_auth_token. */
    char auth_token[CTL_TOKEN_MAX];
    /* After a ROTATE: the previous token, which the members accept too until a SET or a
     * DELETE ("" none); written only by _group_set_auth_token. */
    char auth_token_old[CTL_TOKEN_MAX];
    /* Filled from the node rows on reads; ignored by writes. */
    int nreplicas;
    char replicas[CTL_MAX_REPLICAS][CTL_ID_MAX];
};

struct ctl_event {
    int64_t id;
    int64_t ts_ms;
    char source_type[32]; /* replication-group | cache-parameter-group | cache-node */
    char source_id[CTL_NAME_MAX];
    char message[512];
    char user[CTL_AUTH_USER_MAX]; /* who asked for the change ("" for pollux-control itself) */
};

struct ctl_user {
    char name[CTL_AUTH_USER_MAX];
    enum ctl_access role;
    char hash[CTL_AUTH_HASH_MAX]; /* see auth.h */
    int64_t created_ms;
};

struct ctl_state;

/*
 * Open (creating when missing) the state file at `path` (":memory:" works too), create the
 * schema and the default.* parameter groups of every family. The file (and SQLite's -wal and
 * -shm files next to it) is made mode 0600: it holds the nodes' passwords in clear.
 * @return the store, or NULL when the file cannot be opened or is not a Pollux state file.
 */
struct ctl_state *ctl_state_create(const char *path);
void ctl_state_destroy(struct ctl_state *st);

/* Transactions: every API change runs between begin and commit; rollback undoes it. */
int ctl_state_begin(struct ctl_state *st);
int ctl_state_commit(struct ctl_state *st);
void ctl_state_rollback(struct ctl_state *st);

/* Bumped by every committed change; lets readers cache derived data. */
uint64_t ctl_state_generation(const struct ctl_state *st);

/* Nodes. */
int ctl_state_node_add(struct ctl_state *st, const struct ctl_node *n); /* -EEXIST */
int ctl_state_node_get(struct ctl_state *st, const char *id, struct ctl_node *out);
int ctl_state_node_find_addr(struct ctl_state *st, const char *host, int port,
                             struct ctl_node *out);
int ctl_state_node_delete(struct ctl_state *st, const char *id);
/* Put a node in a group with a role, or out of it (group "" and CTL_ROLE_NONE). */
int ctl_state_node_set_group(struct ctl_state *st, const char *id, const char *group,
                             enum ctl_role role);
int ctl_state_node_set_pending_reboot(struct ctl_state *st, const char *id, bool pending);
int ctl_state_node_set_run_id(struct ctl_state *st, const char *id, const char *run_id);
int ctl_state_node_set_apply_failed(struct ctl_state *st, const char *id, const char *names);
/* The node's passwords (see struct ctl_node); prev NULL keeps the stored one. */
int ctl_state_node_set_auth(struct ctl_state *st, const char *id, const char *token,
                            const char *prev);
typedef void (*ctl_state_node_fn)(void *ctx, const struct ctl_node *n);
/* Every node (ordered by id), or those of one group when group != NULL. */
int ctl_state_node_each(struct ctl_state *st, const char *group, ctl_state_node_fn fn, void *ctx);

/* pollux-control's own ACL users on the members of a group with an auth token. */
#define CTL_NODE_USER "pollux-control"
#define CTL_REPL_USER "pollux-replica"

/*
 * The password of one of pollux-control's own ACL users on its nodes ("pollux-control",
 * "pollux-replica"): generated at first use, then kept in the store (as the auth tokens).
 */
int ctl_state_node_user_password(struct ctl_state *st, const char *user,
                                 char out[CTL_NODE_USER_PASS_LEN + 1]);

/* Parameter groups and their values (only values that differ from the family default). */
int ctl_state_pg_add(struct ctl_state *st, const struct ctl_pgroup *pg); /* -EEXIST */
int ctl_state_pg_get(struct ctl_state *st, const char *name, struct ctl_pgroup *out);
int ctl_state_pg_delete(struct ctl_state *st, const char *name);
typedef void (*ctl_state_pg_fn)(void *ctx, const struct ctl_pgroup *pg);
int ctl_state_pg_each(struct ctl_state *st, ctl_state_pg_fn fn, void *ctx);
/* The user value of `param` in `pg` into buf; -ENOENT when the default applies. */
int ctl_state_pg_value_get(struct ctl_state *st, const char *pg, const char *param, char *buf,
                           size_t len);
int ctl_state_pg_value_set(struct ctl_state *st, const char *pg, const char *param,
                           const char *value);
/* Back to the default: one parameter, or all of them when param is NULL. */
int ctl_state_pg_value_reset(struct ctl_state *st, const char *pg, const char *param);
/* How many replication groups use the parameter group. */
int ctl_state_pg_users(struct ctl_state *st, const char *pg, int *count);

/* Replication groups. Members are the node rows whose group is the group's id. */
int ctl_state_group_add(struct ctl_state *st, const struct ctl_group *g); /* -EEXIST */
int ctl_state_group_get(struct ctl_state *st, const char *id, struct ctl_group *out);
/* Write every column of g but auth_token (matched by id); -ENOENT when it does not exist. */
int ctl_state_group_update(struct ctl_state *st, const struct ctl_group *g);
int ctl_state_group_delete(struct ctl_state *st, const char *id);
/* The group's token and the previous one still accepted (old NULL or "": none). */
int ctl_state_group_set_auth_token(struct ctl_state *st, const char *id, const char *token,
                                   const char *old);
typedef void (*ctl_state_group_fn)(void *ctx, const struct ctl_group *g);
int ctl_state_group_each(struct ctl_state *st, ctl_state_group_fn fn, void *ctx);

/*
 * Events: appended with the current wall-clock time unless ts_ms is given (> 0). A message
 * longer than a ctl_event holds is cut at a word and ends in "...".
 */
int ctl_state_event_add(struct ctl_state *st, int64_t ts_ms, const char *source_type,
                        const char *source_id, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
typedef void (*ctl_state_event_fn)(void *ctx, const struct ctl_event *e);
/*
 * Events, oldest first, filtered by source id and type (NULL: any) and time (since_ms, 0:
 * any); at most `max` of the newest ones (0: all).
 */
int ctl_state_event_each(struct ctl_state *st, const char *source_type, const char *source_id,
                         int64_t since_ms, int max, ctl_state_event_fn fn, void *ctx);

/*
 * The user whose request is being run: the events written until the next call carry that
 * name (NULL or "": pollux-control's own events).
 */
void ctl_state_set_actor(struct ctl_state *st, const char *user);

/* Users of the control API. */
int ctl_state_user_add(struct ctl_state *st, const struct ctl_user *u); /* -EEXIST */
int ctl_state_user_get(struct ctl_state *st, const char *name, struct ctl_user *out);
int ctl_state_user_update(struct ctl_state *st, const struct ctl_user *u); /* role and hash */
int ctl_state_user_delete(struct ctl_state *st, const char *name);
typedef void (*ctl_state_user_fn)(void *ctx, const struct ctl_user *u);
int ctl_state_user_each(struct ctl_state *st, ctl_state_user_fn fn, void *ctx);
/* How many users (of the role "admin" / "readonly", or all when NULL); -EIO on failure. */
int ctl_state_user_count(struct ctl_state *st, const char *role);

#endif
