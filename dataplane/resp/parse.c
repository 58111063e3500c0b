/*
 * RESP request parser.
 *
 * The acceptance rules are Redis 7.0's, quirks included, because a client
 * that works against Redis must see the same replies here:
 *
 * - Header lines ("*N", "$N") end at the first '\r', and the byte after it is
 *   skipped without being looked at; so is the pair of bytes after a bulk
 *   payload. A bare "\n" therefore does not end a header.
 * - Redis finds line ends with strchr() on a NUL-terminated buffer, so a NUL
 *   byte before the terminator hides it: the line never completes and the
 *   client eventually hits the 64 KiB "too big" limit.
 * - Inline lines end at '\n' (a '\r' before it is dropped) and are split like
 *   sdssplitargs(): quotes, escapes, and the rule that a closing quote must be
 *   followed by a space or the end of the line.
 *
 * All positions are offsets from the start of the command, so a command that
 * arrives in pieces is resumed where it stopped, even if the caller moved its
 * buffer: finished arguments are never looked at again, a header line is
 * scanned once however it is split, and a waiting bulk costs one comparison
 * per call.
 */
#include "resp/parse.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/args.h"
#include "base/errors.h"
#include "base/mem.h"
#include "base/util.h"

/* argv capacity kept between commands; a larger one is given back after use */
#define RESP_ARGV_KEEP 1024
/* a line terminator search walks this many bytes before switching to memchr */
#define RESP_SHORT_LINE 32
/* p->scan once a NUL byte has hidden the terminator of the current line */
#define SCAN_BLOCKED SIZE_MAX
#define NOT_FOUND    SIZE_MAX

enum {
    STAGE_START = 0, /* nothing of the command seen yet */
    STAGE_INLINE,    /* waiting for the end of an inline line */
    STAGE_COUNT,     /* waiting for the end of the "*N" line */
    STAGE_ARGS,      /* reading "$len" lines and payloads */
};

/* what a stage function tells resp_parse(), besides the public statuses */
#define PARSE_EMPTY 2 /* an empty command of p->pos bytes was skipped */

void resp_parser_init(struct resp_parser *p, long long max_bulk_len)
{
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len;
    p->bulk_len = -1;
}

void resp_parser_deinit(struct resp_parser *p)
{
    mem_free(p->argv);
    mem_free(p->offs);
    p->argv = NULL;
    p->offs = NULL;
    p->argcap = 0;
    p->argc = 0;
}

void resp_parser_reset(struct resp_parser *p)
{
    p->stage = STAGE_START;
    p->mbulk_left = 0;
    p->bulk_len = -1;
    p->pos = 0;
    p->scan = 0;
    p->argc = 0;
    p->need = 0;
}

/*
 * Make room for `want` arguments (want <= INT_MAX, the multibulk bound).
 * Capacity doubles as arguments arrive and never follows the announced count,
 * so "*2147483647" costs nothing until the arguments are really sent.
 */
static void argv_reserve(struct resp_parser *p, size_t want)
{
    size_t cap = p->argcap > 0 ? (size_t)p->argcap * 2 : 16;
    if (cap < want)
        cap = want;
    if (cap > INT_MAX)
        cap = INT_MAX;
    p->argv = mem_realloc(p->argv, cap * sizeof(*p->argv));
    p->offs = mem_realloc(p->offs, cap * sizeof(*p->offs));
    p->argcap = (int)cap;
}

static int proto_error(struct resp_parser *p, const char *msg)
{
    p->err = msg;
    return RESP_EPROTO;
}

/*
 * Find the terminator of the line that starts at p->pos, as strchr() would in
 * Redis's NUL-terminated buffer: a NUL byte first means the terminator is
 * never seen. Returns its offset or NOT_FOUND. p->scan records how far the
 * bytes are known to be clean, so a line that arrives in pieces is read once.
 * Header lines are a few bytes long, so a plain loop comes first; long lines
 * go to memchr.
 */
