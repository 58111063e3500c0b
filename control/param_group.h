/*
 * Cache parameter group families and their parameters.
 *
 * The table itself is params.def (one row per parameter, read through the CTL_PARAM
 * X-macro); this header gives the typed view of it, validation of a proposed value, and the
 * translation of parameter values into node settings (CONFIG SET name value).
 */
#ifndef POLLUX_CTL_PARAM_GROUP_H
#define POLLUX_CTL_PARAM_GROUP_H

#include <stdbool.h>
#include <stddef.h>

enum ctl_ptype { CTL_PT_INTEGER, CTL_PT_STRING };
enum ctl_change { CTL_CHANGE_IMMEDIATE, CTL_CHANGE_REBOOT };

#define CTL_FAM_6X 1u
#define CTL_FAM_7  2u
#define CTL_FAM_PX                                                                                 \
    4u /* polluxd's own settings (pollux-*); the pollux7 family is redis7 + these                  \
        */

/* The longest parameter value (the store and the node settings keep values this long). */
#define CTL_PARAM_VALUE_MAX 159

struct ctl_param_def {
    const char *name;
    const char *node; /* node setting: "" same as name, NULL none */
    enum ctl_ptype type;
    const char *def;
    long long min, max;  /* integers */
    const char *allowed; /* strings: comma-separated choices, NULL = checked by code */
    bool modifiable;
    enum ctl_change change;
    unsigned families;
    const char *text;
};

struct ctl_family {
    const char *name;          /* "redis7" */
    unsigned bit;              /* the CTL_FAM_* bits of its rows */
    const char *default_group; /* "default.redis7" */
    const char *engine;        /* engine version the family describes */
};

extern const struct ctl_param_def ctl_param_defs[];
extern const size_t ctl_param_count;
extern const struct ctl_family ctl_families[];
extern const size_t ctl_family_count;

/* The family called `name` ("redis6.x", "redis7"), or NULL. */
const struct ctl_family *ctl_family_find(const char *name);

/* The parameter `name` of the families in `fam` (a CTL_FAM_* bit), or NULL. */
const struct ctl_param_def *ctl_param_find(unsigned fam, const char *name);

/*
 * Check `value` against the parameter's type, range or allowed values, and whether it may be
 * changed at all. On failure a one-line reason is written to err.
 * @return 0 when acceptable; -EINVAL for a value of the wrong type, out of range or not
 *         allowed; -EPERM when the parameter is not modifiable.
 */
int ctl_param_validate(const struct ctl_param_def *d, unsigned fam, const char *value, char *err,
                       size_t errlen);

/* ElastiCache's AllowedValues text: "1-75", "0-", "yes,no", ... */
void ctl_param_allowed(const struct ctl_param_def *d, char *buf, size_t len);
const char *ctl_param_type_name(const struct ctl_param_def *d); /* "integer" | "string" */
const char *ctl_change_name(enum ctl_change c);                 /* "immediate" | ... */
bool ctl_param_applies_to_node(const struct ctl_param_def *d);  /* has a node setting */

/* Looks up the effective value of a parameter (a group's value or the default). */
typedef const char *(*ctl_param_value_fn)(void *ctx, const struct ctl_param_def *d);

/*
 * The node setting a parameter maps to: its CONFIG SET name and value. Parameters that are
 * parts of one setting (client-output-buffer-limit-<class>-*) produce the whole setting, e.g.
 * "client-output-buffer-limit" "pubsub 33554432 8388608 60", reading the sibling parts
 * through `get`.
 * @return 0; -ENOENT when the parameter has no node setting; -ENOSPC when a buffer is short.
 */
int ctl_param_node_setting(const struct ctl_param_def *d, unsigned fam, ctl_param_value_fn get,
                           void *ctx, char *key, size_t keylen, char *val, size_t vallen);

/*
 * Lists of node setting names as they are stored and shown ("a, b, c"), for the settings a
 * node refused. ctl_param_list_merge writes `old` less every name in `tried`, then each
 * name of `failed` not already there: the outcome of one application run, where a run that
 * did not try a setting (requires-reboot values are sent only at join and reboot) keeps its
 * earlier result. @return 0; -ENOSPC when `out` is too short (it then holds whole names).
 */
int ctl_param_list_merge(const char *old, const char *const *tried, int ntried,
                         const char *const *failed, int nfailed, char *out, size_t len);
/* `list` cut to whole names within `max` characters: "a, b and 3 more". */
void ctl_param_list_brief(const char *list, size_t max, char *out, size_t len);

/* Node types: the memory each implies (ElastiCache's per-type maxmemory). */
struct ctl_node_type {
    const char *name;
    unsigned long long maxmemory; /* bytes, before reserved-memory-percent */
};
extern const struct ctl_node_type ctl_node_types[];
extern const size_t ctl_node_type_count;
const struct ctl_node_type *ctl_node_type_find(const char *name);

/* maxmemory for a node of type t with `reserved_pct` percent reserved for non-data use. */
unsigned long long ctl_node_maxmemory(const struct ctl_node_type *t, unsigned reserved_pct);

#endif
