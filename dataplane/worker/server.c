#include "server.h"

#include <ctype.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "util.h"

struct server server;

#include "cmd_server.h"
#include "multi.h"
#include "repl_int.h"

/*
 * The command registry: a mutable copy of every family's rows (so each row
 * and subcommand gets its statistics id), and an open-addressing index by
 * lower-case name.
 */
static struct cmd_def *registry;
static unsigned registry_len;
static const struct cmd_def **top; /* top-level rows in registry order */
static unsigned top_len;

/* The name each top-level row is found by: its own, another (rename-command, owned), or NULL. */
static const char **top_key;

#define INDEX_SIZE 1024
static unsigned index_tab[INDEX_SIZE]; /* 1 + index in top[], 0 for an empty slot */

static const struct cmd_def *const families[] = {
    cmd_string_table,   cmd_keys_table,     server_cmd_table,   server_conn_table,
    server_multi_table, repl_primary_table, repl_replica_table, repl_cmd_table,
};

static unsigned count_rows(const struct cmd_def *t)
{
    unsigned n = 0;
    while (t[n].name != NULL)
        n++;
    return n;
}

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

void server_commands_setup(void)
{
    unsigned total = 0;
    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        const struct cmd_def *t = families[f];
        for (unsigned i = 0; t[i].name != NULL; i++) {
            total++;
            if (t[i].subs)
                total += count_rows(t[i].subs) + 1; /* + terminator */
        }
    }
    registry = mem_calloc(sizeof(struct cmd_def) * total);
    top = mem_calloc(sizeof(*top) * total);
    top_key = mem_calloc(sizeof(*top_key) * total);
    unsigned k = 0;
    int id = 0;
    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        const struct cmd_def *t = families[f];
        for (unsigned i = 0; t[i].name != NULL; i++) {
            struct cmd_def *row = &registry[k++];
            *row = t[i];
            row->id = id++;
            top[top_len++] = row;
            if (t[i].subs) {
                unsigned ns = count_rows(t[i].subs);
                struct cmd_def *subs = &registry[k];
                for (unsigned s = 0; s < ns; s++) {
                    subs[s] = t[i].subs[s];
                    subs[s].id = id++;
                }
                k += ns + 1; /* terminator row stays zeroed */
                row->subs = subs;
            }
            top_key[top_len - 1] = row->name;
        }
    }
    registry_len = (unsigned)id;
    index_build();
}

int server_command_rename(const char *name, const char *to, const char **why)
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

void server_commands_teardown(void)
{
    for (unsigned i = 0; i < top_len; i++)
        if (top_key[i] != top[i]->name)
            mem_free((char *)top_key[i]);
    mem_free(top_key);
    top_key = NULL;
    mem_free(registry);
    mem_free(top);
    registry = NULL;
    top = NULL;
    top_len = registry_len = 0;
    memset(index_tab, 0, sizeof(index_tab));
}

const struct cmd_def *server_command_lookup(const char *name, size_t len)
{
    int i = index_find(name, len);
    return i >= 0 ? top[i] : NULL;
}

const struct cmd_def *server_subcommand_lookup(const struct cmd_def *parent, const char *name,
                                               size_t len)
{
    for (const struct cmd_def *s = parent->subs; s != NULL && s->name != NULL; s++)
        if (util_strcaseeq(name, len, s->name))
            return s;
    return NULL;
}

const struct cmd_def *const *server_commands(unsigned *count)
{
    *count = top_len;
    return top;
}

unsigned server_command_ids(void)
{
    return registry_len;
}

void server_request_shutdown(int exit_code)
{
    atomic_store(&server.shutdown_exit_code, exit_code);
    atomic_store(&server.shutdown, true);
    kill(getpid(), SIGTERM);
}
