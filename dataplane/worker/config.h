/*
 * Server parameters and the configuration they come from.
 *
 * The master copy of all parameters (server + store) lives here behind a
 * mutex that only configuration paths take (start, CONFIG GET/SET/REWRITE).
 * Each worker keeps its own copy and reloads it when it receives a PARAMS
 * message, so hot paths read plain fields of their own memory.
 *
 * The file format is redis.conf's; names are Redis's; `pollux-*` directives
 * cover what Redis has no name for. Unknown directives are accepted with one
 * warning line, so an existing redis.conf loads.
 */
#ifndef POLLUX_CONFIG_H
#define POLLUX_CONFIG_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include "base/cidr.h"
#include "net/net.h"
#include "base/param.h"
#include "net/pktio.h"
#include "replication/repl.h"
#include "store/store.h"
#include "tls/tls.h"
#include "cmd/coll.h"

extern const char *const config_loglevel_names[];
extern const char *const config_acl_pubsub_names[]; /* resetchannels, allchannels */
extern const char *const config_backend_names[];
extern const char *const config_yesno_names[];
extern const char *const config_supervised_names[];
/*
 * enable-protected-configs, enable-debug-command, enable-module-command: Redis 7's
 * values, in its order (no, yes, local = only from a loopback client).
 */
extern const char *const config_protected_names[];
enum config_protected { CONFIG_PROTECTED_NO, CONFIG_PROTECTED_YES, CONFIG_PROTECTED_LOCAL };
/* supervised: Redis's order of names */
enum config_supervised {
    CONFIG_SUPERVISED_UPSTART,
    CONFIG_SUPERVISED_SYSTEMD,
    CONFIG_SUPERVISED_AUTO,
    CONFIG_SUPERVISED_NO,
};

const char *config_check_bind(const char *v);
const char *config_check_cpus(const char *v);
const char *config_check_save(const char *v);
const char *config_check_obuf(const char *v);
/* notify-keyspace-events: Redis's letters as NOTIFY_* flags (cmd/cmd.h), -1 for a letter it
 * does not know; and the flags as CONFIG GET shows them (Redis's order, "A" for the lot). */
int config_notify_flags(const char *v);
void config_notify_string(int flags, bool display, char out[32]);
const char *config_check_notify(const char *v);
const char *config_check_dbfilename(const char *v);
/* latency-tracking-info-percentiles (worker/latency.c) */
const char *config_check_percentiles(const char *v);

/* client-output-buffer-limit, per class: hard limit, soft limit (bytes), soft seconds. */
enum obuf_class { OBUF_NORMAL = 0, OBUF_REPLICA, OBUF_PUBSUB, OBUF_CLASSES };
struct obuf_limit {
    unsigned long long hard, soft, soft_seconds;
};
/* Parse a full client-output-buffer-limit value. @return 0, or -1 when malformed. */
int config_obuf_parse(const char *v, struct obuf_limit out[OBUF_CLASSES]);

