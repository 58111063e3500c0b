#include "base/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

void strbuf_setup(struct strbuf *s)
{
    s->cap = 256;
    s->len = 0;
    s->buf = mem_alloc(s->cap);
    s->buf[0] = '\0';
}

void strbuf_deinit(struct strbuf *s)
{
    mem_free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}

static void grow(struct strbuf *s, size_t need)
{
    if (s->len + need + 1 <= s->cap)
        return;
    if (s->cap == 0)
        s->cap = 64; /* a deinit'ed or zeroed buffer grows too */
    while (s->len + need + 1 > s->cap)
        s->cap *= 2;
    s->buf = mem_realloc(s->buf, s->cap);
}

void strbuf_append(struct strbuf *s, const char *p, size_t n)
{
    grow(s, n);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

void strbuf_printf(struct strbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= s->cap - s->len) {
        grow(s, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
    }
    s->len += (size_t)n;
}
