/*
 * polluxctl's command line and credentials (control/cli.c, control/auth.c).
 *
 * Input: a flags byte, then NUL-separated words.
 *  - flags bit 1 clear: the words are polluxctl's arguments (argv[0] "polluxctl" is added);
 *    with bit 0 the first word is $POLLUX_ENDPOINT. The value of --password-file, and any
 *    word holding '/', is replaced by the path of a file this target writes, whose content
 *    is the last word (so --password-file reads a file the input chose, and never a device
 *    or a file of the system).
 *  - flags bit 1 set: the first word is a profile name, the rest of the input (NULs and all)
 *    a credentials file, read by ctl_auth_credentials_parse.
 *
 * Checks: a command line is accepted or refused with a message; an accepted one (not asking
 * for help) is the POLLUX command the daemon reads (POLLUX, the verb, then name/value pairs: an
 * even count), with at most CTL_CLI_MAX_ARGS words; a password read from a file is the file's first
 * line (or, when that is too long for the daemon, longer than it accepts); the endpoint splits into
 * a host and a port in 1..65535 or is refused; help output for any verb. Credentials: found (user
 * and password non-empty), not found, or refused with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "control/auth.h"
#include "control/cli.h"
#include "tests/fuzz/fuzz.h"

#define MAX_WORDS 200

static char file[64];
static FILE *devnull;

static void cleanup(void)
{
    unlink(file);
}

static void once(void)
{
    if (devnull != NULL)
        return;
    devnull = fopen("/dev/null", "w");
    FZ_CHECK(devnull != NULL);
    snprintf(file, sizeof(file), "/tmp/fuzz-cli-XXXXXX");
    int fd = mkstemp(file);
    FZ_CHECK(fd >= 0);
    close(fd);
    atexit(cleanup);
}

static void credentials(const char *text, size_t n)
{
    const char *nul = memchr(text, '\0', n);
    if (nul == NULL)
        return;
    char *body = malloc(n - (size_t)(nul - text));
    FZ_CHECK(body != NULL);
    memcpy(body, nul + 1, n - (size_t)(nul - text) - 1);
    body[n - (size_t)(nul - text) - 1] = '\0';
    char user[CTL_AUTH_USER_MAX], pass[CTL_AUTH_PASS_MAX], err[128];
    memset(err, 0, sizeof(err));
    int rc = ctl_auth_credentials_parse(body, text, user, sizeof(user), pass, sizeof(pass), err,
                                        sizeof(err));
    FZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
    if (rc == 0) {
        FZ_CHECK(strnlen(user, sizeof(user)) > 0 && strnlen(user, sizeof(user)) < sizeof(user));
        FZ_CHECK(strnlen(pass, sizeof(pass)) > 0 && strnlen(pass, sizeof(pass)) < sizeof(pass));
    } else if (rc == -EINVAL) {
        FZ_CHECK(err[0] != '\0' && strnlen(err, sizeof(err)) < sizeof(err));
    }
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    once();
    /* the words, each a C string of its own */
    char *copy = malloc(size);
    FZ_CHECK(copy != NULL);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    if (data[0] & 2) {
        credentials(copy, size - 1);
        free(copy);
        return 0;
    }
    char *words[MAX_WORDS + 1];
    int nw = 0;
    for (char *q = copy; q < copy + size - 1 && nw < MAX_WORDS; q += strlen(q) + 1)
        words[nw++] = q;
    const char *env = NULL;
    int first = 0;
    if ((data[0] & 1) && nw > 0) {
        env = words[0];
        first = 1;
    }
    /* what a password file holds: the last word */
    const char *content = nw > first ? words[nw - 1] : "";
    FILE *f = fopen(file, "w");
    FZ_CHECK(f != NULL);
    fputs(content, f);
    fclose(f);
    char *argv[MAX_WORDS + 2];
    int argc = 0;
    argv[argc++] = "polluxctl";
    char inline_opt[96];
    snprintf(inline_opt, sizeof(inline_opt), "--password-file=%s", file);
    for (int i = first; i < nw; i++) {
        bool after = i > first && strcmp(words[i - 1], "--password-file") == 0;
        if (strncmp(words[i], "--password-file=", 16) == 0)
            argv[argc++] = inline_opt;
        else if (after || strchr(words[i], '/') != NULL)
            argv[argc++] = file;
        else
            argv[argc++] = words[i];
    }
    argv[argc] = NULL;

    struct ctl_cli_cmd cmd;
    int rc = ctl_cli_parse(argc, argv, env, &cmd);
    FZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc != 0) {
        FZ_CHECK(cmd.err[0] != '\0' && strnlen(cmd.err, sizeof(cmd.err)) < sizeof(cmd.err));
    } else {
        FZ_CHECK(cmd.endpoint != NULL);
        FZ_CHECK(cmd.argc >= 0 && cmd.argc <= CTL_CLI_MAX_ARGS);
        if (cmd.argc > 0 && !cmd.help) { /* with --help nothing is sent */
            FZ_CHECK(cmd.argc >= 2 && cmd.argc % 2 == 0);
            FZ_CHECK(strcmp(cmd.argv[0], "POLLUX") == 0);
            FZ_CHECK(cmd.verb != NULL && strcmp(cmd.argv[1], cmd.verb) == 0);
        }
        for (int i = 2; i + 1 < cmd.argc; i += 2) {
            FZ_CHECK(cmd.argv[i] != NULL && cmd.argv[i + 1] != NULL);
            if (strcmp(cmd.argv[i], "password") != 0)
                continue;
            /* the file's first line, or something the daemon refuses as too long */
            size_t line = strcspn(content, "\r\n");
            size_t sent = strlen(cmd.argv[i + 1]);
            if (line < CTL_AUTH_PASS_MAX)
                FZ_CHECK(sent == line && memcmp(cmd.argv[i + 1], content, line) == 0);
            else
                FZ_CHECK(sent >= CTL_AUTH_PASS_MAX);
        }
        char host[256];
        int port = 0;
        if (ctl_cli_split_endpoint(cmd.endpoint, host, sizeof(host), &port) == 0)
            FZ_CHECK(port >= 1 && port <= 65535 && host[0] != '\0');
        if (cmd.help)
            ctl_cli_usage(devnull, cmd.verb);
    }
    ctl_cli_cmd_deinit(&cmd);
    free(copy);
    return 0;
}
