/*
 * RESP request parser. The expected results and error texts are those of
 * Redis 7.0.15 for the same bytes.
 *
 * Most tests go through a simulated connection: bytes are appended to a
 * heap buffer of exactly the received size (so a read past the end is an ASan
 * error), the buffer moves on every append (so a pointer kept across calls
 * reads freed memory), the parser is called from the command start, and
 * finished bytes are dropped. Every command parsed is written to a transcript
 * in canonical multibulk form and every error as "-<text>\n"; a test compares
 * transcripts, which is how the same input split at every byte offset is
 * shown to give the same commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/sbuf_test.h"

#include "resp/parse.h"

#define MAX_BULK (512LL * 1024 * 1024)

/* ---- byte strings ---- */

/* Canonical multibulk encoding of one command. */
static void sb_cmd(struct sbuf *b, int argc, const struct resp_arg *argv)
{
    sb_fmt(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        sb_fmt(b, "$%zu\r\n", argv[i].len);
        sb_add(b, argv[i].ptr, argv[i].len);
        sb_add(b, "\r\n", 2);
    }
}

/* Same from C strings, NULL-terminated. */
static void sb_cmdv(struct sbuf *b, const char *arg0, ...)
{
    struct resp_arg argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL; a = va_arg(ap, const char *)) {
        argv[argc].ptr = (char *)a;
        argv[argc].len = strlen(a);
        argc++;
    }
    va_end(ap);
    sb_cmd(b, argc, argv);
}

/*
 * Expected commands written compactly: commands separated by RS, arguments by
 * US (the ASCII record and unit separators, which no test argument contains).
 */
#define RS "\x1e"
#define US "\x1f"

static void sb_spec(struct sbuf *b, const char *spec, size_t n)
{
    struct resp_arg argv[64];
    size_t i = 0;
    while (i < n) {
        int argc = 0;
        for (;;) {
            size_t j = i;
            while (j < n && spec[j] != '\x1e' && spec[j] != '\x1f')
                j++;
            assert_true(argc < 64);
            argv[argc].ptr = (char *)spec + i;
            argv[argc].len = j - i;
            argc++;
            i = j + 1;
            if (j == n || spec[j] == '\x1e')
                break;
        }
        sb_cmd(b, argc, argv);
    }
}

