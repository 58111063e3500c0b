#include "control/health.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/group.h"
#include "control/link.h"
#include "base/log.h"
#include "base/mem.h"
#include "control/param_group.h"

/* What a reply on a node's link answers (the tag of ctl_link_send). */
enum tag {
    TAG_PING = 1,
    TAG_INFO,
    TAG_ROLE_CHANGE, /* REPLICAOF */
    TAG_FENCE,       /* CLIENT KILL TYPE normal after a demotion */
    TAG_UNPAUSE,
    TAG_CONFIG_SET, /* | job index << 8 */
    TAG_CONFIG_GET, /* | job index << 8 */
    TAG_OP_PAUSE,   /* test failover: CLIENT PAUSE on the old primary */
    TAG_OP_OFFSET,  /* test failover: INFO replication of the paused primary */
    TAG_OP_PROMOTE, /* REPLICAOF NO ONE on the chosen replica */
    TAG_MASTERAUTH, /* CONFIG SET masterauth just before a REPLICAOF */
};
#define TAG_KIND(t)  ((int)((t)&0xff))
#define TAG_INDEX(t) ((int)((t) >> 8))

struct job { /* one node setting to apply */
    char key[64];
    char value[2 * CTL_TOKEN_MAX]; /* a setting's value; a ROTATE job's "new\0old" */
    bool reboot;                   /* a requires-reboot parameter */
    bool acl;         /* not a setting: ACL SETUSER of pollux-control's user named key */
    unsigned dropped; /* acl: rules (bit i: the i-th) for commands the node does not have */
    bool failed;
    char error[160];
};

struct node_rt {
    struct ctl_health *h;
    struct ctl_node node; /* the store's row */
    struct ctl_link *link;
    bool gone;     /* deleted from the store; freed at the next tick */
    bool replaced; /* its address changed: a new entry took over */

    bool probed, up;
    unsigned link_gen;   /* ctl_link_connections() when its values were last marked to apply */
    uint64_t last_ok_ns; /* last answer to a probe, a late one too (or when we started watching) */
    uint64_t next_probe_ns;
    bool probe_pending;         /* its outcome (answer or failure) not counted yet */
    uint64_t probe_deadline_ns; /* the pending probe fails unanswered at this time */
    bool probe_retry;           /* the next probe repeats one cut short: same deadline */
    int failures;               /* probes failed since the last answer */
    bool apply_seen;            /* apply_errors holds a value read from the node */
    long long apply_errors;     /* master_apply_errors at the last probe */
    struct ctl_repl_info info;
    uint64_t info_ns; /* when info was received */

    bool action_inflight;   /* a REPLICAOF is on its way */
    bool fence_after;       /* disconnect clients once demoted */
    bool standalone;        /* left its group: REPLICAOF NO ONE until it answers as a primary */
    char refused[160];      /* its answer when it refused our password (NOAUTH, WRONGPASS) */
    char refused_told[160]; /* the refusal the last event recorded ("" none since it was up) */

    /* parameter application */
    bool dirty;    /* values to apply */
    bool full;     /* include requires-reboot values */
    bool reboot;   /* the run is a reboot: clear pending-reboot when it succeeds */
    bool announce; /* record an event when the run completes (a change was made) */
    bool applying;
    int outstanding;
    struct job *jobs;
    int njobs;
};

enum op { OP_NONE = 0, OP_PAUSE, OP_CATCHUP, OP_PROMOTE };

struct group_rt {
    struct ctl_group g;
    unsigned family; /* CTL_FAM_* of its parameter group */
    bool gone;
    enum op op;
    uint64_t op_deadline_ns;
    long long op_target_offset;
    bool switch_published;
    bool no_candidate_logged;
    uint64_t settle_until_ns;      /* no automatic failover before (after the last one) */
    enum ctl_down_verdict verdict; /* of the primary at the last tick */
    char old_host[CTL_HOST_MAX];   /* the primary before the failover, for +switch-master */
    int old_port;
};

struct ctl_health {
    struct ctl_loop *loop;
    struct ctl_state *st;
    struct ctl_health_opts o;
    ctl_health_publish_fn publish;
    void *publish_ctx;
    struct node_rt **nodes;
    int nnodes, capnodes;
    struct group_rt **groups;
    int ngroups, capgroups;
    uint64_t now_ns;
    uint64_t started_ns;
    /* The passwords of pollux-control's own ACL users on the members of groups with a token
     * ("" when the store could not give them: the token alone is used). */
    char ctl_pass[CTL_NODE_USER_PASS_LEN + 1];
    char repl_pass[CTL_NODE_USER_PASS_LEN + 1];
};

/*
 * The rules of pollux-control's ACL users (after "reset on >password"): its own user may
 * run exactly the commands control/ sends to a node, on no key and no channel; the
 * replicas' user what a replica sends to its primary.
 */
static const char *const CTL_USER_RULES[] = {
    "+ping",       "+info",        "+replicaof",    "+slaveof",        "+config|get",
    "+config|set", "+client|kill", "+client|pause", "+client|unpause", "+acl|setuser",
};
static const char *const REPL_USER_RULES[] = { "+psync", "+replconf", "+ping" };
#define RULES_MAX 10
/* The ">password" words of an ACL SETUSER: two tokens (ROTATE) or a node user's password. */
#define ACL_PASS_BUF (2 * CTL_TOKEN_MAX + 4)
_Static_assert(sizeof(CTL_USER_RULES) / sizeof(*CTL_USER_RULES) <= RULES_MAX, "RULES_MAX");

static uint64_t ms_ns(int ms)
{
    return (uint64_t)ms * 1000000;
}

/* The runtime entry of a node, gone (not yet swept) ones included unless replaced. */
static struct node_rt *node_find_any(struct ctl_health *h, const char *id)
{
    for (int i = 0; i < h->nnodes; i++)
        if (!h->nodes[i]->replaced && strcmp(h->nodes[i]->node.id, id) == 0)
            return h->nodes[i];
    return NULL;
}

static struct group_rt *group_find_any(struct ctl_health *h, const char *id)
{
    for (int i = 0; i < h->ngroups; i++)
        if (strcmp(h->groups[i]->g.id, id) == 0)
            return h->groups[i];
    return NULL;
}

static struct node_rt *node_find(struct ctl_health *h, const char *id)
{
    for (int i = 0; i < h->nnodes; i++)
        if (!h->nodes[i]->gone && strcmp(h->nodes[i]->node.id, id) == 0)
            return h->nodes[i];
    return NULL;
}

static struct group_rt *group_find(struct ctl_health *h, const char *id)
{
    for (int i = 0; i < h->ngroups; i++)
        if (!h->groups[i]->gone && strcmp(h->groups[i]->g.id, id) == 0)
            return h->groups[i];
    return NULL;
}

