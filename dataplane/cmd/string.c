/*
 * String commands: GET, SET and its variants, multi-key MGET/MSET/MSETNX,
 * counters, APPEND and ranges.
 *
 * GET, SET, INCR, MGET and MSET carry the benchmark load, so they allocate
 * nothing beyond the store's own entry, format numbers without printf and
 * recognise options by length and first letter. A key's hash is computed once
 * (struct skey) and reused by every lookup and insert of the command.
 */
#include "cmd/cmd.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "cmd/commands.h"
#include "base/common.h"
#include "base/util.h"

/* Strings up to this length are created "embstr" by Redis, longer ones "raw". */
#define EMBSTR_MAX 44

/* Case-insensitive comparison of n bytes with a lower-case, letters-only word. */
static inline bool eq_lower(const char *p, const char *word, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != word[i])
            return false;
    return true;
}

static inline struct store *key_store(struct cmd_ctx *c, int i, struct skey *k)
{
    skey_init(k, c->argv[i].ptr, c->argv[i].len);
    return cmd_store(c, k->ptr, k->len);
}

static inline bool is_string(struct cmd_ctx *c, const struct kv *e)
{
    if (likely(kv_type(e) == KV_STRING))
        return true;
    reply_error(c->reply, ERR_WRONGTYPE);
    return false;
}

static inline void reply_value(struct reply *r, struct kv *e)
{
    size_t n;
    const char *v = kv_val(e, &n);
    reply_bulk(r, v, n);
}

/* ---- SET options (shared with GETEX) ----------------------------------- */

enum {
    SO_NX = 1u << 0,
    SO_XX = 1u << 1,
    SO_GET = 1u << 2,
    SO_KEEPTTL = 1u << 3,
    SO_PERSIST = 1u << 4,
    SO_EX = 1u << 5,
    SO_PX = 1u << 6,
    SO_EXAT = 1u << 7,
    SO_PXAT = 1u << 8,
};
#define SO_EXPIRE (SO_EX | SO_PX | SO_EXAT | SO_PXAT)

static unsigned set_option(const struct resp_arg *a)
{
    const char *p = a->ptr;
    switch (a->len) {
    case 2:
        if ((p[1] | 0x20) != 'x')
            return 0;
        switch (p[0] | 0x20) {
        case 'n':
            return SO_NX;
        case 'x':
            return SO_XX;
        case 'e':
            return SO_EX;
        case 'p':
            return SO_PX;
        }
        return 0;
    case 3:
        return eq_lower(p, "get", 3) ? SO_GET : 0;
    case 4:
        if (!eq_lower(p + 1, "xat", 3))
            return 0;
        switch (p[0] | 0x20) {
        case 'e':
            return SO_EXAT;
        case 'p':
            return SO_PXAT;
        }
        return 0;
    case 7:
        switch (p[0] | 0x20) {
        case 'k':
            return eq_lower(p + 1, "eepttl", 6) ? SO_KEEPTTL : 0;
        case 'p':
            return eq_lower(p + 1, "ersist", 6) ? SO_PERSIST : 0;
        }
        return 0;
    }
    return 0;
}

/*
 * Parse SET's (or GETEX's) options from argv[first]. Repeating an option is
 * allowed (the last expiry value wins); mixing NX with XX, two different
 * expiry forms, KEEPTTL or PERSIST with an expiry, or an option the command
 * does not take is a syntax error. *exp_arg is the index of the expiry
 * value, 0 when there is none; the value itself is read later, as Redis does.
 */
static bool parse_set_options(struct cmd_ctx *c, int first, bool getex, unsigned *flags,
                              int *exp_arg)
{
    unsigned f = 0;
    for (int j = first; j < c->argc; j++) {
        unsigned t = set_option(&c->argv[j]);
        bool ok;
        switch (t) {
        case SO_NX:
            ok = !getex && !(f & SO_XX);
            break;
        case SO_XX:
            ok = !getex && !(f & SO_NX);
            break;
        case SO_GET:
            ok = !getex;
            break;
        case SO_KEEPTTL:
            ok = !getex && !(f & SO_EXPIRE);
            break;
        case SO_PERSIST:
            ok = getex && !(f & SO_EXPIRE);
            break;
        case SO_EX:
        case SO_PX:
        case SO_EXAT:
        case SO_PXAT:
            ok = j + 1 < c->argc && !(f & (SO_KEEPTTL | SO_PERSIST)) && !(f & SO_EXPIRE & ~t);
            if (ok)
                *exp_arg = ++j;
            break;
        default:
            ok = false;
        }
        if (!ok) {
            reply_error(c->reply, ERR_SYNTAX);
            return false;
        }
        f |= t;
    }
    *flags = f;
    return true;
}

