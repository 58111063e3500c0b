/*
 * The replication stream: an append-only byte sequence shared by one
 * producer and any number of readers on other threads.
 *
 * On a primary the producer is the merge thread (node.c), which writes the
 * shards' merged writes; on a replica it is the worker that owns the link to
 * the primary, which appends the bytes it applied. The same structure holds
 * an RDB being streamed to replicas during a full sync.
 *
 * The bytes live in a list of blocks. A block's bytes below its published
 * length never change, and the producer links the next block only once the
 * current one is full, so a reader on any thread may write(2) straight out of
 * a block without copying and without a lock (release/acquire on `len` and
 * `next`). Each reader is a cursor whose position the owner publishes; the
 * producer frees a block only when every cursor and the backlog window
 * (what PSYNC can still continue from) are past it. Registering a cursor,
 * resizing the window and trimming take the stream's mutex; appending and
 * reading do not.
 *
 * Positions are byte counts from the start of the replication history:
 * `end` is Redis's master_repl_offset; a replica that has processed offset O
 * continues with byte O.
 */
#ifndef POLLUX_REPL_STREAM_H
#define POLLUX_REPL_STREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define REPL_BLOCK_SIZE (64 * 1024)

struct repl_block {
    _Atomic(struct repl_block *) next;
    uint64_t start;           /* stream position of data[0] */
    atomic_uint_fast32_t len; /* bytes published */
    uint32_t cap;
    char data[];
};

struct repl_cursor {
    struct repl_cursor *prev, *next; /* the stream's registry (under its mutex) */
    struct repl_block *b;            /* the block holding pos (owner only) */
    uint64_t pos;                    /* next byte to read (owner only) */
    atomic_uint_fast64_t published;  /* start of the block b: what must not be freed */
    bool registered;
};

struct repl_stream {
    pthread_mutex_t lock;
    struct repl_block *head; /* oldest block kept */
    struct repl_block *tail; /* producer's block */
    atomic_uint_fast64_t end;
    atomic_uint_fast64_t window_start; /* first position PSYNC may continue from */
    uint64_t window;                   /* bytes kept for PSYNC (repl-backlog-size) */
    struct repl_cursor *cursors;
    atomic_size_t bytes; /* allocated block bytes, spares included (INFO mem_replication_backlog) */
    struct repl_block *spare; /* freed blocks kept for reuse (under lock) */
    atomic_uint nspare;
};

/* An empty stream whose first byte will be at position `start`. */
void repl_stream_init(struct repl_stream *s, uint64_t start, uint64_t window);
/* Free every block. No cursor may be in use. */
void repl_stream_deinit(struct repl_stream *s);

/* Producer: append n bytes and publish them. Never fails (allocation aborts). */
void repl_stream_append(struct repl_stream *s, const void *p, size_t n);
static inline uint64_t repl_stream_end(const struct repl_stream *s)
{
    return atomic_load_explicit(&s->end, memory_order_acquire);
}

/*
 * Producer: restart the history at `start` (a replica's new full sync, or a
 * primary that dropped its backlog). Cursors must have been removed.
 */
void repl_stream_reset(struct repl_stream *s, uint64_t start);

/* Any thread: change how many bytes are kept for PSYNC. */
void repl_stream_set_window(struct repl_stream *s, uint64_t window);
/* Any thread: the PSYNC window [*first, *end). */
void repl_stream_range(struct repl_stream *s, uint64_t *first, uint64_t *end);

/*
 * Producer: advance the window to keep at most `window` bytes and free the
 * blocks that neither the window nor a cursor needs any more.
 * @return the bytes the slowest cursor has still to read (counted from the
 *         start of the block it holds), 0 when no cursor is registered: what
 *         readers are behind, unlike `bytes`, which counts spare blocks too.
 */
uint64_t repl_stream_trim(struct repl_stream *s);

/*
 * Any thread: start reading at position pos. Fails with -ERANGE when pos is
 * outside [window start, end] (the bytes are gone, or were never written).
 * @return 0 or -ERANGE.
 */
int repl_cursor_attach(struct repl_stream *s, struct repl_cursor *c, uint64_t pos);
/* Any thread: stop reading; the blocks the cursor held may be freed. */
void repl_cursor_detach(struct repl_stream *s, struct repl_cursor *c);

/*
 * Owner: describe up to max spans of bytes available from the cursor on.
 * @return the number of iovecs filled (0 when the cursor is at the end).
 */
int repl_cursor_peek(struct repl_cursor *c, struct iovec *iov, int max);
/* Owner: consume n bytes (at most what peek offered) and publish the position. */
void repl_cursor_advance(struct repl_cursor *c, size_t n);
/* Owner: bytes published beyond the cursor. */
uint64_t repl_cursor_lag(const struct repl_stream *s, const struct repl_cursor *c);

#endif
