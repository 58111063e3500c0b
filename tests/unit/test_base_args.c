/* The redis.conf tokenizer and the quoting CONFIG REWRITE writes with (base/args.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/args.h"
#include "base/strbuf.h"

#define MAXW 16

/* Split a copy of `line`; the words are copied into out[]. @return args_split's result. */
static int split(const char *line, char out[MAXW][256])
{
    char buf[1024];
    char *words[MAXW];
    snprintf(buf, sizeof(buf), "%s", line);
    int n = args_split(buf, words, MAXW);
    for (int i = 0; i < n; i++)
        snprintf(out[i], 256, "%s", words[i]);
    return n;
}

static void plain_words_and_blanks(void **state)
{
    (void)state;
    char w[MAXW][256];
    assert_int_equal(split("port 6379\n", w), 2);
    assert_string_equal(w[0], "port");
    assert_string_equal(w[1], "6379");
    assert_int_equal(split("  save\t900   1 \r\n", w), 3);
    assert_string_equal(w[0], "save");
    assert_string_equal(w[1], "900");
    assert_string_equal(w[2], "1");
    assert_int_equal(split("bind 127.0.0.1 -::1", w), 3);
    assert_string_equal(w[2], "-::1");
}

static void comments_and_empty_lines(void **state)
{
    (void)state;
    char w[MAXW][256];
    assert_int_equal(split("", w), 0);
    assert_int_equal(split("\n", w), 0);
    assert_int_equal(split("   \t \r\n", w), 0);
    assert_int_equal(split("# plain comment\n", w), 0);
    /* Debian's redis.conf line 60: quotes in a comment are not tokenized. */
    assert_int_equal(split("# Each address can be prefixed by \"-\", which means\n", w), 0);
    assert_int_equal(split("   # indented \"unbalanced\n", w), 0);
    assert_int_equal(split("\t#'\n", w), 0);
    /* A '#' after the directive is a word, as in Redis. */
    assert_int_equal(split("port 1 # x", w), 4);
    assert_string_equal(w[2], "#");
}

static void double_quotes_and_escapes(void **state)
{
    (void)state;
    char w[MAXW][256];
    assert_int_equal(split("requirepass \"a b\"", w), 2);
    assert_string_equal(w[1], "a b");
    assert_int_equal(split("x \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", w), 2);
    assert_string_equal(w[1], "\n\r\t\b\a\\\"q");
    assert_int_equal(split("x \"\\x41\\x7a\\xC3\\xa9\\x0A\"", w), 2);
    assert_string_equal(w[1], "Az\xc3\xa9\n");
    /* \x without two hex digits is an escaped 'x' */
    assert_int_equal(split("x \"\\xZZ\\x4\"", w), 2);
    assert_string_equal(w[1], "xZZx4");
    /* an empty quoted word is a word */
    assert_int_equal(split("rename-command CONFIG \"\"", w), 3);
    assert_string_equal(w[2], "");
    /* a quote may open inside a word */
    assert_int_equal(split("requirepass ab\"c d\" e", w), 3);
    assert_string_equal(w[1], "abc d");
    assert_string_equal(w[2], "e");
    /* a quoted '#' first is a word, not a comment */
    assert_int_equal(split("\"#\" x", w), 2);
    assert_string_equal(w[0], "#");
}

static void single_quotes(void **state)
{
    (void)state;
    char w[MAXW][256];
    assert_int_equal(split("masterauth 'a \"b\" c'", w), 2);
    assert_string_equal(w[1], "a \"b\" c");
    assert_int_equal(split("x 'it\\'s' '\\n'", w), 3);
    assert_string_equal(w[1], "it's");
    assert_string_equal(w[2], "\\n");
    assert_int_equal(split("x ''", w), 2);
    assert_string_equal(w[1], "");
}

static void unbalanced_quotes(void **state)
{
    (void)state;
    char w[MAXW][256];
    assert_int_equal(split("requirepass \"abc", w), -EINVAL);
    assert_int_equal(split("requirepass 'abc", w), -EINVAL);
    assert_int_equal(split("requirepass \"abc\\\"", w), -EINVAL);
    /* a closing quote must be followed by a blank or the end */
    assert_int_equal(split("requirepass \"a\"b", w), -EINVAL);
    assert_int_equal(split("requirepass 'a'b", w), -EINVAL);
    assert_int_equal(split("x \"-\",", w), -EINVAL);
    assert_int_equal(split("x \"a\"\n", w), 2);
}