#define SERVER_PARAMS(X)                                                                           \
    X(port, "port", INT, 6379, 0, 65535, 0, NULL)                                                  \
    X(bind, "bind", STRING, "127.0.0.1 -::1", 0, 0, 0, config_check_bind)                          \
    X(tcp_backlog, "tcp-backlog", INT, 511, 0, INT_MAX, 0, NULL)                                   \
    X(timeout, "timeout", INT, 0, 0, INT_MAX, PARAM_MUTABLE, NULL)                                 \
    X(tcp_keepalive, "tcp-keepalive", INT, 300, 0, INT_MAX, PARAM_MUTABLE, NULL)                   \
    X(maxclients, "maxclients", INT, 10000, 1, INT_MAX, PARAM_MUTABLE, NULL)                       \
    X(proto_max_bulk_len, "proto-max-bulk-len", MEMORY, 512LL * 1024 * 1024, 1024 * 1024,          \
      LLONG_MAX, PARAM_MUTABLE, NULL)                                                              \
    X(client_query_buffer_limit, "client-query-buffer-limit", MEMORY, 1024LL * 1024 * 1024,        \
      1024 * 1024, LLONG_MAX, PARAM_MUTABLE, NULL)                                                 \
    X(requirepass, "requirepass", STRING, "", 0, 0, PARAM_MUTABLE | PARAM_SENSITIVE, NULL)         \
    X(aclfile, "aclfile", STRING, "", 0, 0, 0, NULL)                                               \
    X(acllog_max_len, "acllog-max-len", INT, 128, 0, LONG_MAX, PARAM_MUTABLE, NULL)                \
    X(acl_pubsub_default, "acl-pubsub-default", ENUM, 0, 0, 0, PARAM_MUTABLE,                      \
      config_acl_pubsub_names)                                                                     \
    X(loglevel, "loglevel", ENUM, 2, 0, 0, PARAM_MUTABLE, config_loglevel_names)                   \
    X(logfile, "logfile", STRING, "", 0, 0, 0, NULL)                                               \
    X(daemonize, "daemonize", BOOL, 0, 0, 1, 0, NULL)                                              \
    X(pidfile, "pidfile", STRING, "", 0, 0, 0, NULL)                                               \
    X(supervised, "supervised", ENUM, CONFIG_SUPERVISED_NO, 0, 0, 0, config_supervised_names)      \
    X(hz, "hz", INT, 10, 0, INT_MAX, PARAM_MUTABLE, NULL)                                          \
    X(dynamic_hz, "dynamic-hz", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                                \
    X(slowlog_log_slower_than, "slowlog-log-slower-than", INT, 10000, -1, LLONG_MAX,               \
      PARAM_MUTABLE, NULL)                                                                         \
    X(slowlog_max_len, "slowlog-max-len", INT, 128, 0, LONG_MAX, PARAM_MUTABLE, NULL)              \
    X(save, "save", STRING, "3600 1 300 100 60 10000", 0, 0, PARAM_MUTABLE, config_check_save)     \
    X(appendonly, "appendonly", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)                                \
    X(dir, "dir", STRING, "", 0, 0, PARAM_MUTABLE | PARAM_PROTECTED, NULL)                         \
    X(dbfilename, "dbfilename", STRING, "dump.rdb", 0, 0, PARAM_MUTABLE | PARAM_PROTECTED,         \
      config_check_dbfilename)                                                                     \
    X(enable_protected_configs, "enable-protected-configs", ENUM, CONFIG_PROTECTED_NO, 0, 0, 0,    \
      config_protected_names)                                                                      \
    X(enable_debug_command, "enable-debug-command", ENUM, CONFIG_PROTECTED_NO, 0, 0, 0,            \
      config_protected_names)                                                                      \
    X(enable_module_command, "enable-module-command", ENUM, CONFIG_PROTECTED_NO, 0, 0, 0,          \
      config_protected_names)                                                                      \
    X(protected_mode, "protected-mode", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                        \
    X(io_threads, "io-threads", INT, 1, 1, 128, 0, NULL)                                           \
    X(notify_keyspace_events, "notify-keyspace-events", STRING, "", 0, 0, PARAM_MUTABLE,           \
      config_check_notify)                                                                         \
    X(latency_tracking, "latency-tracking", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                    \
    X(latency_tracking_info_percentiles, "latency-tracking-info-percentiles", STRING,              \
      "50 99 99.9", 0, 0, PARAM_MUTABLE, config_check_percentiles)                                 \
    X(latency_monitor_threshold, "latency-monitor-threshold", INT, 0, 0, LLONG_MAX, PARAM_MUTABLE, \
      NULL)                                                                                        \
    X(busy_reply_threshold, "busy-reply-threshold", INT, 5000, 0, LLONG_MAX, PARAM_MUTABLE, NULL)  \
    X(activedefrag, "activedefrag", BOOL, 0, 0, 1, PARAM_MUTABLE, NULL)                            \
    X(activerehashing, "activerehashing", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                      \
    X(tracking_table_max_keys, "tracking-table-max-keys", INT, 1000000, 0, LLONG_MAX,              \
      PARAM_MUTABLE, NULL)                                                                         \
    X(jemalloc_bg_thread, "jemalloc-bg-thread", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                \
    X(client_output_buffer_limit, "client-output-buffer-limit", STRING,                            \
      "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0, 0, PARAM_MUTABLE,  \
      config_check_obuf)                                                                           \
    X(pollux_workers, "pollux-workers", INT, 0, 0, MAX_WORKERS, 0, NULL)                           \
    X(pollux_cpus, "pollux-cpus", STRING, "", 0, 0, 0, config_check_cpus)                          \
    X(pollux_idle_sleep_us, "pollux-idle-sleep-us", INT, 0, 0, 1000000, PARAM_MUTABLE, NULL)       \
    X(pollux_backend, "pollux-backend", ENUM, 0, 0, 0, 0, config_backend_names)                    \
    X(pollux_allow_sources, "pollux-allow-sources", STRING, "", 0, 0, PARAM_MUTABLE,               \
      cidr_list_check)

PARAM_STRUCT(server_params, SERVER_PARAMS);
extern const struct param_def server_param_defs[];

const char *config_check_ipv4_prefix(const char *v);
const char *config_check_ipv4(const char *v);

/*
 * The DPDK backend (pollux-backend dpdk): the EAL, the port and the address
 * of the userspace stack. pollux-dpdk-args is passed to the EAL as it is; the
 * other EAL directives are a structured way to say the usual things.
 */
#define DPDK_PARAMS(X)                                                                             \
    X(args, "pollux-dpdk-args", STRING, "", 0, 0, 0, NULL)                                         \
    X(vdev, "pollux-dpdk-vdev", STRING, "", 0, 0, 0, NULL)                                         \
    X(allow, "pollux-dpdk-allow", STRING, "", 0, 0, 0, NULL)                                       \
    X(memory_mb, "pollux-dpdk-memory-mb", INT, 0, 0, 1048576, 0, NULL)                             \
    X(no_huge, "pollux-dpdk-no-huge", BOOL, 0, 0, 1, 0, NULL)                                      \
    X(in_memory, "pollux-dpdk-in-memory", BOOL, 0, 0, 1, 0, NULL)                                  \
    X(file_prefix, "pollux-dpdk-file-prefix", STRING, "", 0, 0, 0, NULL)                           \
    X(port, "pollux-dpdk-port", INT, 0, 0, 63, 0, NULL)                                            \
    X(mtu, "pollux-dpdk-mtu", INT, 1500, 576, 9000, 0, NULL)                                       \
    X(mbufs, "pollux-dpdk-mbufs", INT, 8191, 1023, 1048575, 0, NULL)                               \
    X(rx_desc, "pollux-dpdk-rx-desc", INT, 1024, 64, 32768, 0, NULL)                               \
    X(tx_desc, "pollux-dpdk-tx-desc", INT, 1024, 64, 32768, 0, NULL)                               \
    X(ip, "pollux-dpdk-ip", STRING, "", 0, 0, 0, config_check_ipv4_prefix)                         \
    X(gateway, "pollux-dpdk-gateway", STRING, "", 0, 0, 0, config_check_ipv4)

PARAM_STRUCT(dpdk_params, DPDK_PARAMS);
extern const struct param_def dpdk_param_defs[];

/* Every parameter, by module. */
struct params {
    struct server_params srv;
    struct store_params store;
    struct repl_params repl;
    struct net_params net;           /* pollux-net-*: the userspace stack */
    struct pktio_fault_params fault; /* pollux-net-fault-*: fault injection under the stack */
    struct dpdk_params dpdk;
    struct tls_params tls;   /* tls-*: dataplane/tls */
    struct coll_params coll; /* collection encodings: cmd/coll.h */
};

void params_defaults(struct params *p);
void params_free(struct params *p);
void params_copy(struct params *dst, const struct params *src);

/* A parameter found by name: its definition and the sub-struct it lives in. */
struct param_ref {
    const struct param_def *def;
    size_t base; /* offset of the module's struct in struct params */
};
bool params_lookup(const char *name, struct param_ref *ref);
/* Iterate all parameters: call fn for each (name order of the tables). */
void params_foreach(void (*fn)(void *arg, const struct param_ref *ref), void *arg);
/* The i-th old name Redis still accepts (slave-read-only, lua-time-limit ...), NULL past the
 * last; *name is the parameter it stands for (NULL when CONFIG GET does not list it). */
const char *config_alias(size_t i, const char **name);
static inline void *params_module(struct params *p, const struct param_ref *ref)
{
    return (char *)p + ref->base;
}

/* The master copy. */
struct config {
    bool users_declared; /* the config had user lines (refused together with aclfile) */
    pthread_mutex_t lock;
    struct params p;
    char *file; /* absolute path of the config file, or NULL */
    unsigned generation;
    /* built from p.tls when tls-port or tls-replication is on, else NULL; workers take
     * their reference to it under the lock (worker_reload_params) */
    struct tls_ctx *tls;
};
extern struct config config;

void config_setup(void);
void config_teardown(void);

/*
 * Load a redis.conf-style file and then `--name value` arguments (applied in
 * that order, later lines win), into config.p.
 * @return 0, or -1 with a message already printed to stderr (Redis's
 *         "*** FATAL CONFIG FILE ERROR ***" form).
 */
int config_load(const char *file, int argc, char **argv);

/*
 * CONFIG SET: validate all name/value pairs, then apply them all to the
 * master copy. A PARAM_PROTECTED parameter (dir, dbfilename: where SAVE
 * writes) is refused unless `allow_protected` (the client passes
 * enable-protected-configs, see config_protected_allows). On error nothing
 * is applied and err holds Redis's text.
 * @return 0 or -1.
 */
int config_set(int npairs, const char *const *names, const char *const *values,
               bool allow_protected, char *err, size_t errcap);

/*
 * Whether a setting of config_protected_names (enable-protected-configs,
 * enable-debug-command, enable-module-command) lets a client through: `yes`
 * always, `local` when the client is local (its address is 127.0.0.1 or ::1,
 * as Redis 7's islocalClient), `no` never.
 */
static inline bool config_protected_allows(long long setting, bool local)
{
    return setting == CONFIG_PROTECTED_YES || (setting == CONFIG_PROTECTED_LOCAL && local);
}

/*
 * Build the TLS context the parameters ask for (none without tls-port and
 * tls-replication). @return 0, or -1 with the reason logged (Redis's lines).
 */
int config_tls_setup(void);

/*
 * aclfile at start: the users come from it, never from user lines as well.
 * @return 0, or -1 with Redis's message printed.
 */
int config_load_aclfile(void);

/* CONFIG REWRITE. @return 0 or -1 with err set. */
int config_rewrite(char *err, size_t errcap);

#endif
