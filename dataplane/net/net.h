/*
 * Pollux's userspace TCP/IP stack: Ethernet, ARP, IPv4, ICMP echo and TCP,
 * one instance per worker thread.
 *
 * An instance owns everything it uses (connections, buffers, timers, ARP
 * cache, counters), shares nothing with other instances, takes no locks and
 * makes no system calls. It never reads a clock: every entry point that can
 * move time takes `now_ns` (monotonic nanoseconds), so tests drive time. The
 * network is a struct pktio (pktio.h).
 *
 * The worker's view mirrors non-blocking sockets with epoll:
 *
 *   net_poll(st, now)            receive, run due timers, transmit
 *   net_events(st, ev, n)        sockets that became readable/writable/… since last time
 *   net_accept / net_connect     new connections
 *   net_read / net_writev        copy out of / into the connection's buffers; -EAGAIN
 *   net_flush(st, now)           send what the pass wrote (the loop's "flush TX")
 *   net_close                    graceful close (or reset if unread data remains)
 *
 * Events are edge-triggered (like EPOLLET): NET_EV_READ is reported when new
 * bytes or the peer's FIN arrive, NET_EV_WRITE when buffer space frees up
 * after a net_writev that could not take everything (and once when a
 * connection opens). A reader should read until -EAGAIN, or call
 * net_sock_rearm to be told again.
 *
 * Addresses and ports are host byte order throughout the API.
 */
#ifndef POLLUX_NET_H
#define POLLUX_NET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/netio.h"
#include "base/param.h"
#include "net/pktio.h"
#include "net/rss.h"

/* ---------------------------------------------------------------------------
 * Parameters (param.h table). Buffer and table sizes are fixed when a stack
 * is created; the rest may change with net_stack_set_params.
 * ------------------------------------------------------------------------ */
#define NET_PARAMS(X)                                                                              \
    X(sndbuf, "pollux-net-sndbuf", MEMORY, 65536, 4096, 16777216, 0, NULL)                         \
    X(rcvbuf, "pollux-net-rcvbuf", MEMORY, 65536, 4096, 16777216, 0, NULL)                         \
    X(syn_backlog, "pollux-net-syn-backlog", INT, 256, 1, 65536, PARAM_MUTABLE, NULL)              \
    X(syncookies, "pollux-net-syncookies", BOOL, 1, 0, 1, PARAM_MUTABLE, NULL)                     \
    X(time_wait_max, "pollux-net-time-wait-max", INT, 8192, 0, 1048576, 0, NULL)                   \
    X(time_wait_ms, "pollux-net-time-wait-ms", INT, 60000, 1, 240000, PARAM_MUTABLE, NULL)         \
    X(fin_timeout_ms, "pollux-net-fin-timeout-ms", INT, 60000, 1, 600000, PARAM_MUTABLE, NULL)     \
    X(delack_ms, "pollux-net-delack-ms", INT, 40, 1, 500, PARAM_MUTABLE, NULL)                     \
    X(rto_min_ms, "pollux-net-rto-min-ms", INT, 200, 1, 60000, PARAM_MUTABLE, NULL)                \
    X(rto_max_ms, "pollux-net-rto-max-ms", INT, 60000, 100, 600000, PARAM_MUTABLE, NULL)           \
    X(rto_initial_ms, "pollux-net-rto-initial-ms", INT, 1000, 1, 60000, PARAM_MUTABLE, NULL)       \
    X(retries, "pollux-net-retries", INT, 10, 1, 100, PARAM_MUTABLE, NULL)                         \
    X(syn_retries, "pollux-net-syn-retries", INT, 5, 1, 20, PARAM_MUTABLE, NULL)                   \
    X(ooo_max, "pollux-net-ooo-max", INT, 16, 0, 64, PARAM_MUTABLE, NULL)                          \
    X(port_min, "pollux-net-port-min", INT, 32768, 1, 65535, PARAM_MUTABLE, NULL)                  \
    X(port_max, "pollux-net-port-max", INT, 60999, 1, 65535, PARAM_MUTABLE, NULL)                  \
    X(arp_cache_size, "pollux-net-arp-cache-size", INT, 1024, 4, 65536, 0, NULL)                   \
    X(arp_timeout_ms, "pollux-net-arp-timeout-ms", INT, 60000, 100, 3600000, PARAM_MUTABLE, NULL)  \
    X(arp_queue, "pollux-net-arp-queue", INT, 16, 1, 1024, PARAM_MUTABLE, NULL)                    \
    X(arp_retries, "pollux-net-arp-retries", INT, 3, 1, 20, PARAM_MUTABLE, NULL)                   \
    X(arp_retry_ms, "pollux-net-arp-retry-ms", INT, 1000, 10, 60000, PARAM_MUTABLE, NULL)          \
    X(ip_ttl, "pollux-net-ip-ttl", INT, 64, 1, 255, PARAM_MUTABLE, NULL)                           \
    X(challenge_ack_limit, "pollux-net-challenge-ack-limit", INT, 1000, 0, INT_MAX, PARAM_MUTABLE, \
      NULL)

