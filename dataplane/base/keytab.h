/*
 * A chained hash table of nodes named by (database, key), intrusive: the caller's node
 * begins with a struct keytab_node and owns the key bytes it points to. Used by the
 * per-shard tables of keys that clients wait on (worker/block.c) or watch (worker/watch.c).
 * The table never allocates a node; it grows its slot array by doubling.
 */
#ifndef POLLUX_KEYTAB_H
#define POLLUX_KEYTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keytab_node {
    struct keytab_node *next; /* hash chain */
    uint64_t hash;            /* util_hash of the key */
    const char *key;
    size_t len;
    int db;
};

struct keytab {
    struct keytab_node **slot;
    size_t nslots; /* a power of two, or 0 */
    size_t n;      /* nodes */
};

/* The node named (db, key) with hash h (util_hash(key, len)), or NULL. */
struct keytab_node *keytab_find(const struct keytab *t, int db, const char *key, size_t len,
                                uint64_t h);
/* Add n, whose name and hash are set and not in t yet. */
void keytab_add(struct keytab *t, struct keytab_node *n);
/* Take n out of t. */
void keytab_remove(struct keytab *t, struct keytab_node *n);
/*
 * Visit every node; fn returns true to take its node out of t (fn may free it then).
 */
void keytab_sweep(struct keytab *t, bool (*fn)(void *arg, struct keytab_node *n), void *arg);
/* Free the slots (the nodes are the caller's: walk them first) and empty t. */
void keytab_free(struct keytab *t);

#endif
