/*
 * COMMAND and its subcommands: everything is derived from the table rows.
 * COMMAND DOCS turns each row's `syntax` line ("key value [NX | XX] [EX
 * seconds | PX milliseconds]") into Redis's nested argument description,
 * which is what redis-cli builds its hints from.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cmd_server.h"
#include "mem.h"
#include "server.h"
#include "util.h"
#include "errors.h"

/* ---------------------------------------------------------------------------
 * The syntax grammar
 *
 *   seq  := item*
 *   item := '[' alts ']' | '(' alts ')' | TOKEN [name] | name ; each optionally followed
 *           by "..." (repeat), or by "[same ...]" (Redis's "key [key ...]" spelling)
 *   alts := seq ('|' seq)*
 *   name := lower-case word, optionally "name:type" to force the type
 * ------------------------------------------------------------------------ */

#define ARG_MAX_CHILDREN 16

struct arg_node {
    char name[48];
    char token[32];
    const char *type;
    bool optional, multiple;
    int key_index; /* -1 unless type is key */
    int nchildren;
    struct arg_node *children[ARG_MAX_CHILDREN];
};

struct grammar {
    const char *p;
    int keys;
    int groups;
    struct arg_node *pool;
    int used, cap;
};

static struct arg_node *node_new(struct grammar *g)
{
    if (g->used == g->cap)
        return NULL;
    struct arg_node *n = &g->pool[g->used++];
    memset(n, 0, sizeof(*n));
    n->key_index = -1;
    return n;
}

static void skip_space(struct grammar *g)
{
    while (*g->p == ' ')
        g->p++;
}

static bool is_word_char(char c)
{
    return c && c != ' ' && c != '[' && c != ']' && c != '(' && c != ')' && c != '|';
}

static size_t word_len(const char *p)
{
    size_t n = 0;
    while (is_word_char(p[n]) && !(p[n] == '.' && p[n + 1] == '.' && p[n + 2] == '.'))
        n++;
    return n;
}

static bool is_token(const char *w, size_t n)
{
    bool upper = false;
    for (size_t i = 0; i < n; i++) {
        if (islower((unsigned char)w[i]))
            return false;
        if (isupper((unsigned char)w[i]))
            upper = true;
    }
    return upper;
}

static const char *infer_type(const char *name)
{
    static const char *const keys[] = { "key", "newkey", "source", "destination", NULL };
    static const char *const ints[] = { "seconds",   "milliseconds",
                                        "count",     "offset",
                                        "start",     "end",
                                        "increment", "decrement",
                                        "db",        "destination-db",
                                        "index",     "numreplicas",
                                        "timeout",   "cursor",
                                        "protover",  "samples",
                                        "port",      "client-id",
                                        "index1",    "index2",
                                        "numkeys",   NULL };
    for (int i = 0; keys[i]; i++)
        if (strcmp(name, keys[i]) == 0)
            return "key";
    for (int i = 0; ints[i]; i++)
        if (strcmp(name, ints[i]) == 0)
            return "integer";
    if (strncmp(name, "unix-time", 9) == 0)
        return "unix-time";
    if (strcmp(name, "pattern") == 0)
        return "pattern";
    return "string";
}

static void set_name_type(struct grammar *g, struct arg_node *n, const char *w, size_t len)
{
    const char *colon = memchr(w, ':', len);
    size_t nl = colon ? (size_t)(colon - w) : len;
    snprintf(n->name, sizeof(n->name), "%.*s", (int)nl, w);
    if (colon) {
        static const char *const types[] = { "string",  "integer",   "double",     "key",
                                             "pattern", "unix-time", "pure-token", NULL };
        n->type = "string";
        for (int i = 0; types[i]; i++)
            if (strlen(types[i]) == len - nl - 1 && memcmp(colon + 1, types[i], len - nl - 1) == 0)
                n->type = types[i];
    } else {
        n->type = infer_type(n->name);
    }
    if (strcmp(n->type, "key") == 0)
        n->key_index = g->keys++;
}

static int parse_alts(struct grammar *g, char close, struct arg_node **alts, int max);

