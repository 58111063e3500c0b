/*
 * ACL: users, their rules, and the permission check (Redis 7 compatible).
 *
 * A user is a stable handle (struct acl_user) that connections reference; its
 * permissions are an immutable snapshot (struct acl_rules) published through an
 * atomic pointer. ACL SETUSER builds a new snapshot and swaps it in; readers
 * (every worker, at dispatch) load the pointer and never lock. Old snapshots are
 * freed once every worker has passed a quiescent point (acl_quiescent, once per
 * loop pass): see NOTES.md.
 *
 * The check is a bit test in the snapshot's command bitmap (indexed by the
 * command table's ids) and, for users without allkeys, the key patterns tested
 * against the keys of the command's key specs with their read/write flags.
 */
#ifndef POLLUX_ACL_H
#define POLLUX_ACL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "base/common.h"
#include "cmd/commands.h"
#include "base/strbuf.h"

#define ACL_CMD_WORDS   ((CMD_ID_COUNT + 63) / 64)
#define ACL_MAX_READERS 64 /* workers that read snapshots */
#define ACL_HASH_LEN    32 /* SHA-256 */

enum acl_flag {
    ACL_ON = 1u << 0,
    ACL_NOPASS = 1u << 1,
    ACL_ALLKEYS = 1u << 2,     /* ~* : no key check */
    ACL_ALLCHANNELS = 1u << 3, /* &* */
    ACL_ALLCOMMANDS = 1u << 4, /* +@all: commands added later are allowed too */
    ACL_DELETED = 1u << 5,     /* ACL DELUSER: its clients are closed */
    ACL_SANITIZE = 1u << 6,    /* sanitize-payload (reported; RESTORE is not implemented) */
    ACL_SKIP_SANITIZE = 1u << 7,
};

enum acl_perm { ACL_PERM_READ = 1u << 0, ACL_PERM_WRITE = 1u << 1 };

struct acl_pattern {
    char *pat;
    size_t len;
    uint8_t perm; /* ACL_PERM_*: %R~, %W~, ~ is both */
};

/* A user's permissions: immutable once published. */
struct acl_rules {
    uint32_t flags; /* ACL_* */
    uint64_t cmds[ACL_CMD_WORDS];
    unsigned npass, nkeys, nchannels;
    uint8_t (*pass)[ACL_HASH_LEN];
    struct acl_pattern *keys, *channels;
    /* "+select|0": first arguments allowed for a command whose bit is off (Redis 7.0) */
    unsigned nfirstargs;
    struct acl_firstargs {
        uint16_t id;
        unsigned n;
        char **args;
    } * firstargs;
    /* selectors "(~k* +get)": more rule sets, any of which may allow a request */
    unsigned nselectors;
    struct acl_rules *selectors;
};

struct acl_user {
    char *name;
    _Atomic(struct acl_rules *) rules;
    atomic_uint refs; /* the registry's and each connection's */
    struct acl_user *next;
};

/* The outcome of a check. */
enum acl_result { ACL_OK = 0, ACL_DENIED_CMD, ACL_DENIED_KEY, ACL_DENIED_CHANNEL, ACL_DENIED_AUTH };

/* The registry with the default user ("on nopass ~* &* +@all"). */
void acl_setup(void);
/* Workers 0..n-1 read snapshots (set before they start; 0: nobody, free at once). */
void acl_set_readers(unsigned n);
void acl_teardown(void);

/* Worker `reader` holds no snapshot pointer now (once per loop pass). */
void acl_quiescent(unsigned reader);

/* The current snapshot of a user: one atomic load, no lock. */
static inline const struct acl_rules *acl_rules_of(struct acl_user *u)
{
    return atomic_load_explicit(&u->rules, memory_order_acquire);
}

/* The default user, with a reference taken (release with acl_user_put). */
struct acl_user *acl_default_get(void);
/* A user by name with a reference taken, or NULL. */
struct acl_user *acl_user_get(const char *name, size_t len);
void acl_user_put(struct acl_user *u);

/*
 * AUTH: the user named (NULL: default) if it is on and the password matches.
 * @return the user with a reference taken, or NULL.
 */
struct acl_user *acl_authenticate(const char *name, size_t nlen, const char *pass, size_t plen);

/* A new connection's user is authenticated at once when it is on and nopass. */
bool acl_rules_nopass(const struct acl_rules *r);

/*
 * ACL SETUSER: apply the rules in order to a copy of the user (a new user
 * starts "off resetchannels -@all"); nothing changes on error, and err holds
 * Redis's text. @return 0 or -1.
 */
int acl_setuser(const char *name, size_t nlen, int nrules, const char *const *rules,
                const size_t *lens, char *err, size_t errcap);
