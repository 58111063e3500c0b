#include "worker/config.h"

#include "cmd/cmd.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl/acl.h"
#include "base/args.h"
#include "base/common.h"
#include "base/log.h"
#include "base/mem.h"
#include "worker/process.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "base/errors.h"

const char *const config_acl_pubsub_names[] = { "resetchannels", "allchannels", NULL };
const char *const config_loglevel_names[] = { "debug",   "verbose", "notice",
                                              "warning", "nothing", NULL };
const char *const config_backend_names[] = { "kernel", "dpdk", NULL };
const char *const config_supervised_names[] = { "upstart", "systemd", "auto", "no", NULL };
const char *const config_protected_names[] = { "no", "yes", "local", NULL };

#define PARAM_S server_params
const struct param_def server_param_defs[] = { SERVER_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S
#define PARAM_S dpdk_params
const struct param_def dpdk_param_defs[] = { DPDK_PARAMS(PARAM_X_DEF) PARAM_DEFS_END };
#undef PARAM_S

struct config config;

static const struct {
    const struct param_def *defs;
    size_t base;
} groups[] = {
    { server_param_defs, offsetof(struct params, srv) },
    { store_param_defs, offsetof(struct params, store) },
    { repl_param_defs, offsetof(struct params, repl) },
    { net_param_defs, offsetof(struct params, net) },
    { pktio_fault_param_defs, offsetof(struct params, fault) },
    { dpdk_param_defs, offsetof(struct params, dpdk) },
    { tls_param_defs, offsetof(struct params, tls) },
    { coll_param_defs, offsetof(struct params, coll) },
};

/* Old names Redis still accepts; `hidden`: accepted, but CONFIG GET does not list it. */
static const struct {
    const char *alias, *name;
    bool hidden;
} aliases[] = {
    { "slave-read-only", "replica-read-only" },
    { "slaveof", "replicaof" },
    { "slave-serve-stale-data", "replica-serve-stale-data" },
    { "slave-priority", "replica-priority" },
    { "close-on-replica-write", "close-on-slave-write", true },
    { "slave-announced", "replica-announced", true },
    { "slave-ignore-maxmemory", "replica-ignore-maxmemory" },
    { "slave-lazy-flush", "replica-lazy-flush" },
    { "repl-ping-slave-period", "repl-ping-replica-period" },
    { "min-slaves-to-write", "min-replicas-to-write" },
    { "min-slaves-max-lag", "min-replicas-max-lag" },
    { "lua-time-limit", "busy-reply-threshold" },
    { "hash-max-ziplist-entries", "hash-max-listpack-entries" },
    { "hash-max-ziplist-value", "hash-max-listpack-value" },
    { "list-max-ziplist-size", "list-max-listpack-size" },
    { "zset-max-ziplist-entries", "zset-max-listpack-entries" },
    { "zset-max-ziplist-value", "zset-max-listpack-value" },
};

const char *config_alias(size_t i, const char **name)
{
    if (i >= ARRAY_SIZE(aliases))
        return NULL;
    *name = aliases[i].hidden ? NULL : aliases[i].name;
    return aliases[i].alias;
}

const char *config_check_bind(const char *v)
{
    /* Space-separated addresses, optionally prefixed by '-' (failure to bind is not fatal). */
    int n = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    if (n == 0 || n > 16)
        return "Too many bind addresses specified.";
    return NULL;
}

const char *config_check_ipv4(const char *v)
{
    uint32_t ip;
    if (v[0] == '\0' || net_ip_parse(v, &ip) == 0)
        return NULL;
    return "must be an IPv4 address like 10.0.0.1";
}

const char *config_check_ipv4_prefix(const char *v)
{
    uint32_t ip;
    unsigned len;
    if (v[0] == '\0' || net_prefix_parse(v, &ip, &len) == 0)
        return NULL;
    return "must be an IPv4 address with a prefix length like 10.0.0.2/24";
}

const char *config_check_cpus(const char *v)
{
    /* "0,2,4-7" */
    const char *p = v;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return "pollux-cpus must be a list of cpu numbers and ranges like 0,2,4-7";
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '-') {
            p++;
            if (!isdigit((unsigned char)*p))
                return "pollux-cpus must be a list of cpu numbers and ranges like 0,2,4-7";
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return "pollux-cpus must be a list of cpu numbers and ranges like 0,2,4-7";
    }
    return NULL;
}

