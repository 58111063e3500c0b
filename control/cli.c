#include "control/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/common.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "base/util.h"
#include "control/verbs.h"

/* The verbs and their options come from the one table (verbs.c) that the API checks with. */
static const struct ctl_verb *find_verb(const char *name)
{
    return ctl_verb_find(name, strlen(name), false);
}

static const struct ctl_verb_opt *find_opt(const struct ctl_verb *v, const char *name)
{
    return ctl_verb_opt_find(v, name, strlen(name), false);
}

void ctl_cli_cmd_deinit(struct ctl_cli_cmd *cmd)
{
    for (int i = 0; i < cmd->argc; i++)
        mem_free(cmd->argv[i]);
    cmd->argc = 0;
}

static int add(struct ctl_cli_cmd *cmd, const char *s, size_t n)
{
    if (cmd->argc == CTL_CLI_MAX_ARGS) {
        snprintf(cmd->err, sizeof(cmd->err), "too many arguments");
        return -EINVAL;
    }
    cmd->argv[cmd->argc++] = mem_strndup(s, n);
    return 0;
}

static int add2(struct ctl_cli_cmd *cmd, const char *k, const char *v)
{
    int rc = add(cmd, k, strlen(k));
    return rc ? rc : add(cmd, v, strlen(v));
}

/*
 * One --parameter-name-values item: "name=value", a bare "name", or the AWS shorthand
 * "ParameterName=name,ParameterValue=value".
 */
static int add_param(struct ctl_cli_cmd *cmd, const char *item)
{
    char buf[512];
    const char *pn = strstr(item, "ParameterName=");
    if (pn == item) {
        const char *name = item + strlen("ParameterName=");
        const char *comma = strchr(name, ',');
        size_t nlen = comma ? (size_t)(comma - name) : strlen(name);
        const char *pv = comma ? strstr(comma, ",ParameterValue=") : NULL;
        if (comma && pv != comma) {
            snprintf(cmd->err, sizeof(cmd->err),
                     "cannot read '%s': expected ParameterName=NAME,ParameterValue=VALUE", item);
            return -EINVAL;
        }
        if (pv)
            snprintf(buf, sizeof(buf), "%.*s=%s", (int)nlen, name, pv + strlen(",ParameterValue="));
        else
            snprintf(buf, sizeof(buf), "%.*s", (int)nlen, name);
    } else {
        snprintf(buf, sizeof(buf), "%s", item);
    }
    if (buf[0] == '\0' || buf[0] == '=') {
        snprintf(cmd->err, sizeof(cmd->err), "empty parameter name in '%s'", item);
        return -EINVAL;
    }
    return add2(cmd, "parameter", buf);
}

/* The first line of a file, without its line end. @return 0 or -EINVAL with err set. */
static int read_first_line(const char *path, char *buf, size_t cap, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(buf, (int)cap, f) == NULL) {
        snprintf(err, errcap, "cannot read %s", path);
        if (f)
            fclose(f);
        return -EINVAL;
    }
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/*
 * A node password not given with --auth-token-file comes from $POLLUX_AUTH_TOKEN, for the
 * verbs that take one; modify-replication-group takes it only with an explicit
 * --auth-token-update-strategy SET, so that a variable left set changes nothing by itself.
 */
static int token_from_env(struct ctl_cli_cmd *cmd, const struct ctl_verb *v, const bool *seen)
{
    const char *env = getenv(CTL_CLI_TOKEN_ENV);
    const struct ctl_verb_opt *o = find_opt(v, "auth-token-file");
    if (env == NULL || env[0] == '\0' || o == NULL || seen[o - v->opts])
        return 0;
    if (find_opt(v, "auth-token-update-strategy") != NULL) {
        bool set = false;
        for (int i = 2; i + 1 < cmd->argc; i += 2)
            set |= strcmp(cmd->argv[i], "auth-token-update-strategy") == 0 &&
                   strcasecmp(cmd->argv[i + 1], "SET") == 0;
        if (!set)
            return 0;
    }
    return add2(cmd, "auth-token", env);
}

static bool is_option(const char *s)
{
    return s[0] == '-' && s[1] == '-' && s[2] != '\0';
}

