/*
 * The verb table (see verbs.h). Rows follow ElastiCache's verbs and option names; the help
 * texts are polluxctl's. Lookups are linear: some twenty verbs of at most ten options, on the
 * control path only.
 */
#include "control/verbs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "control/state.h"
#include "base/util.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

#define MAX_MINUTES 52560000 /* describe-events --duration: a century */
#define MAX_RECORDS 100000

#define OPT_STR(n, req, h)                                                                         \
    {                                                                                              \
        n, n, CTL_OPT_STRING, req, 0, 0, NULL, h                                                   \
    }
#define OPT_INT(n, lo, hi, range, h)                                                               \
    {                                                                                              \
        n, n, CTL_OPT_INT, false, lo, hi, range, h                                                 \
    }
#define OPT_FLAG(n, h)                                                                             \
    {                                                                                              \
        n, n, CTL_OPT_FLAG, false, 0, 0, NULL, h                                                   \
    }
#define OPT_LIST(n, req, h)                                                                        \
    {                                                                                              \
        n, n, CTL_OPT_LIST, req, 0, 0, NULL, h                                                     \
    }
/* A secret read from a file: polluxctl's --KEY-file, the API's KEY. */
#define OPT_SECRET(k, req, h)                                                                      \
    {                                                                                              \
        k "-file", k, CTL_OPT_SECRET, req, 0, 0, NULL, h                                           \
    }
#define OPT_PARAMS(req, h)                                                                         \
    {                                                                                              \
        "parameter-name-values", "parameter", CTL_OPT_PARAMS, req, 0, 0, NULL, h                   \
    }

#define TOKEN_ENV "$POLLUX_AUTH_TOKEN"

#define RO CTL_ACCESS_READONLY
#define RW CTL_ACCESS_ADMIN