/* Printable form of a transcript for failure messages. */
static const char *show(const char *s, size_t n)
{
    static char out[4096];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < sizeof(out); i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127 && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

/* ---- the simulated connection ---- */

struct conn {
    struct resp_parser p;
    char *buf; /* exactly len bytes */
    size_t len;
    struct sbuf out; /* transcript */
    bool dead;       /* a protocol error was returned */
    size_t calls;
};

static void conn_init(struct conn *c)
{
    memset(c, 0, sizeof(*c));
    resp_parser_init(&c->p, MAX_BULK);
    sb_add(&c->out, "", 0); /* never NULL, even when nothing is parsed */
}

static void conn_deinit(struct conn *c)
{
    resp_parser_deinit(&c->p);
    free(c->buf);
    sb_free(&c->out);
}

/* Replace the buffer with a fresh one holding buf[from..len) + data[0..n). */
static void conn_move(struct conn *c, size_t from, const char *data, size_t n)
{
    size_t keep = c->len - from;
    char *nb = malloc(keep + n ? keep + n : 1);
    assert_non_null(nb);
    if (keep > 0)
        memcpy(nb, c->buf + from, keep);
    if (n > 0)
        memcpy(nb + keep, data, n);
    if (c->buf != NULL)
        memset(c->buf, 0xA5, c->len);
    free(c->buf);
    c->buf = nb;
    c->len = keep + n;
}

/* Parse everything that is complete, as a connection's read handler would. */
static void conn_drain(struct conn *c)
{
    while (!c->dead) {
        size_t used = SIZE_MAX;
        int rc = resp_parse(&c->p, c->buf, c->len, &used);
        c->calls++;
        assert_true(used <= c->len);
        if (rc == RESP_OK) {
            assert_true(used > 0);
            assert_true(c->p.argc > 0);
            for (int i = 0; i < c->p.argc; i++) {
                assert_true(c->p.argv[i].ptr >= c->buf);
                assert_true(c->p.argv[i].ptr + c->p.argv[i].len <= c->buf + used);
            }
            sb_cmd(&c->out, c->p.argc, c->p.argv);
            conn_move(c, used, NULL, 0);
        } else if (rc == RESP_EAGAIN) {
            if (used > 0)
                conn_move(c, used, NULL, 0);
            return;
        } else {
            assert_int_equal(rc, RESP_EPROTO);
            assert_non_null(c->p.err);
            sb_str(&c->out, "-");
            sb_str(&c->out, c->p.err);
            sb_str(&c->out, "\n");
            c->dead = true;
        }
    }
}

static void conn_feed(struct conn *c, const char *data, size_t n)
{
    if (c->dead)
        return;
    conn_move(c, 0, data, n);
    conn_drain(c);
}

static void expect_transcript(const struct conn *c, const struct sbuf *want, const char *what,
                              size_t at)
{
    if (c->out.len == want->len && memcmp(c->out.p, want->p, want->len) == 0)
        return;
    char got[4096];
    snprintf(got, sizeof(got), "%s", show(c->out.p, c->out.len));
    fail_msg("%s (split at %zu)\n  got  %s\n  want %s", what, at, got, show(want->p, want->len));
}

/*
 * Feed `in` whole, in two chunks split at every offset, and one byte at a
 * time; every run must produce `want`.
 */
static void check_every_split(const char *in, size_t n, const struct sbuf *want, const char *what)
{
    struct conn c;

    conn_init(&c);
    conn_feed(&c, in, n);
    expect_transcript(&c, want, what, n);
    conn_deinit(&c);

    for (size_t k = 1; k < n; k++) {
        conn_init(&c);
        conn_feed(&c, in, k);
        conn_feed(&c, in + k, n - k);
        expect_transcript(&c, want, what, k);
        conn_deinit(&c);
    }

    conn_init(&c);
    for (size_t k = 0; k < n; k++)
        conn_feed(&c, in + k, 1);
    expect_transcript(&c, want, what, 1);
    conn_deinit(&c);
}

/* ---- the corpus of valid requests ---- */

struct corpus_case {
    struct sbuf in, want;
    char name[64];
};

#define CORPUS_MAX 128
static struct corpus_case corpus[CORPUS_MAX];
static size_t ncorpus;

static struct corpus_case *corpus_new(const char *name)
{
    assert_true(ncorpus < CORPUS_MAX);
    struct corpus_case *cc = &corpus[ncorpus++];
    memset(cc, 0, sizeof(*cc));
    snprintf(cc->name, sizeof(cc->name), "%s", name);
    return cc;
}

/* A request written by hand, with its expected commands as a spec string. */
#define RAW(name, in, spec) corpus_raw(name, in, sizeof(in) - 1, spec, sizeof(spec) - 1)
static void corpus_raw(const char *name, const char *in, size_t n, const char *spec, size_t sn)
{
    struct corpus_case *cc = corpus_new(name);
    sb_add(&cc->in, in, n);
    sb_spec(&cc->want, spec, sn);
}

/* A multibulk request built from arguments: the input is its own transcript. */
static void corpus_args(const char *name, int argc, const struct resp_arg *argv)
{
    struct corpus_case *cc = corpus_new(name);
    sb_cmd(&cc->in, argc, argv);
    sb_cmd(&cc->want, argc, argv);
}

/* Value bytes that look like protocol: CR, LF, NUL, '*', '$', digits. */
static void fill_tricky(char *v, size_t n, unsigned seed)
{
    static const char alpha[] = "\r\n\r\n*$0123456789\0abc \"'\\";
    for (size_t i = 0; i < n; i++)
        v[i] = alpha[(i * 7 + seed) % (sizeof(alpha) - 1)];
}

static int corpus_setup(void **state)
{
    (void)state;
    ncorpus = 0;
    struct resp_arg a[64];

    a[0] = (struct resp_arg){ "GET", 3 };
    a[1] = (struct resp_arg){ "key:000001", 10 };
    corpus_args("get", 2, a);

    static const size_t sizes[] = { 0, 1, 9, 10, 99, 100, 1000, 4096, 16384, 20000 };
    static char values[10][20000];
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        fill_tricky(values[i], sizes[i], (unsigned)i);
        a[0] = (struct resp_arg){ "SET", 3 };
        a[1] = (struct resp_arg){ "k", 1 };
        a[2] = (struct resp_arg){ values[i], sizes[i] };
        char name[32];
        snprintf(name, sizeof(name), "set %zu", sizes[i]);
        corpus_args(name, 3, a);
    }

    /* MSET with 1, 8 and 20 pairs: 41 arguments outgrow a small argv */
    static char keys[20][16], vals[20][40];
    for (int pairs = 1; pairs <= 20; pairs += pairs == 1 ? 7 : 12) {
        a[0] = (struct resp_arg){ "MSET", 4 };
        for (int i = 0; i < pairs; i++) {
            int kn = snprintf(keys[i], sizeof(keys[i]), "key:%d", i);
            size_t vn = (size_t)(i * 3) % 40;
            fill_tricky(vals[i], vn, (unsigned)i + 3);
            a[1 + 2 * i] = (struct resp_arg){ keys[i], (size_t)kn };
            a[2 + 2 * i] = (struct resp_arg){ vals[i], vn };
        }
        char name[32];
        snprintf(name, sizeof(name), "mset %d", pairs);
        corpus_args(name, 1 + 2 * pairs, a);
    }

    /* binary keys and values with CRLF, NUL and fake headers inside */
    static const char bkey[] = "a\r\nb\0c$3\r\n*1\r\n";
    static const char bval[] = "\0\0\r\n\r\n\0";
    a[0] = (struct resp_arg){ "SET", 3 };
    a[1] = (struct resp_arg){ (char *)bkey, sizeof(bkey) - 1 };
    a[2] = (struct resp_arg){ (char *)bval, sizeof(bval) - 1 };
    corpus_args("binary", 3, a);

    /* Redis skips the two bytes after a header's '\r' and after a payload unseen */
    RAW("trailer not checked", "*1\r\n$4\r\nPINGX\r\n", "PING");
    RAW("header cr then any byte", "*2\rX$3\rYGET\r\n$1\r\nk\r\n", "GET" US "k");
    RAW("payload trailer any bytes", "*2\r\n$3\r\nGETab$1\r\nkxy", "GET" US "k");
    RAW("empty argument", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", "SET" US "k" US "");

    /* inline */
    RAW("inline crlf", "PING\r\n", "PING");
    RAW("inline lf", "PING\n", "PING");
    RAW("inline args", "GET k\r\n", "GET" US "k");
    RAW("inline blanks", "  GET\t\tk   \r\n", "GET" US "k");
    RAW("inline double quotes", "SET k \"hello world\"\r\n", "SET" US "k" US "hello world");
    RAW("inline escapes", "ECHO \"a\\x41\\x4a\\x4F\\n\\r\\t\\b\\a\\\\\\\"\\q\\xZZ\\x4\"\n",
        "ECHO" US "aAJO\n\r\t\b\a\\\"qxZZx4");
    RAW("inline hex nul", "ECHO \"\\x00\\xff\"\n", "ECHO" US "\0\xff");
    RAW("inline single quotes", "ECHO 'it\\'s' 'a\\nb' '\"x\"'\n",
        "ECHO" US "it's" US "a\\nb" US "\"x\"");
    RAW("inline empty quotes", "SET k \"\" ''\r\n", "SET" US "k" US "" US "");
    RAW("inline quote mid word", "ECHO a\"b c\"\r\n", "ECHO" US "ab c");
    RAW("inline quote then vtab", "ECHO \"a\"\v'b'\fc\r\n", "ECHO" US "a" US "b" US "c");
    RAW("inline vtab inside word", "\v\fECHO a\vb\f\r\n", "ECHO" US "a\vb\f");
    RAW("inline cr inside line", "ECHO a\rb\n", "ECHO" US "a" US "b");
    RAW("inline cr before crlf", "PING\r\r\n", "PING");
    RAW("inline quoted cr", "ECHO \"a\rb\"\r\n", "ECHO" US "a\rb");
    RAW("inline high bytes", "ECHO \xff\xfe\x80\r\n", "ECHO" US "\xff\xfe\x80");
    RAW("inline star inside", "ECHO *1 $3\r\n", "ECHO" US "*1" US "$3");

    /* empty commands between real ones */
    RAW("empties", "*0\r\n*-1\r\n*-7\r\n\r\n\n  \t \r\nPING\r\n*0\r\n", "PING");
    RAW("empties around multibulk", "\n*0\r\n*1\r\n$4\r\nPING\r\n\r\n*-1\r\n*1\r\n$1\r\nx\r\n",
        "PING" RS "x");

    /* pipelines */
    RAW("pipeline mixed",
        "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
        "GET a\r\n"
        "*0\r\n"
        "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
        "ECHO \"x y\"\n"
        "\r\n"
        "*1\r\n$4\r\nPING\r\n",
        "SET" US "a" US "1" RS "GET" US "a" RS "INCR" US "a" RS "ECHO" US "x y" RS "PING");

    /* every small case above back to back */
    struct corpus_case *all = corpus_new("pipeline of everything small");
    size_t nsmall = ncorpus - 1;
    for (size_t i = 0; i < nsmall; i++) {
        if (corpus[i].in.len > 2000)
            continue;
        sb_add(&all->in, corpus[i].in.p, corpus[i].in.len);
        sb_add(&all->want, corpus[i].want.p, corpus[i].want.len);
        sb_add(&all->in, "*0\r\n", 4);
    }
    return 0;
}

static int corpus_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < ncorpus; i++) {
        sb_free(&corpus[i].in);
        sb_free(&corpus[i].want);
    }
    ncorpus = 0;
    return 0;
}