static void too_many_words(void **state)
{
    (void)state;
    char buf[256] = "a b c d";
    char *words[3];
    assert_int_equal(args_split(buf, words, 3), -E2BIG);
}

/* \v and \f are blanks between words but, as in sdssplitargs, do not end a word. */
static void vertical_tab_and_form_feed(void **state)
{
    (void)state;
    char w[MAXW][256];
    assert_int_equal(split("\v\fport\v6379", w), 1);
    assert_string_equal(w[0], "port\v6379");
    assert_int_equal(split("x \"a\"\v", w), 2); /* a closing quote may be followed by \v */
    assert_string_equal(w[1], "a");
    assert_int_equal(split("x 'a'\f y", w), 3);
    /* \r alone separates words (a CRLF file, or a stray CR) */
    assert_int_equal(split("a\rb", w), 2);
    assert_string_equal(w[1], "b");
}

/* The escapes at the edges of the buffer, through args_next with explicit lengths. */
static void escapes_at_the_end_of_the_input(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        int rc;
        const char *word;
        size_t len;
    } cases[] = {
        /* a backslash as the last byte inside quotes: the quote never closes */
        { "\"ab\\", 4, -EINVAL, NULL, 0 },
        /* \x with one byte left before the quote, then not hex past 'f': a literal x */
        { "\"\\x4\"", 5, 1, "x4", 2 },
        { "\"\\xg1\"", 6, 1, "xg1", 3 },
        /* \ followed by a NUL byte inside quotes keeps the NUL */
        { "\"\\\0\"", 4, 1, "\0", 1 },
        /* single quotes: a backslash as the last byte, or before anything but ' */
        { "'a\\", 3, -EINVAL, NULL, 0 },
        { "'a\\b\\'", 6, -EINVAL, NULL, 0 },
        { "'a\\b' ", 6, 1, "a\\b", 3 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[16];
        size_t pos = 0, start, len;
        memcpy(buf, cases[i].in, cases[i].n);
        int rc = args_next(buf, cases[i].n, &pos, &start, &len);
        if (rc != cases[i].rc ||
            (rc == 1 && (len != cases[i].len || memcmp(buf + start, cases[i].word, len) != 0)))
            fail_msg("case %zu: rc %d", i, rc);
    }
}

/* args_next walks a buffer that is not NUL-terminated and says when only blanks remain. */
static void next_walks_a_counted_buffer(void **state)
{
    (void)state;
    char buf[] = "  one \"t w o\"\tthree   XXXX";
    size_t n = strlen(buf) - 4; /* the XXXX is past the end */
    size_t pos = 0, start, len;
    const char *want[] = { "one", "t w o", "three" };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(args_next(buf, n, &pos, &start, &len), 1);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(buf + start, want[i], len);
    }
    assert_int_equal(args_next(buf, n, &pos, &start, &len), 0);
    assert_int_equal(pos, n);
    assert_int_equal(args_next(buf, n, &pos, &start, &len), 0);
    /* a word that runs to the end of the buffer */
    char tail[] = "last";
    pos = 0;
    assert_int_equal(args_next(tail, 4, &pos, &start, &len), 1);
    assert_int_equal(pos, 4);
    assert_int_equal(len, 4);
}

static void nul_escape_ends_the_word(void **state)
{
    (void)state;
    char w[MAXW][256];
    assert_int_equal(split("requirepass \"ab\\x00cd\" next", w), 3);
    assert_string_equal(w[1], "ab");
    assert_string_equal(w[2], "next");
}

static void errors_after_good_words_and_exact_capacity(void **state)
{
    (void)state;
    char w[MAXW][256];
    /* words before the bad one do not make it a success */
    assert_int_equal(split("a b c \"d", w), -EINVAL);
    assert_int_equal(split("\"\"\"\"", w), -EINVAL); /* a quote right after a closing one */
    char buf[64] = "a b c";
    char *words[3];
    assert_int_equal(args_split(buf, words, 3), 3); /* exactly max words fit */
    assert_string_equal(words[2], "c");
    char buf2[64] = "a b c   \n";
    assert_int_equal(args_split(buf2, words, 3), 3); /* trailing blanks are not a word */
}

