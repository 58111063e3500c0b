/*
 * RDB encoder and decoder: the snapshot format of Redis (version 10 as Redis
 * 7.0 writes it), used by full resynchronisation (both directions), SAVE,
 * BGSAVE and loading a dump at start.
 *
 * The codec reads strings and the four collection types (lists, sets, sorted
 * sets, hashes) in every encoding Redis writes up to RDB 11, and writes them
 * as Redis 7.0 does; streams and module values are recognised in order to be
 * refused with an error naming the type and the key. The subset, the limits
 * and the checksum: replication/NOTES.md.
 *
 * Encoding. An RDB of a node with N shards is put together from pieces made
 * on different threads: the header and aux fields made once, the entries of
 * each shard made by that shard, then the trailer. So the record encoders are
 * stateless: each appends one record to a caller-owned growable buffer and
 * touches nothing else. Whoever puts the pieces in their final byte order
 * keeps the running checksum in a struct rdb_writer and appends the trailer
 * with it:
 *
 *     struct rdb_buf b;  struct rdb_writer w;
 *     rdb_buf_init(&b);  rdb_writer_init(&w, true);
 *     rdb_encode_header(&b, RDB_VERSION);
 *     rdb_encode_aux_fields(&b, &aux);
 *     rdb_encode_selectdb(&b, 0);  rdb_encode_resizedb(&b, nkeys, nexpires);
 *     rdb_encode_string(&b, key, klen, val, vlen, expire_ms, &opts);  ...
 *     rdb_writer_update(&w, b.p, b.len);  send b;  b.len = 0;   (for every piece, in order)
 *     rdb_writer_eof(&w, &b);  send b;
 *
 * Decoding. struct rdb_parser is a push parser: it is fed the bytes in
 * chunks of any size, as they come off a socket or a file, keeps its state
 * between calls and buffers only the record it is in the middle of. It calls
 * back for every aux field, database selection, size hint and key, as they are
 * read: the checksum is only known at the end, so a caller that gets an error
 * (RDB_ECHECKSUM included) must drop what it loaded. A collection comes as
 * coll_begin, one coll_item per element (or field-value pair, or member with
 * its score), coll_end; the big ones are read one element at a time, so the
 * parser never holds a whole collection.
 *
 *     struct rdb_parser p;
 *     rdb_parser_init(&p, &callbacks, arg, &(struct rdb_parser_opts){ max_len, databases });
 *     while (bytes arrive)
 *         rc = rdb_parser_feed(&p, buf, n, &used);   (stop on RDB_DONE or rc < 0)
 *     at end of input: rdb_parser_finish(&p) says RDB_DONE or RDB_ETRUNC
 *     rdb_parser_deinit(&p);
 */
#ifndef POLLUX_RDB_H
#define POLLUX_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RDB_VERSION     10 /* what Pollux writes: Redis 7.0's format */
#define RDB_VERSION_MIN 1
#define RDB_VERSION_MAX 11 /* Redis 7.2 writes 11; its strings are those of 10 */

#define RDB_DEFAULT_MAX_LEN   (512ull * 1024 * 1024) /* proto-max-bulk-len's default */
#define RDB_DEFAULT_DATABASES 16
#define RDB_LZF_MIN           20 /* Redis compresses strings longer than this */

/* Status codes of the decoder. */
enum rdb_status {
    RDB_OK = 0,            /* every byte fed was consumed; feed more */
    RDB_DONE = 1,          /* the EOF record and checksum were read */
    RDB_EFORMAT = -1,      /* corrupt: bad opcode, length or string encoding, bad LZF data */
    RDB_EVERSION = -2,     /* not an RDB (bad signature) or a version outside 1..11 */
    RDB_ECHECKSUM = -3,    /* the trailer's CRC64 differs from the data's */
    RDB_EUNSUPPORTED = -4, /* well-formed but not loadable: a stream or module value, a
                            * collection when there is no coll_begin callback, functions
                            * (FUNCTION2) or module data (MODULE_AUX) */
    RDB_ELIMIT = -5,       /* a string or element longer than max_len, or a database >=
                            * databases */
    RDB_ETRUNC = -6,       /* rdb_parser_finish: the input ended before the EOF record */
    RDB_ECALLBACK = -7,    /* a callback returned non-zero (its value is in cb_rc) */
};

/* ---- Encoder ---- */

