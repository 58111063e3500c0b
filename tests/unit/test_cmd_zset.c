/*
 * Sorted-set commands: replies byte for byte as Redis 7.0 gives them (errors included), the
 * conversions between the two encodings, and a seeded random run of the write commands
 * against a small reference model, one shard and three, with zset-max-listpack-entries and
 * zset-max-listpack-value lowered so that sets turn into skiplists, are emptied and start
 * again as listpacks many times over.
 *
 * The model keeps each key as an array of (member, score) in Redis's order (score, then the
 * member's bytes) and works out every reply from it, so a difference in order, in the text
 * of a score, in a count or in the encoding shows at the step that caused it.
 */
#include "tests/unit/cmd_test.h"

#include <math.h>

#define ZERO ":0\r\n"
#define ONE  ":1\r\n"
#define NIL  "$-1\r\n"

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

/* ---- replies exactly -------------------------------------------------------------------- */

/* Replies and errors byte for byte as Redis 7.0 gives them, on one shard and across three. */
static void replies_exact(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ":3\r\n", "zadd", "z", "1", "a", "2", "b", "3", "c");
    EXPECT(f, "+OK\r\n", "set", "str", "v");
    EXPECT(f, WRONGTYPE, "zadd", "str", "1", "a");
    EXPECT(f, WRONGTYPE, "zincrby", "str", "1", "a");
    EXPECT(f, WRONGTYPE, "zrem", "str", "a");
    EXPECT(f, WRONGTYPE, "zpopmin", "str");
    EXPECT(f, WRONGTYPE, "zremrangebyrank", "str", "0", "1");
    EXPECT(f, WRONGTYPE, "zunionstore", "d", "2", "z", "str");
    EXPECT(f, WRONGTYPE, "zrangestore", "d", "str", "0", "-1");

    /* ZADD's options and scores, checked in Redis's order before anything changes */
    EXPECT(f, "-ERR XX and NX options at the same time are not compatible\r\n", "zadd", "z", "nx",
           "xx", "1", "a");
    EXPECT(f, "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n", "zadd", "z",
           "gt", "lt", "1", "a");
    EXPECT(f, "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n", "zadd", "z",
           "gt", "nx", "1", "a");
    EXPECT(f, "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n", "zadd", "z",
           "lt", "nx", "1", "a");
    EXPECT(f, "-ERR INCR option supports a single increment-element pair\r\n", "zadd", "z", "incr",
           "1", "a", "2", "b");
    EXPECT(f, "-ERR syntax error\r\n", "zadd", "z", "1", "a", "2");
    EXPECT(f, "-ERR wrong number of arguments for 'zadd' command\r\n", "zadd", "z", "1");
    EXPECT(f, "-ERR wrong number of arguments for 'zadd' command\r\n", "zadd", "z", "nx");
    EXPECT(f, "-ERR syntax error\r\n", "zadd", "z", "foo", "1", "a");
    EXPECT(f, "-ERR syntax error\r\n", "zadd", "z", "XX", "1", "a", "ch", "1", "b");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", "x", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", "1", "a", "nan", "b");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", "nan", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", " 1", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", "1 ", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", "1e400", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", "-1e400", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zadd", "z", "1e-400", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zincrby", "z", "nan", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zincrby", "z", "x", "a");
    EXPECT(f, "-ERR value is not a valid float\r\n", "zincrby", "z", "", "a");
    EXPECT(f, "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n", "zrange",
           "z", "0", "-1", "withscores");

    /* infinities, and a sum of the two that is not a number */
    EXPECT(f, ZERO, "zadd", "z", "inf", "a");
    EXPECT(f, "-ERR resulting score is not a number (NaN)\r\n", "zadd", "z", "incr", "-inf", "a");
    EXPECT(f, "-ERR resulting score is not a number (NaN)\r\n", "zincrby", "z", "-inf", "a");
    EXPECT(f, "$3\r\ninf\r\n", "zincrby", "z", "+inf", "a");
    EXPECT(f, "$3\r\ninf\r\n", "zscore", "z", "a");

    /* what strtod reads, Redis reads */
    EXPECT(f, ONE, "zadd", "z", "0x10", "hex");
    EXPECT(f, ONE, "zadd", "z", "1e1", "e");
    EXPECT(f, ONE, "zadd", "z", ".5", "half");
    EXPECT(f, ONE, "zadd", "z", "+2", "plus");
    EXPECT(f, ONE, "zadd", "z", "-0", "neg");
    EXPECT(
        f,
        "*16\r\n$3\r\nneg\r\n$1\r\n0\r\n$4\r\nhalf\r\n$3\r\n0.5\r\n$1\r\nb\r\n$1\r\n2\r\n$4\r\n"
        "plus\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\ne\r\n$2\r\n10\r\n$3\r\nhex\r\n$2\r\n16\r\n"
        "$1\r\na\r\n$3\r\ninf\r\n",
        "zrange", "z", "0", "-1", "withscores");

    /* INCR replies the new score, or nil when nothing was done */
    EXPECT(f, "$3\r\ninf\r\n", "zadd", "z", "ch", "incr", "5", "a");
    EXPECT(f, NIL, "zadd", "z", "xx", "incr", "5", "nope");
    EXPECT(f, NIL, "zadd", "z", "nx", "incr", "5", "a");
    EXPECT(f, NIL, "zadd", "z", "gt", "incr", "-1", "a");
    EXPECT(f, NIL, "zadd", "z", "lt", "incr", "-1", "a");
    EXPECT(f, "$4\r\n12.5\r\n", "zadd", "z", "incr", "2.5", "e");
    EXPECT(f, "$4\r\n-0.5\r\n", "zadd", "z", "nx", "incr", "-0.5", "new");
    EXPECT(f, NIL, "zadd", "missing", "xx", "incr", "1", "a");
    EXPECT(f, ZERO, "zadd", "missing", "xx", "1", "a");
    EXPECT(f, ZERO, "exists", "missing");
    /* CH counts the changed as well as the added; the same score is no change */
    EXPECT(f, ONE, "zadd", "z", "xx", "ch", "1", "b", "2", "nope");
    EXPECT(f, ZERO, "zadd", "z", "xx", "ch", "1", "b");
    EXPECT(f, ONE, "zadd", "z", "nx", "ch", "1", "new2", "2", "b");
    EXPECT(f, ":2\r\n", "zadd", "z", "gt", "ch", "0", "b", "4", "c", "9", "new3");
    EXPECT(f, ":1\r\n", "zadd", "z", "lt", "0", "b", "9", "c", "9", "new4");
    EXPECT(f,
           "*12\r\n$1\r\nb\r\n$1\r\n0\r\n$3\r\nneg\r\n$1\r\n0\r\n$4\r\nhalf\r\n$3\r\n0.5\r\n$"
           "4\r\nnew2\r\n"
           "$1\r\n1\r\n$4\r\nplus\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n",
           "zrange", "z", "0", "4", "byscore", "withscores");
    EXPECT(f, ":2\r\n", "zadd", "z", "ch", "1", "b", "1", "b", "2", "b");
    EXPECT(f, "$1\r\n2\r\n", "zscore", "z", "b");

    /* ZPOPMIN/ZPOPMAX */
    EXPECT(f, "-ERR value is out of range, must be positive\r\n", "zpopmin", "z", "-1");
    EXPECT(f, "-ERR value is out of range, must be positive\r\n", "zpopmin", "z", "x");
    EXPECT(f, "-ERR syntax error\r\n", "zpopmin", "z", "1", "2");
    EXPECT(f, "*0\r\n", "zpopmin", "nokey");
    EXPECT(f, "*0\r\n", "zpopmin", "nokey", "3");
    EXPECT(f, "*0\r\n", "zpopmin", "z", "0");
    EXPECT(f, "*2\r\n$1\r\na\r\n$3\r\ninf\r\n", "zpopmax", "z");
    EXPECT(f, "*4\r\n$3\r\nnew\r\n$4\r\n-0.5\r\n$3\r\nneg\r\n$1\r\n0\r\n", "zpopmin", "z", "2");

    /* ranges: their arguments, and ranges that are empty whatever the set holds */
    EXPECT(f, "-ERR value is not an integer or out of range\r\n", "zremrangebyrank", "z", "x", "1");
    EXPECT(f, "-ERR min or max is not a float\r\n", "zremrangebyscore", "z", "x", "1");
    EXPECT(f, "-ERR min or max is not a float\r\n", "zremrangebyscore", "z", "(1", "nan");
    EXPECT(f, "-ERR min or max is not a float\r\n", "zcount", "z", "x", "1");
    EXPECT(f, "-ERR min or max not valid string range item\r\n", "zremrangebylex", "z", "a", "b");
    EXPECT(f, "-ERR min or max not valid string range item\r\n", "zremrangebylex", "z", "[a", "+a");
    EXPECT(f, "-ERR min or max not valid string range item\r\n", "zlexcount", "z", "a", "b");
    EXPECT(f, ZERO, "zremrangebylex", "nokey", "[a", "+");
    EXPECT(f, ZERO, "zremrangebyscore", "nokey", "1", "2");
    EXPECT(f, ZERO, "zremrangebyrank", "nokey", "1", "2");
    EXPECT(f,
           "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or "
           "BYLEX\r\n",
           "zrangestore", "d", "z", "0", "-1", "limit", "0", "1");
    EXPECT(f, "-ERR syntax error\r\n", "zrangestore", "d", "z", "0", "-1", "withscores");
    EXPECT(f, "-ERR min or max not valid string range item\r\n", "zrangestore", "d", "z", "(1", "2",
           "bylex");
    EXPECT(f, "-ERR min or max is not a float\r\n", "zrangestore", "d", "z", "[a", "[b", "byscore");
    EXPECT(f, ZERO, "zrangestore", "d", "nokey", "0", "-1");
    EXPECT(f, ONE, "del", "z");
    EXPECT(f, ":4\r\n", "zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d");
    EXPECT(f, "*0\r\n", "zrange", "z", "-inf", "+inf", "byscore", "limit", "-1", "2");
    EXPECT(f, "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", "zrange", "z", "-inf", "+inf", "byscore",
           "limit", "1", "-5");
    EXPECT(f, "*0\r\n", "zrange", "z", "-inf", "+inf", "byscore", "limit", "5", "2");
    EXPECT(f, "*0\r\n", "zrange", "z", "-", "+", "bylex", "limit", "-1", "2");
    EXPECT(f, ZERO, "zrangestore", "d", "z", "-inf", "+inf", "byscore", "limit", "-1", "2");
    EXPECT(f, "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n", "zrange", "z", "+inf", "-inf",
           "byscore", "rev", "limit", "1", "2", "withscores");
    EXPECT(f, "*4\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n", "zrange", "z", "0", "1", "rev",
           "withscores");
    EXPECT(f, "*1\r\n$1\r\nb\r\n", "zrange", "z", "(1", "(3", "byscore");
    EXPECT(f, "*2\r\n$1\r\nb\r\n$1\r\nc\r\n", "zrange", "z", "[b", "(d", "bylex");
    EXPECT(f, "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n", "zrange", "z", "[d", "[b", "bylex", "rev");
    EXPECT(f, "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n", "zrangebyscore", "z", "-inf",
           "+inf", "withscores", "limit", "1", "2");
    EXPECT(f, "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n", "zrevrangebyscore", "z", "+inf",
           "-inf", "withscores", "limit", "1", "2");
    EXPECT(f, "*2\r\n$1\r\nd\r\n$1\r\n4\r\n", "zrevrange", "z", "0", "0", "withscores");
    EXPECT(f, ZERO, "zlexcount", "z", "-", "-");
    EXPECT(f, ZERO, "zlexcount", "z", "+", "+");
    EXPECT(f, ZERO, "zlexcount", "z", "[c", "[a");
    EXPECT(f, ONE, "zlexcount", "z", "[b", "[b");
    EXPECT(f, ZERO, "zlexcount", "z", "(b", "[b");
    EXPECT(f, ZERO, "zcount", "z", "(1", "(1");
    EXPECT(f, ZERO, "zcount", "z", "3", "1");
    EXPECT(f, ONE, "zremrangebyscore", "z", "(", "1"); /* "(" alone reads as (0 */
    EXPECT(f, ":3\r\n", "zcard", "z");

    /* the combining commands' arguments */
    EXPECT(f, "-ERR at least 1 input key is needed for 'zunionstore' command\r\n", "zunionstore",
           "d", "0", "z");
    EXPECT(f, "-ERR value is not an integer or out of range\r\n", "zunionstore", "d", "x", "z");
    EXPECT(f, "-ERR syntax error\r\n", "zunionstore", "d", "2", "z");
    EXPECT(f, "-ERR weight value is not a float\r\n", "zunionstore", "d", "1", "z", "weights", "x");
    EXPECT(f, "-ERR syntax error\r\n", "zunionstore", "d", "1", "z", "weights");
    EXPECT(f, "-ERR syntax error\r\n", "zunionstore", "d", "1", "z", "aggregate", "avg");
    EXPECT(f, "-ERR syntax error\r\n", "zunionstore", "d", "1", "z", "aggregate");
    EXPECT(f, "-ERR syntax error\r\n", "zdiffstore", "d", "1", "z", "weights", "1");
    EXPECT(f, "-ERR syntax error\r\n", "zdiffstore", "d", "1", "z", "aggregate", "sum");
    EXPECT(f, "-ERR syntax error\r\n", "zinterstore", "d", "1", "z", "withscores");
    EXPECT(f, "-ERR at least 1 input key is needed for 'zdiffstore' command\r\n", "zdiffstore", "d",
           "0", "z");
    EXPECT(f, "-ERR at least 1 input key is needed for 'zinterstore' command\r\n", "zinterstore",
           "d", "-1", "z");

    /* absent keys and members */
    EXPECT(f, ZERO, "zrem", "nokey", "a");
    EXPECT(f, ZERO, "zrem", "z", "nope");
    EXPECT(f, ZERO, "zcard", "nokey");
    EXPECT(f, NIL, "zscore", "z", "nope");
    EXPECT(f, NIL, "zrank", "z", "nope");
    EXPECT(f, NIL, "zrevrank", "nokey", "a");
    EXPECT(f, NIL, "object", "encoding", "nokey");
}

