/*
 * The fault-injecting pktio, and two stacks exchanging megabytes through it
 * with 1% of frames dropped, duplicated, reordered and corrupted.
 */
#include "tests/unit/net_test.h"

#include "net/cksum.h"

#define NFRAMES 2000

/* A device pair: frames sent through the wrapper on `a` arrive on `b`. */
struct rig {
    struct pktio_mem *a, *b;
    struct pktio_fault *f;
};

static void rig_setup(struct rig *r, const struct pktio_fault_config *cfg, uint32_t caps)
{
    struct pktio_mem_config ca = { .caps = caps, .nbufs = 8192, .qlen = 8192 };
    memcpy(ca.mac, T_MAC, 6);
    struct pktio_mem_config cb = ca;
    memcpy(cb.mac, PEER_MAC, 6);
    r->a = pktio_mem_create(&ca);
    r->b = pktio_mem_create(&cb);
    pktio_mem_link(r->a, r->b);
    r->f = pktio_fault_create(pktio_mem_io(r->a), cfg);
}

static void rig_teardown(struct rig *r)
{
    pktio_fault_destroy(r->f);
    struct net_buf *bufs[64];
    unsigned n;
    while ((n = pktio_rx_burst(pktio_mem_io(r->b), bufs, 64)) > 0)
        for (unsigned i = 0; i < n; i++)
            pktio_free(pktio_mem_io(r->b), bufs[i]);
    assert_int_equal(pktio_mem_free_bufs(r->a), 8192);
    assert_int_equal(pktio_mem_free_bufs(r->b), 8192);
    pktio_mem_destroy(r->a);
    pktio_mem_destroy(r->b);
}

/* A TCP frame carrying its index, with correct checksums. */
static void make_frame(struct net_buf *b, uint32_t idx)
{
    struct t_frame fr;
    uint8_t payload[64];
    memset(payload, (int)idx, sizeof(payload));
    t_wr32(payload, idx);
    struct t_tcp s = { .src = T_IP,
                       .dst = PEER_IP,
                       .sport = 1,
                       .dport = 2,
                       .seq = idx,
                       .flags = T_ACK,
                       .mss = -1,
                       .wscale = -1,
                       .data = payload,
                       .len = 64 };
    t_build_tcp(&fr, &s);
    memcpy(b->data, fr.b, fr.len);
    b->len = (uint32_t)fr.len;
}

/* A frame from make_frame still intact: header fields as built, both checksums right. */
static bool frame_ok(const struct net_buf *b)
{
    struct t_out o;
    t_parse(&o, b->data, b->len);
    const uint8_t *ip = b->data + 14;
    return ip[0] == 0x45 && t_rd16(ip + 2) == 104 && o.ip_ok && o.proto == 6 && o.tcp_ok;
}

/* Send NFRAMES one at a time through the wrapper; collect what arrives on b. */
static unsigned run(struct rig *r, uint32_t *got, bool *bad)
{
    struct pktio *io = pktio_fault_io(r->f);
    unsigned n = 0;
    for (uint32_t i = 0; i <= NFRAMES; i++) {
        if (i < NFRAMES) {
            struct net_buf *b = pktio_alloc(io);
            assert_non_null(b);
            make_frame(b, i);
            assert_int_equal(pktio_tx_burst(io, &b, 1), 1);
        } else {
            struct net_buf *none[1];
            pktio_rx_burst(io, none, 0); /* releases held transmit frames */
        }
        struct net_buf *in[64];
        unsigned k;
        while ((k = pktio_rx_burst(pktio_mem_io(r->b), in, 64)) > 0) {
            for (unsigned j = 0; j < k; j++) {
                bad[n] = !frame_ok(in[j]);
                got[n++] = t_rd32(in[j]->data + 54);
                pktio_free(pktio_mem_io(r->b), in[j]);
            }
        }
    }
    return n;
}