/* A growable byte buffer owned by the caller; records are appended at p + len. */
struct rdb_buf {
    char *p;
    size_t len, cap;
    size_t head; /* bytes kept free before p (rdb_buf_init_room) */
};

void rdb_buf_init(struct rdb_buf *b); /* empty; allocates on first append */
void rdb_buf_deinit(struct rdb_buf *b);
/*
 * A buffer with `head` bytes kept free before its data and room for cap bytes now, so that
 * its owner can take the whole allocation (rdb_buf_take) and write a header there instead
 * of copying the data behind one.
 */
void rdb_buf_init_room(struct rdb_buf *b, size_t head, size_t cap);
/* The allocation: head bytes, the len data bytes, and 8 bytes more, trimmed to that; the
 * caller owns (mem_free) it and b is left empty. */
void *rdb_buf_take(struct rdb_buf *b);
/* Make room for n more bytes (aborts on out-of-memory, as mem_alloc does). */
void rdb_buf_reserve(struct rdb_buf *b, size_t n);

/* How string records are written; constant for one snapshot except the LRU/LFU fields. */
struct rdb_encode_opts {
    /* rdbcompression: LZF-compress keys and values longer than lzf_min bytes
     * when that makes the record smaller. */
    bool compress;
    size_t lzf_min;
    /* Per entry, set by the caller before each rdb_encode_string: idle seconds
     * for an LRU policy, or the LFU counter (0..255) for an LFU policy; -1 when
     * not written. Redis writes at most one of the two. */
    int64_t lru_idle;
    int lfu_freq;
    /* Write values only (DUMP payloads): every record writer below then writes the
     * value's type byte and the value, without metadata (expiry, LRU/LFU) or key. */
    bool value_only;
};
/* compress on, lzf_min 20, no LRU/LFU fields, whole records: what Redis 7.0 writes by default. */
void rdb_encode_opts_init(struct rdb_encode_opts *o);

/* "REDIS" and the version in four digits ("REDIS0010"). version: 1..9999. */
void rdb_encode_header(struct rdb_buf *b, int version);
/* An AUX record (0xFA): key and value as RDB strings (integer-encoded when they look
 * like one, as Redis does; never compressed). */
void rdb_encode_aux(struct rdb_buf *b, const char *key, const char *val, size_t vlen);
/* An AUX record whose value is a number, written as Redis writes one ("64" is 0xC0 0x40). */
void rdb_encode_aux_int(struct rdb_buf *b, const char *key, long long v);

/* The aux fields Redis 7.0 writes at the top of an RDB, in its order. */
struct rdb_aux_info {
    const char *redis_ver; /* "7.0.15": the version a replica sees */
    int redis_bits;        /* 64 */
    long long ctime;       /* unix seconds */
    long long used_mem;    /* bytes */
    /* replication fields, written only when repl_id is not NULL */
    int repl_stream_db;
    const char *repl_id; /* 40 hex characters */
    long long repl_offset;
    int aof_base; /* 1 only in an AOF preamble */
};
void rdb_encode_aux_fields(struct rdb_buf *b, const struct rdb_aux_info *a);

/* SELECTDB (0xFE) and RESIZEDB (0xFB, the hash table size hints of that database). */
void rdb_encode_selectdb(struct rdb_buf *b, int db);
void rdb_encode_resizedb(struct rdb_buf *b, uint64_t keys, uint64_t expires);

/*
 * One string entry: EXPIRETIME_MS when expire_ms >= 0 (absolute unix ms), IDLE
 * or FREQ when o says so, then value type 0, the key and the value. A key or
 * value that Redis would store as an integer (decimal, no leading zero, sign
 * or space, within int32) is written in the 1-, 2- or 4-byte integer encoding;
 * one longer than o->lzf_min is LZF-compressed when o->compress is set and it
 * saves space. o NULL means the defaults of rdb_encode_opts_init.
 */
void rdb_encode_string(struct rdb_buf *b, const void *key, size_t klen, const void *val,
                       size_t vlen, int64_t expire_ms, const struct rdb_encode_opts *o);

