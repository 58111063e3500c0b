#include "control/param_group.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/cidr.h"
#include "base/util.h"

const struct ctl_param_def ctl_param_defs[] = {
#define CTL_PARAM(name, node, type, def, min, max, allowed, mod, change, fam, text)                \
    { name, node, type, def, min, max, allowed, mod, change, fam, text },
#include "control/params.def"
#undef CTL_PARAM
};
const size_t ctl_param_count = sizeof(ctl_param_defs) / sizeof(ctl_param_defs[0]);

const struct ctl_family ctl_families[] = {
    { "redis6.x", CTL_FAM_6X, "default.redis6.x", "6.2" },
    { "redis7", CTL_FAM_7, "default.redis7", "7.0" },
    /* For groups of polluxd nodes: redis7, and the settings only polluxd has. */
    { "pollux7", CTL_FAM_7 | CTL_FAM_PX, "default.pollux7", "7.0" },
};
const size_t ctl_family_count = sizeof(ctl_families) / sizeof(ctl_families[0]);

/* ElastiCache's maxmemory per node type (bytes). */
const struct ctl_node_type ctl_node_types[] = {
    { "cache.t3.micro", 536870912ULL },      { "cache.t3.small", 1471026299ULL },
    { "cache.t3.medium", 3317862236ULL },    { "cache.t4g.micro", 536870912ULL },
    { "cache.t4g.small", 1471026299ULL },    { "cache.t4g.medium", 3317862236ULL },
    { "cache.m6g.large", 6854542746ULL },    { "cache.m6g.xlarge", 13891921715ULL },
    { "cache.m6g.2xlarge", 27966669210ULL }, { "cache.r6g.large", 14037181030ULL },
    { "cache.r6g.xlarge", 28261849702ULL },  { "cache.r6g.2xlarge", 56711183565ULL },
};
const size_t ctl_node_type_count = sizeof(ctl_node_types) / sizeof(ctl_node_types[0]);

const struct ctl_family *ctl_family_find(const char *name)
{
    for (size_t i = 0; i < ctl_family_count; i++)
        if (strcmp(ctl_families[i].name, name) == 0)
            return &ctl_families[i];
    return NULL;
}

const struct ctl_param_def *ctl_param_find(unsigned fam, const char *name)
{
    for (size_t i = 0; i < ctl_param_count; i++)
        if ((ctl_param_defs[i].families & fam) && strcmp(ctl_param_defs[i].name, name) == 0)
            return &ctl_param_defs[i];
    return NULL;
}

#define LIST_SEP ", "

static bool in_names(const char *const *names, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return true;
    return false;
}

/* Append name[0..nlen) to out (of length *off) with a separator. @return false if short. */
static bool list_append(char *out, size_t len, size_t *off, const char *name, size_t nlen)
{
    size_t need = (*off ? strlen(LIST_SEP) : 0) + nlen;
    if (*off + need + 1 > len)
        return false;
    if (*off) {
        memcpy(out + *off, LIST_SEP, strlen(LIST_SEP));
        *off += strlen(LIST_SEP);
    }
    memcpy(out + *off, name, nlen);
    *off += nlen;
    out[*off] = '\0';
    return true;
}

/* The next name of a list at *p (advanced past it and its separator); its length. */
static size_t list_next(const char **p, const char **name)
{
    const char *end = strstr(*p, LIST_SEP);
    size_t n = end ? (size_t)(end - *p) : strlen(*p);
    *name = *p;
    *p = end ? end + strlen(LIST_SEP) : *p + n;
    return n;
}

int ctl_param_list_merge(const char *old, const char *const *tried, int ntried,
                         const char *const *failed, int nfailed, char *out, size_t len)
{
    size_t off = 0;
    if (len)
        out[0] = '\0';
    for (const char *p = old; *p;) {
        const char *name;
        size_t n = list_next(&p, &name);
        if (n && !in_names(tried, ntried, name, n) && !list_append(out, len, &off, name, n))
            return -ENOSPC;
    }
    for (int i = 0; i < nfailed; i++) {
        size_t n = strlen(failed[i]);
        bool have = false;
        for (const char *p = out; *p && !have;) {
            const char *name;
            size_t m = list_next(&p, &name);
            have = m == n && memcmp(name, failed[i], n) == 0;
        }
        if (n && !have && !list_append(out, len, &off, failed[i], n))
            return -ENOSPC;
    }
    return 0;
}

void ctl_param_list_brief(const char *list, size_t max, char *out, size_t len)
{
    static const size_t tail = sizeof(" and 99999 more") - 1;
    if (len == 0)
        return;
    if (max > len - 1)
        max = len - 1;
    int total = 0;
    for (const char *p = list; *p; total++) {
        const char *name;
        list_next(&p, &name);
    }
    size_t off = 0;
    int shown = 0;
    out[0] = '\0';
    for (const char *p = list; *p; shown++) {
        const char *name;
        size_t n = list_next(&p, &name);
        size_t need = (off ? strlen(LIST_SEP) : 0) + n + (shown + 1 < total ? tail : 0);
        if (off + need > max)
            break;
        list_append(out, max + 1, &off, name, n);
    }
    if (shown < total)
        snprintf(out + off, len - off, "%s%d more", shown ? " and " : "", total - shown);
}

const struct ctl_node_type *ctl_node_type_find(const char *name)
{
    for (size_t i = 0; i < ctl_node_type_count; i++)
        if (strcmp(ctl_node_types[i].name, name) == 0)
            return &ctl_node_types[i];
    return NULL;
}