/* ---- valid input ---- */

static void corpus_at_every_split(void **state)
{
    (void)state;
    assert_true(ncorpus >= 40);
    for (size_t i = 0; i < ncorpus; i++)
        check_every_split(corpus[i].in.p, corpus[i].in.len, &corpus[i].want, corpus[i].name);
}

/* Direct use of the API: argc, argv, *used and the empty-command rules. */
static void reports_used_bytes(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used;

    char in[] = "*0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*-1\r\nPING";
    assert_int_equal(resp_parse(&p, in, sizeof(in) - 1, &used), RESP_OK);
    assert_int_equal(used, 6 + 20);
    assert_int_equal(p.argc, 2);
    assert_ptr_equal(p.argv[0].ptr, in + 6 + 8);
    assert_int_equal(p.argv[0].len, 3);
    assert_memory_equal(p.argv[1].ptr, "k", 1);

    /* "*-1" is skipped; "PING" has no newline yet */
    char *rest = in + used;
    size_t rlen = sizeof(in) - 1 - used;
    assert_int_equal(resp_parse(&p, rest, rlen, &used), RESP_EAGAIN);
    assert_int_equal(used, 5);

    /* only empty commands: all of it is used */
    resp_parser_reset(&p);
    char empties[] = "*0\r\n\n";
    assert_int_equal(resp_parse(&p, empties, 5, &used), RESP_EAGAIN);
    assert_int_equal(used, 5);

    /* nothing at all */
    assert_int_equal(resp_parse(&p, empties, 0, &used), RESP_EAGAIN);
    assert_int_equal(used, 0);
    resp_parser_deinit(&p);
}

/* need: the byte count that completes the bulk being waited for. */
static void need_counts_from_command_start(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used;

    char a[] = "*2\r\n$3\r\nSET\r\n$5\r\nhel";
    assert_int_equal(resp_parse(&p, a, sizeof(a) - 1, &used), RESP_EAGAIN);
    assert_int_equal(used, 0);
    assert_int_equal(p.need, 17 + 5 + 2);
    resp_parser_reset(&p);

    char b[] = "*0\r\n\r\n*2\r\n$3\r\nSET\r\n$5\r\nhel";
    assert_int_equal(resp_parse(&p, b, sizeof(b) - 1, &used), RESP_EAGAIN);
    assert_int_equal(used, 6);
    assert_int_equal(p.need, 24);
    char b2[] = "*2\r\n$3\r\nSET\r\n$5\r\nhello\r";
    assert_int_equal(resp_parse(&p, b2, sizeof(b2) - 1, &used), RESP_EAGAIN);
    assert_int_equal(p.need, 24);
    char b3[] = "*2\r\n$3\r\nSET\r\n$5\r\nhello\r\n";
    assert_int_equal(resp_parse(&p, b3, sizeof(b3) - 1, &used), RESP_OK);
    assert_int_equal(used, 24);
    assert_int_equal(p.need, 0);

    /* waiting for a header: unknown */
    char c[] = "*2\r\n$3\r\nSET\r\n$5";
    assert_int_equal(resp_parse(&p, c, sizeof(c) - 1, &used), RESP_EAGAIN);
    assert_int_equal(p.need, 0);
    resp_parser_reset(&p);

    char d[] = "*1\r\n$536870912\r\nxx";
    assert_int_equal(resp_parse(&p, d, sizeof(d) - 1, &used), RESP_EAGAIN);
    assert_true(p.need == 16 + 536870912ull + 2);
    resp_parser_reset(&p);

    char e[] = "GET k";
    assert_int_equal(resp_parse(&p, e, sizeof(e) - 1, &used), RESP_EAGAIN);
    assert_int_equal(p.need, 0);
    resp_parser_deinit(&p);
}