/*
 * Collections. A big one is written in slices, without ever being whole in a
 * buffer: rdb_encode_coll_begin (the metadata, the type, the key and the
 * count), then its items, in as many calls and buffers as the caller likes.
 * These are the encodings Redis 7.0 writes for big collections: set (2),
 * zset with binary scores (5), hash (4), and for lists quicklist 2 (18) made
 * of packed listpack nodes.
 *
 *     rdb_encode_coll_begin(&b, RDB_COLL_ZSET, key, klen, n, expire_ms, &o);
 *     for each item:  rdb_encode_coll_item(&b, RDB_COLL_ZSET, &item, &o);
 *
 *     rdb_encode_coll_begin(&b, RDB_COLL_LIST, key, klen, rdb_list_nodes(n), expire_ms, &o);
 *     for each slice of RDB_LIST_NODE_ITEMS items (the last one shorter):
 *         rdb_encode_list_node(&b, items, nslice, &o);
 *
 * Small collections take the compact record of rdb_encode_coll_small, byte for
 * byte what Redis 7.0 writes for them.
 */

/* An item: a list's or set's element in a (b unused); a hash's field in a and
 * value in b; a sorted set's member in a and its score (not NaN). */
struct rdb_item {
    const void *a, *b;
    size_t alen, blen;
    double score;
};

/* Items per quicklist node in a list written by slices; a node is one listpack,
 * whose size must stay below 4 GB. */
#define RDB_LIST_NODE_ITEMS 128

/* Nodes of a list of n items written in slices of RDB_LIST_NODE_ITEMS. */
static inline uint64_t rdb_list_nodes(uint64_t n)
{
    return (n + RDB_LIST_NODE_ITEMS - 1) / RDB_LIST_NODE_ITEMS;
}

/*
 * The start of a collection record: EXPIRETIME_MS, IDLE and FREQ as for a
 * string, the type (set 2, zset 5, hash 4, list 18), the key and count: the
 * number of items (pairs count once) that follow, or for a list the number of
 * nodes (rdb_list_nodes). kind: enum rdb_coll_kind. o NULL: the defaults.
 */
void rdb_encode_coll_begin(struct rdb_buf *b, int kind, const void *key, size_t klen,
                           uint64_t count, int64_t expire_ms, const struct rdb_encode_opts *o);
/* One item of a set, sorted set or hash: its strings (as rdb_encode_string writes
 * them), and for a sorted set the score as 8 little-endian bytes. */
void rdb_encode_coll_item(struct rdb_buf *b, int kind, const struct rdb_item *it,
                          const struct rdb_encode_opts *o);
/* One list node: n >= 1 items in a listpack (container 2, "packed"). */
void rdb_encode_list_node(struct rdb_buf *b, const struct rdb_item *items, size_t n,
                          const struct rdb_encode_opts *o);

/*
 * A small collection in one compact record, as Redis 7.0 writes it when the
 * collection is under its *-max-listpack-* / set-max-intset-entries limits:
 * hash listpack (16), zset listpack (17; items in the set's order, by score),
 * set intset (11; every member the canonical decimal form of an int64, all
 * distinct) and list quicklist 2 with one node (18). Integers in a listpack
 * take its integer encodings; a score is written as Redis 7.0 formats it.
 * @return 0; -EINVAL for a set with a member that is not an integer, which
 *         Redis 7.0 writes as a plain set (rdb_encode_coll_begin): nothing is
 *         written then.
 */
int rdb_encode_coll_small(struct rdb_buf *b, int kind, const void *key, size_t klen,
                          const struct rdb_item *items, size_t n, int64_t expire_ms,
                          const struct rdb_encode_opts *o);

/*
 * The trailer: the EOF opcode (0xFF) and the CRC64 in 8 little-endian bytes.
 * crc is the CRC of every byte of the file before the EOF opcode (the function
 * folds the opcode in), or 0 for a file without a checksum (rdbchecksum no;
 * readers then skip the check, as they also do in the 2^-64 case of a real CRC
 * of 0).
 */
void rdb_encode_eof(struct rdb_buf *b, uint64_t crc);

/* The running checksum of an RDB being assembled. */
struct rdb_writer {
    uint64_t crc;  /* of the bytes accounted so far */
    uint64_t size; /* bytes accounted so far */
    bool checksum; /* false: the trailer carries 0, and no CRC is computed */
};
void rdb_writer_init(struct rdb_writer *w, bool checksum);
/* Account n bytes that go out next, in file order. */
void rdb_writer_update(struct rdb_writer *w, const void *p, size_t n);
/* Account a piece whose CRC crc_piece (crc64_update(0, piece, n)) was computed
 * elsewhere, e.g. by the shard that encoded it. */
