/*
 * Clients blocked on keys (worker/block.c), without sockets or threads: workers built as
 * polluxd builds them (command table, default parameters, shard mesh), and internal
 * connections on their lists whose requests go through dispatch_request, so a blocking
 * command registers its waiter, a push marks the key ready and serves it, exactly as in the
 * server. The test thread stands in for each worker's loop where the loop's steps are
 * static in worker.c: pump() hands every message on the rings and every wake deferred on a
 * worker's own hold to the function the loop would (dispatch_forwarded, block_on_wake,
 * worker_on_reply), then does the flush pass's part that matters here (destroying closed
 * connections). Replies are read from each connection's output chain instead of a socket.
 *
 * Timeouts: block_register counts a deadline from the real clock, and block_cron compares
 * it with the worker's clock of the pass (w->now_ms), which the test sets. A deadline is
 * made "past" by moving w->now_ms to it or beyond (the worker's earliest deadline is
 * block_next_deadline), never by waiting.
 *
 * Keys of a cross-shard command (a waiter woken and run again as a transaction over
 * several shards) are not driven here: the transaction's lock hand-off runs in worker.c's
 * static loop functions. Every command below names keys of one shard, which the owner
 * serves in place; its client may live on another worker (the request is forwarded and
 * the served reply comes back as a wake).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acl/acl.h"
#include "base/clock.h"
#include "base/mem.h"
#include "cmd/cmd.h"
#include "replication/repl.h"
#include "shard/shard.h"
#include "worker/block.h"
#include "worker/config.h"
#include "worker/conn.h"
#include "worker/dispatch.h"
#include "worker/process.h"
#include "worker/worker.h"

#define UNBLOCKED_ERR "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"

/* ---- the workers ---------------------------------------------------------------------------- */

static unsigned nw;

static void workers_up(unsigned n)
{
    assert_int_equal(atomic_load(&block_entries), 0);
    memset(&server, 0, sizeof(server));
    nw = n;
    server.nworkers = n;
    assert_int_equal(shard_mesh_init(&server.mesh, n), 0);
    int64_t now = clock_real_ms();
    for (unsigned i = 0; i < n; i++) {
        server.workers[i] = worker_create(&server, i, -1);
        assert_non_null(server.workers[i]);
        server.stores[i] = server.workers[i]->store;
        server.workers[i]->now_ms = now;
        server.workers[i]->block_sweep_ms = now;
    }
}

static int setup_one(void **state)
{
    (void)state;
    workers_up(1);
    return 0;
}

static int setup_two(void **state)
{
    (void)state;
    workers_up(2);
    return 0;
}

static void drop(struct shard_msg *m)
{
    shard_msg_free(m);
}

/* The server's teardown order (worker.h); every entry of every table goes with it. */
static int workers_down(void **state)
{
    (void)state;
    for (unsigned i = 0; i < nw; i++)
        worker_close_conns(server.workers[i]);
    for (unsigned i = 0; i < nw; i++)
        worker_release_messages(server.workers[i]);
    shard_mesh_deinit(&server.mesh, drop);
    for (unsigned i = 0; i < nw; i++)
        worker_destroy(server.workers[i]);
    assert_int_equal(atomic_load(&block_entries), 0);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    cmd_table_setup();
    acl_setup();
    config_setup();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    config_teardown();
    acl_teardown();
    cmd_table_teardown();
    return 0;
}

/* A client of worker `wid` speaking RESP `proto`, on the worker's list (CLIENT UNBLOCK finds
 * it there, and the teardown closes it). */
static struct conn *client_new(unsigned wid, int proto)
{
    struct worker *w = server.workers[wid];
    struct conn *c = conn_create_internal(w);
    c->proto = (uint8_t)proto;
    reply_deinit(&c->out);
    reply_init(&c->out, (uint8_t)proto);
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    return c;
}

/* ---- the loop's part ------------------------------------------------------------------------ */

static void deliver(struct worker *w, struct shard_msg *m)
{
    switch (m->type) {
    case SHARD_REQ:
        dispatch_forwarded(w, m);
        break;
    case SHARD_REPLY:
        worker_on_reply(w, m);
        break;
    case SHARD_WAKE:
        block_on_wake(w, m);
        break;
    case SHARD_WOKEN:
        shard_msg_put(&w->port, m);
        break;
    default:
        fail_msg("unexpected message type %d on worker %u", m->type, w->id);
    }
}

/* The flush pass, without the sockets: closed connections with nothing due are freed. */
static void flush_pass(struct worker *w)
{
    struct conn *c = w->flush_head;
    w->flush_head = NULL;
    while (c != NULL) {
        struct conn *next = c->flush_next;
        c->flags &= ~CONN_IN_FLUSH;
        c->flush_next = NULL;
        if ((c->flags & CONN_ZOMBIE) && !(c->flags & CONN_ZOMBIE_LISTED))
            conn_destroy(c);
        c = next;
    }
}

/* Run every worker's messages (rings, then wakes deferred on its hold) until none is left. */
static int pump(void)
{
    int handled = 0;
    bool more = true;
    while (more) {
        more = false;
        for (unsigned i = 0; i < nw; i++) {
            struct worker *w = server.workers[i];
            struct shard_msg *m;
            assert_int_equal(w->hold.holder, -1);
            while ((m = shard_undefer(&w->hold)) != NULL) {
                deliver(w, m);
                handled++;
                more = true;
            }
            struct shard_msg *msgs[64];
            unsigned n;
            while ((n = shard_poll(&w->port, msgs, 64)) > 0) {
                for (unsigned j = 0; j < n; j++)
                    deliver(w, msgs[j]);
                handled += (int)n;
                more = true;
            }
            shard_flush(&w->port);
        }
    }
    for (unsigned i = 0; i < nw; i++) {
        flush_pass(server.workers[i]);
        assert_int_equal(server.workers[i]->port.outbox_len, 0);
    }
    return handled;
}

/* ---- requests and replies ------------------------------------------------------------------- */

static char *outbuf;
static size_t outcap;

/* The bytes queued on c's output, then emptied (blocks of returned messages go back). */
static const char *take_output(struct conn *c)
{
    size_t n = 0;
    for (struct rblock *b = c->out.head; b != NULL; b = b->next) {
        assert_int_not_equal(b->kind, RBLOCK_HOLE); /* nothing still on its way */
        size_t len = b->len - b->start;
        if (n + len + 1 > outcap) {
            outcap = (n + len + 1) * 2;
            outbuf = realloc(outbuf, outcap);
            assert_non_null(outbuf);
        }
        memcpy(outbuf + n, b->data + b->start, len);
        n += len;
    }
    if (outbuf == NULL) {
        outcap = 256;
        outbuf = malloc(outcap);
        assert_non_null(outbuf);
    }
    outbuf[n] = '\0';
    struct rblock *b = c->out.head;
    while (b != NULL) {
        struct rblock *next = b->next;
        b->next = NULL;
        if (b->kind == RBLOCK_EMBED && b->owner != NULL)
            shard_msg_put(&c->w->port, b->owner);
        else
            rblock_destroy(b);
        b = next;
    }
    c->out.head = c->out.tail = NULL;
    c->out.bytes = 0;
    return outbuf;
}

