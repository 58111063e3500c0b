/*
 * The server group (ACL apart: acl.c). COMMAND and its subcommands and TIME
 * read only the command table and the clock: every COMMAND reply is read from
 * the rows of the table (commands.table): flags, ACL categories, tips and key
 * specifications for COMMAND INFO, the documentation and the argument tree for
 * COMMAND DOCS (which redis-cli builds its hints from). SHUTDOWN, SLOWLOG,
 * CONFIG, INFO, DEBUG and MODULE reach the node through cmd/node.h.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cmd/client.h"
#include "base/clock.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "base/errors.h"
#include "base/common.h"
#include "base/log.h"
#include "base/mem.h"
#include "cmd/node.h"
#include "base/strbuf.h"
#include "base/util.h"

static int count_bits(uint64_t set, const struct cmd_bit_name *names)
{
    int n = 0;
    for (const struct cmd_bit_name *b = names; b->name != NULL; b++)
        n += (set & b->bit) != 0;
    return n;
}

static void reply_bit_names(struct reply *r, uint64_t set, const struct cmd_bit_name *names)
{
    reply_set(r, count_bits(set, names));
    for (const struct cmd_bit_name *b = names; b->name != NULL; b++)
        if (set & b->bit)
            reply_status(r, b->name);
}

/* "container|sub" for a subcommand, else the name. */
static void reply_full_name(struct reply *r, const struct cmd_def *d, const struct cmd_def *parent)
{
    char name[96];
    snprintf(name, sizeof(name), "%s%s%s", parent ? parent->name : "", parent ? "|" : "", d->name);
    reply_bulk_cstr(r, name);
}

/* ---------------------------------------------------------------------------
 * COMMAND DOCS
 * ------------------------------------------------------------------------ */

static void reply_args(struct reply *r, const struct cmd_arg *args, unsigned n)
{
    static const struct cmd_bit_name arg_flags[] = {
        { CMD_ARG_OPTIONAL, "optional" },
        { CMD_ARG_MULTIPLE, "multiple" },
        { CMD_ARG_MULTIPLE_TOKEN, "multiple_token" },
        { 0, NULL },
    };
    reply_array(r, n);
    for (unsigned i = 0; i < n; i++) {
        const struct cmd_arg *a = &args[i];
        reply_map(r, 2 + (a->key_spec >= 0) + (a->token != NULL) + (a->summary != NULL) +
                         (a->since != NULL) + (a->deprecated_since != NULL) + (a->flags != 0) +
                         (a->nargs > 0));
        reply_bulk_cstr(r, "name");
        reply_bulk_cstr(r, a->name);
        reply_bulk_cstr(r, "type");
        reply_bulk_cstr(r, cmd_arg_type_name(a->type));
        if (a->key_spec >= 0) {
            reply_bulk_cstr(r, "key_spec_index");
            reply_int(r, a->key_spec);
        }
        const char *const texts[][2] = { { "token", a->token },
                                         { "summary", a->summary },
                                         { "since", a->since },
                                         { "deprecated_since", a->deprecated_since } };
        for (size_t k = 0; k < ARRAY_SIZE(texts); k++) {
            if (texts[k][1] != NULL) {
                reply_bulk_cstr(r, texts[k][0]);
                reply_bulk_cstr(r, texts[k][1]);
            }
        }
        if (a->flags != 0) {
            reply_bulk_cstr(r, "flags");
            reply_bit_names(r, a->flags, arg_flags);
        }
        if (a->nargs > 0) {
            reply_bulk_cstr(r, "arguments");
            reply_args(r, a->args, a->nargs);
        }
    }
}

static void reply_docs_one(struct reply *r, const struct cmd_def *d, const struct cmd_def *parent);

