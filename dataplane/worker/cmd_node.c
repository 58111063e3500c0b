/*
 * The node interface of cmd/node.h: what the server commands ask of the
 * workers, the parameters and the slow logs (INFO's sections are in info.c).
 */
#include "cmd/node.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "cmd/client.h"
#include "cmd/commands.h"
#include "worker/pause.h"
#include "worker/config.h"
#include "base/log.h"
#include "worker/process.h"
#include "worker/slowlog.h"
#include "base/util.h"
#include "worker/worker.h"

int node_databases(const struct cmd_ctx *c)
{
    return c->worker->params.store.databases;
}

const char *node_aclfile(const struct cmd_ctx *c)
{
    return c->worker->params.srv.aclfile;
}

void node_shutdown(int save)
{
    if (save >= 0)
        atomic_store(&server.shutdown_save, save);
    log_warn("User requested shutdown...");
    server_request_shutdown(0);
}

void node_reset_stats(void)
{
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *w = server.workers[i];
        memset(&w->stats, 0, sizeof(w->stats));
        memset(&w->errstats, 0, sizeof(w->errstats));
        memset(w->cmdstats, 0, sizeof(struct cmd_stat) * CMD_ID_COUNT);
        latency_hist_reset(&w->latency);
        memset(store_stats(w->store), 0, sizeof(struct store_stats));
        w->ops_sample_count = 0;
        w->in_sample = w->out_sample = 0;
        memset(w->ops_samples, 0, sizeof(w->ops_samples));
        memset(w->in_samples, 0, sizeof(w->in_samples));
        memset(w->out_samples, 0, sizeof(w->out_samples));
    }
}

/* ---------------------------------------------------------------------------
 * SLOWLOG: each worker's ring, merged
 * ------------------------------------------------------------------------ */

long long node_slowlog_len(void)
{
    long long total = 0;
    for (unsigned i = 0; i < server.nworkers; i++)
        total += server.workers[i]->slowlog_len;
    return total;
}

void node_slowlog_reset(void)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        slowlog_reset(server.workers[i]);
}

void node_slowlog_reply(struct reply *r, long long count)
{
    /* Merge the workers' rings, newest (highest id) first. */
    unsigned pos[MAX_WORKERS], left[MAX_WORKERS];
    for (unsigned i = 0; i < server.nworkers; i++) {
        pos[i] = server.workers[i]->slowlog_head;
        left[i] = server.workers[i]->slowlog_len;
    }
    long long total = node_slowlog_len();
    long long n = total < count ? total : count;
    reply_array(r, n);
    for (long long k = 0; k < n; k++) {
        int best = -1;
        for (unsigned i = 0; i < server.nworkers; i++) {
            if (left[i] == 0)
                continue;
            struct slowlog_entry *e = &server.workers[i]->slowlog[pos[i]];
            if (best < 0 || e->id > server.workers[best]->slowlog[pos[best]].id)
                best = (int)i;
        }
        struct worker *w = server.workers[best];
        struct slowlog_entry *e = &w->slowlog[pos[best]];
        pos[best] = (pos[best] + w->slowlog_cap - 1) % w->slowlog_cap;
        left[best]--;
        reply_array(r, 6);
        reply_int(r, (long long)e->id);
        reply_int(r, e->time_s);
        reply_int(r, (long long)e->usec);
        reply_array(r, e->argc);
        for (int a = 0; a < e->argc; a++)
            reply_bulk(r, e->argv[a], e->argl[a]);
        reply_bulk_cstr(r, e->peer);
        reply_bulk_cstr(r, e->name);
    }
}

/* ---------------------------------------------------------------------------
 * CONFIG
 * ------------------------------------------------------------------------ */

struct config_get_state {
    struct reply *r;
    const struct resp_arg *pattern;
    long long count;
    const struct param_def *seen[512];
    int nseen;
    struct params *p;
};

