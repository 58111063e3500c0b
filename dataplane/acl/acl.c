/* ACL: users, rules, the permission check, the log. See acl.h and NOTES.md. */
#include "acl/acl.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/args.h"
#include "base/mem.h"
#include "base/util.h"

/* The registry: written under `lock` (ACL commands, AUTH), read lock-free through snapshots. */
static struct {
    pthread_mutex_t lock;
    struct acl_user *users; /* by name */
    struct acl_user *def;
    bool pubsub_all; /* acl-pubsub-default allchannels */
    /* retired snapshots, freed once every reader has passed their epoch */
    struct retired {
        struct acl_rules *r;
        uint64_t epoch;
        struct retired *next;
    } * retired;
    unsigned nreaders;
    _Atomic uint64_t epoch;
    /* each reader's last epoch, a cache line each: a worker writes its own every loop pass */
    struct acl_seen {
        CACHE_ALIGNED _Atomic uint64_t epoch;
    } seen[ACL_MAX_READERS];
    /* the log */
    pthread_mutex_t log_lock;
    struct acl_log_entry *log;
    long long log_len, log_max;
} acl = { .lock = PTHREAD_MUTEX_INITIALIZER,
          .log_lock = PTHREAD_MUTEX_INITIALIZER,
          .log_max = 128 };

/* ---------------------------------------------------------------------------
 * Snapshots
 * ------------------------------------------------------------------------ */

/* What a rule set owns (not the set itself: selectors live in an array). */
static void rules_clear(struct acl_rules *r)
{
    for (unsigned i = 0; i < r->nkeys; i++)
        mem_free(r->keys[i].pat);
    for (unsigned i = 0; i < r->nchannels; i++)
        mem_free(r->channels[i].pat);
    for (unsigned i = 0; i < r->nselectors; i++)
        rules_clear(&r->selectors[i]);
    for (unsigned i = 0; i < r->nfirstargs; i++) {
        for (unsigned j = 0; j < r->firstargs[i].n; j++)
            mem_free(r->firstargs[i].args[j]);
        mem_free(r->firstargs[i].args);
    }
    mem_free(r->firstargs);
    mem_free(r->keys);
    mem_free(r->channels);
    mem_free(r->pass);
    mem_free(r->selectors);
}

static void rules_free(struct acl_rules *r)
{
    if (r == NULL)
        return;
    rules_clear(r);
    mem_free(r);
}

static struct acl_pattern *patterns_copy(const struct acl_pattern *p, unsigned n)
{
    if (n == 0)
        return NULL;
    struct acl_pattern *c = mem_alloc(n * sizeof(*c));
    for (unsigned i = 0; i < n; i++) {
        c[i] = p[i];
        c[i].pat = mem_strndup(p[i].pat, p[i].len);
    }
    return c;
}

static void rules_copy_into(struct acl_rules *c, const struct acl_rules *r)
{
    *c = *r;
    c->pass = NULL;
    if (r->npass) {
        c->pass = mem_alloc(r->npass * sizeof(*c->pass));
        memcpy(c->pass, r->pass, r->npass * sizeof(*c->pass));
    }
    c->keys = patterns_copy(r->keys, r->nkeys);
    c->channels = patterns_copy(r->channels, r->nchannels);
    c->firstargs = NULL;
    if (r->nfirstargs) {
        c->firstargs = mem_alloc(r->nfirstargs * sizeof(*c->firstargs));
        for (unsigned i = 0; i < r->nfirstargs; i++) {
            c->firstargs[i] = r->firstargs[i];
            c->firstargs[i].args = mem_alloc(r->firstargs[i].n * sizeof(char *));
            for (unsigned j = 0; j < r->firstargs[i].n; j++)
                c->firstargs[i].args[j] = mem_strdup(r->firstargs[i].args[j]);
        }
    }
    c->selectors = NULL;
    if (r->nselectors) {
        c->selectors = mem_alloc(r->nselectors * sizeof(*c->selectors));
        for (unsigned i = 0; i < r->nselectors; i++)
            rules_copy_into(&c->selectors[i], &r->selectors[i]);
    }
}

static struct acl_rules *rules_copy(const struct acl_rules *r)
{
    struct acl_rules *c = mem_alloc(sizeof(*c));
    rules_copy_into(c, r);
    return c;
}

/* Free what no reader can still hold (lock held). */
static void reclaim(void)
{
    uint64_t min = atomic_load(&acl.epoch);
    for (unsigned i = 0; i < acl.nreaders; i++) {
        uint64_t s = atomic_load(&acl.seen[i].epoch);
        if (s < min)
            min = s;
    }
    struct retired **pp = &acl.retired;
    while (*pp != NULL) {
        struct retired *e = *pp;
        if (e->epoch <= min) {
            *pp = e->next;
            rules_free(e->r);
            mem_free(e);
        } else {
            pp = &e->next;
        }
    }
}

/* Swap a user's snapshot; the old one is freed when no reader can hold it (lock held). */
static void publish(struct acl_user *u, struct acl_rules *r)
{
    struct acl_rules *old = atomic_exchange_explicit(&u->rules, r, memory_order_acq_rel);
    if (old != NULL) {
        struct retired *e = mem_alloc(sizeof(*e));
        e->r = old;
        e->epoch = atomic_fetch_add(&acl.epoch, 1) + 1;
        e->next = acl.retired;
        acl.retired = e;
    }
    reclaim();
}

void acl_quiescent(unsigned reader)
{
    if (reader >= ACL_MAX_READERS)
        return;
    /* a store only when the epoch moved: the line stays shared-clean between changes */
    uint64_t e = atomic_load_explicit(&acl.epoch, memory_order_acquire);
    if (atomic_load_explicit(&acl.seen[reader].epoch, memory_order_relaxed) != e)
        atomic_store_explicit(&acl.seen[reader].epoch, e, memory_order_release);
}

/* ---------------------------------------------------------------------------
 * Users
 * ------------------------------------------------------------------------ */

static struct acl_user *find(const char *name, size_t len)
{
    for (struct acl_user *u = acl.users; u != NULL; u = u->next)
        if (strlen(u->name) == len && memcmp(u->name, name, len) == 0)
            return u;
    return NULL;
}

