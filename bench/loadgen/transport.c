/* transport.c - the transports pollux-bench knows, by the name --transport takes. */
#include "bench/loadgen/transport.h"

#include <string.h>

static const struct transport_ops *const transports[] = {
    &transport_tcp,
#ifdef POLLUX_BENCH_DPDK
    &transport_dpdk,
#endif
};

const struct transport_ops *transport_find(const char *name)
{
    for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
        if (strcmp(transports[i]->name, name) == 0)
            return transports[i];
    return NULL;
}

void transport_list(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]) && used < len; i++) {
        size_t n = strlen(transports[i]->name);
        if (used + n + 2 > len)
            break;
        if (used > 0)
            buf[used++] = '|';
        memcpy(buf + used, transports[i]->name, n + 1);
        used += n;
    }
}
