/*
 * The verb table (control/verbs.c) and its two readers: the table is well-formed, every
 * verb pollux-control serves has a handler and every other one is polluxctl's own, help
 * lists every verb and option, and polluxctl and the API accept and refuse the same option
 * sets (every option of a verb, the required ones only, each required one missing, an
 * unknown one), with the API's checks of flags and integers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/api.h"
#include "control/cli.h"
#include "tests/unit/control_test.h"
#include "control/verbs.h"

struct fixture {
    struct ctl_loop *loop;
    struct ctl_app app;
    char secret[64]; /* a file for the secret options */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->loop = ctl_loop_create();
    assert_non_null(f->loop);
    control_test_app_init(&f->app, f->loop);
    snprintf(f->secret, sizeof(f->secret), "/tmp/pollux-verbs-XXXXXX");
    int fd = mkstemp(f->secret);
    assert_true(fd >= 0);
    static const char line[] = "a-secret-of-twenty-chars\n";
    assert_int_equal(write(fd, line, sizeof(line) - 1), (ssize_t)(sizeof(line) - 1));
    close(fd);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->secret);
    control_test_app_deinit(&f->app);
    ctl_loop_destroy(f->loop);
    free(f);
    return 0;
}

/* The API's reply to argv[0..argc) (no server: the caller is an admin), as RESP text. */
static char *api(struct fixture *f, int argc, char *const *argv)
{
    struct resp_arg args[CTL_CLI_MAX_ARGS];
    for (int i = 0; i < argc; i++)
        args[i] = (struct resp_arg){ argv[i], strlen(argv[i]) };
    struct reply r;
    reply_init(&r, 2);
    ctl_api_command(&f->app, argc, args, &r);
    size_t len = 0;
    char *out = malloc(1);
    for (struct rblock *b = r.head; b; b = b->next) {
        out = realloc(out, len + (b->len - b->start) + 1);
        memcpy(out + len, b->data + b->start, b->len - b->start);
        len += b->len - b->start;
    }
    out[len] = '\0';
    reply_deinit(&r);
    return out;
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Refusals of the option set, as opposed to refusals of what the values name. */
static bool refuses_set(const char *reply)
{
    return starts(reply, "-InvalidParameterValue unknown option") ||
           starts(reply, "-MissingParameter") || starts(reply, "-InvalidAction");
}

static void table_is_consistent(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
        const struct ctl_verb *v = &ctl_verbs[i];
        assert_int_equal(v->id, i);
        assert_true(v->name && v->name[0] && v->summary && v->summary[0]);
        assert_ptr_equal(ctl_verb_find(v->name, strlen(v->name), false), v);
        /* Every POLLUX verb has a handler; polluxctl's own verbs have none. */
        assert_int_equal(ctl_api_handles(v), !v->local);
        assert_true(v->access == CTL_ACCESS_ADMIN || v->access == CTL_ACCESS_READONLY);
        /* A verb that changes state is for admins. */
        assert_true(!v->mutates || v->access == CTL_ACCESS_ADMIN);
        size_t n = ctl_verb_nopts(v);
        assert_true(n < CTL_VERB_MAX_OPTS);
        for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
            assert_true(o->key && o->key[0] && o->help && o->help[0]);
            assert_true(o->kind >= CTL_OPT_STRING && o->kind <= CTL_OPT_PARAMS);
            assert_ptr_equal(ctl_verb_opt_find(v, o->name, strlen(o->name), false), o);
            assert_ptr_equal(ctl_verb_opt_find(v, o->key, strlen(o->key), true), o);
            char file[96];
            snprintf(file, sizeof(file), "%s-file", o->key);
            if (o->kind == CTL_OPT_SECRET)
                assert_string_equal(o->name, file);
            else if (o->kind == CTL_OPT_PARAMS)
                assert_string_equal(o->key, "parameter");
            else
                assert_string_equal(o->name, o->key);
            if (o->kind == CTL_OPT_INT)
                assert_true(o->range && o->min <= o->max);
            else
                assert_null(o->range);
            assert_false(o->kind == CTL_OPT_FLAG && o->required);
        }
    }
    /* POLLUX VERBS lists the verbs with a handler, in the table's order. */
    char *argv[] = { "POLLUX", "VERBS" };
    char *reply = api(f, 2, argv);
    char want[4096];
    size_t off = 0, count = 0;
    for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
        if (ctl_verbs[i].local)
            continue;
        count++;
        off += (size_t)snprintf(want + off, sizeof(want) - off, "$%zu\r\n%s\r\n",
                                strlen(ctl_verbs[i].name), ctl_verbs[i].name);
    }
    char head[32];
    snprintf(head, sizeof(head), "*%zu\r\n", count);
    assert_true(starts(reply, head));
    assert_string_equal(reply + strlen(head), want);
    free(reply);
}

