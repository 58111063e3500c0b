/*
 * The chunked list (qlist.h; the reasoning in NOTES.md).
 *
 * A node is one allocation: a reference count, the bytes allocated, then the pack. The
 * node limit applies to the whole allocation (an 8 KB node is an 8 KB size class, not 10 KB
 * for a pack of 8 KB plus its header). The node pointer array keeps room at both ends;
 * when the side an insertion moves is full it is re-centred or regrown to twice the nodes,
 * which leaves room on both sides, so adding a node at either end is O(1) amortised.
 *
 * Every edit of a node goes through edit(), which first copies the node when a frozen
 * view shares it; the node's pointer in the array then changes, offsets do not. The pack
 * calls node_resize() to grow or shrink a node in place (it may move); a node is shrunk only
 * when its size class falls below three quarters of what it holds, so a push and a pop at a
 * class boundary do not reallocate every time.
 *
 * Compressed nodes (list-compress-depth d > 0): the nodes more than d from either end are
 * kept LZF-compressed when that saves at least LZF_MIN_GAIN bytes. Such a node's body
 * starts where a pack's header does, with 0 where a pack has its size (no pack is smaller
 * than its header) and the element count where a pack has it, so walks that only count
 * (locate, the merge checks) read both kinds alike. A compressed node is never written: a
 * write first decompresses it into a new node (node_own), reads decompress it into the
 * thread's scratch buffer (read_at), and every write ends by putting the nodes it touched
 * and the nodes at the two zone edges back to the rule (zone_fix).
 */
#include "types/qlist.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <lzf.h>
#include <threads.h>

#include "base/common.h"
#include "base/mem.h"

struct qlist_node {
    /* the list and the views holding it: atomic, as a view taken by one shard's snapshot
     * may be let go while the list, renamed to another shard, is written by that shard */
    atomic_uint refs;
    uint32_t cap : 31;  /* bytes allocated, this header included (QLIST_MAX_ELEM keeps it so) */
    uint32_t tried : 1; /* a pack node compression did not shrink enough, unwritten since */
    unsigned char pack[];
};

struct qlist {
    struct qlist_node **a; /* nodes in order: a[first .. first + n) */
    uint32_t cap, first, n;
    uint32_t max_count, max_bytes; /* per node: elements, and bytes of its pack */
    uint32_t depth;                /* list-compress-depth: 0 keeps every node a pack */
    uint32_t zone_n;               /* nodes when the zone's edges were last put right */
    uint64_t count;
    size_t bytes;
};

struct qlist_view {
    uint64_t count;
    uint32_t n;
    size_t bytes;
    struct qlist_node *a[];
};

#define NODE_HDR offsetof(struct qlist_node, pack)

/*
 * A compressed node's body: u32 0 (a pack's size), u16 count (a pack's count), u32 the
 * pack's size, u32 the LZF bytes' length, u64 a serial number no other compressed node has
 * (what the scratch buffer is keyed on: an address can be reused), then the LZF bytes.
 */
#define LZF_RAW_AT    6u  /* u32: the pack's size */
#define LZF_LEN_AT    10u /* u32: the LZF bytes' length */
#define LZF_SERIAL_AT 14u /* u64 */
#define LZF_HDR       22u
#define LZF_MIN_BYTES 48u /* smaller packs are not worth compressing */
#define LZF_MIN_GAIN  8u  /* nor a pack that would shrink by less */

static atomic_uint_fast64_t lzf_serial;

static inline bool node_lzf(const struct qlist_node *nd)
{
    return pack_bytes(nd->pack) == 0;
}

/* A node's pack is wide from birth (and a compressed node keeps a wide header's count), so
 * its count is read without testing the form: seeking reads one per node passed. */
static inline uint32_t node_count(const struct qlist_node *nd)
{
    assert(!pack_small(nd->pack));
    return pack_count_wide(nd->pack);
}

static inline uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* The bytes of the node's pack, compressed or not. */
static inline uint32_t node_pack_bytes(const struct qlist_node *nd)
{
    return node_lzf(nd) ? rd32(nd->pack + LZF_RAW_AT) : pack_bytes(nd->pack);
}

static inline struct qlist_node *node_at(const struct qlist *l, int64_t i)
{
    assert(i >= 0 && i < (int64_t)l->n);
    return l->a[l->first + i];
}

