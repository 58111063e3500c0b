/*
 * The control API under hostile input: every file of the regression corpus
 * (tests/corpus/control-api/, raw request bytes), then seeded mutations of them, is
 * sent to a pollux-control server running in this process (loop, in-memory store,
 * health engine, RESP server), and each must be answered: one complete, well-formed
 * reply per command the request parser finds, or an error and a close for a protocol
 * error, with the server still answering PING afterwards. A request that makes the
 * daemon spin (the empty option name of describe-nodes once did) never returns here:
 * an alarm names the input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "control/api.h"
#include "tests/unit/control_test.h"
#include "base/clock.h"
#include "control/health.h"
#include "control/loop.h"
#include "control/respc.h"
#include "control/resp_server.h"
#include "control/state.h"
#include "base/strbuf.h"

#define MUTATIONS 1500
#define MAX_PUMPS 200000 /* loop passes allowed for one input (each waits at most 1 ms) */

struct input {
    char name[128];
    char *data;
    size_t len;
};

/*
 * A fake node on a loopback port: answers PING, INFO (with its run_id and role:master) and
 * anything else with +OK; a silent one answers nothing (it never replies, so it times out).
 */
#define MAX_FAKE_CONNS 8
struct fake_node {
    int lfd, port;
    char run_id[41];
    bool silent;
    int fds[MAX_FAKE_CONNS];
    struct resp_parser p[MAX_FAKE_CONNS];
    char in[MAX_FAKE_CONNS][4096];
    size_t inlen[MAX_FAKE_CONNS];
};

struct fixture {
    struct fake_node *fakes[4];
    int nfakes;
    struct ctl_loop *loop;
    struct ctl_app app;
    struct input *corpus;
    int ncorpus;
};

static const char *current = "";

static void fakes_stop(struct fixture *f);

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "no answer: pollux-control is stuck on input ";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    w = write(2, current, strlen(current));
    w = write(2, "\n", 1);
    (void)w;
    _exit(1);
}

static void load_corpus(struct fixture *f)
{
    DIR *d = opendir(CORPUS_DIR);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".resp") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, e->d_name);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        struct input in = { 0 };
        snprintf(in.name, sizeof(in.name), "%s", e->d_name);
        char buf[65536];
        for (size_t got; (got = fread(buf, 1, sizeof(buf), fp)) > 0; in.len += got) {
            in.data = realloc(in.data, in.len + got);
            memcpy(in.data + in.len, buf, got);
        }
        fclose(fp);
        f->corpus = realloc(f->corpus, (size_t)(f->ncorpus + 1) * sizeof(*f->corpus));
        f->corpus[f->ncorpus++] = in;
    }
    closedir(d);
    assert_true(f->ncorpus >= 10);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->loop = ctl_loop_create();
    assert_non_null(f->loop);
    control_test_app_init(&f->app, f->loop);
    f->app.srv = ctl_server_create(f->loop, "127.0.0.1", 0, ctl_api_command, &f->app);
    assert_non_null(f->app.srv);
    f->app.port = ctl_server_port(f->app.srv);
    load_corpus(f);
    signal(SIGALRM, on_alarm);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    alarm(0);
    fakes_stop(f);
    ctl_server_destroy(f->app.srv);
    control_test_app_deinit(&f->app);
    ctl_loop_destroy(f->loop);
    for (int i = 0; i < f->ncorpus; i++)
        free(f->corpus[i].data);
    free(f->corpus);
    free(f);
    return 0;
}

/* ---- a raw client driven by the same thread as the server ------------------------------- */

struct conn {
    int fd;
    char *in;
    size_t len, cap;
    bool closed;
};

static void conn_open(struct fixture *f, struct conn *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)f->app.port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    /* The listener's backlog takes the connection; accept happens in the loop. */
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->in);
}