/*
 * save: "" or pairs of "<seconds> <changes>", split at each space as Redis splits them, so
 * an empty word (leading, trailing or doubled spaces, save "" "") is refused as in Redis
 * and every value that is accepted reads back from CONFIG REWRITE as itself.
 */
const char *config_check_save(const char *v)
{
    if (v[0] == '\0')
        return NULL;
    int n = 0;
    for (const char *p = v;; n++) {
        const char *sp = strchr(p, ' ');
        size_t len = sp != NULL ? (size_t)(sp - p) : strlen(p);
        long long x;
        if (len == 0 || !util_str2ll(p, len, &x) || x < 0)
            return "Invalid save parameters";
        if (sp == NULL)
            break;
        p = sp + 1;
    }
    return n % 2 == 0 ? "Invalid save parameters" : NULL; /* n + 1 words */
}

/* Redis's isValidDBfilename: a name inside `dir`, never a path out of it. */
const char *config_check_dbfilename(const char *v)
{
    if (strchr(v, '/') != NULL || strchr(v, '\\') != NULL)
        return "dbfilename can't be a path, just a filename";
    return NULL;
}

/* ---- notify-keyspace-events ---------------------------------------------------------------- */

/* "A": every class but key misses and new keys, as Redis 7.0 has it */
#define NOTIFY_ALL                                                                                 \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET |       \
     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

static const struct {
    char c;
    int flag;
} notify_letters[] = {
    { 'g', NOTIFY_GENERIC },  { '$', NOTIFY_STRING },   { 'l', NOTIFY_LIST },
    { 's', NOTIFY_SET },      { 'h', NOTIFY_HASH },     { 'z', NOTIFY_ZSET },
    { 'x', NOTIFY_EXPIRED },  { 'e', NOTIFY_EVICTED },  { 't', NOTIFY_STREAM },
    { 'd', NOTIFY_MODULE },   { 'n', NOTIFY_NEW },      { 'K', NOTIFY_KEYSPACE },
    { 'E', NOTIFY_KEYEVENT }, { 'm', NOTIFY_KEY_MISS },
};

int config_notify_flags(const char *v)
{
    int flags = 0;
    for (; *v != '\0'; v++) {
        int f = *v == 'A' ? NOTIFY_ALL : 0;
        for (size_t i = 0; i < ARRAY_SIZE(notify_letters) && f == 0; i++)
            if (notify_letters[i].c == *v)
                f = notify_letters[i].flag;
        if (f == 0)
            return -1;
        flags |= f;
    }
    return flags;
}

void config_notify_string(int flags, bool display, char out[32])
{
    size_t n = 0;
    /* Redis's order; with "A" the class letters are not repeated, and CONFIG GET leaves out
     * n too, as redis-server 7.0 shows it (the kept form keeps it: the events go on) */
    bool all = (flags & NOTIFY_ALL) == NOTIFY_ALL;
    if (all)
        out[n++] = 'A';
    for (size_t i = 0; i < ARRAY_SIZE(notify_letters); i++) {
        bool cls = notify_letters[i].flag != NOTIFY_KEYSPACE &&
                   notify_letters[i].flag != NOTIFY_KEYEVENT &&
                   notify_letters[i].flag != NOTIFY_KEY_MISS &&
                   (display || notify_letters[i].flag != NOTIFY_NEW);
        if ((flags & notify_letters[i].flag) && !(all && cls))
            out[n++] = notify_letters[i].c;
    }
    out[n] = '\0';
}

const char *config_check_notify(const char *v)
{
    return config_notify_flags(v) < 0 ? "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                                      : NULL;
}

/* The form a parameter is kept in, as CONFIG GET shows it: v itself, or Redis's canonical
 * form of it (out, cap bytes). */
static const char *canonical(const char *name, const char *v, char *out, size_t cap)
{
    if (strcmp(name, "notify-keyspace-events") == 0 && cap >= 32) {
        int f = config_notify_flags(v);
        if (f >= 0) {
            config_notify_string(f, false, out);
            return out;
        }
    }
    return v;
}

static const char *const obuf_names[OBUF_CLASSES] = { "normal", "slave", "pubsub" };

static int obuf_class(const char *w, size_t n)
{
    if (n == 7 && strncasecmp(w, "replica", 7) == 0)
        return OBUF_REPLICA;
    for (int c = 0; c < OBUF_CLASSES; c++)
        if (strlen(obuf_names[c]) == n && strncasecmp(w, obuf_names[c], n) == 0)
            return c;
    return -1;
}

