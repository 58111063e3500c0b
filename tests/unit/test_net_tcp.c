/*
 * TCP of the userspace stack: a scripted raw peer against one stack, and two
 * stacks on a wire the test pumps (dropping or holding frames), all on a fake
 * clock.
 */
#include "tests/unit/net_test.h"

#define PORT 7000

struct fx {
    struct t_env e;
    struct net_sock *ls;
    struct t_peer p;
    struct net_sock *s;
    int user;
};

static void fx_setup(struct fx *f, const struct net_params *params, uint32_t caps)
{
    memset(f, 0, sizeof(*f));
    struct net_stack_config cfg = { .seed = 7, .params = params };
    t_env_init_cfg(&f->e, &cfg, caps);
    t_poll(&f->e);
    t_drain(&f->e);
    t_teach_arp(&f->e, PEER_IP, PEER_MAC);
    assert_int_equal(net_listen(f->e.st, 0, PORT, 16, &f->user, &f->ls), 0);
}

static void fx_open(struct fx *f, uint32_t iss)
{
    f->s = t_peer_connect(&f->p, &f->e, f->ls, PORT, iss);
    struct net_event ev[8];
    net_events(f->e.st, ev, 8); /* the WRITE a new connection starts with */
}

/* net_close, and the FIN it sends. */
static void fx_close(struct fx *f, struct t_out *o)
{
    net_close(f->s);
    t_poll(&f->e);
    t_peer_expect(&f->p, o);
    assert_true(o->flags & T_FIN);
}

static void fx_teardown(struct fx *f)
{
    t_env_fini(&f->e);
}

/* Events of socket s reported by the next net_events (0 when none). */
static uint32_t events_of(struct net_stack *st, struct net_sock *s)
{
    struct net_event ev[64];
    uint32_t got = 0;
    unsigned n = net_events(st, ev, 64);
    for (unsigned i = 0; i < n; i++)
        if (ev[i].sock == s)
            got |= ev[i].events;
    return got;
}

static struct net_stack_info info_of(const struct net_stack *st)
{
    struct net_stack_info info;
    net_stack_info(st, &info);
    return info;
}

static const struct net_counters *ctr(struct fx *f)
{
    return net_stack_counters(f->e.st);
}

static void passive_handshake(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    struct t_peer *p = &f.p;
    memset(p, 0, sizeof(*p));
    p->e = &f.e;
    p->port = 40000;
    p->sport = PORT;
    p->seq = 5000;
    p->ts = true;
    p->tsval = 777;
    p->wnd = 65535;
    p->wscale = 7;
    t_peer_send(p, T_SYN, NULL, 0);
    t_poll(&f.e);
    struct t_out o;
    t_peer_expect(p, &o);
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(o.ack, 5001);
    assert_int_equal(o.mss, 1460);
    assert_int_equal(o.wscale, 1); /* 64 KiB receive buffer */
    assert_true(o.ts);
    assert_int_equal(o.tsecr, 777);
    assert_int_equal(o.wnd, 65535);
    assert_int_equal(o.src, T_IP);
    assert_int_equal(o.sport, PORT);
    assert_int_equal(info_of(f.e.st).syn_rcvd, 1);
    assert_null(net_accept(f.ls, NULL));
    p->ack = o.seq + 1;
    t_peer_send(p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(events_of(f.e.st, f.ls), NET_EV_ACCEPT);
    struct net_sock *s = net_accept(f.ls, p);
    assert_non_null(s);
    assert_null(net_accept(f.ls, NULL));
    assert_int_equal(net_sock_state(s), NET_TCP_ESTABLISHED);
    struct net_endpoint ep;
    net_sock_peer(s, &ep);
    assert_int_equal(ep.ip, PEER_IP);
    assert_int_equal(ep.port, 40000);
    net_sock_local(s, &ep);
    assert_int_equal(ep.ip, T_IP);
    assert_int_equal(ep.port, PORT);
    assert_ptr_equal(net_sock_user(s), p);
    assert_int_equal(info_of(f.e.st).syn_rcvd, 0);
    assert_int_equal(info_of(f.e.st).conns, 1);
    assert_int_equal(ctr(&f)->tcp_passive_opens, 1);
    assert_int_equal(ctr(&f)->tcp_established, 1);
    assert_int_equal(ctr(&f)->tcp_accepted, 1);
    /* a retransmitted SYN in SYN_RCVD gets the SYN-ACK again (new connection) */
    net_close(s);
    fx_teardown(&f);
}

/* Bytes in order: READ event, delayed ACK, ACK every second full segment. */
static void receive_in_order(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    struct t_out o;
    assert_false(t_pop_tcp(&f.e, &o)); /* nothing to say yet */
    t_peer_send(&f.p, T_ACK | T_PSH, "hello", 5);
    t_poll(&f.e);
    assert_int_equal(events_of(f.e.st, f.s) & NET_EV_READ, NET_EV_READ);
    assert_false(t_pop_tcp(&f.e, &o)); /* the ACK is delayed */
    char buf[4096];
    assert_int_equal(net_read(f.s, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(net_read(f.s, buf, sizeof(buf)), -EAGAIN);
    t_advance(&f.e, 39 * MS);
    assert_false(t_pop_tcp(&f.e, &o));
    t_advance(&f.e, 2 * MS);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.flags, T_ACK);
    assert_int_equal(o.ack, 5001 + 5);
    assert_int_equal(ctr(&f)->tcp_delayed_acks, 1);

    /* two full-sized segments: an ACK at once */
    uint8_t data[3000];
    for (int i = 0; i < 3000; i++)
        data[i] = (uint8_t)i;
    t_peer_send(&f.p, T_ACK, data, 1448);
    t_peer_send(&f.p, T_ACK, data + 1448, 1448);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.ack, 5006 + 2896);
    assert_false(t_pop_tcp(&f.e, &o));
    assert_int_equal(net_read(f.s, buf, 1000), 1000);
    assert_int_equal(net_read(f.s, buf + 1000, 4000), 1896);
    assert_memory_equal(buf, data, 2896);
    assert_int_equal(ctr(&f)->tcp_bytes_in, 2901);
    net_close(f.s);
    fx_teardown(&f);
}

/* Out-of-order segments: immediate duplicate ACKs, reassembly, duplicates counted. */
static void receive_out_of_order(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    uint8_t data[4000];
    for (int i = 0; i < 4000; i++)
        data[i] = (uint8_t)(i * 13);
    uint32_t base = f.p.seq;
    struct t_out o;
    /* segments 3, 2 (overlapping 3), then 1 */
    t_peer_raw(&f.p, base + 2000, f.p.ack, T_ACK, data + 2000, 1000);
    t_peer_raw(&f.p, base + 1000, f.p.ack, T_ACK, data + 1000, 1500);
    t_poll(&f.e);
    for (int i = 0; i < 2; i++) {
        t_peer_expect(&f.p, &o);
        assert_int_equal(o.ack, base); /* duplicate ACKs for the hole */
    }
    assert_int_equal(events_of(f.e.st, f.s), 0);
    char buf[4000];
    assert_int_equal(net_read(f.s, buf, sizeof(buf)), -EAGAIN);
    t_peer_raw(&f.p, base, f.p.ack, T_ACK, data, 1000);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.ack, base + 3000); /* the hole filled: ACK at once */
    assert_int_equal(net_read(f.s, buf, sizeof(buf)), 3000);
    assert_memory_equal(buf, data, 3000);
    assert_int_equal(ctr(&f)->tcp_ooo_segs, 2);
    /* an old duplicate, and one that is half old and half new */
    t_peer_raw(&f.p, base, f.p.ack, T_ACK, data, 1000);
    t_peer_raw(&f.p, base + 2500, f.p.ack, T_ACK, data + 2500, 1000);
    t_poll(&f.e);
    assert_true(ctr(&f)->tcp_dup_segs >= 1);
    assert_int_equal(net_read(f.s, buf, sizeof(buf)), 500);
    assert_memory_equal(buf, data + 3000, 500);
    net_close(f.s);
    fx_teardown(&f);
}

static void reassembly_queue_bounded(void **state)
{
    (void)state;
    struct net_params p;
    param_defaults(net_param_defs, &p);
    p.ooo_max = 2;
    struct fx f;
    fx_setup(&f, &p, 0);
    fx_open(&f, 5000);
    uint8_t data[100] = { 0 };
    uint32_t base = f.p.seq;
    t_peer_raw(&f.p, base + 100, f.p.ack, T_ACK, data, 10);
    t_peer_raw(&f.p, base + 200, f.p.ack, T_ACK, data, 10);
    t_peer_raw(&f.p, base + 300, f.p.ack, T_ACK, data, 10); /* a third interval: no room */
    t_peer_raw(&f.p, base + 110, f.p.ack, T_ACK, data, 10); /* extends the first: fine */
    t_poll(&f.e);
    assert_int_equal(ctr(&f)->tcp_ooo_segs, 3);
    assert_int_equal(ctr(&f)->tcp_drop_ooo_full, 1);
    t_peer_raw(&f.p, base, f.p.ack, T_ACK, data, 100);
    t_poll(&f.e);
    assert_int_equal(net_sock_readable(f.s), 120);
    t_drain(&f.e);
    net_abort(f.s);
    fx_teardown(&f);
}

/* Sending: MSS-sized segments without Nagle, ACKs free the buffer, EAGAIN when full. */
static void send_and_ack(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    events_of(f.e.st, f.s);
    uint8_t data[70000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 1);
    assert_int_equal(net_write(f.s, data, 3000), 3000);
    net_flush(f.e.st, f.e.now);
    struct t_out o;
    uint32_t seq0 = f.p.ack;
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.seq, seq0);
    assert_int_equal(o.dlen, 1448);
    assert_memory_equal(o.data, data, 1448);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.dlen, 1448);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.dlen, 104);
    assert_true(o.flags & T_PSH);
    assert_memory_equal(o.data, data + 2896, 104);
    assert_int_equal(net_sock_unacked(f.s), 3000);
    f.p.ack = seq0 + 3000;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_unacked(f.s), 0);

    /* fill the 64 KiB send buffer */
    ssize_t n = net_write(f.s, data, sizeof(data));
    assert_int_equal(n, 65536);
    assert_int_equal(net_write(f.s, data, 10), -EAGAIN);
    struct iovec iov[2] = { { data, 5 }, { data + 5, 5 } };
    assert_int_equal(net_writev(f.s, iov, 2), -EAGAIN);
    t_poll(&f.e);
    uint32_t sent = 0;
    while (t_pop_tcp(&f.e, &o))
        sent += (uint32_t)o.dlen;
    assert_int_equal(sent, 11 * 1448); /* IW10, plus one MSS for the first ACK */
    f.p.ack += sent;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(events_of(f.e.st, f.s) & NET_EV_WRITE, 0); /* 14 KiB free: not yet */
    assert_int_equal(net_writev(f.s, iov, 2), 10);
    sent = 0;
    while (t_pop_tcp(&f.e, &o))
        sent += (uint32_t)o.dlen;
    assert_int_equal(sent, 12 * 1448); /* slow start: one MSS more per ACK */
    f.p.ack += sent;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(events_of(f.e.st, f.s) & NET_EV_WRITE, NET_EV_WRITE);
    t_drain(&f.e);
    net_abort(f.s);
    fx_teardown(&f);
}