static void reply_docs_body(struct reply *r, const struct cmd_def *d)
{
    static const struct cmd_bit_name doc_flags[] = {
        { CMD_DOC_DEPRECATED, "deprecated" },
        { CMD_DOC_SYSCMD, "syscmd" },
        { 0, NULL },
    };
    reply_map(r, 2 + (d->summary != NULL) + (d->complexity != NULL) + (d->doc_flags != 0) +
                     (d->deprecated_since != NULL) + (d->replaced_by != NULL) + (d->nargs > 0) +
                     (d->nsubs > 0));
    const char *const texts[][2] = {
        { "summary", d->summary },
        { "since", d->since },
        { "group", d->group },
        { "complexity", d->complexity },
    };
    for (size_t k = 0; k < ARRAY_SIZE(texts); k++) {
        if (texts[k][1] != NULL) {
            reply_bulk_cstr(r, texts[k][0]);
            reply_bulk_cstr(r, texts[k][1]);
        }
    }
    if (d->doc_flags != 0) {
        reply_bulk_cstr(r, "doc_flags");
        reply_bit_names(r, d->doc_flags, doc_flags);
    }
    if (d->deprecated_since != NULL) {
        reply_bulk_cstr(r, "deprecated_since");
        reply_bulk_cstr(r, d->deprecated_since);
    }
    if (d->replaced_by != NULL) {
        reply_bulk_cstr(r, "replaced_by");
        reply_bulk_cstr(r, d->replaced_by);
    }
    if (d->nargs > 0) {
        reply_bulk_cstr(r, "arguments");
        reply_args(r, d->args, d->nargs);
    }
    if (d->nsubs > 0) {
        reply_bulk_cstr(r, "subcommands");
        reply_map(r, d->nsubs);
        for (unsigned i = 0; i < d->nsubs; i++)
            reply_docs_one(r, &d->subs[i], d);
    }
}

static void reply_docs_one(struct reply *r, const struct cmd_def *d, const struct cmd_def *parent)
{
    reply_full_name(r, d, parent);
    reply_docs_body(r, d);
}

/* ---------------------------------------------------------------------------
 * COMMAND INFO
 * ------------------------------------------------------------------------ */

static void reply_acl_categories(struct reply *r, uint64_t acl)
{
    int n = 0;
    for (unsigned i = 0; i < CMD_ACL_NCATEGORIES; i++)
        n += (acl >> i) & 1;
    reply_set(r, n);
    for (unsigned i = 0; i < CMD_ACL_NCATEGORIES; i++) {
        if ((acl >> i) & 1) {
            char cat[32];
            snprintf(cat, sizeof(cat), "@%s", cmd_acl_name(i));
            reply_status(r, cat);
        }
    }
}

/* Space-separated tips as a set of bulk strings. */
static void reply_tips(struct reply *r, const char *tips)
{
    int n = 0;
    for (const char *p = tips; p != NULL && *p != '\0'; p += strcspn(p, " "), p += *p == ' ')
        n++;
    reply_set(r, n);
    for (const char *p = tips; p != NULL && *p != '\0'; p += *p == ' ') {
        size_t len = strcspn(p, " ");
        reply_bulk(r, p, len);
        p += len;
    }
}

static void reply_int_field(struct reply *r, const char *name, long long v)
{
    reply_bulk_cstr(r, name);
    reply_int(r, v);
}

static void reply_key_spec(struct reply *r, const struct cmd_key_spec *ks)
{
    reply_map(r, 3 + (ks->notes != NULL));
    if (ks->notes != NULL) {
        reply_bulk_cstr(r, "notes");
        reply_bulk_cstr(r, ks->notes);
    }
    reply_bulk_cstr(r, "flags");
    reply_bit_names(r, ks->flags, cmd_ks_flag_names);
    reply_bulk_cstr(r, "begin_search");
    reply_map(r, 2);
    reply_bulk_cstr(r, "type");
    if (ks->bs_type == CMD_KS_INDEX) {
        reply_bulk_cstr(r, "index");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 1);
        reply_int_field(r, "index", ks->bs.index);
    } else if (ks->bs_type == CMD_KS_KEYWORD) {
        reply_bulk_cstr(r, "keyword");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 2);
        reply_bulk_cstr(r, "keyword");
        reply_bulk_cstr(r, ks->bs.keyword.keyword);
        reply_int_field(r, "startfrom", ks->bs.keyword.startfrom);
    } else {
        reply_bulk_cstr(r, "unknown");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 0);
    }
    reply_bulk_cstr(r, "find_keys");
    reply_map(r, 2);
    reply_bulk_cstr(r, "type");
    if (ks->fk_type == CMD_KS_RANGE) {
        reply_bulk_cstr(r, "range");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 3);
        reply_int_field(r, "lastkey", ks->fk.range.lastkey);
        reply_int_field(r, "keystep", ks->fk.range.keystep);
        reply_int_field(r, "limit", ks->fk.range.limit);
    } else if (ks->fk_type == CMD_KS_KEYNUM) {
        reply_bulk_cstr(r, "keynum");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 3);
        reply_int_field(r, "keynumidx", ks->fk.keynum.keynumidx);
        reply_int_field(r, "firstkey", ks->fk.keynum.firstkey);
        reply_int_field(r, "keystep", ks->fk.keynum.keystep);
    } else {
        reply_bulk_cstr(r, "unknown");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 0);
    }
}

