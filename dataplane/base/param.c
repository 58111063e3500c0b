#include "base/param.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "base/util.h"

const struct param_def *param_find(const struct param_def *defs, const char *name)
{
    for (const struct param_def *d = defs; d->name != NULL; d++)
        if (strcasecmp(d->name, name) == 0)
            return d;
    return NULL;
}

static long long *ll_field(const struct param_def *def, void *obj)
{
    return (long long *)((char *)obj + def->offset);
}

static char **str_field(const struct param_def *def, void *obj)
{
    return (char **)((char *)obj + def->offset);
}

void param_defaults(const struct param_def *defs, void *obj)
{
    for (const struct param_def *d = defs; d->name != NULL; d++) {
        if (d->type == PARAM_STRING) {
            char **f = str_field(d, obj);
            *f = mem_strdup(d->def_str ? d->def_str : "");
        } else {
            *ll_field(d, obj) = d->def;
        }
    }
}

void param_free(const struct param_def *defs, void *obj)
{
    for (const struct param_def *d = defs; d->name != NULL; d++) {
        if (d->type == PARAM_STRING) {
            char **f = str_field(d, obj);
            mem_free(*f);
            *f = NULL;
        }
    }
}

void param_copy(const struct param_def *defs, void *dst, const void *src)
{
    for (const struct param_def *d = defs; d->name != NULL; d++) {
        if (d->type == PARAM_STRING) {
            char **df = str_field(d, dst);
            char *const *sf = (char *const *)((const char *)src + d->offset);
            mem_free(*df);
            *df = mem_strdup(*sf ? *sf : "");
        } else {
            *ll_field(d, dst) = *(const long long *)((const char *)src + d->offset);
        }
    }
}

static int fail(char *err, size_t cap, const char *msg)
{
    snprintf(err, cap, "%s", msg);
    return -EINVAL;
}

static int parse_value(const struct param_def *def, const char *value, long long *out, char *err,
                       size_t cap)
{
    switch (def->type) {
    case PARAM_BOOL:
        if (strcasecmp(value, "yes") == 0)
            *out = 1;
        else if (strcasecmp(value, "no") == 0)
            *out = 0;
        else
            return fail(err, cap, "argument must be 'yes' or 'no'");
        return 0;
    case PARAM_INT: {
        long long v;
        if (!util_str2ll(value, strlen(value), &v))
            return fail(err, cap, "argument couldn't be parsed into an integer");
        if (v < def->min || v > def->max) {
            snprintf(err, cap, "argument must be between %lld and %lld inclusive", def->min,
                     def->max);
            return -EINVAL;
        }
        *out = v;
        return 0;
    }
    case PARAM_MEMORY: {
        unsigned long long v;
        long long sv;
        if (value[0] == '-' && def->min < 0 && util_str2ll(value, strlen(value), &sv) &&
            sv >= def->min) {
            *out = sv;
            return 0;
        }
        if (!util_memtoull(value, &v) || v > (unsigned long long)def->max)
            return fail(err, cap, "argument must be a memory value");
        if ((long long)v < def->min) {
            snprintf(err, cap, "argument must be between %lld and %lld inclusive", def->min,
                     def->max);
            return -EINVAL;
        }
        *out = (long long)v;
        return 0;
    }
    case PARAM_ENUM: {
        for (long long i = 0; def->enums[i] != NULL; i++) {
            if (strcasecmp(def->enums[i], value) == 0) {
                *out = i;
                return 0;
            }
        }
        size_t n = (size_t)snprintf(err, cap, "argument(s) must be one of the following: ");
        for (long long i = 0; def->enums[i] != NULL && n < cap; i++)
            n += (size_t)snprintf(err + n, cap - n, "%s%s", i ? ", " : "", def->enums[i]);
        return -EINVAL;
    }
    case PARAM_STRING:
        if (def->check != NULL) {
            const char *why = def->check(value);
            if (why != NULL)
                return fail(err, cap, why);
        }
        return 0;
    }
    return fail(err, cap, "unknown parameter type");
}

int param_validate(const struct param_def *def, const char *value, char *err, size_t errcap)
{
    long long v;
    return parse_value(def, value, &v, err, errcap);
}

int param_set(const struct param_def *def, void *obj, const char *value, char *err, size_t errcap)
{
    long long v = 0;
    int rc = parse_value(def, value, &v, err, errcap);
    if (rc != 0)
        return rc;
    if (def->type == PARAM_STRING) {
        char **f = str_field(def, obj);
        mem_free(*f);
        *f = mem_strdup(value);
    } else {
        *ll_field(def, obj) = v;
    }
    return 0;
}

long long param_get_ll(const struct param_def *def, const void *obj)
{
    return *(const long long *)((const char *)obj + def->offset);
}

const char *param_format_memory(long long v, char *buf, size_t cap, bool rewrite)
{
    static const struct {
        const char *unit;
        long long mul;
    } units[] = { { "gb", 1024LL * 1024 * 1024 }, { "mb", 1024LL * 1024 }, { "kb", 1024 } };
    if (rewrite && v > 0) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (v % units[i].mul == 0) {
                snprintf(buf, cap, "%lld%s", v / units[i].mul, units[i].unit);
                return buf;
            }
        }
    }
    snprintf(buf, cap, "%lld", v);
    return buf;
}

const char *param_format(const struct param_def *def, const void *obj, char *buf, size_t cap,
                         bool rewrite)
{
    const void *f = (const char *)obj + def->offset;
    switch (def->type) {
    case PARAM_BOOL:
        return *(const long long *)f ? "yes" : "no";
    case PARAM_INT:
        snprintf(buf, cap, "%lld", *(const long long *)f);
        return buf;
    case PARAM_MEMORY:
        return param_format_memory(*(const long long *)f, buf, cap, rewrite);
    case PARAM_ENUM:
        return def->enums[*(const long long *)f];
    case PARAM_STRING: {
        const char *s = *(char *const *)f;
        return s ? s : "";
    }
    }
    return "";
}