/*
 * The absolute expiry (unix ms) of an EX/PX/EXAT/PXAT value: positive, and
 * neither the conversion to milliseconds nor the addition of the current time
 * may overflow.
 */
static bool expire_value(struct cmd_ctx *c, int i, unsigned unit, int64_t *when)
{
    long long v;
    if (!cmd_arg_ll(c, i, &v))
        return false;
    bool seconds = (unit & (SO_EX | SO_EXAT)) != 0;
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000))
        goto invalid;
    if (seconds)
        v *= 1000;
    if (unit & (SO_EX | SO_PX)) {
        if (v > LLONG_MAX - c->now_ms)
            goto invalid;
        v += c->now_ms;
    }
    *when = v;
    return true;
invalid:
    reply_errorf(c->reply, ERRF_INVALID_EXPIRE, c->cmd->name);
    return false;
}

/*
 * Store argv[vi] at argv[1] with the conditions of `flags` (NX, XX, GET,
 * KEEPTTL) and absolute expiry `when` (-1: none). With GET the old value is
 * the reply (written before the overwrite frees it); otherwise +OK, or a
 * null when NX/XX stopped the write.
 */
static void set_generic(struct cmd_ctx *c, int vi, unsigned flags, int64_t when)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    const struct resp_arg *v = &c->argv[vi];

    if (flags & (SO_NX | SO_XX | SO_GET)) {
        struct kv *old;
        if (flags & SO_GET) {
            old = store_lookup(s, c->db, &k, c->now_ms, 0);
            if (old != NULL) {
                if (!is_string(c, old))
                    return;
                reply_value(c->reply, old);
            } else {
                reply_null(c->reply);
            }
        } else {
            old = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
        }
        if ((flags & SO_NX && old != NULL) || (flags & SO_XX && old == NULL)) {
            if (!(flags & SO_GET))
                reply_null(c->reply);
            return;
        }
    }
    store_set(s, c->db, &k, v->ptr, v->len, cmd_string_encoding(v->ptr, v->len), when,
              (flags & SO_KEEPTTL) ? STORE_KEEPTTL : 0);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_STRING, "set", 1);
    if (when >= 0)
        cmd_changed_arg(c, NOTIFY_GENERIC, "expire", 1);
    if (when >= 0) /* EX/PX/SETEX...: replicas get the absolute time */
        cmd_propagate_set(c, &c->argv[1], v->ptr, v->len, when, false);
    if (!(flags & SO_GET))
        reply_ok(c->reply);
}

/* ---- GET / SET family --------------------------------------------------- */

void cmd_get(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, 0);
    if (e == NULL) {
        reply_null(c->reply);
        return;
    }
    if (is_string(c, e))
        reply_value(c->reply, e);
}

/*
 * SET's key is always argv[1]; its flags depend on GET: with it the value is
 * read and then updated (RW, access), without it overwritten (OW).
 */
int cmd_set_keys(int argc, const struct resp_arg *argv, int *keys, uint32_t *flags, int max)
{
    if (max < 1 || argc < 2)
        return 0;
    keys[0] = 1;
    if (flags != NULL) {
        flags[0] = CMD_KS_OW | CMD_KS_UPDATE;
        for (int i = 3; i < argc; i++)
            if (util_strcaseeq(argv[i].ptr, argv[i].len, "get"))
                flags[0] = CMD_KS_RW | CMD_KS_ACCESS | CMD_KS_UPDATE;
    }
    return 1;
}

