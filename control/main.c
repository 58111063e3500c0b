/*
 * pollux-control: the control plane daemon.
 *
 *   pollux-control [--port 26379] [--bind 127.0.0.1] [--state pollux-control.db]
 *                  [--probe-interval-ms 100] [--down-after-ms 1000] [--timeout-ms 500]
 *                  [--pause-ms 2000] [--failover-settle-ms 10000]
 *                  [--logfile path] [--loglevel notice]
 *                  [--bootstrap-user NAME [--bootstrap-password-file FILE]]
 *                  [--tls-port N --tls-cert-file F --tls-key-file F
 *                   [--tls-ca-cert-file F [--tls-auth-clients]]]
 *
 * TLS (docs/security.md): --tls-port adds a TLS port next to the plain one, serving the same
 * API and Sentinel commands; with --port 0 there is no plain port (TLS only).
 *
 * Users (docs/operations.md, "Authentication"): --bootstrap-user creates that admin when
 * the state has no user of that name, with the password read from FILE (its first line) or
 * from $POLLUX_BOOTSTRAP_PASSWORD. Once a user exists every client must AUTH. Without any
 * user the API is open, which is allowed on a loopback address only.
 *
 * One thread: an epoll loop serving the RESP API and Sentinel commands, and the health
 * checker's tick every few milliseconds. SIGTERM and SIGINT stop it cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/api.h"
#include "base/clock.h"
#include "control/health.h"
#include "base/log.h"
#include "control/loop.h"
#include "control/resp_server.h"
#include "control/state.h"
#include "control/tls_socket.h"
#include "base/util.h"

#define TICK_MS 5

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pollux-control [--port N] [--bind ADDR] [--state FILE]\n"
               "                      [--probe-interval-ms N] [--down-after-ms N]\n"
               "                      [--timeout-ms N] [--pause-ms N] [--failover-settle-ms N]\n"
               "                      [--logfile PATH] [--loglevel debug|verbose|notice|warning]\n"
               "                      [--bootstrap-user NAME [--bootstrap-password-file FILE]]\n"
               "                      [--tls-port N --tls-cert-file F --tls-key-file F\n"
               "                       [--tls-ca-cert-file F [--tls-auth-clients]]]\n");
}

/*
 * The first admin: created when --bootstrap-user names a user the state does not have. The
 * password comes from a file (first line, without its newline) or the environment, never
 * from the command line (which other local users can read in /proc).
 * @return 0, or -1 with the reason printed.
 */