/*
 * Parsed arguments are not read again: bytes of a finished argument can be
 * scribbled on between calls and the parse still completes with the lengths
 * it already knew (the pointers see the scribble, which proves no rescan).
 */
static void finished_arguments_are_not_rescanned(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used;
    char buf[64] = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva";
    size_t n = strlen(buf);
    assert_int_equal(resp_parse(&p, buf, n, &used), RESP_EAGAIN);
    memset(buf, '#', 23); /* "*3", "$3 SET", "$3 key" */
    memcpy(buf + n, "lue\r\n", 5);
    assert_int_equal(resp_parse(&p, buf, n + 5, &used), RESP_OK);
    assert_int_equal(p.argc, 3);
    assert_memory_equal(p.argv[0].ptr, "###", 3);
    assert_memory_equal(p.argv[1].ptr, "###", 3);
    assert_memory_equal(p.argv[2].ptr, "value", 5);
    assert_int_equal(used, n + 5);
    resp_parser_deinit(&p);
}

/* The caller may move the buffer between calls; argv points into the new one. */
static void resumes_in_a_moved_buffer(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used;
    char one[] = "*2\r\n$4\r\nECHO\r\n$5\r\nhel";
    assert_int_equal(resp_parse(&p, one, sizeof(one) - 1, &used), RESP_EAGAIN);
    char two[] = "........*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
    assert_int_equal(resp_parse(&p, two + 8, sizeof(two) - 9, &used), RESP_OK);
    assert_ptr_equal(p.argv[0].ptr, two + 8 + 8);
    assert_ptr_equal(p.argv[1].ptr, two + 8 + 18);
    assert_memory_equal(p.argv[1].ptr, "hello", 5);

    /* reset forgets a partial command */
    char part[] = "*2\r\n$4\r\nECHO\r\n";
    assert_int_equal(resp_parse(&p, part, sizeof(part) - 1, &used), RESP_EAGAIN);
    resp_parser_reset(&p);
    char fresh[] = "PING\r\n";
    assert_int_equal(resp_parse(&p, fresh, 6, &used), RESP_OK);
    assert_int_equal(p.argc, 1);
    assert_memory_equal(p.argv[0].ptr, "PING", 4);
    resp_parser_deinit(&p);
}

/* Inline arguments are unescaped in the caller's buffer. */
static void inline_unescapes_in_place(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used;
    char buf[] = "SET \"k\\x41\" 'v w'\r\nGET";
    assert_int_equal(resp_parse(&p, buf, sizeof(buf) - 1, &used), RESP_OK);
    assert_int_equal(used, 19);
    assert_int_equal(p.argc, 3);
    assert_ptr_equal(p.argv[0].ptr, buf);
    assert_ptr_equal(p.argv[1].ptr, buf + 4);
    assert_int_equal(p.argv[1].len, 2);
    assert_memory_equal(p.argv[1].ptr, "kA", 2);
    assert_ptr_equal(p.argv[2].ptr, buf + 12);
    assert_memory_equal(p.argv[2].ptr, "v w", 3);
    resp_parser_deinit(&p);
}

/* Many arguments, parsed whole and one argument at a time; then small commands again. */
static void many_arguments(void **state)
{
    (void)state;
    struct sbuf in = { 0 };
    const int argc = 5000;
    sb_fmt(&in, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "%d", i);
        sb_fmt(&in, "$%d\r\n%s\r\n", n, v);
    }
    sb_str(&in, "*1\r\n$4\r\nPING\r\n");

    struct conn c;
    conn_init(&c);
    conn_feed(&c, in.p, in.len);
    assert_false(c.dead);
    assert_int_equal(c.p.argc, 1); /* the last command was PING */
    assert_int_equal(c.out.len, in.len);
    assert_memory_equal(c.out.p, in.p, in.len);
    conn_deinit(&c);

    /* chunks of 7 bytes: every header and payload cut somewhere */
    conn_init(&c);
    for (size_t off = 0; off < in.len; off += 7)
        conn_feed(&c, in.p + off, in.len - off < 7 ? in.len - off : 7);
    assert_int_equal(c.out.len, in.len);
    assert_memory_equal(c.out.p, in.p, in.len);
    conn_deinit(&c);

    /* an inline line with many words */
    struct sbuf line = { 0 }, want = { 0 };
    sb_str(&want, "*3000\r\n");
    for (int i = 0; i < 3000; i++) {
        sb_fmt(&line, "%sw%d", i ? " " : "", i);
        char w[16];
        int n = snprintf(w, sizeof(w), "w%d", i);
        sb_fmt(&want, "$%d\r\n%s\r\n", n, w);
    }
    sb_str(&line, "\r\n");
    conn_init(&c);
    conn_feed(&c, line.p, line.len);
    expect_transcript(&c, &want, "many inline words", 0);
    conn_deinit(&c);

    sb_free(&in);
    sb_free(&line);
    sb_free(&want);
}

/* "*2147483647" is accepted and costs nothing until arguments come. */
static void huge_count_allocates_nothing_up_front(void **state)
{
    (void)state;
    struct conn c;
    conn_init(&c);
    const char in[] = "*2147483647\r\n$1\r\na\r\n$1\r\nb\r\n";
    conn_feed(&c, in, sizeof(in) - 1);
    assert_false(c.dead);
    assert_int_equal(c.out.len, 0);
    assert_int_equal(c.len, sizeof(in) - 1);
    assert_true(c.p.argcap < 1000);
    conn_deinit(&c);
}