/*
 * Apply "<class> <hard> <soft> <seconds> ..." onto lim (the classes it does not
 * name keep their values, as CONFIG SET does in Redis).
 * @return NULL, or Redis's error text.
 */
static const char *obuf_apply(const char *v, struct obuf_limit lim[OBUF_CLASSES])
{
    char words[16][64];
    int n = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        const char *s = p;
        while (*p && *p != ' ')
            p++;
        if (n == 16 || (size_t)(p - s) >= sizeof(words[0]))
            return "Wrong number of arguments in buffer limit configuration.";
        memcpy(words[n], s, (size_t)(p - s));
        words[n][p - s] = '\0';
        n++;
    }
    if (n == 0 || n % 4 != 0)
        return "Wrong number of arguments in buffer limit configuration.";
    for (int i = 0; i < n; i += 4) {
        int c = obuf_class(words[i], strlen(words[i]));
        if (c < 0)
            return "Invalid client class specified in buffer limit configuration.";
        unsigned long long hard, soft, secs;
        if (!util_memtoull(words[i + 1], &hard) || !util_memtoull(words[i + 2], &soft) ||
            !util_memtoull(words[i + 3], &secs))
            return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        lim[c] = (struct obuf_limit){ hard, soft, secs };
    }
    return NULL;
}

const char *config_check_obuf(const char *v)
{
    struct obuf_limit lim[OBUF_CLASSES] = { { 0, 0, 0 } };
    return obuf_apply(v, lim);
}

int config_obuf_parse(const char *v, struct obuf_limit out[OBUF_CLASSES])
{
    memset(out, 0, sizeof(struct obuf_limit) * OBUF_CLASSES);
    return obuf_apply(v, out) == NULL ? 0 : -1;
}

/* The classes a new value names replace theirs in the current value: the full value. */
static void obuf_merge(const char *cur, const char *v, char *out, size_t cap)
{
    struct obuf_limit lim[OBUF_CLASSES];
    config_obuf_parse(cur, lim);
    obuf_apply(v, lim);
    size_t n = 0;
    for (int c = 0; c < OBUF_CLASSES && n < cap; c++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s %llu %llu %llu", c ? " " : "", obuf_names[c],
                              lim[c].hard, lim[c].soft, lim[c].soft_seconds);
}

void params_defaults(struct params *p)
{
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        param_defaults(groups[g].defs, (char *)p + groups[g].base);
}

void params_free(struct params *p)
{
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        param_free(groups[g].defs, (char *)p + groups[g].base);
}

void params_copy(struct params *dst, const struct params *src)
{
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        param_copy(groups[g].defs, (char *)dst + groups[g].base,
                   (const char *)src + groups[g].base);
}

bool params_lookup(const char *name, struct param_ref *ref)
{
    for (size_t a = 0; a < ARRAY_SIZE(aliases); a++)
        if (strcasecmp(name, aliases[a].alias) == 0)
            name = aliases[a].name;
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
        const struct param_def *d = param_find(groups[g].defs, name);
        if (d != NULL) {
            ref->def = d;
            ref->base = groups[g].base;
            return true;
        }
    }
    return false;
}

void params_foreach(void (*fn)(void *arg, const struct param_ref *ref), void *arg)
{
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
        for (const struct param_def *d = groups[g].defs; d->name != NULL; d++) {
            struct param_ref ref = { d, groups[g].base };
            fn(arg, &ref);
        }
    }
}

void config_setup(void)
{
    memset(&config, 0, sizeof(config));
    pthread_mutex_init(&config.lock, NULL);
    params_defaults(&config.p);
}

void config_teardown(void)
{
    tls_ctx_release(config.tls);
    config.tls = NULL;
    params_free(&config.p);
    mem_free(config.file);
    config.file = NULL;
    pthread_mutex_destroy(&config.lock);
}

/* Side effects some parameters have when they change. */
static int apply_hook(const struct param_ref *ref, const char *value, char *err, size_t errcap)
{
    if (strcmp(ref->def->name, "dir") == 0 && value[0] != '\0') {
        if (chdir(value) != 0) {
            snprintf(err, errcap, "%s", strerror(errno));
            return -1;
        }
    } else if (strcmp(ref->def->name, "jemalloc-bg-thread") == 0) {
        mem_background_purge(strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0);
    } else if (strcmp(ref->def->name, "requirepass") == 0) {
        acl_set_default_password(value); /* the default user's password, as Redis 7 */
    } else if (strcmp(ref->def->name, "acllog-max-len") == 0) {
        acl_log_set_max(strtoll(value, NULL, 10));
    } else if (strcmp(ref->def->name, "acl-pubsub-default") == 0) {
        acl_set_pubsub_default(strcasecmp(value, "allchannels") == 0);
    } else if (strcmp(ref->def->name, "loglevel") == 0) {
        for (int i = 0; config_loglevel_names[i] != NULL; i++)
            if (strcasecmp(config_loglevel_names[i], value) == 0)
                log_set_level((enum log_level)i);
    }
    return 0;
}

