/* Ethernet, ARP, IPv4 and ICMP of the userspace stack, against a fake device and clock. */
#include "tests/unit/net_test.h"

#include "net/cksum.h"

static void build_arp(uint8_t *f, uint16_t op, const uint8_t *eth_dst, const uint8_t *sha,
                      uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
    memset(f, 0, 60);
    t_eth(f, eth_dst, sha, 0x0806);
    t_wr16(f + 14, 1);
    t_wr16(f + 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    t_wr16(f + 20, op);
    memcpy(f + 22, sha, 6);
    t_wr32(f + 28, spa);
    memcpy(f + 32, tha, 6);
    t_wr32(f + 38, tpa);
}

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t ZERO[6] = { 0 };

/* An echo request from src (MAC smac) to dst with `plen` payload bytes. */
static size_t build_ping(uint8_t *f, const uint8_t *smac, uint32_t src, uint32_t dst, uint16_t id,
                         uint16_t seq, size_t plen)
{
    t_eth(f, T_MAC, smac, 0x0800);
    size_t l4 = 8 + plen;
    t_ip(f, src, dst, 1, l4);
    uint8_t *m = f + 34;
    m[0] = 8;
    m[1] = 0;
    t_wr16(m + 2, 0);
    t_wr16(m + 4, id);
    t_wr16(m + 6, seq);
    for (size_t i = 0; i < plen; i++)
        m[8 + i] = (uint8_t)(i * 7 + 3);
    t_wr16(m + 2, t_fold(t_sum(m, l4, 0)));
    return 34 + l4 < 60 ? 60 : 34 + l4;
}

static void inject(struct t_env *e, const uint8_t *f, size_t len)
{
    assert_int_equal(pktio_mem_inject(e->dev, f, len, 0, 0), 0);
}

static void gratuitous_arp_at_start(void **state)
{
    (void)state;
    struct t_env e;
    t_env_init(&e);
    t_poll(&e);
    struct t_out o;
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.type, 0x0806);
    assert_memory_equal(o.dst_mac, BCAST, 6);
    assert_int_equal(o.arp_op, 1);
    assert_int_equal(o.arp_spa, T_IP);
    assert_int_equal(o.arp_tpa, T_IP);
    assert_memory_equal(o.arp_sha, T_MAC, 6);
    assert_int_equal(o.len, 60); /* padded to the Ethernet minimum */
    assert_false(t_pop(&e, &o));
    assert_int_equal(net_stack_counters(e.st)->arp_tx_gratuitous, 1);

    /* on demand, and for a second (floating) address */
    assert_int_equal(net_addr_add(e.st, NET_IP(10, 0, 1, 9), 24), 0);
    assert_int_equal(net_addr_add(e.st, NET_IP(10, 0, 1, 9), 24), -EEXIST);
    assert_int_equal(net_arp_announce(e.st, T_IP), 0);
    assert_int_equal(net_arp_announce(e.st, NET_IP(1, 2, 3, 4)), -ENOENT);
    t_poll(&e);
    unsigned seen = 0;
    while (t_pop(&e, &o)) {
        assert_int_equal(o.arp_op, 1);
        assert_int_equal(o.arp_spa, o.arp_tpa);
        seen |= o.arp_spa == T_IP ? 1 : o.arp_spa == NET_IP(10, 0, 1, 9) ? 2 : 4;
    }
    assert_int_equal(seen, 3);
    assert_int_equal(net_stack_counters(e.st)->arp_tx_gratuitous, 3);
    assert_int_equal(net_addr_del(e.st, NET_IP(10, 0, 1, 9)), 0);
    assert_int_equal(net_addr_del(e.st, NET_IP(10, 0, 1, 9)), -ENOENT);
    t_env_fini(&e);
}