static void fake_serve(struct fake_node *fk)
{
    for (int fd; (fd = accept4(fk->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
        int i = 0;
        while (i < MAX_FAKE_CONNS && fk->fds[i] >= 0)
            i++;
        assert_true(i < MAX_FAKE_CONNS);
        fk->fds[i] = fd;
        fk->inlen[i] = 0;
        resp_parser_reset(&fk->p[i]);
    }
    for (int i = 0; i < MAX_FAKE_CONNS; i++) {
        if (fk->fds[i] < 0)
            continue;
        ssize_t n = recv(fk->fds[i], fk->in[i] + fk->inlen[i], sizeof(fk->in[i]) - fk->inlen[i], 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            close(fk->fds[i]);
            fk->fds[i] = -1;
            continue;
        }
        if (n > 0)
            fk->inlen[i] += (size_t)n;
        size_t used = 0;
        while (!fk->silent && fk->inlen[i] > 0 &&
               resp_parse(&fk->p[i], fk->in[i], fk->inlen[i], &used) == RESP_OK) {
            const struct resp_arg *cmd = &fk->p[i].argv[0];
            char out[256];
            if (cmd->len == 4 && strncasecmp(cmd->ptr, "PING", 4) == 0) {
                snprintf(out, sizeof(out), "+PONG\r\n");
            } else if (cmd->len == 4 && strncasecmp(cmd->ptr, "INFO", 4) == 0) {
                char text[128];
                snprintf(text, sizeof(text), "# Server\r\nrun_id:%s\r\nrole:master\r\n",
                         fk->run_id);
                snprintf(out, sizeof(out), "$%zu\r\n%s\r\n", strlen(text), text);
            } else {
                snprintf(out, sizeof(out), "+OK\r\n");
            }
            assert_int_equal(send(fk->fds[i], out, strlen(out), MSG_NOSIGNAL),
                             (ssize_t)strlen(out));
            memmove(fk->in[i], fk->in[i] + used, fk->inlen[i] - used);
            fk->inlen[i] -= used;
        }
    }
}

static struct fake_node *fake_start(struct fixture *f, const char *run_id, bool silent)
{
    struct fake_node *fk = calloc(1, sizeof(*fk));
    fk->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sa, sl), 0);
    assert_int_equal(listen(fk->lfd, 16), 0);
    getsockname(fk->lfd, (struct sockaddr *)&sa, &sl);
    fk->port = ntohs(sa.sin_port);
    snprintf(fk->run_id, sizeof(fk->run_id), "%s", run_id);
    fk->silent = silent;
    for (int i = 0; i < MAX_FAKE_CONNS; i++) {
        fk->fds[i] = -1;
        resp_parser_init(&fk->p[i], 1 << 20);
    }
    f->fakes[f->nfakes++] = fk;
    return fk;
}

static void fakes_stop(struct fixture *f)
{
    for (int k = 0; k < f->nfakes; k++) {
        struct fake_node *fk = f->fakes[k];
        for (int i = 0; i < MAX_FAKE_CONNS; i++) {
            if (fk->fds[i] >= 0)
                close(fk->fds[i]);
            resp_parser_deinit(&fk->p[i]);
        }
        close(fk->lfd);
        free(fk);
    }
    f->nfakes = 0;
}

/* One pass of the daemon's loop (and of the fake nodes), then read what arrived. */
static void pump(struct fixture *f, struct conn *c)
{
    for (int k = 0; k < f->nfakes; k++)
        fake_serve(f->fakes[k]);
    ctl_loop_run_once(f->loop, 1);
    uint64_t now = clock_mono_ns();
    ctl_api_tick(&f->app, now);
    ctl_health_tick(f->app.h, now);
    while (!c->closed) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->in = realloc(c->in, c->cap);
        }
        ssize_t n = recv(c->fd, c->in + c->len, c->cap - c->len, 0);
        if (n > 0)
            c->len += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            c->closed = true;
        else
            break;
    }
}

/* Complete replies in c->in; fails on bytes that are not RESP. */
static int count_replies(const struct conn *c, const char *what)
{
    int n = 0;
    for (size_t off = 0; off < c->len;) {
        struct ctl_reply *r = NULL;
        size_t used = 0;
        int rc = ctl_reply_parse(c->in + off, c->len - off, &r, &used);
        if (rc == CTL_EAGAIN)
            break;
        if (rc != 0)
            fail_msg("%s: malformed reply at byte %zu", what, off);
        ctl_reply_free(r);
        off += used;
        n++;
    }
    return n;
}

/*
 * What the server must answer to `data`: one reply per command the request parser finds,
 * up to and including a QUIT or a protocol error, after which it closes.
 */
