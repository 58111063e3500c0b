/*
 * Health checks, reconciliation and failover.
 *
 * The health engine probes every registered node (PING and INFO replication) over its
 * non-blocking link, and drives each replication group towards its desired state in the
 * store: the primary is a primary (REPLICAOF NO ONE), every replica follows the primary
 * (REPLICAOF host port), every node carries its parameter group's values (CONFIG SET). A
 * Multi-AZ group whose primary stays unreachable past the threshold, and whose replicas agree
 * that their links to it are down, gets a new primary: the reachable replica with the highest
 * offset (replica-priority 0 excluded); one failover at a time, then a settle period. The decision
 * is committed to the store first; the node commands follow from it, so a restart of pollux-control
 * in the middle of a failover finishes the same failover. An old primary that returns is a replica
 * in the desired state and is repointed (and its clients disconnected) before anything else: it is
 * fenced, never a second primary.
 *
 * Everything runs on the event loop's thread; nothing here blocks.
 */
#ifndef POLLUX_CTL_HEALTH_H
#define POLLUX_CTL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/node_info.h"
#include "control/loop.h"
#include "control/state.h"

struct ctl_health_opts {
    int probe_interval_ms; /* time between probes of one node */
    int down_after_ms;     /* primary unreachable this long: failover */
    int timeout_ms;        /* a command to a node that takes longer has failed */
    int pause_ms;          /* test-failover: how long writes on the old primary are paused */
    int settle_ms;         /* after a failover, no automatic one of the same group this long */
};

#define CTL_HEALTH_DEFAULTS                                                                        \
    {                                                                                              \
        100, 1000, 500, 2000, 10000                                                                \
    }

/* Publish a Sentinel-style event ("+switch-master", "rg1 127.0.0.1 7001 127.0.0.1 7002"). */
typedef void (*ctl_health_publish_fn)(void *ctx, const char *channel, const char *message);

/* What the engine currently knows of one node. */
struct ctl_node_view {
    bool probed;               /* answered at least once since pollux-control started */
    bool up;                   /* the last probe succeeded */
    int64_t down_ms;           /* how long it has not answered (0 when up) */
    bool applying;             /* parameter values still to be applied */
    struct ctl_repl_info info; /* from the last successful INFO */
    /* Why it is unreachable when it refused pollux-control's password ("NOAUTH ...",
     * "WRONGPASS ..."); "" otherwise. */
    char auth_error[160];
};

struct ctl_health;

struct ctl_health *ctl_health_create(struct ctl_loop *loop, struct ctl_state *st,
                                     const struct ctl_health_opts *opts,
                                     ctl_health_publish_fn publish, void *publish_ctx);
void ctl_health_destroy(struct ctl_health *h);

/* Re-read nodes and groups from the store (after any committed change). */
void ctl_health_reload(struct ctl_health *h);

/* The values of parameter group `pg` changed: apply them to every node that uses it. */
void ctl_health_params_changed(struct ctl_health *h, const char *pg);

/* Probe, reconcile and time out; call often (every few milliseconds is fine). */
void ctl_health_tick(struct ctl_health *h, uint64_t now_ns);

/* @return 0 with *out; -ENOENT for an unknown node. */
int ctl_health_node_view(struct ctl_health *h, const char *node_id, struct ctl_node_view *out);

/*
 * Start a test failover of a healthy group: pause writes on the primary, wait until the
 * chosen replica (target, or the best one when NULL) has caught up, promote it, repoint the
 * rest. Returns when it has started; describe-events tells when it completed.
 * @return 0; -EINVAL (not possible now: reason in err, starting with the fault name).
 */
int ctl_health_test_failover(struct ctl_health *h, const char *group, const char *target, char *err,
                             size_t errlen);

/*
 * Reboot a node: apply the requires-reboot values it is pending (see NOTES.md for what a
 * reboot is with nodes that are driven only through their API).
 * @return 0; -EINVAL with the reason in err.
 */
int ctl_health_reboot(struct ctl_health *h, const char *node_id, char *err, size_t errlen);

/*
 * Whether the group's primary is reachable and every replica is reachable, follows the
 * primary and reports its replication link up (the group is shown "degraded" otherwise).
 */
bool ctl_health_group_linked(struct ctl_health *h, const char *group);

/* Whether a failover of the group is in progress (a test one included). */
bool ctl_health_failover_active(struct ctl_health *h, const char *group);

#endif