PARAM_STRUCT(net_params, NET_PARAMS);
extern const struct param_def net_param_defs[];

/* ---------------------------------------------------------------------------
 * Counters: one table, so INFO can print them by name.
 * ------------------------------------------------------------------------ */
#define NET_COUNTERS(X)                                                                            \
    X(eth_rx_frames, "Ethernet frames received")                                                   \
    X(eth_rx_bytes, "bytes of frames received")                                                    \
    X(eth_tx_frames, "Ethernet frames queued for the device")                                      \
    X(eth_tx_bytes, "bytes of frames queued for the device")                                       \
    X(eth_drop_short, "frames shorter than an Ethernet header")                                    \
    X(eth_drop_not_for_us, "frames for another MAC address")                                       \
    X(eth_drop_ethertype, "frames of an EtherType we do not speak")                                \
    X(eth_drop_tx_full, "frames the device would not take")                                        \
    X(eth_drop_no_buf, "packets not built: no buffer from the device")                             \
    X(arp_rx_requests, "ARP requests received")                                                    \
    X(arp_rx_replies, "ARP replies received")                                                      \
    X(arp_tx_requests, "ARP requests sent (resolution and refresh)")                               \
    X(arp_tx_replies, "ARP replies sent")                                                          \
    X(arp_tx_gratuitous, "gratuitous ARP announcements sent")                                      \
    X(arp_drop_bad, "malformed ARP packets")                                                       \
    X(arp_drop_queue_full, "packets dropped: queue waiting for an ARP answer full")                \
    X(arp_drop_unresolved, "packets dropped: ARP resolution failed")                               \
    X(arp_expired, "ARP cache entries expired")                                                    \
    X(arp_evicted, "ARP cache entries evicted to make room")                                       \
    X(arp_conflicts, "ARP packets from another host claiming one of our addresses")                \
    X(ip_rx_packets, "IPv4 packets received")                                                      \
    X(ip_tx_packets, "IPv4 packets sent")                                                          \
    X(ip_drop_bad_header, "IPv4 packets with a bad header or length")                              \
    X(ip_drop_bad_cksum, "IPv4 packets with a bad header checksum")                                \
    X(ip_drop_fragment, "IPv4 fragments (not reassembled)")                                        \
    X(ip_drop_not_for_us, "IPv4 packets for an address that is not ours")                          \
    X(ip_drop_proto, "IPv4 packets of a protocol we do not speak")                                 \
    X(ip_drop_no_route, "IPv4 packets not sent: no route (no gateway)")                            \
    X(icmp_rx, "ICMP messages received")                                                           \
    X(icmp_echo_requests, "ICMP echo requests received")                                           \
    X(icmp_echo_replies, "ICMP echo replies sent")                                                 \
    X(icmp_drop_bad, "ICMP messages with a bad checksum or length")                                \
    X(icmp_drop_other, "ICMP messages of other types (ignored)")                                   \
    X(tcp_segs_in, "TCP segments received")                                                        \
    X(tcp_segs_out, "TCP segments sent")                                                           \
    X(tcp_bytes_in, "TCP payload bytes accepted in order")                                         \
    X(tcp_bytes_out, "TCP payload bytes sent, retransmissions included")                           \
    X(tcp_retrans_segs, "TCP segments retransmitted")                                              \
    X(tcp_retrans_timeout, "retransmission timeouts")                                              \
    X(tcp_retrans_fast, "fast retransmits (three duplicate ACKs)")                                 \
    X(tcp_ooo_segs, "segments received out of order and queued")                                   \
    X(tcp_dup_segs, "segments received entirely before rcv_nxt")                                   \
    X(tcp_dup_acks, "duplicate ACKs received")                                                     \
    X(tcp_delayed_acks, "ACKs sent by the delayed-ACK timer")                                      \
    X(tcp_zero_window_probes, "zero-window probes sent")                                           \
    X(tcp_keepalive_probes, "keepalive probes sent")                                               \
    X(tcp_challenge_acks, "challenge ACKs sent (RFC 5961)")                                        \
    X(tcp_rst_in, "RST segments received")                                                         \
    X(tcp_rst_out, "RST segments sent")                                                            \
    X(tcp_drop_bad_cksum, "segments with a bad TCP checksum")                                      \
    X(tcp_drop_bad_header, "segments with a bad header length")                                    \
    X(tcp_drop_no_listener, "segments for no connection and no listener")                          \
    X(tcp_drop_backlog_full, "SYNs or handshake ACKs dropped: accept backlog full")                \
    X(tcp_drop_syn_evicted, "half-open connections evicted: SYN queue full, no cookies")           \
    X(tcp_syncookies_sent, "SYN-ACKs sent with a cookie: SYN queue full")                          \
    X(tcp_syncookies_recv, "handshake ACKs with a valid cookie")                                   \
    X(tcp_syncookies_failed, "ACKs for a listener that sent cookies, with a bad or old cookie")    \
    X(tcp_drop_conn_limit, "SYNs refused: connection limit reached")                               \
    X(tcp_drop_syn_hook, "SYNs refused by the SYN hook")                                           \
    X(tcp_drop_window, "segments outside the receive window")                                      \
    X(tcp_drop_paws, "segments rejected by PAWS (old timestamp)")                                  \
    X(tcp_drop_ooo_full, "out-of-order segments dropped: reassembly queue full")                   \
    X(tcp_drop_bad_ack, "segments acknowledging data never sent")                                  \
    X(tcp_drop_after_close, "data received after the socket was closed (reset)")                   \
    X(tcp_active_opens, "connections opened by net_connect")                                       \
    X(tcp_passive_opens, "SYNs accepted by a listener")                                            \
    X(tcp_established, "connections that reached ESTABLISHED")                                     \
    X(tcp_accepted, "connections handed out by net_accept")                                        \
    X(tcp_conn_reset, "connections reset by the peer")                                             \
    X(tcp_conn_refused, "connection attempts refused by the peer")                                 \
    X(tcp_conn_timeout, "connections dropped: retransmission limit")                               \
    X(tcp_keepalive_timeouts, "connections dropped: keepalive unanswered")                         \
    X(tcp_conn_aborted, "connections reset by us (close with unread data, abort)")                 \
    X(tcp_time_wait, "connections that entered TIME_WAIT")                                         \
    X(tcp_time_wait_reused, "TIME_WAIT entries ended early by a new SYN")                          \
    X(tcp_time_wait_evicted, "TIME_WAIT entries evicted: table full")

