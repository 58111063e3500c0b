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

#include "control/cli.h"

static int parse(struct ctl_cli_cmd *cmd, const char *env, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "polluxctl";
    va_list ap;
    va_start(ap, env);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    return ctl_cli_parse(argc, argv, env, cmd);
}

/* The command as one space-separated string. */
static const char *joined(const struct ctl_cli_cmd *cmd)
{
    static char buf[1024];
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < cmd->argc; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " " : "", cmd->argv[i]);
    return buf;
}

static void values_lists_and_flags(void **state)
{
    (void)state;
    struct ctl_cli_cmd cmd;
    assert_int_equal(parse(&cmd, NULL, "create-replication-group", "--replication-group-id", "rg1",
                           "--primary-node-id=n1", "--replica-node-ids", "n2", "n3", "--multi-az",
                           "--no-automatic-failover-enabled", NULL),
                     0);
    assert_string_equal(joined(&cmd), "POLLUX create-replication-group replication-group-id rg1 "
                                      "primary-node-id n1 replica-node-ids n2,n3 multi-az yes "
                                      "automatic-failover-enabled no");
    assert_string_equal(cmd.endpoint, CTL_CLI_DEFAULT_EP);
    assert_int_equal(cmd.output, CTL_OUT_TABLE);
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, NULL, "create-replication-group", "--replication-group-id", "rg1",
                           "--primary-node-id", "n1", "--replica-node-ids=n2,n3", NULL),
                     0);
    assert_non_null(strstr(joined(&cmd), "replica-node-ids n2,n3"));
    ctl_cli_cmd_deinit(&cmd);
}

static void global_options_anywhere(void **state)
{
    (void)state;
    struct ctl_cli_cmd cmd;
    assert_int_equal(parse(&cmd, "10.0.0.1:1", "--output", "json", "describe-nodes",
                           "--endpoint=127.0.0.1:7000", NULL),
                     0);
    assert_string_equal(cmd.endpoint, "127.0.0.1:7000");
    assert_int_equal(cmd.output, CTL_OUT_JSON);
    assert_string_equal(joined(&cmd), "POLLUX describe-nodes");
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, "10.0.0.1:1", "describe-nodes", NULL), 0);
    assert_string_equal(cmd.endpoint, "10.0.0.1:1");
    ctl_cli_cmd_deinit(&cmd);
}

/* --password-file sends the file's first line as "password"; --profile is kept. */
static void password_file_and_profile(void **state)
{
    (void)state;
    char path[] = "/tmp/polluxctl-pw-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret word\r\nsecond line\n", 26), 26);
    close(fd);
    struct ctl_cli_cmd cmd;
    assert_int_equal(parse(&cmd, NULL, "--profile", "ops", "create-user", "--user-name", "u",
                           "--role", "readonly", "--password-file", path, NULL),
                     0);
    assert_string_equal(joined(&cmd),
                        "POLLUX create-user user-name u role readonly password s3cret word");
    assert_string_equal(cmd.profile, "ops");
    ctl_cli_cmd_deinit(&cmd);
    unlink(path);
    assert_int_equal(parse(&cmd, NULL, "create-user", "--user-name", "u", "--role", "admin",
                           "--password-file", path, NULL),
                     -EINVAL);
    assert_non_null(strstr(cmd.err, "cannot read"));
    /* No --password option: a password never goes on the command line. */
    assert_int_equal(parse(&cmd, NULL, "create-user", "--user-name", "u", "--role", "admin",
                           "--password", "x", NULL),
                     -EINVAL);
    assert_int_equal(parse(&cmd, NULL, "describe-nodes", NULL), 0);
    assert_null(cmd.profile);
    ctl_cli_cmd_deinit(&cmd);
}