/* Plain sets are read as sorted sets of score 1; weights, aggregates and a NaN made 0. */
static void combining(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ":3\r\n", "zadd", "{t}a", "1", "x", "2", "y", "+inf", "z");
    EXPECT(f, ":3\r\n", "sadd", "{t}s", "y", "z", "w");
    EXPECT(f, ":4\r\n", "zunionstore", "{t}d", "2", "{t}a", "{t}s");
    EXPECT(f,
           "*8\r\n$1\r\nw\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n3\r\n$1\r\nz\r\n"
           "$3\r\ninf\r\n",
           "zrange", "{t}d", "0", "-1", "withscores");
    EXPECT(f, ":2\r\n", "zinterstore", "{t}d", "2", "{t}a", "{t}s", "weights", "0.5", "-inf",
           "aggregate", "max");
    EXPECT(f, "*4\r\n$1\r\ny\r\n$1\r\n1\r\n$1\r\nz\r\n$3\r\ninf\r\n", "zrange", "{t}d", "0", "-1",
           "withscores");
    /* inf times 0 is no number: the sum counts it as 0 */
    EXPECT(f, ":4\r\n", "zunionstore", "{t}d", "2", "{t}a", "{t}s", "weights", "0", "1");
    EXPECT(f,
           "*8\r\n$1\r\nx\r\n$1\r\n0\r\n$1\r\nw\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n1\r\n$1\r\nz\r\n"
           "$1\r\n1\r\n",
           "zrange", "{t}d", "0", "-1", "withscores");
    EXPECT(f, ":2\r\n", "zinterstore", "{t}d", "2", "{t}a", "{t}s", "weights", "1", "-inf");
    EXPECT(f, "*4\r\n$1\r\ny\r\n$4\r\n-inf\r\n$1\r\nz\r\n$1\r\n0\r\n", "zrange", "{t}d", "0", "-1",
           "withscores");
    EXPECT(f, ":1\r\n", "zdiffstore", "{t}d", "2", "{t}a", "{t}s");
    EXPECT(f, "*2\r\n$1\r\nx\r\n$1\r\n1\r\n", "zrange", "{t}d", "0", "-1", "withscores");
    EXPECT(f, ONE, "zdiffstore", "{t}d", "2", "{t}s", "{t}a");
    EXPECT(f, "*2\r\n$1\r\nw\r\n$1\r\n1\r\n", "zrange", "{t}d", "0", "-1", "withscores");
    /* an empty result removes the destination, whatever it held */
    EXPECT(f, "+OK\r\n", "set", "{t}d", "string");
    EXPECT(f, ZERO, "zinterstore", "{t}d", "2", "{t}a", "{t}nokey");
    EXPECT(f, ZERO, "exists", "{t}d");
    EXPECT(f, ":3\r\n", "zunionstore", "{t}d", "1", "{t}a", "aggregate", "min");
    EXPECT(f, "+OK\r\n", "set", "{t}str", "x");
    EXPECT(f, WRONGTYPE, "zunionstore", "{t}a", "2", "{t}d", "{t}str");
    EXPECT(f, WRONGTYPE, "zdiffstore", "{t}a", "2", "{t}nokey", "{t}str");
}

