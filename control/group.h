/*
 * Rules of replication groups, as pure functions over state rows: what a valid group is
 * (members, zones, sizes), which replica a failover promotes, and what ids look like.
 * Error texts start with the ElastiCache fault name, which the API returns as the error code.
 */
#ifndef POLLUX_CTL_GROUP_H
#define POLLUX_CTL_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/state.h"

/*
 * Whether `s` is a valid resource id: 1 to `max` characters, letters, digits and hyphens,
 * starting with a letter, not ending with a hyphen, no two consecutive hyphens.
 */
bool ctl_name_valid(const char *s, size_t max);

/*
 * Whether `t` is a valid node password (auth token), as ElastiCache's AuthToken: 16 to 128
 * printable ASCII characters, none of them a space, '"', '/' or '@' (so it survives a
 * redis.conf line and a URL).
 * @return 0; -EINVAL with the reason in err (starting with the fault name).
 */
int ctl_token_check(const char *t, char *err, size_t errlen);

/*
 * Check a proposed membership of group `group_id`: the primary and the replicas are
 * registered (non-NULL), all distinct, at most CTL_MAX_REPLICAS replicas, none in another
 * group; with `multi_az`, at least one replica is in a zone other than the primary's; with
 * port != 0 every node listens on it.
 * @return 0; -EINVAL with the reason in err.
 */
int ctl_group_check(const char *group_id, const struct ctl_node *primary,
                    const struct ctl_node *const *replicas, int nreplicas, bool multi_az, int port,
                    char *err, size_t errlen);

/* A replica considered for promotion. */
struct ctl_candidate {
    const char *id;
    bool reachable;   /* answered a probe since the primary was lost (or, for test-failover, now) */
    long long offset; /* its replication offset */
    int priority;     /* replica-priority: 0 never promoted, lower preferred */
};

/*
 * The replica to promote: reachable, priority not 0, the highest offset; ties go to the lower
 * priority, then to the smaller id, so every run decides the same.
 * @return its index, or -ENOENT when no replica qualifies.
 */
int ctl_failover_choose(const struct ctl_candidate *c, int n);

/* What the health engine knows when it asks whether a group's primary is down. */
struct ctl_down_facts {
    uint64_t now_ns;
    uint64_t down_after_ns;  /* the window */
    uint64_t last_answer_ns; /* the primary's last reply to a probe, a late one included */
    int failures;  /* probes failed since then: refused, reset, or unanswered all window */
    int observers; /* replicas of it that answered a probe after last_answer_ns */
    int agree;     /* of those, how many report their link to it down */
    uint64_t settle_until_ns; /* no automatic failover before (hysteresis after a failover) */
};

enum ctl_down_verdict {
    CTL_DOWN_NO,       /* it answers, or has not failed long enough */
    CTL_DOWN_DISPUTED, /* it does not answer us, but its replicas still see it */
    CTL_DOWN_SETTLING, /* down, but the group failed over too recently */
    CTL_DOWN_YES,      /* fail over */
};

/*
 * Whether a primary is down. A primary is down when no probe has been answered for the whole
 * window, at least two probes failed in it (so one missed probe, or pollux-control itself
 * being starved of CPU, is not enough), and a majority of its replicas that answered since
 * agree that their link to it is down (a process that is slow or paused keeps its replication
 * links up; a dead one does not). Even then no automatic failover starts before
 * settle_until_ns.
 */
enum ctl_down_verdict ctl_primary_down(const struct ctl_down_facts *f);

#endif