static void publish(struct ctl_health *h, const char *channel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void publish(struct ctl_health *h, const char *channel, const char *fmt, ...)
{
    if (h->publish == NULL)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    h->publish(h->publish_ctx, channel, msg);
}

/*
 * How Sentinel names an instance in its events: "master <group> <ip> <port>", or
 * "slave <ip>:<port> <ip> <port> @ <group> <primary ip> <primary port>".
 */
static void describe_instance(struct ctl_health *h, const struct node_rt *n, char *buf, size_t len)
{
    struct group_rt *g = group_find(h, n->node.group);
    if (g == NULL) {
        buf[0] = '\0';
        return;
    }
    if (strcmp(g->g.primary, n->node.id) == 0) {
        snprintf(buf, len, "master %s %s %d", g->g.id, n->node.host, n->node.port);
        return;
    }
    struct node_rt *p = node_find(h, g->g.primary);
    snprintf(buf, len, "slave %s:%d %s %d @ %s %s %d", n->node.host, n->node.port, n->node.host,
             n->node.port, g->g.id, p ? p->node.host : "?", p ? p->node.port : 0);
}

/* Record an event outside any API transaction. */
#define EVENT(h, type, id, ...) ctl_state_event_add((h)->st, 0, type, id, __VA_ARGS__)

static int send_cmd(struct node_rt *n, uint64_t tag, int argc, const char *const *argv);

/* ---- store synchronisation ------------------------------------------------------------ */

static void reload_node(void *ctx, const struct ctl_node *row)
{
    struct ctl_health *h = ctx;
    struct node_rt *n = node_find_any(h, row->id);
    if (n != NULL && (strcmp(n->node.host, row->host) != 0 || n->node.port != row->port)) {
        n->gone = n->replaced = true; /* the address changed: start over with a new link */
        n = NULL;
    }
    if (n == NULL) {
        n = mem_calloc(sizeof(*n));
        n->h = h;
        n->link = ctl_link_create(h->loop, row->host, row->port, h->o.timeout_ms);
        n->last_ok_ns = h->now_ns;
        if (h->nnodes == h->capnodes) {
            h->capnodes = h->capnodes ? h->capnodes * 2 : 16;
            h->nodes = mem_realloc(h->nodes, (size_t)h->capnodes * sizeof(*h->nodes));
        }
        h->nodes[h->nnodes++] = n;
    }
    if (strcmp(n->node.group, row->group) != 0 && row->group[0]) {
        n->dirty = true; /* joined a group: its values apply */
        n->full = true;
    }
    if (n->node.group[0] && !row->group[0] && n->up) {
        /* Left its group: it stands alone from now on. */
        const char *argv[] = { "REPLICAOF", "NO", "ONE" };
        if (send_cmd(n, TAG_ROLE_CHANGE, 3, argv) == 0)
            n->action_inflight = true;
        n->standalone = true;
    }
    if (strcmp(n->node.auth_token, row->auth_token) != 0 && row->group[0])
        n->dirty = true; /* its group's token was set, changed or removed */
    ctl_link_set_auth(n->link, row->auth_token, row->auth_token_prev);
    /* Its users exist only where its group has (had) a token. */
    ctl_link_set_user(n->link, row->auth_token[0] && h->ctl_pass[0] ? CTL_NODE_USER : NULL,
                      h->ctl_pass);
    n->node = *row;
    n->gone = false;
}

static void reload_group(void *ctx, const struct ctl_group *row)
{
    struct ctl_health *h = ctx;
    struct group_rt *g = group_find_any(h, row->id);
    if (g == NULL) {
        g = mem_calloc(sizeof(*g));
        if (h->ngroups == h->capgroups) {
            h->capgroups = h->capgroups ? h->capgroups * 2 : 8;
            h->groups = mem_realloc(h->groups, (size_t)h->capgroups * sizeof(*h->groups));
        }
        h->groups[h->ngroups++] = g;
    } else if (strcmp(g->g.auth_token_old, row->auth_token_old) != 0) {
        /* ROTATE, or the SET or DELETE that ends it: every member's passwords change. */
        for (int i = 0; i < h->nnodes; i++)
            if (strcmp(h->nodes[i]->node.group, row->id) == 0)
                h->nodes[i]->dirty = true;
    }
    g->g = *row;
    g->gone = false;
    struct ctl_pgroup pg;
    const struct ctl_family *f = NULL;
    if (ctl_state_pg_get(h->st, row->pg, &pg) == 0)
        f = ctl_family_find(pg.family);
    g->family = f ? f->bit : CTL_FAM_7;
}

void ctl_health_reload(struct ctl_health *h)
{
    /* Mark everything; the rows found in the store unmark what still exists. */
    for (int i = 0; i < h->nnodes; i++)
        h->nodes[i]->gone = true;
    ctl_state_node_each(h->st, NULL, reload_node, h);
    for (int i = 0; i < h->ngroups; i++)
        h->groups[i]->gone = true;
    ctl_state_group_each(h->st, reload_group, h);
}

/* Free what the store no longer has (outside link callbacks: from the tick only). */
static void sweep(struct ctl_health *h)
{
    int j = 0;
    for (int i = 0; i < h->nnodes; i++) {
        struct node_rt *n = h->nodes[i];
        if (n->gone) {
            ctl_link_destroy(n->link);
            mem_free(n->jobs);
            mem_free(n);
        } else {
            h->nodes[j++] = n;
        }
    }
    h->nnodes = j;
    j = 0;
    for (int i = 0; i < h->ngroups; i++) {
        if (h->groups[i]->gone)
            mem_free(h->groups[i]);
        else
            h->groups[j++] = h->groups[i];
    }
    h->ngroups = j;
}

struct ctl_health *ctl_health_create(struct ctl_loop *loop, struct ctl_state *st,
                                     const struct ctl_health_opts *opts,
                                     ctl_health_publish_fn publish_fn, void *publish_ctx)
{
    struct ctl_health *h = mem_calloc(sizeof(*h));
    h->loop = loop;
    h->st = st;
    h->o = *opts;
    h->publish = publish_fn;
    h->publish_ctx = publish_ctx;
    h->now_ns = h->started_ns = clock_mono_ns();
    if (ctl_state_node_user_password(st, CTL_NODE_USER, h->ctl_pass) != 0 ||
        ctl_state_node_user_password(st, CTL_REPL_USER, h->repl_pass) != 0) {
        log_warn("state: no password for pollux-control's node users: nodes get the token only");
        h->ctl_pass[0] = h->repl_pass[0] = '\0';
    }
    ctl_health_reload(h);
    /* Every member gets its full set of values once: nodes may have restarted meanwhile. */
    for (int i = 0; i < h->nnodes; i++) {
        struct node_rt *n = h->nodes[i];
        if (n->node.group[0]) {
            n->dirty = true;
            n->full = false;
        }
    }
    for (int i = 0; i < h->ngroups; i++) {
        struct group_rt *g = h->groups[i];
        if (g->g.failover_from[0]) /* a failover was under way: it counts as just started */
            g->settle_until_ns = h->now_ns + ms_ns(h->o.settle_ms);
        if (strcmp(g->g.status, "creating") == 0)
            for (int k = 0; k < h->nnodes; k++)
                if (strcmp(h->nodes[k]->node.group, g->g.id) == 0)
                    h->nodes[k]->full = true;
    }
    return h;
}

void ctl_health_destroy(struct ctl_health *h)
{
    if (h == NULL)
        return;
    for (int i = 0; i < h->nnodes; i++)
        h->nodes[i]->gone = true;
    for (int i = 0; i < h->ngroups; i++)
        h->groups[i]->gone = true;
    sweep(h);
    mem_free(h->nodes);
    mem_free(h->groups);
    mem_free(h);
}

/* ---- parameter application ------------------------------------------------------------ */

struct values {
    const char *pg;
    struct ctl_state *st;
    char (*v)[160];
};

static const char *value_of(void *ctx, const struct ctl_param_def *d)
{
    struct values *vals = ctx;
    size_t i = (size_t)(d - ctl_param_defs);
    if (vals->v[i][0] == '\0' && ctl_state_pg_value_get(vals->st, vals->pg, d->name, vals->v[i] + 1,
                                                        sizeof(vals->v[i]) - 1) == 0) {
        vals->v[i][0] = '=';
    } else if (vals->v[i][0] == '\0') {
        snprintf(vals->v[i], sizeof(vals->v[i]), "=%s", d->def);
    }
    return vals->v[i] + 1;
}

static void add_job(struct node_rt *n, const char *key, const char *value, bool reboot)
{
    for (int i = 0; i < n->njobs; i++)
        if (strcmp(n->jobs[i].key, key) == 0 && strcmp(n->jobs[i].value, value) == 0)
            return; /* parts of one setting (a client-output-buffer-limit class) */
    struct job *j = &n->jobs[n->njobs++];
    memset(j, 0, sizeof(*j));
    snprintf(j->key, sizeof(j->key), "%s", key);
    snprintf(j->value, sizeof(j->value), "%s", value);
    j->reboot = reboot;
}

/* The rules of the user an ACL job provisions. */
static const char *const *user_rules(const struct job *j, size_t *n)
{
    if (strcmp(j->key, CTL_NODE_USER) == 0) {
        *n = sizeof(CTL_USER_RULES) / sizeof(*CTL_USER_RULES);
        return CTL_USER_RULES;
    }
    *n = sizeof(REPL_USER_RULES) / sizeof(*REPL_USER_RULES);
    return REPL_USER_RULES;
}

/* ACL SETUSER of one of pollux-control's users: its argv (the job's key is the user). */
static int acl_argv(const struct ctl_health *h, const struct job *j, const char **argv, char *pass,
                    size_t cap)
{
    if (strcmp(j->key, "default") == 0) {
        /* ROTATE: the default user's two passwords, value "new\0old" (see apply_start). */
        size_t l1 = strlen(j->value) + 1;
        snprintf(pass, cap, ">%s", j->value);
        snprintf(pass + l1 + 1, cap - l1 - 1, ">%s", j->value + l1);
        const char *v[] = { "ACL", "SETUSER", "default", "on", "resetpass", pass, pass + l1 + 1 };
        memcpy(argv, v, sizeof(v));
        return 7;
    }
    size_t nrules;
    const char *const *rules = user_rules(j, &nrules);
    snprintf(pass, cap, ">%s", rules == CTL_USER_RULES ? h->ctl_pass : h->repl_pass);
    int argc = 0;
    argv[argc++] = "ACL";
    argv[argc++] = "SETUSER";
    argv[argc++] = j->key;
    argv[argc++] = "reset";
    argv[argc++] = "on";
    argv[argc++] = pass;
    for (size_t i = 0; i < nrules; i++)
        if (!(j->dropped & (1u << i)))
            argv[argc++] = rules[i];
    return argc;
}

/*
 * ACL SETUSER refused one of the rules because the node has no such command (polluxd has no
 * CLIENT PAUSE): the user need not be allowed what the node cannot run. Sends the command
 * again without it; false when the error is another one.
 */
static bool acl_retry(struct node_rt *n, uint64_t tag, struct job *j, const char *err)
{
    size_t nrules;
    const char *const *rules = user_rules(j, &nrules);
    if (strstr(err, "Unknown command") == NULL)
        return false;
    for (size_t i = 0; i < nrules; i++) {
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "'%s'", rules[i]);
        if ((j->dropped & (1u << i)) || strstr(err, quoted) == NULL)
            continue;
        j->dropped |= 1u << i;
        const char *argv[6 + RULES_MAX];
        char pass[ACL_PASS_BUF];
        int argc = acl_argv(n->h, j, argv, pass, sizeof(pass));
        n->outstanding++;
        if (send_cmd(n, tag, argc, argv) == 0)
            return true;
        n->outstanding--;
        return false;
    }
    return false;
}

