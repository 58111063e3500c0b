/*
 * redis.conf words: the tokenizer the config file reader uses, and the
 * quoting CONFIG REWRITE writes with, so that whatever a value holds reads
 * back as the same single word.
 *
 * The rules are Redis's (sdssplitargs / sdscatrepr): blanks separate words;
 * "double quotes" group and understand \n \r \t \b \a \xHH and \<char>;
 * 'single quotes' group and understand only \'; a quote may open in the
 * middle of a word (ab"c d" is one word, abc d); a closing quote must be
 * followed by a blank or the end of the line.
 */
#ifndef POLLUX_ARGS_H
#define POLLUX_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"

/*
 * The next word of s[0..n) from *pos, unescaped in place at its own start
 * (never ahead of the byte being read, so s is consumed as it is rewritten).
 * @return 1 with the word at s[*start .. *start + *len) and *pos past it; 0
 *         when only blanks are left; -EINVAL on unbalanced quotes.
 */
int args_next(char *s, size_t n, size_t *pos, size_t *start, size_t *len);

/*
 * Split `line` into words in place (the words point into it, NUL-terminated).
 * A line whose first non-blank character is '#' is a comment: 0 words. A byte
 * written as \x00 ends its word early (values are C strings).
 * @return the number of words; -EINVAL on unbalanced quotes or a closing quote
 *         followed by something other than a blank; -E2BIG past `max` words.
 */
int args_split(char *line, char **words, int max);

/* Append s as one double-quoted word with Redis's escapes ("a b", "x\"y\n", "\x01"). */
void args_quote(struct strbuf *out, const char *s);

/* Append s as one word: bare when it is non-empty and needs no quoting, else quoted. */
void args_word(struct strbuf *out, const char *s);

#endif