#define NET_COUNTER_FIELD(name, help) uint64_t name;
struct net_counters {
    NET_COUNTERS(NET_COUNTER_FIELD)
};
#define NET_COUNTER_COUNT (sizeof(struct net_counters) / sizeof(uint64_t))
/* Names and help lines, in the order of the struct's fields. */
extern const char *const net_counter_names[];
extern const char *const net_counter_help[];

/* ---------------------------------------------------------------------------
 * Stack
 * ------------------------------------------------------------------------ */

struct net_stack;
struct net_sock;

struct net_endpoint {
    uint32_t ip;
    uint16_t port;
};

enum net_syn_verdict {
    NET_SYN_ALLOW = 0,
    NET_SYN_DROP,  /* ignore the SYN silently */
    NET_SYN_RESET, /* answer with RST, as a closed port would */
};

/* Called for each new SYN on a listener, before any state is kept. */
typedef enum net_syn_verdict (*net_syn_hook_fn)(void *arg, const struct net_endpoint *peer,
                                                const struct net_endpoint *local);
/* Initial sequence numbers (tests pick them; NULL means RFC 6528's keyed hash plus a clock). */
typedef uint32_t (*net_isn_fn)(void *arg, const struct net_endpoint *local,
                               const struct net_endpoint *peer);

