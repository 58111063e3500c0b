/*
 * The ordered index of a big sorted set: a B+tree over (score, element).
 *
 * The index holds opaque element pointers with their score and orders them by score, then by
 * member bytes (memcmp, the shorter first on a common prefix), as Redis orders ties. It never
 * reads an element itself: the caller's member function returns an element's bytes, so the
 * index stores 16 bytes per element (score + pointer) in its leaves. Members are unique, so
 * (score, member) is a unique key; the same element pointer is never in the index twice.
 *
 * Leaves hold sorted (score, element) pairs and are linked both ways, so a cursor walks them
 * without descending again. Inner nodes hold, per child, the child's smallest key, its pointer
 * and the number of elements below it, so rank queries and "element at rank r" are
 * O(log n). Nodes are one allocation each, ZINDEX_NODE_BYTES long (layout, fill and the
 * measurements behind the choice: dataplane/types/NOTES.md).
 *
 * An element the index points to must stay valid (same address, same member bytes) until it
 * is deleted from the index: separators are keys of live elements, and deleting an element
 * removes every reference to it. A score change is a delete and an insert (zindex_update).
 *
 * Memory: every node comes from base/mem.h; zindex_bytes() is the sum of their size classes.
 *
 * Cost model: insert, delete, rank, at-rank and the bound searches are O(log n) node visits
 * (a binary search in each; member comparisons only between equal scores); a cursor step is
 * O(1). Any insert or delete invalidates cursors.
 */
#ifndef POLLUX_ZINDEX_H
#define POLLUX_ZINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of one node (leaf or inner); one to four 64-byte cache lines. */
#ifndef ZINDEX_NODE_BYTES
#define ZINDEX_NODE_BYTES 256
#endif
#define ZINDEX_MAX_COUNT UINT32_MAX /* elements in one index (per-child counts are u32) */

/* The member bytes of elem; *len receives their length. */
typedef const unsigned char *(*zindex_member_fn)(void *ctx, const void *elem, size_t *len);

struct zindex_leaf;

struct zindex {
    void *root; /* a leaf when height is 0; NULL when empty */
    size_t count;
    size_t bytes; /* allocator bytes held (size classes of the nodes) */
    unsigned height;
    zindex_member_fn member;
    void *ctx;
};

/* A position between two insert/delete calls: a leaf and an index in it (leaf NULL: past an end).
 */
struct zindex_cursor {
    const struct zindex_leaf *leaf;
    unsigned pos;
};

void zindex_init(struct zindex *z, zindex_member_fn member, void *ctx);
/* Free every node (the elements are the caller's). The index is empty afterwards. */
void zindex_deinit(struct zindex *z);
/* The same in steps, one node per unit of *budget: @return true when z is empty. */
bool zindex_drain(struct zindex *z, size_t *budget);

static inline size_t zindex_count(const struct zindex *z)
{
    return z->count;
}

static inline size_t zindex_bytes(const struct zindex *z)
{
    return z->bytes;
}

/*
 * Add elem with score (not NaN).
 * @return 0; -EEXIST when an element with the same score and member bytes is there;
 *         -E2BIG at ZINDEX_MAX_COUNT elements.
 */
int zindex_insert(struct zindex *z, double score, const void *elem);
/*
 * Remove the element with this score and elem's member bytes.
 * @return 0; -ENOENT when there is none.
 */
int zindex_delete(struct zindex *z, double score, const void *elem);
/*
 * Move elem from old_score to new_score.
 * @return 0; -ENOENT when elem is not at old_score (nothing changed).
 */
int zindex_update(struct zindex *z, double old_score, double new_score, const void *elem);

/*
 * The 0-based rank of (score, elem) in ascending order (ZRANK; ZREVRANK is count - 1 - rank).
 * @return 0; -ENOENT when it is not in the index.
 */
int zindex_rank(const struct zindex *z, double score, const void *elem, size_t *rank);
/* The element at rank (0 the lowest) and its score (when score is not NULL); NULL past the end. */
const void *zindex_at(const struct zindex *z, size_t rank, double *score);

/*
 * The rank of the first element whose score is >= x (> x when exclusive); count when none.
 * -inf and +inf work as bounds. The elements in a score range [a, b] are the ranks from
 * zindex_score_rank(a, false) up to, not including, zindex_score_rank(b, true).
 */
size_t zindex_score_rank(const struct zindex *z, double x, bool exclusive);
/*
 * The rank of the first element whose member is >= m (> m when exclusive); count when none.
 * Meaningful only when all scores are equal (the caller's guarantee, as in Redis's
 * ZRANGEBYLEX); the "-" and "+" bounds are ranks 0 and count, the caller's to map.
 */
size_t zindex_lex_rank(const struct zindex *z, const void *m, size_t len, bool exclusive);

/* Place c at rank. @return false (c past the end) when rank >= count. */
bool zindex_seek(const struct zindex *z, size_t rank, struct zindex_cursor *c);
/*
 * The element at c (and its score when score is not NULL), then move c to the next (higher)
 * or the previous (lower) rank. @return NULL when c is past an end.
 */
const void *zindex_next(struct zindex_cursor *c, double *score);
const void *zindex_prev(struct zindex_cursor *c, double *score);

#endif
