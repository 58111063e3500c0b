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

#include "args.h"
#include "strbuf.h"

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

static char *quoted(const char *s, bool word)
{
    struct strbuf b;
    strbuf_init(&b);
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
            strbuf_init(&line);
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
        cmocka_unit_test(quote_writes_what_redis_writes),
        cmocka_unit_test(word_is_bare_only_when_safe),
        cmocka_unit_test(quote_round_trips_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