/* RTO: retransmission after the timeout, doubling each time, reset by an ACK. */
static void rto_backoff(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    assert_int_equal(net_write(f.s, "abcdef", 6), 6);
    net_flush(f.e.st, f.e.now);
    struct t_out o;
    t_peer_expect(&f.p, &o);
    uint32_t seq = o.seq;
    /* handshake RTT ~0: the RTO is the 200 ms floor */
    assert_true(net_next_timer(f.e.st) > f.e.now);
    assert_true(net_next_timer(f.e.st) <= f.e.now + 200 * MS);
    t_advance(&f.e, 199 * MS);
    assert_false(t_pop_tcp(&f.e, &o));
    uint64_t gaps[] = { 200, 400, 800, 1600 };
    for (unsigned i = 0; i < 4; i++) {
        if (i > 0) {
            t_advance(&f.e, (gaps[i] - 2) * MS);
            assert_false(t_pop_tcp(&f.e, &o));
            t_advance(&f.e, 1 * MS);
        }
        t_advance(&f.e, 1 * MS);
        t_peer_expect(&f.p, &o);
        assert_int_equal(o.seq, seq);
        assert_int_equal(o.dlen, 6);
        assert_memory_equal(o.data, "abcdef", 6);
    }
    assert_int_equal(ctr(&f)->tcp_retrans_timeout, 4);
    assert_int_equal(ctr(&f)->tcp_retrans_segs, 4);
    f.p.ack = seq + 6;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    t_advance(&f.e, 10 * SEC);
    assert_false(t_pop_tcp(&f.e, &o));
    assert_int_equal(ctr(&f)->tcp_retrans_timeout, 4);
    net_close(f.s);
    fx_teardown(&f);
}

static void retransmission_limit(void **state)
{
    (void)state;
    struct net_params p;
    param_defaults(net_param_defs, &p);
    p.retries = 3;
    struct fx f;
    fx_setup(&f, &p, 0);
    fx_open(&f, 5000);
    events_of(f.e.st, f.s);
    assert_int_equal(net_write(f.s, "x", 1), 1);
    for (int i = 0; i < 40; i++)
        t_advance(&f.e, 100 * MS);
    struct t_out o;
    unsigned data = 0, rst = 0;
    while (t_pop_tcp(&f.e, &o)) {
        data += o.dlen == 1;
        rst += !!(o.flags & T_RST);
    }
    assert_int_equal(data, 4); /* first send and three retries */
    assert_int_equal(rst, 1);
    assert_int_equal(events_of(f.e.st, f.s) & NET_EV_ERROR, NET_EV_ERROR);
    assert_int_equal(net_sock_error(f.s), ETIMEDOUT);
    char b[4];
    assert_int_equal(net_read(f.s, b, 4), -ETIMEDOUT);
    assert_int_equal(net_write(f.s, "x", 1), -ETIMEDOUT);
    assert_int_equal(ctr(&f)->tcp_conn_timeout, 1);
    net_close(f.s);
    assert_int_equal(info_of(f.e.st).conns, 0);
    fx_teardown(&f);
}

/* Three duplicate ACKs: fast retransmit; a partial ACK retransmits the next hole (NewReno). */
static void fast_retransmit(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    uint8_t data[8 * 1448];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    assert_int_equal(net_write(f.s, data, sizeof(data)), (ssize_t)sizeof(data));
    net_flush(f.e.st, f.e.now);
    struct t_out o;
    uint32_t seq0 = f.p.ack;
    for (int i = 0; i < 8; i++)
        t_peer_expect(&f.p, &o);
    /* segments 0 and 3 are lost: three duplicate ACKs for seq0 */
    for (int i = 0; i < 3; i++)
        t_peer_raw(&f.p, f.p.seq, seq0, T_ACK, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.seq, seq0);
    assert_int_equal(o.dlen, 1448);
    assert_int_equal(ctr(&f)->tcp_retrans_fast, 1);
    assert_int_equal(ctr(&f)->tcp_dup_acks, 3);
    assert_false(t_pop_tcp(&f.e, &o));
    /* partial ACK up to the second hole */
    t_peer_raw(&f.p, f.p.seq, seq0 + 3 * 1448, T_ACK, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.seq, seq0 + 3 * 1448);
    assert_memory_equal(o.data, data + 3 * 1448, 1448);
    /* the full ACK ends recovery; no timeout was needed */
    t_peer_raw(&f.p, f.p.seq, seq0 + sizeof(data), T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_unacked(f.s), 0);
    assert_int_equal(ctr(&f)->tcp_retrans_timeout, 0);
    t_drain(&f.e);
    net_close(f.s);
    fx_teardown(&f);
}

/* Peer closes first: HUP, reads drain then return 0, our FIN, LAST_ACK, gone. */
static void passive_close(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    events_of(f.e.st, f.s);
    t_peer_send(&f.p, T_ACK | T_FIN, "bye", 3);
    t_poll(&f.e);
    uint32_t ev = events_of(f.e.st, f.s);
    assert_true(ev & NET_EV_READ);
    assert_true(ev & NET_EV_HUP);
    struct t_out o;
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.ack, f.p.seq); /* data and FIN acknowledged at once */
    assert_int_equal(net_sock_state(f.s), NET_TCP_CLOSE_WAIT);
    char b[16];
    assert_int_equal(net_read(f.s, b, 16), 3);
    assert_int_equal(net_read(f.s, b, 16), 0);
    assert_int_equal(net_write(f.s, "ok", 2), 2); /* half-close: we may still send */
    net_close(f.s);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.dlen, 2);
    assert_true(o.flags & T_FIN);
    f.p.ack = o.seq + 3;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(info_of(f.e.st).conns, 0);
    assert_int_equal(info_of(f.e.st).time_wait, 0);
    fx_teardown(&f);
}

/* We close first: FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT in the table, expiry. */
static void active_close_time_wait(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    struct t_out o;
    fx_close(&f, &o); /* our FIN */
    assert_int_equal(o.flags, T_FIN | T_ACK);
    uint32_t fin = o.seq;
    f.p.ack = fin + 1;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_false(t_pop_tcp(&f.e, &o));
    t_peer_send(&f.p, T_ACK | T_FIN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.flags, T_ACK);
    assert_int_equal(o.ack, f.p.seq);
    assert_int_equal(info_of(f.e.st).conns, 0); /* the block went back; a table entry remains */
    assert_int_equal(info_of(f.e.st).time_wait, 1);
    assert_int_equal(ctr(&f)->tcp_time_wait, 1);
    /* a retransmitted FIN is ACKed again; a RST does not end TIME_WAIT (RFC 1337) */
    t_peer_raw(&f.p, f.p.seq - 1, f.p.ack, T_ACK | T_FIN, NULL, 0);
    t_peer_raw(&f.p, f.p.seq, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.ack, f.p.seq);
    assert_int_equal(o.seq, fin + 1);
    assert_false(t_pop_tcp(&f.e, &o));
    assert_int_equal(info_of(f.e.st).time_wait, 1);
    t_advance(&f.e, 59 * SEC);
    assert_int_equal(info_of(f.e.st).time_wait, 1);
    t_advance(&f.e, 2 * SEC);
    assert_int_equal(info_of(f.e.st).time_wait, 0);
    /* the tuple is free again: a SYN reaches the listener */
    t_teach_arp(&f.e, PEER_IP, PEER_MAC); /* the ARP entry expired meanwhile */
    f.p.tsval += 100;
    t_peer_raw(&f.p, f.p.seq + 1000, 0, T_SYN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.flags, T_SYN | T_ACK);
    fx_teardown(&f);
}

/* A new SYN with a newer timestamp ends TIME_WAIT early (RFC 6191). */
static void time_wait_reuse(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    struct t_out o;
    fx_close(&f, &o); /* our FIN */
    f.p.ack = o.seq + 1;
    t_peer_send(&f.p, T_ACK | T_FIN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(info_of(f.e.st).time_wait, 1);
    /* an old SYN (older timestamp) only gets an ACK */
    f.p.tsval -= 10;
    t_peer_raw(&f.p, 9000, 0, T_SYN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.flags, T_ACK);
    f.p.tsval += 20;
    t_peer_raw(&f.p, 9000, 0, T_SYN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(o.ack, 9001);
    assert_int_equal(ctr(&f)->tcp_time_wait_reused, 1);
    fx_teardown(&f);
}

/* Both ends close at once: FIN_WAIT_1 → CLOSING → TIME_WAIT. */
static void simultaneous_close(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    assert_int_equal(net_shutdown(f.s, NET_SHUT_WR), 0);
    t_poll(&f.e);
    struct t_out o;
    t_peer_expect(&f.p, &o);
    assert_true(o.flags & T_FIN);
    uint32_t our_fin = o.seq;
    assert_int_equal(net_sock_state(f.s), NET_TCP_FIN_WAIT_1);
    /* the peer's FIN crosses ours: it does not acknowledge our FIN */
    t_peer_send(&f.p, T_ACK | T_FIN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.ack, f.p.seq);
    assert_int_equal(net_sock_state(f.s), NET_TCP_CLOSING);
    f.p.ack = our_fin + 1;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_state(f.s), NET_TCP_TIME_WAIT);
    char b[4];
    assert_int_equal(net_read(f.s, b, 4), 0);
    net_close(f.s); /* the held TIME_WAIT moves to the table */
    assert_int_equal(info_of(f.e.st).conns, 0);
    assert_int_equal(info_of(f.e.st).time_wait, 1);
    fx_teardown(&f);
}

static void fin_wait_2_timeout(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    struct t_out o;
    fx_close(&f, &o); /* our FIN */
    f.p.ack = o.seq + 1;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(info_of(f.e.st).conns, 1); /* FIN_WAIT_2, orphaned */
    t_advance(&f.e, 61 * SEC);
    assert_int_equal(info_of(f.e.st).conns, 0);
    fx_teardown(&f);
}

/* Close with unread bytes resets; so does data arriving after close. */
static void close_resets(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    t_peer_send(&f.p, T_ACK, "unread", 6);
    t_poll(&f.e);
    net_close(f.s);
    t_poll(&f.e);
    struct t_out o;
    assert_true(t_pop_tcp(&f.e, &o));
    assert_true(o.flags & T_RST);
    assert_int_equal(ctr(&f)->tcp_conn_aborted, 1);

    f.p.port++;
    fx_open(&f, 6000);
    net_close(f.s);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o); /* FIN */
    t_peer_send(&f.p, T_ACK, "late", 4);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_true(o.flags & T_RST);
    assert_int_equal(ctr(&f)->tcp_drop_after_close, 1);
    assert_int_equal(info_of(f.e.st).conns, 0);
    fx_teardown(&f);
}

