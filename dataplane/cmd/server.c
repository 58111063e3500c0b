/*
 * Server commands that read only the command table and the clock: COMMAND
 * and its subcommands, TIME. Every COMMAND reply is read from the rows of the
 * table (commands.table): flags, ACL categories, tips and key specifications
 * for COMMAND INFO, the documentation and the argument tree for COMMAND DOCS
 * (which redis-cli builds its hints from). The server commands that need the
 * worker (INFO, CONFIG, SLOWLOG, SHUTDOWN) are still in worker/cmd_server.c.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "commands.h"
#include "errors.h"
#include "common.h"
#include "util.h"

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
    if (!cmd_arity_ok(d, argc)) {
        reply_error(c->reply, ERR_GETKEYS_ARITY);
        return;
    }
    int keys[256];
    uint32_t flags[256];
    int nk = cmd_get_keys_flags(d, argc, argv, keys, flags, (int)ARRAY_SIZE(keys));
    if (nk == 0) {
        reply_error(c->reply, ERR_NO_KEY_ARGS);
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
