/*
 * pktio_fault: a fault-injecting wrapper around another pktio. See pktio.h.
 */
#include "net/cksum.h"
#include "base/mem.h"
#include "net/net_int.h"
#include "net/pktio.h"

#define PARAM_S pktio_fault_params
const struct param_def pktio_fault_param_defs[] = { PKTIO_FAULT_PARAMS(PARAM_X_DEF)
                                                        PARAM_DEFS_END };
#undef PARAM_S

bool pktio_fault_config_from_params(const struct pktio_fault_params *p,
                                    struct pktio_fault_config *cfg)
{
    cfg->rx.drop_ppm = (uint32_t)p->rx_drop;
    cfg->rx.dup_ppm = (uint32_t)p->rx_dup;
    cfg->rx.reorder_ppm = (uint32_t)p->rx_reorder;
    cfg->rx.corrupt_ppm = (uint32_t)p->rx_corrupt;
    cfg->tx.drop_ppm = (uint32_t)p->tx_drop;
    cfg->tx.dup_ppm = (uint32_t)p->tx_dup;
    cfg->tx.reorder_ppm = (uint32_t)p->tx_reorder;
    cfg->tx.corrupt_ppm = (uint32_t)p->tx_corrupt;
    cfg->seed = (uint64_t)p->seed;
    return (p->rx_drop | p->rx_dup | p->rx_reorder | p->rx_corrupt | p->tx_drop | p->tx_dup |
            p->tx_reorder | p->tx_corrupt) != 0;
}

#define HOLD_MAX    16
#define FAULT_BURST 64

struct fault_dir {
    struct pktio_fault_rates r;
    struct pktio_fault_stats st;
    struct net_buf *held[HOLD_MAX];
    unsigned nheld;
};

struct pktio_fault {
    struct pktio io;
    struct pktio *inner;
    uint64_t rng;
    struct fault_dir rx, tx;
};