static void reply_info_one(struct reply *r, const struct cmd_def *d, const struct cmd_def *parent)
{
    reply_array(r, 10);
    reply_full_name(r, d, parent);
    reply_int(r, d->arity);
    reply_bit_names(r, d->flags, cmd_flag_names);
    reply_int(r, d->first_key);
    reply_int(r, d->last_key);
    reply_int(r, d->key_step);
    reply_acl_categories(r, d->acl);
    reply_tips(r, d->tips);
    reply_set(r, d->nkeyspecs);
    for (unsigned i = 0; i < d->nkeyspecs; i++)
        reply_key_spec(r, &d->keyspecs[i]);
    reply_set(r, d->nsubs);
    for (unsigned i = 0; i < d->nsubs; i++)
        reply_info_one(r, &d->subs[i], d);
}

void cmd_command(struct cmd_ctx *c)
{
    reply_array(c->reply, cmd_table_count());
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++)
        reply_info_one(c->reply, d, NULL);
}

void cmd_command_count(struct cmd_ctx *c)
{
    reply_int(c->reply, cmd_table_count());
}

void cmd_command_info(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        cmd_command(c);
        return;
    }
    reply_array(c->reply, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const struct cmd_def *parent;
        const struct cmd_def *d = cmd_lookup_full(c->argv[i].ptr, c->argv[i].len, &parent);
        if (d)
            reply_info_one(c->reply, d, parent);
        else
            reply_null_array(c->reply);
    }
}

void cmd_command_docs(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        reply_map(c->reply, cmd_table_count());
        for (const struct cmd_def *d = cmd_table; d->name != NULL; d++)
            reply_docs_one(c->reply, d, NULL);
        return;
    }
    struct rblock *hdr = reply_defer(c->reply);
    long long found = 0;
    for (int i = 2; i < c->argc; i++) {
        const struct cmd_def *parent;
        const struct cmd_def *d = cmd_lookup_full(c->argv[i].ptr, c->argv[i].len, &parent);
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
    if (cmd_arg_is(c, 3, "ACLCAT")) {
        for (unsigned i = 0; i < CMD_ACL_NCATEGORIES; i++)
            if (util_strcaseeq(v->ptr, v->len, cmd_acl_name(i)))
                return (d->acl >> i) & 1;
    }
    return false; /* MODULE: Pollux has no modules */
}

void cmd_command_list(struct cmd_ctx *c)
{
    if (c->argc != 2 && !(c->argc == 5 && cmd_arg_is(c, 2, "FILTERBY") &&
                          (cmd_arg_is(c, 3, "PATTERN") || cmd_arg_is(c, 3, "MODULE") ||
                           cmd_arg_is(c, 3, "ACLCAT")))) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    struct rblock *hdr = reply_defer(c->reply);
    long long count = 0;
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        if (list_match(c, d, d->name)) {
            reply_bulk_cstr(c->reply, d->name);
            count++;
        }
        for (unsigned s = 0; s < d->nsubs; s++) {
            char full[96];
            snprintf(full, sizeof(full), "%s|%s", d->name, d->subs[s].name);
            if (list_match(c, &d->subs[s], full)) {
                reply_bulk_cstr(c->reply, full);
                count++;
            }
        }
    }
    reply_defer_set(c->reply, hdr, REPLY_AGG_ARRAY, count);
}