/* Wrap a sequence of nodes into one node (itself when it is a single node). */
static struct arg_node *as_one(struct grammar *g, struct arg_node **seq, int n)
{
    if (n == 1)
        return seq[0];
    struct arg_node *b = node_new(g);
    if (b == NULL)
        return NULL;
    snprintf(b->name, sizeof(b->name), "block%d", ++g->groups);
    b->type = "block";
    for (int i = 0; i < n && i < ARG_MAX_CHILDREN; i++)
        b->children[b->nchildren++] = seq[i];
    return b;
}

static bool eat_repeat(struct grammar *g, struct arg_node *n)
{
    skip_space(g);
    if (strncmp(g->p, "...", 3) == 0) {
        g->p += 3;
        n->multiple = true;
        return true;
    }
    /* "[name ...]" right after name */
    if (g->p[0] == '[') {
        size_t l = strlen(n->name);
        const char *q = g->p + 1;
        if (n->token[0]) {
            size_t tl = strlen(n->token);
            if (strncmp(q, n->token, tl) == 0 && q[tl] == ' ')
                q += tl + 1;
        }
        if (strncmp(q, n->name, l) == 0 && strncmp(q + l, " ...]", 5) == 0) {
            g->p = q + l + 5;
            n->multiple = true;
            return true;
        }
    }
    return false;
}

/* Parse items until a closing bracket, '|' or the end. @return the count. */
static int parse_seq(struct grammar *g, struct arg_node **out, int max)
{
    int n = 0;
    for (;;) {
        skip_space(g);
        char c = *g->p;
        if (c == '\0' || c == ']' || c == ')' || c == '|' || n == max)
            return n;
        struct arg_node *node;
        if (c == '[' || c == '(') {
            g->p++;
            struct arg_node *alts[ARG_MAX_CHILDREN];
            int na = parse_alts(g, c == '[' ? ']' : ')', alts, ARG_MAX_CHILDREN);
            if (na <= 0)
                return -1;
            if (na == 1) {
                node = alts[0];
            } else {
                node = node_new(g);
                if (node == NULL)
                    return -1;
                snprintf(node->name, sizeof(node->name), "arg%d", ++g->groups);
                node->type = "oneof";
                for (int i = 0; i < na; i++)
                    node->children[node->nchildren++] = alts[i];
            }
            if (c == '[')
                node->optional = true;
        } else {
            size_t len = word_len(g->p);
            if (len == 0)
                return -1;
            node = node_new(g);
            if (node == NULL)
                return -1;
            if (is_token(g->p, len)) {
                snprintf(node->token, sizeof(node->token), "%.*s", (int)len, g->p);
                g->p += len;
                skip_space(g);
                size_t l2 = word_len(g->p);
                if (l2 > 0 && !is_token(g->p, l2)) {
                    set_name_type(g, node, g->p, l2);
                    g->p += l2;
                } else {
                    for (size_t i = 0; i < len && i < sizeof(node->name) - 1; i++)
                        node->name[i] = (char)tolower((unsigned char)node->token[i]);
                    node->type = "pure-token";
                }
            } else {
                set_name_type(g, node, g->p, len);
                g->p += len;
            }
        }
        eat_repeat(g, node);
        out[n++] = node;
    }
}

static int parse_alts(struct grammar *g, char close, struct arg_node **alts, int max)
{
    int na = 0;
    for (;;) {
        struct arg_node *seq[ARG_MAX_CHILDREN];
        int n = parse_seq(g, seq, ARG_MAX_CHILDREN);
        if (n <= 0 || na == max)
            return -1;
        alts[na] = as_one(g, seq, n);
        if (alts[na] == NULL)
            return -1;
        na++;
        skip_space(g);
        if (*g->p == '|') {
            g->p++;
            continue;
        }
        if (*g->p != close)
            return -1;
        g->p++;
        return na;
    }
}