struct net_stack_config {
    struct pktio *io;
    const struct net_params *params; /* NULL: the table's defaults */
    uint32_t max_conns;              /* connections kept at once, SYN_RCVD included; 0: 1024 */
    uint64_t now_ns;
    uint64_t seed; /* hash keys, ISN secret, ports, timestamp offset */
    /* With rss set, net_connect picks source ports whose replies land on rss_queue. */
    const struct rss_conf *rss;
    unsigned rss_queue;
    net_syn_hook_fn syn_hook;
    void *syn_hook_arg;
    net_isn_fn isn;
    void *isn_arg;
    /* TSval of the stack is now_ms + ts_offset; 0 picks one from the seed. */
    uint32_t ts_offset;
};

/* @return the stack, or NULL when the configuration is invalid (no pktio, MTU < 576). */
struct net_stack *net_stack_create(const struct net_stack_config *cfg);
/* Frees every socket and buffer; queued frames go back to the pktio. */
void net_stack_destroy(struct net_stack *st);

/*
 * Add a local IPv4 address with its prefix length; a gratuitous ARP for it
 * leaves with the next net_poll.
 * @return 0; -EEXIST when already present; -ENOSPC past NET_MAX_ADDRS;
 *         -EINVAL for address 0 or a prefix over 32.
 */
#define NET_MAX_ADDRS 16
int net_addr_add(struct net_stack *st, uint32_t ip, unsigned prefix_len);
/* @return 0; -ENOENT when ip is not ours. Connections on it stay until they time out. */
int net_addr_del(struct net_stack *st, uint32_t ip);
/* Default gateway for destinations outside every local subnet (0: none). */
void net_set_gateway(struct net_stack *st, uint32_t gw);
/* Send a gratuitous ARP for ip with the next net_poll. @return 0; -ENOENT if not ours. */
int net_arp_announce(struct net_stack *st, uint32_t ip);

/*
 * One pass: receive a burst and process it, run the timers that are due,
 * transmit what is pending.
 * @return a count of work done (frames received, timers fired, frames sent);
 *         0 when the pass found nothing to do.
 */
unsigned net_poll(struct net_stack *st, uint64_t now_ns);
/* Transmit what the sockets have pending. @return frames handed to the device. */
unsigned net_flush(struct net_stack *st, uint64_t now_ns);
/* When the next timer is due (ns), or UINT64_MAX when none is armed. For idle sleeping. */
uint64_t net_next_timer(const struct net_stack *st);
/* Replace the mutable parameters (sizes keep the values the stack was created with). */
void net_stack_set_params(struct net_stack *st, const struct net_params *p);

const struct net_counters *net_stack_counters(const struct net_stack *st);

struct net_stack_info {
    unsigned conns;     /* connections held, SYN_RCVD included */
    unsigned syn_rcvd;  /* half-open, passive */
    unsigned time_wait; /* entries of the TIME_WAIT table */
    unsigned listeners;
    unsigned arp_entries;
};
void net_stack_info(const struct net_stack *st, struct net_stack_info *info);

/* ---------------------------------------------------------------------------
 * Sockets
 * ------------------------------------------------------------------------ */

enum net_ev {
    NET_EV_READ = 1u << 0,      /* bytes to read, or end of stream */
    NET_EV_WRITE = 1u << 1,     /* send buffer space */
    NET_EV_CONNECTED = 1u << 2, /* net_connect completed */
    NET_EV_HUP = 1u << 3,       /* the peer sent FIN (reads return 0 once drained) */
    NET_EV_ERROR = 1u << 4,     /* reset, refused or timed out: net_sock_error says which */
    NET_EV_ACCEPT = 1u << 5,    /* a listener has connections to accept */
};

struct net_event {
    struct net_sock *sock;
    void *user;
    uint32_t events; /* NET_EV_* */
};

/* Take up to max events, oldest first. @return how many. */
unsigned net_events(struct net_stack *st, struct net_event *ev, unsigned max);

/*
 * Listen on ip:port (ip 0: every local address) with an accept backlog.
 * @return 0 and *out; -EADDRINUSE when a listener has that port already;
 *         -EINVAL for port 0 or backlog 0.
 */
int net_listen(struct net_stack *st, uint32_t ip, uint16_t port, unsigned backlog, void *user,
               struct net_sock **out);
/* The oldest established connection of a listener, now owned by the caller, or NULL. */
struct net_sock *net_accept(struct net_sock *listener, void *user);

/*
 * Open a connection to dst (non-blocking): NET_EV_CONNECTED and NET_EV_WRITE
 * when it is established, NET_EV_ERROR when refused or timed out. src_ip 0
 * picks the local address of dst's subnet (else the first). Data may be
 * written before the connection is up.
 * @return 0 and *out; -ENETUNREACH when there is no local address or route;
 *         -EADDRNOTAVAIL when no source port is free; -ENOBUFS at the
 *         connection limit.
 */