/* RST validation (RFC 5961) and RST in each synchronized state. */
static void rst_handling(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    struct t_out o;

    /* SYN_RCVD: back to LISTEN, nothing reported */
    memset(&f.p, 0, sizeof(f.p));
    f.p.e = &f.e;
    f.p.port = 41000;
    f.p.sport = PORT;
    f.p.seq = 100;
    f.p.wnd = 65535;
    f.p.wscale = -1;
    t_peer_send(&f.p, T_SYN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    t_peer_raw(&f.p, 101, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(info_of(f.e.st).syn_rcvd, 0);
    assert_int_equal(info_of(f.e.st).conns, 0);

    /* ESTABLISHED: out of window ignored, in window challenged, exact resets */
    fx_open(&f, 5000);
    events_of(f.e.st, f.s);
    t_peer_raw(&f.p, f.p.seq + 200000, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_false(t_pop_tcp(&f.e, &o));
    t_peer_raw(&f.p, f.p.seq + 100, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.flags, T_ACK);
    assert_int_equal(o.ack, f.p.seq);
    assert_int_equal(ctr(&f)->tcp_challenge_acks, 1);
    assert_int_equal(net_sock_state(f.s), NET_TCP_ESTABLISHED);
    t_peer_raw(&f.p, f.p.seq, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_true(events_of(f.e.st, f.s) & NET_EV_ERROR);
    assert_int_equal(net_sock_error(f.s), ECONNRESET);
    char b[4];
    assert_int_equal(net_read(f.s, b, 4), -ECONNRESET);
    assert_int_equal(net_sock_state(f.s), NET_TCP_CLOSED);
    net_close(f.s);

    /* FIN_WAIT_1 and CLOSE_WAIT */
    f.p.port = 42000;
    fx_open(&f, 7000);
    net_shutdown(f.s, NET_SHUT_WR);
    t_poll(&f.e);
    t_drain(&f.e);
    t_peer_raw(&f.p, f.p.seq, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_error(f.s), ECONNRESET);
    net_close(f.s);
    f.p.port = 42001;
    fx_open(&f, 7000);
    t_peer_send(&f.p, T_ACK | T_FIN, NULL, 0);
    t_poll(&f.e);
    t_drain(&f.e);
    assert_int_equal(net_sock_state(f.s), NET_TCP_CLOSE_WAIT);
    t_peer_raw(&f.p, f.p.seq, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_error(f.s), ECONNRESET);
    net_close(f.s);

    /* LAST_ACK after close: the block goes quietly */
    f.p.port = 42002;
    fx_open(&f, 7000);
    t_peer_send(&f.p, T_ACK | T_FIN, NULL, 0);
    t_poll(&f.e);
    net_close(f.s);
    t_poll(&f.e);
    t_drain(&f.e);
    t_peer_raw(&f.p, f.p.seq, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(info_of(f.e.st).conns, 0);
    assert_int_equal(ctr(&f)->tcp_conn_reset, 3);

    /* SYN in ESTABLISHED: challenge ACK, connection unharmed */
    f.p.port = 42003;
    fx_open(&f, 7000);
    t_peer_raw(&f.p, f.p.seq + 5, 0, T_SYN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.flags, T_ACK);
    assert_int_equal(net_sock_state(f.s), NET_TCP_ESTABLISHED);
    /* an ACK for data never sent: ACKed and dropped */
    t_peer_raw(&f.p, f.p.seq, f.p.ack + 5000, T_ACK, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(ctr(&f)->tcp_drop_bad_ack, 1);
    net_close(f.s);
    fx_teardown(&f);
}

/* Active open against the raw peer: options, CONNECTED, data written early. */
static void active_open(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    struct net_sock *s;
    int tag;
    assert_int_equal(net_connect(f.e.st, PEER_IP, 6400, 0, &tag, &s), 0);
    assert_int_equal(net_write(s, "early", 5), 5);
    t_poll(&f.e);
    struct t_out o;
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_SYN);
    assert_int_equal(o.dport, 6400);
    assert_int_equal(o.mss, 1460);
    assert_int_equal(o.wscale, 1);
    assert_true(o.ts);
    assert_int_equal(o.dlen, 0);
    assert_true(o.sport >= 32768 && o.sport <= 60999);
    assert_int_equal(net_sock_state(s), NET_TCP_SYN_SENT);
    assert_int_equal(events_of(f.e.st, s), 0);
    struct t_peer p = { .e = &f.e,
                        .port = 6400,
                        .sport = o.sport,
                        .seq = 90000,
                        .ack = o.seq + 1,
                        .ts = true,
                        .tsval = 5,
                        .ts_recent = o.tsval,
                        .wnd = 1000,
                        .wscale = 2 };
    /* a wrong ACK in SYN_SENT draws a RST and changes nothing */
    t_peer_raw(&p, 90000, o.seq + 77, T_SYN | T_ACK, NULL, 0);
    t_poll(&f.e);
    struct t_out r;
    assert_true(t_pop_tcp(&f.e, &r));
    assert_int_equal(r.flags, T_RST);
    assert_int_equal(r.seq, o.seq + 77);
    t_peer_send(&p, T_SYN | T_ACK, NULL, 0);
    t_poll(&f.e);
    struct net_event ev[4];
    assert_int_equal(net_events(f.e.st, ev, 4), 1);
    assert_ptr_equal(ev[0].user, &tag);
    assert_int_equal(ev[0].events, NET_EV_CONNECTED | NET_EV_WRITE);
    assert_int_equal(net_sock_state(s), NET_TCP_ESTABLISHED);
    t_peer_expect(&p, &o);
    assert_int_equal(o.ack, 90001);
    assert_int_equal(o.dlen, 5); /* the early bytes ride on the ACK */
    assert_memory_equal(o.data, "early", 5);
    assert_int_equal(o.wnd, 65536 >> 1); /* scaled by our wscale 1 */
    assert_int_equal(ctr(&f)->tcp_active_opens, 1);
    net_abort(s);
    fx_teardown(&f);
}

static void connect_refused_and_errors(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    struct net_sock *s;
    assert_int_equal(net_connect(f.e.st, NET_IP(192, 0, 2, 1), 80, 0, NULL, &s), -ENETUNREACH);
    assert_int_equal(net_connect(f.e.st, PEER_IP, 80, NET_IP(10, 0, 0, 99), NULL, &s),
                     -EADDRNOTAVAIL);
    assert_int_equal(net_connect(f.e.st, PEER_IP, 80, 0, NULL, &s), 0);
    t_poll(&f.e);
    struct t_out o;
    assert_true(t_pop_tcp(&f.e, &o));
    struct t_peer p = { .e = &f.e, .port = 80, .sport = o.sport, .wnd = 0 };
    t_peer_raw(&p, 0, o.seq + 1, T_RST, NULL, 0); /* no ACK: ignored */
    t_poll(&f.e);
    assert_int_equal(net_sock_state(s), NET_TCP_SYN_SENT);
    t_peer_raw(&p, 0, o.seq + 1, T_RST | T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_true(events_of(f.e.st, s) & NET_EV_ERROR);
    assert_int_equal(net_sock_error(s), ECONNREFUSED);
    assert_int_equal(ctr(&f)->tcp_conn_refused, 1);
    net_close(s);
    /* SYN retransmissions, then ETIMEDOUT */
    assert_int_equal(net_connect(f.e.st, PEER_IP, 81, 0, NULL, &s), 0);
    unsigned syns = 0;
    for (int i = 0; i < 700; i++) {
        t_advance(&f.e, 100 * MS);
        while (t_pop_tcp(&f.e, &o))
            syns += o.flags == T_SYN;
    }
    assert_int_equal(syns, 6); /* 1 + pollux-net-syn-retries */
    assert_int_equal(net_sock_error(s), ETIMEDOUT);
    net_close(s);
    fx_teardown(&f);
}

/* Simultaneous open (RFC 9293 figure 7). */
static void simultaneous_open(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    struct net_sock *s;
    assert_int_equal(net_connect(f.e.st, PEER_IP, 6500, 0, NULL, &s), 0);
    t_poll(&f.e);
    struct t_out o;
    assert_true(t_pop_tcp(&f.e, &o));
    uint32_t iss = o.seq;
    struct t_peer p = {
        .e = &f.e, .port = 6500, .sport = o.sport, .seq = 300, .wnd = 8192, .wscale = -1
    };
    t_peer_send(&p, T_SYN, NULL, 0); /* crosses our SYN */
    t_poll(&f.e);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(o.seq, iss);
    assert_int_equal(o.ack, 301);
    assert_int_equal(net_sock_state(s), NET_TCP_SYN_RCVD);
    p.ack = iss + 1;
    t_peer_raw(&p, 300, iss + 1, T_SYN | T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_state(s), NET_TCP_ESTABLISHED);
    assert_true(events_of(f.e.st, s) & NET_EV_CONNECTED);
    assert_int_equal(net_write(s, "hi", 2), 2);
    net_flush(f.e.st, f.e.now);
    bool data = false;
    while (t_pop_tcp(&f.e, &o))
        if (o.dlen == 2)
            data = o.seq == iss + 1 && o.ack == 301;
    assert_true(data);
    net_abort(s);
    fx_teardown(&f);
}

/* The peer's window closes: we stop, probe with the persist timer, resume when it opens. */
static void zero_window_probe(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    uint8_t data[3000];
    memset(data, 'z', sizeof(data));
    f.p.wnd = 0;
    t_peer_send(&f.p, T_ACK, NULL, 0); /* a window update to 0 */
    t_poll(&f.e);
    assert_int_equal(net_write(f.s, data, 3000), 3000);
    net_flush(f.e.st, f.e.now);
    struct t_out o;
    assert_false(t_pop_tcp(&f.e, &o));
    t_advance(&f.e, 199 * MS);
    assert_false(t_pop_tcp(&f.e, &o));
    t_advance(&f.e, 2 * MS);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.dlen, 0);
    assert_int_equal(o.seq, f.p.ack - 1); /* an old sequence number makes the peer answer */
    assert_int_equal(ctr(&f)->tcp_zero_window_probes, 1);
    t_peer_send(&f.p, T_ACK, NULL, 0); /* still zero */
    t_poll(&f.e);
    t_advance(&f.e, 399 * MS);
    assert_false(t_pop_tcp(&f.e, &o));
    t_advance(&f.e, 2 * MS);
    t_peer_expect(&f.p, &o); /* backed off: 400 ms */
    assert_int_equal(ctr(&f)->tcp_zero_window_probes, 2);
    f.p.wnd = 100; /* x 128 (wscale 7) */
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    uint32_t got = 0;
    while (t_pop_tcp(&f.e, &o))
        got += (uint32_t)o.dlen;
    assert_int_equal(got, 3000);
    net_abort(f.s);
    fx_teardown(&f);
}

/* Our receive buffer fills: window 0; reading opens it with a window update. */
static void receive_window_fills(void **state)
{
    (void)state;
    struct net_params p;
    param_defaults(net_param_defs, &p);
    p.rcvbuf = 8192;
    struct fx f;
    fx_setup(&f, &p, 0);
    fx_open(&f, 5000);
    uint8_t data[1000];
    memset(data, 'r', sizeof(data));
    struct t_out o;
    for (int i = 0; i < 8; i++)
        t_peer_send(&f.p, T_ACK, data, 1000);
    t_peer_send(&f.p, T_ACK, data, 192);
    t_poll(&f.e);
    uint16_t last = 0xffff;
    while (t_pop_tcp(&f.e, &o))
        last = o.wnd;
    t_advance(&f.e, 50 * MS);
    while (t_pop_tcp(&f.e, &o))
        last = o.wnd;
    assert_int_equal(last, 0);
    /* a byte beyond the window is not taken; the answer repeats window 0 */
    t_peer_send(&f.p, T_ACK, data, 1);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.wnd, 0);
    assert_int_equal(o.ack, f.p.seq - 1);
    f.p.seq--;
    assert_int_equal(net_sock_readable(f.s), 8192);
    char buf[8192];
    assert_int_equal(net_read(f.s, buf, 100), 100);
    t_poll(&f.e);
    assert_false(t_pop_tcp(&f.e, &o)); /* 100 bytes: too little to announce (SWS) */
    assert_int_equal(net_read(f.s, buf, 8192), 8092);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.wnd, 8192 >> 0); /* wscale 0 for an 8 KiB buffer */
    net_close(f.s);
    fx_teardown(&f);
}

static void keepalive(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    assert_int_equal(net_set_keepalive(f.s, 3), 0);
    struct t_out o;
    t_advance(&f.e, 2900 * MS);
    assert_false(t_pop_tcp(&f.e, &o));
    t_advance(&f.e, 200 * MS);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.dlen, 0);
    assert_int_equal(o.seq, f.p.ack - 1);
    assert_int_equal(ctr(&f)->tcp_keepalive_probes, 1);
    t_peer_send(&f.p, T_ACK, NULL, 0); /* alive */
    t_poll(&f.e);
    t_advance(&f.e, 2900 * MS);
    assert_false(t_pop_tcp(&f.e, &o));
    /* now silent: 3 probes 1 s apart, then the connection is dropped */
    events_of(f.e.st, f.s);
    unsigned probes = 0, rst = 0;
    for (int i = 0; i < 60; i++) {
        t_advance(&f.e, 100 * MS);
        while (t_pop_tcp(&f.e, &o)) {
            probes += o.dlen == 0 && !(o.flags & T_RST);
            rst += !!(o.flags & T_RST);
        }
    }
    assert_int_equal(probes, 3);
    assert_int_equal(rst, 1);
    assert_int_equal(net_sock_error(f.s), ETIMEDOUT);
    assert_int_equal(ctr(&f)->tcp_keepalive_timeouts, 1);
    net_close(f.s);
    fx_teardown(&f);
}

static void handshake_from(struct fx *f, uint16_t port, bool complete, struct t_out *o)
{
    memset(&f->p, 0, sizeof(f->p));
    f->p.e = &f->e;
    f->p.port = port;
    f->p.sport = PORT;
    f->p.seq = 1000u * port;
    f->p.wnd = 65535;
    f->p.wscale = -1;
    t_peer_send(&f->p, T_SYN, NULL, 0);
    t_poll(&f->e);
    if (!t_pop_tcp(&f->e, o)) {
        o->flags = 0;
        return;
    }
    f->p.ack = o->seq + 1;
    if (complete) {
        t_peer_send(&f->p, T_ACK, NULL, 0);
        t_poll(&f->e);
    }
}

static void backlog_full(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    net_close(f.ls);
    assert_int_equal(net_listen(f.e.st, 0, PORT, 2, NULL, &f.ls), 0);
    assert_int_equal(net_listen(f.e.st, T_IP, PORT, 2, NULL, &f.s), -EADDRINUSE);
    struct t_out o;
    handshake_from(&f, 100, true, &o);
    handshake_from(&f, 101, true, &o);
    handshake_from(&f, 102, false, &o); /* the accept queue is full: no SYN-ACK */
    assert_int_equal(o.flags, 0);
    assert_int_equal(ctr(&f)->tcp_drop_backlog_full, 1);
    struct net_sock *a = net_accept(f.ls, NULL);
    assert_non_null(a);
    handshake_from(&f, 103, true, &o);
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_non_null(net_accept(f.ls, NULL));
    assert_non_null(net_accept(f.ls, NULL));
    assert_null(net_accept(f.ls, NULL));
    fx_teardown(&f);
}

/* A SYN flood without cookies: the SYN queue stays bounded, the oldest half-open entries
 * make room. */
static void syn_flood(void **state)
{
    (void)state;
    struct net_params p;
    param_defaults(net_param_defs, &p);
    p.syn_backlog = 8;
    p.syncookies = 0;
    struct fx f;
    fx_setup(&f, &p, 0);
    struct t_out o;
    for (uint16_t port = 2000; port < 2100; port++)
        handshake_from(&f, port, false, &o);
    assert_int_equal(info_of(f.e.st).syn_rcvd, 8);
    assert_int_equal(info_of(f.e.st).conns, 8);
    assert_int_equal(ctr(&f)->tcp_drop_syn_evicted, 92);
    /* a real client still gets in */
    handshake_from(&f, 3000, true, &o);
    assert_non_null(net_accept(f.ls, NULL));
    /* the half-open ones give up after their SYN-ACK retries */
    for (int i = 0; i < 70; i++)
        t_advance(&f.e, SEC);
    assert_int_equal(info_of(f.e.st).syn_rcvd, 0);
    assert_int_equal(info_of(f.e.st).conns, 1);
    fx_teardown(&f);
}

static enum net_syn_verdict refuse_odd(void *arg, const struct net_endpoint *peer,
                                       const struct net_endpoint *local)
{
    int *calls = arg;
    (*calls)++;
    assert_int_equal(local->port, PORT);
    assert_int_equal(local->ip, T_IP);
    assert_int_equal(peer->ip, PEER_IP);
    if (peer->port == 5001)
        return NET_SYN_DROP;
    if (peer->port == 5003)
        return NET_SYN_RESET;
    return NET_SYN_ALLOW;
}

static void syn_hook(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof(f));
    int calls = 0;
    struct net_stack_config cfg = { .seed = 1, .syn_hook = refuse_odd, .syn_hook_arg = &calls };
    t_env_init_cfg(&f.e, &cfg, 0);
    t_poll(&f.e);
    t_drain(&f.e);
    t_teach_arp(&f.e, PEER_IP, PEER_MAC);
    assert_int_equal(net_listen(f.e.st, 0, PORT, 16, NULL, &f.ls), 0);
    struct t_out o;
    handshake_from(&f, 5001, false, &o);
    assert_int_equal(o.flags, 0);
    handshake_from(&f, 5003, false, &o);
    assert_int_equal(o.flags, T_RST | T_ACK);
    handshake_from(&f, 5002, false, &o);
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(calls, 3);
    assert_int_equal(ctr(&f)->tcp_drop_syn_hook, 2);
    /* the refused SYNs cost no connection block; the allowed one has its own */
    assert_int_equal(info_of(f.e.st).conns, 1);
    assert_int_equal(ctr(&f)->tcp_passive_opens, 1);
    fx_teardown(&f);
}

/* ---------------------------------------------------------------------------
 * SYN cookies
 * ------------------------------------------------------------------------ */

#define FLOOD_NET NET_IP(198, 51, 100, 0) /* off-subnet: answers go to the gateway, PEER_IP */

/* A segment from any source (the raw peer always sends from PEER_IP). */
static void seg_from(struct fx *f, uint32_t src, uint16_t sport, uint32_t seq, uint32_t ack,
                     uint8_t flags, int mss, int wscale, bool ts, uint32_t tsval, uint32_t tsecr,
                     const void *data, size_t len)
{
    struct t_frame fr;
    struct t_tcp s = {
        .src = src,
        .dst = T_IP,
        .sport = sport,
        .dport = PORT,
        .seq = seq,
        .ack = ack,
        .flags = flags,
        .wnd = 8192,
        .mss = mss,
        .wscale = wscale,
        .ts = ts,
        .tsval = tsval,
        .tsecr = tsecr,
        .data = data,
        .len = len,
    };
    t_build_tcp(&fr, &s);
    t_inject(&f->e, &fr);
    t_poll(&f->e);
}

/* A stack whose listener has a SYN queue of 8, flooded by `n` SYNs from as many sources. */
static void cookie_setup(struct fx *f, unsigned n)
{
    struct net_params p;
    param_defaults(net_param_defs, &p);
    p.syn_backlog = 8;
    fx_setup(f, &p, 0);
    net_set_gateway(f->e.st, PEER_IP);
    unsigned synacks = 0;
    for (unsigned i = 0; i < n; i++) {
        seg_from(f, FLOOD_NET + 1 + i % 250, (uint16_t)(1024 + i), 77777u * i, 0, T_SYN, 1460, -1,
                 false, 0, 0, NULL, 0);
        struct t_out o;
        while (t_pop_tcp(&f->e, &o)) {
            assert_int_equal(o.flags, T_SYN | T_ACK);
            assert_int_equal(o.ack, 77777u * i + 1);
            synacks++;
        }
    }
    assert_int_equal(synacks, n);                   /* every SYN answered, ... */
    assert_int_equal(info_of(f->e.st).syn_rcvd, 8); /* ... 8 of them with state kept */
    assert_int_equal(info_of(f->e.st).conns, 8);
    assert_int_equal(ctr(f)->tcp_syncookies_sent, n - 8);
    assert_int_equal(ctr(f)->tcp_drop_syn_evicted, 0);
}

/* A client through the flood: its SYN gets a cookie; its ACK (with data) makes the
 * connection; the MSS, window scale and timestamps it offered survive. */
static void syn_cookies_flood(void **state)
{
    (void)state;
    struct fx f;
    cookie_setup(&f, 1000);
    const uint32_t iss = 123456789;
    struct t_out o;
    /* timestamps and window scale 7 offered, MSS 1300 */
    seg_from(&f, PEER_IP, 3000, iss, 0, T_SYN, 1300, 7, true, 5000, 0, NULL, 0);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(o.ack, iss + 1);
    assert_int_equal(o.mss, 1460);
    assert_true(o.wscale >= 0);
    assert_true(o.ts);
    assert_int_equal(o.tsecr, 5000);
    assert_int_equal(o.tsval & 15, 7); /* the peer's shift, for the ACK to bring back */
    assert_int_equal(ctr(&f)->tcp_syncookies_sent, 993);
    assert_int_equal(info_of(f.e.st).conns, 8); /* nothing kept for it */
    uint32_t cookie = o.seq, ts_echo = o.tsval;
    seg_from(&f, PEER_IP, 3000, iss + 1, cookie + 1, T_ACK | T_PSH, -1, -1, true, 5001, ts_echo,
             "PING\r\n", 6);
    assert_int_equal(ctr(&f)->tcp_syncookies_recv, 1);
    assert_int_equal(ctr(&f)->tcp_syncookies_failed, 0);
    struct net_sock *s = net_accept(f.ls, NULL);
    assert_non_null(s);
    assert_int_equal(net_sock_state(s), NET_TCP_ESTABLISHED);
    char buf[64];
    assert_int_equal(net_read(s, buf, sizeof(buf)), 6);
    assert_memory_equal(buf, "PING\r\n", 6);
    /* 3000 bytes leave as segments of the cookie's MSS (1300) less the timestamp option,
     * each carrying a timestamp; the peer's window lets them all go */
    static uint8_t big[3000];
    memset(big, 'x', sizeof(big));
    assert_int_equal(net_write(s, big, sizeof(big)), (ssize_t)sizeof(big));
    net_flush(f.e.st, f.e.now);
    size_t got = 0;
    unsigned segs = 0;
    uint32_t last_ts = ts_echo;
    while (t_pop_tcp(&f.e, &o)) {
        if (o.dlen == 0)
            continue;
        assert_true(o.dlen <= 1300 - 12);
        assert_true(o.ts);
        assert_true(o.tsval > last_ts); /* never behind the cookie's TSval (PAWS) */
        assert_int_equal(o.tsecr, 5001);
        assert_int_equal(o.seq, cookie + 1 + got);
        got += o.dlen;
        segs++;
    }
    assert_int_equal(got, sizeof(big));
    assert_int_equal(segs, 3);
    net_close(s);
    fx_teardown(&f);
}

/* A SYN without timestamps: the cookie SYN-ACK offers no window scaling either. */
static void syn_cookie_without_timestamps(void **state)
{
    (void)state;
    struct fx f;
    cookie_setup(&f, 20);
    struct t_out o;
    seg_from(&f, PEER_IP, 3001, 42, 0, T_SYN, 1000, 7, false, 0, 0, NULL, 0);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(o.wscale, -1);
    assert_false(o.ts);
    assert_int_equal(o.mss, 1460);
    seg_from(&f, PEER_IP, 3001, 43, o.seq + 1, T_ACK, -1, -1, false, 0, 0, NULL, 0);
    struct net_sock *s = net_accept(f.ls, NULL);
    assert_non_null(s);
    /* MSS 1000 is carried as 536, the largest cookie value not above it */
    static uint8_t big[1200];
    memset(big, 'y', sizeof(big));
    assert_int_equal(net_write(s, big, sizeof(big)), (ssize_t)sizeof(big));
    net_flush(f.e.st, f.e.now);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.dlen, 536);
    assert_false(o.ts);
    net_close(s);
    fx_teardown(&f);
}