/* Node i's pack, which must not be compressed (a node being written; an end node). */
static inline unsigned char *pack_at(const struct qlist *l, int64_t i)
{
    assert(!node_lzf(node_at(l, i)));
    return node_at(l, i)->pack;
}

/* ---- the node pointer array ---- */

/* Re-centre the array for `need` nodes, into a new one of twice that when the size differs. */
static void arr_reshape(struct qlist *l, uint32_t need)
{
    uint32_t ncap = need * 2 < 8 ? 8 : need * 2;
    uint32_t nfirst = (ncap - l->n) / 2;
    if (ncap == l->cap) {
        memmove(l->a + nfirst, l->a + l->first, l->n * sizeof(*l->a));
    } else {
        struct qlist_node **na = mem_alloc(ncap * sizeof(*na));
        if (l->n > 0)
            memcpy(na + nfirst, l->a + l->first, l->n * sizeof(*na));
        if (l->a != NULL) {
            l->bytes -= mem_size_class(l->cap * sizeof(*l->a));
            mem_free(l->a);
        }
        l->bytes += mem_size_class(ncap * sizeof(*na));
        l->a = na;
        l->cap = ncap;
    }
    l->first = nfirst;
}

static void arr_insert(struct qlist *l, int64_t pos, struct qlist_node *nd)
{
    bool front = pos <= l->n / 2;
    if (l->a == NULL || (front && l->first == 0) || (!front && l->first + l->n == l->cap))
        arr_reshape(l, l->n + 1);
    if (front) {
        memmove(l->a + l->first - 1, l->a + l->first, (size_t)pos * sizeof(*l->a));
        l->first--;
    } else {
        memmove(l->a + l->first + pos + 1, l->a + l->first + pos,
                (size_t)(l->n - pos) * sizeof(*l->a));
    }
    l->a[l->first + pos] = nd;
    l->n++;
}

static void arr_remove(struct qlist *l, int64_t pos, uint32_t cnt)
{
    uint32_t after = l->n - (uint32_t)pos - cnt;
    if ((uint32_t)pos < after) {
        memmove(l->a + l->first + cnt, l->a + l->first, (size_t)pos * sizeof(*l->a));
        l->first += cnt;
    } else {
        memmove(l->a + l->first + pos, l->a + l->first + pos + cnt, after * sizeof(*l->a));
    }
    l->n -= cnt;
    if (l->cap > 16 && l->n < l->cap / 8)
        arr_reshape(l, l->n);
}

/* ---- nodes ---- */

static struct qlist_node *node_alloc(struct qlist *l, size_t pack_bytes)
{
    size_t sz = mem_size_class(NODE_HDR + pack_bytes);
    struct qlist_node *nd = mem_alloc(sz);
    atomic_init(&nd->refs, 1);
    nd->cap = (uint32_t)sz;
    nd->tried = 0;
    l->bytes += sz;
    return nd;
}

/* Let go of a node: the last holder frees it (after every other holder's reads). */
static void node_unref(struct qlist_node *nd)
{
    if (atomic_fetch_sub_explicit(&nd->refs, 1, memory_order_acq_rel) == 1)
        mem_free(nd);
}

/* The list lets go of a node: freed unless a view still holds it. */
static void node_unref_list(struct qlist *l, struct qlist_node *nd)
{
    l->bytes -= nd->cap;
    node_unref(nd);
}

/* Whether the list alone holds the node (it may write it; the views' reads are done). */
static bool node_alone(const struct qlist_node *nd)
{
    return atomic_load_explicit(&nd->refs, memory_order_acquire) == 1;
}

/* A new empty node at position pos. */
static void node_add(struct qlist *l, int64_t pos)
{
    struct qlist_node *nd = node_alloc(l, PACK_HDR_WIDE);
    pack_init_wide(nd->pack);
    arr_insert(l, pos, nd);
}

static void node_drop(struct qlist *l, int64_t i)
{
    node_unref_list(l, node_at(l, i));
    arr_remove(l, i, 1);
}

struct resize_ctx {
    struct qlist *l;
    int64_t i;
};

