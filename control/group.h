/*
 * Rules of replication groups, as pure functions over state rows: what a valid group is
 * (members, zones, sizes), which replica a failover promotes, and what ids look like.
 * Error texts start with the ElastiCache fault name, which the API returns as the error code.
 */
#ifndef POLLUX_CTL_GROUP_H
#define POLLUX_CTL_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"

/*
 * Whether `s` is a valid resource id: 1 to `max` characters, letters, digits and hyphens,
 * starting with a letter, not ending with a hyphen, no two consecutive hyphens.
 */
bool ctl_name_valid(const char *s, size_t max);

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

#endif
