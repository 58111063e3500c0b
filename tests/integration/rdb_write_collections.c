/*
 * Writes an RDB of collections with Pollux's encoder, for
 * test_rdb_collections.py to load into redis-server.
 *
 *     rdb_write_collections OUT.rdb  > expected.json
 *
 * Every key in every record shape the encoder has (compact: hash and zset
 * listpacks, intsets of each width, a one-node list; plain: set, zset, hash,
 * a list in nodes), with integers at every listpack width, empty strings and
 * strings long enough for LZF and every listpack back-length size. stdout
 * gets what was written, as JSON: [{"key", "type", "encoding", "expire",
 * "items"}], items being strings, [field, value] or [member, score as text].
 * The strings are printable ASCII without quotes or backslashes, so they are
 * written into the JSON as they are.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/crc64.h"
#include "replication/rdb.h"
#include "tests/unit/rdb_values_test.h"

#define EXPIRE_MS 4102444800000ll /* 2100-01-01 */

static struct rdb_buf out;
static bool first_key = true;

static char *rep(char ch, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static struct rdb_item item(const char *a, const char *b, double score)
{
    return (struct rdb_item){ a, b, strlen(a), b != NULL ? strlen(b) : 0, score };
}

static void json_str(const char *s)
{
    printf("\"%s\"", s);
}

/* The JSON of one key. */
static void describe(int kind, const char *key, const char *encoding, int64_t expire,
                     const struct rdb_item *it, size_t n)
{
    static const char *const types[] = { "", "list", "set", "zset", "hash" };
    printf("%s{\"key\": \"%s\", \"type\": \"%s\", \"encoding\": \"%s\", \"expire\": %lld, "
           "\"items\": [",
           first_key ? "[" : ",\n", key, types[kind], encoding, (long long)expire);
    first_key = false;
    for (size_t i = 0; i < n; i++) {
        printf(i > 0 ? ", " : "");
        if (kind == RDB_COLL_HASH || kind == RDB_COLL_ZSET) {
            char score[64];
            printf("[");
            json_str(it[i].a);
            printf(", ");
            if (kind == RDB_COLL_ZSET)
                snprintf(score, sizeof(score), "%.17g", it[i].score);
            json_str(kind == RDB_COLL_HASH ? it[i].b : score);
            printf("]");
        } else {
            json_str(it[i].a);
        }
    }
    printf("]}");
}

static void compact(int kind, const char *key, const char *encoding, int64_t expire,
                    const struct rdb_item *it, size_t n)
{
    if (rdb_encode_coll_small(&out, kind, key, strlen(key), it, n, expire, NULL) != 0)
        abort();
    describe(kind, key, encoding, expire, it, n);
}

static void plain(int kind, const char *key, const char *encoding, const struct rdb_item *it,
                  size_t n)
{
    if (kind == RDB_COLL_LIST) {
        rdb_encode_coll_begin(&out, kind, key, strlen(key), rdb_list_nodes(n), -1, NULL);
        for (size_t i = 0; i < n; i += RDB_LIST_NODE_ITEMS)
            rdb_encode_list_node(&out, it + i,
                                 n - i < RDB_LIST_NODE_ITEMS ? n - i : RDB_LIST_NODE_ITEMS, NULL);
    } else {
        rdb_encode_coll_begin(&out, kind, key, strlen(key), n, -1, NULL);
        for (size_t i = 0; i < n; i++)
            rdb_encode_coll_item(&out, kind, &it[i], NULL);
    }
    describe(kind, key, encoding, -1, it, n);
}

static int by_score(const void *x, const void *y)
{
    const struct rdb_item *a = x, *b = y;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return strcmp(a->a, b->a);
}

int main(int argc, char **argv)
{
    static char names[1000][24], vals[1000][24];
    struct rdb_item it[1000];
    size_t n;
    char *s300 = rep('L', 300), *s16378 = rep('M', 16378), *s20000 = rep('N', 20000);

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.rdb\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof(names[i]), "m:%d", i);
        snprintf(vals[i], sizeof(vals[i]), i % 2 ? "v:%d" : "%d", i * 7919 - 3000000);
    }
    rdb_buf_init(&out);
    rdb_encode_header(&out, RDB_VERSION);
    rdb_encode_aux_fields(&out, &(struct rdb_aux_info){ .redis_ver = "7.0.15",
                                                        .redis_bits = 64,
                                                        .ctime = 1700000000,
                                                        .used_mem = 1000000 });
    rdb_encode_selectdb(&out, 0);
    rdb_encode_resizedb(&out, 12, 1);

    /* hashes: listpack with every integer width and empty strings; long values;
     * plain */
    n = 0;
    for (size_t i = 0; i < RDB_TEST_NINTS; i++)
        it[n++] = item(names[i], rdb_test_ints[i], 0);
    it[n++] = item("", "empty-field", 0);
    it[n++] = item("empty-value", "", 0);
    compact(RDB_COLL_HASH, "hash:small", "listpack", EXPIRE_MS, it, n);
    n = 0;
    it[n++] = item("l300", s300, 0);
    it[n++] = item("l16378", s16378, 0);
    it[n++] = item("l20000", s20000, 0);
    /* Redis 7.0 keeps a loaded hash listpack as it is, long values or not */
    compact(RDB_COLL_HASH, "hash:long", "listpack", -1, it, n);
    for (n = 0; n < 300; n++)
        it[n] = item(names[n], vals[n], 0);
    plain(RDB_COLL_HASH, "hash:big", "hashtable", it, n);

    /* lists */
    n = 0;
    for (size_t i = 0; i < RDB_TEST_NINTS; i++)
        it[n++] = item(rdb_test_ints[i], NULL, 0);
    it[n++] = item("", NULL, 0);
    it[n++] = item("text", NULL, 0);
    compact(RDB_COLL_LIST, "list:small", "quicklist", -1, it, n);
    for (n = 0; n < 1000; n++)
        it[n] = item(n % 3 ? names[n] : vals[n], NULL, 0);
    it[500] = item(s20000, NULL, 0);
    it[501] = item(s300, NULL, 0);
    plain(RDB_COLL_LIST, "list:big", "quicklist", it, n);

    /* sets: intsets of the three widths; plain */
    static const size_t widths[] = { 11, 20, RDB_TEST_NINTS };
    static const char *const set_keys[] = { "set:int16", "set:int32", "set:int64" };
    for (int w = 0; w < 3; w++) {
        n = 0;
        for (size_t i = 0; i < widths[w]; i++) {
            long long v = atoll(rdb_test_ints[i]);
            if ((w == 0 && v >= -32768 && v <= 32767) ||
                (w == 1 && v >= -2147483648ll && v <= 2147483647ll) || w == 2)
                it[n++] = item(rdb_test_ints[i], NULL, 0);
        }
        compact(RDB_COLL_SET, set_keys[w], "intset", -1, it, n);
    }
    n = 0;
    it[n++] = item("apple", NULL, 0);
    it[n++] = item("", NULL, 0);
    it[n++] = item("12", NULL, 0);
    it[n++] = item(s300, NULL, 0);
    plain(RDB_COLL_SET, "set:str", "hashtable", it, n);
    /* 500 integers, plain: Redis makes an intset of it (set-max-intset-entries 512) */
    for (n = 0; n < 500; n++)
        it[n] = item(vals[2 * n], NULL, 0);
    plain(RDB_COLL_SET, "set:big", "intset", it, n);

    /* sorted sets: listpack (in score order, as Redis keeps it); plain */
    static const double scores[] = { 1,   2.5, -3,   1e100, INFINITY,           -INFINITY,
                                     0.1, 0,   -0.5, 1e17,  4503599627370496.0, 1.0 / 3 };
    n = 0;
    for (size_t i = 0; i < sizeof(scores) / sizeof(scores[0]); i++)
        it[n++] = item(names[i], NULL, scores[i]);
    it[n++] = item("", NULL, 42);
    qsort(it, n, sizeof(it[0]), by_score);
    compact(RDB_COLL_ZSET, "zset:small", "listpack", -1, it, n);
    for (n = 0; n < 300; n++)
        it[n] = item(names[n], NULL, (double)n * 1.25 - 100);
    plain(RDB_COLL_ZSET, "zset:big", "skiplist", it, n);
    printf("]\n");

    rdb_encode_eof(&out, crc64_update(0, out.p, out.len));
    FILE *f = fopen(argv[1], "wb");
    if (f == NULL || fwrite(out.p, 1, out.len, f) != out.len || fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    rdb_buf_deinit(&out);
    free(s300);
    free(s16378);
    free(s20000);
    return 0;
}