int ctl_cli_parse(int argc, char **argv, const char *env_endpoint, struct ctl_cli_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->endpoint = env_endpoint && env_endpoint[0] ? env_endpoint : CTL_CLI_DEFAULT_EP;
    cmd->output = CTL_OUT_TABLE;
    const struct ctl_verb *v = NULL;
    bool seen[CTL_VERB_MAX_OPTS] = { false };
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (!is_option(a)) {
            if (v != NULL || cmd->help) {
                if (cmd->help && v == NULL && (v = find_verb(a)) != NULL) {
                    cmd->verb = v->name;
                    continue;
                }
                snprintf(cmd->err, sizeof(cmd->err), "unexpected argument '%s'", a);
                rc = -EINVAL;
                break;
            }
            if (strcmp(a, "help") == 0) {
                cmd->help = true;
                continue;
            }
            v = find_verb(a);
            if (v == NULL) {
                snprintf(cmd->err, sizeof(cmd->err),
                         "unknown verb '%s' (polluxctl help lists the verbs)", a);
                rc = -EINVAL;
                break;
            }
            cmd->verb = v->name;
            rc = add(cmd, "POLLUX", 6);
            if (rc == 0)
                rc = add(cmd, v->name, strlen(v->name));
            continue;
        }
        /* --name=value or --name value */
        char name[96];
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nlen >= sizeof(name)) {
            snprintf(cmd->err, sizeof(cmd->err), "option too long");
            rc = -EINVAL;
            break;
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        const char *inline_val = eq ? eq + 1 : NULL;
        if (strcmp(name, "help") == 0) {
            cmd->help = true;
            continue;
        }
        if (strcmp(name, "tls") == 0 && inline_val == NULL) {
            cmd->tls = true;
            continue;
        }
        if (strcmp(name, "endpoint") == 0 || strcmp(name, "output") == 0 ||
            strcmp(name, "profile") == 0 || strcmp(name, "ca-file") == 0) {
            const char *val = inline_val ? inline_val : (i + 1 < argc ? argv[++i] : NULL);
            if (val == NULL) {
                snprintf(cmd->err, sizeof(cmd->err), "--%s needs a value", name);
                rc = -EINVAL;
            } else if (name[0] == 'c') {
                cmd->ca_file = val;
                cmd->tls = true;
            } else if (name[0] == 'p') {
                cmd->profile = val;
            } else if (name[0] == 'e') {
                cmd->endpoint = val;
            } else if (strcmp(val, "json") == 0) {
                cmd->output = CTL_OUT_JSON;
            } else if (strcmp(val, "table") == 0 || strcmp(val, "text") == 0) {
                cmd->output = CTL_OUT_TABLE;
            } else {
                snprintf(cmd->err, sizeof(cmd->err), "--output is table or json, not '%s'", val);
                rc = -EINVAL;
            }
            continue;
        }
        if (v == NULL) {
            snprintf(cmd->err, sizeof(cmd->err), "option --%s before the verb", name);
            rc = -EINVAL;
            break;
        }
        bool negated = false;
        const struct ctl_verb_opt *o = find_opt(v, name);
        if (o == NULL && strncmp(name, "no-", 3) == 0) {
            o = find_opt(v, name + 3);
            negated = o != NULL && o->kind == CTL_OPT_FLAG;
            if (!negated)
                o = NULL;
        }
        if (o == NULL) {
            snprintf(cmd->err, sizeof(cmd->err), "unknown option --%s for %s", name, v->name);
            rc = -EINVAL;
            break;
        }
        size_t idx = (size_t)(o - v->opts);
        if (seen[idx]) {
            snprintf(cmd->err, sizeof(cmd->err), "--%s is given twice", o->name);
            rc = -EINVAL;
            break;
        }
        seen[idx] = true;
        if (o->kind == CTL_OPT_FLAG) {
            if (inline_val) {
                snprintf(cmd->err, sizeof(cmd->err), "--%s takes no value", name);
                rc = -EINVAL;
                break;
            }
            rc = add2(cmd, o->key, negated ? "no" : "yes");
            continue;
        }
        if (o->kind == CTL_OPT_STRING || o->kind == CTL_OPT_INT) {
            const char *val = inline_val ? inline_val : (i + 1 < argc ? argv[++i] : NULL);
            bool b;
            long long n;
            if (val == NULL) {
                snprintf(cmd->err, sizeof(cmd->err), "--%s needs a value", o->name);
                rc = -EINVAL;
                break;
            }
            /* pollux-control checks the values of its verbs; polluxctl those it runs itself. */
            if (v->local && ctl_verb_value(o, val, &b, &n, cmd->err, sizeof(cmd->err)) != 0) {
                rc = -EINVAL;
                break;
            }
            rc = add2(cmd, o->key, val);
            continue;
        }
        if (o->kind == CTL_OPT_SECRET) {
            const char *path = inline_val ? inline_val : (i + 1 < argc ? argv[++i] : NULL);
            char secret[CTL_AUTH_PASS_MAX + 2];
            if (path == NULL) {
                snprintf(cmd->err, sizeof(cmd->err), "--%s needs a file name", o->name);
                rc = -EINVAL;
            } else if ((rc = read_first_line(path, secret, sizeof(secret), cmd->err,
                                             sizeof(cmd->err))) == 0) {
                rc = add2(cmd, o->key, secret);
                memset(secret, 0, sizeof(secret));
            }
            continue;
        }
        /* Lists and parameter lists take every following word up to the next option. */
        int count = 0;
        struct strbuf joined;
        strbuf_setup(&joined);
        if (inline_val) {
            if (o->kind == CTL_OPT_LIST)
                strbuf_append(&joined, inline_val, strlen(inline_val));
            else
                rc = add_param(cmd, inline_val);
            count++;
        }
        while (rc == 0 && i + 1 < argc && !is_option(argv[i + 1])) {
            const char *item = argv[++i];
            if (o->kind == CTL_OPT_LIST) {
                if (joined.len)
                    strbuf_append(&joined, ",", 1);
                strbuf_append(&joined, item, strlen(item));
            } else {
                rc = add_param(cmd, item);
            }
            count++;
        }
        if (rc == 0 && count == 0) {
            snprintf(cmd->err, sizeof(cmd->err), "--%s needs at least one value", o->name);
            rc = -EINVAL;
        }
        if (rc == 0 && o->kind == CTL_OPT_LIST)
            rc = add2(cmd, o->key, joined.len ? joined.buf : "");
        strbuf_deinit(&joined);
    }
    if (rc == 0 && v == NULL && !cmd->help) {
        snprintf(cmd->err, sizeof(cmd->err), "no verb given (polluxctl help lists the verbs)");
        rc = -EINVAL;
    }
    if (rc == 0 && v != NULL && !cmd->help)
        rc = token_from_env(cmd, v, seen);
    if (rc == 0 && v != NULL && !cmd->help) {
        for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
            if (o->required && !seen[o - v->opts]) {
                snprintf(cmd->err, sizeof(cmd->err), "%s needs --%s", v->name, o->name);
                rc = -EINVAL;
                break;
            }
        }
    }
    if (rc != 0)
        ctl_cli_cmd_deinit(cmd);
    return rc;
}

