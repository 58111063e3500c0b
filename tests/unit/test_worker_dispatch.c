/*
 * The central command path (worker/dispatch.c) without sockets: two workers
 * built as polluxd builds them (command table, default parameters, shard
 * mesh), and an internal connection of worker 0 whose requests go through
 * dispatch_request. Checks what the rows imply, done once for every
 * command: lookup and the unknown-command text, arity, authentication,
 * MULTI queueing and its refusals, statistics, routing (run here, or
 * forwarded to the owner and executed there by dispatch_forwarded), the
 * maxmemory refusal of commands flagged DENYOOM, and the client interface the
 * connection commands of cmd/ use (cmd/client.h over the connection), and WATCH's tables
 * (worker/watch.c) against a model.
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
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "worker/config.h"
#include "worker/conn.h"
#include "worker/dispatch.h"
#include "base/mem.h"
#include "worker/multi.h"
#include "worker/process.h"
#include "worker/watch.h"
#include "shard/shard.h"
#include "worker/worker.h"

#define NW 2

static struct conn *conn; /* on worker 0 */
static char out[4096];

static int setup(void **state)
{
    (void)state;
    cmd_table_setup();
    acl_setup();
    config_setup();
    memset(&server, 0, sizeof(server));
    server.nworkers = NW;
    assert_int_equal(shard_mesh_init(&server.mesh, NW), 0);
    for (unsigned i = 0; i < NW; i++) {
        server.workers[i] = worker_create(&server, i, -1);
        assert_non_null(server.workers[i]);
        server.stores[i] = server.workers[i]->store;
    }
    conn = conn_create_internal(server.workers[0]);
    return 0;
}

static void drop(struct shard_msg *m)
{
    shard_msg_free(m);
}

static int teardown(void **state)
{
    (void)state;
    conn_destroy(conn);
    for (unsigned i = 0; i < NW; i++) {
        shard_port_deinit(&server.workers[i]->port);
        worker_destroy(server.workers[i]);
    }
    shard_mesh_deinit(&server.mesh, drop);
    config_teardown();
    acl_teardown();
    cmd_table_teardown();
    return 0;
}

/* Each test starts from an authenticated connection with nothing queued. */
static int fresh_conn(void **state)
{
    (void)state;
    conn->authenticated = true;
    multi_discard(conn);
    reply_deinit(&conn->out);
    reply_init(&conn->out, conn->proto);
    return 0;
}

/* The bytes queued on c's output (local replies only), then emptied. */
static const char *take_output(struct conn *c)
{
    size_t n = 0;
    for (struct rblock *b = c->out.head; b != NULL; b = b->next) {
        assert_int_not_equal(b->kind, RBLOCK_HOLE);
        assert_true(n + (b->len - b->start) < sizeof(out));
        memcpy(out + n, b->data + b->start, b->len - b->start);
        n += b->len - b->start;
    }
    out[n] = '\0';
    reply_deinit(&c->out);
    reply_init(&c->out, c->proto);
    return out;
}

/* Dispatch argv (NULL-terminated words) on conn; returns its local reply. */
static enum dispatch_result run_words(const char *const *words)
{
    struct resp_arg argv[16];
    int argc = 0;
    for (; words[argc] != NULL; argc++)
        argv[argc] = (struct resp_arg){ (char *)words[argc], strlen(words[argc]) };
    return dispatch_request(conn, argc, argv);
}

#define RUN(...) run_words((const char *const[]){ __VA_ARGS__, NULL })

static const struct cmd_stat *stat_of(unsigned w, const char *name)
{
    const struct cmd_def *d = cmd_lookup(name, strlen(name));
    assert_non_null(d);
    return &server.workers[w]->cmdstats[d->id];
}

/* A key owned by worker `want`. */
static const char *key_on(unsigned want)
{
    static char k[2][16];
    for (int i = 0;; i++) {
        snprintf(k[want], sizeof(k[want]), "k%d", i);
        if (cmd_key_shard(k[want], strlen(k[want]), NW) == want)
            return k[want];
    }
}

