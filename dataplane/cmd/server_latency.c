/*
 * LATENCY: the latency monitor's events (LATEST, HISTORY, GRAPH, DOCTOR, RESET) and the
 * per-command latency histograms (HISTOGRAM). Every subcommand that reads routes `all`:
 * the node merges every worker's data (cmd/node.h, worker/latency.c).
 */
#include "base/common.h"
#include "base/errors.h"
#include "base/strbuf.h"
#include "cmd/cmd.h"
#include "cmd/commands.h"
#include "cmd/node.h"
#include "resp/reply.h"

void cmd_latency_latest(struct cmd_ctx *c)
{
    node_latency_latest(c->reply);
}

void cmd_latency_history(struct cmd_ctx *c)
{
    node_latency_history(c->reply, c->argv[2].ptr, c->argv[2].len);
}

void cmd_latency_reset(struct cmd_ctx *c)
{
    reply_int(c->reply, node_latency_reset(c->argc - 2, c->argv + 2));
}

void cmd_latency_graph(struct cmd_ctx *c)
{
    struct strbuf s;
    strbuf_setup(&s);
    if (node_latency_graph(&s, c->argv[2].ptr, c->argv[2].len) < 0)
        reply_errorf(c->reply, ERRF_LATENCY_NO_SAMPLES, (int)c->argv[2].len, c->argv[2].ptr);
    else
        reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}

void cmd_latency_doctor(struct cmd_ctx *c)
{
    struct strbuf s;
    strbuf_setup(&s);
    node_latency_doctor(&s);
    reply_verbatim(c->reply, s.buf, s.len, "txt");
    strbuf_deinit(&s);
}

void cmd_latency_histogram(struct cmd_ctx *c)
{
    node_latency_histogram(c->reply, c->argc - 2, c->argv + 2);
}

void cmd_latency_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        ("    Return a cumulative distribution of latencies in the format of a histogram for the "
         "specified command names."),
        "    If no commands are specified then all histograms are replied.",
        "HELP",
        "    Prints this help.",
    };
    cmd_reply_help(c, lines, ARRAY_SIZE(lines));
}
