/* The userspace stack as a worker backend (net/net_io.c, base/netio.h): two
 * stacks on an in-memory wire, each driven only through its adapter's table
 * as the worker loop drives it (listen, poll, flush, accept, connect, attach,
 * read, writev, close, destroy), on the tests' fake clock. */
#include "tests/unit/net_test.h"

#include "base/netio.h"

struct side {
    struct t_env env;
    struct netio io;
    struct netio_event seen[64]; /* every event its polls reported, oldest first */
    unsigned nseen;
};

static void side_init(struct side *s, const uint8_t *mac, uint32_t ip)
{
    memset(s, 0, sizeof(*s));
    struct net_stack_config cfg = { .seed = ip };
    t_env_init_as(&s->env, &cfg, 0, mac, ip);
    assert_int_equal(net_io_create(s->env.st, -1, &s->io), 0);
    assert_ptr_equal(s->io.ops, &net_netio_ops);
}

static void side_fini(struct side *s)
{
    s->io.ops->destroy(s->io.ctx);
    t_env_fini(&s->env);
}

/* One pass of both loops: poll (no wait), flush, carry the frames across, a millisecond on. */
static void pass(struct side *a, struct side *b)
{
    struct side *both[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        struct side *s = both[i];
        struct netio_event ev[16];
        unsigned n = s->io.ops->poll(s->io.ctx, s->env.now, 0, ev, 16);
        for (unsigned k = 0; k < n && s->nseen < 64; k++)
            s->seen[s->nseen++] = ev[k];
        s->io.ops->flush(s->io.ctx, s->env.now);
    }
    t_pump(&a->env, &b->env, NULL, NULL);
    a->env.now += MS;
    b->env.now += MS;
}

/* The first event s reported with all of `events` (for `user` unless NULL), within 200 passes. */
static struct netio_event wait_event(struct side *a, struct side *b, struct side *s,
                                     uint32_t events, void *user)
{
    for (int i = 0; i < 200; i++) {
        for (unsigned k = 0; k < s->nseen; k++) {
            struct netio_event e = s->seen[k];
            if ((e.events & events) == events && (user == NULL || e.user == user)) {
                s->seen[k] = s->seen[--s->nseen];
                return e;
            }
        }
        pass(a, b);
    }
    fail_msg("no event %#x", events);
    return (struct netio_event){ 0 };
}

static void listen_accept_connect_read_write(void **state)
{
    (void)state;
    struct side *srv = malloc(sizeof(*srv)), *cli = malloc(sizeof(*cli));
    side_init(srv, T_MAC, T_IP);
    side_init(cli, PEER_MAC, PEER_IP);
    const struct netio_ops *io = srv->io.ops;

    /* bind is the kernel's; port 0 is 6379 on the stack; a port is listened on once */
    int port = 0, tport = 0, again = 0;
    assert_int_equal(io->listen(srv->io.ctx, "192.0.2.1", 0, 16, false, &port), 0);
    assert_int_equal(port, 6379);
    assert_int_equal(io->listen(srv->io.ctx, "", 6380, 0, true, &tport), 0);
    assert_int_equal(tport, 6380);
    assert_true(io->listen(srv->io.ctx, "", 6379, 16, false, &again) < 0);

    /* A client on the tls-port: the listener is reported with NETIO_TLS, the connect with OUT. */
    char err[64] = "", peer[64];
    int cu, su; /* the connections' user pointers */
    union netio_handle ch, sh;
    assert_int_equal(io->connect(cli->io.ctx, "10.0.0.1", 6380, &ch, err, sizeof(err)), 0);
    assert_int_equal(io->attach(cli->io.ctx, ch, &cu, true), 0);
    assert_int_equal(io->connect_error(ch), EINPROGRESS);
    struct netio_event le = wait_event(srv, cli, srv, NETIO_ACCEPT, NULL);
    assert_int_equal(le.events, NETIO_ACCEPT | NETIO_TLS);
    wait_event(srv, cli, cli, NETIO_OUT, &cu);
    assert_int_equal(io->connect_error(ch), 0);
    assert_int_equal(io->fd(ch), -1);

    uint8_t addr[16];
    assert_int_equal(io->accept(srv->io.ctx, le.listener, &sh, peer, sizeof(peer), addr), 0);
    char local[64];
    io->local_name(ch, local, sizeof(local));
    assert_string_equal(peer, local);
    assert_int_equal(strncmp(peer, "10.0.0.2:", 9), 0);
    static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, [12] = 10, [15] = 2 };
    assert_memory_equal(addr, mapped, 16);
    union netio_handle none;
    assert_int_equal(io->accept(srv->io.ctx, le.listener, &none, peer, sizeof(peer), addr),
                     -EAGAIN);
    assert_int_equal(io->attach(srv->io.ctx, sh, &su, false), 0);

    /* Bytes both ways, reported as NETIO_IN for the connection's pointer. */
    char buf[16];
    assert_int_equal(io->read(sh, buf, sizeof(buf)), -EAGAIN);
    struct iovec iov[2] = { { .iov_base = "PI", .iov_len = 2 },
                            { .iov_base = "NG", .iov_len = 2 } };
    assert_int_equal(io->writev(ch, iov, 2), 4);
    wait_event(srv, cli, srv, NETIO_IN, &su);
    assert_int_equal(io->read(sh, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "PING", 4);
    struct iovec pong = { .iov_base = "PONG", .iov_len = 4 };
    assert_int_equal(io->writev(sh, &pong, 1), 4);
    wait_event(srv, cli, cli, NETIO_IN, &cu);
    assert_int_equal(io->read(ch, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "PONG", 4);

    /* A close is the peer's end of stream. */
    io->close(cli->io.ctx, ch);
    wait_event(srv, cli, srv, NETIO_IN, &su);
    assert_int_equal(io->read(sh, buf, sizeof(buf)), 0);
    io->close(srv->io.ctx, sh);
    for (int i = 0; i < 10; i++)
        pass(srv, cli);

    side_fini(cli);
    side_fini(srv);
    free(cli);
    free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listen_accept_connect_read_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