/* ---- the encodings -------------------------------------------------------------------- */

static void encodings(void **state)
{
    struct fx *f = *state;
    params.zset_max_entries = 4;
    params.zset_max_value = 8;
    const char *lp = "$8\r\nlistpack\r\n", *sl = "$8\r\nskiplist\r\n";
    EXPECT(f, ":4\r\n", "zadd", "c", "1", "a", "2", "b", "3", "c", "4", "d");
    EXPECT(f, lp, "object", "encoding", "c");
    EXPECT(f, ONE, "zadd", "c", "5", "e");
    EXPECT(f, sl, "object", "encoding", "c");
    /* never back to a listpack, however small, until the key goes */
    EXPECT(f, ":4\r\n", "zrem", "c", "a", "b", "c", "d");
    EXPECT(f, sl, "object", "encoding", "c");
    EXPECT(f, "*2\r\n$1\r\ne\r\n$1\r\n5\r\n", "zpopmax", "c", "9");
    EXPECT(f, ZERO, "exists", "c");
    EXPECT(f, ONE, "zadd", "c", "1", "a");
    EXPECT(f, lp, "object", "encoding", "c");
    /* a member longer than the value threshold, first or later */
    EXPECT(f, ONE, "zadd", "l", "1", "ninechars");
    EXPECT(f, sl, "object", "encoding", "l");
    EXPECT(f, ONE, "zadd", "m", "1", "eightchr");
    EXPECT(f, lp, "object", "encoding", "m");
    EXPECT(f, ONE, "zadd", "m", "2", "ninechars");
    EXPECT(f, sl, "object", "encoding", "m");
    /* a score changing does not convert; XX adds nothing, so nothing to convert */
    EXPECT(f, ":3\r\n", "zadd", "c", "2", "b", "3", "c", "4", "d");
    EXPECT(f, ZERO, "zadd", "c", "xx", "9", "a", "1", "ninechars", "1", "e");
    EXPECT(f, lp, "object", "encoding", "c");
    EXPECT(f, "$1\r\n9\r\n", "zscore", "c", "a");

    /* a destination written whole takes the encoding its size calls for */
    EXPECT(f, ":6\r\n", "zunionstore", "u", "2", "c", "m");
    EXPECT(f, sl, "object", "encoding", "u");
    EXPECT(f, ":4\r\n", "zinterstore", "i", "2", "u", "c", "weights", "1", "0");
    EXPECT(f,
           "*8\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\na\r\n"
           "$1\r\n9\r\n",
           "zrange", "i", "0", "-1", "withscores");
    EXPECT(f, lp, "object", "encoding", "i");
    EXPECT(f, ":2\r\n", "zdiffstore", "i", "2", "u", "c");
    EXPECT(f, sl, "object", "encoding", "i"); /* ninechars */
    EXPECT(f, ":2\r\n", "zrangestore", "r", "u", "3", "4", "byscore");
    EXPECT(f, lp, "object", "encoding", "r");
    EXPECT(f, ":5\r\n", "zrangestore", "r", "u", "0", "4");
    EXPECT(f, sl, "object", "encoding", "r");
    EXPECT(f, ":3\r\n", "zrangestore", "r", "u", "3", "-1");
    EXPECT(f, lp, "object", "encoding", "r");
    EXPECT(f, "*6\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\na\r\n$1\r\n9\r\n", "zrange",
           "r", "0", "-1", "withscores");

    /* the ranges on a skiplist: the members in lex order when the scores are equal */
    EXPECT(f, ":6\r\n", "zadd", "x", "0", "e", "0", "a", "0", "d", "0", "b", "0", "f", "0", "c");
    EXPECT(f, ":3\r\n", "zlexcount", "x", "(a", "[d");
    EXPECT(f, ":4\r\n", "zremrangebylex", "x", "[b", "(f");
    EXPECT(f, "*2\r\n$1\r\na\r\n$1\r\nf\r\n", "zrange", "x", "0", "-1");
    EXPECT(f, sl, "object", "encoding", "x");

    /* -0: a listpack keeps a score's text without the sign, as Redis's does; a skiplist keeps
     * the double as it is */
    EXPECT(f, ":2\r\n", "zadd", "n", "-0", "a", "1", "b");
    EXPECT(f, "$1\r\n0\r\n", "zscore", "n", "a");
    EXPECT(f, "$2\r\n-0\r\n", "zincrby", "n", "-0", "c");
    EXPECT(f, "$1\r\n0\r\n", "zscore", "n", "c");
    EXPECT(f, ":2\r\n", "zadd", "s", "1", "ninechars", "-0", "a");
    EXPECT(f, "$2\r\n-0\r\n", "zscore", "s", "a");
    EXPECT(f, "*4\r\n$1\r\na\r\n$2\r\n-0\r\n$9\r\nninechars\r\n$1\r\n1\r\n", "zpopmin", "s", "2");
    EXPECT(f, ":2\r\n", "zadd", "s", "1", "ninechars", "-0", "a");
    EXPECT(f, ":2\r\n", "zunionstore", "d", "1", "s");
    EXPECT(f, "$2\r\n-0\r\n", "zscore", "d", "a");
}

/* ---- ZRANGESTORE's destination, as Redis builds it -------------------------------------- */