static void drops_duplicates_reorders(void **state)
{
    (void)state;
    static uint32_t got[3 * NFRAMES];
    static bool bad[3 * NFRAMES];
    struct rig r;
    struct pktio_fault_config cfg = { .seed = 99 };
    cfg.tx.drop_ppm = 100000;
    rig_setup(&r, &cfg, 0);
    unsigned n = run(&r, got, bad);
    struct pktio_fault_stats tx;
    pktio_fault_stats(r.f, NULL, &tx);
    assert_int_equal(tx.frames, NFRAMES);
    assert_int_equal(n, NFRAMES - tx.dropped);
    assert_true(tx.dropped > 120 && tx.dropped < 280); /* about 10% */
    for (unsigned i = 1; i < n; i++)
        assert_true(got[i] > got[i - 1]); /* no reordering asked for */
    rig_teardown(&r);

    memset(&cfg, 0, sizeof(cfg));
    cfg.seed = 5;
    cfg.tx.dup_ppm = 200000;
    cfg.tx.reorder_ppm = 200000;
    rig_setup(&r, &cfg, 0);
    n = run(&r, got, bad);
    pktio_fault_stats(r.f, NULL, &tx);
    assert_int_equal(n, NFRAMES + tx.duplicated);
    assert_true(tx.duplicated > 300 && tx.reordered > 300);
    static unsigned seen[NFRAMES];
    memset(seen, 0, sizeof(seen));
    unsigned inversions = 0;
    for (unsigned i = 0; i < n; i++) {
        assert_true(got[i] < NFRAMES);
        seen[got[i]]++;
        assert_false(bad[i]);
        if (i > 0 && got[i] < got[i - 1])
            inversions++;
    }
    for (unsigned i = 0; i < NFRAMES; i++)
        assert_true(seen[i] == 1 || seen[i] == 2); /* nothing lost */
    assert_true(inversions > 100);
    rig_teardown(&r);
}

static void corrupts_detectably(void **state)
{
    (void)state;
    static uint32_t got[NFRAMES];
    static bool bad[NFRAMES];
    /* software checksums, and checksums a device would have filled (TX offload) */
    for (int offload = 0; offload < 2; offload++) {
        struct rig r;
        struct pktio_fault_config cfg = { .seed = 3 };
        cfg.tx.corrupt_ppm = 300000;
        rig_setup(&r, &cfg, offload ? PKTIO_CAP_TX_TCP_CKSUM | PKTIO_CAP_TX_IPV4_CKSUM : 0);
        struct pktio *io = pktio_fault_io(r.f);
        unsigned nbad = 0;
        for (uint32_t i = 0; i < NFRAMES; i++) {
            struct net_buf *b = pktio_alloc(io);
            make_frame(b, i);
            if (offload) {
                /* what the stack leaves for the device: pseudo-header sum, flags */
                uint8_t *ip = b->data + 14, *th = ip + 20;
                t_wr16(ip + 10, 0);
                cksum_store(th + 16, cksum_fold(cksum_pseudo(T_IP, PEER_IP, 6, 84)));
                b->flags = NET_BUF_TX_IP_CKSUM | NET_BUF_TX_TCP_CKSUM;
            }
            pktio_tx_burst(io, &b, 1);
            struct net_buf *in;
            assert_int_equal(pktio_rx_burst(pktio_mem_io(r.b), &in, 1), 1);
            nbad += !frame_ok(in);
            pktio_free(pktio_mem_io(r.b), in);
        }
        struct pktio_fault_stats tx;
        pktio_fault_stats(r.f, NULL, &tx);
        assert_true(tx.corrupted > 450);
        assert_int_equal(nbad, tx.corrupted); /* every flipped bit is caught */
        rig_teardown(&r);
    }
    (void)got;
    (void)bad;
}

/* The same seed gives the same faults. */
static void deterministic(void **state)
{
    (void)state;
    static uint32_t g1[3 * NFRAMES], g2[3 * NFRAMES];
    static bool b1[3 * NFRAMES], b2[3 * NFRAMES];
    struct pktio_fault_config cfg = { .seed = 77 };
    cfg.tx.drop_ppm = cfg.tx.dup_ppm = cfg.tx.reorder_ppm = cfg.tx.corrupt_ppm = 50000;
    struct rig r;
    rig_setup(&r, &cfg, 0);
    unsigned n1 = run(&r, g1, b1);
    rig_teardown(&r);
    rig_setup(&r, &cfg, 0);
    unsigned n2 = run(&r, g2, b2);
    rig_teardown(&r);
    assert_int_equal(n1, n2);
    assert_memory_equal(g1, g2, n1 * sizeof(g1[0]));
    assert_memory_equal(b1, b2, n1 * sizeof(b1[0]));
}

/* Receive-side faults too: frames injected on the inner device come out changed. */
static void receive_direction(void **state)
{
    (void)state;
    struct rig r;
    struct pktio_fault_config cfg = { .seed = 8 };
    cfg.rx.drop_ppm = 500000;
    rig_setup(&r, &cfg, 0);
    struct pktio_fault *fb = pktio_fault_create(pktio_mem_io(r.b), &cfg);
    for (uint32_t i = 0; i < 1000; i++) {
        struct net_buf *b = pktio_alloc(pktio_mem_io(r.a));
        make_frame(b, i);
        pktio_tx_burst(pktio_mem_io(r.a), &b, 1);
    }
    unsigned n = 0, k;
    struct net_buf *in[32];
    while ((k = pktio_rx_burst(pktio_fault_io(fb), in, 32)) > 0) {
        for (unsigned j = 0; j < k; j++)
            pktio_free(pktio_fault_io(fb), in[j]);
        n += k;
    }
    struct pktio_fault_stats rx;
    pktio_fault_stats(fb, &rx, NULL);
    assert_int_equal(rx.frames, 1000);
    assert_int_equal(n, 1000 - rx.dropped);
    assert_true(rx.dropped > 400 && rx.dropped < 600);
    pktio_fault_destroy(fb);
    rig_teardown(&r);
}

