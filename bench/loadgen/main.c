/*
 * main.c - pollux-bench: option parsing, thread start-up, progress and the final report.
 *
 * The run is split evenly over --threads threads; each runs bench_thread_main() (thread.c)
 * with its own connections, poll loop and histogram.  Results are merged here once every
 * thread has finished.
 */
#include "bench/loadgen/bench.h"
#include "bench/loadgen/sub_parse.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static _Atomic int threads_done;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: pollux-bench [options]\n"
            "Load generator for Redis-protocol servers and memcached.\n"
            "\n"
            "Target:\n"
            "  -h HOST                 server host (default 127.0.0.1)\n"
            "  -p PORT                 server port (default 6379, or 11211 with memcache)\n"
            "  --protocol redis|memcache  wire protocol (default redis); memcache uses the text\n"
            "                          protocol: set k 0 0 n / get k\n"
            "  --resp 2|3              RESP version; 3 sends HELLO 3 on every connection first\n"
            "  --transport NAME        byte transport (default tcp: kernel sockets and epoll;\n"
            "                          dpdk: Pollux's TCP/IP stack on a DPDK port, one queue\n"
            "                          per thread, when built with DPDK)\n"
            "  --dpdk-args ARGS        dpdk transport: EAL arguments (\"--no-huge --vdev ...\")\n"
            "  --dpdk-ip A.B.C.D/LEN   dpdk transport: the client stack's address\n"
            "  --dpdk-gateway A.B.C.D  dpdk transport: next hop outside that subnet\n"
            "  --dpdk-buffers BYTES    dpdk transport: each connection's send and receive\n"
            "                          buffer (default 65536, pollux-net-sndbuf/rcvbuf's)\n"
            "\n"
            "Concurrency:\n"
            "  --threads N             worker threads, each with its own poll loop (default 1)\n"
            "  --conns N               connections per thread (default 50)\n"
            "  --pipeline N            requests kept in flight per connection (default 1)\n"
            "\n"
            "Length of the run (one of):\n"
            "  -n, --requests N        total requests over all threads (default 100000)\n"
            "  --duration SECONDS      run for this long instead (fractions allowed)\n"
            "\n"
            "Workload:\n"
            "  --keyspace N            number of distinct keys (default 100000)\n"
            "  --key-pattern P         seq | uniform | zipf (default uniform)\n"
            "  --zipf-skew S           Zipf exponent, > 0 (default 0.99)\n"
            "  --key-size N            keys are \"key:\" + the number zero-padded to N bytes\n"
            "                          (default 16, e.g. key:000000000123)\n"
            "  --value-size N|MIN-MAX  value bytes, fixed or uniform in [MIN, MAX] (default 32)\n"
            "  --ratio SET:GET         mix of SET and GET, e.g. 1:10 (default), 1:0 only SET\n"
            "  --command 'TEMPLATE'    send this command instead of the SET/GET mix; __key__ and\n"
            "                          __data__ are replaced by a key and a value; repeat the\n"
            "                          option to cycle through several (redis protocol only)\n"
            "  --seed N                random seed (default 1)\n"
            "\n"
            "Pub/sub fan-out:\n"
            "  --subscribers N         per thread, N more connections that subscribe to the\n"
            "                          channel before the clock starts and count the messages\n"
            "                          they receive; every --command must be PUBLISH <channel>\n"
            "                          <message>. The run ends when every subscriber has every\n"
            "                          message published (those still missing 2 s after the\n"
            "                          last one came are undelivered: exit 2)\n"
            "  --channel NAME          the channel (default bench)\n"
            "  e.g. pollux-bench -p 6379 --conns 1 --pipeline 16 -n 200000 --subscribers 100\n"
            "       --command 'PUBLISH bench __data__' --value-size 32\n"
            "\n"
            "Checking and output:\n"
            "  --verify                write self-checking values and check every GET reply\n"
            "                          (see README.md); exit 1 on any mismatch\n"
            "  --json FILE             write config, totals, percentiles, counters and the\n"
            "                          histogram as JSON to FILE\n"
            "  --quiet                 print only the summary (no progress or warnings)\n"
            "  --help                  show this text\n"
            "\n"
            "Exit status: 0 success, 1 verify mismatch, 2 usage, connection or protocol error\n"
            "(including requests left unanswered and messages undelivered), 3 the server\n"
            "replied with errors.\n");
}

