/*
 * LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the longest common subsequence
 * of two strings, as Redis 7.0 computes it (the same table, the same walk back, so the same
 * answer where several subsequences are longest).
 *
 * Cost: a table of (len1 + 1) * (len2 + 1) 32-bit cells, filled in O(len1 * len2). The
 * table is transient; one larger than proto-max-bulk-len is refused before anything is
 * allocated, as Redis refuses it, and a failed allocation is an error, not an abort.
 */
#include "cmd/cmd.h"

#include <stdint.h>
#include <stdlib.h>

#include "cmd/commands.h"
#include "base/mem.h"

/* A string key's value, "" when absent. @return false for another type. */
static bool lcs_value(struct cmd_ctx *c, int i, const char **v, size_t *n)
{
    struct skey k;
    skey_init(&k, c->argv[i].ptr, c->argv[i].len);
    struct kv *e = store_lookup(cmd_store(c, k.ptr, k.len), c->db, &k, c->now_ms, 0);
    *v = "";
    *n = 0;
    if (e == NULL)
        return true;
    if (kv_type(e) != KV_STRING)
        return false;
    *v = kv_val(e, n);
    return true;
}

/* One matching range: a[a0..a1] equals b[b0..b1]. */
struct lcs_range {
    uint32_t a0, a1, b0, b1;
};

void cmd_lcs(struct cmd_ctx *c)
{
    const char *a, *b;
    size_t alen, blen;
    long long minmatchlen = 0;
    bool getlen = false, getidx = false, withmatchlen = false;

    /* both keys are looked up before either is judged, as Redis does */
    bool ok_a = lcs_value(c, 1, &a, &alen);
    bool ok_b = lcs_value(c, 2, &b, &blen);
    if (!ok_a || !ok_b) {
        reply_error(c->reply, ERR_LCS_TYPE);
        return;
    }
    for (int j = 3; j < c->argc; j++) {
        if (cmd_arg_is(c, j, "idx")) {
            getidx = true;
        } else if (cmd_arg_is(c, j, "len")) {
            getlen = true;
        } else if (cmd_arg_is(c, j, "withmatchlen")) {
            withmatchlen = true;
        } else if (cmd_arg_is(c, j, "minmatchlen") && j + 1 < c->argc) {
            if (!cmd_arg_ll(c, ++j, &minmatchlen))
                return;
            if (minmatchlen < 0)
                minmatchlen = 0;
        } else {
            reply_error(c->reply, ERR_SYNTAX);
            return;
        }
    }
    if (getidx && getlen) {
        reply_error(c->reply, ERR_LCS_LEN_IDX);
        return;
    }
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        reply_error(c->reply, ERR_LCS_TOO_LONG);
        return;
    }
    /* below 2^64: both lengths are below 2^32 */
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    if (cells > SIZE_MAX / sizeof(uint32_t)) {
        reply_error(c->reply, ERR_LCS_ALLOC);
        return;
    }
    if (cells * sizeof(uint32_t) > (unsigned long long)c->max_bulk_len) {
        reply_error(c->reply, ERR_LCS_MEMORY);
        return;
    }
    /* plain malloc: the worker's arena, like mem_alloc, but a failure is the client's error */
    uint32_t *dp = malloc((size_t)cells * sizeof(uint32_t));
    if (dp == NULL) {
        reply_error(c->reply, ERR_LCS_ALLOC);
        return;
    }
#define LCS(i, j) dp[(size_t)(j) + (size_t)(i) * (blen + 1)]
    for (size_t i = 0; i <= alen; i++) {
        for (size_t j = 0; j <= blen; j++) {
            if (i == 0 || j == 0)
                LCS(i, j) = 0;
            else if (a[i - 1] == b[j - 1])
                LCS(i, j) = LCS(i - 1, j - 1) + 1;
            else
                LCS(i, j) = LCS(i - 1, j) > LCS(i, j - 1) ? LCS(i - 1, j) : LCS(i, j - 1);
        }
    }
    uint32_t total = LCS(alen, blen);
    if (getlen) {
        free(dp);
        reply_int(c->reply, total);
        return;
    }

    /* Walk back from the end: the subsequence, and its contiguous ranges when asked. */
    char *result = mem_alloc(total > 0 ? total : 1);
    struct lcs_range *ranges = getidx ? mem_alloc((total > 0 ? total : 1) * sizeof(*ranges)) : NULL;
    size_t nranges = 0;
    uint32_t idx = total, i = (uint32_t)alen, j = (uint32_t)blen;
    uint32_t as = (uint32_t)alen, ae = 0, bs = 0, be = 0; /* as == alen: no range open */
    while (i > 0 && j > 0) {
        bool emit = false;
        if (a[i - 1] == b[j - 1]) {
            result[--idx] = a[i - 1];
            if (as == alen) {
                as = ae = i - 1;
                bs = be = j - 1;
            } else if (as == i && bs == j) {
                as--;
                bs--;
            } else {
                emit = true;
            }
            if (as == 0 || bs == 0)
                emit = true;
            i--;
            j--;
        } else {
            if (LCS(i - 1, j) > LCS(i, j - 1))
                i--;
            else
                j--;
            if (as != alen)
                emit = true;
        }
        if (emit) {
            uint32_t mlen = ae - as + 1;
            if (ranges != NULL && (minmatchlen == 0 || mlen >= minmatchlen))
                ranges[nranges++] = (struct lcs_range){ as, ae, bs, be };
            as = (uint32_t)alen;
        }
    }
#undef LCS
    free(dp);
    if (ranges == NULL) {
        reply_bulk(c->reply, result, total);
    } else {
        reply_map(c->reply, 2);
        reply_bulk_cstr(c->reply, "matches");
        reply_array(c->reply, (long long)nranges);
        for (size_t r = 0; r < nranges; r++) {
            reply_array(c->reply, withmatchlen ? 3 : 2);
            reply_array(c->reply, 2);
            reply_int(c->reply, ranges[r].a0);
            reply_int(c->reply, ranges[r].a1);
            reply_array(c->reply, 2);
            reply_int(c->reply, ranges[r].b0);
            reply_int(c->reply, ranges[r].b1);
            if (withmatchlen)
                reply_int(c->reply, ranges[r].a1 - ranges[r].a0 + 1);
        }
        reply_bulk_cstr(c->reply, "len");
        reply_int(c->reply, total);
    }
    mem_free(ranges);
    mem_free(result);
}