static void help_lists_every_verb_and_option(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ctl_cli_usage(out, NULL);
    fclose(out);
    for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
        assert_non_null(strstr(text, ctl_verbs[i].name));
        assert_non_null(strstr(text, ctl_verbs[i].summary));
    }
    free(text);
    for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
        const struct ctl_verb *v = &ctl_verbs[i];
        out = open_memstream(&text, &len);
        ctl_cli_usage(out, v->name);
        fclose(out);
        assert_non_null(strstr(text, v->summary));
        char role[64];
        snprintf(role, sizeof(role), "Needs the %s role%s", ctl_auth_role_name(v->access),
                 v->mutates ? "; changes state" : ".");
        assert_true(v->local || strstr(text, role) != NULL);
        for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
            char name[96];
            snprintf(name, sizeof(name), o->kind == CTL_OPT_FLAG ? "--[no-]%s " : "--%s ", o->name);
            assert_non_null(strstr(text, name));
            assert_non_null(strstr(text, o->help));
        }
        free(text);
    }
}

/*
 * polluxctl's command line for v with the options for which `with` says yes, and `extra`
 * (NULL-terminated) after them.
 */
static int cli(struct fixture *f, const struct ctl_verb *v,
               bool (*with)(const struct ctl_verb_opt *, const void *), const void *ctx,
               const char *const *extra, struct ctl_cli_cmd *cmd)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "polluxctl";
    argv[argc++] = (char *)v->name;
    char ints[CTL_VERB_MAX_OPTS][32];
    for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
        if (!with(o, ctx))
            continue;
        static char names[CTL_VERB_MAX_OPTS][96];
        size_t i = (size_t)(o - v->opts);
        snprintf(names[i], sizeof(names[i]), "--%s", o->name);
        argv[argc++] = names[i];
        switch (o->kind) {
        case CTL_OPT_FLAG:
            break;
        case CTL_OPT_INT:
            snprintf(ints[i], sizeof(ints[i]), "%lld", o->min);
            argv[argc++] = ints[i];
            break;
        case CTL_OPT_SECRET:
            argv[argc++] = f->secret;
            break;
        case CTL_OPT_PARAMS:
            argv[argc++] = "timeout=5";
            break;
        default:
            argv[argc++] = "x1";
            break;
        }
    }
    for (int i = 0; extra && extra[i]; i++)
        argv[argc++] = (char *)extra[i];
    return ctl_cli_parse(argc, argv, NULL, cmd);
}

static bool all(const struct ctl_verb_opt *o, const void *ctx)
{
    (void)o, (void)ctx;
    return true;
}

static bool required(const struct ctl_verb_opt *o, const void *ctx)
{
    (void)ctx;
    return o->required;
}

static bool all_but(const struct ctl_verb_opt *o, const void *ctx)
{
    return o != ctx;
}

/* The API's reply to polluxctl's command without the pairs named `drop` (NULL: none). */
static char *api_without(struct fixture *f, const struct ctl_cli_cmd *cmd, const char *drop)
{
    char *argv[CTL_CLI_MAX_ARGS];
    int argc = 0;
    for (int i = 0; i < cmd->argc; i++) {
        if (i >= 2 && (i % 2) == 0 && drop && strcmp(cmd->argv[i], drop) == 0) {
            i++;
            continue;
        }
        argv[argc++] = cmd->argv[i];
    }
    return api(f, argc, argv);
}

