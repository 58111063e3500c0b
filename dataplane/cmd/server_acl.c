/*
 * ACL and its subcommands (the server group's; the users, the rules and the
 * check are in acl/, the log entries of a refused client in worker/client.c).
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "acl/acl.h"
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "base/log.h"
#include "base/mem.h"
#include "cmd/node.h"
#include "base/strbuf.h"
#include "base/util.h"

/* How much of an argument an error message quotes. */
static int arg_len(const struct resp_arg *a)
{
    return (int)MIN(a->len, 128);
}

void cmd_acl_cat(struct cmd_ctx *c)
{
    if (c->argc == 2) {
        unsigned n = 0;
        while (cmd_acl_name(n) != NULL)
            n++;
        reply_array(c->reply, n);
        for (unsigned i = 0; i < n; i++)
            reply_bulk_cstr(c->reply, cmd_acl_name(i));
        return;
    }
    if (c->argc != 3) {
        cmd_reply_arity(c);
        return;
    }
    int cat = acl_category(c->argv[2].ptr, c->argv[2].len);
    if (cat < 0) {
        reply_errorf(c->reply, ERRF_ACL_UNKNOWN_CATEGORY, arg_len(&c->argv[2]), c->argv[2].ptr);
        return;
    }
    uint64_t bit = 1ull << cat;
    long long n = 0;
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        n += (d->acl & bit) != 0;
        for (unsigned i = 0; d->subs != NULL && d->subs[i].name != NULL; i++)
            n += (d->subs[i].acl & bit) != 0;
    }
    reply_array(c->reply, n);
    char full[160];
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        if (d->acl & bit)
            reply_bulk_cstr(c->reply, d->name);
        for (unsigned i = 0; d->subs != NULL && d->subs[i].name != NULL; i++) {
            if (d->subs[i].acl & bit) {
                snprintf(full, sizeof(full), "%s|%s", d->name, d->subs[i].name);
                reply_bulk_cstr(c->reply, full);
            }
        }
    }
}

void cmd_acl_setuser(struct cmd_ctx *c)
{
    int n = c->argc - 3;
    const char **rules = mem_alloc((size_t)(n + 1) * sizeof(*rules));
    size_t *lens = mem_alloc((size_t)(n + 1) * sizeof(*lens));
    for (int i = 0; i < n; i++) {
        rules[i] = c->argv[3 + i].ptr;
        lens[i] = c->argv[3 + i].len;
    }
    char err[512];
    if (acl_setuser(c->argv[2].ptr, c->argv[2].len, n, rules, lens, err, sizeof(err)) != 0)
        reply_error(c->reply, err);
    else
        reply_ok(c->reply);
    mem_free(rules);
    mem_free(lens);
}

void cmd_acl_deluser(struct cmd_ctx *c)
{
    long long n = 0;
    for (int i = 2; i < c->argc; i++) {
        if (c->argv[i].len == 7 && memcmp(c->argv[i].ptr, "default", 7) == 0) {
            reply_error(c->reply, ERR_ACL_DELETE_DEFAULT);
            return;
        }
        n += acl_deluser(c->argv[i].ptr, c->argv[i].len);
    }
    reply_int(c->reply, n);
}

static void reply_strbuf(struct reply *r, struct strbuf *s)
{
    reply_bulk(r, s->buf ? s->buf : "", s->len);
    strbuf_deinit(s);
    strbuf_setup(s);
}