/* A very long line: long words, many words, nothing truncated. */
static void very_long_lines(void **state)
{
    (void)state;
    enum { WORD = 100000, NWORDS = 2000 };
    char *line = malloc(WORD + 64);
    memcpy(line, "requirepass \"", 13);
    for (size_t i = 0; i < WORD; i++)
        line[13 + i] = (char)('a' + i % 26);
    memcpy(line + 13 + WORD, "\" x", 4);
    char *words[4];
    assert_int_equal(args_split(line, words, 4), 3);
    assert_int_equal(strlen(words[1]), WORD);
    assert_int_equal(words[1][WORD - 1], (char)('a' + (WORD - 1) % 26));
    assert_string_equal(words[2], "x");
    free(line);

    line = malloc(NWORDS * 2 + 1);
    for (size_t i = 0; i < NWORDS; i++) {
        line[2 * i] = 'w';
        line[2 * i + 1] = ' ';
    }
    line[NWORDS * 2] = '\0';
    char **many = malloc(sizeof(char *) * NWORDS);
    assert_int_equal(args_split(line, many, NWORDS), NWORDS);
    assert_string_equal(many[NWORDS - 1], "w");
    free(many);
    free(line);
}

static char *quoted(const char *s, bool word)
{
    struct strbuf b;
    strbuf_setup(&b);
    if (word)
        args_word(&b, s);
    else
        args_quote(&b, s);
    strbuf_append(&b, "", 1);
    char *out = strdup(b.buf);
    strbuf_deinit(&b);
    return out;
}

static void quote_writes_what_redis_writes(void **state)
{
    (void)state;
    /* redis-server 7.0's CONFIG REWRITE of the same value */
    char *q = quoted("x\"\nrequirepass injected\ndir \"/tmp/evil\\z\x01\x7f\xc3\xa9 'q'", false);
    assert_string_equal(q, "\"x\\\"\\nrequirepass injected\\ndir \\\"/tmp/evil\\\\z\\x01\\x7f\\xc3"
                           "\\xa9 'q'\"");
    free(q);
    q = quoted("", false);
    assert_string_equal(q, "\"\"");
    free(q);
    q = quoted("\r\t\a\b", false);
    assert_string_equal(q, "\"\\r\\t\\a\\b\"");
    free(q);
}

static void word_is_bare_only_when_safe(void **state)
{
    (void)state;
    const char *bare[] = { "127.0.0.1", "-::1", "6379", "a,b" };
    for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
        char *q = quoted(bare[i], true);
        assert_string_equal(q, bare[i]);
        free(q);
    }
    const char *quote[] = { "", "a b", "#x", "a\"b", "a'b", "a\\b", "a\nb", "\xc3\xa9" };
    for (size_t i = 0; i < sizeof(quote) / sizeof(quote[0]); i++) {
        char *q = quoted(quote[i], true);
        assert_int_equal(q[0], '"');
        free(q);
    }
}

/* Whatever a value holds, its quoted form reads back as exactly one word equal to it. */
static void quote_round_trips_every_byte(void **state)
{
    (void)state;
    char value[300];
    size_t n = 0;
    for (int c = 1; c < 256; c++)
        value[n++] = (char)c;
    value[n] = '\0';
    const char *values[] = { value, "", " ", "\"", "'", "\\", "\\x41", "# not a comment", "a b c" };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        for (int word = 0; word < 2; word++) {
            struct strbuf line;
            strbuf_setup(&line);
            strbuf_append(&line, "masterauth ", 11);
            if (word)
                args_word(&line, values[i]);
            else
                args_quote(&line, values[i]);
            strbuf_append(&line, " next\n", 7);
            char *words[4];
            assert_int_equal(args_split(line.buf, words, 4), 3);
            assert_string_equal(words[0], "masterauth");
            assert_string_equal(words[1], values[i]);
            assert_string_equal(words[2], "next");
            strbuf_deinit(&line);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_words_and_blanks),
        cmocka_unit_test(comments_and_empty_lines),
        cmocka_unit_test(double_quotes_and_escapes),
        cmocka_unit_test(single_quotes),
        cmocka_unit_test(unbalanced_quotes),
        cmocka_unit_test(too_many_words),
        cmocka_unit_test(vertical_tab_and_form_feed),
        cmocka_unit_test(escapes_at_the_end_of_the_input),
        cmocka_unit_test(next_walks_a_counted_buffer),
        cmocka_unit_test(nul_escape_ends_the_word),
        cmocka_unit_test(errors_after_good_words_and_exact_capacity),
        cmocka_unit_test(very_long_lines),
        cmocka_unit_test(quote_writes_what_redis_writes),
        cmocka_unit_test(word_is_bare_only_when_safe),
        cmocka_unit_test(quote_round_trips_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