/* ACL DELUSER: @return 1 when a user was removed, 0 when none had the name. */
int acl_deluser(const char *name, size_t nlen);
/*
 * ACL LOAD and aclfile: replace every user with the file's "user <name> <rule>..."
 * lines, all or nothing; users not in the file are deleted, default is recreated
 * when absent. @return 0, or -1 with Redis's text in err (nothing changed).
 */
int acl_load_text(const char *text, const char *path, struct strbuf *err);
/* The same from a file; "Error loading ACLs, opening file ..." when it cannot be read. */
int acl_load_file(const char *path, struct strbuf *err);
/* ACL SAVE: every user as ACL LIST lines, written to a temporary file renamed over path.
 * @return 0, or -1 with errno set. */
int acl_save_file(const char *path);
/* requirepass: the default user's only password, or nopass for "". */
void acl_set_default_password(const char *pass);
/* acl-pubsub-default: allchannels for new users when true. */
void acl_set_pubsub_default(bool allchannels);

/*
 * The check. A user with allkeys and the command's bit passes on the first
 * test; otherwise each key the command names is tested against the patterns.
 * @return ACL_OK or why it is refused, with *errpos the argv index of the key.
 */
enum acl_result acl_check(const struct acl_rules *r, const struct cmd_def *d, int argc,
                          const struct resp_arg *argv, int *errpos);
static inline bool acl_cmd_allowed(const struct acl_rules *r, const struct cmd_def *d)
{
    return (r->cmds[d->id >> 6] >> (d->id & 63)) & 1;
}
static inline enum acl_result acl_check_fast(const struct acl_rules *r, const struct cmd_def *d,
                                             int argc, const struct resp_arg *argv, int *errpos)
{
    if (likely((r->flags & (ACL_ALLKEYS | ACL_DELETED)) == ACL_ALLKEYS && acl_cmd_allowed(r, d) &&
               (!(d->flags & CMD_PUBSUB) || (r->flags & ACL_ALLCHANNELS))))
        return ACL_OK;
    return acl_check(r, d, argc, argv, errpos);
}

/* Whether the root rules or a selector let the user read the key "*": every key (SORT's BY
 * and GET, as Redis 7.0 checks them). */
bool acl_reads_all_keys(const struct acl_rules *r);

/* A selector's description ("~k* resetchannels -@all +get"), appended to s. */
void acl_describe_selector(const struct acl_rules *r, struct strbuf *s);
/* ACL LIST line ("user NAME on nopass ~* &* +@all") of a user, appended to s. */
void acl_describe(struct acl_user *u, struct strbuf *s);
/* Every user's ACL LIST line, each ending in a newline (ACL SAVE, CONFIG REWRITE). */
void acl_describe_all(struct strbuf *s);
/* The key patterns ("~foo* %R~bar*") and channels ("&*", or [resetchannels] "&a &b"). */
void acl_describe_keys(const struct acl_rules *r, struct strbuf *s);
void acl_describe_channels(const struct acl_rules *r, struct strbuf *s, bool reset);
/* The command rules alone ("-@all +@read -keys"), appended to s. */
void acl_describe_commands(const struct acl_rules *r, struct strbuf *s);
/* Under the registry lock: start(arg, number of users), then fn for each user by name. */
void acl_foreach(void (*start)(void *arg, long long n), void (*fn)(void *arg, struct acl_user *u),
                 void *arg);

/* ACL CAT: index of a category name, or -1. */
int acl_category(const char *name, size_t len);

/* SHA-256 of a password, as lower-case hex (65 bytes with the NUL). */
void acl_hash_hex(const char *pass, size_t len, char out[2 * ACL_HASH_LEN + 1]);

/* ---- ACL LOG ---- */
struct acl_log_entry {
    long long count;
    const char *reason, *context;
    char *object, *username, *client_info;
    int64_t ctime_ms;
    struct acl_log_entry *next;
};
/* Record a denial (grouped with a similar entry of the last minute, as Redis). */
void acl_log_add(enum acl_result why, bool in_multi, const char *object, size_t olen,
                 const char *user, size_t ulen, const char *client_info, int64_t now_ms);
void acl_log_set_max(long long max);
void acl_log_reset(void);
/* Under the log's lock: start(arg, count), then fn for the newest n entries (n < 0: all). */
void acl_log_foreach(long long n, void (*start)(void *arg, long long count),
                     void (*fn)(void *arg, const struct acl_log_entry *e), void *arg);

/* The NOPERM text of a refusal, without the "NOPERM " prefix when dryrun (ACL DRYRUN). */
void acl_denied_text(enum acl_result why, const struct cmd_def *d, const struct cmd_def *parent,
                     const struct resp_arg *key, bool dryrun, char *buf, size_t cap);

#endif