void cmd_acl_getuser(struct cmd_ctx *c)
{
    struct acl_user *u = acl_user_get(c->argv[2].ptr, c->argv[2].len);
    if (u == NULL) {
        reply_null(c->reply);
        return;
    }
    const struct acl_rules *r = acl_rules_of(u);
    struct reply *rp = c->reply;
    struct strbuf s;
    strbuf_setup(&s);
    reply_map(rp, 6);
    reply_bulk_cstr(rp, "flags");
    reply_array(rp, 1 + !!(r->flags & ACL_NOPASS) + !!(r->flags & ACL_SKIP_SANITIZE) +
                        !!(r->flags & ACL_SANITIZE));
    reply_bulk_cstr(rp, (r->flags & ACL_ON) ? "on" : "off");
    if (r->flags & ACL_NOPASS)
        reply_bulk_cstr(rp, "nopass");
    if (r->flags & ACL_SKIP_SANITIZE)
        reply_bulk_cstr(rp, "skip-sanitize-payload");
    if (r->flags & ACL_SANITIZE)
        reply_bulk_cstr(rp, "sanitize-payload");
    reply_bulk_cstr(rp, "passwords");
    reply_array(rp, r->npass);
    for (unsigned i = 0; i < r->npass; i++) {
        for (int j = 0; j < ACL_HASH_LEN; j++)
            strbuf_printf(&s, "%02x", r->pass[i][j]);
        reply_strbuf(rp, &s);
    }
    reply_bulk_cstr(rp, "commands");
    acl_describe_commands(r, &s);
    reply_strbuf(rp, &s);
    reply_bulk_cstr(rp, "keys");
    acl_describe_keys(r, &s);
    reply_strbuf(rp, &s);
    reply_bulk_cstr(rp, "channels");
    acl_describe_channels(r, &s, false);
    reply_strbuf(rp, &s);
    reply_bulk_cstr(rp, "selectors");
    reply_array(rp, r->nselectors);
    for (unsigned i = 0; i < r->nselectors; i++) {
        const struct acl_rules *sel = &r->selectors[i];
        reply_map(rp, 3);
        reply_bulk_cstr(rp, "commands");
        acl_describe_commands(sel, &s);
        reply_strbuf(rp, &s);
        reply_bulk_cstr(rp, "keys");
        acl_describe_keys(sel, &s);
        reply_strbuf(rp, &s);
        reply_bulk_cstr(rp, "channels");
        acl_describe_channels(sel, &s, false);
        reply_strbuf(rp, &s);
    }
    strbuf_deinit(&s);
    acl_user_put(u);
}

struct users_reply {
    struct reply *r;
    bool describe;
};

static void reply_count(void *arg, long long n)
{
    reply_array(*(struct reply **)arg, n);
}

static void reply_user(void *arg, struct acl_user *u)
{
    struct users_reply *ur = arg;
    if (!ur->describe) {
        reply_bulk_cstr(ur->r, u->name);
        return;
    }
    struct strbuf s;
    strbuf_setup(&s);
    acl_describe(u, &s);
    reply_bulk(ur->r, s.buf, s.len);
    strbuf_deinit(&s);
}

/* ACL LIST and ACL USERS: the count and the users under one hold of the registry. */
static void reply_users(struct cmd_ctx *c, bool describe)
{
    struct users_reply ur = { c->reply, describe };
    acl_foreach(reply_count, reply_user, &ur);
}

void cmd_acl_list(struct cmd_ctx *c)
{
    reply_users(c, true);
}

void cmd_acl_users(struct cmd_ctx *c)
{
    reply_users(c, false);
}

void cmd_acl_whoami(struct cmd_ctx *c)
{
    const struct cmd_client *cl = cmd_client(c);
    reply_bulk_cstr(c->reply, cl != NULL ? client_user_name(cl) : "default");
}