static struct acl_user *user_new(const char *name, size_t len, struct acl_rules *r)
{
    struct acl_user *u = mem_alloc(sizeof(*u));
    u->name = mem_strndup(name, len);
    atomic_init(&u->rules, r);
    atomic_init(&u->refs, 1);
    struct acl_user **pp = &acl.users;
    while (*pp != NULL && strcmp((*pp)->name, u->name) < 0)
        pp = &(*pp)->next;
    u->next = *pp;
    *pp = u;
    return u;
}

void acl_user_put(struct acl_user *u)
{
    if (u != NULL && atomic_fetch_sub(&u->refs, 1) == 1) {
        rules_free(atomic_load(&u->rules));
        mem_free(u->name);
        mem_free(u);
    }
}

static struct acl_user *ref(struct acl_user *u)
{
    if (u != NULL)
        atomic_fetch_add(&u->refs, 1);
    return u;
}

struct acl_user *acl_default_get(void)
{
    pthread_mutex_lock(&acl.lock);
    struct acl_user *u = ref(acl.def);
    pthread_mutex_unlock(&acl.lock);
    return u;
}

struct acl_user *acl_user_get(const char *name, size_t len)
{
    pthread_mutex_lock(&acl.lock);
    struct acl_user *u = ref(find(name, len));
    pthread_mutex_unlock(&acl.lock);
    return u;
}

static int apply_rule(struct acl_rules *r, const char *op, size_t len);
static const char *rule_error(int e);
static int add_selector(struct acl_rules *r, const char *op, size_t len);

void acl_set_readers(unsigned n)
{
    pthread_mutex_lock(&acl.lock);
    acl.nreaders = n < ACL_MAX_READERS ? n : ACL_MAX_READERS;
    for (unsigned i = 0; i < acl.nreaders; i++)
        atomic_store(&acl.seen[i].epoch, atomic_load(&acl.epoch));
    pthread_mutex_unlock(&acl.lock);
}

void acl_setup(void)
{
    struct acl_rules *r = mem_calloc(sizeof(*r));
    static const char *const rules[] = { "on", "nopass", "~*", "&*", "+@all" };
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
        apply_rule(r, rules[i], strlen(rules[i]));
    pthread_mutex_lock(&acl.lock);
    acl.def = user_new("default", 7, r);
    pthread_mutex_unlock(&acl.lock);
}

void acl_teardown(void)
{
    pthread_mutex_lock(&acl.lock);
    while (acl.users != NULL) {
        struct acl_user *u = acl.users;
        acl.users = u->next;
        acl_user_put(u);
    }
    acl.def = NULL;
    acl.nreaders = 0;
    atomic_fetch_add(&acl.epoch, 1);
    reclaim();
    pthread_mutex_unlock(&acl.lock);
    acl_log_reset();
}

void acl_foreach(void (*start)(void *arg, long long n), void (*fn)(void *arg, struct acl_user *u),
                 void *arg)
{
    pthread_mutex_lock(&acl.lock);
    long long n = 0;
    for (struct acl_user *u = acl.users; u != NULL; u = u->next)
        n++;
    start(arg, n);
    for (struct acl_user *u = acl.users; u != NULL; u = u->next)
        fn(arg, u);
    pthread_mutex_unlock(&acl.lock);
}

/* ---------------------------------------------------------------------------
 * Passwords
 * ------------------------------------------------------------------------ */

static void hash(const char *pass, size_t len, uint8_t out[ACL_HASH_LEN])
{
    unsigned n = 0;
    EVP_Digest(pass, len, out, &n, EVP_sha256(), NULL);
}

