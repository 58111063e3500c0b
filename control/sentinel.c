/*
 * The Redis Sentinel commands, answered from pollux-control's own state: each replication
 * group is a monitored master named after the group. Replies carry the fields and shapes
 * redis-sentinel 7.0 returns (flat key/value arrays in RESP2, maps in RESP3), which is what
 * Sentinel-aware clients (redis-py's Sentinel, Jedis, ioredis, ...) parse.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control/api.h"
#include "base/clock.h"
#include "control/resp_server.h"
#include "base/common.h"
#include "base/strbuf.h"
#include "base/util.h"

struct field_writer {
    struct reply *r;
    struct rblock *ph;
    long long n;
};

static void fw_begin(struct field_writer *w, struct reply *r)
{
    w->r = r;
    w->ph = reply_defer(r);
    w->n = 0;
}

static void fw_end(struct field_writer *w)
{
    reply_defer_set(w->r, w->ph, REPLY_AGG_MAP, w->n);
}

static void f_str(struct field_writer *w, const char *k, const char *v)
{
    reply_bulk_cstr(w->r, k);
    reply_bulk_cstr(w->r, v);
    w->n++;
}

static void f_int(struct field_writer *w, const char *k, long long v)
{
    reply_bulk_cstr(w->r, k);
    reply_bulk_ll(w->r, v); /* Sentinel sends numbers as bulk strings */
    w->n++;
}

/* A stable 40-hex run id per node, derived from its id (Sentinel clients only compare it). */
static void node_runid(const char *id, char out[41])
{
    uint64_t h1 = util_crc16(id, strlen(id)) * 0x9E3779B97F4A7C15ULL ^ strlen(id);
    uint64_t h2 = 1469598103934665603ULL;
    for (const char *p = id; *p; p++)
        h2 = (h2 ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, 41, "%016llx%016llx%08llx", (unsigned long long)h1, (unsigned long long)h2,
             (unsigned long long)(h1 ^ h2) & 0xffffffffULL);
}

static void write_master(struct ctl_app *a, struct reply *r, const struct ctl_group *g)
{
    struct ctl_node p;
    bool have = ctl_state_node_get(a->st, g->primary, &p) == 0;
    struct ctl_node_view v;
    if (!have || ctl_health_node_view(a->h, p.id, &v) != 0)
        memset(&v, 0, sizeof(v));
    bool down = v.probed && !v.up;
    bool odown = down && v.down_ms >= a->opts.down_after_ms;
    char runid[41];
    node_runid(g->primary, runid);
    char flags[64];
    snprintf(flags, sizeof(flags), "master%s%s%s", down ? ",s_down" : "", odown ? ",o_down" : "",
             ctl_health_failover_active(a->h, g->id) ? ",failover_in_progress" : "");
    struct field_writer w;
    fw_begin(&w, r);
    f_str(&w, "name", g->id);
    f_str(&w, "ip", have ? p.host : "");
    f_int(&w, "port", have ? p.port : 0);
    f_str(&w, "runid", runid);
    f_str(&w, "flags", flags);
    f_int(&w, "link-pending-commands", 0);
    f_int(&w, "link-refcount", 1);
    f_int(&w, "last-ping-sent", down ? v.down_ms : 0);
    f_int(&w, "last-ok-ping-reply", v.down_ms);
    f_int(&w, "last-ping-reply", v.down_ms);
    if (down) {
        f_int(&w, "s-down-time", v.down_ms);
        if (odown)
            f_int(&w, "o-down-time", v.down_ms - a->opts.down_after_ms);
    }
    f_int(&w, "down-after-milliseconds", a->opts.down_after_ms);
    f_int(&w, "info-refresh", a->opts.probe_interval_ms);
    f_str(&w, "role-reported", "master");
    f_int(&w, "role-reported-time", (long long)((clock_mono_ns() - a->started_ns) / 1000000));
    f_int(&w, "config-epoch", g->epoch);
    f_int(&w, "num-slaves", g->nreplicas);
    f_int(&w, "num-other-sentinels", 0);
    f_int(&w, "quorum", 1);
    f_int(&w, "failover-timeout", 180000);
    f_int(&w, "parallel-syncs", g->nreplicas ? g->nreplicas : 1);
    fw_end(&w);
}