/* 8 half-open connections from the flood's network (the SYN-ACKs thrown away). */
static void fill_syn_queue(struct fx *f, uint16_t port)
{
    for (unsigned i = 0; i < 8; i++)
        seg_from(f, FLOOD_NET + 1, (uint16_t)(port + i), i, 0, T_SYN, 1460, -1, false, 0, 0, NULL,
                 0);
    t_drain(&f->e);
}

/* Forged and stale cookies: a RST, counted, and no connection block. */
static void syn_cookie_forged_ack(void **state)
{
    (void)state;
    struct fx f;
    cookie_setup(&f, 100);
    struct t_out o;
    unsigned conns = info_of(f.e.st).conns;
    /* a guess of the cookie, with data */
    seg_from(&f, PEER_IP, 4000, 1000, 0xdeadbeef, T_ACK | T_PSH, -1, -1, false, 0, 0, "SET k v\r\n",
             9);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_RST);
    assert_int_equal(o.seq, 0xdeadbeef);
    assert_int_equal(ctr(&f)->tcp_syncookies_failed, 1);
    assert_int_equal(info_of(f.e.st).conns, conns);
    assert_null(net_accept(f.ls, NULL));
    /* a real cookie, but for another peer port, another ISN, or another cookie's MSS bits */
    seg_from(&f, PEER_IP, 4001, 5000, 0, T_SYN, 1460, -1, false, 0, 0, NULL, 0);
    assert_true(t_pop_tcp(&f.e, &o));
    uint32_t cookie = o.seq;
    seg_from(&f, PEER_IP, 4002, 5001, cookie + 1, T_ACK, -1, -1, false, 0, 0, NULL, 0);
    seg_from(&f, PEER_IP, 4001, 5002, cookie + 1, T_ACK, -1, -1, false, 0, 0, NULL, 0);
    seg_from(&f, PEER_IP, 4001, 5001, (cookie ^ 1) + 1, T_ACK, -1, -1, false, 0, 0, NULL, 0);
    assert_int_equal(ctr(&f)->tcp_syncookies_failed, 4);
    assert_int_equal(ctr(&f)->tcp_syncookies_recv, 0);
    assert_null(net_accept(f.ls, NULL));
    t_drain(&f.e);
    /* a cookie from the previous period is still good ... */
    seg_from(&f, PEER_IP, 4003, 7000, 0, T_SYN, 1460, -1, false, 0, 0, NULL, 0);
    assert_true(t_pop_tcp(&f.e, &o));
    uint32_t old = o.seq;
    t_advance(&f.e, 70 * SEC);
    t_drain(&f.e);
    t_teach_arp(&f.e, PEER_IP, PEER_MAC); /* the gateway's entry expired meanwhile */
    seg_from(&f, PEER_IP, 4003, 7001, old + 1, T_ACK, -1, -1, false, 0, 0, NULL, 0);
    assert_int_equal(ctr(&f)->tcp_syncookies_recv, 1);
    struct net_sock *s = net_accept(f.ls, NULL);
    assert_non_null(s);
    net_close(s);
    t_drain(&f.e);
    /* ... one from two periods ago is not, while cookies are being sent again */
    fill_syn_queue(&f, 20000);
    seg_from(&f, PEER_IP, 4004, 9000, 0, T_SYN, 1460, -1, false, 0, 0, NULL, 0);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_SYN | T_ACK);
    uint32_t stale = o.seq;
    assert_int_equal(info_of(f.e.st).syn_rcvd, 8); /* it was a cookie: nothing kept */
    for (int i = 0; i < 130; i++)
        t_advance(&f.e, SEC);
    t_drain(&f.e);
    assert_int_equal(info_of(f.e.st).syn_rcvd, 0); /* the flood's half-open entries gave up */
    t_teach_arp(&f.e, PEER_IP, PEER_MAC);
    fill_syn_queue(&f, 20100);
    seg_from(&f, FLOOD_NET + 2, 20200, 1, 0, T_SYN, 1460, -1, false, 0, 0, NULL, 0); /* a cookie */
    t_drain(&f.e);
    unsigned failed = (unsigned)ctr(&f)->tcp_syncookies_failed;
    seg_from(&f, PEER_IP, 4004, 9001, stale + 1, T_ACK, -1, -1, false, 0, 0, NULL, 0);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_RST);
    assert_int_equal(ctr(&f)->tcp_syncookies_failed, failed + 1);
    assert_null(net_accept(f.ls, NULL));
    fx_teardown(&f);
}

