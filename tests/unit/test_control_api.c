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

#include "api.h"
#include "clock.h"
#include "health.h"
#include "loop.h"
#include "respc.h"
#include "server.h"
#include "state.h"

#define MUTATIONS 1500
#define MAX_PUMPS 200000 /* loop passes allowed for one input (each waits at most 1 ms) */

struct input {
    char name[128];
    char *data;
    size_t len;
};

struct fixture {
    struct ctl_loop *loop;
    struct ctl_app app;
    struct input *corpus;
    int ncorpus;
};

static const char *current = "";

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
    struct ctl_health_opts opts = CTL_HEALTH_DEFAULTS;
    f->app.opts = opts;
    f->app.loop = f->loop;
    f->app.started_ns = clock_mono_ns();
    memset(f->app.myid, 'a', 40);
    f->app.st = ctl_state_create(":memory:");
    assert_non_null(f->app.st);
    f->app.h = ctl_health_create(f->loop, f->app.st, &opts, ctl_api_publish, &f->app);
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
    ctl_api_deinit(&f->app);
    ctl_server_destroy(f->app.srv);
    ctl_health_destroy(f->app.h);
    ctl_state_destroy(f->app.st);
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

/* One pass of the daemon's loop, then read what arrived. */
static void pump(struct fixture *f, struct conn *c)
{
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
        cmocka_unit_test_setup_teardown(corpus_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(mutations_are_answered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