static void reply_arg(struct reply *r, const struct arg_node *n)
{
    int fields = 2 + (n->key_index >= 0) + (n->token[0] != 0) + (n->optional || n->multiple) +
                 (n->nchildren > 0);
    reply_map(r, fields);
    reply_bulk_cstr(r, "name");
    reply_bulk_cstr(r, n->name);
    reply_bulk_cstr(r, "type");
    reply_bulk_cstr(r, n->type);
    if (n->key_index >= 0) {
        reply_bulk_cstr(r, "key_spec_index");
        reply_int(r, n->key_index);
    }
    if (n->token[0]) {
        reply_bulk_cstr(r, "token");
        reply_bulk_cstr(r, n->token);
    }
    if (n->optional || n->multiple) {
        reply_bulk_cstr(r, "flags");
        reply_set(r, n->optional + n->multiple);
        if (n->optional)
            reply_status(r, "optional");
        if (n->multiple)
            reply_status(r, "multiple");
    }
    if (n->nchildren > 0) {
        reply_bulk_cstr(r, "arguments");
        reply_array(r, n->nchildren);
        for (int i = 0; i < n->nchildren; i++)
            reply_arg(r, n->children[i]);
    }
}

static void reply_docs_one(struct reply *r, const struct cmd_def *d, const char *parent);

static void reply_docs_body(struct reply *r, const struct cmd_def *d)
{
    struct arg_node pool[96];
    struct arg_node *top[ARG_MAX_CHILDREN * 2];
    struct grammar g = { .p = d->syntax ? d->syntax : "", .pool = pool, .cap = 96 };
    int nargs = parse_seq(&g, top, (int)ARRAY_SIZE(top));
    if (nargs < 0 || *g.p != '\0')
        nargs = 0; /* a malformed line documents no arguments rather than wrong ones */
    int nsubs = 0;
    for (const struct cmd_def *s = d->subs; s && s->name; s++)
        nsubs++;
    reply_map(r, 4 + (nargs > 0) + (nsubs > 0));
    reply_bulk_cstr(r, "summary");
    reply_bulk_cstr(r, d->summary ? d->summary : "");
    reply_bulk_cstr(r, "since");
    reply_bulk_cstr(r, d->since ? d->since : "1.0.0");
    reply_bulk_cstr(r, "group");
    reply_bulk_cstr(r, d->group ? d->group : "generic");
    reply_bulk_cstr(r, "complexity");
    reply_bulk_cstr(r, d->complexity ? d->complexity : "O(1)");
    if (nargs > 0) {
        reply_bulk_cstr(r, "arguments");
        reply_array(r, nargs);
        for (int i = 0; i < nargs; i++)
            reply_arg(r, top[i]);
    }
    if (nsubs > 0) {
        reply_bulk_cstr(r, "subcommands");
        reply_map(r, nsubs);
        for (const struct cmd_def *s = d->subs; s && s->name; s++)
            reply_docs_one(r, s, d->name);
    }
}

static void reply_docs_one(struct reply *r, const struct cmd_def *d, const char *parent)
{
    char name[96];
    snprintf(name, sizeof(name), "%s%s%s", parent ? parent : "", parent ? "|" : "", d->name);
    reply_bulk_cstr(r, name);
    reply_docs_body(r, d);
}

/* ---------------------------------------------------------------------------
 * COMMAND INFO
 * ------------------------------------------------------------------------ */

static const struct {
    uint32_t bit;
    const char *name;
} flag_names[] = {
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
    { CMD_MAY_REPLICATE, "may_replicate" },
    { CMD_NO_MULTI, "no_multi" },
    { CMD_ALLOW_BUSY, "allow_busy" },
    { CMD_MOVABLE_KEYS, "movablekeys" },
};

/* ACL categories: from flags, then the row's own words (no duplicates). */
static int acl_categories(const struct cmd_def *d, const char **out, char store[][24], int max)
{
    int n = 0;
    if (d->flags & CMD_WRITE)
        out[n++] = "@write";
    if (d->flags & CMD_READONLY)
        out[n++] = "@read";
    if (d->flags & CMD_ADMIN) {
        out[n++] = "@admin";
        out[n++] = "@dangerous";
    }
    const char *acl = d->acl ? d->acl : "";
    while (*acl && n < max - 1) {
        while (*acl == ' ')
            acl++;
        size_t l = 0;
        while (acl[l] && acl[l] != ' ')
            l++;
        if (l == 0)
            break;
        bool dup = false;
        for (int i = 0; i < n; i++)
            if (strlen(out[i]) == l && memcmp(out[i], acl, l) == 0)
                dup = true;
        if (!dup && l < 24) {
            memcpy(store[n], acl, l);
            store[n][l] = '\0';
            out[n] = store[n];
            n++;
        }
        acl += l;
    }
    bool speed = false;
    for (int i = 0; i < n; i++)
        if (strcmp(out[i], "@fast") == 0 || strcmp(out[i], "@slow") == 0)
            speed = true;
    if (!speed && n < max)
        out[n++] = (d->flags & CMD_FAST) ? "@fast" : "@slow";
    return n;
}

