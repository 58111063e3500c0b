#include "control/api.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "control/group.h"
#include "control/node_info.h"
#include "control/link.h"
#include "base/log.h"
#include "base/mem.h"
#include "control/param_group.h"
#include "control/resp_server.h"
#include "base/common.h"
#include "base/util.h"
#include "control/verbs.h"

#define MAX_ARGS 64

/*
 * A request's options, checked against its verb's row (verbs.c) before the handler runs:
 * every option is one of the verb's, every required one is given and not empty, flags are
 * yes/no and integers in their bounds. An option given twice counts once (the first); the
 * parameter list (`parameter name=value`, repeated) is kept in order in params.
 */
struct args {
    const struct ctl_verb *verb;
    /* Per option of the row; the last slot stands for an option the verb does not have. */
    const char *s[CTL_VERB_MAX_OPTS + 1]; /* the value as sent; NULL when absent */
    bool b[CTL_VERB_MAX_OPTS + 1];        /* a flag's value */
    long long i[CTL_VERB_MAX_OPTS + 1];   /* an integer's value */
    int nparams;
    char *params[MAX_ARGS];
    int n; /* the copies of the request's names and values */
    char *k[MAX_ARGS];
    char *v[MAX_ARGS];
};

/*
 * The index of the verb's option with API name k. A handler asks only for its own options;
 * were it not so, the option reads as absent (and a debug build stops here).
 */
static size_t opt_index(const struct args *a, const char *k)
{
    const struct ctl_verb_opt *o = ctl_verb_opt_find(a->verb, k, strlen(k), true);
    assert(o != NULL);
    return o ? (size_t)(o - a->verb->opts) : CTL_VERB_MAX_OPTS;
}

static const char *arg(const struct args *a, const char *k)
{
    return a->s[opt_index(a, k)];
}

static const char *arg_or(const struct args *a, const char *k, const char *def)
{
    const char *v = arg(a, k);
    return v ? v : def;
}

/* A yes/no option; def when absent. */
static bool arg_flag(const struct args *a, const char *k, bool def)
{
    size_t i = opt_index(a, k);
    return a->s[i] ? a->b[i] : def;
}

/* An integer option; def when absent. */
static long long arg_int(const struct args *a, const char *k, long long def)
{
    size_t i = opt_index(a, k);
    return a->s[i] ? a->i[i] : def;
}

/* Split a comma-separated list in place; @return the count, -1 when more than max. */
static int split_list(char *s, char **out, int max)
{
    int n = 0;
    if (s == NULL || !*s)
        return 0;
    for (char *p = s;;) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        if (*p) {
            if (n == max)
                return -1;
            out[n++] = p;
        }
        if (!c)
            break;
        p = c + 1;
    }
    return n;
}

/* ---- reply objects ---------------------------------------------------------------------- */

struct obj {
    struct reply *r;
    struct rblock *ph;
    long long n;
    bool map;
};

static void obj_begin(struct obj *o, struct reply *r, bool map)
{
    o->r = r;
    o->ph = reply_defer(r);
    o->n = 0;
    o->map = map;
}

static void obj_end(struct obj *o)
{
    reply_defer_set(o->r, o->ph, o->map ? REPLY_AGG_MAP : REPLY_AGG_ARRAY, o->n);
}

static void key(struct obj *o, const char *k)
{
    reply_bulk_cstr(o->r, k);
    o->n++;
}

static void kv_str(struct obj *o, const char *k, const char *v)
{
    key(o, k);
    if (v)
        reply_bulk_cstr(o->r, v);
    else
        reply_null(o->r);
}

static void kv_int(struct obj *o, const char *k, long long v)
{
    key(o, k);
    reply_int(o->r, v);
}

static void kv_bool(struct obj *o, const char *k, bool v)
{
    key(o, k);
    reply_bool(o->r, v);
}

static void iso_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

static const char *role_name(enum ctl_role r)
{
    return r == CTL_ROLE_PRIMARY ? "primary" : r == CTL_ROLE_REPLICA ? "replica" : NULL;
}

static const char *node_status(const struct ctl_node_view *v)
{
    return !v->probed ? "unknown" : v->up ? "available" : "unreachable";
}

/*
 * applying (values on their way), apply-failed (the node refused some: ParameterApplyFailed
 * names them), pending-reboot, or in-sync.
 */
static const char *param_status(const struct ctl_node *n, const struct ctl_node_view *v)
{
    if (v->applying && n->group[0])
        return "applying";
    if (n->apply_failed[0] && n->group[0])
        return "apply-failed";
    return n->pending_reboot ? "pending-reboot" : "in-sync";
}

static void write_param_status(struct obj *o, const struct ctl_node *n,
                               const struct ctl_node_view *v)
{
    kv_str(o, "ParameterStatus", param_status(n, v));
    kv_str(o, "ParameterApplyFailed", n->apply_failed[0] && n->group[0] ? n->apply_failed : NULL);
}

static void write_node(struct ctl_app *a, struct reply *r, const struct ctl_node *n)
{
    struct ctl_node_view v;
    if (ctl_health_node_view(a->h, n->id, &v) != 0)
        memset(&v, 0, sizeof(v));
    const struct ctl_node_type *t = ctl_node_type_find(n->type);
    char created[40];
    iso_time(n->created_ms, created, sizeof(created));
    struct obj o;
    obj_begin(&o, r, true);
    kv_str(&o, "NodeId", n->id);
    kv_str(&o, "Address", n->host);
    kv_int(&o, "Port", n->port);
    kv_str(&o, "AvailabilityZone", n->az);
    kv_str(&o, "NodeType", n->type);
    kv_int(&o, "NodeTypeMemory", t ? (long long)t->maxmemory : 0);
    kv_str(&o, "ReplicationGroupId", n->group[0] ? n->group : NULL);
    kv_str(&o, "CurrentRole", role_name(n->role));
    kv_str(&o, "Status", node_status(&v));
    kv_str(&o, "AuthError", v.auth_error[0] ? v.auth_error : NULL);
    write_param_status(&o, n, &v);
    kv_str(&o, "ObservedRole",
           v.info.role == CTL_SEEN_MASTER    ? "primary"
           : v.info.role == CTL_SEEN_REPLICA ? "replica"
                                             : "unknown");
    kv_int(&o, "ReplicationOffset", ctl_info_offset(&v.info));
    kv_str(&o, "NodeCreateTime", created);
    obj_end(&o);
}

static void write_endpoint(struct obj *o, const char *k, const struct ctl_node *n)
{
    key(o, k);
    if (n == NULL) {
        reply_null(o->r);
        return;
    }
    struct obj e;
    obj_begin(&e, o->r, true);
    kv_str(&e, "Address", n->host);
    kv_int(&e, "Port", n->port);
    obj_end(&e);
}

struct members {
    struct ctl_node primary;
    bool have_primary;
    struct ctl_node replicas[CTL_MAX_REPLICAS];
    int nreplicas;
};

static void load_members(struct ctl_app *a, const struct ctl_group *g, struct members *m)
{
    memset(m, 0, sizeof(*m));
    m->have_primary = ctl_state_node_get(a->st, g->primary, &m->primary) == 0;
    for (int i = 0; i < g->nreplicas; i++)
        if (ctl_state_node_get(a->st, g->replicas[i], &m->replicas[m->nreplicas]) == 0)
            m->nreplicas++;
}

/*
 * The reader endpoint: a reachable replica that is in sync with the primary (the one with the
 * smallest lag), else the primary itself, as ElastiCache's reader endpoint does without
 * replicas.
 */
static const struct ctl_node *reader_endpoint(struct ctl_app *a, const struct members *m)
{
    const struct ctl_node *best = NULL;
    long long best_off = -1;
    for (int i = 0; i < m->nreplicas; i++) {
        struct ctl_node_view v;
        if (ctl_health_node_view(a->h, m->replicas[i].id, &v) != 0 || !v.up ||
            v.info.role != CTL_SEEN_REPLICA || !v.info.link_up)
            continue;
        if (v.info.replica_offset > best_off) {
            best_off = v.info.replica_offset;
            best = &m->replicas[i];
        }
    }
    return best ? best : (m->have_primary ? &m->primary : NULL);
}

static void write_member(struct ctl_app *a, struct reply *r, const struct ctl_node *n,
                         long long primary_offset, const struct ctl_node_view *pv)
{
    struct ctl_node_view v;
    if (ctl_health_node_view(a->h, n->id, &v) != 0)
        memset(&v, 0, sizeof(v));
    struct obj o;
    obj_begin(&o, r, true);
    kv_str(&o, "CacheNodeId", n->id);
    kv_str(&o, "Address", n->host);
    kv_int(&o, "Port", n->port);
    kv_str(&o, "AvailabilityZone", n->az);
    kv_str(&o, "CurrentRole", role_name(n->role));
    kv_str(&o, "Status", node_status(&v));
    kv_str(&o, "AuthError", v.auth_error[0] ? v.auth_error : NULL);
    write_param_status(&o, n, &v);
    long long off = ctl_info_offset(&v.info);
    kv_int(&o, "ReplicationOffset", off);
    if (n->role == CTL_ROLE_REPLICA) {
        long long lag_s = -1;
        for (int i = 0; pv && i < pv->info.nreplicas; i++)
            if (strcmp(pv->info.replicas[i].ip, n->host) == 0 &&
                pv->info.replicas[i].port == n->port)
                lag_s = pv->info.replicas[i].lag;
        kv_int(&o, "LagBytes", v.up && primary_offset >= off ? primary_offset - off : -1);
        kv_int(&o, "LagSeconds", lag_s);
        kv_str(&o, "LinkStatus",
               v.up && v.info.role == CTL_SEEN_REPLICA && v.info.link_up ? "up" : "down");
        kv_int(&o, "ApplyErrors", v.info.apply_errors);
        kv_str(&o, "LastApplyError", v.info.last_apply_error[0] ? v.info.last_apply_error : NULL);
    }
    obj_end(&o);
}