static size_t line_end(struct resp_parser *p, const char *cmd, size_t avail, char term)
{
    size_t i = p->scan;
    if (i == SCAN_BLOCKED)
        return NOT_FOUND;
    assert(i <= avail);
    size_t stop = avail - i > RESP_SHORT_LINE ? i + RESP_SHORT_LINE : avail;
    for (; i < stop; i++) {
        if (cmd[i] == term) {
            p->scan = i;
            return i;
        }
        if (cmd[i] == '\0') {
            p->scan = SCAN_BLOCKED;
            return NOT_FOUND;
        }
    }
    if (i < avail) {
        const char *t = memchr(cmd + i, term, avail - i);
        size_t end = t != NULL ? (size_t)(t - cmd) : avail;
        if (memchr(cmd + i, '\0', end - i) != NULL) {
            p->scan = SCAN_BLOCKED;
            return NOT_FOUND;
        }
        i = end;
    }
    p->scan = i;
    return i < avail ? i : NOT_FOUND;
}

/*
 * Split s[0..n) into arguments in place, with sdssplitargs()'s rules (the
 * config file's: base/args.h). The line holds no NUL (line_end() saw to
 * that), so the end of the line plays the part of the C terminator.
 * Returns the number of arguments, or -1 for unbalanced quotes.
 */
static int split_inline(struct resp_parser *p, char *s, size_t n)
{
    size_t pos = 0, start, len;
    int argc = 0, rc;
    while ((rc = args_next(s, n, &pos, &start, &len)) > 0) {
        if (argc == p->argcap)
            argv_reserve(p, (size_t)argc + 1);
        p->argv[argc].ptr = s + start;
        p->argv[argc].len = len;
        argc++;
    }
    return rc < 0 ? -1 : argc;
}

static int parse_inline(struct resp_parser *p, char *cmd, size_t avail)
{
    size_t nl = line_end(p, cmd, avail, '\n');
    if (nl == NOT_FOUND)
        return avail > RESP_INLINE_MAX ? proto_error(p, ERR_PROTO_INLINE_BIG) : RESP_EAGAIN;
    size_t n = nl > 0 && cmd[nl - 1] == '\r' ? nl - 1 : nl;
    p->pos = nl + 1;
    int argc = split_inline(p, cmd, n);
    if (argc < 0)
        return proto_error(p, ERR_PROTO_INLINE_QUOTES);
    if (argc == 0)
        return PARSE_EMPTY;
    p->argc = argc;
    return RESP_OK;
}

/*
 * The multibulk form. Everything before p->pos is done: the count line and
 * the arguments already stored in p->offs / p->argv[].len. A header line needs
 * its '\r' and one more byte (whatever it is) before it is parsed.
 */
static int parse_multibulk(struct resp_parser *p, char *cmd, size_t avail)
{
    long long ll;
    if (p->stage == STAGE_COUNT) {
        size_t cr = line_end(p, cmd, avail, '\r');
        if (cr == NOT_FOUND)
            return avail > RESP_INLINE_MAX ? proto_error(p, ERR_PROTO_MBULK_BIG) : RESP_EAGAIN;
        if (cr + 1 >= avail)
            return RESP_EAGAIN;
        if (!util_str2ll(cmd + 1, cr - 1, &ll) || ll > INT_MAX)
            return proto_error(p, ERR_PROTO_MBULK_LEN);
        if (ll > RESP_UNAUTH_MAX_ARGS && p->auth_required)
            return proto_error(p, ERR_PROTO_MBULK_UNAUTH);
        p->pos = cr + 2;
        if (ll <= 0)
            return PARSE_EMPTY;
        p->scan = p->pos;
        p->mbulk_left = ll;
        p->bulk_len = -1;
        p->stage = STAGE_ARGS;
    }

    while (p->mbulk_left > 0) {
        if (p->bulk_len < 0) {
            size_t cr = line_end(p, cmd, avail, '\r');
            if (cr == NOT_FOUND)
                return avail - p->pos > RESP_INLINE_MAX ? proto_error(p, ERR_PROTO_BULK_BIG)
                                                        : RESP_EAGAIN;
            if (cr + 1 >= avail)
                return RESP_EAGAIN;
            char c = cmd[p->pos];
            if (c != '$') {
                /* Redis turns CR and LF in an error into spaces */
                snprintf(p->errbuf, sizeof(p->errbuf), ERRF_PROTO_EXPECTED,
                         c == '\r' || c == '\n' ? ' ' : c);
                return proto_error(p, p->errbuf);
            }
            if (!util_str2ll(cmd + p->pos + 1, cr - p->pos - 1, &ll) || ll < 0 ||
                ll > p->max_bulk_len)
                return proto_error(p, ERR_PROTO_BULK_LEN);
            if (ll > RESP_UNAUTH_MAX_BULK && p->auth_required)
                return proto_error(p, ERR_PROTO_BULK_UNAUTH);
            p->pos = cr + 2;
            p->bulk_len = ll;
        }
        size_t end = p->pos + (size_t)p->bulk_len + 2;
        if (end > avail) {
            p->need = end;
            return RESP_EAGAIN;
        }
        if (p->argc == p->argcap)
            argv_reserve(p, (size_t)p->argc + 1);
        p->offs[p->argc] = p->pos;
        p->argv[p->argc].len = (size_t)p->bulk_len;
        p->argc++;
        p->pos = end;
        p->scan = end;
        p->bulk_len = -1;
        p->mbulk_left--;
    }
    for (int i = 0; i < p->argc; i++)
        p->argv[i].ptr = cmd + p->offs[i];
    return RESP_OK;
}