void ctl_cli_usage(FILE *out, const char *verb)
{
    const struct ctl_verb *v = verb ? find_verb(verb) : NULL;
    if (v == NULL) {
        fprintf(out,
                "usage: polluxctl [--endpoint HOST:PORT] [--output table|json] [--profile NAME] "
                "[--tls] [--ca-file FILE] VERB [options]\n\nendpoint: --endpoint, else $%s, "
                "else %s\n"
                "credentials: $%s and $%s, else the profile --profile (or $%s, or default) of "
                "$%s or ~/.pollux/credentials\n"
                "TLS: --tls (or tls = yes in the profile), verifying the server with the CA of "
                "--ca-file (or ca_file in the profile; the system's CAs otherwise)\n\nverbs:\n",
                CTL_CLI_ENDPOINT_ENV, CTL_CLI_DEFAULT_EP, CTL_CLI_USER_ENV, CTL_CLI_PASSWORD_ENV,
                CTL_CLI_PROFILE_ENV, CTL_CLI_CREDENTIALS_ENV);
        for (size_t i = 0; i < CTL_VERB_COUNT; i++)
            fprintf(out, "  %-34s %s\n", ctl_verbs[i].name, ctl_verbs[i].summary);
        fprintf(out, "\npolluxctl help VERB shows the options of a verb.\n");
        return;
    }
    fprintf(out, "usage: polluxctl %s", v->name);
    for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
        const char *arg = o->kind == CTL_OPT_FLAG     ? ""
                          : o->kind == CTL_OPT_STRING ? " VALUE"
                          : o->kind == CTL_OPT_INT    ? " N"
                          : o->kind == CTL_OPT_SECRET ? " FILE"
                                                      : " VALUE...";
        fprintf(out, o->required ? " --%s%s" : " [--%s%s]", o->name, arg);
    }
    fprintf(out, "\n\n%s\n", v->summary);
    if (!v->local)
        fprintf(out, "Needs the %s role%s.\n", ctl_auth_role_name(v->access),
                v->mutates ? "; changes state (the events name the user)" : "");
    fputc('\n', out);
    for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
        char name[80];
        snprintf(name, sizeof(name), o->kind == CTL_OPT_FLAG ? "--[no-]%s" : "--%s", o->name);
        fprintf(out, "  %-36s %s%s\n", name, o->help, o->required ? " (required)" : "");
    }
}