const struct ctl_verb ctl_verbs[CTL_VERB_COUNT] = {
    { CTL_VERB_REGISTER_NODE,
      "register-node",
      RW,
      true,
      false,
      "Register a node (a polluxd or Redis server) with its zone and type.",
      { OPT_STR("node-id", true, "id of the node"),
        OPT_STR("address", true, "host:port the node listens on"),
        OPT_STR("availability-zone", true, "zone label, e.g. az-a"),
        OPT_STR("node-type", true, "node type, e.g. cache.r6g.large (sets maxmemory)"),
        OPT_SECRET("auth-token", false,
                   "the password the node already requires (first line; or " TOKEN_ENV ")") } },
    { CTL_VERB_DEREGISTER_NODE,
      "deregister-node",
      RW,
      true,
      false,
      "Forget a node that is in no replication group.",
      { OPT_STR("node-id", true, "id of the node") } },
    { CTL_VERB_DESCRIBE_NODES,
      "describe-nodes",
      RO,
      false,
      false,
      "List nodes, their groups, roles and health.",
      { OPT_STR("node-id", false, "only this node") } },
    { CTL_VERB_CREATE_GROUP,
      "create-replication-group",
      RW,
      true,
      false,
      "Create a replication group from registered nodes.",
      { OPT_STR("replication-group-id", true, "id of the group"),
        OPT_STR("replication-group-description", false, "free text"),
        OPT_STR("primary-node-id", true, "the node that starts as primary"),
        OPT_LIST("replica-node-ids", false, "0 to 5 replica nodes"),
        OPT_FLAG("multi-az", "require a replica in another zone; automatic failover"),
        OPT_FLAG("automatic-failover-enabled", "promote a replica when the primary fails"),
        OPT_STR("cache-parameter-group-name", false, "default: default.redis7"),
        OPT_INT("port", 1, 65535, "must be 1 to 65535",
                "require every node to listen on this port"),
        OPT_SECRET("auth-token", false,
                   "every node requires this password (first line; or " TOKEN_ENV ")") } },
    { CTL_VERB_DESCRIBE_GROUPS,
      "describe-replication-groups",
      RO,
      false,
      false,
      "Show groups: status, members, offsets, endpoints.",
      { OPT_STR("replication-group-id", false, "only this group") } },
    { CTL_VERB_MODIFY_GROUP,
      "modify-replication-group",
      RW,
      true,
      false,
      "Change a group's parameter group, failover settings or auth token.",
      { OPT_STR("replication-group-id", true, "id of the group"),
        OPT_STR("replication-group-description", false, "free text"),
        OPT_STR("cache-parameter-group-name", false, "parameter group to use"),
        OPT_FLAG("multi-az", "enable or disable Multi-AZ"),
        OPT_FLAG("automatic-failover-enabled", "enable or disable automatic failover"),
        OPT_FLAG("apply-immediately", "accepted; changes always apply at once"),
        OPT_SECRET("auth-token", false,
                   "the nodes' new password (first line; or " TOKEN_ENV " with SET)"),
        OPT_STR(
            "auth-token-update-strategy", false,
            "SET (default with a token), ROTATE (old and new both valid until SET) or DELETE") } },
    { CTL_VERB_INCREASE_REPLICAS,
      "increase-replica-count",
      RW,
      true,
      false,
      "Add registered nodes to a group as replicas.",
      { OPT_STR("replication-group-id", true, "id of the group"),
        OPT_LIST("replica-node-ids", true, "nodes to add"),
        OPT_INT("new-replica-count", 0, CTL_MAX_REPLICAS, "is 0 to " STR(CTL_MAX_REPLICAS),
                "expected replica count afterwards"),
        OPT_FLAG("apply-immediately", "accepted; changes always apply at once") } },
    { CTL_VERB_DECREASE_REPLICAS,
      "decrease-replica-count",
      RW,
      true,
      false,
      "Remove replicas from a group.",
      { OPT_STR("replication-group-id", true, "id of the group"),
        OPT_LIST("replicas-to-remove", true, "replica nodes to remove"),
        OPT_FLAG("apply-immediately", "accepted; changes always apply at once") } },
    { CTL_VERB_DELETE_GROUP,
      "delete-replication-group",
      RW,
      true,
      false,
      "Delete a group; its nodes become standalone.",
      { OPT_STR("replication-group-id", true, "id of the group") } },
    { CTL_VERB_TEST_FAILOVER,
      "test-failover",
      RW,
      true,
      false,
      "Switch the primary of a healthy group to a replica.",
      { OPT_STR("replication-group-id", true, "id of the group"),
        OPT_STR("node-id", false, "the replica to promote (default: the best one)"),
        OPT_STR("node-group-id", false, "accepted for compatibility (one node group)") } },
    { CTL_VERB_REBOOT_NODE,
      "reboot-node",
      RW,
      true,
      false,
      "Apply a node's pending requires-reboot parameter values.",
      { OPT_STR("node-id", true, "id of the node") } },
    { CTL_VERB_CREATE_PG,
      "create-cache-parameter-group",
      RW,
      true,
      false,
      "Create a parameter group of a family.",
      { OPT_STR("cache-parameter-group-name", true, "name of the group"),
        OPT_STR("cache-parameter-group-family", true, "redis6.x, redis7 or pollux7"),
        OPT_STR("description", false, "free text") } },
    { CTL_VERB_DESCRIBE_PGS,
      "describe-cache-parameter-groups",
      RO,
      false,
      false,
      "List parameter groups.",
      { OPT_STR("cache-parameter-group-name", false, "only this group") } },
    { CTL_VERB_DESCRIBE_PARAMS,
      "describe-cache-parameters",
      RO,
      false,
      false,
      "List the parameters of a parameter group.",
      { OPT_STR("cache-parameter-group-name", true, "name of the group"),
        OPT_STR("source", false, "user, system or engine-default") } },
    { CTL_VERB_MODIFY_PG,
      "modify-cache-parameter-group",
      RW,
      true,
      false,
      "Set parameter values in a parameter group.",
      { OPT_STR("cache-parameter-group-name", true, "name of the group"),
        OPT_PARAMS(true, "name=value ... or ParameterName=n,ParameterValue=v ...") } },
    { CTL_VERB_RESET_PG,
      "reset-cache-parameter-group",
      RW,
      true,
      false,
      "Put parameters back to their defaults.",
      { OPT_STR("cache-parameter-group-name", true, "name of the group"),
        OPT_PARAMS(false, "names (or ParameterName=n) to reset"),
        OPT_FLAG("reset-all-parameters", "reset every parameter") } },
    { CTL_VERB_DELETE_PG,
      "delete-cache-parameter-group",
      RW,
      true,
      false,
      "Delete a parameter group no group uses.",
      { OPT_STR("cache-parameter-group-name", true, "name of the group") } },
    { CTL_VERB_DESCRIBE_EVENTS,
      "describe-events",
      RO,
      false,
      false,
      "What happened to which resource.",
      { OPT_STR("source-identifier", false, "only events of this resource"),
        OPT_STR("source-type", false, "replication-group, cache-node, cache-parameter-group, user"),
        OPT_INT("duration", 1, MAX_MINUTES, "is 1 to " STR(MAX_MINUTES) " minutes",
                "only the last N minutes"),
        OPT_INT("max-records", 1, MAX_RECORDS, "is 1 to " STR(MAX_RECORDS),
                "at most N (the newest)") } },
    { CTL_VERB_CREATE_USER,
      "create-user",
      RW,
      true,
      false,
      "Create a user of the control API (admin only).",
      { OPT_STR("user-name", true, "name of the user"), OPT_STR("role", true, "admin or readonly"),
        OPT_SECRET("password", true, "file whose first line is the password") } },
    { CTL_VERB_MODIFY_USER,
      "modify-user",
      RW,
      true,
      false,
      "Change a user's role or password (admin only).",
      { OPT_STR("user-name", true, "name of the user"), OPT_STR("role", false, "admin or readonly"),
        OPT_SECRET("password", false, "file whose first line is the new password") } },
    { CTL_VERB_DELETE_USER,
      "delete-user",
      RW,
      true,
      false,
      "Delete a user (admin only; not the last admin).",
      { OPT_STR("user-name", true, "name of the user") } },
    { CTL_VERB_DESCRIBE_USERS,
      "describe-users",
      RW,
      false,
      false,
      "List the users and their roles (admin only).",
      { OPT_STR("user-name", false, "only this user") } },
    { CTL_VERB_WAIT_GROUP_AVAILABLE,
      "wait-replication-group-available",
      RO,
      false,
      true,
      "Wait until a group's status is available (polls describe-replication-groups).",
      { OPT_STR("replication-group-id", true, "id of the group"),
        OPT_INT("timeout-seconds", 1, 1000000000, "is a positive number of seconds",
                "give up after this long (default 60)") } },
};