#define UNREACHABLE "node unreachable" /* a job error that is retried, not a refusal */

/*
 * Record what the node refused: the list of refused settings is kept in the store (shown
 * as ParameterStatus apply-failed), and an event names them when the list changes or a
 * user's change or reboot-node was applied, so a restart of pollux-control, which applies
 * everything again, does not repeat it.
 */
static void record_failures(struct node_rt *n)
{
    struct ctl_health *h = n->h;
    const char **tried = mem_calloc((size_t)n->njobs * sizeof(char *) + 1);
    const char **failed = mem_calloc((size_t)n->njobs * sizeof(char *) + 1);
    char(*names)[96] = mem_calloc((size_t)n->njobs * sizeof(*names) + 1);
    int nt = 0, nf = 0;
    const char *why = NULL;
    for (int i = 0; i < n->njobs; i++) {
        const struct job *j = &n->jobs[i];
        if (j->failed && strcmp(j->error, UNREACHABLE) == 0)
            continue; /* tried again once the node is back */
        if (strcmp(j->key, "client-output-buffer-limit") == 0) /* one setting per class */
            snprintf(names[i], sizeof(names[i]), "%s %.*s", j->key, (int)strcspn(j->value, " "),
                     j->value);
        else
            snprintf(names[i], sizeof(names[i]), "%s", j->key);
        tried[nt++] = names[i];
        if (j->failed) {
            failed[nf++] = names[i];
            why = why ? why : j->error;
        }
    }
    char list[CTL_APPLY_FAILED_MAX], brief[280];
    ctl_param_list_merge(n->node.apply_failed, tried, nt, failed, nf, list, sizeof(list));
    bool changed = strcmp(list, n->node.apply_failed) != 0;
    if (changed && ctl_state_node_set_apply_failed(h->st, n->node.id, list) == 0)
        snprintf(n->node.apply_failed, sizeof(n->node.apply_failed), "%s", list);
    ctl_param_list_brief(list, sizeof(brief) - 1, brief, sizeof(brief));
    if (nf > 0 && (changed || n->announce || n->reboot))
        EVENT(h, "cache-node", n->node.id,
              "Parameters not applied on the node: %s; it answered: %s", brief, why);
    else if (changed && list[0])
        EVENT(h, "cache-node", n->node.id, "Parameters still not applied on the node: %s", brief);
    else if (nf == 0 && (n->announce || changed))
        EVENT(h, "cache-node", n->node.id, "Parameter values applied");
    mem_free(tried);
    mem_free(failed);
    mem_free(names);
}