static void reply_info_one(struct reply *r, const struct cmd_def *d, const char *parent)
{
    char name[96];
    snprintf(name, sizeof(name), "%s%s%s", parent ? parent : "", parent ? "|" : "", d->name);
    reply_array(r, 10);
    reply_bulk_cstr(r, name);
    reply_int(r, d->arity);
    int nf = 0;
    for (size_t i = 0; i < ARRAY_SIZE(flag_names); i++)
        if (d->flags & flag_names[i].bit)
            nf++;
    reply_set(r, nf);
    for (size_t i = 0; i < ARRAY_SIZE(flag_names); i++)
        if (d->flags & flag_names[i].bit)
            reply_status(r, flag_names[i].name);
    reply_int(r, d->first_key);
    reply_int(r, d->last_key);
    reply_int(r, d->key_step);
    const char *cats[16];
    char store[16][24];
    int nc = acl_categories(d, cats, store, 16);
    reply_set(r, nc);
    for (int i = 0; i < nc; i++)
        reply_status(r, cats[i]);
    reply_set(r, 0); /* tips */
    /* key specs, derived from the legacy triple */
    if (d->first_key > 0) {
        reply_array(r, 1);
        reply_map(r, 3);
        reply_bulk_cstr(r, "flags");
        bool del = strcmp(d->name, "del") == 0 || strcmp(d->name, "unlink") == 0 ||
                   strcmp(d->name, "getdel") == 0;
        reply_set(r, 2);
        if (d->flags & CMD_WRITE) {
            reply_status(r, del ? "RM" : "RW");
            reply_status(r, del ? "delete" : "update");
        } else {
            reply_status(r, "RO");
            reply_status(r, "access");
        }
        reply_bulk_cstr(r, "begin_search");
        reply_map(r, 2);
        reply_bulk_cstr(r, "type");
        reply_bulk_cstr(r, "index");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 1);
        reply_bulk_cstr(r, "index");
        reply_int(r, d->first_key);
        reply_bulk_cstr(r, "find_keys");
        reply_map(r, 2);
        reply_bulk_cstr(r, "type");
        reply_bulk_cstr(r, "range");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 3);
        reply_bulk_cstr(r, "lastkey");
        reply_int(r, d->last_key < 0 ? d->last_key : d->last_key - d->first_key);
        reply_bulk_cstr(r, "keystep");
        reply_int(r, d->key_step);
        reply_bulk_cstr(r, "limit");
        reply_int(r, 0);
    } else {
        reply_empty_array(r);
    }
    int nsubs = 0;
    for (const struct cmd_def *s = d->subs; s && s->name; s++)
        nsubs++;
    reply_array(r, nsubs);
    for (const struct cmd_def *s = d->subs; s && s->name; s++)
        reply_info_one(r, s, d->name);
}

/* Resolve "name" or "container|sub". */
static const struct cmd_def *find_by_fullname(const char *p, size_t len, const char **parent)
{
    const char *bar = memchr(p, '|', len);
    *parent = NULL;
    if (bar == NULL)
        return server_command_lookup(p, len);
    const struct cmd_def *d = server_command_lookup(p, (size_t)(bar - p));
    if (d == NULL || d->subs == NULL)
        return NULL;
    *parent = d->name;
    return server_subcommand_lookup(d, bar + 1, len - (size_t)(bar - p) - 1);
}

void cmd_command(struct cmd_ctx *c)
{
    unsigned n;
    const struct cmd_def *const *cmds = server_commands(&n);
    reply_array(c->reply, n);
    for (unsigned i = 0; i < n; i++)
        reply_info_one(c->reply, cmds[i], NULL);
}

void cmd_command_count(struct cmd_ctx *c)
{
    unsigned n;
    server_commands(&n);
    reply_int(c->reply, n);
}