const struct ctl_verb *ctl_verb_find(const char *name, size_t len, bool nocase)
{
    for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
        const char *n = ctl_verbs[i].name;
        if (nocase ? util_strcaseeq(name, len, n) : strlen(n) == len && memcmp(n, name, len) == 0)
            return &ctl_verbs[i];
    }
    return NULL;
}

const struct ctl_verb_opt *ctl_verb_opt_find(const struct ctl_verb *v, const char *name, size_t len,
                                             bool by_key)
{
    for (const struct ctl_verb_opt *o = v->opts; o < v->opts + CTL_VERB_MAX_OPTS && o->name; o++) {
        const char *n = by_key ? o->key : o->name;
        if (len > 0 && strlen(n) == len && memcmp(n, name, len) == 0)
            return o;
    }
    return NULL;
}

size_t ctl_verb_nopts(const struct ctl_verb *v)
{
    size_t n = 0;
    while (n < CTL_VERB_MAX_OPTS && v->opts[n].name)
        n++;
    return n;
}

const struct ctl_verb_opt *ctl_verb_opts_end(const struct ctl_verb *v)
{
    return v->opts + ctl_verb_nopts(v);
}

int ctl_verb_value(const struct ctl_verb_opt *o, const char *v, bool *b, long long *i, char *err,
                   size_t errcap)
{
    if (o->kind == CTL_OPT_FLAG) {
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0)
            *b = true;
        else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0)
            *b = false;
        else {
            snprintf(err, errcap, "--%s takes yes or no, not '%s'", o->key, v);
            return -EINVAL;
        }
    } else if (o->kind == CTL_OPT_INT) {
        if (!util_str2ll(v, strlen(v), i) || *i < o->min || *i > o->max) {
            snprintf(err, errcap, "--%s %s, not '%s'", o->key, o->range, v);
            return -EINVAL;
        }
    }
    return 0;
}