static void apply_done(struct node_rt *n)
{
    struct ctl_health *h = n->h;
    n->applying = false;
    bool reboot_failed = false;
    for (int i = 0; i < n->njobs; i++)
        reboot_failed |= n->jobs[i].failed && n->jobs[i].reboot;
    record_failures(n);
    if (n->reboot) {
        n->reboot = false;
        if (!reboot_failed) {
            ctl_state_node_set_pending_reboot(h->st, n->node.id, false);
            n->node.pending_reboot = false;
            EVENT(h, "cache-node", n->node.id, "Node rebooted: pending parameter values applied");
        }
    }
    n->announce = false;
}

/*
 * The node now requires `token`: when that is the password the store has for it, the one it
 * required before is no longer tried, and no longer kept in the state file.
 */
static void password_applied(struct node_rt *n, const char *token)
{
    if (!n->node.auth_token_prev[0] || strcmp(token, n->node.auth_token) != 0)
        return;
    if (ctl_state_node_set_auth(n->h->st, n->node.id, n->node.auth_token, "") != 0)
        return;
    n->node.auth_token_prev[0] = '\0';
    ctl_link_set_auth(n->link, n->node.auth_token, NULL);
}

static void config_reply(struct node_rt *n, uint64_t tag, const struct ctl_reply *r)
{
    int i = TAG_INDEX(tag);
    struct job *j = i < n->njobs ? &n->jobs[i] : NULL;
    if (j != NULL && TAG_KIND(tag) == TAG_CONFIG_SET) {
        if (r == NULL) {
            j->failed = true;
            snprintf(j->error, sizeof(j->error), UNREACHABLE);
            n->dirty = true; /* try again when it is back */
        } else if (r->type != CTL_R_ERROR) {
            if (strcmp(j->key, "requirepass") == 0 || strcmp(j->key, "default") == 0)
                password_applied(n, j->value);
        } else if (r->type == CTL_R_ERROR) {
            if (j->acl && acl_retry(n, tag, j, r->str)) {
                /* answered again */
            } else if (j->reboot) {
                /* Settings a node fixes at start: fine if it already has the value. */
                const char *argv[] = { "CONFIG", "GET", j->key };
                n->outstanding++;
                if (send_cmd(n, TAG_CONFIG_GET | ((uint64_t)i << 8), 3, argv) != 0) {
                    n->outstanding--;
                    j->failed = true;
                    snprintf(j->error, sizeof(j->error), "%s", r->str);
                }
            } else {
                j->failed = true;
                snprintf(j->error, sizeof(j->error), "%s", r->str);
            }
        }
    } else if (j != NULL && TAG_KIND(tag) == TAG_CONFIG_GET) {
        const struct ctl_reply *v = r ? ctl_reply_get(r, j->key) : NULL;
        if (v == NULL || !ctl_reply_is(v, j->value)) {
            j->failed = true;
            snprintf(j->error, sizeof(j->error), "the node cannot change it at run time");
        }
    }
    if (--n->outstanding == 0)
        apply_done(n);
}

static void apply_start(struct node_rt *n, struct group_rt *g)
{
    struct ctl_health *h = n->h;
    mem_free(n->jobs);
    n->jobs = mem_calloc((ctl_param_count + 6) * sizeof(struct job));
    n->njobs = 0;
    struct values vals = { g->g.pg, h->st, mem_calloc(ctl_param_count * sizeof(*vals.v)) };
    for (size_t i = 0; i < ctl_param_count; i++) {
        const struct ctl_param_def *d = &ctl_param_defs[i];
        if (!(d->families & g->family) || !ctl_param_applies_to_node(d))
            continue;
        bool reboot = d->change == CTL_CHANGE_REBOOT;
        if (reboot && !n->full)
            continue;
        char key[64], val[160];
        if (ctl_param_node_setting(d, g->family, value_of, &vals, key, sizeof(key), val,
                                   sizeof(val)) == 0)
            add_job(n, key, val, reboot);
    }
    const struct ctl_node_type *t = ctl_node_type_find(n->node.type);
    const struct ctl_param_def *rp = ctl_param_find(g->family, "reserved-memory-percent");
    if (t != NULL && rp != NULL) {
        long long pct = 25;
        sscanf(value_of(&vals, rp), "%lld", &pct);
        char mm[32];
        snprintf(mm, sizeof(mm), "%llu", ctl_node_maxmemory(t, (unsigned)pct));
        add_job(n, "maxmemory", mm, false);
    }
    mem_free(vals.v);
    /* The group's password: members require it, replicas authenticate with it (so do former
     * primaries after a failover, hence every member). Managed while the group has one or a
     * change of it is still to reach the node (auth_token_prev). */
    bool users = n->node.auth_token[0] && h->ctl_pass[0];
    if (users) { /* before the settings that rely on them */
        add_job(n, CTL_NODE_USER, "", false);
        n->jobs[n->njobs - 1].acl = true;
        add_job(n, CTL_REPL_USER, "", false);
        n->jobs[n->njobs - 1].acl = true;
    }
    if (g->g.auth_token[0] || n->node.auth_token_prev[0]) {
        add_job(n, "masteruser", users ? CTL_REPL_USER : "", false);
        add_job(n, "masterauth", users ? h->repl_pass : n->node.auth_token, false);
        if (g->g.auth_token_old[0] && n->node.auth_token[0]) {
            /* ROTATE: both tokens, which requirepass cannot express. */
            add_job(n, "default", "", false);
            struct job *j = &n->jobs[n->njobs - 1];
            j->acl = true;
            size_t l1 = strlen(n->node.auth_token) + 1;
            memcpy(j->value, n->node.auth_token, l1);
            snprintf(j->value + l1, sizeof(j->value) - l1, "%s", g->g.auth_token_old);
        } else {
            add_job(n, "requirepass", n->node.auth_token, false);
        }
    }
    n->dirty = false;
    n->full = false;
    n->applying = true;
    n->outstanding = 1; /* held until every command is queued */
    for (int i = 0; i < n->njobs; i++) {
        const char *argv[6 + RULES_MAX] = { "CONFIG", "SET", n->jobs[i].key, n->jobs[i].value };
        char pass[ACL_PASS_BUF];
        int argc = n->jobs[i].acl ? acl_argv(h, &n->jobs[i], argv, pass, sizeof(pass)) : 4;
        n->outstanding++;
        if (send_cmd(n, TAG_CONFIG_SET | ((uint64_t)i << 8), argc, argv) != 0) {
            n->outstanding--;
            n->jobs[i].failed = true;
            snprintf(n->jobs[i].error, sizeof(n->jobs[i].error), UNREACHABLE);
            n->dirty = true;
        }
    }
    if (--n->outstanding == 0)
        apply_done(n);
}