static void write_group(struct ctl_app *a, struct reply *r, const struct ctl_group *g,
                        const char *status_override)
{
    struct members m;
    load_members(a, g, &m);
    struct ctl_node_view pv;
    bool have_pv = m.have_primary && ctl_health_node_view(a->h, m.primary.id, &pv) == 0;
    long long poff = have_pv ? pv.info.master_offset : -1;
    bool applying = false;
    for (int i = -1; i < m.nreplicas; i++) {
        struct ctl_node_view v;
        const struct ctl_node *n = i < 0 ? &m.primary : &m.replicas[i];
        if ((i >= 0 || m.have_primary) && ctl_health_node_view(a->h, n->id, &v) == 0)
            applying |= v.applying && v.up;
    }
    const char *status = status_override ? status_override : g->status;
    if (!status_override && strcmp(status, "available") == 0 &&
        !ctl_health_group_linked(a->h, g->id))
        status = "degraded"; /* a replica is unreachable or its link is down */
    if (!status_override && strcmp(status, "available") == 0 && applying)
        status = "modifying";
    char created[40];
    iso_time(g->created_ms, created, sizeof(created));
    struct obj o;
    obj_begin(&o, r, true);
    kv_str(&o, "ReplicationGroupId", g->id);
    kv_str(&o, "Description", g->desc);
    kv_str(&o, "Status", status);
    kv_str(&o, "MultiAZ", g->multi_az ? "enabled" : "disabled");
    kv_str(&o, "AutomaticFailover", g->auto_failover ? "enabled" : "disabled");
    kv_str(&o, "CacheParameterGroupName", g->pg);
    key(&o, "Port");
    if (g->port)
        reply_int(r, g->port);
    else
        reply_null(r);
    write_endpoint(&o, "PrimaryEndpoint", m.have_primary ? &m.primary : NULL);
    write_endpoint(&o, "ReaderEndpoint", reader_endpoint(a, &m));
    key(&o, "MemberClusters");
    reply_array(r, (m.have_primary ? 1 : 0) + m.nreplicas);
    if (m.have_primary)
        reply_bulk_cstr(r, m.primary.id);
    for (int i = 0; i < m.nreplicas; i++)
        reply_bulk_cstr(r, m.replicas[i].id);
    key(&o, "NodeGroupMembers");
    reply_array(r, (m.have_primary ? 1 : 0) + m.nreplicas);
    if (m.have_primary)
        write_member(a, r, &m.primary, poff, have_pv ? &pv : NULL);
    for (int i = 0; i < m.nreplicas; i++)
        write_member(a, r, &m.replicas[i], poff, have_pv ? &pv : NULL);
    kv_bool(&o, "AuthTokenEnabled", g->auth_token[0] != '\0');
    kv_int(&o, "ConfigEpoch", g->epoch);
    kv_str(&o, "PendingFailoverFrom", g->failover_from[0] ? g->failover_from : NULL);
    kv_str(&o, "ReplicationGroupCreateTime", created);
    obj_end(&o);
}

static void wrap_group(struct ctl_app *a, struct reply *r, const char *id, const char *status)
{
    struct ctl_group g;
    if (ctl_state_group_get(a->st, id, &g) != 0) {
        reply_error(r, "InternalFailure the replication group disappeared");
        return;
    }
    reply_map(r, 1);
    reply_bulk_cstr(r, "ReplicationGroup");
    write_group(a, r, &g, status);
}

static void write_pg(struct reply *r, const struct ctl_pgroup *pg)
{
    struct obj o;
    obj_begin(&o, r, true);
    kv_str(&o, "CacheParameterGroupName", pg->name);
    kv_str(&o, "CacheParameterGroupFamily", pg->family);
    kv_str(&o, "Description", pg->desc);
    kv_bool(&o, "IsDefault", pg->is_default);
    obj_end(&o);
}

/* ---- helpers for verbs ------------------------------------------------------------------ */

static bool tx_begin(struct ctl_app *a, struct reply *r)
{
    if (ctl_state_begin(a->st) != 0) {
        reply_error(r, "InternalFailure the state store is not writable");
        return false;
    }
    return true;
}

/* Commit, or roll back when rc says a step failed. @return false (error written). */
static bool tx_end(struct ctl_app *a, int rc, struct reply *r)
{
    if (rc == 0)
        rc = ctl_state_commit(a->st);
    else
        ctl_state_rollback(a->st);
    if (rc != 0) {
        reply_error(r, "InternalFailure the change could not be recorded; nothing was changed");
        return false;
    }
    ctl_health_reload(a->h);
    return true;
}

static bool get_group(struct ctl_app *a, const char *id, struct ctl_group *g, struct reply *r)
{
    if (ctl_state_group_get(a->st, id, g) != 0) {
        reply_errorf(r, "ReplicationGroupNotFoundFault replication group %s not found", id);
        return false;
    }
    return true;
}

static bool get_pg(struct ctl_app *a, const char *name, struct ctl_pgroup *pg, struct reply *r)
{
    if (ctl_state_pg_get(a->st, name, pg) != 0) {
        reply_errorf(r, "CacheParameterGroupNotFound cache parameter group %s not found", name);
        return false;
    }
    return true;
}

/* The effective value of parameter d in group pg into buf; true when a user value. */
/*
 * The auth-token option (a node password), checked: *out is NULL when it is not given.
 * @return false with the error written.
 */
static bool token_arg(struct args *x, const char **out, struct reply *r)
{
    char err[200];
    *out = arg(x, "auth-token");
    if (*out != NULL && ctl_token_check(*out, err, sizeof(err)) != 0) {
        reply_error(r, err);
        return false;
    }
    return true;
}

/*
 * Node n is to require `token` ("" none), its group's password. The one it requires now is
 * kept as auth_token_prev, tried too, until the node has been set to the new one.
 */
static int node_token_set(struct ctl_app *a, const struct ctl_node *n, const char *token)
{
    if (strcmp(n->auth_token, token) == 0)
        return 0;
    return ctl_state_node_set_auth(a->st, n->id, token,
                                   n->auth_token[0] ? n->auth_token : n->auth_token_prev);
}

static bool effective(struct ctl_app *a, const char *pg, const struct ctl_param_def *d, char *buf,
                      size_t len)
{
    if (ctl_state_pg_value_get(a->st, pg, d->name, buf, len) == 0)
        return true;
    snprintf(buf, len, "%s", d->def);
    return false;
}

struct mark_ctx {
    struct ctl_app *a;
    const char *pg;
    int rc;
};

static void mark_group_nodes(void *ctx, const struct ctl_group *g)
{
    struct mark_ctx *m = ctx;
    if (strcmp(g->pg, m->pg) != 0 || m->rc)
        return;
    if (m->rc == 0)
        m->rc = ctl_state_node_set_pending_reboot(m->a->st, g->primary, true);
    for (int i = 0; i < g->nreplicas && m->rc == 0; i++)
        m->rc = ctl_state_node_set_pending_reboot(m->a->st, g->replicas[i], true);
}

/* Mark every node of every group using pg pending-reboot (inside a transaction). */
static int mark_pending_reboot(struct ctl_app *a, const char *pg)
{
    struct mark_ctx m = { a, pg, 0 };
    int rc = ctl_state_group_each(a->st, mark_group_nodes, &m);
    return rc ? rc : m.rc;
}

/* ---- registering a node: its run_id first --------------------------------------------------- */

/*
 * The same server under two addresses (localhost:7000 and 127.0.0.1:7000, or a host name
 * and its address) is one node: put in two groups, it would be told to follow two primaries
 * and flap forever. Addresses cannot tell that; the server's run_id (INFO server) can.
 * register-node therefore asks the new node and every registered node for their run_id
 * (the old ones again, since a run_id changes when a server restarts) before it writes
 * anything, and refuses a node whose run_id is already registered. The client's reply is
 * deferred until every answer is in or has timed out (--timeout-ms); the daemon goes on
 * serving meanwhile. A node that does not answer cannot be registered.
 */

struct reg_job;

struct reg_peer { /* one node asked for its run_id; peers[0] is the one being registered */
    struct reg_job *job;
    char id[CTL_ID_MAX];
    char host[CTL_HOST_MAX];
    int port;
    char token[CTL_TOKEN_MAX], token_prev[CTL_TOKEN_MAX]; /* its passwords */
    struct ctl_link *link;
    char run_id[CTL_RUN_ID_LEN + 1]; /* "" when it did not tell */
    char err[200];                   /* why not */
};

#define REG_TIMEOUT_MS 5000 /* at least this long for a node to give its run_id */

struct reg_job {
    struct ctl_app *a;
    uint64_t client; /* ctl_server_defer's token */
    uint8_t proto;
    char user[CTL_AUTH_USER_MAX]; /* who asked: the registration's event carries the name */
    struct ctl_node n;
    struct reg_peer *peers;
    int npeers, pending;
    struct reg_job *next;
};

static bool host_valid(const char *h)
{
    if (!h[0])
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == ':' || *p == '_' || *p == '%'))
            return false;
    return true;
}

/* Whether the id or the address is registered already (error written). */
static bool reg_taken(struct ctl_app *a, const struct ctl_node *n, struct reply *r)
{
    struct ctl_node other;
    if (ctl_state_node_get(a->st, n->id, &other) == 0) {
        reply_errorf(r, "CacheNodeAlreadyExists node %s is already registered", n->id);
        return true;
    }
    if (ctl_state_node_find_addr(a->st, n->host, n->port, &other) == 0) {
        reply_errorf(r, "CacheNodeAlreadyExists %s:%d is already registered as node %s", n->host,
                     n->port, other.id);
        return true;
    }
    return false;
}

