/*
 * Pub/sub: each worker keeps the subscriptions of its own clients, by channel, shard channel
 * and pattern. PUBLISH delivers to the publisher's worker's subscribers at once and sends
 * the message to every other worker with subscribers, over the rings; each delivers to its
 * own and answers its count, and the publisher's reply (a hole in its output, as a forwarded
 * reply's) is filled when the last count is back. One ring per pair of workers keeps each
 * publisher's messages in order at every subscriber. Design notes: docs/pubsub.md.
 */
#ifndef POLLUX_CHANNELS_H
#define POLLUX_CHANNELS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/keytab.h"

struct conn;
struct ps_chan;
struct shard_msg;
struct strbuf;
struct worker;

/* A worker's subscriptions. */
struct pubsub {
    struct keytab chans;      /* struct ps_chan, db = its kind (cmd/client.h PS_*) */
    struct ps_chan *patterns; /* the pattern nodes, listed (a publish walks them) */
    atomic_uint subs;         /* subscriptions of this worker's clients: 0, publishers skip it */
};

/* A client's subscriptions. */
struct ps_client {
    uint32_t count[3]; /* per kind */
    uint32_t n, cap;
    struct ps_chan **mine; /* in the order subscribed */
};

/* A publish with no client waiting for its count (keyspace notifications), from w. */
void pubsub_publish(struct worker *w, const char *ch, size_t chlen, const char *msg, size_t mlen);
/* A keyspace event (cmd/cmd.h NOTIFY_*), published as notify-keyspace-events asks. */
void pubsub_notify(struct worker *w, int type, const char *event, int db, const char *key,
                   size_t len);

/* The store's events (store_set_event_hook): "new" and "keymiss", on the running worker. */
void pubsub_store_event(int event, int db, const char *key, size_t len);
/* Messages between workers: a publish to deliver, coming back with its count. */
void pubsub_on_publish(struct worker *w, struct shard_msg *m);
void pubsub_on_published(struct worker *w, struct shard_msg *m);
/* The connection closes (or RESETs): every subscription goes. */
void pubsub_conn_closed(struct conn *c);
/* Subscriptions of c of every kind (RESP2's subscribed mode, the pubsub output class). */
uint32_t pubsub_count(const struct conn *c);
/* INFO's pubsub_channels, pubsub_patterns, pubsubshard_channels (every shard held). */
void pubsub_info(struct strbuf *s);
void pubsub_free(struct pubsub *ps);

#endif
