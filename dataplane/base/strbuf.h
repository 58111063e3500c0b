/*
 * A growable string for text replies (INFO, CLIENT LIST); never on the request hot path.
 * Debian's cjson archive, linked into polluxd, has global strbuf_* functions of its own
 * (strbuf_init, strbuf_new, strbuf_free, strbuf_resize, strbuf_append_string ...): this
 * module's names must stay clear of them.
 */
#ifndef POLLUX_STRBUF_H
#define POLLUX_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *buf;
    size_t len, cap;
};

void strbuf_setup(struct strbuf *s);
void strbuf_deinit(struct strbuf *s);
void strbuf_append(struct strbuf *s, const char *p, size_t n);
void strbuf_printf(struct strbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
