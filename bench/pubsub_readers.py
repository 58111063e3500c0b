#!/usr/bin/env python3
"""S subscribers of channel "bench" in one process: prints "ready" once every subscription
is confirmed, then counts the bytes of N messages of SIZE bytes on every socket and prints
"rate <messages per second>" (from the first byte to the last) and exits once every socket
has at least N. Used by
bench/pubsub-vs-redis.sh; messages are counted by length, not parsed."""
import selectors
import socket
import sys
import time

port, subs, n, size = (int(a) for a in sys.argv[1:5])
one = len(b"*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$%d\r\n" % size) + size + 2
confirm = len(b"*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n")
sel = selectors.DefaultSelector()
socks = []
for _ in range(subs):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n")
    socks.append(s)
for s in socks:
    got = 0
    while got < confirm:
        got += len(s.recv(confirm - got))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
# redis-benchmark rounds -n up to a multiple of its pipeline: at least n messages each
want = one * n
got = {s.fileno(): 0 for s in socks}
remaining = len(socks)
first = None
while remaining:
    for key, _ in sel.select():
        data = key.fileobj.recv(1 << 20)
        if first is None:
            first = time.monotonic()
        got[key.fd] += len(data)
        if got[key.fd] >= want:
            sel.unregister(key.fileobj)
            remaining -= 1
end = time.monotonic()
total = sum(got.values()) // one
print("rate %.0f" % (total / max(end - first, 1e-9)), flush=True)
