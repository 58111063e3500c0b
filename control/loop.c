#include "control/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/mem.h"

#define BATCH 64

struct ctl_loop {
    int epfd;
    struct epoll_event ev[BATCH];
    int nev, cur; /* the batch being dispatched */
    void **graveyard;
    int ngrave, capgrave;
};

struct ctl_loop *ctl_loop_create(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct ctl_loop *l = mem_calloc(sizeof(*l));
    l->epfd = fd;
    return l;
}

static void bury(struct ctl_loop *l)
{
    for (int i = 0; i < l->ngrave; i++)
        mem_free(l->graveyard[i]);
    l->ngrave = 0;
}

void ctl_loop_destroy(struct ctl_loop *l)
{
    if (l == NULL)
        return;
    bury(l);
    mem_free(l->graveyard);
    close(l->epfd);
    mem_free(l);
}

int ctl_loop_add(struct ctl_loop *l, struct ctl_io *io, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) != 0)
        return -errno;
    io->events = events;
    return 0;
}

int ctl_loop_mod(struct ctl_loop *l, struct ctl_io *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    struct epoll_event ev = { .events = events, .data.ptr = io };
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
        return -errno;
    io->events = events;
    return 0;
}

void ctl_loop_del(struct ctl_loop *l, struct ctl_io *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    /* Events of this batch not yet dispatched must not reach it. */
    for (int i = l->cur; i < l->nev; i++)
        if (l->ev[i].data.ptr == io)
            l->ev[i].data.ptr = NULL;
}

void ctl_loop_defer_free(struct ctl_loop *l, void *p)
{
    if (l->ngrave == l->capgrave) {
        l->capgrave = l->capgrave ? l->capgrave * 2 : 16;
        l->graveyard = mem_realloc(l->graveyard, (size_t)l->capgrave * sizeof(void *));
    }
    l->graveyard[l->ngrave++] = p;
}

int ctl_loop_run_once(struct ctl_loop *l, int timeout_ms)
{
    int n = epoll_wait(l->epfd, l->ev, BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    l->nev = n;
    for (l->cur = 0; l->cur < n; l->cur++) {
        struct ctl_io *io = l->ev[l->cur].data.ptr;
        if (io != NULL)
            io->fn(io->ctx, l->ev[l->cur].events);
    }
    l->nev = l->cur = 0;
    bury(l);
    return n;
}