void cmd_set(struct cmd_ctx *c)
{
    unsigned flags = 0;
    int exp_arg = 0;
    int64_t when = -1;
    if (c->argc > 3 && !parse_set_options(c, 3, false, &flags, &exp_arg))
        return;
    if (exp_arg != 0 && !expire_value(c, exp_arg, flags & SO_EXPIRE, &when))
        return;
    set_generic(c, 2, flags, when);
}

void cmd_setnx(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    if (store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS) != NULL) {
        reply_int(c->reply, 0);
        return;
    }
    const struct resp_arg *v = &c->argv[2];
    store_set(s, c->db, &k, v->ptr, v->len, cmd_string_encoding(v->ptr, v->len), -1, 0);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_STRING, "set", 1);
    reply_int(c->reply, 1);
}

void cmd_setex(struct cmd_ctx *c)
{
    int64_t when;
    if (expire_value(c, 2, SO_EX, &when))
        set_generic(c, 3, 0, when);
}

void cmd_psetex(struct cmd_ctx *c)
{
    int64_t when;
    if (expire_value(c, 2, SO_PX, &when))
        set_generic(c, 3, 0, when);
}

void cmd_getset(struct cmd_ctx *c)
{
    set_generic(c, 2, SO_GET, -1);
}

void cmd_getdel(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, 0);
    if (e == NULL) {
        reply_null(c->reply);
        return;
    }
    if (!is_string(c, e))
        return;
    reply_value(c->reply, e);
    store_delete_entry(s, c->db, e);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
    cmd_propagate_del(c, &c->argv[1]);
}

/*
 * GETEX: the value, then the expiry change. Options are checked before the
 * lookup and the expiry value after it (a missing key answers null even
 * with a bad value), as Redis does. An EXAT/PXAT in the past deletes the key.
 */
void cmd_getex(struct cmd_ctx *c)
{
    unsigned flags = 0;
    int exp_arg = 0;
    int64_t when = -1;
    if (!parse_set_options(c, 2, true, &flags, &exp_arg))
        return;
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, 0);
    if (e == NULL) {
        reply_null(c->reply);
        return;
    }
    if (!is_string(c, e))
        return;
    if (exp_arg != 0 && !expire_value(c, exp_arg, flags & SO_EXPIRE, &when))
        return;
    reply_value(c->reply, e);
    if ((flags & (SO_EXAT | SO_PXAT)) && when <= c->now_ms) {
        store_delete_entry(s, c->db, e);
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_GENERIC, "del", 1);
        cmd_propagate_del(c, &c->argv[1]);
    } else if (exp_arg != 0) {
        store_set_expire(s, c->db, e, when);
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_GENERIC, "expire", 1);
        cmd_propagate_pexpireat(c, &c->argv[1], when);
    } else if ((flags & SO_PERSIST) && kv_expire(e) != -1) {
        store_set_expire(s, c->db, e, -1);
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_GENERIC, "persist", 1);
        struct resp_arg a[2] = { { (char *)"PERSIST", 7 }, c->argv[1] };
        cmd_propagate(c, 2, a);
    }
}

/* ---- multi-key ---------------------------------------------------------- */

void cmd_mget(struct cmd_ctx *c)
{
    reply_array(c->reply, c->argc - 1);
    for (int i = 1; i < c->argc; i++) {
        struct skey k;
        struct store *s = key_store(c, i, &k);
        struct kv *e = store_lookup(s, c->db, &k, c->now_ms, 0);
        if (e == NULL || kv_type(e) != KV_STRING)
            reply_null(c->reply);
        else
            reply_value(c->reply, e);
    }
}

static void mset_all(struct cmd_ctx *c)
{
    for (int i = 1; i < c->argc; i += 2) {
        struct skey k;
        struct store *s = key_store(c, i, &k);
        const struct resp_arg *v = &c->argv[i + 1];
        store_set(s, c->db, &k, v->ptr, v->len, cmd_string_encoding(v->ptr, v->len), -1, 0);
        cmd_changed_arg(c, NOTIFY_STRING, "set", i);
    }
    c->dirty += (c->argc - 1) / 2;
}

void cmd_mset(struct cmd_ctx *c)
{
    if ((c->argc & 1) == 0) {
        cmd_reply_arity(c);
        return;
    }
    mset_all(c);
    reply_ok(c->reply);
}

