/*
 * sub_parse.h - what a subscriber of one channel receives: the SUBSCRIBE confirmation, then
 * the published messages, as RESP2 arrays or RESP3 pushes.
 *
 * The fan-out benchmark counts messages at the rate the server delivers them, so this is a
 * streaming matcher rather than a general RESP parser: the fixed head of a frame
 * ("*3\r\n$7\r\nmessage\r\n$<len>\r\n<channel>\r\n$") is compared with the bytes expected,
 * the payload's length is read and the payload skipped.  The parser's state is a few
 * integers and it consumes every byte it is given, however the frames are split over reads,
 * so the caller keeps no bytes between reads: one read buffer serves all the subscribers of
 * a thread, nothing is copied out of it and no message is too large for it.
 */
#ifndef POLLUX_BENCH_SUB_PARSE_H
#define POLLUX_BENCH_SUB_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUB_CHANNEL_MAX 256

/* The heads of the two frames for one channel, shared by every subscriber of it. */
struct sub_frames {
    char confirm[SUB_CHANNEL_MAX + 40]; /* "*3\r\n$9\r\nsubscribe\r\n$<len>\r\n<channel>\r\n:" */
    char message[SUB_CHANNEL_MAX + 40]; /* "*3\r\n$7\r\nmessage\r\n$<len>\r\n<channel>\r\n$" */
    size_t confirm_len, message_len;
};

struct sub_parser {
    const struct sub_frames *f;
    uint8_t state;
    bool confirmed; /* the confirmation came; every frame from now on must be a message */
    uint8_t ndig;   /* digits of the number being read */
    size_t off;     /* bytes matched of the head (or of the payload's CRLF) */
    uint64_t n;     /* the number being read, then the payload bytes still to skip */
};

/*
 * Build the heads for channel (len bytes); resp3: pushes ('>') instead of arrays ('*').
 * @return 0, or -1 when the channel is longer than SUB_CHANNEL_MAX.
 */
int sub_frames_init(struct sub_frames *f, const char *channel, size_t len, bool resp3);
void sub_parser_init(struct sub_parser *p, const struct sub_frames *f);
/*
 * Consume all of buf[0..len).
 * @return the messages completed in it (the confirmation is not one), or -1 when a frame is
 *         neither the confirmation (first, once) nor a message of the channel; an error reply
 *         is such a frame.
 */
int64_t sub_parse(struct sub_parser *p, const char *buf, size_t len);

#endif
