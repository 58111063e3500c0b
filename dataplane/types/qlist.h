/*
 * The chunked list: a big list as a sequence of nodes, each node one pack (types/pack.h)
 * of at most list-max-listpack-size (negative: -1..-5 = 4/8/16/32/64 KB per node; positive:
 * that many elements, each node also kept within 8 KB unless it holds one element).
 *
 * The list holds an array of node pointers, with room at both ends, so a push or pop at
 * either end is O(1) amortised: it edits the end node (one memmove inside a pack of at most
 * the node limit) and adds or drops a node once per node's worth of elements. Seeking an
 * index walks the node counts from the nearer end (O(nodes), one header read per node),
 * then the pack from its nearer end. An edit that leaves a node small merges it with a
 * neighbour when both fit in one node, so a list that shrinks does not keep tiny nodes.
 *
 * Snapshots: nodes are reference-counted. qlist_freeze() copies the node pointer array and
 * takes a reference on every node (O(nodes)); the view then reads the list as it was, in
 * order, while the live list changes: every write to a node that a view shares first copies
 * that node (copy-on-write, one node of at most the limit). Counts are plain integers: a
 * list and its views belong to one thread (the shard's).
 *
 * Memory: every allocation goes through base/mem.h; qlist_bytes() is the exact footprint
 * (allocator size classes) of the list's own array and of the nodes it holds. A node shared
 * with a view counts in the list until the list drops or copies it; the view's array counts
 * in the view (qlist_view_bytes).
 *
 * Compression (list-compress-depth d > 0): the nodes more than d from either end are kept
 * LZF-compressed when that saves bytes; the d nodes at each end stay packs, so pushes and
 * pops never decompress. A read inside the zone decompresses the node into a buffer of the
 * calling thread (one node's worth, reused); a write there decompresses it for good, and
 * the write compresses it again before it returns.
 */
#ifndef POLLUX_QLIST_H
#define POLLUX_QLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "types/pack.h"

#define QLIST_FILL_DEFAULT (-2)       /* list-max-listpack-size's default: 8 KB nodes */
#define QLIST_SAFETY_BYTES 8192u      /* byte cap of a node under an element-count limit */
#define QLIST_MAX_ELEM     (1u << 30) /* bytes of the largest element a node holds: 1 GiB */

struct qlist;
struct qlist_node;
struct qlist_view;

/* A walk over the list from an index, either way (LRANGE, LREM, LPOS, LINSERT). */
struct qlist_iter {
    struct qlist *l;
    int64_t node;     /* index of the node the next element is in */
    uint32_t off;     /* offset of the next element in it; 0: the next node's end */
    int64_t cur_node; /* the element last returned, for qlist_iter_del/_insert/_eq */
    uint32_t cur_off;
    int64_t lo, hi; /* range of nodes edited through the iterator (lo > hi: none) */
    bool fwd;
};

/* A list with the given list-max-listpack-size (0 counts as 1; clamped to -5..65535). */
struct qlist *qlist_create(int fill);
/*
 * The node limits list-max-listpack-size `fill` stands for (as qlist_create applies them):
 * elements per node, and bytes per node allocation (its 8-byte header included).
 */
void qlist_fill_limits(int fill, uint32_t *max_count, uint32_t *max_node_bytes);
/* Whether a pack of `count` elements and `pack_bytes` bytes fits one node under `fill`. */
bool qlist_pack_fits(int fill, uint32_t count, size_t pack_bytes);
/*
 * A list with explicit node limits: at most max_count elements and max_node_bytes bytes
 * (allocation included) per node, unless a node holds one element. For tests and tuning.
 */
struct qlist *qlist_create_limits(uint32_t max_count, uint32_t max_node_bytes);
void qlist_destroy(struct qlist *l);
/* list-compress-depth for a list with no element yet (0: no node is compressed). */
void qlist_set_depth(struct qlist *l, int depth);
int qlist_depth(const struct qlist *l);
/* Freeing a list in steps (lazy free): the bytes of its last k nodes, then free them. */
size_t qlist_tail_bytes(const struct qlist *l, uint32_t k);
void qlist_free_tail(struct qlist *l, uint32_t k);

