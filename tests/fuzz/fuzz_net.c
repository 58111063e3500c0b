/*
 * The TCP/IP stack's input path (dataplane/net/): Ethernet, ARP, IPv4, ICMP
 * and TCP, driven through the in-memory packet I/O with a fake clock, as the
 * unit tests drive it (tests/unit/net_test.h).
 *
 * The stack owns 10.0.0.1/24, knows the peer 10.0.0.2's MAC and listens on
 * port 6379 with a SYN queue of 2 (a third half-open handshake gets a SYN
 * cookie, whose ACK an input can make with ctl bit 1 below); an application accepts every
 * connection, and on request reads everything, echoes it back or closes a connection. Input: one
 * byte of options (bit 0: also open an active connection to the peer first), then records of
 *
 *     ctl (1 byte), length (2 bytes, big-endian, taken modulo 1600), frame bytes
 *
 * ctl bit 0: the harness fills in the IPv4 and TCP/UDP/ICMP checksums (so the
 *            fuzzer gets past them); bit 1: the TCP ack field is taken relative
 *            to the last sequence number the stack sent (so it can acknowledge
 *            the stack's data without guessing its ISN) and a destination port
 *            0 is the stack's last source port (its active open); bit 2: the bytes are
 *            an IP packet and the harness puts the Ethernet header in front;
 *            bits 3-5: how far the clock moves after the frame (0 to 300 s);
 *            bit 6: the application reads and echoes; bit 7: it closes the
 *            oldest connection.
 *
 * At the end every socket is closed, the stack runs its timers out and is
 * destroyed, and every packet buffer must be back in the pool.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz.h"
#include "net/net.h"
#include "net/pktio.h"

#define NBUFS   512
#define MAXSOCK 8
#define SEC     1000000000ull

static const uint8_t ST_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t PEER_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
#define ST_IP   NET_IP(10, 0, 0, 1)
#define PEER_IP NET_IP(10, 0, 0, 2)

static const uint64_t steps[8] = { 0,   1000000, 10000000, 200000000,
                                   SEC, 5 * SEC, 60 * SEC, 300 * SEC };

struct env {
    struct pktio_mem *dev;
    struct net_stack *st;
    struct net_sock *ls;
    struct net_sock *socks[MAXSOCK];
    int nsocks;
    uint64_t now;
    uint32_t snd_end;  /* seq + length of the last TCP segment the stack sent */
    uint16_t snd_port; /* and its source port */
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static uint32_t sum(const uint8_t *p, size_t len, uint32_t s)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        s += (uint32_t)p[len - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* Fill in the checksums of the IPv4 packet at f + 14, as far as its header makes sense. */
static void fix_cksums(uint8_t *f, size_t len, bool rel_ack, const struct env *e)
{
    if (len < 34 || rd16(f + 12) != 0x0800)
        return;
    uint8_t *ip = f + 14;
    size_t hl = (ip[0] & 15) * 4u, tot = rd16(ip + 2);
    if (hl < 20 || 14 + hl > len)
        return;
    if (tot > len - 14)
        tot = len - 14;
    if (rel_ack && ip[9] == 6 && tot >= hl + 20) {
        wr32(ip + hl + 8, rd32(ip + hl + 8) + e->snd_end);
        if (rd16(ip + hl + 2) == 0) /* the port the stack picked for its active open */
            wr16(ip + hl + 2, e->snd_port);
    }
    wr16(ip + 10, 0);
    wr16(ip + 10, fold(sum(ip, hl, 0)));
    if (tot < hl)
        return;
    uint8_t *l4 = ip + hl;
    size_t l4len = tot - hl;
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = ip[9];
    wr16(ph + 10, (uint16_t)l4len);
    if (ip[9] == 6 && l4len >= 20) {
        wr16(l4 + 16, 0);
        wr16(l4 + 16, fold(sum(l4, l4len, sum(ph, 12, 0))));
    } else if (ip[9] == 17 && l4len >= 8) {
        wr16(l4 + 6, 0);
        wr16(l4 + 6, fold(sum(l4, l4len, sum(ph, 12, 0))));
    } else if (ip[9] == 1 && l4len >= 4) {
        wr16(l4 + 2, 0);
        wr16(l4 + 2, fold(sum(l4, l4len, 0)));
    }
}

/* Take every frame the stack sent: its IPv4 headers and checksums must be right (the
 * device has no offload caps, so the stack computes them all); remember where its TCP
 * sequence space ends. */
static void drain(struct env *e)
{
    struct net_buf *b;
    while ((b = pktio_mem_tx_pop(e->dev)) != NULL) {
        const uint8_t *f = b->data;
        FZ_CHECK(b->len >= 14 && b->len <= 1514);
        if (rd16(f + 12) == 0x0800) {
            const uint8_t *ip = f + 14;
            FZ_CHECK(b->len >= 34);
            size_t hl = (ip[0] & 15) * 4u, tot = rd16(ip + 2);
            FZ_CHECK(ip[0] >> 4 == 4 && hl == 20 && tot >= hl && tot + 14 <= b->len);
            FZ_CHECK(fold(sum(ip, hl, 0)) == 0);
            if (ip[9] == 6) {
                const uint8_t *th = ip + hl;
                size_t tl = tot - hl;
                FZ_CHECK(tl >= 20);
                size_t doff = (th[12] >> 4) * 4u;
                FZ_CHECK(doff >= 20 && doff <= tl);
                uint8_t ph[12];
                memcpy(ph, ip + 12, 8);
                ph[8] = 0;
                ph[9] = 6;
                wr16(ph + 10, (uint16_t)tl);
                FZ_CHECK(fold(sum(th, tl, sum(ph, 12, 0))) == 0);
                e->snd_port = rd16(th);
                e->snd_end = rd32(th + 4) + (uint32_t)(tl - doff) + !!(th[13] & 2) + !!(th[13] & 1);
            }
        }
        pktio_free(pktio_mem_io(e->dev), b);
    }
}

static void poll_once(struct env *e)
{
    net_poll(e->st, e->now);
    struct net_event ev[32];
    unsigned n;
    while ((n = net_events(e->st, ev, 32)) > 0)
        (void)ev;
    struct net_sock *s;
    while (e->ls != NULL && e->nsocks < MAXSOCK && (s = net_accept(e->ls, NULL)) != NULL)
        e->socks[e->nsocks++] = s;
    net_flush(e->st, e->now);
    drain(e);
}

static void app_echo(struct env *e)
{
    char buf[4096];
    for (int i = 0; i < e->nsocks; i++) {
        for (;;) {
            ssize_t r = net_read(e->socks[i], buf, sizeof(buf));
            if (r <= 0) {
                FZ_CHECK(r == 0 || r == -EAGAIN || r < 0);
                break;
            }
            FZ_CHECK((size_t)r <= sizeof(buf));
            ssize_t w = net_write(e->socks[i], buf, (size_t)r);
            FZ_CHECK(w <= r);
            if (w < r)
                break;
        }
    }
}

static void app_close(struct env *e)
{
    if (e->nsocks == 0)
        return;
    net_close(e->socks[0]);
    memmove(e->socks, e->socks + 1, (size_t)(e->nsocks - 1) * sizeof(e->socks[0]));
    e->nsocks--;
}

/* A gratuitous ARP reply from the peer, so the stack can answer it. */
static void teach_arp(struct env *e)
{
    uint8_t f[60] = { 0 };
    memcpy(f, ST_MAC, 6);
    memcpy(f + 6, PEER_MAC, 6);
    wr16(f + 12, 0x0806);
    wr16(f + 14, 1);
    wr16(f + 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    wr16(f + 20, 2);
    memcpy(f + 22, PEER_MAC, 6);
    wr32(f + 28, PEER_IP);
    memcpy(f + 32, ST_MAC, 6);
    wr32(f + 38, ST_IP);
    FZ_CHECK(pktio_mem_inject(e->dev, f, sizeof(f), 0, 0) == 0);
    poll_once(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    struct env e = { 0 };
    struct pktio_mem_config mc = { .nbufs = NBUFS, .qlen = 256 };
    memcpy(mc.mac, ST_MAC, 6);
    e.dev = pktio_mem_create(&mc);
    FZ_CHECK(e.dev != NULL);
    e.now = 1000 * SEC;
    /* A SYN queue of 2, so that a third SYN meets SYN cookies (tcp_cookie.c). */
    struct net_params params;
    param_defaults(net_param_defs, &params);
    params.syn_backlog = 2;
    struct net_stack_config cfg = {
        .io = pktio_mem_io(e.dev), .now_ns = e.now, .seed = 42, .max_conns = 16, .params = &params
    };
    e.st = net_stack_create(&cfg);
    FZ_CHECK(e.st != NULL);
    FZ_CHECK(net_addr_add(e.st, ST_IP, 24) == 0);
    FZ_CHECK(net_listen(e.st, 0, 6379, 4, NULL, &e.ls) == 0);
    poll_once(&e);
    teach_arp(&e);

    struct net_sock *active = NULL;
    if (data[0] & 1) {
        FZ_CHECK(net_connect(e.st, PEER_IP, 7000, 0, NULL, &active) == 0);
        net_write(active, "PING\r\n", 6);
        poll_once(&e);
    }

    uint8_t frame[1600];
    size_t pos = 1;
    while (size - pos >= 3) {
        uint8_t ctl = data[pos];
        size_t len = rd16(data + pos + 1) % sizeof(frame);
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        size_t fl = 0;
        if (ctl & 4) {
            memcpy(frame, ST_MAC, 6);
            memcpy(frame + 6, PEER_MAC, 6);
            wr16(frame + 12, 0x0800);
            fl = 14;
            if (len > sizeof(frame) - fl)
                len = sizeof(frame) - fl;
        }
        memcpy(frame + fl, data + pos, len);
        pos += len;
        fl += len;
        if (ctl & 1)
            fix_cksums(frame, fl, ctl & 2, &e);
        int rc = pktio_mem_inject(e.dev, frame, fl, 0, 0);
        FZ_CHECK(rc == 0 || rc == -ENOBUFS || rc == -EMSGSIZE);
        poll_once(&e);
        if (ctl & 0x40)
            app_echo(&e);
        if (ctl & 0x80)
            app_close(&e);
        e.now += steps[(ctl >> 3) & 7];
        poll_once(&e);
    }

    if (getenv("FUZZ_NET_COUNTERS") != NULL) { /* what an input reached, for corpus work */
        const struct net_counters *c = net_stack_counters(e.st);
        const uint64_t *v = (const uint64_t *)c;
        for (size_t i = 0; i < NET_COUNTER_COUNT; i++)
            if (v[i])
                fprintf(stderr, "%s %llu\n", net_counter_names[i], (unsigned long long)v[i]);
    }

    /* Wind down: close everything, let the timers run out, destroy. */
    while (e.nsocks > 0)
        app_close(&e);
    if (active != NULL)
        net_close(active);
    net_close(e.ls);
    e.ls = NULL;
    for (int i = 0; i < 4; i++) {
        e.now += 300 * SEC;
        poll_once(&e);
    }
    net_stack_destroy(e.st);
    drain(&e);
    FZ_CHECK(pktio_mem_free_bufs(e.dev) == NBUFS - pktio_mem_rx_count(e.dev));
    pktio_mem_destroy(e.dev);
    return 0;
}
