/*
 * The daemon's single-threaded event loop: epoll over non-blocking sockets (API clients, node
 * links, the listener). Everything pollux-control does runs on this one thread, driven by
 * socket readiness and by the periodic tick of the health checker, so no state is shared.
 */
#ifndef POLLUX_CTL_LOOP_H
#define POLLUX_CTL_LOOP_H

#include <stdint.h>

typedef void (*ctl_io_fn)(void *ctx, uint32_t events);

/* One registered descriptor; the owner embeds it and keeps it alive while registered. */
struct ctl_io {
    int fd;
    uint32_t events; /* EPOLLIN | EPOLLOUT as registered */
    ctl_io_fn fn;
    void *ctx;
};

struct ctl_loop;

struct ctl_loop *ctl_loop_create(void); /* NULL when epoll is unavailable */
void ctl_loop_destroy(struct ctl_loop *l);

/* Register, change or drop a descriptor. @return 0 or -errno from epoll_ctl. */
int ctl_loop_add(struct ctl_loop *l, struct ctl_io *io, uint32_t events);
int ctl_loop_mod(struct ctl_loop *l, struct ctl_io *io, uint32_t events);
void ctl_loop_del(struct ctl_loop *l, struct ctl_io *io);

/*
 * Free `p` with mem_free once the current batch of events is dispatched, so an object closed
 * by one callback is never touched by a later event of the same batch (its events are
 * dropped: ctl_loop_del marks them stale).
 */
void ctl_loop_defer_free(struct ctl_loop *l, void *p);

/* Wait up to timeout_ms for events and dispatch them. @return events handled or -errno. */
int ctl_loop_run_once(struct ctl_loop *l, int timeout_ms);

#endif