static unsigned char *node_resize(void *ctx, unsigned char *p, size_t new_bytes)
{
    struct resize_ctx *r = ctx;
    struct qlist_node *nd = node_at(r->l, r->i);
    assert(nd->pack == p && node_alone(nd));
    (void)p;
    size_t need = NODE_HDR + new_bytes;
    if (need <= nd->cap && need >= (size_t)nd->cap * 3 / 4)
        return nd->pack; /* most edits: no size-class lookup */
    size_t want = mem_size_class(need);
    if (want == nd->cap || (want < nd->cap && want >= (size_t)nd->cap * 3 / 4))
        return nd->pack;
    uint32_t old = nd->cap;
    nd = mem_realloc(nd, want);
    nd->cap = (uint32_t)want;
    r->l->bytes = r->l->bytes - old + want;
    r->l->a[r->l->first + r->i] = nd;
    return nd->pack;
}

/* ---- compressed nodes ---- */

/* Decompress a compressed node's pack into out (node_pack_bytes(nd) bytes). */
static void lzf_unpack(const struct qlist_node *nd, unsigned char *out)
{
    uint32_t raw = rd32(nd->pack + LZF_RAW_AT), zlen = rd32(nd->pack + LZF_LEN_AT);
    unsigned got = lzf_decompress(nd->pack + LZF_HDR, zlen, out, raw);
    assert(got == raw); /* made by node_compress, never written since */
    (void)got;
}

/* The thread's scratch buffer: the last compressed node read (read_at), decompressed. */
struct scratch {
    unsigned char *buf;
    size_t cap;
    const struct qlist_node *of;
    uint64_t serial;
};

static tss_t scratch_key;
static once_flag scratch_once = ONCE_FLAG_INIT;

static void scratch_free(void *p)
{
    struct scratch *sc = p;
    mem_free(sc->buf);
    mem_free(sc);
}

static void scratch_init(void)
{
    int rc = tss_create(&scratch_key, scratch_free);
    assert(rc == thrd_success);
    (void)rc;
}

/*
 * A compressed node's pack, decompressed into this thread's scratch buffer (or found there):
 * valid until this thread reads another compressed node.
 */
static const unsigned char *lzf_read(const struct qlist_node *nd)
{
    call_once(&scratch_once, scratch_init);
    struct scratch *sc = tss_get(scratch_key);
    if (sc == NULL) {
        sc = mem_calloc(sizeof(*sc));
        tss_set(scratch_key, sc);
    }
    uint64_t serial = rd64(nd->pack + LZF_SERIAL_AT);
    if (sc->of == nd && sc->serial == serial)
        return sc->buf;
    uint32_t raw = rd32(nd->pack + LZF_RAW_AT);
    if (sc->cap < raw) {
        mem_free(sc->buf);
        sc->buf = mem_alloc(raw);
        sc->cap = raw;
    }
    lzf_unpack(nd, sc->buf);
    sc->of = nd;
    sc->serial = serial;
    return sc->buf;
}

/* A node's pack to read, compressed or not (a compressed one: see lzf_read). */
static const unsigned char *node_read(const struct qlist_node *nd)
{
    return node_lzf(nd) ? lzf_read(nd) : nd->pack;
}

static const unsigned char *read_at(const struct qlist *l, int64_t i)
{
    return node_read(node_at(l, i));
}

/* Compress node i when that saves LZF_MIN_GAIN bytes; a node of one oversized element
 * (past the node limit) stays a pack. */
static void node_compress(struct qlist *l, int64_t i)
{
    struct qlist_node *nd = node_at(l, i);
    uint32_t raw = pack_bytes(nd->pack);
    if (raw < LZF_MIN_BYTES || raw > l->max_bytes)
        return;
    struct qlist_node *z = mem_alloc(NODE_HDR + LZF_HDR + raw);
    unsigned zlen = lzf_compress(nd->pack, raw, z->pack + LZF_HDR, raw - LZF_HDR - LZF_MIN_GAIN);
    if (zlen == 0) {
        mem_free(z);
        nd->tried = 1;
        return;
    }
    size_t sz = mem_size_class(NODE_HDR + LZF_HDR + zlen);
    z = mem_realloc(z, sz);
    atomic_init(&z->refs, 1);
    z->cap = (uint32_t)sz;
    z->tried = 0;
    uint32_t zero = 0, count = pack_count(nd->pack), zl = zlen;
    uint64_t serial = atomic_fetch_add_explicit(&lzf_serial, 1, memory_order_relaxed) + 1;
    memcpy(z->pack, &zero, 4);
    z->pack[4] = (unsigned char)count;
    z->pack[5] = (unsigned char)(count >> 8);
    memcpy(z->pack + LZF_RAW_AT, &raw, 4);
    memcpy(z->pack + LZF_LEN_AT, &zl, 4);
    memcpy(z->pack + LZF_SERIAL_AT, &serial, 8);
    l->bytes += sz;
    node_unref_list(l, nd);
    l->a[l->first + i] = z;
}