void ctl_health_params_changed(struct ctl_health *h, const char *pg)
{
    for (int i = 0; i < h->nnodes; i++) {
        struct node_rt *n = h->nodes[i];
        struct group_rt *g = n->node.group[0] ? group_find(h, n->node.group) : NULL;
        if (g != NULL && strcmp(g->g.pg, pg) == 0) {
            n->dirty = true;
            n->announce = true;
        }
    }
}

/* ---- probes and replies ----------------------------------------------------------------- */

static void node_down(struct node_rt *n)
{
    struct ctl_health *h = n->h;
    bool was_up = n->up;
    n->up = false;
    n->probed = true;
    n->action_inflight = false;
    if (!was_up)
        return;
    EVENT(h, "cache-node", n->node.id, "Node is unreachable");
    char who[1024];
    describe_instance(h, n, who, sizeof(who));
    if (who[0])
        publish(h, "+sdown", "%s", who);
}

/* Any reply to a probe, however late: the node is alive, its down window starts again. */
static void node_answered(struct node_rt *n)
{
    n->last_ok_ns = n->h->now_ns;
    n->failures = 0;
}

/*
 * A node that refuses pollux-control's password is alive but cannot be observed or driven:
 * it counts as unreachable, and an event says why, once per episode.
 */
static void auth_refusal(struct node_rt *n)
{
    const char *why = n->refused[0] ? n->refused : ctl_link_auth_error(n->link);
    if (!why[0] || strcmp(why, n->refused_told) == 0)
        return;
    snprintf(n->refused_told, sizeof(n->refused_told), "%s", why);
    EVENT(n->h, "cache-node", n->node.id, "Node refused pollux-control's password (%s): %s",
          n->node.auth_token[0] ? "it requires another one" : "pollux-control has none for it",
          why);
}

static void probe_failure(struct node_rt *n)
{
    n->probe_pending = false;
    n->failures++;
    auth_refusal(n);
    node_down(n);
}

/*
 * The pending probe got no answer: the connection was refused or reset, or the probe was
 * unanswered for the whole window. A probe whose link was closed because another command
 * timed out behind it is not a failure: the node is slow, not dead; it is probed again.
 */
static void probe_failed(struct node_rt *n)
{
    struct ctl_health *h = n->h;
    if (!n->probe_pending)
        return;
    n->probe_pending = false;
    if (ctl_link_timed_out(n->link) && h->now_ns < n->probe_deadline_ns) {
        n->next_probe_ns = 0;
        n->probe_retry = true;
        return;
    }
    if (ctl_link_auth_error(n->link)[0])
        node_answered(n); /* it answered, refusing our password: alive, not down */
    probe_failure(n);
}

/* A replica's master_apply_errors went up: record it, with the node's last error text. */
static void check_apply_errors(struct node_rt *n)
{
    if (n->info.role != CTL_SEEN_REPLICA)
        return;
    long long now = n->info.apply_errors;
    if (n->apply_seen && now > n->apply_errors)
        EVENT(n->h, "cache-node", n->node.id,
              "Replica failed to apply %lld command(s) from its primary (%lld in all): %s",
              now - n->apply_errors, now,
              n->info.last_apply_error[0] ? n->info.last_apply_error : "no error text");
    n->apply_errors = now;
    n->apply_seen = true;
}

static void node_up(struct node_rt *n)
{
    struct ctl_health *h = n->h;
    node_answered(n);
    n->refused[0] = n->refused_told[0] = '\0';
    if (n->up)
        return;
    bool returned = n->probed; /* it was seen down before */
    n->up = true;
    n->probed = true;
    if (n->node.group[0])
        n->dirty = true; /* it may have restarted with its own defaults */
    if (returned) {
        EVENT(h, "cache-node", n->node.id, "Node is reachable again");
        char who[1024];
        describe_instance(h, n, who, sizeof(who));
        if (who[0])
            publish(h, "-sdown", "%s", who);
    }
}

/*
 * A node answering on a new connection may be a new process that restarted between two
 * probes, too fast to be seen down, with its own defaults: its group's values apply again
 * (the passwords of a ROTATE among them, which its configuration file cannot hold both of).
 */
static void node_reconnected(struct node_rt *n)
{
    unsigned gen = ctl_link_connections(n->link);
    if (gen == n->link_gen)
        return;
    n->link_gen = gen;
    if (n->node.group[0])
        n->dirty = true;
}

static void op_reply(struct node_rt *n, uint64_t tag, const struct ctl_reply *r);

static bool is_auth_error(const char *e)
{
    return strncmp(e, "NOAUTH", 6) == 0 || strncmp(e, "WRONGPASS", 9) == 0 ||
           strncmp(e, "NOPERM", 6) == 0;
}

static void on_reply(void *ctx, uint64_t tag, const struct ctl_reply *r)
{
    struct node_rt *n = ctx;
    struct ctl_health *h = n->h;
    h->now_ns = clock_mono_ns();
    switch (TAG_KIND(tag)) {
    case TAG_PING:
        if (r == NULL)
            probe_failed(n);
        else
            node_answered(n);
        n->refused[0] = '\0';
        if (r != NULL && r->type == CTL_R_ERROR && is_auth_error(r->str))
            snprintf(n->refused, sizeof(n->refused), "%s", r->str);
        return;
    case TAG_INFO:
        if (r == NULL) {
            probe_failed(n);
            return;
        }
        if (r->type == CTL_R_ERROR && is_auth_error(r->str)) {
            /* alive (it answered), but it cannot be observed or driven */
            snprintf(n->refused, sizeof(n->refused), "%s", r->str);
            probe_failure(n);
            return;
        }
        n->probe_pending = false;
        if (r->type == CTL_R_BULK && ctl_info_parse(r->str, r->len, &n->info) == 0) {
            n->info_ns = h->now_ns;
            node_up(n);
            node_reconnected(n);
            check_apply_errors(n);
            if (n->standalone && !n->node.group[0] && n->info.role == CTL_SEEN_REPLICA &&
                !n->action_inflight) {
                /* the first REPLICAOF NO ONE was refused (a node still loading): again */
                const char *argv[] = { "REPLICAOF", "NO", "ONE" };
                if (send_cmd(n, TAG_ROLE_CHANGE, 3, argv) == 0)
                    n->action_inflight = true;
            } else if (n->info.role == CTL_SEEN_MASTER || n->node.group[0]) {
                n->standalone = false;
            }
        }
        return;
    case TAG_ROLE_CHANGE:
        n->action_inflight = false;
        if (r != NULL && r->type != CTL_R_ERROR && n->fence_after) {
            const char *kill[] = { "CLIENT", "KILL", "TYPE", "normal" };
            send_cmd(n, TAG_FENCE, 4, kill);
            const char *unpause[] = { "CLIENT", "UNPAUSE" };
            send_cmd(n, TAG_UNPAUSE, 2, unpause);
        }
        if (r != NULL && r->type == CTL_R_ERROR)
            log_warn("node %s: REPLICAOF failed: %s", n->node.id, r->str);
        n->fence_after = false;
        return;
    case TAG_FENCE:
    case TAG_UNPAUSE:
    case TAG_MASTERAUTH:
        return;
    case TAG_CONFIG_SET:
    case TAG_CONFIG_GET:
        config_reply(n, tag, r);
        return;
    default:
        op_reply(n, tag, r);
        return;
    }
}

