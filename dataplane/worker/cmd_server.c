/* Server commands that reach the worker: SHUTDOWN, SLOWLOG, CONFIG, INFO, DEBUG, MODULE. */
#include "cmd_server.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include "slowlog.h"
#include "sock.h"
#include "strbuf.h"
#include "util.h"
#include "worker.h"
#include "errors.h"

void cmd_shutdown(struct cmd_ctx *c)
{
    for (int i = 1; i < c->argc; i++) {
        if (!(cmd_arg_is(c, i, "NOSAVE") || cmd_arg_is(c, i, "SAVE") || cmd_arg_is(c, i, "NOW") ||
              cmd_arg_is(c, i, "FORCE") || cmd_arg_is(c, i, "ABORT"))) {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
        if (cmd_arg_is(c, i, "ABORT")) {
            reply_error(c->reply, ERR_NO_SHUTDOWN);
            return;
        }
    }
    for (int i = 1; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "NOSAVE"))
            atomic_store(&server.shutdown_save, 0);
        else if (cmd_arg_is(c, i, "SAVE"))
            atomic_store(&server.shutdown_save, 1);
    }
    log_warn("User requested shutdown...");
    server_request_shutdown(0);
    /* No reply: the connection closes as the server stops. */
    struct conn *cl = c->client;
    cl->flags |= CONN_CLOSE_ASAP;
}

/* ---------------------------------------------------------------------------
 * SLOWLOG (GET/LEN/RESET hold every shard and read every worker's log)
 * ------------------------------------------------------------------------ */

void cmd_slowlog_get(struct cmd_ctx *c)
{
    long long count = 10;
    if (c->argc == 3) {
        if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < -1) {
            reply_error(c->reply, ERR_COUNT_MIN_ONE);
            return;
        }
        if (count == -1)
            count = LLONG_MAX;
    }
    /* Merge the workers' rings, newest (highest id) first. */
    unsigned pos[MAX_WORKERS], left[MAX_WORKERS];
    long long total = 0;
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *w = server.workers[i];
        pos[i] = w->slowlog_head;
        left[i] = w->slowlog_len;
        total += w->slowlog_len;
    }
    long long n = total < count ? total : count;
    reply_array(c->reply, n);
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
        reply_array(c->reply, 6);
        reply_int(c->reply, (long long)e->id);
        reply_int(c->reply, e->time_s);
        reply_int(c->reply, (long long)e->usec);
        reply_array(c->reply, e->argc);
        for (int a = 0; a < e->argc; a++)
            reply_bulk(c->reply, e->argv[a], e->argl[a]);
        reply_bulk_cstr(c->reply, e->peer);
        reply_bulk_cstr(c->reply, e->name);
    }
}

void cmd_slowlog_len(struct cmd_ctx *c)
{
    long long total = 0;
    for (unsigned i = 0; i < server.nworkers; i++)
        total += server.workers[i]->slowlog_len;
    reply_int(c->reply, total);
}

void cmd_slowlog_reset(struct cmd_ctx *c)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        slowlog_reset(server.workers[i]);
    reply_ok(c->reply);
}

void cmd_slowlog_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

/* ---------------------------------------------------------------------------
 * CONFIG
 * ------------------------------------------------------------------------ */

struct config_get_state {
    struct cmd_ctx *c;
    long long count;
    const struct param_def *seen[512];
    int nseen;
    int argi;
    struct params *p;
};

static void config_get_one(void *arg, const struct param_ref *ref)
{
    struct config_get_state *st = arg;
    struct cmd_ctx *c = st->c;
    const struct resp_arg *pat = &c->argv[st->argi];
    const char *name = ref->def->name;
    if (ref->def->flags & PARAM_HIDDEN)
        return;
    if (!util_glob_match(pat->ptr, pat->len, name, strlen(name), true))
        return;
    for (int i = 0; i < st->nseen; i++)
        if (st->seen[i] == ref->def)
            return;
    if (st->nseen < (int)ARRAY_SIZE(st->seen))
        st->seen[st->nseen++] = ref->def;
    char buf[256];
    const char *v;
    if (strcmp(name, "dir") == 0) {
        v = getcwd(buf, sizeof(buf)) ? buf : "";
    } else {
        v = param_format(ref->def, params_module(st->p, ref), buf, sizeof(buf), false);
    }
    reply_bulk_cstr(c->reply, name);
    reply_bulk_cstr(c->reply, v);
    st->count++;
}