/*
 * End to end: two stacks joined by a wire whose one end drops, duplicates,
 * reorders and corrupts `ppm` of the frames each way; `total` bytes each way,
 * byte for byte.
 */
static void through_faults(uint32_t ppm, uint64_t total, uint64_t seed, uint32_t bufsize)
{
    /* a's device offloads checksums (the wrapper must not hide damage behind them); b's does not */
    struct pktio_mem_config ca = { .nbufs = 8192,
                                   .qlen = 8192,
                                   .caps = PKTIO_CAP_TX_IPV4_CKSUM | PKTIO_CAP_TX_TCP_CKSUM |
                                           PKTIO_CAP_RX_CKSUM };
    memcpy(ca.mac, T_MAC, 6);
    struct pktio_mem_config cb = ca;
    cb.caps = 0;
    memcpy(cb.mac, PEER_MAC, 6);
    struct pktio_mem *ma = pktio_mem_create(&ca), *mb = pktio_mem_create(&cb);
    pktio_mem_link(ma, mb);
    struct pktio_fault_rates one = { ppm, ppm, ppm, ppm };
    struct pktio_fault_config fc = { .rx = one, .tx = one, .seed = seed };
    struct pktio_fault *f = pktio_fault_create(pktio_mem_io(ma), &fc);

    uint64_t now = 5000 * SEC;
    struct net_params np;
    param_defaults(net_param_defs, &np);
    if (bufsize) {
        np.sndbuf = np.rcvbuf = bufsize;
        np.ooo_max = 2;
    }
    struct net_stack_config sa = {
        .io = pktio_fault_io(f), .now_ns = now, .seed = 1, .params = &np
    };
    struct net_stack_config sb = {
        .io = pktio_mem_io(mb), .now_ns = now, .seed = 2, .params = &np
    };
    struct net_stack *a = net_stack_create(&sa), *b = net_stack_create(&sb);
    assert_int_equal(net_addr_add(a, T_IP, 24), 0);
    assert_int_equal(net_addr_add(b, PEER_IP, 24), 0);
    struct net_sock *ls, *cs, *as = NULL;
    assert_int_equal(net_listen(a, 0, 7001, 8, NULL, &ls), 0);
    assert_int_equal(net_connect(b, T_IP, 7001, 0, NULL, &cs), 0);
    struct t_xfer xa = { .total = total, .out_seed = 3, .in_seed = 4 };
    struct t_xfer xb = { .s = cs, .total = total, .out_seed = 4, .in_seed = 3 };
    unsigned steps = 0;
    while (!(xa.eof && xb.eof) && steps++ < 5000000) {
        now += 100000; /* 0.1 ms a pass */
        net_poll(a, now);
        net_poll(b, now);
        if (as == NULL) {
            as = net_accept(ls, NULL);
            xa.s = as;
        }
        if (as != NULL)
            t_xfer_step(&xa);
        t_xfer_step(&xb);
        net_flush(a, now);
        net_flush(b, now);
    }
    assert_non_null(as);
    assert_int_equal(xa.rcvd, total);
    assert_int_equal(xb.rcvd, total);
    assert_true(xa.eof && xb.eof);

    struct pktio_fault_stats rx, tx;
    pktio_fault_stats(f, &rx, &tx);
    const struct net_counters *c1 = net_stack_counters(a), *c2 = net_stack_counters(b);
    print_message("faults: rx %llu frames (%llu dropped, %llu dup, %llu reordered, %llu corrupt), "
                  "tx %llu frames (%llu/%llu/%llu/%llu); %u passes\n",
                  (unsigned long long)rx.frames, (unsigned long long)rx.dropped,
                  (unsigned long long)rx.duplicated, (unsigned long long)rx.reordered,
                  (unsigned long long)rx.corrupted, (unsigned long long)tx.frames,
                  (unsigned long long)tx.dropped, (unsigned long long)tx.duplicated,
                  (unsigned long long)tx.reordered, (unsigned long long)tx.corrupted, steps);
    assert_true(rx.dropped > 0 && rx.duplicated > 0 && rx.reordered > 0 && rx.corrupted > 0);
    assert_true(tx.dropped > 0 && tx.duplicated > 0 && tx.reordered > 0 && tx.corrupted > 0);
    uint64_t caught = c1->ip_drop_bad_header + c1->ip_drop_bad_cksum + c1->tcp_drop_bad_cksum +
                      c1->tcp_drop_bad_header + c2->ip_drop_bad_header + c2->ip_drop_bad_cksum +
                      c2->tcp_drop_bad_cksum + c2->tcp_drop_bad_header;
    assert_true(caught >= rx.corrupted + tx.corrupted);
    assert_true(c1->tcp_retrans_segs + c2->tcp_retrans_segs > 0);
    assert_true(c1->tcp_dup_segs + c2->tcp_dup_segs > 0);

    net_close(as);
    net_close(cs);
    net_close(ls);
    for (int i = 0; i < 100; i++) {
        now += MS;
        net_poll(a, now);
        net_poll(b, now);
    }
    net_stack_destroy(a);
    net_stack_destroy(b);
    pktio_fault_destroy(f);
    struct net_buf *bufs[64];
    unsigned n;
    while ((n = pktio_rx_burst(pktio_mem_io(ma), bufs, 64)) > 0)
        for (unsigned i = 0; i < n; i++)
            pktio_free(pktio_mem_io(ma), bufs[i]);
    while ((n = pktio_rx_burst(pktio_mem_io(mb), bufs, 64)) > 0)
        for (unsigned i = 0; i < n; i++)
            pktio_free(pktio_mem_io(mb), bufs[i]);
    assert_int_equal(pktio_mem_free_bufs(ma), 8192);
    assert_int_equal(pktio_mem_free_bufs(mb), 8192);
    pktio_mem_destroy(ma);
    pktio_mem_destroy(mb);
}