static void arp_request_answered(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    uint8_t f[60];
    build_arp(f, 1, BCAST, PEER_MAC, PEER_IP, ZERO, T_IP);
    inject(&e, f, 60);
    /* a request for someone else: no answer, nothing learned */
    uint8_t other_mac[6] = { 2, 0, 0, 0, 0, 9 };
    build_arp(f, 1, BCAST, other_mac, NET_IP(10, 0, 0, 9), ZERO, NET_IP(10, 0, 0, 77));
    inject(&e, f, 60);
    t_poll(&e);
    struct t_out o;
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.type, 0x0806);
    assert_int_equal(o.arp_op, 2);
    assert_memory_equal(o.dst_mac, PEER_MAC, 6);
    assert_memory_equal(o.arp_sha, T_MAC, 6);
    assert_int_equal(o.arp_spa, T_IP);
    assert_memory_equal(o.arp_tha, PEER_MAC, 6);
    assert_int_equal(o.arp_tpa, PEER_IP);
    assert_false(t_pop(&e, &o));
    struct net_stack_info info;
    net_stack_info(e.st, &info);
    assert_int_equal(info.arp_entries, 1); /* the requester, not the bystander */
    const struct net_counters *c = net_stack_counters(e.st);
    assert_int_equal(c->arp_rx_requests, 2);
    assert_int_equal(c->arp_tx_replies, 1);

    /* malformed: wrong hardware type, truncated */
    build_arp(f, 1, BCAST, PEER_MAC, PEER_IP, ZERO, T_IP);
    t_wr16(f + 14, 6);
    inject(&e, f, 60);
    build_arp(f, 1, BCAST, PEER_MAC, PEER_IP, ZERO, T_IP);
    inject(&e, f, 30);
    /* another host claiming our address */
    build_arp(f, 2, BCAST, other_mac, T_IP, ZERO, T_IP);
    inject(&e, f, 60);
    t_poll(&e);
    assert_false(t_pop(&e, &o));
    assert_int_equal(c->arp_drop_bad, 2);
    assert_int_equal(c->arp_conflicts, 1);
    t_env_fini(&e);
}

/* A reply to a host we do not know waits for ARP, then leaves. */
static void arp_resolves_and_flushes_queue(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    uint8_t f[200];
    for (int i = 0; i < 3; i++) {
        size_t n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 7, (uint16_t)i, 20);
        inject(&e, f, n);
    }
    t_poll(&e);
    struct t_out o;
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.type, 0x0806);
    assert_int_equal(o.arp_op, 1);
    assert_memory_equal(o.dst_mac, BCAST, 6);
    assert_int_equal(o.arp_tpa, PEER_IP);
    assert_int_equal(o.arp_spa, T_IP);
    assert_false(t_pop(&e, &o)); /* one request for three packets */
    assert_int_equal(net_stack_counters(e.st)->arp_tx_requests, 1);

    build_arp(f, 2, T_MAC, PEER_MAC, PEER_IP, T_MAC, T_IP);
    inject(&e, f, 60);
    t_poll(&e);
    for (int i = 0; i < 3; i++) {
        assert_true(t_pop(&e, &o));
        assert_int_equal(o.type, 0x0800);
        assert_memory_equal(o.dst_mac, PEER_MAC, 6);
        assert_int_equal(o.proto, 1);
        assert_int_equal(t_rd16(o.raw + 34 + 6), i); /* in order */
    }
    assert_false(t_pop(&e, &o));

    /* bounded queue */
    const uint32_t far = NET_IP(10, 0, 0, 50);
    e.p.arp_queue = 4;
    net_stack_set_params(e.st, &e.p);
    for (int i = 0; i < 6; i++) {
        size_t n = build_ping(f, PEER_MAC, far, T_IP, 8, (uint16_t)i, 0);
        inject(&e, f, n);
    }
    t_poll(&e);
    assert_int_equal(net_stack_counters(e.st)->arp_drop_queue_full, 2);
    t_drain(&e);

    /* no answer: three requests a second apart, then the queue is dropped */
    unsigned requests = 1;
    for (int s = 0; s < 5; s++) {
        t_advance(&e, SEC);
        while (t_pop(&e, &o))
            if (o.type == 0x0806 && o.arp_tpa == far)
                requests++;
    }
    assert_int_equal(requests, 3);
    assert_int_equal(net_stack_counters(e.st)->arp_drop_unresolved, 4);
    t_env_fini(&e);
}

