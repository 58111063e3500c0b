#include "cmd/cmd.h"
#include "base/errors.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/mem.h"
#include "base/util.h"

struct store *cmd_store(struct cmd_ctx *c, const char *key, size_t len)
{
    if (c->store != NULL)
        return c->store;
    return c->stores[cmd_key_shard(key, len, c->nshards)];
}

/*
 * Keys one spec finds: begin_search gives the first, find_keys the rest (Redis 7's rules).
 * @return how many, or -1 when the arguments contradict the spec (a key count that is not a
 *         positive number or names keys past the end).
 */
static int keys_from_spec(const struct cmd_key_spec *ks, int argc, const struct resp_arg *argv,
                          int *keys, int max)
{
    int first;
    if (ks->bs_type == CMD_KS_INDEX) {
        first = ks->bs.index;
    } else if (ks->bs_type == CMD_KS_KEYWORD) {
        int from = ks->bs.keyword.startfrom;
        int i = from >= 0 ? from : argc + from, step = from >= 0 ? 1 : -1;
        for (; i > 0 && i < argc; i += step)
            if (util_strcaseeq(argv[i].ptr, argv[i].len, ks->bs.keyword.keyword))
                break;
        if (i <= 0 || i >= argc)
            return 0;
        first = i + 1;
    } else {
        return 0;
    }
    if (first <= 0 || first >= argc)
        return 0;
    int last, step;
    if (ks->fk_type == CMD_KS_RANGE) {
        int lastkey = ks->fk.range.lastkey, limit = ks->fk.range.limit;
        step = ks->fk.range.keystep > 0 ? ks->fk.range.keystep : 1;
        if (lastkey >= 0)
            last = first + lastkey;
        else if (limit <= 1)
            last = argc + lastkey;
        else
            last = first + (argc - first) / limit + lastkey;
    } else if (ks->fk_type == CMD_KS_KEYNUM) {
        int at = first + ks->fk.keynum.keynumidx;
        long long num;
        /* a count that is no number, or keys past the end: invalid, as Redis says */
        if (at >= argc || !util_str2ll(argv[at].ptr, argv[at].len, &num) || num < 1 || num > argc)
            return -1;
        step = ks->fk.keynum.keystep > 0 ? ks->fk.keynum.keystep : 1;
        first += ks->fk.keynum.firstkey;
        last = first + ((int)num - 1) * step;
        if (first >= argc || last >= argc)
            return -1;
    } else {
        return 0;
    }
    int n = 0;
    for (int i = first; i <= last && i < argc && n < max; i += step)
        keys[n++] = i;
    return n;
}

int cmd_get_keys_flags(const struct cmd_def *d, int argc, const struct resp_arg *argv, int *keys,
                       uint32_t *flags, int max)
{
    if (d->getkeys != NULL)
        return d->getkeys(argc, argv, keys, flags, max);
    int n = 0;
    for (unsigned s = 0; s < d->nkeyspecs && n < max; s++) {
        int got = keys_from_spec(&d->keyspecs[s], argc, argv, keys + n, max - n);
        if (got < 0)
            return -1;
        for (int i = 0; flags != NULL && i < got; i++)
            flags[n + i] = d->keyspecs[s].flags;
        n += got;
    }
    return n;
}

/*
 * The legacy triple (derived from the key specs by gen_commands.py) finds the
 * keys of every command whose keys do not move, without walking the specs.
 */
int cmd_get_keys(const struct cmd_def *d, int argc, const struct resp_arg *argv, int *keys, int max)
{
    if (d->flags & CMD_MOVABLEKEYS)
        return cmd_get_keys_flags(d, argc, argv, keys, NULL, max);
    if (d->first_key <= 0)
        return 0;
    int last = d->last_key < 0 ? argc + d->last_key : d->last_key;
    int step = d->key_step > 0 ? d->key_step : 1;
    int n = 0;
    for (int i = d->first_key; i <= last && i < argc && n < max; i += step)
        keys[n++] = i;
    return n;
}

bool cmd_arg_ll(struct cmd_ctx *c, int i, long long *v)
{
    if (util_str2ll(c->argv[i].ptr, c->argv[i].len, v))
        return true;
    reply_error(c->reply, ERR_NOT_INTEGER);
    return false;
}

bool cmd_arg_ld(struct cmd_ctx *c, int i, long double *v)
{
    if (util_str2ld(c->argv[i].ptr, c->argv[i].len, v))
        return true;
    reply_error(c->reply, ERR_NOT_FLOAT);
    return false;
}

bool cmd_arg_is(const struct cmd_ctx *c, int i, const char *word)
{
    return i < c->argc && util_strcaseeq(c->argv[i].ptr, c->argv[i].len, word);
}

bool cmd_arg_int(struct cmd_ctx *c, int i, int *v)
{
    long long ll;
    if (!cmd_arg_ll(c, i, &ll))
        return false;
    if (ll < INT_MIN || ll > INT_MAX) {
        reply_error(c->reply, ERR_INT_RANGE);
        return false;
    }
    *v = (int)ll;
    return true;
}