int net_connect(struct net_stack *st, uint32_t dst_ip, uint16_t dst_port, uint32_t src_ip,
                void *user, struct net_sock **out);

/*
 * Copy up to len received bytes into buf.
 * @return bytes copied (> 0); 0 at end of stream; -EAGAIN when nothing is
 *         there yet; -ECONNRESET, -ETIMEDOUT or -ECONNREFUSED after an error;
 *         -EINVAL on a listener.
 */
ssize_t net_read(struct net_sock *s, void *buf, size_t len);
/*
 * Queue bytes for sending; they leave at the next net_flush or net_poll.
 * @return bytes taken (> 0, maybe fewer than offered); -EAGAIN when the send
 *         buffer is full; -EPIPE after shutdown or when the connection is
 *         closed; -ECONNRESET/-ETIMEDOUT after an error; -EINVAL on a listener.
 */
ssize_t net_writev(struct net_sock *s, const struct iovec *iov, int iovcnt);
ssize_t net_write(struct net_sock *s, const void *buf, size_t len);

#define NET_SHUT_RD   1
#define NET_SHUT_WR   2
#define NET_SHUT_RDWR 3
/*
 * NET_SHUT_WR sends FIN after the queued bytes; NET_SHUT_RD discards what
 * arrives from now on. @return 0; -ENOTCONN on a listener or a closed socket.
 */
int net_shutdown(struct net_sock *s, int how);
/*
 * Release the socket. A connection closes gracefully (FIN after queued bytes)
 * unless received bytes are left unread, in which case it is reset. The
 * handle is invalid afterwards and its user pointer is never reported again.
 */
void net_close(struct net_sock *s);
/* Reset the connection now and release the socket. */
void net_abort(struct net_sock *s);

void net_sock_set_user(struct net_sock *s, void *user);
void *net_sock_user(const struct net_sock *s);
/* Report the socket's current readiness again with the next net_events. */
void net_sock_rearm(struct net_sock *s);
/* 0, or the positive errno that ended the connection. */
int net_sock_error(const struct net_sock *s);
void net_sock_local(const struct net_sock *s, struct net_endpoint *ep);
void net_sock_peer(const struct net_sock *s, struct net_endpoint *ep);
/* Keepalive after idle_s seconds without traffic, then idle_s/3 apart, 3 probes (0: off). */
int net_set_keepalive(struct net_sock *s, int idle_s);
/* Bytes waiting to be read / queued and not yet acknowledged. */
size_t net_sock_readable(const struct net_sock *s);
size_t net_sock_unacked(const struct net_sock *s);

enum net_tcp_state {
    NET_TCP_CLOSED = 0,
    NET_TCP_LISTEN,
    NET_TCP_SYN_SENT,
    NET_TCP_SYN_RCVD,
    NET_TCP_ESTABLISHED,
    NET_TCP_FIN_WAIT_1,
    NET_TCP_FIN_WAIT_2,
    NET_TCP_CLOSE_WAIT,
    NET_TCP_CLOSING,
    NET_TCP_LAST_ACK,
    NET_TCP_TIME_WAIT,
};
enum net_tcp_state net_sock_state(const struct net_sock *s);
const char *net_tcp_state_name(enum net_tcp_state st);

/* "a.b.c.d" into buf (>= 16 bytes); returns buf. */
char *net_ip_format(uint32_t ip, char *buf);
/* @return 0 and *ip; -EINVAL when s is not a dotted quad. */
int net_ip_parse(const char *s, uint32_t *ip);
/* "a.b.c.d/len" (len 1..32). @return 0 with *ip and *len; -EINVAL otherwise. */
int net_prefix_parse(const char *s, uint32_t *ip, unsigned *len);
#define NET_IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))

/* The stack as a backend of the worker (base/netio.h); their ctx comes from net_io_create. */
extern const struct netio_ops net_netio_ops;

/*
 * A worker's stack as its backend: poll sleeps on wakefd (the worker's
 * wake-up eventfd, drained when it fires) when asked to wait. The stack stays
 * the caller's: ops->destroy closes the listeners and frees the adapter, then
 * the caller destroys the stack. @return 0 with *io set, or -ENOMEM.
 */
int net_io_create(struct net_stack *stack, int wakefd, struct netio *io);

#endif
