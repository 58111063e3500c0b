/*
 * pubsub-readers: S subscribers of channel "bench" in one thread, for
 * bench/pubsub-vs-redis.sh. Prints "ready" once every subscription is confirmed, then reads
 * every socket (epoll, 1 MiB reads) until each has N messages of SIZE bytes, and prints
 * "rate <messages per second>" from the first byte to the last. Messages are counted by
 * length, not parsed: the fixed RESP2 framing of a message on "bench".
 *
 *   pubsub-readers PORT SUBSCRIBERS N SIZE
 *
 * A C client, so the readers' core is not what the benchmark measures.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static void read_exact(int fd, size_t n)
{
    char buf[256];
    while (n > 0) {
        ssize_t r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));
        if (r <= 0) {
            fprintf(stderr, "subscription not confirmed\n");
            exit(1);
        }
        n -= (size_t)r;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PORT SUBSCRIBERS N SIZE\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), subs = atoi(argv[2]);
    long long n = atoll(argv[3]), size = atoll(argv[4]);
    char head[64];
    int hl = snprintf(head, sizeof(head), "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$%lld\r\n", size);
    long long one = hl + size + 2, want = one * n;
    static const char sub[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n";
    static const char confirm[] = "*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n";
    int *fds = calloc((size_t)subs, sizeof(int));
    long long *got = calloc((size_t)subs, sizeof(long long));
    int ep = epoll_create1(0);
    for (int i = 0; i < subs; i++) {
        fds[i] = connect_to(port);
        if (write(fds[i], sub, sizeof(sub) - 1) != (ssize_t)(sizeof(sub) - 1)) {
            perror("write");
            return 1;
        }
    }
    for (int i = 0; i < subs; i++) {
        read_exact(fds[i], sizeof(confirm) - 1);
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    }
    printf("ready\n");
    fflush(stdout);
    static char buf[1 << 20];
    struct epoll_event evs[256];
    int remaining = subs;
    double first = 0, end = 0;
    long long total = 0;
    while (remaining > 0) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int j = 0; j < k; j++) {
            int i = (int)evs[j].data.u32;
            ssize_t r = read(fds[i], buf, sizeof(buf));
            if (r <= 0) {
                fprintf(stderr, "a subscriber was closed\n");
                return 1;
            }
            if (first == 0)
                first = now_s();
            got[i] += r;
            total += r;
            if (got[i] >= want) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
                remaining--;
            }
        }
    }
    end = now_s();
    printf("rate %.0f\n", (double)(total / one) / (end - first > 1e-9 ? end - first : 1e-9));
    for (int i = 0; i < subs; i++)
        close(fds[i]);
    free(fds);
    free(got);
    return 0;
}
