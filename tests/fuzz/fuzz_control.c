/*
 * The control API (control/api.c, sentinel.c): the POLLUX verbs with their options, the
 * SENTINEL commands, INFO and ROLE, called in process as pollux-control's server calls them
 * for an authenticated admin, on a fresh in-memory state holding three nodes (their
 * addresses are loopback ports nothing listens on, and the loop never runs, so no verb
 * reaches a network).
 *
 * Input: a flags byte, then request bytes as a client sends them (multibulk or inline),
 * parsed by the server's own parser. Flags bit 0: replies in RESP3 (HELLO 3); bit 1: check
 * that an error changes nothing (api.h: "a verb validates everything before it writes").
 *
 * Checks: every command gets exactly one complete, well-formed reply; with bit 1, the
 * nodes, groups, parameter groups, users and events described before a command that
 * answered an error are described the same after it. The regression corpus of the
 * integration and unit tests (tests/corpus/control-api/) is the seed corpus, behind a
 * flags byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/api.h"
#include "base/clock.h"
#include "tests/fuzz/fuzz.h"
#include "control/health.h"
#include "control/loop.h"
#include "resp/parse.h"
#include "resp/reply.h"
#include "control/state.h"

#define MAX_COMMANDS 64
#define MAX_BULK     (4LL * 1024 * 1024)

static struct ctl_loop *loop;

/* The reply chain's bytes appended to b. */
static void take(struct reply *r, struct fz_buf *b)
{
    for (struct rblock *k = r->head; k != NULL; k = k->next)
        fz_add(b, k->data + k->start, k->len - k->start);
}

/* Run one command; its reply is appended to out (when not NULL). @return its first byte. */
static char call(struct ctl_app *a, int argc, struct resp_arg *argv, uint8_t proto,
                 struct fz_buf *out)
{
    struct reply r;
    reply_init(&r, proto);
    ctl_api_command(a, argc, argv, &r);
    struct fz_buf b = { 0 };
    take(&r, &b);
    reply_deinit(&r);
    size_t pos = 0;
    fz_resp_check(b.p, b.len, &pos, 0);
    FZ_CHECK(pos == b.len); /* one reply, nothing after it */
    char first = b.p[0];
    if (out != NULL)
        fz_add(out, b.p, b.len);
    fz_free(&b);
    return first;
}

/* What the describe verbs say: the whole state a verb may change. */
static void describe(struct ctl_app *a, struct fz_buf *out)
{
    static const char *const verbs[] = { "describe-nodes", "describe-replication-groups",
                                         "describe-cache-parameter-groups", "describe-users",
                                         "describe-events" };
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        char pollux[] = "POLLUX";
        struct resp_arg argv[2] = { { pollux, 6 }, { (char *)verbs[i], strlen(verbs[i]) } };
        call(a, 2, argv, 2, out);
    }
}

static void app_create(struct ctl_app *a)
{
    memset(a, 0, sizeof(*a));
    struct ctl_health_opts opts = CTL_HEALTH_DEFAULTS;
    a->opts = opts;
    a->loop = loop;
    a->started_ns = 1;
    memset(a->myid, 'f', 40);
    a->st = ctl_state_create(":memory:");
    FZ_CHECK(a->st != NULL);
    a->h = ctl_health_create(loop, a->st, &opts, ctl_api_publish, a);
    static const char *const zones[] = { "az-a", "az-b", "az-a" };
    for (int i = 0; i < 3; i++) {
        struct ctl_node n = { 0 };
        snprintf(n.id, sizeof(n.id), "n%d", i + 1);
        snprintf(n.host, sizeof(n.host), "127.0.0.1");
        n.port = i + 1;
        snprintf(n.az, sizeof(n.az), "%s", zones[i]);
        snprintf(n.type, sizeof(n.type), "cache.t3.micro");
        snprintf(n.run_id, sizeof(n.run_id), "%040d", i + 1);
        FZ_CHECK(ctl_state_node_add(a->st, &n) == 0);
    }
}

static void app_destroy(struct ctl_app *a)
{
    ctl_api_deinit(a);
    ctl_health_destroy(a->h);
    ctl_state_destroy(a->st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (loop == NULL) {
        loop = ctl_loop_create();
        FZ_CHECK(loop != NULL);
    }
    uint8_t proto = (data[0] & 1) ? 3 : 2;
    bool unchanged = (data[0] & 2) != 0;
    /* the pending bytes in a buffer of their own size, as a connection would hold them */
    size_t len = size - 1;
    char *buf = malloc(len ? len : 1);
    FZ_CHECK(buf != NULL);
    memcpy(buf, data + 1, len);

    struct ctl_app app;
    app_create(&app);
    struct resp_parser p;
    resp_parser_init(&p, MAX_BULK);
    size_t off = 0;
    for (int n = 0; n < MAX_COMMANDS && off < len; n++) {
        size_t used = 0;
        int rc = resp_parse(&p, buf + off, len - off, &used);
        FZ_CHECK(used <= len - off);
        if (rc != RESP_OK)
            break;
        off += used;
        if (p.argc == 0)
            continue;
        struct fz_buf before = { 0 }, after = { 0 };
        if (unchanged)
            describe(&app, &before);
        char first = call(&app, p.argc, p.argv, proto, NULL);
        if (unchanged && first == '-') {
            describe(&app, &after);
            FZ_CHECK(before.len == after.len && memcmp(before.p, after.p, before.len) == 0);
        }
        fz_free(&before);
        fz_free(&after);
    }
    resp_parser_deinit(&p);
    app_destroy(&app);
    free(buf);
    return 0;
}