static int bootstrap(struct ctl_state *st, const char *user, const char *pass_file)
{
    struct ctl_user u = { 0 };
    if (!ctl_auth_user_valid(user)) {
        fprintf(stderr, "pollux-control: --bootstrap-user '%s' is not a valid user name\n", user);
        return -1;
    }
    if (ctl_state_user_get(st, user, &u) == 0)
        return 0; /* already there: its password is whatever it was changed to */
    char pass[CTL_AUTH_PASS_MAX + 2] = "";
    if (pass_file != NULL) {
        FILE *f = fopen(pass_file, "r");
        if (f == NULL || fgets(pass, sizeof(pass), f) == NULL) {
            fprintf(stderr, "pollux-control: cannot read a password from %s\n", pass_file);
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
        pass[strcspn(pass, "\r\n")] = '\0';
    } else if (getenv("POLLUX_BOOTSTRAP_PASSWORD") != NULL) {
        snprintf(pass, sizeof(pass), "%s", getenv("POLLUX_BOOTSTRAP_PASSWORD"));
    } else {
        fprintf(stderr, "pollux-control: --bootstrap-user needs --bootstrap-password-file or "
                        "$POLLUX_BOOTSTRAP_PASSWORD\n");
        return -1;
    }
    snprintf(u.name, sizeof(u.name), "%s", user);
    u.role = CTL_ACCESS_ADMIN;
    int rc = ctl_auth_hash(pass, strlen(pass), u.hash, sizeof(u.hash));
    memset(pass, 0, sizeof(pass));
    if (rc != 0) {
        fprintf(stderr, "pollux-control: the bootstrap password must be 1 to %d bytes\n",
                CTL_AUTH_PASS_MAX - 1);
        return -1;
    }
    if (ctl_state_begin(st) != 0)
        return -1;
    rc = ctl_state_user_add(st, &u);
    if (rc == 0)
        rc = ctl_state_event_add(st, 0, "user", u.name, "User created with role admin (bootstrap)");
    if (rc == 0)
        rc = ctl_state_commit(st);
    else
        ctl_state_rollback(st);
    if (rc != 0) {
        fprintf(stderr, "pollux-control: cannot store the bootstrap user\n");
        return -1;
    }
    log_notice("bootstrap admin user '%s' created", u.name);
    return 0;
}

static int parse_int(const char *name, const char *v, int lo, int hi, int *out)
{
    long long x;
    if (v == NULL || !util_str2ll(v, strlen(v), &x) || x < lo || x > hi) {
        fprintf(stderr, "pollux-control: %s takes a number from %d to %d\n", name, lo, hi);
        return -EINVAL;
    }
    *out = (int)x;
    return 0;
}

static void make_id(char out[41])
{
    unsigned char raw[20];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(raw)) {
        util_rand_seed(clock_mono_ns() ^ (uint64_t)getpid());
        for (size_t i = 0; i < sizeof(raw); i++)
            raw[i] = (unsigned char)util_rand64();
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int main(int argc, char **argv)
{
    int port = 26379;
    const char *bind_addr = "127.0.0.1", *state_path = "pollux-control.db", *logfile = "";
    const char *boot_user = NULL, *boot_pass_file = NULL;
    int tls_port = -1;
    struct ctl_tls_config tls_cfg = { .server = true };
    enum log_level level = LOG_NOTICE;
    struct ctl_health_opts opts = CTL_HEALTH_DEFAULTS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--port") == 0) {
            rc = parse_int(a, v, 0, 65535, &port);
        } else if (strcmp(a, "--tls-port") == 0) {
            rc = parse_int(a, v, 0, 65535, &tls_port);
        } else if (strcmp(a, "--tls-cert-file") == 0 && v) {
            tls_cfg.cert_file = v;
        } else if (strcmp(a, "--tls-key-file") == 0 && v) {
            tls_cfg.key_file = v;
        } else if (strcmp(a, "--tls-ca-cert-file") == 0 && v) {
            tls_cfg.ca_file = v;
        } else if (strcmp(a, "--tls-auth-clients") == 0) {
            tls_cfg.verify_clients = true;
            continue; /* takes no value */
        } else if (strcmp(a, "--bind") == 0 && v) {
            bind_addr = v;
        } else if (strcmp(a, "--state") == 0 && v) {
            state_path = v;
        } else if (strcmp(a, "--bootstrap-user") == 0 && v) {
            boot_user = v;
        } else if (strcmp(a, "--bootstrap-password-file") == 0 && v) {
            boot_pass_file = v;
        } else if (strcmp(a, "--logfile") == 0 && v) {
            logfile = v;
        } else if (strcmp(a, "--loglevel") == 0 && v) {
            static const char *const names[] = { "debug", "verbose", "notice", "warning" };
            rc = -EINVAL;
            for (int k = 0; k < 4; k++)
                if (strcmp(v, names[k]) == 0) {
                    level = (enum log_level)k;
                    rc = 0;
                }
            if (rc)
                fprintf(stderr, "pollux-control: unknown log level '%s'\n", v);
        } else if (strcmp(a, "--probe-interval-ms") == 0) {
            rc = parse_int(a, v, 10, 60000, &opts.probe_interval_ms);
        } else if (strcmp(a, "--down-after-ms") == 0) {
            rc = parse_int(a, v, 50, 3600000, &opts.down_after_ms);
        } else if (strcmp(a, "--timeout-ms") == 0) {
            rc = parse_int(a, v, 10, 60000, &opts.timeout_ms);
        } else if (strcmp(a, "--pause-ms") == 0) {
            rc = parse_int(a, v, 100, 60000, &opts.pause_ms);
        } else if (strcmp(a, "--failover-settle-ms") == 0) {
            rc = parse_int(a, v, 0, 3600000, &opts.settle_ms);
        } else {
            fprintf(stderr, "pollux-control: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (rc)
            return 2;
        i++;
    }
    if (log_setup(logfile, level) != 0) {
        fprintf(stderr, "pollux-control: cannot open log file %s\n", logfile);
        return 1;
    }
    clock_setup();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct ctl_app app;
    memset(&app, 0, sizeof(app));
    app.opts = opts;
    app.started_ns = clock_mono_ns();
    make_id(app.myid);
    int status = 1;
    struct ctl_tls_ctx *tls = NULL;
    if (tls_port >= 0) {
        char err[300];
        tls = ctl_tls_ctx_create(&tls_cfg, err, sizeof(err));
        if (tls == NULL) {
            fprintf(stderr, "pollux-control: TLS: %s\n", err);
            log_warn("TLS: %s", err);
            log_teardown();
            return 1;
        }
    } else if (tls_cfg.cert_file || tls_cfg.key_file || tls_cfg.ca_file) {
        fprintf(stderr, "pollux-control: the --tls-* files need --tls-port\n");
        return 2;
    }
    struct ctl_loop *loop = ctl_loop_create();
    app.loop = loop;
    app.st = loop ? ctl_state_create(state_path) : NULL;
    if (app.st == NULL) {
        log_warn("cannot open the state file %s", state_path);
        goto out;
    }
    if (boot_user != NULL && bootstrap(app.st, boot_user, boot_pass_file) != 0)
        goto out;
    int users = ctl_state_user_count(app.st, NULL);
    if (users < 0)
        goto out;
    bool loopback = ctl_server_bind_is_loopback(bind_addr);
    if (users == 0 && !loopback) {
        fprintf(stderr,
                "pollux-control: refusing to listen on %s with no user configured: anyone who "
                "can reach it could take over every group. Create an admin with "
                "--bootstrap-user NAME --bootstrap-password-file FILE, or bind to a loopback "
                "address\n",
                bind_addr);
        log_warn("refusing to listen on %s with no user configured", bind_addr);
        goto out;
    }
    app.h = ctl_health_create(loop, app.st, &opts, ctl_api_publish, &app);
    /* With a TLS port, --port 0 means no plain port, as Redis's "port 0" with tls-port. */
    app.srv =
        ctl_server_create(loop, bind_addr, tls && port == 0 ? -1 : port, ctl_api_command, &app);
    if (app.srv == NULL || (tls && ctl_server_listen_tls(app.srv, bind_addr, tls_port, tls) != 0))
        goto out;
    ctl_api_auth_setup(&app);
    if (users == 0)
        log_warn("WARNING no user is configured: the API on %s is open to every local client "
                 "(create one with --bootstrap-user or POLLUX CREATE-USER)",
                 bind_addr);
    app.port = tls && port == 0 ? ctl_server_tls_port(app.srv) : ctl_server_port(app.srv);
    char tls_note[64] = "";
    if (tls)
        snprintf(tls_note, sizeof(tls_note), ", TLS on port %d%s", ctl_server_tls_port(app.srv),
                 port == 0 ? " only" : "");
    log_notice("pollux-control ready on %s:%d%s, state in %s (probe every %d ms, failover after "
               "%d ms)",
               bind_addr, app.port, tls_note, state_path, opts.probe_interval_ms,
               opts.down_after_ms);
    while (!stop_requested) {
        if (ctl_loop_run_once(loop, TICK_MS) < 0)
            break;
        uint64_t now = clock_mono_ns();
        ctl_health_tick(app.h, now);
        ctl_server_tick(app.srv, now);
        ctl_api_tick(&app, now);
    }
    log_notice("pollux-control exiting");
    status = 0;
out:
    ctl_api_deinit(&app);
    ctl_server_destroy(app.srv);
    ctl_health_destroy(app.h);
    ctl_state_destroy(app.st);
    ctl_loop_destroy(loop);
    ctl_tls_ctx_destroy(tls);
    log_teardown();
    return status;
}