static int send_cmd(struct node_rt *n, uint64_t tag, int argc, const char *const *argv)
{
    return ctl_link_send(n->link, argc, argv, on_reply, n, tag);
}

/*
 * A probe is PING and INFO replication, pipelined. It may take the whole down window to be
 * answered (not --timeout-ms): a node that answers late is slow, not dead, and its answer
 * resets the window. The next probe is sent once this one is answered or failed. A probe
 * repeated because its link was cut by another command's timeout keeps the first one's
 * deadline, so a node that never answers fails after one window however often that happens.
 */
static void probe(struct node_rt *n)
{
    struct ctl_health *h = n->h;
    if (h->now_ns < n->next_probe_ns || ctl_link_pending(n->link) > 0)
        return;
    n->next_probe_ns = h->now_ns + ms_ns(h->o.probe_interval_ms);
    int within = h->o.down_after_ms > h->o.timeout_ms ? h->o.down_after_ms : h->o.timeout_ms;
    if (n->probe_retry && n->probe_deadline_ns > h->now_ns)
        within = (int)((n->probe_deadline_ns - h->now_ns + 999999) / 1000000);
    n->probe_retry = false;
    n->probe_pending = true;
    n->probe_deadline_ns = h->now_ns + ms_ns(within);
    const char *ping[] = { "PING" };
    const char *info[] = { "INFO", "replication" };
    if (ctl_link_send_within(n->link, within, 1, ping, on_reply, n, TAG_PING) != 0 ||
        ctl_link_send_within(n->link, within, 2, info, on_reply, n, TAG_INFO) != 0)
        probe_failure(n); /* cannot even connect */
}

/* ---- reconciliation --------------------------------------------------------------------- */

static bool follows(const struct node_rt *r, const struct node_rt *p)
{
    return r->info.role == CTL_SEEN_REPLICA && strcmp(r->info.master_host, p->node.host) == 0 &&
           r->info.master_port == p->node.port;
}

static void replicaof(struct node_rt *n, const struct node_rt *primary)
{
    char port[16];
    const char *argv[3] = { "REPLICAOF", "NO", "ONE" };
    if (primary != NULL) {
        snprintf(port, sizeof(port), "%d", primary->node.port);
        argv[1] = primary->node.host;
        argv[2] = port;
    }
    n->fence_after = primary != NULL && n->info.role == CTL_SEEN_MASTER;
    if (primary != NULL && n->node.auth_token[0]) {
        /* The password to the primary first, on the same connection: the handshake that
         * REPLICAOF starts must not see masterauth change under it (a Redis replica that gets
         * it between sending and reading its handshake reads the replies out of step and
         * waits for repl-timeout). Parameter application sets it again, to the same value. */
        bool users = n->h->ctl_pass[0] != '\0';
        const char *mu[] = { "CONFIG", "SET", "masteruser", users ? CTL_REPL_USER : "" };
        const char *ma[] = { "CONFIG", "SET", "masterauth",
                             users ? n->h->repl_pass : n->node.auth_token };
        send_cmd(n, TAG_MASTERAUTH, 4, mu);
        send_cmd(n, TAG_MASTERAUTH, 4, ma);
    }
    if (send_cmd(n, TAG_ROLE_CHANGE, 3, argv) != 0) {
        n->fence_after = false;
        return;
    }
    n->action_inflight = true;
    /* What the node will report: no second command before the next probe says otherwise. */
    if (primary != NULL) {
        struct group_rt *g = group_find(n->h, n->node.group);
        if (n->info.role == CTL_SEEN_MASTER && g && strcmp(g->g.status, "creating") != 0)
            EVENT(n->h, "cache-node", n->node.id,
                  "Node answered as a primary; made a replica of %s (fenced)", primary->node.id);
        n->info.role = CTL_SEEN_REPLICA;
        snprintf(n->info.master_host, sizeof(n->info.master_host), "%s", primary->node.host);
        n->info.master_port = primary->node.port;
        n->info.link_up = false;
    } else {
        n->info.role = CTL_SEEN_MASTER;
    }
}

static void group_update(struct ctl_health *h, struct group_rt *g)
{
    if (ctl_state_group_update(h->st, &g->g) != 0)
        log_warn("group %s: cannot record its state", g->g.id);
}

static void publish_switch(struct ctl_health *h, struct group_rt *g, const struct node_rt *p)
{
    if (g->switch_published || g->old_port == 0)
        return;
    g->switch_published = true;
    publish(h, "+switch-master", "%s %s %d %s %d", g->g.id, g->old_host, g->old_port, p->node.host,
            p->node.port);
}

static void reconcile_group(struct ctl_health *h, struct group_rt *g)
{
    struct node_rt *p = node_find(h, g->g.primary);
    if (p == NULL)
        return;
    bool settled = p->up && p->info.role == CTL_SEEN_MASTER && !p->action_inflight;
    if (g->op == OP_NONE && p->up && p->info.role == CTL_SEEN_REPLICA && !p->action_inflight) {
        replicaof(p, NULL);
        settled = false;
    }
    if (settled && g->g.failover_from[0])
        publish_switch(h, g, p);
    for (int i = 0; i < g->g.nreplicas; i++) {
        struct node_rt *r = node_find(h, g->g.replicas[i]);
        if (r == NULL || !r->up) {
            /* A replica that is down does not hold back "available" after a failover. */
            if (strcmp(g->g.status, "creating") == 0)
                settled = false;
            continue;
        }
        if (g->op != OP_NONE && strcmp(r->node.id, g->g.failover_from) == 0)
            continue; /* the old primary is being switched over by the operation */
        if (!follows(r, p)) {
            if (!r->action_inflight && g->op == OP_NONE)
                replicaof(r, p);
            settled = false;
        } else if (!r->info.link_up && strcmp(g->g.status, "creating") == 0) {
            settled = false;
        }
    }
    /* Parameter values. */
    for (int i = -1; i < g->g.nreplicas; i++) {
        struct node_rt *m = i < 0 ? p : node_find(h, g->g.replicas[i]);
        if (m == NULL || !m->up)
            continue;
        if (m->dirty && !m->applying)
            apply_start(m, g);
        if (m->dirty || m->applying)
            settled = settled && strcmp(g->g.status, "creating") != 0;
    }
    if (!settled || g->op != OP_NONE)
        return;
    if (strcmp(g->g.status, "creating") == 0) {
        snprintf(g->g.status, sizeof(g->g.status), "available");
        group_update(h, g);
        EVENT(h, "replication-group", g->g.id, "Replication group is available");
    } else if (strcmp(g->g.status, "failing-over") == 0) {
        char from[CTL_ID_MAX];
        snprintf(from, sizeof(from), "%s", g->g.failover_from);
        snprintf(g->g.status, sizeof(g->g.status), "available");
        g->g.failover_from[0] = '\0';
        g->g.failover_kind[0] = '\0';
        g->settle_until_ns = h->now_ns + ms_ns(h->o.settle_ms);
        group_update(h, g);
        EVENT(h, "replication-group", g->g.id, "Failover from node %s to node %s completed", from,
              p->node.id);
        publish(h, "+failover-end", "master %s %s %d", g->g.id, g->old_host, g->old_port);
    }
}