/* Make node i the list's own pack before it is written: decompressed, or copied from the
 * views that share it (copy-on-write). */
static void node_own(struct qlist *l, int64_t i)
{
    struct qlist_node *nd = node_at(l, i);
    bool lzf = node_lzf(nd);
    if (!lzf && node_alone(nd)) {
        nd->tried = 0; /* about to change: compression may pay now */
        return;
    }
    uint32_t bytes = node_pack_bytes(nd);
    struct qlist_node *cp = node_alloc(l, bytes);
    if (lzf)
        lzf_unpack(nd, cp->pack);
    else
        memcpy(cp->pack, nd->pack, bytes);
    node_unref_list(l, nd);
    l->a[l->first + i] = cp;
}

/* Whether node i is in the compressed zone: depth or more nodes from either end. */
static bool in_zone(const struct qlist *l, int64_t i)
{
    return l->depth > 0 && i >= (int64_t)l->depth && i < (int64_t)l->n - (int64_t)l->depth;
}

/* Put nodes lo..hi (clamped to the list) back to the zone rule. */
static void zone_range(struct qlist *l, int64_t lo, int64_t hi)
{
    if (lo < 0)
        lo = 0;
    if (hi >= (int64_t)l->n)
        hi = (int64_t)l->n - 1;
    for (int64_t i = lo; i <= hi; i++) {
        const struct qlist_node *nd = node_at(l, i);
        bool lzf = node_lzf(nd);
        if (in_zone(l, i) && !lzf && !nd->tried)
            node_compress(l, i);
        else if (!in_zone(l, i) && lzf)
            node_own(l, i);
    }
}

/*
 * After a write that touched nodes lo..hi (their indices now): those and their neighbours,
 * and, when the number of nodes changed, the nodes within depth of either end, which nodes
 * added or dropped anywhere move across the zone's edges.
 */
static void zone_fix(struct qlist *l, int64_t lo, int64_t hi)
{
    if (l->depth == 0)
        return;
    zone_range(l, lo - 1, hi + 1);
    if (l->n != l->zone_n) {
        int64_t d = l->depth, n = l->n;
        zone_range(l, 0, d);
        zone_range(l, n - 1 - d, n - 1);
        l->zone_n = l->n;
    }
}

/* pack_splice on node i (copied first if shared); the caller adjusts l->count. */
static void edit(struct qlist *l, int64_t i, uint32_t off, uint32_t ndel,
                 const struct pack_elem *ins, uint32_t nins, uint32_t *out_off)
{
    node_own(l, i);
    struct resize_ctx r = { l, i };
    unsigned char *p = pack_at(l, i);
    int rc = pack_splice(&p, off, ndel, ins, nins, node_resize, &r, out_off);
    assert(rc == 0); /* elements checked by the caller; the node limits sit below the pack's */
    (void)rc;
}

/* Whether node i can take one more element of esz bytes. An empty node takes anything. */
static bool fits(const struct qlist *l, int64_t i, size_t esz)
{
    const struct qlist_node *nd = node_at(l, i);
    uint32_t c = node_count(nd);
    return c == 0 || (c + 1 <= l->max_count && node_pack_bytes(nd) + esz <= l->max_bytes);
}

/* Move node i's elements from off on into a new node i + 1. */
static void split(struct qlist *l, int64_t i, uint32_t off)
{
    node_add(l, i + 1);
    struct resize_ctx r = { l, i + 1 };
    unsigned char *q = pack_at(l, i + 1);
    int rc = pack_append_from(&q, pack_at(l, i), off, node_resize, &r);
    assert(rc == 0);
    (void)rc;
    edit(l, i, off, pack_count(q), NULL, 0, NULL);
}