/* ---- errors ---- */

struct err_case {
    const char *in;
    size_t len;
    const char *err;
};
#define LIT(s) s, sizeof(s) - 1

static const char MBULK_LEN[] = "ERR Protocol error: invalid multibulk length";
static const char BULK_LEN[] = "ERR Protocol error: invalid bulk length";
static const char QUOTES[] = "ERR Protocol error: unbalanced quotes in request";

static const struct err_case err_cases[] = {
    { LIT("*x\r\n"), MBULK_LEN },
    { LIT("*\r\n"), MBULK_LEN },
    { LIT("*-0\r\n"), MBULK_LEN },
    { LIT("*01\r\n"), MBULK_LEN },
    { LIT("*+1\r\n"), MBULK_LEN },
    { LIT("* 1\r\n"), MBULK_LEN },
    { LIT("*1 \r\n"), MBULK_LEN },
    { LIT("*2147483648\r\n"), MBULK_LEN },
    { LIT("*9223372036854775808\r\n"), MBULK_LEN },
    { LIT("*123456789012345678901\r\n"), MBULK_LEN },
    { LIT("*1\n$4\r\nPING\r\n"), MBULK_LEN }, /* a bare LF does not end a header */
    { LIT("*1\r\nX\r\n"), "ERR Protocol error: expected '$', got 'X'" },
    { LIT("*1\r\n\r\n"), "ERR Protocol error: expected '$', got ' '" },
    { LIT("*1\r\n\n\r\n"), "ERR Protocol error: expected '$', got ' '" },
    { LIT("*1\r\n\x80\r\n"), "ERR Protocol error: expected '$', got '\x80'" },
    { LIT("*1\r\n*1\r\n"), "ERR Protocol error: expected '$', got '*'" },
    { LIT("*2\r\n$3\r\nGET\r\n:1\r\n"), "ERR Protocol error: expected '$', got ':'" },
    { LIT("*2\r\n$3\r\nGET\r\nk\r\n"), "ERR Protocol error: expected '$', got 'k'" },
    { LIT("*1\r\n$-1\r\n"), BULK_LEN },
    { LIT("*1\r\n$-0\r\n"), BULK_LEN },
    { LIT("*1\r\n$01\r\n"), BULK_LEN },
    { LIT("*1\r\n$+1\r\n"), BULK_LEN },
    { LIT("*1\r\n$\r\n"), BULK_LEN },
    { LIT("*1\r\n$ 4\r\n"), BULK_LEN },
    { LIT("*1\r\n$4 \r\n"), BULK_LEN },
    { LIT("*1\r\n$1x\r\n"), BULK_LEN },
    { LIT("*1\r\n$4\nPING\r\n"), BULK_LEN },
    { LIT("*1\r\n$99999999999999999999\r\n"), BULK_LEN },
    { LIT("*1\r\n$536870913\r\n"), BULK_LEN }, /* one more than proto-max-bulk-len */
    { LIT("ECHO \"a\"b\r\n"), QUOTES },
    { LIT("ECHO \"ab\r\n"), QUOTES },
    { LIT("ECHO 'ab\r\n"), QUOTES },
    { LIT("ECHO 'a'b\n"), QUOTES },
    { LIT("ECHO \"a\\\"\n"), QUOTES },
    { LIT("ECHO \"a\\\n"), QUOTES },
    { LIT("ECHO 'a\\'\r\n"), QUOTES },
    { LIT("\"\n"), QUOTES },
    /* after good commands: those are parsed, then the error */
    { LIT("GET k\r\n*0\r\n*1\r\n$4\r\nPING\r\n*1\r\nX\r\n"),
      "ERR Protocol error: expected '$', got 'X'" },
};

static void errors_at_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const struct err_case *ec = &err_cases[i];
        struct sbuf want = { 0 };
        if (i == sizeof(err_cases) / sizeof(err_cases[0]) - 1) {
            sb_cmdv(&want, "GET", "k", NULL);
            sb_cmdv(&want, "PING", NULL);
        }
        sb_str(&want, "-");
        sb_str(&want, ec->err);
        sb_str(&want, "\n");
        check_every_split(ec->in, ec->len, &want, ec->in);
        sb_free(&want);
    }
}

/* After an error the parser starts clean (a caller that kept going would see a fresh command). */
static void error_leaves_parser_clean(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used;
    char bad[] = "*1\r\n$x\r\n";
    assert_int_equal(resp_parse(&p, bad, sizeof(bad) - 1, &used), RESP_EPROTO);
    assert_string_equal(p.err, BULK_LEN);
    char good[] = "PING\r\n";
    assert_int_equal(resp_parse(&p, good, 6, &used), RESP_OK);
    assert_int_equal(p.argc, 1);
    resp_parser_deinit(&p);
}

static void fill(char *p, size_t n, char c)
{
    memset(p, c, n);
}

/*
 * The 64 KiB limit on a line without its terminator: exactly RESP_INLINE_MAX
 * bytes still wait, one more is an error. Counted from the command start for
 * inline and "*" lines, from the "$" line start for bulk headers.
 */
