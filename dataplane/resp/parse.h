/*
 * RESP request parser: bytes in, argv out, no I/O and no copies.
 *
 * Accepts the multibulk form (*N, $len, payload) and the inline form (a line
 * of space-separated words with "double" and 'single' quotes, as redis-cli
 * and telnet send). argv entries point into the caller's buffer; inline
 * arguments are unescaped in place, which is why the buffer is writable.
 *
 * The parser resumes on partial input: call it again with the same start of
 * buffer and more bytes, and it continues where it stopped (positions are kept
 * as offsets, so the caller may move or grow the buffer between calls).
 * Empty commands ("*0", "*-1", blank inline lines) are skipped.
 *
 * Errors and limits follow Redis 7.0 to the byte: see the ERR_PROTO_* texts in
 * base/errors.h and tests/unit/test_resp_parse.c.
 */
#ifndef POLLUX_RESP_PARSE_H
#define POLLUX_RESP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_INLINE_MAX      (64 * 1024) /* longest inline command or header line */
#define RESP_UNAUTH_MAX_ARGS 10          /* multibulk length allowed before AUTH */
#define RESP_UNAUTH_MAX_BULK 16384       /* bulk length allowed before AUTH */

enum resp_status {
    RESP_OK = 0,     /* a complete command is in argc/argv */
    RESP_EAGAIN = 1, /* need more bytes */
    RESP_EPROTO = -1 /* protocol error: `err` holds the reply text; close after replying */
};

struct resp_arg {
    char *ptr;
    size_t len;
};

struct resp_parser {
    /* limits, set by the owner at any time */
    long long max_bulk_len; /* proto-max-bulk-len */
    bool auth_required;     /* client not yet authenticated: tighter limits */

    /* result of RESP_OK */
    int argc;
    struct resp_arg *argv;
    /* RESP_EAGAIN: total bytes from the command start that would complete the
     * argument being read (0 when unknown); lets a caller size a big buffer once. */
    size_t need;
    /* RESP_EPROTO: Redis's error text, e.g. "ERR Protocol error: invalid bulk length" */
    const char *err;

    /* private resume state */
    int stage;
    long long mbulk_left; /* multibulk arguments still to read */
    long long bulk_len;   /* -1: waiting for a $ line */
    size_t pos;           /* offset where parsing resumes, relative to the command start */
    int argcap;
    size_t *offs; /* argument offsets while the command is incomplete */
    size_t scan;  /* the line being read holds no terminator before this offset */
    char errbuf[48];
};

void resp_parser_init(struct resp_parser *p, long long max_bulk_len);
void resp_parser_deinit(struct resp_parser *p);
/* Forget any partial command (the caller dropped its buffer). */
void resp_parser_reset(struct resp_parser *p);

/*
 * Parse one command from buf[0..len).
 *
 * *used is set to the number of bytes at the start of buf that are finished
 * with: on RESP_OK the bytes of the command just parsed (plus any empty
 * commands before it); on RESP_EAGAIN only skipped empty commands, so the
 * caller must keep buf[*used..len) and present it again, from its start, with
 * more bytes appended.
 *
 * @return RESP_OK, RESP_EAGAIN or RESP_EPROTO.
 */
int resp_parse(struct resp_parser *p, char *buf, size_t len, size_t *used);

/*
 * Look ahead without parsing: if buf starts with a complete, well-formed
 * multibulk command, store its first two arguments (as many as it has) in
 * args[0..1] and its argument count in *argc, and return its length in bytes.
 * Anything else (incomplete, inline, malformed) returns 0; resp_parse decides
 * what it is. Used to prefetch the keys of a pipeline before executing it.
 */
size_t resp_peek(const char *buf, size_t len, struct resp_arg args[2], int *argc);

#endif
