/*
 * Reply writer: RESP2 or RESP3 into a chain of blocks.
 *
 * Commands write their replies only through this API (Redis's addReply*
 * family); the chain belongs to a connection or to a forwarded request, and
 * the writer never knows which. Every function that takes a type chooses the
 * RESP2 or RESP3 form from r->proto, so handlers never branch on protocol.
 */
#ifndef POLLUX_RESP_REPLY_H
#define POLLUX_RESP_REPLY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RBLOCK_SIZE 16384 /* standard block payload, like Redis's reply chunk */
#define RBLOCK_MIN  64    /* payload of a block after a hole (reply_reserve) */

enum rblock_kind {
    RBLOCK_HEAP = 0, /* mem_alloc'd here, freed with mem_free */
    RBLOCK_EMBED,    /* storage owned by someone else (e.g. a ring message) */
    RBLOCK_HOLE,     /* a placeholder whose bytes arrive later (owner-defined) */
};

struct rblock {
    struct rblock *next;
    uint32_t len;   /* bytes written */
    uint32_t cap;   /* bytes available at data */
    uint32_t start; /* bytes already consumed (sent) */
    uint8_t kind;
    void *owner; /* for EMBED/HOLE blocks */
    char *data;
};

struct reply;
/*
 * Called each time a chain takes a new block, before it does: where output
 * grows, so its owner checks its output-buffer limits once per block, not per
 * reply. It may only look at the chain and flag its owner.
 */
typedef void (*reply_grow_fn)(struct reply *r);

struct reply {
    struct rblock *head, *tail;
    size_t bytes;          /* unconsumed bytes in the chain */
    uint8_t proto;         /* 2 or 3 */
    uint32_t errors;       /* error replies written (for failed_calls/errorstats) */
    char err_code[24];     /* first word of the last error written, e.g. "ERR" */
    reply_grow_fn on_grow; /* NULL: nobody watches */
};

void reply_init(struct reply *r, uint8_t proto);
/* Free every HEAP block; other kinds are unlinked, their owners release them. */
void reply_deinit(struct reply *r);

/* Allocate a HEAP block with at least `cap` bytes of payload. */
struct rblock *rblock_create(size_t cap);
void rblock_destroy(struct rblock *b);
/* Append block b (and whatever follows it) to the chain. */
void reply_append_block(struct reply *r, struct rblock *b);

/* Raw bytes, already in RESP. */
void reply_raw(struct reply *r, const void *p, size_t n);
/* Contiguous space for n bytes at the tail; call reply_commit with what was used. */
char *reply_reserve(struct reply *r, size_t n);
void reply_commit(struct reply *r, size_t n);

void reply_ok(struct reply *r);                    /* +OK */
void reply_status(struct reply *r, const char *s); /* +s */
void reply_status_len(struct reply *r, const char *s, size_t n);
/* -msg: `msg` starts with its code ("ERR syntax error", "WRONGTYPE ..."); CR/LF become spaces. */
void reply_error(struct reply *r, const char *msg);
void reply_errorf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(struct reply *r, long long v);              /* :v */
void reply_bulk(struct reply *r, const void *p, size_t n); /* $n payload */
void reply_bulk_cstr(struct reply *r, const char *s);
void reply_bulk_ll(struct reply *r, long long v);
void reply_null(struct reply *r);       /* $-1 | _ */
void reply_null_array(struct reply *r); /* *-1 | _ */
void reply_array(struct reply *r, long long n);
void reply_map(struct reply *r, long long n);  /* *2n | %n */
void reply_set(struct reply *r, long long n);  /* *n | ~n */
void reply_push(struct reply *r, long long n); /* *n | >n */
void reply_double(struct reply *r, double d);  /* bulk | ,d */
void reply_bool(struct reply *r, bool b);      /* :1/:0 | #t/#f */
/* Verbatim text ("txt"): bulk in RESP2, =len\r\ntxt:... in RESP3. */
void reply_verbatim(struct reply *r, const char *p, size_t n, const char *fmt3);
void reply_empty_array(struct reply *r);

/*
 * Aggregates whose length is known only after writing the elements (KEYS,
 * SCAN): reply_defer() leaves a placeholder, reply_defer_set() fills it with
 * the array/map/set header.
 */
enum reply_agg { REPLY_AGG_ARRAY, REPLY_AGG_MAP, REPLY_AGG_SET };
struct rblock *reply_defer(struct reply *r);
void reply_defer_set(struct reply *r, struct rblock *placeholder, enum reply_agg type, long long n);

#endif