static void reg_reply(void *ctx, uint64_t tag, const struct ctl_reply *r)
{
    (void)tag;
    struct reg_peer *p = ctx;
    p->job->pending--;
    if (r == NULL && ctl_link_auth_error(p->link)[0])
        snprintf(p->err, sizeof(p->err), "%s", ctl_link_auth_error(p->link));
    else if (r == NULL)
        snprintf(p->err, sizeof(p->err), "no answer (refused, closed or timed out)");
    else if (r->type == CTL_R_ERROR)
        snprintf(p->err, sizeof(p->err), "%s", r->str);
    else if (r->type != CTL_R_BULK || ctl_info_run_id(r->str, r->len, p->run_id) != 0)
        snprintf(p->err, sizeof(p->err), "no run_id in its INFO server");
}

static void reg_add_peer(void *ctx, const struct ctl_node *n)
{
    struct reg_job *j = ctx;
    j->peers = mem_realloc(j->peers, (size_t)(j->npeers + 1) * sizeof(*j->peers));
    struct reg_peer *p = &j->peers[j->npeers++];
    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", n->id);
    snprintf(p->host, sizeof(p->host), "%s", n->host);
    p->port = n->port;
    snprintf(p->token, sizeof(p->token), "%s", n->auth_token);
    snprintf(p->token_prev, sizeof(p->token_prev), "%s", n->auth_token_prev);
}

static void reg_start(struct ctl_app *a, const struct ctl_node *n, struct reply *r)
{
    if (a->srv == NULL || a->loop == NULL) {
        reply_error(r, "InternalFailure nodes cannot be reached from here");
        return;
    }
    struct reg_job *j = mem_calloc(sizeof(*j));
    j->a = a;
    j->proto = r->proto;
    snprintf(j->user, sizeof(j->user), "%s", ctl_server_user(a->srv));
    j->n = *n;
    reg_add_peer(j, n);
    ctl_state_node_each(a->st, NULL, reg_add_peer, j);
    static const char *const info[] = { "INFO", "server" };
    /* Registering is rare and a person waits for it: a node slowed down by a loaded host gets
     * longer to answer than a health probe does (the probes' timeout is tuned for failover). */
    int reg_timeout_ms = a->opts.timeout_ms > REG_TIMEOUT_MS ? a->opts.timeout_ms : REG_TIMEOUT_MS;
    for (int i = 0; i < j->npeers; i++) {
        struct reg_peer *p = &j->peers[i];
        p->job = j;
        p->link = ctl_link_create(a->loop, p->host, p->port, reg_timeout_ms);
        ctl_link_set_auth(p->link, p->token, p->token_prev);
        int rc = ctl_link_send(p->link, 2, info, reg_reply, p, 0);
        if (rc == 0)
            j->pending++;
        else
            snprintf(p->err, sizeof(p->err), "cannot connect: %s", strerror(-rc));
    }
    j->client = ctl_server_defer(a->srv);
    j->next = a->regs;
    a->regs = j;
}

struct dup_ctx {
    const struct reg_job *j;
    const struct ctl_node *same; /* the registered node with the new node's run_id */
    struct ctl_node found;
};

/* A registered node's run_id: the one it just gave, else the one it gave when registered. */
static void reg_find_dup(void *ctx, const struct ctl_node *n)
{
    struct dup_ctx *d = ctx;
    const char *rid = n->run_id;
    for (int i = 1; i < d->j->npeers; i++)
        if (strcmp(d->j->peers[i].id, n->id) == 0 && d->j->peers[i].run_id[0])
            rid = d->j->peers[i].run_id;
    if (d->same == NULL && strcmp(rid, d->j->peers[0].run_id) == 0) {
        d->found = *n;
        d->same = &d->found;
    }
}

/* Every answer is in: register the node, or refuse it; answer the waiting client. */
static void reg_finish(struct reg_job *j)
{
    struct ctl_app *a = j->a;
    struct ctl_node *n = &j->n;
    const struct reg_peer *np = &j->peers[0];
    struct reply body;
    reply_init(&body, j->proto);
    struct reply *r = &body;
    struct dup_ctx d = { j, NULL, { { 0 } } };
    if (!np->run_id[0]) {
        reply_errorf(r,
                     "CacheNodeUnreachable cannot read the run_id of %s:%d (INFO server): %s; "
                     "start the node, then register it",
                     n->host, n->port, np->err);
    } else if (reg_taken(a, n, r)) { /* registered meanwhile by another client */
    } else if (ctl_state_node_each(a->st, NULL, reg_find_dup, &d), d.same != NULL) {
        reply_errorf(r,
                     "CacheNodeAlreadyExists %s:%d is the same server as node %s (%s:%d, run_id "
                     "%s)",
                     n->host, n->port, d.same->id, d.same->host, d.same->port, np->run_id);
    } else if (tx_begin(a, r)) {
        snprintf(n->run_id, sizeof(n->run_id), "%s", np->run_id);
        int rc = ctl_state_node_add(a->st, n);
        /* Keep the others' run_ids current, so a later check without their answer is too. */
        for (int i = 1; i < j->npeers && rc == 0; i++)
            if (j->peers[i].run_id[0])
                rc = ctl_state_node_set_run_id(a->st, j->peers[i].id, j->peers[i].run_id);
        if (rc == -ENOENT)
            rc = 0; /* deregistered meanwhile */
        ctl_state_set_actor(a->st, j->user);
        if (rc == 0)
            rc = ctl_state_event_add(a->st, 0, "cache-node", n->id,
                                     "Node registered at %s:%d in %s (%s), run_id %s", n->host,
                                     n->port, n->az, n->type, n->run_id);
        ctl_state_set_actor(a->st, NULL);
        if (tx_end(a, rc, r)) {
            ctl_state_node_get(a->st, n->id, n);
            reply_map(r, 1);
            reply_bulk_cstr(r, "Node");
            write_node(a, r, n);
        }
    }
    ctl_server_answer(a->srv, j->client, r);
}

static void reg_free(struct reg_job *j)
{
    for (int i = 0; i < j->npeers; i++)
        ctl_link_destroy(j->peers[i].link);
    mem_free(j->peers);
    mem_free(j);
}

void ctl_api_tick(struct ctl_app *a, uint64_t now_ns)
{
    for (struct reg_job **pp = &a->regs; *pp;) {
        struct reg_job *j = *pp;
        for (int i = 0; i < j->npeers && j->pending > 0; i++)
            ctl_link_tick(j->peers[i].link, now_ns);
        if (j->pending > 0) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        reg_finish(j);
        reg_free(j);
    }
}

void ctl_api_deinit(struct ctl_app *a)
{
    while (a->regs) {
        struct reg_job *j = a->regs;
        a->regs = j->next;
        reg_free(j);
    }
}

/* ---- nodes ------------------------------------------------------------------------------ */

static void v_register_node(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "node-id"), *addr = arg(x, "address");
    const char *az = arg(x, "availability-zone"), *type = arg(x, "node-type");
    if (!ctl_name_valid(id, 40)) {
        reply_errorf(r,
                     "InvalidParameterValue node id '%s' must be 1 to 40 letters, digits or "
                     "hyphens, start with a letter, and not end with or contain two hyphens",
                     id);
        return;
    }
    struct ctl_node n;
    memset(&n, 0, sizeof(n));
    const char *colon = strrchr(addr, ':');
    long long port = 0;
    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof(n.host) ||
        !util_str2ll(colon + 1, strlen(colon + 1), &port) || port < 1 || port > 65535) {
        reply_errorf(r, "InvalidParameterValue --address must be host:port, not '%s'", addr);
        return;
    }
    if (!ctl_name_valid(az, 60) && strcmp(az, "") != 0) {
        reply_errorf(r,
                     "InvalidParameterValue availability zone '%s' must be letters, digits "
                     "and hyphens",
                     az);
        return;
    }
    if (ctl_node_type_find(type) == NULL) {
        reply_errorf(r, "InvalidParameterValue unknown node type '%s'", type);
        return;
    }
    snprintf(n.id, sizeof(n.id), "%s", id);
    size_t hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl > 2 && addr[hl - 1] == ']') /* [::1]:7000 */
        snprintf(n.host, sizeof(n.host), "%.*s", (int)(hl - 2), addr + 1);
    else
        snprintf(n.host, sizeof(n.host), "%.*s", (int)hl, addr);
    n.port = (int)port;
    if (!host_valid(n.host)) {
        reply_errorf(r,
                     "InvalidParameterValue --address host must be an IP address or a host "
                     "name, not '%s'",
                     n.host);
        return;
    }
    snprintf(n.az, sizeof(n.az), "%s", az);
    snprintf(n.type, sizeof(n.type), "%s", type);
    const char *token;
    if (!token_arg(x, &token, r))
        return;
    snprintf(n.auth_token, sizeof(n.auth_token), "%s", token ? token : "");
    if (reg_taken(a, &n, r))
        return;
    reg_start(a, &n, r);
}

static void v_deregister_node(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "node-id");
    struct ctl_node n;
    if (ctl_state_node_get(a->st, id, &n) != 0) {
        reply_errorf(r, "CacheNodeNotFound node %s not found", id);
        return;
    }
    if (n.group[0]) {
        reply_errorf(r, "InvalidCacheClusterState node %s belongs to replication group %s", id,
                     n.group);
        return;
    }
    if (!tx_begin(a, r))
        return;
    int rc = ctl_state_node_delete(a->st, id);
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "cache-node", id, "Node deregistered");
    if (tx_end(a, rc, r))
        reply_ok(r);
}