/* All or nothing: every key is checked before the first is written. */
void cmd_msetnx(struct cmd_ctx *c)
{
    if ((c->argc & 1) == 0) {
        cmd_reply_arity(c);
        return;
    }
    for (int i = 1; i < c->argc; i += 2) {
        struct skey k;
        struct store *s = key_store(c, i, &k);
        if (store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS) != NULL) {
            reply_int(c->reply, 0);
            return;
        }
    }
    mset_all(c);
    reply_int(c->reply, 1);
}

/* ---- counters ----------------------------------------------------------- */

/*
 * Replace e's value with n bytes from buf (the key keeps its expiry), or
 * create the key when e is NULL.
 */
static void write_value(struct cmd_ctx *c, struct store *s, const struct skey *k, struct kv *e,
                        const char *buf, size_t n, enum kv_enc enc)
{
    if (e == NULL) {
        store_set(s, c->db, k, buf, n, enc, -1, 0);
        return;
    }
    size_t old;
    kv_val(e, &old);
    if (old != n)
        e = store_resize(s, c->db, e, n);
    char *p = kv_val(e, &old);
    memcpy(p, buf, n);
    kv_set_enc(e, enc);
}

static void incr_generic(struct cmd_ctx *c, long long by)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    long long v = 0;
    if (e != NULL) {
        if (!is_string(c, e))
            return;
        size_t n;
        const char *p = kv_val(e, &n);
        if (!util_str2ll(p, n, &v)) {
            reply_error(c->reply, ERR_NOT_INTEGER);
            return;
        }
    }
    if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
        reply_error(c->reply, ERR_OVERFLOW);
        return;
    }
    v += by;
    char buf[24];
    size_t n = util_ll2str(buf, v);
    write_value(c, s, &k, e, buf, n, KV_ENC_INT);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_STRING, "incrby", 1);
    reply_int(c->reply, v);
}

void cmd_incr(struct cmd_ctx *c)
{
    incr_generic(c, 1);
}

void cmd_decr(struct cmd_ctx *c)
{
    incr_generic(c, -1);
}

void cmd_incrby(struct cmd_ctx *c)
{
    long long by;
    if (cmd_arg_ll(c, 2, &by))
        incr_generic(c, by);
}

void cmd_decrby(struct cmd_ctx *c)
{
    long long by;
    if (!cmd_arg_ll(c, 2, &by))
        return;
    if (by == LLONG_MIN) {
        reply_error(c->reply, ERR_DECR_OVERFLOW);
        return;
    }
    incr_generic(c, -by);
}

/*
 * INCRBYFLOAT works in long double and stores the result as text
 * (util_ld2str: "%.17Lf" without trailing zeros), never as an int encoding.
 */
void cmd_incrbyfloat(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    long double v = 0, by;
    if (e != NULL) {
        if (!is_string(c, e))
            return;
        size_t n;
        const char *p = kv_val(e, &n);
        if (!util_str2ld(p, n, &v)) {
            reply_error(c->reply, ERR_NOT_FLOAT);
            return;
        }
    }
    if (!cmd_arg_ld(c, 2, &by))
        return;
    v += by;
    if (isnan(v) || isinf(v)) {
        reply_error(c->reply, ERR_INCR_NAN);
        return;
    }
    char buf[UTIL_LD_BUF];
    size_t n = util_ld2str(buf, v);
    if (n == 0) {
        reply_error(c->reply, ERR_INCR_NAN);
        return;
    }
    write_value(c, s, &k, e, buf, n, n <= EMBSTR_MAX ? KV_ENC_EMBSTR : KV_ENC_RAW);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_STRING, "incrbyfloat", 1);
    /* the exact text, so float formatting on the replica cannot differ */
    cmd_propagate_set(c, &c->argv[1], buf, n, -1, true);
    reply_bulk(c->reply, buf, n);
}

/* ---- APPEND, STRLEN, ranges --------------------------------------------- */

/* Whether a string of `have` bytes may grow by `add` (proto-max-bulk-len). */
static bool length_ok(struct cmd_ctx *c, unsigned long long have, unsigned long long add)
{
    if (have + add > (unsigned long long)c->max_bulk_len) {
        reply_error(c->reply, ERR_STRING_SIZE);
        return false;
    }
    return true;
}