/* Merge node i + 1 into node i when both fit in one node. */
static void try_merge(struct qlist *l, int64_t i)
{
    if (i < 0 || i + 1 >= (int64_t)l->n)
        return;
    const struct qlist_node *a = node_at(l, i), *b = node_at(l, i + 1);
    if (node_count(a) + node_count(b) > l->max_count ||
        node_pack_bytes(a) + node_pack_bytes(b) - PACK_HDR_WIDE > l->max_bytes)
        return;
    node_own(l, i);
    struct resize_ctx r = { l, i };
    unsigned char *p = pack_at(l, i);
    const unsigned char *q = read_at(l, i + 1);
    int rc = pack_append_from(&p, q, pack_first(q), node_resize, &r);
    assert(rc == 0);
    (void)rc;
    node_drop(l, i + 1);
}

/* After node i lost elements: drop it if empty, else merge it with a neighbour that fits. */
static void settle(struct qlist *l, int64_t i)
{
    if (i < 0 || i >= (int64_t)l->n)
        return;
    if (node_count(node_at(l, i)) == 0) {
        node_drop(l, i);
        try_merge(l, i - 1);
        return;
    }
    try_merge(l, i);
    try_merge(l, i - 1);
}

/* The node holding element idx (0 <= idx < count), counting from the nearer end; *k: its
 * index in the node. */
static int64_t locate(const struct qlist *l, uint64_t idx, uint32_t *k)
{
    if (idx < l->count / 2) {
        int64_t i = 0;
        for (;; i++) {
            uint32_t c = node_count(node_at(l, i));
            if (idx < c)
                break;
            idx -= c;
        }
        *k = (uint32_t)idx;
        return i;
    }
    uint64_t back = l->count - idx; /* 1 = the last element */
    int64_t i = (int64_t)l->n - 1;
    uint32_t c;
    for (;; i--) {
        c = node_count(node_at(l, i));
        if (back <= c)
            break;
        back -= c;
    }
    *k = c - (uint32_t)back;
    return i;
}

/* idx made non-negative; false when out of range. */
static bool norm(const struct qlist *l, int64_t idx, uint64_t *out)
{
    if (idx < 0)
        idx += (int64_t)l->count;
    if (idx < 0 || (uint64_t)idx >= l->count)
        return false;
    *out = (uint64_t)idx;
    return true;
}

/*
 * Insert e (esz bytes) at offset off of node i (off = pack_bytes to append): into node i
 * when it fits, else into the neighbour at that end, else into a new node (splitting node i
 * when off is inside it).
 */
static void insert_at(struct qlist *l, int64_t i, uint32_t off, const struct pack_elem *e,
                      size_t esz)
{
    if (l->n == 0) {
        node_add(l, 0);
        i = 0;
        off = PACK_HDR_WIDE;
    }
    l->count++;
    if (fits(l, i, esz)) {
        edit(l, i, off, 0, e, 1, NULL);
        return;
    }
    if (off == node_pack_bytes(node_at(l, i))) {
        if (i + 1 >= (int64_t)l->n || !fits(l, i + 1, esz))
            node_add(l, i + 1);
        edit(l, i + 1, PACK_HDR_WIDE, 0, e, 1, NULL);
    } else if (off == PACK_HDR_WIDE) {
        if (i > 0 && fits(l, i - 1, esz)) {
            edit(l, i - 1, node_pack_bytes(node_at(l, i - 1)), 0, e, 1, NULL);
        } else {
            node_add(l, i);
            edit(l, i, PACK_HDR_WIDE, 0, e, 1, NULL);
        }
    } else {
        node_own(l, i);
        split(l, i, off);
        if (fits(l, i, esz)) {
            edit(l, i, pack_bytes(pack_at(l, i)), 0, e, 1, NULL);
        } else {
            if (!fits(l, i + 1, esz))
                node_add(l, i + 1);
            edit(l, i + 1, PACK_HDR_WIDE, 0, e, 1, NULL);
        }
        try_merge(l, i + 1); /* the halves may now fit with their outer neighbours */
        try_merge(l, i - 1);
    }
}

/* ---- the list ---- */
/*
 * Bytes e takes in a node's pack, or 0 when a node cannot hold it: what a pack refuses, and
 * anything over QLIST_MAX_ELEM, so that a node's size stays within its 32-bit size field
 * whatever the allocator rounds it up to.
 */