static void write_replica(struct ctl_app *a, struct reply *r, const struct ctl_node *n,
                          const struct ctl_node *primary)
{
    struct ctl_node_view v;
    if (ctl_health_node_view(a->h, n->id, &v) != 0)
        memset(&v, 0, sizeof(v));
    bool down = !v.up;
    bool linked = v.info.role == CTL_SEEN_REPLICA && v.info.link_up && primary &&
                  strcmp(v.info.master_host, primary->host) == 0 &&
                  v.info.master_port == primary->port;
    char name[CTL_HOST_MAX + 8], runid[41], flags[64];
    snprintf(name, sizeof(name), "%s:%d", n->host, n->port);
    node_runid(n->id, runid);
    snprintf(flags, sizeof(flags), "slave%s",
             down      ? ",s_down"
             : !linked ? ",s_down,disconnected"
                       : "");
    struct field_writer w;
    fw_begin(&w, r);
    f_str(&w, "name", name);
    f_str(&w, "ip", n->host);
    f_int(&w, "port", n->port);
    f_str(&w, "runid", runid);
    f_str(&w, "flags", flags);
    f_int(&w, "link-pending-commands", 0);
    f_int(&w, "link-refcount", 1);
    f_int(&w, "last-ping-sent", down ? v.down_ms : 0);
    f_int(&w, "last-ok-ping-reply", v.down_ms);
    f_int(&w, "last-ping-reply", v.down_ms);
    if (down)
        f_int(&w, "s-down-time", v.down_ms);
    f_int(&w, "down-after-milliseconds", a->opts.down_after_ms);
    f_int(&w, "info-refresh", a->opts.probe_interval_ms);
    f_str(&w, "role-reported", v.info.role == CTL_SEEN_MASTER ? "master" : "slave");
    f_int(&w, "role-reported-time", (long long)((clock_mono_ns() - a->started_ns) / 1000000));
    f_int(&w, "master-link-down-time", linked ? 0 : -1000);
    f_str(&w, "master-link-status", linked ? "ok" : "err");
    f_str(&w, "master-host", primary ? primary->host : "?");
    f_int(&w, "master-port", primary ? primary->port : 0);
    f_int(&w, "slave-priority", v.info.priority);
    f_int(&w, "slave-repl-offset", v.info.replica_offset);
    f_int(&w, "replica-announced", 1);
    fw_end(&w);
}

/*
 * Every replica of the group. One that is down is flagged s_down as Sentinel does; one that
 * is up but not (yet) in sync with the primary is flagged s_down,disconnected too, because
 * clients skip s_down replicas and such a replica would serve stale or missing data.
 */
static void write_replicas(struct ctl_app *a, struct reply *r, const struct ctl_group *g)
{
    struct ctl_node p;
    bool have = ctl_state_node_get(a->st, g->primary, &p) == 0;
    struct ctl_node reps[CTL_MAX_REPLICAS];
    int n = 0;
    for (int i = 0; i < g->nreplicas; i++)
        if (ctl_state_node_get(a->st, g->replicas[i], &reps[n]) == 0)
            n++;
    reply_array(r, n);
    for (int i = 0; i < n; i++)
        write_replica(a, r, &reps[i], have ? &p : NULL);
}

struct masters_ctx {
    struct ctl_app *a;
    struct reply *r;
    long long n;
};

static void each_master(void *ctx, const struct ctl_group *g)
{
    struct masters_ctx *m = ctx;
    write_master(m->a, m->r, g);
    m->n++;
}

static bool get_master(struct ctl_app *a, const struct resp_arg *name, struct ctl_group *g,
                       struct reply *r)
{
    char id[CTL_ID_MAX];
    if (name->len < sizeof(id)) {
        snprintf(id, sizeof(id), "%.*s", (int)name->len, name->ptr);
        if (ctl_state_group_get(a->st, id, g) == 0)
            return true;
    }
    reply_error(r, "ERR No such master with that name");
    return false;
}

static bool sub_is(const struct resp_arg *a, const char *s)
{
    return util_strcaseeq(a->ptr, a->len, s);
}