/* One parameter under `name` (its own, or an alias CONFIG GET asked for). */
static void config_get_as(struct config_get_state *st, const struct param_ref *ref,
                          const char *name)
{
    char buf[256];
    const char *v;
    if (strcmp(name, "dir") == 0) {
        v = getcwd(buf, sizeof(buf)) ? buf : "";
    } else {
        v = param_format(ref->def, params_module(st->p, ref), buf, sizeof(buf), false);
        if (strcmp(ref->def->name, "notify-keyspace-events") == 0) {
            int flags = config_notify_flags(v);
            config_notify_string(flags > 0 ? flags : 0, true, buf); /* as Redis shows it */
            v = buf;
        } else if (strcmp(ref->def->name, "latency-tracking-info-percentiles") == 0) {
            latency_percentiles_string(v, buf, sizeof(buf));
            v = buf;
        }
    }
    reply_bulk_cstr(st->r, name);
    reply_bulk_cstr(st->r, v);
    st->count++;
}

static void config_get_one(void *arg, const struct param_ref *ref)
{
    struct config_get_state *st = arg;
    const char *name = ref->def->name;
    if (ref->def->flags & PARAM_HIDDEN)
        return;
    if (!util_glob_match(st->pattern->ptr, st->pattern->len, name, strlen(name), true))
        return;
    for (int i = 0; i < st->nseen; i++)
        if (st->seen[i] == ref->def)
            return;
    if (st->nseen < (int)ARRAY_SIZE(st->seen))
        st->seen[st->nseen++] = ref->def;
    config_get_as(st, ref, name);
}

void node_config_get(struct reply *r, int npatterns, const struct resp_arg *patterns)
{
    struct config_get_state st;
    memset(&st, 0, sizeof(st));
    st.r = r;
    struct rblock *hdr = reply_defer(r);
    pthread_mutex_lock(&config.lock);
    st.p = &config.p;
    for (int i = 0; i < npatterns; i++) {
        /* An exact alias such as "slaveof" answers under its own name, as in Redis. */
        st.pattern = &patterns[i];
        params_foreach(config_get_one, &st);
    }
    /* Redis lists the old names too, each under its own name, once */
    const char *alias, *name;
    for (size_t a = 0; (alias = config_alias(a, &name)) != NULL; a++) {
        struct param_ref ref;
        for (int i = 0; i < npatterns; i++) {
            if (name != NULL &&
                util_glob_match(patterns[i].ptr, patterns[i].len, alias, strlen(alias), true) &&
                params_lookup(name, &ref) && !(ref.def->flags & PARAM_HIDDEN)) {
                config_get_as(&st, &ref, alias);
                break;
            }
        }
    }
    pthread_mutex_unlock(&config.lock);
    reply_defer_set(r, hdr, REPLY_AGG_MAP, st.count);
}

void node_client_pause(int64_t now_ms, int64_t end_ms, bool all)
{
    pause_set(now_ms, end_ms, all ? PAUSE_ALL : PAUSE_WRITE);
}

void node_client_unpause(void)
{
    pause_clear();
}

int node_config_set(const struct cmd_ctx *c, int npairs, const char *const *names,
                    const char *const *values, char *err, size_t errcap)
{
    const struct cmd_client *cl = cmd_client(c);
    bool allow = config_protected_allows(c->worker->params.srv.enable_protected_configs,
                                         cl != NULL && client_is_local(cl));
    if (config_set(npairs, names, values, allow, err, errcap) != 0)
        return -1;
    /* Every shard is held: each worker's copy changes before the reply goes out. */
    for (unsigned i = 0; i < server.nworkers; i++)
        worker_reload_params(server.workers[i]);
    return 0;
}

int node_config_rewrite(char *err, size_t errcap)
{
    if (config_rewrite(err, errcap) != 0)
        return -1;
    log_notice("CONFIG REWRITE executed with success.");
    return 0;
}
