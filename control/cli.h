/*
 * polluxctl's pieces that have logic: turning ElastiCache-style command lines into the
 * daemon's POLLUX commands, and rendering replies as tables or JSON. main() (polluxctl.c)
 * only connects, sends and prints.
 */
#ifndef POLLUX_CTL_CLI_H
#define POLLUX_CTL_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "control/auth.h"
#include "control/respc.h"

#define CTL_CLI_MAX_ARGS     160
#define CTL_CLI_DEFAULT_EP   "127.0.0.1:26379"
#define CTL_CLI_ENDPOINT_ENV "POLLUX_ENDPOINT"
/* Credentials: both variables, else a profile of the credentials file. */
#define CTL_CLI_USER_ENV        "POLLUX_USER"
#define CTL_CLI_PASSWORD_ENV    "POLLUX_PASSWORD"
#define CTL_CLI_PROFILE_ENV     "POLLUX_PROFILE"
#define CTL_CLI_CREDENTIALS_ENV "POLLUX_CREDENTIALS_FILE" /* default: ~/.pollux/credentials */
/* A node password (auth token) not given with --auth-token-file. */
#define CTL_CLI_TOKEN_ENV "POLLUX_AUTH_TOKEN"

/* Exit codes, as the AWS CLI uses them. */
#define CTL_CLI_EXIT_OK      0
#define CTL_CLI_EXIT_USAGE   252 /* the command line is wrong */
#define CTL_CLI_EXIT_SERVICE 254 /* pollux-control refused the request */
#define CTL_CLI_EXIT_OTHER   255 /* no connection, protocol error */

enum ctl_cli_output { CTL_OUT_TABLE, CTL_OUT_JSON };

struct ctl_cli_cmd {
    const char *verb;     /* "describe-replication-groups" */
    const char *endpoint; /* host:port */
    const char *profile;  /* --profile, or NULL */
    enum ctl_cli_output output;
    bool tls;            /* --tls (or the profile's tls = yes) */
    const char *ca_file; /* --ca-file (or the profile's ca_file): verify the server with it */
    char ca_buf[1024];
    bool help; /* print usage (of the verb, when one is given) */
    int argc;  /* the command to send: POLLUX <verb> <name> <value> ... */
    char *argv[CTL_CLI_MAX_ARGS];
    char err[256]; /* why parsing failed */
};

/*
 * Parse a polluxctl command line (argv[0] is the program). `env_endpoint` is the value of
 * $POLLUX_ENDPOINT or NULL. Global options (--endpoint, --output, --help) may appear
 * anywhere. The strings in cmd->argv are allocated; free them with ctl_cli_cmd_deinit.
 * @return 0; -EINVAL with cmd->err set when the command line is wrong.
 */
int ctl_cli_parse(int argc, char **argv, const char *env_endpoint, struct ctl_cli_cmd *cmd);
void ctl_cli_cmd_deinit(struct ctl_cli_cmd *cmd);

/* The verbs and their options, for help output. */
void ctl_cli_usage(FILE *out, const char *verb);

/* Write a reply as pretty-printed JSON (4-space indent, keys in reply order). */
void ctl_cli_print_json(FILE *out, const struct ctl_reply *r);

/* Write a reply for people: tables for lists, key/value blocks for single objects. */
void ctl_cli_print_table(FILE *out, const char *verb, const struct ctl_reply *r);

struct ctl_cli_auth {
    char user[CTL_AUTH_USER_MAX];
    char pass[CTL_AUTH_PASS_MAX];
};

/*
 * The credentials to authenticate with: $POLLUX_USER and $POLLUX_PASSWORD when both are set
 * and no --profile is given; else the profile (--profile, $POLLUX_PROFILE, "default") of the
 * credentials file ($POLLUX_CREDENTIALS_FILE, ~/.pollux/credentials).
 * @return 0; -ENOENT when there are none and none were asked for (no file, or no "default"
 *         profile); -EINVAL with err set when an asked-for profile is missing or the file is
 *         malformed.
 */
int ctl_cli_credentials(const char *profile, struct ctl_cli_auth *out, char *err, size_t errcap);

/*
 * The TLS settings of the profile (as ctl_cli_credentials chooses it) that the command line
 * did not give: tls = yes|no and ca_file = PATH. A CA file implies TLS.
 * @return 0; -EINVAL with err set when the file is malformed.
 */
int ctl_cli_tls_settings(const char *profile, struct ctl_cli_cmd *cmd, char *err, size_t errcap);

/* Split "host:port" ("[v6]:port" too). @return 0 or -EINVAL. */
int ctl_cli_split_endpoint(const char *ep, char *host, size_t hostlen, int *port);

#endif