struct list_ctx {
    struct ctl_app *a;
    struct reply *r;
    long long n;
};

static void list_node(void *ctx, const struct ctl_node *n)
{
    struct list_ctx *l = ctx;
    write_node(l->a, l->r, n);
    l->n++;
}

static void v_describe_nodes(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "node-id");
    struct ctl_node n;
    if (id && ctl_state_node_get(a->st, id, &n) != 0) {
        reply_errorf(r, "CacheNodeNotFound node %s not found", id);
        return;
    }
    reply_map(r, 1);
    reply_bulk_cstr(r, "Nodes");
    if (id) {
        reply_array(r, 1);
        write_node(a, r, &n);
        return;
    }
    struct list_ctx l = { a, r, 0 };
    struct rblock *ph = reply_defer(r);
    ctl_state_node_each(a->st, NULL, list_node, &l);
    reply_defer_set(r, ph, REPLY_AGG_ARRAY, l.n);
}

/* ---- replication groups ------------------------------------------------------------------ */

/* Look up nodes by id; writes the error and returns false for an unknown one. */
static bool load_nodes(struct ctl_app *a, char **ids, int n, struct ctl_node *out, struct reply *r)
{
    for (int i = 0; i < n; i++) {
        if (ctl_state_node_get(a->st, ids[i], &out[i]) != 0) {
            reply_errorf(r, "CacheNodeNotFound node %s not found (register it first)", ids[i]);
            return false;
        }
    }
    return true;
}

static void v_create_group(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "replication-group-id"), *pid = arg(x, "primary-node-id");
    if (!ctl_name_valid(id, 40)) {
        reply_errorf(r,
                     "InvalidParameterValue replication group id '%s' must be 1 to 40 "
                     "letters, digits or hyphens, start with a letter, and not end with or "
                     "contain two hyphens",
                     id);
        return;
    }
    bool multi_az = arg_flag(x, "multi-az", false);
    bool auto_fo = arg_flag(x, "automatic-failover-enabled", multi_az);
    if (multi_az && !auto_fo) {
        reply_error(r, "InvalidParameterCombination Multi-AZ requires automatic failover");
        return;
    }
    const char *pgname = arg(x, "cache-parameter-group-name");
    if (pgname == NULL)
        pgname = "default.redis7";
    long long port = arg_int(x, "port", 0);
    struct ctl_group g;
    if (ctl_state_group_get(a->st, id, &g) == 0) {
        reply_errorf(r, "ReplicationGroupAlreadyExists replication group %s already exists", id);
        return;
    }
    const char *token;
    if (!token_arg(x, &token, r))
        return;
    struct ctl_pgroup pg;
    if (!get_pg(a, pgname, &pg, r))
        return;
    char *rids[CTL_MAX_REPLICAS + 1];
    const char *rl = arg(x, "replica-node-ids");
    char rbuf[1024];
    snprintf(rbuf, sizeof(rbuf), "%s", rl ? rl : "");
    int nr = split_list(rbuf, rids, CTL_MAX_REPLICAS + 1);
    if (nr < 0 || nr > CTL_MAX_REPLICAS) {
        reply_errorf(r, "NodeQuotaForClusterExceeded a replication group has at most %d replicas",
                     CTL_MAX_REPLICAS);
        return;
    }
    if (auto_fo && nr == 0) {
        reply_error(r, "InvalidParameterCombination automatic failover needs at least one "
                       "replica");
        return;
    }
    struct ctl_node primary, reps[CTL_MAX_REPLICAS + 1];
    char *pids[1] = { (char *)pid };
    if (!load_nodes(a, pids, 1, &primary, r) || !load_nodes(a, rids, nr, reps, r))
        return;
    const struct ctl_node *rp[CTL_MAX_REPLICAS + 1];
    for (int i = 0; i < nr; i++)
        rp[i] = &reps[i];
    char err[256];
    if (ctl_group_check(id, &primary, rp, nr, multi_az, (int)port, err, sizeof(err)) != 0) {
        reply_error(r, err);
        return;
    }
    memset(&g, 0, sizeof(g));
    snprintf(g.id, sizeof(g.id), "%s", id);
    snprintf(g.desc, sizeof(g.desc), "%s", arg_or(x, "replication-group-description", ""));
    snprintf(g.pg, sizeof(g.pg), "%s", pgname);
    g.port = (int)port;
    g.multi_az = multi_az;
    g.auto_failover = auto_fo;
    snprintf(g.status, sizeof(g.status), "creating");
    snprintf(g.primary, sizeof(g.primary), "%s", pid);
    snprintf(g.auth_token, sizeof(g.auth_token), "%s", token ? token : "");
    g.epoch = 1;
    if (!tx_begin(a, r))
        return;
    int rc = ctl_state_group_add(a->st, &g);
    if (rc == 0)
        rc = ctl_state_node_set_group(a->st, pid, id, CTL_ROLE_PRIMARY);
    if (rc == 0)
        rc = node_token_set(a, &primary, g.auth_token);
    for (int i = 0; i < nr && rc == 0; i++) {
        rc = ctl_state_node_set_group(a->st, rids[i], id, CTL_ROLE_REPLICA);
        if (rc == 0)
            rc = node_token_set(a, &reps[i], g.auth_token);
    }
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "replication-group", id,
                                 "Replication group created: primary %s, %d replica(s), "
                                 "Multi-AZ %s, parameter group %s, auth token %s",
                                 pid, nr, multi_az ? "enabled" : "disabled", pgname,
                                 token ? "enabled" : "disabled");
    if (tx_end(a, rc, r))
        wrap_group(a, r, id, NULL);
}

struct groups_ctx {
    struct ctl_app *a;
    struct reply *r;
    long long n;
};

static void list_group(void *ctx, const struct ctl_group *g)
{
    struct groups_ctx *l = ctx;
    write_group(l->a, l->r, g, NULL);
    l->n++;
}

static void v_describe_groups(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "replication-group-id");
    struct ctl_group g;
    if (id && !get_group(a, id, &g, r))
        return;
    reply_map(r, 1);
    reply_bulk_cstr(r, "ReplicationGroups");
    if (id) {
        reply_array(r, 1);
        write_group(a, r, &g, NULL);
        return;
    }
    struct groups_ctx l = { a, r, 0 };
    struct rblock *ph = reply_defer(r);
    ctl_state_group_each(a->st, list_group, &l);
    reply_defer_set(r, ph, REPLY_AGG_ARRAY, l.n);
}

/* Validate the group as it would be with these replicas; err written on failure. */
static bool check_membership(struct ctl_app *a, const struct ctl_group *g, char **rids, int nr,
                             bool multi_az, struct reply *r)
{
    struct ctl_node primary, reps[CTL_MAX_REPLICAS + 8];
    char *pids[1] = { (char *)g->primary };
    if (!load_nodes(a, pids, 1, &primary, r) || !load_nodes(a, rids, nr, reps, r))
        return false;
    const struct ctl_node *rp[CTL_MAX_REPLICAS + 8];
    for (int i = 0; i < nr; i++)
        rp[i] = &reps[i];
    char err[256];
    if (ctl_group_check(g->id, &primary, rp, nr, multi_az, g->port, err, sizeof(err)) != 0) {
        reply_error(r, err);
        return false;
    }
    return true;
}

static bool group_idle(const struct ctl_app *a, const struct ctl_group *g, struct reply *r)
{
    if (ctl_health_failover_active(a->h, g->id)) {
        reply_errorf(r, "InvalidReplicationGroupState replication group %s is failing over", g->id);
        return false;
    }
    return true;
}

/*
 * modify-replication-group's auth-token and auth-token-update-strategy: SET (the default
 * when a token is given) makes every member require the new token; DELETE makes them
 * require none; ROTATE makes them accept the new token and the current one (a second
 * password of the default user, ACL SETUSER) until a SET or DELETE. A change is refused
 * while the previous one has not reached every member.
 * @return false with the error written; *change says whether the token changes.
 */
static bool token_update(struct ctl_app *a, struct args *x, const struct ctl_group *g,
                         const char *token, bool *change, bool *rotate, struct reply *r)
{
    *rotate = false;
    const char *how = arg(x, "auth-token-update-strategy");
    *change = token != NULL || how != NULL;
    if (!*change)
        return true;
    if (how == NULL)
        how = "SET";
    *rotate = strcasecmp(how, "ROTATE") == 0;
    if ((strcasecmp(how, "SET") == 0 || *rotate) && token == NULL) {
        reply_errorf(r,
                     "InvalidParameterCombination --auth-token-update-strategy %s needs "
                     "--auth-token",
                     *rotate ? "ROTATE" : "SET");
        return false;
    }
    if (strcasecmp(how, "DELETE") == 0 && token != NULL) {
        reply_error(r, "InvalidParameterCombination --auth-token-update-strategy DELETE takes "
                       "no --auth-token");
        return false;
    }
    if (strcasecmp(how, "DELETE") == 0 && !g->auth_token[0]) {
        reply_errorf(r, "InvalidParameterCombination replication group %s has no auth token",
                     g->id);
        return false;
    }
    if (strcasecmp(how, "SET") != 0 && strcasecmp(how, "DELETE") != 0 && !*rotate) {
        reply_errorf(r,
                     "InvalidParameterValue --auth-token-update-strategy is SET, ROTATE or "
                     "DELETE, not '%s'",
                     how);
        return false;
    }
    for (int i = -1; i < g->nreplicas; i++) {
        struct ctl_node n;
        const char *id = i < 0 ? g->primary : g->replicas[i];
        if (ctl_state_node_get(a->st, id, &n) == 0 && n.auth_token_prev[0]) {
            reply_errorf(r,
                         "InvalidReplicationGroupState the previous auth token change has not "
                         "reached node %s yet (is it reachable?)",
                         id);
            return false;
        }
    }
    return true;
}

