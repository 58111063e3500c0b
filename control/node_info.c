#include "control/node_info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static bool to_ll(const char *v, size_t n, long long *out)
{
    return util_str2ll(v, n, out);
}

/* slaveN:ip=127.0.0.1,port=7002,state=online,offset=123,lag=0 */
static void parse_replica(const char *v, size_t n, struct ctl_info_replica *r)
{
    memset(r, 0, sizeof(*r));
    const char *end = v + n;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *fe = comma ? comma : end;
        const char *eq = memchr(v, '=', (size_t)(fe - v));
        if (eq) {
            size_t kl = (size_t)(eq - v), vl = (size_t)(fe - eq - 1);
            const char *val = eq + 1;
            long long x;
            if (kl == 2 && memcmp(v, "ip", 2) == 0)
                snprintf(r->ip, sizeof(r->ip), "%.*s", (int)vl, val);
            else if (kl == 4 && memcmp(v, "port", 4) == 0 && to_ll(val, vl, &x))
                r->port = (int)x;
            else if (kl == 5 && memcmp(v, "state", 5) == 0)
                r->online = vl == 6 && memcmp(val, "online", 6) == 0;
            else if (kl == 6 && memcmp(v, "offset", 6) == 0 && to_ll(val, vl, &x))
                r->offset = x;
            else if (kl == 3 && memcmp(v, "lag", 3) == 0 && to_ll(val, vl, &x))
                r->lag = x;
        }
        v = fe + 1;
    }
}

static bool key_is(const char *k, size_t kl, const char *want)
{
    return strlen(want) == kl && memcmp(k, want, kl) == 0;
}

/* Call fn(key, value) for every "key:value" line of INFO text (CRLF or LF lines). */
typedef bool (*field_fn)(void *ctx, const char *k, size_t kl, const char *v, size_t vl);

static void each_field(const char *text, size_t len, field_fn fn, void *ctx)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *lend = (le > p && le[-1] == '\r') ? le - 1 : le;
        const char *colon = memchr(p, ':', (size_t)(lend - p));
        if (colon && *p != '#' &&
            !fn(ctx, p, (size_t)(colon - p), colon + 1, (size_t)(lend - colon - 1)))
            return;
        p = le + 1;
    }
}

static bool run_id_field(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    char *out = ctx;
    if (!key_is(k, kl, "run_id"))
        return true;
    if (vl != CTL_RUN_ID_LEN)
        return false;
    for (size_t i = 0; i < vl; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f') ||
              (v[i] >= 'A' && v[i] <= 'F')))
            return false;
    memcpy(out, v, vl);
    out[vl] = '\0';
    return false;
}

int ctl_info_run_id(const char *text, size_t len, char out[CTL_RUN_ID_LEN + 1])
{
    out[0] = '\0';
    each_field(text, len, run_id_field, out);
    return out[0] ? 0 : -EINVAL;
}

static bool repl_field(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct ctl_repl_info *out = ctx;
    long long x;
    if (key_is(k, kl, "role")) {
        if (vl == 6 && memcmp(v, "master", 6) == 0)
            out->role = CTL_SEEN_MASTER;
        else if (vl == 5 && memcmp(v, "slave", 5) == 0)
            out->role = CTL_SEEN_REPLICA;
    } else if (key_is(k, kl, "master_host")) {
        snprintf(out->master_host, sizeof(out->master_host), "%.*s", (int)vl, v);
    } else if (key_is(k, kl, "master_port") && to_ll(v, vl, &x)) {
        out->master_port = (int)x;
    } else if (key_is(k, kl, "master_link_status")) {
        out->link_up = vl == 2 && memcmp(v, "up", 2) == 0;
    } else if (key_is(k, kl, "master_sync_in_progress")) {
        out->sync_in_progress = vl == 1 && v[0] == '1';
    } else if (key_is(k, kl, "slave_repl_offset") && to_ll(v, vl, &x)) {
        out->replica_offset = x;
    } else if ((key_is(k, kl, "slave_priority") || key_is(k, kl, "replica_priority")) &&
               to_ll(v, vl, &x)) {
        out->priority = (int)x;
    } else if (key_is(k, kl, "master_last_io_seconds_ago") && to_ll(v, vl, &x)) {
        out->last_io_seconds = x;
    } else if (key_is(k, kl, "master_apply_errors") && to_ll(v, vl, &x)) {
        out->apply_errors = x;
    } else if (key_is(k, kl, "master_last_apply_error")) {
        snprintf(out->last_apply_error, sizeof(out->last_apply_error), "%.*s", (int)vl, v);
    } else if (key_is(k, kl, "master_repl_offset") && to_ll(v, vl, &x)) {
        out->master_offset = x;
    } else if (key_is(k, kl, "master_replid")) {
        snprintf(out->replid, sizeof(out->replid), "%.*s", (int)vl, v);
    } else if (kl > 5 && memcmp(k, "slave", 5) == 0 && k[5] >= '0' && k[5] <= '9' &&
               out->nreplicas < CTL_INFO_MAX_REPLICAS) {
        parse_replica(v, vl, &out->replicas[out->nreplicas++]);
    }
    return true;
}

int ctl_info_parse(const char *text, size_t len, struct ctl_repl_info *out)
{
    memset(out, 0, sizeof(*out));
    out->priority = 100;
    each_field(text, len, repl_field, out);
    return out->role == CTL_SEEN_UNKNOWN ? -EINVAL : 0;
}

long long ctl_info_offset(const struct ctl_repl_info *i)
{
    return i->role == CTL_SEEN_REPLICA ? i->replica_offset : i->master_offset;
}