/* Join words[1..n) with spaces: multi-word values such as "save 900 1 300 10". */
static void join_words(char **words, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 1; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i > 1 ? " " : "", words[i]);
}

/* Where config_load is: for messages, and for directives whose lines add up. */
struct load_ctx {
    const char *where;
    int lineno;
    bool save_seen;   /* the first save line replaces the default, later ones add to it */
    const char *line; /* the line being read */
};

/* Redis's report of a bad line (the line as written, blanks at its end left out). */
static void load_fatal(const struct load_ctx *ctx, const char *why)
{
    size_t len = strlen(ctx->line);
    while (len > 0 && isspace((unsigned char)ctx->line[len - 1]))
        len--;
    fprintf(stderr,
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration "
            "file, at line %d\n>>> '%.*s'\n%s\n",
            ctx->lineno, (int)len, ctx->line, why);
}

/* One directive, split into words. @return 0, or -1 after a fatal message. */
static int load_words(struct load_ctx *ctx, char **words, int n)
{
    char value[8192], err[512], merged[512];
    struct param_ref ref;
    if (strcasecmp(words[0], "rename-command") == 0) {
        /* not a parameter: the command table changes, once, before anything runs */
        const char *why = "Bad directive or wrong number of arguments";
        if (n == 3 && cmd_table_rename(words[1], words[2], &why) == 0)
            return 0;
        load_fatal(ctx, why);
        return -1;
    }
    if (strcasecmp(words[0], "user") == 0) {
        /* an ACL user: "user <name> [rule ...]", as ACL SETUSER (Redis 7) */
        const char *e = "Bad directive or wrong number of arguments";
        if (n >= 2) {
            /* a user that exists (default) is reset first, as Redis loads configured users */
            const char *rules[257];
            size_t lens[257];
            int nr = 0;
            struct acl_user *old = acl_user_get(words[1], strlen(words[1]));
            if (old != NULL)
                rules[nr++] = "reset";
            acl_user_put(old);
            for (int i = 2; i < n; i++)
                rules[nr++] = words[i];
            for (int i = 0; i < nr; i++)
                lens[i] = strlen(rules[i]);
            int rc = acl_setuser(words[1], strlen(words[1]), nr, rules, lens, err, sizeof(err));
            config.users_declared = true;
            if (rc == 0)
                return 0;
            /* Redis's text: "Error in user declaration '<name>': <reason>" */
            const char *why = strstr(err, "': ") ? strstr(err, "': ") + 3 : err;
            snprintf(value, sizeof(value), "Error in user declaration '%s': %s", words[1], why);
            e = value;
        }
        load_fatal(ctx, e);
        return -1;
    }
    if (!params_lookup(words[0], &ref)) {
        log_warn("Unsupported directive '%s' in %s line %d ignored", words[0], ctx->where,
                 ctx->lineno);
        return 0;
    }
    join_words(words, n, value, sizeof(value));
    struct strbuf v;
    strbuf_setup(&v);
    if (strcmp(ref.def->name, "client-output-buffer-limit") == 0 &&
        config_check_obuf(value) == NULL) {
        obuf_merge(config.p.srv.client_output_buffer_limit, value, merged, sizeof(merged));
        strbuf_printf(&v, "%s", merged);
    } else if (strcmp(ref.def->name, "save") == 0 && ctx->save_seen && value[0] != '\0' &&
               config.p.srv.save[0] != '\0') {
        /* Like Redis: "save 900 1" lines accumulate; save "" clears. */
        strbuf_printf(&v, "%s %s", config.p.srv.save, value);
    } else {
        strbuf_printf(&v, "%s", canonical(ref.def->name, value, merged, sizeof(merged)));
    }
    if (strcmp(ref.def->name, "save") == 0)
        ctx->save_seen = true;
    int rc = 0;
    if (param_set(ref.def, params_module(&config.p, &ref), v.buf, err, sizeof(err)) != 0 ||
        apply_hook(&ref, v.buf, err, sizeof(err)) != 0) {
        load_fatal(ctx, err);
        rc = -1;
    }
    strbuf_deinit(&v);
    return rc;
}

