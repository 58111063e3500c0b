/*
 * The node as the server commands in cmd/ see it (CONFIG, INFO, SLOWLOG,
 * SHUTDOWN, SELECT, ACL LOAD/SAVE): narrow calls into the machinery the
 * worker keeps (worker/cmd_node.c), so a handler parses and replies while the
 * parameters, the workers' counters and slow logs stay the worker's.
 *
 * Calls marked "every shard held" read or write every worker's memory: only
 * a handler whose row routes `all` may make them.
 */
#ifndef POLLUX_CMD_NODE_H
#define POLLUX_CMD_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cmd_ctx;
struct reply;
struct resp_arg;
struct strbuf;

/* The Redis version Pollux is compatible with (HELLO, INFO, the replication handshake). */
#define SERVER_REDIS_VERSION "7.0.15"
#define POLLUX_VERSION       "0.1.0"

/* `databases`, as the worker running c has it. */
int node_databases(const struct cmd_ctx *c);
/* `aclfile`, "" when none. */
const char *node_aclfile(const struct cmd_ctx *c);

/* SHUTDOWN: save (1), do not (0) or per the save schedule (-1), then stop the process. */
void node_shutdown(int save);
/* CLIENT PAUSE until end_ms (unix ms), every command (all) or the writes; CLIENT UNPAUSE. */
void node_client_pause(int64_t now_ms, int64_t end_ms, bool all);
void node_client_unpause(void);

/* INFO text for the given sections (every shard held). */
void node_info(struct strbuf *s, int nsections, const struct resp_arg *sections, int64_t now_ms);
/* CONFIG RESETSTAT: every worker's and store's counters to zero (every shard held). */
void node_reset_stats(void);

/* SLOWLOG (every shard held): the merged logs, newest first, at most count entries. */
void node_slowlog_reply(struct reply *r, long long count);
long long node_slowlog_len(void);
void node_slowlog_reset(void);

/*
 * LATENCY (every shard held), over every worker's event series and command histograms:
 * LATEST's and HISTORY's replies (an unknown event has no samples), GRAPH's and DOCTOR's
 * text (GRAPH: -1 when the event has no samples), RESET of the named events (all when
 * n is 0) returning how many had samples, HISTOGRAM's reply for the named commands (all
 * when n is 0).
 */
void node_latency_latest(struct reply *r);
void node_latency_history(struct reply *r, const char *event, size_t len);
int node_latency_graph(struct strbuf *s, const char *event, size_t len);
void node_latency_doctor(struct strbuf *s);
long long node_latency_reset(int n, const struct resp_arg *events);
void node_latency_histogram(struct reply *r, int n, const struct resp_arg *names);

/* PUBSUB CHANNELS / SHARDCHANNELS (pattern NULL: all), NUMSUB / SHARDNUMSUB, and the
 * number of distinct names of a kind (NUMPAT): every shard held. */
void node_pubsub_channels(struct reply *r, int kind, const struct resp_arg *pattern);
void node_pubsub_numsub(struct reply *r, int kind, const struct resp_arg *names, int n);
long long node_pubsub_distinct(int kind);

/* CONFIG GET: a map of the parameters matching any pattern, each once. */
void node_config_get(struct reply *r, int npatterns, const struct resp_arg *patterns);
/*
 * CONFIG SET of npairs name/value pairs, all or none, then every worker's
 * copy (every shard held). Protected configs need a local client when
 * enable-protected-configs says so. @return 0, or -1 with the error in err.
 */
int node_config_set(const struct cmd_ctx *c, int npairs, const char *const *names,
                    const char *const *values, char *err, size_t errcap);
/* CONFIG REWRITE. @return 0, or -1 with the error in err. */
int node_config_rewrite(char *err, size_t errcap);

#endif
