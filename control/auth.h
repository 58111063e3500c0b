/*
 * Users of the control API: roles, password hashes, and the credentials file of polluxctl.
 *
 * A password is stored as "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>": PBKDF2 with
 * HMAC-SHA-256 (OpenSSL's libcrypto), a 16-byte random salt per user, CTL_AUTH_ITERATIONS
 * rounds. The count is part of the stored string, so a later build can raise it and still
 * verify older hashes. Verification compares in constant time.
 */
#ifndef POLLUX_CTL_AUTH_H
#define POLLUX_CTL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* What a client may do. A client that has not authenticated has CTL_ACCESS_NONE. */
enum ctl_access {
    CTL_ACCESS_NONE = 0,
    CTL_ACCESS_READONLY = 1, /* describe-* and the Sentinel discovery commands */
    CTL_ACCESS_ADMIN = 2,    /* everything */
};

#define CTL_AUTH_USER_MAX   64  /* user names: 1..63 of [A-Za-z0-9._@-] */
#define CTL_AUTH_PASS_MAX   512 /* passwords: 1..511 bytes */
#define CTL_AUTH_HASH_MAX   160 /* the stored string */
#define CTL_AUTH_ITERATIONS 4096
/* The user that `AUTH <password>` (one argument, Redis Sentinel's form) authenticates as. */
#define CTL_AUTH_DEFAULT_USER "default"

/* "readonly" / "admin" to an access level; CTL_ACCESS_NONE for anything else. */
enum ctl_access ctl_auth_role_parse(const char *s);
const char *ctl_auth_role_name(enum ctl_access a);
/* Whether `name` is a valid user name. */
bool ctl_auth_user_valid(const char *name);

/*
 * Hash a password with a fresh random salt into out (CTL_AUTH_HASH_MAX bytes).
 * @return 0, -EINVAL (empty or too long a password), -EIO (no randomness or crypto failure).
 */
/* The password of pollux-control's own ACL users on its nodes: 64 random hex digits. */
#define CTL_NODE_USER_PASS_LEN 64
/* A new random node-user password (CTL_NODE_USER_PASS_LEN hex digits) into out. */
int ctl_auth_random_password(char *out, size_t cap);

int ctl_auth_hash(const char *pass, size_t len, char *out, size_t cap);
/* Whether the password matches a stored hash (false for a malformed hash). */
bool ctl_auth_verify(const char *stored, const char *pass, size_t len);

/*
 * Throttling of failed AUTH attempts. A password check costs a few milliseconds of
 * pollux-control's only thread, so guesses must not be checked as fast as a client sends
 * them. Failures are counted per connection, and per source and user name (a source is an
 * IPv4 address or an IPv6 /64: one host's addresses), each in a ctl_auth_backoff: past
 * `free` failures, every further one starts a back-off of CTL_AUTH_BACKOFF_MS, doubling with
 * each failure up to CTL_AUTH_BACKOFF_MAX_MS, during which an attempt is refused without a
 * check (and without counting: a refused guess does not lengthen the wait). So one user's
 * password is checked for one source at most CTL_AUTH_FREE_SOURCE times at once and then
 * once per back-off, however many connections the source opens and however deep it
 * pipelines; other sources, and other users of the same source, are served at once (a name
 * that is no user costs no check). Failures are forgotten CTL_AUTH_FORGET_MS after the last
 * one. A success clears its connection's count but not its source's: an attacker may hold a
 * valid readonly login.
 */
#define CTL_AUTH_FREE_CONN      3   /* failures one connection may make before backing off */
#define CTL_AUTH_FREE_SOURCE    10  /* ... and one source for one user name */
#define CTL_AUTH_BACKOFF_MS     250 /* the first back-off */
#define CTL_AUTH_BACKOFF_MAX_MS 30000
#define CTL_AUTH_FORGET_MS      (10 * 60 * 1000)
#define CTL_AUTH_SOURCES        1024 /* (source, user) pairs remembered; least recent goes first */

struct ctl_auth_backoff {
    uint32_t fails;    /* failures counted */
    uint64_t last_ns;  /* when the last one was counted */
    uint64_t until_ns; /* no attempt is checked before this */
};

/* Milliseconds until an attempt may be checked (0: now), rounded up. */
uint64_t ctl_auth_backoff_left_ms(const struct ctl_auth_backoff *b, uint64_t now_ns);
/*
 * Count a failed check. @return the back-off it starts, in milliseconds (0 while fewer than
 * `free` failures are counted).
 */
uint64_t ctl_auth_backoff_fail(struct ctl_auth_backoff *b, unsigned free, uint64_t now_ns);
/* A successful check: the count restarts (used for connections only). */
void ctl_auth_backoff_clear(struct ctl_auth_backoff *b);

/* The source of a peer address: IPv4 (or IPv4-mapped) as ::ffff:a.b.c.d, IPv6 as its /64. */
void ctl_auth_source_key(const struct sockaddr *sa, uint8_t key[16]);

/* The back-offs of the last CTL_AUTH_SOURCES (source, user) pairs that failed: a fixed table. */
struct ctl_auth_sources;
struct ctl_auth_sources *ctl_auth_sources_create(void);
void ctl_auth_sources_destroy(struct ctl_auth_sources *t);
/*
 * The back-off of a source for a user name (at most CTL_AUTH_USER_MAX - 1 bytes, longer ones
 * are cut); NULL when it has none and !create. Creating one in a full table takes the place
 * of the pair whose last failure is the oldest.
 */
struct ctl_auth_backoff *ctl_auth_sources_get(struct ctl_auth_sources *t, const uint8_t key[16],
                                              const char *user, bool create);

/*
 * polluxctl's credentials file: INI-style profile sections, as the AWS CLI's
 *
 *   [default]
 *   user = admin
 *   password = s3cret
 *
 *   [ops]
 *   user = viewer
 *   password = other
 *
 * '#' and ';' start comment lines; blank lines are ignored; spaces around '=' and at both
 * ends of a value are trimmed (a password cannot start or end with a space).
 * Parse `text` and copy the user and password of `profile` into user/pass.
 * @return 0; -ENOENT when the profile is not in the file (or lacks a user or password);
 *         -EINVAL with err set (line number) on a malformed line or a value too long.
 */
int ctl_auth_credentials_parse(const char *text, const char *profile, char *user, size_t ucap,
                               char *pass, size_t pcap, char *err, size_t errcap);
/*
 * The value of `key` in `profile` of such a file (the last one when given twice), for the
 * settings that live next to the credentials (tls, ca_file).
 * @return 0; -ENOENT when absent or empty; -EINVAL with err set as above.
 */
int ctl_auth_profile_value(const char *text, const char *profile, const char *key, char *out,
                           size_t cap, char *err, size_t errcap);

#endif