void acl_hash_hex(const char *pass, size_t len, char out[2 * ACL_HASH_LEN + 1])
{
    uint8_t h[ACL_HASH_LEN];
    hash(pass, len, h);
    for (int i = 0; i < ACL_HASH_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* "#<64 lower-case hex>" to bytes. @return false when it is not that. */
static bool parse_hex_hash(const char *s, size_t len, uint8_t out[ACL_HASH_LEN])
{
    if (len != 2 * ACL_HASH_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return true;
}

static void pass_add(struct acl_rules *r, const uint8_t h[ACL_HASH_LEN])
{
    for (unsigned i = 0; i < r->npass; i++)
        if (memcmp(r->pass[i], h, ACL_HASH_LEN) == 0)
            return;
    r->pass = mem_realloc(r->pass, (r->npass + 1) * sizeof(*r->pass));
    memcpy(r->pass[r->npass++], h, ACL_HASH_LEN);
    r->flags &= ~ACL_NOPASS;
}

static bool pass_del(struct acl_rules *r, const uint8_t h[ACL_HASH_LEN])
{
    for (unsigned i = 0; i < r->npass; i++) {
        if (memcmp(r->pass[i], h, ACL_HASH_LEN) == 0) {
            memmove(r->pass[i], r->pass[i + 1], (r->npass - i - 1) * sizeof(*r->pass));
            r->npass--;
            return true;
        }
    }
    return false;
}

bool acl_rules_nopass(const struct acl_rules *r)
{
    return (r->flags & (ACL_ON | ACL_NOPASS | ACL_DELETED)) == (ACL_ON | ACL_NOPASS);
}

/* Every stored hash is compared, in constant time, whichever matches. */
static bool pass_match(const struct acl_rules *r, const char *pass, size_t len)
{
    if (r->flags & ACL_NOPASS)
        return true;
    uint8_t h[ACL_HASH_LEN];
    hash(pass, len, h);
    bool ok = false;
    for (unsigned i = 0; i < r->npass; i++)
        ok |= CRYPTO_memcmp(r->pass[i], h, ACL_HASH_LEN) == 0;
    return ok;
}

struct acl_user *acl_authenticate(const char *name, size_t nlen, const char *pass, size_t plen)
{
    pthread_mutex_lock(&acl.lock);
    struct acl_user *u = name != NULL ? find(name, nlen) : acl.def;
    const struct acl_rules *r = u != NULL ? acl_rules_of(u) : NULL;
    bool ok = r != NULL && (r->flags & ACL_ON) && pass_match(r, pass, plen);
    u = ok ? ref(u) : NULL;
    pthread_mutex_unlock(&acl.lock);
    return u;
}

/* ---------------------------------------------------------------------------
 * Rules
 * ------------------------------------------------------------------------ */

/* A command's allowed first arguments go when its bit is set either way (Redis's). */
static void firstargs_reset(struct acl_rules *r, uint16_t id)
{
    for (unsigned i = 0; i < r->nfirstargs; i++) {
        if (r->firstargs[i].id == id) {
            for (unsigned j = 0; j < r->firstargs[i].n; j++)
                mem_free(r->firstargs[i].args[j]);
            mem_free(r->firstargs[i].args);
            r->firstargs[i] = r->firstargs[--r->nfirstargs];
            return;
        }
    }
}

static void firstarg_add(struct acl_rules *r, uint16_t id, const char *arg, size_t len)
{
    struct acl_firstargs *f = NULL;
    for (unsigned i = 0; i < r->nfirstargs && f == NULL; i++)
        if (r->firstargs[i].id == id)
            f = &r->firstargs[i];
    if (f == NULL) {
        r->firstargs = mem_realloc(r->firstargs, (r->nfirstargs + 1) * sizeof(*r->firstargs));
        f = &r->firstargs[r->nfirstargs++];
        *f = (struct acl_firstargs){ id, 0, NULL };
    }
    for (unsigned j = 0; j < f->n; j++)
        if (strlen(f->args[j]) == len && strncasecmp(f->args[j], arg, len) == 0)
            return;
    f->args = mem_realloc(f->args, (f->n + 1) * sizeof(char *));
    f->args[f->n++] = mem_strndup(arg, len);
}

static bool firstarg_allowed(const struct acl_rules *r, const struct cmd_def *d,
                             const struct resp_arg *arg)
{
    for (unsigned i = 0; i < r->nfirstargs; i++)
        if (r->firstargs[i].id == d->id)
            for (unsigned j = 0; j < r->firstargs[i].n; j++)
                if (util_strcaseeq(arg->ptr, arg->len, r->firstargs[i].args[j]))
                    return true;
    return false;
}

static void cmd_bit(struct acl_rules *r, const struct cmd_def *d, bool on)
{
    if (r->nfirstargs)
        firstargs_reset(r, d->id);
    if (on)
        r->cmds[d->id >> 6] |= 1ull << (d->id & 63);
    else
        r->cmds[d->id >> 6] &= ~(1ull << (d->id & 63));
}

/* A command and its subcommands (Redis's ACLChangeSelectorPerm). */
static void cmd_perm(struct acl_rules *r, const struct cmd_def *d, bool on)
{
    cmd_bit(r, d, on);
    for (unsigned i = 0; d->subs != NULL && d->subs[i].name != NULL; i++)
        cmd_bit(r, &d->subs[i], on);
}

static void category_perm(struct acl_rules *r, uint64_t cat, bool on)
{
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        if (d->acl & cat)
            cmd_bit(r, d, on);
        for (unsigned i = 0; d->subs != NULL && d->subs[i].name != NULL; i++)
            if (d->subs[i].acl & cat)
                cmd_bit(r, &d->subs[i], on);
    }
}

int acl_category(const char *name, size_t len)
{
    for (unsigned i = 0; cmd_acl_name(i) != NULL; i++)
        if (util_strcaseeq(name, len, cmd_acl_name(i)))
            return (int)i;
    return -1;
}

static void patterns_clear(struct acl_pattern **p, unsigned *n)
{
    for (unsigned i = 0; i < *n; i++)
        mem_free((*p)[i].pat);
    mem_free(*p);
    *p = NULL;
    *n = 0;
}

static void pattern_add(struct acl_pattern **p, unsigned *n, const char *s, size_t len,
                        uint8_t perm)
{
    for (unsigned i = 0; i < *n; i++) {
        if ((*p)[i].len == len && memcmp((*p)[i].pat, s, len) == 0) {
            (*p)[i].perm |= perm;
            return;
        }
    }
    *p = mem_realloc(*p, (*n + 1) * sizeof(**p));
    (*p)[*n] = (struct acl_pattern){ mem_strndup(s, len), len, perm };
    (*n)++;
}

static bool is(const char *op, size_t len, const char *word)
{
    return util_strcaseeq(op, len, word);
}

/* Patterns are words of ACL LIST lines: no spaces (Redis refuses them too). */
static bool has_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
            return true;
    return false;
}

static int key_rule(struct acl_rules *r, const char *op, size_t len)
{
    uint8_t perm = ACL_PERM_READ | ACL_PERM_WRITE;
    size_t off = 1;
    if (op[0] == '%') {
        perm = 0;
        for (off = 1; off < len && op[off] != '~'; off++) {
            if (op[off] == 'R' || op[off] == 'r')
                perm |= ACL_PERM_READ;
            else if (op[off] == 'W' || op[off] == 'w')
                perm |= ACL_PERM_WRITE;
            else
                return EINVAL;
        }
        if (perm == 0 || off == len)
            return EINVAL;
        off++;
    }
    const char *pat = op + off;
    size_t plen = len - off;
    if (has_space(pat, plen))
        return EINVAL;
    if (plen == 1 && pat[0] == '*' && perm == (ACL_PERM_READ | ACL_PERM_WRITE)) {
        r->flags |= ACL_ALLKEYS;
        patterns_clear(&r->keys, &r->nkeys);
        return 0;
    }
    if (r->flags & ACL_ALLKEYS)
        return EEXIST;
    pattern_add(&r->keys, &r->nkeys, pat, plen, perm);
    for (unsigned i = 0; i < r->nkeys; i++) {
        /* %R~* then %W~* is ~*: allkeys, or ACL LIST could not be read back */
        if (r->keys[i].len == 1 && r->keys[i].pat[0] == '*' &&
            r->keys[i].perm == (ACL_PERM_READ | ACL_PERM_WRITE)) {
            r->flags |= ACL_ALLKEYS;
            patterns_clear(&r->keys, &r->nkeys);
        }
    }
    return 0;
}

static int command_rule(struct acl_rules *r, const char *op, size_t len)
{
    bool on = op[0] == '+';
    if (len > 1 && op[1] == '@') {
        if (is(op + 2, len - 2, "all")) {
            memset(r->cmds, on ? 0xff : 0, sizeof(r->cmds));
            while (r->nfirstargs > 0)
                firstargs_reset(r, r->firstargs[0].id);
            r->flags = on ? r->flags | ACL_ALLCOMMANDS : r->flags & ~ACL_ALLCOMMANDS;
            return 0;
        }
        int cat = acl_category(op + 2, len - 2);
        if (cat < 0)
            return ENOENT;
        category_perm(r, 1ull << cat, on);
        return 0;
    }
    const struct cmd_def *parent = NULL;
    const struct cmd_def *d = cmd_lookup_full(op + 1, len - 1, &parent);
    if (d == NULL) {
        /* "+select|0": a first argument of a command without subcommands (Redis 7.0) */
        const char *bar = memchr(op + 1, '|', len - 1);
        d = bar != NULL ? cmd_lookup(op + 1, (size_t)(bar - op - 1)) : NULL;
        if (!on || d == NULL || d->subs != NULL || bar + 1 == op + len ||
            memchr(bar + 1, '|', (size_t)(op + len - bar - 1)) != NULL)
            return ENOENT;
        if (has_space(bar + 1, (size_t)(op + len - bar - 1)) || op[len - 1] == ')')
            return EINVAL; /* one word of an ACL LIST line */
        if (!acl_cmd_allowed(r, d))
            firstarg_add(r, d->id, bar + 1, (size_t)(op + len - bar - 1));
        return 0;
    }
    cmd_perm(r, d, on);
    return 0;
}

static int apply_rule(struct acl_rules *r, const char *op, size_t len)
{
    uint8_t h[ACL_HASH_LEN];
    if (len == 0)
        return EINVAL;
    if (is(op, len, "on")) {
        r->flags |= ACL_ON;
    } else if (is(op, len, "off")) {
        r->flags &= ~ACL_ON;
    } else if (is(op, len, "nopass")) {
        r->flags |= ACL_NOPASS;
        r->npass = 0;
    } else if (is(op, len, "resetpass")) {
        r->flags &= ~ACL_NOPASS;
        r->npass = 0;
    } else if (op[0] == '>' || op[0] == '<') {
        hash(op + 1, len - 1, h);
        if (op[0] == '>')
            pass_add(r, h);
        else if (!pass_del(r, h))
            return ENODEV;
    } else if (op[0] == '#' || op[0] == '!') {
        if (!parse_hex_hash(op + 1, len - 1, h))
            return EBADMSG;
        if (op[0] == '#')
            pass_add(r, h);
        else if (!pass_del(r, h))
            return ENODEV;
    } else if (is(op, len, "allkeys")) {
        return key_rule(r, "~*", 2);
    } else if (is(op, len, "resetkeys")) {
        r->flags &= ~ACL_ALLKEYS;
        patterns_clear(&r->keys, &r->nkeys);
    } else if (op[0] == '~' || op[0] == '%') {
        return key_rule(r, op, len);
    } else if (is(op, len, "allchannels") || (len == 2 && op[0] == '&' && op[1] == '*')) {
        r->flags |= ACL_ALLCHANNELS;
        patterns_clear(&r->channels, &r->nchannels);
    } else if (is(op, len, "resetchannels")) {
        r->flags &= ~ACL_ALLCHANNELS;
        patterns_clear(&r->channels, &r->nchannels);
    } else if (op[0] == '&') {
        if (has_space(op + 1, len - 1))
            return EINVAL;
        if (r->flags & ACL_ALLCHANNELS)
            return EISDIR;
        pattern_add(&r->channels, &r->nchannels, op + 1, len - 1, 0);
    } else if (is(op, len, "allcommands")) {
        return command_rule(r, "+@all", 5);
    } else if (is(op, len, "nocommands")) {
        return command_rule(r, "-@all", 5);
    } else if ((op[0] == '+' || op[0] == '-') && len > 1) {
        return command_rule(r, op, len);
    } else if (is(op, len, "reset")) {
        static const char *const seq[] = { "resetpass", "resetkeys", "resetchannels",
                                           "off",       "-@all",     "clearselectors" };
        for (size_t i = 0; i < ARRAY_SIZE(seq); i++)
            apply_rule(r, seq[i], strlen(seq[i]));
        r->flags = (r->flags & ~ACL_SKIP_SANITIZE) | ACL_SANITIZE;
        if (acl.pubsub_all)
            apply_rule(r, "allchannels", 11);
    } else if (is(op, len, "sanitize-payload")) {
        r->flags = (r->flags & ~ACL_SKIP_SANITIZE) | ACL_SANITIZE;
    } else if (is(op, len, "skip-sanitize-payload")) {
        r->flags = (r->flags & ~ACL_SANITIZE) | ACL_SKIP_SANITIZE;
    } else if (is(op, len, "clearselectors")) {
        for (unsigned i = 0; i < r->nselectors; i++)
            rules_clear(&r->selectors[i]);
        mem_free(r->selectors);
        r->selectors = NULL;
        r->nselectors = 0;
    } else if (op[0] == '(' && len >= 2 && op[len - 1] == ')') {
        return add_selector(r, op, len);
    } else {
        return EINVAL;
    }
    return 0;
}

/* The rules a selector may hold: commands, keys, channels (Redis's ACLSetSelector). */
static bool selector_rule(const char *op, size_t len)
{
    static const char *const words[] = { "allkeys",       "resetkeys",   "allchannels",
                                         "resetchannels", "allcommands", "nocommands" };
    for (size_t i = 0; i < ARRAY_SIZE(words); i++)
        if (is(op, len, words[i]))
            return true;
    return len > 0 && strchr("~%&+-", op[0]) != NULL;
}

/* "(rule rule ...)": a new selector, "off resetchannels -@all" plus the rules. */
static int add_selector(struct acl_rules *r, const char *op, size_t len)
{
    struct acl_rules sel;
    memset(&sel, 0, sizeof(sel));
    if (acl.pubsub_all)
        sel.flags |= ACL_ALLCHANNELS;
    char *inner = mem_strndup(op + 1, len - 2);
    int e = 0;
    for (char *save, *t = strtok_r(inner, " ", &save); t != NULL && e == 0;
         t = strtok_r(NULL, " ", &save))
        /* a word ending in ')' would end the selector early when ACL LIST is read back */
        e = selector_rule(t, strlen(t)) && t[strlen(t) - 1] != ')' ? apply_rule(&sel, t, strlen(t))
                                                                   : EINVAL;
    mem_free(inner);
    if (e != 0) {
        rules_clear(&sel);
        return e;
    }
    r->selectors = mem_realloc(r->selectors, (r->nselectors + 1) * sizeof(*r->selectors));
    r->selectors[r->nselectors++] = sel;
    return 0;
}

static const char *rule_error(int e)
{
    switch (e) {
    case ENOENT:
        return "Unknown command or category name in ACL";
    case EEXIST:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does "
               "not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    case EISDIR:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and "
               "does not have any effect. Try 'resetchannels' to start with an empty list of "
               "channels";
    case ENODEV:
        return "The password you are trying to remove from the user does not exist";
    case EBADMSG:
        return "The password hash must be exactly 64 characters and contain only lowercase "
               "hexadecimal characters";
    default:
        return "Syntax error";
    }
}

int acl_setuser(const char *name, size_t nlen, int nrules, const char *const *rules,
                const size_t *lens, char *err, size_t errcap)
{
    if (has_space(name, nlen)) {
        snprintf(err, errcap, "ERR Usernames can't contain spaces or null characters");
        return -1;
    }
    pthread_mutex_lock(&acl.lock);
    struct acl_user *u = find(name, nlen);
    struct acl_rules *r;
    if (u != NULL) {
        r = rules_copy(acl_rules_of(u));
    } else {
        r = mem_calloc(sizeof(*r));
        if (acl.pubsub_all)
            r->flags |= ACL_ALLCHANNELS;
    }
    for (int i = 0; i < nrules; i++) {
        /* a selector may span arguments: "(~k*" "+get)" is "(~k* +get)" */
        const char *op = rules[i];
        size_t len = lens[i];
        struct strbuf joined;
        strbuf_setup(&joined);
        if (len > 0 && op[0] == '(' && op[len - 1] != ')') {
            int j = i;
            strbuf_append(&joined, op, len);
            while (++j < nrules) {
                strbuf_printf(&joined, " %.*s", (int)lens[j], rules[j]);
                if (lens[j] > 0 && rules[j][lens[j] - 1] == ')')
                    break;
            }
            if (j == nrules) {
                snprintf(err, errcap,
                         "ERR Unmatched parenthesis in acl selector starting at '%.*s'.",
                         (int)MIN(len, 128), op);
                strbuf_deinit(&joined);
                rules_free(r);
                pthread_mutex_unlock(&acl.lock);
                return -1;
            }
            i = j;
            op = joined.buf;
            len = joined.len;
        }
        int e = apply_rule(r, op, len);
        if (e != 0) {
            snprintf(err, errcap, "ERR Error in ACL SETUSER modifier '%.*s': %s",
                     (int)MIN(len, 128), op, rule_error(e));
            strbuf_deinit(&joined);
            rules_free(r);
            pthread_mutex_unlock(&acl.lock);
            return -1;
        }
        strbuf_deinit(&joined);
    }
    if (u == NULL)
        user_new(name, nlen, r);
    else
        publish(u, r);
    pthread_mutex_unlock(&acl.lock);
    return 0;
}

/* Take *pp out of the registry (lock held). */
static void unlink_user(struct acl_user **pp)
{
    struct acl_user *u = *pp;
    *pp = u->next;
    /* its connections hold the handle: they see the deletion at their next command */
    struct acl_rules *r = rules_copy(acl_rules_of(u));
    r->flags = (r->flags & ~ACL_ON) | ACL_DELETED;
    publish(u, r);
    acl_user_put(u);
}

int acl_deluser(const char *name, size_t nlen)
{
    pthread_mutex_lock(&acl.lock);
    struct acl_user **pp = &acl.users;
    while (*pp != NULL && !(strlen((*pp)->name) == nlen && memcmp((*pp)->name, name, nlen) == 0))
        pp = &(*pp)->next;
    bool found = *pp != NULL;
    if (found)
        unlink_user(pp);
    pthread_mutex_unlock(&acl.lock);
    return found;
}

/* A user as ACL SETUSER creates it: "off resetchannels -@all" (lock held). */
static struct acl_rules *rules_new(void)
{
    struct acl_rules *r = mem_calloc(sizeof(*r));
    if (acl.pubsub_all)
        r->flags |= ACL_ALLCHANNELS;
    return r;
}

struct loaded {
    char *name;
    struct acl_rules *r;
};

/* One line of an ACL file into out[*n] (lock held). @return 0 or -1 with Redis's text. */
static int load_line(char *line, const char *path, int lineno, struct loaded *out, int *n,
                     struct strbuf *err)
{
    char *w[1024];
    int nw = args_split(line, w, (int)ARRAY_SIZE(w));
    if (nw == 0)
        return 0;
    if (nw < 2 || strcmp(w[0], "user") != 0) {
        strbuf_printf(err, "%s:%d should start with user keyword followed by the username. ", path,
                      lineno);
        return -1;
    }
    for (int i = 0; i < *n; i++) {
        if (strcmp(out[i].name, w[1]) == 0) {
            strbuf_printf(err, "WARNING: Duplicate user '%s' found on line %d. ", w[1], lineno);
            return -1;
        }
    }
    struct acl_rules *r = rules_new();
    for (int i = 2; i < nw; i++) {
        int e = apply_rule(r, w[i], strlen(w[i]));
        if (e != 0) {
            strbuf_printf(err, "%s:%d: Error in applying operation '%s': %s. ", path, lineno, w[i],
                          rule_error(e));
            rules_free(r);
            return -1;
        }
    }
    out[*n] = (struct loaded){ mem_strdup(w[1]), r };
    (*n)++;
    return 0;
}

int acl_load_text(const char *text, const char *path, struct strbuf *err)
{
    size_t cap = 16;
    int n = 0, rc = 0, lineno = 0;
    struct loaded *users = mem_alloc(cap * sizeof(*users));
    char *copy = mem_strdup(text);
    pthread_mutex_lock(&acl.lock);
    for (char *line = copy, *next; line != NULL && rc == 0; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[len - 1] = '\0';
        lineno++;
        if ((size_t)n == cap)
            users = mem_realloc(users, (cap *= 2) * sizeof(*users));
        rc = load_line(line, path, lineno, users, &n, err);
    }
    if (rc == 0) {
        /* all parsed: users not in the file go (default is recreated), the others change */
        for (struct acl_user **pp = &acl.users; *pp != NULL;) {
            bool kept = strcmp((*pp)->name, "default") == 0;
            for (int i = 0; i < n && !kept; i++)
                kept = strcmp(users[i].name, (*pp)->name) == 0;
            if (kept)
                pp = &(*pp)->next;
            else
                unlink_user(pp);
        }
        bool have_default = false;
        for (int i = 0; i < n; i++) {
            struct acl_user *u = find(users[i].name, strlen(users[i].name));
            have_default |= strcmp(users[i].name, "default") == 0;
            if (u != NULL)
                publish(u, users[i].r);
            else
                user_new(users[i].name, strlen(users[i].name), users[i].r);
            users[i].r = NULL;
        }
        if (!have_default) {
            struct acl_rules *r = rules_new();
            static const char *const rules[] = { "on", "nopass", "~*", "&*", "+@all" };
            for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
                apply_rule(r, rules[i], strlen(rules[i]));
            publish(acl.def, r);
        }
    } else {
        strbuf_printf(err, "WARNING: ACL errors detected, no change to the previously active ACL "
                           "rules was performed");
    }
    pthread_mutex_unlock(&acl.lock);
    for (int i = 0; i < n; i++) {
        rules_free(users[i].r);
        mem_free(users[i].name);
    }
    mem_free(users);
    mem_free(copy);
    return rc;
}

void acl_set_default_password(const char *pass)
{
    const char *rules[2] = { "resetpass", NULL };
    size_t lens[2] = { 9, 0 };
    char *op = NULL; /* ">password", of any length (requirepass has no limit) */
    if (pass[0] == '\0') {
        rules[1] = "nopass";
        lens[1] = 6;
    } else {
        lens[1] = strlen(pass) + 1;
        op = mem_alloc(lens[1] + 1);
        op[0] = '>';
        memcpy(op + 1, pass, lens[1]);
        rules[1] = op;
    }
    char err[256];
    acl_setuser("default", 7, 2, rules, lens, err, sizeof(err));
    mem_free(op);
}

void acl_set_pubsub_default(bool allchannels)
{
    pthread_mutex_lock(&acl.lock);
    acl.pubsub_all = allchannels;
    pthread_mutex_unlock(&acl.lock);
}

/* ---------------------------------------------------------------------------
 * The check
 * ------------------------------------------------------------------------ */

/* The permission a key spec needs (Redis's ACLSelectorCheckKey). */
static uint8_t key_need(uint32_t ks)
{
    uint8_t need = 0;
    if (ks & CMD_KS_ACCESS)
        need |= ACL_PERM_READ;
    if (ks & (CMD_KS_INSERT | CMD_KS_DELETE | CMD_KS_UPDATE))
        need |= ACL_PERM_WRITE;
    return need;
}

static bool key_allowed(const struct acl_rules *r, const struct resp_arg *k, uint8_t need)
{
    for (unsigned i = 0; i < r->nkeys; i++) {
        const struct acl_pattern *p = &r->keys[i];
        if ((p->perm & need) == need && util_glob_match(p->pat, p->len, k->ptr, k->len, false))
            return true;
    }
    return false;
}

static enum acl_result check_one(const struct acl_rules *r, const struct cmd_def *d, int argc,
                                 const struct resp_arg *argv, int *errpos);

bool acl_reads_all_keys(const struct acl_rules *r)
{
    static const struct resp_arg star = { (char *)"*", 1 };
    if (r->flags & ACL_DELETED)
        return false;
    for (unsigned i = 0; i <= r->nselectors; i++) {
        const struct acl_rules *s = i == 0 ? r : &r->selectors[i - 1];
        if ((s->flags & ACL_ALLKEYS) || key_allowed(s, &star, ACL_PERM_READ))
            return true;
    }
    return false;
}

/*
 * The root rules, then each selector: the first that allows the request wins.
 * Refused by all, the answer is the first key refusal (a rule set that allowed the
 * command but not a key says more), else the command refusal, as Redis reports it.
 */
enum acl_result acl_check(const struct acl_rules *r, const struct cmd_def *d, int argc,
                          const struct resp_arg *argv, int *errpos)
{
    *errpos = 0;
    if (r->flags & ACL_DELETED)
        return ACL_DENIED_AUTH;
    enum acl_result res = check_one(r, d, argc, argv, errpos);
    for (unsigned i = 0; i < r->nselectors && res != ACL_OK; i++) {
        int pos = 0;
        enum acl_result sr = check_one(&r->selectors[i], d, argc, argv, &pos);
        if (sr == ACL_OK || (sr == ACL_DENIED_KEY && res == ACL_DENIED_CMD)) {
            res = sr;
            *errpos = pos;
        }
    }
    return res;
}

/*
 * The channels a pub/sub command names, as Redis 7.0 checks them: PUBLISH's and SPUBLISH's
 * channel, every channel of SUBSCRIBE and SSUBSCRIBE, every pattern of PSUBSCRIBE (as
 * patterns); unsubscribing and PUBSUB are not checked. @return false when none.
 */
static bool channel_args(const struct cmd_def *d, int argc, int *first, int *last, bool *pattern)
{
    *pattern = strcmp(d->name, "psubscribe") == 0;
    *first = 1;
    if (strcmp(d->name, "publish") == 0 || strcmp(d->name, "spublish") == 0)
        *last = 1;
    else if (*pattern || strcmp(d->name, "subscribe") == 0 || strcmp(d->name, "ssubscribe") == 0)
        *last = argc - 1;
    else
        return false;
    return true;
}

/* A channel against the user's channel patterns; a pattern must be one of them, verbatim. */
static bool channel_allowed(const struct acl_rules *r, const struct resp_arg *ch, bool pattern)
{
    for (unsigned i = 0; i < r->nchannels; i++) {
        const struct acl_pattern *p = &r->channels[i];
        if (pattern ? p->len == ch->len && memcmp(p->pat, ch->ptr, ch->len) == 0
                    : util_glob_match(p->pat, p->len, ch->ptr, ch->len, false))
            return true;
    }
    return false;
}

static enum acl_result check_one(const struct acl_rules *r, const struct cmd_def *d, int argc,
                                 const struct resp_arg *argv, int *errpos)
{
    *errpos = 0;
    if (!acl_cmd_allowed(r, d) && !(r->nfirstargs && argc > 1 && firstarg_allowed(r, d, &argv[1])))
        return ACL_DENIED_CMD;
    int first, last;
    bool pattern;
    if ((d->flags & CMD_PUBSUB) && !(r->flags & ACL_ALLCHANNELS) &&
        channel_args(d, argc, &first, &last, &pattern)) {
        for (int i = first; i <= last && i < argc; i++) {
            if (!channel_allowed(r, &argv[i], pattern)) {
                *errpos = i;
                return ACL_DENIED_CHANNEL;
            }
        }
    }
    if ((r->flags & ACL_ALLKEYS) || (d->nkeyspecs == 0 && d->getkeys == NULL))
        return ACL_OK;
    int keys[256];
    uint32_t flags[256];
    int nk = cmd_get_keys_flags(d, argc, argv, keys, flags, (int)ARRAY_SIZE(keys));
    for (int i = 0; i < nk; i++) {
        if (flags[i] & CMD_KS_NOT_KEY)
            continue; /* a shard channel (SPUBLISH ...): checked as a channel */
        if (!key_allowed(r, &argv[keys[i]], key_need(flags[i]))) {
            *errpos = keys[i];
            return ACL_DENIED_KEY;
        }
    }
    return ACL_OK;
}

void acl_denied_text(enum acl_result why, const struct cmd_def *d, const struct cmd_def *parent,
                     const struct resp_arg *key, bool dryrun, char *buf, size_t cap)
{
    const char *pre = dryrun ? "This user" : "NOPERM this user";
    char full[160];
    if (parent != NULL)
        snprintf(full, sizeof(full), "%s|%s", parent->name, d->name);
    else
        snprintf(full, sizeof(full), "%s", d->name);
    switch (why) {
    case ACL_DENIED_CMD:
        snprintf(buf, cap, "%s has no permissions to run the '%s' command", pre, full);
        break;
    case ACL_DENIED_KEY:
        if (dryrun)
            snprintf(buf, cap, "%s has no permissions to access the '%.*s' key", pre,
                     (int)MIN(key->len, 128), key->ptr);
        else
            snprintf(buf, cap, "%s has no permissions to access one of the keys used as arguments",
                     pre);
        break;
    case ACL_DENIED_CHANNEL:
        snprintf(buf, cap, "%s has no permissions to access one of the channels used as arguments",
                 pre);
        break;
    default:
        snprintf(buf, cap, "%s", "OK");
    }
}

/* ---------------------------------------------------------------------------
 * Description (ACL LIST, GETUSER), as Redis 7.0 builds it
 * ------------------------------------------------------------------------ */

static bool bit(const struct acl_rules *r, const struct cmd_def *d)
{
    return acl_cmd_allowed(r, d);
}

static void count_category(const struct acl_rules *r, uint64_t cat, unsigned *on, unsigned *off)
{
    *on = *off = 0;
    for (const struct cmd_def *d = cmd_table; d->name != NULL; d++) {
        if (d->acl & cat)
            (bit(r, d) ? (*on)++ : (*off)++);
        for (unsigned i = 0; d->subs != NULL && d->subs[i].name != NULL; i++)
            if (d->subs[i].acl & cat)
                (bit(r, &d->subs[i]) ? (*on)++ : (*off)++);
    }
}

/* Single commands where the approximation differs from the user's bits. */
static void describe_singles(const struct acl_rules *r, struct acl_rules *fake, struct strbuf *s,
                             const struct cmd_def *parent, const struct cmd_def *rows)
{
    for (const struct cmd_def *d = rows; d->name != NULL; d++) {
        bool ub = bit(r, d), fb = bit(fake, d);
        if (ub != fb) {
            if (parent != NULL)
                strbuf_printf(s, "%c%s|%s ", ub ? '+' : '-', parent->name, d->name);
            else
                strbuf_printf(s, "%c%s ", ub ? '+' : '-', d->name);
            cmd_perm(fake, d, ub);
        }
        for (unsigned i = 0; i < r->nfirstargs; i++)
            if (r->firstargs[i].id == d->id)
                for (unsigned j = 0; j < r->firstargs[i].n; j++)
                    strbuf_printf(s, "+%s|%s ", d->name, r->firstargs[i].args[j]);
        if (d->subs != NULL)
            describe_singles(r, fake, s, d, d->subs);
    }
}

/*
 * As Redis 7.0 describes a command bitmap: +@all or -@all, then categories by
 * best fit — each round the category with more commands in common with the
 * user than different, the fewest different (then the most in common), which
 * is then taken out of a working copy so later rounds count what is left —
 * then single commands where the result still differs (table order).
 */
void acl_describe_commands(const struct acl_rules *r, struct strbuf *out)
{
    struct acl_rules fake, work;
    memset(&fake, 0, sizeof(fake));
    memset(&work, 0, sizeof(work));
    memcpy(work.cmds, r->cmds, sizeof(work.cmds));
    bool additive = !(r->flags & ACL_ALLCOMMANDS);
    bool applied[64] = { false };
    struct strbuf s;
    strbuf_setup(&s);
    command_rule(&fake, additive ? "-@all" : "+@all", 5);
    strbuf_printf(&s, "%s ", additive ? "-@all" : "+@all");
    for (;;) {
        int best = -1;
        unsigned mindiff = ~0u, maxsame = 0;
        for (unsigned i = 0; cmd_acl_name(i) != NULL; i++) {
            unsigned on, off;
            if (applied[i])
                continue;
            count_category(&work, 1ull << i, &on, &off);
            unsigned diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = (int)i;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0)
            break;
        strbuf_printf(&s, "%c@%s ", additive ? '+' : '-', cmd_acl_name((unsigned)best));
        category_perm(&fake, 1ull << best, additive);
        category_perm(&work, 1ull << best, !additive);
        applied[best] = true;
    }
    describe_singles(r, &fake, &s, NULL, cmd_table);
    strbuf_append(out, s.buf, s.len - 1); /* without the last space */
    strbuf_deinit(&s);
}

static void describe_pattern(struct strbuf *s, const struct acl_pattern *p)
{
    if (p->perm == ACL_PERM_READ)
        strbuf_append(s, "%R~", 3);
    else if (p->perm == ACL_PERM_WRITE)
        strbuf_append(s, "%W~", 3);
    else
        strbuf_append(s, "~", 1);
    strbuf_append(s, p->pat, p->len);
}

void acl_describe_keys(const struct acl_rules *r, struct strbuf *s)
{
    if (r->flags & ACL_ALLKEYS)
        strbuf_append(s, "~*", 2);
    for (unsigned i = 0; i < r->nkeys; i++) {
        if (i)
            strbuf_append(s, " ", 1);
        describe_pattern(s, &r->keys[i]);
    }
}

void acl_describe_channels(const struct acl_rules *r, struct strbuf *s, bool reset)
{
    if (r->flags & ACL_ALLCHANNELS) {
        strbuf_append(s, "&*", 2);
        return;
    }
    if (reset)
        strbuf_append(s, "resetchannels", 13);
    for (unsigned i = 0; i < r->nchannels; i++) {
        if (i || reset)
            strbuf_append(s, " ", 1);
        strbuf_append(s, "&", 1);
        strbuf_append(s, r->channels[i].pat, r->channels[i].len);
    }
}

void acl_describe_selector(const struct acl_rules *r, struct strbuf *s)
{
    if ((r->flags & ACL_ALLKEYS) || r->nkeys) {
        acl_describe_keys(r, s);
        strbuf_append(s, " ", 1);
    }
    acl_describe_channels(r, s, true);
    strbuf_append(s, " ", 1);
    acl_describe_commands(r, s);
}

void acl_describe(struct acl_user *u, struct strbuf *s)
{
    const struct acl_rules *r = acl_rules_of(u);
    strbuf_printf(s, "user %s %s", u->name, (r->flags & ACL_ON) ? "on" : "off");
    if (r->flags & ACL_NOPASS)
        strbuf_append(s, " nopass", 7);
    if (r->flags & ACL_SKIP_SANITIZE)
        strbuf_append(s, " skip-sanitize-payload", 22);
    if (r->flags & ACL_SANITIZE)
        strbuf_append(s, " sanitize-payload", 17);
    for (unsigned i = 0; i < r->npass; i++) {
        strbuf_append(s, " #", 2);
        for (int j = 0; j < ACL_HASH_LEN; j++)
            strbuf_printf(s, "%02x", r->pass[i][j]);
    }
    if ((r->flags & ACL_ALLKEYS) || r->nkeys) {
        strbuf_append(s, " ", 1);
        acl_describe_keys(r, s);
    }
    strbuf_append(s, " ", 1);
    acl_describe_channels(r, s, true);
    strbuf_append(s, " ", 1);
    acl_describe_commands(r, s);
    for (unsigned i = 0; i < r->nselectors; i++) {
        strbuf_append(s, " (", 2);
        acl_describe_selector(&r->selectors[i], s);
        strbuf_append(s, ")", 1);
    }
}

/* ---------------------------------------------------------------------------
 * ACL LOG
 * ------------------------------------------------------------------------ */

static const char *reason_name(enum acl_result why)
{
    switch (why) {
    case ACL_DENIED_CMD:
        return "command";
    case ACL_DENIED_KEY:
        return "key";
    case ACL_DENIED_CHANNEL:
        return "channel";
    default:
        return "auth";
    }
}

static void entry_free(struct acl_log_entry *e)
{
    mem_free(e->object);
    mem_free(e->username);
    mem_free(e->client_info);
    mem_free(e);
}

/* Drop entries past the maximum (log lock held). */
static void log_trim(void)
{
    struct acl_log_entry **pp = &acl.log;
    long long n = 0;
    while (*pp != NULL) {
        if (n >= acl.log_max) {
            struct acl_log_entry *e = *pp;
            *pp = e->next;
            entry_free(e);
            acl.log_len--;
        } else {
            pp = &(*pp)->next;
            n++;
        }
    }
}

static bool same(const char *a, const char *b, size_t blen)
{
    return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

void acl_log_add(enum acl_result why, bool in_multi, const char *object, size_t olen,
                 const char *user, size_t ulen, const char *client_info, int64_t now_ms)
{
    const char *reason = reason_name(why);
    const char *context = in_multi ? "multi" : "toplevel";
    pthread_mutex_lock(&acl.log_lock);
    /* a similar entry among the last ten, less than a minute old, is updated and moved first */
    struct acl_log_entry **pp = &acl.log;
    for (int i = 0; *pp != NULL && i < 10; i++, pp = &(*pp)->next) {
        struct acl_log_entry *e = *pp;
        if (e->reason == reason && e->context == context && same(e->object, object, olen) &&
            same(e->username, user, ulen) && now_ms - e->ctime_ms < 60000) {
            e->count++;
            e->ctime_ms = now_ms;
            mem_free(e->client_info);
            e->client_info = mem_strdup(client_info);
            *pp = e->next;
            e->next = acl.log;
            acl.log = e;
            pthread_mutex_unlock(&acl.log_lock);
            return;
        }
    }
    struct acl_log_entry *e = mem_calloc(sizeof(*e));
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->object = mem_strndup(object, olen);
    e->username = mem_strndup(user, ulen);
    e->client_info = mem_strdup(client_info);
    e->ctime_ms = now_ms;
    e->next = acl.log;
    acl.log = e;
    acl.log_len++;
    log_trim();
    pthread_mutex_unlock(&acl.log_lock);
}

/* As Redis, a smaller maximum takes effect at the next entry. */
void acl_log_set_max(long long max)
{
    pthread_mutex_lock(&acl.log_lock);
    acl.log_max = max < 0 ? 0 : max;
    pthread_mutex_unlock(&acl.log_lock);
}

void acl_log_reset(void)
{
    pthread_mutex_lock(&acl.log_lock);
    while (acl.log != NULL) {
        struct acl_log_entry *e = acl.log;
        acl.log = e->next;
        entry_free(e);
    }
    acl.log_len = 0;
    pthread_mutex_unlock(&acl.log_lock);
}

void acl_log_foreach(long long n, void (*start)(void *arg, long long count),
                     void (*fn)(void *arg, const struct acl_log_entry *e), void *arg)
{
    pthread_mutex_lock(&acl.log_lock);
    start(arg, n < 0 || n > acl.log_len ? acl.log_len : n);
    long long i = 0;
    for (struct acl_log_entry *e = acl.log; e != NULL && (n < 0 || i < n); e = e->next, i++)
        fn(arg, e);
    pthread_mutex_unlock(&acl.log_lock);
}

/* ---------------------------------------------------------------------------
 * aclfile
 * ------------------------------------------------------------------------ */

int acl_load_file(const char *path, struct strbuf *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        strbuf_printf(err, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return -1;
    }
    struct strbuf text;
    strbuf_setup(&text);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        strbuf_append(&text, buf, n);
    fclose(f);
    int rc = acl_load_text(text.buf ? text.buf : "", path, err);
    strbuf_deinit(&text);
    return rc;
}

static void describe_start(void *arg, long long n)
{
    (void)arg;
    (void)n;
}

static void describe_line(void *arg, struct acl_user *u)
{
    acl_describe(u, arg);
    strbuf_append(arg, "\n", 1);
}

void acl_describe_all(struct strbuf *s)
{
    acl_foreach(describe_start, describe_line, s);
}

int acl_save_file(const char *path)
{
    struct strbuf text;
    strbuf_setup(&text);
    acl_describe_all(&text);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fwrite(text.buf, 1, text.len, f) != text.len || fflush(f) != 0 ||
        fsync(fileno(f)) != 0)
        rc = -errno;
    if (f != NULL && fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    strbuf_deinit(&text);
    errno = -rc;
    return rc == 0 ? 0 : -1;
}