/*
 * The credentials file ($POLLUX_CREDENTIALS_FILE, else ~/.pollux/credentials) into text
 * (NUL-terminated; free it with strbuf_deinit), its name into path.
 * @return 0; -ENOENT when it cannot be read (text is then empty).
 */
static int read_credentials_file(char *path, size_t cap, struct strbuf *text)
{
    const char *file = getenv(CTL_CLI_CREDENTIALS_ENV), *home = getenv("HOME");
    if (file && file[0])
        snprintf(path, cap, "%s", file);
    else if (home && home[0])
        snprintf(path, cap, "%s/.pollux/credentials", home);
    else
        path[0] = '\0';
    strbuf_setup(text);
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (f == NULL)
        return -ENOENT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && text->len < (1u << 20))
        strbuf_append(text, chunk, n);
    fclose(f);
    strbuf_append(text, "", 1); /* NUL-terminated */
    return 0;
}

int ctl_cli_tls_settings(const char *profile, struct ctl_cli_cmd *cmd, char *err, size_t errcap)
{
    if (profile == NULL)
        profile = getenv(CTL_CLI_PROFILE_ENV) ? getenv(CTL_CLI_PROFILE_ENV) : "default";
    char path[1024], tls[16], why[128] = "";
    struct strbuf text;
    int rc = 0;
    if (read_credentials_file(path, sizeof(path), &text) == 0) {
        if (!cmd->tls && (rc = ctl_auth_profile_value(text.buf, profile, "tls", tls, sizeof(tls),
                                                      why, sizeof(why))) == 0)
            cmd->tls = strcmp(tls, "yes") == 0 || strcmp(tls, "true") == 0 || strcmp(tls, "1") == 0;
        if (rc != -EINVAL && cmd->ca_file == NULL &&
            (rc = ctl_auth_profile_value(text.buf, profile, "ca_file", cmd->ca_buf,
                                         sizeof(cmd->ca_buf), why, sizeof(why))) == 0)
            cmd->ca_file = cmd->ca_buf;
    }
    strbuf_deinit(&text);
    if (rc == -EINVAL) {
        snprintf(err, errcap, "%s: %s", path, why);
        return rc;
    }
    if (cmd->ca_file != NULL)
        cmd->tls = true;
    return 0;
}