/* One line of the file (or of the command line). @return 0, or -1 after a fatal message. */
static int load_line(struct load_ctx *ctx, const char *line)
{
    char *words[256];
    char *copy = mem_strdup(line);
    int n = args_split(copy, words, (int)ARRAY_SIZE(words));
    int rc = 0;
    ctx->line = line;
    if (n < 0) {
        load_fatal(ctx,
                   n == -EINVAL ? "Unbalanced quotes in configuration line" : "Too many arguments");
        rc = -1;
    } else if (n > 0) {
        rc = load_words(ctx, words, n);
    }
    mem_free(copy);
    return rc;
}

int config_load(const char *file, int argc, char **argv)
{
    struct load_ctx ctx = { "arguments", 0, false, NULL };
    if (file != NULL) {
        FILE *f = fopen(file, "r");
        if (f == NULL) {
            fprintf(stderr, "Fatal error, can't open config file '%s': %s\n", file,
                    strerror(errno));
            return -1;
        }
        char *abs = realpath(file, NULL);
        config.file = mem_strdup(abs ? abs : file);
        free(abs);
        char *line = NULL;
        size_t cap = 0;
        ctx.where = file;
        while (getline(&line, &cap, f) >= 0) {
            ctx.lineno++;
            if (load_line(&ctx, line) != 0) {
                free(line);
                fclose(f);
                return -1;
            }
        }
        free(line);
        fclose(f);
    }
    /* "--name v1 v2 --other v" becomes the lines "name v1 v2" and "other v". */
    int i = 0;
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            fprintf(stderr, "Invalid argument '%s': options start with --\n", argv[i]);
            return -1;
        }
        char line[8192];
        size_t len = (size_t)snprintf(line, sizeof(line), "%s", argv[i] + 2);
        i++;
        while (i < argc && !(strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0')) {
            /* Quote each value so that empty strings and spaces survive the split. */
            len += (size_t)snprintf(line + len, sizeof(line) - len, " \"");
            for (const char *p = argv[i]; *p && len + 4 < sizeof(line); p++) {
                if (*p == '"' || *p == '\\')
                    line[len++] = '\\';
                line[len++] = *p;
            }
            len += (size_t)snprintf(line + len, sizeof(line) - len, "\"");
            i++;
        }
        ctx.where = "arguments";
        ctx.lineno = 0;
        if (load_line(&ctx, line) != 0)
            return -1;
    }
    return 0;
}

static bool tls_wanted(const struct tls_params *p)
{
    return p->port != 0 || p->replication || p->cluster;
}

int config_tls_setup(void)
{
    if (!tls_wanted(&config.p.tls))
        return 0;
    char err[512];
    config.tls = tls_ctx_create(&config.p.tls, err, sizeof(err));
    if (config.tls != NULL)
        return 0;
    log_warn("%s", err);
    log_warn("Failed to configure TLS. Check logs for more info.");
    return -1;
}

/*
 * CONFIG SET of tls-* parameters (config.lock held, values validated): build
 * the context the new values describe before anything is applied, so a bad
 * file is refused and the old context stays. @return 0 with *out the new
 * context (NULL: TLS is off), or -1 with the name of the parameter to blame.
 */
static int tls_prepare(int npairs, const struct param_ref *refs, const char *const *names,
                       const char *const *values, struct tls_ctx **out, const char **blame)
{
    struct params cand;
    char why[512];
    *blame = NULL;
    memset(&cand, 0, sizeof(cand));
    params_copy(&cand, &config.p);
    for (int i = 0; i < npairs; i++) {
        if (refs[i].base != offsetof(struct params, tls))
            continue;
        param_set(refs[i].def, params_module(&cand, &refs[i]), values[i], why, sizeof(why));
        if (tls_param_affects_ctx(names[i]) && *blame == NULL)
            *blame = names[i];
    }
    int rc = 0;
    *out = NULL;
    if (tls_wanted(&cand.tls)) {
        *out = tls_ctx_create(&cand.tls, why, sizeof(why));
        if (*out == NULL) {
            log_warn("%s", why);
            log_warn("Failed applying new configuration. Possibly related to new %s setting. "
                     "Restoring previous settings.",
                     *blame);
            rc = -1;
        }
    }
    params_free(&cand);
    return rc;
}