static void run_words(struct conn *c, const char *const *words)
{
    struct resp_arg argv[32];
    int argc = 0;
    for (; words[argc] != NULL; argc++) {
        assert_true(argc < 32);
        argv[argc] = (struct resp_arg){ (char *)words[argc], strlen(words[argc]) };
    }
    assert_int_equal(dispatch_request(c, argc, argv), DISPATCH_DONE);
}

/* Send a request (its reply may come later: pump). */
#define SEND(c, ...) run_words((c), (const char *const[]){ __VA_ARGS__, NULL })
/* Send, pump, and compare c's output with `want`. */
#define EXPECT(c, want, ...)                                                                       \
    do {                                                                                           \
        SEND((c), __VA_ARGS__);                                                                    \
        pump();                                                                                    \
        assert_string_equal(take_output(c), (want));                                               \
    } while (0)

/* What BLPOP/BRPOP answer when served: the key and the element (short words). */
static const char *popped(const char *key, const char *value)
{
    static char buf[4][128];
    static int turn;
    char *b = buf[turn++ % 4];
    size_t kl = strlen(key), vl = strlen(value);
    assert_true(kl < 32 && vl < 32);
    int n = snprintf(b, sizeof(buf[0]), "*2\r\n$%zu\r\n", kl);
    memcpy(b + n, key, kl);
    n += (int)kl;
    n += snprintf(b + n, sizeof(buf[0]) - (size_t)n, "\r\n$%zu\r\n", vl);
    memcpy(b + n, value, vl);
    n += (int)vl;
    memcpy(b + n, "\r\n", 3);
    return b;
}

/* `count` distinct key names owned by shard `shard` (of nw), into keys[i] (16 bytes each). */
static void keys_on(unsigned shard, int count, char (*keys)[16])
{
    int found = 0;
    for (int i = 0; found < count; i++) {
        char k[16];
        snprintf(k, sizeof(k), "list:%d", i);
        if (cmd_key_shard(k, strlen(k), nw) == shard)
            memcpy(keys[found++], k, sizeof(k));
    }
}

static bool waiting(const struct conn *c)
{
    return c->waiter != NULL && (c->flags & CONN_KEY_WAIT) != 0;
}

static void sweep_now(struct worker *w)
{
    w->block_sweep_ms = w->now_ms - 100;
    block_cron(w);
}

/* ---- 1. first come, first served ------------------------------------------------------------ */

static void one_key_serves_in_blocking_order(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *c = client_new(0, 2);
    struct conn *p = client_new(0, 2);
    const char *k = "queue";
    SEND(a, "BLPOP", k, "0");
    SEND(b, "BLPOP", k, "0");
    SEND(c, "BLPOP", k, "0");
    pump();
    assert_string_equal(take_output(a), "");
    assert_true(waiting(a) && waiting(b) && waiting(c));
    assert_int_equal(w->blocked_clients, 3);
    assert_int_equal(atomic_load(&block_entries), 3);
    assert_int_equal(w->block.keys.n, 1);
    assert_int_equal(block_timeouts(w), 0); /* timeout 0: none */

    EXPECT(p, ":1\r\n", "RPUSH", k, "e1"); /* the push's own length, before the pop */
    assert_string_equal(take_output(a), popped(k, "e1"));
    assert_string_equal(take_output(b), "");
    assert_string_equal(take_output(c), "");
    assert_false(waiting(a));
    assert_true(waiting(b) && waiting(c));
    assert_int_equal(w->blocked_clients, 2);
    assert_int_equal(atomic_load(&block_entries), 2);
    EXPECT(p, ":0\r\n", "EXISTS", k); /* taken: the emptied list is gone */

    EXPECT(p, ":1\r\n", "LPUSH", k, "e2");
    assert_string_equal(take_output(b), popped(k, "e2"));
    assert_string_equal(take_output(c), "");
    assert_string_equal(take_output(a), "");

    /* two elements, one waiter left: it takes the head, the other stays */
    EXPECT(p, ":2\r\n", "RPUSH", k, "e3", "e4");
    assert_string_equal(take_output(c), popped(k, "e3"));
    EXPECT(p, "*1\r\n$2\r\ne4\r\n", "LRANGE", k, "0", "-1");
    assert_int_equal(w->blocked_clients, 0);
    assert_int_equal(atomic_load(&block_entries), 0);
    assert_int_equal(w->block.keys.n, 0);

    /* a later BLPOP finds the element and answers at once, without waiting */
    EXPECT(a, popped(k, "e4"), "BLPOP", k, "0");
    assert_false(waiting(a));
}

/* One push of several elements serves as many waiters, in order, each from its end. */
static void one_push_serves_several_waiters_each_from_its_end(void **state)
{
    (void)state;
    struct conn *x = client_new(0, 2), *y = client_new(0, 2), *z = client_new(0, 2);
    struct conn *u = client_new(0, 2), *p = client_new(0, 2);
    const char *k = "q";
    SEND(x, "BLPOP", k, "0");
    SEND(y, "BRPOP", k, "0");
    SEND(z, "BLPOP", k, "0");
    SEND(u, "BRPOP", k, "0");
    pump();
    EXPECT(p, ":3\r\n", "LPUSH", k, "a", "b", "c"); /* the list: c b a */
    assert_string_equal(take_output(x), popped(k, "c"));
    assert_string_equal(take_output(y), popped(k, "a"));
    assert_string_equal(take_output(z), popped(k, "b"));
    assert_string_equal(take_output(u), ""); /* nothing left for the fourth */
    assert_true(waiting(u));
    assert_int_equal(server.workers[0]->blocked_clients, 1);
    EXPECT(p, ":0\r\n", "EXISTS", k);
}

/* ---- 2. several keys ------------------------------------------------------------------------ */

static void first_written_key_serves_and_the_others_let_go(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BLPOP", "k1", "k2", "k3", "0");
    SEND(b, "BLPOP", "k3", "k1", "0");
    pump();
    assert_int_equal(atomic_load(&block_entries), 5);
    assert_int_equal(w->block.keys.n, 3);

    EXPECT(p, ":1\r\n", "RPUSH", "k2", "v2");
    assert_string_equal(take_output(a), popped("k2", "v2"));
    assert_string_equal(take_output(b), "");
    assert_false(waiting(a));

    /* a's entry heads k3's queue still; it is passed over, b (next in line) takes it */
    EXPECT(p, ":1\r\n", "RPUSH", "k3", "v3");
    assert_string_equal(take_output(b), popped("k3", "v3"));
    assert_string_equal(take_output(a), "");
    assert_int_equal(w->blocked_clients, 0);

    /* nobody waits on k1 any more: the element stays */
    EXPECT(p, ":1\r\n", "RPUSH", "k1", "v1");
    assert_string_equal(take_output(a), "");
    assert_string_equal(take_output(b), "");
    EXPECT(p, "*1\r\n$2\r\nv1\r\n", "LRANGE", "k1", "0", "-1");

    /* what remains of the entries goes with the sweep */
    sweep_now(w);
    assert_int_equal(atomic_load(&block_entries), 0);
    assert_int_equal(w->block.keys.n, 0);
}