/*
 * Every member of g is to require `token` ("" none), and with rotate to accept its current
 * token too; the event says so, not what either is.
 */
static int group_token_set(struct ctl_app *a, const struct ctl_group *g, const char *token,
                           bool rotate)
{
    const char *old = rotate && strcmp(g->auth_token, token) != 0 ? g->auth_token : "";
    int rc = ctl_state_group_set_auth_token(a->st, g->id, token, old);
    for (int i = -1; i < g->nreplicas && rc == 0; i++) {
        struct ctl_node n;
        rc = ctl_state_node_get(a->st, i < 0 ? g->primary : g->replicas[i], &n);
        if (rc == 0)
            rc = node_token_set(a, &n, token);
    }
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "replication-group", g->id,
                                 old[0]     ? "Auth token rotated: every node will accept the new "
                                              "token and the previous one until SET"
                                 : token[0] ? "Auth token set: every node will require it"
                                            : "Auth token removed: the nodes will require none");
    return rc;
}

static void v_modify_group(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "replication-group-id");
    struct ctl_group g;
    if (!get_group(a, id, &g, r) || !group_idle(a, &g, r))
        return;
    struct ctl_group next = g;
    next.multi_az = arg_flag(x, "multi-az", g.multi_az);
    bool af_default = next.multi_az && !g.multi_az ? true : g.auto_failover;
    next.auto_failover = arg_flag(x, "automatic-failover-enabled", af_default);
    if (next.multi_az && !next.auto_failover) {
        reply_error(r, "InvalidParameterCombination Multi-AZ requires automatic failover");
        return;
    }
    if (next.auto_failover && g.nreplicas == 0) {
        reply_error(r, "InvalidParameterCombination automatic failover needs at least one "
                       "replica");
        return;
    }
    char *rids[CTL_MAX_REPLICAS];
    for (int i = 0; i < g.nreplicas; i++)
        rids[i] = g.replicas[i];
    if (next.multi_az && !check_membership(a, &g, rids, g.nreplicas, true, r))
        return;
    const char *desc = arg(x, "replication-group-description");
    if (desc)
        snprintf(next.desc, sizeof(next.desc), "%s", desc);
    const char *pgname = arg(x, "cache-parameter-group-name");
    struct ctl_pgroup pg, oldpg;
    bool pg_changed = pgname && strcmp(pgname, g.pg) != 0;
    bool reboot_differs = false;
    if (pg_changed) {
        if (!get_pg(a, pgname, &pg, r))
            return;
        ctl_state_pg_get(a->st, g.pg, &oldpg);
        const struct ctl_family *nf = ctl_family_find(pg.family),
                                *of = ctl_family_find(oldpg.family);
        for (size_t i = 0; nf && of && i < ctl_param_count; i++) {
            const struct ctl_param_def *d = &ctl_param_defs[i];
            if (d->change != CTL_CHANGE_REBOOT || !(d->families & nf->bit))
                continue;
            char nv[160], ov[160];
            effective(a, pg.name, d, nv, sizeof(nv));
            const struct ctl_param_def *od = ctl_param_find(of->bit, d->name);
            if (od == NULL || (effective(a, g.pg, od, ov, sizeof(ov)), strcmp(nv, ov) != 0))
                reboot_differs = true;
        }
        snprintf(next.pg, sizeof(next.pg), "%s", pgname);
    }
    const char *token;
    bool token_change, rotate;
    if (!token_arg(x, &token, r) || !token_update(a, x, &g, token, &token_change, &rotate, r))
        return;
    if (!tx_begin(a, r))
        return;
    int rc = ctl_state_group_update(a->st, &next);
    if (rc == 0 && token_change)
        rc = group_token_set(a, &g, token ? token : "", rotate);
    if (rc == 0 && reboot_differs) {
        rc = ctl_state_node_set_pending_reboot(a->st, g.primary, true);
        for (int i = 0; i < g.nreplicas && rc == 0; i++)
            rc = ctl_state_node_set_pending_reboot(a->st, g.replicas[i], true);
    }
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "replication-group", id,
                                 "Replication group modified: Multi-AZ %s, automatic failover "
                                 "%s, parameter group %s",
                                 next.multi_az ? "enabled" : "disabled",
                                 next.auto_failover ? "enabled" : "disabled", next.pg);
    if (!tx_end(a, rc, r))
        return;
    if (pg_changed)
        ctl_health_params_changed(a->h, next.pg);
    wrap_group(a, r, id, NULL);
}

static void v_increase_replicas(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "replication-group-id");
    struct ctl_group g;
    if (!get_group(a, id, &g, r) || !group_idle(a, &g, r))
        return;
    const char *rl = arg(x, "replica-node-ids");
    char rbuf[1024];
    snprintf(rbuf, sizeof(rbuf), "%s", rl);
    char *add[CTL_MAX_REPLICAS + 1];
    int na = split_list(rbuf, add, CTL_MAX_REPLICAS + 1);
    char *all[CTL_MAX_REPLICAS * 2 + 2];
    int n = 0;
    for (int i = 0; i < g.nreplicas; i++)
        all[n++] = g.replicas[i];
    for (int i = 0; i < na; i++)
        all[n++] = add[i];
    if (na < 0 || n > CTL_MAX_REPLICAS) {
        reply_errorf(r,
                     "NodeQuotaForClusterExceeded a replication group has at most %d "
                     "replicas; %s has %d",
                     CTL_MAX_REPLICAS, id, g.nreplicas);
        return;
    }
    const char *want = arg(x, "new-replica-count");
    if (want && arg_int(x, "new-replica-count", 0) != n) {
        reply_errorf(r,
                     "InvalidParameterCombination --new-replica-count %s does not match the "
                     "%d replicas the group would have",
                     want, n);
        return;
    }
    if (!check_membership(a, &g, all, n, g.multi_az, r))
        return;
    if (!tx_begin(a, r))
        return;
    int rc = 0;
    for (int i = 0; i < na && rc == 0; i++) {
        struct ctl_node nn;
        rc = ctl_state_node_get(a->st, add[i], &nn);
        if (rc == 0)
            rc = ctl_state_node_set_group(a->st, add[i], id, CTL_ROLE_REPLICA);
        if (rc == 0)
            rc = node_token_set(a, &nn, g.auth_token);
    }
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "replication-group", id, "Replica count increased to %d",
                                 n);
    if (tx_end(a, rc, r))
        wrap_group(a, r, id, NULL);
}

static void v_decrease_replicas(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "replication-group-id");
    struct ctl_group g;
    if (!get_group(a, id, &g, r) || !group_idle(a, &g, r))
        return;
    const char *rl = arg(x, "replicas-to-remove");
    char rbuf[1024];
    snprintf(rbuf, sizeof(rbuf), "%s", rl);
    char *rm[CTL_MAX_REPLICAS + 1];
    int nrm = split_list(rbuf, rm, CTL_MAX_REPLICAS + 1);
    if (nrm <= 0) {
        reply_error(r, "InvalidParameterValue --replicas-to-remove lists no node");
        return;
    }
    char *keep[CTL_MAX_REPLICAS];
    int nk = 0;
    for (int i = 0; i < nrm; i++) {
        bool found = false;
        for (int j = 0; j < g.nreplicas; j++)
            found |= strcmp(g.replicas[j], rm[i]) == 0;
        if (!found) {
            reply_errorf(r, "InvalidParameterValue node %s is not a replica of %s", rm[i], id);
            return;
        }
    }
    for (int j = 0; j < g.nreplicas; j++) {
        bool removed = false;
        for (int i = 0; i < nrm; i++)
            removed |= strcmp(g.replicas[j], rm[i]) == 0;
        if (!removed)
            keep[nk++] = g.replicas[j];
    }
    if (g.auto_failover && nk == 0) {
        reply_error(r, "InvalidParameterCombination automatic failover needs at least one "
                       "replica; disable it first");
        return;
    }
    if (!check_membership(a, &g, keep, nk, g.multi_az, r))
        return;
    if (!tx_begin(a, r))
        return;
    int rc = 0;
    for (int i = 0; i < nrm && rc == 0; i++)
        rc = ctl_state_node_set_group(a->st, rm[i], "", CTL_ROLE_NONE);
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "replication-group", id, "Replica count decreased to %d",
                                 nk);
    if (tx_end(a, rc, r))
        wrap_group(a, r, id, NULL);
}

static void v_delete_group(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "replication-group-id");
    struct ctl_group g;
    if (!get_group(a, id, &g, r))
        return;
    /* The reply shows the group as it was, in status deleting. */
    struct reply body;
    reply_init(&body, r->proto);
    reply_map(&body, 1);
    reply_bulk_cstr(&body, "ReplicationGroup");
    write_group(a, &body, &g, "deleting");
    if (!tx_begin(a, r)) {
        reply_deinit(&body);
        return;
    }
    int rc = ctl_state_node_set_group(a->st, g.primary, "", CTL_ROLE_NONE);
    for (int i = 0; i < g.nreplicas && rc == 0; i++)
        rc = ctl_state_node_set_group(a->st, g.replicas[i], "", CTL_ROLE_NONE);
    if (rc == 0)
        rc = ctl_state_group_delete(a->st, id);
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "replication-group", id, "Replication group deleted");
    if (tx_end(a, rc, r)) {
        for (struct rblock *b = body.head; b; b = b->next)
            reply_raw(r, b->data + b->start, b->len - b->start);
    }
    reply_deinit(&body);
}