static int expected_replies(const char *data, size_t len, bool *closes)
{
    char *buf = malloc(len + 1);
    memcpy(buf, data, len);
    struct resp_parser p;
    resp_parser_init(&p, CTL_SERVER_MAX_BULK);
    int n = 0;
    *closes = false;
    for (size_t off = 0; off < len;) {
        size_t used = 0;
        int rc = resp_parse(&p, buf + off, len - off, &used);
        if (rc == RESP_EAGAIN)
            break;
        n++;
        if (rc == RESP_EPROTO ||
            (p.argc > 0 && p.argv[0].len == 4 && strncasecmp(p.argv[0].ptr, "QUIT", 4) == 0)) {
            *closes = true;
            break;
        }
        off += used;
    }
    resp_parser_deinit(&p);
    free(buf);
    return n;
}

static void send_all(struct fixture *f, struct conn *c, const char *data, size_t len)
{
    for (size_t off = 0; off < len && !c->closed;) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            c->closed = true; /* the server closed (a protocol error in what was sent) */
        pump(f, c);
    }
}

struct user_list {
    char names[16][CTL_AUTH_USER_MAX];
    int n;
};

static void collect_user(void *ctx, const struct ctl_user *u)
{
    struct user_list *l = ctx;
    if (l->n < 16)
        snprintf(l->names[l->n++], CTL_AUTH_USER_MAX, "%s", u->name);
}

/* Remove the users an input created (create-user on the open API), so the API is open again. */
static void drop_users(struct fixture *f)
{
    struct user_list l = { .n = 0 };
    do {
        l.n = 0;
        ctl_state_user_each(f->app.st, collect_user, &l);
        for (int i = 0; i < l.n; i++)
            assert_int_equal(ctl_state_user_delete(f->app.st, l.names[i]), 0);
    } while (l.n > 0);
    assert_int_equal(ctl_api_auth_setup(&f->app), 0);
}

/* Send one input on a fresh connection and check the answers, then that PING still works. */
static void check_input(struct fixture *f, const char *name, const char *data, size_t len)
{
    current = name;
    alarm(120); /* a hang detector, not a time limit: an input takes milliseconds */
    bool closes;
    int want = expected_replies(data, len, &closes);
    struct conn c;
    conn_open(f, &c);
    send_all(f, &c, data, len);
    int got = 0;
    for (int i = 0; i < MAX_PUMPS; i++) {
        got = count_replies(&c, name);
        if (got >= want && (!closes || c.closed))
            break;
        if (c.closed && got < want)
            fail_msg("%s: connection closed after %d of %d replies", name, got, want);
        pump(f, &c);
    }
    if (got < want || (closes && !c.closed))
        fail_msg("%s: %d of %d replies%s", name, got, want, closes ? ", not closed" : "");
    conn_close(&c);
    drop_users(f);

    struct conn p;
    conn_open(f, &p);
    send_all(f, &p, "PING\r\n", 6);
    for (int i = 0; i < MAX_PUMPS && p.len < 7 && !p.closed; i++)
        pump(f, &p);
    if (p.len < 7 || memcmp(p.in, "+PONG\r\n", 7) != 0)
        fail_msg("%s: PING not answered afterwards", name);
    conn_close(&p);
    alarm(0);
}

static void corpus_is_answered(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < f->ncorpus; i++)
        check_input(f, f->corpus[i].name, f->corpus[i].data, f->corpus[i].len);
}

static void empty_option_name_is_refused(void **state)
{
    struct fixture *f = *state;
    static const char req[] =
        "*4\r\n$6\r\nPOLLUX\r\n$14\r\ndescribe-nodes\r\n$0\r\n\r\n$1\r\nx\r\n";
    check_input(f, "empty option name", req, sizeof(req) - 1);
    struct conn c;
    conn_open(f, &c);
    send_all(f, &c, req, sizeof(req) - 1);
    for (int i = 0; i < MAX_PUMPS && count_replies(&c, "empty option") < 1; i++)
        pump(f, &c);
    assert_true(c.len > 0);
    assert_memory_equal(c.in, "-InvalidParameterValue unknown option --", 40);
    conn_close(&c);
}