/* The keys are tried in the command's order when it runs, and a key named twice waits once. */
static void keys_in_order_and_a_key_named_twice(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *p = client_new(0, 2);
    EXPECT(p, ":1\r\n", "RPUSH", "k2", "x");
    EXPECT(p, ":1\r\n", "RPUSH", "k3", "y");
    EXPECT(a, popped("k3", "y"), "BRPOP", "k1", "k3", "k2", "0");
    SEND(a, "BLPOP", "k1", "k1", "k4", "k1", "0");
    pump();
    assert_string_equal(take_output(a), "");
    assert_int_equal(atomic_load(&block_entries), 2);
    EXPECT(p, ":2\r\n", "RPUSH", "k1", "m", "n");
    assert_string_equal(take_output(a), popped("k1", "m")); /* served once, not twice */
    EXPECT(p, "*1\r\n$1\r\nn\r\n", "LRANGE", "k1", "0", "-1");
    sweep_now(w);
    assert_int_equal(atomic_load(&block_entries), 0);
}

/* A write that leaves no list (DEL, a string) serves nobody; the waiter stays in line. */
static void writes_that_leave_no_list_serve_nobody(void **state)
{
    (void)state;
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BLPOP", "k", "0");
    SEND(b, "BLPOP", "k", "0");
    pump();
    EXPECT(p, ":0\r\n", "DEL", "k");
    EXPECT(p, "+OK\r\n", "SET", "k", "str");
    assert_string_equal(take_output(a), "");
    assert_true(waiting(a) && waiting(b));
    EXPECT(p, ":1\r\n", "DEL", "k");
    EXPECT(p, ":1\r\n", "RPUSH", "k", "v");
    assert_string_equal(take_output(a), popped("k", "v"));
    assert_string_equal(take_output(b), "");
}

/* Inside MULTI a blocking command answers at once; a push inside it serves after EXEC. */
static void transactions_serve_after_exec(void **state)
{
    (void)state;
    struct conn *a = client_new(0, 2), *p = client_new(0, 2);
    EXPECT(p, "+OK\r\n", "MULTI");
    EXPECT(p, "+QUEUED\r\n", "BLPOP", "k", "0");
    EXPECT(p, "*1\r\n*-1\r\n", "EXEC");
    assert_int_equal(server.workers[0]->blocked_clients, 0);

    SEND(a, "BLPOP", "k", "0");
    pump();
    EXPECT(p, "+OK\r\n", "MULTI");
    EXPECT(p, "+QUEUED\r\n", "RPUSH", "k", "x");
    EXPECT(p, "+QUEUED\r\n", "LLEN", "k");
    assert_string_equal(take_output(a), "");
    EXPECT(p, "*2\r\n:1\r\n:1\r\n", "EXEC"); /* the element is still there inside */
    assert_string_equal(take_output(a), popped("k", "x"));
    EXPECT(p, ":0\r\n", "EXISTS", "k");
}

/*
 * Keys made ready by one request are served in the order they were written, as Redis
 * serves its ready keys: a client waiting on k1 and k2 takes k1's element (written first),
 * and the client waiting on k2 alone takes k2's.
 */
static void keys_written_in_one_transaction_serve_in_write_order(void **state)
{
    (void)state;
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BLPOP", "k1", "k2", "0");
    SEND(b, "BLPOP", "k2", "0");
    pump();
    EXPECT(p, "+OK\r\n", "MULTI");
    EXPECT(p, "+QUEUED\r\n", "RPUSH", "k1", "a");
    EXPECT(p, "+QUEUED\r\n", "RPUSH", "k2", "b");
    EXPECT(p, "*2\r\n:1\r\n:1\r\n", "EXEC");
    assert_string_equal(take_output(a), popped("k1", "a"));
    assert_string_equal(take_output(b), popped("k2", "b"));
    EXPECT(p, ":0\r\n", "EXISTS", "k1", "k2");
}

/* ---- 3. timeouts ---------------------------------------------------------------------------- */

static void a_past_deadline_ends_the_wait_with_a_null(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *c = client_new(0, 2);
    struct conn *d = client_new(0, 3), *p = client_new(0, 2);
    int64_t before = w->now_ms;      /* no later than the real clock when the commands run */
    SEND(a, "BLPOP", "k", "1");      /* a second */
    SEND(b, "BLPOP", "k", "0");      /* forever */
    SEND(c, "BLPOP", "k", "100000"); /* a day and more */
    SEND(d, "BRPOP", "k", "0.5");    /* RESP3 */
    pump();
    assert_int_equal(w->blocked_clients, 4);
    assert_int_equal(block_timeouts(w), 3);

    block_cron(w); /* the clock of the pass is before every deadline */
    assert_string_equal(take_output(a), "");
    assert_int_equal(w->blocked_clients, 4);

    w->now_ms = clock_real_ms() + 2000; /* past a's and d's deadlines */
    block_cron(w);
    assert_string_equal(take_output(a), "*-1\r\n");
    assert_string_equal(take_output(d), "_\r\n");
    assert_string_equal(take_output(b), "");
    assert_string_equal(take_output(c), "");
    assert_false(waiting(a) || waiting(d));
    assert_int_equal(w->blocked_clients, 2);
    assert_int_equal(block_timeouts(w), 1);
    assert_true(block_next_deadline(w) > w->now_ms);  /* c's, still to come */
    assert_int_equal(atomic_load(&block_entries), 2); /* the sweep took theirs */

    EXPECT(p, ":1\r\n", "RPUSH", "k", "v1");
    assert_string_equal(take_output(b), popped("k", "v1"));
    assert_string_equal(take_output(a), ""); /* timed out: not served any more */

    w->now_ms = before + 100001000 + 60000;
    block_cron(w);
    assert_string_equal(take_output(c), "*-1\r\n");
    assert_int_equal(w->blocked_clients, 0);
    assert_int_equal(block_timeouts(w), 0);
    assert_int_equal(atomic_load(&block_entries), 0);
    assert_int_equal(w->block.keys.n, 0);
    EXPECT(p, ":1\r\n", "RPUSH", "k", "v2");
    assert_string_equal(take_output(c), "");
    EXPECT(p, "*1\r\n$2\r\nv2\r\n", "LRANGE", "k", "0", "-1");
}

/* The deadline is the real clock at blocking plus the timeout; it ends the wait on the dot. */
static void the_wait_ends_exactly_at_its_deadline(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2);
    int64_t t0 = clock_real_ms();
    SEND(a, "BLPOP", "k", "2.5");
    int64_t t1 = clock_real_ms();
    pump();
    int64_t deadline = block_next_deadline(w); /* the earliest of the worker's deadlines: a's */
    assert_true(deadline >= t0 + 2500 && deadline <= t1 + 2500);
    SEND(b, "BLPOP", "k", "3");
    pump();
    assert_int_equal(block_next_deadline(w), deadline);

    w->now_ms = deadline - 1;
    block_cron(w);
    assert_string_equal(take_output(a), "");
    assert_true(waiting(a));
    w->now_ms = deadline;
    block_cron(w);
    assert_string_equal(take_output(a), "*-1\r\n");
    assert_string_equal(take_output(b), "");
    assert_true(block_next_deadline(w) > deadline); /* b's now */
    w->now_ms = block_next_deadline(w) - 1;
    block_cron(w);
    assert_true(waiting(b));
    w->now_ms++;
    block_cron(w);
    assert_string_equal(take_output(b), "*-1\r\n");
    assert_int_equal(w->blocked_clients, 0);
    assert_int_equal(block_timeouts(w), 0);
    assert_int_equal(block_next_deadline(w), 0);
}