int config_set(int npairs, const char *const *names, const char *const *values,
               bool allow_protected, char *err, size_t errcap)
{
    char why[512];
    struct param_ref refs[64];
    if (npairs > (int)ARRAY_SIZE(refs)) {
        snprintf(err, errcap, ERR_CONFIG_SET_TOO_MANY);
        return -1;
    }
    for (int i = 0; i < npairs; i++) {
        if (!params_lookup(names[i], &refs[i])) {
            snprintf(err, errcap, ERRF_CONFIG_SET_UNKNOWN, names[i]);
            return -1;
        }
    }
    pthread_mutex_lock(&config.lock);
    for (int i = 0; i < npairs; i++) {
        const char *fail = NULL;
        for (int j = 0; j < i; j++)
            if (refs[j].def == refs[i].def)
                fail = "duplicate parameter";
        if (fail == NULL && !(refs[i].def->flags & PARAM_MUTABLE))
            fail = "can't set immutable config";
        if (fail == NULL && (refs[i].def->flags & PARAM_PROTECTED) && !allow_protected)
            fail = "can't set protected config";
        if (fail == NULL && param_validate(refs[i].def, values[i], why, sizeof(why)) != 0)
            fail = why;
        if (fail != NULL) {
            pthread_mutex_unlock(&config.lock);
            snprintf(err, errcap, ERRF_CONFIG_SET_FAILED, names[i], fail);
            return -1;
        }
    }
    bool tls_changed = false;
    for (int i = 0; i < npairs; i++)
        tls_changed |= tls_param_affects_ctx(names[i]);
    struct tls_ctx *tls_new = NULL;
    const char *blame = NULL;
    if (tls_changed && tls_prepare(npairs, refs, names, values, &tls_new, &blame) != 0) {
        pthread_mutex_unlock(&config.lock);
        snprintf(err, errcap, ERRF_CONFIG_SET_FAILED, blame,
                 "Unable to update TLS configuration. Check server logs.");
        return -1;
    }
    /* Every side effect that can fail first, then the values: a refused pair leaves all of
     * them as they were (as Redis restores them). */
    for (int i = 0; i < npairs; i++) {
        if (apply_hook(&refs[i], values[i], why, sizeof(why)) != 0) {
            tls_ctx_release(tls_new);
            pthread_mutex_unlock(&config.lock);
            snprintf(err, errcap, ERRF_CONFIG_SET_FAILED, names[i], why);
            return -1;
        }
    }
    for (int i = 0; i < npairs; i++) {
        const char *v = values[i];
        char merged[512];
        if (strcmp(refs[i].def->name, "client-output-buffer-limit") == 0) {
            obuf_merge(config.p.srv.client_output_buffer_limit, v, merged, sizeof(merged));
            v = merged;
        } else {
            v = canonical(refs[i].def->name, v, merged, sizeof(merged));
        }
        param_set(refs[i].def, params_module(&config.p, &refs[i]), v, why, sizeof(why));
    }
    if (tls_changed) {
        /* workers take it when they reload; connections open keep the old one */
        tls_ctx_release(config.tls);
        config.tls = tls_new;
    }
    config.generation++;
    pthread_mutex_unlock(&config.lock);
    return 0;
}

int config_load_aclfile(void)
{
    if (config.users_declared) {
        fprintf(stderr, "Configuring Redis with users defined in redis.conf and at the same "
                        "setting an ACL file path is invalid. This setup is very likely to lead "
                        "to configuration errors and security holes, please define either an ACL "
                        "file or declare users directly in your redis.conf, but not both.\n");
        return -1;
    }
    struct strbuf err;
    strbuf_setup(&err);
    int rc = acl_load_file(config.p.srv.aclfile, &err);
    if (rc != 0)
        fprintf(stderr, "Aborting Redis startup because of ACL errors: %.*s\n", (int)err.len,
                err.buf);
    strbuf_deinit(&err);
    return rc;
}

/*
 * CONFIG REWRITE writes each parameter as redis.conf lines that read back as
 * the same value, whatever bytes it holds: strings as one quoted word with
 * Redis's escapes (so a value with a newline or a quote cannot become a
 * directive of its own), and the list-valued parameters in Redis's own forms:
 * bind and replicaof as words (each quoted when it needs it), one save line per pair, one
 * client-output-buffer-limit line per class.
 *
 * Each line is "forced" when it says something other than the default. As in
 * Redis, the lines of a parameter replace the file's lines for it one by one,
 * in order; lines left over go to the end of the file if forced; the file's
 * lines left over are dropped.
 */
