#include "control/group.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool ctl_name_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok)
            return false;
        if (c == '-' && (i + 1 == n || s[i + 1] == '-'))
            return false;
    }
    return true;
}

/* A node's fitness for group `group_id`: free or already a member of it. */
static int member_check(const char *group_id, const struct ctl_node *n, int port, char *err,
                        size_t errlen)
{
    if (n->group[0] && strcmp(n->group, group_id) != 0) {
        snprintf(err, errlen,
                 "InvalidParameterCombination node %s already belongs to "
                 "replication group %s",
                 n->id, n->group);
        return -EINVAL;
    }
    if (port && n->port != port) {
        snprintf(err, errlen, "InvalidParameterCombination node %s listens on port %d, not %d",
                 n->id, n->port, port);
        return -EINVAL;
    }
    return 0;
}

int ctl_token_check(const char *t, char *err, size_t errlen)
{
    size_t n = strlen(t);
    bool ok = n >= CTL_TOKEN_MIN && n < CTL_TOKEN_MAX;
    for (size_t i = 0; i < n && ok; i++)
        ok = t[i] > ' ' && t[i] <= '~' && t[i] != '"' && t[i] != '/' && t[i] != '@';
    if (ok)
        return 0;
    snprintf(err, errlen,
             "InvalidParameterValue an auth token is %d to %d printable characters without "
             "spaces, '\"', '/' or '@'",
             CTL_TOKEN_MIN, CTL_TOKEN_MAX - 1);
    return -EINVAL;
}

int ctl_group_check(const char *group_id, const struct ctl_node *primary,
                    const struct ctl_node *const *replicas, int nreplicas, bool multi_az, int port,
                    char *err, size_t errlen)
{
    if (primary == NULL) {
        snprintf(err, errlen, "InvalidParameterValue a primary node is required");
        return -EINVAL;
    }
    if (nreplicas > CTL_MAX_REPLICAS) {
        snprintf(err, errlen,
                 "NodeQuotaForClusterExceeded a replication group has at most %d "
                 "replicas, %d given",
                 CTL_MAX_REPLICAS, nreplicas);
        return -EINVAL;
    }
    int rc = member_check(group_id, primary, port, err, errlen);
    if (rc)
        return rc;
    bool other_zone = false;
    for (int i = 0; i < nreplicas; i++) {
        const struct ctl_node *r = replicas[i];
        if (r == NULL) {
            snprintf(err, errlen, "InvalidParameterValue replica %d is not a registered node",
                     i + 1);
            return -EINVAL;
        }
        if (strcmp(r->id, primary->id) == 0) {
            snprintf(err, errlen,
                     "InvalidParameterCombination node %s cannot be both the "
                     "primary and a replica",
                     r->id);
            return -EINVAL;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(replicas[j]->id, r->id) == 0) {
                snprintf(err, errlen, "InvalidParameterCombination node %s is listed twice", r->id);
                return -EINVAL;
            }
        }
        if ((rc = member_check(group_id, r, port, err, errlen)) != 0)
            return rc;
        if (strcmp(r->az, primary->az) != 0)
            other_zone = true;
    }
    if (multi_az && nreplicas == 0) {
        snprintf(err, errlen, "InvalidParameterCombination Multi-AZ needs at least one replica");
        return -EINVAL;
    }
    if (multi_az && !other_zone) {
        snprintf(err, errlen,
                 "InvalidParameterCombination Multi-AZ needs a replica outside the "
                 "primary's availability zone %s",
                 primary->az);
        return -EINVAL;
    }
    return 0;
}

int ctl_failover_choose(const struct ctl_candidate *c, int n)
{
    int best = -ENOENT;
    for (int i = 0; i < n; i++) {
        if (!c[i].reachable || c[i].priority == 0)
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        const struct ctl_candidate *b = &c[best];
        if (c[i].offset != b->offset) {
            if (c[i].offset > b->offset)
                best = i;
        } else if (c[i].priority != b->priority) {
            if (c[i].priority < b->priority)
                best = i;
        } else if (strcmp(c[i].id, b->id) < 0) {
            best = i;
        }
    }
    return best;
}

enum ctl_down_verdict ctl_primary_down(const struct ctl_down_facts *f)
{
    if (f->failures < 2 || f->now_ns < f->last_answer_ns + f->down_after_ns)
        return CTL_DOWN_NO;
    if (f->observers == 0 || f->agree * 2 <= f->observers)
        return CTL_DOWN_DISPUTED;
    if (f->now_ns < f->settle_until_ns)
        return CTL_DOWN_SETTLING;
    return CTL_DOWN_YES;
}
