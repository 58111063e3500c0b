/*
 * Parameters: each module declares its own in one X-macro table in its header
 *
 *   #define STORE_PARAMS(X) \
 *       X(maxmemory, "maxmemory", MEMORY, 0, 0, LLONG_MAX, PARAM_MUTABLE, NULL) ...
 *   PARAM_STRUCT(store_params, STORE_PARAMS);
 *   extern const struct param_def store_param_defs[];   // PARAM_DEFS(store_params, STORE_PARAMS)
 *
 * which yields a plain struct of values (what the module reads on its hot
 * path, by field) and a table of definitions (what CONFIG GET/SET/REWRITE,
 * the config file loader and INFO read, by name). Nothing is listed twice.
 *
 * Value types: BOOL, INT, MEMORY and ENUM fields are `long long`; STRING
 * fields are `char *` owned by the struct (param_copy deep-copies them).
 */
#ifndef POLLUX_PARAM_H
#define POLLUX_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum param_type {
    PARAM_BOOL,   /* yes/no */
    PARAM_INT,    /* decimal integer within [min, max] */
    PARAM_MEMORY, /* bytes, accepts units (1gb, 64mb) */
    PARAM_ENUM,   /* one of `enums`, stored as index */
    PARAM_STRING, /* free text, validated by `check` when present */
};

enum param_flags {
    PARAM_MUTABLE = 1u << 0,   /* CONFIG SET allowed at run time */
    PARAM_SENSITIVE = 1u << 1, /* never logged (passwords) */
    PARAM_HIDDEN = 1u << 2,    /* not listed by CONFIG GET * */
    PARAM_PROTECTED = 1u << 3, /* CONFIG SET only where enable-protected-configs allows it */
};

/* Returns NULL when `value` is acceptable, else the reason (static string). */
typedef const char *(*param_check_fn)(const char *value);

struct param_def {
    const char *name;
    enum param_type type;
    uint32_t flags;
    size_t offset; /* of the field in the module's struct */
    long long def, min, max;
    const char *def_str; /* STRING default */
    const char *const *enums;
    param_check_fn check;
};

#define PARAM_FIELD_BOOL(f)   long long f;
#define PARAM_FIELD_INT(f)    long long f;
#define PARAM_FIELD_MEMORY(f) long long f;
#define PARAM_FIELD_ENUM(f)   long long f;
#define PARAM_FIELD_STRING(f) char *f;

#define PARAM_X_FIELD(field, name, type, def, min, max, flags, extra) PARAM_FIELD_##type(field)
#define PARAM_STRUCT(sname, LIST)                                                                  \
    struct sname {                                                                                 \
        LIST(PARAM_X_FIELD)                                                                        \
    }

#define PARAM_DEF_BOOL(s, f, n, d, lo, hi, fl, ex)                                                 \
    { n, PARAM_BOOL, fl, offsetof(struct s, f), d, 0, 1, NULL, NULL, NULL },
#define PARAM_DEF_INT(s, f, n, d, lo, hi, fl, ex)                                                  \
    { n, PARAM_INT, fl, offsetof(struct s, f), d, lo, hi, NULL, NULL, NULL },
#define PARAM_DEF_MEMORY(s, f, n, d, lo, hi, fl, ex)                                               \
    { n, PARAM_MEMORY, fl, offsetof(struct s, f), d, lo, hi, NULL, NULL, NULL },
#define PARAM_DEF_ENUM(s, f, n, d, lo, hi, fl, ex)                                                 \
    { n, PARAM_ENUM, fl, offsetof(struct s, f), d, 0, 0, NULL, ex, NULL },
#define PARAM_DEF_STRING(s, f, n, d, lo, hi, fl, ex)                                               \
    { n, PARAM_STRING, fl, offsetof(struct s, f), 0, 0, 0, d, NULL, ex },

/* Expands one X row into a param_def for struct `PARAM_S` (define PARAM_S before use). */
#define PARAM_X_DEF(field, name, type, def, min, max, flags, extra)                                \
    PARAM_DEF_##type(PARAM_S, field, name, def, min, max, flags, extra)
#define PARAM_DEFS_END                                                                             \
    {                                                                                              \
        NULL, PARAM_BOOL, 0, 0, 0, 0, 0, NULL, NULL, NULL                                          \
    }

/* Find a definition by name (case-insensitive) in a NULL-name-terminated table. */
const struct param_def *param_find(const struct param_def *defs, const char *name);

/* Set every field of `obj` to its default. */
void param_defaults(const struct param_def *defs, void *obj);
/* Free the strings of `obj`. */
void param_free(const struct param_def *defs, void *obj);
/* Deep copy src into dst (dst's old strings are freed). */
void param_copy(const struct param_def *defs, void *dst, const void *src);

/*
 * Parse `value` and store it into obj's field.
 * @return 0 on success; -EINVAL with the reason in Redis's words written to
 *         err (e.g. "argument must be 'yes' or 'no'").
 */
int param_set(const struct param_def *def, void *obj, const char *value, char *err, size_t errcap);
/* Check a value without storing it. Same return as param_set. */
int param_validate(const struct param_def *def, const char *value, char *err, size_t errcap);

/*
 * Format obj's field for CONFIG GET (buf of `cap` bytes); `rewrite` asks for the
 * redis.conf form (memory with units when exact).
 * @return the string (buf, or the field's own string).
 */
const char *param_format(const struct param_def *def, const void *obj, char *buf, size_t cap,
                         bool rewrite);

/* A byte count as CONFIG GET (plain) or redis.conf (`rewrite`: 256mb when exact) shows it. */
const char *param_format_memory(long long v, char *buf, size_t cap, bool rewrite);

/* Read a field as a number (BOOL/INT/MEMORY/ENUM). */
long long param_get_ll(const struct param_def *def, const void *obj);

#endif