static void die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "pollux-bench: %s%s%s\n(try --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static uint64_t parse_u64(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < lo || v > hi)
        die_usage(what, s);
    return v;
}

static double parse_double(const char *s, const char *what)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v > 0))
        die_usage(what, s);
    return v;
}

/* Split one template argument into literal text and __key__ / __data__ placeholders. */
static void template_arg(struct bench_template *tp, struct bench_arg *a, const char *tok)
{
    size_t n = strlen(tok);
    a->segs = calloc(n + 1, sizeof(*a->segs));
    a->nsegs = 0;
    const char *p = tok, *lit = tok;
    while (*p != '\0') {
        enum bench_seg_kind k;
        size_t plen;
        if (strncmp(p, "__key__", 7) == 0) {
            k = SEG_KEY;
            plen = 7;
        } else if (strncmp(p, "__data__", 8) == 0) {
            k = SEG_DATA;
            plen = 8;
        } else {
            p++;
            continue;
        }
        if (p > lit)
            a->segs[a->nsegs++] = (struct bench_seg){ SEG_LIT, lit, (size_t)(p - lit) };
        a->segs[a->nsegs++] = (struct bench_seg){ k, NULL, 0 };
        if (k == SEG_KEY)
            tp->nkeys++;
        else
            tp->ndata++;
        p += plen;
        lit = p;
    }
    if (p > lit)
        a->segs[a->nsegs++] = (struct bench_seg){ SEG_LIT, lit, (size_t)(p - lit) };
    tp->lit_bytes += n;
}

/* Tokenise a template like a shell would for simple cases: blanks, '...' and "...". */
static void template_parse(struct bench_template *tp, const char *text)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    char **toks = calloc(n + 1, sizeof(*toks));
    int ntok = 0;
    const char *p = text;
    char *o = buf;
    memset(tp, 0, sizeof(*tp));
    tp->text = text;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        toks[ntok++] = o;
        while (*p != '\0' && *p != ' ' && *p != '\t') {
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                while (*p != '\0' && *p != q)
                    *o++ = *p++;
                if (*p != q)
                    die_usage("unterminated quote in --command", text);
                p++;
            } else {
                *o++ = *p++;
            }
        }
        *o++ = '\0';
    }
    if (ntok == 0)
        die_usage("empty --command", text);
    tp->args = calloc((size_t)ntok, sizeof(*tp->args));
    tp->nargs = ntok;
    for (int i = 0; i < ntok; i++)
        template_arg(tp, &tp->args[i], toks[i]);
    free(toks);
    tp->buf = buf;
}

/* A single literal piece equal to text: "PUBLISH" (any case), or the channel. */
static bool arg_is(const struct bench_arg *a, const char *text, bool nocase)
{
    size_t n = strlen(text);
    if (a->nsegs != 1 || a->segs[0].kind != SEG_LIT || a->segs[0].len != n)
        return false;
    return nocase ? strncasecmp(a->segs[0].lit, text, n) == 0
                  : memcmp(a->segs[0].lit, text, n) == 0;
}

/*
 * With --subscribers each request must be a PUBLISH to the channel: every subscriber then
 * receives one message per request answered, which is what the run counts them against.
 */
static bool template_publishes(const struct bench_template *tp, const char *channel)
{
    return tp->nargs == 3 && arg_is(&tp->args[0], "PUBLISH", true) &&
           arg_is(&tp->args[1], channel, false);
}