/* 1% of each fault, 4 MB each way. */
static void two_stacks_through_faults(void **state)
{
    (void)state;
    through_faults(10000, 4u << 20, 2026, 0);
}

/* 5% of each, two seeds: both ends time out and retransmit at once, often. */
static void two_stacks_through_heavy_faults(void **state)
{
    (void)state;
    through_faults(50000, 256u << 10, 1, 0);
    through_faults(50000, 256u << 10, 2, 0);
}

/*
 * 4 KiB buffers and a reassembly queue of two: windows smaller than the
 * congestion window, timeouts that send past the window, zero windows.
 */
static void two_stacks_small_buffers_through_faults(void **state)
{
    (void)state;
    through_faults(30000, 1u << 20, 3, 4096);
}

/* The parameter table sets the wrapper up the way the daemon will. */
static void from_parameters(void **state)
{
    (void)state;
    struct pktio_fault_params p;
    param_defaults(pktio_fault_param_defs, &p);
    struct pktio_fault_config cfg;
    assert_false(pktio_fault_config_from_params(&p, &cfg));
    char err[128];
    const struct param_def *d = param_find(pktio_fault_param_defs, "pollux-net-fault-tx-drop-ppm");
    assert_non_null(d);
    assert_int_equal(param_set(d, &p, "10000", err, sizeof(err)), 0);
    assert_int_not_equal(param_set(d, &p, "1000001", err, sizeof(err)), 0);
    d = param_find(pktio_fault_param_defs, "pollux-net-fault-rx-corrupt-ppm");
    assert_int_equal(param_set(d, &p, "20", err, sizeof(err)), 0);
    assert_true(pktio_fault_config_from_params(&p, &cfg));
    assert_int_equal(cfg.tx.drop_ppm, 10000);
    assert_int_equal(cfg.rx.corrupt_ppm, 20);
    assert_int_equal(cfg.rx.drop_ppm, 0);
    assert_int_equal(cfg.seed, 1);
    /* the stack's own table parses too */
    struct net_params np;
    param_defaults(net_param_defs, &np);
    d = param_find(net_param_defs, "pollux-net-rcvbuf");
    assert_int_equal(param_set(d, &np, "1mb", err, sizeof(err)), 0);
    assert_int_equal(np.rcvbuf, 1 << 20);
    assert_int_equal(np.sndbuf, 65536);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(drops_duplicates_reorders),
        cmocka_unit_test(corrupts_detectably),
        cmocka_unit_test(deterministic),
        cmocka_unit_test(receive_direction),
        cmocka_unit_test(two_stacks_through_faults),
        cmocka_unit_test(two_stacks_through_heavy_faults),
        cmocka_unit_test(two_stacks_small_buffers_through_faults),
        cmocka_unit_test(from_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