void cmd_command_info(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        cmd_command(c);
        return;
    }
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const char *parent;
        const struct cmd_def *d = find_by_fullname(c->argv[i].ptr, c->argv[i].len, &parent);
        if (d)
            reply_info_one(c->reply, d, parent);
        else
            reply_null_array(c->reply);
    }
}

void cmd_command_docs(struct cmd_ctx *c)
{
    unsigned n;
    const struct cmd_def *const *cmds = server_commands(&n);
    if (c->argc == 2) {
        reply_map(c->reply, n);
        for (unsigned i = 0; i < n; i++)
            reply_docs_one(c->reply, cmds[i], NULL);
        return;
    }
    struct rblock *hdr = reply_defer(c->reply);
    long long found = 0;
    for (int i = 2; i < c->argc; i++) {
        const char *parent;
        const struct cmd_def *d = find_by_fullname(c->argv[i].ptr, c->argv[i].len, &parent);
        if (d) {
            reply_docs_one(c->reply, d, parent);
            found++;
        }
    }
    reply_defer_set(c->reply, hdr, REPLY_AGG_MAP, found);
}

static bool list_match(struct cmd_ctx *c, const struct cmd_def *d, const char *full)
{
    if (c->argc < 5)
        return true;
    const struct resp_arg *v = &c->argv[4];
    if (cmd_arg_is(c, 3, "PATTERN"))
        return util_glob_match(v->ptr, v->len, full, strlen(full), true);
    if (cmd_arg_is(c, 3, "MODULE"))
        return false;
    if (cmd_arg_is(c, 3, "ACLCAT")) {
        const char *cats[16];
        char store[16][24];
        int nc = acl_categories(d, cats, store, 16);
        for (int i = 0; i < nc; i++)
            if (util_strcaseeq(v->ptr, v->len, cats[i] + 1))
                return true;
    }
    return false;
}

void cmd_command_list(struct cmd_ctx *c)
{
    if (c->argc != 2 && !(c->argc == 5 && cmd_arg_is(c, 2, "FILTERBY") &&
                          (cmd_arg_is(c, 3, "PATTERN") || cmd_arg_is(c, 3, "MODULE") ||
                           cmd_arg_is(c, 3, "ACLCAT")))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    unsigned n;
    const struct cmd_def *const *cmds = server_commands(&n);
    struct rblock *hdr = reply_defer(c->reply);
    long long count = 0;
    for (unsigned i = 0; i < n; i++) {
        if (list_match(c, cmds[i], cmds[i]->name)) {
            reply_bulk_cstr(c->reply, cmds[i]->name);
            count++;
        }
        for (const struct cmd_def *s = cmds[i]->subs; s && s->name; s++) {
            char full[96];
            snprintf(full, sizeof(full), "%s|%s", cmds[i]->name, s->name);
            if (list_match(c, s, full)) {
                reply_bulk_cstr(c->reply, full);
                count++;
            }
        }
    }
    reply_defer_set(c->reply, hdr, REPLY_AGG_ARRAY, count);
}

void cmd_command_getkeys(struct cmd_ctx *c)
{
    int argc = c->argc - 2;
    const struct resp_arg *argv = c->argv + 2;
    const struct cmd_def *d = server_command_lookup(argv[0].ptr, argv[0].len);
    if (d == NULL) {
        reply_error(c->reply, ERR_INVALID_COMMAND);
        return;
    }
    if (d->subs != NULL && argc >= 2) {
        d = server_subcommand_lookup(d, argv[1].ptr, argv[1].len);
        if (d == NULL) {
            reply_error(c->reply, ERR_INVALID_COMMAND);
            return;
        }
    }
    if ((d->arity > 0 && argc != d->arity) || argc < -d->arity) {
        reply_error(c->reply, ERR_GETKEYS_ARITY);
        return;
    }
    int keys[256];
    int nk = cmd_get_keys(d, argc, argv, keys, (int)ARRAY_SIZE(keys));
    if (nk == 0) {
        reply_error(c->reply, ERR_NO_KEY_ARGS);
        return;
    }
    reply_array(c->reply, nk);
    for (int i = 0; i < nk; i++)
        reply_bulk(c->reply, argv[keys[i]].ptr, argv[keys[i]].len);
}

void cmd_command_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "HELP",
        "    Print this help.",
    };
    server_reply_help(c, lines, ARRAY_SIZE(lines));
}