/* Where polluxctl's credentials come from: the environment, else a profile of the file. */
static void credentials_sources(void **state)
{
    (void)state;
    char path[] = "/tmp/polluxctl-cred-XXXXXX", err[1200];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "[default]\nuser = ro\npassword = p1\n[ops]\nuser = adm\npassword = p2\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    struct ctl_cli_auth a;
    unsetenv(CTL_CLI_PROFILE_ENV);
    setenv(CTL_CLI_CREDENTIALS_ENV, path, 1);
    setenv(CTL_CLI_USER_ENV, "envuser", 1);
    setenv(CTL_CLI_PASSWORD_ENV, "envpass", 1);
    assert_int_equal(ctl_cli_credentials(NULL, &a, err, sizeof(err)), 0);
    assert_string_equal(a.user, "envuser");
    assert_string_equal(a.pass, "envpass");
    /* --profile wins over the environment. */
    assert_int_equal(ctl_cli_credentials("ops", &a, err, sizeof(err)), 0);
    assert_string_equal(a.user, "adm");
    unsetenv(CTL_CLI_PASSWORD_ENV); /* one of the two is not enough */
    assert_int_equal(ctl_cli_credentials(NULL, &a, err, sizeof(err)), 0);
    assert_string_equal(a.user, "ro");
    assert_string_equal(a.pass, "p1");
    setenv(CTL_CLI_PROFILE_ENV, "ops", 1);
    assert_int_equal(ctl_cli_credentials(NULL, &a, err, sizeof(err)), 0);
    assert_string_equal(a.pass, "p2");
    assert_int_equal(ctl_cli_credentials("nope", &a, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no profile 'nope'"));
    unsetenv(CTL_CLI_PROFILE_ENV);
    unlink(path);
    /* No file: no credentials, unless a profile was asked for. */
    assert_int_equal(ctl_cli_credentials(NULL, &a, err, sizeof(err)), -ENOENT);
    assert_int_equal(ctl_cli_credentials("ops", &a, err, sizeof(err)), -EINVAL);
    unsetenv(CTL_CLI_USER_ENV);
    unsetenv(CTL_CLI_CREDENTIALS_ENV);
}

/* --auth-token-file sends "auth-token"; $POLLUX_AUTH_TOKEN only where it cannot surprise. */
static void auth_token_file_and_env(void **state)
{
    (void)state;
    char path[] = "/tmp/polluxctl-tok-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "file-token-0123456789\n", 22), 22);
    close(fd);
    struct ctl_cli_cmd cmd;
    unsetenv(CTL_CLI_TOKEN_ENV);
    assert_int_equal(parse(&cmd, NULL, "create-replication-group", "--replication-group-id", "rg1",
                           "--primary-node-id", "n1", "--auth-token-file", path, NULL),
                     0);
    assert_non_null(strstr(joined(&cmd), "auth-token file-token-0123456789"));
    ctl_cli_cmd_deinit(&cmd);
    setenv(CTL_CLI_TOKEN_ENV, "env-token-0123456789", 1);
    assert_int_equal(parse(&cmd, NULL, "create-replication-group", "--replication-group-id", "rg1",
                           "--primary-node-id", "n1", NULL),
                     0);
    assert_non_null(strstr(joined(&cmd), "auth-token env-token-0123456789"));
    ctl_cli_cmd_deinit(&cmd);
    /* The file wins over the environment. */
    assert_int_equal(parse(&cmd, NULL, "register-node", "--node-id", "n1", "--address", "h:1",
                           "--availability-zone", "a", "--node-type", "t", "--auth-token-file",
                           path, NULL),
                     0);
    assert_null(strstr(joined(&cmd), "env-token"));
    ctl_cli_cmd_deinit(&cmd);
    /* modify-replication-group: only with an explicit SET. */
    assert_int_equal(parse(&cmd, NULL, "modify-replication-group", "--replication-group-id", "rg1",
                           "--multi-az", NULL),
                     0);
    assert_null(strstr(joined(&cmd), "auth-token"));
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, NULL, "modify-replication-group", "--replication-group-id", "rg1",
                           "--auth-token-update-strategy", "set", NULL),
                     0);
    assert_non_null(strstr(joined(&cmd), "auth-token env-token-0123456789"));
    ctl_cli_cmd_deinit(&cmd);
    unsetenv(CTL_CLI_TOKEN_ENV);
    unlink(path);
}

/* --tls and --ca-file on the command line, else tls and ca_file in the profile. */
static void tls_settings(void **state)
{
    (void)state;
    char path[] = "/tmp/polluxctl-cred-XXXXXX", err[1200];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "[default]\nuser = u\npassword = p\n[tls]\ntls = yes\n"
                        "[ca]\nca_file = /etc/pollux/ca.crt\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);
    setenv(CTL_CLI_CREDENTIALS_ENV, path, 1);
    unsetenv(CTL_CLI_PROFILE_ENV);
    struct ctl_cli_cmd cmd;
    assert_int_equal(parse(&cmd, NULL, "describe-nodes", "--ca-file", "/x/ca.pem", NULL), 0);
    assert_true(cmd.tls);
    assert_string_equal(cmd.ca_file, "/x/ca.pem");
    assert_int_equal(ctl_cli_tls_settings("ca", &cmd, err, sizeof(err)), 0);
    assert_string_equal(cmd.ca_file, "/x/ca.pem"); /* the command line wins */
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, NULL, "describe-nodes", NULL), 0);
    assert_int_equal(ctl_cli_tls_settings(NULL, &cmd, err, sizeof(err)), 0);
    assert_false(cmd.tls);
    assert_int_equal(ctl_cli_tls_settings("tls", &cmd, err, sizeof(err)), 0);
    assert_true(cmd.tls);
    assert_null(cmd.ca_file);
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, NULL, "--tls", "describe-nodes", NULL), 0);
    assert_true(cmd.tls);
    assert_int_equal(ctl_cli_tls_settings("ca", &cmd, err, sizeof(err)), 0);
    assert_string_equal(cmd.ca_file, "/etc/pollux/ca.crt");
    ctl_cli_cmd_deinit(&cmd);
    unsetenv(CTL_CLI_CREDENTIALS_ENV);
    unlink(path);
}