/*
 * COMMAND GETKEYS / GETKEYSANDFLAGS <command> <arg> ...: the keys the row's
 * key specs find, and with flags each key's spec flags.
 */
static void command_keys(struct cmd_ctx *c, bool with_flags)
{
    int argc = c->argc - 2;
    const struct resp_arg *argv = c->argv + 2;
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (d == NULL) {
        reply_error(c->reply, ERR_INVALID_COMMAND);
        return;
    }
    if (d->subs != NULL && argc >= 2) {
        d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
        if (d == NULL) {
            reply_error(c->reply, ERR_INVALID_COMMAND);
            return;
        }
    }
    /* as Redis: a command without key specs first, then the arity, then keys not found */
    bool has_keys = d->getkeys != NULL;
    for (unsigned s = 0; s < d->nkeyspecs; s++)
        has_keys |= !(d->keyspecs[s].flags & CMD_KS_NOT_KEY);
    if (!has_keys) {
        reply_error(c->reply, ERR_NO_KEY_ARGS);
        return;
    }
    if (!cmd_arity_ok(d, argc)) {
        reply_error(c->reply, ERR_GETKEYS_ARITY);
        return;
    }
    int keys[256];
    uint32_t flags[256];
    int nk = cmd_get_keys_flags(d, argc, argv, keys, flags, (int)ARRAY_SIZE(keys));
    if (nk < 0) {
        reply_error(c->reply, ERR_GETKEYS_INVALID);
        return;
    }
    if (nk == 0) {
        reply_error(c->reply, ERR_GETKEYS_INVALID);
        return;
    }
    reply_array(c->reply, nk);
    for (int i = 0; i < nk; i++) {
        if (with_flags) {
            reply_array(c->reply, 2);
            reply_bulk(c->reply, argv[keys[i]].ptr, argv[keys[i]].len);
            reply_bit_names(c->reply, flags[i], cmd_ks_flag_names);
        } else {
            reply_bulk(c->reply, argv[keys[i]].ptr, argv[keys[i]].len);
        }
    }
}

void cmd_command_getkeys(struct cmd_ctx *c)
{
    command_keys(c, false);
}

void cmd_command_getkeysandflags(struct cmd_ctx *c)
{
    command_keys(c, true);
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
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Print this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

void cmd_time(struct cmd_ctx *c)
{
    int64_t us = clock_real_us();
    reply_array(c->reply, 2);
    reply_bulk_ll(c->reply, us / 1000000);
    reply_bulk_ll(c->reply, us % 1000000);
}

/* ---------------------------------------------------------------------------
 * SHUTDOWN, SLOWLOG, CONFIG, INFO, DEBUG, MODULE: what they read or change is
 * the node's (cmd/node.h)
 * ------------------------------------------------------------------------ */

void cmd_shutdown(struct cmd_ctx *c)
{
    for (int i = 1; i < c->argc; i++) {
        if (!(cmd_arg_is(c, i, "NOSAVE") || cmd_arg_is(c, i, "SAVE") || cmd_arg_is(c, i, "NOW") ||
              cmd_arg_is(c, i, "FORCE") || cmd_arg_is(c, i, "ABORT"))) {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
        if (cmd_arg_is(c, i, "ABORT")) {
            reply_error(c->reply, ERR_NO_SHUTDOWN);
            return;
        }
    }
    int save = -1;
    for (int i = 1; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "NOSAVE"))
            save = 0;
        else if (cmd_arg_is(c, i, "SAVE"))
            save = 1;
    }
    node_shutdown(save);
    /* No reply: the connection closes as the server stops. */
    client_close_now(cmd_client(c));
}

/* SLOWLOG GET/LEN/RESET hold every shard and read every worker's log. */
void cmd_slowlog_get(struct cmd_ctx *c)
{
    long long count = 10;
    if (c->argc == 3) {
        if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < -1) {
            reply_error(c->reply, ERR_COUNT_MIN_ONE);
            return;
        }
        if (count == -1)
            count = LLONG_MAX;
    }
    node_slowlog_reply(c->reply, count);
}