static void v_test_failover(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "replication-group-id");
    struct ctl_group g;
    if (!get_group(a, id, &g, r))
        return;
    char err[256];
    if (ctl_health_test_failover(a->h, id, arg(x, "node-id"), err, sizeof(err)) != 0) {
        reply_error(r, err);
        return;
    }
    wrap_group(a, r, id, NULL);
}

static void v_reboot_node(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *id = arg(x, "node-id");
    struct ctl_node n;
    if (ctl_state_node_get(a->st, id, &n) != 0) {
        reply_errorf(r, "CacheNodeNotFound node %s not found", id);
        return;
    }
    char err[256];
    if (ctl_health_reboot(a->h, id, err, sizeof(err)) != 0) {
        reply_error(r, err);
        return;
    }
    ctl_state_event_add(a->st, 0, "cache-node", id, "Node reboot requested");
    reply_map(r, 1);
    reply_bulk_cstr(r, "Node");
    write_node(a, r, &n);
}

/* ---- parameter groups ----------------------------------------------------------------------- */

static void v_create_pg(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *name = arg(x, "cache-parameter-group-name");
    const char *fam = arg(x, "cache-parameter-group-family");
    if (!ctl_name_valid(name, 255)) {
        reply_errorf(r,
                     "InvalidParameterValue parameter group name '%s' must be 1 to 255 "
                     "letters, digits or hyphens, start with a letter, and not end with or "
                     "contain two hyphens",
                     name);
        return;
    }
    if (ctl_family_find(fam) == NULL) {
        char names[128] = "";
        for (size_t i = 0, off = 0; i < ctl_family_count && off < sizeof(names); i++)
            off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
                                    ctl_families[i].name);
        reply_errorf(r, "InvalidParameterValue unknown family '%s' (families: %s)", fam, names);
        return;
    }
    struct ctl_pgroup pg;
    if (ctl_state_pg_get(a->st, name, &pg) == 0) {
        reply_errorf(r,
                     "CacheParameterGroupAlreadyExists cache parameter group %s already "
                     "exists",
                     name);
        return;
    }
    memset(&pg, 0, sizeof(pg));
    snprintf(pg.name, sizeof(pg.name), "%s", name);
    snprintf(pg.family, sizeof(pg.family), "%s", fam);
    snprintf(pg.desc, sizeof(pg.desc), "%s", arg_or(x, "description", ""));
    if (!tx_begin(a, r))
        return;
    int rc = ctl_state_pg_add(a->st, &pg);
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "cache-parameter-group", name,
                                 "Cache parameter group created (family %s)", fam);
    if (!tx_end(a, rc, r))
        return;
    reply_map(r, 1);
    reply_bulk_cstr(r, "CacheParameterGroup");
    write_pg(r, &pg);
}

static void list_pg(void *ctx, const struct ctl_pgroup *pg)
{
    struct list_ctx *l = ctx;
    write_pg(l->r, pg);
    l->n++;
}

static void v_describe_pgs(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *name = arg(x, "cache-parameter-group-name");
    struct ctl_pgroup pg;
    if (name && !get_pg(a, name, &pg, r))
        return;
    reply_map(r, 1);
    reply_bulk_cstr(r, "CacheParameterGroups");
    if (name) {
        reply_array(r, 1);
        write_pg(r, &pg);
        return;
    }
    struct list_ctx l = { a, r, 0 };
    struct rblock *ph = reply_defer(r);
    ctl_state_pg_each(a->st, list_pg, &l);
    reply_defer_set(r, ph, REPLY_AGG_ARRAY, l.n);
}

static void v_describe_params(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *name = arg(x, "cache-parameter-group-name");
    struct ctl_pgroup pg;
    if (!get_pg(a, name, &pg, r))
        return;
    const char *source = arg(x, "source");
    if (source && strcmp(source, "user") != 0 && strcmp(source, "system") != 0 &&
        strcmp(source, "engine-default") != 0) {
        reply_errorf(r,
                     "InvalidParameterValue --source is user, system or engine-default, not "
                     "'%s'",
                     source);
        return;
    }
    const struct ctl_family *f = ctl_family_find(pg.family);
    reply_map(r, 2);
    reply_bulk_cstr(r, "CacheParameterGroupName");
    reply_bulk_cstr(r, pg.name);
    reply_bulk_cstr(r, "Parameters");
    struct rblock *ph = reply_defer(r);
    long long n = 0;
    for (size_t i = 0; f && i < ctl_param_count; i++) {
        const struct ctl_param_def *d = &ctl_param_defs[i];
        if (!(d->families & f->bit))
            continue;
        char value[160], allowed[256];
        bool user = effective(a, pg.name, d, value, sizeof(value));
        const char *src = user ? "user" : "system";
        if (source && strcmp(source, "engine-default") == 0 ? user : source && strcmp(source, src))
            continue;
        ctl_param_allowed(d, allowed, sizeof(allowed));
        struct obj o;
        obj_begin(&o, r, true);
        kv_str(&o, "ParameterName", d->name);
        kv_str(&o, "ParameterValue", value);
        kv_str(&o, "DefaultValue", d->def);
        kv_str(&o, "Description", d->text);
        kv_str(&o, "Source", src);
        kv_str(&o, "DataType", ctl_param_type_name(d));
        kv_str(&o, "AllowedValues", allowed);
        kv_bool(&o, "IsModifiable", d->modifiable);
        kv_str(&o, "ChangeType", ctl_change_name(d->change));
        kv_str(&o, "MinimumEngineVersion", f->engine);
        obj_end(&o);
        n++;
    }
    reply_defer_set(r, ph, REPLY_AGG_ARRAY, n);
}

struct pchange {
    const struct ctl_param_def *d;
    const char *value; /* NULL: reset to the default */
    bool differs;      /* the effective value changes */
};

/* Parse `parameter name=value` (or a bare name for a reset) options into changes. */
static int parse_changes(struct ctl_app *a, struct args *x, const struct ctl_pgroup *pg, bool reset,
                         struct pchange *out, int max, struct reply *r)
{
    const struct ctl_family *f = ctl_family_find(pg->family);
    int n = 0;
    for (int i = 0; i < x->nparams; i++) {
        char *nv = x->params[i];
        char *eq = strchr(nv, '=');
        if (eq)
            *eq = '\0';
        const char *value = eq ? eq + 1 : NULL;
        if (!reset && value == NULL) {
            reply_errorf(r, "InvalidParameterValue parameter '%s' has no value (name=value)", nv);
            return -1;
        }
        const struct ctl_param_def *d = f ? ctl_param_find(f->bit, nv) : NULL;
        if (d == NULL) {
            reply_errorf(r, "InvalidParameterValue unknown parameter '%s' for family %s", nv,
                         pg->family);
            return -1;
        }
        char err[320];
        if (!d->modifiable) {
            reply_errorf(r, "InvalidParameterValue parameter %s is not modifiable", d->name);
            return -1;
        }
        if (!reset && ctl_param_validate(d, f->bit, value, err, sizeof(err)) != 0) {
            reply_errorf(r, "InvalidParameterValue %s", err);
            return -1;
        }
        for (int j = 0; j < n; j++) {
            if (out[j].d == d) {
                reply_errorf(r, "InvalidParameterCombination parameter %s is given twice", d->name);
                return -1;
            }
        }
        if (n == max) {
            reply_error(r, "InvalidParameterValue too many parameters in one request");
            return -1;
        }
        char cur[160];
        effective(a, pg->name, d, cur, sizeof(cur));
        out[n].d = d;
        out[n].value = value;
        out[n].differs = strcmp(cur, value ? value : d->def) != 0;
        n++;
    }
    return n;
}

static void modify_or_reset(struct ctl_app *a, struct args *x, struct reply *r, bool reset)
{
    const char *name = arg(x, "cache-parameter-group-name");
    struct ctl_pgroup pg;
    if (!get_pg(a, name, &pg, r))
        return;
    if (pg.is_default) {
        reply_errorf(r,
                     "InvalidCacheParameterGroupState the default parameter group %s cannot "
                     "be changed; create a parameter group and modify that one",
                     name);
        return;
    }
    bool all = reset && arg_flag(x, "reset-all-parameters", false);
    struct pchange ch[MAX_ARGS];
    int n = parse_changes(a, x, &pg, reset, ch, MAX_ARGS, r);
    if (n < 0)
        return;
    if (n == 0 && !all) {
        reply_errorf(r, "MissingParameter give --parameter-name-values%s",
                     reset ? " or --reset-all-parameters" : "");
        return;
    }
    if (all) {
        /* Every user value goes back to its default. */
        const struct ctl_family *f = ctl_family_find(pg.family);
        n = 0;
        for (size_t i = 0; f && i < ctl_param_count; i++) {
            const struct ctl_param_def *d = &ctl_param_defs[i];
            char cur[160];
            if ((d->families & f->bit) && effective(a, pg.name, d, cur, sizeof(cur)) &&
                n < MAX_ARGS) {
                ch[n].d = d;
                ch[n].value = NULL;
                ch[n].differs = strcmp(cur, d->def) != 0;
                n++;
            }
        }
    }
    bool reboot = false, immediate = false;
    char summary[400] = "";
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (!ch[i].differs)
            continue;
        if (ch[i].d->change == CTL_CHANGE_REBOOT)
            reboot = true;
        else
            immediate = true;
        if (off < sizeof(summary))
            off +=
                (size_t)snprintf(summary + off, sizeof(summary) - off, "%s%s=%s", off ? ", " : "",
                                 ch[i].d->name, ch[i].value ? ch[i].value : ch[i].d->def);
    }
    if (!tx_begin(a, r))
        return;
    int rc = 0;
    if (all)
        rc = ctl_state_pg_value_reset(a->st, pg.name, NULL);
    for (int i = 0; i < n && rc == 0 && !all; i++)
        rc = ch[i].value ? ctl_state_pg_value_set(a->st, pg.name, ch[i].d->name, ch[i].value)
                         : ctl_state_pg_value_reset(a->st, pg.name, ch[i].d->name);
    if (rc == 0 && reboot)
        rc = mark_pending_reboot(a, pg.name);
    if (rc == 0 && (reboot || immediate))
        rc = ctl_state_event_add(a->st, 0, "cache-parameter-group", pg.name, "Parameters %s: %s%s",
                                 reset ? "reset" : "modified", summary,
                                 reboot ? " (nodes pending reboot)" : "");
    if (!tx_end(a, rc, r))
        return;
    if (immediate)
        ctl_health_params_changed(a->h, pg.name);
    reply_map(r, 1);
    reply_bulk_cstr(r, "CacheParameterGroupName");
    reply_bulk_cstr(r, pg.name);
}