/*
 * ZRANGESTORE with REV into a listpack: Redis adds the members one by one, each at its place,
 * so the destination is in score order like any sorted set (Pollux once wrote the range's
 * order, reversed, and every later read saw it backwards).
 */
static void zrangestore_rev_into_listpack(void **state)
{
    struct fx *f = *state;
    EXPECT(f, ":3\r\n", "zadd", "s", "1", "a", "2", "b", "3", "c");
    EXPECT(f, ":3\r\n", "zrangestore", "d", "s", "0", "-1", "rev");
    EXPECT(f, "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n", "zrange",
           "d", "0", "-1", "withscores");
    EXPECT(f, ":3\r\n", "zrangestore", "d", "s", "+inf", "-inf", "byscore", "rev");
    EXPECT(f, ":0\r\n", "zrank", "d", "a");
}

/*
 * ZRANGESTORE into a skiplist from a source holding -0: Redis starts the destination as a
 * listpack (by score, or a rank range short enough) and converts it when a member does not
 * fit, so the members added before the conversion went through the listpack and lost the
 * sign; Pollux builds the skiplist directly and clears the same signs.
 */
static void zrangestore_negative_zero(void **state)
{
    struct fx *f = *state;
    params.zset_max_value = 8;
    EXPECT(f, ":2\r\n", "zadd", "s", "1", "ninechars", "-0", "a");
    EXPECT(f, "$8\r\nskiplist\r\n", "object", "encoding", "s");
    EXPECT(f, "$2\r\n-0\r\n", "zscore", "s", "a");
    EXPECT(f, ":2\r\n", "zrangestore", "d", "s", "-inf", "+inf", "byscore");
    EXPECT(f, "$8\r\nskiplist\r\n", "object", "encoding", "d");
    EXPECT(f, "$1\r\n0\r\n", "zscore", "d", "a");
}

/* ---- a random run against a model ------------------------------------------------------ */

struct text {
    const char *p;
    size_t len;
};

#define TEXT(s)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

#define LONGEST "member-name-well-past-sixty-four-bytes-the-default-listpack-value-limit"
_Static_assert(sizeof(LONGEST) - 1 > 64, "one member over the default zset-max-listpack-value");

/*
 * Members: short texts, integers (a listpack stores those as numbers: "007" and
 * "99999999999999999999" are not), a binary one, and texts around the value thresholds the
 * runs use (8 to 16, and 64).
 */
static const struct text pool[] = {
    TEXT("a"),
    TEXT("b"),
    TEXT("c"),
    TEXT("ab"),
    TEXT("abc"),
    TEXT("b0"),
    TEXT("zz"),
    TEXT(""),
    TEXT("a\0b"),
    TEXT("0"),
    TEXT("1"),
    TEXT("-1"),
    TEXT("7"),
    TEXT("10"),
    TEXT("-25"),
    TEXT("300"),
    TEXT("007"),
    TEXT("9223372036854775807"),
    TEXT("-9223372036854775808"),
    TEXT("99999999999999999999"),
    TEXT("eightchr"),
    TEXT("twelve-chars"),
    TEXT("sixteen-chars-ok"),
    TEXT("seventeen-chars-x"),
    TEXT("1234567890123456789"),
    TEXT(LONGEST),
};

#define NMEMBERS ((int)(sizeof(pool) / sizeof(pool[0])))
#define NKEYS    4

struct num {
    const char *text;
    double v;
};

/*
 * Scores: integers, halves and quarters (their text is exact), other spellings of them, and
 * now and then an infinity or -0. The first NCOMMON are the common ones.
 */
static const struct num scores[] = {
    { "0", 0 },          { "1", 1 },           { "-1", -1 },
    { "2", 2 },          { "-2", -2 },         { "3", 3 },
    { "5", 5 },          { "-4", -4 },         { "0.5", 0.5 },
    { "-0.5", -0.5 },    { "1.5", 1.5 },       { "2.5", 2.5 },
    { "-3.5", -3.5 },    { "+2", 2 },          { "1e1", 10 },
    { "0.25", 0.25 },    { "+inf", INFINITY }, { "-inf", -INFINITY },
    { "inf", INFINITY }, { "-0", -0.0 },
};
#define NCOMMON 16
#define NSCORES ((int)(sizeof(scores) / sizeof(scores[0])))

static const struct num weights[] = {
    { "1", 1 }, { "2", 2 }, { "0.5", 0.5 },        { "-1", -1 },
    { "0", 0 }, { "3", 3 }, { "-inf", -INFINITY },
};
#define NWEIGHTS ((int)(sizeof(weights) / sizeof(weights[0])))

static const struct num *pick_score(void)
{
    return &scores[fx_chance(8) ? NCOMMON + fx_below(NSCORES - NCOMMON) : fx_below(NCOMMON)];
}

static const struct num *pick_weight(void)
{
    return &weights[fx_chance(10) ? NWEIGHTS - 1 : fx_below(NWEIGHTS - 1)];
}

/* ---- the expected reply, written as Redis 7.0 writes it (RESP2) ---- */

static struct {
    char d[1 << 16];
    size_t n;
} want;

static void o_reset(void)
{
    want.n = 0;
}

static void o_raw(const char *p, size_t len)
{
    assert_true(want.n + len <= sizeof(want.d));
    memcpy(want.d + want.n, p, len);
    want.n += len;
}

static void o_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void o_fmt(const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    o_raw(buf, (size_t)n);
}

static void o_int(long long v)
{
    o_fmt(":%lld\r\n", v);
}

static void o_arr(long long n)
{
    o_fmt("*%lld\r\n", n);
}

static void o_bulk(const char *p, size_t len)
{
    o_fmt("$%zu\r\n", len);
    o_raw(p, len);
    o_raw("\r\n", 2);
}

static void o_err(const char *msg)
{
    o_fmt("-%s\r\n", msg);
}

/* A score as Redis 7.0 writes it: "inf" and "-inf", anything else as printf's %.17g. */
static void o_double(double d)
{
    char buf[64];
    int n = isinf(d) ? snprintf(buf, sizeof(buf), "%s", d > 0 ? "inf" : "-inf")
                     : snprintf(buf, sizeof(buf), "%.17g", d);
    o_bulk(buf, (size_t)n);
}

static void o_member(int m)
{
    o_bulk(pool[m].p, pool[m].len);
}

/* ---- the command, built argument by argument ---- */

#define MAXARGS 48

static struct {
    int argc;
    const char *argv[MAXARGS];
    size_t lens[MAXARGS];
    char own[MAXARGS][96];
} cmd;

static char keyname[NKEYS][32];
static const char *run_name;
static unsigned run_step;

static void c_arg(const char *p, size_t len)
{
    assert_true(cmd.argc < MAXARGS);
    cmd.argv[cmd.argc] = p;
    cmd.lens[cmd.argc++] = len;
}

static void c_str(const char *s)
{
    c_arg(s, strlen(s));
}

static void c_start(const char *name)
{
    cmd.argc = 0;
    c_str(name);
}

static void c_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void c_fmt(const char *fmt, ...)
{
    char *b = cmd.own[cmd.argc];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(cmd.own[0]), fmt, ap);
    va_end(ap);
    c_arg(b, strlen(b));
}

static void c_key(int k)
{
    c_str(keyname[k]);
}

static void c_member(int m)
{
    c_arg(pool[m].p, pool[m].len);
}

/* An option in upper or lower case: the commands take either. */
static void c_opt(const char *upper)
{
    char *b = cmd.own[cmd.argc];
    size_t n = strlen(upper);
    bool lower = fx_chance(50);
    for (size_t i = 0; i <= n; i++)
        b[i] = lower && upper[i] >= 'A' && upper[i] <= 'Z' ? (char)(upper[i] + 32) : upper[i];
    c_arg(b, n);
}

