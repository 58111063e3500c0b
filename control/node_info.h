/* Parsing of a node's INFO replication text into the fields the health checker uses. */
#ifndef POLLUX_CTL_NODE_INFO_H
#define POLLUX_CTL_NODE_INFO_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_INFO_MAX_REPLICAS 16

enum ctl_seen_role { CTL_SEEN_UNKNOWN = 0, CTL_SEEN_MASTER, CTL_SEEN_REPLICA };

struct ctl_info_replica { /* one slaveN line of a primary */
    char ip[64];
    int port;
    bool online;
    long long offset;
    long long lag; /* seconds */
};

struct ctl_repl_info {
    enum ctl_seen_role role;
    /* as a replica */
    char master_host[256];
    int master_port;
    bool link_up;
    bool sync_in_progress;
    long long replica_offset; /* slave_repl_offset */
    int priority;             /* slave_priority / replica-priority (100 when absent) */
    long long last_io_seconds;
    long long apply_errors;     /* master_apply_errors: stream commands it failed to apply */
    char last_apply_error[160]; /* master_last_apply_error (empty when absent) */
    /* both */
    long long master_offset; /* master_repl_offset */
    char replid[48];
    /* as a primary */
    int nreplicas;
    struct ctl_info_replica replicas[CTL_INFO_MAX_REPLICAS];
};

/*
 * Parse INFO text (any sections; only replication fields are read; lines end in CRLF or LF).
 * @return 0; -EINVAL when no role line is present.
 */
int ctl_info_parse(const char *text, size_t len, struct ctl_repl_info *out);

/*
 * The run_id line of INFO server text: the server process's identity (40 hex digits, new at
 * every start), which tells one server reached under two addresses apart from two servers.
 * @return 0 with out (NUL-terminated); -EINVAL when there is no well-formed run_id.
 */
#define CTL_RUN_ID_LEN 40
int ctl_info_run_id(const char *text, size_t len, char out[CTL_RUN_ID_LEN + 1]);

/* The replication offset that orders failover candidates: a replica's own, else the master's. */
long long ctl_info_offset(const struct ctl_repl_info *i);

#endif
