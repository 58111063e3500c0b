/*
 * pollux-control: the control plane daemon.
 *
 *   pollux-control [--port 26379] [--bind 127.0.0.1] [--state pollux-control.db]
 *                  [--probe-interval-ms 100] [--down-after-ms 1000] [--timeout-ms 500]
 *                  [--pause-ms 2000] [--failover-settle-ms 10000]
 *                  [--logfile path] [--loglevel notice]
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

#include "api.h"
#include "clock.h"
#include "health.h"
#include "log.h"
#include "loop.h"
#include "server.h"
#include "state.h"
#include "util.h"

#define TICK_MS 5

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pollux-control [--port N] [--bind ADDR] [--state FILE]\n"
            "                      [--probe-interval-ms N] [--down-after-ms N]\n"
            "                      [--timeout-ms N] [--pause-ms N] [--failover-settle-ms N]\n"
            "                      [--logfile PATH] [--loglevel debug|verbose|notice|warning]\n");
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
        } else if (strcmp(a, "--bind") == 0 && v) {
            bind_addr = v;
        } else if (strcmp(a, "--state") == 0 && v) {
            state_path = v;
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
    struct ctl_loop *loop = ctl_loop_create();
    app.loop = loop;
    app.st = loop ? ctl_state_create(state_path) : NULL;
    if (app.st == NULL) {
        log_warn("cannot open the state file %s", state_path);
        goto out;
    }
    app.h = ctl_health_create(loop, app.st, &opts, ctl_api_publish, &app);
    app.srv = ctl_server_create(loop, bind_addr, port, ctl_api_command, &app);
    if (app.srv == NULL)
        goto out;
    app.port = ctl_server_port(app.srv);
    log_notice("pollux-control ready on %s:%d, state in %s (probe every %d ms, failover after "
               "%d ms)",
               bind_addr, app.port, state_path, opts.probe_interval_ms, opts.down_after_ms);
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
    log_teardown();
    return status;
}
