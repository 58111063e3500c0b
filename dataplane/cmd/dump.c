/*
 * DUMP and RESTORE: a value as Redis's DUMP payload (replication/rdb.h: the value as an RDB
 * object, the RDB version, the CRC-64), so payloads move between Pollux and Redis both ways.
 *
 * DUMP writes a string with the codec's string writer and a collection with its type's own
 * RDB writer (cmd/coll.h), both asked for the value only. RESTORE checks the trailer, then
 * parses the value into a scratch store (store_scratch_new) through the loaders every RDB goes
 * through (coll_load_*), and only when the whole payload was good moves the result to the key: a
 * bad payload leaves the keyspace as it was, REPLACE included. The scratch store is made
 * per RESTORE; RESTORE is not on the hot path.
 */
#include "cmd/cmd.h"

#include <limits.h>
#include <string.h>

#include "cmd/coll.h"
#include "cmd/commands.h"
#include "base/mem.h"
#include "replication/rdb.h"

void cmd_dump(struct cmd_ctx *c)
{
    struct skey k;
    skey_init(&k, c->argv[1].ptr, c->argv[1].len);
    struct kv *e = store_lookup(cmd_store(c, k.ptr, k.len), c->db, &k, c->now_ms, 0);
    if (e == NULL) {
        reply_null(c->reply);
        return;
    }
    struct rdb_buf b;
    struct rdb_encode_opts o;
    rdb_buf_init(&b);
    rdb_encode_opts_init(&o);
    o.value_only = true;
    if (kv_type(e) == KV_STRING) {
        size_t n;
        const char *v = kv_val(e, &n);
        rdb_encode_string(&b, NULL, 0, v, n, -1, &o);
    } else {
        coll_encode(&b, e, -1, &o);
    }
    rdb_encode_dump_trailer(&b, 0);
    reply_bulk(c->reply, b.p, b.len);
    rdb_buf_deinit(&b);
}

/* The value being restored, built in a scratch store at the command's key. */
struct restore_ctx {
    struct store *scratch;
    const struct skey *k;
    int64_t expire_ms;
    const struct coll_params *params;
    struct coll_loader coll;
    int kind;
    uint64_t items; /* handed over by the parser */
};

static int restore_string(void *arg, int db, const char *key, size_t klen, const char *val,
                          size_t vlen, int64_t expire_ms, int64_t lru_idle, int lfu_freq)
{
    struct restore_ctx *r = arg;
    (void)db, (void)key, (void)klen, (void)expire_ms, (void)lru_idle, (void)lfu_freq;
    store_set(r->scratch, 0, r->k, val, vlen, cmd_string_encoding(val, vlen), r->expire_ms, 0);
    return 0;
}

static int restore_coll_begin(void *arg, int db, int kind, const char *key, size_t klen,
                              uint64_t count_hint, int64_t expire_ms, int64_t lru_idle,
                              int lfu_freq)
{
    struct restore_ctx *r = arg;
    (void)db, (void)key, (void)klen, (void)count_hint, (void)expire_ms, (void)lru_idle,
        (void)lfu_freq;
    r->kind = kind;
    /* a type this node does not store yet: refused as a bad payload */
    return coll_load_begin(&r->coll, r->scratch, 0, kind, r->k, r->expire_ms, r->params) != 0;
}

static int restore_coll_item(void *arg, const char *a, size_t alen, const char *b, size_t blen,
                             double score)
{
    struct restore_ctx *r = arg;
    r->items++;
    return coll_load_item(&r->coll, a, alen, b, blen, score) != 0;
}

static int restore_coll_end(void *arg)
{
    struct restore_ctx *r = arg;
    return coll_load_end(&r->coll);
}

/*
 * Parse payload into r->scratch. @return the entry, or NULL for a payload Redis 7.0 would
 * call bad data: corrupt, of a type not stored here, an empty collection, or a set or sorted
 * set naming a member twice (Redis refuses those; a hash's repeated field keeps its last
 * value, as Redis keeps it).
 */
static struct kv *restore_parse(struct restore_ctx *r, const struct resp_arg *payload,
                                long long max_len)
{
    struct rdb_callbacks cb = { .string = restore_string,
                                .coll_begin = restore_coll_begin,
                                .coll_item = restore_coll_item,
                                .coll_end = restore_coll_end };
    struct rdb_parser_opts po = { .max_len = max_len > 0 ? (uint64_t)max_len : 0, .databases = 1 };
    struct rdb_parser p;
    rdb_parser_init(&p, &cb, r, &po);
    int rc = rdb_parse_dump(&p, payload->ptr, payload->len);
    rdb_parser_deinit(&p);
    if (rc != RDB_DONE)
        return NULL;
    struct kv *e = store_lookup(r->scratch, 0, r->k, 0, STORE_NOTOUCH);
    if (e != NULL && (r->kind == RDB_COLL_SET || r->kind == RDB_COLL_ZSET) &&
        coll_count(e) != r->items)
        return NULL;
    return e;
}