static void parameter_name_values(void **state)
{
    (void)state;
    struct ctl_cli_cmd cmd;
    assert_int_equal(parse(&cmd, NULL, "modify-cache-parameter-group",
                           "--cache-parameter-group-name", "pg1", "--parameter-name-values",
                           "ParameterName=maxmemory-policy,ParameterValue=allkeys-lru",
                           "timeout=30", "notify-keyspace-events=", NULL),
                     0);
    assert_string_equal(joined(&cmd), "POLLUX modify-cache-parameter-group "
                                      "cache-parameter-group-name pg1 parameter "
                                      "maxmemory-policy=allkeys-lru parameter timeout=30 "
                                      "parameter notify-keyspace-events=");
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, NULL, "reset-cache-parameter-group",
                           "--cache-parameter-group-name", "pg1", "--parameter-name-values",
                           "ParameterName=timeout", "hz", NULL),
                     0);
    assert_non_null(strstr(joined(&cmd), "parameter timeout parameter hz"));
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, NULL, "modify-cache-parameter-group",
                           "--cache-parameter-group-name", "pg1", "--parameter-name-values",
                           "ParameterName=x,Value=1", NULL),
                     -EINVAL);
    assert_non_null(strstr(cmd.err, "ParameterName=NAME,ParameterValue=VALUE"));
    assert_int_equal(parse(&cmd, NULL, "modify-cache-parameter-group",
                           "--cache-parameter-group-name", "pg1", "--parameter-name-values", "=1",
                           NULL),
                     -EINVAL);
}

static void errors(void **state)
{
    (void)state;
    struct ctl_cli_cmd cmd;
    assert_int_equal(parse(&cmd, NULL, NULL), -EINVAL);
    assert_non_null(strstr(cmd.err, "no verb"));
    assert_int_equal(parse(&cmd, NULL, "make-coffee", NULL), -EINVAL);
    assert_non_null(strstr(cmd.err, "unknown verb 'make-coffee'"));
    assert_int_equal(parse(&cmd, NULL, "describe-nodes", "--colour", "red", NULL), -EINVAL);
    assert_non_null(strstr(cmd.err, "unknown option --colour"));
    assert_int_equal(parse(&cmd, NULL, "reboot-node", NULL), -EINVAL);
    assert_non_null(strstr(cmd.err, "needs --node-id"));
    assert_int_equal(parse(&cmd, NULL, "reboot-node", "--node-id", NULL), -EINVAL);
    assert_non_null(strstr(cmd.err, "needs a value"));
    assert_int_equal(parse(&cmd, NULL, "reboot-node", "--node-id", "a", "--node-id", "b", NULL),
                     -EINVAL);
    assert_non_null(strstr(cmd.err, "twice"));
    assert_int_equal(parse(&cmd, NULL, "describe-nodes", "--output", "xml", NULL), -EINVAL);
    assert_int_equal(parse(&cmd, NULL, "create-replication-group", "--multi-az=yes", NULL),
                     -EINVAL);
    assert_non_null(strstr(cmd.err, "takes no value"));
    assert_int_equal(parse(&cmd, NULL, "increase-replica-count", "--replication-group-id", "g",
                           "--replica-node-ids", NULL),
                     -EINVAL);
    assert_non_null(strstr(cmd.err, "at least one value"));
    assert_int_equal(parse(&cmd, NULL, "--node-id", "x", "reboot-node", NULL), -EINVAL);
    assert_int_equal(parse(&cmd, NULL, "describe-nodes", "extra", NULL), -EINVAL);
    assert_int_equal(parse(&cmd, NULL, "describe-nodes", "--no-node-id", NULL), -EINVAL);
}