/* Ready the parser for the next command; argc/argv keep the last result. */
static void next_command(struct resp_parser *p)
{
    p->stage = STAGE_START;
    p->mbulk_left = 0;
    p->bulk_len = -1;
    p->pos = 0;
    p->scan = 0;
}

int resp_parse(struct resp_parser *p, char *buf, size_t len, size_t *used)
{
    size_t skipped = 0;
    p->need = 0;
    for (;;) {
        char *cmd = buf + skipped;
        size_t avail = len - skipped;
        int rc;
        if (p->stage == STAGE_START) {
            if (avail == 0) {
                *used = skipped;
                return RESP_EAGAIN;
            }
            if (p->argcap > RESP_ARGV_KEEP) {
                p->argv = mem_realloc(p->argv, RESP_ARGV_KEEP * sizeof(*p->argv));
                p->offs = mem_realloc(p->offs, RESP_ARGV_KEEP * sizeof(*p->offs));
                p->argcap = RESP_ARGV_KEEP;
            }
            p->argc = 0;
            p->stage = cmd[0] == '*' ? STAGE_COUNT : STAGE_INLINE;
        }
        assert(p->pos <= avail);
        if (p->stage == STAGE_INLINE)
            rc = parse_inline(p, cmd, avail);
        else
            rc = parse_multibulk(p, cmd, avail);
        switch (rc) {
        case PARSE_EMPTY:
            skipped += p->pos;
            next_command(p);
            p->argc = 0;
            continue;
        case RESP_OK:
            *used = skipped + p->pos;
            next_command(p);
            return RESP_OK;
        case RESP_EAGAIN:
            *used = skipped;
            return RESP_EAGAIN;
        default:
            *used = skipped;
            next_command(p);
            p->argc = 0;
            return RESP_EPROTO;
        }
    }
}

/*
 * A decimal number of 1..18 digits ending in CRLF at buf[*pos]; advances *pos
 * past it. No leading zero ("02"): resp_parse refuses those as Redis does, and
 * peek must never accept what parse refuses.
 */
static bool peek_number(const char *buf, size_t len, size_t *pos, long long *out)
{
    size_t i = *pos;
    long long v = 0;
    size_t start = i;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && i - start < 18)
        v = v * 10 + (buf[i++] - '0');
    if (i == start || i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n')
        return false;
    if (buf[start] == '0' && i - start > 1)
        return false;
    *pos = i + 2;
    *out = v;
    return true;
}

size_t resp_peek(const char *buf, size_t len, struct resp_arg args[2], int *argc)
{
    size_t pos = 1;
    long long n;
    if (len < 4 || buf[0] != '*' || !peek_number(buf, len, &pos, &n) || n <= 0)
        return 0;
    for (long long i = 0; i < n; i++) {
        long long blen;
        if (pos >= len || buf[pos] != '$')
            return 0;
        pos++;
        if (!peek_number(buf, len, &pos, &blen) || blen > (long long)(len - pos) ||
            len - pos - (size_t)blen < 2)
            return 0;
        if (i < 2) {
            args[i].ptr = (char *)(uintptr_t)(buf + pos);
            args[i].len = (size_t)blen;
        }
        pos += (size_t)blen;
        if (buf[pos] != '\r' || buf[pos + 1] != '\n')
            return 0;
        pos += 2;
    }
    *argc = n > INT_MAX ? INT_MAX : (int)n;
    return pos;
}
