/*
 * polluxd: the node daemon.
 *
 *   polluxd [/path/to/pollux.conf] [--name value ...]
 *
 * Same command line as redis-server: an optional redis.conf-style file, then
 * parameters as --name value (applied after the file).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmd/coll.h"
#include "acl/acl.h"
#include "worker/backend.h"
#include "base/clock.h"
#include "worker/cmd_server.h"
#include "worker/config.h"
#include "base/log.h"
#include "base/mem.h"
#include "replication/repl.h"
#include "worker/process.h"
#include "worker/script.h"
#include "base/util.h"
#include "worker/worker.h"

/* The pid file of a daemonized server that names none (Redis: /var/run/redis.pid). */
#define POLLUXD_DEFAULT_PIDFILE "/var/run/polluxd.pid"

static void usage(void)
{
    fprintf(stderr, "Usage: polluxd [/path/to/pollux.conf] [options]\n"
                    "       polluxd - (read config from stdin)\n"
                    "       polluxd -v or --version\n"
                    "       polluxd -h or --help\n\n"
                    "Examples:\n"
                    "       polluxd (run with the defaults: 127.0.0.1:6379, all cores)\n"
                    "       polluxd /etc/pollux/pollux.conf\n"
                    "       polluxd --port 7777 --pollux-workers 2\n"
                    "       polluxd /etc/pollux.conf --loglevel verbose\n");
}

static uint64_t random_seed(void)
{
    uint64_t seed = clock_mono_ns() ^ ((uint64_t)getpid() << 32);
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        uint64_t v;
        if (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
            seed ^= v;
        close(fd);
    }
    return seed;
}

/* pollux-cpus, or (for the default worker count) the CPUs this process may run on. */
static int cpu_list(const char *spec, int *cpus, int max)
{
    int n = 0;
    if (spec[0] != '\0') {
        const char *p = spec;
        while (*p && n < max) {
            char *end;
            long a = strtol(p, &end, 10), b = a;
            p = end;
            if (*p == '-') {
                b = strtol(p + 1, &end, 10);
                p = end;
            }
            for (long c = a; c <= b && n < max; c++)
                cpus[n++] = (int)c;
            if (*p == ',')
                p++;
        }
        return n;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE && n < max; c++)
            if (CPU_ISSET(c, &set))
                cpus[n++] = c;
    }
    if (n == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        for (int c = 0; c < online && n < max; c++)
            cpus[n++] = c;
    }
    return n;
}

/*
 * supervised: tell the service manager how start-up and shutdown go, as Redis
 * does. systemd (Type=notify) gets READY=1 once every listener is open and
 * STOPPING=1 when shutdown begins, as datagrams on $NOTIFY_SOCKET (no
 * libsystemd: the protocol is one sendto); upstart (expect stop) gets a
 * SIGSTOP once ready. `auto` picks whichever the environment names.
 * @return the mode in effect: CONFIG_SUPERVISED_SYSTEMD, _UPSTART or _NO.
 */
static int supervision_detect(long long mode)
{
    if (mode == CONFIG_SUPERVISED_AUTO) {
        if (getenv("UPSTART_JOB") != NULL)
            mode = CONFIG_SUPERVISED_UPSTART;
        else if (getenv("NOTIFY_SOCKET") != NULL)
            mode = CONFIG_SUPERVISED_SYSTEMD;
        else
            return CONFIG_SUPERVISED_NO;
    }
    if (mode == CONFIG_SUPERVISED_UPSTART) {
        if (getenv("UPSTART_JOB") == NULL) {
            log_warn("upstart supervision requested, but UPSTART_JOB not found!");
            return CONFIG_SUPERVISED_NO;
        }
        log_notice("supervised by upstart, will stop to signal readiness.");
        return CONFIG_SUPERVISED_UPSTART;
    }
    if (mode == CONFIG_SUPERVISED_SYSTEMD) {
        if (getenv("NOTIFY_SOCKET") == NULL) {
            log_warn("systemd supervision requested or auto-detected, but NOTIFY_SOCKET not "
                     "found!");
            return CONFIG_SUPERVISED_NO;
        }
        log_notice("Supervised by systemd. Please make sure you set appropriate values for "
                   "TimeoutStartSec and TimeoutStopSec in your service unit.");
        return CONFIG_SUPERVISED_SYSTEMD;
    }
    return CONFIG_SUPERVISED_NO;
}

