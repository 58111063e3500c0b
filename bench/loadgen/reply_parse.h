/*
 * reply_parse.h - incremental reply parsers: RESP2/RESP3 and the memcached text protocol.
 *
 * The RESP parser consumes whole elements (a header line, plus the payload for blob types)
 * and keeps only a stack of "elements still owed" per open aggregate between calls, so a
 * reply split across any number of reads is parsed once, without copying, and without
 * allocation.  A blob element is consumed only when all of it is buffered; the caller grows
 * its buffer when srv_reply_parse() reports that more room is needed.
 */
#ifndef POLLUX_BENCH_REPLY_H
#define POLLUX_BENCH_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_REPLY_MAX_DEPTH 32

enum srv_reply_status {
    SRV_REPLY_DONE = 0,   /* one complete reply; *out describes it */
    SRV_REPLY_AGAIN = 1,  /* need more bytes; *consumed bytes were used up */
    SRV_REPLY_ERROR = -1, /* malformed input */
};

struct srv_reply {
    char type;       /* first byte of the top-level element ('+', '$', '*', ...; 'M' memcache) */
    bool is_error;   /* '-', '!', or a memcache ERROR/CLIENT_ERROR/SERVER_ERROR line */
    bool is_nil;     /* RESP2 null bulk/array, RESP3 '_', memcache miss (END only) */
    bool is_push;    /* RESP3 out-of-band push: not an answer to a request */
    const char *str; /* top-level string/blob payload or first memcache VALUE data */
    size_t len;
};

struct srv_reply_parser {
    bool memcache;
    int depth;
    /* per open aggregate: elements still owed; attributes do not count towards their parent */
    int64_t left[SRV_REPLY_MAX_DEPTH];
    bool attr[SRV_REPLY_MAX_DEPTH];
    struct srv_reply cur;
    bool have_top;
    size_t need; /* minimum bytes the next element needs (a hint for buffer growth) */
};

void srv_reply_parser_init(struct srv_reply_parser *p, bool memcache);
/*
 * Parse from buf[0..len).  *consumed is set to the number of bytes used in every case; the
 * caller must drop them (or pass the rest next time).
 * @return SRV_REPLY_DONE, SRV_REPLY_AGAIN, or SRV_REPLY_ERROR.
 */
int srv_reply_parse(struct srv_reply_parser *p, const char *buf, size_t len, size_t *consumed,
                    struct srv_reply *out);

#endif