/*
 * Many waiters with deadlines in every order, some ended early (served, gone, unblocked):
 * as the clock moves on, each cron ends exactly the waiters whose deadline has come, and
 * the earliest deadline the worker keeps is always the earliest of those still waiting.
 */
static void many_deadlines_end_exactly_when_due(void **state)
{
    (void)state;
    enum { N = 300 };
    struct worker *w = server.workers[0];
    struct conn *c[N], *p = client_new(0, 2);
    int64_t deadline[N];
    bool ended[N];
    srand(7);
    for (int i = 0; i < N; i++) {
        char key[8], tmo[16];
        snprintf(key, sizeof(key), "t%d", i % 7);
        int ms = rand() % 5 == 0 ? 0 : 1 + rand() % 4000; /* a fifth wait forever */
        snprintf(tmo, sizeof(tmo), "%d.%03d", ms / 1000, ms % 1000);
        c[i] = client_new(0, 2);
        SEND(c[i], "BLPOP", key, tmo);
        ended[i] = false;
    }
    pump();
    for (int i = 0; i < N; i++) {
        int argc;
        struct resp_arg *argv;
        deadline[i] = block_request(c[i], &argc, &argv);
    }
    /* a few end early: served by a push (the first waiter of t3), gone, unblocked */
    EXPECT(p, ":1\r\n", "RPUSH", "t3", "v");
    assert_false(waiting(c[3]));
    ended[3] = true;
    for (int i = 10; i < N; i += 37) {
        conn_close(c[i]);
        ended[i] = true;
    }
    take_output(c[3]);
    int64_t now = w->now_ms, last = 0;
    for (int i = 0; i < N; i++)
        last = deadline[i] > last ? deadline[i] : last;
    while (now <= last + 1) {
        now += 1 + rand() % 97;
        w->now_ms = now;
        block_cron(w);
        int64_t earliest = 0;
        for (int i = 0; i < N; i++) {
            if (ended[i])
                continue;
            bool due = deadline[i] != 0 && deadline[i] <= now;
            assert_int_equal(waiting(c[i]), !due);
            if (due) {
                assert_string_equal(take_output(c[i]), "*-1\r\n");
                ended[i] = true;
            } else if (deadline[i] != 0 && (earliest == 0 || deadline[i] < earliest)) {
                earliest = deadline[i];
            }
        }
        assert_int_equal(block_next_deadline(w), earliest);
    }
    int forever = 0;
    for (int i = 0; i < N; i++)
        forever += !ended[i];
    assert_int_equal(w->blocked_clients, forever);
    assert_true(forever > 0);
    assert_int_equal(block_timeouts(w), 0);
}

/* Every blocking command times out with the same null array (Redis 7.0's). */
static void every_command_times_out_with_a_null_array(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    const char *const cmds[][8] = {
        { "BLPOP", "k", "1", NULL },
        { "BRPOP", "k", "1", NULL },
        { "BLMOVE", "k", "d", "LEFT", "RIGHT", "1", NULL },
        { "BRPOPLPUSH", "k", "d", "1", NULL },
        { "BLMPOP", "1", "1", "k", "LEFT", NULL },
        { "BZPOPMIN", "z", "1", NULL },
        { "BZPOPMAX", "z", "1", NULL },
        { "BZMPOP", "1", "1", "z", "MIN", NULL },
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        struct conn *c = client_new(0, 2);
        run_words(c, cmds[i]);
        pump();
        assert_string_equal(take_output(c), "");
        assert_true(waiting(c));
    }
    assert_int_equal(w->blocked_clients, 8);
    assert_int_equal(block_timeouts(w), 8);
    w->now_ms = clock_real_ms() + 2000;
    block_cron(w);
    int answered = 0;
    for (struct conn *c = w->conns; c != NULL; c = c->next) {
        assert_string_equal(take_output(c), "*-1\r\n");
        answered++;
    }
    assert_int_equal(answered, 8);
    assert_int_equal(w->blocked_clients, 0);
    assert_int_equal(block_timeouts(w), 0);
    assert_int_equal(atomic_load(&block_entries), 0);
}

/* ---- 4. CLIENT UNBLOCK ---------------------------------------------------------------------- */

static void client_unblock_answers_timeout_or_error(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 3), *adm = client_new(0, 2);
    struct conn *p = client_new(0, 2);
    SEND(a, "BLPOP", "k", "0");
    SEND(b, "BRPOP", "k", "100");
    pump();
    assert_int_equal(w->blocked_clients, 2);
    assert_int_equal(block_timeouts(w), 1);

    assert_false(block_unblock(adm, false)); /* not waiting on keys */
    assert_string_equal(take_output(adm), "");

    char id[24];
    snprintf(id, sizeof(id), "%llu", (unsigned long long)b->id);
    EXPECT(adm, ":1\r\n", "CLIENT", "UNBLOCK", id, "ERROR");
    assert_string_equal(take_output(b), UNBLOCKED_ERR);
    assert_false(waiting(b));
    assert_int_equal(block_timeouts(w), 0);
    EXPECT(adm, ":0\r\n", "CLIENT", "UNBLOCK", id, "ERROR"); /* once only */
    assert_string_equal(take_output(b), "");

    assert_true(block_unblock(a, false)); /* TIMEOUT: the timeout's reply */
    assert_string_equal(take_output(a), "*-1\r\n");
    assert_false(block_unblock(a, false));
    assert_false(block_unblock(a, true));
    assert_string_equal(take_output(a), "");
    assert_int_equal(w->blocked_clients, 0);
    sweep_now(w);
    assert_int_equal(atomic_load(&block_entries), 0);

    /* neither waits any more: the push stays */
    EXPECT(p, ":1\r\n", "RPUSH", "k", "v");
    assert_string_equal(take_output(a), "");
    assert_string_equal(take_output(b), "");
    EXPECT(p, ":1\r\n", "LLEN", "k");

    /* the RESP3 error is the same line; a third client is unblocked with TIMEOUT by id */
    struct conn *c = client_new(0, 3);
    SEND(c, "BLPOP", "other", "0");
    pump();
    snprintf(id, sizeof(id), "%llu", (unsigned long long)c->id);
    EXPECT(adm, ":1\r\n", "CLIENT", "UNBLOCK", id);
    assert_string_equal(take_output(c), "_\r\n");
    assert_false(block_unblock(c, true));
}