/*
 * RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency],
 * checked in Redis's order: the options, the key (BUSYKEY), the TTL, the trailer, the value.
 * A relative TTL reaches replicas as the absolute time with ABSTTL appended, as Redis
 * rewrites it; a TTL already past deletes a replaced key (propagated as DEL) and adds nothing.
 */
void cmd_restore(struct cmd_ctx *c)
{
    bool replace = false, absttl = false;
    long long idle = -1, freq = -1, ttl;
    for (int j = 4; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        if (cmd_arg_is(c, j, "replace")) {
            replace = true;
        } else if (cmd_arg_is(c, j, "absttl")) {
            absttl = true;
        } else if (more && freq == -1 && cmd_arg_is(c, j, "idletime")) {
            if (!cmd_arg_ll(c, ++j, &idle))
                return;
            if (idle < 0) {
                reply_error(c->reply, ERR_IDLETIME);
                return;
            }
        } else if (more && idle == -1 && cmd_arg_is(c, j, "freq")) {
            if (!cmd_arg_ll(c, ++j, &freq))
                return;
            if (freq < 0 || freq > 255) {
                reply_error(c->reply, ERR_FREQ);
                return;
            }
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    struct skey k;
    skey_init(&k, c->argv[1].ptr, c->argv[1].len);
    struct store *s = cmd_store(c, k.ptr, k.len);
    struct kv *old = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    if (!replace && old != NULL) {
        reply_error(c->reply, ERR_BUSYKEY);
        return;
    }
    if (!cmd_arg_ll(c, 2, &ttl))
        return;
    if (ttl < 0) {
        reply_error(c->reply, ERR_INVALID_TTL);
        return;
    }
    const struct resp_arg *payload = &c->argv[3];
    if (rdb_dump_check(payload->ptr, payload->len) < 0) {
        reply_error(c->reply, ERR_DUMP_PAYLOAD);
        return;
    }
    /* a relative TTL past the end of time wraps in Redis, which then finds the key already
     * expired (the reply is OK and no key is written): the same here, without the wrap */
    bool overflow = ttl != 0 && !absttl && ttl > LLONG_MAX - c->now_ms;
    if (ttl != 0 && !absttl)
        ttl = overflow ? c->now_ms : ttl + c->now_ms;

    struct restore_ctx r = {
        .scratch = store_scratch_new(), .k = &k, .expire_ms = ttl != 0 ? ttl : -1, .params = c->coll
    };
    struct kv *e = restore_parse(&r, payload, c->max_bulk_len);
    if (e == NULL) {
        reply_error(c->reply, ERR_BAD_DATA);
        store_members_free(r.scratch);
        return;
    }
    if (ttl != 0 && (overflow || cmd_already_expired(s, ttl, c->now_ms))) {
        /* already expired: only the replaced key goes */
        if (old != NULL) {
            store_delete_entry(s, c->db, old);
            cmd_propagate_del(c, &c->argv[1]);
            c->dirty++;
            cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
        }
        store_members_free(r.scratch);
        reply_ok(c->reply);
        return;
    }
    struct kv *n;
    if (kv_type(e) == KV_STRING) {
        size_t vlen;
        const char *v = kv_val(e, &vlen);
        n = store_set(s, c->db, &k, v, vlen, kv_enc(e), r.expire_ms, 0);
    } else {
        n = coll_move(r.scratch, 0, e, s, c->db, &k);
    }
    store_members_free(r.scratch);
    store_set_access(s, n, idle, (int)freq, c->now_ms);
    if (ttl != 0 && !absttl) {
        /* RESTORE key <absolute ms> payload [options...] ABSTTL */
        struct resp_arg *argv = mem_alloc(((size_t)c->argc + 1) * sizeof(*argv));
        char num[24];
        memcpy(argv, c->argv, (size_t)c->argc * sizeof(*argv));
        argv[2] = (struct resp_arg){ num, util_ll2str(num, ttl) };
        argv[c->argc] = (struct resp_arg){ (char *)"ABSTTL", 6 };
        cmd_propagate(c, c->argc + 1, argv);
        mem_free(argv);
    }
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_GENERIC, "restore", 1);
    reply_ok(c->reply);
}