/* A lex bound: '[' or '(' and the member's bytes. */
static void c_lex(char prefix, int m)
{
    char *b = cmd.own[cmd.argc];
    assert_true(pool[m].len + 1 < sizeof(cmd.own[0]));
    b[0] = prefix;
    memcpy(b + 1, pool[m].p, pool[m].len);
    c_arg(b, pool[m].len + 1);
}

/* Bytes made readable for a failure message. */
static void show(char *dst, size_t cap, const char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\r')
            n += (size_t)snprintf(dst + n, cap - n, "\\r");
        else if (ch == '\n')
            n += (size_t)snprintf(dst + n, cap - n, "\\n");
        else if (ch < 32 || ch > 126)
            n += (size_t)snprintf(dst + n, cap - n, "\\x%02x", ch);
        else
            dst[n++] = (char)ch;
    }
    dst[n] = '\0';
}

/* Run the command built and compare its reply with the one expected, byte for byte. */
static void cmd_expect(struct fx *f)
{
    fx_runv(f, cmd.argc, cmd.argv, cmd.lens);
    if (f->outlen == want.n && memcmp(f->out, want.d, want.n) == 0)
        return;
    static char line[4096], got[8192], wanted[8192];
    size_t n = 0;
    for (int i = 0; i < cmd.argc && n + 200 < sizeof(line); i++) {
        line[n++] = ' ';
        show(line + n, sizeof(line) - n, cmd.argv[i], cmd.lens[i]);
        n += strlen(line + n);
    }
    line[n] = '\0';
    show(got, sizeof(got), f->out, f->outlen);
    show(wanted, sizeof(wanted), want.d, want.n);
    fail_msg("%s, step %u:%s\n  got:  %s\n  want: %s", run_name, run_step, line, got, wanted);
}

/* ---- the model ---- */

struct zkey {
    int n;
    int m[NMEMBERS]; /* pool indexes, in the set's order */
    double s[NMEMBERS];
    bool big; /* a skiplist: stays one until the key is gone */
};

static struct zkey model[NKEYS];

static int lexcmp(int a, int b)
{
    size_t la = pool[a].len, lb = pool[b].len;
    int c = memcmp(pool[a].p, pool[b].p, la < lb ? la : lb);
    return c != 0 ? c : (la > lb) - (la < lb);
}

static int item_cmp(double s1, int m1, double s2, int m2)
{
    if (s1 < s2)
        return -1;
    if (s1 > s2)
        return 1;
    return lexcmp(m1, m2);
}

static int zk_find(const struct zkey *z, int m)
{
    for (int i = 0; i < z->n; i++)
        if (z->m[i] == m)
            return i;
    return -1;
}

static void zk_insert(struct zkey *z, int m, double s)
{
    /* a listpack keeps a score as text, and Redis writes an integral score as an integer:
     * -0 comes back as 0 */
    if (!z->big && s == 0)
        s = 0;
    int at = 0;
    while (at < z->n && item_cmp(z->s[at], z->m[at], s, m) < 0)
        at++;
    memmove(&z->m[at + 1], &z->m[at], (size_t)(z->n - at) * sizeof(z->m[0]));
    memmove(&z->s[at + 1], &z->s[at], (size_t)(z->n - at) * sizeof(z->s[0]));
    z->m[at] = m;
    z->s[at] = s;
    z->n++;
}

static void zk_remove(struct zkey *z, int i)
{
    memmove(&z->m[i], &z->m[i + 1], (size_t)(z->n - i - 1) * sizeof(z->m[0]));
    memmove(&z->s[i], &z->s[i + 1], (size_t)(z->n - i - 1) * sizeof(z->s[0]));
    if (--z->n == 0)
        z->big = false; /* the key is gone; a new one starts as a listpack */
}

/* Add a member that is not there, as Redis's zsetAdd: a listpack that would grow past either
 * threshold becomes a skiplist first. */
static void zk_add(struct zkey *z, int m, double s)
{
    if (!z->big &&
        (z->n + 1 > params.zset_max_entries || (long long)pool[m].len > params.zset_max_value))
        z->big = true;
    zk_insert(z, m, s);
}

/* A new score for the member at i: moved, never converted. */
static void zk_rescore(struct zkey *z, int i, double s)
{
    int m = z->m[i];
    bool big = z->big;
    zk_remove(z, i);
    z->big = big;
    zk_insert(z, m, s);
}

/* A destination written whole (ZUNIONSTORE and the others): built as a skiplist, then made a
 * listpack when both thresholds allow. */
static void zk_store_whole(struct zkey *z, const int *m, const double *s, int n)
{
    size_t maxlen = 0;
    for (int i = 0; i < n; i++)
        if (pool[m[i]].len > maxlen)
            maxlen = pool[m[i]].len;
    z->n = 0;
    z->big = true;
    for (int i = 0; i < n; i++)
        zk_insert(z, m[i], s[i]);
    z->big = n > params.zset_max_entries || (long long)maxlen > params.zset_max_value;
    for (int i = 0; i < n && !z->big; i++)
        if (z->s[i] == 0)
            z->s[i] = 0; /* -0 through a listpack, as in zk_insert */
    if (n == 0)
        z->big = false;
}

/* Whether the members are in lex order (then a lex range is just a range). */
static bool zk_lex_sorted(const struct zkey *z)
{
    for (int i = 1; i < z->n; i++)
        if (lexcmp(z->m[i - 1], z->m[i]) > 0)
            return false;
    return true;
}

/* ---- ranges ---- */

struct lexb {
    int inf; /* -1 "-", +1 "+", 0 a member */
    int m;
    bool ex;
};

static bool gte_min(int m, const struct lexb *b)
{
    if (b->inf != 0)
        return b->inf < 0;
    int c = lexcmp(m, b->m);
    return b->ex ? c > 0 : c >= 0;
}

static bool lte_max(int m, const struct lexb *b)
{
    if (b->inf != 0)
        return b->inf > 0;
    int c = lexcmp(m, b->m);
    return b->ex ? c < 0 : c <= 0;
}

/* A lex range that is empty whatever the set holds ("-" below and "+" above everything). */
static bool lex_never(const struct lexb *mn, const struct lexb *mx)
{
    int c;
    if (mn->inf != 0 && mn->inf == mx->inf)
        c = 0;
    else if (mn->inf < 0 || mx->inf > 0)
        c = -1;
    else if (mn->inf > 0 || mx->inf < 0)
        c = 1;
    else
        c = lexcmp(mn->m, mx->m);
    return c > 0 || (c == 0 && (mn->ex || mx->ex));
}

/*
 * The ranks [*lo, *hi) a lex range covers, found the way Redis walks a listpack: from the
 * head (from the tail when reversed) to the first member inside the bound met first, then on
 * while members stay inside the other. When the members are in lex order that is the range
 * itself; when they are not (scores differ) it is still what Redis answers for a listpack.
 */
static void lex_walk(const struct zkey *z, const struct lexb *mn, const struct lexb *mx, bool rev,
                     int *lo, int *hi)
{
    *lo = *hi = 0;
    if (z->n == 0 || lex_never(mn, mx) || !gte_min(z->m[z->n - 1], mn) || !lte_max(z->m[0], mx))
        return;
    if (!rev) {
        int i = 0;
        while (i < z->n && !gte_min(z->m[i], mn))
            i++;
        int j = i;
        while (j < z->n && lte_max(z->m[j], mx))
            j++;
        *lo = i;
        *hi = j;
    } else {
        int j = z->n;
        while (j > 0 && !lte_max(z->m[j - 1], mx))
            j--;
        int i = j;
        while (i > 0 && gte_min(z->m[i - 1], mn))
            i--;
        *lo = i;
        *hi = j;
    }
}