static void help(void **state)
{
    (void)state;
    struct ctl_cli_cmd cmd;
    assert_int_equal(parse(&cmd, NULL, "help", "test-failover", NULL), 0);
    assert_true(cmd.help);
    assert_string_equal(cmd.verb, "test-failover");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ctl_cli_usage(f, cmd.verb);
    fclose(f);
    assert_non_null(strstr(text, "--replication-group-id VALUE"));
    free(text);
    ctl_cli_cmd_deinit(&cmd);
    assert_int_equal(parse(&cmd, NULL, "--help", NULL), 0);
    assert_true(cmd.help);
    assert_null(cmd.verb);
}

static void endpoints(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(ctl_cli_split_endpoint("127.0.0.1:26379", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 26379);
    assert_int_equal(ctl_cli_split_endpoint("[::1]:7000", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(ctl_cli_split_endpoint("localhost", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(ctl_cli_split_endpoint(":7000", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(ctl_cli_split_endpoint("h:0", host, sizeof(host), &port), -EINVAL);
    assert_int_equal(ctl_cli_split_endpoint("h:70000", host, sizeof(host), &port), -EINVAL);
}

static struct ctl_reply *reply_of(const char *wire)
{
    struct ctl_reply *r = NULL;
    size_t used;
    assert_int_equal(ctl_reply_parse(wire, strlen(wire), &r, &used), 0);
    return r;
}

static char *render(const struct ctl_reply *r, bool json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (json)
        ctl_cli_print_json(f, r);
    else
        ctl_cli_print_table(f, "x", r);
    fclose(f);
    return text;
}

static void json_output(void **state)
{
    (void)state;
    struct ctl_reply *r = reply_of("%2\r\n$4\r\nName\r\n$5\r\na\"b\nc\r\n$4\r\nList\r\n"
                                   "*4\r\n:1\r\n#t\r\n_\r\n*0\r\n");
    char *text = render(r, true);
    assert_string_equal(text, "{\n    \"Name\": \"a\\\"b\\nc\",\n    \"List\": [\n        1,\n"
                              "        true,\n        null,\n        []\n    ]\n}\n");
    free(text);
    ctl_reply_free(r);
}

static void node_table(void **state)
{
    (void)state;
    struct ctl_reply *r = reply_of(
        "%1\r\n$5\r\nNodes\r\n*2\r\n"
        "%3\r\n$6\r\nNodeId\r\n$2\r\nn1\r\n$4\r\nPort\r\n:7001\r\n$6\r\nStatus\r\n$"
        "9\r\navailable\r\n"
        "%3\r\n$6\r\nNodeId\r\n$5\r\nnode2\r\n$4\r\nPort\r\n:17002\r\n$6\r\nStatus\r\n_\r\n");
    char *text = render(r, false);
    /* Columns are as wide as their widest cell; missing values print as "-". */
    assert_non_null(strstr(text, "NODE   ADDRESS  PORT   ZONE"));
    assert_non_null(strstr(text, "\nn1     -        7001   -  "));
    assert_non_null(strstr(text, "\nnode2  -        17002  -  "));
    free(text);
    ctl_reply_free(r);
}

static void group_block(void **state)
{
    (void)state;
    struct ctl_reply *r =
        reply_of("%1\r\n$16\r\nReplicationGroup\r\n%4\r\n"
                 "$18\r\nReplicationGroupId\r\n$3\r\nrg1\r\n$6\r\nStatus\r\n$9\r\navailable\r\n"
                 "$15\r\nPrimaryEndpoint\r\n%2\r\n$7\r\nAddress\r\n$9\r\n127.0.0.1\r\n$"
                 "4\r\nPort\r\n:7001\r\n"
                 "$16\r\nNodeGroupMembers\r\n*1\r\n%2\r\n$11\r\nCacheNodeId\r\n$2\r\nn1\r\n"
                 "$11\r\nCurrentRole\r\n$7\r\nprimary\r\n");
    char *text = render(r, false);
    assert_non_null(strstr(text, "rg1  status available"));
    assert_non_null(strstr(text, "primary endpoint 127.0.0.1:7001  reader endpoint -"));
    assert_non_null(strstr(text, "  n1    primary"));
    free(text);
    ctl_reply_free(r);
    r = reply_of("+OK\r\n");
    text = render(r, false);
    assert_string_equal(text, "OK\n");
    free(text);
    ctl_reply_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_lists_and_flags),
        cmocka_unit_test(global_options_anywhere),
        cmocka_unit_test(parameter_name_values),
        cmocka_unit_test(password_file_and_profile),
        cmocka_unit_test(credentials_sources),
        cmocka_unit_test(auth_token_file_and_env),
        cmocka_unit_test(tls_settings),
        cmocka_unit_test(errors),
        cmocka_unit_test(help),
        cmocka_unit_test(endpoints),
        cmocka_unit_test(json_output),
        cmocka_unit_test(node_table),
        cmocka_unit_test(group_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
