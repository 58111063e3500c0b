#include "base/args.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* isspace() of the C locale */
static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int args_next(char *s, size_t n, size_t *pos, size_t *start, size_t *len)
{
    size_t i = *pos;
    while (i < n && blank(s[i]))
        i++;
    if (i == n) {
        *pos = i;
        return 0;
    }
    size_t w = i;
    *start = i;
    bool dq = false, sq = false;
    for (;;) {
        if (i == n) {
            if (dq || sq)
                return -EINVAL;
            break;
        }
        char c = s[i];
        if (dq && c == '\\' && i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
            hexval(s[i + 3]) >= 0) {
            s[w++] = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
            i += 4;
        } else if (dq && c == '\\' && i + 1 < n) {
            static const char from[] = "nrtba", to[] = "\n\r\t\b\a";
            const char *e = s[i + 1] != '\0' ? strchr(from, s[i + 1]) : NULL;
            s[w++] = e != NULL ? to[e - from] : s[i + 1];
            i += 2;
        } else if (sq && c == '\\' && i + 1 < n && s[i + 1] == '\'') {
            s[w++] = '\'';
            i += 2;
        } else if ((dq && c == '"') || (sq && c == '\'')) {
            /* a closing quote: a blank or the end must follow */
            if (i + 1 < n && !blank(s[i + 1]))
                return -EINVAL;
            i++;
            break;
        } else if (dq || sq) {
            s[w++] = c;
            i++;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            i++;
            break;
        } else if (c == '"') {
            dq = true;
            i++;
        } else if (c == '\'') {
            sq = true;
            i++;
        } else {
            s[w++] = c;
            i++;
        }
    }
    *len = w - *start;
    *pos = i;
    return 1;
}

int args_split(char *line, char **words, int max)
{
    size_t n = strlen(line), pos = 0, start, len;
    while (pos < n && blank(line[pos]))
        pos++;
    if (line[pos] == '#')
        return 0;
    int count = 0, rc;
    while ((rc = args_next(line, n, &pos, &start, &len)) > 0) {
        if (count == max)
            return -E2BIG;
        /* the word never runs ahead of the reader: its end is a byte already consumed */
        line[start + len] = '\0';
        words[count++] = line + start;
    }
    return rc < 0 ? rc : count;
}

void args_quote(struct strbuf *out, const char *s)
{
    strbuf_append(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        static const char from[] = "\\\"\n\r\t\a\b", to[] = "\\\"nrtab";
        const char *e = strchr(from, *p);
        if (e != NULL) {
            char esc[2] = { '\\', to[e - from] };
            strbuf_append(out, esc, 2);
        } else if (isprint(*p)) {
            strbuf_append(out, (const char *)p, 1);
        } else {
            char hex[5];
            snprintf(hex, sizeof(hex), "\\x%02x", *p);
            strbuf_append(out, hex, 4);
        }
    }
    strbuf_append(out, "\"", 1);
}

void args_word(struct strbuf *out, const char *s)
{
    bool bare = s[0] != '\0' && s[0] != '#';
    for (const unsigned char *p = (const unsigned char *)s; *p && bare; p++)
        bare = isgraph(*p) && *p != '"' && *p != '\'' && *p != '\\';
    if (bare)
        strbuf_append(out, s, strlen(s));
    else
        args_quote(out, s);
}