static void unknown_command_and_subcommand(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    uint64_t errors = w->stats.error_replies, commands = w->stats.commands;
    assert_int_equal(RUN("NOSUCH", "a", "b"), DISPATCH_DONE);
    assert_string_equal(take_output(conn),
                        "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n");
    assert_int_equal(RUN("config", "nosuch"), DISPATCH_DONE);
    assert_string_equal(take_output(conn),
                        "-ERR unknown subcommand 'nosuch'. Try CONFIG HELP.\r\n");
    assert_int_equal(w->stats.error_replies, errors + 2);
    assert_int_equal(w->stats.commands, commands); /* neither ran */
}

static void arity_is_checked_from_the_row(void **state)
{
    (void)state;
    uint64_t rejected = stat_of(0, "get")->rejected, calls = stat_of(0, "get")->calls;
    RUN("GET");
    assert_string_equal(take_output(conn), "-ERR wrong number of arguments for 'get' command\r\n");
    RUN("GET", "a", "b");
    assert_string_equal(take_output(conn), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_int_equal(stat_of(0, "get")->rejected, rejected + 2);
    assert_int_equal(stat_of(0, "get")->calls, calls);
    RUN("CONFIG", "GET");
    assert_string_equal(take_output(conn),
                        "-ERR wrong number of arguments for 'config|get' command\r\n");
}

static void authentication_is_required_except_for_no_auth_rows(void **state)
{
    (void)state;
    conn->authenticated = false;
    RUN("GET", "x");
    assert_string_equal(take_output(conn), "-NOAUTH Authentication required.\r\n");
    RUN("PING");
    assert_string_equal(take_output(conn), "-NOAUTH Authentication required.\r\n");
    /* AUTH itself is allowed: it answers for the missing password */
    RUN("AUTH", "pw");
    const char *r = take_output(conn);
    const char *want = "-ERR AUTH <password> called without any password";
    assert_true(strncmp(r, want, strlen(want)) == 0);
    conn->authenticated = true;
    RUN("PING");
    assert_string_equal(take_output(conn), "+PONG\r\n");
}

static void local_key_runs_here_and_counts(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    const char *k = key_on(0);
    uint64_t commands = w->stats.commands, calls = stat_of(0, "set")->calls;
    assert_int_equal(RUN("SET", k, "v"), DISPATCH_DONE);
    assert_string_equal(take_output(conn), "+OK\r\n");
    RUN("GET", k);
    assert_string_equal(take_output(conn), "$1\r\nv\r\n");
    assert_int_equal(w->stats.commands, commands + 2);
    assert_int_equal(stat_of(0, "set")->calls, calls + 1);
    assert_int_equal(store_count(server.stores[0], 0), 1);
    assert_int_equal(store_count(server.stores[1], 0), 0);
}

/* A key of worker 1: the request travels, runs there, and its reply comes back. */
static void remote_key_is_forwarded_and_answered(void **state)
{
    (void)state;
    struct worker *w0 = server.workers[0], *w1 = server.workers[1];
    const char *k = key_on(1);
    uint64_t fwd = w0->stats.forwarded, fwd_in = w1->stats.forwarded_in;
    assert_int_equal(RUN("SET", k, "remote"), DISPATCH_DONE);
    assert_int_equal(w0->stats.forwarded, fwd + 1);
    assert_int_equal(conn->inflight, 1);
    assert_int_equal(conn->out.tail->kind, RBLOCK_HOLE); /* the reply's place in the pipeline */

    struct shard_msg *m[4];
    assert_int_equal(shard_poll(&w1->port, m, 4), 1);
    assert_int_equal(m[0]->type, SHARD_REQ);
    assert_int_equal(m[0]->argc, 3);
    dispatch_forwarded(w1, m[0]);
    assert_int_equal(w1->stats.forwarded_in, fwd_in + 1);
    assert_int_equal(store_count(server.stores[1], 0), 1);

    assert_int_equal(shard_poll(&w0->port, m, 4), 1);
    assert_int_equal(m[0]->type, SHARD_REPLY);
    assert_ptr_equal(m[0]->conn, conn);
    assert_int_equal(m[0]->embed.len, 5);
    assert_memory_equal(m[0]->reply_buf, "+OK\r\n", 5);
    /* what the worker does with a reply that was not waited for: drop the hole */
    reply_deinit(&conn->out);
    reply_init(&conn->out, conn->proto);
    conn->inflight--;
    shard_msg_put(&w0->port, m[0]);
}

/* conn waits for a transaction the test does not run: drop it and the LOCK it sent. */
static void abandon_transaction(void)
{
    worker_tx_forget(server.workers[0], conn);
    struct shard_msg *m[8];
    unsigned n;
    while ((n = shard_poll(&server.workers[1]->port, m, 8)) > 0)
        for (unsigned i = 0; i < n; i++)
            shard_msg_free(m[i]);
}

static void several_shards_wait_for_a_transaction(void **state)
{
    (void)state;
    assert_int_equal(RUN("MSET", key_on(0), "a", key_on(1), "b"), DISPATCH_WAIT);
    /* nothing ran and nothing was written yet: the shards must be held first */
    assert_null(conn->out.head);
    abandon_transaction();
}

static void multi_queues_and_refuses(void **state)
{
    (void)state;
    RUN("MULTI");
    assert_string_equal(take_output(conn), "+OK\r\n");
    RUN("SET", key_on(1), "x"); /* queued, not forwarded: the queue runs at EXEC */
    assert_string_equal(take_output(conn), "+QUEUED\r\n");
    assert_int_equal(conn->multi->count, 1);
    RUN("SYNC"); /* a row flagged no-multi */
    assert_string_equal(take_output(conn), "-ERR Command not allowed inside a transaction\r\n");
    assert_int_equal(conn->multi->count, 1);
    assert_true(conn->multi->aborted); /* EXEC will answer EXECABORT */
    RUN("GET");
    assert_string_equal(take_output(conn), "-ERR wrong number of arguments for 'get' command\r\n");
    RUN("DISCARD");
    assert_string_equal(take_output(conn), "+OK\r\n");
    assert_null(conn->multi);
}

static void maxmemory_refuses_denyoom_commands(void **state)
{
    (void)state;
    struct worker *w = server.workers[0];
    const char *k = key_on(0);
    long long saved = w->params.store.maxmemory;
    RUN("SET", k, "v");
    take_output(conn);
    w->params.store.maxmemory = 16; /* 8 bytes a shard: under anything; noeviction */
    uint64_t rejected = stat_of(0, "set")->rejected;
    RUN("SET", k, "w");
    assert_string_equal(take_output(conn),
                        "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    assert_int_equal(stat_of(0, "set")->rejected, rejected + 1);
    RUN("GET", k); /* reads still run */
    assert_string_equal(take_output(conn), "$1\r\nv\r\n");
    RUN("DEL", k); /* and so do commands that free memory */
    assert_string_equal(take_output(conn), ":1\r\n");
    w->params.store.maxmemory = saved;
}

/* cmd/client.h is the connection seen from the commands: what it sets, the connection has. */
static void client_interface_reaches_the_connection(void **state)
{
    (void)state;
    struct cmd_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.reply = &conn->out;
    assert_null(cmd_client(&ctx)); /* a forwarded command has no client */
    ctx.client = conn;
    struct cmd_client *cl = cmd_client(&ctx);
    assert_non_null(cl);
    assert_int_equal(client_id(cl), conn->id);
    client_set_name(cl, "app", 3);
    assert_string_equal(conn->name, "app");
    assert_string_equal(client_name(cl), "app");
    RUN("CLIENT", "GETNAME"); /* the handler in cmd/connection.c reads the same */
    assert_string_equal(take_output(conn), "$3\r\napp\r\n");
    client_set_name(cl, NULL, 0);
    assert_null(conn->name);
    client_set_proto(cl, &ctx, 3);
    assert_int_equal(conn->proto, 3);
    assert_int_equal(conn->out.proto, 3);
    client_set_proto(cl, &ctx, 2);
    client_set_no_evict(cl, true);
    assert_true(conn->flags & CONN_NO_EVICT);
    client_set_no_evict(cl, false);
    assert_false(conn->flags & CONN_NO_EVICT);
    assert_string_equal(client_user_name(cl), "default");
    assert_false(client_in_multi(cl));
    client_multi_start(cl);
    assert_non_null(conn->multi);
    assert_int_equal(client_multi_count(cl), 0);
    assert_false(client_multi_aborted(cl));
    client_multi_discard(cl);
    assert_null(conn->multi);
}

/* client_next walks every worker's connection list, worker by worker, then stops. */
static void client_next_walks_every_worker(void **state)
{
    (void)state;
    struct conn *other = conn_create_internal(server.workers[1]);
    struct conn *saved0 = server.workers[0]->conns, *saved1 = server.workers[1]->conns;
    server.workers[0]->conns = NULL;
    server.workers[1]->conns = other; /* worker 0 has none: the walk starts on worker 1 */
    struct cmd_client *cl = client_next(NULL);
    assert_non_null(cl);
    assert_int_equal(client_id(cl), other->id);
    assert_null(client_next(cl));
    server.workers[0]->conns = conn; /* now one each, worker 0's first */
    conn->next = NULL;
    cl = client_next(NULL);
    assert_int_equal(client_id(cl), conn->id);
    cl = client_next(cl);
    assert_int_equal(client_id(cl), other->id);
    assert_null(client_next(cl));
    server.workers[0]->conns = saved0;
    server.workers[1]->conns = saved1;
    conn_destroy(other);
}

/* ---- WATCH (worker/watch.c) -------------------------------------------------------------- */

/* What a handler's cmd_changed does after writing key k of database db. */
static void changed(int db, const char *k)
{
    struct cmd_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    watch_changed(&ctx, NOTIFY_STRING, "set", db, k, strlen(k));
}

static void watch_runs_here_or_holds(void **state)
{
    (void)state;
    assert_int_equal(RUN("WATCH", key_on(0)), DISPATCH_DONE);
    assert_string_equal(take_output(conn), "+OK\r\n");
    assert_int_equal(watch_count(conn), 1);
    assert_true(watch_any());
    /* a key of worker 1: never forwarded (the handler needs the client), held instead */
    assert_int_equal(RUN("WATCH", key_on(1)), DISPATCH_WAIT);
    assert_null(conn->out.head);
    abandon_transaction();
    /* a write through the dispatcher reaches the watch */
    assert_false(watch_touched(conn));
    RUN("SET", key_on(0), "x");
    take_output(conn);
    assert_true(watch_touched(conn));
    RUN("UNWATCH");
    assert_string_equal(take_output(conn), "+OK\r\n");
    assert_int_equal(watch_count(conn), 0);
    assert_false(watch_any());
}

static void watch_sees_writes_expiry_and_release(void **state)
{
    (void)state;
    struct worker *w1 = server.workers[1];
    const char *k0 = key_on(0), *k1 = key_on(1);
    int64_t now = 1000000;
    watch_key(conn, 0, k0, strlen(k0), now);
    watch_key(conn, 0, k1, strlen(k1), now);
    watch_key(conn, 0, k1, strlen(k1), now); /* once */
    assert_int_equal(watch_count(conn), 2);
    assert_int_equal(watch_shards(conn), 3);
    assert_false(watch_dirty(conn, now));
    changed(3, k1); /* another database: another key */
    assert_false(watch_dirty(conn, now));
    changed(0, k1);
    assert_true(watch_dirty(conn, now));
    /* our shard's node goes at once; the other shard's when its owner sweeps */
    watch_release(conn, 0);
    assert_int_equal(atomic_load(&watch_nodes), 1);
    assert_int_equal(w1->watch.keys.n, 1);
    w1->now_ms = w1->watch.sweep_ms + 100;
    watch_cron(w1);
    assert_int_equal(w1->watch.keys.n, 0);
    assert_false(watch_any());

    /* live when watched, expired since (not yet removed): a change */
    struct skey sk;
    skey_init(&sk, k1, strlen(k1));
    store_set(server.stores[1], 0, &sk, "v", 1, KV_ENC_EMBSTR, now + 10, 0);
    watch_key(conn, 0, k1, strlen(k1), now);
    assert_false(watch_dirty(conn, now + 5));
    assert_true(watch_dirty(conn, now + 20));
    watch_release(conn, 2); /* as EXEC holding shard 1 does: freed at once */
    assert_false(watch_any());
    /* expired when watched: its removal is none, a new value is */
    watch_key(conn, 0, k1, strlen(k1), now + 20);
    assert_false(watch_dirty(conn, now + 30));
    store_delete(server.stores[1], 0, &sk, now + 30);
    assert_false(watch_dirty(conn, now + 30));
    store_set(server.stores[1], 0, &sk, "w", 1, KV_ENC_EMBSTR, -1, 0);
    changed(0, k1);
    assert_true(watch_dirty(conn, now + 30));
    watch_release(conn, 2);
    store_delete(server.stores[1], 0, &sk, now + 30);
    assert_false(watch_any());
}

/* Random watches, writes and releases by clients of both workers, against a model of
 * Redis's rule: a client is touched when a key it watches is written after its WATCH. */
static void watch_random_against_model(void **state)
{
    (void)state;
    enum { NC = 3, NK = 8 };
    struct conn *cs[NC] = { conn, conn_create_internal(server.workers[1]),
                            conn_create_internal(server.workers[0]) };
    char names[NK][8];
    for (int k = 0; k < NK; k++)
        snprintf(names[k], sizeof(names[k]), "r%d", k);
    bool watching[NC][NK] = { { false } }, touched[NC] = { false };
    uint64_t seed = 7;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 33), c = r % NC, k = (r / NC) % NK, db = k & 1;
        switch ((r >> 8) % 8) {
        case 0:
        case 1:
        case 2:
            watch_key(cs[c], (int)db, names[k], strlen(names[k]), 0);
            watching[c][k] = true;
            break;
        case 3:
        case 4:
            changed((int)db, names[k]);
            for (unsigned i = 0; i < NC; i++)
                touched[i] |= watching[i][k];
            break;
        case 5:
            changed((int)!db, names[k]); /* the same name in the other database */
            break;
        case 6:
            watch_release(cs[c], 0);
            memset(watching[c], 0, sizeof(watching[c]));
            touched[c] = false;
            break;
        default:
            for (unsigned w = 0; w < NW; w++) {
                server.workers[w]->now_ms = server.workers[w]->watch.sweep_ms + 100;
                watch_cron(server.workers[w]);
            }
            /* swept: every node left is watched by someone */
            size_t nodes = 0;
            for (int j = 0; j < NK; j++)
                for (unsigned i = 0; i < NC; i++)
                    if (watching[i][j]) {
                        nodes++;
                        break;
                    }
            assert_int_equal(server.workers[0]->watch.keys.n + server.workers[1]->watch.keys.n,
                             nodes);
        }
        for (unsigned i = 0; i < NC; i++) {
            size_t n = 0;
            for (int j = 0; j < NK; j++)
                n += watching[i][j];
            assert_int_equal(watch_count(cs[i]), n);
            assert_int_equal(watch_touched(cs[i]), touched[i]);
        }
    }
    for (unsigned i = 0; i < NC; i++)
        watch_release(cs[i], 0);
    for (unsigned w = 0; w < NW; w++) {
        server.workers[w]->now_ms = server.workers[w]->watch.sweep_ms + 100;
        watch_cron(server.workers[w]);
    }
    assert_false(watch_any());
    conn_destroy(cs[1]);
    conn_destroy(cs[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(unknown_command_and_subcommand, fresh_conn),
        cmocka_unit_test_setup(arity_is_checked_from_the_row, fresh_conn),
        cmocka_unit_test_setup(authentication_is_required_except_for_no_auth_rows, fresh_conn),
        cmocka_unit_test_setup(local_key_runs_here_and_counts, fresh_conn),
        cmocka_unit_test_setup(remote_key_is_forwarded_and_answered, fresh_conn),
        cmocka_unit_test_setup(several_shards_wait_for_a_transaction, fresh_conn),
        cmocka_unit_test_setup(multi_queues_and_refuses, fresh_conn),
        cmocka_unit_test_setup(maxmemory_refuses_denyoom_commands, fresh_conn),
        cmocka_unit_test_setup(client_interface_reaches_the_connection, fresh_conn),
        cmocka_unit_test_setup(client_next_walks_every_worker, fresh_conn),
        cmocka_unit_test_setup(watch_runs_here_or_holds, fresh_conn),
        cmocka_unit_test_setup(watch_sees_writes_expiry_and_release, fresh_conn),
        cmocka_unit_test_setup(watch_random_against_model, fresh_conn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