void rdb_writer_update_crc(struct rdb_writer *w, uint64_t crc_piece, size_t n);
/* Append the trailer for the bytes accounted so far to b and account it too, so
 * w->size is then the size of the whole file and w->crc the checksum written. */
void rdb_writer_eof(struct rdb_writer *w, struct rdb_buf *b);

/*
 * DUMP payloads (DUMP, RESTORE, MIGRATE in Redis): one value as an RDB object, its type
 * byte and its encoding as in a record but without metadata or key (the record writers
 * above with o->value_only set), then a trailer: the RDB version in 2 little-endian bytes
 * and the CRC-64 of every byte before it (the payload's and the version's) in 8.
 *
 *     size_t start = b.len;
 *     rdb_encode_string(&b, NULL, 0, val, vlen, -1, &o);   (o.value_only = true)
 *     rdb_encode_dump_trailer(&b, start);
 */
#define RDB_DUMP_TRAILER 10
/* Append the trailer of the payload that starts at b->p + start. */
void rdb_encode_dump_trailer(struct rdb_buf *b, size_t start);

/* A function library (FUNCTION2, 0xF5): its code, first line and all, as one string. */
void rdb_encode_function(struct rdb_buf *b, const char *code, size_t len,
                         const struct rdb_encode_opts *o);

/* ---- Decoder ---- */

/*
 * Callbacks. Any may be NULL (the record is read and dropped), except that
 * without coll_begin a collection is refused with RDB_EUNSUPPORTED rather than
 * dropped, as it was before the codec read collections. Byte strings are
 * contiguous and valid only during the call; a key, value or element that was
 * stored as an integer (integer-encoded string, ziplist, listpack or intset
 * integer) is handed over as its decimal text. A callback returns 0 to go on,
 * anything else to abort the load with RDB_ECALLBACK.
 */
typedef int (*rdb_aux_fn)(void *arg, const char *key, size_t klen, const char *val, size_t vlen);
typedef int (*rdb_selectdb_fn)(void *arg, int db);
typedef int (*rdb_resizedb_fn)(void *arg, uint64_t keys, uint64_t expires);
/* A string entry of database db. expire_ms: absolute unix ms, -1 for none (an
 * EXPIRETIME record in seconds is converted); lru_idle: idle seconds or -1;
 * lfu_freq: 0..255 or -1. Expired keys are handed over too: the caller decides. */
typedef int (*rdb_string_fn)(void *arg, int db, const char *key, size_t klen, const char *val,
                             size_t vlen, int64_t expire_ms, int64_t lru_idle, int lfu_freq);

/* The four collection types, numbered as the value type bytes of their plain encodings. */
enum rdb_coll_kind {
    RDB_COLL_LIST = 1,
    RDB_COLL_SET = 2,
    RDB_COLL_ZSET = 3,
    RDB_COLL_HASH = 4,
};

/*
 * A collection of database db begins: kind, key, and the metadata as for a
 * string. count_hint is the number of items the record announces (pairs count
 * once), 0 for a list stored as a quicklist (it counts nodes, not items). It is
 * a hint read from the file: never allocate from it. An empty collection
 * (Redis skips those on load) is handed over as begin, end.
 */
typedef int (*rdb_coll_begin_fn)(void *arg, int db, int kind, const char *key, size_t klen,
                                 uint64_t count_hint, int64_t expire_ms, int64_t lru_idle,
                                 int lfu_freq);
/*
 * One item of the collection begun last, in file order: a list's or set's
 * element in a (b NULL); a hash's field in a and value in b; a sorted set's
 * member in a and its score (never NaN; score is 0 for the other kinds).
 * Duplicates are handed over as they are: the caller decides.
 */
typedef int (*rdb_coll_item_fn)(void *arg, const char *a, size_t alen, const char *b, size_t blen,
                                double score);
/* The collection begun last is complete. */
typedef int (*rdb_coll_end_fn)(void *arg);
/* A function library's code (without this callback the file is refused: RDB_EUNSUPPORTED). */
typedef int (*rdb_function_fn)(void *arg, const char *code, size_t len);

struct rdb_callbacks {
    rdb_aux_fn aux;
    rdb_selectdb_fn selectdb;
    rdb_resizedb_fn resizedb;
    rdb_string_fn string;
    rdb_coll_begin_fn coll_begin;
    rdb_coll_item_fn coll_item;
    rdb_coll_end_fn coll_end;
    rdb_function_fn function;
};

