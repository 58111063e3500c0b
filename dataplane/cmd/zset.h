/*
 * Sorted sets inside the command layer: what zset.c (encodings, single-key commands) shares
 * with zset_ops.c (ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD). Not a public
 * interface: other families reach sorted sets through cmd/coll.h.
 */
#ifndef POLLUX_CMD_ZSET_H
#define POLLUX_CMD_ZSET_H

#include <stdbool.h>
#include <stddef.h>

#include "cmd/cmd.h"
#include "cmd/coll.h"
#include "types/pack.h"
#include "types/zindex.h"

/*
 * The big encoding: a member store (member -> score, 8 bytes) and the ordered index over its
 * elements. The struct and the index's nodes are accounted in `owner` (acct bytes); the member
 * store counts there by itself.
 */
struct zbig {
    struct store *m;
    struct zindex z;
    struct store *owner;
    size_t acct;
};

/* A member and its score, as read from either encoding (buf holds a pack integer's text). */
struct zitem {
    const char *m;
    size_t len;
    double score;
    char buf[PACK_TEXT_BUF];
};

/* A sorted set being written: where it lives (the entry may move or change encoding). */
struct zw {
    struct store *s;
    int db;
    struct kv *e;
    const struct coll_params *p;
};

/* A walk in rank order over either encoding; any write invalidates it. */
struct zcur {
    bool big;
    const unsigned char *p;
    uint32_t off;
    struct zindex_cursor zc;
};

size_t zset_len(const struct kv *e);
/* Place c at ascending rank. @return false when rank is past the end. */
bool zcur_seek(struct zcur *c, const struct kv *e, size_t rank);
/* The item at c, then c moves up (down when rev). @return false past an end. */
bool zcur_step(struct zcur *c, bool rev, struct zitem *z);
/* Member m's score. @return false when absent. */
bool zset_score(const struct kv *e, const char *m, size_t len, double *score);

/* An empty (pack) sorted set at k. */
struct kv *zset_new(struct store *s, int db, const struct skey *k, int64_t expire_ms);
/* Add m or move it to score, converting to the big encoding past the parameters. */
void zset_put(struct zw *w, const char *m, size_t len, double score);
/* Remove m. @return whether it was there. */
bool zset_del(struct zw *w, const char *m, size_t len);
/* An emptied sorted set goes, as in Redis (w->e becomes NULL). @return whether it went. */
bool zset_drop_if_empty(struct zw *w);
struct zbig *zset_big_new(struct store *owner);
/* Give w the big encoding if it is a pack (SORT does, as Redis 7.0's sortCommand). */
void zset_make_big(struct zw *w);
double zset_elem_score(const struct kv *el);

/*
 * Write k as the n items v (sorted, distinct, n > 0), replacing what was there, in the
 * encoding Redis gives a destination of that size. The items may point into a collection that
 * k holds now: they are read before k is replaced.
 */
struct kv *zset_store_items(struct store *s, int db, const struct skey *k, const struct zitem *v,
                            size_t n, const struct coll_params *p);
/* *STORE's ending: argv[dst] becomes the n items (or goes when n is 0); reply n. */
void zset_store_result(struct cmd_ctx *c, int dst, const struct zitem *v, size_t n);

/* The sorted set at argv[i] (NULL: absent; *wrong when WRONGTYPE was replied). */
struct kv *zset_lookup(struct cmd_ctx *c, int i, struct store **s, int flags, bool *wrong);

/* Replies: the array header for n items (returns whether RESP3 pairs them), then each item. */
bool zset_reply_header(struct reply *r, size_t n, bool withscores);
void zset_reply_item(struct reply *r, const struct zitem *z, bool withscores, bool pair);

#endif