static uint64_t next_rand(struct pktio_fault *f)
{
    uint64_t z = (f->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool chance(struct pktio_fault *f, uint32_t ppm)
{
    return ppm > 0 && next_rand(f) % 1000000u < ppm;
}

static struct net_buf *copy_of(struct pktio_fault *f, const struct net_buf *b)
{
    struct net_buf *c = pktio_alloc(f->inner);
    if (c == NULL || c->room < b->len) {
        if (c != NULL)
            pktio_free(f->inner, c);
        return NULL;
    }
    memcpy(c->data, b->data, b->len);
    c->len = b->len;
    c->flags = b->flags;
    c->rss_hash = b->rss_hash;
    c->l2_len = b->l2_len;
    c->l3_len = b->l3_len;
    return c;
}

/* Flip one bit of the IPv4 packet; false when the frame is not IPv4. */
static bool corrupt(struct pktio_fault *f, struct net_buf *b, bool tx)
{
    if (b->len <= ETH_HLEN + IP_HLEN || net_rd16(b->data + 12) != ETH_P_IPV4)
        return false;
    unsigned tot = net_rd16(b->data + ETH_HLEN + 2);
    unsigned span = MIN(tot, b->len - ETH_HLEN);
    if (span == 0)
        return false;
    if (tx)
        cksum_tx_finalize(b);
    else
        b->flags &= ~(NET_BUF_RX_IP_CKSUM_GOOD | NET_BUF_RX_L4_CKSUM_GOOD);
    uint64_t r = next_rand(f);
    b->data[ETH_HLEN + (r >> 3) % span] ^= (uint8_t)(1u << (r & 7));
    return true;
}

/*
 * Apply the faults of one direction to n frames in `in`, writing the frames
 * that go on to `out` (room for 2n + HOLD_MAX). Frames held back by an earlier
 * call follow this call's frames.
 */
static unsigned apply(struct pktio_fault *f, struct fault_dir *d, struct net_buf **in, unsigned n,
                      struct net_buf **out, bool tx)
{
    unsigned k = 0;
    struct net_buf *was_held[HOLD_MAX];
    unsigned nwas = d->nheld;
    memcpy(was_held, d->held, sizeof(was_held[0]) * nwas);
    d->nheld = 0;
    for (unsigned i = 0; i < n; i++) {
        struct net_buf *b = in[i];
        d->st.frames++;
        if (chance(f, d->r.drop_ppm)) {
            d->st.dropped++;
            pktio_free(f->inner, b);
            continue;
        }
        if (chance(f, d->r.corrupt_ppm) && corrupt(f, b, tx))
            d->st.corrupted++;
        struct net_buf *dup = NULL;
        if (chance(f, d->r.dup_ppm)) {
            dup = copy_of(f, b);
            if (dup != NULL)
                d->st.duplicated++;
        }
        if (d->nheld < HOLD_MAX && chance(f, d->r.reorder_ppm)) {
            d->st.reordered++;
            d->held[d->nheld++] = b;
        } else {
            out[k++] = b;
        }
        if (dup != NULL)
            out[k++] = dup;
    }
    for (unsigned i = 0; i < nwas; i++)
        out[k++] = was_held[i];
    return k;
}

static void send_all(struct pktio_fault *f, struct net_buf **bufs, unsigned n)
{
    unsigned done = 0;
    while (done < n) {
        unsigned m = pktio_tx_burst(f->inner, bufs + done, n - done);
        if (m == 0)
            break;
        done += m;
    }
    for (unsigned i = done; i < n; i++)
        pktio_free(f->inner, bufs[i]); /* the inner device is full: lost on the wire */
}

static unsigned op_tx(struct pktio *io, struct net_buf **bufs, unsigned n)
{
    struct pktio_fault *f = (struct pktio_fault *)io;
    unsigned done = 0;
    while (done < n) {
        unsigned chunk = MIN(n - done, (unsigned)FAULT_BURST);
        struct net_buf *out[2 * FAULT_BURST + HOLD_MAX];
        unsigned k = apply(f, &f->tx, bufs + done, chunk, out, true);
        send_all(f, out, k);
        done += chunk;
    }
    return n;
}

static unsigned op_rx(struct pktio *io, struct net_buf **bufs, unsigned n)
{
    struct pktio_fault *f = (struct pktio_fault *)io;
    /* Transmit frames held back leave now, so a quiet sender does not keep them. */
    if (f->tx.nheld > 0) {
        struct net_buf *out[HOLD_MAX];
        unsigned k = apply(f, &f->tx, NULL, 0, out, true);
        send_all(f, out, k);
    }
    struct net_buf *in[FAULT_BURST];
    unsigned want = MIN(n, (unsigned)FAULT_BURST);
    unsigned got = pktio_rx_burst(f->inner, in, want);
    struct net_buf *out[2 * FAULT_BURST + HOLD_MAX];
    unsigned k = apply(f, &f->rx, in, got, out, false);
    /* More frames than the caller asked for: the extra wait, held, for the next call. */
    unsigned give = MIN(k, n);
    memcpy(bufs, out, give * sizeof(out[0]));
    for (unsigned i = give; i < k; i++) {
        if (f->rx.nheld < HOLD_MAX) {
            f->rx.held[f->rx.nheld++] = out[i];
        } else {
            f->rx.st.dropped++; /* more duplicates than the caller takes: lost */
            pktio_free(f->inner, out[i]);
        }
    }
    return give;
}

static struct net_buf *op_alloc(struct pktio *io)
{
    return pktio_alloc(((struct pktio_fault *)io)->inner);
}

static void op_free(struct pktio *io, struct net_buf *b)
{
    pktio_free(((struct pktio_fault *)io)->inner, b);
}

static const struct pktio_ops fault_ops = {
    .rx_burst = op_rx,
    .tx_burst = op_tx,
    .alloc = op_alloc,
    .free = op_free,
};

struct pktio_fault *pktio_fault_create(struct pktio *inner, const struct pktio_fault_config *cfg)
{
    struct pktio_fault *f = mem_calloc(sizeof(*f));
    f->io = *inner;
    f->io.ops = &fault_ops;
    f->inner = inner;
    f->rng = cfg->seed;
    f->rx.r = cfg->rx;
    f->tx.r = cfg->tx;
    return f;
}

void pktio_fault_destroy(struct pktio_fault *f)
{
    if (f == NULL)
        return;
    for (unsigned i = 0; i < f->rx.nheld; i++)
        pktio_free(f->inner, f->rx.held[i]);
    for (unsigned i = 0; i < f->tx.nheld; i++)
        pktio_free(f->inner, f->tx.held[i]);
    mem_free(f);
}

struct pktio *pktio_fault_io(struct pktio_fault *f)
{
    return &f->io;
}

void pktio_fault_set_rates(struct pktio_fault *f, const struct pktio_fault_rates *rx,
                           const struct pktio_fault_rates *tx)
{
    f->rx.r = *rx;
    f->tx.r = *tx;
}

void pktio_fault_stats(const struct pktio_fault *f, struct pktio_fault_stats *rx,
                       struct pktio_fault_stats *tx)
{
    if (rx)
        *rx = f->rx.st;
    if (tx)
        *tx = f->tx.st;
}