/* Send a command and wait for its one reply; the caller frees it. */
static struct ctl_reply *call(struct fixture *f, struct conn *c, int argc, const char **argv)
{
    struct strbuf sb;
    strbuf_setup(&sb);
    const char *name = argv[argc > 1 ? 1 : 0]; /* the verb, or PING's own name */
    ctl_cmd_append(&sb, argc, argv, NULL);
    c->len = 0;
    send_all(f, c, sb.buf, sb.len);
    strbuf_deinit(&sb);
    for (int i = 0; i < MAX_PUMPS && count_replies(c, name) < 1 && !c->closed; i++)
        pump(f, c);
    struct ctl_reply *r = NULL;
    size_t used;
    if (ctl_reply_parse(c->in, c->len, &r, &used) != 0)
        fail_msg("%s: no reply", name);
    memmove(c->in, c->in + used, c->len - used);
    c->len -= used;
    return r;
}

static struct ctl_reply *register_node(struct fixture *f, struct conn *c, const char *id, int port)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    const char *argv[] = {
        "POLLUX", "register-node",     "node-id", id,          "address",
        addr,     "availability-zone", "az-a",    "node-type", "cache.t3.micro"
    };
    return call(f, c, 10, argv);
}

static void expect_error(struct ctl_reply *r, const char *text)
{
    if (r->type != CTL_R_ERROR || strstr(r->str, text) == NULL)
        fail_msg("expected an error with '%s', got type %d '%s'", text, r->type,
                 r->str ? r->str : "");
    ctl_reply_free(r);
}

static void expect_node(struct ctl_reply *r)
{
    if (r->type == CTL_R_ERROR || ctl_reply_get(r, "Node") == NULL)
        fail_msg("expected a node, got '%s'", r->str ? r->str : "?");
    ctl_reply_free(r);
}

/*
 * One server under two addresses is one node: a second address that answers with a run_id
 * already registered is refused, a node that does not answer is refused after the timeout,
 * and a registered node is asked again (a restart gives it a new run_id).
 */
static void one_server_is_registered_once(void **state)
{
    struct fixture *f = *state;
    const char *r1 = "1111111111111111111111111111111111111111";
    struct fake_node *a = fake_start(f, r1, false);
    struct fake_node *b = fake_start(f, r1, false); /* a's server under another address */
    struct fake_node *c = fake_start(f, "2222222222222222222222222222222222222222", false);
    struct fake_node *s = fake_start(f, r1, true);
    struct conn k;
    conn_open(f, &k);
    expect_node(register_node(f, &k, "a", a->port));
    expect_error(register_node(f, &k, "b", b->port), "is the same server as node a");
    expect_node(register_node(f, &k, "c", c->port));
    expect_error(register_node(f, &k, "s", s->port), "CacheNodeUnreachable");
    /* a restarted: a new run_id; b's is no longer taken. */
    snprintf(a->run_id, sizeof(a->run_id), "%s", "3333333333333333333333333333333333333333");
    expect_node(register_node(f, &k, "b", b->port));
    /* Pipelined behind a deferred reply: answered after it, in order. */
    const char *ping[] = { "PING" };
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", a->port);
    const char *dup[] = { "POLLUX", "register-node",     "node-id", "d",         "address",
                          addr,     "availability-zone", "az-a",    "node-type", "cache.t3.micro" };
    struct strbuf sb;
    strbuf_setup(&sb);
    ctl_cmd_append(&sb, 10, dup, NULL);
    ctl_cmd_append(&sb, 1, ping, NULL);
    k.len = 0;
    send_all(f, &k, sb.buf, sb.len);
    strbuf_deinit(&sb);
    for (int i = 0; i < MAX_PUMPS && count_replies(&k, "pipelined") < 2; i++)
        pump(f, &k);
    assert_int_equal(count_replies(&k, "pipelined"), 2);
    assert_memory_equal(k.in, "-CacheNodeAlreadyExists", 23);
    assert_memory_equal(k.in + k.len - 7, "+PONG\r\n", 7);
    conn_close(&k);
}

/*
 * A client that pipelines requests and never reads: its requests stop being served once
 * its unread replies pass the limit, and the server's tick drops it when it has read nothing
 * for CTL_SERVER_STALL_MS (the tick takes the time, so none passes here). Another client is
 * served throughout.
 */
