/* Server commands: PING, ECHO, TIME, SHUTDOWN, SLOWLOG, CONFIG, INFO, DEBUG, MODULE. */
#include "cmd_server.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "log.h"
#include "mem.h"
#include "server.h"
#include "slowlog.h"
#include "sock.h"
#include "strbuf.h"
#include "util.h"
#include "worker.h"

void server_reply_help(struct cmd_ctx *c, const char *const *lines, size_t n)
{
    reply_array(c->reply, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_status(c->reply, lines[i]);
}

static void cmd_ping(struct cmd_ctx *c)
{
    if (c->argc > 2) {
        cmd_reply_arity(c);
        return;
    }
    if (c->argc == 2)
        reply_bulk(c->reply, c->argv[1].ptr, c->argv[1].len);
    else
        reply_status(c->reply, "PONG");
}

static void cmd_echo(struct cmd_ctx *c)
{
    reply_bulk(c->reply, c->argv[1].ptr, c->argv[1].len);
}

static void cmd_time(struct cmd_ctx *c)
{
    int64_t us = clock_real_us();
    reply_array(c->reply, 2);
    reply_bulk_ll(c->reply, us / 1000000);
    reply_bulk_ll(c->reply, us % 1000000);
}

static void cmd_shutdown(struct cmd_ctx *c)
{
    for (int i = 1; i < c->argc; i++) {
        if (!(cmd_arg_is(c, i, "NOSAVE") || cmd_arg_is(c, i, "SAVE") || cmd_arg_is(c, i, "NOW") ||
              cmd_arg_is(c, i, "FORCE") || cmd_arg_is(c, i, "ABORT"))) {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
        if (cmd_arg_is(c, i, "ABORT")) {
            reply_error(c->reply, "ERR No shutdown in progress.");
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

static void cmd_slowlog_get(struct cmd_ctx *c)
{
    long long count = 10;
    if (c->argc == 3) {
        if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < -1) {
            reply_error(c->reply, "ERR count should be greater than or equal to -1");
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

static void cmd_slowlog_len(struct cmd_ctx *c)
{
    long long total = 0;
    for (unsigned i = 0; i < server.nworkers; i++)
        total += server.workers[i]->slowlog_len;
    reply_int(c->reply, total);
}

static void cmd_slowlog_reset(struct cmd_ctx *c)
{
    for (unsigned i = 0; i < server.nworkers; i++)
        slowlog_reset(server.workers[i]);
    reply_ok(c->reply);
}

static void cmd_slowlog_help(struct cmd_ctx *c)
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
    server_reply_help(c, lines, ARRAY_SIZE(lines));
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

static void cmd_config_get(struct cmd_ctx *c)
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

static void cmd_config_set(struct cmd_ctx *c)
{
    if ((c->argc - 2) % 2 != 0) {
        reply_error(c->reply, "ERR wrong number of arguments for 'config|set' command");
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

static void cmd_config_rewrite(struct cmd_ctx *c)
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
static void cmd_config_resetstat(struct cmd_ctx *c)
{
    for (unsigned i = 0; i < server.nworkers; i++) {
        struct worker *w = server.workers[i];
        memset(&w->stats, 0, sizeof(w->stats));
        memset(&w->errstats, 0, sizeof(w->errstats));
        memset(w->cmdstats, 0, sizeof(struct cmd_stat) * server_command_ids());
        memset(store_stats(w->store), 0, sizeof(struct store_stats));
        w->ops_sample_count = 0;
        w->in_sample = w->out_sample = 0;
        memset(w->ops_samples, 0, sizeof(w->ops_samples));
        memset(w->in_samples, 0, sizeof(w->in_samples));
        memset(w->out_samples, 0, sizeof(w->out_samples));
    }
    reply_ok(c->reply);
}

static void cmd_config_help(struct cmd_ctx *c)
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
    server_reply_help(c, lines, ARRAY_SIZE(lines));
}

/* ---------------------------------------------------------------------------
 * DEBUG and MODULE: both exist for their gates (enable-debug-command,
 * enable-module-command, checked by the dispatcher on CMD_PROTECTED rows).
 * Pollux has no DEBUG subcommand but HELP yet, and no modules: MODULE LIST
 * is empty and LOAD fails as a library Redis cannot load does.
 * ------------------------------------------------------------------------ */

static void cmd_debug(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "HELP",
        "    Prints this help.",
    };
    if (c->argc == 2 && cmd_arg_is(c, 1, "HELP")) {
        server_reply_help(c, lines, ARRAY_SIZE(lines));
        return;
    }
    reply_errorf(c->reply,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                 c->argv[1].len < 128 ? (int)c->argv[1].len : 128, c->argv[1].ptr);
}

static void cmd_module_list(struct cmd_ctx *c)
{
    reply_array(c->reply, 0);
}

static void cmd_module_load(struct cmd_ctx *c)
{
    log_warn("Module %.*s failed to load: this server has no module support",
             c->argv[2].len < 256 ? (int)c->argv[2].len : 256, c->argv[2].ptr);
    reply_error(c->reply, "ERR Error loading the extension. Please check the server logs.");
}

static void cmd_module_unload(struct cmd_ctx *c)
{
    reply_error(c->reply, "ERR Error unloading module: no such module with that name");
}

static void cmd_module_help(struct cmd_ctx *c)
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
    server_reply_help(c, lines, ARRAY_SIZE(lines));
}

/* ---------------------------------------------------------------------------
 * INFO (every shard held)
 * ------------------------------------------------------------------------ */

static void cmd_info(struct cmd_ctx *c)
{
    struct strbuf s;
    strbuf_init(&s);
    server_info(&s, c->argc - 1, c->argv + 1, c->now_ms);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}

/* clang-format off */
static const struct cmd_def slowlog_subs[] = {
    { .name = "get", .fn = cmd_slowlog_get, .arity = -2, .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
      .route = ROUTE_ALL, .group = "server", .since = "2.2.12", .summary = "Get the slow log's entries",
      .complexity = "O(N) where N is the number of entries returned", .syntax = "[count]",
      .acl = "@admin @slow @dangerous" },
    { .name = "len", .fn = cmd_slowlog_len, .arity = 2, .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
      .route = ROUTE_ALL, .group = "server", .since = "2.2.12", .summary = "Get the slow log's length",
      .complexity = "O(1)", .syntax = "", .acl = "@admin @slow @dangerous" },
    { .name = "reset", .fn = cmd_slowlog_reset, .arity = 2, .flags = CMD_ADMIN | CMD_LOADING | CMD_STALE,
      .route = ROUTE_ALL, .group = "server", .since = "2.2.12", .summary = "Clear all entries from the slow log",
      .complexity = "O(N) where N is the number of entries in the slowlog", .syntax = "",
      .acl = "@admin @slow @dangerous" },
    { .name = "help", .fn = cmd_slowlog_help, .arity = 2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "6.2.0", .summary = "Show helpful text about the different subcommands",
      .complexity = "O(1)", .syntax = "", .acl = "@slow" },
    { .name = NULL },
};

static const struct cmd_def config_subs[] = {
    { .name = "get", .fn = cmd_config_get, .arity = -3, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.0.0", .summary = "Get the values of configuration parameters",
      .complexity = "O(N) when N is the number of configuration parameters provided",
      .syntax = "parameter ...", .acl = "@admin @slow @dangerous" },
    { .name = "set", .fn = cmd_config_set, .arity = -4, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .route = ROUTE_ALL,
      .group = "server", .since = "2.0.0", .summary = "Set configuration parameters to the given values",
      .complexity = "O(N) when N is the number of configuration parameters provided",
      .syntax = "(parameter value) ...", .acl = "@admin @slow @dangerous" },
    { .name = "resetstat", .fn = cmd_config_resetstat, .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .route = ROUTE_ALL, .group = "server", .since = "2.0.0", .summary = "Reset the stats returned by INFO",
      .complexity = "O(1)", .syntax = "", .acl = "@admin @slow @dangerous" },
    { .name = "rewrite", .fn = cmd_config_rewrite, .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.8.0", .summary = "Rewrite the configuration file with the in memory configuration",
      .complexity = "O(1)", .syntax = "", .acl = "@admin @slow @dangerous" },
    { .name = "help", .fn = cmd_config_help, .arity = 2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "5.0.0", .summary = "Show helpful text about the different subcommands",
      .complexity = "O(1)", .syntax = "", .acl = "@slow" },
    { .name = NULL },
};

static const struct cmd_def module_subs[] = {
    { .name = "list", .fn = cmd_module_list, .arity = 2, .flags = CMD_ADMIN | CMD_NOSCRIPT,
      .group = "server", .since = "4.0.0", .summary = "List all modules loaded by the server",
      .complexity = "O(N) where N is the number of loaded modules.", .syntax = "",
      .acl = "@admin @slow @dangerous" },
    { .name = "load", .fn = cmd_module_load, .arity = -3, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_PROTECTED,
      .group = "server", .since = "4.0.0", .summary = "Load a module", .complexity = "O(1)",
      .syntax = "path [arg ...]", .acl = "@admin @slow @dangerous" },
    { .name = "loadex", .fn = cmd_module_load, .arity = -3, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_PROTECTED,
      .group = "server", .since = "7.0.0", .summary = "Load a module with extended parameters",
      .complexity = "O(1)", .syntax = "path [arg ...]", .acl = "@admin @slow @dangerous" },
    { .name = "unload", .fn = cmd_module_unload, .arity = 3, .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_PROTECTED,
      .group = "server", .since = "4.0.0", .summary = "Unload a module", .complexity = "O(1)",
      .syntax = "name", .acl = "@admin @slow @dangerous" },
    { .name = "help", .fn = cmd_module_help, .arity = 2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "5.0.0", .summary = "Show helpful text about the different subcommands",
      .complexity = "O(1)", .syntax = "", .acl = "@slow" },
    { .name = NULL },
};

static const struct cmd_def command_subs[] = {
    { .name = "count", .fn = cmd_command_count, .arity = 2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.8.13", .summary = "Get total number of Redis commands",
      .complexity = "O(1)", .syntax = "", .acl = "@slow @connection" },
    { .name = "info", .fn = cmd_command_info, .arity = -2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.8.13", .summary = "Get array of specific Redis command details, or all when no argument is given.",
      .complexity = "O(N) where N is the number of commands to look up", .syntax = "[command-name ...]",
      .acl = "@slow @connection" },
    { .name = "docs", .fn = cmd_command_docs, .arity = -2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "7.0.0", .summary = "Get array of specific Redis command documentation",
      .complexity = "O(N) where N is the number of commands to look up", .syntax = "[command-name ...]",
      .acl = "@slow @connection" },
    { .name = "list", .fn = cmd_command_list, .arity = -2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "7.0.0", .summary = "Get an array of Redis command names",
      .complexity = "O(N) where N is the total number of Redis commands",
      .syntax = "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]", .acl = "@slow @connection" },
    { .name = "getkeys", .fn = cmd_command_getkeys, .arity = -4, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "2.8.13", .summary = "Extract keys given a full Redis command",
      .complexity = "O(N) where N is the number of arguments to the command",
      .syntax = "command arg ...", .acl = "@slow @connection" },
    { .name = "help", .fn = cmd_command_help, .arity = 2, .flags = CMD_LOADING | CMD_STALE,
      .group = "server", .since = "5.0.0", .summary = "Show helpful text about the different subcommands",
      .complexity = "O(1)", .syntax = "", .acl = "@slow @connection" },
    { .name = NULL },
};

const struct cmd_def server_cmd_table[] = {
    { .name = "ping", .fn = cmd_ping, .arity = -1, .flags = CMD_FAST | CMD_SENTINEL,
      .group = "connection", .since = "1.0.0", .summary = "Ping the server",
      .complexity = "O(1)", .syntax = "[message]", .acl = "@connection" },
    { .name = "echo", .fn = cmd_echo, .arity = 2, .flags = CMD_FAST,
      .group = "connection", .since = "1.0.0", .summary = "Echo the given string",
      .complexity = "O(1)", .syntax = "message", .acl = "@connection" },
    { .name = "time", .fn = cmd_time, .arity = 1, .flags = CMD_LOADING | CMD_STALE | CMD_FAST,
      .group = "server", .since = "2.6.0", .summary = "Return the current server time",
      .complexity = "O(1)", .syntax = "" },
    { .name = "shutdown", .fn = cmd_shutdown, .arity = -1,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_SENTINEL | CMD_ALLOW_BUSY,
      .group = "server", .since = "1.0.0", .summary = "Synchronously save the dataset to disk and then shut down the server",
      .complexity = "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
      .syntax = "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]", .acl = "@admin @dangerous" },
    { .name = "slowlog", .arity = -2, .group = "server", .since = "2.2.12",
      .summary = "A container for slow log commands", .complexity = "Depends on subcommand.",
      .syntax = "", .acl = "@slow", .subs = slowlog_subs },
    { .name = "config", .arity = -2, .group = "server", .since = "2.0.0",
      .summary = "A container for server configuration commands", .complexity = "Depends on subcommand.",
      .syntax = "", .acl = "@slow", .subs = config_subs },
    { .name = "debug", .fn = cmd_debug, .arity = -2,
      .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_PROTECTED,
      .group = "server", .since = "1.0.0", .summary = "A container for debugging commands",
      .complexity = "Depends on subcommand.", .syntax = "", .acl = "@admin @slow @dangerous" },
    { .name = "module", .arity = -2, .group = "server", .since = "4.0.0",
      .summary = "A container for module commands", .complexity = "Depends on subcommand.",
      .syntax = "", .acl = "@slow", .subs = module_subs },
    { .name = "info", .fn = cmd_info, .arity = -1, .flags = CMD_LOADING | CMD_STALE | CMD_SENTINEL,
      .route = ROUTE_ALL, .group = "server", .since = "1.0.0",
      .summary = "Get information and statistics about the server",
      .complexity = "O(1)", .syntax = "[section ...]", .acl = "@slow @dangerous" },
    { .name = "command", .fn = cmd_command, .arity = -1, .flags = CMD_LOADING | CMD_STALE | CMD_SENTINEL,
      .group = "server", .since = "2.8.13", .summary = "Get array of Redis command details",
      .complexity = "O(N) where N is the total number of Redis commands", .syntax = "",
      .acl = "@slow @connection", .subs = command_subs },
    { .name = NULL },
};
/* clang-format on */