static void v_modify_pg(struct ctl_app *a, struct args *x, struct reply *r)
{
    modify_or_reset(a, x, r, false);
}

static void v_reset_pg(struct ctl_app *a, struct args *x, struct reply *r)
{
    modify_or_reset(a, x, r, true);
}

struct users_ctx {
    const char *pg;
    char names[256];
};

static void pg_user(void *ctx, const struct ctl_group *g)
{
    struct users_ctx *u = ctx;
    size_t len = strlen(u->names);
    if (strcmp(g->pg, u->pg) == 0)
        snprintf(u->names + len, sizeof(u->names) - len, "%s%s", len ? ", " : "", g->id);
}

static void v_delete_pg(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *name = arg(x, "cache-parameter-group-name");
    struct ctl_pgroup pg;
    if (!get_pg(a, name, &pg, r))
        return;
    if (pg.is_default) {
        reply_errorf(r,
                     "InvalidCacheParameterGroupState the default parameter group %s cannot "
                     "be deleted",
                     name);
        return;
    }
    struct users_ctx u = { name, "" };
    ctl_state_group_each(a->st, pg_user, &u);
    if (u.names[0]) {
        reply_errorf(r,
                     "InvalidCacheParameterGroupState parameter group %s is used by "
                     "replication group(s) %s",
                     name, u.names);
        return;
    }
    if (!tx_begin(a, r))
        return;
    int rc = ctl_state_pg_delete(a->st, name);
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "cache-parameter-group", name,
                                 "Cache parameter group deleted");
    if (tx_end(a, rc, r))
        reply_ok(r);
}

/* ---- events ------------------------------------------------------------------------------- */

static void list_event(void *ctx, const struct ctl_event *e)
{
    struct list_ctx *l = ctx;
    char date[40];
    iso_time(e->ts_ms, date, sizeof(date));
    struct obj o;
    obj_begin(&o, l->r, true);
    kv_str(&o, "SourceIdentifier", e->source_id);
    kv_str(&o, "SourceType", e->source_type);
    kv_str(&o, "Message", e->message);
    kv_str(&o, "Date", date);
    kv_str(&o, "User", e->user);
    obj_end(&o);
    l->n++;
}

static void v_describe_events(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *type = arg(x, "source-type");
    if (type && strcmp(type, "replication-group") != 0 && strcmp(type, "cache-node") != 0 &&
        strcmp(type, "cache-parameter-group") != 0 && strcmp(type, "user") != 0) {
        reply_errorf(r,
                     "InvalidParameterValue --source-type is replication-group, cache-node, "
                     "cache-parameter-group or user, not '%s'",
                     type);
        return;
    }
    long long duration = arg_int(x, "duration", 0), max = arg_int(x, "max-records", 0);
    int64_t since = duration ? clock_real_ms() - duration * 60000 : 0;
    reply_map(r, 1);
    reply_bulk_cstr(r, "Events");
    struct list_ctx l = { a, r, 0 };
    struct rblock *ph = reply_defer(r);
    ctl_state_event_each(a->st, type, arg(x, "source-identifier"), since, (int)max, list_event, &l);
    reply_defer_set(r, ph, REPLY_AGG_ARRAY, l.n);
}

/* ---- users -------------------------------------------------------------------------------- */

static enum ctl_access api_auth(void *app, const char *user, const char *pass, size_t len)
{
    struct ctl_app *a = app;
    struct ctl_user u;
    if (ctl_state_user_get(a->st, user, &u) != 0 || !ctl_auth_verify(u.hash, pass, len))
        return CTL_ACCESS_NONE;
    return u.role;
}

int ctl_api_auth_setup(struct ctl_app *a)
{
    int n = ctl_state_user_count(a->st, NULL);
    if (n < 0)
        return n;
    if (a->srv != NULL)
        ctl_server_set_auth(a->srv, api_auth, n > 0);
    return n;
}

bool ctl_api_permit(struct ctl_app *a, enum ctl_access need, const char *what, struct reply *r)
{
    enum ctl_access have = a->srv ? ctl_server_access(a->srv) : CTL_ACCESS_ADMIN;
    if (have < need) {
        reply_errorf(r, "NOPERM this user has no permissions to run the '%s' command", what);
        return false;
    }
    ctl_state_set_actor(a->st, a->srv ? ctl_server_user(a->srv) : NULL);
    return true;
}

static bool user_args(struct args *x, struct ctl_user *u, struct reply *r)
{
    const char *name = arg(x, "user-name");
    if (!ctl_auth_user_valid(name)) {
        reply_errorf(r,
                     "InvalidParameterValue --user-name is 1 to %d of letters, digits and "
                     "._@-, not '%.64s'",
                     CTL_AUTH_USER_MAX - 1, name);
        return false;
    }
    snprintf(u->name, sizeof(u->name), "%s", name);
    const char *role = ctl_verb_opt_find(x->verb, "role", 4, true) ? arg(x, "role") : NULL;
    if (role && ctl_auth_role_parse(role) == CTL_ACCESS_NONE) {
        reply_errorf(r, "InvalidParameterValue --role is admin or readonly, not '%.64s'", role);
        return false;
    }
    u->role = role ? ctl_auth_role_parse(role) : CTL_ACCESS_NONE;
    return true;
}

static bool set_password(struct args *x, struct ctl_user *u, struct reply *r)
{
    const char *pass = arg(x, "password");
    int rc = pass ? ctl_auth_hash(pass, strlen(pass), u->hash, sizeof(u->hash)) : 0;
    if (rc == -EINVAL)
        reply_errorf(r, "InvalidParameterValue a password is 1 to %d bytes", CTL_AUTH_PASS_MAX - 1);
    else if (rc != 0)
        reply_error(r, "InternalFailure the password could not be hashed");
    return rc == 0;
}

static void write_user(struct reply *r, const struct ctl_user *u)
{
    char date[40];
    iso_time(u->created_ms, date, sizeof(date));
    struct obj o;
    obj_begin(&o, r, true);
    kv_str(&o, "UserName", u->name);
    kv_str(&o, "Role", ctl_auth_role_name(u->role));
    kv_str(&o, "CreateTime", date);
    obj_end(&o);
}

static void user_done(struct ctl_app *a, struct reply *r, const struct ctl_user *u)
{
    ctl_api_auth_setup(a);
    reply_map(r, 1);
    reply_bulk_cstr(r, "User");
    write_user(r, u);
}

static void v_create_user(struct ctl_app *a, struct args *x, struct reply *r)
{
    struct ctl_user u = { 0 };
    if (!user_args(x, &u, r) || !set_password(x, &u, r))
        return;
    u.created_ms = clock_real_ms();
    if (!tx_begin(a, r))
        return;
    int rc = ctl_state_user_add(a->st, &u);
    if (rc == -EEXIST) {
        ctl_state_rollback(a->st);
        reply_errorf(r, "UserAlreadyExists user %s already exists", u.name);
        return;
    }
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "user", u.name, "User created with role %s",
                                 ctl_auth_role_name(u.role));
    if (tx_end(a, rc, r))
        user_done(a, r, &u);
}

/* Whether removing the admin role from `u` would leave no admin. */
static bool last_admin(struct ctl_app *a, const struct ctl_user *u, struct reply *r)
{
    if (u->role != CTL_ACCESS_ADMIN || ctl_state_user_count(a->st, "admin") > 1)
        return false;
    reply_errorf(r, "InvalidUserState %s is the last admin; create another admin first", u->name);
    return true;
}

static void v_modify_user(struct ctl_app *a, struct args *x, struct reply *r)
{
    struct ctl_user want = { 0 }, u;
    if (!user_args(x, &want, r))
        return;
    if (ctl_state_user_get(a->st, want.name, &u) != 0) {
        reply_errorf(r, "UserNotFound user %s not found", want.name);
        return;
    }
    if (want.role != CTL_ACCESS_NONE && want.role != u.role && last_admin(a, &u, r))
        return;
    if (!arg(x, "password") && want.role == CTL_ACCESS_NONE) {
        reply_error(r, "InvalidParameterValue give --role, --password or both");
        return;
    }
    if (!set_password(x, &u, r))
        return;
    if (want.role != CTL_ACCESS_NONE)
        u.role = want.role;
    if (!tx_begin(a, r))
        return;
    int rc = ctl_state_user_update(a->st, &u);
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "user", u.name, "User modified: role %s%s",
                                 ctl_auth_role_name(u.role),
                                 arg(x, "password") ? ", password changed" : "");
    if (tx_end(a, rc, r)) {
        if (a->srv)
            ctl_server_forget_user(a->srv, u.name); /* its connections authenticate again */
        user_done(a, r, &u);
    }
}