int ctl_cli_credentials(const char *profile, struct ctl_cli_auth *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    const char *eu = getenv(CTL_CLI_USER_ENV), *ep = getenv(CTL_CLI_PASSWORD_ENV);
    if (profile == NULL && eu && eu[0] && ep && ep[0]) {
        snprintf(out->user, sizeof(out->user), "%s", eu);
        snprintf(out->pass, sizeof(out->pass), "%s", ep);
        return 0;
    }
    bool explicit_profile = profile != NULL || getenv(CTL_CLI_PROFILE_ENV) != NULL;
    if (profile == NULL)
        profile = explicit_profile ? getenv(CTL_CLI_PROFILE_ENV) : "default";
    char path[1024];
    struct strbuf text;
    if (read_credentials_file(path, sizeof(path), &text) != 0) {
        strbuf_deinit(&text);
        if (!explicit_profile)
            return -ENOENT; /* no credentials: fine for a pollux-control without users */
        snprintf(err, errcap, "profile '%s' asked for, but %s cannot be read", profile,
                 path[0] ? path : "no credentials file");
        return -EINVAL;
    }
    char why[128] = "";
    int rc = ctl_auth_credentials_parse(text.buf, profile, out->user, sizeof(out->user), out->pass,
                                        sizeof(out->pass), why, sizeof(why));
    strbuf_deinit(&text);
    if (rc == -EINVAL) {
        snprintf(err, errcap, "%s: %s", path, why);
    } else if (rc == -ENOENT) {
        if (!explicit_profile)
            return -ENOENT;
        snprintf(err, errcap, "%s has no profile '%s' with a user and a password", path, profile);
        rc = -EINVAL;
    }
    return rc;
}

