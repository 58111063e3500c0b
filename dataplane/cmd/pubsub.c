/*
 * The pubsub group: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
 * SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB. The subscriptions are the client's worker's
 * (cmd/client.h, worker/channels.c); PUBSUB's subcommands hold every shard and read every
 * worker's (cmd/node.h).
 */
#include "cmd/client.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "cmd/node.h"
#include "base/common.h"

static void subscribe(struct cmd_ctx *c, int kind)
{
    for (int i = 1; i < c->argc; i++)
        client_subscribe(c, kind, c->argv[i].ptr, c->argv[i].len);
}

static void unsubscribe(struct cmd_ctx *c, int kind)
{
    if (c->argc == 1)
        client_unsubscribe_all(c, kind);
    for (int i = 1; i < c->argc; i++)
        client_unsubscribe(c, kind, c->argv[i].ptr, c->argv[i].len);
}

void cmd_subscribe(struct cmd_ctx *c)
{
    subscribe(c, PS_CHANNEL);
}

void cmd_psubscribe(struct cmd_ctx *c)
{
    subscribe(c, PS_PATTERN);
}

void cmd_ssubscribe(struct cmd_ctx *c)
{
    subscribe(c, PS_SHARD);
}

void cmd_unsubscribe(struct cmd_ctx *c)
{
    unsubscribe(c, PS_CHANNEL);
}

void cmd_punsubscribe(struct cmd_ctx *c)
{
    unsubscribe(c, PS_PATTERN);
}

void cmd_sunsubscribe(struct cmd_ctx *c)
{
    unsubscribe(c, PS_SHARD);
}

/* Replicas get PUBLISH as Redis sends it, though it changes no key. */
static void publish(struct cmd_ctx *c, int kind)
{
    client_publish(c, kind, &c->argv[1], &c->argv[2]);
    c->force_propagate = true;
}

void cmd_publish(struct cmd_ctx *c)
{
    publish(c, PS_CHANNEL);
}

void cmd_spublish(struct cmd_ctx *c)
{
    publish(c, PS_SHARD);
}

void cmd_pubsub_channels(struct cmd_ctx *c)
{
    node_pubsub_channels(c->reply, PS_CHANNEL, c->argc > 2 ? &c->argv[2] : NULL);
}

void cmd_pubsub_shardchannels(struct cmd_ctx *c)
{
    node_pubsub_channels(c->reply, PS_SHARD, c->argc > 2 ? &c->argv[2] : NULL);
}

void cmd_pubsub_numsub(struct cmd_ctx *c)
{
    node_pubsub_numsub(c->reply, PS_CHANNEL, c->argv + 2, c->argc - 2);
}

void cmd_pubsub_shardnumsub(struct cmd_ctx *c)
{
    node_pubsub_numsub(c->reply, PS_SHARD, c->argv + 2, c->argc - 2);
}

void cmd_pubsub_numpat(struct cmd_ctx *c)
{
    reply_int(c->reply, node_pubsub_distinct(PS_PATTERN));
}

void cmd_pubsub_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}
