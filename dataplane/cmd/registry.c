/*
 * The command registry over cmd_table[] (generated from commands.table):
 * an open-addressing index by lower-case name, built once at start, and the
 * names COMMAND prints for the rows' bit sets.
 *
 * Lookups are one hash and usually one compare; nothing here allocates after
 * setup. The index is written only by cmd_table_setup and rename-command,
 * both before the workers start, and only read afterwards.
 */
#include <ctype.h>
#include <string.h>

#include "cmd/cmd.h"
#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"

static const struct cmd_def **top; /* top-level rows, cmd_table order */
static unsigned top_len;

/* The name each top-level row is found by: its own, another (rename-command, owned), or NULL. */
static const char **top_key;

#define INDEX_SIZE 1024
static unsigned index_tab[INDEX_SIZE]; /* 1 + index in top[], 0 for an empty slot */

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint32_t)tolower((unsigned char)s[i])) * 16777619u;
    return h;
}

static void index_build(void)
{
    memset(index_tab, 0, sizeof(index_tab));
    for (unsigned i = 0; i < top_len; i++) {
        if (top_key[i] == NULL)
            continue;
        uint32_t h = name_hash(top_key[i], strlen(top_key[i])) & (INDEX_SIZE - 1);
        while (index_tab[h] != 0)
            h = (h + 1) & (INDEX_SIZE - 1);
        index_tab[h] = i + 1;
    }
}

/* @return the index in top[] of the row found as `name`, or -1. */
static int index_find(const char *name, size_t len)
{
    uint32_t h = name_hash(name, len) & (INDEX_SIZE - 1);
    while (index_tab[h] != 0) {
        unsigned i = index_tab[h] - 1;
        if (util_strcaseeq(name, len, top_key[i]))
            return (int)i;
        h = (h + 1) & (INDEX_SIZE - 1);
    }
    return -1;
}

void cmd_table_setup(void)
{
    unsigned n = 0;
    while (cmd_table[n].name != NULL)
        n++;
    top = mem_calloc(sizeof(*top) * n);
    top_key = mem_calloc(sizeof(*top_key) * n);
    for (unsigned i = 0; i < n; i++) {
        top[i] = &cmd_table[i];
        top_key[i] = cmd_table[i].name;
    }
    top_len = n;
    index_build();
}

int cmd_table_rename(const char *name, const char *to, const char **why)
{
    int i = index_find(name, strlen(name));
    if (i < 0) {
        *why = "No such command in rename-command";
        return -1;
    }
    if (to[0] != '\0' && index_find(to, strlen(to)) >= 0 && !util_strcaseeq(to, strlen(to), name)) {
        *why = "Target command name already exists";
        return -1;
    }
    if (top_key[i] != top[i]->name)
        mem_free((char *)top_key[i]);
    top_key[i] = to[0] != '\0' ? mem_strdup(to) : NULL;
    index_build();
    return 0;
}

void cmd_table_teardown(void)
{
    for (unsigned i = 0; i < top_len; i++)
        if (top_key[i] != top[i]->name)
            mem_free((char *)top_key[i]);
    mem_free(top_key);
    top_key = NULL;
    mem_free(top);
    top = NULL;
    top_len = 0;
    memset(index_tab, 0, sizeof(index_tab));
}

const struct cmd_def *cmd_lookup(const char *name, size_t len)
{
    int i = index_find(name, len);
    return i >= 0 ? top[i] : NULL;
}

const struct cmd_def *cmd_lookup_sub(const struct cmd_def *parent, const char *name, size_t len)
{
    for (unsigned i = 0; i < parent->nsubs; i++)
        if (util_strcaseeq(name, len, parent->subs[i].name))
            return &parent->subs[i];
    return NULL;
}

const struct cmd_def *cmd_lookup_full(const char *p, size_t len, const struct cmd_def **parent)
{
    const char *bar = memchr(p, '|', len);
    *parent = NULL;
    if (bar == NULL)
        return cmd_lookup(p, len);
    const struct cmd_def *d = cmd_lookup(p, (size_t)(bar - p));
    if (d == NULL || d->subs == NULL)
        return NULL;
    *parent = d;
    return cmd_lookup_sub(d, bar + 1, len - (size_t)(bar - p) - 1);
}

unsigned cmd_table_count(void)
{
    return top_len;
}

/* ---- names ------------------------------------------------------------- */

const char *cmd_acl_name(unsigned i)
{
    static const char *const names[] = {
#define CMD_ACL_NAME(id, name) name,
        CMD_ACL_CATEGORIES(CMD_ACL_NAME)
#undef CMD_ACL_NAME
    };
    return i < (unsigned)ARRAY_SIZE(names) ? names[i] : NULL;
}

/* Redis's COMMAND INFO order; may_replicate, sentinel, tx_control and protected are not reported.
 */
const struct cmd_bit_name cmd_flag_names[] = {
    { CMD_WRITE, "write" },
    { CMD_READONLY, "readonly" },
    { CMD_DENYOOM, "denyoom" },
    { CMD_ADMIN, "admin" },
    { CMD_PUBSUB, "pubsub" },
    { CMD_NOSCRIPT, "noscript" },
    { CMD_BLOCKING, "blocking" },
    { CMD_LOADING, "loading" },
    { CMD_STALE, "stale" },
    { CMD_SKIP_MONITOR, "skip_monitor" },
    { CMD_SKIP_SLOWLOG, "skip_slowlog" },
    { CMD_FAST, "fast" },
    { CMD_NO_AUTH, "no_auth" },
    { CMD_NO_MANDATORY_KEYS, "no_mandatory_keys" },
    { CMD_NO_ASYNC_LOADING, "no_async_loading" },
    { CMD_NO_MULTI, "no_multi" },
    { CMD_MOVABLEKEYS, "movablekeys" },
    { CMD_ALLOW_BUSY, "allow_busy" },
    { 0, NULL },
};

const struct cmd_bit_name cmd_ks_flag_names[] = {
    { CMD_KS_RO, "RO" },
    { CMD_KS_RW, "RW" },
    { CMD_KS_OW, "OW" },
    { CMD_KS_RM, "RM" },
    { CMD_KS_ACCESS, "access" },
    { CMD_KS_UPDATE, "update" },
    { CMD_KS_INSERT, "insert" },
    { CMD_KS_DELETE, "delete" },
    { CMD_KS_NOT_KEY, "not_key" },
    { CMD_KS_INCOMPLETE, "incomplete" },
    { CMD_KS_VARIABLE_FLAGS, "variable_flags" },
    { 0, NULL },
};

const char *cmd_arg_type_name(unsigned type)
{
    static const char *const names[] = { "string",    "integer",    "double", "key",  "pattern",
                                         "unix-time", "pure-token", "oneof",  "block" };
    return type < (unsigned)ARRAY_SIZE(names) ? names[type] : "string";
}
