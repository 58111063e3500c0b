/* sub_parse.c - the subscriber's frame matcher; see sub_parse.h. */
#include "bench/loadgen/sub_parse.h"

#include <stdio.h>
#include <string.h>

/* A frame is HEAD NUMBER CRLF, and for a message then NUMBER bytes of payload and CRLF. */
enum {
    SUB_HEAD,
    SUB_NUM,
    SUB_LF,
    SUB_BODY,
    SUB_TAIL,
};

/* At most 18 digits, so the number cannot overflow. */
#define SUB_MAX_DIGITS 18

static size_t frame_head(char *dst, size_t cap, bool resp3, const char *kind, const char *channel,
                         size_t len, char last)
{
    int n = snprintf(dst, cap, "%c3\r\n$%zu\r\n%s\r\n$%zu\r\n", resp3 ? '>' : '*', strlen(kind),
                     kind, len);
    memcpy(dst + n, channel, len);
    memcpy(dst + (size_t)n + len, "\r\n", 2);
    dst[(size_t)n + len + 2] = last;
    return (size_t)n + len + 3;
}

int sub_frames_init(struct sub_frames *f, const char *channel, size_t len, bool resp3)
{
    if (len > SUB_CHANNEL_MAX)
        return -1;
    f->confirm_len =
        frame_head(f->confirm, sizeof(f->confirm), resp3, "subscribe", channel, len, ':');
    f->message_len =
        frame_head(f->message, sizeof(f->message), resp3, "message", channel, len, '$');
    return 0;
}

void sub_parser_init(struct sub_parser *p, const struct sub_frames *f)
{
    memset(p, 0, sizeof(*p));
    p->f = f;
}

/* The end of a number's line: the confirmation is done, a message's payload follows. */
static void number_done(struct sub_parser *p)
{
    if (!p->confirmed) {
        p->confirmed = true;
        p->state = SUB_HEAD;
    } else {
        p->state = p->n > 0 ? SUB_BODY : SUB_TAIL;
    }
    p->off = 0;
}

/*
 * The common case without the state machine: a whole message from s on.  @return the end of
 * it, or NULL when it is not all there or not well-formed (the state machine then takes it
 * and finds where it ends or what is wrong with it).
 */
static const char *whole_message(const struct sub_frames *f, const char *s, const char *e)
{
    if ((size_t)(e - s) < f->message_len || memcmp(s, f->message, f->message_len) != 0)
        return NULL;
    const char *q = s + f->message_len;
    uint64_t n = 0;
    int ndig = 0;
    for (; q < e && *q >= '0' && *q <= '9' && ndig < SUB_MAX_DIGITS; q++, ndig++)
        n = n * 10 + (uint64_t)(*q - '0');
    if (ndig == 0 || e - q < 2 || q[0] != '\r' || q[1] != '\n')
        return NULL;
    q += 2;
    if ((uint64_t)(e - q) < n + 2 || q[n] != '\r' || q[n + 1] != '\n')
        return NULL;
    return q + n + 2;
}

int64_t sub_parse(struct sub_parser *p, const char *buf, size_t len)
{
    const char *s = buf, *e = buf + len;
    int64_t msgs = 0;
    while (s < e) {
        if (p->state == SUB_HEAD && p->off == 0 && p->confirmed) {
            const char *next = whole_message(p->f, s, e);
            if (next != NULL) {
                s = next;
                msgs++;
                continue;
            }
        }
        size_t avail = (size_t)(e - s), k;
        switch (p->state) {
        case SUB_HEAD: {
            const char *h = p->confirmed ? p->f->message : p->f->confirm;
            size_t hlen = p->confirmed ? p->f->message_len : p->f->confirm_len;
            k = hlen - p->off < avail ? hlen - p->off : avail;
            if (memcmp(s, h + p->off, k) != 0)
                return -1;
            s += k;
            p->off += k;
            if (p->off == hlen) {
                p->state = SUB_NUM;
                p->n = 0;
                p->ndig = 0;
            }
            break;
        }
        case SUB_NUM:
            for (; s < e && *s >= '0' && *s <= '9'; s++) {
                if (++p->ndig > SUB_MAX_DIGITS)
                    return -1;
                p->n = p->n * 10 + (uint64_t)(*s - '0');
            }
            if (s == e)
                break;
            if (*s++ != '\r' || p->ndig == 0)
                return -1;
            p->state = SUB_LF;
            break;
        case SUB_LF:
            if (*s++ != '\n')
                return -1;
            number_done(p);
            break;
        case SUB_BODY:
            k = p->n < avail ? (size_t)p->n : avail;
            s += k;
            p->n -= k;
            if (p->n == 0)
                p->state = SUB_TAIL;
            break;
        case SUB_TAIL:
            if (*s++ != "\r\n"[p->off])
                return -1;
            if (++p->off == 2) {
                msgs++;
                p->state = SUB_HEAD;
                p->off = 0;
            }
            break;
        }
    }
    return msgs;
}