int ctl_cli_split_endpoint(const char *ep, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(ep, ':');
    long long p;
    if (colon == NULL || colon == ep || !util_str2ll(colon + 1, strlen(colon + 1), &p) || p < 1 ||
        p > 65535)
        return -EINVAL;
    size_t n = (size_t)(colon - ep);
    if (ep[0] == '[' && n >= 2 && ep[n - 1] == ']') {
        ep++;
        n -= 2;
    }
    if (n == 0 || n >= hostlen)
        return -EINVAL;
    memcpy(host, ep, n);
    host[n] = '\0';
    *port = (int)p;
    return 0;
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void json_string(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void indent(FILE *out, int level)
{
    for (int i = 0; i < level; i++)
        fputs("    ", out);
}

static void json_value(FILE *out, const struct ctl_reply *r, int level)
{
    switch (r->type) {
    case CTL_R_STATUS:
    case CTL_R_BULK:
    case CTL_R_ERROR:
        json_string(out, r->str, r->len);
        break;
    case CTL_R_DOUBLE:
        fputs(r->str, out);
        break;
    case CTL_R_INT:
        fprintf(out, "%lld", r->integer);
        break;
    case CTL_R_BOOL:
        fputs(r->integer ? "true" : "false", out);
        break;
    case CTL_R_NIL:
        fputs("null", out);
        break;
    case CTL_R_MAP:
        if (r->n == 0) {
            fputs("{}", out);
            break;
        }
        fputs("{\n", out);
        for (size_t i = 0; i + 1 < r->n; i += 2) {
            indent(out, level + 1);
            const struct ctl_reply *k = r->elem[i];
            if (k->str)
                json_string(out, k->str, k->len);
            else
                fprintf(out, "\"%lld\"", k->integer);
            fputs(": ", out);
            json_value(out, r->elem[i + 1], level + 1);
            fputs(i + 2 < r->n ? ",\n" : "\n", out);
        }
        indent(out, level);
        fputc('}', out);
        break;
    default: /* arrays, sets, pushes */
        if (r->n == 0) {
            fputs("[]", out);
            break;
        }
        fputs("[\n", out);
        for (size_t i = 0; i < r->n; i++) {
            indent(out, level + 1);
            json_value(out, r->elem[i], level + 1);
            fputs(i + 1 < r->n ? ",\n" : "\n", out);
        }
        indent(out, level);
        fputc(']', out);
        break;
    }
}

void ctl_cli_print_json(FILE *out, const struct ctl_reply *r)
{
    json_value(out, r, 0);
    fputc('\n', out);
}

/* ---- tables ------------------------------------------------------------------------------- */

/* A scalar as text ("-" for nil); nested values are summarised. */
static void cell(const struct ctl_reply *v, char *buf, size_t len)
{
    if (v == NULL || v->type == CTL_R_NIL) {
        snprintf(buf, len, "-");
    } else if (v->type == CTL_R_INT) {
        snprintf(buf, len, "%lld", v->integer);
    } else if (v->type == CTL_R_BOOL) {
        snprintf(buf, len, "%s", v->integer ? "yes" : "no");
    } else if (v->str) {
        snprintf(buf, len, "%s", v->str[0] ? v->str : "-");
    } else if (v->type == CTL_R_MAP) {
        /* An endpoint: Address:Port. */
        const struct ctl_reply *a = ctl_reply_get(v, "Address"), *p = ctl_reply_get(v, "Port");
        if (a && p && a->str)
            snprintf(buf, len, "%s:%lld", a->str, p->integer);
        else
            snprintf(buf, len, "{...}");
    } else {
        size_t off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < v->n && off < len; i++) {
            char item[128];
            cell(v->elem[i], item, sizeof(item));
            off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", item);
        }
        if (v->n == 0)
            snprintf(buf, len, "-");
    }
}

struct col {
    const char *title;
    const char *key;
};

#define MAX_COLS 12

static void table(FILE *out, const struct ctl_reply *rows, const struct col *cols, int ncols,
                  int lead)
{
    size_t width[MAX_COLS];
    for (int c = 0; c < ncols; c++)
        width[c] = strlen(cols[c].title);
    for (size_t i = 0; rows && i < rows->n; i++) {
        for (int c = 0; c < ncols; c++) {
            char buf[512];
            cell(ctl_reply_get(rows->elem[i], cols[c].key), buf, sizeof(buf));
            width[c] = MAX(width[c], strlen(buf));
        }
    }
    fprintf(out, "%*s", lead, "");
    for (int c = 0; c < ncols; c++)
        fprintf(out, "%-*s%s", c + 1 < ncols ? (int)width[c] : 0, cols[c].title,
                c + 1 < ncols ? "  " : "\n");
    for (size_t i = 0; rows && i < rows->n; i++) {
        fprintf(out, "%*s", lead, "");
        for (int c = 0; c < ncols; c++) {
            char buf[512];
            cell(ctl_reply_get(rows->elem[i], cols[c].key), buf, sizeof(buf));
            fprintf(out, "%-*s%s", c + 1 < ncols ? (int)width[c] : 0, buf,
                    c + 1 < ncols ? "  " : "\n");
        }
    }
}

static const struct col node_cols[] = {
    { "NODE", "NodeId" },           { "ADDRESS", "Address" }, { "PORT", "Port" },
    { "ZONE", "AvailabilityZone" }, { "TYPE", "NodeType" },   { "GROUP", "ReplicationGroupId" },
    { "ROLE", "CurrentRole" },      { "STATUS", "Status" },   { "PARAMETERS", "ParameterStatus" },
};

static const struct col member_cols[] = {
    { "NODE", "CacheNodeId" },
    { "ROLE", "CurrentRole" },
    { "ADDRESS", "Address" },
    { "PORT", "Port" },
    { "ZONE", "AvailabilityZone" },
    { "STATUS", "Status" },
    { "OFFSET", "ReplicationOffset" },
    { "LAG(B)", "LagBytes" },
    { "LAG(S)", "LagSeconds" },
    { "LINK", "LinkStatus" },
    { "PARAMETERS", "ParameterStatus" },
};
_Static_assert(sizeof(member_cols) / sizeof(member_cols[0]) <= MAX_COLS, "member table");

static const struct col pg_cols[] = {
    { "NAME", "CacheParameterGroupName" },
    { "FAMILY", "CacheParameterGroupFamily" },
    { "DEFAULT", "IsDefault" },
    { "DESCRIPTION", "Description" },
};

static const struct col param_cols[] = {
    { "NAME", "ParameterName" },      { "VALUE", "ParameterValue" }, { "DEFAULT", "DefaultValue" },
    { "SOURCE", "Source" },           { "TYPE", "DataType" },        { "ALLOWED", "AllowedValues" },
    { "MODIFIABLE", "IsModifiable" }, { "CHANGE", "ChangeType" },
};

static const struct col event_cols[] = {
    { "DATE", "Date" }, { "TYPE", "SourceType" }, { "SOURCE", "SourceIdentifier" },
    { "USER", "User" }, { "MESSAGE", "Message" },
};

static const struct col user_cols[] = {
    { "USER", "UserName" },
    { "ROLE", "Role" },
    { "CREATED", "CreateTime" },
};

#define NCOLS(c) ((int)(sizeof(c) / sizeof((c)[0])))

static void group_block(FILE *out, const struct ctl_reply *g)
{
    char id[128], status[64], maz[32], af[32], pg[256], pe[300], re[300], tok[16];
    cell(ctl_reply_get(g, "ReplicationGroupId"), id, sizeof(id));
    cell(ctl_reply_get(g, "Status"), status, sizeof(status));
    cell(ctl_reply_get(g, "MultiAZ"), maz, sizeof(maz));
    cell(ctl_reply_get(g, "AutomaticFailover"), af, sizeof(af));
    cell(ctl_reply_get(g, "CacheParameterGroupName"), pg, sizeof(pg));
    cell(ctl_reply_get(g, "PrimaryEndpoint"), pe, sizeof(pe));
    cell(ctl_reply_get(g, "ReaderEndpoint"), re, sizeof(re));
    cell(ctl_reply_get(g, "AuthTokenEnabled"), tok, sizeof(tok));
    fprintf(out, "%s  status %s  Multi-AZ %s  automatic failover %s  parameter group %s%s\n", id,
            status, maz, af, pg, strcmp(tok, "yes") == 0 ? "  auth token enabled" : "");
    fprintf(out, "  primary endpoint %s  reader endpoint %s\n", pe, re);
    table(out, ctl_reply_get(g, "NodeGroupMembers"), member_cols, NCOLS(member_cols), 2);
}

static void kv_block(FILE *out, const struct ctl_reply *m, int lead)
{
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        char v[1024];
        cell(m->elem[i + 1], v, sizeof(v));
        fprintf(out, "%*s%s: %s\n", lead, "", m->elem[i]->str ? m->elem[i]->str : "?", v);
    }
}