struct rewrite_lines {
    struct strbuf text; /* the lines, each ending in \n */
    size_t next;        /* offset of the first line not written yet */
    uint64_t forced;    /* bit i: line i is forced */
    int n, used, written;
    bool whole; /* the lines make one value (save): once one is written, all are */
};

/* The line just printed into rl->text is complete. */
static void rewrite_end(struct rewrite_lines *rl, bool forced)
{
    strbuf_append(&rl->text, "\n", 1);
    if (forced && rl->n < 64)
        rl->forced |= 1ull << rl->n;
    rl->n++;
}

static void rewrite_build(struct rewrite_lines *rl, const struct param_ref *ref,
                          const struct params *p, const struct params *defs)
{
    const struct param_def *d = ref->def;
    const char *name = d->name;
    char buf[128], dbuf[128];
    const char *cur = param_format(d, (const char *)p + ref->base, buf, sizeof(buf), true);
    const char *def = param_format(d, (const char *)defs + ref->base, dbuf, sizeof(dbuf), true);
    bool changed = strcmp(cur, def) != 0;
    if (strcmp(name, "client-output-buffer-limit") == 0) {
        static const char *const written_names[OBUF_CLASSES] = { "normal", "replica", "pubsub" };
        struct obuf_limit lim[OBUF_CLASSES], dlim[OBUF_CLASSES];
        config_obuf_parse(cur, lim);
        config_obuf_parse(def, dlim);
        for (int c = 0; c < OBUF_CLASSES; c++) {
            char h[32], so[32];
            strbuf_printf(&rl->text, "%s %s %s %s %llu", name, written_names[c],
                          param_format_memory((long long)lim[c].hard, h, sizeof(h), true),
                          param_format_memory((long long)lim[c].soft, so, sizeof(so), true),
                          lim[c].soft_seconds);
            rewrite_end(rl, memcmp(&lim[c], &dlim[c], sizeof(lim[c])) != 0);
        }
    } else if (strcmp(name, "save") == 0) {
        rl->whole = true;
        if (cur[0] == '\0') {
            strbuf_printf(&rl->text, "save \"\"");
            rewrite_end(rl, changed);
        }
        for (const char *q = cur; *q != '\0';) {
            /* "s1 c1 s2 c2": one line per pair */
            const char *e = strchr(q, ' ');
            e = e != NULL ? strchr(e + 1, ' ') : NULL;
            size_t n = e != NULL ? (size_t)(e - q) : strlen(q);
            strbuf_printf(&rl->text, "save %.*s", (int)n, q);
            rewrite_end(rl, changed);
            q += n;
            while (*q == ' ')
                q++;
        }
    } else if (strcmp(name, "bind") == 0 || strcmp(name, "replicaof") == 0) {
        if (cur[0] == '\0')
            return;
        /* The words as the server reads them, split at each space (empty ones too, so the
         * value reads back byte for byte), each one quoted when it needs it. */
        strbuf_printf(&rl->text, "%s", name);
        for (const char *w = cur;;) {
            const char *sp = strchr(w, ' ');
            char *word = mem_strndup(w, sp != NULL ? (size_t)(sp - w) : strlen(w));
            strbuf_append(&rl->text, " ", 1);
            args_word(&rl->text, word);
            mem_free(word);
            if (sp == NULL)
                break;
            w = sp + 1;
        }
        rewrite_end(rl, changed);
    } else if (d->type == PARAM_STRING) {
        strbuf_printf(&rl->text, "%s ", name);
        args_quote(&rl->text, cur);
        rewrite_end(rl, changed);
    } else {
        strbuf_printf(&rl->text, "%s %s", name, cur);
        rewrite_end(rl, changed);
    }
}

/* Append rl's next line to out. @return false when there is none left. */
static bool rewrite_take(struct rewrite_lines *rl, struct strbuf *out, bool forced_only)
{
    while (rl->used < rl->n) {
        const char *line = rl->text.buf + rl->next;
        size_t len = (size_t)(strchr(line, '\n') - line) + 1;
        bool forced =
            rl->used >= 64 || (rl->forced >> rl->used & 1) || (rl->whole && rl->written > 0);
        rl->next += len;
        rl->used++;
        if (forced || !forced_only) {
            strbuf_append(out, line, len);
            rl->written++;
            return true;
        }
    }
    return false;
}