enum rtype { R_RANK, R_SCORE, R_LEX };

struct range {
    enum rtype type;
    bool rev, limit;
    long long start, stop, off, cnt;
    double min, max;
    bool minex, maxex;
    struct lexb lmin, lmax;
};

static bool in_score(double s, const struct range *r)
{
    return (r->minex ? s > r->min : s >= r->min) && (r->maxex ? s < r->max : s <= r->max);
}

/* A score bound as an argument: its value, sometimes exclusive. */
static void gen_score_bound(double *v, bool *ex)
{
    const struct num *n = pick_score();
    *v = n->v;
    *ex = fx_chance(25);
    if (*ex)
        c_fmt("(%s", n->text);
    else
        c_str(n->text);
}

/* A member of z half the time (when it has any), so that ranges land on its members. */
static int pick_member(const struct zkey *z)
{
    return z->n > 0 && fx_chance(50) ? z->m[fx_below(z->n)] : fx_below(NMEMBERS);
}

static void gen_lex_bound(const struct zkey *z, struct lexb *b)
{
    memset(b, 0, sizeof(*b));
    int r = fx_below(100);
    if (r < 12) {
        b->inf = -1;
        c_str("-");
    } else if (r < 24) {
        b->inf = 1;
        c_str("+");
    } else {
        b->m = pick_member(z);
        b->ex = fx_chance(35);
        c_lex(b->ex ? '(' : '[', b->m);
    }
}

/*
 * A random range over z (its arguments and options pushed onto the command), reversed now and
 * then when rev allows it. A lex range is
 * asked only where Redis defines its answer: members in lex order, or a listpack walked
 * without LIMIT (with LIMIT, Redis skips the offset without looking at the members).
 */
static void gen_range(const struct zkey *z, struct range *r, bool rev)
{
    memset(r, 0, sizeof(*r));
    int t = fx_below(10);
    r->type = t < 4 ? R_RANK : t < 7 ? R_SCORE : R_LEX;
    bool sorted = zk_lex_sorted(z);
    if (r->type == R_LEX && !sorted && z->big)
        r->type = R_SCORE;
    r->rev = rev && fx_chance(30);
    r->limit = r->type != R_RANK && fx_chance(30) && (r->type != R_LEX || sorted);
    switch (r->type) {
    case R_RANK:
        r->start = fx_below(13) - 6;
        r->stop = fx_below(13) - 6;
        c_fmt("%lld", r->start);
        c_fmt("%lld", r->stop);
        break;
    case R_SCORE:
        /* reversed, the first argument is the maximum */
        if (r->rev) {
            gen_score_bound(&r->max, &r->maxex);
            gen_score_bound(&r->min, &r->minex);
        } else {
            gen_score_bound(&r->min, &r->minex);
            gen_score_bound(&r->max, &r->maxex);
        }
        c_opt("BYSCORE");
        break;
    case R_LEX:
        if (r->rev) {
            gen_lex_bound(z, &r->lmax);
            gen_lex_bound(z, &r->lmin);
        } else {
            gen_lex_bound(z, &r->lmin);
            gen_lex_bound(z, &r->lmax);
        }
        c_opt("BYLEX");
        break;
    }
    if (r->rev)
        c_opt("REV");
    if (r->limit) {
        r->off = fx_below(4);
        r->cnt = fx_below(5) - 1;
        c_opt("LIMIT");
        c_fmt("%lld", r->off);
        c_fmt("%lld", r->cnt);
    }
}

/* The ranks a range yields, in the order Redis emits them. @return how many. */
static int range_items(const struct zkey *z, const struct range *r, int *out)
{
    int lo = 0, hi = 0, n = 0;
    if (r->type == R_RANK) {
        long long len = z->n, s = r->start, e = r->stop;
        if (s < 0)
            s += len;
        if (e < 0)
            e += len;
        if (s < 0)
            s = 0;
        if (s > e || s >= len)
            return 0;
        if (e >= len)
            e = len - 1;
        for (long long i = s; i <= e; i++)
            out[n++] = (int)(r->rev ? len - 1 - i : i);
        return n;
    }
    if (r->type == R_SCORE) {
        while (lo < z->n && !in_score(z->s[lo], r))
            lo++;
        hi = lo;
        while (hi < z->n && in_score(z->s[hi], r))
            hi++;
    } else {
        lex_walk(z, &r->lmin, &r->lmax, r->rev, &lo, &hi);
    }
    long long off = r->limit ? r->off : 0, cnt = r->limit ? r->cnt : -1;
    for (long long i = off; i < hi - lo && (cnt < 0 || n < cnt); i++)
        out[n++] = (int)(r->rev ? hi - 1 - i : lo + i);
    return n;
}

/* ---- the write commands ---- */

#define ERR_XXNX   "ERR XX and NX options at the same time are not compatible"
#define ERR_GTLTNX "ERR GT, LT, and/or NX options at the same time are not compatible"
#define ERR_INCR   "ERR INCR option supports a single increment-element pair"
#define ERR_FLOAT  "ERR value is not a valid float"
#define ERR_NAN    "ERR resulting score is not a number (NaN)"

/* The lex key (key 0) gets score 0 most of the time, so that its members stay in lex order
 * and its lex ranges can be asked in either encoding. */
static const struct num *pick_score_for(int k)
{
    return k == 0 && fx_chance(85) ? &scores[0] : pick_score();
}

/* ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ..., and ZINCRBY as ZADD INCR. */
static void op_zadd(struct fx *f, int k, bool zincrby)
{
    bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = zincrby;
    if (!zincrby) {
        nx = fx_chance(12);
        xx = fx_chance(12);
        gt = fx_chance(10);
        lt = fx_chance(10);
        ch = fx_chance(30);
        incr = fx_chance(15);
    }
    int pairs = incr ? 1 : 1 + fx_below(4);
    if (!zincrby && incr && fx_chance(4))
        pairs = 2;
    bool bad = fx_chance(2);
    int m[8];
    const struct num *sc[8];
    for (int i = 0; i < pairs; i++) {
        m[i] = pick_member(&model[k]);
        sc[i] = pick_score_for(k);
    }
    int bad_at = fx_below(pairs);
    if (zincrby) {
        c_start("ZINCRBY");
        c_key(k);
        c_str(bad ? "abc" : sc[0]->text);
        c_member(m[0]);
    } else {
        c_start("ZADD");
        c_key(k);
        /* the options in any order */
        const char *opts[6];
        int no = 0;
        if (nx)
            opts[no++] = "NX";
        if (xx)
            opts[no++] = "XX";
        if (gt)
            opts[no++] = "GT";
        if (lt)
            opts[no++] = "LT";
        if (ch)
            opts[no++] = "CH";
        if (incr)
            opts[no++] = "INCR";
        for (int i = no - 1; i > 0; i--) {
            int j = fx_below(i + 1);
            const char *t = opts[i];
            opts[i] = opts[j];
            opts[j] = t;
        }
        for (int i = 0; i < no; i++)
            c_opt(opts[i]);
        for (int i = 0; i < pairs; i++) {
            c_str(bad && i == bad_at ? "1.5x" : sc[i]->text);
            c_member(m[i]);
        }
    }
    o_reset();
    if (nx && xx) {
        o_err(ERR_XXNX);
    } else if ((gt && nx) || (lt && nx) || (gt && lt)) {
        o_err(ERR_GTLTNX);
    } else if (incr && pairs > 1) {
        o_err(ERR_INCR);
    } else if (bad) {
        o_err(ERR_FLOAT);
    } else {
        struct zkey z = model[k];
        long long added = 0, updated = 0, processed = 0;
        double score = 0;
        bool nan = false;
        for (int i = 0; i < pairs; i++) {
            score = sc[i]->v;
            int at = zk_find(&z, m[i]);
            if (at < 0) {
                if (xx)
                    continue;
                zk_add(&z, m[i], score);
                added++;
                processed++;
                continue;
            }
            if (nx)
                continue;
            double cur = z.s[at];
            if (incr) {
                score += cur;
                if (isnan(score)) {
                    nan = true;
                    break;
                }
            }
            if ((lt && score >= cur) || (gt && score <= cur))
                continue;
            processed++;
            if (score != cur) {
                zk_rescore(&z, at, score);
                updated++;
            }
        }
        if (nan) {
            o_err(ERR_NAN);
        } else {
            model[k] = z;
            if (!incr)
                o_int(ch ? added + updated : added);
            else if (processed > 0)
                o_double(score);
            else
                o_raw(NIL, 5);
        }
    }
    cmd_expect(f);
}