void ctl_cli_print_table(FILE *out, const char *verb, const struct ctl_reply *r)
{
    (void)verb;
    if (r->type == CTL_R_STATUS) {
        fprintf(out, "%s\n", r->str);
        return;
    }
    const struct ctl_reply *params = ctl_reply_get(r, "Parameters");
    if (r->type == CTL_R_MAP && params != NULL) {
        const struct ctl_reply *name = ctl_reply_get(r, "CacheParameterGroupName");
        if (name && name->str)
            fprintf(out, "%s\n", name->str);
        table(out, params, param_cols, NCOLS(param_cols), 0);
        return;
    }
    if (r->type != CTL_R_MAP || r->n != 2) {
        ctl_cli_print_json(out, r);
        return;
    }
    const char *k = r->elem[0]->str ? r->elem[0]->str : "";
    const struct ctl_reply *v = r->elem[1];
    if (strcmp(k, "ReplicationGroups") == 0) {
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                fputc('\n', out);
            group_block(out, v->elem[i]);
        }
        if (v->n == 0)
            fprintf(out, "no replication groups\n");
    } else if (strcmp(k, "ReplicationGroup") == 0) {
        group_block(out, v);
    } else if (strcmp(k, "Nodes") == 0) {
        table(out, v, node_cols, NCOLS(node_cols), 0);
    } else if (strcmp(k, "Users") == 0) {
        table(out, v, user_cols, NCOLS(user_cols), 0);
    } else if (strcmp(k, "Node") == 0 || strcmp(k, "CacheParameterGroup") == 0 ||
               strcmp(k, "User") == 0) {
        kv_block(out, v, 0);
    } else if (strcmp(k, "CacheParameterGroups") == 0) {
        table(out, v, pg_cols, NCOLS(pg_cols), 0);
    } else if (strcmp(k, "Events") == 0) {
        table(out, v, event_cols, NCOLS(event_cols), 0);
    } else if (strcmp(k, "CacheParameterGroupName") == 0) {
        fprintf(out, "%s\n", v->str ? v->str : "");
    } else {
        ctl_cli_print_json(out, r);
    }
}