/*
 * Commit a change of primary to `to` (the decision is durable before any node hears of it),
 * then let reconciliation carry it out.
 */
static int switch_primary(struct ctl_health *h, struct group_rt *g, struct node_rt *to,
                          const char *kind)
{
    struct node_rt *from = node_find(h, g->g.primary);
    struct ctl_group next = g->g;
    snprintf(next.failover_from, sizeof(next.failover_from), "%s", g->g.primary);
    snprintf(next.failover_kind, sizeof(next.failover_kind), "%s", kind);
    snprintf(next.primary, sizeof(next.primary), "%s", to->node.id);
    snprintf(next.status, sizeof(next.status), "failing-over");
    next.epoch++;
    int rc = ctl_state_begin(h->st);
    if (rc == 0)
        rc = ctl_state_group_update(h->st, &next);
    if (rc == 0)
        rc = ctl_state_node_set_group(h->st, to->node.id, g->g.id, CTL_ROLE_PRIMARY);
    if (rc == 0 && from != NULL)
        rc = ctl_state_node_set_group(h->st, from->node.id, g->g.id, CTL_ROLE_REPLICA);
    if (rc == 0)
        rc = ctl_state_event_add(
            h->st, 0, "replication-group", g->g.id, "%s failover from node %s to node %s started",
            strcmp(kind, "test") == 0 ? "Test" : "Automatic", g->g.primary, to->node.id);
    if (rc == 0)
        rc = ctl_state_commit(h->st);
    else
        ctl_state_rollback(h->st);
    if (rc != 0)
        return rc;
    if (from != NULL) {
        snprintf(g->old_host, sizeof(g->old_host), "%s", from->node.host);
        g->old_port = from->node.port;
    }
    g->switch_published = false;
    g->settle_until_ns = h->now_ns + ms_ns(h->o.settle_ms);
    ctl_health_reload(h);
    publish(h, "+try-failover", "master %s %s %d", g->g.id, g->old_host, g->old_port);
    return 0;
}

/* The best replica to promote, or NULL. `fresh_after`: info must be newer than this. */
static struct node_rt *choose(struct ctl_health *h, struct group_rt *g, uint64_t fresh_after,
                              const char *only)
{
    struct ctl_candidate c[CTL_MAX_REPLICAS];
    struct node_rt *rt[CTL_MAX_REPLICAS];
    int n = 0;
    for (int i = 0; i < g->g.nreplicas; i++) {
        struct node_rt *r = node_find(h, g->g.replicas[i]);
        if (r == NULL || (only && strcmp(only, r->node.id) != 0))
            continue;
        rt[n] = r;
        c[n].id = r->node.id;
        c[n].reachable = r->up && r->info_ns > fresh_after && r->info.role == CTL_SEEN_REPLICA;
        c[n].offset = ctl_info_offset(&r->info);
        c[n].priority = r->info.priority;
        n++;
    }
    int best = ctl_failover_choose(c, n);
    return best < 0 ? NULL : rt[best];
}

/*
 * The facts about the primary that ctl_primary_down() weighs. Observers are the replicas that
 * answered a probe after the primary last did; one agrees when it has no link up to the
 * primary (it reports master_link_status:down and no full sync in progress, or follows no
 * one or another node).
 */
static struct ctl_down_facts down_facts(struct ctl_health *h, struct group_rt *g,
                                        const struct node_rt *p)
{
    struct ctl_down_facts f = { 0 };
    f.now_ns = h->now_ns;
    f.down_after_ns = ms_ns(h->o.down_after_ms);
    f.last_answer_ns = p->last_ok_ns;
    f.failures = p->failures;
    f.settle_until_ns = g->settle_until_ns;
    for (int i = 0; i < g->g.nreplicas; i++) {
        struct node_rt *r = node_find(h, g->g.replicas[i]);
        if (r == NULL || !r->up || r->info_ns <= p->last_ok_ns)
            continue;
        f.observers++;
        /* A full sync in progress is a live connection to the primary, not a lost one. */
        if (!follows(r, p) || (!r->info.link_up && !r->info.sync_in_progress))
            f.agree++;
    }
    return f;
}

static void check_primary(struct ctl_health *h, struct group_rt *g)
{
    struct node_rt *p = node_find(h, g->g.primary);
    if (p == NULL || g->op != OP_NONE || !g->g.auto_failover)
        return;
    struct ctl_down_facts f = down_facts(h, g, p);
    enum ctl_down_verdict v = ctl_primary_down(&f);
    enum ctl_down_verdict was = g->verdict;
    g->verdict = v;
    if (v == CTL_DOWN_DISPUTED && was != v)
        EVENT(h, "replication-group", g->g.id,
              "Primary %s has not answered for %lld ms, but %d of %d replicas still have their "
              "link to it up: no failover",
              p->node.id, (long long)((h->now_ns - p->last_ok_ns) / 1000000), f.observers - f.agree,
              f.observers);
    if (v == CTL_DOWN_SETTLING && was != v)
        EVENT(h, "replication-group", g->g.id,
              "Primary %s is down; automatic failover held back for %lld ms (the group failed "
              "over less than %d ms ago)",
              p->node.id, (long long)((g->settle_until_ns - h->now_ns) / 1000000), h->o.settle_ms);
    if (v != CTL_DOWN_YES)
        return;
    /* Offsets must come from probes made after the primary last answered. */
    struct node_rt *c = choose(h, g, p->last_ok_ns, NULL);
    if (c == NULL) {
        if (!g->no_candidate_logged) {
            g->no_candidate_logged = true;
            EVENT(h, "replication-group", g->g.id,
                  "Primary %s is unreachable and no replica can be promoted", p->node.id);
        }
        return;
    }
    g->no_candidate_logged = false;
    /* Sentinel's "#quorum <agreeing>/<needed>": here the replicas that see their link down. */
    publish(h, "+odown", "master %s %s %d #quorum %d/%d", g->g.id, p->node.host, p->node.port,
            f.agree, f.observers / 2 + 1);
    switch_primary(h, g, c, "automatic");
}

/* ---- test failover ---------------------------------------------------------------------- */

static void op_promote(struct ctl_health *h, struct group_rt *g)
{
    struct node_rt *c = node_find(h, g->g.primary);
    const char *argv[] = { "REPLICAOF", "NO", "ONE" };
    g->op = OP_PROMOTE;
    if (c == NULL || send_cmd(c, TAG_OP_PROMOTE, 3, argv) != 0)
        g->op = OP_NONE; /* reconciliation keeps trying */
}