static size_t elem_size(const struct pack_elem *e)
{
    size_t sz = pack_elem_size(e);
    return sz > QLIST_MAX_ELEM ? 0 : sz;
}

struct qlist *qlist_create_limits(uint32_t max_count, uint32_t max_node_bytes)
{
    struct qlist *l = mem_calloc(sizeof(*l));
    l->bytes = mem_size_class(sizeof(*l));
    l->max_count = max_count < 1 ? 1 : max_count > PACK_MAX_COUNT ? PACK_MAX_COUNT : max_count;
    if (max_node_bytes < NODE_HDR + PACK_HDR_WIDE)
        max_node_bytes = NODE_HDR + PACK_HDR_WIDE;
    l->max_bytes = max_node_bytes - (uint32_t)NODE_HDR;
    return l;
}

void qlist_fill_limits(int fill, uint32_t *max_count, uint32_t *max_node_bytes)
{
    if (fill < -5)
        fill = -5;
    if (fill == 0)
        fill = 1;
    if (fill > (int)PACK_MAX_COUNT)
        fill = (int)PACK_MAX_COUNT;
    *max_count = fill < 0 ? PACK_MAX_COUNT : (uint32_t)fill;
    *max_node_bytes = fill < 0 ? 4096u << (-fill - 1) : QLIST_SAFETY_BYTES;
}

bool qlist_pack_fits(int fill, uint32_t count, size_t pack_bytes)
{
    uint32_t max_count, max_node_bytes;
    qlist_fill_limits(fill, &max_count, &max_node_bytes);
    return count <= max_count && pack_bytes + NODE_HDR <= max_node_bytes;
}

struct qlist *qlist_create(int fill)
{
    uint32_t max_count, max_node_bytes;
    qlist_fill_limits(fill, &max_count, &max_node_bytes);
    return qlist_create_limits(max_count, max_node_bytes);
}

void qlist_destroy(struct qlist *l)
{
    if (l == NULL)
        return;
    for (uint32_t i = 0; i < l->n; i++)
        node_unref_list(l, node_at(l, i));
    mem_free(l->a);
    mem_free(l);
}

size_t qlist_tail_bytes(const struct qlist *l, uint32_t k)
{
    size_t n = 0;
    for (uint32_t i = l->n - MIN(k, l->n); i < l->n; i++)
        n += node_at(l, i)->cap;
    return n;
}

void qlist_free_tail(struct qlist *l, uint32_t k)
{
    k = MIN(k, l->n);
    for (uint32_t i = l->n - k; i < l->n; i++)
        node_unref_list(l, node_at(l, i));
    l->n -= k; /* the array keeps its size: the list is on its way out */
}

void qlist_set_depth(struct qlist *l, int depth)
{
    assert(l->n == 0);
    l->depth = depth < 0 ? 0 : (uint32_t)depth;
}

int qlist_depth(const struct qlist *l)
{
    return (int)l->depth;
}

uint64_t qlist_len(const struct qlist *l)
{
    return l->count;
}

size_t qlist_bytes(const struct qlist *l)
{
    return l->bytes;
}

uint32_t qlist_nodes(const struct qlist *l)
{
    return l->n;
}

int qlist_push(struct qlist *l, bool head, const struct pack_elem *e)
{
    size_t esz = elem_size(e);
    if (esz == 0)
        return -EINVAL;
    if (head || l->n == 0) {
        insert_at(l, 0, PACK_HDR_WIDE, e, esz);
        zone_fix(l, 0, 0);
    } else {
        insert_at(l, l->n - 1, node_pack_bytes(node_at(l, l->n - 1)), e, esz);
        zone_fix(l, (int64_t)l->n - 1, (int64_t)l->n - 1);
    }
    return 0;
}

bool qlist_index(const struct qlist *l, int64_t idx, struct pack_elem *e)
{
    uint64_t u;
    if (!norm(l, idx, &u))
        return false;
    uint32_t k;
    int64_t i = locate(l, u, &k);
    const unsigned char *p = read_at(l, i);
    pack_get(p, pack_seek(p, k), e);
    return true;
}