bool cmd_parse_cursor(const char *s, size_t len, uint64_t *cursor)
{
    size_t i = 0;
    bool neg = false;
    if (len == 0) {
        *cursor = 0;
        return true;
    }
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return false;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *cursor = neg ? (uint64_t)0 - v : v;
    return true;
}

/* Redis keeps a string as an integer when it is a canonical int64 of at most 20 chars. */
enum kv_enc cmd_string_encoding(const char *v, size_t len)
{
    long long ll;
    if (len <= 20 && util_str2ll(v, len, &ll))
        return KV_ENC_INT;
    return len <= 44 ? KV_ENC_EMBSTR : KV_ENC_RAW;
}

void cmd_reply_help(struct cmd_ctx *c, const char *const *lines, size_t n)
{
    reply_array(c->reply, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_status(c->reply, lines[i]);
}

void cmd_reply_arity(struct cmd_ctx *c)
{
    if (c->parent != NULL)
        reply_errorf(c->reply, ERRF_SUB_ARITY, c->parent->name, c->cmd->name);
    else
        reply_errorf(c->reply, ERRF_ARITY, c->cmd->name);
}

void cmd_propagate(struct cmd_ctx *c, int argc, const struct resp_arg *argv)
{
    if (c->propagate == NULL)
        return;
    c->propagate(c, argc, argv);
    c->propagated = true;
}

static struct resp_arg word(const char *s)
{
    return (struct resp_arg){ (char *)s, strlen(s) };
}

void cmd_propagate_del(struct cmd_ctx *c, const struct resp_arg *key)
{
    struct resp_arg a[2] = { word("DEL"), *key };
    cmd_propagate(c, 2, a);
}

void cmd_propagate_pexpireat(struct cmd_ctx *c, const struct resp_arg *key, int64_t when_ms)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)when_ms);
    struct resp_arg a[3] = { word("PEXPIREAT"), *key, { num, (size_t)n } };
    cmd_propagate(c, 3, a);
}

void cmd_propagate_set(struct cmd_ctx *c, const struct resp_arg *key, const char *val, size_t vlen,
                       int64_t when_ms, bool keepttl)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", (long long)when_ms);
    struct resp_arg a[5] = {
        word("SET"), *key, { (char *)val, vlen }, word("PXAT"), { num, (size_t)n }
    };
    if (when_ms >= 0)
        cmd_propagate(c, 5, a);
    else if (keepttl) {
        a[3] = word("KEEPTTL");
        cmd_propagate(c, 4, a);
    } else {
        cmd_propagate(c, 3, a);
    }
}

void cmd_scan_acc_init(struct scan_acc *a)
{
    a->n = 0;
    a->cap = ARRAY_SIZE(a->inl);
    a->v = a->inl;
}

void cmd_scan_visit(void *arg, struct kv *e)
{
    struct scan_acc *a = arg;
    if (a->n == a->cap) {
        size_t cap = a->cap * 2;
        if (a->v == a->inl) {
            a->v = mem_alloc(cap * sizeof(*a->v));
            memcpy(a->v, a->inl, a->n * sizeof(*a->v));
        } else {
            a->v = mem_realloc(a->v, cap * sizeof(*a->v));
        }
        a->cap = cap;
    }
    a->v[a->n++] = e;
}

void cmd_scan_acc_free(struct scan_acc *a)
{
    if (a->v != a->inl)
        mem_free(a->v);
}

void cmd_reply_cursor(struct reply *r, uint64_t cur)
{
    char buf[24];
    reply_bulk(r, buf, util_ull2str(buf, cur));
}

/* ---- blocking commands ---------------------------------------------------------------- */

bool cmd_block_timeout(struct cmd_ctx *c, int i, int64_t *ms)
{
    const struct resp_arg *a = &c->argv[i];
    char buf[128];
    if (a->len == 0 || a->len >= sizeof(buf) || isspace((unsigned char)a->ptr[0])) {
        reply_error(c->reply, ERR_TIMEOUT_FLOAT);
        return false;
    }
    memcpy(buf, a->ptr, a->len);
    buf[a->len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + a->len || isnan(v) ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0))) {
        reply_error(c->reply, ERR_TIMEOUT_FLOAT);
        return false;
    }
    v *= 1000.0L;
    /* Redis converts without a range check: on its x86-64 builds a value past the range of
     * a long long (an infinity too) turns negative */
    if (!(v < 9223372036854775807.0L) || !(v > -9223372036854775807.0L) || (long long)v < 0) {
        reply_error(c->reply, ERR_TIMEOUT_NEGATIVE);
        return false;
    }
    long long t = (long long)v;
    /* Redis 7.0 takes a deadline past the clock's range too: it never comes */
    *ms = t > LLONG_MAX - c->now_ms ? 0 : t;
    return true;
}

bool cmd_key_ready(const struct cmd_ctx *c, int i)
{
    const struct resp_arg *k = c->ready_key;
    return k == NULL || (k->len == c->argv[i].len && memcmp(k->ptr, c->argv[i].ptr, k->len) == 0);
}

bool cmd_block(struct cmd_ctx *c, int first, int nkeys, int step, int kind, int64_t timeout_ms)
{
    return c->block != NULL && c->block(c, first, nkeys, step, kind, timeout_ms);
}