static void arp_cache_refresh_and_expiry(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    t_teach_arp(&e, PEER_IP, PEER_MAC);
    uint8_t f[200];
    struct t_out o;
    /* half-way through its life the entry is used silently */
    t_advance(&e, 30 * SEC);
    inject(&e, f, build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 0));
    t_poll(&e);
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.proto, 1);
    assert_false(t_pop(&e, &o));
    /* in its last quarter a use sends a unicast refresh */
    t_advance(&e, 20 * SEC);
    inject(&e, f, build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 2, 0));
    t_poll(&e);
    bool refresh = false, reply = false;
    while (t_pop(&e, &o)) {
        if (o.type == 0x0806) {
            refresh = true;
            assert_memory_equal(o.dst_mac, PEER_MAC, 6);
            assert_int_equal(o.arp_tpa, PEER_IP);
        } else {
            reply = true;
        }
    }
    assert_true(refresh && reply);
    /* no answer to the refresh: the entry expires */
    t_advance(&e, 11 * SEC);
    t_advance(&e, 200 * MS);
    assert_int_equal(net_stack_counters(e.st)->arp_expired, 1);
    struct net_stack_info info;
    net_stack_info(e.st, &info);
    assert_int_equal(info.arp_entries, 0);
    inject(&e, f, build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 3, 0));
    t_poll(&e);
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.type, 0x0806);
    assert_memory_equal(o.dst_mac, BCAST, 6);
    t_env_fini(&e);
}

static void icmp_echo(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    t_teach_arp(&e, PEER_IP, PEER_MAC);
    uint8_t f[1600], req[1600];
    size_t n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 0x1234, 9, 1000);
    memcpy(req, f, n);
    inject(&e, f, n);
    t_poll(&e);
    struct t_out o;
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.type, 0x0800);
    assert_true(o.ip_ok);
    assert_int_equal(o.src, T_IP);
    assert_int_equal(o.dst, PEER_IP);
    assert_int_equal(o.proto, 1);
    assert_int_equal(o.ttl, 64);
    const uint8_t *m = o.raw + 34;
    assert_int_equal(m[0], 0);
    assert_int_equal(t_fold(t_sum(m, 1008, 0)), 0);
    assert_memory_equal(m + 4, req + 34 + 4, 1004); /* id, seq, payload */
    const struct net_counters *c = net_stack_counters(e.st);
    assert_int_equal(c->icmp_echo_requests, 1);
    assert_int_equal(c->icmp_echo_replies, 1);

    /* bad ICMP checksum; an echo reply (not a request); a broadcast ping */
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 10);
    f[40] ^= 1;
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 10);
    f[34] = 0;
    t_wr16(f + 36, 0);
    t_wr16(f + 36, t_fold(t_sum(f + 34, 18, 0)));
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, NET_IP(10, 0, 0, 255), 1, 1, 10);
    inject(&e, f, n);
    t_poll(&e);
    assert_false(t_pop(&e, &o));
    assert_int_equal(c->icmp_drop_bad, 1);
    assert_int_equal(c->icmp_drop_other, 1);
    assert_int_equal(c->ip_drop_not_for_us, 1);
    t_env_fini(&e);
}