void cmd_acl_genpass(struct cmd_ctx *c)
{
    long long bits = 256;
    if (c->argc > 3) {
        cmd_reply_arity(c);
        return;
    }
    if (c->argc == 3 && !cmd_arg_ll(c, 2, &bits))
        return;
    if (bits <= 0 || bits > 4096) {
        reply_error(c->reply, ERR_ACL_GENPASS_BITS);
        return;
    }
    size_t chars = (size_t)(bits + 3) / 4;
    unsigned char raw[512];
    char hex[1025];
    if (RAND_bytes(raw, (int)((chars + 1) / 2)) != 1) {
        reply_error(c->reply, ERR_ACL_RANDOM);
        return;
    }
    for (size_t i = 0; i < (chars + 1) / 2; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    reply_bulk(c->reply, hex, chars);
}

struct log_reply {
    struct reply *r;
    int64_t now_ms;
};

static void reply_log_entry(void *arg, const struct acl_log_entry *e)
{
    struct log_reply *lr = arg;
    struct reply *r = lr->r;
    reply_map(r, 7);
    reply_bulk_cstr(r, "count");
    reply_int(r, e->count);
    reply_bulk_cstr(r, "reason");
    reply_bulk_cstr(r, e->reason);
    reply_bulk_cstr(r, "context");
    reply_bulk_cstr(r, e->context);
    reply_bulk_cstr(r, "object");
    reply_bulk_cstr(r, e->object);
    reply_bulk_cstr(r, "username");
    reply_bulk_cstr(r, e->username);
    reply_bulk_cstr(r, "age-seconds");
    reply_double(r, (double)(lr->now_ms - e->ctime_ms) / 1000.0);
    reply_bulk_cstr(r, "client-info");
    reply_bulk_cstr(r, e->client_info);
}

void cmd_acl_log(struct cmd_ctx *c)
{
    long long n = -1;
    if (c->argc > 3) {
        cmd_reply_arity(c);
        return;
    }
    if (c->argc == 3) {
        if (cmd_arg_is(c, 2, "RESET")) {
            acl_log_reset();
            reply_ok(c->reply);
            return;
        }
        if (!cmd_arg_ll(c, 2, &n))
            return;
        if (n < 0) {
            reply_error(c->reply, ERR_POSITIVE_RANGE);
            return;
        }
    }
    struct log_reply lr = { c->reply, c->now_ms };
    acl_log_foreach(n, reply_count, reply_log_entry, &lr);
}

void cmd_acl_dryrun(struct cmd_ctx *c)
{
    struct acl_user *u = acl_user_get(c->argv[2].ptr, c->argv[2].len);
    if (u == NULL) {
        reply_errorf(c->reply, ERRF_ACL_NO_USER, arg_len(&c->argv[2]), c->argv[2].ptr);
        return;
    }
    int argc = c->argc - 3;
    const struct resp_arg *argv = c->argv + 3;
    const struct cmd_def *parent = NULL;
    const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
    if (d != NULL && d->subs != NULL && argc >= 2) {
        parent = d;
        d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
    }
    if (d == NULL) {
        reply_errorf(c->reply, ERRF_ACL_NO_COMMAND, arg_len(&argv[0]), argv[0].ptr);
    } else if (!cmd_arity_ok(d, argc)) {
        if (parent != NULL)
            reply_errorf(c->reply, ERRF_SUB_ARITY, parent->name, d->name);
        else
            reply_errorf(c->reply, ERRF_ARITY, d->name);
    } else {
        int pos;
        enum acl_result res = acl_check(acl_rules_of(u), d, argc, argv, &pos);
        if (res == ACL_OK || cmd_acl_exempt(d, parent)) {
            reply_ok(c->reply);
        } else {
            char text[256];
            acl_denied_text(res, d, parent, &argv[pos], true, text, sizeof(text));
            reply_bulk_cstr(c->reply, text);
        }
    }
    acl_user_put(u);
}

void cmd_acl_load(struct cmd_ctx *c)
{
    const char *path = node_aclfile(c);
    if (path[0] == '\0') {
        reply_error(c->reply, ERR_NO_ACLFILE);
        return;
    }
    struct strbuf err;
    strbuf_setup(&err);
    if (acl_load_file(path, &err) == 0) {
        reply_ok(c->reply);
    } else {
        reply_errorf(c->reply, ERRF_ACL_LOAD, (int)err.len, err.buf);
    }
    strbuf_deinit(&err);
}

void cmd_acl_save(struct cmd_ctx *c)
{
    const char *path = node_aclfile(c);
    if (path[0] == '\0') {
        reply_error(c->reply, ERR_NO_ACLFILE);
        return;
    }
    if (acl_save_file(path) != 0) {
        log_warn("Saving the ACL file '%s': %s", path, strerror(errno));
        reply_error(c->reply, ERR_ACL_SAVE);
        return;
    }
    reply_ok(c->reply);
}

void cmd_acl_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}