uint64_t qlist_len(const struct qlist *l);
/* Bytes of memory the list holds (its struct, node array and nodes). */
size_t qlist_bytes(const struct qlist *l);
uint32_t qlist_nodes(const struct qlist *l);

/*
 * Add e at the head or the tail (LPUSH, RPUSH).
 * @return 0; -EINVAL for an element a pack cannot hold (pack_elem_size() == 0) or one of more
 *         than QLIST_MAX_ELEM bytes (1 GiB).
 */
int qlist_push(struct qlist *l, bool head, const struct pack_elem *e);

/*
 * The element at idx (negative: from the tail, -1 the last), decoded into *e; a string
 * points into the list (or, for a compressed node, the thread's buffer) and is valid until
 * the next write to it or the next read of another compressed node (LINDEX, and LPOP's
 * reply before qlist_pop). @return false when idx is out of range.
 */
bool qlist_index(const struct qlist *l, int64_t idx, struct pack_elem *e);

/* Remove the head or tail element (LPOP, RPOP): false when the list is empty. */
bool qlist_pop(struct qlist *l, bool head);

/*
 * Replace the element at idx with e (LSET); e must not point into the list.
 * @return 0; -ERANGE when idx is out of range; -EINVAL for an element a pack cannot hold.
 */
int qlist_replace(struct qlist *l, int64_t idx, const struct pack_elem *e);

/*
 * Remove n elements from index start (negative: from the tail) on, fewer if the list ends
 * first (LTRIM's two cuts; LREM by index). Whole nodes in the range are dropped without
 * being read. @return the number removed.
 */
uint64_t qlist_del_range(struct qlist *l, int64_t start, uint64_t n);

/*
 * Start a walk at index idx (negative: from the tail) going towards the tail (fwd) or the
 * head; an index out of range gives an empty walk.
 */
void qlist_iter_init(struct qlist_iter *it, struct qlist *l, int64_t idx, bool fwd);
/* The next element of the walk into *e (valid until the next write, or the next element of
 * another compressed node): false at the end. */
bool qlist_iter_next(struct qlist_iter *it, struct pack_elem *e);
/* Whether the element last returned equals n (pack_eq: "10" == 10). */
bool qlist_iter_eq(const struct qlist_iter *it, const struct pack_needle *n);
/* Remove the element last returned; the walk goes on with the one after it (LREM). */
void qlist_iter_del(struct qlist_iter *it);
/*
 * Insert e before or after the element last returned (LINSERT). The walk ends: call
 * qlist_iter_done next. @return 0; -EINVAL for an element a pack cannot hold.
 */
int qlist_iter_insert(struct qlist_iter *it, bool after, const struct pack_elem *e);
/* End a walk: merge the small nodes its removals left. Needed only after qlist_iter_del. */
void qlist_iter_done(struct qlist_iter *it);

/*
 * A frozen view of the list as it is now: O(nodes), a reference on every node. The list may
 * change afterwards; the view does not. Release it with qlist_view_release.
 */
struct qlist_view *qlist_freeze(struct qlist *l);
void qlist_view_release(struct qlist_view *v);
uint64_t qlist_view_len(const struct qlist_view *v);
uint32_t qlist_view_nodes(const struct qlist_view *v);
/* Node i's pack, in list order (an RDB quicklist record writes one per node). A compressed
 * node's is decompressed into the thread's buffer: valid until the thread reads another. */
const unsigned char *qlist_view_pack(const struct qlist_view *v, uint32_t i);
/* Bytes of the view's own array (its nodes count in the list while it shares them). */
size_t qlist_view_bytes(const struct qlist_view *v);

/* Check the list's invariants (counts, limits, no empty node): for tests. */
bool qlist_check(const struct qlist *l);

#endif