/* Bad IPv4 headers of each kind are dropped and counted; so is every truncation. */
static void ip_drops(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    t_teach_arp(&e, PEER_IP, PEER_MAC);
    const struct net_counters *c = net_stack_counters(e.st);
    uint8_t f[200];
    size_t n;

    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 16);
    f[14 + 10] ^= 0x40; /* header checksum */
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 16);
    f[14] = 0x65; /* version 6 */
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 16);
    f[14] = 0x44; /* IHL 4 */
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 16);
    t_wr16(f + 16, 400); /* total length beyond the frame */
    t_wr16(f + 24, 0);
    t_wr16(f + 24, t_fold(t_sum(f + 14, 20, 0)));
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 16);
    t_wr16(f + 20, 0x2000); /* MF */
    t_wr16(f + 24, 0);
    t_wr16(f + 24, t_fold(t_sum(f + 14, 20, 0)));
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 16);
    t_wr16(f + 20, 0x0010); /* offset 128 */
    t_wr16(f + 24, 0);
    t_wr16(f + 24, t_fold(t_sum(f + 14, 20, 0)));
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, NET_IP(10, 0, 0, 3), 1, 1, 16);
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 16);
    f[23] = 17; /* UDP */
    t_wr16(f + 24, 0);
    t_wr16(f + 24, t_fold(t_sum(f + 14, 20, 0)));
    inject(&e, f, n);
    t_poll(&e);
    struct t_out o;
    assert_false(t_pop(&e, &o));
    assert_int_equal(c->ip_drop_bad_cksum, 1);
    assert_int_equal(c->ip_drop_bad_header, 3);
    assert_int_equal(c->ip_drop_fragment, 2);
    assert_int_equal(c->ip_drop_not_for_us, 1);
    assert_int_equal(c->ip_drop_proto, 1);

    /* every prefix of a valid echo request: no reply, no crash, each one counted */
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 40);
    uint64_t before = c->eth_drop_short + c->ip_drop_bad_header + c->icmp_drop_bad;
    for (size_t len = 0; len < n; len++) {
        inject(&e, f, len);
        t_poll(&e);
        assert_false(t_pop(&e, &o));
    }
    assert_int_equal(c->eth_drop_short + c->ip_drop_bad_header + c->icmp_drop_bad - before, n);
    /* trailing padding past the IP length is fine */
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 4);
    inject(&e, f, n + 30);
    t_poll(&e);
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.proto, 1);
    t_env_fini(&e);
}

static void ethernet_filtering(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    uint8_t f[200];
    size_t n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 4);
    f[5] = 0x77; /* another station's MAC */
    inject(&e, f, n);
    n = build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 4);
    t_wr16(f + 12, 0x86dd); /* IPv6 */
    inject(&e, f, n);
    inject(&e, f, 10);
    t_poll(&e);
    struct t_out o;
    assert_false(t_pop(&e, &o));
    const struct net_counters *c = net_stack_counters(e.st);
    assert_int_equal(c->eth_drop_not_for_us, 1);
    assert_int_equal(c->eth_drop_ethertype, 1);
    assert_int_equal(c->eth_drop_short, 1);
    assert_int_equal(c->eth_rx_frames, 3);
    t_env_fini(&e);
}

/* Off-subnet destinations go through the gateway's MAC; without one they are dropped. */
static void routing_via_gateway(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    const uint32_t far = NET_IP(192, 0, 2, 10), gw = NET_IP(10, 0, 0, 254);
    const uint8_t gw_mac[6] = { 2, 0, 0, 0, 0, 0xfe };
    uint8_t f[200];
    inject(&e, f, build_ping(f, gw_mac, far, T_IP, 1, 1, 4));
    t_poll(&e);
    struct t_out o;
    assert_false(t_pop(&e, &o));
    assert_int_equal(net_stack_counters(e.st)->ip_drop_no_route, 1);
    net_set_gateway(e.st, gw);
    t_teach_arp(&e, gw, gw_mac);
    inject(&e, f, build_ping(f, gw_mac, far, T_IP, 1, 2, 4));
    t_poll(&e);
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.dst, far);
    assert_memory_equal(o.dst_mac, gw_mac, 6);
    t_env_fini(&e);
}

/* The fast checksum equals the 16-bit reference at every length and alignment. */
static void checksum_matches_reference(void **state)
{
    (void)state;
    uint8_t buf[600], dst[600];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    for (size_t align = 0; align < 8; align++) {
        for (size_t len = 0; len < 520; len++) {
            uint16_t ref = cksum_reference(buf + align, len);
            uint16_t fast = cksum_finish(cksum_partial(buf + align, len, 0));
            uint8_t st[2];
            cksum_store(st, fast);
            assert_int_equal(t_rd16(st), ref);
            uint16_t cp = cksum_finish(cksum_copy(dst + align, buf + align, len, 0));
            assert_int_equal(cp, fast);
            assert_memory_equal(dst + align, buf + align, len);
            /* split at an arbitrary point, odd or even */
            size_t cut = len / 3;
            uint32_t a = cksum_partial(buf + align, cut, 0);
            uint32_t b = cksum_partial(buf + align + cut, len - cut, 0);
            assert_int_equal(cksum_finish(cksum_combine(a, b, (int)(cut & 1))), fast);
        }
    }
}