unsigned long long ctl_node_maxmemory(const struct ctl_node_type *t, unsigned reserved_pct)
{
    if (reserved_pct > 100)
        reserved_pct = 100;
    /* Split the multiplication so that the largest types cannot overflow. */
    unsigned long long keep = 100 - reserved_pct;
    return t->maxmemory / 100 * keep + t->maxmemory % 100 * keep / 100;
}

/* Whether `word` (len bytes) is one of the comma-separated `list`. */
static bool list_has(const char *list, const char *word, size_t len)
{
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && memcmp(p, word, len) == 0)
            return true;
        if (e == NULL)
            return false;
        p = e + 1;
    }
}

/* Keyspace event classes: the letters Redis accepts in notify-keyspace-events. */
static bool keyspace_events_ok(unsigned fam, const char *v)
{
    const char *letters = (fam & CTL_FAM_7) ? "KEg$lshzxetmnA" : "KEg$lshzxetmA";
    for (; *v; v++)
        if (strchr(letters, *v) == NULL)
            return false;
    return true;
}

int ctl_param_validate(const struct ctl_param_def *d, unsigned fam, const char *value, char *err,
                       size_t errlen)
{
    char allowed[256];
    if (!d->modifiable) {
        snprintf(err, errlen, "parameter %s is not modifiable", d->name);
        return -EPERM;
    }
    ctl_param_allowed(d, allowed, sizeof(allowed));
    if (d->type == CTL_PT_INTEGER) {
        long long v;
        if (!util_str2ll(value, strlen(value), &v)) {
            snprintf(err, errlen, "invalid value '%s' for parameter %s: not an integer", value,
                     d->name);
            return -EINVAL;
        }
        if (v < d->min || v > d->max) {
            snprintf(err, errlen, "invalid value '%s' for parameter %s: allowed values are %s",
                     value, d->name, allowed);
            return -EINVAL;
        }
        return 0;
    }
    if (strlen(value) > CTL_PARAM_VALUE_MAX) {
        snprintf(err, errlen, "invalid value for parameter %s: longer than %d bytes", d->name,
                 CTL_PARAM_VALUE_MAX);
        return -EINVAL;
    }
    if (d->allowed == NULL && strcmp(d->name, "pollux-allow-sources") == 0) {
        const char *why = cidr_list_check(value); /* the node's own parser */
        if (why != NULL) {
            snprintf(err, errlen, "invalid value '%s' for parameter %s: %s", value, d->name, why);
            return -EINVAL;
        }
        return 0;
    }
    bool ok =
        d->allowed ? list_has(d->allowed, value, strlen(value)) : keyspace_events_ok(fam, value);
    if (!ok) {
        snprintf(err, errlen, "invalid value '%s' for parameter %s: allowed values are %s", value,
                 d->name, allowed);
        return -EINVAL;
    }
    return 0;
}

void ctl_param_allowed(const struct ctl_param_def *d, char *buf, size_t len)
{
    if (d->type == CTL_PT_STRING) {
        snprintf(buf, len, "%s",
                 d->allowed ? d->allowed
                 : strcmp(d->name, "pollux-allow-sources") == 0
                     ? "IPv4 and IPv6 prefixes"
                     : "a set of the letters KEg$lshzxetmnA");
        return;
    }
    if (d->max == 9223372036854775807LL)
        snprintf(buf, len, "%lld-", d->min);
    else
        snprintf(buf, len, "%lld-%lld", d->min, d->max);
}

const char *ctl_param_type_name(const struct ctl_param_def *d)
{
    return d->type == CTL_PT_INTEGER ? "integer" : "string";
}

const char *ctl_change_name(enum ctl_change c)
{
    return c == CTL_CHANGE_IMMEDIATE ? "immediate" : "requires-reboot";
}

bool ctl_param_applies_to_node(const struct ctl_param_def *d)
{
    return d->node != NULL && d->modifiable;
}

#define COBL "client-output-buffer-limit"

int ctl_param_node_setting(const struct ctl_param_def *d, unsigned fam, ctl_param_value_fn get,
                           void *ctx, char *key, size_t keylen, char *val, size_t vallen)
{
    if (!ctl_param_applies_to_node(d))
        return -ENOENT;
    const char *k = d->node[0] ? d->node : d->name;
    if ((size_t)snprintf(key, keylen, "%s", k) >= keylen)
        return -ENOSPC;
    if (strcmp(k, COBL) != 0) {
        if ((size_t)snprintf(val, vallen, "%s", get(ctx, d)) >= vallen)
            return -ENOSPC;
        return 0;
    }
    /* client-output-buffer-limit-<class>-<part>: gather the three parts of the class. */
    const char *cls = d->name + strlen(COBL) + 1;
    const char *dash = strchr(cls, '-');
    if (dash == NULL)
        return -ENOENT;
    size_t clen = (size_t)(dash - cls);
    static const char *const parts[] = { "hard-limit", "soft-limit", "soft-seconds" };
    const char *v[3];
    for (int i = 0; i < 3; i++) {
        char name[96];
        snprintf(name, sizeof(name), COBL "-%.*s-%s", (int)clen, cls, parts[i]);
        const struct ctl_param_def *p = ctl_param_find(fam, name);
        if (p == NULL)
            return -ENOENT;
        v[i] = get(ctx, p);
    }
    if ((size_t)snprintf(val, vallen, "%.*s %s %s %s", (int)clen, cls, v[0], v[1], v[2]) >= vallen)
        return -ENOSPC;
    return 0;
}