static void op_zrem(struct fx *f, int k)
{
    int n = 1 + fx_below(3);
    c_start("ZREM");
    c_key(k);
    long long removed = 0;
    struct zkey *z = &model[k];
    for (int i = 0; i < n; i++) {
        int m = pick_member(z);
        c_member(m);
        int at = zk_find(z, m);
        if (at >= 0) {
            zk_remove(z, at);
            removed++;
        }
    }
    o_reset();
    o_int(removed);
    cmd_expect(f);
}

static void op_zpop(struct fx *f, int k)
{
    bool max = fx_chance(50);
    struct zkey *z = &model[k];
    c_start(max ? "ZPOPMAX" : "ZPOPMIN");
    c_key(k);
    long long count = -1;
    int r = fx_below(100);
    if (r < 3)
        c_str("-1");
    else if (r < 10)
        c_fmt("%lld", count = 100);
    else if (r < 50)
        c_fmt("%lld", count = fx_below(6));
    o_reset();
    if (r < 3) {
        o_err("ERR value is out of range, must be positive");
    } else if (z->n == 0 || count == 0) {
        o_arr(0);
    } else {
        long long n = count < 0 ? 1 : count < z->n ? count : z->n;
        o_arr(2 * n);
        for (long long i = 0; i < n; i++) {
            int at = max ? z->n - 1 : 0;
            o_member(z->m[at]);
            o_double(z->s[at]);
            zk_remove(z, at);
        }
    }
    cmd_expect(f);
}

static void op_zremrange(struct fx *f, int k, enum rtype t)
{
    struct zkey *z = &model[k];
    /* a lex range only where Redis defines it (see gen_range) */
    if (t == R_LEX && z->big && !zk_lex_sorted(z))
        t = R_SCORE;
    struct range r;
    memset(&r, 0, sizeof(r));
    r.type = t;
    c_start(t == R_RANK ? "ZREMRANGEBYRANK" : t == R_SCORE ? "ZREMRANGEBYSCORE" : "ZREMRANGEBYLEX");
    c_key(k);
    if (t == R_RANK) {
        r.start = fx_below(13) - 6;
        r.stop = fx_below(13) - 6;
        c_fmt("%lld", r.start);
        c_fmt("%lld", r.stop);
    } else if (t == R_SCORE) {
        gen_score_bound(&r.min, &r.minex);
        gen_score_bound(&r.max, &r.maxex);
    } else {
        gen_lex_bound(z, &r.lmin);
        gen_lex_bound(z, &r.lmax);
    }
    int idx[NMEMBERS];
    int n = range_items(z, &r, idx);
    /* the ranks come ascending and contiguous: drop them from the last */
    for (int i = n - 1; i >= 0; i--)
        zk_remove(z, idx[i]);
    o_reset();
    o_int(n);
    cmd_expect(f);
}

static void op_zrangestore(struct fx *f, int dst, int src)
{
    const struct zkey *z = &model[src];
    c_start("ZRANGESTORE");
    c_key(dst);
    c_key(src);
    struct range r;
    gen_range(z, &r, true);
    int idx[NMEMBERS], m[NMEMBERS];
    double s[NMEMBERS];
    int n = range_items(z, &r, idx);
    for (int i = 0; i < n; i++) {
        m[i] = z->m[idx[i]];
        s[i] = z->s[idx[i]];
    }
    /*
     * Redis fills the destination member by member in the order of the range, as a listpack
     * unless a rank range is already known to be too long for one, converting when it must.
     */
    struct zkey out;
    memset(&out, 0, sizeof(out));
    out.big = r.type == R_RANK && n > params.zset_max_entries;
    for (int i = 0; i < n; i++)
        zk_add(&out, m[i], s[i]);
    if (n == 0)
        out.big = false;
    /* so the members added before the conversion lose the sign of a -0 score, the ones after
     * keep it */
    model[dst] = out;
    o_reset();
    o_int(n);
    cmd_expect(f);
}

enum zop { ZUNION, ZINTER, ZDIFF };

static void aggregate(double *t, double v, int agg)
{
    if (agg == 0) {
        *t += v;
        if (isnan(*t))
            *t = 0;
    } else if (agg == 1) {
        *t = v < *t ? v : *t;
    } else {
        *t = v > *t ? v : *t;
    }
}

/* ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE: the arithmetic in Redis's order (smallest set first
 * for the union and the intersection, then each set in its order). */
static void op_zsetop(struct fx *f, enum zop op, int dst)
{
    static const char *names[] = { "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE" };
    static const char *aggs[] = { "SUM", "MIN", "MAX" };
    int nk = 1 + fx_below(3), src[3];
    double w[3] = { 1, 1, 1 };
    int agg = 0;
    c_start(names[op]);
    c_key(dst);
    c_fmt("%d", nk);
    for (int i = 0; i < nk; i++) {
        src[i] = fx_below(NKEYS);
        c_key(src[i]);
    }
    if (op != ZDIFF && fx_chance(35)) {
        c_opt("WEIGHTS");
        for (int i = 0; i < nk; i++) {
            const struct num *n = pick_weight();
            w[i] = n->v;
            c_str(n->text);
        }
    }
    if (op != ZDIFF && fx_chance(35)) {
        c_opt("AGGREGATE");
        agg = fx_below(3);
        c_opt(aggs[agg]);
    }
    int ord[3] = { 0, 1, 2 };
    if (op != ZDIFF)
        for (int i = 1; i < nk; i++)
            for (int j = i; j > 0 && model[src[ord[j - 1]]].n > model[src[ord[j]]].n; j--) {
                int t = ord[j];
                ord[j] = ord[j - 1];
                ord[j - 1] = t;
            }
    int m[NMEMBERS], n = 0;
    double s[NMEMBERS];
    if (op == ZUNION) {
        for (int i = 0; i < nk; i++) {
            const struct zkey *z = &model[src[ord[i]]];
            for (int j = 0; j < z->n; j++) {
                double v = w[ord[i]] * z->s[j];
                if (isnan(v))
                    v = 0;
                int at = 0;
                while (at < n && m[at] != z->m[j])
                    at++;
                if (at == n) {
                    m[n] = z->m[j];
                    s[n++] = v;
                } else {
                    aggregate(&s[at], v, agg);
                }
            }
        }
    } else {
        const struct zkey *first = &model[src[ord[0]]];
        for (int j = 0; j < first->n; j++) {
            double v = op == ZDIFF ? first->s[j] : w[ord[0]] * first->s[j];
            if (isnan(v))
                v = 0;
            int i = 1;
            for (; i < nk; i++) {
                const struct zkey *z = &model[src[ord[i]]];
                int at = zk_find(z, first->m[j]);
                if (op == ZDIFF) {
                    if (at >= 0)
                        break;
                    continue;
                }
                if (at < 0)
                    break;
                aggregate(&v, z->s[at] * w[ord[i]], agg);
            }
            if (i == nk) {
                m[n] = first->m[j];
                s[n++] = v;
            }
        }
    }
    zk_store_whole(&model[dst], m, s, n);
    o_reset();
    o_int(n);
    cmd_expect(f);
}