static void cli_and_api_accept_the_same_sets(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
        const struct ctl_verb *v = &ctl_verbs[i];
        struct ctl_cli_cmd cmd;
        /* Every option, and the required ones only: both sides take them. */
        for (int set = 0; set < 2; set++) {
            int rc = cli(f, v, set ? required : all, NULL, NULL, &cmd);
            if (rc != 0)
                fail_msg("%s: polluxctl refuses %s: %s", v->name, set ? "required" : "all",
                         cmd.err);
            if (!v->local) {
                char *reply = api_without(f, &cmd, NULL);
                if (refuses_set(reply))
                    fail_msg("%s: the API refuses what polluxctl sent: %s", v->name, reply);
                free(reply);
            }
            ctl_cli_cmd_deinit(&cmd);
        }
        for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
            int rc = cli(f, v, all_but, o, NULL, &cmd);
            if (!o->required) {
                assert_int_equal(rc, 0);
                ctl_cli_cmd_deinit(&cmd);
                continue;
            }
            /* A required option missing: polluxctl says so, and so does the API. */
            char needs[128];
            snprintf(needs, sizeof(needs), "%s needs --%s", v->name, o->name);
            assert_int_equal(rc, -EINVAL);
            assert_string_equal(cmd.err, needs);
            if (v->local)
                continue;
            assert_int_equal(cli(f, v, all, NULL, NULL, &cmd), 0);
            char *reply = api_without(f, &cmd, o->key);
            if (!starts(reply, "-MissingParameter"))
                fail_msg("%s without %s: %s", v->name, o->key, reply);
            free(reply);
            ctl_cli_cmd_deinit(&cmd);
        }
        /* An unknown option: refused by both. */
        static const char *const bogus[] = { "--no-such-option", "x", NULL };
        assert_int_equal(cli(f, v, required, NULL, bogus, &cmd), -EINVAL);
        assert_non_null(strstr(cmd.err, "unknown option --no-such-option"));
        if (v->local) {
            char *argv[] = { "POLLUX", (char *)v->name };
            char *reply = api(f, 2, argv);
            assert_true(starts(reply, "-InvalidAction unknown verb"));
            free(reply);
            continue;
        }
        assert_int_equal(cli(f, v, required, NULL, NULL, &cmd), 0);
        char *argv[CTL_CLI_MAX_ARGS];
        memcpy(argv, cmd.argv, sizeof(char *) * (size_t)cmd.argc);
        argv[cmd.argc] = "no-such-option";
        argv[cmd.argc + 1] = "x";
        char *reply = api(f, cmd.argc + 2, argv);
        char want[128];
        snprintf(want, sizeof(want),
                 "-InvalidParameterValue unknown option --no-such-option for %s", v->name);
        assert_true(starts(reply, want));
        free(reply);
        /* polluxctl's spelling of an option is not the API's where they differ. */
        for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
            if (strcmp(o->name, o->key) == 0)
                continue;
            argv[cmd.argc] = (char *)o->name;
            reply = api(f, cmd.argc + 2, argv);
            assert_true(starts(reply, "-InvalidParameterValue unknown option"));
            free(reply);
        }
        /* The API checks flags and integers; polluxctl leaves that to it. */
        for (const struct ctl_verb_opt *o = v->opts; o < ctl_verb_opts_end(v); o++) {
            if (o->kind != CTL_OPT_FLAG && o->kind != CTL_OPT_INT)
                continue;
            argv[cmd.argc] = (char *)o->key;
            argv[cmd.argc + 1] = "maybe";
            reply = api(f, cmd.argc + 2, argv);
            char bad[160];
            if (o->kind == CTL_OPT_FLAG)
                snprintf(bad, sizeof(bad),
                         "-InvalidParameterValue --%s takes yes or no, not 'maybe'", o->key);
            else
                snprintf(bad, sizeof(bad), "-InvalidParameterValue --%s %s, not 'maybe'", o->key,
                         o->range);
            if (!starts(reply, bad))
                fail_msg("%s %s maybe: %s", v->name, o->key, reply);
            free(reply);
        }
        ctl_cli_cmd_deinit(&cmd);
    }
}

/* polluxctl checks the integers of the verbs it runs itself, with the API's words. */
static void local_verbs_check_their_values(void **state)
{
    struct fixture *f = *state;
    (void)f;
    char *argv[] = { "polluxctl",
                     "wait-replication-group-available",
                     "--replication-group-id",
                     "rg1",
                     "--timeout-seconds",
                     "0" };
    struct ctl_cli_cmd cmd;
    assert_int_equal(ctl_cli_parse(6, argv, NULL, &cmd), -EINVAL);
    assert_string_equal(cmd.err, "--timeout-seconds is a positive number of seconds, not '0'");
    argv[5] = "30";
    assert_int_equal(ctl_cli_parse(6, argv, NULL, &cmd), 0);
    ctl_cli_cmd_deinit(&cmd);
}

/* The API's integer bounds, at and past each end. */
static void api_integer_bounds(void **state)
{
    struct fixture *f = *state;
    char lo[32], hi[32], below[32], above[32];
    const struct ctl_verb *v = ctl_verb_find("describe-events", 15, false);
    const struct ctl_verb_opt *o = ctl_verb_opt_find(v, "duration", 8, true);
    snprintf(lo, sizeof(lo), "%lld", o->min);
    snprintf(hi, sizeof(hi), "%lld", o->max);
    snprintf(below, sizeof(below), "%lld", o->min - 1);
    snprintf(above, sizeof(above), "%lld", o->max + 1);
    const char *vals[] = { lo, hi, below, above };
    for (int i = 0; i < 4; i++) {
        char *argv[] = { "POLLUX", "describe-events", "duration", (char *)vals[i] };
        char *reply = api(f, 4, argv);
        if (i < 2)
            assert_true(starts(reply, "*2\r\n$6\r\nEvents\r\n"));
        else
            assert_true(starts(reply, "-InvalidParameterValue --duration is 1 to 52560000 "
                                      "minutes, not '"));
        free(reply);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(table_is_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(help_lists_every_verb_and_option, setup, teardown),
        cmocka_unit_test_setup_teardown(cli_and_api_accept_the_same_sets, setup, teardown),
        cmocka_unit_test_setup_teardown(local_verbs_check_their_values, setup, teardown),
        cmocka_unit_test_setup_teardown(api_integer_bounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
