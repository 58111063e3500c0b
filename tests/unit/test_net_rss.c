/* Toeplitz RSS hash against the published verification vectors; queue and port helpers. */
#include "tests/unit/net_test.h"

#include "net/rss.h"

struct vec {
    uint32_t dst;
    uint16_t dport;
    uint32_t src;
    uint16_t sport;
    uint32_t ipv4, ipv4_tcp;
};

/* Microsoft's "Verifying the RSS Hash Calculation", IPv4 table, default key. */
static const struct vec vectors[] = {
    { NET_IP(161, 142, 100, 80), 1766, NET_IP(66, 9, 149, 187), 2794, 0x323e8fc2, 0x51ccc178 },
    { NET_IP(65, 69, 140, 83), 4739, NET_IP(199, 92, 111, 2), 14230, 0xd718262a, 0xc626b0ea },
    { NET_IP(12, 22, 207, 184), 38024, NET_IP(24, 19, 198, 95), 12898, 0xd2d0a5de, 0x5c2b394a },
    { NET_IP(209, 142, 163, 6), 2217, NET_IP(38, 27, 205, 30), 48228, 0x82989176, 0xafc7327f },
    { NET_IP(202, 188, 127, 2), 1303, NET_IP(153, 39, 163, 191), 44251, 0x5d1809c5, 0x10e828a2 },
};

static void toeplitz_vectors(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vec *v = &vectors[i];
        assert_int_equal(rss_hash_ipv4(rss_default_key, v->src, v->dst), v->ipv4);
        assert_int_equal(rss_hash_ipv4_tcp(rss_default_key, v->src, v->dst, v->sport, v->dport),
                         v->ipv4_tcp);
    }
}

/* The bitwise definition, for keys other than the default. */
static uint32_t toeplitz_slow(const uint8_t *key, const uint8_t *in, size_t len)
{
    uint32_t h = 0;
    for (size_t bit = 0; bit < len * 8; bit++) {
        if (!(in[bit / 8] & (0x80 >> (bit % 8))))
            continue;
        uint32_t w = 0;
        for (int k = 0; k < 32; k++) {
            size_t kb = bit + (size_t)k;
            w = (w << 1) | ((key[kb / 8] >> (7 - kb % 8)) & 1);
        }
        h ^= w;
    }
    return h;
}

static void toeplitz_random_keys(void **state)
{
    (void)state;
    uint64_t x = 12345;
    for (int round = 0; round < 200; round++) {
        uint8_t key[40], in[12];
        for (int i = 0; i < 40; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            key[i] = (uint8_t)(x >> 56);
        }
        for (int i = 0; i < 12; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            in[i] = (uint8_t)(x >> 56);
        }
        for (size_t len = 0; len <= 12; len++)
            assert_int_equal(rss_toeplitz(key, 40, in, len), toeplitz_slow(key, in, len));
    }
}

static void queue_mapping(void **state)
{
    (void)state;
    struct rss_conf c;
    assert_int_equal(rss_conf_init(&c, NULL, 0, 128), -EINVAL);
    assert_int_equal(rss_conf_init(&c, NULL, 4, 100), -EINVAL);
    assert_int_equal(rss_conf_init(&c, NULL, 4, 1024), -EINVAL);
    assert_int_equal(rss_conf_init(&c, NULL, 3, 128), 0);
    for (unsigned i = 0; i < 128; i++)
        assert_int_equal(c.reta[i], i % 3);
    const struct vec *v = &vectors[0];
    assert_int_equal(rss_flow_queue(&c, v->src, v->dst, v->sport, v->dport),
                     c.reta[v->ipv4_tcp & 127]);
    assert_int_equal(rss_queue_of_hash(&c, 0x51ccc178), (0x51ccc178 & 127) % 3);
}

static void port_for_queue(void **state)
{
    (void)state;
    struct rss_conf c;
    assert_int_equal(rss_conf_init(&c, NULL, 4, 128), 0);
    const uint32_t local = NET_IP(10, 1, 0, 5), remote = NET_IP(10, 1, 0, 9);
    unsigned per_queue[4] = { 0 };
    for (unsigned q = 0; q < 4; q++) {
        uint16_t start = 32768;
        for (int i = 0; i < 50; i++) {
            int p = rss_pick_port(&c, local, remote, 6379, q, 32768, 60999, start);
            assert_true(p >= 32768 && p <= 60999);
            assert_true(p >= start);
            /* the reply (remote → local:p) lands on q */
            assert_int_equal(rss_flow_queue(&c, remote, local, 6379, (uint16_t)p), q);
            per_queue[q]++;
            start = (uint16_t)(p + 1);
        }
    }
    assert_int_equal(per_queue[0] + per_queue[1] + per_queue[2] + per_queue[3], 200);
    /* a range with no port for the queue */
    int p = rss_pick_port(&c, local, remote, 6379, 0, 40000, 40000, 40000);
    if (rss_flow_queue(&c, remote, local, 6379, 40000) != 0)
        assert_int_equal(p, -ENOENT);
    else
        assert_int_equal(p, 40000);
    assert_int_equal(rss_pick_port(&c, local, remote, 6379, 9, 1000, 2000, 1000), -ENOENT);
    assert_int_equal(rss_pick_port(&c, local, remote, 6379, 0, 2000, 1000, 1000), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(toeplitz_vectors),
        cmocka_unit_test(toeplitz_random_keys),
        cmocka_unit_test(queue_mapping),
        cmocka_unit_test(port_for_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