static void line_limits(void **state)
{
    (void)state;
    const size_t max = RESP_INLINE_MAX;
    char *big = malloc(max + 200000);
    assert_non_null(big);
    struct conn c;

    /* inline */
    fill(big, max, 'a');
    conn_init(&c);
    conn_feed(&c, big, max);
    assert_false(c.dead);
    conn_feed(&c, "a", 1);
    assert_true(c.dead);
    assert_string_equal(c.out.p, "-ERR Protocol error: too big inline request\n");
    conn_deinit(&c);

    /* a line with its newline is fine whatever its length */
    fill(big, 100000, 'a');
    big[50000] = ' ';
    big[100000] = '\n';
    conn_init(&c);
    conn_feed(&c, big, 100001);
    assert_false(c.dead);
    assert_int_equal(c.len, 0);
    assert_int_equal(c.out.len, strlen("*2\r\n$50000\r\n$49999\r\n") + 50000 + 49999 + 4);
    conn_deinit(&c);

    /* "*" line */
    big[0] = '*';
    fill(big + 1, max, '1');
    conn_init(&c);
    conn_feed(&c, big, max);
    assert_false(c.dead);
    conn_feed(&c, "1", 1);
    assert_string_equal(c.out.p, "-ERR Protocol error: too big mbulk count string\n");
    conn_deinit(&c);

    /* its '\r' is there but not the byte after: wait, whatever the length */
    fill(big + 1, max + 10, '1');
    big[max + 11] = '\r';
    conn_init(&c);
    conn_feed(&c, big, max + 12);
    assert_false(c.dead);
    conn_feed(&c, "\n", 1);
    assert_string_equal(c.out.p, "-ERR Protocol error: invalid multibulk length\n");
    conn_deinit(&c);

    /* "$" line: the limit starts at the '$' */
    memcpy(big, "*1\r\n$", 5);
    fill(big + 5, max, '1');
    conn_init(&c);
    conn_feed(&c, big, 4 + max);
    assert_false(c.dead);
    conn_feed(&c, big + 4 + max, 1);
    assert_string_equal(c.out.p, "-ERR Protocol error: too big bulk count string\n");
    conn_deinit(&c);

    /* a long line that does not start with '$' is still "too big", not "expected '$'" */
    memcpy(big, "*1\r\nX", 5);
    conn_init(&c);
    conn_feed(&c, big, 5 + max);
    assert_string_equal(c.out.p, "-ERR Protocol error: too big bulk count string\n");
    conn_deinit(&c);

    /* empty commands before do not count */
    memcpy(big, "*0\r\n\r\n", 6);
    fill(big + 6, max, 'a');
    conn_init(&c);
    conn_feed(&c, big, 6 + max);
    assert_false(c.dead);
    assert_int_equal(c.len, max);
    conn_feed(&c, "\n", 1);
    assert_false(c.dead);
    assert_int_equal(c.out.len, strlen("*1\r\n$65536\r\n") + max + 2);
    conn_deinit(&c);
    free(big);
}

/*
 * A NUL byte before the line terminator hides the terminator, as strchr()
 * does in Redis: the command never completes and the line hits the limit.
 */
static void nul_hides_line_end(void **state)
{
    (void)state;
    static const char INLINE_BIG[] = "-ERR Protocol error: too big inline request\n";
    static const char MBULK_BIG[] = "-ERR Protocol error: too big mbulk count string\n";
    static const char BULK_BIG[] = "-ERR Protocol error: too big bulk count string\n";
    static const struct err_case stuck[] = {
        { LIT("GET a\0b\r\n"), INLINE_BIG }, { LIT("\0PING\r\n"), INLINE_BIG },
        { LIT("*1\0\r\n"), MBULK_BIG },      { LIT("*1\r\n$4\0\r\nPING\r\n"), BULK_BIG },
        { LIT("*1\r\n\0\r\n"), BULK_BIG },
    };
    char *pad = malloc(RESP_INLINE_MAX);
    assert_non_null(pad);
    fill(pad, RESP_INLINE_MAX, '\n');
    for (size_t i = 0; i < sizeof(stuck) / sizeof(stuck[0]); i++) {
        struct conn c;
        conn_init(&c);
        for (size_t k = 0; k < stuck[i].len; k++)
            conn_feed(&c, stuck[i].in + k, 1);
        assert_false(c.dead);
        assert_int_equal(c.out.len, 0);
        conn_feed(&c, pad, RESP_INLINE_MAX - stuck[i].len);
        assert_false(c.dead);
        conn_feed(&c, pad, 1000);
        assert_true(c.dead);
        assert_string_equal(c.out.p, stuck[i].err);
        conn_deinit(&c);
    }
    free(pad);
}

/* ---- limits ---- */

static int parse_one(struct resp_parser *p, const char *s)
{
    static char buf[256];
    size_t n = strlen(s), used;
    assert_true(n < sizeof(buf));
    memcpy(buf, s, n);
    return resp_parse(p, buf, n, &used);
}

static void max_bulk_len_is_enforced(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, 10);
    assert_int_equal(parse_one(&p, "*1\r\n$10\r\n0123456789\r\n"), RESP_OK);
    assert_int_equal(parse_one(&p, "*1\r\n$11\r\n"), RESP_EPROTO);
    assert_string_equal(p.err, BULK_LEN);
    p.max_bulk_len = 11;
    assert_int_equal(parse_one(&p, "*1\r\n$11\r\n01234567890\r\n"), RESP_OK);
    assert_int_equal(p.argv[0].len, 11);
    /* inline is not limited by it */
    assert_int_equal(parse_one(&p, "ECHO 0123456789abcdef\r\n"), RESP_OK);
    resp_parser_deinit(&p);
}