/* With no cookie sent lately, a stray ACK is an ordinary one: a RST, no cookie counted. */
static void stray_ack_without_cookies(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    seg_from(&f, PEER_IP, 4100, 1, 12345, T_ACK, -1, -1, false, 0, 0, NULL, 0);
    struct t_out o;
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_RST);
    assert_int_equal(ctr(&f)->tcp_syncookies_failed, 0);
    fx_teardown(&f);
}

static void no_listener_and_limits(void **state)
{
    (void)state;
    struct fx f;
    memset(&f, 0, sizeof(f));
    struct net_stack_config cfg = { .seed = 1, .max_conns = 1 };
    t_env_init_cfg(&f.e, &cfg, 0);
    t_poll(&f.e);
    t_drain(&f.e);
    t_teach_arp(&f.e, PEER_IP, PEER_MAC);
    struct t_out o;
    /* no listener: RST with ACK = SEQ + 1 */
    handshake_from(&f, 4000, false, &o);
    assert_int_equal(o.flags, T_RST | T_ACK);
    assert_int_equal(o.ack, 4000u * 1000 + 1);
    assert_int_equal(ctr(&f)->tcp_drop_no_listener, 1);
    /* a stray ACK: RST with SEQ = its ACK */
    t_peer_raw(&f.p, 1, 777, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_RST);
    assert_int_equal(o.seq, 777);
    /* connection limit */
    assert_int_equal(net_listen(f.e.st, 0, PORT, 16, NULL, &f.ls), 0);
    handshake_from(&f, 4001, true, &o);
    assert_int_equal(o.flags, T_SYN | T_ACK);
    handshake_from(&f, 4002, false, &o);
    assert_int_equal(o.flags, 0);
    assert_int_equal(ctr(&f)->tcp_drop_conn_limit, 1);
    struct net_sock *s;
    assert_int_equal(net_connect(f.e.st, PEER_IP, 80, 0, NULL, &s), -ENOBUFS);
    fx_teardown(&f);
}