/* The index of a definition among all parameters. */
static int param_index(const struct param_def *d)
{
    int idx = 0;
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        for (const struct param_def *x = groups[g].defs; x->name != NULL; x++, idx++)
            if (x == d)
                return idx;
    return -1;
}

struct rewrite_state {
    struct rewrite_lines *lines; /* by param_index */
    const struct params *defs;
    struct strbuf *out;
    int idx;
};

static void build_all(void *arg, const struct param_ref *ref)
{
    struct rewrite_state *st = arg;
    struct rewrite_lines *rl = &st->lines[st->idx++];
    strbuf_setup(&rl->text);
    rewrite_build(rl, ref, &config.p, st->defs);
}

/* After the file's own lines: every forced line that found no line of the file to replace. */
static void append_rest(void *arg, const struct param_ref *ref)
{
    struct rewrite_state *st = arg;
    struct rewrite_lines *rl = &st->lines[param_index(ref->def)];
    while (rewrite_take(rl, st->out, true))
        ;
}

/* The file with the lines of config.p in place. Called with config.lock held. */
static void rewrite_text(FILE *in, struct strbuf *text)
{
    int total = 0;
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        for (const struct param_def *x = groups[g].defs; x->name != NULL; x++)
            total++;
    struct params defs;
    params_defaults(&defs);
    struct rewrite_state st = { mem_calloc((size_t)total * sizeof(*st.lines)), &defs, NULL, 0 };
    params_foreach(build_all, &st);

    char *line = NULL;
    size_t cap = 0;
    while (in != NULL && getline(&line, &cap, in) >= 0) {
        if (strncmp(line, "# Generated by CONFIG REWRITE", 29) == 0)
            continue;
        char *copy = mem_strdup(line);
        char *words[256];
        int n = args_split(copy, words, (int)ARRAY_SIZE(words));
        struct param_ref ref;
        if (n > 0 && strcasecmp(words[0], "user") == 0) {
            mem_free(copy); /* the users are written afresh below */
            continue;
        }
        if (n <= 0 || !params_lookup(words[0], &ref)) {
            strbuf_append(text, line, strlen(line));
            if (text->len > 0 && text->buf[text->len - 1] != '\n')
                strbuf_append(text, "\n", 1);
        } else {
            rewrite_take(&st.lines[param_index(ref.def)], text, false);
        }
        mem_free(copy);
    }
    free(line);

    struct strbuf tail;
    strbuf_setup(&tail);
    st.out = &tail;
    params_foreach(append_rest, &st);
    if (config.p.srv.aclfile[0] == '\0')
        acl_describe_all(&tail); /* every user, as Redis without an aclfile */
    if (tail.len > 0) {
        strbuf_printf(text, "# Generated by CONFIG REWRITE\n");
        strbuf_append(text, tail.buf, tail.len);
    }
    strbuf_deinit(&tail);
    for (int i = 0; i < total; i++)
        strbuf_deinit(&st.lines[i].text);
    mem_free(st.lines);
    params_free(&defs);
}

/*
 * CONFIG REWRITE: keep the file's comments and unknown lines, put each known
 * parameter's lines in place of its old ones and the other changed parameters
 * at the end under a marker line, as Redis does. The new file replaces the old
 * one by rename, so a crash leaves one or the other.
 */
int config_rewrite(char *err, size_t errcap)
{
    if (config.file == NULL) {
        snprintf(err, errcap, ERR_NO_CONFIG_FILE);
        return -1;
    }
    struct strbuf text;
    strbuf_setup(&text);
    FILE *in = fopen(config.file, "r");
    pthread_mutex_lock(&config.lock);
    rewrite_text(in, &text);
    pthread_mutex_unlock(&config.lock);
    if (in)
        fclose(in);

    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", config.file, (int)getpid());
    FILE *out = fopen(tmp, "w");
    int rc = out != NULL ? 0 : -errno;
    if (out != NULL && (fwrite(text.buf, 1, text.len, out) != text.len || fflush(out) != 0 ||
                        fsync(fileno(out)) != 0))
        rc = -errno;
    if (out != NULL && fclose(out) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, config.file) != 0)
        rc = -errno;
    if (rc != 0) {
        snprintf(err, errcap, ERRF_CONFIG_REWRITE, strerror(-rc));
        unlink(tmp);
        rc = -1;
    }
    strbuf_deinit(&text);
    return rc;
}