bool qlist_pop(struct qlist *l, bool head)
{
    if (l->count == 0)
        return false;
    int64_t i = head ? 0 : (int64_t)l->n - 1;
    node_own(l, i);
    edit(l, i, head ? PACK_HDR_WIDE : pack_last(pack_at(l, i)), 1, NULL, 0, NULL);
    l->count--;
    settle(l, i);
    zone_fix(l, i - 1, i);
    return true;
}

int qlist_replace(struct qlist *l, int64_t idx, const struct pack_elem *e)
{
    size_t esz = elem_size(e);
    if (esz == 0)
        return -EINVAL;
    uint64_t u;
    if (!norm(l, idx, &u))
        return -ERANGE;
    uint32_t k, off;
    int64_t i = locate(l, u, &k);
    node_own(l, i);
    edit(l, i, pack_seek(pack_at(l, i), k), 1, NULL, 0, &off);
    l->count--;
    insert_at(l, i, off, e, esz); /* the node keeps room for it unless e is larger */
    zone_fix(l, i - 1, i + 2);
    return 0;
}

uint64_t qlist_del_range(struct qlist *l, int64_t start, uint64_t n)
{
    uint64_t s;
    if (n == 0 || !norm(l, start, &s))
        return 0;
    if (n > l->count - s)
        n = l->count - s;
    uint32_t k;
    int64_t i = locate(l, s, &k);
    int64_t j = i, whole_from = -1;
    uint32_t whole = 0;
    for (uint64_t left = n; left > 0; j++, k = 0) {
        uint32_t c = node_count(node_at(l, j));
        uint32_t take = left < c - k ? (uint32_t)left : c - k;
        if (take == c) {
            if (whole++ == 0)
                whole_from = j;
        } else {
            node_own(l, j);
            edit(l, j, pack_seek(pack_at(l, j), k), take, NULL, 0, NULL);
        }
        left -= take;
    }
    for (uint32_t w = 0; w < whole; w++)
        node_unref_list(l, node_at(l, whole_from + w));
    if (whole > 0)
        arr_remove(l, whole_from, whole);
    l->count -= n;
    /* the seam: the first node (if partly cut) and the one after the range */
    settle(l, i + 1);
    settle(l, i);
    settle(l, i - 1);
    zone_fix(l, i - 1, i + 1);
    return n;
}

/* ---- walks ---- */

void qlist_iter_init(struct qlist_iter *it, struct qlist *l, int64_t idx, bool fwd)
{
    *it = (struct qlist_iter){ .l = l, .fwd = fwd, .cur_node = -1, .lo = INT64_MAX, .hi = -1 };
    uint64_t u;
    if (!norm(l, idx, &u)) {
        it->node = fwd ? (int64_t)l->n : -1;
        it->off = 0;
        return;
    }
    uint32_t k;
    it->node = locate(l, u, &k);
    it->off = pack_seek(read_at(l, it->node), k);
}

bool qlist_iter_next(struct qlist_iter *it, struct pack_elem *e)
{
    struct qlist *l = it->l;
    while (it->off == 0) {
        int64_t next = it->node + (it->fwd ? 1 : -1);
        if (next < 0 || next >= (int64_t)l->n) {
            it->node = it->fwd ? (int64_t)l->n : -1;
            it->cur_node = -1;
            return false;
        }
        it->node = next;
        const unsigned char *p = read_at(l, next);
        it->off = it->fwd ? pack_first(p) : pack_last(p);
    }
    const unsigned char *p = read_at(l, it->node);
    it->cur_node = it->node;
    it->cur_off = it->off;
    pack_get(p, it->off, e);
    it->off = it->fwd ? pack_next(p, it->off) : pack_prev(p, it->off);
    return true;
}

bool qlist_iter_eq(const struct qlist_iter *it, const struct pack_needle *n)
{
    assert(it->cur_node >= 0);
    return pack_eq(read_at(it->l, it->cur_node), it->cur_off, n);
}

