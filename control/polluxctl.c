/*
 * polluxctl: the admin CLI of pollux-control.
 *
 *   polluxctl [--endpoint HOST:PORT] [--output table|json] [--profile NAME] [--tls]
 *             [--ca-file FILE] VERB [--option value ...]
 *
 * Credentials come from $POLLUX_USER/$POLLUX_PASSWORD or a profile of
 * ~/.pollux/credentials (see ctl_cli_credentials), never from the command line.
 *
 * It parses the command line (cli.c), sends one POLLUX command over RESP3, and prints the
 * reply. Exit status: 0 done, 252 bad command line, 254 refused by pollux-control, 255 no
 * connection or another failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/cli.h"
#include "base/clock.h"
#include "control/respc.h"
#include "control/tls_socket.h"
#include "base/util.h"

#define TIMEOUT_MS 10000

static int call(struct ctl_client *fd, int argc, const char *const *argv, struct ctl_reply **out)
{
    int rc = ctl_client_call(fd, argc, argv, TIMEOUT_MS, out);
    if (rc != 0)
        fprintf(stderr, "polluxctl: no reply from pollux-control: %s\n", strerror(-rc));
    return rc;
}

/* Poll describe-replication-groups until the group's status is "available". */
static int wait_available(struct ctl_client *fd, struct ctl_cli_cmd *cmd)
{
    const char *id = NULL, *timeout = "60";
    for (int i = 2; i + 1 < cmd->argc; i += 2) {
        if (strcmp(cmd->argv[i], "replication-group-id") == 0)
            id = cmd->argv[i + 1];
        else if (strcmp(cmd->argv[i], "timeout-seconds") == 0)
            timeout = cmd->argv[i + 1];
    }
    long long secs;
    if (!util_str2ll(timeout, strlen(timeout), &secs) || secs < 1) {
        fprintf(stderr, "polluxctl: --timeout-seconds takes a positive number\n");
        return CTL_CLI_EXIT_USAGE;
    }
    uint64_t deadline = clock_mono_ns() + (uint64_t)secs * 1000000000ULL;
    const char *argv[] = { "POLLUX", "describe-replication-groups", "replication-group-id", id };
    for (;;) {
        struct ctl_reply *r = NULL;
        if (call(fd, 4, argv, &r) != 0)
            return CTL_CLI_EXIT_OTHER;
        if (r->type == CTL_R_ERROR) {
            fprintf(stderr, "polluxctl: %s\n", r->str);
            ctl_reply_free(r);
            return CTL_CLI_EXIT_SERVICE;
        }
        const struct ctl_reply *groups = ctl_reply_get(r, "ReplicationGroups");
        const struct ctl_reply *st =
            groups && groups->n ? ctl_reply_get(groups->elem[0], "Status") : NULL;
        bool ok = ctl_reply_is(st, "available");
        ctl_reply_free(r);
        if (ok)
            return CTL_CLI_EXIT_OK;
        if (clock_mono_ns() >= deadline) {
            fprintf(stderr, "polluxctl: %s is not available after %lld s\n", id, secs);
            return CTL_CLI_EXIT_OTHER;
        }
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    struct ctl_cli_cmd cmd;
    if (ctl_cli_parse(argc, argv, getenv(CTL_CLI_ENDPOINT_ENV), &cmd) != 0) {
        fprintf(stderr, "polluxctl: %s\n", cmd.err);
        return CTL_CLI_EXIT_USAGE;
    }
    if (cmd.help) {
        ctl_cli_usage(stdout, cmd.verb);
        ctl_cli_cmd_deinit(&cmd);
        return CTL_CLI_EXIT_OK;
    }
    char host[256];
    int port;
    if (ctl_cli_split_endpoint(cmd.endpoint, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "polluxctl: --endpoint must be host:port, not '%s'\n", cmd.endpoint);
        ctl_cli_cmd_deinit(&cmd);
        return CTL_CLI_EXIT_USAGE;
    }
    int status = CTL_CLI_EXIT_OTHER;
    struct ctl_reply *r = NULL;
    struct ctl_cli_auth auth;
    struct ctl_tls_ctx *tls = NULL;
    struct ctl_client conn = { .fd = -1 };
    char err[1200];
    int crc = ctl_cli_credentials(cmd.profile, &auth, err, sizeof(err));
    if (crc == -EINVAL || ctl_cli_tls_settings(cmd.profile, &cmd, err, sizeof(err)) != 0) {
        fprintf(stderr, "polluxctl: %s\n", err);
        status = CTL_CLI_EXIT_USAGE;
        goto out;
    }
    if (cmd.tls) {
        struct ctl_tls_config tc = { .ca_file = cmd.ca_file };
        if ((tls = ctl_tls_ctx_create(&tc, err, sizeof(err))) == NULL) {
            fprintf(stderr, "polluxctl: TLS: %s\n", err);
            status = CTL_CLI_EXIT_USAGE;
            goto out;
        }
    }
    int crc2 = ctl_client_connect(&conn, host, port, 3000, tls);
    if (crc2 != 0) {
        fprintf(stderr, "polluxctl: cannot connect to pollux-control at %s: %s\n", cmd.endpoint,
                conn.err[0] ? conn.err : strerror(-crc2));
        goto out;
    }
    struct ctl_client *fd = &conn;
    const char *hello[] = { "HELLO", "3", "AUTH", auth.user, auth.pass };
    int rc = call(fd, crc == 0 ? 5 : 2, hello, &r);
    memset(&auth, 0, sizeof(auth));
    if (rc != 0)
        goto out;
    if (r->type == CTL_R_ERROR) {
        if (strncmp(r->str, "NOAUTH", 6) == 0)
            fprintf(stderr,
                    "polluxctl: pollux-control requires authentication: set %s and %s, "
                    "or a profile in ~/.pollux/credentials\n",
                    CTL_CLI_USER_ENV, CTL_CLI_PASSWORD_ENV);
        else
            fprintf(stderr, "polluxctl: authentication failed: %s\n", r->str);
        status = CTL_CLI_EXIT_SERVICE;
        goto out;
    }
    ctl_reply_free(r);
    r = NULL;
    if (strcmp(cmd.verb, "wait-replication-group-available") == 0) {
        status = wait_available(fd, &cmd);
        goto out;
    }
    if (call(fd, cmd.argc, (const char *const *)cmd.argv, &r) != 0)
        goto out;
    if (r->type == CTL_R_ERROR) {
        /* "FaultName message": print it as the AWS CLI does. */
        const char *sp = strchr(r->str, ' ');
        if (sp)
            fprintf(stderr, "polluxctl: error (%.*s) calling %s: %s\n", (int)(sp - r->str), r->str,
                    cmd.verb, sp + 1);
        else
            fprintf(stderr, "polluxctl: error calling %s: %s\n", cmd.verb, r->str);
        status = CTL_CLI_EXIT_SERVICE;
        goto out;
    }
    if (cmd.output == CTL_OUT_JSON)
        ctl_cli_print_json(stdout, r);
    else
        ctl_cli_print_table(stdout, cmd.verb, r);
    status = CTL_CLI_EXIT_OK;
out:
    memset(&auth, 0, sizeof(auth));
    ctl_reply_free(r);
    ctl_client_close(&conn);
    ctl_tls_ctx_destroy(tls);
    ctl_cli_cmd_deinit(&cmd);
    return status;
}