struct rdb_parser_opts {
    uint64_t max_len; /* longest string a length field may claim (0: RDB_DEFAULT_MAX_LEN) */
    int databases;    /* SELECTDB must be below this (0: RDB_DEFAULT_DATABASES) */
};

#define RDB_ERR_MAX 256

struct rdb_parser {
    /* results, readable at any time */
    int version;           /* of the file, once the header is read; else 0 */
    uint64_t offset;       /* bytes of the RDB consumed so far */
    uint64_t keys;         /* keys (strings and collections) handed over */
    int cb_rc;             /* RDB_ECALLBACK: what the callback returned */
    char err[RDB_ERR_MAX]; /* the error, e.g. "bad RDB version 12"; "" while none */

    /* private */
    struct rdb_callbacks cb;
    void *arg;
    uint64_t max_len;
    int databases;
    int state;       /* header, records, done, failed */
    bool value_only; /* a DUMP payload's value: no key, done after one value */
    int status;      /* sticky error status once failed */
    uint64_t crc;
    int db;
    int64_t expire_ms; /* metadata records waiting for the next key */
    int64_t lru_idle;
    int lfu_freq;
    /* the collection being read one element (or quicklist node) at a time */
    int coll_type;      /* its value type byte */
    uint64_t coll_left; /* elements, pairs or nodes still to come */
    uint64_t coll_off;  /* file offset of its record */
    /* the record in progress when it did not fit in one feed */
    char *rec;
    size_t rec_len, rec_cap;
    size_t rec_need; /* bytes of the record needed before it is parsed again */
    /* decompressed key and value of the current record */
    char *kbuf, *vbuf;
    size_t kcap, vcap;
};

/* o NULL: the defaults. Allocates nothing until a record spans feeds. */
void rdb_parser_init(struct rdb_parser *p, const struct rdb_callbacks *cb, void *arg,
                     const struct rdb_parser_opts *o);
void rdb_parser_deinit(struct rdb_parser *p);

/*
 * Feed the next len bytes of the RDB.
 *
 * *used (when not NULL) is set to how many bytes of buf belong to the RDB:
 * len for RDB_OK, the bytes up to and including the checksum for RDB_DONE —
 * what follows them is not the RDB's (the EOF mark of a diskless transfer, the
 * replication stream); undefined on error.
 *
 * @return RDB_OK: all consumed, more wanted.
 *         RDB_DONE: the EOF record was read and its checksum matched (or was 0);
 *                   later calls return RDB_DONE again and consume nothing.
 *         RDB_EFORMAT, RDB_EVERSION, RDB_ECHECKSUM, RDB_EUNSUPPORTED, RDB_ELIMIT,
 *         RDB_ECALLBACK: the load failed; p->err says what and at which offset.
 *                   The parser stays failed: later calls return the same code.
 */
int rdb_parser_feed(struct rdb_parser *p, const void *buf, size_t len, size_t *used);

/*
 * The input has ended.
 * @return RDB_DONE when the RDB was complete;
 *         RDB_ETRUNC when it ended early (p->err says where and inside what);
 *         the error code when the load had already failed.
 */
int rdb_parser_finish(struct rdb_parser *p);

/*
 * A DUMP payload's trailer.
 * @return the RDB version it names (0..RDB_VERSION) when its checksum matches the bytes
 *         before it; -1 when the payload is shorter than a trailer, the CRC differs (0 is
 *         no exception: a payload always has one) or the version is above RDB_VERSION,
 *         newer ones included, as Redis 7.0 refuses them.
 */
int rdb_dump_check(const void *payload, size_t len);

/*
 * Parse the value of a payload that rdb_dump_check accepted, with p fresh from
 * rdb_parser_init: the string callback, or coll_begin, coll_item for each item and
 * coll_end, once, with database 0, an empty key and no metadata (expiry, LRU and LFU -1).
 * The whole value must be in the payload and fill it up to the trailer.
 * @return RDB_DONE; RDB_EFORMAT for a corrupt or truncated value, or bytes left between
 *         it and the trailer; RDB_EUNSUPPORTED, RDB_ELIMIT, RDB_ECALLBACK as for a file.
 *         p->err says what went wrong.
 */
int rdb_parse_dump(struct rdb_parser *p, const void *payload, size_t len);

/* Name of a value type byte ("string", "list", "set", "zset", "hash", "module",
 * "stream"), or NULL when no Redis version defines it. */
const char *rdb_type_name(int type);

#endif