void cmd_config_get(struct cmd_ctx *c)
{
    struct config_get_state st;
    memset(&st, 0, sizeof(st));
    st.c = c;
    struct rblock *hdr = reply_defer(c->reply);
    pthread_mutex_lock(&config.lock);
    st.p = &config.p;
    for (st.argi = 2; st.argi < c->argc; st.argi++) {
        /* An exact alias such as "slaveof" answers under its own name, as in Redis. */
        params_foreach(config_get_one, &st);
    }
    pthread_mutex_unlock(&config.lock);
    reply_defer_set(c->reply, hdr, REPLY_AGG_MAP, st.count);
}

void cmd_config_set(struct cmd_ctx *c)
{
    if ((c->argc - 2) % 2 != 0) {
        reply_error(c->reply, ERR_CONFIG_SET_ARITY);
        return;
    }
    int npairs = (c->argc - 2) / 2;
    const char *names[64], *values[64];
    char *owned[128];
    int nowned = 0;
    if (npairs > 64) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    for (int i = 0; i < npairs; i++) {
        owned[nowned++] = mem_strndup(c->argv[2 + 2 * i].ptr, c->argv[2 + 2 * i].len);
        owned[nowned++] = mem_strndup(c->argv[3 + 2 * i].ptr, c->argv[3 + 2 * i].len);
        names[i] = owned[nowned - 2];
        values[i] = owned[nowned - 1];
    }
    char err[1024];
    const struct conn *cl = c->client;
    const struct worker *w = c->worker;
    bool allow = config_protected_allows(w->params.srv.enable_protected_configs,
                                         cl != NULL && sock_peer_is_local(cl->peer));
    if (config_set(npairs, names, values, allow, err, sizeof(err)) != 0) {
        reply_error(c->reply, err);
    } else {
        /* Every shard is held: each worker's copy changes before the reply goes out. */
        for (unsigned i = 0; i < server.nworkers; i++)
            worker_reload_params(server.workers[i]);
        reply_ok(c->reply);
    }
    for (int i = 0; i < nowned; i++)
        mem_free(owned[i]);
}

void cmd_config_rewrite(struct cmd_ctx *c)
{
    char err[1024];
    if (config_rewrite(err, sizeof(err)) != 0) {
        reply_error(c->reply, err);
        return;
    }
    log_notice("CONFIG REWRITE executed with success.");
    reply_ok(c->reply);
}

/* Every shard is held: reset each worker's and store's counters. */
void cmd_config_resetstat(struct cmd_ctx *c)
{
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *w = server.workers[i];
        memset(&w->stats, 0, sizeof(w->stats));
        memset(&w->errstats, 0, sizeof(w->errstats));
        memset(w->cmdstats, 0, sizeof(struct cmd_stat) * CMD_ID_COUNT);
        memset(store_stats(w->store), 0, sizeof(struct store_stats));
        w->ops_sample_count = 0;
        w->in_sample = w->out_sample = 0;
        memset(w->ops_samples, 0, sizeof(w->ops_samples));
        memset(w->in_samples, 0, sizeof(w->in_samples));
        memset(w->out_samples, 0, sizeof(w->out_samples));
    }
    reply_ok(c->reply);
}

void cmd_config_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

/* ---------------------------------------------------------------------------
 * DEBUG and MODULE: both exist for their gates (enable-debug-command,
 * enable-module-command, checked by the dispatcher on CMD_PROTECTED rows).
 * Pollux has no DEBUG subcommand but HELP yet, and no modules: MODULE LIST
 * is empty and LOAD fails as a library Redis cannot load does.
 * ------------------------------------------------------------------------ */

void cmd_debug(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "HELP",
        "    Prints this help.",
    };
    if (c->argc == 2 && cmd_arg_is(c, 1, "HELP")) {
        cmd_reply_help(c, lines, ARRAY_SIZE(lines));
        return;
    }
    reply_errorf(c->reply, ERRF_DEBUG_UNKNOWN, c->argv[1].len < 128 ? (int)c->argv[1].len : 128,
                 c->argv[1].ptr);
}

void cmd_module_list(struct cmd_ctx *c)
{
    reply_array(c->reply, 0);
}

void cmd_module_load(struct cmd_ctx *c)
{
    log_warn("Module %.*s failed to load: this server has no module support",
             c->argv[2].len < 256 ? (int)c->argv[2].len : 256, c->argv[2].ptr);
    reply_error(c->reply, ERR_MODULE_LOAD);
}

void cmd_module_unload(struct cmd_ctx *c)
{
    reply_error(c->reply, ERR_MODULE_UNLOAD);
}

void cmd_module_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        ("    Load a module library from <path>, while passing it module configurations and "
         "optional arguments."),
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

/* ---------------------------------------------------------------------------
 * INFO (every shard held)
 * ------------------------------------------------------------------------ */

void cmd_info(struct cmd_ctx *c)
{
    struct strbuf s;
    strbuf_init(&s);
    server_info(&s, c->argc - 1, c->argv + 1, c->now_ms);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}
