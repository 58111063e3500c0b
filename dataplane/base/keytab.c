/* Hash table of (database, key) nodes; see keytab.h. */
#include "base/keytab.h"

#include <string.h>

#include "base/mem.h"

struct keytab_node *keytab_find(const struct keytab *t, int db, const char *key, size_t len,
                                uint64_t h)
{
    if (t->nslots == 0)
        return NULL;
    for (struct keytab_node *n = t->slot[h & (t->nslots - 1)]; n != NULL; n = n->next)
        if (n->hash == h && n->db == db && n->len == len && memcmp(n->key, key, len) == 0)
            return n;
    return NULL;
}

static void grow(struct keytab *t)
{
    size_t size = t->nslots ? t->nslots * 2 : 16;
    struct keytab_node **slot = mem_calloc(size * sizeof(*slot));
    for (size_t i = 0; i < t->nslots; i++) {
        struct keytab_node *n = t->slot[i];
        while (n != NULL) {
            struct keytab_node *next = n->next;
            n->next = slot[n->hash & (size - 1)];
            slot[n->hash & (size - 1)] = n;
            n = next;
        }
    }
    mem_free(t->slot);
    t->slot = slot;
    t->nslots = size;
}

void keytab_add(struct keytab *t, struct keytab_node *n)
{
    if (t->n >= t->nslots)
        grow(t);
    struct keytab_node **head = &t->slot[n->hash & (t->nslots - 1)];
    n->next = *head;
    *head = n;
    t->n++;
}

void keytab_remove(struct keytab *t, struct keytab_node *n)
{
    struct keytab_node **pp = &t->slot[n->hash & (t->nslots - 1)];
    while (*pp != n)
        pp = &(*pp)->next;
    *pp = n->next;
    t->n--;
}

void keytab_sweep(struct keytab *t, bool (*fn)(void *arg, struct keytab_node *n), void *arg)
{
    for (size_t i = 0; i < t->nslots; i++) {
        struct keytab_node **pp = &t->slot[i];
        while (*pp != NULL) {
            struct keytab_node *n = *pp, *next = n->next;
            if (fn(arg, n)) {
                *pp = next;
                t->n--;
            } else {
                pp = &n->next;
            }
        }
    }
}

void keytab_free(struct keytab *t)
{
    mem_free(t->slot);
    memset(t, 0, sizeof(*t));
}
