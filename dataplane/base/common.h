/* Small definitions every module uses. No I/O, no allocation. */
#ifndef POLLUX_COMMON_H
#define POLLUX_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The one cache-line constant: Graviton and current x86-64 parts use 64-byte lines. */
#define CACHE_LINE_SIZE 64
#define CACHE_ALIGNED   _Alignas(CACHE_LINE_SIZE)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

#ifndef container_of /* DPDK's headers have their own */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define UNUSED(x) (void)(x)

/* Upper bound of worker threads (and therefore shards). */
#define MAX_WORKERS 64

#endif
