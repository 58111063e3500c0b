/*
 * The ordered index of a big sorted set (types/zindex.h): a B+tree with counted children.
 *
 * Node layout (ZINDEX_NODE_BYTES each, one allocation):
 *
 *   leaf:  | n (u16) height 0 | prev | next | score[LEAF_CAP] | elem[LEAF_CAP] |
 *   inner: | n (u16) height h | score[INNER_CAP] | elem[INNER_CAP] | child[..] | count[..] |
 *
 * Scores and elements are kept in separate arrays so a binary search over scores touches
 * only the score lines; member bytes are read only between equal scores. An inner node keeps
 * for every child (the first one included) the child's smallest key and its element count:
 * a node's smallest key is then its first key whatever its height, so moving children between
 * siblings moves whole (key, child, count) columns, and a separator always names a live
 * element (deleting an element's last reference updates the keys on its path).
 *
 * Fill: a full leaf first shares its entries with a sibling that has room; nodes split in two
 * halves when full, except on the tree's edges, where ascending or descending keys leave full
 * nodes behind (make_room); a node below half full after a delete takes entries from a
 * sibling, or merges with it when both fit in one node. The root is exempt;
 * an inner root with one child is replaced by that child, an empty leaf root is freed.
 */
#include "types/zindex.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "base/mem.h"

#define NODE_HDR  8u
#define LEAF_CAP  ((ZINDEX_NODE_BYTES - NODE_HDR - 2 * sizeof(void *)) / 16)
#define INNER_CAP ((ZINDEX_NODE_BYTES - NODE_HDR) / (16 + sizeof(void *) + 4))
#define LEAF_MIN  (LEAF_CAP / 2)
#define INNER_MIN (INNER_CAP / 2)

struct node {
    uint16_t n;
    uint16_t height;
    uint32_t pad_;
};

struct zindex_leaf {
    struct node h;
    struct zindex_leaf *prev, *next;
    double score[LEAF_CAP];
    const void *elem[LEAF_CAP];
};

struct inner {
    struct node h;
    double score[INNER_CAP];
    const void *elem[INNER_CAP];
    struct node *child[INNER_CAP];
    uint32_t cnt[INNER_CAP];
};

_Static_assert(sizeof(struct zindex_leaf) <= ZINDEX_NODE_BYTES, "leaf fits its node size");
_Static_assert(sizeof(struct inner) <= ZINDEX_NODE_BYTES, "inner node fits its node size");
_Static_assert(LEAF_CAP >= 4 && INNER_CAP >= 4, "a node holds at least four entries");

/* ---- keys and bounds ---- */

/* What a search looks for: the elements that sort before it are counted or skipped. */
enum bound_kind {
    B_KEY_LT,   /* keys < (score, elem) */
    B_KEY_LE,   /* keys <= (score, elem) */
    B_SCORE_GE, /* scores < x */
    B_SCORE_GT, /* scores <= x */
    B_LEX_GE,   /* members < m */
    B_LEX_GT,   /* members <= m */
};

struct bound {
    enum bound_kind kind;
    double score;
    const void *elem;
    const unsigned char *m; /* B_LEX_*, and B_KEY_* once the member was needed */
    size_t len;
};

static int bytes_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Sign of member(e) - b's member; b's bytes are fetched once per search. */
static int member_cmp(const struct zindex *z, const void *e, struct bound *b)
{
    size_t len;
    const unsigned char *p = z->member(z->ctx, e, &len);
    if (b->m == NULL)
        b->m = z->member(z->ctx, b->elem, &b->len);
    return bytes_cmp(p, len, b->m, b->len);
}

/* Whether the element (s, e) sorts before the bound b. */
static bool before(const struct zindex *z, struct bound *b, double s, const void *e)
{
    switch (b->kind) {
    case B_KEY_LT:
    case B_KEY_LE:
        if (s != b->score)
            return s < b->score;
        if (e == b->elem)
            return b->kind == B_KEY_LE;
        return b->kind == B_KEY_LT ? member_cmp(z, e, b) < 0 : member_cmp(z, e, b) <= 0;
    case B_SCORE_GE:
        return s < b->score;
    case B_SCORE_GT:
        return s <= b->score;
    case B_LEX_GE:
    case B_LEX_GT: {
        size_t len;
        const unsigned char *p = z->member(z->ctx, e, &len);
        int c = bytes_cmp(p, len, b->m, b->len);
        return b->kind == B_LEX_GE ? c < 0 : c <= 0;
    }
    }
    return false;
}

