/* A growable string for text replies (INFO, CLIENT LIST); never on the request hot path. */
#ifndef POLLUX_STRBUF_H
#define POLLUX_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len, cap;
};

void strbuf_init(struct strbuf *s);
void strbuf_deinit(struct strbuf *s);
void strbuf_append(struct strbuf *s, const char *p, size_t n);
void strbuf_printf(struct strbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