/* One sd_notify message ("READY=1\n") to $NOTIFY_SOCKET; '@' names an abstract socket. */
static void notify_systemd(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t len = path != NULL ? strlen(path) : 0;
    if (len == 0 || len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@')) {
        log_warn("Can't notify systemd: bad NOTIFY_SOCKET");
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        log_warn("Can't notify systemd: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void write_pidfile(const char *path)
{
    if (path[0] == '\0')
        return;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        log_warn("Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int first_opt = 1;
    if (argc >= 2) {
        if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0) {
            printf("Pollux server v=%s (Redis %s compatible) malloc=%s bits=%d\n", POLLUX_VERSION,
                   SERVER_REDIS_VERSION, mem_allocator_name(), (int)(sizeof(void *) * 8));
            return 0;
        }
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
            usage();
            return 0;
        }
        if (strncmp(argv[1], "--", 2) != 0) {
            file = argv[1];
            first_opt = 2;
        }
    }

    cmd_table_setup(); /* before the config: rename-command edits the table */
    script_setup();
    acl_setup(); /* before the config: requirepass sets the default user's password */
    config_setup();
    if (config_load(file, argc - first_opt, argv + first_opt) != 0)
        return 1;
    struct server_params *sp = &config.p.srv;
    if (sp->aclfile[0] != '\0' && config_load_aclfile() != 0)
        return 1;
    if (log_setup(sp->logfile, (enum log_level)sp->loglevel) != 0) {
        fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
        return 1;
    }
    if (config_tls_setup() != 0)
        return 1;
    if (sp->pollux_backend == BACKEND_DPDK && !backend_dpdk_available()) {
        log_warn("pollux-backend dpdk is not available in this build (built without "
                 "libdpdk-dev); use 'kernel'");
        return 1;
    }
    int supervised = supervision_detect(sp->supervised);
    /* A supervised server stays in the foreground, whatever daemonize says (as Redis). */
    bool background = sp->daemonize && supervised == CONFIG_SUPERVISED_NO;
    if (background && sp->pidfile[0] == '\0') {
        mem_free(sp->pidfile);
        sp->pidfile = mem_strdup(POLLUXD_DEFAULT_PIDFILE);
    }
    if (background && daemon(1, 0) != 0) {
        log_warn("Could not daemonize: %s", strerror(errno));
        return 1;
    }

    clock_setup();
    if (sp->jemalloc_bg_thread)
        mem_background_purge(true);
    uint64_t seed = random_seed();
    util_hash_setup(seed);
    util_rand_seed(seed);

    memset(&server, 0, sizeof(server));
    server.executable = argv[0];
    server.start_ms = clock_real_ms();
    server.start_ns = clock_mono_ns();
    atomic_store(&server.lastsave, server.start_ms / 1000);
    atomic_store(&server.next_client_id, 1);
    for (int i = 0; i < 40; i++)
        server.run_id[i] = "0123456789abcdef"[util_rand64() & 15];

    int cpus[MAX_WORKERS * 4];
    int ncpus = cpu_list(sp->pollux_cpus, cpus, (int)ARRAY_SIZE(cpus));
    unsigned nworkers = (unsigned)(sp->pollux_workers > 0 ? sp->pollux_workers : ncpus);
    if (nworkers == 0)
        nworkers = 1;
    if (nworkers > MAX_WORKERS)
        nworkers = MAX_WORKERS;
    server.nworkers = nworkers;
    acl_set_readers(nworkers);

    if (shard_mesh_init(&server.mesh, nworkers) != 0) {
        log_warn("Out of memory creating the shard mesh");
        return 1;
    }
    log_notice("oO0OoO0OoO0Oo Pollux is starting oO0OoO0OoO0Oo");
    log_notice("Pollux version=%s (Redis %s compatible), bits=%d, pid=%d, just started",
               POLLUX_VERSION, SERVER_REDIS_VERSION, (int)(sizeof(void *) * 8), (int)getpid());
    if (file == NULL)
        log_warn("Warning: no config file specified, using the default config. In order to "
                 "specify a config file use %s /path/to/pollux.conf",
                 argv[0]);

    /* No other thread may receive the signals (workers, the EAL's): the main thread waits
     * for them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Workers are pinned only to the CPUs pollux-cpus names. Pinned busy-polling threads
     * cannot move away from whatever else shares their core (another node on the host, a
     * build): the kernel then leaves a new one nearly unscheduled for tens of seconds
     * (docs/architecture.md, "Threads"). Unpinned, the scheduler places them. */
    bool pin = sp->pollux_cpus[0] != '\0' && ncpus > 0;
    int worker_cpus[MAX_WORKERS];
    for (unsigned i = 0; i < nworkers; i++)
        worker_cpus[i] = pin ? cpus[i % (unsigned)ncpus] : -1;
    /* The EAL pins the main thread, and threads inherit that: unpinned workers get these. */
    cpu_set_t anywhere;
    bool have_anywhere = sched_getaffinity(0, sizeof(anywhere), &anywhere) == 0;
    if (sp->pollux_backend == BACKEND_DPDK &&
        backend_dpdk_start(argv[0], nworkers, worker_cpus) != 0)
        return 1;
    int rc = 0;
    coll_init(); /* before the first store: big values' free hooks */
    for (unsigned i = 0; i < nworkers; i++) {
        server.workers[i] = worker_create(&server, i, worker_cpus[i]);
        if (server.workers[i] == NULL) {
            log_warn("Could not create worker %u", i);
            return 1;
        }
        server.stores[i] = server.workers[i]->store;
    }
    if (repl_setup(nworkers, &config.p.repl) != 0) {
        log_warn("Out of memory setting up replication");
        return 1;
    }
    if (config.p.repl.replicaof[0] != '\0')
        repl_configure_replica(config.p.repl.replicaof);
    atomic_store(&server.shutdown_save, -1);
    if (repl_load_file(sp->dbfilename) != 0)
        return 1;

    /* Port 0 asks the kernel for one; the first listener records it for the others. */
    server.port = (int)sp->port;
    for (unsigned i = 0; i < nworkers && rc == 0; i++)
        rc = worker_listen(server.workers[i]);
    if (rc != 0) {
        log_warn("Failed listening on port %lld (tcp), aborting.", sp->port);
        return 1;
    }
    write_pidfile(sp->pidfile);

    for (unsigned i = 0; i < nworkers; i++) {
        if (worker_start(server.workers[i], have_anywhere ? &anywhere : NULL) != 0) {
            log_warn("Could not start worker thread %u", i);
            return 1;
        }
    }
    repl_start_thread();
    worker_sample_overhead(); /* maxmemory's first figure, before any client is served */
    log_notice("Server initialized: %u worker%s, %s backend, %s%s", nworkers,
               nworkers == 1 ? "" : "s", config_backend_names[sp->pollux_backend],
               pin ? "pinned to CPUs " : "not pinned", pin ? sp->pollux_cpus : "");
    if (server.port != 0 || config.p.tls.port == 0)
        log_notice("Ready to accept connections tcp on port %d", server.port);
    if (config.p.tls.port != 0)
        log_notice("Ready to accept connections tls on port %lld", (long long)config.p.tls.port);
    if (supervised == CONFIG_SUPERVISED_SYSTEMD) {
        notify_systemd(config.p.repl.replicaof[0] == '\0'
                           ? "STATUS=Ready to accept connections\n"
                           : "STATUS=Ready to accept connections in read-only mode. Waiting for "
                             "MASTER <-> REPLICA sync\n");
        notify_systemd("READY=1\n");
    } else if (supervised == CONFIG_SUPERVISED_UPSTART) {
        raise(SIGSTOP);
        unsetenv("UPSTART_JOB");
    }

    /* The main thread's only periodic job: the memory figure maxmemory needs. */
    int sig;
    const struct timespec tick = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
    while ((sig = sigtimedwait(&sigs, NULL, &tick)) < 0)
        worker_sample_overhead();
    if (!atomic_load(&server.shutdown))
        log_warn("Received %s scheduling shutdown...", sig == SIGINT ? "SIGINT" : "SIGTERM");
    int exit_code = atomic_load(&server.shutdown_exit_code);
    if (supervised == CONFIG_SUPERVISED_SYSTEMD)
        notify_systemd("STOPPING=1\n");

    for (unsigned i = 0; i < nworkers; i++)
        atomic_store(&server.workers[i]->stop, true);
    for (unsigned i = 0; i < nworkers; i++)
        worker_join(server.workers[i]);
    for (unsigned i = 0; i < nworkers; i++)
        worker_close_conns(server.workers[i]);
    /* The shutdown save, as Redis does when save points are configured (SHUTDOWN SAVE/NOSAVE
     * decide otherwise). Workers have stopped: one thread walks every store. */
    int save = atomic_load(&server.shutdown_save);
    if (save == 1 || (save == -1 && sp->save[0] != '\0')) {
        log_notice("Saving the final RDB snapshot before exiting.");
        if (repl_save_now(sp->dbfilename) != 0 && exit_code == 0)
            log_warn("Error trying to save the DB, can't exit.");
    }
    repl_teardown();
    for (unsigned i = 0; i < nworkers; i++)
        worker_release_messages(server.workers[i]);
    shard_mesh_deinit(&server.mesh, shard_msg_free);
    for (unsigned i = 0; i < nworkers; i++)
        worker_destroy(server.workers[i]);
    backend_dpdk_stop();
    if (sp->pidfile[0] != '\0')
        unlink(sp->pidfile);
    log_warn("Pollux is now ready to exit, bye bye...");
    cmd_table_teardown();
    script_teardown();
    function_flush();
    config_teardown();
    log_teardown();
    return exit_code;
}