static void unauthenticated_limits(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    p.auth_required = true;
    assert_int_equal(parse_one(&p, "*10\r\n"), RESP_EAGAIN);
    resp_parser_reset(&p);
    assert_int_equal(parse_one(&p, "*11\r\n"), RESP_EPROTO);
    assert_string_equal(p.err, "ERR Protocol error: unauthenticated multibulk length");
    assert_int_equal(parse_one(&p, "*1\r\n$16384\r\n"), RESP_EAGAIN);
    assert_int_equal(p.need, 4 + 8 + 16384 + 2);
    resp_parser_reset(&p);
    assert_int_equal(parse_one(&p, "*1\r\n$16385\r\n"), RESP_EPROTO);
    assert_string_equal(p.err, "ERR Protocol error: unauthenticated bulk length");

    /* the plain checks come first */
    assert_int_equal(parse_one(&p, "*2147483648\r\n"), RESP_EPROTO);
    assert_string_equal(p.err, MBULK_LEN);
    assert_int_equal(parse_one(&p, "*1\r\n$-1\r\n"), RESP_EPROTO);
    assert_string_equal(p.err, BULK_LEN);
    p.max_bulk_len = 1000;
    assert_int_equal(parse_one(&p, "*1\r\n$2000\r\n"), RESP_EPROTO);
    assert_string_equal(p.err, BULK_LEN);
    p.max_bulk_len = MAX_BULK;

    /* empty commands and inline are not limited */
    char neg[] = "*-5\r\n*0\r\n";
    size_t used;
    assert_int_equal(resp_parse(&p, neg, sizeof(neg) - 1, &used), RESP_EAGAIN);
    assert_int_equal(used, sizeof(neg) - 1);
    assert_int_equal(parse_one(&p, "a b c d e f g h i j k l m n\r\n"), RESP_OK);
    assert_int_equal(p.argc, 14);

    /* set while a command is in progress: checked from the next header on */
    p.auth_required = false;
    assert_int_equal(parse_one(&p, "*11\r\n"), RESP_EAGAIN);
    resp_parser_reset(&p);
    assert_int_equal(parse_one(&p, "*1\r\n$16385\r\n"), RESP_EAGAIN);
    resp_parser_deinit(&p);
}

/* ---- garbage ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Feed `in` in random chunks; returns the transcript (caller frees). */
static struct sbuf run_random_chunks(const char *in, size_t n, bool bytewise)
{
    struct conn c;
    conn_init(&c);
    size_t off = 0;
    while (off < n) {
        size_t k = bytewise ? 1 : 1 + rng() % 16;
        if (k > n - off)
            k = n - off;
        conn_feed(&c, in + off, k);
        off += k;
    }
    struct sbuf out = c.out;
    c.out = (struct sbuf){ 0 };
    conn_deinit(&c);
    return out;
}

/*
 * Random bytes drawn mostly from protocol characters. Whatever comes in, the
 * parser returns one of its three statuses with sane *used and argv (checked
 * in conn_drain), stays inside the buffer (ASan), and gives the same result
 * however the input is cut.
 */
static void random_bytes(void **state)
{
    (void)state;
    static const char alpha[] = "**$$$\r\r\n\n0123456789-+ \t\"'\\xaFAZ\v";
    rng_state = 0x9E3779B97F4A7C15ull;
    char in[300];
    size_t errors = 0, oks = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = rng() % sizeof(in);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rng();
            in[i] = r % 8 == 0 ? (char)(r >> 8) : alpha[(r >> 8) % (sizeof(alpha) - 1)];
        }
        /* often start like a real command */
        if (iter % 3 == 0 && n > 8)
            memcpy(in, "*2\r\n$3\r\n", 8);
        struct sbuf whole = run_random_chunks(in, n, false);
        struct sbuf bytes = run_random_chunks(in, n, true);
        if (whole.len != bytes.len || memcmp(whole.p, bytes.p, whole.len) != 0) {
            char a[4096];
            snprintf(a, sizeof(a), "%s", show(whole.p, whole.len));
            fail_msg("iteration %d: chunked %s\nbytewise %s\ninput %s", iter, a,
                     show(bytes.p, bytes.len), show(in, n));
        }
        if (whole.len > 0 && strstr(whole.p, "\n-ERR Protocol error: ") != NULL)
            errors++;
        else if (whole.len > 0 && whole.p[0] == '-')
            errors++;
        if (whole.len > 0 && whole.p[0] == '*')
            oks++;
        sb_free(&whole);
        sb_free(&bytes);
    }
    /* the generator reaches both outcomes */
    assert_true(errors > 1000);
    assert_true(oks > 1000);
}

/* Valid requests with a few bytes flipped, inserted or deleted. */
static void mutated_corpus(void **state)
{
    (void)state;
    rng_state = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        const struct corpus_case *cc = &corpus[rng() % ncorpus];
        if (cc->in.len > 2000)
            continue;
        struct sbuf m = { 0 };
        sb_add(&m, cc->in.p, cc->in.len);
        int edits = 1 + (int)(rng() % 3);
        for (int e = 0; e < edits && m.len > 0; e++) {
            size_t at = rng() % m.len;
            switch (rng() % 3) {
            case 0:
                m.p[at] = (char)rng();
                break;
            case 1:
                memmove(m.p + at, m.p + at + 1, m.len - at - 1);
                m.len--;
                break;
            default: {
                char ch = (char)rng();
                sb_add(&m, "", 1);
                memmove(m.p + at + 1, m.p + at, m.len - at - 1);
                m.p[at] = ch;
                break;
            }
            }
        }
        struct sbuf a = run_random_chunks(m.p, m.len, false);
        struct sbuf b = run_random_chunks(m.p, m.len, true);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.p, b.p, a.len);
        sb_free(&a);
        sb_free(&b);
        sb_free(&m);
    }
}

/* ---- linear time ---- */

/*
 * A 64 MiB bulk arriving 4 KiB at a time: 16384 calls, each answered from the
 * saved state. A parser that rescanned what it had would read terabytes here.
 */
