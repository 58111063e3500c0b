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
int ctl_auth_hash(const char *pass, size_t len, char *out, size_t cap);
/* Whether the password matches a stored hash (false for a malformed hash). */
bool ctl_auth_verify(const char *stored, const char *pass, size_t len);

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