/* Bad checksums are dropped and counted; device RX flags are trusted. */
static void tcp_checksums(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    struct t_frame fr;
    struct t_tcp s = { .src = PEER_IP,
                       .dst = T_IP,
                       .sport = f.p.port,
                       .dport = PORT,
                       .seq = f.p.seq,
                       .ack = f.p.ack,
                       .flags = T_ACK,
                       .wnd = 1000,
                       .mss = -1,
                       .wscale = -1,
                       .ts = true,
                       .tsval = f.p.tsval,
                       .tsecr = f.p.ts_recent,
                       .data = "abcd",
                       .len = 4 };
    t_build_tcp(&fr, &s);
    fr.b[60] ^= 0x10; /* a payload bit */
    t_inject(&f.e, &fr);
    t_poll(&f.e);
    assert_int_equal(ctr(&f)->tcp_drop_bad_cksum, 1);
    assert_int_equal(net_sock_readable(f.s), 0);
    /* the device says bad: dropped even though it is right */
    t_build_tcp(&fr, &s);
    assert_int_equal(pktio_mem_inject(f.e.dev, fr.b, fr.len, NET_BUF_RX_L4_CKSUM_BAD, 0), 0);
    /* the device says good: trusted without a look */
    t_build_tcp(&fr, &s);
    fr.b[60] ^= 0x10;
    assert_int_equal(pktio_mem_inject(f.e.dev, fr.b, fr.len,
                                      NET_BUF_RX_IP_CKSUM_GOOD | NET_BUF_RX_L4_CKSUM_GOOD, 0),
                     0);
    t_poll(&f.e);
    assert_int_equal(ctr(&f)->tcp_drop_bad_cksum, 2);
    assert_int_equal(net_sock_readable(f.s), 4);
    /* a bad data offset */
    t_build_tcp(&fr, &s);
    fr.b[46] = 0x30;
    t_inject(&f.e, &fr);
    t_poll(&f.e);
    assert_int_equal(ctr(&f)->tcp_drop_bad_header, 1);
    t_drain(&f.e);
    net_abort(f.s);
    fx_teardown(&f);
}

/* With TX offload the stack leaves checksums to the device, which gets them right. */
static void tx_offload(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, PKTIO_CAP_TX_IPV4_CKSUM | PKTIO_CAP_TX_TCP_CKSUM | PKTIO_CAP_RX_CKSUM);
    fx_open(&f, 5000); /* t_pop_tcp checks both checksums of every segment */
    uint8_t data[5000];
    memset(data, 3, sizeof(data));
    assert_int_equal(net_write(f.s, data, sizeof(data)), 5000);
    net_flush(f.e.st, f.e.now);
    struct t_out o;
    unsigned n = 0;
    while (t_pop_tcp(&f.e, &o))
        n++;
    assert_int_equal(n, 4);
    net_abort(f.s);
    fx_teardown(&f);
}

/* PAWS: a segment with an older timestamp is dropped (RFC 7323 §5). */
static void paws(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    f.p.tsval = 2000;
    t_peer_send(&f.p, T_ACK, "new", 3);
    t_poll(&f.e);
    assert_int_equal(net_sock_readable(f.s), 3);
    f.p.tsval = 1500;
    t_peer_send(&f.p, T_ACK, "old", 3);
    t_poll(&f.e);
    assert_int_equal(net_sock_readable(f.s), 3);
    assert_int_equal(ctr(&f)->tcp_drop_paws, 1);
    struct t_out o;
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.ack, f.p.seq - 3);
    assert_int_equal(o.tsecr, 2000);
    /* timestamps compare modulo 2^32 too */
    f.p.seq -= 3;
    f.p.tsval = 0x80000000u + 1000;
    t_peer_send(&f.p, T_ACK, "w1", 2);
    f.p.tsval = 5; /* wrapped past 2^32: newer */
    t_peer_send(&f.p, T_ACK, "w2", 2);
    t_poll(&f.e);
    assert_int_equal(net_sock_readable(f.s), 7);
    assert_int_equal(ctr(&f)->tcp_drop_paws, 1);
    t_drain(&f.e);
    net_abort(f.s);
    fx_teardown(&f);
}

/* ---------------------------------------------------------------------------
 * Two stacks on a pumped wire
 * ------------------------------------------------------------------------ */

struct pair {
    struct t_env a, b; /* a listens, b connects */
    struct net_sock *ls;
};

static uint32_t isn_near_wrap(void *arg, const struct net_endpoint *l, const struct net_endpoint *r)
{
    (void)l;
    (void)r;
    return *(uint32_t *)arg;
}

static void pair_setup(struct pair *pr, const struct net_params *p, uint32_t *isn_a,
                       uint32_t *isn_b, uint32_t ts_a)
{
    memset(pr, 0, sizeof(*pr));
    struct net_stack_config ca = { .seed = 11, .params = p, .ts_offset = ts_a };
    if (isn_a) {
        ca.isn = isn_near_wrap;
        ca.isn_arg = isn_a;
    }
    t_env_init_as(&pr->a, &ca, 0, T_MAC, T_IP);
    struct net_stack_config cb = { .seed = 12, .params = p };
    if (isn_b) {
        cb.isn = isn_near_wrap;
        cb.isn_arg = isn_b;
    }
    t_env_init_as(&pr->b, &cb, 0, PEER_MAC, PEER_IP);
    pr->b.now = pr->a.now;
    assert_int_equal(net_listen(pr->a.st, 0, PORT, 64, NULL, &pr->ls), 0);
}

static void pair_step(struct pair *pr, t_filter_fn f, void *arg)
{
    pr->a.now += MS;
    pr->b.now = pr->a.now;
    net_poll(pr->a.st, pr->a.now);
    net_poll(pr->b.st, pr->b.now);
    t_pump(&pr->a, &pr->b, f, arg);
}

static void pair_teardown(struct pair *pr)
{
    t_env_fini(&pr->a);
    t_env_fini(&pr->b);
}

/* Transfer `bytes` each way; returns the steps (ms of fake time) it took. */
static unsigned pair_transfer(struct pair *pr, uint64_t bytes, t_filter_fn f, void *arg,
                              unsigned max_steps)
{
    struct net_sock *cs;
    assert_int_equal(net_connect(pr->b.st, T_IP, PORT, 0, NULL, &cs), 0);
    struct net_sock *as = NULL;
    unsigned steps = 0;
    while (as == NULL && steps++ < 5000) {
        pair_step(pr, f, arg);
        as = net_accept(pr->ls, NULL);
    }
    assert_non_null(as);
    struct t_xfer xa = { .s = as, .total = bytes, .out_seed = 1, .in_seed = 2 };
    struct t_xfer xb = { .s = cs, .total = bytes, .out_seed = 2, .in_seed = 1 };
    while (!(xa.eof && xb.eof) && steps++ < max_steps) {
        t_xfer_step(&xa);
        t_xfer_step(&xb);
        net_flush(pr->a.st, pr->a.now);
        net_flush(pr->b.st, pr->b.now);
        pair_step(pr, f, arg);
    }
    assert_int_equal(xa.rcvd, bytes);
    assert_int_equal(xb.rcvd, bytes);
    assert_true(xa.eof && xb.eof);
    net_close(as);
    net_close(cs);
    for (int i = 0; i < 100; i++)
        pair_step(pr, f, arg);
    return steps;
}

/* Both ISNs just below 2^32 and timestamps about to wrap: 3 MB each way across the wrap. */
static void transfer_across_wrap(void **state)
{
    (void)state;
    struct pair pr;
    uint32_t isn_a = 0xffffffffu - 70000, isn_b = 0xffffffffu - 5;
    /* TSval = now_ms + offset: 50 ms before its wrap when the transfer starts */
    pair_setup(&pr, NULL, &isn_a, &isn_b, 0xffffffffu - 50 - 1000000 + 1);
    pair_transfer(&pr, 3u << 20, NULL, NULL, 100000);
    const struct net_counters *ca = net_stack_counters(pr.a.st);
    assert_int_equal(ca->tcp_bytes_in, 3u << 20);
    assert_int_equal(ca->tcp_retrans_segs, 0);
    assert_int_equal(ca->tcp_drop_paws, 0);
    assert_int_equal(info_of(pr.a.st).conns, 0);
    assert_int_equal(info_of(pr.b.st).conns, 0);
    /* both ends shut down in the same pass: a simultaneous close, TIME_WAIT on both */
    assert_int_equal(info_of(pr.a.st).time_wait, 1);
    assert_int_equal(info_of(pr.b.st).time_wait, 1);
    pair_teardown(&pr);
}

struct drop_every {
    unsigned n, every, dropped;
};

static bool drop_data(void *arg, int dir, struct t_out *o)
{
    struct drop_every *d = arg;
    (void)dir;
    if (o->type != 0x0800 || o->dlen == 0)
        return true;
    if (++d->n % d->every == 0) {
        d->dropped++;
        return false;
    }
    return true;
}