static void client_that_never_reads_is_dropped(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = { "POLLUX", "describe-cache-parameters", "cache-parameter-group-name",
                           "default.redis6.x" };
    struct strbuf req;
    strbuf_setup(&req);
    for (int i = 0; i < 200; i++)
        ctl_cmd_append(&req, 4, argv, NULL);
    struct conn flood, other;
    conn_open(f, &flood);
    conn_open(f, &other);
    /* Send until the socket has been full for a while: the server stopped reading it. */
    size_t sent = 0;
    for (int idle = 0; idle < 200;) {
        ssize_t n = send(flood.fd, req.buf, req.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent += (size_t)n;
            idle = 0;
        } else {
            assert_true(errno == EAGAIN);
            idle++;
        }
        pump(f, &other); /* never reads `flood` */
    }
    strbuf_deinit(&req);
    assert_true(sent > CTL_SERVER_OUTPUT_LIMIT / 64); /* requests are ~80 bytes, replies ~14 KB */
    const char *ping[] = { "PING" };
    struct ctl_reply *r = call(f, &other, 1, ping);
    assert_true(ctl_reply_is(r, "PONG"));
    ctl_reply_free(r);
    /* Read nothing for the stall time: dropped. */
    uint64_t now = clock_mono_ns();
    ctl_server_tick(f->app.srv, now);
    ctl_server_tick(f->app.srv, now + (uint64_t)CTL_SERVER_STALL_MS * 1000000 / 2);
    struct pollfd pfd = { .fd = flood.fd, .events = POLLRDHUP };
    assert_int_equal(poll(&pfd, 1, 0), 0); /* not yet */
    ctl_server_tick(f->app.srv, now + (uint64_t)CTL_SERVER_STALL_MS * 1000000);
    pump(f, &other);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_true(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
    r = call(f, &other, 1, ping);
    assert_true(ctl_reply_is(r, "PONG"));
    ctl_reply_free(r);
    conn_close(&flood);
    conn_close(&other);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/*
 * Mutate a corpus input: flip, insert, delete, duplicate or truncate bytes, or splice two
 * inputs. An input that would name an address is skipped: a mutated address could make the
 * daemon connect away from loopback (or ask a resolver).
 */
static size_t mutate(const struct fixture *f, char *out, size_t cap)
{
    const struct input *a = &f->corpus[next_rand() % (uint64_t)f->ncorpus];
    size_t len = a->len < cap ? a->len : cap;
    memcpy(out, a->data, len);
    int rounds = 1 + (int)(next_rand() % 4);
    for (int k = 0; k < rounds; k++) {
        size_t at = len ? next_rand() % len : 0;
        switch (next_rand() % 6) {
        case 0: /* flip a bit */
            if (len)
                out[at] ^= (char)(1u << (next_rand() % 8));
            break;
        case 1: /* insert a random or a special byte */
            if (len < cap) {
                static const char special[] = "\r\n\0 \"'$*:-+=,";
                memmove(out + at + 1, out + at, len - at);
                out[at] = next_rand() % 2 ? (char)next_rand()
                                          : special[next_rand() % (sizeof(special) - 1)];
                len++;
            }
            break;
        case 2: { /* delete a range */
            size_t n = len - at < 16 ? len - at : 1 + next_rand() % 16;
            memmove(out + at, out + at + n, len - at - n);
            len -= n;
            break;
        }
        case 3: { /* duplicate a range */
            size_t n = len - at < 64 ? len - at : 1 + next_rand() % 64;
            if (len + n <= cap) {
                memmove(out + at + n, out + at, len - at);
                len += n;
            }
            break;
        }
        case 4: /* truncate */
            len = at;
            break;
        default: { /* splice another input after this one */
            const struct input *b = &f->corpus[next_rand() % (uint64_t)f->ncorpus];
            size_t n = b->len < cap - len ? b->len : cap - len;
            memcpy(out + len, b->data, n);
            len += n;
            break;
        }
        }
    }
    return len;
}

static bool names_address(const char *p, size_t len)
{
    for (size_t i = 0; i + 7 <= len; i++)
        if (strncasecmp(p + i, "address", 7) == 0)
            return true;
    return false;
}

static void mutations_are_answered(void **state)
{
    struct fixture *f = *state;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    int checked = 0;
    for (int i = 0; i < MUTATIONS; i++) {
        size_t len = mutate(f, buf, cap);
        if (names_address(buf, len))
            continue;
        char name[64];
        snprintf(name, sizeof(name), "mutation %d", i);
        check_input(f, name, buf, len);
        checked++;
    }
    free(buf);
    assert_true(checked > MUTATIONS / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(empty_option_name_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(one_server_is_registered_once, setup, teardown),
        cmocka_unit_test_setup_teardown(client_that_never_reads_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(corpus_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(mutations_are_answered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