/* A gratuitous ARP moves a cached address to a new MAC (a floating address failing over). */
static void gratuitous_arp_updates_cache(void **state)
{
    (void)state;
    struct t_env e;
    t_env_start(&e);
    t_teach_arp(&e, PEER_IP, PEER_MAC);
    const uint8_t moved[6] = { 2, 0, 0, 0, 0, 0x42 };
    uint8_t f[200];
    build_arp(f, 1, BCAST, moved, PEER_IP, ZERO, PEER_IP);
    inject(&e, f, 60);
    /* an announcement from a host we never talked to teaches nothing */
    const uint8_t stranger[6] = { 2, 0, 0, 0, 0, 0x43 };
    build_arp(f, 1, BCAST, stranger, NET_IP(10, 0, 0, 44), ZERO, NET_IP(10, 0, 0, 44));
    inject(&e, f, 60);
    t_poll(&e);
    struct t_out o;
    assert_false(t_pop(&e, &o));
    struct net_stack_info info;
    net_stack_info(e.st, &info);
    assert_int_equal(info.arp_entries, 1);
    inject(&e, f, build_ping(f, PEER_MAC, PEER_IP, T_IP, 1, 1, 4));
    t_poll(&e);
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.proto, 1);
    assert_memory_equal(o.dst_mac, moved, 6);
    t_env_fini(&e);
}

/* A full ARP cache makes room by evicting the entry closest to expiry. */
static void arp_cache_full(void **state)
{
    (void)state;
    struct t_env e;
    struct net_stack_config cfg = { .seed = 4 };
    param_defaults(net_param_defs, &e.p);
    e.p.arp_cache_size = 4;
    cfg.params = &e.p;
    t_env_init_cfg(&e, &cfg, 0);
    for (uint8_t i = 1; i <= 5; i++) {
        uint8_t mac[6] = { 2, 0, 0, 0, 1, i };
        t_teach_arp(&e, NET_IP(10, 0, 0, 10 + i), mac);
        t_advance(&e, SEC);
    }
    struct net_stack_info info;
    net_stack_info(e.st, &info);
    assert_int_equal(info.arp_entries, 4);
    assert_int_equal(net_stack_counters(e.st)->arp_evicted, 1);
    /* the first one learned (closest to expiry) went */
    uint8_t f[200];
    uint8_t mac1[6] = { 2, 0, 0, 0, 1, 1 };
    inject(&e, f, build_ping(f, mac1, NET_IP(10, 0, 0, 11), T_IP, 1, 1, 4));
    t_poll(&e);
    struct t_out o;
    assert_true(t_pop(&e, &o));
    assert_int_equal(o.type, 0x0806);
    t_env_fini(&e);
}

static void address_text(void **state)
{
    (void)state;
    uint32_t ip;
    unsigned len;
    assert_int_equal(net_prefix_parse("10.91.0.2/24", &ip, &len), 0);
    assert_int_equal(ip, NET_IP(10, 91, 0, 2));
    assert_int_equal(len, 24);
    assert_int_equal(net_prefix_parse("192.168.1.1/32", &ip, &len), 0);
    assert_int_equal(len, 32);
    static const char *const bad[] = { "10.0.0.1",     "10.0.0.1/",  "10.0.0.1/0", "10.0.0.1/33",
                                       "10.0.0.1/2x",  "10.0.0/24",  "/24",        "1.2.3.4.5/8",
                                       "256.0.0.1/24", "10.0.0.1/-1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(net_prefix_parse(bad[i], &ip, &len), -EINVAL);
    char buf[16];
    assert_string_equal(net_ip_format(NET_IP(10, 91, 0, 2), buf), "10.91.0.2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(address_text),
        cmocka_unit_test(gratuitous_arp_at_start),
        cmocka_unit_test(arp_request_answered),
        cmocka_unit_test(arp_resolves_and_flushes_queue),
        cmocka_unit_test(arp_cache_refresh_and_expiry),
        cmocka_unit_test(icmp_echo),
        cmocka_unit_test(ip_drops),
        cmocka_unit_test(ethernet_filtering),
        cmocka_unit_test(routing_via_gateway),
        cmocka_unit_test(checksum_matches_reference),
        cmocka_unit_test(gratuitous_arp_updates_cache),
        cmocka_unit_test(arp_cache_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