/* ---- what is read back ---- */

static void check_key(struct fx *f, int k)
{
    const struct zkey *z = &model[k];
    c_start("ZCARD");
    c_key(k);
    o_reset();
    o_int(z->n);
    cmd_expect(f);

    c_start("ZRANGE");
    c_key(k);
    c_str("0");
    c_str("-1");
    c_opt("WITHSCORES");
    o_reset();
    o_arr(2 * z->n);
    for (int i = 0; i < z->n; i++) {
        o_member(z->m[i]);
        o_double(z->s[i]);
    }
    cmd_expect(f);

    if (z->n == 0) {
        c_start("EXISTS");
        c_key(k);
        o_reset();
        o_raw(ZERO, 4);
        cmd_expect(f);
    } else {
        c_start("OBJECT");
        c_str("ENCODING");
        c_key(k);
        o_reset();
        o_bulk(z->big ? "skiplist" : "listpack", 8);
        cmd_expect(f);
    }

    int m = pick_member(z), at = zk_find(z, m);
    static const char *rank_cmds[] = { "ZSCORE", "ZRANK", "ZREVRANK" };
    for (int i = 0; i < 3; i++) {
        c_start(rank_cmds[i]);
        c_key(k);
        c_member(m);
        o_reset();
        if (at < 0)
            o_raw(NIL, 5);
        else if (i == 0)
            o_double(z->s[at]);
        else
            o_int(i == 1 ? at : z->n - 1 - at);
        cmd_expect(f);
    }

    int m2 = pick_member(z), at2 = zk_find(z, m2);
    c_start("ZMSCORE");
    c_key(k);
    c_member(m);
    c_member(m2);
    o_reset();
    o_arr(2);
    for (int i = 0; i < 2; i++) {
        int a = i == 0 ? at : at2;
        if (a < 0)
            o_raw(NIL, 5);
        else
            o_double(z->s[a]);
    }
    cmd_expect(f);

    struct range r;
    memset(&r, 0, sizeof(r));
    r.type = R_SCORE;
    c_start("ZCOUNT");
    c_key(k);
    gen_score_bound(&r.min, &r.minex);
    gen_score_bound(&r.max, &r.maxex);
    int idx[NMEMBERS];
    o_reset();
    o_int(range_items(z, &r, idx));
    cmd_expect(f);

    if (!z->big || zk_lex_sorted(z)) {
        r.type = R_LEX;
        c_start("ZLEXCOUNT");
        c_key(k);
        gen_lex_bound(z, &r.lmin);
        gen_lex_bound(z, &r.lmax);
        o_reset();
        o_int(range_items(z, &r, idx));
        cmd_expect(f);
    }

    /* a range read, with its scores or not */
    c_start("ZRANGE");
    c_key(k);
    gen_range(z, &r, true);
    bool withscores = r.type != R_LEX && fx_chance(50);
    if (withscores)
        c_opt("WITHSCORES");
    int n = range_items(z, &r, idx);
    o_reset();
    o_arr(withscores ? 2 * n : n);
    for (int i = 0; i < n; i++) {
        o_member(z->m[idx[i]]);
        if (withscores)
            o_double(z->s[idx[i]]);
    }
    cmd_expect(f);
}

static void random_run(struct fx *f, const char *name, uint64_t seed, long long max_entries,
                       long long max_value, unsigned steps)
{
    params.zset_max_entries = max_entries;
    params.zset_max_value = max_value;
    fx_rng = seed;
    run_name = name;
    /* three keys on three shards (when there are three), and a fourth on the first one's shard
     * by its hash tag */
    char keys[NSHARDS][16];
    fx_keys_per_shard(keys);
    for (int k = 0; k < NSHARDS; k++)
        memcpy(keyname[k], keys[k], sizeof(keys[k]));
    snprintf(keyname[3], sizeof(keyname[3]), "{%s}:b", keys[0]);
    memset(model, 0, sizeof(model));
    size_t before[NSHARDS];
    for (int i = 0; i < NSHARDS; i++)
        before[i] = store_used(f->st[i]);

    for (unsigned step = 0; step < steps; step++) {
        run_step = step;
        int k = fx_below(NKEYS), k2 = fx_below(NKEYS), op = fx_below(100);
        if (op < 28)
            op_zadd(f, k, false);
        else if (op < 36)
            op_zadd(f, k, true);
        else if (op < 46)
            op_zrem(f, k);
        else if (op < 53)
            op_zpop(f, k);
        else if (op < 57)
            op_zremrange(f, k, R_RANK);
        else if (op < 61)
            op_zremrange(f, k, R_SCORE);
        else if (op < 66)
            op_zremrange(f, k, R_LEX);
        else if (op < 75)
            op_zrangestore(f, k, k2);
        else if (op < 83)
            op_zsetop(f, ZUNION, k);
        else if (op < 89)
            op_zsetop(f, ZINTER, k);
        else if (op < 94)
            op_zsetop(f, ZDIFF, k);
        else if (op < 95) {
            c_start("DEL");
            c_key(k);
            o_reset();
            o_int(model[k].n > 0);
            cmd_expect(f);
            memset(&model[k], 0, sizeof(model[k]));
        }
        check_key(f, k);
        if (step % 8 == 7)
            for (int j = 0; j < NKEYS; j++)
                check_key(f, j);
    }
    /* deleting the keys gives back every byte, the skiplists' member stores and indexes
     * included */
    for (int k = 0; k < NKEYS; k++)
        RUN(f, "del", keyname[k]);
    for (int i = 0; i < NSHARDS; i++)
        assert_int_equal(store_used(f->st[i]), before[i]);
}

static void random_against_model(void **state)
{
    struct fx *f = *state;
    random_run(f, "seed 1 (4 entries, 8 bytes)", 0x9e3779b97f4a7c15ull, 4, 8, 3000);
    random_run(f, "seed 2 (8 entries, 12 bytes)", 0xd1b54a32d192ed03ull, 8, 12, 3000);
    random_run(f, "seed 3 (16 entries, 16 bytes)", 0x2545f4914f6cdd1dull, 16, 16, 3000);
    random_run(f, "seed 4 (the defaults)", 0x8cb92ba72f3d8dd7ull, 128, 64, 1500);
}

#define SINGLE(t) cmocka_unit_test_setup_teardown(t, fx_setup_coll, fx_teardown)
#define MULTI(t)  cmocka_unit_test_setup_teardown(t, fx_setup_coll_multi, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        SINGLE(replies_exact),
        MULTI(replies_exact),
        SINGLE(combining),
        MULTI(combining),
        SINGLE(encodings),
        MULTI(encodings),
        SINGLE(zrangestore_rev_into_listpack),
        MULTI(zrangestore_rev_into_listpack),
        SINGLE(zrangestore_negative_zero),
        MULTI(zrangestore_negative_zero),
        SINGLE(random_against_model),
        MULTI(random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
