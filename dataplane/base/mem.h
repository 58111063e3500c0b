/*
 * Allocator wrapper. With jemalloc (the default build) every worker binds its
 * thread to an arena of its own at start, so plain malloc() from a worker
 * allocates in that worker's arena through its own tcache; mem_size_class()
 * and mem_usable() give the real footprint so modules account memory exactly
 * without asking the allocator for statistics on the hot path. Sanitizer
 * builds use the C library's allocator (POLLUX_NO_JEMALLOC).
 */
#ifndef POLLUX_MEM_H
#define POLLUX_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *mem_alloc(size_t size); /* aborts on out-of-memory, like Redis's zmalloc */
void *mem_calloc(size_t size);
void *mem_realloc(void *p, size_t size);
void mem_free(void *p);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);

/* Bytes the allocator hands out for a request of `size` (its size class). */
size_t mem_size_class(size_t size);
/* Bytes actually reserved for `p`. */
size_t mem_usable(const void *p);

/*
 * Create a new arena and bind the calling thread to it.
 * @return the arena index, or -1 when the allocator has no arenas.
 */
int mem_thread_arena_setup(void);

/*
 * Return freed pages to the system from allocator threads of its own rather than in
 * whichever worker frees or allocates (jemalloc's background_thread; Redis's
 * jemalloc-bg-thread). @return 0, or -1 when the allocator cannot.
 */
int mem_background_purge(bool on);

/*
 * Bytes held by buffers that grow and shrink with traffic: connections' input buffers, reply
 * blocks, the messages that carry commands between workers (and their pools). Each thread adds what
 * it allocates and subtracts what it frees in a counter of its own (a block allocated by one thread
 * and freed by another moves bytes from one counter to the other); the total is their sum.
 * maxmemory counts these bytes as they change (worker_shard_limit) instead of through the overhead
 * sampled every 100 ms, which lags a first burst of traffic. Rare: on a buffer's resize or a reply
 * block, never per byte.
 */
/* mem_alloc / mem_free of such a buffer, counted (its usable size, on both sides). */
void *mem_traffic_alloc(size_t size);
void mem_traffic_free(void *p);
size_t mem_traffic_total(void);

/* Process-wide figures (bytes). Refreshes the allocator's statistics; not for hot paths. */
struct mem_stats {
    size_t allocated; /* bytes handed to the application */
    size_t active;    /* bytes in active pages */
    size_t resident;  /* bytes in physically resident pages */
    size_t mapped;
    size_t retained;
};
void mem_stats(struct mem_stats *st);
/* Resident set size of the process, from /proc/self/statm. */
size_t mem_rss(void);
const char *mem_allocator_name(void);

#endif
