#include "base/mem.h"

#include <stdatomic.h>
#include <stdbool.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"

#ifndef POLLUX_NO_JEMALLOC
#include <jemalloc/jemalloc.h>
#else
#include <malloc.h>
#endif

/* Sanitizer builds replace malloc, and mallinfo2() then reports nothing. TSan's allocator
 * counts size classes, ASan's the bytes asked for (mem_size_class follows each). */
#if defined(__SANITIZE_THREAD__)
#define POLLUX_TSAN_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POLLUX_TSAN_MALLOC 1
#endif
#endif
#if defined(POLLUX_TSAN_MALLOC) || defined(__SANITIZE_ADDRESS__)
#define POLLUX_SANITIZER_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POLLUX_SANITIZER_MALLOC 1
#endif
#endif
#ifdef POLLUX_SANITIZER_MALLOC
/* From the sanitizer runtime's allocator interface (GCC ships no header for it). */
size_t __sanitizer_get_current_allocated_bytes(void);
size_t __sanitizer_get_heap_size(void);
#endif

static void oom(size_t size)
{
    fprintf(stderr, "pollux: out of memory allocating %zu bytes\n", size);
    fflush(stderr);
    abort();
}

void *mem_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *mem_calloc(size_t size)
{
    void *p = calloc(1, size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *mem_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        oom(size);
    return q;
}

void mem_free(void *p)
{
    free(p);
}

char *mem_strdup(const char *s)
{
    return mem_strndup(s, strlen(s));
}

char *mem_strndup(const char *s, size_t n)
{
    char *d = mem_alloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

#ifndef POLLUX_NO_JEMALLOC

size_t mem_size_class(size_t size)
{
    return nallocx(size ? size : 1, 0);
}

size_t mem_usable(const void *p)
{
    return p ? sallocx((void *)p, 0) : 0;
}

int mem_thread_arena_setup(void)
{
    unsigned arena;
    size_t sz = sizeof(arena);
    if (mallctl("arenas.create", &arena, &sz, NULL, 0) != 0)
        return -1;
    if (mallctl("thread.arena", NULL, NULL, &arena, sizeof(arena)) != 0)
        return -1;
    return (int)arena;
}

int mem_background_purge(bool on)
{
    return mallctl("background_thread", NULL, NULL, &on, sizeof(on)) == 0 ? 0 : -1;
}

static size_t stat_read(const char *name)
{
    size_t v = 0, sz = sizeof(v);
    if (mallctl(name, &v, &sz, NULL, 0) != 0)
        return 0;
    return v;
}

void mem_stats(struct mem_stats *st)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    st->allocated = stat_read("stats.allocated");
    st->active = stat_read("stats.active");
    st->resident = stat_read("stats.resident");
    st->mapped = stat_read("stats.mapped");
    st->retained = stat_read("stats.retained");
}

const char *mem_allocator_name(void)
{
    return "jemalloc-5.3.0";
}

#else

int mem_background_purge(bool on)
{
    (void)on;
    return -1;
}

size_t mem_size_class(size_t size)
{
#if defined(POLLUX_TSAN_MALLOC)
    /* What the sanitizers' allocators count in the total mem_stats reads, so that the
     * stores' counts and that total agree as they do with jemalloc. TSan: its size classes,
     * 16-byte steps up to 256, then four per power of two. */
    if (size <= 256)
        return size <= 16 ? 16 : (size + 15) & ~(size_t)15;
    size_t step = (size_t)1 << (61 - __builtin_clzll((unsigned long long)size - 1));
    return (size + step - 1) & ~(step - 1);
#elif defined(POLLUX_SANITIZER_MALLOC)
    /* ASan: the bytes asked for. */
    return size;
#else
    /* glibc: 16-byte granules with an 8-byte header, minimum 24 usable. */
    size_t n = (size + 8 + 15) & ~(size_t)15;
    return n < 32 ? 24 : n - 8;
#endif
}

size_t mem_usable(const void *p)
{
    return p ? malloc_usable_size((void *)p) : 0;
}

int mem_thread_arena_setup(void)
{
    return -1;
}

void mem_stats(struct mem_stats *st)
{
#ifdef POLLUX_SANITIZER_MALLOC
    st->allocated = __sanitizer_get_current_allocated_bytes();
    st->mapped = __sanitizer_get_heap_size();
#else
    struct mallinfo2 mi = mallinfo2();
    st->allocated = mi.uordblks + mi.hblkhd;
    st->mapped = mi.arena + mi.hblkhd;
#endif
    st->active = st->allocated;
    st->resident = mem_rss();
    st->retained = 0;
}

const char *mem_allocator_name(void)
{
    return "libc";
}

#endif

/* One counter per thread, each on its own cache line; threads past the last slot share it. */
#define TRAFFIC_SLOTS 32
static struct {
    CACHE_ALIGNED atomic_llong bytes;
} traffic[TRAFFIC_SLOTS];
static atomic_uint traffic_threads;
static _Thread_local int traffic_slot = -1;

static void traffic_add(ptrdiff_t delta)
{
    if (traffic_slot < 0) {
        unsigned i = atomic_fetch_add_explicit(&traffic_threads, 1, memory_order_relaxed);
        traffic_slot = i < TRAFFIC_SLOTS ? (int)i : TRAFFIC_SLOTS - 1;
    }
    atomic_fetch_add_explicit(&traffic[traffic_slot].bytes, delta, memory_order_relaxed);
}

size_t mem_traffic_total(void)
{
    unsigned n = atomic_load_explicit(&traffic_threads, memory_order_relaxed);
    long long sum = 0;
    for (unsigned i = 0; i < n && i < TRAFFIC_SLOTS; i++)
        sum += atomic_load_explicit(&traffic[i].bytes, memory_order_relaxed);
    return sum > 0 ? (size_t)sum : 0;
}

void *mem_traffic_alloc(size_t size)
{
    void *p = mem_alloc(size);
    traffic_add((ptrdiff_t)mem_usable(p));
    return p;
}

void mem_traffic_free(void *p)
{
    if (p == NULL)
        return;
    traffic_add(-(ptrdiff_t)mem_usable(p));
    mem_free(p);
}

size_t mem_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, rss = 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}