static void parse_args(struct bench_config *cfg, int argc, char **argv)
{
    enum {
        O_THREADS = 256,
        O_CONNS,
        O_PIPELINE,
        O_DURATION,
        O_KEYSPACE,
        O_KEY_PATTERN,
        O_ZIPF_SKEW,
        O_KEY_SIZE,
        O_VALUE_SIZE,
        O_RATIO,
        O_COMMAND,
        O_RESP,
        O_PROTOCOL,
        O_JSON,
        O_VERIFY,
        O_SEED,
        O_QUIET,
        O_TRANSPORT,
        O_DPDK_ARGS,
        O_DPDK_IP,
        O_DPDK_GATEWAY,
        O_DPDK_BUFFERS,
        O_SUBSCRIBERS,
        O_CHANNEL,
        O_HELP,
    };
    static const struct option longopts[] = {
        { "threads", required_argument, NULL, O_THREADS },
        { "conns", required_argument, NULL, O_CONNS },
        { "pipeline", required_argument, NULL, O_PIPELINE },
        { "requests", required_argument, NULL, 'n' },
        { "duration", required_argument, NULL, O_DURATION },
        { "keyspace", required_argument, NULL, O_KEYSPACE },
        { "key-pattern", required_argument, NULL, O_KEY_PATTERN },
        { "zipf-skew", required_argument, NULL, O_ZIPF_SKEW },
        { "key-size", required_argument, NULL, O_KEY_SIZE },
        { "value-size", required_argument, NULL, O_VALUE_SIZE },
        { "ratio", required_argument, NULL, O_RATIO },
        { "command", required_argument, NULL, O_COMMAND },
        { "resp", required_argument, NULL, O_RESP },
        { "protocol", required_argument, NULL, O_PROTOCOL },
        { "json", required_argument, NULL, O_JSON },
        { "verify", no_argument, NULL, O_VERIFY },
        { "seed", required_argument, NULL, O_SEED },
        { "quiet", no_argument, NULL, O_QUIET },
        { "transport", required_argument, NULL, O_TRANSPORT },
        { "dpdk-args", required_argument, NULL, O_DPDK_ARGS },
        { "dpdk-ip", required_argument, NULL, O_DPDK_IP },
        { "dpdk-gateway", required_argument, NULL, O_DPDK_GATEWAY },
        { "dpdk-buffers", required_argument, NULL, O_DPDK_BUFFERS },
        { "subscribers", required_argument, NULL, O_SUBSCRIBERS },
        { "channel", required_argument, NULL, O_CHANNEL },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    bool port_set = false, requests_set = false;
    int opt;
    cfg->templates = calloc((size_t)argc, sizeof(*cfg->templates));
    while ((opt = getopt_long(argc, argv, "h:p:n:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            cfg->host = optarg;
            break;
        case 'p':
            cfg->port = (uint16_t)parse_u64(optarg, "bad port", 1, 65535);
            port_set = true;
            break;
        case 'n':
            cfg->requests = parse_u64(optarg, "bad request count", 1, UINT64_MAX / 2);
            requests_set = true;
            break;
        case O_THREADS:
            cfg->threads = (int)parse_u64(optarg, "bad thread count", 1, 1024);
            break;
        case O_CONNS:
            cfg->conns = (int)parse_u64(optarg, "bad connection count", 1, 100000);
            break;
        case O_PIPELINE:
            cfg->pipeline = (int)parse_u64(optarg, "bad pipeline depth", 1, 65536);
            break;
        case O_DURATION:
            cfg->duration = parse_double(optarg, "bad duration");
            break;
        case O_KEYSPACE:
            cfg->keyspace = parse_u64(optarg, "bad keyspace", 1, UINT64_MAX / 4);
            break;
        case O_KEY_PATTERN:
            if (strcmp(optarg, "seq") == 0)
                cfg->key_pattern = KEYGEN_SEQ;
            else if (strcmp(optarg, "uniform") == 0)
                cfg->key_pattern = KEYGEN_UNIFORM;
            else if (strcmp(optarg, "zipf") == 0)
                cfg->key_pattern = KEYGEN_ZIPF;
            else
                die_usage("bad key pattern", optarg);
            break;
        case O_ZIPF_SKEW:
            cfg->zipf_skew = parse_double(optarg, "bad zipf skew");
            break;
        case O_KEY_SIZE:
            cfg->key_size = (int)parse_u64(optarg, "bad key size", 1, 4096);
            break;
        case O_VALUE_SIZE: {
            char *dash = strchr(optarg, '-');
            if (dash != NULL) {
                *dash = '\0';
                cfg->value_min = (uint32_t)parse_u64(optarg, "bad value size", 0, 1u << 28);
                cfg->value_max = (uint32_t)parse_u64(dash + 1, "bad value size", 0, 1u << 28);
                *dash = '-';
                if (cfg->value_min > cfg->value_max)
                    die_usage("value size MIN > MAX", optarg);
            } else {
                cfg->value_min = cfg->value_max =
                    (uint32_t)parse_u64(optarg, "bad value size", 0, 1u << 28);
            }
            break;
        }
        case O_RATIO: {
            unsigned s, g;
            char tail;
            if (sscanf(optarg, "%u:%u%c", &s, &g, &tail) != 2 || s + g == 0 || s > 1000000 ||
                g > 1000000)
                die_usage("bad ratio (want SET:GET)", optarg);
            cfg->ratio_set = s;
            cfg->ratio_get = g;
            break;
        }
        case O_COMMAND:
            template_parse(&cfg->templates[cfg->ntemplates++], optarg);
            break;
        case O_RESP:
            cfg->resp = (int)parse_u64(optarg, "bad RESP version", 2, 3);
            break;
        case O_PROTOCOL:
            if (strcmp(optarg, "redis") == 0)
                cfg->protocol = BENCH_REDIS;
            else if (strcmp(optarg, "memcache") == 0 || strcmp(optarg, "memcached") == 0)
                cfg->protocol = BENCH_MEMCACHE;
            else
                die_usage("bad protocol", optarg);
            break;
        case O_JSON:
            cfg->json_path = optarg;
            break;
        case O_VERIFY:
            cfg->verify = true;
            break;
        case O_SEED:
            cfg->seed = parse_u64(optarg, "bad seed", 0, UINT64_MAX);
            break;
        case O_QUIET:
            cfg->quiet = true;
            break;
        case O_TRANSPORT:
            cfg->transport = transport_find(optarg);
            if (cfg->transport == NULL) {
                char names[128];
                transport_list(names, sizeof(names));
                fprintf(stderr, "pollux-bench: unknown transport '%s' (have: %s)\n", optarg, names);
                exit(2);
            }
            break;
        case O_DPDK_ARGS:
            cfg->transport_opts.dpdk_args = optarg;
            break;
        case O_DPDK_IP:
            cfg->transport_opts.local_ip = optarg;
            break;
        case O_DPDK_GATEWAY:
            cfg->transport_opts.gateway = optarg;
            break;
        case O_DPDK_BUFFERS:
            cfg->transport_opts.buffers =
                (uint32_t)parse_u64(optarg, "bad buffer size", 4096, 16777216);
            break;
        case O_SUBSCRIBERS:
            cfg->subscribers = (int)parse_u64(optarg, "bad subscriber count", 0, 100000);
            break;
        case O_CHANNEL:
            if (optarg[0] == '\0' || strlen(optarg) > SUB_CHANNEL_MAX)
                die_usage("--channel takes 1 to 256 bytes", optarg);
            cfg->channel = optarg;
            break;
        case O_HELP:
            usage(stdout);
            exit(0);
        default:
            die_usage("unknown option", NULL);
        }
    }
    if (optind < argc)
        die_usage("unexpected argument", argv[optind]);
    const struct transport_opts *to = &cfg->transport_opts;
    if ((to->dpdk_args != NULL || to->local_ip != NULL || to->gateway != NULL ||
         to->buffers != 0) &&
        strcmp(cfg->transport->name, "dpdk") != 0)
        die_usage("--dpdk-* options need --transport dpdk", NULL);
    if (requests_set && cfg->duration > 0)
        die_usage("give either --requests or --duration, not both", NULL);
    if (!requests_set && cfg->duration == 0)
        cfg->requests = 100000;
    if (!port_set && cfg->protocol == BENCH_MEMCACHE)
        cfg->port = 11211;
    if (cfg->protocol == BENCH_MEMCACHE && cfg->ntemplates > 0)
        die_usage("--command is only supported with --protocol redis", NULL);
    if (cfg->protocol == BENCH_MEMCACHE && cfg->resp == 3)
        die_usage("--resp 3 needs --protocol redis", NULL);
    if (cfg->verify && cfg->ntemplates > 0)
        die_usage("--verify checks the SET/GET mix; it cannot be used with --command", NULL);
    if (cfg->verify && cfg->keyspace > (1ull << 32))
        die_usage("--verify supports a keyspace of at most 2^32 keys", NULL);
    if ((uint64_t)cfg->threads > cfg->keyspace)
        die_usage("need at least one key per thread", NULL);
    if (cfg->requests > 0 && cfg->requests < (uint64_t)cfg->threads)
        die_usage("need at least one request per thread", NULL);
    if (cfg->subscribers > 0) {
        if (cfg->protocol != BENCH_REDIS)
            die_usage("--subscribers needs --protocol redis", NULL);
        bool publish = cfg->ntemplates > 0;
        for (int i = 0; i < cfg->ntemplates; i++)
            publish = publish && template_publishes(&cfg->templates[i], cfg->channel);
        if (!publish)
            die_usage("with --subscribers every --command must be PUBLISH <channel> <message>",
                      cfg->channel);
    }
}

/*
 * Each kernel connection takes a descriptor, and 1,000 subscribers are more than the usual
 * soft limit of 1,024: raise it to the hard limit when it is too low.
 * @return 0, or -1 when even the hard limit is too low (message printed).
 */
static int raise_fd_limit(const struct bench_config *cfg)
{
    rlim_t need = (rlim_t)cfg->threads * (rlim_t)(cfg->conns + cfg->subscribers) + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return 0;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need) {
        fprintf(stderr,
                "pollux-bench: %llu connections need about %llu file descriptors; the hard "
                "limit is %llu (ulimit -Hn)\n",
                (unsigned long long)cfg->threads *
                    (unsigned long long)(cfg->conns + cfg->subscribers),
                (unsigned long long)need, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&bench_stop, true);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static const char *pattern_name(enum keygen_pattern p)
{
    return p == KEYGEN_SEQ ? "seq" : p == KEYGEN_UNIFORM ? "uniform" : "zipf";
}

static const double quantiles[] = { 0.5, 0.9, 0.99, 0.999, 0.9999 };
static const char *const qnames[] = { "p50", "p90", "p99", "p99.9", "p99.99" };

static int write_json(const struct bench_config *cfg, const struct bench_stats *st,
                      const struct hist *h, uint64_t t0, uint64_t t1)
{
    double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0.0;
    FILE *f = fopen(cfg->json_path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "{\n  \"config\": {\"host\": ");
    json_str(f, cfg->host);
    fprintf(f,
            ", \"port\": %u, \"transport\": \"%s\", \"protocol\": \"%s\", \"resp\": %d, "
            "\"threads\": %d, "
            "\"conns_per_thread\": %d, \"pipeline\": %d, \"requests\": %" PRIu64
            ", \"duration\": %.3f, \"keyspace\": %" PRIu64
            ", \"key_pattern\": \"%s\", \"zipf_skew\": %.4f, \"key_size\": %d, "
            "\"value_size_min\": %u, \"value_size_max\": %u, \"ratio_set\": %u, "
            "\"ratio_get\": %u, \"verify\": %s, \"seed\": %" PRIu64 ", \"commands\": [",
            (unsigned)cfg->port, cfg->transport->name,
            cfg->protocol == BENCH_REDIS ? "redis" : "memcache", cfg->resp, cfg->threads,
            cfg->conns, cfg->pipeline, cfg->requests, cfg->duration, cfg->keyspace,
            pattern_name(cfg->key_pattern), cfg->zipf_skew, cfg->key_size, cfg->value_min,
            cfg->value_max, cfg->ratio_set, cfg->ratio_get, cfg->verify ? "true" : "false",
            cfg->seed);
    for (int i = 0; i < cfg->ntemplates; i++) {
        if (i > 0)
            fputs(", ", f);
        json_str(f, cfg->templates[i].text);
    }
    fputc(']', f);
    if (cfg->subscribers > 0) {
        fprintf(f, ", \"subscribers_per_thread\": %d, \"channel\": ", cfg->subscribers);
        json_str(f, cfg->channel);
    }
    fprintf(f,
            "},\n  \"totals\": {\"requests\": %" PRIu64 ", \"sets\": %" PRIu64
            ", \"gets\": %" PRIu64 ", \"hits\": %" PRIu64 ", \"misses\": %" PRIu64
            ", \"bytes_out\": %" PRIu64 ", \"bytes_in\": %" PRIu64 ", \"seconds\": %.6f",
            st->completed, st->sets, st->gets, st->hits, st->misses, st->bytes_out, st->bytes_in,
            secs);
    if (cfg->subscribers > 0)
        fprintf(f, ", \"delivered\": %" PRIu64 ", \"undelivered\": %" PRIu64, st->delivered,
                st->undelivered);
    fputs("},\n", f);
    /* The measured window on CLOCK_MONOTONIC, so a script can match other samples to it. */
    fprintf(f,
            "  \"window_ns\": {\"clock\": \"CLOCK_MONOTONIC\", \"start\": %" PRIu64
            ", \"end\": %" PRIu64 "},\n",
            t0, t1);
    fprintf(f, "  \"throughput_rps\": %.2f,\n", secs > 0 ? (double)st->completed / secs : 0.0);
    if (cfg->subscribers > 0)
        fprintf(f, "  \"delivered_per_s\": %.2f,\n", secs > 0 ? (double)st->delivered / secs : 0.0);
    fputs("  \"latency_ms\": {", f);
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
        fprintf(f, "\"%s\": %.4f, ", qnames[i], (double)hist_quantile(h, quantiles[i]) / 1e6);
    fprintf(f, "\"min\": %.4f, \"max\": %.4f},\n", h->count ? (double)h->min / 1e6 : 0.0,
            (double)h->max / 1e6);
    fprintf(f,
            "  \"errors\": {\"error_replies\": %" PRIu64 ", \"protocol_errors\": %" PRIu64
            ", \"connection_errors\": %" PRIu64 ", \"unanswered\": %" PRIu64 "},\n",
            st->error_replies, st->protocol_errors, st->conn_errors, st->unanswered);
    fprintf(f, "  \"verify\": {\"checked\": %" PRIu64 ", \"mismatches\": %" PRIu64 "},\n",
            st->verify_checked, st->verify_mismatch);
    fprintf(f, "  \"histogram\": {\"unit\": \"ns\", \"buckets\": [");
    bool first = true;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        if (h->buckets[i] == 0)
            continue;
        uint64_t lo, hi;
        hist_bucket_range(i, &lo, &hi);
        fprintf(f, "%s\n    {\"lo\": %" PRIu64 ", \"hi\": %" PRIu64 ", \"count\": %" PRIu64 "}",
                first ? "" : ",", lo, hi, h->buckets[i]);
        first = false;
    }
    fprintf(f, "\n  ]}\n}\n");
    return fclose(f) == 0 ? 0 : -errno;
}

static void add_stats(struct bench_stats *d, const struct bench_stats *s)
{
    d->completed += s->completed;
    d->sets += s->sets;
    d->gets += s->gets;
    d->hits += s->hits;
    d->misses += s->misses;
    d->error_replies += s->error_replies;
    d->protocol_errors += s->protocol_errors;
    d->conn_errors += s->conn_errors;
    d->unanswered += s->unanswered;
    d->delivered += s->delivered;
    d->undelivered += s->undelivered;
    d->verify_checked += s->verify_checked;
    d->verify_mismatch += s->verify_mismatch;
    d->bytes_out += s->bytes_out;
    d->bytes_in += s->bytes_in;
}

static void *thread_entry(void *arg)
{
    bench_thread_main(arg);
    atomic_fetch_add(&threads_done, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench_config cfg = {
        .host = "127.0.0.1",
        .port = 6379,
        .threads = 1,
        .conns = 50,
        .pipeline = 1,
        .keyspace = 100000,
        .key_pattern = KEYGEN_UNIFORM,
        .zipf_skew = 0.99,
        .key_size = 16,
        .value_min = 32,
        .value_max = 32,
        .ratio_set = 1,
        .ratio_get = 10,
        .resp = 2,
        .protocol = BENCH_REDIS,
        .seed = 1,
        .channel = "bench",
        .transport = &transport_tcp,
    };
    parse_args(&cfg, argc, argv);
    if (cfg.transport == &transport_tcp && raise_fd_limit(&cfg) != 0)
        return 2;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cfg.run_id = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ ((long)getpid() << 8));

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct verify_key *vkeys = NULL;
    if (cfg.verify) {
        vkeys = calloc(cfg.keyspace, sizeof(*vkeys));
        if (vkeys == NULL) {
            fprintf(stderr, "pollux-bench: cannot allocate verify state\n");
            return 2;
        }
    }
    if (cfg.transport->setup != NULL && cfg.transport->setup(&cfg.transport_opts, cfg.threads) != 0)
        return 2;
    struct bench_thread *th = calloc((size_t)cfg.threads, sizeof(*th));
    pthread_t *tids = calloc((size_t)cfg.threads, sizeof(*tids));
    if (th == NULL || tids == NULL)
        return 2;
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)cfg.threads);
    bench_set_barrier(&barrier);
    for (int i = 0; i < cfg.threads; i++) {
        th[i].index = i;
        th[i].cfg = &cfg;
        th[i].vkeys = vkeys;
        th[i].budget = cfg.requests / (uint64_t)cfg.threads +
                       ((uint64_t)i < cfg.requests % (uint64_t)cfg.threads ? 1 : 0);
        int rc = pthread_create(&tids[i], NULL, thread_entry, &th[i]);
        if (rc != 0) {
            fprintf(stderr, "pollux-bench: pthread_create: %s\n", strerror(rc));
            return 2;
        }
    }

    bool progress = !cfg.quiet && isatty(STDERR_FILENO);
    uint64_t last = 0, last_t = bench_now_ns();
    while (atomic_load(&threads_done) < cfg.threads) {
        struct timespec nap = { 0, 100 * 1000000L };
        nanosleep(&nap, NULL);
        uint64_t now = bench_now_ns();
        if (progress && now - last_t >= 1000000000ull) {
            uint64_t sum = 0;
            for (int i = 0; i < cfg.threads; i++)
                sum += atomic_load_explicit(&th[i].progress, memory_order_relaxed);
            fprintf(stderr, "\r%" PRIu64 " requests, %.0f req/s    ", sum,
                    (double)(sum - last) * 1e9 / (double)(now - last_t));
            last = sum;
            last_t = now;
        }
    }
    if (progress && last > 0)
        fputc('\n', stderr);

    struct bench_stats st = { 0 };
    static struct hist h;
    hist_init(&h);
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < cfg.threads; i++) {
        pthread_join(tids[i], NULL);
        add_stats(&st, &th[i].st);
        hist_merge(&h, &th[i].hist);
        if (th[i].start_ns < t0)
            t0 = th[i].start_ns;
        if (th[i].end_ns > t1)
            t1 = th[i].end_ns;
        if (th[i].errmsg[0] != '\0')
            fprintf(stderr, "pollux-bench: thread %d: %s\n", i, th[i].errmsg);
    }
    if (cfg.transport->teardown != NULL)
        cfg.transport->teardown();
    pthread_barrier_destroy(&barrier);
    double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0.0;

    printf("pollux-bench: %s %s:%u, %d thread(s) x %d conn(s)",
           cfg.protocol == BENCH_REDIS ? (cfg.resp == 3 ? "redis/RESP3" : "redis") : "memcache",
           cfg.host, (unsigned)cfg.port, cfg.threads, cfg.conns);
    if (cfg.subscribers > 0)
        printf(" + %d subscriber(s) of '%s'", cfg.subscribers, cfg.channel);
    printf(", pipeline %d, keyspace %" PRIu64 " (%s), %s\n", cfg.pipeline, cfg.keyspace,
           pattern_name(cfg.key_pattern), cfg.ntemplates > 0 ? "custom commands" : "SET/GET mix");
    printf("requests:    %" PRIu64 " in %.3f s (SET %" PRIu64 ", GET %" PRIu64 ": %" PRIu64
           " hits, %" PRIu64 " misses)\n",
           st.completed, secs, st.sets, st.gets, st.hits, st.misses);
    printf("throughput:  %.2f req/s", secs > 0 ? (double)st.completed / secs : 0.0);
    if (cfg.subscribers > 0)
        printf(", delivered %" PRIu64 ", delivered/s %.2f", st.delivered,
               secs > 0 ? (double)st.delivered / secs : 0.0);
    putchar('\n');
    printf("latency ms:  ");
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
        printf("%s %.3f  ", qnames[i], (double)hist_quantile(&h, quantiles[i]) / 1e6);
    printf("max %.3f\n", (double)h.max / 1e6);
    printf("errors:      %" PRIu64 " error replies, %" PRIu64 " protocol, %" PRIu64
           " connection, %" PRIu64 " unanswered",
           st.error_replies, st.protocol_errors, st.conn_errors, st.unanswered);
    if (cfg.subscribers > 0)
        printf(", %" PRIu64 " undelivered", st.undelivered);
    putchar('\n');
    if (cfg.verify)
        printf("verify:      %" PRIu64 " GETs checked, %" PRIu64 " mismatches\n", st.verify_checked,
               st.verify_mismatch);

    int status = 0;
    if (cfg.json_path != NULL) {
        int rc = write_json(&cfg, &st, &h, t0, t1);
        if (rc < 0) {
            fprintf(stderr, "pollux-bench: %s: %s\n", cfg.json_path, strerror(-rc));
            status = 2;
        }
    }
    if (st.conn_errors || st.protocol_errors || st.unanswered || st.undelivered)
        status = 2;
    else if (st.verify_mismatch)
        status = 1;
    else if (st.error_replies && status == 0)
        status = 3;
    for (int i = 0; i < cfg.ntemplates; i++) {
        for (int j = 0; j < cfg.templates[i].nargs; j++)
            free(cfg.templates[i].args[j].segs);
        free(cfg.templates[i].args);
        free(cfg.templates[i].buf);
    }
    free(cfg.templates);
    free(th);
    free(tids);
    free(vkeys);
    return status;
}