void cmd_append(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    const struct resp_arg *v = &c->argv[2];
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    if (e == NULL) {
        store_set(s, c->db, &k, v->ptr, v->len, cmd_string_encoding(v->ptr, v->len), -1, 0);
        c->dirty++;
        cmd_changed_arg(c, NOTIFY_STRING, "append", 1);
        reply_int(c->reply, (long long)v->len);
        return;
    }
    if (!is_string(c, e))
        return;
    size_t olen;
    kv_val(e, &olen);
    if (!length_ok(c, olen, v->len))
        return;
    if (v->len > 0) {
        e = store_resize(s, c->db, e, olen + v->len);
        size_t n;
        memcpy(kv_val(e, &n) + olen, v->ptr, v->len);
    }
    kv_set_enc(e, KV_ENC_RAW);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_STRING, "append", 1);
    reply_int(c->reply, (long long)(olen + v->len));
}

void cmd_strlen(struct cmd_ctx *c)
{
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, 0);
    if (e == NULL) {
        reply_int(c->reply, 0);
        return;
    }
    if (!is_string(c, e))
        return;
    size_t n;
    kv_val(e, &n);
    reply_int(c->reply, (long long)n);
}

/*
 * GETRANGE start end: negative indexes count from the end; both are clamped
 * into the string; an empty range (or a missing key) is an empty string.
 */
void cmd_getrange(struct cmd_ctx *c)
{
    long long start, end;
    if (!cmd_arg_ll(c, 2, &start) || !cmd_arg_ll(c, 3, &end))
        return;
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, 0);
    if (e == NULL) {
        reply_bulk(c->reply, "", 0);
        return;
    }
    if (!is_string(c, e))
        return;
    size_t len;
    const char *p = kv_val(e, &len);
    long long n = (long long)len;
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(c->reply, "", 0);
        return;
    }
    if (start < 0)
        start += n;
    if (end < 0)
        end += n;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= n)
        end = n - 1;
    if (n == 0 || start > end)
        reply_bulk(c->reply, "", 0);
    else
        reply_bulk(c->reply, p + start, (size_t)(end - start + 1));
}

/*
 * SETRANGE key offset value: overwrite from offset, padding with zero bytes.
 * An empty value changes nothing (and creates nothing); the result may not
 * exceed proto-max-bulk-len.
 */
void cmd_setrange(struct cmd_ctx *c)
{
    long long off;
    if (!cmd_arg_ll(c, 2, &off))
        return;
    if (off < 0) {
        reply_error(c->reply, ERR_OFFSET_RANGE);
        return;
    }
    struct skey k;
    struct store *s = key_store(c, 1, &k);
    const struct resp_arg *v = &c->argv[3];
    struct kv *e = store_lookup(s, c->db, &k, c->now_ms, STORE_NOSTATS);
    size_t olen = 0, n;
    if (e != NULL) {
        if (!is_string(c, e))
            return;
        kv_val(e, &olen);
    }
    if (v->len == 0) {
        reply_int(c->reply, (long long)olen);
        return;
    }
    if (!length_ok(c, (unsigned long long)off, v->len))
        return;
    size_t end = (size_t)off + v->len;
    char *p;
    if (e == NULL) {
        e = store_set(s, c->db, &k, NULL, end, KV_ENC_RAW, -1, 0);
        p = kv_val(e, &n);
        memset(p, 0, (size_t)off);
    } else {
        if (end > olen) {
            e = store_resize(s, c->db, e, end);
            p = kv_val(e, &n);
            if ((size_t)off > olen)
                memset(p + olen, 0, (size_t)off - olen);
        } else {
            p = kv_val(e, &n);
        }
        kv_set_enc(e, KV_ENC_RAW);
    }
    memcpy(p + off, v->ptr, v->len);
    c->dirty++;
    cmd_changed_arg(c, NOTIFY_STRING, "setrange", 1);
    reply_int(c->reply, (long long)(end > olen ? end : olen));
}

/* ---- the table ---------------------------------------------------------- */