static void op_reply(struct node_rt *n, uint64_t tag, const struct ctl_reply *r)
{
    struct ctl_health *h = n->h;
    struct group_rt *g = n->node.group[0] ? group_find(h, n->node.group) : NULL;
    if (g == NULL)
        return;
    switch (TAG_KIND(tag)) {
    case TAG_OP_PAUSE: {
        if (g->op != OP_PAUSE)
            return;
        const char *argv[] = { "INFO", "replication" };
        if (r == NULL || send_cmd(n, TAG_OP_OFFSET, 2, argv) != 0)
            op_promote(h, g);
        return;
    }
    case TAG_OP_OFFSET: {
        if (g->op != OP_PAUSE)
            return;
        struct ctl_repl_info info;
        if (r == NULL || r->type != CTL_R_BULK || ctl_info_parse(r->str, r->len, &info) != 0) {
            op_promote(h, g);
            return;
        }
        g->op_target_offset = info.master_offset;
        g->op = OP_CATCHUP;
        return;
    }
    case TAG_OP_PROMOTE:
        if (g->op != OP_PROMOTE)
            return;
        g->op = OP_NONE;
        if (r != NULL && r->type != CTL_R_ERROR) {
            n->info.role = CTL_SEEN_MASTER;
            publish_switch(h, g, n);
        }
        return;
    default:
        return;
    }
}

static void op_step(struct ctl_health *h, struct group_rt *g)
{
    if (g->op == OP_NONE)
        return;
    struct node_rt *c = node_find(h, g->g.primary);
    if (c == NULL) {
        g->op = OP_NONE;
        return;
    }
    if (g->op == OP_CATCHUP) {
        if (c->up && c->info.role == CTL_SEEN_REPLICA &&
            c->info.replica_offset >= g->op_target_offset) {
            op_promote(h, g);
        } else if (h->now_ns >= g->op_deadline_ns) {
            EVENT(h, "replication-group", g->g.id,
                  "Node %s had not caught up with the old primary (offset %lld of %lld); "
                  "promoting it anyway",
                  c->node.id, c->info.replica_offset, g->op_target_offset);
            op_promote(h, g);
        } else if (ctl_link_pending(c->link) == 0) {
            c->next_probe_ns = 0; /* probe it again right away */
        }
    } else if (h->now_ns >= g->op_deadline_ns + ms_ns(h->o.timeout_ms)) {
        g->op = OP_NONE; /* a step that never answered: reconciliation takes over */
    }
}

int ctl_health_test_failover(struct ctl_health *h, const char *group, const char *target, char *err,
                             size_t errlen)
{
    h->now_ns = clock_mono_ns();
    struct group_rt *g = group_find(h, group);
    if (g == NULL) {
        snprintf(err, errlen, "ReplicationGroupNotFoundFault replication group %s not found",
                 group);
        return -EINVAL;
    }
    if (g->op != OP_NONE || strcmp(g->g.status, "available") != 0) {
        snprintf(err, errlen, "InvalidReplicationGroupState replication group %s is %s", group,
                 g->op != OP_NONE ? "failing over" : g->g.status);
        return -EINVAL;
    }
    struct node_rt *p = node_find(h, g->g.primary);
    if (p == NULL || !p->up) {
        snprintf(err, errlen, "InvalidReplicationGroupState the primary of %s is not reachable",
                 group);
        return -EINVAL;
    }
    struct node_rt *c = choose(h, g, 0, target);
    if (c == NULL) {
        snprintf(err, errlen, "InvalidReplicationGroupState no replica of %s can be promoted%s%s",
                 group, target ? ": " : "", target ? target : "");
        return -EINVAL;
    }
    int rc = switch_primary(h, g, c, "test");
    if (rc) {
        snprintf(err, errlen, "InternalFailure cannot record the failover");
        return -EINVAL;
    }
    g = group_find(h, group);
    p = node_find(h, g->g.failover_from);
    g->op = OP_PAUSE;
    g->op_deadline_ns = h->now_ns + ms_ns(h->o.pause_ms) / 2;
    char ms[16];
    snprintf(ms, sizeof(ms), "%d", h->o.pause_ms);
    const char *argv[] = { "CLIENT", "PAUSE", ms, "WRITE" };
    if (p == NULL || send_cmd(p, TAG_OP_PAUSE, 4, argv) != 0)
        op_promote(h, g);
    return 0;
}

bool ctl_health_group_linked(struct ctl_health *h, const char *group)
{
    struct group_rt *g = group_find(h, group);
    struct node_rt *p = g ? node_find(h, g->g.primary) : NULL;
    if (p == NULL || !p->up)
        return false;
    for (int i = 0; i < g->g.nreplicas; i++) {
        struct node_rt *r = node_find(h, g->g.replicas[i]);
        if (r == NULL || !r->up || !follows(r, p) || !r->info.link_up)
            return false;
    }
    return true;
}

bool ctl_health_failover_active(struct ctl_health *h, const char *group)
{
    struct group_rt *g = group_find(h, group);
    return g != NULL && (g->op != OP_NONE || g->g.failover_from[0]);
}

int ctl_health_reboot(struct ctl_health *h, const char *node_id, char *err, size_t errlen)
{
    struct node_rt *n = node_find(h, node_id);
    if (n == NULL) {
        snprintf(err, errlen, "CacheNodeNotFound node %s not found", node_id);
        return -EINVAL;
    }
    if (!n->node.group[0]) {
        snprintf(err, errlen, "InvalidCacheClusterState node %s is in no replication group",
                 node_id);
        return -EINVAL;
    }
    if (!n->up) {
        snprintf(err, errlen, "InvalidCacheClusterState node %s is not reachable", node_id);
        return -EINVAL;
    }
    n->dirty = true;
    n->full = true;
    n->reboot = true;
    return 0;
}

int ctl_health_node_view(struct ctl_health *h, const char *node_id, struct ctl_node_view *out)
{
    struct node_rt *n = node_find(h, node_id);
    if (n == NULL)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    out->probed = n->probed;
    out->up = n->up;
    out->down_ms = n->up ? 0 : (int64_t)((clock_mono_ns() - n->last_ok_ns) / 1000000);
    out->applying = n->dirty || n->applying;
    out->info = n->info;
    if (!n->up)
        snprintf(out->auth_error, sizeof(out->auth_error), "%s", n->refused_told);
    return 0;
}

void ctl_health_tick(struct ctl_health *h, uint64_t now_ns)
{
    h->now_ns = now_ns;
    sweep(h);
    for (int i = 0; i < h->nnodes; i++) {
        ctl_link_tick(h->nodes[i]->link, now_ns);
        probe(h->nodes[i]);
    }
    for (int i = 0; i < h->ngroups; i++) {
        struct group_rt *g = h->groups[i];
        if (g->gone)
            continue;
        op_step(h, g);
        check_primary(h, g);
        reconcile_group(h, g);
    }
}
