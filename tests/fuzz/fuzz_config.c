/*
 * The redis.conf reader: the tokenizer (dataplane/base/args.c) and the config file loader
 * with CONFIG REWRITE (dataplane/worker/config.c).
 *
 * Input: a flags byte, then a config file. Flags bit 0: the file ends at the first NUL and
 * what follows are command-line arguments ("--name", "value", ...), separated by NULs.
 *
 * Checks, besides the sanitizers:
 *  - tokenizer: every line split into words, written back with args_word (CONFIG REWRITE's
 *    quoting) and split again gives the same words; args_next over the raw bytes (NULs
 *    included) always moves forward and returns words inside what it read;
 *  - loader: a file (and arguments) that loads is written by CONFIG REWRITE, and the
 *    rewritten file loads to the same value of every parameter: whatever a value holds
 *    reads back as itself.
 *
 * The loader's side effects are undone after each input: the working directory (`dir`
 * changes it), the log level, the command table (`rename-command`). The config file is
 * /dev/shm/pollux-fuzz-config-PID.conf (or under /tmp), removed after each input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/args.h"
#include "worker/config.h"
#include "tests/fuzz/fuzz.h"
#include "base/log.h"
#include "worker/process.h"
#include "base/strbuf.h"

#define MAX_ARGS 64

static char conf[96];
static int home = -1; /* the working directory at start */

static void once(void)
{
    if (home >= 0)
        return;
    home = open(".", O_RDONLY | O_DIRECTORY);
    FZ_CHECK(home >= 0);
    /* tmpfs when there is one: CONFIG REWRITE syncs the file it writes */
    const char *d = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(conf, sizeof(conf), "%s/pollux-fuzz-config-%d.conf", d, (int)getpid());
    log_set_level(LOG_NOTHING);
    cmd_table_setup();
}

/* Split, quote back, split again: the same words. */
static void check_line(const char *line, size_t n)
{
    char *a = malloc(n + 1), *words[256], *again[256];
    FZ_CHECK(a != NULL);
    memcpy(a, line, n);
    a[n] = '\0';
    int count = args_split(a, words, 256);
    if (count > 0) {
        struct strbuf out;
        strbuf_setup(&out);
        for (int i = 0; i < count; i++) {
            if (i > 0)
                strbuf_append(&out, " ", 1);
            args_word(&out, words[i]);
        }
        char *b = malloc(out.len + 1);
        FZ_CHECK(b != NULL);
        memcpy(b, out.buf, out.len);
        b[out.len] = '\0';
        FZ_CHECK(args_split(b, again, 256) == count);
        for (int i = 0; i < count; i++)
            FZ_CHECK(strcmp(words[i], again[i]) == 0);
        free(b);
        strbuf_deinit(&out);
    }
    free(a);

    /* args_next over the raw bytes, NULs and all */
    char *r = malloc(n ? n : 1);
    FZ_CHECK(r != NULL);
    memcpy(r, line, n);
    size_t pos = 0, start = 0, len = 0;
    for (int rc; (rc = args_next(r, n, &pos, &start, &len)) > 0;) {
        FZ_CHECK(pos <= n && start + len <= pos);
        FZ_CHECK(pos > start);
    }
    free(r);
}

struct snap {
    struct strbuf text; /* "name=value\n" for every parameter */
};

static void snap_one(void *arg, const struct param_ref *ref)
{
    struct snap *s = arg;
    char buf[256];
    const char *v = param_format(ref->def, params_module(&config.p, ref), buf, sizeof(buf), true);
    strbuf_printf(&s->text, "%s=", ref->def->name);
    args_quote(&s->text, v);
    strbuf_append(&s->text, "\n", 1);
}

/* @return whether all of it was written (the target's own failure otherwise). */
static bool write_file(const char *text, size_t n)
{
    int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FZ_CHECK(fd >= 0);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok;
}

/* Load conf and the arguments into a fresh config. @return 0 or -1 (as config_load). */
static int load(int argc, char **argv)
{
    FZ_CHECK(fchdir(home) == 0);
    cmd_table_teardown();
    cmd_table_setup();
    config_setup();
    return config_load(conf, argc, argv);
}

static void unload(void)
{
    config_teardown();
    FZ_CHECK(fchdir(home) == 0);
    log_set_level(LOG_NOTHING);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    once();
    const char *text = (const char *)data + 1;
    size_t tlen = size - 1;
    char *args[MAX_ARGS];
    int argc = 0;
    char *argbuf = NULL;
    if (data[0] & 1) {
        const char *nul = memchr(text, '\0', tlen);
        if (nul != NULL) {
            size_t rest = tlen - (size_t)(nul - text) - 1;
            argbuf = malloc(rest + 1);
            FZ_CHECK(argbuf != NULL);
            memcpy(argbuf, nul + 1, rest);
            argbuf[rest] = '\0';
            for (char *q = argbuf; q <= argbuf + rest && argc < MAX_ARGS; q += strlen(q) + 1)
                args[argc++] = q;
            tlen = (size_t)(nul - text);
        }
    }

    for (size_t i = 0; i < tlen;) {
        const char *nl = memchr(text + i, '\n', tlen - i);
        size_t n = nl ? (size_t)(nl - text - i) : tlen - i;
        check_line(text + i, n);
        i += n + 1;
    }

    FZ_CHECK(write_file(text, tlen));
    if (load(argc, args) == 0) {
        struct snap first = { 0 }, second = { 0 };
        strbuf_setup(&first.text);
        strbuf_setup(&second.text);
        params_foreach(snap_one, &first);
        char err[256];
        int rc = config_rewrite(err, sizeof(err));
        FZ_CHECK(rc == 0);
        unload();
        FZ_CHECK(load(0, NULL) == 0); /* the rewritten file alone says it all */
        params_foreach(snap_one, &second);
        if (first.text.len != second.text.len ||
            memcmp(first.text.buf, second.text.buf, first.text.len) != 0) {
            fprintf(stderr, "loaded:\n%.*s\nafter CONFIG REWRITE:\n%.*s\n", (int)first.text.len,
                    first.text.buf, (int)second.text.len, second.text.buf);
            FZ_CHECK(!"CONFIG REWRITE changed a value");
        }
        strbuf_deinit(&first.text);
        strbuf_deinit(&second.text);
    }
    unload();
    unlink(conf);
    free(argbuf);
    return 0;
}
