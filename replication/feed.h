/*
 * Per-shard replication feeds and the merge that turns them into one stream.
 *
 * Every shard appends what it executed to its own feed: records in chunks
 * that travel to the merge thread over a single-producer single-consumer
 * ring (and come back empty over another, so a warm feed allocates
 * nothing). The producer is the shard's worker, or — while a multi-shard
 * transaction holds the shard — the transaction's coordinator; the hold
 * hand-off orders the two. Only the shard's own worker moves chunks onto the
 * ring (feed_flush), once per loop pass.
 *
 * Record kinds:
 *   CMD      one command in RESP, with its database
 *   MULTI    one part of a write that spans several shards (a multi-key
 *            command, an EXEC block, FLUSHALL): every shard involved gets a
 *            part with the same id; one part carries the commands. The merge
 *            emits them only when every part is at the head of its feed, so
 *            everything each shard did before comes first and nothing it did
 *            after slips in front.
 *   SNAP     the start of a snapshot: a MULTI-like barrier over all shards
 *            that marks the stream position the snapshot corresponds to.
 *   RDB      serialized entries of this shard's snapshot, for one database.
 *   RDB_END  this shard's snapshot is complete.
 */
#ifndef POLLUX_REPL_FEED_H
#define POLLUX_REPL_FEED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/parse.h"
#include "base/ring.h"

#define FEED_CHUNK_SIZE (64 * 1024)
#define FEED_RING_SIZE  1024

enum feed_kind {
    FEED_CMD = 1,
    FEED_MULTI,
    FEED_SNAP,
    FEED_RDB,
    FEED_RDB_END,
};

#define FEED_WRAP 0x1 /* MULTI: emit the commands inside MULTI ... EXEC */

struct feed_rec {
    uint32_t len; /* payload bytes after this header */
    uint8_t kind;
    uint8_t flags;
    uint16_t nparts; /* MULTI/SNAP: parts with this id */
    int32_t db;
    uint64_t id; /* MULTI/SNAP: unique per write (coordinator << 56 | sequence) */
};

/*
 * MULTI payload: a sequence of sub-commands, each a feed_sub header and the
 * command in RESP.
 */
struct feed_sub {
    int32_t db;
    uint32_t len;
};

struct feed_chunk {
    struct feed_chunk *next; /* producer's pending list */
    uint32_t len, cap;
    _Alignas(8) char data[];
};

struct repl_feed {
    struct ring *q;    /* full chunks, to the merge */
    struct ring *back; /* consumed chunks, back to the producer */
    struct feed_chunk *cur;
    struct feed_chunk *pend_head, *pend_tail; /* not yet on the ring */
    atomic_size_t queued;                     /* bytes on the ring, not yet merged */
    atomic_uint_fast64_t records;             /* reserved so far (producer writes, any reads) */
    struct feed_rec *last;                    /* header of the record reserved last */
};

int repl_feed_init(struct repl_feed *f);
/* Free every chunk (no thread may be using the feed). */
void repl_feed_deinit(struct repl_feed *f);

/*
 * Producer: reserve a record with `len` payload bytes and return where to
 * write the payload. The record is visible to the merge after feed_flush.
 */
void *repl_feed_reserve(struct repl_feed *f, enum feed_kind kind, int db, size_t len);
/*
 * A record whose len bytes are already written, at repl_feed_headroom() bytes into `block`,
 * an allocation with room for 7 bytes more (rdb_buf_take gives one): the feed takes the
 * block as it is, so a big record (a collection written in slices) is not copied.
 */
size_t repl_feed_headroom(void);
void repl_feed_adopt(struct repl_feed *f, enum feed_kind kind, int db, void *block, size_t len);
/* The header of the record reserved last (to set id/nparts/flags). */
struct feed_rec *repl_feed_last(struct repl_feed *f);

/* Producer: bytes of a command in RESP, and the command written at p. */
size_t repl_resp_size(int argc, const struct resp_arg *argv);
char *repl_resp_write(char *p, int argc, const struct resp_arg *argv);
/* Producer: append one command as a CMD record. */
void repl_feed_command(struct repl_feed *f, int db, int argc, const struct resp_arg *argv);

/* The shard's worker: move what was appended onto the ring. */
void repl_feed_flush(struct repl_feed *f);

/* Merge side. */
struct feed_chunk *repl_feed_take(struct repl_feed *f);
void repl_feed_give_back(struct repl_feed *f, struct feed_chunk *c);

/*
 * The merge: drains every feed in a round, emitting the stream through
 * `emit` (with SELECT inserted where the database changes) and handing
 * snapshot records to the callbacks. Keeps per-feed positions between
 * rounds.
 */
struct repl_merge_ops {
    void (*emit)(void *arg, const void *p, size_t n);
    /* A SNAP barrier resolved: the snapshot `id` stands at the stream position now. */
    void (*snap)(void *arg, uint64_t id);
    void (*rdb)(void *arg, unsigned shard, int db, const void *p, size_t n);
    void (*rdb_end)(void *arg, unsigned shard);
};

struct repl_merge_pos {
    struct feed_chunk *chunk;
    size_t off;
};

struct repl_merge {
    unsigned n;
    struct repl_feed *const *feeds;
    struct repl_merge_pos pos[64];
    int db; /* database the stream last selected, -1: none */
    const struct repl_merge_ops *ops;
    void *arg;
    bool discard;          /* drop CMD/MULTI records (this node is not a primary now) */
    uint64_t consumed[64]; /* records consumed per feed */
};

void repl_merge_init(struct repl_merge *m, struct repl_feed *const *feeds, unsigned n,
                     const struct repl_merge_ops *ops, void *arg);
/* Give back the chunks the merge still holds. */
void repl_merge_deinit(struct repl_merge *m);
/* Process everything available. @return records consumed. */
size_t repl_merge_run(struct repl_merge *m);
/* The next command emitted starts with SELECT (a new replica starts reading here). */
static inline void repl_merge_reselect(struct repl_merge *m)
{
    m->db = -1;
}

#endif