static void big_bulk_in_small_reads(void **state)
{
    (void)state;
    const size_t vlen = 64u << 20;
    char hdr[64];
    int h = snprintf(hdr, sizeof(hdr), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", vlen);
    size_t total = (size_t)h + vlen + 2;
    char *buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, hdr, (size_t)h);
    fill_tricky(buf + h, vlen, 1);
    memcpy(buf + h + vlen, "\r\n", 2);

    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t used, len = 0, calls = 0;
    int rc = RESP_EAGAIN;
    while (len < total) {
        len += total - len < 4096 ? total - len : 4096;
        rc = resp_parse(&p, buf, len, &used);
        calls++;
        if (len < total) {
            assert_int_equal(rc, RESP_EAGAIN);
            assert_int_equal(used, 0);
            if (len > (size_t)h)
                assert_int_equal(p.need, total);
        }
    }
    assert_int_equal(rc, RESP_OK);
    assert_int_equal(used, total);
    assert_int_equal(p.argc, 3);
    assert_ptr_equal(p.argv[2].ptr, buf + h);
    assert_int_equal(p.argv[2].len, vlen);
    assert_true(calls > 16000);
    resp_parser_deinit(&p);
    free(buf);
}

/*
 * A million small commands, multibulk and inline, read in 16 KiB pieces that
 * cut commands anywhere; each call starts at the first unfinished command.
 */
static void long_pipeline(void **state)
{
    (void)state;
    const int ncmd = 1000000;
    struct sbuf in = { 0 };
    for (int i = 0; i < ncmd; i++) {
        if (i % 2 == 0)
            sb_fmt(&in, "*3\r\n$3\r\nSET\r\n$11\r\nkey:%07d\r\n$3\r\nval\r\n", i);
        else
            sb_fmt(&in, "GET key:%07d\r\n", i);
    }
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t start = 0, recv = 0;
    int seen = 0;
    while (start < in.len) {
        if (recv < in.len)
            recv += in.len - recv < 16384 ? in.len - recv : 16384;
        for (;;) {
            size_t used;
            int rc = resp_parse(&p, in.p + start, recv - start, &used);
            start += used;
            if (rc == RESP_EAGAIN)
                break;
            assert_int_equal(rc, RESP_OK);
            char key[16];
            snprintf(key, sizeof(key), "key:%07d", seen);
            assert_int_equal(p.argc, seen % 2 == 0 ? 3 : 2);
            assert_int_equal(p.argv[1].len, 11);
            assert_memory_equal(p.argv[1].ptr, key, 11);
            seen++;
        }
    }
    assert_int_equal(seen, ncmd);
    resp_parser_deinit(&p);
    sb_free(&in);
}

/* resp_peek: the length and first two arguments of a complete command, 0 otherwise. */
static void peek_lookahead(void **state)
{
    (void)state;
    static const char two[] = "*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\n*1\r\n$4\r\nPING\r\n";
    struct resp_arg a[2];
    int argc = 0;
    size_t n = resp_peek(two, sizeof(two) - 1, a, &argc);
    assert_int_equal(n, 22);
    assert_int_equal(argc, 2);
    assert_int_equal(a[0].len, 3);
    assert_memory_equal(a[0].ptr, "GET", 3);
    assert_int_equal(a[1].len, 3);
    assert_memory_equal(a[1].ptr, "foo", 3);
    assert_int_equal(resp_peek(two + n, sizeof(two) - 1 - n, a, &argc), 14);
    assert_int_equal(argc, 1);

    /* every strict prefix of a command is incomplete */
    for (size_t cut = 0; cut < 22; cut++)
        assert_int_equal(resp_peek(two, cut, a, &argc), 0);

    /* a binary-safe argument holding CRLF, a big argument count, an empty argument */
    static const char bin[] = "*3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$0\r\n\r\n";
    assert_int_equal(resp_peek(bin, sizeof(bin) - 1, a, &argc), sizeof(bin) - 1);
    assert_int_equal(argc, 3);
    assert_int_equal(a[1].len, 4);

    /* anything resp_parse must judge: inline, malformed, empty or negative counts */
    static const char *const no[] = {
        "GET foo\r\n",
        "*1\r\n:3\r\n",
        "*1\r\n$3\r\nGETX\r\n",
        "*0\r\n",
        "*-1\r\n",
        "*1\r\n$-1\r\n",
        "*x\r\n$1\r\na\r\n",
        "*1\n$1\r\na\r\n",
        "*1\r\n$99\r\nab\r\n",
        "*1\r\n$1\r\nab\r\n",
        /* leading zeros: resp_parse refuses them (as Redis does), so peek must too */
        "*02\r\n$3\r\nGET\r\n$1\r\na\r\n",
        "*1\r\n$03\r\nGET\r\n",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_int_equal(resp_peek(no[i], strlen(no[i]), a, &argc), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(corpus_at_every_split, corpus_setup, corpus_teardown),
        cmocka_unit_test(reports_used_bytes),
        cmocka_unit_test(need_counts_from_command_start),
        cmocka_unit_test(finished_arguments_are_not_rescanned),
        cmocka_unit_test(resumes_in_a_moved_buffer),
        cmocka_unit_test(inline_unescapes_in_place),
        cmocka_unit_test(many_arguments),
        cmocka_unit_test(huge_count_allocates_nothing_up_front),
        cmocka_unit_test(errors_at_every_split),
        cmocka_unit_test(error_leaves_parser_clean),
        cmocka_unit_test(line_limits),
        cmocka_unit_test(nul_hides_line_end),
        cmocka_unit_test(max_bulk_len_is_enforced),
        cmocka_unit_test(unauthenticated_limits),
        cmocka_unit_test(random_bytes),
        cmocka_unit_test_setup_teardown(mutated_corpus, corpus_setup, corpus_teardown),
        cmocka_unit_test(big_bulk_in_small_reads),
        cmocka_unit_test(long_pipeline),
        cmocka_unit_test(peek_lookahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
