/*
 * The verbs of the control API, one table for both sides: polluxctl parses its command line,
 * prints its usage and `help` from it, and pollux-control validates a POLLUX request against
 * it (unknown option, missing required option, yes/no flags, integers and their bounds)
 * before the verb's handler runs. A new verb is one row here and one handler in api.c.
 *
 * Each option has two spellings: `name` is polluxctl's (--name), `key` the API's (the name
 * without the dashes, sent as `key value`). They differ only where polluxctl transforms the
 * value: a file read for a secret (--auth-token-file F sends `auth-token <first line of F>`)
 * and the parameter list (--parameter-name-values a=1 b=2 sends `parameter a=1 parameter
 * b=2`).
 */
#ifndef POLLUX_CTL_VERBS_H
#define POLLUX_CTL_VERBS_H

#include <stdbool.h>
#include <stddef.h>

#include "control/auth.h"

#define CTL_VERB_MAX_OPTS 10

enum ctl_opt_kind {
    CTL_OPT_STRING, /* --name value */
    CTL_OPT_INT,    /* --name N, min <= N <= max (checked by the API) */
    CTL_OPT_FLAG,   /* --name / --no-name; sent as yes / no, the API takes yes|no|true|false */
    CTL_OPT_LIST,   /* --name a b c (or a,b,c): sent comma-joined */
    CTL_OPT_SECRET, /* --X-file F: the first line of F, sent as X (never on argv) */
    CTL_OPT_PARAMS, /* --parameter-name-values ...: one `parameter name=value` pair each */
};

struct ctl_verb_opt {
    const char *name; /* polluxctl's spelling, without the dashes */
    const char *key;  /* the API's spelling */
    enum ctl_opt_kind kind;
    bool required;
    long long min, max; /* CTL_OPT_INT */
    const char *range;  /* CTL_OPT_INT: the bounds as the error says them ("is 1 to 100000") */
    const char *help;
};

enum ctl_verb_id {
    CTL_VERB_REGISTER_NODE,
    CTL_VERB_DEREGISTER_NODE,
    CTL_VERB_DESCRIBE_NODES,
    CTL_VERB_CREATE_GROUP,
    CTL_VERB_DESCRIBE_GROUPS,
    CTL_VERB_MODIFY_GROUP,
    CTL_VERB_INCREASE_REPLICAS,
    CTL_VERB_DECREASE_REPLICAS,
    CTL_VERB_DELETE_GROUP,
    CTL_VERB_TEST_FAILOVER,
    CTL_VERB_REBOOT_NODE,
    CTL_VERB_CREATE_PG,
    CTL_VERB_DESCRIBE_PGS,
    CTL_VERB_DESCRIBE_PARAMS,
    CTL_VERB_MODIFY_PG,
    CTL_VERB_RESET_PG,
    CTL_VERB_DELETE_PG,
    CTL_VERB_DESCRIBE_EVENTS,
    CTL_VERB_CREATE_USER,
    CTL_VERB_MODIFY_USER,
    CTL_VERB_DELETE_USER,
    CTL_VERB_DESCRIBE_USERS,
    CTL_VERB_WAIT_GROUP_AVAILABLE, /* polluxctl only: it polls describe-replication-groups */
    CTL_VERB_COUNT
};

struct ctl_verb {
    enum ctl_verb_id id;
    const char *name;
    enum ctl_access access; /* the role a user needs */
    bool mutates;           /* changes state; its events carry the user who asked */
    bool local;             /* run by polluxctl itself, not a POLLUX verb */
    const char *summary;
    struct ctl_verb_opt opts[CTL_VERB_MAX_OPTS]; /* ends at the first without a name */
};

/* The table, in the order of `polluxctl help` and POLLUX VERBS; ctl_verbs[i].id == i. */
extern const struct ctl_verb ctl_verbs[CTL_VERB_COUNT];

/* The verb called name[0..len) (exact, or ignoring case), or NULL. */
const struct ctl_verb *ctl_verb_find(const char *name, size_t len, bool nocase);

/* The option of v spelt name[0..len) as polluxctl (by_key false) or the API (true), or NULL. */
const struct ctl_verb_opt *ctl_verb_opt_find(const struct ctl_verb *v, const char *name, size_t len,
                                             bool by_key);

/* The number of options of v, and the end of its options (v->opts + that number). */
size_t ctl_verb_nopts(const struct ctl_verb *v);
const struct ctl_verb_opt *ctl_verb_opts_end(const struct ctl_verb *v);

/*
 * Check a value of option o (a yes/no flag or an integer in bounds); *b and *i receive it.
 * @return 0; -EINVAL with err set to the reason without a fault name ("--port must be 1 to
 *         65535, not 'x'").
 */
int ctl_verb_value(const struct ctl_verb_opt *o, const char *v, bool *b, long long *i, char *err,
                   size_t errcap);

#endif