/* Served before its reply reached the client: too late to unblock it or time it out. */
static void a_served_waiter_cannot_be_ended_any_more(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BLPOP", "k", "1");
    SEND(b, "BLPOP", "k", "1");
    pump();
    SEND(p, "RPUSH", "k", "v1", "v2"); /* both served; their replies wait in the hold */
    assert_true(waiting(a) && waiting(b));
    assert_false(block_unblock(a, true));
    w->now_ms = clock_real_ms() + 5000;
    block_cron(w);
    assert_string_equal(take_output(a), "");
    assert_string_equal(take_output(b), "");
    assert_true(pump() >= 2);
    assert_string_equal(take_output(p), ":2\r\n");
    assert_string_equal(take_output(a), popped("k", "v1"));
    assert_string_equal(take_output(b), popped("k", "v2"));
    assert_int_equal(w->blocked_clients, 0);
    assert_int_equal(block_timeouts(w), 0);
}

/* ---- 5. the client leaves ------------------------------------------------------------------- */

static void a_client_leaving_while_blocked_leaves_the_element(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BLPOP", "k", "k2", "10");
    SEND(b, "BLPOP", "k2", "0");
    pump();
    assert_int_equal(w->blocked_clients, 2);
    assert_int_equal(block_timeouts(w), 1);
    assert_int_equal(w->nconns, 3);
    conn_close(a); /* nothing in flight: freed here */
    assert_int_equal(w->nconns, 2);
    assert_null(w->zombies);
    assert_int_equal(w->blocked_clients, 1);
    assert_int_equal(block_timeouts(w), 0);

    EXPECT(p, ":1\r\n", "RPUSH", "k", "v");
    EXPECT(p, "*1\r\n$1\r\nv\r\n", "LRANGE", "k", "0", "-1");
    EXPECT(p, ":1\r\n", "RPUSH", "k2", "w"); /* b is next on k2, behind a's old entry */
    assert_string_equal(take_output(b), popped("k2", "w"));
    w->now_ms = clock_real_ms() + 20000; /* a's deadline passes: nothing to end */
    block_cron(w);
    assert_int_equal(w->blocked_clients, 0);
    assert_int_equal(atomic_load(&block_entries), 0);
    assert_int_equal(w->block.keys.n, 0);
}

/* block_conn_closed alone: the waiter is released, no reply, the entry dropped when met. */
static void block_conn_closed_releases_the_waiter(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BRPOP", "k", "0");
    pump();
    block_conn_closed(a);
    assert_null(a->waiter);
    assert_false(a->flags & CONN_KEY_WAIT);
    assert_int_equal(a->inflight, 0);
    assert_null(w->waiters);
    assert_int_equal(atomic_load(&block_entries), 1); /* until a shard meets it */
    EXPECT(p, ":1\r\n", "LPUSH", "k", "v");
    assert_string_equal(take_output(a), "");
    assert_int_equal(atomic_load(&block_entries), 0);
    EXPECT(p, ":1\r\n", "LLEN", "k");
    block_conn_closed(a); /* twice: nothing more to do */
    assert_int_equal(a->inflight, 0);
}

/* Served, and gone before the reply reached it: the wake releases the connection. */
static void a_client_leaving_after_it_was_served(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BLPOP", "k", "0");
    SEND(b, "BLPOP", "k", "0");
    pump();
    SEND(p, "RPUSH", "k", "v1");
    conn_close(a); /* its wake is due: it stays until the wake comes */
    assert_ptr_equal(w->zombies, a);
    assert_int_equal(a->inflight, 1);
    pump();
    assert_null(w->zombies);
    assert_string_equal(take_output(p), ":1\r\n");
    assert_string_equal(take_output(b), ""); /* v1 went to a */
    EXPECT(p, ":0\r\n", "EXISTS", "k");
    assert_int_equal(w->blocked_clients, 1);
}

/* ---- 6. moves ------------------------------------------------------------------------------- */