/* How many of the n sorted keys from index lo on sort before b (binary search). */
static unsigned count_before(const struct zindex *z, struct bound *b, const double *score,
                             const void *const *elem, unsigned lo, unsigned n)
{
    unsigned hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (before(z, b, score[mid], elem[mid]))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The child of in that holds the elements b falls among: the last whose smallest key is before b.
 */
static unsigned child_for(const struct zindex *z, struct bound *b, const struct inner *in)
{
    return count_before(z, b, in->score, in->elem, 1, in->h.n) - 1;
}

/* ---- nodes ---- */

static void *node_new(struct zindex *z, size_t size, unsigned height)
{
    struct node *nd = mem_alloc(size);
    nd->n = 0;
    nd->height = (uint16_t)height;
    z->bytes += mem_size_class(size);
    return nd;
}

static void node_free(struct zindex *z, struct node *nd)
{
    z->bytes -= mem_size_class(nd->height ? sizeof(struct inner) : sizeof(struct zindex_leaf));
    mem_free(nd);
}

/* The smallest key under nd (nd not empty). */
static void node_min(const struct node *nd, double *s, const void **e)
{
    if (nd->height == 0) {
        const struct zindex_leaf *l = (const struct zindex_leaf *)nd;
        *s = l->score[0];
        *e = l->elem[0];
    } else {
        const struct inner *in = (const struct inner *)nd;
        *s = in->score[0];
        *e = in->elem[0];
    }
}

/* Elements under nd. */
static size_t node_total(const struct node *nd)
{
    if (nd->height == 0)
        return nd->n;
    const struct inner *in = (const struct inner *)nd;
    size_t t = 0;
    for (unsigned i = 0; i < in->h.n; i++)
        t += in->cnt[i];
    return t;
}

/* Refresh the key and count in's child j carries (after the child changed). */
static void inner_sync(struct inner *in, unsigned j)
{
    node_min(in->child[j], &in->score[j], &in->elem[j]);
    in->cnt[j] = (uint32_t)node_total(in->child[j]);
}

/* Move n entries of a node of this height from index from of src to index to of dst. */
static void entries_copy(struct node *dst, unsigned to, const struct node *src, unsigned from,
                         unsigned n)
{
    if (n == 0)
        return;
    if (dst->height == 0) {
        struct zindex_leaf *d = (struct zindex_leaf *)dst;
        const struct zindex_leaf *s = (const struct zindex_leaf *)src;
        memmove(&d->score[to], &s->score[from], n * sizeof(double));
        memmove(&d->elem[to], &s->elem[from], n * sizeof(void *));
    } else {
        struct inner *d = (struct inner *)dst;
        const struct inner *s = (const struct inner *)src;
        memmove(&d->score[to], &s->score[from], n * sizeof(double));
        memmove(&d->elem[to], &s->elem[from], n * sizeof(void *));
        memmove(&d->child[to], &s->child[from], n * sizeof(void *));
        memmove(&d->cnt[to], &s->cnt[from], n * sizeof(uint32_t));
    }
}

/* Open a gap of one entry at pos (the node has room). */
static void entries_open(struct node *nd, unsigned pos)
{
    entries_copy(nd, pos + 1, nd, pos, nd->n - pos);
    nd->n++;
}

/* Close the entry at pos. */
static void entries_close(struct node *nd, unsigned pos)
{
    entries_copy(nd, pos, nd, pos + 1, nd->n - pos - 1);
    nd->n--;
}

/* Split a full node: its entries from index keep on go to a new right sibling, returned. */
static struct node *node_split(struct zindex *z, struct node *nd, unsigned keep)
{
    struct node *r;
    if (nd->height == 0) {
        struct zindex_leaf *l = (struct zindex_leaf *)nd;
        struct zindex_leaf *rl = node_new(z, sizeof(*rl), 0);
        rl->prev = l;
        rl->next = l->next;
        if (l->next != NULL)
            l->next->prev = rl;
        l->next = rl;
        r = &rl->h;
    } else {
        r = node_new(z, sizeof(struct inner), nd->height);
    }
    entries_copy(r, 0, nd, keep, nd->n - keep);
    r->n = (uint16_t)(nd->n - keep);
    nd->n = (uint16_t)keep;
    return r;
}

/* Where a node sits in the tree: on the left edge (lowest keys), the right edge, both or none. */
enum edge { EDGE_LEFT = 1, EDGE_RIGHT = 2 };

/*
 * Room for one entry at *pos of nd: nd itself, or when full, the part of it that *pos falls in
 * after the split (*pos rebased; *right receives the new sibling). A full node splits in
 * halves, except on the edges of the tree: an entry past the end of the last leaf (or before
 * the start of the first) gets a leaf of its own, and an inner node on the edge keeps all its
 * children but one. Ascending or descending inserts (timestamps as scores) then leave full
 * nodes behind them instead of half-full ones. Every inner node but the root keeps at least
 * two children, so a leaf always has a sibling to borrow from or merge with.
 */
static struct node *make_room(struct zindex *z, struct node *nd, unsigned cap, unsigned *pos,
                              unsigned edge, struct node **right)
{
    *right = NULL;
    if (nd->n < cap)
        return nd;
    /* an inner node hands one old child along, so neither half has fewer than two */
    unsigned n = nd->n, keep = n / 2, along = nd->height > 0;
    if ((edge & EDGE_RIGHT) && *pos == n)
        keep = n - along;
    else if ((edge & EDGE_LEFT) && *pos == along) /* a split child's sibling comes at 1 */
        keep = along;
    *right = node_split(z, nd, keep);
    if (*pos < keep || (*pos == keep && keep < n))
        return nd;
    *pos -= keep;
    return *right;
}

/* Whether the entry at pos of l (the first not before b's key) is b's key itself. */
static bool key_at(const struct zindex *z, struct bound *b, const struct zindex_leaf *l,
                   unsigned pos)
{
    if (pos == l->h.n || l->score[pos] != b->score)
        return false;
    b->kind = B_KEY_LE;
    return before(z, b, l->score[pos], l->elem[pos]);
}

/* Even out the entries of in's children li and li + 1 (siblings of one height). */
static void share(struct inner *in, unsigned li)
{
    struct node *l = in->child[li], *r = in->child[li + 1];
    unsigned want = (l->n + r->n) / 2; /* entries left keeps */
    if (l->n > want) {
        unsigned k = l->n - want;
        entries_copy(r, k, r, 0, r->n);
        entries_copy(r, 0, l, want, k);
        r->n = (uint16_t)(r->n + k);
    } else {
        unsigned k = want - l->n;
        entries_copy(l, l->n, r, 0, k);
        entries_copy(r, 0, r, k, r->n - k);
        r->n = (uint16_t)(r->n - k);
    }
    l->n = (uint16_t)want;
    inner_sync(in, li);
    inner_sync(in, li + 1);
}

void zindex_init(struct zindex *z, zindex_member_fn member, void *ctx)
{
    memset(z, 0, sizeof(*z));
    z->member = member;
    z->ctx = ctx;
}

static void free_rec(struct zindex *z, struct node *nd)
{
    if (nd->height > 0) {
        struct inner *in = (struct inner *)nd;
        for (unsigned i = 0; i < in->h.n; i++)
            free_rec(z, in->child[i]);
    }
    node_free(z, nd);
}

void zindex_deinit(struct zindex *z)
{
    if (z->root != NULL)
        free_rec(z, z->root);
    z->root = NULL;
    z->count = 0;
    z->height = 0;
}

bool zindex_drain(struct zindex *z, size_t *budget)
{
    /* the rightmost node with nothing under it goes first: a leaf, or an inner node whose
     * children are gone (its count shrinks as they go), so no stack is needed */
    while (z->root != NULL && *budget > 0) {
        struct node *parent = NULL, *nd = z->root;
        while (nd->height > 0 && nd->n > 0) {
            parent = nd;
            nd = ((struct inner *)nd)->child[nd->n - 1];
        }
        node_free(z, nd);
        (*budget)--;
        if (parent != NULL)
            parent->n--;
        else
            z->root = NULL;
    }
    if (z->root != NULL)
        return false;
    z->count = 0;
    z->height = 0;
    return true;
}

/* ---- insert ---- */

/*
 * Insert under nd. @return a new right sibling when nd split (the caller links it), else NULL;
 * *err is set on a duplicate.
 */
static struct node *insert_rec(struct zindex *z, struct node *nd, unsigned edge, struct bound *b,
                               int *err)
{
    if (nd->height == 0) {
        struct zindex_leaf *l = (struct zindex_leaf *)nd;
        b->kind = B_KEY_LT;
        unsigned pos = count_before(z, b, l->score, l->elem, 0, l->h.n);
        if (key_at(z, b, l, pos)) {
            *err = -EEXIST;
            return NULL;
        }
        struct node *r;
        l = (struct zindex_leaf *)make_room(z, nd, LEAF_CAP, &pos, edge, &r);
        entries_open(&l->h, pos);
        l->score[pos] = b->score;
        l->elem[pos] = b->elem;
        return r;
    }
    struct inner *in = (struct inner *)nd;
    b->kind = B_KEY_LE;
    unsigned j = child_for(z, b, in);
    if (in->child[j]->height == 0 && in->child[j]->n == LEAF_CAP) {
        /*
         * A full leaf shares its entries with a sibling that has room rather than split
         * (B*-tree style): random inserts leave leaves fuller than the 2/3 that splits alone
         * give. The key's leaf is chosen again after the move.
         */
        if (j > 0 && in->child[j - 1]->n < LEAF_CAP - 1)
            share(in, j - 1);
        else if (j + 1u < in->h.n && in->child[j + 1]->n < LEAF_CAP - 1)
            share(in, j);
        j = child_for(z, b, in);
    }
    unsigned cedge = (j == 0 ? edge & EDGE_LEFT : 0) | (j + 1u == in->h.n ? edge & EDGE_RIGHT : 0);
    struct node *cr = insert_rec(z, in->child[j], cedge, b, err);
    if (*err != 0)
        return NULL;
    if (cr == NULL) {
        in->cnt[j]++;
        node_min(in->child[j], &in->score[j], &in->elem[j]);
        return NULL;
    }
    inner_sync(in, j);
    struct node *r;
    unsigned pos = j + 1;
    in = (struct inner *)make_room(z, nd, INNER_CAP, &pos, edge, &r);
    entries_open(&in->h, pos);
    in->child[pos] = cr;
    inner_sync(in, pos);
    return r;
}

int zindex_insert(struct zindex *z, double score, const void *elem)
{
    assert(score == score);
    if (z->count >= ZINDEX_MAX_COUNT)
        return -E2BIG;
    if (z->root == NULL) {
        struct zindex_leaf *l = node_new(z, sizeof(*l), 0);
        l->prev = l->next = NULL;
        z->root = l;
        z->height = 0;
    }
    struct bound b = { .score = score, .elem = elem };
    int err = 0;
    struct node *r = insert_rec(z, z->root, EDGE_LEFT | EDGE_RIGHT, &b, &err);
    if (err != 0)
        return err;
    if (r != NULL) {
        struct inner *in = node_new(z, sizeof(*in), z->height + 1);
        in->h.n = 2;
        in->child[0] = z->root;
        in->child[1] = r;
        inner_sync(in, 0);
        inner_sync(in, 1);
        z->root = in;
        z->height++;
    }
    z->count++;
    return 0;
}

/* ---- delete ---- */

/*
 * in's child j fell below half full: take entries from a sibling, or merge the two when they
 * fit in one node (the right one is freed and its column closed in in).
 */
static void rebalance(struct zindex *z, struct inner *in, unsigned j)
{
    unsigned li = j > 0 ? j - 1 : j, ri = li + 1;
    struct node *l = in->child[li], *r = in->child[ri];
    unsigned cap = l->height == 0 ? LEAF_CAP : INNER_CAP;
    unsigned total = l->n + r->n;
    if (total <= cap) {
        entries_copy(l, l->n, r, 0, r->n);
        l->n = (uint16_t)total;
        if (l->height == 0) {
            struct zindex_leaf *ll = (struct zindex_leaf *)l, *rl = (struct zindex_leaf *)r;
            ll->next = rl->next;
            if (rl->next != NULL)
                rl->next->prev = ll;
        }
        node_free(z, r);
        entries_close(&in->h, ri);
        inner_sync(in, li);
        return;
    }
    share(in, li);
}

static int delete_rec(struct zindex *z, struct node *nd, struct bound *b)
{
    if (nd->height == 0) {
        struct zindex_leaf *l = (struct zindex_leaf *)nd;
        b->kind = B_KEY_LT;
        unsigned pos = count_before(z, b, l->score, l->elem, 0, l->h.n);
        if (!key_at(z, b, l, pos))
            return -ENOENT;
        entries_close(nd, pos);
        return 0;
    }
    struct inner *in = (struct inner *)nd;
    b->kind = B_KEY_LE;
    unsigned j = child_for(z, b, in);
    struct node *c = in->child[j];
    int rc = delete_rec(z, c, b);
    if (rc != 0)
        return rc;
    if (c->n < (c->height == 0 ? LEAF_MIN : INNER_MIN))
        rebalance(z, in, j);
    else {
        in->cnt[j]--;
        node_min(c, &in->score[j], &in->elem[j]);
    }
    return 0;
}

int zindex_delete(struct zindex *z, double score, const void *elem)
{
    if (z->root == NULL)
        return -ENOENT;
    struct bound b = { .score = score, .elem = elem };
    int rc = delete_rec(z, z->root, &b);
    if (rc != 0)
        return rc;
    z->count--;
    struct node *root = z->root;
    if (root->height > 0 && root->n == 1) {
        z->root = ((struct inner *)root)->child[0];
        z->height--;
        node_free(z, root);
    } else if (root->height == 0 && root->n == 0) {
        node_free(z, root);
        z->root = NULL;
    }
    return 0;
}

int zindex_update(struct zindex *z, double old_score, double new_score, const void *elem)
{
    int rc = zindex_delete(z, old_score, elem);
    if (rc != 0)
        return rc;
    rc = zindex_insert(z, new_score, elem);
    assert(rc == 0); /* the member was unique at its old score: it is at the new one */
    return rc;
}

/* ---- searches ---- */

/*
 * How many elements sort before b. Inner nodes choose their child with inner_kind (B_KEY_LE
 * to reach the leaf holding an exact key), leaves count with b's own kind.
 */
static size_t rank_of(const struct zindex *z, struct bound *b, enum bound_kind inner_kind,
                      const struct zindex_leaf **leaf, unsigned *pos)
{
    size_t rank = 0;
    const struct node *nd = z->root;
    if (nd == NULL)
        return 0;
    enum bound_kind leaf_kind = b->kind;
    while (nd->height > 0) {
        const struct inner *in = (const struct inner *)nd;
        b->kind = inner_kind;
        unsigned j = child_for(z, b, in);
        for (unsigned i = 0; i < j; i++)
            rank += in->cnt[i];
        nd = in->child[j];
    }
    const struct zindex_leaf *l = (const struct zindex_leaf *)nd;
    b->kind = leaf_kind;
    unsigned p = count_before(z, b, l->score, l->elem, 0, l->h.n);
    if (leaf != NULL) {
        *leaf = l;
        *pos = p;
    }
    return rank + p;
}

int zindex_rank(const struct zindex *z, double score, const void *elem, size_t *rank)
{
    if (z->root == NULL)
        return -ENOENT;
    struct bound b = { .kind = B_KEY_LT, .score = score, .elem = elem };
    const struct zindex_leaf *l;
    unsigned pos;
    size_t r = rank_of(z, &b, B_KEY_LE, &l, &pos);
    if (!key_at(z, &b, l, pos))
        return -ENOENT;
    *rank = r;
    return 0;
}

size_t zindex_score_rank(const struct zindex *z, double x, bool exclusive)
{
    enum bound_kind k = exclusive ? B_SCORE_GT : B_SCORE_GE;
    struct bound b = { .kind = k, .score = x };
    return rank_of(z, &b, k, NULL, NULL);
}

size_t zindex_lex_rank(const struct zindex *z, const void *m, size_t len, bool exclusive)
{
    enum bound_kind k = exclusive ? B_LEX_GT : B_LEX_GE;
    struct bound b = { .kind = k, .m = m, .len = len };
    return rank_of(z, &b, k, NULL, NULL);
}

bool zindex_seek(const struct zindex *z, size_t rank, struct zindex_cursor *c)
{
    c->leaf = NULL;
    c->pos = 0;
    if (rank >= z->count)
        return false;
    const struct node *nd = z->root;
    while (nd->height > 0) {
        const struct inner *in = (const struct inner *)nd;
        unsigned j = 0;
        while (rank >= in->cnt[j]) {
            rank -= in->cnt[j];
            j++;
        }
        nd = in->child[j];
    }
    c->leaf = (const struct zindex_leaf *)nd;
    c->pos = (unsigned)rank;
    return true;
}

const void *zindex_at(const struct zindex *z, size_t rank, double *score)
{
    struct zindex_cursor c;
    if (!zindex_seek(z, rank, &c))
        return NULL;
    return zindex_next(&c, score);
}

const void *zindex_next(struct zindex_cursor *c, double *score)
{
    const struct zindex_leaf *l = c->leaf;
    if (l == NULL)
        return NULL;
    const void *e = l->elem[c->pos];
    if (score != NULL)
        *score = l->score[c->pos];
    if (++c->pos == l->h.n) {
        c->leaf = l->next;
        c->pos = 0;
    }
    return e;
}

const void *zindex_prev(struct zindex_cursor *c, double *score)
{
    const struct zindex_leaf *l = c->leaf;
    if (l == NULL)
        return NULL;
    const void *e = l->elem[c->pos];
    if (score != NULL)
        *score = l->score[c->pos];
    if (c->pos == 0) {
        c->leaf = l->prev;
        c->pos = l->prev != NULL ? l->prev->h.n - 1u : 0;
    } else {
        c->pos--;
    }
    return e;
}
