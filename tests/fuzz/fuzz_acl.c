/*
 * ACL rule parser (dataplane/acl/acl.c).
 *
 * Input: ACL SETUSER rules, one per line. They are applied to a user; when
 * they parse, the user's ACL LIST line is read back and its rules applied to
 * a new second user: both must describe the same (what ACL SAVE
 * writes, ACL LOAD must read back as the same user). A refused SETUSER must
 * leave the user as it was. A few requests are then checked against the user,
 * which must not crash whatever the patterns are.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl/acl.h"
#include "cmd/cmd.h"
#include "tests/fuzz/fuzz.h"
#include "base/strbuf.h"

#define MAX_RULES 64

static void describe(const char *name, struct strbuf *s)
{
    struct acl_user *u = acl_user_get(name, strlen(name));
    FZ_CHECK(u != NULL);
    acl_describe(u, s);
    acl_user_put(u);
}

/* The words of an ACL LIST line after "user NAME". */
static int words_after_name(char *line, const char **v, size_t *l, int max)
{
    int n = 0, skip = 2;
    for (char *save, *t = strtok_r(line, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        if (skip > 0) {
            skip--;
            continue;
        }
        if (n == max)
            break;
        v[n] = t;
        l[n++] = strlen(t);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        cmd_table_setup();
        acl_setup();
        ready = true;
    }
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *v[MAX_RULES + 1];
    size_t l[MAX_RULES + 1];
    int n = 0;
    for (size_t i = 0, start = 0; i <= size && n < MAX_RULES; i++) {
        if (i == size || copy[i] == '\n') {
            v[n] = copy + start;
            l[n++] = i - start;
            start = i + 1;
        }
    }
    char err[512];
    struct strbuf before, after, again;
    strbuf_setup(&before);
    strbuf_setup(&after);
    strbuf_setup(&again);
    FZ_CHECK(acl_setuser("fz", 2, 0, NULL, NULL, err, sizeof(err)) == 0);
    describe("fz", &before);
    if (acl_setuser("fz", 2, n, v, l, err, sizeof(err)) != 0) {
        describe("fz", &after);
        FZ_CHECK(after.len == before.len && memcmp(after.buf, before.buf, after.len) == 0);
    } else {
        describe("fz", &after);
        char *line = malloc(after.len + 1);
        memcpy(line, after.buf, after.len);
        line[after.len] = '\0';
        const char *w[1024];
        size_t wl[1024];
        int nw = words_after_name(line, w, wl, 1024); /* onto a new user, as ACL LOAD does */
        FZ_CHECK(acl_setuser("rt", 2, nw, w, wl, err, sizeof(err)) == 0);
        describe("rt", &again);
        /* the same but for the name: "user fz ..." against "user rt ..." */
        FZ_CHECK(again.len == after.len &&
                 memcmp(again.buf + 7, after.buf + 7, after.len - 7) == 0);
        free(line);
        struct acl_user *u = acl_user_get("fz", 2);
        const struct acl_rules *r = acl_rules_of(u);
        static const char *const reqs[][3] = { { "get", "k", NULL },
                                               { "set", "app:1", "v" },
                                               { "mget", "a", "b" },
                                               { "config", "get", "x" } };
        for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
            struct resp_arg argv[3];
            int argc = 0;
            for (; argc < 3 && reqs[i][argc] != NULL; argc++)
                argv[argc] =
                    (struct resp_arg){ .ptr = (char *)reqs[i][argc], .len = strlen(reqs[i][argc]) };
            const struct cmd_def *parent = NULL;
            const struct cmd_def *d = cmd_lookup(argv[0].ptr, argv[0].len);
            if (d->subs != NULL) {
                parent = d;
                d = cmd_lookup_sub(parent, argv[1].ptr, argv[1].len);
            }
            int pos;
            enum acl_result res = acl_check_fast(r, d, argc, argv, &pos);
            FZ_CHECK(res != ACL_DENIED_KEY || (pos > 0 && pos < argc));
        }
        acl_user_put(u);
    }
    acl_deluser("fz", 2);
    acl_deluser("rt", 2);
    strbuf_deinit(&before);
    strbuf_deinit(&after);
    strbuf_deinit(&again);
    free(copy);
    return 0;
}