/* Every 13th data segment lost: fast retransmit and timeouts recover, data intact. */
static void transfer_with_loss(void **state)
{
    (void)state;
    struct pair pr;
    pair_setup(&pr, NULL, NULL, NULL, 0);
    struct drop_every d = { .every = 13 };
    pair_transfer(&pr, 1u << 20, drop_data, &d, 200000);
    assert_true(d.dropped > 50);
    const struct net_counters *ca = net_stack_counters(pr.a.st), *cb = net_stack_counters(pr.b.st);
    assert_true(ca->tcp_retrans_fast + cb->tcp_retrans_fast > 0);
    assert_true(ca->tcp_retrans_segs + cb->tcp_retrans_segs >= d.dropped);
    assert_true(ca->tcp_ooo_segs + cb->tcp_ooo_segs > 0);
    pair_teardown(&pr);
}

/* Everything lost for a while: RTO back-off, then recovery when the link returns. */
static bool blackout(void *arg, int dir, struct t_out *o)
{
    (void)dir;
    (void)o;
    return !*(bool *)arg;
}

static void transfer_through_blackout(void **state)
{
    (void)state;
    struct pair pr;
    pair_setup(&pr, NULL, NULL, NULL, 0);
    bool dark = false;
    struct net_sock *cs;
    assert_int_equal(net_connect(pr.b.st, T_IP, PORT, 0, NULL, &cs), 0);
    struct net_sock *as = NULL;
    for (int i = 0; i < 100 && as == NULL; i++) {
        pair_step(&pr, blackout, &dark);
        as = net_accept(pr.ls, NULL);
    }
    assert_non_null(as);
    struct t_xfer xb = { .s = cs, .total = 200000, .out_seed = 5, .in_seed = 6 };
    struct t_xfer xa = { .s = as, .total = 0, .out_seed = 6, .in_seed = 5 };
    for (int i = 0; i < 3; i++) {
        t_xfer_step(&xb);
        pair_step(&pr, blackout, &dark);
    }
    dark = true;
    for (int i = 0; i < 3000; i++) {
        t_xfer_step(&xb);
        pair_step(&pr, blackout, &dark);
    }
    assert_true(net_stack_counters(pr.b.st)->tcp_retrans_timeout >= 3);
    dark = false;
    for (int i = 0; i < 20000 && !(xa.eof && xb.eof); i++) {
        t_xfer_step(&xa);
        t_xfer_step(&xb);
        pair_step(&pr, blackout, &dark);
    }
    assert_int_equal(xa.rcvd, 200000);
    assert_true(xa.eof);
    net_close(as);
    net_close(cs);
    for (int i = 0; i < 100; i++)
        pair_step(&pr, blackout, &dark);
    pair_teardown(&pr);
}

/* With RSS configured, outgoing connections pick ports whose replies hash to our queue. */
static void connect_ports_follow_rss(void **state)
{
    (void)state;
    struct rss_conf rc;
    assert_int_equal(rss_conf_init(&rc, NULL, 4, 128), 0);
    struct t_env e;
    struct net_stack_config cfg = { .seed = 3, .rss = &rc, .rss_queue = 2 };
    t_env_init_cfg(&e, &cfg, 0);
    for (int i = 0; i < 20; i++) {
        struct net_sock *s;
        assert_int_equal(net_connect(e.st, PEER_IP, 6380, 0, NULL, &s), 0);
        struct net_endpoint l;
        net_sock_local(s, &l);
        assert_int_equal(rss_flow_queue(&rc, PEER_IP, T_IP, 6380, l.port), 2);
    }
    t_env_fini(&e);
}

/* RST in FIN_WAIT_2 and CLOSING; FIN riding on the handshake's ACK (SYN_RCVD). */
static void more_states(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    struct t_out o;
    /* FIN_WAIT_2 */
    fx_open(&f, 5000);
    net_shutdown(f.s, NET_SHUT_WR);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    f.p.ack = o.seq + 1;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_state(f.s), NET_TCP_FIN_WAIT_2);
    t_peer_raw(&f.p, f.p.seq, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_error(f.s), ECONNRESET);
    net_close(f.s);
    /* CLOSING: a RST ends it quietly (no error counted as a reset by the peer) */
    f.p.port++;
    fx_open(&f, 6000);
    net_shutdown(f.s, NET_SHUT_WR);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    t_peer_send(&f.p, T_ACK | T_FIN, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_state(f.s), NET_TCP_CLOSING);
    uint64_t resets = ctr(&f)->tcp_conn_reset;
    t_peer_raw(&f.p, f.p.seq, 0, T_RST, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_state(f.s), NET_TCP_CLOSED);
    assert_int_equal(ctr(&f)->tcp_conn_reset, resets);
    net_close(f.s);
    t_drain(&f.e);
    /* the third handshake segment carries data and FIN */
    memset(&f.p, 0, sizeof(f.p));
    f.p.e = &f.e;
    f.p.port = 43000;
    f.p.sport = PORT;
    f.p.seq = 1;
    f.p.wnd = 65535;
    f.p.wscale = -1;
    t_peer_send(&f.p, T_SYN, NULL, 0);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    f.p.ack = o.seq + 1;
    t_peer_send(&f.p, T_ACK | T_FIN, "q", 1);
    t_poll(&f.e);
    struct net_sock *s = net_accept(f.ls, NULL);
    assert_non_null(s);
    assert_int_equal(net_sock_state(s), NET_TCP_CLOSE_WAIT);
    uint32_t ev = events_of(f.e.st, s);
    assert_true((ev & (NET_EV_READ | NET_EV_HUP)) == (NET_EV_READ | NET_EV_HUP));
    char b[4];
    assert_int_equal(net_read(s, b, 4), 1);
    assert_int_equal(net_read(s, b, 4), 0);
    net_close(s);
    fx_teardown(&f);
}

/*
 * SYN options cut short at every byte offset: k NOPs shift the option block,
 * the data offset ends it on a 4-byte boundary, so every option is cut at
 * every position once; only options that are whole may count.
 */
static void syn_options_every_cut(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    const uint8_t full[20] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0 };
    uint16_t port = 20000;
    for (size_t k = 0; k < 4; k++) {
        for (size_t cut = 0; cut <= 24; cut += 4, port++) {
            uint8_t opts[24] = { 0 };
            memset(opts, 1, k);
            memcpy(opts + k, full, MIN(sizeof(full), sizeof(opts) - k));
            bool mss = k + 4 <= cut, ws = k + 8 <= cut, ts = k + 20 <= cut;
            struct t_frame fr;
            struct t_tcp s = { .src = PEER_IP,
                               .dst = T_IP,
                               .sport = port,
                               .dport = PORT,
                               .seq = 100,
                               .flags = T_SYN,
                               .wnd = 1000,
                               .rawopts = opts,
                               .rawlen = cut };
            t_build_tcp(&fr, &s);
            t_inject(&f.e, &fr);
            t_poll(&f.e);
            struct t_out o;
            assert_true(t_pop_tcp(&f.e, &o));
            assert_int_equal(o.flags, T_SYN | T_ACK);
            assert_int_equal(o.wscale >= 0, ws);
            assert_int_equal(o.ts, ts);
            if (ts)
                assert_int_equal(o.tsecr, 9);
            struct t_peer p = {
                .e = &f.e, .port = port, .sport = PORT, .wnd = 1000, .ts = ts, .tsval = 10
            };
            t_peer_raw(&p, 101, o.seq + 1, T_ACK, NULL, 0);
            t_poll(&f.e);
            struct net_sock *a = net_accept(f.ls, NULL);
            assert_non_null(a);
            char big[3000];
            memset(big, 1, sizeof(big));
            assert_true(net_write(a, big, sizeof(big)) > 0);
            net_flush(f.e.st, f.e.now);
            assert_true(t_pop_tcp(&f.e, &o));
            size_t want = (mss ? 1460 : 536) - (ts ? 12 : 0);
            if (!ws)
                want = MIN(want, (size_t)1000); /* the unscaled window */
            assert_int_equal(o.dlen, want);
            net_abort(a);
            t_poll(&f.e);
            t_drain(&f.e);
        }
    }
    fx_teardown(&f);
}

/* Events come out oldest first, as many as asked for; rearm reports what is still there. */
static void events_in_order_and_rearm(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    struct t_peer p1 = f.p;
    struct net_sock *s1 = f.s;
    int u1, u2;
    net_sock_set_user(s1, &u1);
    f.p.port++;
    fx_open(&f, 9000);
    struct net_sock *s2 = f.s;
    net_sock_set_user(s2, &u2);
    t_peer_send(&f.p, T_ACK, "two", 3);
    t_peer_send(&p1, T_ACK, "one!", 4);
    t_poll(&f.e);
    struct net_event ev[4];
    assert_int_equal(net_events(f.e.st, ev, 1), 1);
    assert_ptr_equal(ev[0].sock, s2);
    assert_ptr_equal(ev[0].user, &u2);
    assert_int_equal(ev[0].events, NET_EV_READ);
    assert_int_equal(net_events(f.e.st, ev, 4), 1);
    assert_ptr_equal(ev[0].sock, s1);
    assert_ptr_equal(ev[0].user, &u1);
    assert_ptr_equal(net_sock_user(s1), &u1);
    assert_int_equal(net_events(f.e.st, ev, 4), 0);
    char b[8];
    assert_int_equal(net_read(s1, b, 2), 2);
    net_sock_rearm(s1); /* two bytes left */
    net_sock_rearm(s2);
    assert_int_equal(net_events(f.e.st, ev, 4), 2);
    for (int i = 0; i < 2; i++)
        assert_true(ev[i].events & NET_EV_READ);
    /* a closed socket is never reported */
    t_peer_send(&p1, T_ACK, "x", 1);
    t_poll(&f.e);
    net_abort(s1);
    assert_int_equal(net_events(f.e.st, ev, 4), 0);
    t_drain(&f.e);
    net_abort(s2);
    fx_teardown(&f);
}

/*
 * A second local address: a listener on every address answers from the one
 * the SYN was sent to. Closing a listener resets what waits in its queues.
 * NET_SHUT_RD: later bytes are acknowledged and dropped.
 */