static void blmove_and_brpoplpush_move_what_a_push_brings(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *c = client_new(0, 2);
    struct conn *p = client_new(0, 2);
    SEND(a, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0");
    SEND(b, "BRPOPLPUSH", "src", "dst", "0");
    pump();
    EXPECT(p, ":1\r\n", "RPUSH", "dst", "d0");
    EXPECT(p, ":3\r\n", "RPUSH", "src", "s1", "s2", "s3");
    assert_string_equal(take_output(a), "$2\r\ns1\r\n");
    assert_string_equal(take_output(b), "$2\r\ns3\r\n");
    /* BLMOVE LEFT RIGHT appends s1; BRPOPLPUSH takes the tail (s3) and prepends it */
    EXPECT(p, "*3\r\n$2\r\ns3\r\n$2\r\nd0\r\n$2\r\ns1\r\n", "LRANGE", "dst", "0", "-1");
    EXPECT(p, "*1\r\n$2\r\ns2\r\n", "LRANGE", "src", "0", "-1");
    assert_int_equal(w->blocked_clients, 0);

    /* chained: a move into a watched list serves its waiter in the same request */
    SEND(a, "BLMOVE", "l1", "l2", "RIGHT", "LEFT", "0");
    SEND(b, "BLMOVE", "l2", "l3", "LEFT", "LEFT", "0");
    SEND(c, "BLPOP", "l3", "0");
    pump();
    EXPECT(p, ":1\r\n", "LPUSH", "l1", "x");
    assert_string_equal(take_output(a), "$1\r\nx\r\n");
    assert_string_equal(take_output(b), "$1\r\nx\r\n");
    assert_string_equal(take_output(c), popped("l3", "x"));
    EXPECT(p, ":0\r\n", "EXISTS", "l1", "l2", "l3");
    assert_int_equal(w->blocked_clients, 0);
    assert_int_equal(atomic_load(&block_entries), 0);
}

/* Sorted sets: BZPOPMIN and BZPOPMAX served by ZADD, first come first served. */
static void bzpop_is_served_by_zadd(void **state)
{
    (void)state;
    struct conn *a = client_new(0, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    SEND(a, "BZPOPMIN", "z", "0");
    SEND(b, "BZPOPMAX", "z", "0");
    pump();
    EXPECT(p, ":3\r\n", "ZADD", "z", "1", "one", "2", "two", "3", "three");
    assert_string_equal(take_output(a), "*3\r\n$1\r\nz\r\n$3\r\none\r\n$1\r\n1\r\n");
    assert_string_equal(take_output(b), "*3\r\n$1\r\nz\r\n$5\r\nthree\r\n$1\r\n3\r\n");
    EXPECT(p, ":1\r\n", "ZCARD", "z");
}

/* ---- a client of another worker ------------------------------------------------------------- */

static void a_client_of_another_worker_is_served_by_the_owner(void **state)
{
    (void)state;
    struct worker *w0 = server.workers[0], *w1 = server.workers[1];
    char k[1][16];
    keys_on(0, 1, k);
    struct conn *a = client_new(1, 2), *b = client_new(0, 2), *p = client_new(0, 2);
    struct conn *q = client_new(1, 2);
    SEND(a, "BLPOP", k[0], "0"); /* forwarded to worker 0, which keeps the entry */
    assert_true(a->flags & CONN_BLOCKED);
    assert_int_equal(a->inflight, 1);
    pump();                      /* its place in line is taken when worker 0 runs it */
    SEND(b, "BLPOP", k[0], "0"); /* local */
    pump();
    assert_int_equal(w1->blocked_clients, 1);
    assert_int_equal(w0->blocked_clients, 1);
    assert_int_equal(w0->block.keys.n, 1);
    assert_int_equal(w1->block.keys.n, 0);
    assert_true(waiting(a) && waiting(b));

    EXPECT(q, ":1\r\n", "RPUSH", k[0], "v1"); /* forwarded push: a is first */
    assert_string_equal(take_output(a), popped(k[0], "v1"));
    assert_string_equal(take_output(b), "");
    assert_int_equal(w1->blocked_clients, 0);
    EXPECT(p, ":1\r\n", "RPUSH", k[0], "v2");
    assert_string_equal(take_output(b), popped(k[0], "v2"));

    /* gone while its BLPOP was on its way: the waiter made for it ends when the reply lands */
    SEND(a, "BLPOP", k[0], "0");
    conn_close(a);
    assert_ptr_equal(w1->zombies, a);
    pump();
    assert_null(w1->zombies);
    assert_int_equal(w1->blocked_clients, 0);
    EXPECT(p, ":1\r\n", "RPUSH", k[0], "v3");
    EXPECT(p, ":1\r\n", "LLEN", k[0]);
    assert_int_equal(atomic_load(&block_entries), 0);

    /* the timeout of a client on worker 1 is its own worker's */
    struct conn *c = client_new(1, 3);
    EXPECT(p, ":1\r\n", "DEL", k[0]);
    SEND(c, "BRPOP", k[0], "1");
    pump();
    assert_int_equal(block_timeouts(w1), 1);
    assert_int_equal(block_timeouts(w0), 0);
    w1->now_ms = clock_real_ms() + 2000;
    block_cron(w1);
    assert_string_equal(take_output(c), "_\r\n");
    w0->now_ms = w1->now_ms;
    sweep_now(w0);
    assert_int_equal(atomic_load(&block_entries), 0);
}

/* A primary that turns replica ends its waiters with Redis's error. */
static void turning_replica_ends_the_waiters(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    struct conn *a = client_new(0, 2);
    SEND(a, "BLPOP", "k", "0");
    pump();
    atomic_store(&repl_node.role, REPL_REPLICA);
    block_cron(w);
    atomic_store(&repl_node.role, REPL_PRIMARY);
    const char *r = take_output(a);
    assert_true(strncmp(r, "-UNBLOCKED force unblock", 24) == 0);
    assert_int_equal(w->blocked_clients, 0);
}

/* ---- 7. a model of Redis's rules ------------------------------------------------------------ */

/* A xorshift for seeded runs: a fixed seed gives the same run on every machine. */
static uint64_t rng;

static int below(int n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (uint64_t)n);
}

/*
 * Clients of both workers block with BLPOP/BRPOP on random keys of one shard, others push,
 * delete, unblock, leave, and time passes; after each batch of steps every reply and every
 * list is compared with a model of Redis's rules: a push serves the key's waiters in the
 * order they blocked, one element each while the list lasts; a waiter is answered once
 * (served, timed out, unblocked) and leaves every queue then; a client that leaves takes
 * nothing more.
 *
 * A batch is either one step, or steps that each take effect when issued (a push or a DEL
 * by a client of the key's owner, CLIENT UNBLOCK, a client leaving, the clock moving),
 * whose wakes are delivered together afterwards; or a forwarded BLPOP followed by
 * forwarded pushes from the same worker and the BLPOP's client leaving (the shard runs
 * them in the order sent, before the client's worker learns that it blocked).
 *
 * Time: each deadline is counted from the real clock, so a timeout given as V + u*STEP ms
 * at model time V ends at real start + elapsed + V + u*STEP; the workers' clocks read
 * real start + STEP/2 + V. With STEP far beyond the test's run time, a waiter ends exactly
 * when the model time reaches V + u*STEP.
 */
#define M_KEYS    4 /* keys 0, 1 on shard 0; 2, 3 on shard 1 */
#define M_CLIENTS 10
#define M_STEPS   5000
#define M_STEP_MS 10000000LL
#define M_MAXVALS 4096
#define M_BUFSZ   512

struct mlist {
    int v[M_MAXVALS];
    int n;
};

struct mclient {
    struct conn *c;
    unsigned worker;
    int proto;
    bool waiting;
    bool busy;        /* answered in this batch, its reply not yet delivered */
    bool head;        /* BLPOP (else BRPOP) */
    int64_t deadline; /* model time; 0: none */
    char expect[M_BUFSZ * 4];
    size_t elen;
};

static struct {
    char keys[M_KEYS][16];
    unsigned key_shard[M_KEYS];
    struct mlist list[M_KEYS];
    int queue[M_KEYS][M_CLIENTS];
    int qlen[M_KEYS];
    struct mclient cl[M_CLIENTS];
    struct conn *observer[2];
    int64_t vtime, real0;
    int next_value;
    int served, timeouts, unblocked, left, immediate;
    int late_unblock, late_leave, gone_in_flight; /* the races the batches make */
} M;

static void m_expect(int i, const char *s)
{
    struct mclient *x = &M.cl[i];
    size_t n = strlen(s);
    assert_true(x->elen + n < sizeof(x->expect));
    memcpy(x->expect + x->elen, s, n + 1);
    x->elen += n;
}

static void m_leave_queues(int i)
{
    for (int k = 0; k < M_KEYS; k++) {
        int o = 0;
        for (int j = 0; j < M.qlen[k]; j++)
            if (M.queue[k][j] != i)
                M.queue[k][o++] = M.queue[k][j];
        M.qlen[k] = o;
    }
    M.cl[i].waiting = false;
}

static int m_pop(int k, bool head)
{
    struct mlist *l = &M.list[k];
    assert_true(l->n > 0);
    int v;
    if (head) {
        v = l->v[0];
        memmove(l->v, l->v + 1, sizeof(int) * (size_t)(l->n - 1));
    } else {
        v = l->v[l->n - 1];
    }
    l->n--;
    return v;
}

static void m_reply_pop(int i, int k, int v)
{
    char val[16];
    snprintf(val, sizeof(val), "v%d", v);
    m_expect(i, popped(M.keys[k], val));
}

/* A write to key k: its waiters in order, one element each. */
static void m_serve(int k)
{
    while (M.list[k].n > 0 && M.qlen[k] > 0) {
        int i = M.queue[k][0];
        m_reply_pop(i, k, m_pop(k, M.cl[i].head));
        m_leave_queues(i);
        M.cl[i].busy = true;
        M.served++;
    }
}

static void m_new_client(int i)
{
    struct mclient *x = &M.cl[i];
    memset(x, 0, sizeof(*x));
    x->worker = (unsigned)(i % 2);
    x->proto = below(2) ? 3 : 2;
    x->c = client_new(x->worker, x->proto);
}

static bool m_idle(int i)
{
    return !M.cl[i].waiting && !M.cl[i].busy;
}

/* A random idle client (of worker `worker`, or any when -1; not `not`), or -1. */
static int m_pick_idle(int worker, int not )
{
    int start = below(M_CLIENTS);
    for (int n = 0; n < M_CLIENTS; n++) {
        int i = (start + n) % M_CLIENTS;
        if (i != not &&m_idle(i) && (worker < 0 || M.cl[i].worker == (unsigned)worker))
            return i;
    }
    return -1;
}

static const char *m_null(int i)
{
    return M.cl[i].proto == 3 ? "_\r\n" : "*-1\r\n";
}

/* BLPOP/BRPOP keys[0..nk) with a timeout of `units` model steps (0: forever). */
static void act_block(int i, const int *keys, int nk, bool head, int units)
{
    struct mclient *x = &M.cl[i];
    const char *argv[8];
    char timeout[32];
    int argc = 0;
    argv[argc++] = head ? "BLPOP" : "BRPOP";
    for (int j = 0; j < nk; j++)
        argv[argc++] = M.keys[keys[j]];
    int64_t deadline = units > 0 ? M.vtime + units * M_STEP_MS : 0;
    snprintf(timeout, sizeof(timeout), "%lld", (long long)(deadline / 1000));
    argv[argc++] = timeout;
    argv[argc] = NULL;
    run_words(x->c, argv);

    x->head = head;
    for (int j = 0; j < nk; j++) {
        int k = keys[j];
        if (M.list[k].n > 0) {
            m_reply_pop(i, k, m_pop(k, head));
            M.immediate++;
            return;
        }
    }
    x->waiting = true;
    x->deadline = deadline;
    for (int j = 0; j < nk; j++) {
        int k = keys[j];
        bool again = false;
        for (int q = 0; q < M.qlen[k]; q++)
            again = again || M.queue[k][q] == i;
        if (!again)
            M.queue[k][M.qlen[k]++] = i;
    }
}

static void act_push(int i, int k, bool head, int nvals)
{
    const char *argv[8];
    char vals[4][16];
    int argc = 0;
    argv[argc++] = head ? "LPUSH" : "RPUSH";
    argv[argc++] = M.keys[k];
    struct mlist *l = &M.list[k];
    assert_true(l->n + nvals <= M_MAXVALS);
    for (int j = 0; j < nvals; j++) {
        int v = M.next_value++;
        snprintf(vals[j], sizeof(vals[j]), "v%d", v);
        argv[argc++] = vals[j];
        if (head) {
            memmove(l->v + 1, l->v, sizeof(int) * (size_t)l->n);
            l->v[0] = v;
        } else {
            l->v[l->n] = v;
        }
        l->n++;
    }
    argv[argc] = NULL;
    run_words(M.cl[i].c, argv);
    char r[32];
    snprintf(r, sizeof(r), ":%d\r\n", l->n);
    m_expect(i, r);
    m_serve(k);
}

static void act_del(int i, const int *keys, int nk)
{
    const char *argv[4] = { "DEL", NULL, NULL, NULL };
    int gone = 0;
    for (int j = 0; j < nk; j++) {
        argv[1 + j] = M.keys[keys[j]];
        gone += M.list[keys[j]].n > 0;
        M.list[keys[j]].n = 0;
    }
    run_words(M.cl[i].c, argv);
    char r[32];
    snprintf(r, sizeof(r), ":%d\r\n", gone);
    m_expect(i, r);
}

static void act_unblock(int i, bool error)
{
    bool was = M.cl[i].waiting;
    M.late_unblock += !was && M.cl[i].c->waiter != NULL;
    assert_int_equal(block_unblock(M.cl[i].c, error), was);
    if (was) {
        m_expect(i, error ? UNBLOCKED_ERR : m_null(i));
        m_leave_queues(i);
        M.cl[i].busy = true;
        M.unblocked++;
    }
}

static void act_leave(int i)
{
    M.late_leave += !M.cl[i].waiting && M.cl[i].c->waiter != NULL;
    M.gone_in_flight += M.cl[i].c->inflight > 0;
    conn_close(M.cl[i].c);
    m_leave_queues(i);
    m_new_client(i);
    M.left++;
}

static void set_clocks(void)
{
    for (unsigned w = 0; w < nw; w++)
        server.workers[w]->now_ms = M.real0 + M_STEP_MS / 2 + M.vtime;
}

static void act_advance(void)
{
    M.vtime += M_STEP_MS;
    set_clocks();
    for (unsigned w = 0; w < nw; w++)
        block_cron(server.workers[w]);
    for (int i = 0; i < M_CLIENTS; i++) {
        struct mclient *x = &M.cl[i];
        if (x->waiting && x->deadline > 0 && x->deadline <= M.vtime) {
            m_expect(i, m_null(i));
            m_leave_queues(i);
            x->busy = true;
            M.timeouts++;
        }
    }
}

/* One or two distinct keys of shard s. @return how many */
static int m_keys_of(unsigned s, int *keys, bool dupes, int max)
{
    int mine[M_KEYS], n = 0;
    for (int k = 0; k < M_KEYS; k++)
        if (M.key_shard[k] == s)
            mine[n++] = k;
    int nk = 1 + below(max);
    for (int j = 0; j < nk; j++)
        keys[j] = mine[below(n)];
    if (!dupes && nk == 2 && keys[0] == keys[1])
        nk = 1;
    return nk;
}

/* Mostly a waiting client, or one served in this batch (too late to end it); sometimes any. */
static int m_pick_target(void)
{
    int start = below(M_CLIENTS);
    if (below(3) == 0)
        for (int n = 0; n < M_CLIENTS; n++)
            if (M.cl[(start + n) % M_CLIENTS].busy && M.cl[(start + n) % M_CLIENTS].c->waiter)
                return (start + n) % M_CLIENTS;
    if (below(4) > 0)
        for (int n = 0; n < M_CLIENTS; n++)
            if (M.cl[(start + n) % M_CLIENTS].waiting)
                return (start + n) % M_CLIENTS;
    return start;
}

/* A step that takes effect when issued; false when it found nobody to act. */
static bool act_sync(void)
{
    int r = below(100);
    if (r < 35) { /* a push by a client of the key's owner */
        int k = below(M_KEYS);
        int i = m_pick_idle((int)M.key_shard[k], -1);
        if (i < 0)
            return false;
        act_push(i, k, below(2), 1 + below(2));
    } else if (r < 45) {
        unsigned s = (unsigned)below(2);
        int i = m_pick_idle((int)s, -1);
        if (i < 0)
            return false;
        int keys[2];
        act_del(i, keys, m_keys_of(s, keys, false, 2));
    } else if (r < 70) {
        act_unblock(m_pick_target(), below(2));
    } else if (r < 80) {
        act_leave(m_pick_target());
    } else {
        act_advance();
    }
    return true;
}

static void check_lists(void)
{
    static char want[1 << 17];
    for (int k = 0; k < M_KEYS; k++) {
        struct mlist *l = &M.list[k];
        size_t n = (size_t)snprintf(want, sizeof(want), "*%d\r\n", l->n);
        for (int j = 0; j < l->n; j++) {
            char v[16];
            int len = snprintf(v, sizeof(v), "v%d", l->v[j]);
            n += (size_t)snprintf(want + n, sizeof(want) - n, "$%d\r\n%s\r\n", len, v);
            assert_true(n < sizeof(want));
        }
        struct conn *o = M.observer[M.key_shard[k]];
        SEND(o, "LRANGE", M.keys[k], "0", "-1");
        assert_string_equal(take_output(o), want);
    }
}

static void check_all(bool sweep)
{
    uint64_t blocked[2] = { 0 }, timed[2] = { 0 };
    for (int i = 0; i < M_CLIENTS; i++) {
        struct mclient *x = &M.cl[i];
        assert_string_equal(take_output(x->c), x->expect);
        x->expect[0] = '\0';
        x->elen = 0;
        x->busy = false;
        assert_int_equal(waiting(x->c), x->waiting);
        if (x->waiting) {
            blocked[x->worker]++;
            timed[x->worker] += x->deadline > 0;
        }
    }
    for (unsigned w = 0; w < nw; w++) {
        assert_int_equal(server.workers[w]->blocked_clients, blocked[w]);
        assert_int_equal(block_timeouts(server.workers[w]), timed[w]);
        assert_null(server.workers[w]->zombies);
        assert_null(server.workers[w]->hold.dq_head);
    }
    check_lists();
    if (!sweep)
        return;
    size_t entries = 0, keys[2] = { 0 };
    for (unsigned w = 0; w < nw; w++)
        sweep_now(server.workers[w]);
    for (int k = 0; k < M_KEYS; k++) {
        entries += (size_t)M.qlen[k];
        keys[M.key_shard[k]] += M.qlen[k] > 0;
    }
    assert_int_equal(atomic_load(&block_entries), entries);
    for (unsigned w = 0; w < nw; w++)
        assert_int_equal(server.workers[w]->block.keys.n, keys[w]);
}

static void model_run(uint64_t seed)
{
    memset(&M, 0, sizeof(M));
    rng = seed;
    char two[2][16];
    for (unsigned s = 0; s < 2; s++) {
        keys_on(s, 2, two);
        for (int j = 0; j < 2; j++) {
            memcpy(M.keys[s * 2 + (unsigned)j], two[j], 16);
            M.key_shard[s * 2 + (unsigned)j] = s;
        }
    }
    M.real0 = clock_real_ms();
    set_clocks();
    for (unsigned w = 0; w < nw; w++)
        server.workers[w]->block_sweep_ms = server.workers[w]->now_ms;
    for (int i = 0; i < M_CLIENTS; i++)
        m_new_client(i);
    M.observer[0] = client_new(0, 2);
    M.observer[1] = client_new(1, 2);

    for (int step = 0; step < M_STEPS; step++) {
        int r = below(100);
        if (r < 45) {
            int i = m_pick_idle(-1, -1);
            if (i < 0) {
                act_advance();
            } else {
                unsigned s = (unsigned)below(2);
                int keys[3];
                int nk = m_keys_of(s, keys, true, 3);
                int units = below(3) == 0 ? 0 : 1 + below(3);
                act_block(i, keys, nk, below(2), units);
                if (M.cl[i].worker != s && below(4) == 0) {
                    /* forwarded: pushes sent behind it, and maybe the client leaving */
                    for (int n = below(3); n > 0; n--) {
                        int j = m_pick_idle((int)M.cl[i].worker, i);
                        if (j >= 0)
                            act_push(j, keys[below(nk)], below(2), 1 + below(2));
                    }
                    if (below(2))
                        act_leave(i);
                }
            }
        } else if (r < 70) {
            int k = below(M_KEYS);
            int i = m_pick_idle(-1, -1);
            if (i >= 0) {
                act_push(i, k, below(2), 1 + below(2));
                if (M.cl[i].worker == M.key_shard[k])
                    while (below(100) < 45)
                        act_sync();
            }
        } else if (r < 75) {
            int i = m_pick_idle(-1, -1);
            if (i >= 0) {
                int keys[2];
                unsigned s = (unsigned)below(2);
                act_del(i, keys, m_keys_of(s, keys, false, 2));
            }
        } else if (r < 97) {
            act_sync();
            while (below(100) < 45)
                act_sync();
        } else {
            for (unsigned w = 0; w < nw; w++)
                block_cron(server.workers[w]); /* the same clock: nothing ends */
        }
        pump();
        check_all(step % 64 == 63);
    }
    /* every client leaves: nothing is left in any table */
    for (int i = 0; i < M_CLIENTS; i++)
        act_leave(i);
    pump();
    check_all(true);
    assert_int_equal(atomic_load(&block_entries), 0);
    /* the run went through every way out of a wait, and through the races */
    assert_true(M.served > 200);
    assert_true(M.immediate > 200);
    assert_true(M.timeouts > 30);
    assert_true(M.unblocked > 50);
    assert_true(M.left > 100);
    assert_true(M.late_unblock > 0);
    assert_true(M.late_leave > 0);
    assert_true(M.gone_in_flight > 20);
}

static void random_runs_follow_the_model(void **state)
{
    (void)state;
    model_run(0x9e3779b97f4a7c15ull);
}

static void random_runs_follow_the_model_another_seed(void **state)
{
    (void)state;
    model_run(20240611);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(one_key_serves_in_blocking_order, setup_one, workers_down),
        cmocka_unit_test_setup_teardown(one_push_serves_several_waiters_each_from_its_end,
                                        setup_one, workers_down),
        cmocka_unit_test_setup_teardown(first_written_key_serves_and_the_others_let_go, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(keys_in_order_and_a_key_named_twice, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(writes_that_leave_no_list_serve_nobody, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(transactions_serve_after_exec, setup_one, workers_down),
        cmocka_unit_test_setup_teardown(keys_written_in_one_transaction_serve_in_write_order,
                                        setup_one, workers_down),
        cmocka_unit_test_setup_teardown(a_past_deadline_ends_the_wait_with_a_null, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(the_wait_ends_exactly_at_its_deadline, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(many_deadlines_end_exactly_when_due, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(every_command_times_out_with_a_null_array, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(client_unblock_answers_timeout_or_error, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(a_served_waiter_cannot_be_ended_any_more, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(a_client_leaving_while_blocked_leaves_the_element,
                                        setup_one, workers_down),
        cmocka_unit_test_setup_teardown(block_conn_closed_releases_the_waiter, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(a_client_leaving_after_it_was_served, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(blmove_and_brpoplpush_move_what_a_push_brings, setup_one,
                                        workers_down),
        cmocka_unit_test_setup_teardown(bzpop_is_served_by_zadd, setup_one, workers_down),
        cmocka_unit_test_setup_teardown(a_client_of_another_worker_is_served_by_the_owner,
                                        setup_two, workers_down),
        cmocka_unit_test_setup_teardown(turning_replica_ends_the_waiters, setup_one, workers_down),
        cmocka_unit_test_setup_teardown(random_runs_follow_the_model, setup_two, workers_down),
        cmocka_unit_test_setup_teardown(random_runs_follow_the_model_another_seed, setup_two,
                                        workers_down),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    free(outbuf);
    return rc;
}