void qlist_iter_del(struct qlist_iter *it)
{
    struct qlist *l = it->l;
    int64_t i = it->cur_node;
    assert(i >= 0);
    uint32_t o;
    edit(l, i, it->cur_off, 1, NULL, 0, &o);
    l->count--;
    it->cur_node = -1;
    if (pack_count(pack_at(l, i)) == 0) {
        node_drop(l, i);
        it->node = it->fwd ? i - 1 : i; /* the next step lands on the neighbour */
        it->off = 0;
        i--;
    } else if (it->fwd) {
        it->node = i;
        it->off = o < pack_bytes(pack_at(l, i)) ? o : 0;
    } /* backward: the element before is where it was */
    if (i < it->lo)
        it->lo = i;
    if (i > it->hi)
        it->hi = i;
}

int qlist_iter_insert(struct qlist_iter *it, bool after, const struct pack_elem *e)
{
    struct qlist *l = it->l;
    size_t esz = elem_size(e);
    if (esz == 0)
        return -EINVAL;
    int64_t i = it->cur_node;
    assert(i >= 0);
    uint32_t off = it->cur_off;
    if (after) {
        const unsigned char *p = read_at(l, i);
        off = pack_next(p, off);
        if (off == 0)
            off = pack_bytes(p);
    }
    insert_at(l, i, off, e, esz);
    /* the nodes the insertion may have split or merged, for qlist_iter_done */
    it->lo = MIN(it->lo, i - 1);
    it->hi = MAX(it->hi, i + 2);
    it->cur_node = -1;
    it->node = it->fwd ? (int64_t)l->n : -1;
    it->off = 0;
    return 0;
}

void qlist_iter_done(struct qlist_iter *it)
{
    /* downward, so a merge (which removes the node after) shifts only nodes already done */
    for (int64_t j = it->hi + 1; j >= it->lo - 1 && j >= 0; j--)
        settle(it->l, j);
    if (it->lo <= it->hi)
        zone_fix(it->l, it->lo - 1, it->hi + 1);
    it->lo = INT64_MAX;
    it->hi = -1;
}

/* ---- frozen views ---- */

struct qlist_view *qlist_freeze(struct qlist *l)
{
    size_t sz = mem_size_class(sizeof(struct qlist_view) + l->n * sizeof(struct qlist_node *));
    struct qlist_view *v = mem_alloc(sz);
    v->count = l->count;
    v->n = l->n;
    v->bytes = sz;
    for (uint32_t i = 0; i < l->n; i++) {
        v->a[i] = node_at(l, i);
        atomic_fetch_add_explicit(&v->a[i]->refs, 1, memory_order_relaxed);
    }
    return v;
}

void qlist_view_release(struct qlist_view *v)
{
    if (v == NULL)
        return;
    for (uint32_t i = 0; i < v->n; i++)
        node_unref(v->a[i]);
    mem_free(v);
}

uint64_t qlist_view_len(const struct qlist_view *v)
{
    return v->count;
}

uint32_t qlist_view_nodes(const struct qlist_view *v)
{
    return v->n;
}

const unsigned char *qlist_view_pack(const struct qlist_view *v, uint32_t i)
{
    assert(i < v->n);
    return node_read(v->a[i]);
}

size_t qlist_view_bytes(const struct qlist_view *v)
{
    return v->bytes;
}

bool qlist_check(const struct qlist *l)
{
    uint64_t count = 0;
    size_t bytes = mem_size_class(sizeof(*l));
    if (l->a != NULL)
        bytes += mem_size_class(l->cap * sizeof(*l->a));
    if (l->first + l->n > l->cap && l->n > 0)
        return false;
    for (uint32_t i = 0; i < l->n; i++) {
        const struct qlist_node *nd = node_at(l, i);
        uint32_t c = node_count(nd), b = node_pack_bytes(nd);
        bool lzf = node_lzf(nd);
        if (atomic_load_explicit(&nd->refs, memory_order_relaxed) == 0 || c == 0 ||
            (!lzf && NODE_HDR + b > nd->cap))
            return false;
        if (c > 1 && (c > l->max_count || b > l->max_bytes))
            return false;
        const unsigned char *p = read_at(l, i);
        if (!pack_validate(p, b) || pack_count(p) != c)
            return false;
        /* the zone rule: compressed exactly where depth asks, unless it would not pay */
        if (lzf ? !in_zone(l, i)
                : in_zone(l, i) && !nd->tried && b >= LZF_MIN_BYTES && b <= l->max_bytes)
            return false;
        count += c;
        bytes += nd->cap;
    }
    return count == l->count && bytes == l->bytes;
}