static void v_delete_user(struct ctl_app *a, struct args *x, struct reply *r)
{
    struct ctl_user u;
    if (!user_args(x, &u, r))
        return;
    if (ctl_state_user_get(a->st, u.name, &u) != 0) {
        reply_errorf(r, "UserNotFound user %s not found", u.name);
        return;
    }
    if (last_admin(a, &u, r) || !tx_begin(a, r))
        return;
    int rc = ctl_state_user_delete(a->st, u.name);
    if (rc == 0)
        rc = ctl_state_event_add(a->st, 0, "user", u.name, "User deleted");
    if (tx_end(a, rc, r)) {
        if (a->srv)
            ctl_server_forget_user(a->srv, u.name);
        user_done(a, r, &u);
    }
}

static void list_user(void *ctx, const struct ctl_user *u)
{
    struct list_ctx *l = ctx;
    write_user(l->r, u);
    l->n++;
}

static void v_describe_users(struct ctl_app *a, struct args *x, struct reply *r)
{
    const char *name = arg(x, "user-name");
    struct ctl_user u;
    if (name && ctl_state_user_get(a->st, name, &u) != 0) {
        reply_errorf(r, "UserNotFound user %.64s not found", name);
        return;
    }
    reply_map(r, 1);
    reply_bulk_cstr(r, "Users");
    if (name) {
        reply_array(r, 1);
        write_user(r, &u);
        return;
    }
    struct list_ctx l = { a, r, 0 };
    struct rblock *ph = reply_defer(r);
    ctl_state_user_each(a->st, list_user, &l);
    reply_defer_set(r, ph, REPLY_AGG_ARRAY, l.n);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

typedef void (*verb_fn)(struct ctl_app *a, struct args *x, struct reply *r);

/* The handler of each verb of the table (verbs.c); polluxctl runs the local ones itself. */
static const verb_fn handlers[CTL_VERB_COUNT] = {
    [CTL_VERB_REGISTER_NODE] = v_register_node,
    [CTL_VERB_DEREGISTER_NODE] = v_deregister_node,
    [CTL_VERB_DESCRIBE_NODES] = v_describe_nodes,
    [CTL_VERB_CREATE_GROUP] = v_create_group,
    [CTL_VERB_DESCRIBE_GROUPS] = v_describe_groups,
    [CTL_VERB_MODIFY_GROUP] = v_modify_group,
    [CTL_VERB_INCREASE_REPLICAS] = v_increase_replicas,
    [CTL_VERB_DECREASE_REPLICAS] = v_decrease_replicas,
    [CTL_VERB_DELETE_GROUP] = v_delete_group,
    [CTL_VERB_TEST_FAILOVER] = v_test_failover,
    [CTL_VERB_REBOOT_NODE] = v_reboot_node,
    [CTL_VERB_CREATE_PG] = v_create_pg,
    [CTL_VERB_DESCRIBE_PGS] = v_describe_pgs,
    [CTL_VERB_DESCRIBE_PARAMS] = v_describe_params,
    [CTL_VERB_MODIFY_PG] = v_modify_pg,
    [CTL_VERB_RESET_PG] = v_reset_pg,
    [CTL_VERB_DELETE_PG] = v_delete_pg,
    [CTL_VERB_DESCRIBE_EVENTS] = v_describe_events,
    [CTL_VERB_CREATE_USER] = v_create_user,
    [CTL_VERB_MODIFY_USER] = v_modify_user,
    [CTL_VERB_DELETE_USER] = v_delete_user,
    [CTL_VERB_DESCRIBE_USERS] = v_describe_users,
};

bool ctl_api_handles(const struct ctl_verb *v)
{
    return handlers[v->id] != NULL;
}

/* The POLLUX verb called p[0..len): a row with a handler. */
static const struct ctl_verb *api_verb(const char *p, size_t len)
{
    const struct ctl_verb *v = ctl_verb_find(p, len, true);
    return v && handlers[v->id] ? v : NULL;
}

/*
 * The names and values of a request into x, against its verb's row. The checks that need no
 * permission (unknown option, NUL byte) come first, as the row's shape is public; the
 * others run once the user may run the verb.
 * @return false with the error written.
 */
static bool args_read(struct args *x, int argc, struct resp_arg *argv, struct reply *r)
{
    const struct ctl_verb *v = x->verb;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (x->n == MAX_ARGS) {
            reply_error(r, "InvalidParameterValue too many options");
            return false;
        }
        const struct ctl_verb_opt *o = ctl_verb_opt_find(v, argv[i].ptr, argv[i].len, true);
        if (o == NULL) {
            reply_errorf(r, "InvalidParameterValue unknown option --%.*s for %s",
                         (int)MIN(argv[i].len, 64), argv[i].ptr, v->name);
            return false;
        }
        char *val = mem_strndup(argv[i + 1].ptr, argv[i + 1].len);
        x->k[x->n] = mem_strndup(argv[i].ptr, argv[i].len);
        x->v[x->n++] = val;
        if (strlen(val) != argv[i + 1].len) {
            reply_errorf(r, "InvalidParameterValue the value of --%s contains a NUL byte", o->key);
            return false;
        }
        size_t idx = (size_t)(o - v->opts);
        if (o->kind == CTL_OPT_PARAMS)
            x->params[x->nparams++] = val;
        if (x->s[idx] == NULL)
            x->s[idx] = val;
    }
    return true;
}

/* Required options present, flags and integers well-formed. @return false, error written. */
static bool args_check(struct args *x, struct reply *r)
{
    const struct ctl_verb *v = x->verb;
    for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
        size_t i = (size_t)(o - v->opts);
        bool given = o->kind == CTL_OPT_PARAMS ? x->nparams > 0 : x->s[i] && x->s[i][0];
        if (!o->required || given)
            continue;
        if (o->kind == CTL_OPT_PARAMS) /* its key is "parameter"; say the name people type */
            reply_errorf(r, "MissingParameter give --%s", o->name);
        else
            reply_errorf(r, "MissingParameter the option --%s is required", o->key);
        return false;
    }
    for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
        size_t i = (size_t)(o - v->opts);
        char err[1024];
        if (x->s[i] && ctl_verb_value(o, x->s[i], &x->b[i], &x->i[i], err, sizeof(err)) != 0) {
            reply_errorf(r, "InvalidParameterValue %s", err);
            return false;
        }
    }
    return true;
}

static void pollux_command(struct ctl_app *a, int argc, struct resp_arg *argv, struct reply *r)
{
    if (argc < 2) {
        reply_error(r, "ERR wrong number of arguments for 'pollux' command");
        return;
    }
    const struct ctl_verb *v = api_verb(argv[1].ptr, argv[1].len);
    if (v == NULL) {
        if (util_strcaseeq(argv[1].ptr, argv[1].len, "verbs")) {
            struct rblock *ph = reply_defer(r);
            long long n = 0;
            for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
                if (handlers[i] != NULL) {
                    reply_bulk_cstr(r, ctl_verbs[i].name);
                    n++;
                }
            }
            reply_defer_set(r, ph, REPLY_AGG_ARRAY, n);
            return;
        }
        reply_errorf(r, "InvalidAction unknown verb '%.*s' (POLLUX VERBS lists them)",
                     (int)MIN(argv[1].len, 64), argv[1].ptr);
        return;
    }
    if ((argc - 2) % 2 != 0) {
        reply_errorf(r, "InvalidParameterValue %s takes option/value pairs", v->name);
        return;
    }
    struct args x = { .verb = v };
    char what[64];
    snprintf(what, sizeof(what), "pollux|%s", v->name);
    if (args_read(&x, argc, argv, r) && ctl_api_permit(a, v->access, what, r) && args_check(&x, r))
        handlers[v->id](a, &x, r);
    for (int i = 0; i < x.n; i++) {
        mem_free(x.k[i]);
        mem_free(x.v[i]);
    }
}

static void role_name_of(void *ctx, const struct ctl_group *g)
{
    struct list_ctx *l = ctx;
    reply_bulk_cstr(l->r, g->id);
    l->n++;
}

/* ROLE as a Sentinel answers it: "sentinel" and the names of the masters it watches. */
static void role_command(struct ctl_app *a, struct reply *r)
{
    reply_array(r, 2);
    reply_bulk_cstr(r, "sentinel");
    struct list_ctx l = { a, r, 0 };
    struct rblock *ph = reply_defer(r);
    ctl_state_group_each(a->st, role_name_of, &l);
    reply_defer_set(r, ph, REPLY_AGG_ARRAY, l.n);
}

void ctl_api_command(void *app, int argc, struct resp_arg *argv, struct reply *r)
{
    struct ctl_app *a = app;
    const struct resp_arg *c = &argv[0];
    ctl_state_set_actor(a->st, NULL); /* set by ctl_api_permit for the command that runs */
    if (util_strcaseeq(c->ptr, c->len, "POLLUX")) {
        pollux_command(a, argc, argv, r);
    } else if (util_strcaseeq(c->ptr, c->len, "SENTINEL")) {
        ctl_sentinel_command(a, argc, argv, r);
    } else if (util_strcaseeq(c->ptr, c->len, "INFO")) {
        ctl_sentinel_info(a, r);
    } else if (util_strcaseeq(c->ptr, c->len, "ROLE")) {
        role_command(a, r);
    } else if (util_strcaseeq(c->ptr, c->len, "COMMAND")) {
        reply_array(r, 0); /* redis-cli asks at start; it copes with an empty table */
    } else {
        reply_errorf(r, "ERR unknown command '%.*s', with args beginning with: ",
                     (int)MIN(c->len, 128), c->ptr);
    }
    ctl_state_set_actor(a->st, NULL);
}

void ctl_api_publish(void *app, const char *channel, const char *message)
{
    struct ctl_app *a = app;
    if (a->srv != NULL)
        ctl_server_publish(a->srv, channel, message);
}