static void second_address_and_listener_close(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    const uint32_t vip = NET_IP(10, 0, 0, 100);
    assert_int_equal(net_addr_add(f.e.st, vip, 24), 0);
    t_poll(&f.e);
    t_drain(&f.e);
    struct t_frame fr;
    struct t_tcp s = { .src = PEER_IP,
                       .dst = vip,
                       .sport = 33000,
                       .dport = PORT,
                       .seq = 10,
                       .flags = T_SYN,
                       .wnd = 1000,
                       .mss = -1,
                       .wscale = -1 };
    t_build_tcp(&fr, &s);
    t_inject(&f.e, &fr);
    t_poll(&f.e);
    struct t_out o;
    assert_true(t_pop_tcp(&f.e, &o));
    assert_int_equal(o.flags, T_SYN | T_ACK);
    assert_int_equal(o.src, vip);
    s.seq = 11;
    s.ack = o.seq + 1;
    s.flags = T_ACK;
    t_build_tcp(&fr, &s);
    t_inject(&f.e, &fr);
    s.sport = 33001; /* and one left half-open */
    s.seq = 50;
    s.ack = 0;
    s.flags = T_SYN;
    t_build_tcp(&fr, &s);
    t_inject(&f.e, &fr);
    t_poll(&f.e);
    t_drain(&f.e);
    assert_int_equal(info_of(f.e.st).conns, 2);
    net_close(f.ls);
    t_poll(&f.e);
    unsigned rst = 0;
    while (t_pop_tcp(&f.e, &o))
        rst += (o.flags & T_RST) && o.dport == 33000;
    assert_int_equal(rst, 1);
    assert_int_equal(info_of(f.e.st).conns, 0);
    assert_int_equal(info_of(f.e.st).listeners, 0);

    assert_int_equal(net_listen(f.e.st, 0, PORT, 4, NULL, &f.ls), 0);
    fx_open(&f, 5000);
    assert_int_equal(net_shutdown(f.s, NET_SHUT_RD), 0);
    t_peer_send(&f.p, T_ACK, "ignored", 7);
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.ack, f.p.seq);
    char b[8];
    assert_int_equal(net_read(f.s, b, 8), 0);
    assert_int_equal(net_write(f.s, "still", 5), 5); /* writing still works */
    net_close(f.s);                                  /* nothing unread: a FIN, not a RST */
    t_poll(&f.e);
    t_peer_expect(&f.p, &o);
    assert_true(o.flags & T_FIN);
    assert_false(o.flags & T_RST);
    fx_teardown(&f);
}

/* The TIME_WAIT table is bounded: past its size the oldest entry goes early. */
static void time_wait_table_bounded(void **state)
{
    (void)state;
    struct net_params p;
    param_defaults(net_param_defs, &p);
    p.time_wait_max = 2;
    struct fx f;
    fx_setup(&f, &p, 0);
    for (uint16_t port = 41000; port < 41003; port++) {
        f.p.port = port;
        fx_open(&f, 5000);
        struct t_out o;
        fx_close(&f, &o);
        f.p.ack = o.seq + 1;
        t_peer_send(&f.p, T_ACK | T_FIN, NULL, 0);
        t_poll(&f.e);
        t_drain(&f.e);
    }
    assert_int_equal(ctr(&f)->tcp_time_wait, 3);
    assert_int_equal(ctr(&f)->tcp_time_wait_evicted, 1);
    assert_int_equal(info_of(f.e.st).time_wait, 2);
    assert_int_equal(info_of(f.e.st).conns, 0);
    fx_teardown(&f);
}

/* After a timeout rewinds SND.NXT, pure ACKs still carry SND.MAX (or the peer drops them). */
static void ack_after_timeout_carries_snd_max(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    uint8_t data[3000];
    memset(data, 7, sizeof(data));
    uint32_t seq0 = f.p.ack;
    assert_int_equal(net_write(f.s, data, sizeof(data)), 3000);
    t_poll(&f.e);
    t_drain(&f.e); /* all three segments lost */
    t_advance(&f.e, 201 * MS);
    struct t_out o;
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.seq, seq0); /* go-back-N from SND.UNA */
    assert_int_equal(o.dlen, 1448);
    t_peer_raw(&f.p, f.p.seq, seq0, T_ACK, "req", 3); /* data, acknowledging nothing new */
    f.p.seq += 3;
    t_poll(&f.e);
    t_advance(&f.e, 41 * MS);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.dlen, 0);
    assert_int_equal(o.ack, f.p.seq);
    assert_int_equal(o.seq, seq0 + 3000);
    t_drain(&f.e);
    net_abort(f.s);
    fx_teardown(&f);
}

/* A timeout resends a whole MSS past a small window; its ACK must be accepted. */
static void timeout_past_window(void **state)
{
    (void)state;
    struct fx f;
    fx_setup(&f, NULL, 0);
    fx_open(&f, 5000);
    f.p.wscale = -1;
    f.p.wnd = 1000 >> 7; /* the peer scales by 7: about 1000 bytes */
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    uint8_t data[3000];
    memset(data, 5, sizeof(data));
    uint32_t seq0 = f.p.ack;
    assert_int_equal(net_write(f.s, data, sizeof(data)), 3000);
    t_poll(&f.e);
    struct t_out o;
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.dlen, 896); /* 7 << 7 */
    assert_false(t_pop_tcp(&f.e, &o));
    t_advance(&f.e, 201 * MS);
    t_peer_expect(&f.p, &o);
    assert_int_equal(o.seq, seq0);
    assert_int_equal(o.dlen, 1448);
    f.p.ack = seq0 + 1448;
    f.p.wnd = 65535;
    t_peer_send(&f.p, T_ACK, NULL, 0);
    t_poll(&f.e);
    assert_int_equal(net_sock_unacked(f.s), 3000 - 1448);
    assert_int_equal(ctr(&f)->tcp_drop_bad_ack, 0);
    t_drain(&f.e);
    net_abort(f.s);
    fx_teardown(&f);
}

/*
 * Connection churn: 3000 short connections, one after the other (connect,
 * request, reply, both close), alternating which end closes first. Ports,
 * blocks and TIME_WAIT entries are reused; nothing leaks.
 */
static ssize_t read_soon(struct pair *pr, struct net_sock *s, char *b, size_t n)
{
    ssize_t r = -EAGAIN;
    for (int k = 0; k < 10 && r == -EAGAIN; k++) {
        pair_step(pr, NULL, NULL);
        r = net_read(s, b, n);
    }
    return r;
}

static void connection_churn(void **state)
{
    (void)state;
    struct net_params p;
    param_defaults(net_param_defs, &p);
    p.time_wait_max = 512;
    struct pair pr;
    pair_setup(&pr, &p, NULL, NULL, 0);
    for (unsigned i = 0; i < 3000; i++) {
        struct net_sock *cs, *as = NULL;
        assert_int_equal(net_connect(pr.b.st, T_IP, PORT, 0, NULL, &cs), 0);
        for (int k = 0; k < 10 && as == NULL; k++) {
            pair_step(&pr, NULL, NULL);
            as = net_accept(pr.ls, NULL);
        }
        assert_non_null(as);
        assert_int_equal(net_write(cs, "ping", 4), 4);
        char b[8];
        assert_int_equal(read_soon(&pr, as, b, 8), 4);
        assert_int_equal(net_write(as, "pong", 4), 4);
        assert_int_equal(read_soon(&pr, cs, b, 8), 4);
        assert_memory_equal(b, "pong", 4);
        if (i % 2) {
            net_close(as);
            for (int k = 0; k < 3; k++)
                pair_step(&pr, NULL, NULL);
            assert_int_equal(net_read(cs, b, 8), 0); /* the FIN came first */
            net_close(cs);
        } else {
            net_close(cs);
            for (int k = 0; k < 3; k++)
                pair_step(&pr, NULL, NULL);
            assert_int_equal(net_read(as, b, 8), 0);
            net_close(as);
        }
        for (int k = 0; k < 3; k++)
            pair_step(&pr, NULL, NULL);
    }
    assert_int_equal(info_of(pr.a.st).conns, 0);
    assert_int_equal(info_of(pr.b.st).conns, 0);
    assert_int_equal(info_of(pr.a.st).time_wait + info_of(pr.b.st).time_wait, 2 * 512);
    const struct net_counters *ca = net_stack_counters(pr.a.st), *cb = net_stack_counters(pr.b.st);
    assert_int_equal(ca->tcp_accepted, 3000);
    assert_int_equal(cb->tcp_established, 3000);
    assert_int_equal(ca->tcp_rst_out + cb->tcp_rst_out, 0);
    assert_int_equal(ca->tcp_time_wait + cb->tcp_time_wait, 3000);
    pair_teardown(&pr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(passive_handshake),
        cmocka_unit_test(receive_in_order),
        cmocka_unit_test(receive_out_of_order),
        cmocka_unit_test(reassembly_queue_bounded),
        cmocka_unit_test(send_and_ack),
        cmocka_unit_test(rto_backoff),
        cmocka_unit_test(retransmission_limit),
        cmocka_unit_test(fast_retransmit),
        cmocka_unit_test(passive_close),
        cmocka_unit_test(active_close_time_wait),
        cmocka_unit_test(time_wait_reuse),
        cmocka_unit_test(simultaneous_close),
        cmocka_unit_test(fin_wait_2_timeout),
        cmocka_unit_test(close_resets),
        cmocka_unit_test(rst_handling),
        cmocka_unit_test(active_open),
        cmocka_unit_test(connect_refused_and_errors),
        cmocka_unit_test(simultaneous_open),
        cmocka_unit_test(zero_window_probe),
        cmocka_unit_test(receive_window_fills),
        cmocka_unit_test(keepalive),
        cmocka_unit_test(backlog_full),
        cmocka_unit_test(syn_flood),
        cmocka_unit_test(syn_hook),
        cmocka_unit_test(syn_cookies_flood),
        cmocka_unit_test(syn_cookie_without_timestamps),
        cmocka_unit_test(syn_cookie_forged_ack),
        cmocka_unit_test(stray_ack_without_cookies),
        cmocka_unit_test(no_listener_and_limits),
        cmocka_unit_test(tcp_checksums),
        cmocka_unit_test(tx_offload),
        cmocka_unit_test(paws),
        cmocka_unit_test(transfer_across_wrap),
        cmocka_unit_test(transfer_with_loss),
        cmocka_unit_test(transfer_through_blackout),
        cmocka_unit_test(connect_ports_follow_rss),
        cmocka_unit_test(more_states),
        cmocka_unit_test(syn_options_every_cut),
        cmocka_unit_test(events_in_order_and_rearm),
        cmocka_unit_test(second_address_and_listener_close),
        cmocka_unit_test(time_wait_table_bounded),
        cmocka_unit_test(ack_after_timeout_carries_snd_max),
        cmocka_unit_test(timeout_past_window),
        cmocka_unit_test(connection_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