void cmd_slowlog_len(struct cmd_ctx *c)
{
    reply_int(c->reply, node_slowlog_len());
}

void cmd_slowlog_reset(struct cmd_ctx *c)
{
    node_slowlog_reset();
    reply_ok(c->reply);
}
void cmd_slowlog_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

void cmd_config_get(struct cmd_ctx *c)
{
    node_config_get(c->reply, c->argc - 2, c->argv + 2);
}

void cmd_config_set(struct cmd_ctx *c)
{
    if ((c->argc - 2) % 2 != 0) {
        reply_error(c->reply, ERR_CONFIG_SET_ARITY);
        return;
    }
    int npairs = (c->argc - 2) / 2;
    const char *names[64], *values[64];
    char *owned[128];
    int nowned = 0;
    if (npairs > 64) {
        reply_error(c->reply, ERR_SYNTAX);
        return;
    }
    for (int i = 0; i < npairs; i++) {
        owned[nowned++] = mem_strndup(c->argv[2 + 2 * i].ptr, c->argv[2 + 2 * i].len);
        owned[nowned++] = mem_strndup(c->argv[3 + 2 * i].ptr, c->argv[3 + 2 * i].len);
        names[i] = owned[nowned - 2];
        values[i] = owned[nowned - 1];
    }
    char err[1024];
    if (node_config_set(c, npairs, names, values, err, sizeof(err)) != 0)
        reply_error(c->reply, err);
    else
        reply_ok(c->reply);
    for (int i = 0; i < nowned; i++)
        mem_free(owned[i]);
}

void cmd_config_rewrite(struct cmd_ctx *c)
{
    char err[1024];
    if (node_config_rewrite(err, sizeof(err)) != 0) {
        reply_error(c->reply, err);
        return;
    }
    reply_ok(c->reply);
}

/* Every shard is held: reset each worker's and store's counters. */
void cmd_config_resetstat(struct cmd_ctx *c)
{
    node_reset_stats();
    reply_ok(c->reply);
}

void cmd_config_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

/* ---------------------------------------------------------------------------
 * DEBUG and MODULE: both exist for their gates (enable-debug-command,
 * enable-module-command, checked by the dispatcher on CMD_PROTECTED rows).
 * Pollux has no DEBUG subcommand but HELP yet, and no modules: MODULE LIST
 * is empty and LOAD fails as a library Redis cannot load does.
 * ------------------------------------------------------------------------ */

void cmd_debug(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "HELP",
        "    Prints this help.",
    };
    if (c->argc == 2 && cmd_arg_is(c, 1, "HELP")) {
        cmd_reply_help(c, lines, ARRAY_SIZE(lines));
        return;
    }
    reply_errorf(c->reply, ERRF_DEBUG_UNKNOWN, c->argv[1].len < 128 ? (int)c->argv[1].len : 128,
                 c->argv[1].ptr);
}

void cmd_module_list(struct cmd_ctx *c)
{
    reply_array(c->reply, 0);
}

void cmd_module_load(struct cmd_ctx *c)
{
    log_warn("Module %.*s failed to load: this server has no module support",
             c->argv[2].len < 256 ? (int)c->argv[2].len : 256, c->argv[2].ptr);
    reply_error(c->reply, ERR_MODULE_LOAD);
}

void cmd_module_unload(struct cmd_ctx *c)
{
    reply_error(c->reply, ERR_MODULE_UNLOAD);
}

void cmd_module_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LIST",
        "    Return a list of loaded modules.",
        "LOAD <path> [<arg> ...]",
        "    Load a module library from <path>, passing to it any optional arguments.",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        ("    Load a module library from <path>, while passing it module configurations and "
         "optional arguments."),
        "UNLOAD <name>",
        "    Unload a module.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}

/* INFO: every shard held. */
void cmd_info(struct cmd_ctx *c)
{
    struct strbuf s;
    strbuf_setup(&s);
    node_info(&s, c->argc - 1, c->argv + 1, c->now_ms);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}