void ctl_sentinel_command(struct ctl_app *a, int argc, struct resp_arg *argv, struct reply *r)
{
    if (argc < 2) {
        reply_error(r, "ERR wrong number of arguments for 'sentinel' command");
        return;
    }
    const struct resp_arg *sub = &argv[1];
    struct ctl_group g;
    if (sub_is(sub, "masters") && argc == 2) {
        struct masters_ctx m = { a, r, 0 };
        struct rblock *ph = reply_defer(r);
        ctl_state_group_each(a->st, each_master, &m);
        reply_defer_set(r, ph, REPLY_AGG_ARRAY, m.n);
    } else if (sub_is(sub, "master") && argc == 3) {
        if (get_master(a, &argv[2], &g, r))
            write_master(a, r, &g);
    } else if ((sub_is(sub, "replicas") || sub_is(sub, "slaves")) && argc == 3) {
        if (get_master(a, &argv[2], &g, r))
            write_replicas(a, r, &g);
    } else if (sub_is(sub, "sentinels") && argc == 3) {
        if (get_master(a, &argv[2], &g, r))
            reply_array(r, 0); /* one pollux-control answers for the group */
    } else if (sub_is(sub, "get-master-addr-by-name") && argc == 3) {
        char id[CTL_ID_MAX];
        struct ctl_node p;
        if (argv[2].len >= sizeof(id)) {
            reply_null_array(r);
            return;
        }
        snprintf(id, sizeof(id), "%.*s", (int)argv[2].len, argv[2].ptr);
        if (ctl_state_group_get(a->st, id, &g) != 0 ||
            ctl_state_node_get(a->st, g.primary, &p) != 0) {
            reply_null_array(r);
            return;
        }
        reply_array(r, 2);
        reply_bulk_cstr(r, p.host);
        reply_bulk_ll(r, p.port);
    } else if (sub_is(sub, "is-master-down-by-addr") && argc == 6) {
        /* Answer for the primary at ip:port of any group; a leader is never elected here. */
        char host[CTL_HOST_MAX];
        long long port;
        int down = 0;
        snprintf(host, sizeof(host), "%.*s", (int)MIN(argv[2].len, sizeof(host) - 1), argv[2].ptr);
        if (!util_str2ll(argv[3].ptr, argv[3].len, &port)) {
            reply_error(r, "ERR value is not an integer or out of range");
            return;
        }
        struct ctl_node n;
        struct ctl_node_view v;
        if (ctl_state_node_find_addr(a->st, host, (int)port, &n) == 0 &&
            n.role == CTL_ROLE_PRIMARY && ctl_health_node_view(a->h, n.id, &v) == 0)
            down = v.probed && !v.up;
        reply_array(r, 3);
        reply_int(r, down);
        reply_bulk_cstr(r, "*");
        reply_int(r, 0);
    } else if (sub_is(sub, "myid") && argc == 2) {
        reply_bulk_cstr(r, a->myid);
    } else if (sub_is(sub, "ckquorum") && argc == 3) {
        if (get_master(a, &argv[2], &g, r))
            reply_status(r, "OK 1 usable Sentinels. Quorum and failover authorization can be "
                            "reached");
    } else if (sub_is(sub, "failover") && argc == 3) {
        if (!ctl_api_permit(a, CTL_ACCESS_ADMIN, "sentinel|failover", r) ||
            !get_master(a, &argv[2], &g, r))
            return;
        char err[256];
        if (ctl_health_test_failover(a->h, g.id, NULL, err, sizeof(err)) != 0)
            reply_error(r, "NOGOODSLAVE No suitable replica to promote");
        else
            reply_ok(r);
    } else if (sub_is(sub, "reset") && argc == 3) {
        reply_int(r, 0);
    } else {
        reply_errorf(r, "ERR Unknown sentinel subcommand '%.*s'", (int)MIN(sub->len, 64), sub->ptr);
    }
}

struct info_ctx {
    struct ctl_app *a;
    struct strbuf *sb;
    int n;
};

static void info_master(void *ctx, const struct ctl_group *g)
{
    struct info_ctx *c = ctx;
    struct ctl_node p;
    struct ctl_node_view v;
    bool have = ctl_state_node_get(c->a->st, g->primary, &p) == 0;
    bool up = have && ctl_health_node_view(c->a->h, p.id, &v) == 0 && (v.up || !v.probed);
    strbuf_printf(c->sb, "master%d:name=%s,status=%s,address=%s:%d,slaves=%d,sentinels=1\r\n",
                  c->n++, g->id, up ? "ok" : "odown", have ? p.host : "", have ? p.port : 0,
                  g->nreplicas);
}

static void count_group(void *ctx, const struct ctl_group *g)
{
    (void)g;
    (*(int *)ctx)++;
}

void ctl_sentinel_info(struct ctl_app *a, struct reply *r)
{
    struct strbuf sb;
    strbuf_setup(&sb);
    int groups = 0;
    ctl_state_group_each(a->st, count_group, &groups);
    uint64_t up = (clock_mono_ns() - a->started_ns) / 1000000000ULL;
    strbuf_printf(&sb,
                  "# Server\r\nredis_version:7.0.0\r\nredis_mode:sentinel\r\n"
                  "pollux_control:1\r\nprocess_id:%d\r\nrun_id:%s\r\ntcp_port:%d\r\n"
                  "uptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\n\r\n",
                  (int)getpid(), a->myid, a->port, (unsigned long long)up,
                  (unsigned long long)(up / 86400));
    strbuf_printf(&sb,
                  "# Sentinel\r\nsentinel_masters:%d\r\nsentinel_tilt:0\r\n"
                  "sentinel_tilt_since_seconds:-1\r\nsentinel_running_scripts:0\r\n"
                  "sentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n",
                  groups);
    struct info_ctx c = { a, &sb, 0 };
    ctl_state_group_each(a->st, info_master, &c);
    reply_verbatim(r, sb.buf, sb.len, "txt");
    strbuf_deinit(&sb);
}
